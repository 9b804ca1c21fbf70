/*
 * Triton C API backend (--service-kind triton_c_api): perf_analyzer and the
 * server in one process, through libtritonserver.so loaded at run time
 * (spec 06 §5, protocols/05-triton-c-api.md).
 *
 * Loading, start-up, the loaded model, the control plane and the
 * shared-memory registry are process-wide and live in capi_loader.c; this
 * file is the per-client part: the request path and its callbacks.
 *
 * The C API is asynchronous: ServerInferAsync returns at once and the
 * server calls back on its own threads (alloc_fn for each output, then the
 * response callback; the release callback when it is done with the
 * request). Our contract wants completions delivered on the owning worker
 * thread inside poll(), so the callbacks only record what happened in the
 * request's slot and queue the slot under the client's mutex; poll() takes
 * the whole queue and calls on_response there. The slots are a per-client
 * pool that only grows, each with its own output buffers that alloc_fn
 * reuses (grown only when an output is larger than ever before), so after
 * warm-up a request allocates nothing on our side.
 *
 * A slot is free again only when three things have happened: the owner has
 * delivered its first response (or its empty final one), the server has
 * sent the FINAL flag and the server has released the request. For a
 * non-decoupled model these coincide; a decoupled model may still be
 * sending responses after the first, which the original ignores (it only
 * waits for the first non-NULL response) and so do we: later responses are
 * deleted in the callback, their outputs in heap memory so they never touch
 * the buffers the owner may be reading.
 *
 * Timing (spec 06 §5): send = issuing the request (setting the response
 * callback through ServerInferAsync); receive = 0; total = submit() to the
 * arrival of the response in the callback.
 */
#include "client/capi.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/options.h"
#include "client/capi_loader.h"
#include "core/clock.h"
#include "core/xalloc.h"

#include "core/banned.h"

/* Outputs a prepared request may name (each slot keeps one buffer per output). */
#define MAX_OUTPUTS 32
/* How long close() waits for the server to give back requests in flight. */
#define CLOSE_WAIT_NS (10 * NS_PER_S)
#define NOT_READY_INFER "Server is not ready and/or requested model is not loaded"

/* buffer_userp tags: where an output buffer came from (only the heap is freed). */
static char tag_heap, tag_arena, tag_shm;

struct capi_in {
    const char *name;           /* borrowed from the description */
    TRITONSERVER_DataType dtype;
    int64_t shape[PA_MAX_DIMS];
    uint64_t rank;
    const void *data;           /* payload or registered region address */
    size_t byte_size;
};

struct capi_out {
    const char *name;           /* borrowed from the description */
    void *shm_base;             /* registered region address; NULL: not in shared memory */
    uint64_t shm_size;
};

struct pa_prepared {
    char *model_name;
    int64_t version;
    struct capi_in *in;
    size_t n_in;
    struct capi_out *out;
    size_t n_out;
    /*
     * (ctx->lock) Requests still held by the server. A decoupled model may
     * still be answering after the owner has its first response and freed
     * the prepared request; the free then waits for the last of them.
     */
    size_t users;
    bool orphaned;
};

struct capi_ctx;

/* One request in flight. Fields marked (lock) are under ctx->lock. */
struct slot {
    struct capi_ctx *ctx;
    struct pa_prepared *p;
    void *tag;
    uint64_t start_ns;
    uint64_t send_ns;

    TRITONSERVER_InferenceResponse *resp; /* (lock) first response, NULL for an empty final */
    uint64_t arrival_ns;                  /* (lock) */
    bool got_first;                       /* (lock) queued for delivery */
    bool delivered;                       /* (lock) the owner is done with it */
    bool final_seen;                      /* (lock) */
    bool released;                        /* (lock) */
    /* Read by alloc_fn: set once the first response is in, so later ones use the heap. */
    atomic_bool first_done;
    struct slot *next;                    /* (lock) ready queue or free list */
    struct slot *all_next;                /* every slot of the client, for close() */

    /* Written by alloc_fn on a server thread, only before the first response. */
    void *buf[MAX_OUTPUTS];
    size_t cap[MAX_OUTPUTS];
};

struct capi_ctx {
    struct capi_loader *loader;
    const struct capi_fns *fn;
    TRITONSERVER_Server *server;
    TRITONSERVER_ResponseAllocator *alloc; /* NULL when the server never became ready */

    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a slot was queued or freed */
    struct slot *ready_head, *ready_tail;
    struct slot *free_list;
    struct slot *all;
    size_t busy;                /* (lock) slots not on the free list */

