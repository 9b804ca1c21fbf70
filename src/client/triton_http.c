/*
 * Triton over HTTP (KServe v2 REST).
 *
 * Two paths with different needs:
 *
 *  - Control plane (metadata, config, statistics, shared memory, trace
 *    settings): one blocking curl easy handle per client, curl_easy_perform.
 *    Rare calls; libcurl does everything.
 *
 *  - Inference data path: our own HTTP/1.1 framing (http_wire.c) on
 *    kept-alive connections. libcurl only opens them (CURLOPT_CONNECT_ONLY:
 *    name resolution, proxies, TLS and every --ssl-https-* option stay
 *    libcurl's) and, for https, carries the bytes (curl_easy_send/recv).
 *    Plain http goes straight to the socket: one sendmsg() of the prepared
 *    head + body, recv() into the connection's buffer. libcurl's transfer
 *    machinery cost ~25 us of CPU per request (two extra poll() calls per
 *    request that cannot be turned off, header parsing, allocation); this
 *    path makes three system calls per request (sendmsg, epoll_wait, recv),
 *    two when the request is the client's only one in flight (sync mode:
 *    sendmsg, then a blocking recv), and no allocation after warm-up.
 *
 * One client instance = one worker thread = one epoll set. A request takes
 * an idle connection (or opens one: a blocking connect, only at warm-up or
 * after the server closed one) and its bytes leave inside submit(); poll()
 * waits in epoll_wait and completes responses. One request per connection
 * at a time (no pipelining), so a connection's state is the state of its
 * request. Connections stay registered for EPOLLIN while idle, so a server
 * that closes a kept-alive connection is noticed before it is used again;
 * if the close races with a new request and nothing of the response came
 * back, the request is sent again once on a new connection (as curl does).
 *
 * Timing (spec 06 §1.5): request start = submit() entry; send start = the
 * same instant on an open connection, else right after connecting (connect
 * time is in the total, not in send, as with libcurl); send end = once the
 * last byte is accepted; receive start = the first response bytes; receive
 * end = request end = the response is complete (head parsed, body framed).
 * Four clock reads per request.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli/options.h"
#include "client/backends.h"
#include "client/http_codec.h"
#include "client/http_wire.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/sock.h"
#include "core/json.h"
#include "core/xalloc.h"
#include "pa/client.h"
#include "core/banned.h"

#define USER_AGENT "libcurl-agent/1.0"
/* First size of a connection's receive buffer; it grows for larger responses. */
#define RBUF_INITIAL ((size_t)16 * 1024)
/* Largest response accepted (the old curl path had struct buf's 2 GiB limit). */
#define RBUF_MAX ((size_t)1 << 31)
#define MAX_EVENTS 64

struct http_ctx;

enum conn_state {
    C_CLOSED,      /* no socket (a spare) */
    C_IDLE,        /* connected, no request */
    C_SENDING,     /* request bytes still to write (waits for EPOLLOUT) */
    C_RECEIVING,   /* request written, response not complete */
};

/* One data-plane connection and the request on it. */
struct conn {
    struct http_ctx *ctx;
    enum conn_state state;
    CURL *easy;            /* owns the socket (CONNECT_ONLY); NULL when closed */
    int fd;
    bool reused;           /* carried a response before: the server may have closed it since */
    bool want_out;         /* EPOLLOUT is in the epoll set */
    int rcvtimeo_ms;       /* SO_RCVTIMEO in force for a blocking recv (-1: none) */
    struct conn *prev, *next; /* idle list (C_IDLE) or spare list (C_CLOSED) */

    /* The request. */
    const struct pa_prepared *p;
    void *tag;
    bool retried;          /* already sent again on a new connection */
    struct iovec iov[3];   /* what is left to send */
    struct iovec iov0[3];  /* the whole request, for a resend */
    int iov_n, iov_i;
    uint64_t t_start, t_send_start, t_send_end, t_recv_start;
    char *seq_head;        /* head of a sequence send (its lengths differ from p's) */
    size_t seq_head_cap;
    char prefix[HTTP_PREFIX_MAX];

    /* The response; valid in the callback, reset after it. */
    char *rbuf;
    size_t rlen, rcap;
    bool got_bytes;
    struct http_parser parser;
    cJSON *parsed;         /* lazily parsed JSON header (pa_client_output) */
    struct buf scratch;    /* JSON outputs converted to binary */
    char errmsg[PA_ERR_MSG_MAX];
};

struct http_ctx {
    const struct pa_options *opts;

    /* Data plane. */
    int epfd;
    char *connect_url;     /* -u with the scheme curl would assume */
    bool tls;              /* https: bytes go through curl_easy_send/recv */
    CURLSH *share;         /* DNS cache and TLS sessions shared by the connections */
    struct conn **conns;   /* every connection, for close() */
    size_t n_conns;
    struct conn *idle;     /* connected and free, most recently used first */
    struct conn *spare;    /* closed and free */
    size_t in_flight;
    struct conn *newest;   /* carries the latest request (maybe finished since) */
    uint64_t delivered;    /* responses handed to on_response so far */
    uint64_t last_ns;      /* the latest clock read of the data path (a lower bound of now) */
    struct pa_client *client;
    struct epoll_event events[MAX_EVENTS];

