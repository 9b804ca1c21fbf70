/*
 * A fake libtritonserver.so: exactly the C API subset perf_analyzer r23.10
 * uses (spec protocols/05-triton-c-api.md §3, §5), over the reference
 * server's engine (tests/servers/engine.h), so the C API backend sees the
 * same models, validation messages and statistics as the HTTP and gRPC
 * backends do against pa-test-server.
 *
 * Every entry point is declared through the function types of
 * src/client/capi_api.h, the header the backend builds against, so a
 * signature drift between the two sides does not compile.
 *
 * Threads: like Triton, ServerInferAsync only queues the request; a small
 * pool of server threads runs it through the engine, calls the response
 * allocator for each output, then the response callback and the release
 * callback, alternating which of the last two comes first, so the caller's
 * handling of both orders is exercised.
 *
 * Knobs (environment, read when the server is created or the call is made):
 *   PA_FAKE_TRITON_API_VERSION  "major.minor" reported by ApiVersion (default 1.25)
 *   PA_FAKE_TRITON_DELAY_MS     compute delay of every model (engine knob)
 *   PA_FAKE_TRITON_THREADS      server threads (default 8)
 *   PA_FAKE_TRITON_NOT_READY    "1": the server never reports ready
 *   PA_FAKE_TRITON_RECORD       "1": record entry-point names for fake_tritonserver_calls()
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/capi_api.h"
#include "engine.h"

#define API __attribute__((visibility("default")))
#define MAX_THREADS 64
#define RECORD_CAP 65536

/* ---- call recording (tests) ---------------------------------------------- */

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static char record_buf[RECORD_CAP];
static size_t record_len;

static bool env_on(const char *name)
{
    const char *v = getenv(name);
    return v && !strcmp(v, "1");
}

/* Appends "name\n" when recording is on; the log wraps to empty when full. */
static void record(const char *name)
{
    if (!env_on("PA_FAKE_TRITON_RECORD"))
        return;
    size_t n = strlen(name);
    pthread_mutex_lock(&record_lock);
    if (record_len + n + 2 > RECORD_CAP)
        record_len = 0;
    memcpy(record_buf + record_len, name, n);
    record_buf[record_len + n] = '\n';
    record_len += n + 1;
    record_buf[record_len] = '\0';
    pthread_mutex_unlock(&record_lock);
}

/*
 * Not part of the C API: copies the recorded call names (one per line) into
 * out and clears the record. For the unit tests, through dlsym.
 */
API size_t fake_tritonserver_calls(char *out, size_t cap);
API size_t fake_tritonserver_calls(char *out, size_t cap)
{
    pthread_mutex_lock(&record_lock);
    size_t n = record_len < cap ? record_len : (cap ? cap - 1 : 0);
    if (cap) {
        memcpy(out, record_buf, n);
        out[n] = '\0';
    }
    record_len = 0;
    record_buf[0] = '\0';
    pthread_mutex_unlock(&record_lock);
    return n;
}

/* ---- objects --------------------------------------------------------------- */

struct TRITONSERVER_Error {
    TRITONSERVER_Error_Code code;
    char msg[ENGINE_MSG_MAX];
};

struct TRITONSERVER_ServerOptions {
    char *model_repo;
    char *backend_dir;
    char *repoagent_dir;
    int log_verbose;
    bool log_info;
    bool strict;
    double min_cc;
    uint64_t cuda_pool;
};

struct TRITONSERVER_Message {
    char *json;
    size_t len;
};

struct TRITONSERVER_ResponseAllocator {
    TRITONSERVER_ResponseAllocatorAllocFn_t *alloc_fn;
    TRITONSERVER_ResponseAllocatorReleaseFn_t *release_fn;
    TRITONSERVER_ResponseAllocatorStartFn_t *start_fn;
};

struct buffer_ref {
    const void *base;
    size_t size;
};

struct req_input {
    char name[ENGINE_NAME_MAX];
    TRITONSERVER_DataType dtype;
    int64_t shape[ENGINE_MAX_DIMS];
    uint64_t rank;
    struct buffer_ref bufs[64];
    size_t n_bufs;
};

struct TRITONSERVER_InferenceRequest {
    TRITONSERVER_Server *server;
    const struct engine_model *model;
    int64_t version;
    char id[ENGINE_NAME_MAX];
    struct engine_corr_id corr;
    uint32_t flags;
    uint64_t priority, timeout_us;
    struct req_input inputs[ENGINE_MAX_IO];
    size_t n_inputs;
    char outputs[ENGINE_MAX_IO][ENGINE_NAME_MAX];
    size_t n_outputs;
    TRITONSERVER_InferenceRequestReleaseFn_t *release_fn;
    void *release_userp;
    TRITONSERVER_ResponseAllocator *allocator;
    void *alloc_userp;
    TRITONSERVER_InferenceResponseCompleteFn_t *response_fn;
    void *response_userp;
    struct TRITONSERVER_InferenceRequest *next; /* server queue */
};

struct resp_output {
    char name[ENGINE_NAME_MAX];
    TRITONSERVER_DataType dtype;
    int64_t shape[ENGINE_MAX_DIMS];
    uint64_t rank;
    void *base;
    size_t size;
    TRITONSERVER_MemoryType mt;
    int64_t mt_id;
    void *buffer_userp;
};