    size_t in_flight;           /* owner thread only: submitted, not yet delivered */
};

/* ---- callbacks (server threads) ------------------------------------------ */

static void enqueue(struct capi_ctx *ctx, struct slot *s)
{
    s->next = NULL;
    if (ctx->ready_tail)
        ctx->ready_tail->next = s;
    else
        ctx->ready_head = s;
    ctx->ready_tail = s;
    pthread_cond_broadcast(&ctx->cond);
}

static void prepared_destroy(struct pa_prepared *p)
{
    free(p->model_name);
    free(p->in);
    free(p->out);
    free(p);
}

/* Back to the free list once nobody refers to the slot any more (lock held). */
static void maybe_free(struct capi_ctx *ctx, struct slot *s)
{
    if (!s->delivered || !s->final_seen || !s->released)
        return;
    if (s->p && --s->p->users == 0 && s->p->orphaned)
        prepared_destroy(s->p);
    s->p = NULL;
    s->next = ctx->free_list;
    ctx->free_list = s;
    ctx->busy--;
    pthread_cond_broadcast(&ctx->cond);
}

static TRITONSERVER_Error *alloc_fn(TRITONSERVER_ResponseAllocator *allocator,
                                    const char *tensor_name, size_t byte_size,
                                    TRITONSERVER_MemoryType memory_type, int64_t memory_type_id,
                                    void *userp, void **buffer, void **buffer_userp,
                                    TRITONSERVER_MemoryType *actual_memory_type,
                                    int64_t *actual_memory_type_id)
{
    struct slot *s = userp;
    const struct pa_prepared *p = s->p;
    size_t i;

    (void)allocator;
    *actual_memory_type = memory_type;
    *actual_memory_type_id = memory_type_id;
    if (byte_size == 0) {
        /* The original's convention, which the fake relies on: no buffer, no release. */
        *buffer = NULL;
        *buffer_userp = NULL;
        return NULL;
    }
    *actual_memory_type = TRITONSERVER_MEMORY_CPU;
    *actual_memory_type_id = 0;
    if (atomic_load(&s->first_done)) {
        /* A later response of a decoupled model: the owner may be reading the slot's buffers. */
        *buffer = xmalloc(byte_size);
        *buffer_userp = &tag_heap;
        return NULL;
    }
    for (i = 0; i < p->n_out; i++)
        if (!strcmp(p->out[i].name, tensor_name))
            break;
    if (i < p->n_out && p->out[i].shm_base) {
        if (byte_size > p->out[i].shm_size) {
            char msg[PA_ERR_MSG_MAX];
            snprintf(msg, sizeof(msg),
                     "shared memory size specified with the request for output '%s' (%" PRIu64
                     " bytes) should be at least %zu bytes to hold the results",
                     tensor_name, p->out[i].shm_size, byte_size);
            return s->ctx->fn->error_new(TRITONSERVER_ERROR_INTERNAL, msg);
        }
        *buffer = p->out[i].shm_base;
        *buffer_userp = &tag_shm;
        return NULL;
    }
    if (i < p->n_out) {
        if (s->cap[i] < byte_size) {
            s->buf[i] = xrealloc(s->buf[i], byte_size);
            s->cap[i] = byte_size;
        }
        *buffer = s->buf[i];
        *buffer_userp = &tag_arena;
        return NULL;
    }
    /* An output we did not ask for (none requested means all). */
    *buffer = xmalloc(byte_size);
    *buffer_userp = &tag_heap;
    return NULL;
}

static TRITONSERVER_Error *release_fn(TRITONSERVER_ResponseAllocator *allocator, void *buffer,
                                      void *buffer_userp, size_t byte_size,
                                      TRITONSERVER_MemoryType memory_type,
                                      int64_t memory_type_id)
{
    (void)allocator;
    (void)byte_size;
    (void)memory_type;
    (void)memory_type_id;
    if (buffer_userp == &tag_heap)
        free(buffer);
    return NULL;
}

