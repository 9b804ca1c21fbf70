/*
 * The C API backend's ops (src/client/triton_capi.c) against the fake
 * libtritonserver.so: control plane as KServe JSON, the data plane's
 * prepare/submit/poll with completions delivered on the calling thread,
 * output access, response errors, in-process shared memory, decoupled
 * models, several clients on several threads sharing one server, and the
 * faithful "not ready" behaviour when start-up failed.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/options.h"
#include "client/capi.h"
#include "client/capi_loader.h"

#ifndef PA_CAPI_TEST_DIR
#define PA_CAPI_TEST_DIR ""
#endif
#ifndef PA_MODELS_DIR
#define PA_MODELS_DIR ""
#endif

#define FAKE_ROOT PA_CAPI_TEST_DIR "/fake_tritonserver_root"

/* Responses seen by on_response, checked by the tests. */
struct seen {
    pthread_t owner;
    bool wrong_thread;
    int n;
    int n_errors;
    char last_error[PA_ERR_MSG_MAX];
    void *last_tag;
    bool last_null;
    bool check_outputs;       /* compare OUTPUT0/OUTPUT1 with a+b, a-b */
    const int32_t *a, *b;
    bool outputs_ok;
    struct pa_client *client;
};

static void on_response(void *arg, const struct pa_response *r)
{
    struct seen *s = arg;
    if (!pthread_equal(pthread_self(), s->owner))
        s->wrong_thread = true;
    s->n++;
    s->last_tag = r->tag;
    s->last_null = r->null_response;
    if (r->error) {
        s->n_errors++;
        snprintf(s->last_error, sizeof(s->last_error), "%s", r->error_msg);
        return;
    }
    if (s->check_outputs) {
        const void *d0 = NULL, *d1 = NULL;
        size_t n0 = 0, n1 = 0;
        struct pa_err e;
        bool ok = pa_backend_triton_c_api.ops->output(s->client, r, "OUTPUT0", &d0, &n0, &e) ==
                      PA_OK &&
                  pa_backend_triton_c_api.ops->output(s->client, r, "OUTPUT1", &d1, &n1, &e) ==
                      PA_OK &&
                  n0 == 64 && n1 == 64;
        for (int i = 0; ok && i < 16; i++) {
            int32_t x, y;
            memcpy(&x, (const char *)d0 + 4 * i, 4);
            memcpy(&y, (const char *)d1 + 4 * i, 4);
            ok = x == s->a[i] + s->b[i] && y == s->a[i] - s->b[i];
        }
        s->outputs_ok = ok;
    }
}

struct fixture {
    struct pa_options opts;
    struct pa_client c;
    struct seen seen;
    struct pa_err open_err; /* what the last open_client() reported */
};

static int open_client(struct fixture *f, const char *dir)
{
    struct pa_err *err = &f->open_err;
    memset(&f->opts, 0, sizeof(f->opts));
    f->opts.service_kind = PA_SK_TRITON_C_API;
    f->opts.triton_server_directory = (char *)(uintptr_t)dir;
    f->opts.model_repository = (char *)(uintptr_t)PA_MODELS_DIR;
    memset(&f->seen, 0, sizeof(f->seen));
    f->seen.owner = pthread_self();
    f->seen.client = &f->c;
    memset(&f->c, 0, sizeof(f->c));
    f->c.backend = &pa_backend_triton_c_api;
    f->c.opts = &f->opts;
    f->c.on_response = on_response;
    f->c.on_response_arg = &f->seen;
    return pa_backend_triton_c_api.ops->open(&f->c, err);
}

static int setup(void **state)
{
    if (!PA_CAPI_TEST_DIR[0]) {
        fprintf(stderr, "tests/capi is not part of the build (add_subdirectory(capi))\n");
        return -1;
    }
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || open_client(f, FAKE_ROOT) != PA_OK)
        return -1;
    /* load the model as the pipeline does: metadata first */
    cJSON *j = NULL;
    struct pa_err err = {0};
    if (pa_backend_triton_c_api.ops->model_metadata(&f->c, "simple", "", &j, &err) != PA_OK)
        return -1;
    cJSON_Delete(j);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pa_backend_triton_c_api.ops->close(&f->c);
    free(f);
    return 0;
}

