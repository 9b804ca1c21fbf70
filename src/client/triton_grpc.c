/*
 * Triton over gRPC (inference.GRPCInferenceService), on the gRPC C core API.
 *
 * One client instance = one channel, one completion queue for the data plane
 * (driven only by poll(), on the owning thread) and one pluck queue for the
 * blocking control-plane calls. Control-plane answers are unpacked with
 * protobuf-c and turned into the KServe JSON the HTTP backend returns
 * (grpc_json.c), so model and statistics parsing is shared.
 *
 * Data plane. prepare() encodes the constant part of a ModelInferRequest
 * once as segments that reference the caller's tensor data (grpc_wire.c).
 * submit() wraps those segments as static slices, adds one more slice with
 * the per-send fields (request id, sequence parameters) encoded into the
 * request slot, and hands the lot to gRPC: nothing is copied or allocated
 * by us beyond the byte buffer gRPC itself needs. This works because a
 * protobuf parser takes fields in any order and merges map entries, so the
 * appended `id` and `parameters` entries complete the message.
 *
 * Every request occupies a slot. The request id sent to the server is the
 * slot's index plus a generation counter, so a streamed response finds its
 * slot in O(1) and a stale id is recognised. Slots are recycled through a
 * free list; new ones are only made while the number in flight grows.
 *
 * Unary mode (sync and async) starts one ModelInfer call per request with
 * all six ops in one batch. Streaming mode opens one ModelStreamInfer call
 * per stream index on first use; requests are written one at a time (gRPC
 * allows one outstanding write per call) from a FIFO, one read is always
 * outstanding, and responses are matched by id. A response is final when
 * its `triton_final_response` parameter is absent or true, and null when it
 * is final with no outputs (spec 06 §2). If the stream ends, every request
 * still on it fails with the stream's status and the next submit opens a
 * new stream.
 *
 * Timing (spec 06 §2): send_ns = marshalling (building the byte buffer),
 * recv_ns = unmarshalling (scanning the response), total_ns = submit to the
 * end of the final response's processing.
 *
 * The channel (TLS, one connection per client, the poll strategy), the
 * metadata, the unary batch and the control-plane call are grpc_chan.c's,
 * shared with tfserving.c.
 *
 * Inference over plain text without compression (the common case) skips
 * gRPC core: grpc_h2.c frames the unary calls, or the streams, on its own
 * connection, at a fraction of the CPU per request (docs/internals/grpc.md).
 * Slots, ids and response matching are the same; a stream's requests are
 * copied by grpc_h2.c when submitted, so they have no write queue. The
 * control plane stays on gRPC core. PA_GRPC_TRANSPORT=core keeps inference
 * on gRPC core too.
 */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "client/backends.h"
#include "client/grpc_chan.h"
#include "client/grpc_h2.h"
#include "client/grpc_json.h"
#include "client/grpc_wire.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "grpc_service.pb-c.h"
#include "core/banned.h"

#define SVC "/inference.GRPCInferenceService/"
#define SLOT_INDEX_BITS 24
#define SLOT_INDEX_MASK ((1u << SLOT_INDEX_BITS) - 1)
#define CLOSE_GRACE_MS 2000

enum ctl_method {
    CM_SERVER_METADATA,
    CM_MODEL_METADATA,
    CM_MODEL_CONFIG,
    CM_MODEL_STATISTICS,
    CM_TRACE_SETTING,
    CM_SYS_SHM_REGISTER,
    CM_SYS_SHM_UNREGISTER,
    CM_CUDA_SHM_REGISTER,
    CM_CUDA_SHM_UNREGISTER,
    CM_COUNT
};

static const char *const ctl_path[CM_COUNT] = {
    [CM_SERVER_METADATA] = SVC "ServerMetadata",
    [CM_MODEL_METADATA] = SVC "ModelMetadata",
    [CM_MODEL_CONFIG] = SVC "ModelConfig",
    [CM_MODEL_STATISTICS] = SVC "ModelStatistics",
    [CM_TRACE_SETTING] = SVC "TraceSetting",
    [CM_SYS_SHM_REGISTER] = SVC "SystemSharedMemoryRegister",
    [CM_SYS_SHM_UNREGISTER] = SVC "SystemSharedMemoryUnregister",
    [CM_CUDA_SHM_REGISTER] = SVC "CudaSharedMemoryRegister",
    [CM_CUDA_SHM_UNREGISTER] = SVC "CudaSharedMemoryUnregister",
};

enum tag_kind { T_UNARY, T_S_READ, T_S_WRITE, T_S_STATUS, T_S_CLOSE };

struct gtag {
    enum tag_kind kind;
    void *obj;
};

struct gstream;

struct slot {
    struct gtag tag;            /* unary completion */
    uint32_t index;
    uint32_t gen;
    bool busy;
    bool answered;              /* final response (or failure) delivered */
    void *user_tag;
    struct gstream *stream;     /* streaming mode */
    struct gchan_call u;        /* unary mode; streams use only u.send_bb, until written */
    uint64_t start_ns, send_ns;
    unsigned char suffix[GW_SEND_MAX];
    struct slot *next;          /* free list or stream write queue */
};