    /* Control plane. */
    CURL *ctl;
    struct buf ctl_resp;
    struct curl_slist *user_hdrs;
};

struct pa_prepared {
    struct http_body body;
    char *url;             /* control-plane style full URL (for messages) */
    struct http_head head; /* template: the two lengths are per send */
    char *full_head;       /* head of a send without sequence fields */
    size_t full_head_len;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool set(const char *s)
{
    return s && *s;
}

/* Options every handle gets: identity, no signals, SSL (spec 06 §1.4). */
static CURLcode setup_common(CURL *easy, const struct pa_options *opts)
{
    CURLcode rc = CURLE_OK;
#define S(opt, val)                                     \
    do {                                                \
        if (rc == CURLE_OK)                             \
            rc = curl_easy_setopt(easy, opt, val);      \
    } while (0)
    S(CURLOPT_NOSIGNAL, 1L);
    S(CURLOPT_USERAGENT, USER_AGENT);
    S(CURLOPT_DEFAULT_PROTOCOL, "http");
    S(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    S(CURLOPT_TCP_NODELAY, 1L);
    S(CURLOPT_SSL_VERIFYPEER, opts->ssl_https_verify_peer);
    S(CURLOPT_SSL_VERIFYHOST, opts->ssl_https_verify_host);
    if (set(opts->ssl_https_ca_certs))
        S(CURLOPT_CAINFO, opts->ssl_https_ca_certs);
    if (set(opts->ssl_https_client_cert)) {
        S(CURLOPT_SSLCERT, opts->ssl_https_client_cert);
        S(CURLOPT_SSLCERTTYPE, opts->ssl_https_client_cert_type == PA_CERT_DER ? "DER" : "PEM");
    }
    if (set(opts->ssl_https_private_key)) {
        S(CURLOPT_SSLKEY, opts->ssl_https_private_key);
        S(CURLOPT_SSLKEYTYPE, opts->ssl_https_private_key_type == PA_CERT_DER ? "DER" : "PEM");
    }
#undef S
    return rc;
}

static struct curl_slist *append_user_headers(struct curl_slist *list,
                                              const struct pa_options *opts)
{
    for (size_t i = 0; i < opts->n_headers; i++) {
        char *line = xasprintf("%s: %s", opts->headers[i].name, opts->headers[i].value);
        struct curl_slist *next = curl_slist_append(list, line);
        free(line);
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

/*
 * -u as libcurl reads it with CURLOPT_DEFAULT_PROTOCOL "http": without
 * "scheme:/" in front, "http://" is assumed ("localhost:8000" is a host and
 * a port, not a scheme).
 */
static char *absolute_url(const char *url)
{
    const char *s = url;
    if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
        while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
               (*s >= '0' && *s <= '9') || *s == '+' || *s == '-' || *s == '.')
            s++;
        if (s[0] == ':' && s[1] == '/')
            return xstrdup(url);
    }
    return xasprintf("http://%s", url);
}

/* ---- connections ---- */

static void list_push(struct conn **head, struct conn *cn)
{
    cn->prev = NULL;
    cn->next = *head;
    if (*head)
        (*head)->prev = cn;
    *head = cn;
}

static void list_unlink(struct conn **head, struct conn *cn)
{
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        *head = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    cn->prev = cn->next = NULL;
}

static void conn_close(struct conn *cn)
{
    if (cn->fd >= 0)
        epoll_ctl(cn->ctx->epfd, EPOLL_CTL_DEL, cn->fd, NULL);
    if (cn->easy)
        curl_easy_cleanup(cn->easy); /* closes the socket */
    cn->easy = NULL;
    cn->fd = -1;
    cn->want_out = false;
    cn->reused = false;
}

/* Opens the connection (blocking, libcurl). Returns CURLE_OK or why not. */
static CURLcode conn_open(struct conn *cn)
{
    struct http_ctx *ctx = cn->ctx;
    CURLcode rc = CURLE_FAILED_INIT;
    cn->easy = curl_easy_init();
    if (!cn->easy)
        return rc;
    rc = setup_common(cn->easy, ctx->opts);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(cn->easy, CURLOPT_URL, ctx->connect_url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(cn->easy, CURLOPT_CONNECT_ONLY, 1L);
    /* Through an HTTP proxy our bytes need a tunnel (CONNECT), not a proxy request. */
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(cn->easy, CURLOPT_HTTPPROXYTUNNEL, 1L);
    if (rc == CURLE_OK && ctx->share)
        rc = curl_easy_setopt(cn->easy, CURLOPT_SHARE, ctx->share);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(cn->easy);
    curl_socket_t s = CURL_SOCKET_BAD;
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(cn->easy, CURLINFO_ACTIVESOCKET, &s);
    if (rc == CURLE_OK && s == CURL_SOCKET_BAD)
        rc = CURLE_COULDNT_CONNECT;
    if (rc != CURLE_OK) {
        curl_easy_cleanup(cn->easy);
        cn->easy = NULL;
        return rc;
    }
    cn->fd = s;
    /*
     * A plain socket is made blocking so that a lone request can wait for
     * its answer inside recv() (see lone_receiver); every other call on it
     * passes MSG_DONTWAIT. TLS bytes go through libcurl, which needs its
     * socket non-blocking.
     */
    int fl = fcntl(s, F_GETFL);
    if (fl >= 0 && !ctx->tls)
        fcntl(s, F_SETFL, fl & ~O_NONBLOCK);
    cn->rcvtimeo_ms = -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cn};
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, s, &ev) != 0) {
        conn_close(cn);
        return CURLE_FAILED_INIT;
    }
    cn->reused = false;
    return CURLE_OK;
}

