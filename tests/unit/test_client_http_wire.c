/*
 * HTTP/1.1 framing of the inference data path (src/client/http_wire.c):
 * request heads byte for byte, and the incremental response parser fed the
 * way a socket delivers bytes (all at once, one byte at a time, split at
 * every position), including chunked bodies, interim responses, keep-alive
 * rules and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/http_wire.h"

#define W(lit) ((char[]){lit})

/* ================= request heads ================= */

static void test_head_plain(void **state)
{
    (void)state;
    struct http_head h;
    http_head_build(&h, "/v2/models/simple/infer", "127.0.0.1:8000", NULL, false, NULL, 0);
    char out[512];
    assert_true(http_head_max(&h) <= sizeof(out));
    size_t n = http_head_write(out, &h, 123, 4567);
    const char *want = "POST /v2/models/simple/infer HTTP/1.1\r\n"
                       "Host: 127.0.0.1:8000\r\n"
                       "User-Agent: libcurl-agent/1.0\r\n"
                       "Accept: */*\r\n"
                       "Inference-Header-Content-Length: 123\r\n"
                       "Content-Type: application/octet-stream\r\n"
                       "Content-Length: 4567\r\n\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    /* The largest numbers still fit in http_head_max. */
    n = http_head_write(out, &h, SIZE_MAX, SIZE_MAX);
    assert_true(n <= http_head_max(&h));
    http_head_release(&h);
    assert_null(h.a);
}

static void test_head_user_headers(void **state)
{
    (void)state;
    struct pa_header hdrs[] = {
        {W("Accept"), W("")},               /* removes the built-in line */
        {W("Content-Length"), W("1")},      /* never sent: the framing is ours */
        {W("Host"), W("example.com")},      /* replaces the built-in Host */
        {W("User-Agent"), W("me/2")},       /* replaces it, sent with the -H lines */
        {W("X-Key"), W("a b")},
    };
    struct http_head h;
    http_head_build(&h, "/p?q=1", "h", "Authorization: Basic dTpw", true, hdrs, 5);
    char out[512];
    size_t n = http_head_write(out, &h, 0, 0);
    const char *want = "POST /p?q=1 HTTP/1.1\r\n"
                       "Host: example.com\r\n"
                       "Authorization: Basic dTpw\r\n"
                       "Inference-Header-Content-Length: 0\r\n"
                       "Content-Type: application/json\r\n"
                       "User-Agent: me/2\r\n"
                       "X-Key: a b\r\n"
                       "Content-Length: 0\r\n\r\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    http_head_release(&h);
}

/* ================= response parser ================= */

/* Parses text delivered in pieces of `step` bytes (0 = all at once) into a buffer of cap. */
static enum http_parse_rc feed(struct http_parser *p, const char *text, size_t len, size_t step,
                               char *buf, size_t *blen)
{
    http_parser_reset(p);
    *blen = 0;
    enum http_parse_rc rc = HTTP_MORE;
    size_t off = 0;
    while (off < len && rc == HTTP_MORE) {
        size_t n = step && step < len - off ? step : len - off;
        memcpy(buf + *blen, text + off, n);
        *blen += n;
        off += n;
        rc = http_parse(p, buf, blen);
    }
    return rc;
}

/* The response parses the same whatever the delivery: whole, byte by byte, split anywhere. */
static void parses_to(const char *text, int status, const char *body, size_t body_len,
                      long json_len, bool keep_alive)
{
    size_t len = strlen(text);
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    for (size_t step = 0; step <= len; step = step ? step + 1 : 1) {
        struct http_parser p;
        size_t blen;
        enum http_parse_rc rc = feed(&p, text, len, step, buf, &blen);
        if (rc != HTTP_DONE)
            fail_msg("step %zu: rc %d (%s)", step, (int)rc, p.error ? p.error : "");
        assert_int_equal(p.status, status);
        assert_int_equal(p.body_len, body_len);
        assert_memory_equal(buf + p.body_off, body, body_len);
        assert_int_equal(p.json_len, json_len);
        assert_int_equal(p.keep_alive, keep_alive);
        assert_int_equal(p.extra, 0);
        if (step > 16)
            step = len; /* byte-level splits are covered; one more whole run ends the loop */
    }
    free(buf);
}

