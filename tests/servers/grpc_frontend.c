/*
 * gRPC front end of the reference server: inference.GRPCInferenceService on
 * the gRPC C core API.
 *
 * Shape. Two threads, each owning one completion queue registered with the
 * server. Every method is registered (grpc_server_register_method) so unary
 * requests arrive with their payload already read; each thread keeps one
 * outstanding request_registered_call per method and re-arms it as soon as a
 * call lands, so the two threads share incoming calls. Anything not
 * registered is picked up by grpc_server_request_call and answered
 * UNIMPLEMENTED.
 *
 * Model time never blocks a queue thread. Non-decoupled inference runs with
 * engine_request.defer_delay: the engine computes at once and returns the
 * time the response may leave (ready_ns); the thread encodes the reply and
 * parks it in its own timer heap, and the completion-queue wait uses the
 * earliest due time as its deadline. Decoupled models (engine callbacks
 * that sleep between responses) run on a small worker pool and push their
 * encoded responses into the stream's write queue.
 *
 * Streams (ModelStreamInfer). gRPC allows one outstanding send per call, so
 * each stream has a FIFO of encoded responses under its mutex: whoever
 * enqueues into an idle stream starts the write, and each write completion
 * starts the next. One read is always outstanding; the stream finishes with
 * status OK once the client has half-closed, every request is answered and
 * the queue is drained. Batches that only send and batches that only receive
 * may be started concurrently (grpc.h), which is what lets pool threads
 * write while the queue thread reads.
 *
 * Memory. Unary call objects are recycled through a per-thread free list;
 * the engine response scratch is per thread (queue threads) or per worker.
 * What remains per call is gRPC's own allocation, the unpacked request and
 * the packed reply, which gRPC frees with the slice.
 *
 * Shutdown: server shutdown + cancel all calls, drain the worker pool, then
 * each queue thread fires its pending timers (their calls are cancelled, so
 * sends fail fast), waits until none of its calls is alive, shuts its queue
 * down and drains it.
 *
 * Environment (main.c and engine.h belong to the server engineer, so these
 * options of the gRPC front end alone are not command-line flags):
 *  - PA_TEST_SERVER_TLS_CERT, PA_TEST_SERVER_TLS_KEY: PEM files; when both
 *    are set the port serves TLS only. PA_TEST_SERVER_TLS_CLIENT_CA (PEM)
 *    additionally requires and verifies a client certificate (mutual TLS).
 *  - PA_TEST_SERVER_GRPC_DEBUG=1: one stderr line per inference call with
 *    its metadata, and one per inference message with the compression it
 *    arrived with, so tests can see what the client really sent. Per-message
 *    decompression is left to us (GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION
 *    off) for that reason: a received byte buffer then still says how it was
 *    compressed, and bb_slurp inflates it with zlib (the byte-buffer reader
 *    of gRPC 1.51 no longer does).
 *
 * --hang (engine knob) is honoured here as in the HTTP front end: every call
 * is accepted and never answered; it only ends when the client cancels it
 * or the server stops.
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/compression.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "engine.h"
#include "grpc_handlers.h"

#define N_THREADS 2
#define N_WORKERS 8

enum tag_kind {
    T_NEW,          /* a listener got a call */
    T_UNARY_DONE,   /* reply sent (or failed) */
    T_S_READ,       /* stream: a request message (or the half-close) arrived */
    T_S_WRITE,      /* stream: one response written */
    T_S_FINISH,     /* stream: status sent */
    T_SHUTDOWN,     /* server shutdown complete */
};

struct tag {
    enum tag_kind kind;
    void *obj;
};

struct grpc_frontend;
struct fe_thread;

/* A listener and, once a call arrives, the unary call it serves. */
struct ucall {
    struct tag t_new, t_done;
    struct fe_thread *th;
    enum grpc_method m;         /* GM_COUNT: unregistered (generic) listener */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details;  /* generic listener only */
    grpc_byte_buffer *payload;
    grpc_byte_buffer *out;
    grpc_slice status_details;
    int cancelled;
    struct grpc_reply reply;
    struct ucall *next_free;
};

struct scall {
    struct tag t_read, t_write, t_finish;
    struct fe_thread *th;
    grpc_call *call;
    grpc_metadata_array md;
    grpc_byte_buffer *recv;
    pthread_mutex_t mu;
    int refs;                   /* the call lifecycle + pool jobs + parked timers */
    grpc_byte_buffer **q;       /* ring of encoded responses waiting to be written */
    size_t q_head, q_len, q_cap;
    long pending;               /* requests read and not yet fully answered */
    bool writing, md_sent, read_done, finishing;
    atomic_bool broken;         /* a read or write failed: the client is gone */
    int cancelled;
    grpc_op ops[3];             /* write ops; only one write batch is ever active */
};

