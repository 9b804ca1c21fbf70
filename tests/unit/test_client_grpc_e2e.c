/*
 * End-to-end tests of the Triton gRPC client backend against the project's
 * reference server (pa-test-server --grpc-port 0), which this test starts
 * and stops itself. The server binary is looked up next to this test
 * binary (<build>/tests/servers/pa-test-server); when it is not built the
 * tests are skipped with a message saying so.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/options.h"
#include "client/backends.h"
#include "pa/client.h"

/*
 * Under ThreadSanitizer: gRPC, abseil and upb are not instrumented, so TSan
 * cannot see their synchronisation (completion queues, internal mutexes)
 * and reports every hand-over of memory between their threads and ours.
 * Reports with a frame in those libraries are suppressed, for this binary
 * and for the server it starts; races between our own frames still show.
 */
#define GRPC_TSAN_SUPPRESSIONS                                                   \
    "race:libgrpc\nrace:libgpr\nrace:libabsl\nrace:absl\nrace:grpc_core\n"     \
    "race:libupb\nrace:libstdc++\ncalled_from_lib:libgrpc.so\n"                 \
    "called_from_lib:libgpr.so\ndeadlock:libgrpc\n"
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PA_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define PA_TSAN 1
#endif
#ifdef PA_TSAN
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return GRPC_TSAN_SUPPRESSIONS;
}
#endif

static pid_t server_pid = -1;
#ifdef PA_TSAN
static char supp[] = "/tmp/pa-grpc-tsan-XXXXXX";
#endif
static char server_url[64];
static char server_path[4096];

/* ------------------------------------------------------------ the server */

static bool find_server(void)
{
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    snprintf(server_path, sizeof(server_path), "%s/servers/pa-test-server", self);
    return access(server_path, X_OK) == 0;
}

