/*
 * TorchServe over HTTP (spec 06 §4, protocols/04-torchserve.md) on libcurl:
 * easy handles in a multi handle, like the original.
 *
 * Each request is `POST <url>/predictions/<model>[/<version>]` with a
 * multipart/form-data body of one part named `data` holding the bytes of
 * the file the step's TORCHSERVE_INPUT names. The file is opened at send
 * time and streamed through curl's read callback (torchserve.h has the
 * framing), so the body is never held in memory and a file that changes
 * between requests is sent as it is then. Status 200 is success; anything
 * else is `inference failed with error code <status>`, a transport failure
 * counting as status 400 (the original's rule); the body is discarded.
 *
 * Only synchronous requests exist for TorchServe: submit() in async mode
 * fails with the original's AsyncInfer error, and open() refuses gRPC. The
 * pool of easy handles still supports several requests in flight, which
 * costs nothing. CPU per request is not a goal here (no benchmark targets
 * TorchServe), so the multi handle is driven with the plain
 * curl_multi_poll / curl_multi_perform loop.
 *
 * Timing (06 §4, §6), which the original failed to capture (its per-request
 * "Failed to update context stat: Timer not set correctly" lines): request
 * start = submit() entry; send start = just before the transfer is handed
 * to curl; send end = when the read callback hands over the last body byte
 * (the file fully read); receive start = the first response body byte (the
 * end of the transfer when the body is empty); receive end = request end =
 * when curl reports the transfer done.
 */
#include "client/torchserve.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/options.h"
#include "client/backends.h"
#include "core/clock.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define USER_AGENT "libcurl-agent/1.0"
#define CTYPE_PREFIX "Content-Type: multipart/form-data; boundary="
/* curl_multi_poll needs a finite wait; "forever" is a loop of these. */
#define POLL_SLICE_MS 1000

/* ---- body framing (torchserve.h) ---- */

static const char dashes[] = "------------------------"; /* 24, as libcurl */
static const char disposition[] = "Content-Disposition: form-data; name=\"data\"\r\n\r\n";

void ts_make_boundary(char *out, uint64_t random)
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, dashes, sizeof(dashes) - 1);
    for (int i = 0; i < 16; i++)
        out[sizeof(dashes) - 1 + (size_t)i] = hex[(random >> (60 - 4 * i)) & 0xf];
    out[TS_BOUNDARY_LEN] = '\0';
}

size_t ts_part_head(char *out, const char *boundary)
{
    size_t n = 0, bl = strlen(boundary);
    memcpy(out + n, "--", 2);
    n += 2;
    memcpy(out + n, boundary, bl);
    n += bl;
    memcpy(out + n, "\r\n", 2);
    n += 2;
    memcpy(out + n, disposition, sizeof(disposition) - 1);
    n += sizeof(disposition) - 1;
    return n;
}

size_t ts_part_tail(char *out, const char *boundary)
{
    size_t n = 0, bl = strlen(boundary);
    memcpy(out + n, "\r\n--", 4);
    n += 4;
    memcpy(out + n, boundary, bl);
    n += bl;
    memcpy(out + n, "--\r\n", 4);
    n += 4;
    return n;
}

ssize_t ts_body_read(struct ts_body *b, char *dst, size_t n)
{
    size_t done = 0;
    while (done < n) {
        uint64_t pos = b->pos;
        if (pos < b->head_len) {
            size_t k = b->head_len - (size_t)pos;
            if (k > n - done)
                k = n - done;
            memcpy(dst + done, b->head + pos, k);
            done += k;
            b->pos += k;
        } else if (pos < b->head_len + b->file_len) {
            uint64_t off = pos - b->head_len;
            uint64_t left = b->file_len - off;
            size_t want = left < n - done ? (size_t)left : n - done;
            ssize_t got = pread(b->fd, dst + done, want, (off_t)off);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return -1; /* unreadable, or shorter than when it was opened */
            done += (size_t)got;
            b->pos += (uint64_t)got;
        } else if (pos < ts_body_len(b)) {
            size_t off = (size_t)(pos - b->head_len - b->file_len);
            size_t k = b->tail_len - off;
            if (k > n - done)
                k = n - done;
            memcpy(dst + done, b->tail + off, k);
            done += k;
            b->pos += k;
        } else {
            break;
        }
    }
    return (ssize_t)done;
}