struct timer {
    uint64_t due;
    struct ucall *u;            /* unary reply ... */
    struct scall *s;            /* ... or stream response */
    grpc_byte_buffer *bb;
};

struct fe_thread {
    struct grpc_frontend *fe;
    grpc_completion_queue *cq;
    pthread_t tid;
    struct engine_response resp;
    struct timer *heap;
    size_t n_heap, cap_heap;
    struct ucall *free_calls;
    atomic_long live;           /* calls and listeners bound to this queue */
    bool cq_shut;
};

struct job {
    struct scall *s;
    struct grpc_infer_in in;
    struct job *next;
};

struct grpc_frontend {
    struct engine *engine;
    grpc_server *server;
    void *methods[GM_COUNT];
    struct fe_thread th[N_THREADS];
    struct tag t_shutdown;
    atomic_bool stopping;
    atomic_bool shutdown_seen;
    /* decoupled worker pool */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    struct job *jobs_head, *jobs_tail;
    pthread_t workers[N_WORKERS];
    size_t n_workers;
    bool pool_quit;
    bool debug;                 /* PA_TEST_SERVER_GRPC_DEBUG */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *xcalloc1(size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        abort(); /* the test server has no useful way to go on */
    return p;
}

/* Inflates a gzip or deflate (zlib) message; empty on bad data. */
static grpc_slice inflate_slice(grpc_slice in, grpc_compression_algorithm alg)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 16 + MAX_WBITS: gzip wrapper; MAX_WBITS: zlib wrapper (gRPC "deflate") */
    if (inflateInit2(&z, alg == GRPC_COMPRESS_GZIP ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK)
        return grpc_empty_slice();
    size_t cap = 4 * GRPC_SLICE_LENGTH(in) + 256, len = 0;
    uint8_t *out = xcalloc1(cap);
    z.next_in = GRPC_SLICE_START_PTR(in);
    z.avail_in = (uInt)GRPC_SLICE_LENGTH(in);
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (len == cap) {
            out = realloc(out, cap *= 2);
            if (!out)
                abort();
        }
        z.next_out = out + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_out == 0) /* only needs more room */
            rc = Z_OK;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return grpc_empty_slice();
    }
    return grpc_slice_new(out, len, free);
}

/*
 * Contiguous copy (or reference) of a received message, inflated when it
 * arrived compressed (we turned gRPC's own decompression off, see the top);
 * empty on bad data.
 */
static grpc_slice bb_slurp(grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader r;
    if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
        return grpc_empty_slice();
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression != GRPC_COMPRESS_NONE) {
        grpc_slice plain = inflate_slice(s, bb->data.raw.compression);
        grpc_slice_unref(s);
        return plain;
    }
    return s;
}

