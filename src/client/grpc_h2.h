/*
 * A lean HTTP/2 client for gRPC calls on one plain-text connection: unary
 * calls, and streams that carry many messages each way (ModelStreamInfer).
 * The inference data path of the Triton gRPC backend when no TLS and no
 * compression are asked for (gRPC core keeps the control plane, TLS and
 * compression).
 *
 * Why: gRPC core spends ~60 000 instructions per unary call on its call
 * machinery; this path frames the call itself (HPACK-encoded headers made
 * once per connection, DATA frames copied from the caller's segments, the
 * response and trailers decoded in place) and waits for answers in recv()
 * itself, so a call costs two system calls and a few thousand instructions.
 *
 * What it does of HTTP/2 (RFC 9113): the connection preface and settings,
 * flow control in both directions (we open our receive windows wide and
 * top the connection window up; we honour the server's windows and frame
 * size), PING and SETTINGS acknowledgements, GOAWAY and REFUSED_STREAM (the
 * calls the server never saw are sent again on a new connection, as gRPC's
 * transparent retry does), the server's concurrent-stream limit (calls
 * beyond it wait), and HPACK decoding (hpack.c). No TLS, no server push,
 * no priorities.
 *
 * One connection, one thread: every function runs on the thread that owns
 * the connection; completions are delivered from h2_poll(), or from
 * h2_call() itself when the call fails at once (no connection).
 */
#ifndef PA_CLIENT_GRPC_H2_H
#define PA_CLIENT_GRPC_H2_H

#include <stdbool.h>
#include <stddef.h>

/* A status no gRPC status is: the connection failed, message says how. */
#define H2_TRANSPORT_FAILURE 14 /* reported as UNAVAILABLE, as gRPC core does */

struct h2_conn;

/* One metadata entry sent with every call (lower-case key). */
struct h2_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* One piece of the request message; valid until the call completes. */
struct h2_segment {
    const void *data;
    size_t len;
};

/* How a call ended; valid only during the done callback. */
struct h2_result {
    int status;                 /* gRPC status code, 0 = OK */
    const char *message;        /* grpc-message, decoded, or the failure text */
    size_t message_len;
    const unsigned char *body;  /* the response message; NULL when none came */
    size_t body_len;
};

/* A unary call ended, or a stream did (then body is NULL). */
typedef void h2_done_fn(void *arg, void *tag, const struct h2_result *r);
/* One message a stream received; valid only during the call. */
typedef void h2_message_fn(void *arg, void *tag, const unsigned char *msg, size_t len);

/* Whether target is a plain "host:port" (or "[v6]:port") this client dials. */
bool h2_target_ok(const char *target);

/*
 * A connection to target for calls (or streams) of `path`, with the given
 * metadata; message is needed only for streams. Connects on the first call.
 * Never fails (allocation aborts).
 */
struct h2_conn *h2_open(const char *target, const char *path, const struct h2_header *md,
                        size_t n_md, h2_done_fn *done, h2_message_fn *message, void *arg);

/* Starts a unary call with the message made of segs; its bytes leave now. */
void h2_call(struct h2_conn *h, const struct h2_segment *segs, size_t n_segs, void *tag);

/*
 * Streams. A stream stays open until the server ends it (done is called
 * with its status) or the connection closes; it counts as one in flight
 * meanwhile. h2_stream_send copies the message made of segs, so they need
 * not outlive the call, and sends it as the windows allow. A stream is
 * never sent again after GOAWAY or REFUSED_STREAM: it fails.
 */
struct h2_stream;
struct h2_stream *h2_stream_open(struct h2_conn *h, void *tag);
void h2_stream_send(struct h2_conn *h, struct h2_stream *s, const struct h2_segment *segs,
                    size_t n_segs);

/*
 * Waits up to timeout_ms (< 0: no bound) for completions and delivers them.
 * Returns as soon as calls completed or stream messages arrived: how many.
 */
int h2_poll(struct h2_conn *h, int timeout_ms);

size_t h2_in_flight(const struct h2_conn *h);

/* Closes the connection; calls still in flight end without a callback. */
void h2_close(struct h2_conn *h);

#endif