static int start_server(void **state)
{
    (void)state;
    if (!find_server())
        return 0;
#ifdef PA_TSAN
    int sfd = mkstemp(supp);
    if (sfd >= 0) {
        ssize_t w = write(sfd, GRPC_TSAN_SUPPRESSIONS, strlen(GRPC_TSAN_SUPPRESSIONS));
        close(sfd);
        char opt[128];
        snprintf(opt, sizeof(opt), "suppressions=%s", supp);
        if (w > 0)
            setenv("TSAN_OPTIONS", opt, 1);
    }
#endif
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    server_pid = fork();
    if (server_pid < 0)
        return -1;
    if (server_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(server_path, server_path, "--models", PA_SOURCE_DIR "/tests/models", "--http-port",
              "0", "--grpc-port", "0", "--metrics-port", "-1", "--delay-ms", "repeat_int32=1",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    int port = 0;
    if (!f || !fgets(line, sizeof(line), f)) {
        fprintf(stderr, "pa-test-server did not report its ports\n");
        return -1;
    }
    const char *g = strstr(line, "grpc=");
    if (!g || sscanf(g, "grpc=%d", &port) != 1 || port <= 0)
        return -1;
    fclose(f);
    snprintf(server_url, sizeof(server_url), "127.0.0.1:%d", port);
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
#ifdef PA_TSAN
    unlink(supp);
#endif
    if (server_pid <= 0)
        return 0;
    kill(server_pid, SIGTERM);
    for (int i = 0; i < 100; i++) { /* 5 s at most, then kill */
        int st;
        if (waitpid(server_pid, &st, WNOHANG) == server_pid)
            return 0;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    return 0;
}

#define NEED_SERVER()                                                                    \
    do {                                                                                 \
        if (server_pid <= 0) {                                                           \
            print_message("pa-test-server is not built (looked for %s): skipped\n",      \
                          server_path);                                                  \
            skip();                                                                      \
        }                                                                                \
    } while (0)

/* ------------------------------------------------------------- the client */

struct got {
    int n, n_final, n_null, n_error;
    int32_t out0[16], out1[16];
    int32_t last_out;
    char err[256];
    struct pa_client *c;
    uint64_t send_ns, total_ns;
    const void *expect;   /* non-NULL: OUTPUT0 must equal these bytes */
    size_t expect_len;
    int matched;
};

static void on_response(void *arg, const struct pa_response *r)
{
    struct got *g = arg;
    g->n++;
    g->n_final += r->final;
    g->n_null += r->null_response;
    if (r->error) {
        g->n_error++;
        snprintf(g->err, sizeof(g->err), "%s", r->error_msg);
        return;
    }
    if (r->final) {
        g->send_ns = r->send_ns;
        g->total_ns = r->total_ns;
    }
    const void *d;
    size_t n;
    struct pa_err err;
    if (r->null_response)
        return;
    if (g->expect) {
        if (pa_client_output(g->c, r, "OUTPUT0", &d, &n, &err) == PA_OK &&
            n == g->expect_len && memcmp(d, g->expect, n) == 0)
            g->matched++;
        return;
    }
    if (pa_client_output(g->c, r, "OUTPUT0", &d, &n, &err) == PA_OK && n == sizeof(g->out0))
        memcpy(g->out0, d, n);
    if (pa_client_output(g->c, r, "OUTPUT1", &d, &n, &err) == PA_OK && n == sizeof(g->out1))
        memcpy(g->out1, d, n);
    if ((pa_client_output(g->c, r, "OUT", &d, &n, &err) == PA_OK ||
         pa_client_output(g->c, r, "OUTPUT", &d, &n, &err) == PA_OK) &&
        n == sizeof(int32_t))
        memcpy(&g->last_out, d, n);
}

static void open_client(struct pa_client *c, struct pa_options *o, struct got *g, const char *url,
                        bool streaming)
{
    memset(o, 0, sizeof(*o));
    o->service_kind = PA_SK_TRITON;
    o->protocol = PA_PROTO_GRPC;
    o->url = (char *)(uintptr_t)url;
    o->streaming = streaming;
    memset(g, 0, sizeof(*g));
    struct pa_err err = {0};
    int rc = pa_client_open(c, o, on_response, g, &err);
    if (rc != PA_OK)
        fail_msg("open: %s", err.msg);
    g->c = c;
}

static void wait_all(struct pa_client *c)
{
    struct pa_err err;
    for (int i = 0; i < 500 && pa_client_in_flight(c) > 0; i++)
        assert_true(pa_client_poll(c, 20, &err) >= 0);
    assert_int_equal(pa_client_in_flight(c), 0);
}

/* ------------------------------------------------------------------ tests */

static void test_control_plane(void **state)
{
    (void)state;
    NEED_SERVER();
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    open_client(&c, &o, &g, server_url, false);

    cJSON *j = NULL;
    assert_int_equal(pa_client_server_metadata(&c, &j, &err), PA_OK);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "extensions")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "extensions")) > 0);
    cJSON_Delete(j);

    assert_int_equal(pa_client_model_metadata(&c, "simple", "", &j, &err), PA_OK);
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "simple");
    cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "inputs"), 0);
    assert_string_equal(cJSON_GetObjectItem(in0, "datatype")->valuestring, "INT32");
    cJSON *shape = cJSON_GetObjectItem(in0, "shape");
    assert_int_equal(cJSON_GetArraySize(shape), 2);
    assert_int_equal(cJSON_GetArrayItem(shape, 0)->valueint, -1);
    assert_int_equal(cJSON_GetArrayItem(shape, 1)->valueint, 16);
    cJSON_Delete(j);

    assert_int_equal(pa_client_model_config(&c, "simple", "", &j, &err), PA_OK);
    assert_int_equal(cJSON_GetObjectItem(j, "max_batch_size")->valueint, 8);
    cJSON *cin = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "input"), 0);
    assert_string_equal(cJSON_GetObjectItem(cin, "data_type")->valuestring, "TYPE_INT32");
    cJSON_Delete(j);

    assert_int_equal(pa_client_model_config(&c, "simple_sequence", "", &j, &err), PA_OK);
    assert_non_null(cJSON_GetObjectItem(j, "sequence_batching"));
    assert_null(cJSON_GetObjectItem(j, "dynamic_batching"));
    cJSON_Delete(j);

    assert_int_equal(pa_client_model_config(&c, "repeat_int32", "", &j, &err), PA_OK);
    cJSON *txn = cJSON_GetObjectItem(j, "model_transaction_policy");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(txn, "decoupled")));
    cJSON_Delete(j);

    int rc = pa_client_model_metadata(&c, "nope", "", &j, &err);
    assert_int_equal(rc, PA_ESERVER);
    assert_non_null(strstr(err.msg, "nope"));

    assert_int_equal(pa_client_unregister_cuda_shm(&c, NULL, &err), PA_OK);
    assert_int_equal(pa_client_unregister_system_shm(&c, NULL, &err), PA_OK);

    cJSON *ts = cJSON_CreateObject();
    cJSON_AddStringToObject(ts, "trace_rate", "1000");
    assert_int_equal(pa_client_trace_settings(&c, ts, &err), PA_OK);
    cJSON_Delete(ts);
    pa_client_close(&c);
}

static void fill_simple(struct pa_input in[2], int32_t a[16], int32_t b[16], int64_t shape[2])
{
    for (int i = 0; i < 16; i++) {
        a[i] = i;
        b[i] = 1;
    }
    shape[0] = 1;
    shape[1] = 16;
    in[0] = (struct pa_input){"INPUT0", "INT32", shape, 2, a, 64, NULL, 0};
    in[1] = (struct pa_input){"INPUT1", "INT32", shape, 2, b, 64, NULL, 0};
}