struct TRITONSERVER_InferenceResponse {
    TRITONSERVER_ResponseAllocator *allocator;
    TRITONSERVER_Error *error;
    struct resp_output outputs[ENGINE_MAX_IO];
    size_t n_outputs;
};

struct TRITONSERVER_Server {
    struct engine *engine;
    char *model_repo;
    bool never_ready;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    TRITONSERVER_InferenceRequest *head, *tail;
    bool stopping;
    pthread_t threads[MAX_THREADS];
    size_t n_threads;
    atomic_uint_fast64_t completed;
};

static TRITONSERVER_Error *error_new(TRITONSERVER_Error_Code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static TRITONSERVER_Error *error_new(TRITONSERVER_Error_Code code, const char *fmt, ...)
{
    TRITONSERVER_Error *e = calloc(1, sizeof(*e));
    va_list ap;
    if (!e)
        abort();
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return e;
}

static TRITONSERVER_Error_Code map_code(enum engine_code c)
{
    switch (c) {
    case ENGINE_OK:
    case ENGINE_UNKNOWN:
        return TRITONSERVER_ERROR_UNKNOWN;
    case ENGINE_INVALID_ARG:
        return TRITONSERVER_ERROR_INVALID_ARG;
    case ENGINE_NOT_FOUND:
        return TRITONSERVER_ERROR_NOT_FOUND;
    case ENGINE_UNAVAILABLE:
        return TRITONSERVER_ERROR_UNAVAILABLE;
    case ENGINE_UNSUPPORTED:
        return TRITONSERVER_ERROR_UNSUPPORTED;
    case ENGINE_INTERNAL:
        return TRITONSERVER_ERROR_INTERNAL;
    case ENGINE_ALREADY_EXISTS:
        return TRITONSERVER_ERROR_ALREADY_EXISTS;
    }
    return TRITONSERVER_ERROR_UNKNOWN;
}

static char *dup_str(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static TRITONSERVER_Message *message_from(cJSON *j)
{
    TRITONSERVER_Message *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    m->json = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!m->json)
        abort();
    m->len = strlen(m->json);
    return m;
}

/* Version argument (-1 = policy) to the engine's string form ("" = latest). */
static const char *version_arg(int64_t v, char *buf, size_t len)
{
    if (v < 0)
        return "";
    snprintf(buf, len, "%" PRId64, v);
    return buf;
}

/* ---- 3.1 errors and version ------------------------------------------------- */

API capi_api_version_fn TRITONSERVER_ApiVersion;
TRITONSERVER_Error *TRITONSERVER_ApiVersion(uint32_t *major, uint32_t *minor)
{
    const char *v = getenv("PA_FAKE_TRITON_API_VERSION");
    unsigned ma = CAPI_API_VERSION_MAJOR, mi = CAPI_API_VERSION_MINOR;
    record("ApiVersion");
    if (v && sscanf(v, "%u.%u", &ma, &mi) != 2)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "bad PA_FAKE_TRITON_API_VERSION '%s'", v);
    *major = ma;
    *minor = mi;
    return NULL;
}

API capi_error_new_fn TRITONSERVER_ErrorNew;
TRITONSERVER_Error *TRITONSERVER_ErrorNew(TRITONSERVER_Error_Code code, const char *msg)
{
    return error_new(code, "%s", msg ? msg : "");
}

API capi_error_delete_fn TRITONSERVER_ErrorDelete;
void TRITONSERVER_ErrorDelete(TRITONSERVER_Error *error)
{
    free(error);
}

API capi_error_code_string_fn TRITONSERVER_ErrorCodeString;
const char *TRITONSERVER_ErrorCodeString(TRITONSERVER_Error *error)
{
    switch (error->code) {
    case TRITONSERVER_ERROR_UNKNOWN:
        return "Unknown";
    case TRITONSERVER_ERROR_INTERNAL:
        return "Internal";
    case TRITONSERVER_ERROR_NOT_FOUND:
        return "Not found";
    case TRITONSERVER_ERROR_INVALID_ARG:
        return "Invalid argument";
    case TRITONSERVER_ERROR_UNAVAILABLE:
        return "Unavailable";
    case TRITONSERVER_ERROR_UNSUPPORTED:
        return "Unsupported";
    case TRITONSERVER_ERROR_ALREADY_EXISTS:
        return "Already exists";
    case TRITONSERVER_ERROR_CANCELLED:
        return "Cancelled";
    }
    return "<invalid code>";
}

API capi_error_message_fn TRITONSERVER_ErrorMessage;
const char *TRITONSERVER_ErrorMessage(TRITONSERVER_Error *error)
{
    return error->msg;
}

/* ---- 3.2 server options ---------------------------------------------------- */

API capi_options_new_fn TRITONSERVER_ServerOptionsNew;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsNew(TRITONSERVER_ServerOptions **options)
{
    record("ServerOptionsNew");
    *options = calloc(1, sizeof(**options));
    if (!*options)
        abort();
    return NULL;
}