int ts_body_seek(struct ts_body *b, uint64_t pos)
{
    if (pos > ts_body_len(b))
        return -1;
    b->pos = pos;
    return 0;
}

int ts_input_path(const struct pa_input *in, char **path, struct pa_err *err)
{
    uint32_t len;
    if (in->shm_region || !in->data || in->byte_size < 4)
        return pa_errorf(err, PA_EDATA, "input '%s' holds no file path", in->name);
    memcpy(&len, in->data, 4);
    if (len > in->byte_size - 4)
        return pa_errorf(err, PA_EDATA, "malformed BYTES data for input '%s'", in->name);
    *path = xstrndup((const char *)in->data + 4, len);
    return PA_OK;
}

/* ---- the backend ---- */

struct ts_ctx;

struct ts_req {
    CURL *easy;
    struct ts_ctx *ctx;
    struct curl_slist *hdrs;    /* Content-Type (with the boundary), then -H */
    const char *url;            /* URL currently set (owned by a prepared request) */
    bool in_flight;
    void *tag;
    struct ts_body body;
    uint64_t t_start, t_send_start, t_send_end, t_recv_start;
    char errmsg[PA_ERR_MSG_MAX];
    struct ts_req *next_free;
};

struct ts_ctx {
    const struct pa_options *opts;
    CURLM *multi;
    struct ts_req **reqs;
    size_t n_reqs;
    struct ts_req *free_list;
    size_t in_flight;
    char boundary[TS_BOUNDARY_LEN + 1];
    char head[TS_HEAD_MAX];
    size_t head_len;
    char tail[TS_TAIL_MAX];
    size_t tail_len;
};

struct pa_prepared {
    char *url;
    char *path;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_read(char *buf, size_t size, size_t n, void *userdata)
{
    struct ts_req *req = userdata;
    ssize_t got = ts_body_read(&req->body, buf, size * n);
    if (got < 0)
        return CURL_READFUNC_ABORT;
    if (!req->t_send_end && req->body.pos == ts_body_len(&req->body))
        req->t_send_end = clock_now_ns();
    return (size_t)got;
}

static int on_seek(void *userdata, curl_off_t offset, int origin)
{
    struct ts_req *req = userdata;
    if (origin != SEEK_SET || offset < 0 || ts_body_seek(&req->body, (uint64_t)offset))
        return CURL_SEEKFUNC_FAIL;
    req->t_send_end = 0; /* sent again, on a new connection */
    return CURL_SEEKFUNC_OK;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata)
{
    struct ts_req *req = userdata;
    (void)ptr;
    if (!req->t_recv_start)
        req->t_recv_start = clock_now_ns();
    return size * n; /* only the status matters */
}

static void req_free(struct ts_req *req)
{
    if (!req)
        return;
    if (req->easy)
        curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->hdrs);
    if (req->body.fd >= 0)
        close(req->body.fd);
    free(req);
}

static struct ts_req *req_new(struct ts_ctx *ctx, struct pa_err *err)
{
    const struct pa_options *o = ctx->opts;
    struct ts_req *req = xcalloc(1, sizeof(*req));
    req->ctx = ctx;
    req->body.fd = -1;
    req->body.head = ctx->head;
    req->body.head_len = ctx->head_len;
    req->body.tail = ctx->tail;
    req->body.tail_len = ctx->tail_len;

