/*
 * Triton over HTTP (KServe v2 REST) on libcurl's multi interface.
 *
 * One client instance = one worker thread = one CURLM. Data-plane requests
 * run on a pool of easy handles that are reused (so curl keeps their
 * settings and the multi handle's connection cache keeps the keep-alive
 * connections); the pool only grows when more requests are in flight than
 * ever before. Control-plane calls are blocking and use one more easy
 * handle with curl_easy_perform, outside the multi handle, so a control
 * call never delivers data-plane completions.
 *
 * CPU per request is the design goal (spec target: <= 10 us at concurrency
 * 8 against a local server), hence:
 *  - The body is encoded once by prepare() (http_codec.c). A send without
 *    sequence parameters points CURLOPT_POSTFIELDS straight at the prepared
 *    body, which in-flight requests share read-only. A sequence send writes
 *    its prefix and copies the fixed part into the handle's own body buffer.
 *    libcurl puts bodies under 64 KiB into the same send() as the headers.
 *  - The header list of each handle is built once; the two per-send lines
 *    (Inference-Header-Content-Length, Content-Type) are rewritten in place
 *    only when their value changes (curl copies the strings at each request).
 *  - Sockets are driven with curl_multi_socket_action and our own pollfd
 *    array: curl_multi_poll + curl_multi_perform would visit every transfer
 *    (and poll each socket again) on every wake-up. A submit runs the new
 *    transfer at once, so the request leaves in submit(), not at the next
 *    poll.
 *  - Responses are not parsed on success: the status code comes from curl,
 *    the JSON header length from one response header. JSON is parsed only
 *    for an error body or when pa_client_output() asks for an output.
 *
 * Timing (spec 06 §1.5): request start = submit() entry; send start = just
 * before the transfer is handed to curl; send end = the first moment curl
 * reports the whole body uploaded (right after submit's socket_action for a
 * small body on a warm connection, else after a later socket event);
 * receive start = the first response body byte (write callback); receive
 * end = request end = when curl reports the transfer done. One clock read
 * per event, no per-byte work.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/options.h"
#include "client/backends.h"
#include "client/http_codec.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/xalloc.h"
#include "pa/client.h"
#include "core/banned.h"

#define USER_AGENT "libcurl-agent/1.0"
#define IHCL_NAME "Inference-Header-Content-Length: "
#define IHCL_LINE_CAP (sizeof(IHCL_NAME) + 24)
#define CTYPE_OCTET "Content-Type: application/octet-stream"
#define CTYPE_JSON "Content-Type: application/json"

struct http_ctx;

/* One pooled data-plane transfer. */
struct http_req {
    CURL *easy;
    struct http_ctx *ctx;
    struct curl_slist *hdrs;   /* IHCL, Expect:, Content-Type, user headers */
    size_t hdr_json_len;       /* value currently in the IHCL line */
    bool hdr_json_ctype;       /* Content-Type line currently says JSON */
    const char *url;           /* URL currently set (owned by a prepared request) */
    char *seq_body;            /* body of sequence sends: prefix + fixed part */
    size_t seq_cap;

    /* Per send. */
    bool in_flight;
    bool send_done;
    size_t body_len;
    void *tag;
    uint64_t t_start, t_send_start, t_send_end, t_recv_start;

    /* Response. */
    struct buf resp;
    long resp_json_len;        /* Inference-Header-Content-Length, -1 = absent */
    cJSON *parsed;             /* lazily parsed JSON header (pa_client_output) */
    struct buf scratch;        /* JSON outputs converted to binary */
    char errmsg[PA_ERR_MSG_MAX];

    struct http_req *next_free;
};

struct http_ctx {
    const struct pa_options *opts;
    CURLM *multi;
    struct http_req **reqs;    /* every handle of the pool */
    size_t n_reqs;
    struct http_req *free_list;
    size_t in_flight;
    size_t send_pending;       /* in flight and body not yet fully uploaded */

    struct pollfd *fds;        /* sockets curl asked us to watch */
    size_t n_fds, cap_fds;
    struct pollfd *ready;      /* snapshot of fds with events, same capacity */
    bool timer_set;
    uint64_t timer_deadline;

    /* Control plane. */
    CURL *ctl;
    struct buf ctl_resp;
    struct curl_slist *user_hdrs;
};