struct gstream {
    struct gtag t_read, t_write, t_status, t_close;
    struct gctx *g;
    struct h2_stream *h2;       /* on our own HTTP/2 (then call is NULL) */
    grpc_call *call;
    bool dead;                  /* status received: no new work */
    bool writing, md_sent, first_read;
    struct slot *wq_head, *wq_tail; /* head is being written while `writing` */
    grpc_byte_buffer *recv_bb;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    int ops;                    /* batches started and not completed */
    size_t in_flight;
};

struct gctx {
    struct pa_client *c;
    struct gchan ch;
    void *m_infer, *m_stream, *m_ctl[CM_COUNT];
    struct slot **slots;
    size_t n_slots, cap_slots;
    struct slot *free_slots;
    size_t in_flight;
    long ops;                       /* unary calls + stream batches outstanding */
    struct gstream **streams;
    size_t n_streams;
    grpc_slice *slices;             /* submit scratch: segments + suffix */
    size_t cap_slices;
    struct gw_response view;        /* the response being delivered */
    char errbuf[PA_ERR_MSG_MAX];
    bool closing;                   /* close(): drain without callbacks */
    struct gw_param *params;        /* --request-parameter */
    size_t n_params;
    struct h2_conn *h2;             /* unary calls on our own HTTP/2 (NULL: gRPC core) */
    struct h2_segment *h2_segs;     /* submit scratch for h2 */
};

struct pa_prepared {
    struct gw_request req;
};

/* ------------------------------------------------------------------ slots */

static struct slot *slot_get(struct gctx *g)
{
    struct slot *s = g->free_slots;
    if (s) {
        g->free_slots = s->next;
    } else {
        if (g->n_slots == g->cap_slots) {
            g->cap_slots = g->cap_slots ? 2 * g->cap_slots : 16;
            g->slots = xreallocarray(g->slots, g->cap_slots, sizeof(*g->slots));
        }
        s = xcalloc(1, sizeof(*s));
        s->index = (uint32_t)g->n_slots;
        s->tag = (struct gtag){T_UNARY, s};
        g->slots[g->n_slots++] = s;
    }
    s->gen++;
    s->busy = true;
    s->answered = false;
    s->stream = NULL;
    s->u.call = NULL;
    s->u.send_bb = s->u.recv_bb = NULL;
    s->next = NULL;
    return s;
}

static void slot_put(struct gctx *g, struct slot *s)
{
    s->busy = false;
    s->next = g->free_slots;
    g->free_slots = s;
}

static uint64_t slot_id(const struct slot *s)
{
    return ((uint64_t)s->gen << SLOT_INDEX_BITS) | s->index;
}

/* Hands one response to the caller. view may be NULL (failure). */
static void deliver(struct gctx *g, struct slot *s, bool final, int error, const char *msg,
                    uint64_t arrival, uint64_t recv_ns)
{
    if (final) {
        s->answered = true;
        g->in_flight--;
        if (s->stream)
            s->stream->in_flight--;
    }
    struct pa_client *c = g->c;
    if (g->closing || !c->on_response)
        return;
    struct pa_response r = {
        .tag = s->user_tag,
        .arrival_ns = arrival,
        .final = final,
        .null_response = final && !error && g->view.n_outputs == 0,
        .error = error,
        .error_msg = error ? msg : NULL,
        .backend_data = error ? NULL : &g->view,
    };
    if (final) {
        uint64_t end = clock_now_ns();
        r.send_ns = s->send_ns;
        r.recv_ns = recv_ns;
        r.total_ns = end - s->start_ns;
    }
    c->on_response(c->on_response_arg, &r);
}

/* ---------------------------------------------------------------- unary */

static void unary_start(struct gctx *g, struct slot *s)
{
    grpc_call_error rc = gchan_call_start(&g->ch, &s->u, g->m_infer, &s->tag);
    if (rc != GRPC_CALL_OK) {
        snprintf(g->errbuf, sizeof(g->errbuf), "cannot start the ModelInfer call: %s",
                 grpc_call_error_to_string(rc));
        gchan_call_release(&s->u);
        deliver(g, s, true, PA_EINTERNAL, g->errbuf, clock_now_ns(), 0);
        slot_put(g, s);
        return;
    }
    g->ops++;
}

/* Ends a unary call with its status and, when OK, its response message (body). */
static void unary_finish(struct gctx *g, struct slot *s, uint64_t t0, int status,
                         const char *details, size_t details_len, const unsigned char *body,
                         size_t len)
{
    int error = PA_OK;
    if (status != GRPC_STATUS_OK) {
        error = gchan_status_text(g->errbuf, sizeof(g->errbuf), status, details, details_len);
    } else if (!body) {
        snprintf(g->errbuf, sizeof(g->errbuf), "the server sent no ModelInferResponse");
        error = PA_EPROTO;
    } else if (gw_parse_infer_response(body, len, &g->view) != PA_OK) {
        snprintf(g->errbuf, sizeof(g->errbuf), "failed to parse the ModelInferResponse");
        error = PA_EPROTO;
    }
    uint64_t t1 = clock_now_ns();
    /* A unary answer is the whole answer, whatever its final flag says. */
    deliver(g, s, true, error, g->errbuf, t0, t1 - t0);
}