/* The request description of model "simple", batch 1. */
struct simple_req {
    int32_t a[16], b[16];
    int64_t shape[2];
    struct pa_input in[2];
    struct pa_output out[2];
    struct pa_infer_desc desc;
};

static void simple_req_init(struct simple_req *r, int32_t seed)
{
    for (int i = 0; i < 16; i++) {
        r->a[i] = seed + i;
        r->b[i] = 3 * i - seed;
    }
    r->shape[0] = 1;
    r->shape[1] = 16;
    r->in[0] = (struct pa_input){.name = "INPUT0", .datatype = "INT32", .shape = r->shape,
                                 .rank = 2, .data = r->a, .byte_size = sizeof(r->a)};
    r->in[1] = (struct pa_input){.name = "INPUT1", .datatype = "INT32", .shape = r->shape,
                                 .rank = 2, .data = r->b, .byte_size = sizeof(r->b)};
    r->out[0] = (struct pa_output){.name = "OUTPUT0"};
    r->out[1] = (struct pa_output){.name = "OUTPUT1"};
    r->desc = (struct pa_infer_desc){.model_name = "simple", .model_version = "",
                                     .inputs = r->in, .n_inputs = 2, .outputs = r->out,
                                     .n_outputs = 2};
}

/* submit + poll until the response: a synchronous call. */
static void sync_call(struct fixture *f, struct pa_prepared *p, void *tag)
{
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    struct pa_send send = {.tag = tag};
    int before = f->seen.n;
    assert_int_equal(ops->submit(&f->c, p, &send, &err), PA_OK);
    while (f->seen.n == before)
        assert_true(ops->poll(&f->c, 1000, &err) >= 0);
    assert_int_equal(f->seen.n, before + 1);
    assert_int_equal(ops->in_flight(&f->c), 0);
}

static void test_control_plane_json(void **state)
{
    struct fixture *f = *state;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    cJSON *j = NULL;
    assert_int_equal(ops->model_config(&f->c, "simple", "", &j, &err), PA_OK);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "name")), "simple");
    cJSON_Delete(j);
    assert_int_equal(ops->server_metadata(&f->c, &j, &err), PA_OK);
    assert_non_null(cJSON_GetObjectItem(j, "extensions"));
    cJSON_Delete(j);
    assert_true(pa_backend_triton_c_api.flags & PA_BACKEND_SERVER_STATS);
    assert_false(pa_backend_triton_c_api.flags & PA_BACKEND_ASYNC);
    assert_string_equal(pa_backend_triton_c_api.kind, "TRITON_C_API");
    assert_null(ops->trace_settings);
}

static void test_infer_and_outputs(void **state)
{
    struct fixture *f = *state;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    struct simple_req r;
    struct pa_prepared *p = NULL;
    simple_req_init(&r, 5);
    assert_int_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    f->seen.check_outputs = true;
    f->seen.a = r.a;
    f->seen.b = r.b;
    int tag;
    for (int i = 0; i < 50; i++) {
        f->seen.outputs_ok = false;
        sync_call(f, p, &tag);
        assert_int_equal(f->seen.n_errors, 0);
        assert_true(f->seen.outputs_ok);
        assert_ptr_equal(f->seen.last_tag, &tag);
    }
    assert_false(f->seen.wrong_thread);

    /* the server counted them */
    cJSON *j = NULL;
    assert_int_equal(ops->model_statistics(&f->c, "simple", "", &j, &err), PA_OK);
    const cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "model_stats"), 0);
    assert_true(cJSON_GetObjectItem(st, "inference_count")->valuedouble >= 50);
    cJSON_Delete(j);
    ops->prepared_free(&f->c, p);
}