struct pa_prepared {
    struct http_body body;
    char *url;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool set(const char *s)
{
    return s && *s;
}

/* Options every handle gets: identity, no signals, SSL (spec 06 §1.4). */
static CURLcode setup_common(CURL *easy, const struct pa_options *opts)
{
    CURLcode rc = CURLE_OK;
#define S(opt, val)                                     \
    do {                                                \
        if (rc == CURLE_OK)                             \
            rc = curl_easy_setopt(easy, opt, val);      \
    } while (0)
    S(CURLOPT_NOSIGNAL, 1L);
    S(CURLOPT_USERAGENT, USER_AGENT);
    S(CURLOPT_DEFAULT_PROTOCOL, "http");
    S(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    S(CURLOPT_TCP_NODELAY, 1L);
    S(CURLOPT_SSL_VERIFYPEER, opts->ssl_https_verify_peer);
    S(CURLOPT_SSL_VERIFYHOST, opts->ssl_https_verify_host);
    if (set(opts->ssl_https_ca_certs))
        S(CURLOPT_CAINFO, opts->ssl_https_ca_certs);
    if (set(opts->ssl_https_client_cert)) {
        S(CURLOPT_SSLCERT, opts->ssl_https_client_cert);
        S(CURLOPT_SSLCERTTYPE, opts->ssl_https_client_cert_type == PA_CERT_DER ? "DER" : "PEM");
    }
    if (set(opts->ssl_https_private_key)) {
        S(CURLOPT_SSLKEY, opts->ssl_https_private_key);
        S(CURLOPT_SSLKEYTYPE, opts->ssl_https_private_key_type == PA_CERT_DER ? "DER" : "PEM");
    }
#undef S
    return rc;
}

static struct curl_slist *append_user_headers(struct curl_slist *list,
                                              const struct pa_options *opts)
{
    for (size_t i = 0; i < opts->n_headers; i++) {
        char *line = xasprintf("%s: %s", opts->headers[i].name, opts->headers[i].value);
        struct curl_slist *next = curl_slist_append(list, line);
        free(line);
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

/* ---- data-plane callbacks (run inside curl, must not call curl_multi_*) ---- */

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata)
{
    struct http_req *req = userdata;
    size_t len = size * n;
    if (!req->t_recv_start)
        req->t_recv_start = clock_now_ns();
    if (buf_append(&req->resp, ptr, len) != PA_OK)
        return 0; /* curl fails the transfer with a write error */
    return len;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *userdata)
{
    struct http_req *req = userdata;
    size_t len = size * n;
    static const char name[] = "inference-header-content-length:";

    if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        req->resp_json_len = -1; /* a new response (after an interim one) */
    } else if (len > sizeof(name) - 1 && (ptr[0] | 0x20) == 'i' &&
               strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
        long v = 0;
        size_t i = sizeof(name) - 1;
        while (i < len && (ptr[i] == ' ' || ptr[i] == '\t'))
            i++;
        size_t digits = 0;
        while (i < len && ptr[i] >= '0' && ptr[i] <= '9' && digits < 18) {
            v = v * 10 + (ptr[i] - '0');
            i++;
            digits++;
        }
        if (digits)
            req->resp_json_len = v;
    }
    return len;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct http_ctx *ctx = userp;
    (void)easy;
    (void)socketp;

    size_t i = 0;
    while (i < ctx->n_fds && ctx->fds[i].fd != s)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < ctx->n_fds)
            ctx->fds[i] = ctx->fds[--ctx->n_fds];
        return 0;
    }
    if (i == ctx->n_fds) {
        if (ctx->n_fds == ctx->cap_fds) {
            /* Grows only when more sockets are open than ever before. */
            ctx->cap_fds = ctx->cap_fds ? 2 * ctx->cap_fds : 8;
            ctx->fds = xreallocarray(ctx->fds, ctx->cap_fds, sizeof(*ctx->fds));
            ctx->ready = xreallocarray(ctx->ready, ctx->cap_fds, sizeof(*ctx->ready));
        }
        ctx->n_fds++;
        ctx->fds[i].fd = s;
    }
    short ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= POLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= POLLOUT;
    ctx->fds[i].events = ev;
    ctx->fds[i].revents = 0;
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_ctx *ctx = userp;
    (void)multi;
    if (timeout_ms < 0) {
        ctx->timer_set = false;
    } else {
        ctx->timer_set = true;
        ctx->timer_deadline = clock_now_ns() + (uint64_t)(unsigned)timeout_ms * NS_PER_MS;
    }
    return 0;
}

