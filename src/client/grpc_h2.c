/*
 * HTTP/2 for gRPC unary calls and streams (see grpc_h2.h for what and why).
 *
 * Stream ids. A call gets the next free odd stream id whose slot in the table
 * (id / 2 modulo its size) is empty, so a frame finds its call in O(1);
 * skipping ids is allowed (RFC 9113 §5.1.1). Calls that cannot open a
 * stream yet (not connected, the server's stream limit, GOAWAY, ids used
 * up) wait in a FIFO and are started when they can be.
 *
 * Sending. A call's message is the 5-byte gRPC prefix plus the caller's
 * segments; DATA frames are cut from them as the stream and connection
 * windows and the server's frame size allow, copied into the output buffer
 * after the call's HEADERS, and the buffer is sent at once (MSG_DONTWAIT).
 * What the socket does not take is sent when it becomes writable; frames
 * the windows do not allow yet wait in the call (the `pending` FIFO) for a
 * WINDOW_UPDATE. A stream's messages are copied into the stream when sent
 * (its callers' buffers are recycled as soon as submit returns) and framed
 * from there the same way; a stream never sends END_STREAM: it lives until
 * the server ends it or the connection closes.
 *
 * Receiving. The socket is blocking: when nothing waits to be written,
 * h2_poll waits inside recv() with SO_RCVTIMEO as the bound (the timeout is
 * set again only when it changes), so a call costs one send and one recv.
 * Frames are parsed in the read buffer; DATA is appended to the call's
 * response, header blocks are decoded with the connection's HPACK decoder
 * (always, so that its dynamic table stays in step) and the call ends when
 * the server ends its stream. A stream's DATA is cut into gRPC messages as
 * they complete, each handed to the message callback.
 *
 * Failures. EOF or a socket error fails every call on the connection with
 * UNAVAILABLE ("Socket closed", or the error's text), as gRPC core reports
 * them; the next call connects again. A failed connect fails the call with
 * gRPC core's wording. Protocol errors from the server end the connection
 * the same way, with a text that names them.
 */
#include "client/grpc_h2.h"

#include <errno.h>
#include <grpc/grpc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/hpack.h"
#include "core/clock.h"
#include "core/sock.h"
#include "core/xalloc.h"

#include "core/banned.h"

enum frame_type {
    F_DATA = 0x0,
    F_HEADERS = 0x1,
    F_PRIORITY = 0x2,
    F_RST_STREAM = 0x3,
    F_SETTINGS = 0x4,
    F_PUSH_PROMISE = 0x5,
    F_PING = 0x6,
    F_GOAWAY = 0x7,
    F_WINDOW_UPDATE = 0x8,
    F_CONTINUATION = 0x9,
};

#define FL_END_STREAM 0x1
#define FL_ACK 0x1
#define FL_END_HEADERS 0x4
#define FL_PADDED 0x8
#define FL_PRIORITY 0x20

#define FRAME_HEAD 9
#define DEFAULT_WINDOW 65535
#define DEFAULT_FRAME 16384      /* also the largest frame we accept: we never raise it */
#define WIDE_WINDOW 0x7fffffff   /* the receive windows we open */
#define TOP_UP ((uint64_t)1 << 30) /* received bytes after which a window is topped up */
#define MAX_STREAM_ID 0x7fffffffu
#define MAX_HEADER_BLOCK ((size_t)1 << 20)
#define MAX_RESPONSE ((size_t)1 << 31) /* as the HTTP backend's largest response */
#define READ_ROOM 16384

enum { S_HEADER_TABLE_SIZE = 1, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE,
       S_MAX_FRAME_SIZE };

enum { E_NO_ERROR = 0x0, E_PROTOCOL = 0x1, E_FLOW_CONTROL = 0x3, E_FRAME_SIZE = 0x6,
       E_REFUSED_STREAM = 0x7, E_CANCEL = 0x8, E_COMPRESSION = 0x9, E_ENHANCE_YOUR_CALM = 0xb,
       E_INADEQUATE_SECURITY = 0xc };

/* gRPC status codes this file produces. */
enum { G_OK = 0, G_CANCELLED = 1, G_UNKNOWN = 2, G_PERMISSION_DENIED = 7,
       G_RESOURCE_EXHAUSTED = 8, G_UNIMPLEMENTED = 12, G_INTERNAL = 13, G_UNAVAILABLE = 14,
       G_UNAUTHENTICATED = 16 };

/* A growable byte array. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static unsigned char *bytes_room(struct bytes *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    return b->p + b->len;
}

static void bytes_put(struct bytes *b, const void *data, size_t n)
{
    if (n)
        memcpy(bytes_room(b, n), data, n);
    b->len += n;
}

struct call {
    uint32_t id;                /* stream id; 0 while waiting for one */
    void *tag;
    struct h2_segment *segs;    /* [0] is the gRPC prefix, then the caller's */
    size_t n_segs, cap_segs;
    size_t seg_i, seg_off;      /* send cursor */
    uint64_t left;              /* message bytes not framed yet */
    int64_t send_window;
    unsigned char prefix[5];
    bool pending;               /* in the pending FIFO */
    int http_status;            /* 0: no response headers yet */
    int grpc_status;            /* -1: none received */
    uint64_t recv_unacked;
    struct bytes data;          /* DATA payloads */
    struct bytes msg;           /* grpc-message as received */
    struct call *next;          /* the free list, the waiting FIFO or the pending FIFO */
    bool stream;                /* a stream (h2_stream_open): many messages each way */
    struct bytes pend;          /* a stream's messages not framed yet, from pend_off */
    size_t pend_off;
};