/* Wraps a malloc'ed body in a byte buffer; gRPC frees the body. */
static grpc_byte_buffer *bb_take(uint8_t *body, size_t len)
{
    grpc_slice s = grpc_slice_new(body, len, free);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/* ------------------------------------------------------------------- debug */

static const char *method_name(enum grpc_method m)
{
    static const char prefix[] = "/inference.GRPCInferenceService/";
    return m < GM_COUNT ? grpc_method_path[m] + sizeof(prefix) - 1 : "<unregistered>";
}

static bool is_infer(enum grpc_method m)
{
    return m == GM_MODEL_INFER || m == GM_MODEL_STREAM_INFER;
}

/* "key=value; ..." of the application metadata a call arrived with. */
static void format_metadata(const grpc_metadata_array *md, char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < md->count && off + 1 < n; i++) {
        const grpc_slice *k = &md->metadata[i].key, *v = &md->metadata[i].value;
        int kl = (int)GRPC_SLICE_LENGTH(*k), vl = (int)GRPC_SLICE_LENGTH(*v);
        bool binary = kl > 4 && memcmp(GRPC_SLICE_START_PTR(*k) + kl - 4, "-bin", 4) == 0;
        int w = snprintf(out + off, n - off, "%s%.*s=%.*s", i ? "; " : "", kl,
                         (const char *)GRPC_SLICE_START_PTR(*k), binary ? 8 : vl,
                         binary ? "<binary>" : (const char *)GRPC_SLICE_START_PTR(*v));
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static void debug_call(const struct grpc_frontend *fe, enum grpc_method m,
                       const grpc_metadata_array *md)
{
    if (!fe->debug || !is_infer(m))
        return;
    char buf[1024];
    format_metadata(md, buf, sizeof(buf));
    fprintf(stderr, "grpc-debug: call %s metadata: %s\n", method_name(m), buf);
}

static void debug_message(const struct grpc_frontend *fe, enum grpc_method m,
                          const grpc_byte_buffer *bb)
{
    if (!fe->debug || !bb)
        return;
    const char *alg = "unknown";
    if (bb->type == GRPC_BB_RAW)
        grpc_compression_algorithm_name(bb->data.raw.compression, &alg);
    fprintf(stderr, "grpc-debug: message %s compression=%s\n", method_name(m), alg);
}

/* ------------------------------------------------------------------ timers */

static void heap_push(struct fe_thread *th, struct timer t)
{
    if (th->n_heap == th->cap_heap) {
        th->cap_heap = th->cap_heap ? th->cap_heap * 2 : 64;
        th->heap = realloc(th->heap, th->cap_heap * sizeof(*th->heap));
        if (!th->heap)
            abort();
    }
    size_t i = th->n_heap++;
    while (i > 0 && th->heap[(i - 1) / 2].due > t.due) {
        th->heap[i] = th->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    th->heap[i] = t;
}

static struct timer heap_pop(struct fe_thread *th)
{
    struct timer top = th->heap[0];
    struct timer last = th->heap[--th->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= th->n_heap)
            break;
        if (c + 1 < th->n_heap && th->heap[c + 1].due < th->heap[c].due)
            c++;
        if (th->heap[c].due >= last.due)
            break;
        th->heap[i] = th->heap[c];
        i = c;
    }
    if (th->n_heap)
        th->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------- unary calls */

static void arm(struct fe_thread *th, enum grpc_method m);

static void ucall_recycle(struct ucall *u)
{
    struct fe_thread *th = u->th;
    grpc_metadata_array_destroy(&u->md);
    if (u->m == GM_COUNT)
        grpc_call_details_destroy(&u->details);
    if (u->payload)
        grpc_byte_buffer_destroy(u->payload);
    if (u->out)
        grpc_byte_buffer_destroy(u->out);
    grpc_slice_unref(u->status_details);
    if (u->call)
        grpc_call_unref(u->call);
    free(u->reply.body);
    memset(u, 0, sizeof(*u));
    u->next_free = th->free_calls;
    th->free_calls = u;
    atomic_fetch_sub(&th->live, 1);
}

static void arm(struct fe_thread *th, enum grpc_method m)
{
    struct ucall *u = th->free_calls;
    if (u)
        th->free_calls = u->next_free;
    else
        u = xcalloc1(sizeof(*u));
    memset(u, 0, sizeof(*u));
    u->th = th;
    u->m = m;
    u->t_new = (struct tag){T_NEW, u};
    u->t_done = (struct tag){T_UNARY_DONE, u};
    u->status_details = grpc_empty_slice();
    grpc_metadata_array_init(&u->md);
    atomic_fetch_add(&th->live, 1);
    grpc_call_error rc;
    if (m == GM_COUNT) {
        grpc_call_details_init(&u->details);
        rc = grpc_server_request_call(th->fe->server, &u->call, &u->details, &u->md, th->cq,
                                      th->cq, &u->t_new);
    } else {
        rc = grpc_server_request_registered_call(
            th->fe->server, th->fe->methods[m], &u->call, &u->deadline, &u->md,
            m == GM_MODEL_STREAM_INFER ? NULL : &u->payload, th->cq, th->cq, &u->t_new);
    }
    if (rc != GRPC_CALL_OK) {
        fprintf(stderr, "pa-test-server: grpc: cannot request a call: %s\n",
                grpc_call_error_to_string(rc));
        ucall_recycle(u);
    }
}

/* Sends u->reply (status + message, or the packed body). */
static void unary_send(struct ucall *u)
{
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (u->reply.status == GS_OK) {
        u->out = bb_take(u->reply.body, u->reply.len);
        u->reply.body = NULL;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = u->out;
    }
    u->status_details = grpc_slice_from_copied_string(u->reply.status == GS_OK ? ""
                                                                             : u->reply.msg);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)u->reply.status;
    ops[n++].data.send_status_from_server.status_details = &u->status_details;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &u->cancelled;
    if (grpc_call_start_batch(u->call, ops, n, &u->t_done, NULL) != GRPC_CALL_OK)
        ucall_recycle(u);
}

static void reply_error(struct grpc_reply *r, int status, const char *msg)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
    r->status = status;
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

/* ModelInfer: returns the time the reply may be sent (0 = now). */
static uint64_t unary_infer(struct fe_thread *th, struct ucall *u, const uint8_t *data,
                            size_t len)
{
    struct engine *e = th->fe->engine;
    struct grpc_infer_in in;
    struct engine_status st;
    uint64_t ready = 0;
    memset(&u->reply, 0, sizeof(u->reply));
    if (grpc_infer_decode(e, data, len, &in, &st) != ENGINE_OK) {
        reply_error(&u->reply, engine_code_grpc(st.code), st.msg);
    } else if (in.decoupled) {
        reply_error(&u->reply, GS_UNIMPLEMENTED,
                    "ModelInfer RPC doesn't support models with decoupled transaction policy");
    } else {
        in.req.defer_delay = true;
        in.req.arrival_ns = 0;
        struct engine_response *resp = &th->resp;
        if (engine_infer(e, in.model, in.version, &in.req, resp) != ENGINE_OK) {
            reply_error(&u->reply, engine_code_grpc(resp->status.code), resp->status.msg);
        } else if (resp->drop_connection) {
            reply_error(&u->reply, GS_UNAVAILABLE, "Socket closed");
        } else {
            u->reply.status = GS_OK;
            u->reply.body = grpc_infer_encode(&in, resp, false, true, NULL, &u->reply.len);
        }
        ready = resp->ready_ns;
    }
    grpc_infer_in_release(&in);
    return ready;
}

/* --hang: never answer; the call ends when the client cancels or we stop. */
static void hang_call(struct ucall *u)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &u->cancelled;
    if (grpc_call_start_batch(u->call, &op, 1, &u->t_done, NULL) != GRPC_CALL_OK)
        ucall_recycle(u);
}

static void unary_start(struct fe_thread *th, struct ucall *u)
{
    if (u->m == GM_COUNT) {
        memset(&u->reply, 0, sizeof(u->reply));
        reply_error(&u->reply, GS_UNIMPLEMENTED, "");
        unary_send(u);
        return;
    }
    if (is_infer(u->m))
        debug_message(th->fe, u->m, u->payload);
    grpc_slice in = bb_slurp(u->payload);
    const uint8_t *data = GRPC_SLICE_START_PTR(in);
    size_t len = GRPC_SLICE_LENGTH(in);
    uint64_t ready = 0;
    if (u->m == GM_MODEL_INFER)
        ready = unary_infer(th, u, data, len);
    else
        grpc_handle_control(th->fe->engine, u->m, data, len, &u->reply);
    grpc_slice_unref(in);
    if (ready > now_ns())
        heap_push(th, (struct timer){.due = ready, .u = u});
    else
        unary_send(u);
}

/* ----------------------------------------------------------------- streams */

static void scall_unref(struct scall *s)
{
    pthread_mutex_lock(&s->mu);
    int left = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (left)
        return;
    struct fe_thread *th = s->th;
    for (size_t i = 0; i < s->q_len; i++)
        grpc_byte_buffer_destroy(s->q[(s->q_head + i) % s->q_cap]);
    free(s->q);
    if (s->recv)
        grpc_byte_buffer_destroy(s->recv);
    grpc_metadata_array_destroy(&s->md);
    grpc_call_unref(s->call);
    pthread_mutex_destroy(&s->mu);
    free(s);
    atomic_fetch_sub(&th->live, 1);
}

/* Called with s->mu held. */
static void stream_write_head(struct scall *s)
{
    size_t n = 0;
    memset(s->ops, 0, sizeof(s->ops));
    if (!s->md_sent) {
        s->ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        s->md_sent = true;
    }
    s->ops[n].op = GRPC_OP_SEND_MESSAGE;
    s->ops[n++].data.send_message.send_message = s->q[s->q_head];
    s->writing = true;
    if (grpc_call_start_batch(s->call, s->ops, n, &s->t_write, NULL) != GRPC_CALL_OK) {
        /* Cannot happen with one write at a time; drop the stream's output. */
        s->writing = false;
        atomic_store(&s->broken, true);
    }
}

/* Called with s->mu held: ends the call once everything is answered. */
static void stream_maybe_finish(struct scall *s)
{
    if (!s->read_done || s->pending || s->writing || s->q_len || s->finishing)
        return;
    grpc_op ops[3];
    size_t n = 0;
    static grpc_slice empty; /* zero-length, never referenced */
    memset(ops, 0, sizeof(ops));
    if (!s->md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        s->md_sent = true;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = GRPC_STATUS_OK;
    ops[n++].data.send_status_from_server.status_details = &empty;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &s->cancelled;
    s->finishing = true;
    if (grpc_call_start_batch(s->call, ops, n, &s->t_finish, NULL) != GRPC_CALL_OK)
        s->finishing = false;
}

/* Queues one encoded response; done: it completes a request. Any thread. */
static void stream_deliver(struct scall *s, grpc_byte_buffer *bb, bool done)
{
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->broken)) {
        grpc_byte_buffer_destroy(bb);
    } else {
        if (s->q_len == s->q_cap) {
            size_t cap = s->q_cap ? s->q_cap * 2 : 16;
            grpc_byte_buffer **q = malloc(cap * sizeof(*q));
            if (!q)
                abort();
            for (size_t i = 0; i < s->q_len; i++)
                q[i] = s->q[(s->q_head + i) % s->q_cap];
            free(s->q);
            s->q = q;
            s->q_cap = cap;
            s->q_head = 0;
        }
        s->q[(s->q_head + s->q_len) % s->q_cap] = bb;
        s->q_len++;
        if (!s->writing)
            stream_write_head(s);
    }
    if (done)
        s->pending--;
    stream_maybe_finish(s);
    pthread_mutex_unlock(&s->mu);
}