/* ---- pool ---- */

static void req_free(struct http_req *req)
{
    if (!req)
        return;
    if (req->easy)
        curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->hdrs);
    free(req->seq_body);
    buf_release(&req->resp);
    buf_release(&req->scratch);
    cJSON_Delete(req->parsed);
    free(req);
}

static struct http_req *req_new(struct http_ctx *ctx, struct pa_err *err)
{
    struct http_req *req = xcalloc(1, sizeof(*req));
    req->ctx = ctx;
    buf_init(&req->resp, 0);
    buf_init(&req->scratch, 0);
    req->resp_json_len = -1;

    /* The two rewritable lines get room for their longest value now. */
    char ihcl[IHCL_LINE_CAP];
    memset(ihcl, ' ', sizeof(ihcl) - 1);
    ihcl[sizeof(ihcl) - 1] = '\0';
    char ctype[sizeof(CTYPE_OCTET)];
    memcpy(ctype, CTYPE_OCTET, sizeof(ctype));

    struct curl_slist *l = curl_slist_append(NULL, ihcl);
    if (l && curl_slist_append(l, "Expect:") && curl_slist_append(l, ctype))
        l = append_user_headers(l, ctx->opts);
    else if (l) {
        curl_slist_free_all(l);
        l = NULL;
    }
    req->hdrs = l;
    req->easy = curl_easy_init();
    if (!req->hdrs || !req->easy)
        goto fail;
    req->hdr_json_len = SIZE_MAX;
    req->hdr_json_ctype = false;

    CURLcode rc = setup_common(req->easy, ctx->opts);
#define S(opt, val)                                     \
    do {                                                \
        if (rc == CURLE_OK)                             \
            rc = curl_easy_setopt(req->easy, opt, val); \
    } while (0)
    S(CURLOPT_PRIVATE, req);
    S(CURLOPT_WRITEFUNCTION, on_body);
    S(CURLOPT_WRITEDATA, req);
    S(CURLOPT_HEADERFUNCTION, on_header);
    S(CURLOPT_HEADERDATA, req);
    S(CURLOPT_HTTPHEADER, req->hdrs);
    S(CURLOPT_POST, 1L);
#undef S
    if (rc != CURLE_OK) {
        pa_errorf(err, PA_EINTERNAL, "cannot set up an HTTP transfer: %s",
                  curl_easy_strerror(rc));
        req_free(req);
        return NULL;
    }
    return req;
fail:
    req_free(req);
    pa_errorf(err, PA_EINTERNAL, "cannot create an HTTP transfer");
    return NULL;
}