static void response_cb(TRITONSERVER_InferenceResponse *response, uint32_t flags, void *userp)
{
    struct slot *s = userp;
    struct capi_ctx *ctx = s->ctx;
    TRITONSERVER_InferenceResponse *extra = NULL;
    uint64_t now = clock_now_ns();

    pthread_mutex_lock(&ctx->lock);
    if (response) {
        if (!s->got_first) {
            s->got_first = true;
            atomic_store(&s->first_done, true);
            s->resp = response;
            s->arrival_ns = now;
            enqueue(ctx, s);
        } else {
            extra = response;
        }
    }
    if (flags & TRITONSERVER_RESPONSE_COMPLETE_FINAL) {
        s->final_seen = true;
        if (!s->got_first) { /* decoupled model that sent nothing: an empty final */
            s->got_first = true;
            atomic_store(&s->first_done, true);
            s->resp = NULL;
            s->arrival_ns = now;
            enqueue(ctx, s);
        } else {
            maybe_free(ctx, s);
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    if (extra) {
        TRITONSERVER_Error *e = ctx->fn->response_delete(extra);
        if (e)
            ctx->fn->error_delete(e);
    }
}

static void request_release_cb(TRITONSERVER_InferenceRequest *request, uint32_t flags, void *userp)
{
    struct slot *s = userp;
    struct capi_ctx *ctx = s->ctx;
    (void)flags; /* RELEASE_ALL is the only flag there is */
    TRITONSERVER_Error *e = ctx->fn->request_delete(request);
    if (e)
        ctx->fn->error_delete(e);
    pthread_mutex_lock(&ctx->lock);
    s->released = true;
    maybe_free(ctx, s);
    pthread_mutex_unlock(&ctx->lock);
}

/* ---- open / close -------------------------------------------------------- */

static int capi_open(struct pa_client *c, struct pa_err *err)
{
    const struct pa_options *o = c->opts;
    struct capi_ctx *ctx = xcalloc(1, sizeof(*ctx));
    struct capi_start start = {
        .server_dir = o->triton_server_directory,
        .model_repo = o->model_repository,
        .verbose = o->verbose >= 2,
    };
    pthread_condattr_t ca;

    pthread_mutex_init(&ctx->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ctx->cond, &ca);
    pthread_condattr_destroy(&ca);
    c->ctx = ctx;

    /*
     * r23.10 swallows a failed start-up here and only says "Model is not
     * loaded and/or server is not ready" at the first metadata call (spec 06
     * §5). We report the real reason (a missing directory or library, a
     * missing entry point, a version mismatch) where it happens, as the
     * original reports every other backend-creation failure:
     * "failed to create triton client backend: <reason>", exit 99.
     */
    int rc = capi_loader_acquire(&start, &ctx->loader, err);
    if (rc != PA_OK || !capi_loader_ready(ctx->loader)) {
        if (rc == PA_OK)
            rc = pa_errorf(err, PA_ECONN, "failed to find healthy inference server");
        capi_loader_release(ctx->loader);
        pthread_cond_destroy(&ctx->cond);
        pthread_mutex_destroy(&ctx->lock);
        free(ctx);
        c->ctx = NULL;
        return rc;
    }
    ctx->fn = &capi_loader_lib(ctx->loader)->fn;
    ctx->server = capi_loader_server(ctx->loader);
    TRITONSERVER_Error *e = ctx->fn->allocator_new(&ctx->alloc, alloc_fn, release_fn, NULL);
    if (e) {
        ctx->alloc = NULL;
        rc = capi_lib_error(capi_loader_lib(ctx->loader), e, "creating response allocator", err);
        capi_loader_release(ctx->loader);
        pthread_cond_destroy(&ctx->cond);
        pthread_mutex_destroy(&ctx->lock);
        free(ctx);
        c->ctx = NULL;
        return rc;
    }
    return PA_OK;
}

static void slot_free(struct slot *s)
{
    for (size_t i = 0; i < MAX_OUTPUTS; i++)
        free(s->buf[i]);
    free(s);
}

static void capi_close(struct pa_client *c)
{
    struct capi_ctx *ctx = c->ctx;
    if (!ctx)
        return;

    /* Requests the server still holds call back into our slots: wait for them. */
    uint64_t deadline = clock_now_ns() + CLOSE_WAIT_NS;
    bool drained = true;
    pthread_mutex_lock(&ctx->lock);
    for (;;) {
        while (ctx->ready_head) { /* undelivered responses: drop them */
            struct slot *s = ctx->ready_head;
            ctx->ready_head = s->next;
            if (!ctx->ready_head)
                ctx->ready_tail = NULL;
            if (s->resp) {
                TRITONSERVER_Error *e = ctx->fn->response_delete(s->resp);
                if (e)
                    ctx->fn->error_delete(e);
                s->resp = NULL;
            }
            s->delivered = true;
            maybe_free(ctx, s);
        }
        if (ctx->busy == 0)
            break;
        uint64_t now = clock_now_ns();
        if (now >= deadline) {
            drained = false;
            break;
        }
        struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_S),
                              .tv_nsec = (long)(deadline % NS_PER_S)};
        pthread_cond_timedwait(&ctx->cond, &ctx->lock, &ts);
    }
    pthread_mutex_unlock(&ctx->lock);

    if (!drained) {
        /*
         * The server kept requests past the deadline: their callbacks may
         * still come, so the slots and ctx are deliberately leaked rather
         * than freed under the server's feet.
         */
        capi_loader_release(ctx->loader);
        c->ctx = NULL;
        return;
    }
    if (ctx->alloc) {
        TRITONSERVER_Error *e = ctx->fn->allocator_delete(ctx->alloc);
        if (e)
            ctx->fn->error_delete(e);
    }
    for (struct slot *s = ctx->all, *n; s; s = n) {
        n = s->all_next;
        slot_free(s);
    }
    capi_loader_release(ctx->loader);
    pthread_cond_destroy(&ctx->cond);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
    c->ctx = NULL;
}