static void stream_on_write(struct scall *s, bool ok)
{
    pthread_mutex_lock(&s->mu);
    if (!ok)
        atomic_store(&s->broken, true);
    grpc_byte_buffer_destroy(s->q[s->q_head]);
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
    s->writing = false;
    if (atomic_load(&s->broken)) {
        while (s->q_len) {
            grpc_byte_buffer_destroy(s->q[s->q_head]);
            s->q_head = (s->q_head + 1) % s->q_cap;
            s->q_len--;
        }
    } else if (s->q_len) {
        stream_write_head(s);
    }
    stream_maybe_finish(s);
    pthread_mutex_unlock(&s->mu);
}

static void stream_read(struct scall *s)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &s->recv;
    if (grpc_call_start_batch(s->call, &op, 1, &s->t_read, NULL) != GRPC_CALL_OK) {
        pthread_mutex_lock(&s->mu);
        s->read_done = true;
        stream_maybe_finish(s);
        pthread_mutex_unlock(&s->mu);
    }
}

static void pool_submit(struct grpc_frontend *fe, struct job *j);

static void stream_request(struct fe_thread *th, struct scall *s, const uint8_t *data, size_t len)
{
    struct engine *e = th->fe->engine;
    struct job *j = xcalloc1(sizeof(*j));
    struct engine_status st;
    size_t n;
    pthread_mutex_lock(&s->mu);
    s->pending++;
    pthread_mutex_unlock(&s->mu);

    if (grpc_infer_decode(e, data, len, &j->in, &st) != ENGINE_OK) {
        uint8_t *body = grpc_infer_encode(&j->in, NULL, true, true, st.msg, &n);
        stream_deliver(s, bb_take(body, n), true);
    } else if (j->in.decoupled) {
        pthread_mutex_lock(&s->mu);
        s->refs++;
        pthread_mutex_unlock(&s->mu);
        j->s = s;
        pool_submit(th->fe, j);
        return;
    } else {
        struct engine_response *resp = &th->resp;
        j->in.req.defer_delay = true;
        int rc = engine_infer(e, j->in.model, j->in.version, &j->in.req, resp);
        if (resp->drop_connection) {
            grpc_call_cancel_with_status(s->call, GRPC_STATUS_UNAVAILABLE, "Socket closed", NULL);
            atomic_store(&s->broken, true);
        }
        uint8_t *body = grpc_infer_encode(&j->in, resp, true, true,
                                          rc == ENGINE_OK ? NULL : resp->status.msg, &n);
        grpc_byte_buffer *bb = bb_take(body, n);
        if (resp->ready_ns > now_ns()) {
            pthread_mutex_lock(&s->mu);
            s->refs++;
            pthread_mutex_unlock(&s->mu);
            heap_push(th, (struct timer){.due = resp->ready_ns, .s = s, .bb = bb});
        } else {
            stream_deliver(s, bb, true);
        }
    }
    grpc_infer_in_release(&j->in);
    free(j);
}