static struct http_req *req_get(struct http_ctx *ctx, struct pa_err *err)
{
    struct http_req *req = ctx->free_list;
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

static void req_put(struct http_ctx *ctx, struct http_req *req)
{
    if (req->parsed) {
        cJSON_Delete(req->parsed);
        req->parsed = NULL;
    }
    req->tag = NULL;
    req->next_free = ctx->free_list;
    ctx->free_list = req;
}

/* Rewrites the per-send header lines when their values change. */
static void req_set_headers(struct http_req *req, size_t json_len, bool json_ctype)
{
    if (json_len != req->hdr_json_len) {
        char *line = req->hdrs->data;
        memcpy(line, IHCL_NAME, sizeof(IHCL_NAME) - 1);
        size_t n = sizeof(IHCL_NAME) - 1;
        n += http_u64_dec(line + n, json_len);
        line[n] = '\0';
        req->hdr_json_len = json_len;
    }
    if (json_ctype != req->hdr_json_ctype) {
        char *line = req->hdrs->next->next->data;
        if (json_ctype)
            memcpy(line, CTYPE_JSON, sizeof(CTYPE_JSON));
        else
            memcpy(line, CTYPE_OCTET, sizeof(CTYPE_OCTET));
        req->hdr_json_ctype = json_ctype;
    }
}

/* ---- open / close ---- */

static void http_close(struct pa_client *c)
{
    struct http_ctx *ctx = c->ctx;
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
    free(ctx->fds);
    free(ctx->ready);
    if (ctx->ctl)
        curl_easy_cleanup(ctx->ctl);
    buf_release(&ctx->ctl_resp);
    curl_slist_free_all(ctx->user_hdrs);
    free(ctx);
    c->ctx = NULL;
}

static size_t on_ctl_body(char *ptr, size_t size, size_t n, void *userdata)
{
    struct buf *b = userdata;
    size_t len = size * n;
    return buf_append(b, ptr, len) == PA_OK ? len : 0;
}

static int http_open(struct pa_client *c, struct pa_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return pa_errorf(err, PA_EINTERNAL, "cannot initialize libcurl: %s",
                         curl_easy_strerror(curl_init_rc));

    struct http_ctx *ctx = xcalloc(1, sizeof(*ctx));
    c->ctx = ctx;
    ctx->opts = c->opts;
    buf_init(&ctx->ctl_resp, 0);

    ctx->multi = curl_multi_init();
    if (!ctx->multi)
        goto fail;
    if (curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETDATA, ctx) != CURLM_OK ||
        curl_multi_setopt(ctx->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
        curl_multi_setopt(ctx->multi, CURLMOPT_TIMERDATA, ctx) != CURLM_OK)
        goto fail;

    if (c->opts->n_headers) {
        ctx->user_hdrs = append_user_headers(NULL, c->opts);
        if (!ctx->user_hdrs)
            goto fail;
    }
    ctx->ctl = curl_easy_init();
    if (!ctx->ctl || setup_common(ctx->ctl, c->opts) != CURLE_OK ||
        curl_easy_setopt(ctx->ctl, CURLOPT_WRITEFUNCTION, on_ctl_body) != CURLE_OK ||
        curl_easy_setopt(ctx->ctl, CURLOPT_WRITEDATA, &ctx->ctl_resp) != CURLE_OK)
        goto fail;
    return PA_OK;

fail:
    http_close(c);
    return pa_errorf(err, PA_EINTERNAL, "cannot set up the HTTP client for '%s'", c->opts->url);
}

/* ---- control plane ---- */

/*
 * One blocking request: GET when body is NULL, else POST of body. A 200
 * answer's JSON goes to *out when out is non-NULL; other answers become the
 * server's `error` text.
 */
static int ctl_call(struct http_ctx *ctx, const char *path, const char *body, bool user_headers,
                    cJSON **out, struct pa_err *err)
{
    char *url = xasprintf("%s%s", ctx->opts->url, path);
    CURL *h = ctx->ctl;
    CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, user_headers ? ctx->user_hdrs : NULL);
    if (rc == CURLE_OK && body) {
        rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    } else if (rc == CURLE_OK) {
        rc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    buf_reset(&ctx->ctl_resp);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h);
    free(url);
    if (rc != CURLE_OK)
        return pa_errorf(err, PA_ECONN, "HTTP client failed: %s", curl_easy_strerror(rc));

    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        char msg[PA_ERR_MSG_MAX];
        http_error_message(ctx->ctl_resp.data, ctx->ctl_resp.len, -1, status, msg, sizeof(msg));
        return pa_errorf(err, PA_ESERVER, "%s", msg);
    }
    if (!out)
        return PA_OK;
    *out = cJSON_ParseWithLength(ctx->ctl_resp.data ? ctx->ctl_resp.data : "",
                                 ctx->ctl_resp.len);
    if (!*out)
        return pa_errorf(err, PA_EPROTO, "failed to parse the response of '%s' as JSON", path);
    return PA_OK;
}

/* "/v2/models/<m>[/versions/<v>]" + suffix. */
static char *model_path(const char *name, const char *version, const char *suffix)
{
    if (version && *version)
        return xasprintf("/v2/models/%s/versions/%s%s", name, version, suffix);
    return xasprintf("/v2/models/%s%s", name, suffix);
}

static int http_server_metadata(struct pa_client *c, cJSON **out, struct pa_err *err)
{
    return ctl_call(c->ctx, "/v2", NULL, true, out, err);
}

static int http_model_get(struct pa_client *c, const char *name, const char *version,
                          const char *suffix, cJSON **out, struct pa_err *err)
{
    char *path = model_path(name, version, suffix);
    int rc = ctl_call(c->ctx, path, NULL, true, out, err);
    free(path);
    return rc;
}