static void run_simple(bool streaming, int n_requests, uint32_t n_streams)
{
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    open_client(&c, &o, &g, server_url, streaming);
    int32_t a[16], b[16];
    int64_t shape[2];
    struct pa_input in[2];
    fill_simple(in, a, b, shape);
    struct pa_output out[2] = {{"OUTPUT0", NULL, 0, 0}, {"OUTPUT1", NULL, 0, 0}};
    struct pa_infer_desc d = {"simple", "", in, 2, out, 2, false};
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);
    for (int i = 0; i < n_requests; i++) {
        struct pa_send s = {.stream = (uint32_t)i % n_streams};
        assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
    }
    assert_int_equal(pa_client_in_flight(&c), (size_t)n_requests);
    wait_all(&c);
    assert_int_equal(g.n_error, 0);
    assert_int_equal(g.n_final, n_requests);
    assert_int_equal(g.n_null, 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(g.out0[i], i + 1);
        assert_int_equal(g.out1[i], i - 1);
    }
    assert_true(g.total_ns >= g.send_ns);
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}

static void test_infer_unary(void **state)
{
    (void)state;
    NEED_SERVER();
    run_simple(false, 1, 1);
    run_simple(false, 20, 1);
}

static void test_infer_streaming(void **state)
{
    (void)state;
    NEED_SERVER();
    run_simple(true, 1, 1);
    run_simple(true, 30, 3);
}

/*
 * A 4 MiB tensor there and back, several at once: the request outgrows the
 * server's flow-control windows and frame size, the response arrives in
 * many frames.
 */
static void test_infer_large(void **state)
{
    (void)state;
    NEED_SERVER();
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    open_client(&c, &o, &g, server_url, false);
    size_t count = (size_t)1 << 20;
    float *big = malloc(count * sizeof(*big));
    assert_non_null(big);
    for (size_t i = 0; i < count; i++)
        big[i] = (float)(i % 1000) * 0.5f;
    int64_t shape[2] = {1, (int64_t)count};
    struct pa_input in = {"INPUT0", "FP32", shape, 2, big, count * sizeof(*big), NULL, 0};
    struct pa_output out = {"OUTPUT0", NULL, 0, 0};
    struct pa_infer_desc d = {"identity_fp32", "", &in, 1, &out, 1, false};
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);
    g.expect = big;
    g.expect_len = count * sizeof(*big);
    struct pa_send s = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
    wait_all(&c);
    if (g.n_error)
        fail_msg("%s", g.err);
    assert_int_equal(g.matched, 3);
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
    free(big);
}

static void test_infer_errors(void **state)
{
    (void)state;
    NEED_SERVER();
    for (int streaming = 0; streaming < 2; streaming++) {
        struct pa_client c;
        struct pa_options o;
        struct got g;
        struct pa_err err = {0};
        open_client(&c, &o, &g, server_url, streaming);
        int32_t a[16], b[16];
        int64_t shape[2];
        struct pa_input in[2];
        fill_simple(in, a, b, shape);
        in[1].byte_size = 60; /* wrong size: the server must refuse */
        struct pa_infer_desc d = {"simple", "", in, 2, NULL, 0, false};
        struct pa_prepared *p = NULL;
        assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);
        struct pa_send s = {0};
        assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
        assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
        wait_all(&c);
        assert_int_equal(g.n_error, 2);
        assert_int_equal(g.n_final, 2);
        assert_true(strlen(g.err) > 0);
        pa_client_prepared_free(&c, p);
        pa_client_close(&c);
    }
}

/* repeat: one response per element of IN (OUT = the element), then completion. */
static void run_repeat(const char *model, int32_t n, int expect_null)
{
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    open_client(&c, &o, &g, server_url, true);
    int32_t vals[8];
    for (int32_t i = 0; i < n; i++)
        vals[i] = 10 + i;
    int64_t shape[1] = {n};
    struct pa_input in = {"IN", "INT32", shape, 1, vals, (size_t)n * 4, NULL, 0};
    struct pa_output out = {"OUT", NULL, 0, 0};
    struct pa_infer_desc d = {model, "", &in, 1, &out, 1, false};
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);
    struct pa_send s = {0};
    assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
    wait_all(&c);
    if (g.n_error)
        fail_msg("%s: %s", model, g.err);
    assert_int_equal(g.n_final, 1);
    assert_int_equal(g.n_null, expect_null);
    assert_int_equal(g.n, n + expect_null);
    if (n > 0)
        assert_int_equal(g.last_out, 10 + n - 1);

    /* Unary ModelInfer refuses decoupled models. */
    pa_client_close(&c);
    open_client(&c, &o, &g, server_url, false);
    struct pa_prepared *p2 = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p2, &err), PA_OK);
    assert_int_equal(pa_client_submit(&c, p2, &s, &err), PA_OK);
    wait_all(&c);
    assert_int_equal(g.n_error, 1);
    assert_non_null(strstr(g.err, "decoupled"));
    pa_client_prepared_free(&c, p2);
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}

