/*
 * The TorchServe backend: the multipart body (framing, streaming from the
 * file, rewinds), byte-for-byte agreement with what libcurl's own mime
 * encoder sends for a part named "data", and the backend against a small
 * in-test HTTP server that records each request and answers with a chosen
 * status: request line, headers, body, status mapping, transport failures,
 * missing files, the async and gRPC refusals, and the timings.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/options.h"
#include "client/torchserve.h"
#include "pa/client.h"

/* protobuf-c and pa_options take `char *` for strings they never write. */
static char *mut(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

/* ---------------------------------------------------------------- helpers */

static char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/pa-ts-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* A BYTES tensor holding one string: 4-byte little-endian length + bytes. */
static size_t bytes_elem(unsigned char *out, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    memcpy(out, &n, 4);
    memcpy(out + 4, s, n);
    return 4 + n;
}

/* The whole body through ts_body_read in chunks of `chunk` bytes. */
static size_t read_all(struct ts_body *b, char *out, size_t cap, size_t chunk)
{
    size_t len = 0;
    for (;;) {
        size_t want = chunk < cap - len ? chunk : cap - len;
        ssize_t n = ts_body_read(b, out + len, want);
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    return len;
}

/* ------------------------------------------------------------ the framing */

static void test_boundary_and_framing(void **state)
{
    (void)state;
    char b[TS_BOUNDARY_LEN + 1], head[TS_HEAD_MAX + 1], tail[TS_TAIL_MAX + 1];
    ts_make_boundary(b, 0x0123456789abcdefULL);
    assert_string_equal(b, "------------------------0123456789abcdef");
    assert_int_equal(strlen(b), TS_BOUNDARY_LEN);

    size_t hl = ts_part_head(head, b);
    head[hl] = '\0';
    assert_string_equal(head, "--------------------------0123456789abcdef\r\n"
                              "Content-Disposition: form-data; name=\"data\"\r\n\r\n");
    assert_true(hl <= TS_HEAD_MAX);
    size_t tl = ts_part_tail(tail, b);
    tail[tl] = '\0';
    assert_string_equal(tail, "\r\n--------------------------0123456789abcdef--\r\n");
    assert_true(tl <= TS_TAIL_MAX);
}

static void test_body_streaming(void **state)
{
    (void)state;
    char content[3000];
    for (size_t i = 0; i < sizeof(content); i++)
        content[i] = (char)('a' + i % 26);
    char *path = write_temp(content, sizeof(content));
    char b[TS_BOUNDARY_LEN + 1], head[TS_HEAD_MAX], tail[TS_TAIL_MAX];
    ts_make_boundary(b, 42);
    size_t hl = ts_part_head(head, b), tl = ts_part_tail(tail, b);

    char expect[4000];
    memcpy(expect, head, hl);
    memcpy(expect + hl, content, sizeof(content));
    memcpy(expect + hl + sizeof(content), tail, tl);
    size_t total = hl + sizeof(content) + tl;

    static const size_t chunks[] = {1, 7, 64, 1000, 16384};
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        struct ts_body body = {head, hl, fd, sizeof(content), tail, tl, 0};
        assert_int_equal(ts_body_len(&body), total);
        char got[4000];
        size_t n = read_all(&body, got, sizeof(got), chunks[k]);
        assert_int_equal(n, total);
        assert_memory_equal(got, expect, total);

        /* A rewind (libcurl resending on a new connection) replays from there. */
        assert_int_equal(ts_body_seek(&body, 10), 0);
        n = read_all(&body, got, sizeof(got), chunks[k]);
        assert_int_equal(n, total - 10);
        assert_memory_equal(got, expect + 10, total - 10);
        assert_int_equal(ts_body_seek(&body, total + 1), -1);
        close(fd);
    }

    /* A file that shrank after it was opened is an error, not a short body. */
    int fd = open(path, O_RDONLY);
    struct ts_body body = {head, hl, fd, sizeof(content) + 5, tail, tl, 0};
    char got[5000];
    ssize_t n;
    do
        n = ts_body_read(&body, got, 512);
    while (n > 0);
    assert_int_equal(n, -1);
    close(fd);
    unlink(path);
    free(path);
}

static void test_input_path(void **state)
{
    (void)state;
    unsigned char data[64];
    size_t n = bytes_elem(data, "/data/cat.jpg");
    struct pa_input in = {.name = "TORCHSERVE_INPUT", .datatype = "BYTES", .data = data,
                          .byte_size = n};
    char *path = NULL;
    struct pa_err err = {0};
    assert_int_equal(ts_input_path(&in, &path, &err), PA_OK);
    assert_string_equal(path, "/data/cat.jpg");
    free(path);

    /* A second element (batch > 1) does not leak into the path. */
    n += bytes_elem(data + n, "other");
    in.byte_size = n;
    assert_int_equal(ts_input_path(&in, &path, &err), PA_OK);
    assert_string_equal(path, "/data/cat.jpg");
    free(path);

    in.byte_size = 3;
    assert_int_equal(ts_input_path(&in, &path, &err), PA_EDATA);
    uint32_t big = 1000;
    memcpy(data, &big, 4);
    in.byte_size = 10;
    assert_int_equal(ts_input_path(&in, &path, &err), PA_EDATA);
    assert_string_equal(err.msg, "malformed BYTES data for input 'TORCHSERVE_INPUT'");
}

/* ------------------------------------------------- the recording server */

struct server {
    int fd;
    int port;
    pthread_t tid;
    atomic_int stop;
    /* what to answer: status (0 = close the connection without answering) */
    int status;
    const char *body;
    /* the last request, raw: its first sizeof(req) - 1 bytes, and its length */
    char req[1 << 16];
    size_t req_len, total_len;
    int n_requests;
    pthread_mutex_t lock;
};

static struct server srv;
/* The test thread's copy of the last request (see snapshot()). */
static char seen[1 << 16];
static size_t seen_len, seen_total;

/*
 * Reads one HTTP request (headers + Content-Length body) from fd: the first
 * bytes into srv.req, the rest only counted. Answers Expect: 100-continue.
 */
static bool read_request(int fd)
{
    size_t len = 0, total = 0;
    size_t body_at = 0, clen = 0;
    bool continued = false;
    char scratch[16384];
    for (;;) {
        if (!body_at) {
            srv.req[len] = '\0';
            char *e = strstr(srv.req, "\r\n\r\n");
            if (e) {
                body_at = (size_t)(e - srv.req) + 4;
                const char *cl = strcasestr(srv.req, "\r\nContent-Length:");
                if (cl)
                    clen = strtoul(cl + 17, NULL, 10);
                if (!continued && strcasestr(srv.req, "\r\nExpect: 100-continue")) {
                    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                    continued = write(fd, cont, sizeof(cont) - 1) > 0;
                }
            }
        }
        if (body_at && total >= body_at + clen) {
            srv.req_len = len;
            srv.total_len = total;
            return true;
        }
        bool keep = len < sizeof(srv.req) - 1;
        ssize_t n = keep ? read(fd, srv.req + len, sizeof(srv.req) - 1 - len)
                         : read(fd, scratch, sizeof(scratch));
        if (n <= 0)
            return false;
        if (keep)
            len += (size_t)n;
        total += (size_t)n;
    }
}

/* Copies the last request for the test thread (the server thread writes it under the lock). */
static void snapshot(void)
{
    pthread_mutex_lock(&srv.lock);
    memcpy(seen, srv.req, srv.req_len);
    seen[srv.req_len] = '\0';
    seen_len = srv.req_len;
    seen_total = srv.total_len;
    pthread_mutex_unlock(&srv.lock);
}

static void set_reply(int status, const char *body)
{
    pthread_mutex_lock(&srv.lock);
    srv.status = status;
    srv.body = body;
    pthread_mutex_unlock(&srv.lock);
}

static int n_requests(void)
{
    pthread_mutex_lock(&srv.lock);
    int n = srv.n_requests;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv.stop)) {
        struct pollfd p = {srv.fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            continue;
        pthread_mutex_lock(&srv.lock);
        if (read_request(c)) {
            srv.n_requests++;
            if (srv.status) {
                char resp[512];
                const char *body = srv.body ? srv.body : "";
                int n = snprintf(resp, sizeof(resp),
                                 "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n"
                                 "\r\n%s",
                                 srv.status, strlen(body), body);
                assert_true(write(c, resp, (size_t)n) == n);
            }
        }
        pthread_mutex_unlock(&srv.lock);
        close(c);
    }
    return NULL;
}