struct h2_conn {
    char *host, *port, *target;
    h2_done_fn *done;
    h2_message_fn *message;
    void *done_arg;
    struct bytes head_block;    /* the request's header block, encoded once */

    int fd;                     /* -1: not connected */
    unsigned gen;               /* bumped at every connect and failure */
    bool going_away;            /* GOAWAY received: no new streams here */
    uint32_t last_id;
    struct hpack_decoder dec;
    bool dec_live;
    int64_t conn_window;        /* what we may still send */
    int64_t initial_window;     /* the server's SETTINGS_INITIAL_WINDOW_SIZE */
    uint32_t max_frame;         /* the server's SETTINGS_MAX_FRAME_SIZE */
    uint32_t max_streams;       /* the server's SETTINGS_MAX_CONCURRENT_STREAMS */
    uint64_t recv_unacked;      /* connection-level bytes since our last top-up */
    int rcvtimeo_ms;            /* SO_RCVTIMEO in force (-1: none) */

    struct bytes out;           /* frames to send; out_off of them are sent */
    size_t out_off;
    struct bytes in;            /* bytes received, not yet parsed */
    struct bytes block;         /* a header block being assembled */
    uint32_t block_stream;
    bool block_end_stream, in_block;

    struct call **table;        /* active calls by (id / 2) & (table_cap - 1) */
    size_t table_cap, active;
    struct call *free_calls;
    struct call *wait_head, *wait_tail;
    struct call *pend_head, *pend_tail;
    size_t in_flight;
    int completed;              /* completions delivered in this h2_poll */
    char errbuf[512];
};

/* ---------------------------------------------------------------- helpers */

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void frame(struct h2_conn *h, size_t len, enum frame_type type, unsigned flags,
                  uint32_t id)
{
    unsigned char *p = bytes_room(&h->out, FRAME_HEAD);
    p[0] = (unsigned char)(len >> 16);
    p[1] = (unsigned char)(len >> 8);
    p[2] = (unsigned char)len;
    p[3] = (unsigned char)type;
    p[4] = (unsigned char)flags;
    put_u32(p + 5, id & MAX_STREAM_ID);
    h->out.len += FRAME_HEAD;
}

static void window_update(struct h2_conn *h, uint32_t id, uint64_t inc)
{
    unsigned char v[4];
    put_u32(v, (uint32_t)inc);
    frame(h, 4, F_WINDOW_UPDATE, 0, id);
    bytes_put(&h->out, v, 4);
}

static void rst_stream(struct h2_conn *h, uint32_t id, uint32_t code)
{
    unsigned char v[4];
    put_u32(v, code);
    frame(h, 4, F_RST_STREAM, 0, id);
    bytes_put(&h->out, v, 4);
}

/* ------------------------------------------------------------------ calls */

static struct call *call_get(struct h2_conn *h)
{
    struct call *c = h->free_calls;
    if (c)
        h->free_calls = c->next;
    else
        c = xcalloc(1, sizeof(*c));
    c->next = NULL;
    return c;
}

static void call_put(struct h2_conn *h, struct call *c)
{
    c->next = h->free_calls;
    h->free_calls = c;
}

/* Back to "not sent": a new call, a new stream, or a unary call sent again. */
static void call_reset_exchange(struct call *c)
{
    c->id = 0;
    c->seg_i = c->seg_off = 0;
    c->left = c->stream ? c->pend.len - c->pend_off
                        : get_u32(c->prefix + 1) + (uint64_t)sizeof(c->prefix);
    c->pending = false;
    c->http_status = 0;
    c->grpc_status = -1;
    c->recv_unacked = 0;
    c->data.len = 0;
    c->msg.len = 0;
}

static struct call **slot_of(struct h2_conn *h, uint32_t id)
{
    return &h->table[(id >> 1) & (h->table_cap - 1)];
}

static struct call *find(struct h2_conn *h, uint32_t id)
{
    if (!h->table_cap || !(id & 1))
        return NULL;
    struct call *c = *slot_of(h, id);
    return c && c->id == id ? c : NULL;
}

static void table_grow(struct h2_conn *h)
{
    size_t cap = h->table_cap ? h->table_cap * 2 : 64;
    struct call **t = xcalloc(cap, sizeof(*t));
    for (size_t i = 0; i < h->table_cap; i++) {
        struct call *c = h->table[i];
        if (c)
            t[(c->id >> 1) & (cap - 1)] = c; /* distinct slots stay distinct */
    }
    free(h->table);
    h->table = t;
    h->table_cap = cap;
}

static void fifo_push(struct call **head, struct call **tail, struct call *c)
{
    c->next = NULL;
    if (*tail)
        (*tail)->next = c;
    else
        *head = c;
    *tail = c;
}

static void fifo_remove(struct call **head, struct call **tail, struct call *c)
{
    struct call *prev = NULL;
    for (struct call *x = *head; x; prev = x, x = x->next) {
        if (x != c)
            continue;
        if (prev)
            prev->next = x->next;
        else
            *head = x->next;
        if (*tail == x)
            *tail = prev;
        x->next = NULL;
        return;
    }
}

