/*
 * TF Serving (tensorflow.serving.PredictionService over gRPC), on the gRPC
 * C core API (spec 06 §3, protocols/03-tfserving.md).
 *
 * One client instance = one insecure channel (the original never uses TLS
 * for TF Serving), one `next` completion queue for the data plane (driven
 * only by poll(), on the owning thread) and one `pluck` queue for the
 * blocking GetModelMetadata call. The CLI allows synchronous requests only,
 * but nothing here depends on that: every request is its own unary Predict
 * call in its own slot.
 *
 * A PredictRequest has no per-send fields, so prepare() serialises the whole
 * message once (tfs_codec.c) and submit() hands gRPC a static slice over
 * those bytes: no copy and no allocation of ours per request. The
 * PredictResponse is not decoded; only the call status matters (the
 * original ignores the outputs too: no validation for this backend).
 *
 * Timing (spec 06 §2-3): send_ns = marshalling (wrapping the prepared bytes
 * in a byte buffer), recv_ns = handling the response (freeing it, since it
 * is not decoded), total_ns = submit() entry to the end of that handling.
 *
 * The channel, metadata, queues, unary batch and control-plane call are
 * grpc_chan.c's, shared with triton_grpc.c. Unlike Triton, the channel is
 * always insecure and shares gRPC's default subchannel pool and poller.
 */
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/options.h"
#include "client/backends.h"
#include "client/grpc_chan.h"
#include "client/tfs_codec.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define SVC "/tensorflow.serving.PredictionService/"
#define CLOSE_GRACE_MS 2000

struct slot {
    uint32_t index;
    bool busy;
    void *user_tag;
    struct gchan_call u;
    uint64_t start_ns, send_ns;
    struct slot *next_free;
};

struct tctx {
    struct pa_client *c;
    struct gchan ch;
    void *m_predict, *m_metadata;
    struct slot **slots;
    size_t n_slots;
    struct slot *free_slots;
    size_t in_flight;
    bool closing;                   /* close(): drain without callbacks */
    char errbuf[PA_ERR_MSG_MAX];
};

struct pa_prepared {
    unsigned char *bytes;           /* the serialised PredictRequest */
    size_t len;
};

/* ------------------------------------------------------------------ slots */

static struct slot *slot_get(struct tctx *t)
{
    struct slot *s = t->free_slots;
    if (s) {
        t->free_slots = s->next_free;
    } else {
        /* Only while more requests are in flight than ever before. */
        t->slots = xreallocarray(t->slots, t->n_slots + 1, sizeof(*t->slots));
        s = xcalloc(1, sizeof(*s));
        s->index = (uint32_t)t->n_slots;
        t->slots[t->n_slots++] = s;
    }
    s->busy = true;
    s->u.call = NULL;
    s->u.send_bb = s->u.recv_bb = NULL;
    return s;
}

static void slot_put(struct tctx *t, struct slot *s)
{
    s->busy = false;
    s->next_free = t->free_slots;
    t->free_slots = s;
}

static void deliver(struct tctx *t, struct slot *s, int error, const char *msg, uint64_t arrival,
                    uint64_t recv_ns)
{
    t->in_flight--;
    struct pa_client *c = t->c;
    if (t->closing || !c->on_response)
        return;
    struct pa_response r = {
        .tag = s->user_tag,
        .arrival_ns = arrival,
        .final = true,
        .error = error,
        .error_msg = error ? msg : NULL,
        .send_ns = s->send_ns,
        .recv_ns = recv_ns,
        .total_ns = clock_now_ns() - s->start_ns,
    };
    c->on_response(c->on_response_arg, &r);
}

/* -------------------------------------------------------------- data plane */

static int t_prepare(struct pa_client *c, const struct pa_infer_desc *desc,
                     struct pa_prepared **out, struct pa_err *err)
{
    struct pa_prepared *p = xcalloc(1, sizeof(*p));
    int rc = tfs_encode_predict(desc, c->opts->model_signature_name, &p->bytes, &p->len, err);
    if (rc != PA_OK) {
        free(p);
        return rc;
    }
    *out = p;
    return PA_OK;
}

static void t_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    (void)c;
    free(p->bytes);
    free(p);
}

static int t_submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                    struct pa_err *err)
{
    struct tctx *t = c->ctx;
    (void)err;
    struct slot *s = slot_get(t);
    s->user_tag = send->tag;
    s->start_ns = clock_now_ns();
    grpc_slice slice = grpc_slice_from_static_buffer(p->bytes, p->len);
    s->u.send_bb = grpc_raw_byte_buffer_create(&slice, 1);
    s->send_ns = clock_now_ns() - s->start_ns;
    t->in_flight++;

    grpc_call_error rc = gchan_call_start(&t->ch, &s->u, t->m_predict, s);
    if (rc != GRPC_CALL_OK) {
        snprintf(t->errbuf, sizeof(t->errbuf), "cannot start the Predict call: %s",
                 grpc_call_error_to_string(rc));
        gchan_call_release(&s->u);
        deliver(t, s, PA_EINTERNAL, t->errbuf, clock_now_ns(), 0);
        slot_put(t, s);
    }
    return PA_OK;
}