static void stream_on_read(struct fe_thread *th, struct scall *s, bool ok)
{
    grpc_byte_buffer *bb = s->recv;
    s->recv = NULL;
    if (!ok || !bb) {
        if (!ok)
            atomic_store(&s->broken, true);
        pthread_mutex_lock(&s->mu);
        s->read_done = true;
        stream_maybe_finish(s);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    stream_read(s); /* keep one read outstanding while we work on this one */
    debug_message(th->fe, GM_MODEL_STREAM_INFER, bb);
    grpc_slice in = bb_slurp(bb);
    grpc_byte_buffer_destroy(bb);
    stream_request(th, s, GRPC_SLICE_START_PTR(in), GRPC_SLICE_LENGTH(in));
    grpc_slice_unref(in);
}

/* A ModelStreamInfer call arrived on listener u: take it over. */
static void stream_start(struct fe_thread *th, struct ucall *u)
{
    struct scall *s = xcalloc1(sizeof(*s));
    s->th = th;
    s->t_read = (struct tag){T_S_READ, s};
    s->t_write = (struct tag){T_S_WRITE, s};
    s->t_finish = (struct tag){T_S_FINISH, s};
    s->call = u->call;
    s->md = u->md;
    s->refs = 1;
    pthread_mutex_init(&s->mu, NULL);
    u->call = NULL;
    grpc_metadata_array_init(&u->md);
    atomic_fetch_add(&th->live, 1);
    ucall_recycle(u);
    stream_read(s);
}

/* ------------------------------------------------------------ worker pool */

static int decoupled_cb(void *arg, const struct engine_response *resp)
{
    struct job *j = arg;
    struct scall *s = j->s;
    if (atomic_load(&s->broken) || atomic_load(&s->th->fe->stopping))
        return 1;
    size_t n;
    const char *err = resp->status.code == ENGINE_OK ? NULL : resp->status.msg;
    uint8_t *body = grpc_infer_encode(&j->in, resp, true, resp->final, err, &n);
    stream_deliver(s, bb_take(body, n), false);
    return 0;
}

static void *worker_main(void *arg)
{
    struct grpc_frontend *fe = arg;
    struct engine_response resp;
    engine_response_init(&resp);
    for (;;) {
        pthread_mutex_lock(&fe->pool_mu);
        while (!fe->jobs_head && !fe->pool_quit)
            pthread_cond_wait(&fe->pool_cv, &fe->pool_mu);
        struct job *j = fe->jobs_head;
        if (!j) {
            pthread_mutex_unlock(&fe->pool_mu);
            break;
        }
        fe->jobs_head = j->next;
        if (!fe->jobs_head)
            fe->jobs_tail = NULL;
        pthread_mutex_unlock(&fe->pool_mu);

        struct scall *s = j->s;
        if (!atomic_load(&s->broken) && !atomic_load(&fe->stopping))
            engine_infer_decoupled(fe->engine, j->in.model, j->in.version, &j->in.req, &resp,
                                   decoupled_cb, j);
        pthread_mutex_lock(&s->mu);
        s->pending--;
        stream_maybe_finish(s);
        pthread_mutex_unlock(&s->mu);
        grpc_infer_in_release(&j->in);
        free(j);
        scall_unref(s);
    }
    engine_response_release(&resp);
    return NULL;
}

static void pool_submit(struct grpc_frontend *fe, struct job *j)
{
    pthread_mutex_lock(&fe->pool_mu);
    if (fe->n_workers < N_WORKERS) { /* grow on demand: most runs never need it */
        if (pthread_create(&fe->workers[fe->n_workers], NULL, worker_main, fe) == 0)
            fe->n_workers++;
    }
    if (fe->jobs_tail)
        fe->jobs_tail->next = j;
    else
        fe->jobs_head = j;
    fe->jobs_tail = j;
    pthread_cond_signal(&fe->pool_cv);
    pthread_mutex_unlock(&fe->pool_mu);
}

/* ------------------------------------------------------------- queue loop */

/*
 * gRPC rounds completion-queue deadlines up to its timer granularity (about
 * a millisecond), which would add that much to every delayed reply. The
 * queue wait therefore ends TIMER_EARLY_NS early and the last stretch is
 * slept here, precisely.
 */
#define TIMER_EARLY_NS 1500000u

static void fire_timers(struct fe_thread *th, bool all)
{
    uint64_t now = now_ns();
    if (!all && th->n_heap && th->heap[0].due > now && th->heap[0].due - now <= TIMER_EARLY_NS) {
        uint64_t wait = th->heap[0].due - now;
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        nanosleep(&ts, NULL);
        now = now_ns();
    }
    while (th->n_heap && (all || th->heap[0].due <= now)) {
        struct timer t = heap_pop(th);
        if (t.u) {
            unary_send(t.u);
        } else {
            stream_deliver(t.s, t.bb, true);
            scall_unref(t.s);
        }
    }
}

static void dispatch(struct fe_thread *th, struct tag *t, bool ok)
{
    struct grpc_frontend *fe = th->fe;
    switch (t->kind) {
    case T_NEW: {
        struct ucall *u = t->obj;
        if (!ok) { /* server shutting down */
            ucall_recycle(u);
            return;
        }
        if (!atomic_load(&fe->stopping))
            arm(th, u->m);
        debug_call(fe, u->m, &u->md);
        if (engine_knobs(fe->engine)->hang)
            hang_call(u);
        else if (u->m == GM_MODEL_STREAM_INFER)
            stream_start(th, u);
        else
            unary_start(th, u);
        return;
    }
    case T_UNARY_DONE:
        ucall_recycle(t->obj);
        return;
    case T_S_READ:
        stream_on_read(th, t->obj, ok);
        return;
    case T_S_WRITE:
        stream_on_write(t->obj, ok);
        return;
    case T_S_FINISH:
        scall_unref(t->obj);
        return;
    case T_SHUTDOWN:
        atomic_store(&fe->shutdown_seen, true);
        return;
    }
}

static void *thread_main(void *arg)
{
    struct fe_thread *th = arg;
    struct grpc_frontend *fe = th->fe;
    for (;;) {
        bool stopping = atomic_load(&fe->stopping);
        if (stopping && atomic_load(&fe->shutdown_seen)) {
            fire_timers(th, true);
            if (!th->cq_shut && atomic_load(&th->live) == 0) {
                grpc_completion_queue_shutdown(th->cq);
                th->cq_shut = true;
            }
        }
        gpr_timespec deadline;
        if (stopping) {
            deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                    gpr_time_from_millis(20, GPR_TIMESPAN));
        } else if (th->n_heap) {
            uint64_t now = now_ns();
            uint64_t due = th->heap[0].due;
            int64_t wait = due > now + TIMER_EARLY_NS ? (int64_t)(due - now - TIMER_EARLY_NS) : 0;
            deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                    gpr_time_from_nanos(wait, GPR_TIMESPAN));
        } else {
            deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
        }
        grpc_event ev = grpc_completion_queue_next(th->cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            dispatch(th, ev.tag, ev.success != 0);
        fire_timers(th, false);
    }
    return NULL;
}