/* Hands a finished call to the caller and frees it. */
static void finish(struct h2_conn *h, struct call *c, int status, const char *msg, size_t msg_len,
                   const unsigned char *body, size_t body_len)
{
    h->in_flight--;
    h->completed++;
    struct h2_result r = {.status = status, .message = msg ? msg : "",
                          .message_len = msg ? msg_len : 0, .body = body,
                          .body_len = body_len};
    void *tag = c->tag;
    /* Freed first: the callback may start a call, which may take this struct;
     * the result's bytes stay valid because a reused struct is only written
     * once its new call is sent, after the callback returns. */
    call_put(h, c);
    h->done(h->done_arg, tag, &r);
}

/* Takes an active call off its stream. */
static void detach(struct h2_conn *h, struct call *c)
{
    struct call **slot = slot_of(h, c->id);
    if (*slot == c) {
        *slot = NULL;
        h->active--;
    }
    if (c->pending) {
        fifo_remove(&h->pend_head, &h->pend_tail, c);
        c->pending = false;
    }
}

/* ------------------------------------------------------------- connection */

static void close_socket(struct h2_conn *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->gen++;
    if (h->dec_live)
        hpack_decoder_free(&h->dec);
    h->dec_live = false;
    h->out.len = h->out_off = 0;
    h->in.len = 0;
    h->block.len = 0;
    h->in_block = false;
    h->going_away = false;
}

/* The connection is gone: every call on it fails with UNAVAILABLE and `why`. */
static void conn_fail(struct h2_conn *h, const char *why)
{
    char text[sizeof(h->errbuf)];
    snprintf(text, sizeof(text), "%s", why);
    close_socket(h);
    /* Collected first: callbacks may start calls on a new connection. */
    struct call *failed = NULL;
    for (size_t i = 0; i < h->table_cap; i++) {
        struct call *c = h->table[i];
        if (!c)
            continue;
        h->table[i] = NULL;
        c->pending = false;
        c->next = failed;
        failed = c;
    }
    h->active = 0;
    h->pend_head = h->pend_tail = NULL;
    while (failed) {
        struct call *next = failed->next;
        finish(h, failed, G_UNAVAILABLE, text, strlen(text), NULL, 0);
        failed = next;
    }
}

