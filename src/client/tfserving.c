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
 * The channel / call / completion-queue plumbing is a small copy of what
 * triton_grpc.c does (no shared gRPC helper header exists yet).
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/impl/codegen/compression_types.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "client/backends.h"
#include "client/tfs_codec.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define SVC "/tensorflow.serving.PredictionService/"
#define CLOSE_GRACE_MS 2000
/* GetModelMetadata gets a deadline, like triton_grpc.c's control calls (the
 * original sets none and hangs on a server that never answers); Predict
 * calls keep none, as in the original. */
#define CONTROL_TIMEOUT_MS 60000

struct slot {
    uint32_t index;
    bool busy;
    void *user_tag;
    grpc_call *call;
    grpc_byte_buffer *send_bb;
    grpc_byte_buffer *recv_bb;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    uint64_t start_ns, send_ns;
    struct slot *next_free;
};

struct tctx {
    struct pa_client *c;
    grpc_channel *channel;
    grpc_completion_queue *cq;      /* data plane */
    grpc_completion_queue *ctl_cq;  /* GetModelMetadata (pluck) */
    void *m_predict, *m_metadata;
    grpc_metadata *md;              /* -H headers, then the compression entry */
    size_t n_md_ctl, n_md_infer;
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

static int status_code(grpc_status_code s)
{
    return s == GRPC_STATUS_UNAVAILABLE ? PA_ECONN : PA_ESERVER;
}

/* The gRPC status message, as the original surfaces it. */
static void status_text(char *out, size_t n, grpc_status_code s, grpc_slice details)
{
    size_t len = GRPC_SLICE_LENGTH(details);
    if (len)
        snprintf(out, n, "%.*s", (int)(len < INT_MAX ? len : INT_MAX),
                 (const char *)GRPC_SLICE_START_PTR(details));
    else
        snprintf(out, n, "gRPC call failed with status %d", (int)s);
}

static gpr_timespec deadline_ms(int ms)
{
    if (ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

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
    s->call = NULL;
    s->send_bb = s->recv_bb = NULL;
    return s;
}

static void slot_put(struct tctx *t, struct slot *s)
{
    s->busy = false;
    s->next_free = t->free_slots;
    t->free_slots = s;
}

static void call_release(struct slot *s)
{
    if (s->send_bb)
        grpc_byte_buffer_destroy(s->send_bb);
    if (s->recv_bb)
        grpc_byte_buffer_destroy(s->recv_bb);
    s->send_bb = s->recv_bb = NULL;
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trail_md);
    grpc_slice_unref(s->details);
    if (s->call)
        grpc_call_unref(s->call);
    s->call = NULL;
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
    s->send_bb = grpc_raw_byte_buffer_create(&slice, 1);
    s->send_ns = clock_now_ns() - s->start_ns;
    t->in_flight++;

    s->call = grpc_channel_create_registered_call(t->channel, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                                  t->m_predict,
                                                  gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trail_md);
    s->details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = t->n_md_infer;
    ops[0].data.send_initial_metadata.metadata = t->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trail_md;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    grpc_call_error rc = grpc_call_start_batch(s->call, ops, 6, s, NULL);
    if (rc != GRPC_CALL_OK) {
        snprintf(t->errbuf, sizeof(t->errbuf), "cannot start the Predict call: %s",
                 grpc_call_error_to_string(rc));
        call_release(s);
        deliver(t, s, PA_EINTERNAL, t->errbuf, clock_now_ns(), 0);
        slot_put(t, s);
    }
    return PA_OK;
}

static void predict_done(struct tctx *t, struct slot *s)
{
    uint64_t t0 = clock_now_ns();
    int error = PA_OK;
    if (s->status != GRPC_STATUS_OK) {
        status_text(t->errbuf, sizeof(t->errbuf), s->status, s->details);
        error = status_code(s->status);
    } else if (!s->recv_bb) {
        snprintf(t->errbuf, sizeof(t->errbuf), "the server sent no PredictResponse");
        error = PA_EPROTO;
    }
    call_release(s);
    deliver(t, s, error, t->errbuf, t0, clock_now_ns() - t0);
    slot_put(t, s);
}

static int t_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct tctx *t = c->ctx;
    (void)err;
    int delivered = 0;
    gpr_timespec deadline = deadline_ms(timeout_ms);
    for (;;) {
        if (t->in_flight == 0) {
            /* Nothing can arrive: honour a finite wait as a sleep, never block forever. */
            if (delivered == 0 && timeout_ms > 0)
                clock_sleep_ns((uint64_t)(unsigned)timeout_ms * NS_PER_MS);
            return delivered;
        }
        grpc_event ev = grpc_completion_queue_next(t->cq, deadline, NULL);
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

/* Deadline of GetModelMetadata; PA_GRPC_CONTROL_TIMEOUT_MS overrides, as for Triton gRPC. */
static gpr_timespec control_deadline(void)
{
    const char *v = getenv("PA_GRPC_CONTROL_TIMEOUT_MS");
    char *end = NULL;
    long long ms = v && *v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || ms <= 0)
        ms = CONTROL_TIMEOUT_MS;
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static int t_model_metadata(struct pa_client *c, const char *name, const char *version,
                            cJSON **out, struct pa_err *err)
{
    struct tctx *t = c->ctx;
    unsigned char *body;
    size_t len;
    tfs_encode_metadata_request(name, version, &body, &len);
    grpc_slice slice = grpc_slice_new(body, len, free);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);

    grpc_call *call = grpc_channel_create_registered_call(
        t->channel, NULL, GRPC_PROPAGATE_DEFAULTS, t->ctl_cq, t->m_metadata, control_deadline(),
        NULL);
    grpc_metadata_array init_md, trail_md;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    grpc_byte_buffer *recv = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = t->n_md_ctl;
    ops[0].data.send_initial_metadata.metadata = t->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;

    int rc = PA_OK;
    int done_tag;
    grpc_call_error ce = grpc_call_start_batch(call, ops, 6, &done_tag, NULL);
    if (ce != GRPC_CALL_OK) {
        rc = pa_errorf(err, PA_EINTERNAL, "cannot start the gRPC call: %s",
                       grpc_call_error_to_string(ce));
    } else {
        grpc_event ev = grpc_completion_queue_pluck(t->ctl_cq, &done_tag,
                                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            rc = pa_errorf(err, PA_EINTERNAL, "the gRPC call did not complete");
        } else if (status != GRPC_STATUS_OK) {
            char msg[PA_ERR_MSG_MAX];
            status_text(msg, sizeof(msg), status, details);
            rc = pa_errorf(err, status_code(status), "%s", msg);
        } else {
            grpc_slice all = grpc_empty_slice();
            grpc_byte_buffer_reader r;
            if (recv && grpc_byte_buffer_reader_init(&r, recv)) {
                all = grpc_byte_buffer_reader_readall(&r);
                grpc_byte_buffer_reader_destroy(&r);
            }
            rc = tfs_metadata_to_json(GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), out, err);
            grpc_slice_unref(all);
        }
    }
    grpc_byte_buffer_destroy(send);
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_slice_unref(details);
    grpc_call_unref(call);
    return rc;
}