static TRITONSERVER_Error *set_str(char **field, const char *value, const char *what)
{
    record(what);
    if (!value)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "%s: NULL value", what);
    free(*field);
    *field = dup_str(value);
    return NULL;
}

API capi_options_str_fn TRITONSERVER_ServerOptionsSetModelRepositoryPath;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetModelRepositoryPath(TRITONSERVER_ServerOptions *o,
                                                                     const char *value)
{
    return set_str(&o->model_repo, value, "ServerOptionsSetModelRepositoryPath");
}

API capi_options_str_fn TRITONSERVER_ServerOptionsSetBackendDirectory;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetBackendDirectory(TRITONSERVER_ServerOptions *o,
                                                                  const char *value)
{
    return set_str(&o->backend_dir, value, "ServerOptionsSetBackendDirectory");
}

API capi_options_str_fn TRITONSERVER_ServerOptionsSetRepoAgentDirectory;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetRepoAgentDirectory(TRITONSERVER_ServerOptions *o,
                                                                    const char *value)
{
    return set_str(&o->repoagent_dir, value, "ServerOptionsSetRepoAgentDirectory");
}

API capi_options_pool_fn TRITONSERVER_ServerOptionsSetCudaMemoryPoolByteSize;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetCudaMemoryPoolByteSize(
    TRITONSERVER_ServerOptions *o, int gpu_device, uint64_t size)
{
    record("ServerOptionsSetCudaMemoryPoolByteSize");
    if (gpu_device != 0)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "no GPU %d in the fake server",
                         gpu_device);
    o->cuda_pool = size;
    return NULL;
}

API capi_options_int_fn TRITONSERVER_ServerOptionsSetLogVerbose;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetLogVerbose(TRITONSERVER_ServerOptions *o,
                                                            int level)
{
    record(level ? "ServerOptionsSetLogVerbose(1)" : "ServerOptionsSetLogVerbose(0)");
    o->log_verbose = level;
    return NULL;
}

API capi_options_bool_fn TRITONSERVER_ServerOptionsSetLogInfo;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetLogInfo(TRITONSERVER_ServerOptions *o, bool value)
{
    record(value ? "ServerOptionsSetLogInfo(true)" : "ServerOptionsSetLogInfo(false)");
    o->log_info = value;
    return NULL;
}

API capi_options_bool_fn TRITONSERVER_ServerOptionsSetStrictModelConfig;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetStrictModelConfig(TRITONSERVER_ServerOptions *o,
                                                                   bool value)
{
    record("ServerOptionsSetStrictModelConfig");
    o->strict = value;
    return NULL;
}

API capi_options_double_fn TRITONSERVER_ServerOptionsSetMinSupportedComputeCapability;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsSetMinSupportedComputeCapability(
    TRITONSERVER_ServerOptions *o, double value)
{
    record("ServerOptionsSetMinSupportedComputeCapability");
    o->min_cc = value;
    return NULL;
}

API capi_options_delete_fn TRITONSERVER_ServerOptionsDelete;
TRITONSERVER_Error *TRITONSERVER_ServerOptionsDelete(TRITONSERVER_ServerOptions *o)
{
    record("ServerOptionsDelete");
    if (o) {
        free(o->model_repo);
        free(o->backend_dir);
        free(o->repoagent_dir);
        free(o);
    }
    return NULL;
}

/* ---- inference on server threads --------------------------------------------- */

/* engine_infer_decoupled callback state for one request. */
struct run_state {
    TRITONSERVER_InferenceRequest *req;
    bool sent_final;
    /* release-first order: the final response waits until the request is released */
    bool defer_final;
    bool has_pending;
    TRITONSERVER_InferenceResponse *pending;
};

static pthread_mutex_t copy_lock = PTHREAD_MUTEX_INITIALIZER;

/* Builds a TRITONSERVER response from an engine response, through the caller's allocator. */
static TRITONSERVER_InferenceResponse *make_response(TRITONSERVER_InferenceRequest *req,
                                                     const struct engine_response *er)
{
    TRITONSERVER_ResponseAllocator *a = req->allocator;
    TRITONSERVER_InferenceResponse *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->allocator = a;
    if (er->status.code != ENGINE_OK) {
        r->error = error_new(map_code(er->status.code), "%s", er->status.msg);
        return r;
    }
    if (a->start_fn) {
        TRITONSERVER_Error *e = a->start_fn(a, req->alloc_userp);
        if (e) {
            r->error = e;
            return r;
        }
    }
    for (size_t i = 0; i < er->n_outputs; i++) {
        const struct engine_output *eo = &er->outputs[i];
        struct resp_output *o = &r->outputs[r->n_outputs];
        void *buf = NULL, *buf_userp = NULL;
        TRITONSERVER_MemoryType mt = TRITONSERVER_MEMORY_CPU;
        int64_t mt_id = 0;
        TRITONSERVER_Error *e = a->alloc_fn(a, eo->name, eo->byte_size, TRITONSERVER_MEMORY_CPU, 0,
                                            req->alloc_userp, &buf, &buf_userp, &mt, &mt_id);
        if (e) {
            r->error = e;
            return r;
        }
        if (eo->byte_size && !buf) {
            r->error = error_new(TRITONSERVER_ERROR_INTERNAL,
                                 "response allocator gave no buffer for output '%s'", eo->name);
            return r;
        }
        snprintf(o->name, sizeof(o->name), "%s", eo->name);
        o->dtype = (TRITONSERVER_DataType)eo->dtype;
        memcpy(o->shape, eo->shape, sizeof(o->shape));
        o->rank = eo->rank;
        o->base = buf;
        o->size = eo->byte_size;
        o->mt = mt;
        o->mt_id = mt_id;
        o->buffer_userp = buf_userp;
        r->n_outputs++;
        if (eo->byte_size && eo->data) {
            /*
             * With --shared-memory every worker's requests name the same
             * output region (spec 05 §9), so concurrent requests write the
             * same bytes. Ordering the copies keeps that by-design overlap
             * from drowning real races in ThreadSanitizer runs.
             */
            pthread_mutex_lock(&copy_lock);
            memcpy(buf, eo->data, eo->byte_size);
            pthread_mutex_unlock(&copy_lock);
        }
    }
    return r;
}