static void conn_free(struct conn *cn)
{
    if (!cn)
        return;
    conn_close(cn);
    free(cn->seq_head);
    free(cn->rbuf);
    cJSON_Delete(cn->parsed);
    buf_release(&cn->scratch);
    free(cn);
}

/* A free connection: an idle one, else a spare, else a new one (only at a new maximum). */
static struct conn *conn_take(struct http_ctx *ctx)
{
    struct conn *cn = ctx->idle;
    if (cn) {
        list_unlink(&ctx->idle, cn);
        return cn;
    }
    cn = ctx->spare;
    if (cn) {
        list_unlink(&ctx->spare, cn);
        return cn;
    }
    cn = xcalloc(1, sizeof(*cn));
    cn->ctx = ctx;
    cn->fd = -1;
    cn->state = C_CLOSED;
    cn->rcap = RBUF_INITIAL;
    cn->rbuf = xmalloc(cn->rcap);
    buf_init(&cn->scratch, 0);
    http_parser_reset(&cn->parser);
    ctx->conns = xreallocarray(ctx->conns, ctx->n_conns + 1, sizeof(*ctx->conns));
    ctx->conns[ctx->n_conns++] = cn;
    return cn;
}

/* Back to the idle list (socket open, reusable) or the spare list. */
static void conn_release(struct conn *cn)
{
    struct http_ctx *ctx = cn->ctx;
    if (cn->fd >= 0) {
        cn->state = C_IDLE;
        list_push(&ctx->idle, cn);
    } else {
        cn->state = C_CLOSED;
        list_push(&ctx->spare, cn);
    }
}

static void set_out(struct conn *cn, bool on)
{
    if (cn->want_out == on || cn->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? (uint32_t)EPOLLOUT : 0), .data.ptr = cn};
    epoll_ctl(cn->ctx->epfd, EPOLL_CTL_MOD, cn->fd, &ev);
    cn->want_out = on;
}

/* ---- completing a request ---- */

/* Hands the response on the connection to on_response; the connection is free afterwards. */
static void deliver(struct conn *cn, int error, const char *msg)
{
    struct http_ctx *ctx = cn->ctx;
    struct pa_client *c = ctx->client;
    uint64_t now = ctx->last_ns = clock_now_ns();
    if (!cn->t_send_end)
        cn->t_send_end = cn->t_recv_start ? cn->t_recv_start : now;
    struct pa_response r = {
        .tag = cn->tag,
        .arrival_ns = now,
        .final = true,
        .error = error,
        .error_msg = msg,
        .send_ns = cn->t_send_start ? cn->t_send_end - cn->t_send_start : 0,
        .recv_ns = cn->t_recv_start ? now - cn->t_recv_start : 0,
        .total_ns = now - cn->t_start,
        .backend_data = error ? NULL : cn,
    };
    /*
     * Free before the callback, so that a submit from it can use this very
     * connection; the response bytes stay untouched until its next recv,
     * which only poll() does, after the callback returned.
     */
    set_out(cn, false);
    conn_release(cn);
    ctx->in_flight--;
    ctx->delivered++;
    if (c->on_response)
        c->on_response(c->on_response_arg, &r);
    cn->rlen = 0;
    cn->got_bytes = false;
    http_parser_reset(&cn->parser);
    if (cn->parsed) {
        cJSON_Delete(cn->parsed);
        cn->parsed = NULL;
    }
}

/* A transport failure: "HTTP client failed: <curl's text for code>". */
static void fail(struct conn *cn, CURLcode code)
{
    snprintf(cn->errmsg, sizeof(cn->errmsg), "HTTP client failed: %s", curl_easy_strerror(code));
    conn_close(cn);
    deliver(cn, PA_ECONN, cn->errmsg);
}

static void start_request(struct conn *cn);

/*
 * The connection broke before the response was complete. A kept-alive
 * connection the server closed just as we reused it looks like this; if
 * nothing of the response arrived the request is sent once more on a new
 * connection (libcurl's rule too). Anything else is the request's error.
 */