/* ---- prepare --------------------------------------------------------------- */

static void prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    struct capi_ctx *ctx = c->ctx;
    if (!p)
        return;
    if (!ctx) { /* client already closed: no request can still hold it */
        prepared_destroy(p);
        return;
    }
    pthread_mutex_lock(&ctx->lock);
    bool in_use = p->users > 0;
    p->orphaned = in_use;
    pthread_mutex_unlock(&ctx->lock);
    if (!in_use)
        prepared_destroy(p);
}

static int prepare_inputs(struct capi_ctx *ctx, const struct pa_infer_desc *d,
                          struct pa_prepared *p, struct pa_err *err)
{
    p->in = xcalloc(d->n_inputs ? d->n_inputs : 1, sizeof(*p->in));
    p->n_in = d->n_inputs;
    for (size_t i = 0; i < d->n_inputs; i++) {
        const struct pa_input *in = &d->inputs[i];
        struct capi_in *ci = &p->in[i];
        if (in->rank > PA_MAX_DIMS)
            return pa_errorf(err, PA_EINVAL, "input '%s' has too many dimensions", in->name);
        ci->name = in->name;
        ci->dtype = ctx->fn->string_to_datatype(in->datatype);
        memcpy(ci->shape, in->shape, in->rank * sizeof(*in->shape));
        ci->rank = in->rank;
        ci->byte_size = in->byte_size;
        if (in->shm_region) {
            void *base;
            uint64_t avail;
            int rc = capi_loader_shm_find(ctx->loader, in->shm_region, in->shm_offset, &base,
                                          &avail, err);
            if (rc)
                return rc;
            if (in->byte_size > avail)
                return pa_errorf(err, PA_EINVAL,
                                 "input '%s' (%zu bytes) does not fit in shared memory region "
                                 "'%s'",
                                 in->name, in->byte_size, in->shm_region);
            ci->data = base;
        } else {
            ci->data = in->data;
        }
    }
    return PA_OK;
}

static int prepare_outputs(struct capi_ctx *ctx, const struct pa_infer_desc *d,
                           struct pa_prepared *p, struct pa_err *err)
{
    if (d->n_outputs > MAX_OUTPUTS)
        return pa_errorf(err, PA_EUNSUPPORTED, "more than %d requested outputs are not supported",
                         MAX_OUTPUTS);
    p->out = xcalloc(d->n_outputs ? d->n_outputs : 1, sizeof(*p->out));
    p->n_out = d->n_outputs;
    for (size_t i = 0; i < d->n_outputs; i++) {
        const struct pa_output *o = &d->outputs[i];
        p->out[i].name = o->name;
        if (o->shm_region) {
            void *base;
            uint64_t avail;
            int rc = capi_loader_shm_find(ctx->loader, o->shm_region, o->shm_offset, &base,
                                          &avail, err);
            if (rc)
                return rc;
            p->out[i].shm_base = base;
            p->out[i].shm_size = o->shm_byte_size < avail ? o->shm_byte_size : avail;
        }
    }
    return PA_OK;
}