/* ------------------------------------------------------------------- hooks */

/* Whole file as a NUL-terminated string (PEM), or NULL. */
static char *slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0, n;
    char *s = xcalloc1(cap);
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len <= 1) {
            s = realloc(s, cap *= 2);
            if (!s)
                abort();
        }
    }
    fclose(f);
    s[len] = '\0';
    return s;
}

/*
 * Listening credentials: TLS when PA_TEST_SERVER_TLS_CERT and _KEY name PEM
 * files (mutual TLS with PA_TEST_SERVER_TLS_CLIENT_CA), plaintext otherwise.
 */
static grpc_server_credentials *server_creds(char *err, size_t errlen)
{
    const char *cert_path = getenv("PA_TEST_SERVER_TLS_CERT");
    const char *key_path = getenv("PA_TEST_SERVER_TLS_KEY");
    const char *ca_path = getenv("PA_TEST_SERVER_TLS_CLIENT_CA");
    if (!cert_path || !*cert_path || !key_path || !*key_path)
        return grpc_insecure_server_credentials_create();
    char *cert = slurp_file(cert_path), *key = slurp_file(key_path), *ca = NULL;
    grpc_server_credentials *creds = NULL;
    if (!cert || !key) {
        snprintf(err, errlen, "cannot read the TLS %s '%s'", cert ? "key" : "certificate",
                 cert ? key_path : cert_path);
    } else if (ca_path && *ca_path && !(ca = slurp_file(ca_path))) {
        snprintf(err, errlen, "cannot read the TLS client CA '%s'", ca_path);
    } else {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        creds = grpc_ssl_server_credentials_create_ex(
            ca, &pair, 1,
            ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
               : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            NULL);
        if (!creds)
            snprintf(err, errlen, "cannot create the TLS server credentials");
    }
    free(cert);
    free(key);
    free(ca);
    return creds;
}