/* A unary call on gRPC core completed. */
static void unary_done(struct gctx *g, struct slot *s)
{
    g->ops--;
    uint64_t t0 = clock_now_ns();
    const unsigned char *body = NULL;
    size_t len = 0;
    if (s->u.status == GRPC_STATUS_OK && s->u.recv_bb)
        body = gchan_bytes(&g->ch, s->u.recv_bb, &len);
    unary_finish(g, s, t0, s->u.status, (const char *)GRPC_SLICE_START_PTR(s->u.details),
                 GRPC_SLICE_LENGTH(s->u.details), body, len);
    gchan_call_release(&s->u);
    slot_put(g, s);
}

static void h2_stream_ended(struct gctx *g, struct gstream *st, const struct h2_result *r);

/* A unary call (or, streaming, a stream) on our own HTTP/2 connection ended. */
static void h2_done(void *arg, void *tag, const struct h2_result *r)
{
    struct gctx *g = arg;
    if (g->c->opts->streaming) {
        h2_stream_ended(g, tag, r);
        return;
    }
    struct slot *s = tag;
    unary_finish(g, s, clock_now_ns(), r->status, r->message, r->message_len, r->body,
                 r->body_len);
    slot_put(g, s);
}

/* --------------------------------------------------------------- streams */

static void stream_free_if_idle(struct gctx *g, struct gstream *st)
{
    if (!st->dead || st->ops)
        return;
    grpc_metadata_array_destroy(&st->init_md);
    grpc_metadata_array_destroy(&st->trail_md);
    grpc_slice_unref(st->details);
    grpc_call_unref(st->call);
    free(st);
    (void)g;
}

static void stream_read(struct gctx *g, struct gstream *st)
{
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (st->first_read) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &st->init_md;
        st->first_read = false;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &st->recv_bb;
    if (grpc_call_start_batch(st->call, ops, n, &st->t_read, NULL) == GRPC_CALL_OK) {
        st->ops++;
        g->ops++;
    }
}

