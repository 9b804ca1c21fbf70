/*
 * gRPC C-core plumbing shared by the Triton and TF Serving gRPC backends
 * (see grpc_chan.h). The two backends differ in their protocol, not in how
 * they talk to gRPC, so the channel, metadata, queues, the unary batch and
 * the status mapping live here once.
 *
 * Each unary call is one batch of all six ops. Control-plane calls wait on
 * their own `pluck` queue so that they never see data-plane events, and
 * carry a deadline (the original has none, so a server that never answers
 * hangs it at start-up); inference calls keep none, as in the original: a
 * stuck data plane shows up as empty measurement windows.
 */
#include "client/grpc_chan.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/impl/codegen/compression_types.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define CONTROL_TIMEOUT_MS 60000

/*
 * gRPC's default poller (epoll1) has one process-wide epoll set that one
 * thread at a time waits on: that thread reads whichever socket is ready,
 * then wakes the thread whose completion queue the event belongs to and
 * hands the poller role on. With one worker thread per connection that cost
 * about 3.5 context switches and 4 futex calls per request. The "poll"
 * engine polls a completion queue's own sockets from the thread that drives
 * it, which is exactly our threading: one context switch per request, like
 * the HTTP backend. gRPC reads the choice from GRPC_POLL_STRATEGY when it
 * initialises; a value the user set wins. The first client is opened on the
 * main thread before any worker exists, so setenv() races with no getenv().
 */
static pthread_once_t poll_once = PTHREAD_ONCE_INIT;

static void poll_setup(void)
{
    setenv("GRPC_POLL_STRATEGY", "poll", 0);
}

static int64_t control_timeout_ms(void)
{
    const char *v = getenv("PA_GRPC_CONTROL_TIMEOUT_MS");
    char *end;
    long long ms = v && *v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || ms <= 0)
        return CONTROL_TIMEOUT_MS;
    return ms;
}

int gchan_open(struct gchan *ch, const struct pa_options *o, unsigned flags, struct pa_err *err)
{
    if (flags & GCHAN_OWN_CONNECTION)
        pthread_once(&poll_once, poll_setup);
    grpc_init();
    ch->grpc_up = true;
    ch->flags = flags;
    ch->ctl_timeout_ms = control_timeout_ms();
    ch->md = xcalloc(o->n_headers + 1, sizeof(*ch->md));
    for (size_t i = 0; i < o->n_headers; i++) {
        char *k = xstrdup(o->headers[i].name);
        for (char *p = k; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        ch->md[i].key = grpc_slice_from_copied_string(k);
        ch->md[i].value = grpc_slice_from_copied_string(o->headers[i].value);
        ch->n_md_ctl = i + 1;
        free(k);
        if (!grpc_header_key_is_legal(ch->md[i].key))
            return pa_errorf(err, PA_EINVAL, "'%s' is not a valid gRPC metadata key",
                             o->headers[i].name);
    }
    ch->n_md_infer = ch->n_md_ctl;
    if (o->grpc_compression != PA_COMPRESS_NONE) {
        ch->md[ch->n_md_infer].key =
            grpc_slice_from_static_string(GRPC_COMPRESSION_REQUEST_ALGORITHM_MD_KEY);
        ch->md[ch->n_md_infer].value = grpc_slice_from_static_string(
            o->grpc_compression == PA_COMPRESS_GZIP ? "gzip" : "deflate");
        ch->n_md_infer++;
    }
    return PA_OK;
}

static char *read_file(const char *path, struct pa_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        pa_errorf(err, PA_EIO, "cannot open '%s'", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *s = xmalloc(cap);
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len <= 1)
            s = xrealloc(s, cap *= 2);
    }
    fclose(f);
    s[len] = '\0';
    return s;
}