static void broken(struct conn *cn, CURLcode code)
{
    bool again = cn->reused && !cn->retried && !cn->got_bytes;
    conn_close(cn);
    if (again) {
        cn->retried = true;
        start_request(cn);
        return;
    }
    fail(cn, code);
}

static void complete(struct conn *cn)
{
    const struct http_parser *hp = &cn->parser;
    bool keep = hp->keep_alive && hp->extra == 0 && cn->state == C_RECEIVING;
    if (keep)
        cn->reused = true;
    else
        conn_close(cn);
    if (hp->status == 200) {
        deliver(cn, PA_OK, NULL);
        return;
    }
    http_error_message(cn->rbuf + hp->body_off, hp->body_len, hp->json_len, hp->status,
                       cn->errmsg, sizeof(cn->errmsg));
    deliver(cn, PA_ESERVER, cn->errmsg);
}

/* ---- sending ---- */

/* Writes what is left of the request. Plain sockets: one sendmsg for head and body. */
static void do_send(struct conn *cn)
{
    for (;;) {
        ssize_t n;
        if (cn->ctx->tls) {
            size_t sent = 0;
            CURLcode rc = curl_easy_send(cn->easy, cn->iov[cn->iov_i].iov_base,
                                         cn->iov[cn->iov_i].iov_len, &sent);
            if (rc == CURLE_AGAIN) {
                n = -1;
                errno = EAGAIN;
            } else if (rc != CURLE_OK) {
                broken(cn, CURLE_SEND_ERROR);
                return;
            } else {
                n = (ssize_t)sent;
            }
        } else {
            struct msghdr mh = {.msg_iov = cn->iov + cn->iov_i,
                                .msg_iovlen = (size_t)(cn->iov_n - cn->iov_i)};
            n = sendmsg(cn->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out(cn, true); /* the rest goes when the socket can take it */
                return;
            }
            broken(cn, CURLE_SEND_ERROR);
            return;
        }
        size_t left = (size_t)n;
        while (cn->iov_i < cn->iov_n && left >= cn->iov[cn->iov_i].iov_len) {
            left -= cn->iov[cn->iov_i].iov_len;
            cn->iov_i++;
        }
        if (cn->iov_i == cn->iov_n) {
            cn->t_send_end = cn->ctx->last_ns = clock_now_ns();
            cn->state = C_RECEIVING;
            set_out(cn, false);
            return;
        }
        cn->iov[cn->iov_i].iov_base = (char *)cn->iov[cn->iov_i].iov_base + left;
        cn->iov[cn->iov_i].iov_len -= left;
    }
}

/*
 * Sends the request on the connection, opening it first when needed. On an
 * open connection the first byte leaves a few dozen instructions after
 * submit() was entered, so send start is that same clock read.
 */
static void start_request(struct conn *cn)
{
    if (cn->fd < 0) {
        CURLcode rc = conn_open(cn);
        if (rc != CURLE_OK) {
            fail(cn, rc);
            return;
        }
        if (!cn->t_send_start)
            cn->t_send_start = clock_now_ns();
    } else if (!cn->t_send_start) {
        cn->t_send_start = cn->t_start;
    }
    memcpy(cn->iov, cn->iov0, sizeof(cn->iov));
    cn->iov_i = 0;
    cn->state = C_SENDING;
    cn->ctx->newest = cn;
    do_send(cn);
}

/* ---- receiving ---- */

enum { IO_AGAIN = -1, IO_ERROR = -2 };

/*
 * Reads what the socket has: the byte count, 0 at EOF, IO_AGAIN or
 * IO_ERROR. With `wait` (plain sockets only) it blocks until bytes come or
 * the socket's SO_RCVTIMEO passes (IO_AGAIN).
 */