static int on_engine_response(void *arg, const struct engine_response *er)
{
    struct run_state *rs = arg;
    TRITONSERVER_InferenceRequest *req = rs->req;
    TRITONSERVER_InferenceResponse *resp = NULL;

    /* A decoupled completion without data: the final call carries no response. */
    bool empty_final = er->final && er->status.code == ENGINE_OK && er->n_outputs == 0 &&
                       engine_model_info(req->model)->decoupled;
    if (!empty_final)
        resp = make_response(req, er);
    if (er->final) {
        rs->sent_final = true;
        if (rs->defer_final) {
            rs->has_pending = true;
            rs->pending = resp;
            return 0;
        }
    }
    req->response_fn(resp, er->final ? TRITONSERVER_RESPONSE_COMPLETE_FINAL : 0,
                     req->response_userp);
    return 0;
}

/* An input given in several buffers, copied into one block (freed by the caller). */
static void *gather(const struct req_input *in, size_t *size)
{
    size_t total = 0, off = 0;
    for (size_t i = 0; i < in->n_bufs; i++)
        total += in->bufs[i].size;
    unsigned char *p = malloc(total ? total : 1);
    if (!p)
        abort();
    for (size_t i = 0; i < in->n_bufs; i++) {
        if (in->bufs[i].size)
            memcpy(p + off, in->bufs[i].base, in->bufs[i].size);
        off += in->bufs[i].size;
    }
    *size = total;
    return p;
}

/*
 * Runs one request: engine, allocator, then the response and release
 * callbacks in the order release_first says. After the release callback the
 * request belongs to the caller again (who may delete it at once), so what
 * is needed later is copied out first.
 */
static void run_request(TRITONSERVER_Server *s, TRITONSERVER_InferenceRequest *req,
                        struct engine_response *er, bool release_first)
{
    struct engine_request ereq;
    struct run_state rs = {.req = req, .defer_final = release_first};
    void *copies[ENGINE_MAX_IO] = {0};

    memset(&ereq, 0, sizeof(ereq));
    ereq.id = req->id;
    ereq.n_inputs = req->n_inputs;
    for (size_t i = 0; i < req->n_inputs; i++) {
        const struct req_input *in = &req->inputs[i];
        struct engine_input *ei = &ereq.inputs[i];
        ei->name = in->name;
        ei->dtype = (enum engine_dtype)in->dtype;
        memcpy(ei->shape, in->shape, sizeof(ei->shape));
        ei->rank = (size_t)in->rank;
        if (in->n_bufs == 1) {
            ei->data = in->bufs[0].base;
            ei->byte_size = in->bufs[0].size;
        } else {
            copies[i] = gather(in, &ei->byte_size);
            ei->data = copies[i];
        }
    }
    ereq.n_outputs = req->n_outputs;
    for (size_t i = 0; i < req->n_outputs; i++)
        ereq.outputs[i].name = req->outputs[i];
    ereq.corr_id = req->corr;
    ereq.seq_start = (req->flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_START) != 0;
    ereq.seq_end = (req->flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_END) != 0;
    ereq.priority = req->priority;
    ereq.timeout_us = req->timeout_us;
    ereq.enable_empty_final_response = true;

    (void)engine_infer_decoupled(s->engine, req->model, req->version, &ereq, er,
                                 on_engine_response, &rs);
    for (size_t i = 0; i < ENGINE_MAX_IO; i++)
        free(copies[i]);

    TRITONSERVER_InferenceResponseCompleteFn_t *response_fn = req->response_fn;
    void *response_userp = req->response_userp;
    if (!rs.sent_final) { /* the engine stopped without a final response */
        rs.has_pending = true;
        rs.pending = NULL;
    }
    if (req->release_fn)
        req->release_fn(req, TRITONSERVER_REQUEST_RELEASE_ALL, req->release_userp);
    /* req may be gone from here on */
    if (rs.has_pending)
        response_fn(rs.pending, TRITONSERVER_RESPONSE_COMPLETE_FINAL, response_userp);
}