static grpc_channel_credentials *make_creds(const struct pa_options *o, bool tls,
                                            struct pa_err *err)
{
    if (!tls || !o->ssl_grpc_use_ssl)
        return grpc_insecure_credentials_create();
    char *root = NULL, *key = NULL, *chain = NULL;
    grpc_channel_credentials *creds = NULL;
    if (o->ssl_grpc_root_certs && o->ssl_grpc_root_certs[0] &&
        !(root = read_file(o->ssl_grpc_root_certs, err)))
        goto out;
    if (o->ssl_grpc_private_key && o->ssl_grpc_private_key[0] &&
        !(key = read_file(o->ssl_grpc_private_key, err)))
        goto out;
    if (o->ssl_grpc_cert_chain && o->ssl_grpc_cert_chain[0] &&
        !(chain = read_file(o->ssl_grpc_cert_chain, err)))
        goto out;
    grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = chain};
    creds = grpc_ssl_credentials_create(root, key && chain ? &pair : NULL, NULL, NULL);
    if (!creds)
        pa_errorf(err, PA_EINVAL, "cannot create the gRPC SSL credentials");
out:
    free(root);
    free(key);
    free(chain);
    return creds;
}

int gchan_connect(struct gchan *ch, const struct pa_options *o, struct pa_err *err)
{
    grpc_channel_credentials *creds = make_creds(o, ch->flags & GCHAN_TLS, err);
    if (!creds)
        return err->code;
    /* The Triton client lifts gRPC's message size limits (spec 06 §2). With
     * GCHAN_OWN_CONNECTION each client gets its own connection: gRPC would
     * otherwise put every worker's channel on one shared socket, and the
     * worker that happens to read it must wake the others (see poll_setup). */
    static char k_recv[] = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    static char k_send[] = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    static char k_local[] = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    grpc_arg args[] = {
        {.type = GRPC_ARG_INTEGER, .key = k_recv, .value.integer = INT_MAX},
        {.type = GRPC_ARG_INTEGER, .key = k_send, .value.integer = INT_MAX},
        {.type = GRPC_ARG_INTEGER, .key = k_local, .value.integer = 1},
    };
    grpc_channel_args cargs = {.num_args = ch->flags & GCHAN_OWN_CONNECTION ? 3 : 2,
                               .args = args};
    ch->channel = grpc_channel_create(o->url, creds, &cargs);
    grpc_channel_credentials_release(creds);
    ch->cq = grpc_completion_queue_create_for_next(NULL);
    ch->ctl_cq = grpc_completion_queue_create_for_pluck(NULL);
    return PA_OK;
}