static struct gstream *stream_open(struct gctx *g)
{
    struct gstream *st = xcalloc(1, sizeof(*st));
    st->g = g;
    st->t_read = (struct gtag){T_S_READ, st};
    st->t_write = (struct gtag){T_S_WRITE, st};
    st->t_status = (struct gtag){T_S_STATUS, st};
    st->t_close = (struct gtag){T_S_CLOSE, st};
    st->call = grpc_channel_create_registered_call(g->ch.channel, NULL, GRPC_PROPAGATE_DEFAULTS,
                                                   g->ch.cq, g->m_stream,
                                                   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array_init(&st->init_md);
    grpc_metadata_array_init(&st->trail_md);
    st->details = grpc_empty_slice();
    st->first_read = true;

    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &st->trail_md;
    op.data.recv_status_on_client.status = &st->status;
    op.data.recv_status_on_client.status_details = &st->details;
    if (grpc_call_start_batch(st->call, &op, 1, &st->t_status, NULL) == GRPC_CALL_OK) {
        st->ops++;
        g->ops++;
    } else {
        st->dead = true;
        st->status = GRPC_STATUS_INTERNAL;
    }
    if (!st->dead)
        stream_read(g, st);
    return st;
}

static void stream_write_head(struct gctx *g, struct gstream *st)
{
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!st->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = g->ch.n_md_infer;
        ops[n++].data.send_initial_metadata.metadata = g->ch.md;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = st->wq_head->u.send_bb;
    if (grpc_call_start_batch(st->call, ops, n, &st->t_write, NULL) == GRPC_CALL_OK) {
        st->md_sent = true;
        st->writing = true;
        st->ops++;
        g->ops++;
    }
}

/* Drops a slot's request bytes; frees the slot once it is also answered. */
static void slot_sent(struct gctx *g, struct slot *s)
{
    if (s->u.send_bb)
        grpc_byte_buffer_destroy(s->u.send_bb);
    s->u.send_bb = NULL;
    if (s->answered)
        slot_put(g, s);
}

/* The stream is over: fail what is still on it and let it go. */
static void stream_dead(struct gctx *g, struct gstream *st)
{
    st->dead = true;
    for (size_t i = 0; i < g->n_streams; i++) {
        if (g->streams[i] == st)
            g->streams[i] = NULL;
    }
    /* A stream that ends with OK still fails what is on it (PA_ESERVER). */
    int error = gchan_status(g->errbuf, sizeof(g->errbuf), st->status, st->details);
    if (st->status == GRPC_STATUS_OK)
        snprintf(g->errbuf, sizeof(g->errbuf), "the server closed the inference stream");
    uint64_t now = clock_now_ns();
    for (size_t i = 0; i < g->n_slots && st->in_flight; i++) {
        struct slot *s = g->slots[i];
        if (s->busy && s->stream == st && !s->answered) {
            deliver(g, s, true, error, g->errbuf, now, 0);
            if (!s->u.send_bb) /* already written: nothing else refers to it */
                slot_put(g, s);
        }
    }
    /* Requests never handed to gRPC: the slot is ours to drop now. */
    struct slot *s = st->writing ? st->wq_head->next : st->wq_head;
    if (st->writing)
        st->wq_head->next = NULL;
    else
        st->wq_head = st->wq_tail = NULL;
    while (s) {
        struct slot *next = s->next;
        slot_sent(g, s);
        s = next;
    }
}

static void stream_on_write(struct gctx *g, struct gstream *st)
{
    st->ops--;
    g->ops--;
    st->writing = false;
    struct slot *s = st->wq_head;
    st->wq_head = s->next;
    if (!st->wq_head)
        st->wq_tail = NULL;
    slot_sent(g, s);
    if (!st->dead && st->wq_head)
        stream_write_head(g, st);
    stream_free_if_idle(g, st);
}

/*
 * One ModelStreamInferResponse of the stream: delivered to its request's
 * slot. Returns the number of responses delivered (0 or 1).
 */
static int stream_message(struct gctx *g, struct gstream *st, const unsigned char *p, size_t len,
                          uint64_t t0)
{
    uint64_t id;
    if (gw_parse_stream_response(p, len, &g->view) != PA_OK ||
        !gw_parse_id(g->view.id, g->view.id_len, &id))
        return 0;
    uint32_t index = (uint32_t)(id & SLOT_INDEX_MASK);
    uint32_t gen = (uint32_t)(id >> SLOT_INDEX_BITS);
    struct slot *s = index < g->n_slots ? g->slots[index] : NULL;
    /* Responses for unknown or stale ids are dropped. */
    if (!s || !s->busy || s->answered || s->gen != gen || s->stream != st)
        return 0;
    bool failed = g->view.error && g->view.error_len;
    bool final = failed || gw_is_final(&g->view);
    if (failed)
        snprintf(g->errbuf, sizeof(g->errbuf), "%.*s", (int)g->view.error_len, g->view.error);
    uint64_t t1 = clock_now_ns();
    deliver(g, s, final, failed ? PA_ESERVER : PA_OK, g->errbuf, t0, t1 - t0);
    if (final && !s->u.send_bb)
        slot_put(g, s);
    return 1;
}

/* Returns the number of responses delivered (0 or 1). */
static int stream_on_read(struct gctx *g, struct gstream *st, bool ok)
{
    st->ops--;
    g->ops--;
    grpc_byte_buffer *bb = st->recv_bb;
    st->recv_bb = NULL;
    if (!ok || !bb) { /* the stream is ending; its status tells why */
        stream_free_if_idle(g, st);
        return 0;
    }
    uint64_t t0 = clock_now_ns();
    size_t len;
    const unsigned char *p = gchan_bytes(&g->ch, bb, &len);
    int delivered = stream_message(g, st, p, len, t0);
    grpc_byte_buffer_destroy(bb);
    if (!st->dead)
        stream_read(g, st);
    stream_free_if_idle(g, st);
    return delivered;
}

/* --------------------------------------------- streams on our own HTTP/2 */

static void h2_stream_on_message(void *arg, void *tag, const unsigned char *msg, size_t len)
{
    stream_message(arg, tag, msg, len, clock_now_ns());
}

/* The server (or the connection) ended an HTTP/2 stream: what is on it fails. */
static void h2_stream_ended(struct gctx *g, struct gstream *st, const struct h2_result *r)
{
    st->status = (grpc_status_code)r->status;
    st->details = grpc_slice_from_copied_buffer(r->message, r->message_len);
    stream_dead(g, st);
    grpc_slice_unref(st->details);
    free(st);
}

static void h2_stream_submit(struct gctx *g, struct slot *s, uint32_t index, size_t n_segs)
{
    struct gstream *st = g->streams[index];
    if (!st) {
        st = g->streams[index] = xcalloc(1, sizeof(*st));
        st->g = g;
        st->h2 = h2_stream_open(g->h2, st);
    }
    s->stream = st;
    st->in_flight++;
    /* Copied by h2: nothing to release once it is sent. May end the stream at once. */
    h2_stream_send(g->h2, st->h2, g->h2_segs, n_segs);
}

static void streams_reserve(struct gctx *g, uint32_t index)
{
    if (index >= g->n_streams) {
        size_t n = (size_t)index + 1;
        g->streams = xreallocarray(g->streams, n, sizeof(*g->streams));
        memset(g->streams + g->n_streams, 0, (n - g->n_streams) * sizeof(*g->streams));
        g->n_streams = n;
    }
}

static void stream_submit(struct gctx *g, struct slot *s, uint32_t index)
{
    streams_reserve(g, index);
    struct gstream *st = g->streams[index];
    if (!st)
        st = g->streams[index] = stream_open(g);
    s->stream = st;
    st->in_flight++;
    if (st->dead) {
        snprintf(g->errbuf, sizeof(g->errbuf), "cannot start the ModelStreamInfer call");
        deliver(g, s, true, PA_EINTERNAL, g->errbuf, clock_now_ns(), 0);
        g->streams[index] = NULL;
        slot_sent(g, s);
        stream_free_if_idle(g, st);
        return;
    }
    if (st->wq_tail)
        st->wq_tail->next = s;
    else
        st->wq_head = s;
    st->wq_tail = s;
    if (!st->writing)
        stream_write_head(g, st);
}

/* -------------------------------------------------------------- data plane */

static int g_prepare(struct pa_client *c, const struct pa_infer_desc *desc,
                     struct pa_prepared **out, struct pa_err *err)
{
    struct gctx *g = c->ctx;
    struct pa_prepared *p = xcalloc(1, sizeof(*p));
    int rc = gw_request_build(desc, g->params, g->n_params, &p->req, err);
    if (rc != PA_OK) {
        free(p);
        return rc;
    }
    if (p->req.n_segs + 1 > g->cap_slices) {
        g->cap_slices = p->req.n_segs + 1;
        g->slices = xreallocarray(g->slices, g->cap_slices, sizeof(*g->slices));
        g->h2_segs = xreallocarray(g->h2_segs, g->cap_slices, sizeof(*g->h2_segs));
    }
    *out = p;
    return PA_OK;
}

static void g_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    (void)c;
    gw_request_release(&p->req);
    free(p);
}

