/*
 * libFuzzer target for our HTTP/2 gRPC client (src/client/grpc_h2.h): the
 * input is everything a server sends back on one connection.
 *
 * Each run: a listener on 127.0.0.1 (made once), h2_open + 1..3 unary
 * calls (byte 0 mod 3 + 1), or with byte 0 bit 2 one stream carrying that
 * many messages, accept, read what the client sent, write the
 * rest of the input as the server's bytes, then end the server's side. The
 * client must finish every call — with a response, a status or an error —
 * once the connection ends; connections it opens again (a GOAWAY or
 * REFUSED_STREAM retry) are accepted and closed at once. A call left
 * unfinished, a crash, a leak or undefined behavior is a bug.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/grpc_h2.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_POLLS 2000

static int listener = -1;
static char target[64];

static void listen_once(void)
{
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    check(listener >= 0 && bind(listener, (struct sockaddr *)&a, sizeof(a)) == 0 &&
          listen(listener, 64) == 0 &&
          getsockname(listener, (struct sockaddr *)&a, &len) == 0);
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    /* accept() never waits: the client's connect has completed when it is called. */
    check(fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK) == 0);
}

struct seen {
    int done;
    unsigned sum;
};

/* Reads every byte of the result so ASan sees a bad pointer or length. */
static void on_done(void *arg, void *tag, const struct h2_result *r)
{
    struct seen *s = arg;
    (void)tag;
    s->sum += touch(r->message, r->message_len);
    if (r->body)
        s->sum += touch(r->body, r->body_len);
    check(r->status >= 0);
    s->done++;
}

static void on_message(void *arg, void *tag, const unsigned char *msg, size_t len)
{
    struct seen *s = arg;
    (void)tag;
    s->sum += touch(msg, len);
}

/* Closes any connection the client opened again (a retry): it then fails. */
static void refuse_new(void)
{
    int fd;
    while ((fd = accept(listener, NULL, NULL)) >= 0)
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (listener < 0)
        listen_once();
    if (size < 1)
        return 0;
    int calls = 1 + data[0] % 3;
    bool streaming = data[0] & 4;
    data++;
    size--;

    struct seen seen = {0};
    struct h2_header md = {"x-fuzz", 6, "1", 1};
    struct h2_conn *h = h2_open(target, "/inference.GRPCInferenceService/ModelInfer", &md, 1,
                                on_done, on_message, &seen);
    static const unsigned char msg[] = {0x0a, 0x06, 's', 'i', 'm', 'p', 'l', 'e'};
    struct h2_segment seg = {msg, sizeof(msg)};
    struct h2_stream *st = streaming ? h2_stream_open(h, NULL) : NULL;
    for (int i = 0; i < calls; i++) {
        if (st)
            h2_stream_send(h, st, &seg, 1);
        else
            h2_call(h, &seg, 1, NULL);
    }

    int s = accept(listener, NULL, NULL);
    check(s >= 0);
    unsigned char sink[4096];
    while (recv(s, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
    for (size_t off = 0; off < size;) {
        ssize_t n = send(s, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the client gave up on the connection already */
        off += (size_t)n;
    }
    shutdown(s, SHUT_WR);

    for (int i = 0; i < MAX_POLLS && h2_in_flight(h) > 0; i++) {
        h2_poll(h, 5);
        refuse_new();
        while (recv(s, sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ;
    }
    check(h2_in_flight(h) == 0);
    check(seen.done == (streaming ? 1 : calls));
    h2_close(h);
    close(s);
    refuse_new();
    return 0;
}