static void test_several_in_flight(void **state)
{
    struct fixture *f = *state;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    struct simple_req r;
    struct pa_prepared *p = NULL;
    simple_req_init(&r, 1);
    assert_int_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    int tags[6];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 6; i++) {
            struct pa_send send = {.tag = &tags[i]};
            assert_int_equal(ops->submit(&f->c, p, &send, &err), PA_OK);
        }
        assert_int_equal(ops->in_flight(&f->c), 6);
        int got = 0;
        while (got < 6) {
            int n = ops->poll(&f->c, 1000, &err);
            assert_true(n >= 0);
            got += n;
        }
        assert_int_equal(ops->in_flight(&f->c), 0);
        /* nothing left: a poll without requests returns at once */
        assert_int_equal(ops->poll(&f->c, -1, &err), 0);
    }
    assert_int_equal(f->seen.n, 120);
    assert_int_equal(f->seen.n_errors, 0);
    assert_false(f->seen.wrong_thread);
    ops->prepared_free(&f->c, p);
}

static void test_response_error(void **state)
{
    struct fixture *f = *state;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    struct simple_req r;
    struct pa_prepared *p = NULL;
    simple_req_init(&r, 1);
    r.in[1].byte_size = 60; /* 15 elements for a [1,16] tensor */
    assert_int_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    sync_call(f, p, NULL);
    assert_int_equal(f->seen.n_errors, 1);
    const char *want = "inference response error: Invalid argument - ";
    assert_memory_equal(f->seen.last_error, want, strlen(want));
    assert_non_null(strstr(f->seen.last_error, "INPUT1"));
    ops->prepared_free(&f->c, p);

    /* an unknown model fails at InferenceRequestNew, reported through on_response */
    simple_req_init(&r, 1);
    r.desc.model_name = "nope";
    assert_int_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    struct pa_send send = {0};
    assert_int_equal(ops->submit(&f->c, p, &send, &err), PA_OK);
    assert_int_equal(f->seen.n_errors, 2); /* delivered inside submit */
    assert_non_null(strstr(f->seen.last_error, "creating inference request: Not found - "));
    assert_int_equal(ops->in_flight(&f->c), 0);
    ops->prepared_free(&f->c, p);
}