    char *ctype = xasprintf(CTYPE_PREFIX "%s", ctx->boundary);
    req->hdrs = curl_slist_append(NULL, ctype);
    free(ctype);
    for (size_t i = 0; req->hdrs && i < o->n_headers; i++) {
        char *line = xasprintf("%s: %s", o->headers[i].name, o->headers[i].value);
        struct curl_slist *next = curl_slist_append(req->hdrs, line);
        free(line);
        if (!next) {
            curl_slist_free_all(req->hdrs);
            req->hdrs = NULL;
        }
    }
    req->easy = curl_easy_init();
    CURLcode rc = req->hdrs && req->easy ? CURLE_OK : CURLE_OUT_OF_MEMORY;
#define S(opt, val)                                     \
    do {                                                \
        if (rc == CURLE_OK)                             \
            rc = curl_easy_setopt(req->easy, opt, val); \
    } while (0)
    S(CURLOPT_NOSIGNAL, 1L);
    S(CURLOPT_USERAGENT, USER_AGENT);
    S(CURLOPT_DEFAULT_PROTOCOL, "http");
    S(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    S(CURLOPT_TCP_NODELAY, 1L);
    S(CURLOPT_PRIVATE, req);
    S(CURLOPT_HTTPHEADER, req->hdrs);
    S(CURLOPT_POST, 1L);
    S(CURLOPT_READFUNCTION, on_read);
    S(CURLOPT_READDATA, req);
    S(CURLOPT_SEEKFUNCTION, on_seek);
    S(CURLOPT_SEEKDATA, req);
    S(CURLOPT_WRITEFUNCTION, on_body);
    S(CURLOPT_WRITEDATA, req);
#undef S
    if (rc != CURLE_OK) {
        pa_errorf(err, PA_EINTERNAL, "cannot set up an HTTP transfer: %s",
                  curl_easy_strerror(rc));
        req_free(req);
        return NULL;
    }
    return req;
}

static struct ts_req *req_get(struct ts_ctx *ctx, struct pa_err *err)
{
    struct ts_req *req = ctx->free_list;
    if (req) {
        ctx->free_list = req->next_free;
        return req;
    }
    req = req_new(ctx, err);
    if (!req)
        return NULL;
    ctx->reqs = xreallocarray(ctx->reqs, ctx->n_reqs + 1, sizeof(*ctx->reqs));
    ctx->reqs[ctx->n_reqs++] = req;
    return req;
}

static void req_put(struct ts_ctx *ctx, struct ts_req *req)
{
    if (req->body.fd >= 0) {
        close(req->body.fd);
        req->body.fd = -1;
    }
    req->tag = NULL;
    req->next_free = ctx->free_list;
    ctx->free_list = req;
}

static void ts_close(struct pa_client *c)
{
    struct ts_ctx *ctx = c->ctx;
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->n_reqs; i++) {
        if (ctx->reqs[i]->in_flight && ctx->multi)
            curl_multi_remove_handle(ctx->multi, ctx->reqs[i]->easy);
    }
    if (ctx->multi)
        curl_multi_cleanup(ctx->multi);
    for (size_t i = 0; i < ctx->n_reqs; i++)
        req_free(ctx->reqs[i]);
    free(ctx->reqs);
    free(ctx);
    c->ctx = NULL;
}

static int ts_open(struct pa_client *c, struct pa_err *err)
{
    if (c->opts->protocol == PA_PROTO_GRPC)
        return pa_errorf(err, PA_EUNSUPPORTED,
                         "perf_analyzer does not support gRPC protocol with TorchServe");
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return pa_errorf(err, PA_EINTERNAL, "cannot initialize libcurl: %s",
                         curl_easy_strerror(curl_init_rc));

    struct ts_ctx *ctx = xcalloc(1, sizeof(*ctx));
    c->ctx = ctx;
    ctx->opts = c->opts;
    ctx->multi = curl_multi_init();
    if (!ctx->multi) {
        ts_close(c);
        return pa_errorf(err, PA_EINTERNAL, "cannot set up the HTTP client for '%s'",
                         c->opts->url);
    }
    /* A fresh random boundary per client, as libcurl makes one per form. */
    struct rng r;
    rng_seed(&r, clock_epoch_ns() ^ (uint64_t)(uintptr_t)ctx ^ ((uint64_t)getpid() << 32));
    ts_make_boundary(ctx->boundary, rng_next(&r));
    ctx->head_len = ts_part_head(ctx->head, ctx->boundary);
    ctx->tail_len = ts_part_tail(ctx->tail, ctx->boundary);
    return PA_OK;
}

