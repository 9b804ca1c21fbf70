/*
 * The Triton HTTP backend over https: the data path's bytes go through
 * curl_easy_send/curl_easy_recv on a connection libcurl opened and
 * verified (--ssl-https-* options), and the control plane is plain libcurl.
 *
 * The server is a small TLS echo server in a thread of this test, on
 * 127.0.0.1, with a fixed self-signed certificate for 127.0.0.1. It uses
 * the OpenSSL that libcurl itself is built with, loaded with dlopen (the
 * test links only pa_client); without libssl.so.3 the tests are skipped.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "cli/options.h"
#include "pa/client.h"

/* Self-signed P-256 certificate, CN=localhost, SAN IP:127.0.0.1 + DNS:localhost (test only). */
static const char cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIURglmYttH2O0gx0M6D6I+cEHI0CIwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzA1MzM1MVoYDzIxMjYxMDMw\n"
    "MDUzMzUxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAATWqmAx6mU5eX3a2kLqBCZyD6zwvOr6AlJg0VNhwBCCw0Fm0fi398nb\n"
    "hyzPpkFHl/retImHjM9p8HA3/Ux0F1P/o28wbTAdBgNVHQ4EFgQUQwsHTz1/7/wA\n"
    "vGwk1ZtBK7Eq2G4wHwYDVR0jBBgwFoAUQwsHTz1/7/wAvGwk1ZtBK7Eq2G4wDwYD\n"
    "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIgTKPhkSMK2V0xLmgTuAPds9DIDRLFS6DZvKsEOQwm5fgCIQCC\n"
    "SmZK486TLI/XqdTGBvOq+qBEM3sCzP5hZ3Ug7KgG3g==\n"
    "-----END CERTIFICATE-----\n";
static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8tFpEtUhlkVj9Ozz\n"
    "fJOx0MjOhrbsc7vxmrpzWjATC1ChRANCAATWqmAx6mU5eX3a2kLqBCZyD6zwvOr6\n"
    "AlJg0VNhwBCCw0Fm0fi398nbhyzPpkFHl/retImHjM9p8HA3/Ux0F1P/\n"
    "-----END PRIVATE KEY-----\n";

/* ---- the bits of libssl the server needs ---- */

#define SSL_FILETYPE_PEM 1

static struct {
    void *lib;
    const void *(*server_method)(void);
    void *(*ctx_new)(const void *method);
    void (*ctx_free)(void *ctx);
    int (*use_cert)(void *ctx, const char *file, int type);
    int (*use_key)(void *ctx, const char *file, int type);
    void *(*ssl_new)(void *ctx);
    int (*set_fd)(void *ssl, int fd);
    int (*accept)(void *ssl);
    int (*read)(void *ssl, void *buf, int num);
    int (*write)(void *ssl, const void *buf, int num);
    int (*shutdown)(void *ssl);
    void (*ssl_free)(void *ssl);
} ossl;

static bool load_ssl(void)
{
    ossl.lib = dlopen("libssl.so.3", RTLD_NOW);
    if (!ossl.lib)
        return false;
    /* POSIX: dlsym's object pointer converts to a function pointer. */
#define SYM(field, name)                                              \
    do {                                                              \
        void *p_ = dlsym(ossl.lib, name);                             \
        if (!p_)                                                      \
            return false;                                             \
        memcpy(&ossl.field, &p_, sizeof(p_));                         \
    } while (0)
    SYM(server_method, "TLS_server_method");
    SYM(ctx_new, "SSL_CTX_new");
    SYM(ctx_free, "SSL_CTX_free");
    SYM(use_cert, "SSL_CTX_use_certificate_file");
    SYM(use_key, "SSL_CTX_use_PrivateKey_file");
    SYM(ssl_new, "SSL_new");
    SYM(set_fd, "SSL_set_fd");
    SYM(accept, "SSL_accept");
    SYM(read, "SSL_read");
    SYM(write, "SSL_write");
    SYM(shutdown, "SSL_shutdown");
    SYM(ssl_free, "SSL_free");
#undef SYM
    return true;
}

/* ---- the TLS echo server ---- */

static struct {
    bool have_ssl;
    char cert_file[64], key_file[64];
    void *ctx;
    int lfd;
    uint16_t port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int accepted;
    atomic_int requests;
    atomic_int live;   /* connection threads still running */
} tls;

static void ssl_write_all(void *ssl, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        int chunk = n > 65536 ? 65536 : (int)n;
        int w = ossl.write(ssl, c, chunk);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static size_t header_value(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = head; *p;) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return (size_t)strtoul(p + nl + 1, NULL, 10);
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        p = e + 2;
    }
    return 0;
}