static int http_model_metadata(struct pa_client *c, const char *name, const char *version,
                               cJSON **out, struct pa_err *err)
{
    return http_model_get(c, name, version, "", out, err);
}

static int http_model_config(struct pa_client *c, const char *name, const char *version,
                             cJSON **out, struct pa_err *err)
{
    return http_model_get(c, name, version, "/config", out, err);
}

static int http_model_statistics(struct pa_client *c, const char *name, const char *version,
                                 cJSON **out, struct pa_err *err)
{
    if (!name || !*name)
        return ctl_call(c->ctx, "/v2/models/stats", NULL, true, out, err);
    return http_model_get(c, name, version, "/stats", out, err);
}

static int http_trace_settings(struct pa_client *c, const cJSON *settings, struct pa_err *err)
{
    char *body = json_print(settings);
    /* The original sends this one without the -H headers (spec 06 §1). */
    int rc = ctl_call(c->ctx, "/v2/trace/setting", body, false, NULL, err);
    free(body);
    return rc;
}

static int post_json(struct pa_client *c, const char *path, cJSON *body, struct pa_err *err)
{
    char *text = json_print(body);
    cJSON_Delete(body);
    int rc = ctl_call(c->ctx, path, text, true, NULL, err);
    free(text);
    return rc;
}

static int http_register_system_shm(struct pa_client *c, const char *region, const char *key,
                                    uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "key", key);
    cJSON_AddNumberToObject(body, "offset", (double)offset);
    cJSON_AddNumberToObject(body, "byte_size", (double)byte_size);
    char *path = xasprintf("/v2/systemsharedmemory/region/%s/register", region);
    int rc = post_json(c, path, body, err);
    free(path);
    return rc;
}

static int http_register_cuda_shm(struct pa_client *c, const char *region, const void *raw_handle,
                                  size_t handle_size, int64_t device_id, uint64_t byte_size,
                                  struct pa_err *err)
{
    char *b64 = xmalloc(base64_encoded_len(handle_size) + 1);
    base64_encode(raw_handle, handle_size, b64);
    cJSON *body = cJSON_CreateObject();
    cJSON *raw = cJSON_AddObjectToObject(body, "raw_handle");
    cJSON_AddStringToObject(raw, "b64", b64);
    free(b64);
    cJSON_AddNumberToObject(body, "device_id", (double)device_id);
    cJSON_AddNumberToObject(body, "byte_size", (double)byte_size);
    char *path = xasprintf("/v2/cudasharedmemory/region/%s/register", region);
    int rc = post_json(c, path, body, err);
    free(path);
    return rc;
}

static int unregister(struct pa_client *c, const char *kind, const char *region,
                      struct pa_err *err)
{
    char *path = region ? xasprintf("/v2/%s/region/%s/unregister", kind, region)
                        : xasprintf("/v2/%s/unregister", kind);
    int rc = ctl_call(c->ctx, path, "", true, NULL, err);
    free(path);
    return rc;
}

static int http_unregister_system_shm(struct pa_client *c, const char *region,
                                      struct pa_err *err)
{
    return unregister(c, "systemsharedmemory", region, err);
}

static int http_unregister_cuda_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    return unregister(c, "cudasharedmemory", region, err);
}

/* ---- data plane ---- */

static int http_prepare(struct pa_client *c, const struct pa_infer_desc *desc,
                        struct pa_prepared **out, struct pa_err *err)
{
    struct pa_prepared *p = xcalloc(1, sizeof(*p));
    int rc = http_encode_request(desc, c->opts->input_tensor_format,
                                 c->opts->output_tensor_format, &p->body, err);
    if (rc != PA_OK) {
        free(p);
        return rc;
    }
    char *path = model_path(desc->model_name, desc->model_version, "/infer");
    p->url = xasprintf("%s%s", c->opts->url, path);
    free(path);
    *out = p;
    return PA_OK;
}

static void http_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    (void)c;
    if (!p)
        return;
    http_body_release(&p->body);
    free(p->url);
    free(p);
}