static int server_up(void **state)
{
    (void)state;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.lock, NULL);
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (srv.fd < 0 || bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(srv.fd, 16) ||
        getsockname(srv.fd, (struct sockaddr *)&sa, &sl))
        return -1;
    srv.port = ntohs(sa.sin_port);
    srv.status = 200;
    return pthread_create(&srv.tid, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int server_down(void **state)
{
    (void)state;
    atomic_store(&srv.stop, 1);
    pthread_join(srv.tid, NULL);
    close(srv.fd);
    pthread_mutex_destroy(&srv.lock);
    return 0;
}

/* The body of the last request and its multipart boundary (from Content-Type). */
static const char *last_body(size_t *len, char *boundary, size_t cap)
{
    snapshot();
    const char *e = strstr(seen, "\r\n\r\n");
    assert_non_null(e);
    const char *ct = strcasestr(seen, "\r\nContent-Type: multipart/form-data; boundary=");
    assert_non_null(ct);
    ct += strlen("\r\nContent-Type: multipart/form-data; boundary=");
    size_t n = strcspn(ct, "\r");
    assert_true(n < cap);
    memcpy(boundary, ct, n);
    boundary[n] = '\0';
    *len = seen_len - (size_t)(e + 4 - seen);
    return e + 4;
}

/* ----------------------------------------- agreement with libcurl's mime */

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void test_same_bytes_as_libcurl_mime(void **state)
{
    (void)state;
    static const char content[] = "0123456789\r\n--not-a-boundary\r\nbinary\0tail";
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/predictions/m", srv.port);
    set_reply(200, NULL);

    CURL *h = curl_easy_init();
    curl_mime *mime = curl_mime_init(h);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "data");
    curl_mime_data(part, content, sizeof(content) - 1);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    curl_mime_free(mime);

    char boundary[128];
    size_t len;
    const char *body = last_body(&len, boundary, sizeof(boundary));
    assert_int_equal(strlen(boundary), TS_BOUNDARY_LEN);
    assert_memory_equal(boundary, "------------------------", 24);

    /* Our framing with libcurl's boundary must give libcurl's bytes. */
    char head[TS_HEAD_MAX], tail[TS_TAIL_MAX], ours[512];
    size_t hl = ts_part_head(head, boundary), tl = ts_part_tail(tail, boundary);
    char *path = write_temp(content, sizeof(content) - 1);
    int fd = open(path, O_RDONLY);
    struct ts_body b = {head, hl, fd, sizeof(content) - 1, tail, tl, 0};
    size_t n = read_all(&b, ours, sizeof(ours), 100);
    close(fd);
    unlink(path);
    free(path);
    assert_int_equal(n, len);
    assert_memory_equal(ours, body, len);
}