static void *server_thread(void *arg)
{
    TRITONSERVER_Server *s = arg;
    struct engine_response er;

    engine_response_init(&er);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->cond, &s->lock);
        TRITONSERVER_InferenceRequest *req = s->head;
        if (!req) { /* stopping and drained */
            pthread_mutex_unlock(&s->lock);
            break;
        }
        s->head = req->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->lock);

        /* Release before or after the final response, alternately: both are legal. */
        run_request(s, req, &er, (atomic_fetch_add(&s->completed, 1) & 1) != 0);
    }
    engine_response_release(&er);
    return NULL;
}

/* ---- 3.2 server ---------------------------------------------------------------- */

API capi_server_new_fn TRITONSERVER_ServerNew;
TRITONSERVER_Error *TRITONSERVER_ServerNew(TRITONSERVER_Server **server,
                                           TRITONSERVER_ServerOptions *o)
{
    char err[ENGINE_MSG_MAX] = "";
    record("ServerNew");
    if (!o->model_repo)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "no model repository specified");
    struct engine *e = engine_create(o->model_repo, err, sizeof(err));
    if (!e)
        return error_new(TRITONSERVER_ERROR_INTERNAL, "failed to load model repository '%s': %s",
                         o->model_repo, err);
    TRITONSERVER_Server *s = calloc(1, sizeof(*s));
    if (!s)
        abort();
    s->engine = e;
    s->model_repo = dup_str(o->model_repo);
    s->never_ready = env_on("PA_FAKE_TRITON_NOT_READY");
    const char *delay = getenv("PA_FAKE_TRITON_DELAY_MS");
    if (delay) {
        struct engine_knobs k = *engine_knobs(e);
        k.delay_min_ns = k.delay_max_ns = (uint64_t)strtoull(delay, NULL, 10) * 1000000u;
        engine_set_knobs(e, &k);
    }
    const char *nt = getenv("PA_FAKE_TRITON_THREADS");
    size_t n = nt ? (size_t)strtoul(nt, NULL, 10) : 8;
    if (n < 1)
        n = 1;
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    atomic_init(&s->completed, 0);
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&s->threads[i], NULL, server_thread, s) != 0)
            break;
        s->n_threads++;
    }
    *server = s;
    return NULL;
}

API capi_server_delete_fn TRITONSERVER_ServerDelete;
TRITONSERVER_Error *TRITONSERVER_ServerDelete(TRITONSERVER_Server *s)
{
    record("ServerDelete");
    if (!s)
        return NULL;
    /* Like Triton, requests already accepted still complete. */
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    engine_destroy(s->engine);
    free(s->model_repo);
    free(s);
    return NULL;
}

API capi_server_bool_fn TRITONSERVER_ServerIsLive;
TRITONSERVER_Error *TRITONSERVER_ServerIsLive(TRITONSERVER_Server *s, bool *live)
{
    record("ServerIsLive");
    (void)s;
    *live = true;
    return NULL;
}

API capi_server_bool_fn TRITONSERVER_ServerIsReady;
TRITONSERVER_Error *TRITONSERVER_ServerIsReady(TRITONSERVER_Server *s, bool *ready)
{
    record("ServerIsReady");
    *ready = !s->never_ready;
    return NULL;
}

API capi_server_metadata_fn TRITONSERVER_ServerMetadata;
TRITONSERVER_Error *TRITONSERVER_ServerMetadata(TRITONSERVER_Server *s, TRITONSERVER_Message **out)
{
    record("ServerMetadata");
    *out = message_from(engine_server_metadata_json(s->engine));
    return NULL;
}

static TRITONSERVER_Error *find_model(TRITONSERVER_Server *s, const char *name, int64_t version,
                                      const struct engine_model **m, int64_t *resolved)
{
    struct engine_status st;
    char buf[32];
    if (!name)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "model name is NULL");
    if (engine_find(s->engine, name, version_arg(version, buf, sizeof(buf)), m, resolved, &st))
        return error_new(map_code(st.code), "%s", st.msg);
    return NULL;
}

API capi_model_is_ready_fn TRITONSERVER_ServerModelIsReady;
TRITONSERVER_Error *TRITONSERVER_ServerModelIsReady(TRITONSERVER_Server *s, const char *name,
                                                    int64_t version, bool *ready)
{
    const struct engine_model *m;
    int64_t v;
    record("ServerModelIsReady");
    /* Triton answers "not ready" (no error) for a model it does not have. */
    TRITONSERVER_Error *e = find_model(s, name, version, &m, &v);
    *ready = e == NULL;
    free(e);
    return NULL;
}

API capi_model_message_fn TRITONSERVER_ServerModelMetadata;
TRITONSERVER_Error *TRITONSERVER_ServerModelMetadata(TRITONSERVER_Server *s, const char *name,
                                                     int64_t version, TRITONSERVER_Message **out)
{
    const struct engine_model *m;
    int64_t v;
    record("ServerModelMetadata");
    TRITONSERVER_Error *e = find_model(s, name, version, &m, &v);
    if (e)
        return e;
    *out = message_from(engine_model_metadata_json(m, version < 0 ? -1 : v));
    return NULL;
}