/* ------------------------------------------------------------ open / close */

static void t_close(struct pa_client *c);

/* The -H headers as call metadata (keys lower-cased, as gRPC requires) on
 * every call, plus the compression request on Predict calls. */
static int build_metadata(struct tctx *t, const struct pa_options *o, struct pa_err *err)
{
    t->md = xcalloc(o->n_headers + 1, sizeof(*t->md));
    for (size_t i = 0; i < o->n_headers; i++) {
        char *k = xstrdup(o->headers[i].name);
        for (char *p = k; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        t->md[i].key = grpc_slice_from_copied_string(k);
        t->md[i].value = grpc_slice_from_copied_string(o->headers[i].value);
        t->n_md_ctl = i + 1;
        free(k);
        if (!grpc_header_key_is_legal(t->md[i].key))
            return pa_errorf(err, PA_EINVAL, "'%s' is not a valid gRPC metadata key",
                             o->headers[i].name);
    }
    t->n_md_infer = t->n_md_ctl;
    if (o->grpc_compression != PA_COMPRESS_NONE) {
        t->md[t->n_md_infer].key =
            grpc_slice_from_static_string(GRPC_COMPRESSION_REQUEST_ALGORITHM_MD_KEY);
        t->md[t->n_md_infer].value = grpc_slice_from_static_string(
            o->grpc_compression == PA_COMPRESS_GZIP ? "gzip" : "deflate");
        t->n_md_infer++;
    }
    return PA_OK;
}

static int t_open(struct pa_client *c, struct pa_err *err)
{
    const struct pa_options *o = c->opts;
    grpc_init();
    struct tctx *t = xcalloc(1, sizeof(*t));
    t->c = c;
    c->ctx = t;
    int rc = build_metadata(t, o, err);
    if (rc != PA_OK) {
        t_close(c);
        return rc;
    }
    /* Like the Triton client, lift gRPC's default message size limits. */
    static char k_recv[] = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    static char k_send[] = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    grpc_arg args[2];
    memset(args, 0, sizeof(args));
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = k_recv;
    args[0].value.integer = INT_MAX;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = k_send;
    args[1].value.integer = INT_MAX;
    grpc_channel_args cargs = {.num_args = 2, .args = args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    t->channel = grpc_channel_create(o->url, creds, &cargs);
    grpc_channel_credentials_release(creds);
    t->cq = grpc_completion_queue_create_for_next(NULL);
    t->ctl_cq = grpc_completion_queue_create_for_pluck(NULL);
    t->m_predict = grpc_channel_register_call(t->channel, SVC "Predict", NULL, NULL);
    t->m_metadata = grpc_channel_register_call(t->channel, SVC "GetModelMetadata", NULL, NULL);
    return PA_OK;
}

static void t_close(struct pa_client *c)
{
    struct tctx *t = c->ctx;
    if (!t)
        return;
    t->closing = true;
    if (t->cq) {
        for (size_t i = 0; i < t->n_slots; i++) {
            if (t->slots[i]->busy && t->slots[i]->call)
                grpc_call_cancel(t->slots[i]->call, NULL);
        }
        while (t->in_flight > 0) {
            grpc_event ev = grpc_completion_queue_next(t->cq, deadline_ms(CLOSE_GRACE_MS), NULL);
            if (ev.type != GRPC_OP_COMPLETE)
                break; /* cancelled calls always complete; this is only a guard */
            predict_done(t, ev.tag);
        }
        grpc_completion_queue_shutdown(t->cq);
        while (grpc_completion_queue_next(t->cq, deadline_ms(-1), NULL).type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(t->cq);
    }
    if (t->ctl_cq) {
        grpc_completion_queue_shutdown(t->ctl_cq);
        while (grpc_completion_queue_pluck(t->ctl_cq, NULL, deadline_ms(-1), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(t->ctl_cq);
    }
    if (t->channel)
        grpc_channel_destroy(t->channel);
    for (size_t i = 0; i < t->n_md_ctl; i++) {
        grpc_slice_unref(t->md[i].key);
        grpc_slice_unref(t->md[i].value);
    }
    free(t->md);
    for (size_t i = 0; i < t->n_slots; i++)
        free(t->slots[i]);
    free(t->slots);
    free(t);
    c->ctx = NULL;
    grpc_shutdown();
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
