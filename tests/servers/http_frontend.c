/*
 * KServe v2 HTTP front end on libmicrohttpd (spec 01, 07 §2).
 *
 * Threads: MHD's internal thread pool (one thread per core by default,
 * epoll). A model's compute delay must not block a pool thread, or
 * concurrency would be capped by the pool size; so /infer asks the engine
 * to defer the delay (engine_request.defer_delay), suspends the connection
 * and a timer thread resumes it when the response is due. The same
 * mechanism holds requests during --slow-start-ms and parks them forever
 * with --hang.
 *
 * Memory: each TCP connection owns a struct conn (created on connect,
 * freed on close) whose buffers are reused by every request on it; the
 * response body is handed to MHD as a persistent buffer, not copied.
 */
#include "http_frontend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/xalloc.h"
#include "http_codec.h"
#include "torchserve_handler.h"

#include "core/banned.h"

#define BODY_MAX ((size_t)1 << 30)
#define SEGS_MAX 10
#define NEVER UINT64_MAX

enum phase {
    P_IDLE,   /* waiting for the request */
    P_HELD,   /* suspended by slow start; process on resume */
    P_READY,  /* response prepared; send on resume */
    P_CLOSE,  /* shutting down: close on resume */
};

struct conn {
    struct http_frontend *fe;
    struct MHD_Connection *mc;
    enum phase phase;
    uint64_t arrival_ns;
    struct buf body;
    struct buf inflated;
    struct buf zout;
    struct buf text;              /* control-endpoint and error bodies */
    struct http_infer codec;
    struct engine_response resp;
    /* prepared response */
    unsigned status;
    const char *ctype;
    const char *cenc;
    const char *accept_enc;       /* "Accept-Encoding" reply header or NULL */
    long long ihcl;               /* Inference-Header-Content-Length or -1 */
    char *data;
    size_t len;
    bool drop;
    uint64_t ready_ns;
};

struct timer_entry {
    uint64_t deadline;
    struct conn *c;
};

struct http_frontend {
    struct engine *e;
    struct MHD_Daemon *d;
    int fd;
    /* deferred responses: a min-heap on deadline, served by one thread */
    pthread_t timer;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct timer_entry *heap;
    size_t n_heap, cap_heap;
    bool stopping;
};

/* ---------------------------------------------------------------- sockets */

int net_listen_local(int port, int *bound_port, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1024) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    *bound_port = ntohs(sa.sin_port);
    return fd;
}

/* ------------------------------------------------------------------ timer */