static void note_sent(struct http_ctx *ctx, struct http_req *req, uint64_t now)
{
    curl_off_t up = 0;
    curl_easy_getinfo(req->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    if (up >= 0 && (size_t)up >= req->body_len) {
        req->send_done = true;
        req->t_send_end = now ? now : clock_now_ns();
        ctx->send_pending--;
    }
}

static void check_pending_sends(struct http_ctx *ctx)
{
    uint64_t now = 0;
    for (size_t i = 0; i < ctx->n_reqs && ctx->send_pending; i++) {
        struct http_req *req = ctx->reqs[i];
        if (req->in_flight && !req->send_done) {
            if (!now)
                now = clock_now_ns();
            note_sent(ctx, req, now);
        }
    }
}

/* Runs curl's expired timers; keeps our timer in step even if curl does not call back. */
static void fire_timeout(struct http_ctx *ctx)
{
    int running;
    ctx->timer_set = false;
    curl_multi_socket_action(ctx->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (!ctx->timer_set) {
        long ms = -1;
        if (curl_multi_timeout(ctx->multi, &ms) == CURLM_OK && ms >= 0)
            on_timer(ctx->multi, ms, ctx);
    }
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

static int http_submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                       struct pa_err *err)
{
    uint64_t t0 = clock_now_ns();
    struct http_ctx *ctx = c->ctx;
    struct http_req *req = req_get(ctx, err);
    if (!req)
        return err ? err->code : PA_EINTERNAL;

    const char *post = p->body.data;
    size_t len = p->body.len;
    size_t json_len = p->body.json_len;
    if (send->sequence_id) {
        char prefix[HTTP_PREFIX_MAX];
        size_t plen = http_encode_prefix(prefix, send, p->body.no_outputs);
        size_t fixed = p->body.len - p->body.fixed_off;
        if (plen + fixed > req->seq_cap) {
            /* Grows only for a body larger than this handle ever sent. */
            free(req->seq_body);
            req->seq_cap = plen + fixed;
            req->seq_body = xmalloc(req->seq_cap);
        }
        memcpy(req->seq_body, prefix, plen);
        memcpy(req->seq_body + plen, p->body.data + p->body.fixed_off, fixed);
        post = req->seq_body;
        len = plen + fixed;
        json_len = json_len - p->body.fixed_off + plen;
    }
    req_set_headers(req, json_len, p->body.json_content);

    CURLcode rc = CURLE_OK;
    if (req->url != p->url) {
        rc = curl_easy_setopt(req->easy, CURLOPT_URL, p->url);
        req->url = rc == CURLE_OK ? p->url : NULL;
    }
    /* Size first: setting it may drop a previous copied body (curl's rule). */
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, post);

    req->tag = send->tag;
    req->body_len = len;
    req->send_done = false;
    req->t_start = t0;
    req->t_recv_start = 0;
    req->t_send_end = 0;
    req->resp_json_len = -1;
    buf_reset(&req->resp);

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
    ctx->send_pending++;
    req->t_send_start = clock_now_ns();
    fire_timeout(ctx); /* runs the new transfer: the request goes out now */
    if (!req->send_done && req->in_flight)
        note_sent(ctx, req, 0);
    return PA_OK;
}

/* Delivers every finished transfer. Returns how many. */
static int drain(struct pa_client *c)
{
    struct http_ctx *ctx = c->ctx;
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
        struct http_req *req = (struct http_req *)(void *)priv;
        uint64_t now = clock_now_ns();

        /* Detach first, so that a submit from the callback can reuse the connection. */
        curl_multi_remove_handle(ctx->multi, easy);
        req->in_flight = false;
        ctx->in_flight--;
        if (!req->send_done) {
            req->send_done = true;
            req->t_send_end = req->t_recv_start ? req->t_recv_start : now;
            ctx->send_pending--;
        }

        struct pa_response r = {
            .tag = req->tag,
            .arrival_ns = now,
            .final = true,
            .send_ns = req->t_send_end - req->t_send_start,
            .recv_ns = req->t_recv_start ? now - req->t_recv_start : 0,
            .total_ns = now - req->t_start,
            .backend_data = req,
        };
        if (result != CURLE_OK) {
            snprintf(req->errmsg, sizeof(req->errmsg), "HTTP client failed: %s",
                     curl_easy_strerror(result));
            r.error = PA_ECONN;
            r.error_msg = req->errmsg;
        } else {
            long status = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            if (status != 200) {
                http_error_message(req->resp.data, req->resp.len, req->resp_json_len, status,
                                   req->errmsg, sizeof(req->errmsg));
                r.error = PA_ESERVER;
                r.error_msg = req->errmsg;
            }
        }
        if (c->on_response)
            c->on_response(c->on_response_arg, &r);
        req_put(ctx, req);
        delivered++;
    }
    return delivered;
}