static ssize_t conn_recv(struct conn *cn, char *into, size_t cap, bool wait)
{
    for (;;) {
        if (cn->ctx->tls) {
            size_t got = 0;
            CURLcode rc = curl_easy_recv(cn->easy, into, cap, &got);
            if (rc == CURLE_AGAIN)
                return IO_AGAIN;
            return rc == CURLE_OK ? (ssize_t)got : IO_ERROR;
        }
        ssize_t n = recv(cn->fd, into, cap, wait ? 0 : MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_ERROR;
    }
}

/* The socket of an in-flight request is readable (or, with `wait`, soon will be). */
static void on_readable(struct conn *cn, bool wait)
{
    for (;; wait = false) {
        if (cn->rlen == cn->rcap) {
            /* Grows only for a response larger than any before on this connection. */
            size_t want = cn->rcap * 2;
            if (cn->parser.need > want)
                want = cn->parser.need;
            if (want > RBUF_MAX) {
                fail(cn, CURLE_FILESIZE_EXCEEDED);
                return;
            }
            cn->rbuf = xrealloc(cn->rbuf, want);
            cn->rcap = want;
        }
        ssize_t n = conn_recv(cn, cn->rbuf + cn->rlen, cn->rcap - cn->rlen, wait);
        if (n > 0) {
            if (!cn->got_bytes) {
                cn->got_bytes = true;
                cn->t_recv_start = clock_now_ns();
            }
            size_t room = cn->rcap - cn->rlen;
            cn->rlen += (size_t)n;
            enum http_parse_rc rc = http_parse(&cn->parser, cn->rbuf, &cn->rlen);
            if (rc == HTTP_DONE) {
                complete(cn);
                return;
            }
            if (rc == HTTP_BAD) {
                fail(cn, CURLE_WEIRD_SERVER_REPLY);
                return;
            }
            /*
             * A short read means the socket is empty: back to epoll
             * (level-triggered, it says when more comes). TLS may hold
             * decrypted bytes the socket no longer shows, so read on there.
             */
            if ((size_t)n < room && !cn->ctx->tls)
                return;
            continue;
        }
        if (n == IO_AGAIN)
            return;
        if (n == 0 && http_parse_eof(&cn->parser) == HTTP_DONE) {
            complete(cn);
            return;
        }
        broken(cn, n < 0 ? CURLE_RECV_ERROR
                         : cn->got_bytes ? CURLE_PARTIAL_FILE : CURLE_GOT_NOTHING);
        return;
    }
}

/* An idle connection is readable: the server closed it (or broke the protocol). */
static void on_idle_readable(struct conn *cn)
{
    char b[64];
    if (conn_recv(cn, b, sizeof(b), false) == IO_AGAIN)
        return;
    list_unlink(&cn->ctx->idle, cn);
    conn_close(cn);
    cn->state = C_CLOSED;
    list_push(&cn->ctx->spare, cn);
}

static void on_event(struct conn *cn, uint32_t ev)
{
    switch (cn->state) {
    case C_SENDING:
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            do_send(cn);
        /* An early answer (an error before the body was taken) ends the request too. */
        if (cn->state == C_SENDING && (ev & EPOLLIN))
            on_readable(cn, false);
        break;
    case C_RECEIVING:
        on_readable(cn, false);
        break;
    case C_IDLE:
        on_idle_readable(cn);
        break;
    case C_CLOSED:
        break; /* closed by an earlier event of this batch */
    }
}

/* ---- open / close ---- */

static void http_close(struct pa_client *c)
{
    struct http_ctx *ctx = c->ctx;
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->n_conns; i++)
        conn_free(ctx->conns[i]);
    free(ctx->conns);
    if (ctx->epfd >= 0)
        close(ctx->epfd);
    if (ctx->share)
        curl_share_cleanup(ctx->share);
    free(ctx->connect_url);
    if (ctx->ctl)
        curl_easy_cleanup(ctx->ctl);
    buf_release(&ctx->ctl_resp);
    curl_slist_free_all(ctx->user_hdrs);
    free(ctx);
    c->ctx = NULL;
}

static size_t on_ctl_body(char *ptr, size_t size, size_t n, void *userdata)
{
    struct buf *b = userdata;
    size_t len = size * n;
    return buf_append(b, ptr, len) == PA_OK ? len : 0;
}

/*
 * Control-plane calls (metadata, config, statistics, shared memory, trace)
 * give up after 60 s, or PA_HTTP_CONTROL_TIMEOUT_MS: the original waits
 * forever on a server that accepts but never answers. Inference requests
 * have no deadline, as in the original.
 */
#define CONTROL_TIMEOUT_MS 60000L

static long control_timeout_ms(void)
{
    const char *v = getenv("PA_HTTP_CONTROL_TIMEOUT_MS");
    char *end;
    long ms = v && *v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || ms <= 0)
        return CONTROL_TIMEOUT_MS;
    return ms;
}