static void predict_done(struct tctx *t, struct slot *s)
{
    uint64_t t0 = clock_now_ns();
    int error = PA_OK;
    if (s->u.status != GRPC_STATUS_OK) {
        error = gchan_status(t->errbuf, sizeof(t->errbuf), s->u.status, s->u.details);
    } else if (!s->u.recv_bb) {
        snprintf(t->errbuf, sizeof(t->errbuf), "the server sent no PredictResponse");
        error = PA_EPROTO;
    }
    gchan_call_release(&s->u);
    deliver(t, s, error, t->errbuf, t0, clock_now_ns() - t0);
    slot_put(t, s);
}

static int t_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct tctx *t = c->ctx;
    (void)err;
    int delivered = 0;
    gpr_timespec deadline = gchan_deadline_ms(timeout_ms);
    for (;;) {
        if (t->in_flight == 0) {
            /* Nothing can arrive: honour a finite wait as a sleep, never block forever. */
            if (delivered == 0 && timeout_ms > 0)
                clock_sleep_ns((uint64_t)(unsigned)timeout_ms * NS_PER_MS);
            return delivered;
        }
        grpc_event ev = grpc_completion_queue_next(t->ch.cq, deadline, NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            return delivered;
        predict_done(t, ev.tag);
        delivered++;
        /* After the first event, only take what is already there. */
        deadline = gpr_time_0(GPR_CLOCK_MONOTONIC);
    }
}

static size_t t_in_flight(const struct pa_client *c)
{
    const struct tctx *t = c->ctx;
    return t->in_flight;
}

/* ------------------------------------------------------------ control plane */

static int metadata_reply(void *out, const unsigned char *p, size_t len, struct pa_err *err)
{
    return tfs_metadata_to_json(p, len, out, err);
}

static int t_model_metadata(struct pa_client *c, const char *name, const char *version,
                            cJSON **out, struct pa_err *err)
{
    struct tctx *t = c->ctx;
    unsigned char *body;
    size_t len;
    tfs_encode_metadata_request(name, version, &body, &len);
    return gchan_call_blocking(&t->ch, t->m_metadata, body, len, metadata_reply, out, err);
}

/* ------------------------------------------------------------ open / close */

static void t_close(struct pa_client *c);

static int t_open(struct pa_client *c, struct pa_err *err)
{
    struct tctx *t = xcalloc(1, sizeof(*t));
    t->c = c;
    c->ctx = t;
    /* No TLS: the original's TF Serving client has no SSL options. */
    int rc = gchan_open(&t->ch, c->opts, 0, err);
    if (rc == PA_OK)
        rc = gchan_connect(&t->ch, c->opts, err);
    if (rc != PA_OK) {
        t_close(c);
        return rc;
    }
    t->m_predict = grpc_channel_register_call(t->ch.channel, SVC "Predict", NULL, NULL);
    t->m_metadata = grpc_channel_register_call(t->ch.channel, SVC "GetModelMetadata", NULL, NULL);
    return PA_OK;
}

static void t_close(struct pa_client *c)
{
    struct tctx *t = c->ctx;
    if (!t)
        return;
    t->closing = true;
    if (t->ch.cq) {
        for (size_t i = 0; i < t->n_slots; i++) {
            if (t->slots[i]->busy && t->slots[i]->u.call)
                grpc_call_cancel(t->slots[i]->u.call, NULL);
        }
        while (t->in_flight > 0) {
            grpc_event ev = grpc_completion_queue_next(t->ch.cq, gchan_deadline_ms(CLOSE_GRACE_MS),
                                                       NULL);
            if (ev.type != GRPC_OP_COMPLETE)
                break; /* cancelled calls always complete; this is only a guard */
            predict_done(t, ev.tag);
        }
    }
    gchan_close(&t->ch);
    for (size_t i = 0; i < t->n_slots; i++)
        free(t->slots[i]);
    free(t->slots);
    free(t);
    c->ctx = NULL;
}

static const struct pa_client_ops tfs_ops = {
    .open = t_open,
    .close = t_close,
    .prepare = t_prepare,
    .prepared_free = t_prepared_free,
    .submit = t_submit,
    .poll = t_poll,
    .in_flight = t_in_flight,
    .model_metadata = t_model_metadata,
};

const struct pa_backend pa_backend_tfserving = {
    .name = "tfserving",
    .kind = "TENSORFLOW_SERVING",
    .flags = PA_BACKEND_MODEL_METADATA,
    .ops = &tfs_ops,
};