static int ts_prepare(struct pa_client *c, const struct pa_infer_desc *desc,
                      struct pa_prepared **out, struct pa_err *err)
{
    if (desc->n_inputs != 1)
        return pa_errorf(err, PA_EDATA,
                         "TorchServe requests carry exactly one input (TORCHSERVE_INPUT), "
                         "got %zu",
                         desc->n_inputs);
    struct pa_prepared *p = xcalloc(1, sizeof(*p));
    int rc = ts_input_path(&desc->inputs[0], &p->path, err);
    if (rc != PA_OK) {
        free(p);
        return rc;
    }
    if (desc->model_version && *desc->model_version)
        p->url = xasprintf("%s/predictions/%s/%s", c->opts->url, desc->model_name,
                           desc->model_version);
    else
        p->url = xasprintf("%s/predictions/%s", c->opts->url, desc->model_name);
    *out = p;
    return PA_OK;
}

static void ts_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    struct ts_ctx *ctx = c->ctx;
    if (!p)
        return;
    /* Handles compare URLs by pointer: a later prepared request may get this address. */
    for (size_t i = 0; ctx && i < ctx->n_reqs; i++) {
        if (ctx->reqs[i]->url == p->url)
            ctx->reqs[i]->url = NULL;
    }
    free(p->url);
    free(p->path);
    free(p);
}

/* Reports an immediate failure through on_response, as the contract asks. */
static void fail_now(struct pa_client *c, void *tag, uint64_t t0, int code, const char *msg)
{
    if (!c->on_response)
        return;
    uint64_t now = clock_now_ns();
    struct pa_response r = {
        .tag = tag,
        .arrival_ns = now,
        .final = true,
        .error = code,
        .error_msg = msg,
        .total_ns = now - t0,
    };
    c->on_response(c->on_response_arg, &r);
}

static int ts_submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                     struct pa_err *err)
{
    uint64_t t0 = clock_now_ns();
    struct ts_ctx *ctx = c->ctx;
    if (c->opts->async)
        return pa_errorf(err, PA_EUNSUPPORTED, "client backend of kind %s does not support %s API",
                         c->backend->kind, "AsyncInfer");
    struct ts_req *req = req_get(ctx, err);
    if (!req)
        return err ? err->code : PA_EINTERNAL;
    req->tag = send->tag;

    struct stat st;
    req->body.fd = open(p->path, O_RDONLY | O_CLOEXEC);
    if (req->body.fd < 0 || fstat(req->body.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(req->errmsg, sizeof(req->errmsg), "Failed to open the specified file `%s`",
                 p->path);
        fail_now(c, send->tag, t0, PA_EIO, req->errmsg);
        req_put(ctx, req);
        return PA_OK;
    }
    req->body.file_len = (uint64_t)st.st_size;
    req->body.pos = 0;

    CURLcode rc = CURLE_OK;
    if (req->url != p->url) {
        rc = curl_easy_setopt(req->easy, CURLOPT_URL, p->url);
        req->url = rc == CURLE_OK ? p->url : NULL;
    }
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                              (curl_off_t)ts_body_len(&req->body));
    req->t_start = t0;
    req->t_send_end = 0;
    req->t_recv_start = 0;
    CURLMcode mrc = rc == CURLE_OK ? curl_multi_add_handle(ctx->multi, req->easy) : CURLM_OK;
    if (rc != CURLE_OK || mrc != CURLM_OK) {
        snprintf(req->errmsg, sizeof(req->errmsg), "HTTP client failed: %s",
                 rc != CURLE_OK ? curl_easy_strerror(rc) : curl_multi_strerror(mrc));
        fail_now(c, send->tag, t0, PA_EINTERNAL, req->errmsg);
        req_put(ctx, req);
        return PA_OK;
    }
    req->in_flight = true;
    ctx->in_flight++;
    req->t_send_start = clock_now_ns();
    int running;
    curl_multi_perform(ctx->multi, &running); /* the request leaves now */
    return PA_OK;
}