static void heap_swap(struct timer_entry *h, size_t a, size_t b)
{
    struct timer_entry t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static void heap_push(struct http_frontend *fe, uint64_t deadline, struct conn *c)
{
    size_t i;
    if (fe->n_heap == fe->cap_heap) {
        fe->cap_heap = fe->cap_heap ? 2 * fe->cap_heap : 256;
        fe->heap = xreallocarray(fe->heap, fe->cap_heap, sizeof(*fe->heap));
    }
    i = fe->n_heap++;
    fe->heap[i].deadline = deadline;
    fe->heap[i].c = c;
    while (i > 0 && fe->heap[(i - 1) / 2].deadline > fe->heap[i].deadline) {
        heap_swap(fe->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct timer_entry heap_pop(struct http_frontend *fe)
{
    struct timer_entry top = fe->heap[0];
    size_t i = 0;
    fe->heap[0] = fe->heap[--fe->n_heap];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < fe->n_heap && fe->heap[l].deadline < fe->heap[m].deadline)
            m = l;
        if (r < fe->n_heap && fe->heap[r].deadline < fe->heap[m].deadline)
            m = r;
        if (m == i)
            break;
        heap_swap(fe->heap, i, m);
        i = m;
    }
    return top;
}

static void *timer_main(void *arg)
{
    struct http_frontend *fe = arg;
    pthread_mutex_lock(&fe->lock);
    while (!fe->stopping) {
        uint64_t now = clock_now_ns();
        if (fe->n_heap && fe->heap[0].deadline <= now) {
            struct timer_entry t = heap_pop(fe);
            MHD_resume_connection(t.c->mc);
            continue;
        }
        if (fe->n_heap && fe->heap[0].deadline != NEVER) {
            /* the condvar uses CLOCK_MONOTONIC (set in http_frontend_start) */
            struct timespec ts;
            uint64_t dl = fe->heap[0].deadline;
            ts.tv_sec = (time_t)(dl / NS_PER_S);
            ts.tv_nsec = (long)(dl % NS_PER_S);
            pthread_cond_timedwait(&fe->cond, &fe->lock, &ts);
        } else {
            pthread_cond_wait(&fe->cond, &fe->lock);
        }
    }
    pthread_mutex_unlock(&fe->lock);
    return NULL;
}

/*
 * Suspends the connection until deadline (NEVER = until shutdown). Returns
 * false when the server is stopping (the caller then closes the connection).
 */
static bool defer_until(struct conn *c, uint64_t deadline)
{
    struct http_frontend *fe = c->fe;
    pthread_mutex_lock(&fe->lock);
    if (fe->stopping) {
        pthread_mutex_unlock(&fe->lock);
        return false;
    }
    MHD_suspend_connection(c->mc);
    heap_push(fe, deadline, c);
    pthread_cond_signal(&fe->cond);
    pthread_mutex_unlock(&fe->lock);
    return true;
}

/* ------------------------------------------------------------- responses */

static void set_body(struct conn *c, unsigned status, const char *ctype, char *data, size_t len)
{
    c->status = status;
    c->ctype = ctype;
    c->data = data;
    c->len = len;
}

static void set_error(struct conn *c, unsigned status, const char *msg)
{
    http_error_body(&c->text, msg);
    set_body(c, status, "application/json", c->text.data, c->text.len);
}

static void set_status_error(struct conn *c, const struct engine_status *st)
{
    set_error(c, (unsigned)engine_code_http(st->code), st->msg);
}

/* JSON document body; takes ownership of j. */
static void set_json(struct conn *c, cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j);
    int rc;
    cJSON_Delete(j);
    buf_reset(&c->text);
    rc = buf_append_str(&c->text, text ? text : "null");
    (void)rc;
    free(text);
    set_body(c, 200, "application/json", c->text.data, c->text.len);
}

static void set_empty(struct conn *c, unsigned status)
{
    set_body(c, status, NULL, NULL, 0);
}

/* --drop-every: send the first half of the body, then break the connection. */
static ssize_t drop_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct conn *c = cls;
    size_t half = c->len / 2, n;
    if (pos >= half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    n = half - (size_t)pos < max ? half - (size_t)pos : max;
    memcpy(buf, c->data + pos, n);
    return (ssize_t)n;
}

static enum MHD_Result send_prepared(struct conn *c)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    if (c->drop)
        r = MHD_create_response_from_callback(c->len, 16 * 1024, drop_reader, c, NULL);
    else
        r = MHD_create_response_from_buffer(c->len, c->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (c->ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, c->ctype);
    if (c->cenc)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, c->cenc);
    if (c->accept_enc)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING, c->accept_enc);
    if (c->ihcl >= 0) {
        char v[32];
        snprintf(v, sizeof(v), "%lld", c->ihcl);
        MHD_add_response_header(r, "Inference-Header-Content-Length", v);
    }
    ret = MHD_queue_response(c->mc, c->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* -------------------------------------------------------------- handlers */

static const char *header(struct conn *c, const char *name)
{
    return MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, name);
}

/* Body of a control POST parsed as JSON; empty body -> empty object. */
static cJSON *body_json(struct conn *c, struct engine_status *st)
{
    cJSON *j;
    if (c->body.len == 0)
        return cJSON_CreateObject();
    j = cJSON_ParseWithLength(c->body.data, c->body.len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        engine_fail(st, ENGINE_INVALID_ARG, "failed to parse the request JSON buffer");
    }
    return j && cJSON_IsObject(j) ? j : NULL;
}

static bool json_u64_field(const cJSON *o, const char *key, bool required, uint64_t *out,
                           struct engine_status *st)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    struct pa_err err;
    if (!v) {
        if (required)
            engine_fail(st, ENGINE_INVALID_ARG, "Unable to parse '%s'", key);
        return !required;
    }
    if (json_to_u64(v, out, &err)) {
        engine_fail(st, ENGINE_INVALID_ARG, "Unable to parse '%s'", key);
        return false;
    }
    return true;
}