API capi_model_config_fn TRITONSERVER_ServerModelConfig;
TRITONSERVER_Error *TRITONSERVER_ServerModelConfig(TRITONSERVER_Server *s, const char *name,
                                                   int64_t version, uint32_t config_version,
                                                   TRITONSERVER_Message **out)
{
    const struct engine_model *m;
    int64_t v;
    record("ServerModelConfig");
    if (config_version != 1)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG,
                         "model config version %" PRIu32 " is not supported (only 1)",
                         config_version);
    TRITONSERVER_Error *e = find_model(s, name, version, &m, &v);
    if (e)
        return e;
    *out = message_from(engine_model_config_json(m));
    return NULL;
}

API capi_model_message_fn TRITONSERVER_ServerModelStatistics;
TRITONSERVER_Error *TRITONSERVER_ServerModelStatistics(TRITONSERVER_Server *s, const char *name,
                                                       int64_t version, TRITONSERVER_Message **out)
{
    struct engine_status st;
    char buf[32];
    record("ServerModelStatistics");
    bool all = !name || !name[0];
    cJSON *j = engine_stats_json(s->engine, all ? NULL : name,
                                 all ? NULL : version_arg(version, buf, sizeof(buf)), &st);
    if (!j)
        return error_new(map_code(st.code), "%s", st.msg);
    *out = message_from(j);
    return NULL;
}

API capi_unload_model_fn TRITONSERVER_ServerUnloadModel;
TRITONSERVER_Error *TRITONSERVER_ServerUnloadModel(TRITONSERVER_Server *s, const char *name)
{
    const struct engine_model *m;
    int64_t v;
    record("ServerUnloadModel");
    return find_model(s, name, -1, &m, &v);
}

API capi_infer_async_fn TRITONSERVER_ServerInferAsync;
TRITONSERVER_Error *TRITONSERVER_ServerInferAsync(TRITONSERVER_Server *s,
                                                  TRITONSERVER_InferenceRequest *req,
                                                  TRITONSERVER_InferenceTrace *trace)
{
    record("ServerInferAsync");
    (void)trace;
    if (!req->response_fn || !req->allocator)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG,
                         "inference request has no response callback");
    for (size_t i = 0; i < req->n_inputs; i++)
        if (req->inputs[i].n_bufs == 0)
            return error_new(TRITONSERVER_ERROR_INVALID_ARG,
                             "input '%s' has no data appended", req->inputs[i].name);
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        return error_new(TRITONSERVER_ERROR_UNAVAILABLE, "server is stopping");
    }
    req->next = NULL;
    if (s->tail)
        s->tail->next = req;
    else
        s->head = req;
    s->tail = req;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- 3.3 messages ----------------------------------------------------------------- */

API capi_message_json_fn TRITONSERVER_MessageSerializeToJson;
TRITONSERVER_Error *TRITONSERVER_MessageSerializeToJson(TRITONSERVER_Message *m, const char **base,
                                                        size_t *byte_size)
{
    record("MessageSerializeToJson");
    *base = m->json;
    *byte_size = m->len;
    return NULL;
}

API capi_message_delete_fn TRITONSERVER_MessageDelete;
TRITONSERVER_Error *TRITONSERVER_MessageDelete(TRITONSERVER_Message *m)
{
    record("MessageDelete");
    if (m) {
        cJSON_free(m->json);
        free(m);
    }
    return NULL;
}

/* ---- 3.4 response allocator ---------------------------------------------------------- */

API capi_allocator_new_fn TRITONSERVER_ResponseAllocatorNew;
TRITONSERVER_Error *TRITONSERVER_ResponseAllocatorNew(
    TRITONSERVER_ResponseAllocator **allocator, TRITONSERVER_ResponseAllocatorAllocFn_t *alloc_fn,
    TRITONSERVER_ResponseAllocatorReleaseFn_t *release_fn,
    TRITONSERVER_ResponseAllocatorStartFn_t *start_fn)
{
    record("ResponseAllocatorNew");
    if (!alloc_fn || !release_fn)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "allocator needs alloc and release");
    TRITONSERVER_ResponseAllocator *a = calloc(1, sizeof(*a));
    if (!a)
        abort();
    a->alloc_fn = alloc_fn;
    a->release_fn = release_fn;
    a->start_fn = start_fn;
    *allocator = a;
    return NULL;
}

API capi_allocator_delete_fn TRITONSERVER_ResponseAllocatorDelete;
TRITONSERVER_Error *TRITONSERVER_ResponseAllocatorDelete(TRITONSERVER_ResponseAllocator *a)
{
    record("ResponseAllocatorDelete");
    free(a);
    return NULL;
}

/* ---- 3.5 requests --------------------------------------------------------------------- */

API capi_request_new_fn TRITONSERVER_InferenceRequestNew;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestNew(TRITONSERVER_InferenceRequest **out,
                                                     TRITONSERVER_Server *s, const char *name,
                                                     int64_t version)
{
    const struct engine_model *m;
    int64_t v;
    record("InferenceRequestNew");
    TRITONSERVER_Error *e = find_model(s, name, version, &m, &v);
    if (e)
        return e;
    TRITONSERVER_InferenceRequest *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->server = s;
    r->model = m;
    r->version = v;
    *out = r;
    return NULL;
}