/* ---------------------------------------------------------- the backend */

struct got {
    int n, n_error, last_error;
    char err[256];
    uint64_t send_ns, recv_ns, total_ns;
};

static void on_response(void *arg, const struct pa_response *r)
{
    struct got *g = arg;
    g->n++;
    assert_true(r->final);
    if (r->error) {
        g->n_error++;
        g->last_error = r->error;
        snprintf(g->err, sizeof(g->err), "%s", r->error_msg);
    }
    g->send_ns = r->send_ns;
    g->recv_ns = r->recv_ns;
    g->total_ns = r->total_ns;
}

struct fixture {
    struct pa_options o;
    struct pa_header hdr;
    char url[64];
    struct pa_client c;
    struct got g;
};

static void open_ts(struct fixture *f, bool async)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->url, sizeof(f->url), "127.0.0.1:%d", srv.port);
    f->o.service_kind = PA_SK_TORCHSERVE;
    f->o.protocol = PA_PROTO_HTTP;
    f->o.url = f->url;
    f->o.async = async;
    f->hdr.name = mut("X-Test");
    f->hdr.value = mut("yes");
    f->o.headers = &f->hdr;
    f->o.n_headers = 1;
    struct pa_err err = {0};
    if (pa_client_open(&f->c, &f->o, on_response, &f->g, &err) != PA_OK)
        fail_msg("open: %s", err.msg);
    assert_string_equal(f->c.backend->kind, "TORCHSERVE");
}

static struct pa_prepared *prepare(struct fixture *f, const char *path, const char *version,
                                   unsigned char *buf)
{
    size_t n = bytes_elem(buf, path);
    static const int64_t shape[1] = {1};
    struct pa_input in = {.name = "TORCHSERVE_INPUT", .datatype = "BYTES", .shape = shape,
                          .rank = 1, .data = buf, .byte_size = n};
    struct pa_infer_desc d = {.model_name = "resnet", .model_version = version, .inputs = &in,
                              .n_inputs = 1};
    struct pa_prepared *p = NULL;
    struct pa_err err = {0};
    if (pa_client_prepare(&f->c, &d, &p, &err) != PA_OK)
        fail_msg("prepare: %s", err.msg);
    return p;
}