static int g_submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                    struct pa_err *err)
{
    struct gctx *g = c->ctx;
    (void)err;
    struct slot *s = slot_get(g);
    s->user_tag = send->tag;
    s->start_ns = clock_now_ns();
    size_t n = p->req.n_segs;
    if (g->h2) {
        for (size_t i = 0; i < n; i++)
            g->h2_segs[i] = (struct h2_segment){p->req.segs[i].data, p->req.segs[i].len};
        g->h2_segs[n] = (struct h2_segment){s->suffix, gw_encode_send(s->suffix, slot_id(s), send)};
        s->send_ns = clock_now_ns() - s->start_ns;
        g->in_flight++;
        if (c->opts->streaming) {
            streams_reserve(g, send->stream);
            h2_stream_submit(g, s, send->stream, n + 1);
        } else {
            h2_call(g->h2, g->h2_segs, n + 1, s);
        }
        return PA_OK;
    }
    for (size_t i = 0; i < n; i++)
        g->slices[i] = grpc_slice_from_static_buffer(p->req.segs[i].data, p->req.segs[i].len);
    size_t sl = gw_encode_send(s->suffix, slot_id(s), send);
    g->slices[n] = grpc_slice_from_static_buffer(s->suffix, sl);
    s->u.send_bb = grpc_raw_byte_buffer_create(g->slices, n + 1);
    s->send_ns = clock_now_ns() - s->start_ns;
    g->in_flight++;
    if (c->opts->streaming)
        stream_submit(g, s, send->stream);
    else
        unary_start(g, s);
    return PA_OK;
}

static int dispatch(struct gctx *g, grpc_event ev)
{
    struct gtag *t = ev.tag;
    switch (t->kind) {
    case T_UNARY:
        unary_done(g, t->obj);
        return 1;
    case T_S_READ:
        return stream_on_read(g, t->obj, ev.success != 0);
    case T_S_WRITE:
        stream_on_write(g, t->obj);
        return 0;
    case T_S_STATUS: {
        struct gstream *st = t->obj;
        st->ops--;
        g->ops--;
        size_t before = g->in_flight;
        stream_dead(g, st);
        stream_free_if_idle(g, st);
        return (int)(before - g->in_flight);
    }
    case T_S_CLOSE: {
        struct gstream *st = t->obj;
        st->ops--;
        g->ops--;
        stream_free_if_idle(g, st);
        return 0;
    }
    }
    return 0;
}

static int g_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct gctx *g = c->ctx;
    (void)err;
    if (g->h2)
        return h2_poll(g->h2, timeout_ms);
    int delivered = 0;
    gpr_timespec deadline = gchan_deadline_ms(timeout_ms);
    for (;;) {
        if (g->ops == 0)
            return delivered;
        grpc_event ev = grpc_completion_queue_next(g->ch.cq, deadline, NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            return delivered;
        delivered += dispatch(g, ev);
        /* After the first event, only take what is already there. */
        if (delivered > 0 || timeout_ms >= 0)
            deadline = gpr_time_0(GPR_CLOCK_MONOTONIC);
    }
}

static size_t g_in_flight(const struct pa_client *c)
{
    const struct gctx *g = c->ctx;
    return g->in_flight;
}

static int g_output(const struct pa_client *c, const struct pa_response *r, const char *name,
                    const void **data, size_t *byte_size, struct pa_err *err)
{
    (void)c;
    const struct gw_response *v = r->backend_data;
    size_t len = strlen(name);
    for (size_t i = 0; v && i < v->n_outputs && i < GW_MAX_OUTPUTS; i++) {
        const struct gw_output *o = &v->outputs[i];
        if (o->name_len == len && memcmp(o->name, name, len) == 0) {
            if (i >= v->n_raw)
                break;
            *data = o->data;
            *byte_size = o->len;
            return PA_OK;
        }
    }
    return pa_errorf(err, PA_EPROTO, "output '%s' is missing from the response", name);
}