static void test_parse_content_length(void **state)
{
    (void)state;
    parses_to("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
              "Inference-Header-Content-Length: 5\r\nContent-Length: 9\r\n\r\n{\"a\":1}\x01\x02",
              200, "{\"a\":1}\x01\x02", 9, 5, true);
    /* Header names in any case, values with blanks around, no reason phrase. */
    parses_to("HTTP/1.1 400\r\ncontent-LENGTH:  3 \r\nX-Other: y\r\n\r\nabc", 400, "abc", 3, -1,
              true);
    /* Empty body. */
    parses_to("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "", 0, -1, true);
    parses_to("HTTP/1.1 204 No Content\r\n\r\n", 204, "", 0, -1, true);
}

static void test_parse_keep_alive_rules(void **state)
{
    (void)state;
    parses_to("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", 200, "x", 1,
              -1, false);
    parses_to("HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\nContent-Length: 1\r\n\r\nx", 200,
              "x", 1, -1, false);
    parses_to("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, "x", 1, -1, false);
    parses_to("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", 200,
              "x", 1, -1, true);
}

static void test_parse_chunked(void **state)
{
    (void)state;
    parses_to("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
              "Inference-Header-Content-Length: 4\r\n\r\n"
              "4\r\n{\"\"}\r\n"
              "A;ext=1\r\n0123456789\r\n"
              "1\r\n!\r\n"
              "0\r\nX-Trailer: a\r\nY-Trailer: b\r\n\r\n",
              200, "{\"\"}0123456789!", 15, 4, true);
    /* Chunked wins over Content-Length; no trailer. */
    parses_to("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
              "3\r\nabc\r\n0\r\n\r\n",
              200, "abc", 3, -1, true);
    parses_to("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, "", 0, -1,
              true);
}

static void test_parse_interim(void **state)
{
    (void)state;
    parses_to("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
              200, "ok", 2, -1, true);
}

static void test_parse_until_close(void **state)
{
    (void)state;
    const char text[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
    char buf[128];
    size_t blen;
    struct http_parser p;
    assert_int_equal(feed(&p, text, strlen(text), 3, buf, &blen), HTTP_MORE);
    assert_false(p.keep_alive);
    assert_int_equal(http_parse_eof(&p), HTTP_DONE);
    assert_int_equal(p.body_len, 9);
    assert_memory_equal(buf + p.body_off, "all of it", 9);

    /* EOF anywhere else is an error. */
    const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    assert_int_equal(feed(&p, cut, strlen(cut), 0, buf, &blen), HTTP_MORE);
    assert_int_equal(p.need, strlen(cut) - 3 + 10);
    assert_int_equal(http_parse_eof(&p), HTTP_BAD);
    http_parser_reset(&p);
    assert_int_equal(http_parse_eof(&p), HTTP_BAD);
    assert_string_equal(p.error, "connection closed before the response");
}

static void test_parse_extra_bytes(void **state)
{
    (void)state;
    const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1";
    char buf[128];
    size_t blen;
    struct http_parser p;
    assert_int_equal(feed(&p, text, strlen(text), 0, buf, &blen), HTTP_DONE);
    assert_int_equal(p.body_len, 2);
    assert_int_equal(p.extra, 8);
}

static void bad_response(const char *text, const char *why)
{
    char buf[256];
    size_t blen;
    struct http_parser p;
    assert_int_equal(feed(&p, text, strlen(text), 0, buf, &blen), HTTP_BAD);
    assert_string_equal(p.error, why);
}

static void test_parse_malformed(void **state)
{
    (void)state;
    bad_response("SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP response");
    bad_response("HTTP/2 200\r\n\r\n", "malformed status line");
    bad_response("HTTP/1.1 2x0 OK\r\n\r\n", "malformed status line");
    bad_response("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length");
    bad_response("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                 "bad Content-Length");
    bad_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 "bad chunk size");
    bad_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
                 "bad chunk framing");
    bad_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "1000000000000000\r\n",
                 "chunk too large");

    /* A head that never ends is refused once it passes the limit. */
    size_t len = HTTP_HEAD_MAX + 64;
    char *big = malloc(len);
    assert_non_null(big);
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memset(big + 17, 'x', len - 17);
    struct http_parser p;
    http_parser_reset(&p);
    size_t blen = len;
    assert_int_equal(http_parse(&p, big, &blen), HTTP_BAD);
    assert_string_equal(p.error, "response header too large");
    free(big);
}

/* A chunked body larger than the first buffer: need says how far to grow. */
static void test_parse_chunked_need(void **state)
{
    (void)state;
    char buf[4096];
    const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n";
    struct http_parser p;
    size_t blen;
    assert_int_equal(feed(&p, head, strlen(head), 0, buf, &blen), HTTP_MORE);
    /* The framing is gone: only the (empty so far) body is in the buffer. */
    assert_int_equal(blen, p.body_off);
    assert_int_equal(p.need, p.body_off + 0x800);
    memset(buf + blen, 'z', 0x800);
    blen += 0x800;
    assert_int_equal(http_parse(&p, buf, &blen), HTTP_MORE);
    memcpy(buf + blen, "\r\n0\r\n\r\n", 7);
    blen += 7;
    assert_int_equal(http_parse(&p, buf, &blen), HTTP_DONE);
    assert_int_equal(p.body_len, 0x800);
    assert_int_equal(blen, p.body_off + 0x800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_plain),
        cmocka_unit_test(test_head_user_headers),
        cmocka_unit_test(test_parse_content_length),
        cmocka_unit_test(test_parse_keep_alive_rules),
        cmocka_unit_test(test_parse_chunked),
        cmocka_unit_test(test_parse_interim),
        cmocka_unit_test(test_parse_until_close),
        cmocka_unit_test(test_parse_extra_bytes),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_chunked_need),
    };
    return cmocka_run_group_tests_name("http wire", tests, NULL, NULL);
}