/* Delivers every finished transfer. Returns how many. */
static int drain(struct pa_client *c)
{
    struct ts_ctx *ctx = c->ctx;
    int delivered = 0;
    int left;
    CURLMsg *msg;

    while ((msg = curl_multi_info_read(ctx->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        struct ts_req *req = (struct ts_req *)(void *)priv;
        uint64_t now = clock_now_ns();

        /* Detach first, so that a submit from the callback can reuse the connection. */
        curl_multi_remove_handle(ctx->multi, easy);
        req->in_flight = false;
        ctx->in_flight--;
        uint64_t recv_start = req->t_recv_start ? req->t_recv_start : now;
        uint64_t send_end = req->t_send_end ? req->t_send_end : recv_start;
        if (send_end < req->t_send_start)
            send_end = req->t_send_start;

        long status = 400; /* a transport failure counts as 400, as in the original */
        if (result == CURLE_OK)
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        struct pa_response r = {
            .tag = req->tag,
            .arrival_ns = now,
            .final = true,
            .send_ns = send_end - req->t_send_start,
            .recv_ns = now - recv_start,
            .total_ns = now - req->t_start,
        };
        if (status != 200) {
            snprintf(req->errmsg, sizeof(req->errmsg), "inference failed with error code %ld",
                     status);
            r.error = result == CURLE_OK ? PA_ESERVER : PA_ECONN;
            r.error_msg = req->errmsg;
        }
        if (c->on_response)
            c->on_response(c->on_response_arg, &r);
        req_put(ctx, req);
        delivered++;
    }
    return delivered;
}

static int ts_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct ts_ctx *ctx = c->ctx;
    uint64_t deadline = 0;
    if (timeout_ms > 0)
        deadline = clock_now_ns() + (uint64_t)(unsigned)timeout_ms * NS_PER_MS;

    int delivered = drain(c);
    if (delivered)
        return delivered;
    for (;;) {
        if (ctx->in_flight == 0) {
            /* Nothing can arrive: honour a finite wait as a sleep, never block forever. */
            if (timeout_ms > 0)
                clock_sleep_until_ns(deadline);
            return 0;
        }
        int wait = 0;
        if (timeout_ms < 0) {
            wait = POLL_SLICE_MS;
        } else if (timeout_ms > 0) {
            uint64_t now = clock_now_ns();
            wait = now >= deadline ? 0 : (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
        }
        int running;
        CURLMcode mrc = curl_multi_poll(ctx->multi, NULL, 0, wait, NULL);
        if (mrc == CURLM_OK)
            mrc = curl_multi_perform(ctx->multi, &running);
        if (mrc != CURLM_OK)
            return pa_errorf(err, PA_EIO, "HTTP client failed: %s", curl_multi_strerror(mrc));
        delivered = drain(c);
        if (delivered || timeout_ms == 0)
            return delivered;
        if (timeout_ms > 0 && clock_now_ns() >= deadline)
            return 0;
    }
}

static size_t ts_in_flight(const struct pa_client *c)
{
    const struct ts_ctx *ctx = c->ctx;
    return ctx->in_flight;
}

static const struct pa_client_ops ts_ops = {
    .open = ts_open,
    .close = ts_close,
    .prepare = ts_prepare,
    .prepared_free = ts_prepared_free,
    .submit = ts_submit,
    .poll = ts_poll,
    .in_flight = ts_in_flight,
};

const struct pa_backend pa_backend_torchserve = {
    .name = "torchserve",
    .kind = "TORCHSERVE",
    .flags = 0,
    .ops = &ts_ops,
};