static void do_infer(struct conn *c, const struct engine_model *m, int64_t version)
{
    struct engine *e = c->fe->e;
    struct engine_status st;
    const unsigned char *body = (const unsigned char *)c->body.data;
    size_t len = c->body.len;
    const char *ihcl = header(c, "Inference-Header-Content-Length");
    const char *cenc = header(c, MHD_HTTP_HEADER_CONTENT_ENCODING);
    long long hl = -1;
    int enc;

    if (cenc && *cenc && strcmp(cenc, "identity")) {
        if (strcmp(cenc, "gzip") && strcmp(cenc, "deflate")) {
            c->accept_enc = "gzip, deflate";
            set_error(c, 400, "Unsupported compression type");
            return;
        }
        if (http_inflate(body, len, &c->inflated, BODY_MAX, &st)) {
            set_status_error(c, &st);
            return;
        }
        body = (const unsigned char *)c->inflated.data;
        len = c->inflated.len;
    }
    if (ihcl) {
        char *end = NULL;
        errno = 0;
        hl = strtoll(ihcl, &end, 10);
        if (end == ihcl || *end || errno || hl < 0) {
            set_error(c, 400, "Unable to parse Inference-Header-Content-Length");
            return;
        }
    }
    if (http_infer_decode(&c->codec, body, len, hl, &st)) {
        set_status_error(c, &st);
        return;
    }
    c->codec.req.defer_delay = true;
    c->codec.req.arrival_ns = c->arrival_ns;
    if (engine_infer(e, m, version, &c->codec.req, &c->resp) ||
        http_infer_encode(&c->codec, &c->resp, &st)) {
        set_status_error(c, c->resp.status.code ? &c->resp.status : &st);
        return;
    }
    c->ready_ns = c->resp.ready_ns;
    c->drop = c->resp.drop_connection;
    if (c->codec.out_has_binary) {
        c->ihcl = (long long)c->codec.out_json_len;
        set_body(c, 200, "application/octet-stream", c->codec.out.data, c->codec.out.len);
    } else {
        set_body(c, 200, "application/json", c->codec.out.data, c->codec.out.len);
    }
    enc = http_pick_encoding(header(c, MHD_HTTP_HEADER_ACCEPT_ENCODING));
    if (enc && http_compress((const unsigned char *)c->data, c->len, enc == 1, &c->zout) == 0) {
        c->cenc = enc == 1 ? "gzip" : "deflate";
        c->data = c->zout.data;
        c->len = c->zout.len;
    }
}

static void do_shm(struct conn *c, bool cuda, const char *region, const char *action,
                   bool post)
{
    struct engine *e = c->fe->e;
    struct engine_status st = {0};
    cJSON *j;

    if (!strcmp(action, "status")) {
        if (post) {
            set_error(c, 405, "Method Not Allowed");
            return;
        }
        j = cuda ? engine_cuda_shm_status_json(e, region, &st)
                 : engine_shm_status_json(e, region, &st);
        if (j)
            set_json(c, j);
        else
            set_status_error(c, &st);
        return;
    }
    if (!post) {
        set_error(c, 405, "Method Not Allowed");
        return;
    }
    if (!strcmp(action, "unregister")) {
        if (cuda ? engine_cuda_shm_unregister(e, region, &st) : engine_shm_unregister(e, region, &st))
            set_status_error(c, &st);
        else
            set_empty(c, 200);
        return;
    }
    /* register */
    if (!region) {
        set_error(c, 404, "Not Found");
        return;
    }
    j = body_json(c, &st);
    if (!j) {
        set_status_error(c, &st);
        return;
    }
    if (!cuda) {
        const char *key = json_get_str(j, "key");
        uint64_t offset = 0, size = 0;
        if (!key)
            engine_fail(&st, ENGINE_INVALID_ARG, "Unable to parse 'key'");
        else if (json_u64_field(j, "offset", false, &offset, &st) &&
                 json_u64_field(j, "byte_size", true, &size, &st))
            engine_shm_register(e, region, key, offset, size, &st);
    } else {
        const cJSON *rh = cJSON_GetObjectItemCaseSensitive(j, "raw_handle");
        const char *b64 = rh ? json_get_str(rh, "b64") : NULL;
        uint64_t dev = 0, size = 0;
        if (!b64) {
            engine_fail(&st, ENGINE_INVALID_ARG, "Unable to parse 'raw_handle'");
        } else if (json_u64_field(j, "device_id", true, &dev, &st) &&
                   json_u64_field(j, "byte_size", true, &size, &st)) {
            /* libb64 inserts newlines every 72 characters: skip non-alphabet bytes */
            size_t n = strlen(b64), k = 0, out_len = 0;
            char *clean = xmalloc(n + 1);
            unsigned char *raw = xmalloc(base64_decoded_max(n) + 1);
            for (size_t i = 0; i < n; i++)
                if (b64[i] != '\n' && b64[i] != '\r' && b64[i] != ' ' && b64[i] != '\t')
                    clean[k++] = b64[i];
            clean[k] = '\0';
            if (base64_decode(clean, k, raw, &out_len))
                engine_fail(&st, ENGINE_INVALID_ARG, "'raw_handle' is not valid base64");
            else
                engine_cuda_shm_register(e, region, raw, out_len, (int64_t)dev, size, &st);
            free(clean);
            free(raw);
        }
    }
    cJSON_Delete(j);
    if (st.code)
        set_status_error(c, &st);
    else
        set_empty(c, 200);
}