API capi_request_delete_fn TRITONSERVER_InferenceRequestDelete;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestDelete(TRITONSERVER_InferenceRequest *r)
{
    record("InferenceRequestDelete");
    free(r);
    return NULL;
}

API capi_request_str_fn TRITONSERVER_InferenceRequestSetId;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetId(TRITONSERVER_InferenceRequest *r,
                                                       const char *id)
{
    record("InferenceRequestSetId");
    snprintf(r->id, sizeof(r->id), "%s", id ? id : "");
    return NULL;
}

API capi_request_id_fn TRITONSERVER_InferenceRequestId;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestId(TRITONSERVER_InferenceRequest *r,
                                                    const char **id)
{
    record("InferenceRequestId");
    *id = r->id;
    return NULL;
}

API capi_request_u64_fn TRITONSERVER_InferenceRequestSetCorrelationId;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetCorrelationId(TRITONSERVER_InferenceRequest *r,
                                                                  uint64_t id)
{
    record("InferenceRequestSetCorrelationId");
    memset(&r->corr, 0, sizeof(r->corr));
    r->corr.u = id;
    return NULL;
}

API capi_request_str_fn TRITONSERVER_InferenceRequestSetCorrelationIdString;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetCorrelationIdString(
    TRITONSERVER_InferenceRequest *r, const char *id)
{
    record("InferenceRequestSetCorrelationIdString");
    memset(&r->corr, 0, sizeof(r->corr));
    r->corr.is_string = true;
    snprintf(r->corr.s, sizeof(r->corr.s), "%s", id ? id : "");
    return NULL;
}

API capi_request_u32_fn TRITONSERVER_InferenceRequestSetFlags;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetFlags(TRITONSERVER_InferenceRequest *r,
                                                          uint32_t flags)
{
    record("InferenceRequestSetFlags");
    r->flags = flags;
    return NULL;
}

API capi_request_u64_fn TRITONSERVER_InferenceRequestSetPriorityUInt64;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetPriorityUInt64(TRITONSERVER_InferenceRequest *r,
                                                                   uint64_t priority)
{
    record("InferenceRequestSetPriorityUInt64");
    r->priority = priority;
    return NULL;
}

API capi_request_u64_fn TRITONSERVER_InferenceRequestSetTimeoutMicroseconds;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetTimeoutMicroseconds(
    TRITONSERVER_InferenceRequest *r, uint64_t timeout_us)
{
    record("InferenceRequestSetTimeoutMicroseconds");
    r->timeout_us = timeout_us;
    return NULL;
}

static struct req_input *find_input(TRITONSERVER_InferenceRequest *r, const char *name)
{
    for (size_t i = 0; i < r->n_inputs; i++)
        if (!strcmp(r->inputs[i].name, name))
            return &r->inputs[i];
    return NULL;
}

API capi_request_add_input_fn TRITONSERVER_InferenceRequestAddInput;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestAddInput(TRITONSERVER_InferenceRequest *r,
                                                          const char *name,
                                                          TRITONSERVER_DataType datatype,
                                                          const int64_t *shape, uint64_t dim_count)
{
    record("InferenceRequestAddInput");
    if (!name || strlen(name) >= ENGINE_NAME_MAX)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "bad input name");
    if (find_input(r, name))
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "input '%s' already exists in request",
                         name);
    if (r->n_inputs == ENGINE_MAX_IO || dim_count > ENGINE_MAX_DIMS)
        return error_new(TRITONSERVER_ERROR_UNSUPPORTED, "too many inputs or dimensions");
    struct req_input *in = &r->inputs[r->n_inputs++];
    memset(in, 0, sizeof(*in));
    snprintf(in->name, sizeof(in->name), "%s", name);
    in->dtype = datatype;
    in->rank = dim_count;
    if (dim_count)
        memcpy(in->shape, shape, (size_t)dim_count * sizeof(*shape));
    return NULL;
}

API capi_request_append_fn TRITONSERVER_InferenceRequestAppendInputData;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestAppendInputData(
    TRITONSERVER_InferenceRequest *r, const char *name, const void *base, size_t byte_size,
    TRITONSERVER_MemoryType memory_type, int64_t memory_type_id)
{
    record("InferenceRequestAppendInputData");
    struct req_input *in = find_input(r, name);
    if (!in)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG,
                         "input '%s' does not exist in request", name);
    if (memory_type == TRITONSERVER_MEMORY_GPU || memory_type_id != 0)
        return error_new(TRITONSERVER_ERROR_UNSUPPORTED,
                         "the fake server reads CPU memory only");
    if (byte_size && !base)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "NULL data for input '%s'", name);
    if (in->n_bufs == sizeof(in->bufs) / sizeof(in->bufs[0]))
        return error_new(TRITONSERVER_ERROR_UNSUPPORTED, "too many buffers for input '%s'", name);
    in->bufs[in->n_bufs++] = (struct buffer_ref){.base = base, .size = byte_size};
    return NULL;
}