/* A POSIX shm object of size bytes holding data (may be NULL). */
static void make_region(const char *key, size_t size, const void *data)
{
    int fd = shm_open(key, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    if (data)
        memcpy(m, data, size);
    munmap(m, size);
    close(fd);
}

static void read_region(const char *key, void *out, size_t size)
{
    int fd = shm_open(key, O_RDONLY, 0);
    assert_true(fd >= 0);
    void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    memcpy(out, m, size);
    munmap(m, size);
    close(fd);
}

static void test_shared_memory(void **state)
{
    struct fixture *f = *state;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    struct simple_req r;
    struct pa_prepared *p = NULL;
    char k[4][64];
    const char *names[4] = {"INPUT0_0_0", "INPUT1_0_0", "OUTPUT0", "OUTPUT1"};
    int pid = (int)getpid();

    simple_req_init(&r, 9);
    for (int i = 0; i < 4; i++)
        snprintf(k[i], sizeof(k[i]), "/pa_capi_test_%d_%s", pid, names[i]);
    make_region(k[0], 64, r.a);
    make_region(k[1], 64, r.b);
    make_region(k[2], 64, NULL);
    make_region(k[3], 64, NULL);
    assert_int_equal(ops->unregister_system_shm(&f->c, NULL, &err), PA_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ops->register_system_shm(&f->c, names[i], k[i], 0, 64, &err), PA_OK);
    assert_int_not_equal(ops->register_system_shm(&f->c, names[0], k[0], 0, 64, &err), PA_OK);
    assert_string_equal(err.msg, "shared memory region 'INPUT0_0_0' already in manager");

    for (int i = 0; i < 2; i++) {
        r.in[i].data = NULL;
        r.in[i].shm_region = names[i];
        r.out[i].shm_region = names[2 + i];
        r.out[i].shm_byte_size = 64;
    }
    assert_int_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    sync_call(f, p, NULL);
    assert_int_equal(f->seen.n_errors, 0);
    int32_t o0[16], o1[16];
    read_region(k[2], o0, sizeof(o0));
    read_region(k[3], o1, sizeof(o1));
    for (int i = 0; i < 16; i++) {
        assert_int_equal(o0[i], r.a[i] + r.b[i]);
        assert_int_equal(o1[i], r.a[i] - r.b[i]);
    }
    ops->prepared_free(&f->c, p);

    /* an output region smaller than the output: the allocator's error */
    r.out[0].shm_byte_size = 8;
    assert_int_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    sync_call(f, p, NULL);
    assert_int_equal(f->seen.n_errors, 1);
    assert_non_null(strstr(f->seen.last_error,
                           "shared memory size specified with the request for output 'OUTPUT0' "
                           "(8 bytes) should be at least 64 bytes to hold the results"));
    ops->prepared_free(&f->c, p);

    /* an unregistered region */
    r.out[0].shm_region = "nope";
    assert_int_not_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    assert_string_equal(err.msg, "Unable to find shared memory region: 'nope'");

    assert_int_equal(ops->unregister_system_shm(&f->c, NULL, &err), PA_OK);
    r.out[0].shm_region = names[2];
    assert_int_not_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    for (int i = 0; i < 4; i++)
        shm_unlink(k[i]);

    assert_int_not_equal(ops->register_cuda_shm(&f->c, "x", "h", 1, 0, 64, &err), PA_OK);
    assert_non_null(strstr(err.msg, "not supported yet"));
    assert_int_equal(ops->unregister_cuda_shm(&f->c, NULL, &err), PA_OK);
}

static void test_decoupled_first_response(void **state)
{
    struct fixture *f = *state;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    int32_t in[5] = {1, 2, 3, 4, 5};
    int64_t shape[1] = {5};
    struct pa_input pin = {.name = "IN", .datatype = "INT32", .shape = shape, .rank = 1,
                           .data = in, .byte_size = sizeof(in)};
    struct pa_output pout = {.name = "OUT"};
    struct pa_infer_desc d = {.model_name = "repeat_int32", .model_version = "",
                              .inputs = &pin, .n_inputs = 1, .outputs = &pout, .n_outputs = 1};
    struct pa_prepared *p = NULL;
    assert_int_equal(ops->prepare(&f->c, &d, &p, &err), PA_OK);
    for (int i = 0; i < 10; i++) {
        sync_call(f, p, NULL); /* returns on the first of five responses */
        assert_int_equal(f->seen.n_errors, 0);
        assert_false(f->seen.last_null);
    }
    /* zero elements: the model answers only with an empty final */
    shape[0] = 0;
    pin.byte_size = 0;
    struct pa_prepared *p0 = NULL;
    assert_int_equal(ops->prepare(&f->c, &d, &p0, &err), PA_OK);
    sync_call(f, p0, NULL);
    assert_true(f->seen.last_null);
    assert_int_equal(f->seen.n_errors, 0);
    ops->prepared_free(&f->c, p0);
    ops->prepared_free(&f->c, p);
}

struct worker_arg {
    int requests;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker_arg *w = arg;
    struct fixture *f = calloc(1, sizeof(*f));
    struct pa_err err = {0};
    struct simple_req r;
    struct pa_prepared *p = NULL;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;

    if (open_client(f, FAKE_ROOT) != PA_OK)
        goto out;
    simple_req_init(&r, 2);
    f->seen.check_outputs = true;
    f->seen.a = r.a;
    f->seen.b = r.b;
    if (ops->prepare(&f->c, &r.desc, &p, &err) != PA_OK)
        goto close;
    for (int i = 0; i < w->requests; i++) {
        struct pa_send send = {0};
        int before = f->seen.n;
        if (ops->submit(&f->c, p, &send, &err) != PA_OK)
            break;
        while (f->seen.n == before)
            if (ops->poll(&f->c, 1000, &err) < 0)
                break;
        if (f->seen.outputs_ok && !f->seen.n_errors && !f->seen.wrong_thread)
            w->ok++;
    }
    ops->prepared_free(&f->c, p);
close:
    ops->close(&f->c);
out:
    free(f);
    return NULL;
}

static void test_threads_share_the_server(void **state)
{
    (void)state; /* the fixture's control client keeps the server up */
    pthread_t t[3];
    struct worker_arg w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct worker_arg){.requests = 100};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 100);
    }
}

