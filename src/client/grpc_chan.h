/*
 * The gRPC C-core plumbing both gRPC backends (triton_grpc.c, tfserving.c)
 * need: a channel with its credentials and arguments, the -H headers as
 * call metadata, a data-plane completion queue, a blocking control-plane
 * call with its deadline, and the mapping of a call's status to our error
 * code and text. What is left to each backend is its own protocol: method
 * paths, messages, slots and what a response means.
 *
 * One struct gchan belongs to one client instance and is used only by the
 * thread that owns that client (STYLE.md §6). Generated protobuf types do
 * not appear here: requests and replies are plain bytes.
 *
 * Internal to src/client/.
 */
#ifndef PA_CLIENT_GRPC_CHAN_H
#define PA_CLIENT_GRPC_CHAN_H

#include <grpc/grpc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pa/status.h"

struct pa_options;

enum gchan_flags {
    /* Honour --ssl-grpc-* (otherwise the channel is always insecure). */
    GCHAN_TLS = 1 << 0,
    /*
     * One TCP connection per channel (local subchannel pool) and, on the
     * first open, GRPC_POLL_STRATEGY=poll unless the user set it: each
     * worker then polls its own socket (docs/internals/grpc.md).
     */
    GCHAN_OWN_CONNECTION = 1 << 1,
};

/* Backends read these fields; only grpc_chan.c writes them. */
struct gchan {
    grpc_channel *channel;
    grpc_completion_queue *cq;      /* data plane (next), driven by the backend's poll() */
    grpc_completion_queue *ctl_cq;  /* blocking control-plane calls (pluck) */
    grpc_metadata *md;              /* -H headers, then the compression request */
    size_t n_md_ctl;                /* entries sent on control-plane calls: the headers */
    size_t n_md_infer;              /* entries sent on inference calls and streams */
    int64_t ctl_timeout_ms;         /* control-plane deadline */
    unsigned flags;                 /* enum gchan_flags */
    bool grpc_up;                   /* grpc_init() done, grpc_shutdown() owed */
    unsigned char *rx;              /* gchan_bytes() copies; only grows */
    size_t rx_cap;
};

/* The state of one unary call; the caller embeds it and sets send_bb. */
struct gchan_call {
    grpc_call *call;
    grpc_byte_buffer *send_bb;
    grpc_byte_buffer *recv_bb;
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
};

/*
 * First half of opening: grpc_init() and the call metadata from o (keys
 * lower-cased, as gRPC requires; the compression request, when
 * --grpc-compression-algorithm is set, only in the n_md_infer entries).
 * ch must be zeroed. Reads PA_GRPC_CONTROL_TIMEOUT_MS (milliseconds; unset,
 * empty or invalid = 60 s). Errors: PA_EINVAL for a header name that is not
 * a legal gRPC key. Whatever the result, gchan_close() undoes it.
 */
PA_MUST_CHECK int gchan_open(struct gchan *ch, const struct pa_options *o, unsigned flags,
                             struct pa_err *err);

/*
 * Second half: credentials (GCHAN_TLS: the --ssl-grpc-* files' contents),
 * the channel to o->url without gRPC's message size limits, and the two
 * queues. Errors: PA_EIO for an unreadable certificate or key file,
 * PA_EINVAL when gRPC refuses the SSL credentials.
 */
PA_MUST_CHECK int gchan_connect(struct gchan *ch, const struct pa_options *o, struct pa_err *err);

/*
 * Destroys what gchan_open() and gchan_connect() made, in any state they
 * left (a zeroed ch is a no-op). The backend must first have collected
 * every call it started on ch->cq; leftover events are discarded.
 */
void gchan_close(struct gchan *ch);

/*
 * `method` below is a handle from grpc_channel_register_call() on
 * ch->channel, registered once at open.
 *
 * Starts a data-plane unary call on ch->cq with no deadline, as the
 * original: initial metadata (n_md_infer), u->send_bb, half-close and the
 * receive ops, all in one batch whose completion carries `tag`. Returns
 * gRPC's result; on failure u still needs gchan_call_release().
 */
grpc_call_error gchan_call_start(struct gchan *ch, struct gchan_call *u, void *method, void *tag);

/* Frees what a started call holds (buffers, metadata, details, the call). */
void gchan_call_release(struct gchan_call *u);

/* Takes a control-plane reply: its bytes are valid only during the call. */
typedef int gchan_reply_fn(void *arg, const unsigned char *p, size_t len, struct pa_err *err);

/*
 * One blocking unary call on the control plane with the control deadline
 * and the header metadata. body (malloc'ed, len bytes) is taken over. On
 * status OK, reply (when not NULL) gets the response bytes ("" when the
 * server sent none) and its result is returned. Errors: the status text
 * with gchan_status()'s code, or PA_EINTERNAL when gRPC cannot run the call.
 */
PA_MUST_CHECK int gchan_call_blocking(struct gchan *ch, void *method, unsigned char *body,
                                      size_t len, gchan_reply_fn *reply, void *arg,
                                      struct pa_err *err);

/*
 * A received message as contiguous bytes: the slice itself when there is
 * only one, else a copy in ch->rx. Valid until bb is destroyed and the
 * next gchan_bytes() on ch.
 */
const unsigned char *gchan_bytes(struct gchan *ch, grpc_byte_buffer *bb, size_t *len);

/* Monotonic deadline `ms` from now; infinite when ms < 0. */
gpr_timespec gchan_deadline_ms(int64_t ms);

/*
 * Writes the text of a failed call into out, as the original surfaces it
 * (the status message verbatim, or the code when there is none), and
 * returns our code for it: PA_ECONN for UNAVAILABLE, else PA_ESERVER.
 */
int gchan_status(char *out, size_t n, grpc_status_code s, grpc_slice details);
/* The same for a status and message that did not come through gRPC core (grpc_h2.c). */
int gchan_status_text(char *out, size_t n, int status, const char *details, size_t len);

#endif