API capi_request_str_fn TRITONSERVER_InferenceRequestAddRequestedOutput;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestAddRequestedOutput(
    TRITONSERVER_InferenceRequest *r, const char *name)
{
    record("InferenceRequestAddRequestedOutput");
    if (!name || strlen(name) >= ENGINE_NAME_MAX || r->n_outputs == ENGINE_MAX_IO)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "bad requested output");
    snprintf(r->outputs[r->n_outputs++], ENGINE_NAME_MAX, "%s", name);
    return NULL;
}

API capi_request_release_cb_fn TRITONSERVER_InferenceRequestSetReleaseCallback;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetReleaseCallback(
    TRITONSERVER_InferenceRequest *r, TRITONSERVER_InferenceRequestReleaseFn_t *release_fn,
    void *release_userp)
{
    record("InferenceRequestSetReleaseCallback");
    r->release_fn = release_fn;
    r->release_userp = release_userp;
    return NULL;
}

API capi_request_response_cb_fn TRITONSERVER_InferenceRequestSetResponseCallback;
TRITONSERVER_Error *TRITONSERVER_InferenceRequestSetResponseCallback(
    TRITONSERVER_InferenceRequest *r, TRITONSERVER_ResponseAllocator *allocator,
    void *allocator_userp, TRITONSERVER_InferenceResponseCompleteFn_t *response_fn,
    void *response_userp)
{
    record("InferenceRequestSetResponseCallback");
    r->allocator = allocator;
    r->alloc_userp = allocator_userp;
    r->response_fn = response_fn;
    r->response_userp = response_userp;
    return NULL;
}

/* ---- 3.5 responses -------------------------------------------------------------------- */

API capi_response_error_fn TRITONSERVER_InferenceResponseError;
TRITONSERVER_Error *TRITONSERVER_InferenceResponseError(TRITONSERVER_InferenceResponse *r)
{
    record("InferenceResponseError");
    /* A fresh copy per call, as Triton does: the caller deletes it (spec 05 §3.5). */
    if (!r->error)
        return NULL;
    return error_new(r->error->code, "%s", r->error->msg);
}

API capi_response_delete_fn TRITONSERVER_InferenceResponseDelete;
TRITONSERVER_Error *TRITONSERVER_InferenceResponseDelete(TRITONSERVER_InferenceResponse *r)
{
    record("InferenceResponseDelete");
    if (!r)
        return NULL;
    for (size_t i = 0; i < r->n_outputs; i++) {
        struct resp_output *o = &r->outputs[i];
        if (o->base) { /* never for NULL buffers: the caller's release dereferences userp */
            TRITONSERVER_Error *e = r->allocator->release_fn(r->allocator, o->base,
                                                             o->buffer_userp, o->size, o->mt,
                                                             o->mt_id);
            free(e);
        }
    }
    free(r->error);
    free(r);
    return NULL;
}

API capi_response_output_count_fn TRITONSERVER_InferenceResponseOutputCount;
TRITONSERVER_Error *TRITONSERVER_InferenceResponseOutputCount(TRITONSERVER_InferenceResponse *r,
                                                              uint32_t *count)
{
    record("InferenceResponseOutputCount");
    *count = (uint32_t)r->n_outputs;
    return NULL;
}

API capi_response_output_fn TRITONSERVER_InferenceResponseOutput;
TRITONSERVER_Error *TRITONSERVER_InferenceResponseOutput(
    TRITONSERVER_InferenceResponse *r, uint32_t index, const char **name,
    TRITONSERVER_DataType *datatype, const int64_t **shape, uint64_t *dim_count,
    const void **base, size_t *byte_size, TRITONSERVER_MemoryType *memory_type,
    int64_t *memory_type_id, void **userp)
{
    record("InferenceResponseOutput");
    if (index >= r->n_outputs)
        return error_new(TRITONSERVER_ERROR_INVALID_ARG, "out of bounds index %" PRIu32, index);
    const struct resp_output *o = &r->outputs[index];
    *name = o->name;
    *datatype = o->dtype;
    *shape = o->shape;
    *dim_count = o->rank;
    *base = o->base;
    *byte_size = o->size;
    *memory_type = o->mt;
    *memory_type_id = o->mt_id;
    *userp = o->buffer_userp;
    return NULL;
}

/* ---- 3.6 type strings ----------------------------------------------------------------------- */

API capi_datatype_string_fn TRITONSERVER_DataTypeString;
const char *TRITONSERVER_DataTypeString(TRITONSERVER_DataType datatype)
{
    return engine_dtype_name((enum engine_dtype)datatype);
}

API capi_string_to_datatype_fn TRITONSERVER_StringToDataType;
TRITONSERVER_DataType TRITONSERVER_StringToDataType(const char *dtype)
{
    record("StringToDataType");
    return (TRITONSERVER_DataType)engine_dtype_parse(dtype ? dtype : "");
}

API capi_memtype_string_fn TRITONSERVER_MemoryTypeString;
const char *TRITONSERVER_MemoryTypeString(TRITONSERVER_MemoryType memtype)
{
    switch (memtype) {
    case TRITONSERVER_MEMORY_CPU:
        return "CPU";
    case TRITONSERVER_MEMORY_CPU_PINNED:
        return "CPU_PINNED";
    case TRITONSERVER_MEMORY_GPU:
        return "GPU";
    }
    return "<invalid>";
}