void gchan_close(struct gchan *ch)
{
    if (ch->cq) {
        grpc_completion_queue_shutdown(ch->cq);
        while (grpc_completion_queue_next(ch->cq, gchan_deadline_ms(-1), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(ch->cq);
    }
    if (ch->ctl_cq) {
        grpc_completion_queue_shutdown(ch->ctl_cq);
        while (grpc_completion_queue_pluck(ch->ctl_cq, NULL, gchan_deadline_ms(-1), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(ch->ctl_cq);
    }
    if (ch->channel)
        grpc_channel_destroy(ch->channel);
    for (size_t i = 0; i < ch->n_md_ctl; i++) {
        grpc_slice_unref(ch->md[i].key);
        grpc_slice_unref(ch->md[i].value);
    }
    free(ch->md);
    free(ch->rx);
    if (ch->grpc_up)
        grpc_shutdown();
    memset(ch, 0, sizeof(*ch));
}

static grpc_call_error start(struct gchan *ch, struct gchan_call *u, grpc_completion_queue *cq,
                             void *method, gpr_timespec deadline, size_t n_md, void *tag)
{
    u->call = grpc_channel_create_registered_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                                  method, deadline, NULL);
    grpc_metadata_array_init(&u->init_md);
    grpc_metadata_array_init(&u->trail_md);
    u->recv_bb = NULL;
    u->status = GRPC_STATUS_UNKNOWN;
    u->details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = n_md;
    ops[0].data.send_initial_metadata.metadata = ch->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = u->send_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &u->recv_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &u->trail_md;
    ops[5].data.recv_status_on_client.status = &u->status;
    ops[5].data.recv_status_on_client.status_details = &u->details;
    return grpc_call_start_batch(u->call, ops, 6, tag, NULL);
}

grpc_call_error gchan_call_start(struct gchan *ch, struct gchan_call *u, void *method, void *tag)
{
    return start(ch, u, ch->cq, method, gpr_inf_future(GPR_CLOCK_REALTIME), ch->n_md_infer, tag);
}

void gchan_call_release(struct gchan_call *u)
{
    if (u->send_bb)
        grpc_byte_buffer_destroy(u->send_bb);
    if (u->recv_bb)
        grpc_byte_buffer_destroy(u->recv_bb);
    u->send_bb = u->recv_bb = NULL;
    grpc_metadata_array_destroy(&u->init_md);
    grpc_metadata_array_destroy(&u->trail_md);
    grpc_slice_unref(u->details);
    if (u->call)
        grpc_call_unref(u->call);
    u->call = NULL;
}

int gchan_call_blocking(struct gchan *ch, void *method, unsigned char *body, size_t len,
                        gchan_reply_fn *reply, void *arg, struct pa_err *err)
{
    struct gchan_call u = {0};
    grpc_slice slice = grpc_slice_new(body, len, free);
    u.send_bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);

    int rc = PA_OK;
    int done_tag;
    grpc_call_error ce = start(ch, &u, ch->ctl_cq, method, gchan_deadline_ms(ch->ctl_timeout_ms),
                               ch->n_md_ctl, &done_tag);
    if (ce != GRPC_CALL_OK) {
        rc = pa_errorf(err, PA_EINTERNAL, "cannot start the gRPC call: %s",
                       grpc_call_error_to_string(ce));
    } else {
        grpc_event ev = grpc_completion_queue_pluck(ch->ctl_cq, &done_tag,
                                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            rc = pa_errorf(err, PA_EINTERNAL, "the gRPC call did not complete");
        } else if (u.status != GRPC_STATUS_OK) {
            char msg[PA_ERR_MSG_MAX];
            int code = gchan_status(msg, sizeof(msg), u.status, u.details);
            rc = pa_errorf(err, code, "%s", msg);
        } else if (reply) {
            size_t n = 0;
            const unsigned char *p =
                u.recv_bb ? gchan_bytes(ch, u.recv_bb, &n) : (const unsigned char *)"";
            rc = reply(arg, p, n, err);
        }
    }
    gchan_call_release(&u);
    return rc;
}

const unsigned char *gchan_bytes(struct gchan *ch, grpc_byte_buffer *bb, size_t *len)
{
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1) {
        /* By reference: an inlined slice keeps its bytes inside the struct. */
        const grpc_slice *s = &bb->data.raw.slice_buffer.slices[0];
        *len = GRPC_SLICE_LENGTH(*s);
        return GRPC_SLICE_START_PTR(*s);
    }
    size_t total = grpc_byte_buffer_length(bb);
    if (total > ch->rx_cap) {
        free(ch->rx);
        ch->rx_cap = total;
        ch->rx = xmalloc(total);
    }
    grpc_byte_buffer_reader r;
    size_t off = 0;
    if (grpc_byte_buffer_reader_init(&r, bb)) {
        grpc_slice s;
        while (grpc_byte_buffer_reader_next(&r, &s)) {
            size_t n = GRPC_SLICE_LENGTH(s);
            if (off + n > ch->rx_cap) { /* decompressed beyond the length estimate */
                ch->rx_cap = 2 * (off + n);
                ch->rx = xrealloc(ch->rx, ch->rx_cap);
            }
            memcpy(ch->rx + off, GRPC_SLICE_START_PTR(s), n);
            off += n;
            grpc_slice_unref(s);
        }
        grpc_byte_buffer_reader_destroy(&r);
    }
    *len = off;
    return ch->rx;
}

gpr_timespec gchan_deadline_ms(int64_t ms)
{
    if (ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

int gchan_status(char *out, size_t n, grpc_status_code s, grpc_slice details)
{
    return gchan_status_text(out, n, (int)s, (const char *)GRPC_SLICE_START_PTR(details),
                             GRPC_SLICE_LENGTH(details));
}

int gchan_status_text(char *out, size_t n, int status, const char *details, size_t len)
{
    if (len)
        snprintf(out, n, "%.*s", (int)(len < INT_MAX ? len : INT_MAX), details);
    else
        snprintf(out, n, "gRPC call failed with status %d", status);
    return status == GRPC_STATUS_UNAVAILABLE ? PA_ECONN : PA_ESERVER;
}