/* ------------------------------------------------------------ control plane */

struct unpack {
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage **out;
    const char *method;
};

static int unpack_reply(void *arg, const unsigned char *p, size_t len, struct pa_err *err)
{
    struct unpack *u = arg;
    *u->out = protobuf_c_message_unpack(u->desc, NULL, len, p);
    if (!*u->out)
        return pa_errorf(err, PA_EPROTO, "failed to parse the %s response", u->method);
    return PA_OK;
}

/* One blocking unary call. *out (if resp_desc) is the unpacked answer. */
static int ctl_call(struct gctx *g, enum ctl_method m, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **out,
                    struct pa_err *err)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    unsigned char *body = xmalloc(len ? len : 1);
    protobuf_c_message_pack(req, body);
    struct unpack u = {resp_desc, out, ctl_path[m] + strlen(SVC)};
    return gchan_call_blocking(&g->ch, g->m_ctl[m], body, len, resp_desc ? unpack_reply : NULL,
                               &u, err);
}

static int g_server_metadata(struct pa_client *c, cJSON **out, struct pa_err *err)
{
    Inference__ServerMetadataRequest rq;
    inference__server_metadata_request__init(&rq);
    ProtobufCMessage *rs = NULL;
    int rc = ctl_call(c->ctx, CM_SERVER_METADATA, &rq.base,
                      &inference__server_metadata_response__descriptor, &rs, err);
    if (rc != PA_OK)
        return rc;
    *out = grpc_json_from_message(rs);
    protobuf_c_message_free_unpacked(rs, NULL);
    return PA_OK;
}

static int g_model_metadata(struct pa_client *c, const char *name, const char *version,
                            cJSON **out, struct pa_err *err)
{
    Inference__ModelMetadataRequest rq;
    inference__model_metadata_request__init(&rq);
    rq.name = grpc_json_str(name);
    rq.version = grpc_json_str(version);
    ProtobufCMessage *rs = NULL;
    int rc = ctl_call(c->ctx, CM_MODEL_METADATA, &rq.base,
                      &inference__model_metadata_response__descriptor, &rs, err);
    if (rc != PA_OK)
        return rc;
    *out = grpc_json_from_message(rs);
    protobuf_c_message_free_unpacked(rs, NULL);
    return PA_OK;
}

static int g_model_config(struct pa_client *c, const char *name, const char *version,
                          cJSON **out, struct pa_err *err)
{
    Inference__ModelConfigRequest rq;
    inference__model_config_request__init(&rq);
    rq.name = grpc_json_str(name);
    rq.version = grpc_json_str(version);
    ProtobufCMessage *rs = NULL;
    int rc = ctl_call(c->ctx, CM_MODEL_CONFIG, &rq.base,
                      &inference__model_config_response__descriptor, &rs, err);
    if (rc != PA_OK)
        return rc;
    /* The HTTP API returns the config itself, not {"config": ...}. */
    const Inference__ModelConfigResponse *cr = (const Inference__ModelConfigResponse *)rs;
    *out = cr->config ? grpc_json_from_message(&cr->config->base) : cJSON_CreateObject();
    protobuf_c_message_free_unpacked(rs, NULL);
    return PA_OK;
}

static int g_model_statistics(struct pa_client *c, const char *name, const char *version,
                              cJSON **out, struct pa_err *err)
{
    Inference__ModelStatisticsRequest rq;
    inference__model_statistics_request__init(&rq);
    rq.name = grpc_json_str(name);
    rq.version = grpc_json_str(version);
    ProtobufCMessage *rs = NULL;
    int rc = ctl_call(c->ctx, CM_MODEL_STATISTICS, &rq.base,
                      &inference__model_statistics_response__descriptor, &rs, err);
    if (rc != PA_OK)
        return rc;
    *out = grpc_json_from_message(rs);
    grpc_json_complete_stats(*out);
    protobuf_c_message_free_unpacked(rs, NULL);
    return PA_OK;
}

#define MAX_TRACE_KEYS 16
#define MAX_TRACE_VALUES 16