static int http_open(struct pa_client *c, struct pa_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return pa_errorf(err, PA_EINTERNAL, "cannot initialize libcurl: %s",
                         curl_easy_strerror(curl_init_rc));

    struct http_ctx *ctx = xcalloc(1, sizeof(*ctx));
    c->ctx = ctx;
    ctx->opts = c->opts;
    ctx->client = c;
    buf_init(&ctx->ctl_resp, 0);
    ctx->connect_url = absolute_url(c->opts->url);
    ctx->tls = strncasecmp(ctx->connect_url, "https:", 6) == 0;

    ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->epfd < 0)
        goto fail;
    /* The client is single-threaded, so the share needs no lock callbacks. */
    ctx->share = curl_share_init();
    if (!ctx->share ||
        curl_share_setopt(ctx->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
        curl_share_setopt(ctx->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
        goto fail;

    if (c->opts->n_headers) {
        ctx->user_hdrs = append_user_headers(NULL, c->opts);
        if (!ctx->user_hdrs)
            goto fail;
    }
    ctx->ctl = curl_easy_init();
    if (!ctx->ctl || setup_common(ctx->ctl, c->opts) != CURLE_OK ||
        curl_easy_setopt(ctx->ctl, CURLOPT_TIMEOUT_MS, control_timeout_ms()) != CURLE_OK ||
        curl_easy_setopt(ctx->ctl, CURLOPT_WRITEFUNCTION, on_ctl_body) != CURLE_OK ||
        curl_easy_setopt(ctx->ctl, CURLOPT_WRITEDATA, &ctx->ctl_resp) != CURLE_OK)
        goto fail;
    return PA_OK;

fail:
    http_close(c);
    return pa_errorf(err, PA_EINTERNAL, "cannot set up the HTTP client for '%s'", c->opts->url);
}

/* ---- control plane ---- */


/*
 * One blocking request: GET when body is NULL, else POST of body. A 200
 * answer's JSON goes to *out when out is non-NULL; other answers become the
 * server's `error` text.
 */
static int ctl_call(struct http_ctx *ctx, const char *path, const char *body, bool user_headers,
                    cJSON **out, struct pa_err *err)
{
    char *url = xasprintf("%s%s", ctx->opts->url, path);
    CURL *h = ctx->ctl;
    CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, user_headers ? ctx->user_hdrs : NULL);
    if (rc == CURLE_OK && body) {
        rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    } else if (rc == CURLE_OK) {
        rc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    buf_reset(&ctx->ctl_resp);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h);
    free(url);
    if (rc != CURLE_OK)
        return pa_errorf(err, PA_ECONN, "HTTP client failed: %s", curl_easy_strerror(rc));

    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        char msg[PA_ERR_MSG_MAX];
        http_error_message(ctx->ctl_resp.data, ctx->ctl_resp.len, -1, status, msg, sizeof(msg));
        return pa_errorf(err, PA_ESERVER, "%s", msg);
    }
    if (!out)
        return PA_OK;
    *out = cJSON_ParseWithLength(ctx->ctl_resp.data ? ctx->ctl_resp.data : "",
                                 ctx->ctl_resp.len);
    if (!*out)
        return pa_errorf(err, PA_EPROTO, "failed to parse the response of '%s' as JSON", path);
    return PA_OK;
}

/* "/v2/models/<m>[/versions/<v>]" + suffix. */
static char *model_path(const char *name, const char *version, const char *suffix)
{
    if (version && *version)
        return xasprintf("/v2/models/%s/versions/%s%s", name, version, suffix);
    return xasprintf("/v2/models/%s%s", name, suffix);
}

static int http_server_metadata(struct pa_client *c, cJSON **out, struct pa_err *err)
{
    return ctl_call(c->ctx, "/v2", NULL, true, out, err);
}

static int http_model_get(struct pa_client *c, const char *name, const char *version,
                          const char *suffix, cJSON **out, struct pa_err *err)
{
    char *path = model_path(name, version, suffix);
    int rc = ctl_call(c->ctx, path, NULL, true, out, err);
    free(path);
    return rc;
}

static int http_model_metadata(struct pa_client *c, const char *name, const char *version,
                               cJSON **out, struct pa_err *err)
{
    return http_model_get(c, name, version, "", out, err);
}

static int http_model_config(struct pa_client *c, const char *name, const char *version,
                             cJSON **out, struct pa_err *err)
{
    return http_model_get(c, name, version, "/config", out, err);
}

static int http_model_statistics(struct pa_client *c, const char *name, const char *version,
                                 cJSON **out, struct pa_err *err)
{
    if (!name || !*name)
        return ctl_call(c->ctx, "/v2/models/stats", NULL, true, out, err);
    return http_model_get(c, name, version, "/stats", out, err);
}

static int http_trace_settings(struct pa_client *c, const cJSON *settings, struct pa_err *err)
{
    char *body = json_print(settings);
    /* The original sends this one without the -H headers (spec 06 §1). */
    int rc = ctl_call(c->ctx, "/v2/trace/setting", body, false, NULL, err);
    free(body);
    return rc;
}

static int post_json(struct pa_client *c, const char *path, cJSON *body, struct pa_err *err)
{
    char *text = json_print(body);
    cJSON_Delete(body);
    int rc = ctl_call(c->ctx, path, text, true, NULL, err);
    free(text);
    return rc;
}

static int http_register_system_shm(struct pa_client *c, const char *region, const char *key,
                                    uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "key", key);
    cJSON_AddNumberToObject(body, "offset", (double)offset);
    cJSON_AddNumberToObject(body, "byte_size", (double)byte_size);
    char *path = xasprintf("/v2/systemsharedmemory/region/%s/register", region);
    int rc = post_json(c, path, body, err);
    free(path);
    return rc;
}

static int http_register_cuda_shm(struct pa_client *c, const char *region, const void *raw_handle,
                                  size_t handle_size, int64_t device_id, uint64_t byte_size,
                                  struct pa_err *err)
{
    char *b64 = xmalloc(base64_encoded_len(handle_size) + 1);
    base64_encode(raw_handle, handle_size, b64);
    cJSON *body = cJSON_CreateObject();
    cJSON *raw = cJSON_AddObjectToObject(body, "raw_handle");
    cJSON_AddStringToObject(raw, "b64", b64);
    free(b64);
    cJSON_AddNumberToObject(body, "device_id", (double)device_id);
    cJSON_AddNumberToObject(body, "byte_size", (double)byte_size);
    char *path = xasprintf("/v2/cudasharedmemory/region/%s/register", region);
    int rc = post_json(c, path, body, err);
    free(path);
    return rc;
}