/* Answers requests on one connection until the client closes it. */
static void serve(void *ssl)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        size_t head_len = end ? (size_t)(end - buf) + 4 : 0;
        size_t clen = end ? header_value(buf, "Content-Length") : 0;
        if (!end || len < head_len + clen) {
            if (cap - len < 65536 + 1) {
                cap *= 2;
                buf = realloc(buf, cap);
                if (!buf)
                    abort();
            }
            int got = ossl.read(ssl, buf + len, 65536);
            if (got <= 0)
                break;
            len += (size_t)got;
            continue;
        }
        atomic_fetch_add(&tls.requests, 1);
        char head[512];
        int n;
        if (strncmp(buf, "GET ", 4) == 0) {
            static const char json[] = "{\"name\":\"simple\",\"versions\":[\"1\"]}";
            n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         sizeof(json) - 1, json);
            ssl_write_all(ssl, head, (size_t)n);
        } else {
            /* Echo the binary section as output OUT. */
            size_t ihcl = header_value(buf, "Inference-Header-Content-Length");
            size_t bin = clen - ihcl;
            char json[256];
            int jl = snprintf(json, sizeof(json),
                              "{\"outputs\":[{\"name\":\"OUT\",\"datatype\":\"INT32\","
                              "\"shape\":[1,%zu],\"parameters\":{\"binary_data_size\":%zu}}]}",
                              bin / 4, bin);
            n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         "Inference-Header-Content-Length: %d\r\nContent-Length: %zu\r\n\r\n",
                         jl, (size_t)jl + bin);
            ssl_write_all(ssl, head, (size_t)n);
            ssl_write_all(ssl, json, (size_t)jl);
            ssl_write_all(ssl, buf + head_len + ihcl, bin);
        }
        memmove(buf, buf + head_len + clen, len - head_len - clen);
        len -= head_len + clen;
    }
    free(buf);
}

/* One thread per connection: libcurl keeps the control connection open beside the data ones. */
static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    void *ssl = ossl.ssl_new(tls.ctx);
    ossl.set_fd(ssl, fd);
    if (ossl.accept(ssl) == 1) {
        serve(ssl);
        ossl.shutdown(ssl);
    }
    ossl.ssl_free(ssl);
    close(fd);
    atomic_fetch_sub(&tls.live, 1);
    return NULL;
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&tls.stop)) {
        struct pollfd p = {.fd = tls.lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(tls.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&tls.accepted, 1);
        atomic_fetch_add(&tls.live, 1);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0)
            abort();
        pthread_detach(t);
    }
    return NULL;
}

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        abort();
    close(fd);
}