static int prepare(struct pa_client *c, const struct pa_infer_desc *desc, struct pa_prepared **out,
                   struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    if (!ctx->alloc)
        return pa_errorf(err, PA_ESERVER, NOT_READY_INFER);

    struct pa_prepared *p = xcalloc(1, sizeof(*p));
    int rc = capi_parse_version(desc->model_version, &p->version, err);
    if (!rc) {
        p->model_name = xstrdup(desc->model_name);
        rc = prepare_inputs(ctx, desc, p, err);
    }
    if (!rc)
        rc = prepare_outputs(ctx, desc, p, err);
    if (rc) {
        prepared_free(c, p);
        return rc;
    }
    *out = p;
    return PA_OK;
}

/* ---- submit / poll ----------------------------------------------------------- */

static struct slot *slot_get(struct capi_ctx *ctx, struct pa_prepared *p)
{
    pthread_mutex_lock(&ctx->lock);
    struct slot *s = ctx->free_list;
    if (s)
        ctx->free_list = s->next;
    ctx->busy++;
    p->users++;
    pthread_mutex_unlock(&ctx->lock);
    if (!s) { /* the pool grows only past the most requests ever in flight */
        s = xcalloc(1, sizeof(*s));
        s->ctx = ctx;
        pthread_mutex_lock(&ctx->lock);
        s->all_next = ctx->all;
        ctx->all = s;
        pthread_mutex_unlock(&ctx->lock);
    }
    s->p = p;
    s->resp = NULL;
    s->got_first = s->delivered = s->final_seen = s->released = false;
    atomic_store(&s->first_done, false);
    s->next = NULL;
    return s;
}

/* A slot the server never saw goes straight back. */
static void slot_put(struct capi_ctx *ctx, struct slot *s)
{
    pthread_mutex_lock(&ctx->lock);
    s->delivered = s->final_seen = s->released = true;
    maybe_free(ctx, s);
    pthread_mutex_unlock(&ctx->lock);
}

/* Builds the request as the original's InitializeRequest/AddInputs/AddOutputs do (05 §4.3). */
static int build_request(struct capi_ctx *ctx, struct slot *s, const struct pa_send *send,
                         TRITONSERVER_InferenceRequest *req, struct pa_err *err)
{
    const struct capi_fns *fn = ctx->fn;
    const struct capi_lib *lib = capi_loader_lib(ctx->loader);
    const struct pa_prepared *p = s->p;
    TRITONSERVER_Error *e;
    const char *id = NULL;

#define CALL(expr, what)                                                                      \
    do {                                                                                      \
        e = (expr);                                                                           \
        if (e)                                                                                \
            return capi_lib_error(lib, e, (what), err);                                       \
    } while (0)

    CALL(fn->request_set_id(req, ""), "setting ID for the request");
    if (send->sequence_id != 0 || p->n_out == 0) {
        if (send->sequence_id != 0)
            CALL(fn->request_set_corr_id(req, send->sequence_id),
                 "setting sequence ID for the request");
        uint32_t flags = (send->sequence_start ? TRITONSERVER_REQUEST_FLAG_SEQUENCE_START : 0u) |
                         (send->sequence_end ? TRITONSERVER_REQUEST_FLAG_SEQUENCE_END : 0u);
        CALL(fn->request_set_flags(req, flags), "setting inference flags for the request");
    }
    CALL(fn->request_set_release_cb(req, request_release_cb, s),
         "setting request release callback");
    for (size_t i = 0; i < p->n_in; i++) {
        const struct capi_in *in = &p->in[i];
        CALL(fn->request_add_input(req, in->name, in->dtype, in->shape, in->rank),
             "setting input for the request");
        if (in->byte_size == 0)
            CALL(fn->request_append_input(req, in->name, NULL, 0, TRITONSERVER_MEMORY_CPU, 0),
                 "appending input data with byte size zero");
        else
            CALL(fn->request_append_input(req, in->name, in->data, in->byte_size,
                                          TRITONSERVER_MEMORY_CPU, 0),
                 "appending data to tritonserver");
    }
    for (size_t i = 0; i < p->n_out; i++)
        CALL(fn->request_add_output(req, p->out[i].name), "setting output for the request");
    CALL(fn->request_id(req, &id), "Failed to get request id");
    (void)id;
#undef CALL
    return PA_OK;
}