/* Sends one request synchronously, as a sync worker does. */
static void send_one(struct fixture *f, struct pa_prepared *p)
{
    struct pa_send s = {.tag = f};
    struct pa_err err = {0};
    int before = f->g.n;
    assert_int_equal(pa_client_submit(&f->c, p, &s, &err), PA_OK);
    for (int i = 0; i < 200 && f->g.n == before; i++)
        assert_true(pa_client_poll(&f->c, -1, &err) >= 0);
    assert_int_equal(f->g.n, before + 1);
    assert_int_equal(pa_client_in_flight(&f->c), 0);
}

static void test_request_on_the_wire(void **state)
{
    (void)state;
    struct fixture f;
    unsigned char buf[256];
    char content[5000];
    for (size_t i = 0; i < sizeof(content); i++)
        content[i] = (char)(i * 7);
    char *path = write_temp(content, sizeof(content));
    open_ts(&f, false);
    set_reply(200, "{\"ok\": true}");

    struct pa_prepared *p = prepare(&f, path, "", buf);
    send_one(&f, p);
    assert_int_equal(f.g.n_error, 0);
    char boundary[128], expect[6000];
    size_t len;
    const char *body = last_body(&len, boundary, sizeof(boundary));
    assert_true(strncmp(seen, "POST /predictions/resnet HTTP/1.1\r\n", 35) == 0);
    assert_non_null(strstr(seen, "\r\nUser-Agent: libcurl-agent/1.0\r\n"));
    assert_non_null(strstr(seen, "\r\nX-Test: yes\r\n"));
    size_t n = ts_part_head(expect, boundary);
    memcpy(expect + n, content, sizeof(content));
    n += sizeof(content);
    n += ts_part_tail(expect + n, boundary);
    assert_int_equal(len, n);
    assert_memory_equal(body, expect, n);
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", n);
    assert_non_null(strstr(seen, cl));
    /* Timings exist and add up (the original reported 0 here). */
    assert_true(f.g.total_ns > 0);
    assert_true(f.g.send_ns + f.g.recv_ns <= f.g.total_ns);

    /* The same prepared request again: the file is read again at send time. */
    content[0] = 'Z';
    int fd = open(path, O_WRONLY);
    assert_int_equal(write(fd, content, 1), 1);
    close(fd);
    send_one(&f, p);
    body = last_body(&len, boundary, sizeof(boundary));
    assert_int_equal(body[ts_part_head(expect, boundary)], 'Z');
    pa_client_prepared_free(&f.c, p);

    /* A version goes after the model name. */
    p = prepare(&f, path, "2.0", buf);
    send_one(&f, p);
    snapshot();
    if (strncmp(seen, "POST /predictions/resnet/2.0 HTTP/1.1\r\n", 39) != 0)
        fail_msg("unexpected request (%d): %.80s", f.g.n_error, seen);
    pa_client_prepared_free(&f.c, p);
    pa_client_close(&f.c);
    unlink(path);
    free(path);
}

static void test_large_body_expect_continue(void **state)
{
    (void)state;
    struct fixture f;
    unsigned char buf[256];
    size_t size = 1500 * 1000; /* above libcurl's 1 MB Expect: 100-continue threshold */
    char *content = malloc(size);
    for (size_t i = 0; i < size; i++)
        content[i] = (char)(i % 251);
    char *path = write_temp(content, size);
    open_ts(&f, false);
    set_reply(200, "{}");
    struct pa_prepared *p = prepare(&f, path, "", buf);
    send_one(&f, p);
    assert_int_equal(f.g.n_error, 0);
    snapshot();
    /* libcurl asks first for a large body; the server's 100 Continue lets it through. */
    assert_non_null(strcasestr(seen, "\r\nExpect: 100-continue\r\n"));
    const char *e = strstr(seen, "\r\n\r\n");
    char boundary[128], head[TS_HEAD_MAX], tail[TS_TAIL_MAX];
    const char *ct = strcasestr(seen, "boundary=") + strlen("boundary=");
    size_t bl = strcspn(ct, "\r");
    memcpy(boundary, ct, bl);
    boundary[bl] = '\0';
    size_t hl = ts_part_head(head, boundary), tl = ts_part_tail(tail, boundary);
    assert_int_equal(seen_total - (size_t)(e + 4 - seen), hl + size + tl);
    assert_memory_equal(e + 4, head, hl);
    assert_memory_equal(e + 4 + hl, content, 100);
    pa_client_prepared_free(&f.c, p);
    pa_client_close(&f.c);
    unlink(path);
    free(path);
    free(content);
}