static int server_start(void **state)
{
    (void)state;
    memset(&tls, 0, sizeof(tls));
    tls.have_ssl = load_ssl();
    if (!tls.have_ssl)
        return 0;
    snprintf(tls.cert_file, sizeof(tls.cert_file), "/tmp/pa-test-cert.XXXXXX");
    snprintf(tls.key_file, sizeof(tls.key_file), "/tmp/pa-test-key.XXXXXX");
    write_file(tls.cert_file, cert_pem);
    write_file(tls.key_file, key_pem);
    tls.ctx = ossl.ctx_new(ossl.server_method());
    if (!tls.ctx || ossl.use_cert(tls.ctx, tls.cert_file, SSL_FILETYPE_PEM) != 1 ||
        ossl.use_key(tls.ctx, tls.key_file, SSL_FILETYPE_PEM) != 1)
        return -1;
    tls.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (tls.lfd < 0 || bind(tls.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(tls.lfd, 16) != 0 || getsockname(tls.lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    tls.port = ntohs(a.sin_port);
    return pthread_create(&tls.thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int server_stop(void **state)
{
    (void)state;
    if (!tls.have_ssl)
        return 0;
    atomic_store(&tls.stop, true);
    pthread_join(tls.thread, NULL);
    /* Every client was closed, so the connection threads end (bounded wait). */
    for (int i = 0; i < 500 && atomic_load(&tls.live) > 0; i++)
        usleep(10000);
    close(tls.lfd);
    ossl.ctx_free(tls.ctx);
    unlink(tls.cert_file);
    unlink(tls.key_file);
    return 0;
}

/* ---- the client side ---- */

struct seen {
    struct pa_client *client;
    int n, errors;
    char last_msg[256];
    const void *expect;
    size_t expect_len;
    int matched;
};

static void on_response(void *arg, const struct pa_response *r)
{
    struct seen *s = arg;
    s->n++;
    if (r->error) {
        s->errors++;
        snprintf(s->last_msg, sizeof(s->last_msg), "%s", r->error_msg);
        return;
    }
    const void *data;
    size_t size;
    struct pa_err err = {0};
    if (pa_client_output(s->client, r, "OUT", &data, &size, &err) != PA_OK)
        fail_msg("pa_client_output: %s", err.msg);
    assert_int_equal(size, s->expect_len);
    assert_memory_equal(data, s->expect, size);
    s->matched++;
}

static void wait_for(struct pa_client *c, struct seen *s, int n)
{
    struct pa_err err = {0};
    for (int guard = 0; s->n < n && guard < 200; guard++)
        assert_true(pa_client_poll(c, 50, &err) >= 0);
    assert_int_equal(s->n, n);
}

static void tls_opts(struct pa_options *o, char *url, size_t cap, const char *ca)
{
    memset(o, 0, sizeof(*o));
    snprintf(url, cap, "https://127.0.0.1:%u", (unsigned)tls.port);
    o->service_kind = PA_SK_TRITON;
    o->protocol = PA_PROTO_HTTP;
    o->url = url;
    o->ssl_https_verify_peer = 1;
    o->ssl_https_verify_host = 2;
    o->ssl_https_ca_certs = (char *)(uintptr_t)ca; /* never written through */
}

static struct pa_prepared *prepare_echo(struct pa_client *c, const int64_t *shape,
                                        const void *data, size_t size)
{
    const struct pa_input in = {.name = "IN", .datatype = "INT32", .shape = shape, .rank = 2,
                                .data = data, .byte_size = size};
    const struct pa_output out = {.name = "OUT"};
    const struct pa_infer_desc d = {.model_name = "simple", .model_version = "", .inputs = &in,
                                    .n_inputs = 1, .outputs = &out, .n_outputs = 1};
    struct pa_prepared *p = NULL;
    struct pa_err err = {0};
    if (pa_client_prepare(c, &d, &p, &err) != PA_OK)
        fail_msg("prepare: %s", err.msg);
    return p;
}

static void test_tls_infer(void **state)
{
    (void)state;
    if (!tls.have_ssl)
        skip();
    char url[64];
    struct pa_options o;
    tls_opts(&o, url, sizeof(url), tls.cert_file);
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;

    /* The control plane over https (libcurl). */
    cJSON *j = NULL;
    assert_int_equal(pa_client_model_metadata(&c, "simple", "", &j, &err), PA_OK);
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "simple");
    cJSON_Delete(j);

    static const int32_t small[] = {1, -2, 3, -4};
    static const int64_t small_shape[] = {1, 4};
    struct pa_prepared *p = prepare_echo(&c, small_shape, small, sizeof(small));
    s.expect = small;
    s.expect_len = sizeof(small);
    int before = atomic_load(&tls.accepted);
    for (int i = 0; i < 3; i++) {
        struct pa_send send = {.sequence_id = (uint64_t)i};
        assert_int_equal(pa_client_submit(&c, p, &send, &err), PA_OK);
        wait_for(&c, &s, i + 1);
        assert_int_equal(s.errors, 0);
    }
    assert_int_equal(s.matched, 3);
    /* One kept-alive TLS connection carried all three. */
    assert_int_equal(atomic_load(&tls.accepted) - before, 1);

    /* 4 MiB each way: many TLS records, sends that cannot finish at once. */
    size_t count = (size_t)1 << 20;
    int32_t *big = malloc(count * sizeof(*big));
    assert_non_null(big);
    for (size_t i = 0; i < count; i++)
        big[i] = (int32_t)(i * 40503u);
    const int64_t big_shape[] = {1, (int64_t)count};
    struct pa_prepared *pb = prepare_echo(&c, big_shape, big, count * sizeof(*big));
    s.expect = big;
    s.expect_len = count * sizeof(*big);
    struct pa_send send = {0};
    assert_int_equal(pa_client_submit(&c, pb, &send, &err), PA_OK);
    wait_for(&c, &s, 4);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.matched, 4);

    pa_client_prepared_free(&c, p);
    pa_client_prepared_free(&c, pb);
    pa_client_close(&c);
    free(big);
}

/* Without the CA the certificate does not verify: libcurl's error, through on_response. */
static void test_tls_verify_fails(void **state)
{
    (void)state;
    if (!tls.have_ssl)
        skip();
    char url[64];
    struct pa_options o;
    tls_opts(&o, url, sizeof(url), NULL);
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;
    static const int32_t v[] = {5};
    static const int64_t shape[] = {1, 1};
    struct pa_prepared *p = prepare_echo(&c, shape, v, sizeof(v));
    struct pa_send send = {0};
    int before = atomic_load(&tls.requests);
    assert_int_equal(pa_client_submit(&c, p, &send, &err), PA_OK);
    wait_for(&c, &s, 1);
    assert_int_equal(s.errors, 1);
    char want[256];
    snprintf(want, sizeof(want), "HTTP client failed: %s",
             curl_easy_strerror(CURLE_PEER_FAILED_VERIFICATION));
    assert_string_equal(s.last_msg, want);
    assert_int_equal(atomic_load(&tls.requests), before);
    assert_int_equal(pa_client_in_flight(&c), 0);

    /* --ssl-https-verify-peer 0 accepts it. */
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
    o.ssl_https_verify_peer = 0;
    o.ssl_https_verify_host = 0;
    memset(&s, 0, sizeof(s));
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;
    s.expect = v;
    s.expect_len = sizeof(v);
    p = prepare_echo(&c, shape, v, sizeof(v));
    assert_int_equal(pa_client_submit(&c, p, &send, &err), PA_OK);
    wait_for(&c, &s, 1);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.matched, 1);
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_infer),
        cmocka_unit_test(test_tls_verify_fails),
    };
    return cmocka_run_group_tests_name("http over tls", tests, server_start, server_stop);
}