int grpc_frontend_start(struct engine *e, int port, int *bound_port, struct grpc_frontend **out,
                        char *err, size_t errlen)
{
    struct grpc_frontend *fe = xcalloc1(sizeof(*fe));
    fe->engine = e;
    fe->t_shutdown = (struct tag){T_SHUTDOWN, fe};
    pthread_mutex_init(&fe->pool_mu, NULL);
    pthread_cond_init(&fe->pool_cv, NULL);
    const char *dbg = getenv("PA_TEST_SERVER_GRPC_DEBUG");
    fe->debug = dbg && *dbg && strcmp(dbg, "0") != 0;
    grpc_init();

    grpc_server_credentials *creds = server_creds(err, errlen);
    if (!creds) {
        pthread_mutex_destroy(&fe->pool_mu);
        pthread_cond_destroy(&fe->pool_cv);
        free(fe);
        grpc_shutdown();
        return -1;
    }

    /* Infer messages can be large: no receive or send limit (spec 00 §6).
     * Messages are inflated by bb_slurp, not by gRPC (see the top). */
    static char k_recv[] = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    static char k_send[] = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    static char k_decomp[] = GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION;
    grpc_arg args[3];
    memset(args, 0, sizeof(args));
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = k_recv;
    args[0].value.integer = -1;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = k_send;
    args[1].value.integer = -1;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = k_decomp;
    args[2].value.integer = 0;
    grpc_channel_args cargs = {.num_args = 3, .args = args};
    fe->server = grpc_server_create(&cargs, NULL);
    for (int m = 0; m < GM_COUNT; m++) {
        fe->methods[m] = grpc_server_register_method(
            fe->server, grpc_method_path[m], NULL,
            m == GM_MODEL_STREAM_INFER ? GRPC_SRM_PAYLOAD_NONE
                                       : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
            0);
    }
    for (size_t i = 0; i < N_THREADS; i++) {
        fe->th[i].fe = fe;
        fe->th[i].cq = grpc_completion_queue_create_for_next(NULL);
        engine_response_init(&fe->th[i].resp);
        grpc_server_register_completion_queue(fe->server, fe->th[i].cq, NULL);
    }
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    int bound = grpc_server_add_http2_port(fe->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (bound == 0) {
        snprintf(err, errlen, "cannot listen for gRPC on %s", addr);
        /* Never started: shutdown still has to be notified before destroy. */
        grpc_server_shutdown_and_notify(fe->server, fe->th[0].cq, &fe->t_shutdown);
        grpc_completion_queue_next(fe->th[0].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        grpc_server_destroy(fe->server);
        for (size_t i = 0; i < N_THREADS; i++) {
            grpc_completion_queue_shutdown(fe->th[i].cq);
            while (grpc_completion_queue_next(fe->th[i].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
                                              NULL)
                       .type != GRPC_QUEUE_SHUTDOWN)
                ;
            grpc_completion_queue_destroy(fe->th[i].cq);
            engine_response_release(&fe->th[i].resp);
        }
        pthread_mutex_destroy(&fe->pool_mu);
        pthread_cond_destroy(&fe->pool_cv);
        free(fe);
        grpc_shutdown();
        return -1;
    }
    grpc_server_start(fe->server);
    for (size_t i = 0; i < N_THREADS; i++) {
        for (int m = 0; m <= GM_COUNT; m++)
            arm(&fe->th[i], (enum grpc_method)m);
    }
    for (size_t i = 0; i < N_THREADS; i++) {
        if (pthread_create(&fe->th[i].tid, NULL, thread_main, &fe->th[i]) != 0) {
            snprintf(err, errlen, "cannot start a gRPC thread");
            abort(); /* half-started threads cannot be unwound cleanly */
        }
    }
    *bound_port = bound;
    *out = fe;
    return 0;
}

void grpc_frontend_stop(struct grpc_frontend *fe)
{
    if (!fe)
        return;
    atomic_store(&fe->stopping, true);
    grpc_server_shutdown_and_notify(fe->server, fe->th[0].cq, &fe->t_shutdown);
    grpc_server_cancel_all_calls(fe->server);

    pthread_mutex_lock(&fe->pool_mu);
    fe->pool_quit = true;
    pthread_cond_broadcast(&fe->pool_cv);
    pthread_mutex_unlock(&fe->pool_mu);
    for (size_t i = 0; i < fe->n_workers; i++)
        pthread_join(fe->workers[i], NULL);

    for (size_t i = 0; i < N_THREADS; i++)
        pthread_join(fe->th[i].tid, NULL);
    grpc_server_destroy(fe->server);
    for (size_t i = 0; i < N_THREADS; i++) {
        struct fe_thread *th = &fe->th[i];
        grpc_completion_queue_destroy(th->cq);
        engine_response_release(&th->resp);
        free(th->heap);
        while (th->free_calls) {
            struct ucall *u = th->free_calls;
            th->free_calls = u->next_free;
            free(u);
        }
    }
    pthread_mutex_destroy(&fe->pool_mu);
    pthread_cond_destroy(&fe->pool_cv);
    free(fe);
    grpc_shutdown();
}