static int g_trace_settings(struct pa_client *c, const cJSON *settings, struct pa_err *err)
{
    Inference__TraceSettingRequest rq;
    Inference__TraceSettingRequest__SettingsEntry ent[MAX_TRACE_KEYS];
    Inference__TraceSettingRequest__SettingsEntry *pent[MAX_TRACE_KEYS];
    Inference__TraceSettingRequest__SettingValue val[MAX_TRACE_KEYS];
    char *strs[MAX_TRACE_KEYS][MAX_TRACE_VALUES];
    size_t n = 0;
    inference__trace_setting_request__init(&rq);
    const cJSON *it;
    cJSON_ArrayForEach(it, settings) {
        if (n == MAX_TRACE_KEYS)
            return pa_errorf(err, PA_EINVAL, "too many trace settings");
        size_t nv = 0;
        if (cJSON_IsString(it)) {
            strs[n][nv++] = it->valuestring;
        } else if (cJSON_IsArray(it)) {
            const cJSON *x;
            cJSON_ArrayForEach(x, it) {
                if (cJSON_IsString(x) && nv < MAX_TRACE_VALUES)
                    strs[n][nv++] = x->valuestring;
            }
        }
        inference__trace_setting_request__setting_value__init(&val[n]);
        val[n].value = strs[n];
        val[n].n_value = nv;
        inference__trace_setting_request__settings_entry__init(&ent[n]);
        ent[n].key = it->string;
        ent[n].value = &val[n];
        pent[n] = &ent[n];
        n++;
    }
    rq.settings = pent;
    rq.n_settings = n;
    ProtobufCMessage *rs = NULL;
    int rc = ctl_call(c->ctx, CM_TRACE_SETTING, &rq.base,
                      &inference__trace_setting_response__descriptor, &rs, err);
    if (rs)
        protobuf_c_message_free_unpacked(rs, NULL);
    return rc;
}

static int g_register_system_shm(struct pa_client *c, const char *region, const char *key,
                                 uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    Inference__SystemSharedMemoryRegisterRequest rq;
    inference__system_shared_memory_register_request__init(&rq);
    rq.name = grpc_json_str(region);
    rq.key = grpc_json_str(key);
    rq.offset = offset;
    rq.byte_size = byte_size;
    return ctl_call(c->ctx, CM_SYS_SHM_REGISTER, &rq.base, NULL, NULL, err);
}

static int g_register_cuda_shm(struct pa_client *c, const char *region, const void *raw_handle,
                               size_t handle_size, int64_t device_id, uint64_t byte_size,
                               struct pa_err *err)
{
    Inference__CudaSharedMemoryRegisterRequest rq;
    inference__cuda_shared_memory_register_request__init(&rq);
    rq.name = grpc_json_str(region);
    union {
        const void *c;
        uint8_t *m;
    } h = {.c = raw_handle};
    rq.raw_handle.data = h.m;
    rq.raw_handle.len = handle_size;
    rq.device_id = device_id;
    rq.byte_size = byte_size;
    return ctl_call(c->ctx, CM_CUDA_SHM_REGISTER, &rq.base, NULL, NULL, err);
}

static int g_unregister_system_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    Inference__SystemSharedMemoryUnregisterRequest rq;
    inference__system_shared_memory_unregister_request__init(&rq);
    rq.name = grpc_json_str(region);
    return ctl_call(c->ctx, CM_SYS_SHM_UNREGISTER, &rq.base, NULL, NULL, err);
}

static int g_unregister_cuda_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    Inference__CudaSharedMemoryUnregisterRequest rq;
    inference__cuda_shared_memory_unregister_request__init(&rq);
    rq.name = grpc_json_str(region);
    return ctl_call(c->ctx, CM_CUDA_SHM_UNREGISTER, &rq.base, NULL, NULL, err);
}

/* ------------------------------------------------------------ open / close */

static void g_close(struct pa_client *c);

static int build_params(struct gctx *g, const struct pa_options *o, struct pa_err *err)
{
    g->params = xcalloc(o->n_request_params + 1, sizeof(*g->params));
    for (size_t i = 0; i < o->n_request_params; i++) {
        const struct pa_request_param *rp = &o->request_params[i];
        struct gw_param *p = &g->params[i];
        p->name = rp->name;
        switch (rp->type) {
        case PA_PARAM_STRING:
            p->type = GW_P_STRING;
            p->s = rp->value;
            break;
        case PA_PARAM_INT: {
            char *end;
            p->type = GW_P_INT64;
            p->i = strtoll(rp->value, &end, 10);
            if (!rp->value[0] || *end)
                return pa_errorf(err, PA_EINVAL, "request parameter '%s' is not an integer: '%s'",
                                 rp->name, rp->value);
            break;
        }
        case PA_PARAM_BOOL:
            p->type = GW_P_BOOL;
            p->b = strcmp(rp->value, "true") == 0;
            break;
        case PA_PARAM_OTHER:
            return pa_errorf(err, PA_EUNSUPPORTED,
                             "unsupported type '%s' for request parameter '%s'", rp->type_text,
                             rp->name);
        }
        g->n_params = i + 1;
    }
    return PA_OK;
}

/* Inference on our own HTTP/2: plain text, no compression, a host:port target. */
static bool own_http2(const struct pa_options *o)
{
    const char *t = getenv("PA_GRPC_TRANSPORT");
    if (t && strcmp(t, "core") == 0)
        return false;
    return !o->ssl_grpc_use_ssl && o->grpc_compression == PA_COMPRESS_NONE &&
           h2_target_ok(o->url);
}