static void test_errors(void **state)
{
    (void)state;
    struct fixture f;
    unsigned char buf[256];
    char *path = write_temp("abc", 3);
    open_ts(&f, false);

    set_reply(404, "{\"code\": 404, \"type\": \"ModelNotFoundException\"}");
    struct pa_prepared *p = prepare(&f, path, "", buf);
    send_one(&f, p);
    assert_int_equal(f.g.n_error, 1);
    assert_int_equal(f.g.last_error, PA_ESERVER);
    assert_string_equal(f.g.err, "inference failed with error code 404");

    set_reply(0, NULL); /* connection closed without an answer */
    send_one(&f, p);
    assert_int_equal(f.g.n_error, 2);
    assert_int_equal(f.g.last_error, PA_ECONN);
    assert_string_equal(f.g.err, "inference failed with error code 400");
    pa_client_prepared_free(&f.c, p);

    set_reply(200, "{}");
    int before = n_requests();
    p = prepare(&f, "/nonexistent/dir/input.bin", "", buf);
    send_one(&f, p);
    assert_int_equal(f.g.n_error, 3);
    assert_string_equal(f.g.err, "Failed to open the specified file `/nonexistent/dir/input.bin`");
    assert_int_equal(n_requests(), before); /* nothing was sent */
    pa_client_prepared_free(&f.c, p);

    /* Only TORCHSERVE_INPUT, exactly one input. */
    struct pa_infer_desc d = {.model_name = "m", .n_inputs = 0};
    struct pa_err err = {0};
    assert_int_not_equal(pa_client_prepare(&f.c, &d, &p, &err), PA_OK);
    pa_client_close(&f.c);

    /* Server down: a transport failure, reported as 400. */
    open_ts(&f, false);
    snprintf(f.url, sizeof(f.url), "127.0.0.1:1");
    p = prepare(&f, path, "", buf);
    send_one(&f, p);
    assert_string_equal(f.g.err, "inference failed with error code 400");
    pa_client_prepared_free(&f.c, p);
    pa_client_close(&f.c);
    unlink(path);
    free(path);
}

static void test_unsupported(void **state)
{
    (void)state;
    struct fixture f;
    unsigned char buf[256];
    struct pa_err err = {0};

    /* Async: every submit fails, as the original's AsyncInfer does. */
    open_ts(&f, true);
    struct pa_prepared *p = prepare(&f, "/dev/null", "", buf);
    struct pa_send s = {.tag = &f};
    assert_int_equal(pa_client_submit(&f.c, p, &s, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg,
                        "client backend of kind TORCHSERVE does not support AsyncInfer API");
    assert_int_equal(f.g.n, 0);
    pa_client_prepared_free(&f.c, p);

    /* No control plane, no shared memory. */
    cJSON *j = NULL;
    assert_int_equal(pa_client_model_metadata(&f.c, "m", "", &j, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg,
                        "client backend of kind TORCHSERVE does not support ModelMetadata API");
    assert_int_equal(pa_client_register_system_shm(&f.c, "r", "/k", 0, 16, &err),
                     PA_EUNSUPPORTED);
    assert_int_equal(pa_client_model_statistics(&f.c, "m", "", &j, &err), PA_EUNSUPPORTED);
    pa_client_close(&f.c);

    /* gRPC is refused when the backend is created. */
    struct pa_options o;
    struct pa_client c;
    memset(&o, 0, sizeof(o));
    o.service_kind = PA_SK_TORCHSERVE;
    o.protocol = PA_PROTO_GRPC;
    o.url = mut("localhost:8000");
    assert_int_equal(pa_client_open(&c, &o, NULL, NULL, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "perf_analyzer does not support gRPC protocol with TorchServe");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_and_framing),
        cmocka_unit_test(test_body_streaming),
        cmocka_unit_test(test_input_path),
        cmocka_unit_test(test_same_bytes_as_libcurl_mime),
        cmocka_unit_test(test_request_on_the_wire),
        cmocka_unit_test(test_large_body_expect_continue),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_unsupported),
    };
    int rc = cmocka_run_group_tests(tests, server_up, server_down);
    curl_global_cleanup();
    return rc;
}