static int ms_until(uint64_t deadline, uint64_t now)
{
    if (deadline <= now)
        return 0;
    uint64_t ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

static int http_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct http_ctx *ctx = c->ctx;
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
        uint64_t now = clock_now_ns();
        int wait = timeout_ms < 0 ? -1 : timeout_ms == 0 ? 0 : ms_until(deadline, now);
        if (ctx->timer_set) {
            int t = ms_until(ctx->timer_deadline, now);
            if (wait < 0 || t < wait)
                wait = t;
        }

        int n = poll(ctx->fds, (nfds_t)ctx->n_fds, wait);
        if (n < 0) {
            if (errno == EINTR)
                return 0;
            return pa_errorf(err, PA_EIO, "poll failed: %s", strerror(errno));
        }
        if (n > 0) {
            /* Snapshot first: socket_action changes ctx->fds under us. */
            size_t n_ready = 0;
            for (size_t i = 0; i < ctx->n_fds; i++) {
                if (ctx->fds[i].revents)
                    ctx->ready[n_ready++] = ctx->fds[i];
            }
            for (size_t i = 0; i < n_ready; i++) {
                short rev = ctx->ready[i].revents;
                int flags = 0;
                if (rev & (POLLIN | POLLHUP | POLLERR))
                    flags |= CURL_CSELECT_IN;
                if (rev & POLLOUT)
                    flags |= CURL_CSELECT_OUT;
                if (rev & (POLLERR | POLLNVAL))
                    flags |= CURL_CSELECT_ERR;
                int running;
                curl_multi_socket_action(ctx->multi, ctx->ready[i].fd, flags, &running);
            }
        }
        if (ctx->timer_set && ctx->timer_deadline <= clock_now_ns())
            fire_timeout(ctx);
        if (ctx->send_pending)
            check_pending_sends(ctx);

        delivered = drain(c);
        if (delivered || timeout_ms == 0)
            return delivered;
        if (timeout_ms > 0 && clock_now_ns() >= deadline)
            return 0;
    }
}

static size_t http_in_flight(const struct pa_client *c)
{
    const struct http_ctx *ctx = c->ctx;
    return ctx->in_flight;
}

static int http_output(const struct pa_client *c, const struct pa_response *r, const char *name,
                       const void **data, size_t *byte_size, struct pa_err *err)
{
    (void)c;
    /* The response is read-only to callers, but the lazily parsed header is cached in it. */
    struct http_req *req = (struct http_req *)(uintptr_t)r->backend_data;
    if (!req || r->error)
        return pa_errorf(err, PA_EINVAL, "output '%s' requested from a failed response", name);
    return http_output_lookup(req->resp.data ? req->resp.data : "", req->resp.len,
                              req->resp_json_len, &req->parsed, name, &req->scratch, data,
                              byte_size, err);
}

static const struct pa_client_ops http_ops = {
    .open = http_open,
    .close = http_close,
    .prepare = http_prepare,
    .prepared_free = http_prepared_free,
    .submit = http_submit,
    .poll = http_poll,
    .in_flight = http_in_flight,
    .server_metadata = http_server_metadata,
    .model_metadata = http_model_metadata,
    .model_config = http_model_config,
    .model_statistics = http_model_statistics,
    .trace_settings = http_trace_settings,
    .register_system_shm = http_register_system_shm,
    .register_cuda_shm = http_register_cuda_shm,
    .unregister_system_shm = http_unregister_system_shm,
    .unregister_cuda_shm = http_unregister_cuda_shm,
    .output = http_output,
};

const struct pa_backend pa_backend_triton_http = {
    .name = "triton-http",
    .kind = "TRITON",
    .flags = PA_BACKEND_ASYNC | PA_BACKEND_SYSTEM_SHM | PA_BACKEND_CUDA_SHM |
             PA_BACKEND_SERVER_STATS | PA_BACKEND_MODEL_METADATA,
    .ops = &http_ops,
};