/* Reports a request that never reached the server, on the owner thread. */
static void fail_now(struct pa_client *c, struct slot *s, const struct pa_err *e)
{
    struct pa_response r = {
        .tag = s->tag,
        .arrival_ns = clock_now_ns(),
        .final = true,
        .error = e->code ? e->code : PA_ESERVER,
        .error_msg = e->msg,
    };
    r.total_ns = r.arrival_ns - s->start_ns;
    slot_put(c->ctx, s);
    if (c->on_response)
        c->on_response(c->on_response_arg, &r);
}

static int submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                  struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    const struct capi_fns *fn = ctx->fn;
    TRITONSERVER_InferenceRequest *req = NULL;
    struct pa_err e = {0};
    TRITONSERVER_Error *te;
    (void)err;

    struct slot *s = slot_get(ctx, p);
    s->tag = send->tag;
    s->start_ns = clock_now_ns();

    te = fn->request_new(&req, ctx->server, p->model_name, p->version);
    if (te) {
        capi_lib_error(capi_loader_lib(ctx->loader), te, "creating inference request", &e);
        fail_now(c, s, &e);
        return PA_OK;
    }
    if (build_request(ctx, s, send, req, &e) != PA_OK)
        goto fail;

    uint64_t send_start = clock_now_ns();
    te = fn->request_set_response_cb(req, ctx->alloc, s, response_cb, s);
    if (te) {
        capi_lib_error(capi_loader_lib(ctx->loader), te, "setting response callback", &e);
        goto fail;
    }
    ctx->in_flight++;
    te = fn->infer_async(ctx->server, req, NULL);
    if (te) {
        ctx->in_flight--;
        capi_lib_error(capi_loader_lib(ctx->loader), te, "running inference", &e);
        goto fail;
    }
    s->send_ns = clock_now_ns() - send_start;
    return PA_OK;

fail:
    /* Not accepted by the server: the request is still ours to delete. */
    te = fn->request_delete(req);
    if (te)
        fn->error_delete(te);
    fail_now(c, s, &e);
    return PA_OK;
}

/* Hands one queued slot to on_response, then frees its response. Owner thread. */
static void deliver(struct pa_client *c, struct slot *s)
{
    struct capi_ctx *ctx = c->ctx;
    const struct capi_fns *fn = ctx->fn;
    char msg[PA_ERR_MSG_MAX];
    struct pa_response r = {
        .tag = s->tag,
        .arrival_ns = s->arrival_ns,
        .final = true,
        .null_response = s->resp == NULL,
        .send_ns = s->send_ns,
        .recv_ns = 0,
        .total_ns = s->arrival_ns - s->start_ns,
        .backend_data = s,
    };
    if (s->resp) {
        /* A fresh error object per call, ours to delete (as the original does). */
        TRITONSERVER_Error *e = fn->response_error(s->resp);
        if (e) {
            snprintf(msg, sizeof(msg), "inference response error: %s - %s",
                     fn->error_code_string(e), fn->error_message(e));
            fn->error_delete(e);
            r.error = PA_ESERVER;
            r.error_msg = msg;
        }
    }
    ctx->in_flight--;
    if (c->on_response)
        c->on_response(c->on_response_arg, &r);
    if (s->resp) {
        TRITONSERVER_Error *e = fn->response_delete(s->resp);
        if (e)
            fn->error_delete(e);
    }
    pthread_mutex_lock(&ctx->lock);
    s->resp = NULL;
    s->delivered = true;
    maybe_free(ctx, s);
    pthread_mutex_unlock(&ctx->lock);
}

static int poll_responses(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    (void)err;

    pthread_mutex_lock(&ctx->lock);
    if (!ctx->ready_head && timeout_ms != 0 && ctx->in_flight > 0) {
        if (timeout_ms < 0) {
            while (!ctx->ready_head)
                pthread_cond_wait(&ctx->cond, &ctx->lock);
        } else {
            uint64_t ms = (unsigned)timeout_ms;
            uint64_t deadline = clock_now_ns() + ms * NS_PER_MS;
            struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_S),
                                  .tv_nsec = (long)(deadline % NS_PER_S)};
            while (!ctx->ready_head)
                if (pthread_cond_timedwait(&ctx->cond, &ctx->lock, &ts) == ETIMEDOUT)
                    break;
        }
    }
    struct slot *list = ctx->ready_head;
    ctx->ready_head = ctx->ready_tail = NULL;
    pthread_mutex_unlock(&ctx->lock);

    int n = 0;
    while (list) {
        struct slot *next = list->next;
        deliver(c, list);
        list = next;
        n++;
    }
    return n;
}