static void do_trace(struct conn *c, const char *model, bool post)
{
    struct engine_status st = {0};
    cJSON *upd = NULL, *res;
    if (post && !(upd = body_json(c, &st))) {
        set_status_error(c, &st);
        return;
    }
    res = engine_trace_setting(c->fe->e, model, upd, &st);
    cJSON_Delete(upd);
    if (res)
        set_json(c, res);
    else
        set_status_error(c, &st);
}

static void do_repository(struct conn *c, char **seg, size_t n)
{
    struct engine *e = c->fe->e;
    if (n == 3 && !strcmp(seg[2], "index")) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < engine_model_count(e); i++) {
            const struct engine_model_info *mi = engine_model_info(engine_model_at(e, i));
            for (size_t v = 0; v < mi->n_versions; v++) {
                cJSON *o = cJSON_CreateObject();
                char ver[32];
                snprintf(ver, sizeof(ver), "%" PRId64, mi->versions[v]);
                cJSON_AddStringToObject(o, "name", mi->name);
                cJSON_AddStringToObject(o, "version", ver);
                cJSON_AddStringToObject(o, "state", "READY");
                cJSON_AddItemToArray(arr, o);
            }
        }
        set_json(c, arr);
        return;
    }
    if (n == 5 && !strcmp(seg[2], "models") &&
        (!strcmp(seg[4], "load") || !strcmp(seg[4], "unload"))) {
        struct engine_status st;
        const struct engine_model *m;
        int64_t v;
        if (engine_find(e, seg[3], NULL, &m, &v, &st)) {
            set_status_error(c, &st);
        } else if (!strcmp(seg[4], "load")) {
            set_empty(c, 200); /* every model is always loaded */
        } else {
            set_error(c, 400, "model unload is not supported yet by pa-test-server");
        }
        return;
    }
    set_error(c, 404, "Not Found");
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Routes /v2/models/{m}[/versions/{v}][/action]. */
static void do_models(struct conn *c, char **seg, size_t n, bool get, bool post)
{
    struct engine *e = c->fe->e;
    struct engine_status st = {0};
    const struct engine_model *m;
    const char *name = seg[2], *version = NULL, *action = NULL, *action2 = NULL;
    size_t i = 3;
    int64_t v;

    if (n == 3 && !strcmp(seg[2], "stats")) {
        cJSON *j;
        if (!get) {
            set_error(c, 405, "Method Not Allowed");
            return;
        }
        j = engine_stats_json(e, NULL, NULL, &st);
        if (j)
            set_json(c, j);
        else
            set_status_error(c, &st);
        return;
    }
    if (n >= 5 && !strcmp(seg[3], "versions")) {
        if (!all_digits(seg[4])) {
            set_error(c, 404, "Not Found");
            return;
        }
        version = seg[4];
        i = 5;
    }
    if (i < n)
        action = seg[i++];
    if (i < n)
        action2 = seg[i++];
    if (i < n || (action2 && (strcmp(action, "trace") || strcmp(action2, "setting")))) {
        set_error(c, 404, "Not Found");
        return;
    }

    if (action && !strcmp(action, "trace")) {
        if (!action2) {
            set_error(c, 404, "Not Found");
        } else if (version) {
            set_error(c, 400, "trace setting for a specific model version is not supported");
        } else if (!get && !post) {
            set_error(c, 405, "Method Not Allowed");
        } else {
            do_trace(c, name, post);
        }
        return;
    }
    if (action && !strcmp(action, "infer")) {
        if (!post) {
            set_error(c, 405, "Method Not Allowed");
            return;
        }
        if (engine_find(e, name, version, &m, &v, &st))
            set_status_error(c, &st);
        else
            do_infer(c, m, v);
        return;
    }
    if (action && strcmp(action, "ready") && strcmp(action, "config") && strcmp(action, "stats")) {
        set_error(c, 404, "Not Found");
        return;
    }
    if (!get) {
        set_error(c, 405, "Method Not Allowed");
        return;
    }
    if (action && !strcmp(action, "stats")) {
        cJSON *j = engine_stats_json(e, name, version, &st);
        if (j)
            set_json(c, j);
        else
            set_status_error(c, &st);
        return;
    }
    if (engine_find(e, name, version, &m, &v, &st)) {
        set_status_error(c, &st);
        return;
    }
    if (!action)
        set_json(c, engine_model_metadata_json(m, version ? v : -1));
    else if (!strcmp(action, "config"))
        set_json(c, engine_model_config_json(m));
    else
        set_empty(c, 200); /* ready */
}