static int unregister(struct pa_client *c, const char *kind, const char *region,
                      struct pa_err *err)
{
    char *path = region ? xasprintf("/v2/%s/region/%s/unregister", kind, region)
                        : xasprintf("/v2/%s/unregister", kind);
    int rc = ctl_call(c->ctx, path, "", true, NULL, err);
    free(path);
    return rc;
}

static int http_unregister_system_shm(struct pa_client *c, const char *region,
                                      struct pa_err *err)
{
    return unregister(c, "systemsharedmemory", region, err);
}

static int http_unregister_cuda_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    return unregister(c, "cudasharedmemory", region, err);
}

/* ---- data plane ---- */

/*
 * The request line target and Host value of url, as libcurl would send
 * them (Host without the port when it is the scheme's default), plus an
 * Authorization line for credentials in the URL. Errors: PA_EINVAL.
 */
static int url_parts(const char *url, char **target, char **host, char **auth,
                     struct pa_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *port = NULL, *path = NULL, *query = NULL;
    char *user = NULL, *password = NULL;
    int rc = PA_OK;
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        rc = pa_errorf(err, PA_EINVAL, "cannot parse the URL '%s'", url);
        goto out;
    }
    bool https = strcasecmp(scheme, "https") == 0;
    if (!https && strcasecmp(scheme, "http") != 0) {
        rc = pa_errorf(err, PA_EINVAL, "unsupported URL scheme '%s' in '%s'", scheme, url);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    if (port && strcmp(port, https ? "443" : "80") != 0)
        *host = xasprintf("%s:%s", h, port);
    else
        *host = xstrdup(h);
    *target = query ? xasprintf("%s?%s", path, query) : xstrdup(path);
    *auth = NULL;
    if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PASSWORD, &password, CURLU_URLDECODE);
        char *cred = xasprintf("%s:%s", user, password ? password : "");
        size_t n = strlen(cred);
        char *b64 = xmalloc(base64_encoded_len(n) + 1);
        base64_encode(cred, n, b64);
        *auth = xasprintf("Authorization: Basic %s", b64);
        free(b64);
        free(cred);
    }
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return rc;
}

static void http_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    (void)c;
    if (!p)
        return;
    http_body_release(&p->body);
    http_head_release(&p->head);
    free(p->full_head);
    free(p->url);
    free(p);
}

static int http_prepare(struct pa_client *c, const struct pa_infer_desc *desc,
                        struct pa_prepared **out, struct pa_err *err)
{
    struct http_ctx *ctx = c->ctx;
    struct pa_prepared *p = xcalloc(1, sizeof(*p));
    int rc = http_encode_request(desc, c->opts->input_tensor_format,
                                 c->opts->output_tensor_format, &p->body, err);
    if (rc != PA_OK) {
        free(p);
        return rc;
    }
    char *path = model_path(desc->model_name, desc->model_version, "/infer");
    p->url = xasprintf("%s%s", ctx->connect_url, path);
    free(path);

    char *target = NULL, *host = NULL, *auth = NULL;
    rc = url_parts(p->url, &target, &host, &auth, err);
    if (rc != PA_OK) {
        http_prepared_free(c, p);
        return rc;
    }
    http_head_build(&p->head, target, host, auth, p->body.json_content, c->opts->headers,
                    c->opts->n_headers);
    free(target);
    free(host);
    free(auth);
    p->full_head = xmalloc(http_head_max(&p->head));
    p->full_head_len = http_head_write(p->full_head, &p->head, p->body.json_len, p->body.len);
    *out = p;
    return PA_OK;
}

static int http_submit(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                       struct pa_err *err)
{
    struct http_ctx *ctx = c->ctx;
    uint64_t t0 = ctx->last_ns = clock_now_ns();
    (void)err;
    struct conn *cn = conn_take(ctx);

    cn->p = p;
    cn->tag = send->tag;
    cn->retried = false;
    cn->t_start = t0;
    cn->t_send_start = cn->t_send_end = cn->t_recv_start = 0;
    if (send->sequence_id) {
        /* New prefix and lengths; the fixed part of the body is sent from p as it is. */
        size_t plen = http_encode_prefix(cn->prefix, send, p->body.no_outputs);
        size_t fixed = p->body.len - p->body.fixed_off;
        size_t max = http_head_max(&p->head);
        if (max > cn->seq_head_cap) {
            /* Grows only for a head longer than this connection ever sent. */
            free(cn->seq_head);
            cn->seq_head = xmalloc(max);
            cn->seq_head_cap = max;
        }
        size_t hlen = http_head_write(cn->seq_head, &p->head,
                                      p->body.json_len - p->body.fixed_off + plen, plen + fixed);
        cn->iov0[0] = (struct iovec){cn->seq_head, hlen};
        cn->iov0[1] = (struct iovec){cn->prefix, plen};
        cn->iov0[2] = (struct iovec){p->body.data + p->body.fixed_off, fixed};
        cn->iov_n = 3;
    } else {
        cn->iov0[0] = (struct iovec){p->full_head, p->full_head_len};
        cn->iov0[1] = (struct iovec){p->body.data, p->body.len};
        cn->iov_n = 2;
    }
    ctx->in_flight++;
    start_request(cn);
    return PA_OK;
}