static void test_close_with_requests_in_flight(void **state)
{
    (void)state;
    struct fixture *f = calloc(1, sizeof(*f));
    struct pa_err err = {0};
    struct simple_req r;
    struct pa_prepared *p = NULL;
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    assert_int_equal(open_client(f, FAKE_ROOT), PA_OK);
    simple_req_init(&r, 2);
    assert_int_equal(ops->prepare(&f->c, &r.desc, &p, &err), PA_OK);
    for (int i = 0; i < 5; i++) {
        struct pa_send send = {0};
        assert_int_equal(ops->submit(&f->c, p, &send, &err), PA_OK);
    }
    /* freed while the server holds its requests: destroyed with the last one */
    ops->prepared_free(&f->c, p);
    /* close waits for the server to hand every request back, then frees */
    ops->close(&f->c);
    assert_int_equal(f->seen.n, 0);
    free(f);
}

static void test_start_failure_is_reported_at_open(void **state)
{
    (void)state;
    struct fixture *f = calloc(1, sizeof(*f));
    /* r23.10 opens anyway and fails later without a reason; we fail at open
     * with the loader's reason, and leave nothing behind to close. */
    assert_int_equal(open_client(f, PA_CAPI_TEST_DIR "/no_such_dir"), PA_EINVAL);
    assert_string_equal(f->open_err.msg,
                        "Unable to find filepath: " PA_CAPI_TEST_DIR "/no_such_dir");
    assert_null(f->c.ctx);
    free(f);
}

/*
 * A decoupled model is still answering (10 responses, 2 ms apart) when the
 * owner, done after the first one, frees the prepared request and closes:
 * the free must wait for the server (ASan catches the use after free).
 */
static void test_prepared_freed_while_server_answers(void **state)
{
    (void)state;
    struct fixture *f = calloc(1, sizeof(*f));
    const struct pa_client_ops *ops = pa_backend_triton_c_api.ops;
    struct pa_err err = {0};
    int32_t in[10] = {0};
    int64_t shape[1] = {10};
    struct pa_input pin = {.name = "IN", .datatype = "INT32", .shape = shape, .rank = 1,
                           .data = in, .byte_size = sizeof(in)};
    struct pa_output pout = {.name = "OUT"};
    struct pa_infer_desc d = {.model_name = "repeat_int32", .model_version = "",
                              .inputs = &pin, .n_inputs = 1, .outputs = &pout, .n_outputs = 1};
    struct pa_prepared *p = NULL;

    setenv("PA_FAKE_TRITON_DELAY_MS", "2", 1); /* read when the server starts */
    assert_int_equal(open_client(f, FAKE_ROOT), PA_OK);
    unsetenv("PA_FAKE_TRITON_DELAY_MS");
    assert_int_equal(ops->prepare(&f->c, &d, &p, &err), PA_OK);
    for (int i = 0; i < 3; i++) {
        struct pa_prepared *q = NULL;
        assert_int_equal(ops->prepare(&f->c, &d, &q, &err), PA_OK);
        sync_call(f, q, NULL);
        assert_int_equal(f->seen.n_errors, 0);
        ops->prepared_free(&f->c, q); /* the server still reads q's request */
    }
    sync_call(f, p, NULL);
    ops->prepared_free(&f->c, p);
    ops->close(&f->c);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_control_plane_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_infer_and_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoupled_first_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_the_server, setup, teardown),
        cmocka_unit_test(test_close_with_requests_in_flight),
        cmocka_unit_test(test_start_failure_is_reported_at_open),
        cmocka_unit_test(test_prepared_freed_while_server_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