/* TorchServe's inference API on the same port (torchserve_handler.h). */
static void do_torchserve(struct conn *c, char **seg, size_t n, const char *method)
{
    struct torchserve_reply r;
    torchserve_handle(c->fe->e, seg, n, method, header(c, MHD_HTTP_HEADER_CONTENT_TYPE),
                      c->body.data, c->body.len, c->arrival_ns, &c->resp, &c->text, &r);
    set_body(c, r.status, "application/json", c->text.data, c->text.len);
    c->ready_ns = r.ready_ns;
    c->drop = r.drop;
}

static void route(struct conn *c, const char *url, const char *method)
{
    struct engine *e = c->fe->e;
    char path[1024], *seg[SEGS_MAX], *p;
    size_t n = 0;
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");

    c->ihcl = -1;
    snprintf(path, sizeof(path), "%s", url);
    for (p = path; *p && n < SEGS_MAX;) {
        while (*p == '/')
            *p++ = '\0';
        if (!*p)
            break;
        seg[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    if (!*p && n > 0 && (!strcmp(seg[0], "predictions") || !strcmp(seg[0], "ping"))) {
        do_torchserve(c, seg, n, method);
        return;
    }
    if (*p || n == 0 || strcmp(seg[0], "v2")) {
        set_error(c, 404, "Not Found");
        return;
    }
    if (n == 1) {
        if (get)
            set_json(c, engine_server_metadata_json(e));
        else
            set_error(c, 405, "Method Not Allowed");
        return;
    }
    if (!strcmp(seg[1], "health")) {
        if (n != 3 || (strcmp(seg[2], "live") && strcmp(seg[2], "ready")))
            set_error(c, 404, "Not Found");
        else if (!get)
            set_error(c, 405, "Method Not Allowed");
        else
            set_empty(c, 200);
        return;
    }
    if (!strcmp(seg[1], "models") && n >= 3) {
        do_models(c, seg, n, get, post);
        return;
    }
    if (!strcmp(seg[1], "systemsharedmemory") || !strcmp(seg[1], "cudasharedmemory")) {
        bool cuda = seg[1][0] == 'c';
        if (n == 3 && (!strcmp(seg[2], "status") || !strcmp(seg[2], "unregister")))
            do_shm(c, cuda, NULL, seg[2], post);
        else if (n == 5 && !strcmp(seg[2], "region") &&
                 (!strcmp(seg[4], "status") || !strcmp(seg[4], "unregister") ||
                  !strcmp(seg[4], "register")))
            do_shm(c, cuda, seg[3], seg[4], post);
        else
            set_error(c, 404, "Not Found");
        return;
    }
    if (!strcmp(seg[1], "trace") && n == 3 && !strcmp(seg[2], "setting")) {
        if (!get && !post)
            set_error(c, 405, "Method Not Allowed");
        else
            do_trace(c, NULL, post);
        return;
    }
    if (!strcmp(seg[1], "repository") && n >= 3) {
        if (!post)
            set_error(c, 405, "Method Not Allowed");
        else
            do_repository(c, seg, n);
        return;
    }
    set_error(c, 404, "Not Found");
}

/* ------------------------------------------------------------ MHD plumbing */

static void conn_reset(struct conn *c)
{
    c->phase = P_IDLE;
    buf_reset(&c->body);
    c->status = 500;
    c->ctype = NULL;
    c->cenc = NULL;
    c->accept_enc = NULL;
    c->ihcl = -1;
    c->data = NULL;
    c->len = 0;
    c->drop = false;
    c->ready_ns = 0;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_frontend *fe = cls;
    struct conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        c = xcalloc(1, sizeof(*c));
        c->fe = fe;
        c->mc = mc;
        buf_init(&c->body, BODY_MAX);
        buf_init(&c->inflated, BODY_MAX);
        buf_init(&c->zout, BODY_MAX);
        buf_init(&c->text, BODY_MAX);
        http_infer_init(&c->codec);
        engine_response_init(&c->resp);
        conn_reset(c);
        *socket_context = c;
    } else if (c) {
        buf_release(&c->body);
        buf_release(&c->inflated);
        buf_release(&c->zout);
        buf_release(&c->text);
        http_infer_release(&c->codec);
        engine_response_release(&c->resp);
        free(c);
        *socket_context = NULL;
    }
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn *c = *req_cls;
    (void)cls;
    (void)mc;
    (void)toe;
    if (c) {
        conn_reset(c);
        http_infer_reset(&c->codec);
    }
    *req_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct http_frontend *fe = cls;
    struct conn *c = *req_cls;
    const struct engine_knobs *k = engine_knobs(fe->e);
    uint64_t now;
    (void)version;

    if (!c) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        c = ci ? ci->socket_context : NULL;
        if (!c)
            return MHD_NO;
        conn_reset(c);
        c->mc = mc;
        c->arrival_ns = clock_now_ns();
        *req_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (buf_append(&c->body, upload_data, *upload_data_size))
            return MHD_NO; /* over BODY_MAX */
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (c->phase) {
    case P_READY:
        return send_prepared(c);
    case P_CLOSE:
        return MHD_NO;
    case P_HELD:
    case P_IDLE:
        break;
    }
    if (k->hang) {
        c->phase = P_CLOSE;
        return defer_until(c, NEVER) ? MHD_YES : MHD_NO;
    }
    now = clock_now_ns();
    if (c->phase == P_IDLE && k->slow_start_ns && now < engine_start_ns(fe->e) + k->slow_start_ns) {
        c->phase = P_HELD;
        return defer_until(c, engine_start_ns(fe->e) + k->slow_start_ns) ? MHD_YES : MHD_NO;
    }
    route(c, url, method);
    /* below ~20 us a suspend/resume round trip costs more than it saves */
    if (c->ready_ns > clock_now_ns() + 20 * NS_PER_US) {
        c->phase = P_READY;
        return defer_until(c, c->ready_ns) ? MHD_YES : MHD_NO;
    }
    return send_prepared(c);
}

int http_frontend_start(struct engine *e, int port, unsigned threads, int *bound_port,
                        struct http_frontend **out, char *err, size_t errlen)
{
    struct http_frontend *fe = xcalloc(1, sizeof(*fe));
    pthread_condattr_t ca;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    fe->e = e;
    fe->fd = net_listen_local(port, bound_port, err, errlen);
    if (fe->fd < 0) {
        free(fe);
        return -1;
    }
    pthread_mutex_init(&fe->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fe->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&fe->timer, NULL, timer_main, fe)) {
        snprintf(err, errlen, "cannot start the timer thread");
        close(fe->fd);
        free(fe);
        return -1;
    }
    if (!threads)
        threads = ncpu > 0 ? (unsigned)ncpu : 1;
    fe->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        on_request, fe, MHD_OPTION_LISTEN_SOCKET, fe->fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, fe, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        fe, MHD_OPTION_CONNECTION_TIMEOUT, 0U, MHD_OPTION_CONNECTION_LIMIT, 4096U,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024, MHD_OPTION_END);
    if (!fe->d) {
        snprintf(err, errlen, "cannot start the HTTP daemon on port %d", *bound_port);
        fe->d = NULL;
        http_frontend_stop(fe);
        return -1;
    }
    *out = fe;
    return 0;
}

void http_frontend_stop(struct http_frontend *fe)
{
    if (!fe)
        return;
    /* MHD refuses to stop with suspended connections: release them all first */
    pthread_mutex_lock(&fe->lock);
    fe->stopping = true;
    while (fe->n_heap) {
        struct timer_entry t = heap_pop(fe);
        if (t.c->phase != P_READY)
            t.c->phase = P_CLOSE;
        MHD_resume_connection(t.c->mc);
    }
    pthread_cond_signal(&fe->cond);
    pthread_mutex_unlock(&fe->lock);
    pthread_join(fe->timer, NULL);
    if (fe->d)
        MHD_stop_daemon(fe->d);
    else
        close(fe->fd);
    pthread_mutex_destroy(&fe->lock);
    pthread_cond_destroy(&fe->cond);
    free(fe->heap);
    free(fe);
}