static void test_decoupled(void **state)
{
    (void)state;
    NEED_SERVER();
    run_repeat("repeat_int32", 3, 1);
    run_repeat("repeat_int32", 0, 1);
    run_repeat("repeat_int32_final", 3, 0);
}

static void test_sequence_and_stats(void **state)
{
    (void)state;
    NEED_SERVER();
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    open_client(&c, &o, &g, server_url, false);
    int32_t v = 5;
    int64_t shape[2] = {1, 1};
    struct pa_input in = {"INPUT", "INT32", shape, 2, &v, 4, NULL, 0};
    struct pa_output out = {"OUTPUT", NULL, 0, 0};
    struct pa_infer_desc d = {"simple_sequence", "", &in, 1, &out, 1, true};
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);
    for (int i = 0; i < 3; i++) {
        struct pa_send s = {.sequence_id = 77, .sequence_start = i == 0, .sequence_end = i == 2};
        assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
        wait_all(&c);
        assert_int_equal(g.n_error, 0);
        assert_int_equal(g.last_out, 5 * (i + 1)); /* running sum within the sequence */
    }
    /* A non-START request for an unknown sequence is refused. */
    struct pa_send s = {.sequence_id = 78};
    assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
    wait_all(&c);
    assert_int_equal(g.n_error, 1);
    pa_client_prepared_free(&c, p);

    cJSON *j = NULL;
    assert_int_equal(pa_client_model_statistics(&c, "simple_sequence", "", &j, &err), PA_OK);
    cJSON *ms = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "model_stats"), 0);
    assert_string_equal(cJSON_GetObjectItem(ms, "name")->valuestring, "simple_sequence");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(ms, "version")));
    cJSON *succ = cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "inference_stats"), "success");
    assert_true(cJSON_GetObjectItem(succ, "count")->valuedouble >= 3);
    cJSON *hit = cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "inference_stats"), "cache_hit");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(hit, "count")));
    cJSON_Delete(j);
    assert_int_equal(pa_client_model_statistics(&c, NULL, NULL, &j, &err), PA_OK);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "model_stats")) > 3);
    cJSON_Delete(j);
    pa_client_close(&c);
}

static void test_server_down(void **state)
{
    (void)state;
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    open_client(&c, &o, &g, "127.0.0.1:1", false);
    cJSON *j = NULL;
    int rc = pa_client_model_metadata(&c, "simple", "", &j, &err);
    assert_int_equal(rc, PA_ECONN);
    if (!strstr(err.msg, "failed to connect to all addresses"))
        fail_msg("unexpected error text: %s", err.msg);

    /* The data plane reports the same failure through the callback. */
    int32_t a[16], b[16];
    int64_t shape[2];
    struct pa_input in[2];
    fill_simple(in, a, b, shape);
    struct pa_infer_desc d = {"simple", "", in, 2, NULL, 0, false};
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);
    struct pa_send s = {0};
    assert_int_equal(pa_client_submit(&c, p, &s, &err), PA_OK);
    wait_all(&c);
    assert_int_equal(g.n_error, 1);
    assert_non_null(strstr(g.err, "failed to connect to all addresses"));
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}

/*
 * A server that takes the TCP connection and never says a word: the
 * control-plane call must end at its deadline (PA_GRPC_CONTROL_TIMEOUT_MS)
 * with gRPC's DEADLINE_EXCEEDED text, not hang as the original would.
 */
static void test_control_deadline(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0); /* the kernel completes connects; we never accept */
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char url[64];
    snprintf(url, sizeof(url), "127.0.0.1:%d", ntohs(a.sin_port));

    setenv("PA_GRPC_CONTROL_TIMEOUT_MS", "300", 1);
    struct pa_client c;
    struct pa_options o;
    struct got g;
    struct pa_err err = {0};
    open_client(&c, &o, &g, url, false);
    unsetenv("PA_GRPC_CONTROL_TIMEOUT_MS");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cJSON *j = NULL;
    int rc = pa_client_model_metadata(&c, "simple", "", &j, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(rc, PA_ESERVER);
    assert_null(j);
    assert_string_equal(err.msg, "Deadline Exceeded");
    assert_true(secs >= 0.25 && secs < 10.0);
    pa_client_close(&c);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_plane),
        cmocka_unit_test(test_infer_unary),
        cmocka_unit_test(test_infer_large),
        cmocka_unit_test(test_infer_streaming),
        cmocka_unit_test(test_infer_errors),
        cmocka_unit_test(test_decoupled),
        cmocka_unit_test(test_sequence_and_stats),
        cmocka_unit_test(test_server_down),
        cmocka_unit_test(test_control_deadline),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