static int g_open(struct pa_client *c, struct pa_err *err)
{
    const struct pa_options *o = c->opts;
    struct gctx *g = xcalloc(1, sizeof(*g));
    g->c = c;
    c->ctx = g;
    int rc = gchan_open(&g->ch, o, GCHAN_TLS | GCHAN_OWN_CONNECTION, err);
    if (rc == PA_OK)
        rc = build_params(g, o, err);
    if (rc == PA_OK)
        rc = gchan_connect(&g->ch, o, err);
    if (rc != PA_OK) {
        g_close(c);
        return rc;
    }
    if (own_http2(o)) {
        struct h2_header *md = xcalloc(g->ch.n_md_infer + 1, sizeof(*md));
        for (size_t i = 0; i < g->ch.n_md_infer; i++)
            md[i] = (struct h2_header){(const char *)GRPC_SLICE_START_PTR(g->ch.md[i].key),
                                       GRPC_SLICE_LENGTH(g->ch.md[i].key),
                                       (const char *)GRPC_SLICE_START_PTR(g->ch.md[i].value),
                                       GRPC_SLICE_LENGTH(g->ch.md[i].value)};
        g->h2 = h2_open(o->url, o->streaming ? SVC "ModelStreamInfer" : SVC "ModelInfer", md,
                        g->ch.n_md_infer, h2_done, h2_stream_on_message, g);
        free(md);
    }
    g->m_infer = grpc_channel_register_call(g->ch.channel, SVC "ModelInfer", NULL, NULL);
    g->m_stream = grpc_channel_register_call(g->ch.channel, SVC "ModelStreamInfer", NULL, NULL);
    for (int m = 0; m < CM_COUNT; m++)
        g->m_ctl[m] = grpc_channel_register_call(g->ch.channel, ctl_path[m], NULL, NULL);
    return PA_OK;
}

/* Ends every call (gracefully where nothing is pending) and drains the queue. */
static void drain(struct gctx *g)
{
    g->closing = true;
    for (size_t i = 0; i < g->n_streams; i++) {
        struct gstream *st = g->streams[i];
        if (!st || st->dead)
            continue;
        if (st->in_flight == 0 && !st->writing) {
            grpc_op op;
            memset(&op, 0, sizeof(op));
            op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
            if (grpc_call_start_batch(st->call, &op, 1, &st->t_close, NULL) == GRPC_CALL_OK) {
                st->ops++;
                g->ops++;
            }
        } else {
            grpc_call_cancel(st->call, NULL);
        }
    }
    for (size_t i = 0; i < g->n_slots; i++) {
        if (g->slots[i]->busy && g->slots[i]->u.call)
            grpc_call_cancel(g->slots[i]->u.call, NULL);
    }
    gpr_timespec grace = gchan_deadline_ms(CLOSE_GRACE_MS);
    bool cancelled = false;
    while (g->ops > 0) {
        grpc_event ev =
            grpc_completion_queue_next(g->ch.cq, cancelled ? gchan_deadline_ms(-1) : grace, NULL);
        if (ev.type == GRPC_OP_COMPLETE) {
            dispatch(g, ev);
        } else if (!cancelled) { /* a stream that does not finish: cut it */
            for (size_t i = 0; i < g->n_streams; i++) {
                if (g->streams[i])
                    grpc_call_cancel(g->streams[i]->call, NULL);
            }
            cancelled = true;
        }
    }
}

static void g_close(struct pa_client *c)
{
    struct gctx *g = c->ctx;
    if (!g)
        return;
    /* Calls and streams still on our HTTP/2 connection end without callbacks. */
    if (g->h2) {
        h2_close(g->h2);
        g->h2 = NULL;
        for (size_t i = 0; i < g->n_streams; i++) {
            free(g->streams[i]);
            g->streams[i] = NULL;
        }
    }
    if (g->ch.cq)
        drain(g);
    gchan_close(&g->ch);
    for (size_t i = 0; i < g->n_slots; i++)
        free(g->slots[i]);
    free(g->slots);
    free(g->streams);
    free(g->slices);
    free(g->h2_segs);
    free(g->params);
    free(g);
    c->ctx = NULL;
}

static const struct pa_client_ops grpc_ops = {
    .open = g_open,
    .close = g_close,
    .prepare = g_prepare,
    .prepared_free = g_prepared_free,
    .submit = g_submit,
    .poll = g_poll,
    .in_flight = g_in_flight,
    .server_metadata = g_server_metadata,
    .model_metadata = g_model_metadata,
    .model_config = g_model_config,
    .model_statistics = g_model_statistics,
    .trace_settings = g_trace_settings,
    .register_system_shm = g_register_system_shm,
    .register_cuda_shm = g_register_cuda_shm,
    .unregister_system_shm = g_unregister_system_shm,
    .unregister_cuda_shm = g_unregister_cuda_shm,
    .output = g_output,
};

const struct pa_backend pa_backend_triton_grpc = {
    .name = "triton-grpc",
    .kind = "TRITON",
    .flags = PA_BACKEND_ASYNC | PA_BACKEND_STREAMING | PA_BACKEND_SYSTEM_SHM |
             PA_BACKEND_CUDA_SHM | PA_BACKEND_SERVER_STATS | PA_BACKEND_MODEL_METADATA,
    .ops = &grpc_ops,
};