static size_t in_flight(const struct pa_client *c)
{
    const struct capi_ctx *ctx = c->ctx;
    return ctx->in_flight;
}

/* ---- outputs ------------------------------------------------------------------- */

static int output(const struct pa_client *c, const struct pa_response *r, const char *name,
                  const void **data, size_t *byte_size, struct pa_err *err)
{
    const struct capi_ctx *ctx = c->ctx;
    const struct slot *s = r->backend_data;
    uint32_t count = 0;
    TRITONSERVER_Error *e;

    if (!s || !s->resp)
        return pa_errorf(err, PA_EDATA, "the response carries no outputs");
    e = ctx->fn->response_output_count(s->resp, &count);
    if (e)
        return capi_lib_error(capi_loader_lib(ctx->loader), e, "getting the output count", err);
    for (uint32_t i = 0; i < count; i++) {
        const char *oname;
        TRITONSERVER_DataType dt;
        const int64_t *shape;
        uint64_t dims;
        const void *base;
        size_t size;
        TRITONSERVER_MemoryType mt;
        int64_t mt_id;
        void *userp;
        e = ctx->fn->response_output(s->resp, i, &oname, &dt, &shape, &dims, &base, &size, &mt,
                                     &mt_id, &userp);
        if (e)
            return capi_lib_error(capi_loader_lib(ctx->loader), e, "getting an output", err);
        if (!strcmp(oname, name)) {
            *data = base;
            *byte_size = size;
            return PA_OK;
        }
    }
    return pa_errorf(err, PA_EDATA, "output '%s' is not in the response", name);
}

/* ---- control plane ----------------------------------------------------------- */

static int server_metadata(struct pa_client *c, cJSON **out, struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    return capi_loader_server_metadata(ctx->loader, out, err);
}

static int model_metadata(struct pa_client *c, const char *name, const char *version, cJSON **out,
                          struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    return capi_loader_model_metadata(ctx->loader, name, version, out, err);
}

static int model_config(struct pa_client *c, const char *name, const char *version, cJSON **out,
                        struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    return capi_loader_model_config(ctx->loader, name, version, out, err);
}

static int model_statistics(struct pa_client *c, const char *name, const char *version,
                            cJSON **out, struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    return capi_loader_model_statistics(ctx->loader, name, version, out, err);
}

static int register_system_shm(struct pa_client *c, const char *region, const char *key,
                               uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    return capi_loader_shm_register(ctx->loader, region, key, offset, byte_size, err);
}

static int unregister_system_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    struct capi_ctx *ctx = c->ctx;
    (void)err;
    capi_loader_shm_unregister(ctx->loader, region);
    return PA_OK;
}

static int register_cuda_shm(struct pa_client *c, const char *region, const void *raw_handle,
                             size_t handle_size, int64_t device_id, uint64_t byte_size,
                             struct pa_err *err)
{
    (void)c;
    (void)raw_handle;
    (void)handle_size;
    (void)device_id;
    (void)byte_size;
    return pa_errorf(err, PA_EUNSUPPORTED,
                     "CUDA shared memory (region '%s') is not supported yet by the triton_c_api "
                     "service kind",
                     region);
}

/* Nothing can have been registered (see above), so there is nothing to remove. */
static int unregister_cuda_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    (void)c;
    (void)region;
    (void)err;
    return PA_OK;
}

static const struct pa_client_ops capi_ops = {
    .open = capi_open,
    .close = capi_close,
    .prepare = prepare,
    .prepared_free = prepared_free,
    .submit = submit,
    .poll = poll_responses,
    .in_flight = in_flight,
    .server_metadata = server_metadata,
    .model_metadata = model_metadata,
    .model_config = model_config,
    .model_statistics = model_statistics,
    .trace_settings = NULL, /* trace options are ignored with the C API (spec 01 §6) */
    .register_system_shm = register_system_shm,
    .register_cuda_shm = register_cuda_shm,
    .unregister_system_shm = unregister_system_shm,
    .unregister_cuda_shm = unregister_cuda_shm,
    .output = output,
};

const struct pa_backend pa_backend_triton_c_api = {
    .name = "triton_c_api",
    .kind = "TRITON_C_API",
    .flags = PA_BACKEND_SYSTEM_SHM | PA_BACKEND_SERVER_STATS | PA_BACKEND_MODEL_METADATA,
    .ops = &capi_ops,
};