static int ms_until(uint64_t deadline, uint64_t now)
{
    if (deadline <= now)
        return 0;
    uint64_t ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/*
 * The connection of the only request in flight, when that request waits for
 * its answer on a plain socket: every sync worker, and async ones with a
 * share of one. Such a wait happens in recv() itself instead of epoll_wait()
 * followed by recv(), one system call fewer per request. (Idle connections
 * closed by the server meanwhile are noticed by the next epoll_wait.)
 */
static struct conn *lone_receiver(const struct http_ctx *ctx)
{
    struct conn *cn = ctx->newest;
    if (ctx->tls || ctx->in_flight != 1 || !cn || cn->state != C_RECEIVING)
        return NULL;
    return cn;
}

/*
 * The usual call waits once and returns with a response, so it reads no
 * clock: the first wait gets the whole timeout, and only a wake-up without
 * a response (part of one arrived, an idle connection closed) bounds the
 * rest by a deadline counted from the last clock read before the call,
 * which can only make the call shorter than asked, never longer.
 */
static int http_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    struct http_ctx *ctx = c->ctx;
    uint64_t first = ctx->delivered;
    uint64_t span = timeout_ms > 0 ? (uint64_t)(unsigned)timeout_ms * NS_PER_MS : 0;

    if (ctx->in_flight == 0) {
        /* Nothing can arrive: honour a finite wait as a sleep, never block forever. */
        if (timeout_ms > 0)
            clock_sleep_ns(span);
        return 0;
    }
    uint64_t deadline = ctx->last_ns + span;
    int wait = timeout_ms;
    for (;;) {
        struct conn *lone = wait != 0 ? lone_receiver(ctx) : NULL;
        if (lone && sock_recv_timeout(lone->fd, &lone->rcvtimeo_ms, wait)) {
            on_readable(lone, true);
        } else {
            int n = epoll_wait(ctx->epfd, ctx->events, MAX_EVENTS, wait);
            if (n < 0) {
                if (errno == EINTR)
                    return (int)(ctx->delivered - first);
                return pa_errorf(err, PA_EIO, "epoll_wait failed: %s", strerror(errno));
            }
            for (int i = 0; i < n; i++)
                on_event(ctx->events[i].data.ptr, ctx->events[i].events);
        }
        if (ctx->delivered != first || timeout_ms == 0 || ctx->in_flight == 0)
            return (int)(ctx->delivered - first);
        if (timeout_ms > 0) {
            uint64_t now = clock_now_ns();
            if (now >= deadline)
                return 0;
            wait = ms_until(deadline, now);
        }
    }
}

static size_t http_in_flight(const struct pa_client *c)
{
    const struct http_ctx *ctx = c->ctx;
    return ctx->in_flight;
}

static int http_output(const struct pa_client *c, const struct pa_response *r, const char *name,
                       const void **data, size_t *byte_size, struct pa_err *err)
{
    (void)c;
    /* The response is read-only to callers, but the lazily parsed header is cached with it. */
    struct conn *cn = (struct conn *)(uintptr_t)r->backend_data;
    if (!cn || r->error)
        return pa_errorf(err, PA_EINVAL, "output '%s' requested from a failed response", name);
    const struct http_parser *hp = &cn->parser;
    return http_output_lookup(cn->rbuf + hp->body_off, hp->body_len, hp->json_len, &cn->parsed,
                              name, &cn->scratch, data, byte_size, err);
}

static const struct pa_client_ops http_ops = {
    .open = http_open,
    .close = http_close,
    .prepare = http_prepare,
    .prepared_free = http_prepared_free,
    .submit = http_submit,
    .poll = http_poll,
    .in_flight = http_in_flight,
    .server_metadata = http_server_metadata,
    .model_metadata = http_model_metadata,
    .model_config = http_model_config,
    .model_statistics = http_model_statistics,
    .trace_settings = http_trace_settings,
    .register_system_shm = http_register_system_shm,
    .register_cuda_shm = http_register_cuda_shm,
    .unregister_system_shm = http_unregister_system_shm,
    .unregister_cuda_shm = http_unregister_cuda_shm,
    .output = http_output,
};

const struct pa_backend pa_backend_triton_http = {
    .name = "triton-http",
    .kind = "TRITON",
    .flags = PA_BACKEND_ASYNC | PA_BACKEND_SYSTEM_SHM | PA_BACKEND_CUDA_SHM |
             PA_BACKEND_SERVER_STATS | PA_BACKEND_MODEL_METADATA,
    .ops = &http_ops,
};