/* Sends what the output buffer holds, as far as the socket takes it now. */
static void flush(struct h2_conn *h)
{
    while (h->fd >= 0 && h->out_off < h->out.len) {
        ssize_t n = send(h->fd, h->out.p + h->out_off, h->out.len - h->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            h->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_fail(h, n < 0 ? strerror(errno) : "Socket closed");
        return;
    }
    if (h->out_off == h->out.len)
        h->out.len = h->out_off = 0;
}

static void preface(struct h2_conn *h)
{
    static const char magic[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    bytes_put(&h->out, magic, sizeof(magic) - 1);
    unsigned char s[12];
    s[0] = 0;
    s[1] = S_ENABLE_PUSH;
    put_u32(s + 2, 0);
    s[6] = 0;
    s[7] = S_INITIAL_WINDOW_SIZE;
    put_u32(s + 8, WIDE_WINDOW);
    frame(h, sizeof(s), F_SETTINGS, 0, 0);
    bytes_put(&h->out, s, sizeof(s));
    window_update(h, 0, WIDE_WINDOW - DEFAULT_WINDOW);
}

/* Connects (blocking). False with h->errbuf set when no address answers. */
static bool conn_open(struct h2_conn *h)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(h->host, h->port, &hints, &res);
    if (rc != 0) {
        snprintf(h->errbuf, sizeof(h->errbuf),
                 "failed to connect to all addresses; last error: UNKNOWN: %s: %s", h->target,
                 gai_strerror(rc));
        return false;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        int e = errno;
        char host[INET6_ADDRSTRLEN] = "?", serv[8] = "?";
        getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV);
        bool v6 = a->ai_family == AF_INET6;
        snprintf(h->errbuf, sizeof(h->errbuf),
                 "failed to connect to all addresses; last error: UNKNOWN: %s:%s%s%s:%s: "
                 "Failed to connect to remote host: %s",
                 v6 ? "ipv6" : "ipv4", v6 ? "[" : "", host, v6 ? "]" : "", serv, strerror(e));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    h->fd = fd;
    h->gen++;
    h->rcvtimeo_ms = -1;
    h->last_id = 0;
    h->conn_window = DEFAULT_WINDOW;
    h->initial_window = DEFAULT_WINDOW;
    h->max_frame = DEFAULT_FRAME;
    h->max_streams = UINT32_MAX;
    h->recv_unacked = 0;
    hpack_decoder_init(&h->dec, HPACK_DEFAULT_TABLE_SIZE);
    h->dec_live = true;
    preface(h);
    return true;
}

/* -------------------------------------------------------------- sending */

/* Frames as much of the pending calls' messages as the windows allow. */
static void pump(struct h2_conn *h)
{
    struct call *c = h->pend_head;
    while (c && h->conn_window > 0) {
        struct call *next = c->next;
        while (c->left > 0 && c->send_window > 0 && h->conn_window > 0) {
            uint64_t chunk = c->left;
            if (chunk > (uint64_t)c->send_window)
                chunk = (uint64_t)c->send_window;
            if (chunk > (uint64_t)h->conn_window)
                chunk = (uint64_t)h->conn_window;
            if (chunk > h->max_frame)
                chunk = h->max_frame;
            /* A unary call's last DATA frame ends its stream; a stream stays open. */
            frame(h, (size_t)chunk, F_DATA, !c->stream && chunk == c->left ? FL_END_STREAM : 0,
                  c->id);
            unsigned char *to = bytes_room(&h->out, (size_t)chunk);
            h->out.len += (size_t)chunk;
            c->left -= chunk;
            c->send_window -= (int64_t)chunk;
            h->conn_window -= (int64_t)chunk;
            if (c->stream) {
                memcpy(to, c->pend.p + c->pend_off, (size_t)chunk);
                c->pend_off += (size_t)chunk;
                if (c->pend_off == c->pend.len)
                    c->pend.len = c->pend_off = 0;
                continue;
            }
            while (chunk > 0) {
                const struct h2_segment *s = &c->segs[c->seg_i];
                size_t take = s->len - c->seg_off;
                if (take > chunk)
                    take = (size_t)chunk;
                memcpy(to, (const unsigned char *)s->data + c->seg_off, take);
                to += take;
                chunk -= take;
                c->seg_off += take;
                if (c->seg_off == s->len) {
                    c->seg_i++;
                    c->seg_off = 0;
                }
            }
        }
        if (c->left == 0) {
            fifo_remove(&h->pend_head, &h->pend_tail, c);
            c->pending = false;
        }
        c = next;
    }
}

/* A free stream id whose table slot is empty, or 0 when ids are used up. */
static uint32_t next_id(struct h2_conn *h)
{
    if (h->active * 2 >= h->table_cap)
        table_grow(h);
    for (uint32_t id = h->last_id ? h->last_id + 2 : 1; id <= MAX_STREAM_ID && id > h->last_id;
         id += 2) {
        if (!*slot_of(h, id))
            return id;
    }
    return 0;
}

/* Opens the call's stream and frames it, or leaves it waiting. */
static bool start(struct h2_conn *h, struct call *c)
{
    if (h->fd < 0 || h->going_away || h->active >= h->max_streams)
        return false;
    uint32_t id = next_id(h);
    if (!id)
        return false;
    h->last_id = id;
    c->id = id;
    c->send_window = h->initial_window;
    *slot_of(h, id) = c;
    h->active++;
    size_t off = 0, left = h->head_block.len;
    do { /* HEADERS, then CONTINUATION frames if the block is larger than a frame */
        size_t n = left < h->max_frame ? left : h->max_frame;
        frame(h, n, off ? F_CONTINUATION : F_HEADERS, n == left ? FL_END_HEADERS : 0, id);
        bytes_put(&h->out, h->head_block.p + off, n);
        off += n;
        left -= n;
    } while (left > 0);
    c->pending = true;
    fifo_push(&h->pend_head, &h->pend_tail, c);
    return true;
}

/* Starts waiting calls while streams can be opened; connects when needed. */
static void admit(struct h2_conn *h)
{
    if (!h->wait_head)
        return;
    if (h->fd >= 0 && h->going_away && h->active == 0)
        close_socket(h); /* drained after GOAWAY: the rest go on a new connection */
    if (h->fd < 0 && !conn_open(h)) {
        char text[sizeof(h->errbuf)];
        snprintf(text, sizeof(text), "%s", h->errbuf);
        while (h->wait_head) {
            struct call *c = h->wait_head;
            h->wait_head = c->next;
            if (!h->wait_head)
                h->wait_tail = NULL;
            finish(h, c, G_UNAVAILABLE, text, strlen(text), NULL, 0);
        }
        return;
    }
    while (h->wait_head) {
        /* Off the waiting FIFO first: start() links the call into the pending one. */
        struct call *c = h->wait_head;
        h->wait_head = c->next;
        if (!h->wait_head)
            h->wait_tail = NULL;
        c->next = NULL;
        if (!start(h, c)) {
            c->next = h->wait_head;
            h->wait_head = c;
            if (!h->wait_tail)
                h->wait_tail = c;
            break;
        }
    }
    pump(h);
}

void h2_call(struct h2_conn *h, const struct h2_segment *segs, size_t n_segs, void *tag)
{
    struct call *c = call_get(h);
    if (c->cap_segs < n_segs + 1) {
        c->cap_segs = n_segs + 1;
        c->segs = xreallocarray(c->segs, c->cap_segs, sizeof(*c->segs));
    }
    uint64_t total = 0;
    c->segs[0] = (struct h2_segment){c->prefix, sizeof(c->prefix)};
    for (size_t i = 0; i < n_segs; i++) {
        c->segs[i + 1] = segs[i];
        total += segs[i].len;
    }
    c->n_segs = n_segs + 1;
    c->stream = false;
    c->prefix[0] = 0; /* not compressed */
    put_u32(c->prefix + 1, (uint32_t)total);
    c->tag = tag;
    call_reset_exchange(c);
    h->in_flight++;
    fifo_push(&h->wait_head, &h->wait_tail, c);
    admit(h);
    flush(h);
}

struct h2_stream *h2_stream_open(struct h2_conn *h, void *tag)
{
    struct call *c = call_get(h);
    c->stream = true;
    c->tag = tag;
    c->pend.len = c->pend_off = 0;
    call_reset_exchange(c);
    h->in_flight++;
    fifo_push(&h->wait_head, &h->wait_tail, c);
    return (struct h2_stream *)c;
}

void h2_stream_send(struct h2_conn *h, struct h2_stream *st, const struct h2_segment *segs,
                    size_t n_segs)
{
    struct call *c = (struct call *)st;
    uint64_t total = 0;
    for (size_t i = 0; i < n_segs; i++)
        total += segs[i].len;
    unsigned char prefix[5] = {0};
    put_u32(prefix + 1, (uint32_t)total);
    bytes_put(&c->pend, prefix, sizeof(prefix));
    for (size_t i = 0; i < n_segs; i++)
        bytes_put(&c->pend, segs[i].data, segs[i].len);
    c->left += sizeof(prefix) + total;
    if (c->id && !c->pending) {
        c->pending = true;
        fifo_push(&h->pend_head, &h->pend_tail, c);
    }
    /* May connect, and fail the stream at once (its callback runs here). */
    admit(h);
    pump(h);
    flush(h);
}

/* -------------------------------------------------------------- receiving */

/* The call's stream ended (END_STREAM): its result, from headers, data and trailers. */
static void on_stream_end(struct h2_conn *h, struct call *c)
{
    if (c->left > 0)
        rst_stream(h, c->id, E_NO_ERROR); /* answered before we sent everything: stop */
    detach(h, c);
    int status = c->grpc_status;
    const char *msg = (const char *)c->msg.p;
    size_t msg_len = c->msg.len;
    if (status < 0) {
        int hs = c->http_status;
        status = hs == 400   ? G_INTERNAL
                 : hs == 401 ? G_UNAUTHENTICATED
                 : hs == 403 ? G_PERMISSION_DENIED
                 : hs == 404 ? G_UNIMPLEMENTED
                 : hs == 429 || hs == 502 || hs == 503 || hs == 504 ? G_UNAVAILABLE
                 : hs && hs != 200 ? G_UNKNOWN
                                   : G_INTERNAL;
        if (hs && hs != 200)
            snprintf(h->errbuf, sizeof(h->errbuf), "Received http2 header with status: %d", hs);
        else
            snprintf(h->errbuf, sizeof(h->errbuf), "the server ended the call without a status");
        msg = h->errbuf;
        msg_len = strlen(h->errbuf);
    }
    const unsigned char *body = NULL;
    size_t body_len = 0;
    if (status == G_OK && c->data.len && !c->stream) {
        uint32_t n = c->data.len >= 5 ? get_u32(c->data.p + 1) : 0;
        if (c->data.len < 5 || c->data.len - 5 < n || c->data.p[0] != 0) {
            status = G_INTERNAL;
            snprintf(h->errbuf, sizeof(h->errbuf), "%s",
                     c->data.len >= 5 && c->data.p[0] ? "a compressed response was not asked for"
                                                      : "the response message is truncated");
            msg = h->errbuf;
            msg_len = strlen(h->errbuf);
        } else {
            body = c->data.p + 5;
            body_len = n;
        }
    }
    finish(h, c, status, msg, msg_len, body, body_len);
}

static int hex(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

struct field_sink {
    struct call *c; /* NULL: a block for no call of ours (decoded for the table only) */
};

static bool name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* A status code's value: its first few digits (bounded, so it cannot overflow). */
static int small_number(const char *s, size_t len)
{
    int v = 0;
    for (size_t i = 0; i < len && i < 4; i++)
        v = v * 10 + (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : 0);
    return v;
}

static void on_field(void *arg, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    struct call *c = ((struct field_sink *)arg)->c;
    if (!c)
        return;
    if (name_is(name, name_len, ":status")) {
        c->http_status = small_number(value, value_len);
    } else if (name_is(name, name_len, "grpc-status")) {
        c->grpc_status = small_number(value, value_len);
    } else if (name_is(name, name_len, "grpc-message")) {
        /* Percent-decoded (the gRPC spec's encoding of the status message). */
        c->msg.len = 0;
        unsigned char *to = bytes_room(&c->msg, value_len + 1);
        size_t n = 0;
        for (size_t i = 0; i < value_len; i++) {
            int hi, lo;
            if (value[i] == '%' && i + 2 < value_len && (hi = hex(value[i + 1])) >= 0 &&
                (lo = hex(value[i + 2])) >= 0) {
                to[n++] = (unsigned char)(hi << 4 | lo);
                i += 2;
            } else {
                to[n++] = (unsigned char)value[i];
            }
        }
        to[n] = 0;
        c->msg.len = n;
    }
}

static void on_header_block(struct h2_conn *h)
{
    struct field_sink sink = {find(h, h->block_stream)};
    if (hpack_decode(&h->dec, h->block.p, h->block.len, on_field, &sink) != 0) {
        conn_fail(h, "the server sent a header block that does not decode (HPACK)");
        return;
    }
    h->block.len = 0;
    h->in_block = false;
    if (sink.c && h->block_end_stream)
        on_stream_end(h, sink.c);
}

/* A frame's payload without its padding; false when the padding is bad. */
static bool unpad(unsigned flags, const unsigned char **p, size_t *len)
{
    if (!(flags & FL_PADDED))
        return true;
    if (*len < 1 || (*p)[0] >= *len)
        return false;
    size_t pad = (*p)[0];
    *p += 1;
    *len -= 1 + pad;
    return true;
}

static void on_settings(struct h2_conn *h, unsigned flags, const unsigned char *p, size_t len)
{
    if (flags & FL_ACK)
        return;
    if (len % 6) {
        conn_fail(h, "the server sent a malformed SETTINGS frame");
        return;
    }
    for (size_t i = 0; i < len; i += 6) {
        unsigned id = (unsigned)p[i] << 8 | p[i + 1];
        uint32_t v = get_u32(p + i + 2);
        if (id == S_INITIAL_WINDOW_SIZE) {
            if (v > WIDE_WINDOW) {
                conn_fail(h, "the server sent a flow-control window above 2^31-1");
                return;
            }
            int64_t delta = (int64_t)v - h->initial_window;
            h->initial_window = v;
            for (size_t k = 0; k < h->table_cap; k++)
                if (h->table[k])
                    h->table[k]->send_window += delta;
        } else if (id == S_MAX_FRAME_SIZE) {
            if (v < DEFAULT_FRAME || v > 0xffffff) {
                conn_fail(h, "the server sent an invalid SETTINGS_MAX_FRAME_SIZE");
                return;
            }
            h->max_frame = v;
        } else if (id == S_MAX_CONCURRENT_STREAMS) {
            h->max_streams = v;
        }
    }
    frame(h, 0, F_SETTINGS, FL_ACK, 0);
    pump(h);
}

static void on_goaway(struct h2_conn *h, const unsigned char *p, size_t len)
{
    if (len < 8) {
        conn_fail(h, "the server sent a malformed GOAWAY frame");
        return;
    }
    uint32_t last = get_u32(p) & MAX_STREAM_ID;
    h->going_away = true;
    /* Streams the server never processed go again on a new connection (gRPC's
     * transparent retry); in order, ahead of calls that were waiting anyway. */
    struct call *retry_head = NULL, *retry_tail = NULL, *gone = NULL;
    for (size_t i = 0; i < h->table_cap; i++) {
        struct call *c = h->table[i];
        if (!c || c->id <= last)
            continue;
        detach(h, c);
        if (c->stream) { /* its messages are sent already: it cannot be replayed */
            c->next = gone;
            gone = c;
            continue;
        }
        call_reset_exchange(c);
        fifo_push(&retry_head, &retry_tail, c);
    }
    if (retry_head) {
        retry_tail->next = h->wait_head;
        h->wait_head = retry_head;
        if (!h->wait_tail)
            h->wait_tail = retry_tail;
    }
    static const char why[] = "the server went away (GOAWAY) before processing the stream";
    while (gone) {
        struct call *next = gone->next;
        finish(h, gone, G_UNAVAILABLE, why, sizeof(why) - 1, NULL, 0);
        gone = next;
    }
}

static void on_rst_stream(struct h2_conn *h, struct call *c, uint32_t code)
{
    detach(h, c);
    if (code == E_REFUSED_STREAM && !c->http_status && !c->stream) {
        call_reset_exchange(c); /* never processed: sent again */
        fifo_push(&h->wait_head, &h->wait_tail, c);
        return;
    }
    int status = code == E_CANCEL                ? G_CANCELLED
                 : code == E_ENHANCE_YOUR_CALM   ? G_RESOURCE_EXHAUSTED
                 : code == E_INADEQUATE_SECURITY ? G_PERMISSION_DENIED
                 : code == E_REFUSED_STREAM      ? G_UNAVAILABLE
                                                 : G_INTERNAL;
    snprintf(h->errbuf, sizeof(h->errbuf), "Received RST_STREAM with error code %u", code);
    finish(h, c, status, h->errbuf, strlen(h->errbuf), NULL, 0);
}

/*
 * Hands a stream's complete messages to the caller, keeps a partial one.
 * False when the stream was ended (a compressed message we did not ask for).
 */
static bool stream_messages(struct h2_conn *h, struct call *c)
{
    size_t off = 0;
    while (c->data.len - off >= 5) {
        const unsigned char *m = c->data.p + off;
        uint32_t n = get_u32(m + 1);
        if (m[0] != 0) {
            rst_stream(h, c->id, E_CANCEL);
            detach(h, c);
            static const char why[] = "a compressed response was not asked for";
            finish(h, c, G_INTERNAL, why, sizeof(why) - 1, NULL, 0);
            return false;
        }
        if (c->data.len - off - 5 < n)
            break;
        h->completed++;
        unsigned gen = h->gen;
        h->message(h->done_arg, c->tag, m + 5, n);
        if (h->gen != gen)
            return false; /* the callback's send broke the connection: c is finished */
        off += 5 + (size_t)n;
    }
    if (off) {
        memmove(c->data.p, c->data.p + off, c->data.len - off);
        c->data.len -= off;
    }
    return true;
}

static void on_data(struct h2_conn *h, uint32_t id, unsigned flags, const unsigned char *p,
                    size_t len)
{
    size_t flow = len; /* padding counts against the windows too */
    h->recv_unacked += flow;
    if (h->recv_unacked >= TOP_UP) {
        window_update(h, 0, h->recv_unacked);
        h->recv_unacked = 0;
    }
    struct call *c = find(h, id);
    if (!c)
        return; /* a stream we reset or gave up */
    if (!unpad(flags, &p, &len)) {
        conn_fail(h, "the server sent a DATA frame with bad padding");
        return;
    }
    if (c->data.len + len > MAX_RESPONSE) {
        conn_fail(h, "the server sent a response larger than 2 GiB");
        return;
    }
    bytes_put(&c->data, p, len);
    c->recv_unacked += flow;
    if (c->recv_unacked >= TOP_UP && !(flags & FL_END_STREAM)) {
        window_update(h, id, c->recv_unacked);
        c->recv_unacked = 0;
    }
    if (c->stream && !stream_messages(h, c))
        return;
    if (flags & FL_END_STREAM)
        on_stream_end(h, c);
}

/* A fragment of a header block (HEADERS or CONTINUATION); decoded once complete. */
static void collect_block(struct h2_conn *h, unsigned flags, const unsigned char *p, size_t len)
{
    if (h->block.len + len > MAX_HEADER_BLOCK) {
        conn_fail(h, "the server sent a header block larger than 1 MiB");
        return;
    }
    bytes_put(&h->block, p, len);
    h->in_block = true;
    if (flags & FL_END_HEADERS)
        on_header_block(h);
}

static void on_frame(struct h2_conn *h, enum frame_type type, unsigned flags, uint32_t id,
                     const unsigned char *p, size_t len)
{
    if (h->in_block && (type != F_CONTINUATION || id != h->block_stream)) {
        conn_fail(h, "the server interrupted a header block");
        return;
    }
    switch (type) {
    case F_DATA:
        on_data(h, id, flags, p, len);
        return;
    case F_HEADERS:
        if (!unpad(flags, &p, &len) || ((flags & FL_PRIORITY) && len < 5)) {
            conn_fail(h, "the server sent a malformed HEADERS frame");
            return;
        }
        if (flags & FL_PRIORITY) {
            p += 5;
            len -= 5;
        }
        h->block.len = 0;
        h->block_stream = id;
        h->block_end_stream = flags & FL_END_STREAM;
        collect_block(h, flags, p, len);
        return;
    case F_CONTINUATION:
        if (!h->in_block) {
            conn_fail(h, "the server sent an unexpected CONTINUATION frame");
            return;
        }
        collect_block(h, flags, p, len);
        return;
    case F_RST_STREAM: {
        struct call *c = find(h, id);
        if (len != 4) {
            conn_fail(h, "the server sent a malformed RST_STREAM frame");
            return;
        }
        if (c)
            on_rst_stream(h, c, get_u32(p));
        return;
    }
    case F_SETTINGS:
        on_settings(h, flags, p, len);
        return;
    case F_PING:
        if (len != 8) {
            conn_fail(h, "the server sent a malformed PING frame");
            return;
        }
        if (!(flags & FL_ACK)) {
            frame(h, 8, F_PING, FL_ACK, 0);
            bytes_put(&h->out, p, 8);
        }
        return;
    case F_GOAWAY:
        on_goaway(h, p, len);
        return;
    case F_WINDOW_UPDATE: {
        if (len != 4) {
            conn_fail(h, "the server sent a malformed WINDOW_UPDATE frame");
            return;
        }
        uint32_t inc = get_u32(p) & MAX_STREAM_ID;
        if (id == 0) {
            h->conn_window += inc;
        } else {
            struct call *c = find(h, id);
            if (c)
                c->send_window += inc;
        }
        if (h->conn_window > WIDE_WINDOW) {
            conn_fail(h, "the server overflowed the flow-control window");
            return;
        }
        pump(h);
        return;
    }
    case F_PUSH_PROMISE:
        conn_fail(h, "the server sent PUSH_PROMISE, which we disabled");
        return;
    case F_PRIORITY:
    default:
        return; /* ignored, as RFC 9113 §5.5 asks for unknown types */
    }
}

/* Parses every complete frame in the input buffer. */
static void parse(struct h2_conn *h)
{
    unsigned gen = h->gen;
    size_t off = 0;
    while (h->in.len - off >= FRAME_HEAD) {
        const unsigned char *f = h->in.p + off;
        size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
        if (len > DEFAULT_FRAME) {
            conn_fail(h, "the server sent a frame larger than we allow");
            return;
        }
        if (h->in.len - off < FRAME_HEAD + len)
            break;
        on_frame(h, (enum frame_type)f[3], f[4], get_u32(f + 5) & MAX_STREAM_ID,
                 f + FRAME_HEAD, len);
        if (h->gen != gen)
            return; /* the connection failed (and maybe reopened): its bytes are gone */
        off += FRAME_HEAD + len;
    }
    if (off) {
        memmove(h->in.p, h->in.p + off, h->in.len - off);
        h->in.len -= off;
    }
}

/* One read and what it brings; nothing when the wait passed or was interrupted. */
static void read_some(struct h2_conn *h, bool block)
{
    bytes_room(&h->in, READ_ROOM);
    ssize_t n = recv(h->fd, h->in.p + h->in.len, h->in.cap - h->in.len, block ? 0 : MSG_DONTWAIT);
    if (n > 0) {
        h->in.len += (size_t)n;
        parse(h);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        conn_fail(h, n == 0 ? "Socket closed" : strerror(errno));
    }
}

/* Waits up to `wait` ms (< 0: unbounded) for the socket and serves it. */
static void wait_once(struct h2_conn *h, int wait)
{
    if (h->out_off < h->out.len || wait == 0 || !sock_recv_timeout(h->fd, &h->rcvtimeo_ms, wait)) {
        struct pollfd pfd = {.fd = h->fd,
                             .events = (short)(POLLIN | (h->out_off < h->out.len ? POLLOUT : 0))};
        int n = poll(&pfd, 1, wait);
        if (n <= 0)
            return;
        if (pfd.revents & POLLOUT)
            flush(h);
        if (h->fd >= 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
            read_some(h, false);
    } else {
        read_some(h, true);
    }
    if (h->fd >= 0)
        flush(h);
}

int h2_poll(struct h2_conn *h, int timeout_ms)
{
    h->completed = 0;
    admit(h);
    flush(h);
    if (h->completed)
        return h->completed;
    if (h->in_flight == 0 || h->fd < 0) {
        /* Nothing can arrive: honour a finite wait as a sleep, never block forever. */
        if (timeout_ms > 0)
            clock_sleep_ns((uint64_t)(unsigned)timeout_ms * NS_PER_MS);
        return 0;
    }
    uint64_t deadline = 0;
    int wait = timeout_ms;
    for (;;) {
        wait_once(h, wait);
        admit(h);
        if (h->fd >= 0)
            flush(h);
        if (h->completed || timeout_ms == 0 || h->in_flight == 0 || h->fd < 0)
            return h->completed;
        if (timeout_ms > 0) {
            /* Only a wake-up without a completion reads the clock. */
            uint64_t now = clock_now_ns();
            if (!deadline)
                deadline = now + (uint64_t)(unsigned)timeout_ms * NS_PER_MS;
            if (now >= deadline)
                return 0;
            uint64_t ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
            wait = ms > (uint64_t)timeout_ms ? timeout_ms : (int)ms;
        }
    }
}

size_t h2_in_flight(const struct h2_conn *h)
{
    return h->in_flight;
}

/* ---------------------------------------------------------- open / close */

bool h2_target_ok(const char *target)
{
    if (!target || !*target || strstr(target, "://") || strncmp(target, "dns:", 4) == 0 ||
        strncmp(target, "ipv4:", 5) == 0 || strncmp(target, "ipv6:", 5) == 0 ||
        strncmp(target, "unix:", 5) == 0 || strncmp(target, "unix-abstract:", 14) == 0 ||
        strncmp(target, "vsock:", 6) == 0)
        return false;
    const char *colon = strrchr(target, ':');
    if (!colon || colon == target || !colon[1])
        return false;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    if (target[0] == '[')
        return colon[-1] == ']';
    return memchr(target, ':', (size_t)(colon - target)) == NULL; /* bare IPv6 is ambiguous */
}

static void put_literal(struct bytes *b, unsigned index, const char *name, size_t name_len,
                        const char *value, size_t value_len)
{
    size_t n = hpack_encode_literal(NULL, 0, index, name, name_len, value, value_len);
    hpack_encode_literal(bytes_room(b, n), n, index, name, name_len, value, value_len);
    b->len += n;
}

struct h2_conn *h2_open(const char *target, const char *path, const struct h2_header *md,
                        size_t n_md, h2_done_fn *done, h2_message_fn *message, void *arg)
{
    struct h2_conn *h = xcalloc(1, sizeof(*h));
    h->fd = -1;
    h->done = done;
    h->message = message;
    h->done_arg = arg;
    h->target = xstrdup(target);
    const char *colon = strrchr(target, ':');
    const char *host = target;
    size_t host_len = (size_t)(colon - target);
    if (target[0] == '[') {
        host++;
        host_len -= 2;
    }
    h->host = xstrndup(host, host_len);
    h->port = xstrdup(colon + 1);

    /* Static table (RFC 7541 App. A): 3 ":method: POST", 6 ":scheme: http",
     * names 4 ":path", 1 ":authority", 31 "content-type", 58 "user-agent". */
    static const unsigned char method_post = 0x83, scheme_http = 0x86;
    bytes_put(&h->head_block, &method_post, 1);
    bytes_put(&h->head_block, &scheme_http, 1);
    put_literal(&h->head_block, 4, NULL, 0, path, strlen(path));
    put_literal(&h->head_block, 1, NULL, 0, target, strlen(target));
    put_literal(&h->head_block, 31, NULL, 0, "application/grpc", 16);
    put_literal(&h->head_block, 0, "te", 2, "trailers", 8);
    char ua[96];
    snprintf(ua, sizeof(ua), "grpc-c/%s (linux; chttp2)", grpc_version_string());
    put_literal(&h->head_block, 58, NULL, 0, ua, strlen(ua));
    for (size_t i = 0; i < n_md; i++)
        put_literal(&h->head_block, 0, md[i].name, md[i].name_len, md[i].value,
                    md[i].value_len);
    return h;
}

static void free_call(struct call *c)
{
    free(c->segs);
    free(c->data.p);
    free(c->msg.p);
    free(c->pend.p);
    free(c);
}

void h2_close(struct h2_conn *h)
{
    if (!h)
        return;
    close_socket(h);
    for (size_t i = 0; i < h->table_cap; i++)
        if (h->table[i])
            free_call(h->table[i]);
    for (struct call *c = h->wait_head, *next; c; c = next) {
        next = c->next;
        free_call(c);
    }
    for (struct call *c = h->free_calls, *next; c; c = next) {
        next = c->next;
        free_call(c);
    }
    free(h->table);
    free(h->out.p);
    free(h->in.p);
    free(h->block.p);
    free(h->head_block.p);
    free(h->host);
    free(h->port);
    free(h->target);
    free(h);
}
