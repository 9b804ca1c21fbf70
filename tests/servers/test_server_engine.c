/*
 * Unit tests of the pa-test-server engine: catalogue, validation texts,
 * compute functions, sequences, decoupled responses, ensembles,
 * statistics, shared memory and knobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/clock.h"
#include "engine.h"

static struct engine *load(void)
{
    char err[512] = "";
    struct engine *e = engine_create(PA_MODELS_DIR, err, sizeof(err));
    if (!e)
        fail_msg("engine_create: %s", err);
    return e;
}

static const struct engine_model *find(struct engine *e, const char *name, int64_t *v)
{
    const struct engine_model *m = NULL;
    struct engine_status st;
    assert_int_equal(engine_find(e, name, NULL, &m, v, &st), ENGINE_OK);
    return m;
}

static void i32_fill(int32_t *a, size_t n, int32_t base, int32_t step)
{
    for (size_t i = 0; i < n; i++)
        a[i] = base + (int32_t)i * step;
}

static void add_input(struct engine_request *r, const char *name, enum engine_dtype t,
                      const void *data, size_t size, size_t rank, ...)
{
    struct engine_input *in = &r->inputs[r->n_inputs++];
    va_list ap;
    in->name = name;
    in->dtype = t;
    in->data = data;
    in->byte_size = size;
    in->rank = rank;
    va_start(ap, rank);
    for (size_t i = 0; i < rank; i++)
        in->shape[i] = va_arg(ap, int64_t);
    va_end(ap);
}

static void test_dtypes(void **state)
{
    (void)state;
    assert_int_equal(engine_dtype_parse("INT32"), ENGINE_TYPE_INT32);
    assert_int_equal(engine_dtype_parse("BYTES"), ENGINE_TYPE_BYTES);
    assert_int_equal(engine_dtype_parse("STRING"), ENGINE_TYPE_INVALID);
    assert_int_equal(engine_dtype_parse(NULL), ENGINE_TYPE_INVALID);
    assert_string_equal(engine_dtype_config_name(ENGINE_TYPE_BYTES), "TYPE_STRING");
    assert_string_equal(engine_dtype_name(ENGINE_TYPE_BF16), "BF16");
    assert_int_equal(engine_dtype_size(ENGINE_TYPE_FP64), 8);
    assert_int_equal(engine_dtype_size(ENGINE_TYPE_BYTES), 0);
    assert_int_equal(engine_code_grpc(ENGINE_UNSUPPORTED), 12);
    assert_int_equal(engine_code_http(ENGINE_NOT_FOUND), 400);
}

static void test_catalogue(void **state)
{
    struct engine *e = load();
    struct engine_status st;
    const struct engine_model *m;
    int64_t v;
    const char *want[] = {"simple", "simple_dyna", "identity_fp32", "identity_bytes",
                          "simple_sequence", "repeat_int32", "simple_ensemble", "add_sub",
                          "identity_int32"};
    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(engine_find(e, want[i], "", &m, &v, &st), ENGINE_OK);
    assert_int_equal(engine_find(e, "nope", NULL, &m, &v, &st), ENGINE_NOT_FOUND);
    assert_string_equal(st.msg, "Request for unknown model: 'nope' is not found");
    assert_int_equal(engine_find(e, "simple", "2", &m, &v, &st), ENGINE_NOT_FOUND);
    assert_string_equal(st.msg, "Request for unknown model: 'simple' version 2 is not found");
    m = find(e, "simple", &v);
    assert_int_equal(v, 1);
    assert_int_equal(engine_model_info(m)->max_batch_size, 8);
    assert_int_equal(engine_model_info(find(e, "simple_dyna", &v))->scheduler,
                     ENGINE_SCHED_DYNAMIC);
    assert_true(engine_model_info(find(e, "repeat_int32", &v))->decoupled);
    assert_int_equal(engine_model_info(find(e, "simple_ensemble", &v))->n_steps, 2);
    /* names come back sorted */
    for (size_t i = 1; i < engine_model_count(e); i++)
        assert_true(strcmp(engine_model_info(engine_model_at(e, i - 1))->name,
                           engine_model_info(engine_model_at(e, i))->name) < 0);
    assert_null(engine_model_at(e, engine_model_count(e)));
    engine_destroy(e);
}

static void test_bad_model_dir(void **state)
{
    char dir[] = "/tmp/pa-engine-test-XXXXXX", path[128], err[512] = "";
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_null(engine_create(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "no model files"));
    snprintf(path, sizeof(path), "%s/bad.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"name\":\"x\",\"kind\":\"magic\",\"inputs\":[],\"outputs\":[]}", f);
    fclose(f);
    assert_null(engine_create(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown kind 'magic'"));
    unlink(path);
    rmdir(dir);
}

static void test_add_sub_and_stats(void **state)
{
    struct engine *e = load();
    struct engine_request req;
    struct engine_response resp;
    struct engine_model_stats s;
    int32_t a[32], b[32];
    const int32_t *o0, *o1;
    int64_t v;
    const struct engine_model *m = find(e, "simple", &v);
    (void)state;

    i32_fill(a, 32, 10, 1);
    i32_fill(b, 32, 1, 2);
    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT1", ENGINE_TYPE_INT32, b, sizeof(b), 2, (int64_t)2, (int64_t)16);
    add_input(&req, "INPUT0", ENGINE_TYPE_INT32, a, sizeof(a), 2, (int64_t)2, (int64_t)16);
    req.outputs[0].name = "OUTPUT1";
    req.outputs[1].name = "OUTPUT0";
    req.n_outputs = 2;
    engine_response_init(&resp);
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_int_equal(resp.n_outputs, 2);
    /* request order */
    assert_string_equal(resp.outputs[0].name, "OUTPUT1");
    assert_int_equal(resp.outputs[0].req_index, 0);
    assert_int_equal(resp.outputs[0].rank, 2);
    assert_int_equal(resp.outputs[0].shape[0], 2);
    assert_int_equal(resp.outputs[0].byte_size, sizeof(a));
    o1 = resp.outputs[0].data;
    o0 = resp.outputs[1].data;
    for (int i = 0; i < 32; i++) {
        assert_int_equal(o0[i], a[i] + b[i]);
        assert_int_equal(o1[i], a[i] - b[i]);
    }
    assert_int_equal(engine_stats_get(e, m, v, &s, NULL), ENGINE_OK);
    assert_int_equal(s.success.count, 1);
    assert_int_equal(s.queue.count, 1);
    assert_int_equal(s.compute_infer.count, 1);
    assert_int_equal(s.inference_count, 2);
    assert_int_equal(s.execution_count, 1);
    assert_int_equal(s.n_batch, 1);
    assert_int_equal(s.batch[0].batch_size, 2);
    assert_true(s.last_inference > 1600000000000ULL);
    assert_true(s.success.ns >= s.queue.ns + s.compute_infer.ns);

    /* no outputs requested: all of them, model order */
    req.n_outputs = 0;
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_int_equal(resp.n_outputs, 2);
    assert_string_equal(resp.outputs[0].name, "OUTPUT0");
    assert_int_equal(resp.outputs[0].req_index, -1);
    engine_response_release(&resp);
    engine_destroy(e);
}

static void expect_error(struct engine *e, const char *model, const struct engine_request *req,
                         const char *msg)
{
    struct engine_response resp;
    int64_t v;
    const struct engine_model *m = find(e, model, &v);
    engine_response_init(&resp);
    assert_int_not_equal(engine_infer(e, m, v, req, &resp), ENGINE_OK);
    assert_string_equal(resp.status.msg, msg);
    assert_int_equal(resp.n_outputs, 0);
    engine_response_release(&resp);
}

static void test_validation(void **state)
{
    struct engine *e = load();
    struct engine_request req;
    struct engine_model_stats s;
    int32_t a[16 * 9] = {0};
    float f[16] = {0};
    int64_t v;
    (void)state;

    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT0", ENGINE_TYPE_INT32, a, 64, 2, (int64_t)1, (int64_t)16);
    expect_error(e, "simple", &req, "expected 2 inputs but got 1 inputs for model 'simple'");
    add_input(&req, "INPUT1", ENGINE_TYPE_FP32, f, 64, 2, (int64_t)1, (int64_t)16);
    expect_error(e, "simple", &req,
                 "inference input 'INPUT1' data-type is 'FP32', but model 'simple' expects "
                 "'INT32'");
    req.inputs[1].dtype = ENGINE_TYPE_INT32;
    req.inputs[1].shape[1] = 15;
    expect_error(e, "simple", &req,
                 "unexpected shape for input 'INPUT1' for model 'simple'. Expected [-1,16], got "
                 "[1,15]");
    req.inputs[1].shape[1] = 16;
    req.inputs[1].byte_size = 60;
    expect_error(e, "simple", &req,
                 "input byte size mismatch for input 'INPUT1' for model 'simple'. Expected 64, "
                 "got 60");
    req.inputs[1].byte_size = 64;
    req.inputs[2] = req.inputs[1];
    req.inputs[2].name = "EXTRA";
    req.n_inputs = 3;
    expect_error(e, "simple", &req, "unexpected inference input 'EXTRA' for model 'simple'");
    req.n_inputs = 2;
    req.outputs[0].name = "OUTPUTX";
    req.n_outputs = 1;
    expect_error(e, "simple", &req, "unexpected inference output 'OUTPUTX' for model 'simple'");
    req.n_outputs = 0;
    req.inputs[0].shape[0] = req.inputs[1].shape[0] = 9;
    req.inputs[0].byte_size = req.inputs[1].byte_size = sizeof(a);
    req.inputs[1].data = a;
    expect_error(e, "simple", &req, "inference request batch-size must be <= 8 for 'simple'");

    /* non-batching model: no batch dim */
    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT0", ENGINE_TYPE_FP32, f, 64, 2, (int64_t)1, (int64_t)16);
    add_input(&req, "INPUT1", ENGINE_TYPE_FP32, f, 64, 2, (int64_t)1, (int64_t)16);
    expect_error(e, "add_sub_nobatch", &req,
                 "unexpected shape for input 'INPUT0' for model 'add_sub_nobatch'. Expected "
                 "[16], got [1,16]");

    /* decoupled model on the unary path */
    memset(&req, 0, sizeof(req));
    add_input(&req, "IN", ENGINE_TYPE_INT32, a, 4, 1, (int64_t)1);
    expect_error(e, "repeat_int32", &req,
                 "HTTP end point doesn't support models with decoupled transaction policy");

    /* validation failures happen before scheduling: not counted */
    assert_int_equal(engine_stats_get(e, find(e, "simple", &v), 1, &s, NULL), ENGINE_OK);
    assert_int_equal(s.fail.count, 0);
    assert_int_equal(s.success.count, 0);
    engine_destroy(e);
}

static void test_bytes(void **state)
{
    struct engine *e = load();
    struct engine_request req;
    struct engine_response resp;
    /* "ab", "", "xyz" */
    const unsigned char good[] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 3, 0, 0, 0, 'x', 'y', 'z'};
    int64_t v;
    const struct engine_model *m = find(e, "identity_bytes", &v);
    (void)state;

    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT0", ENGINE_TYPE_BYTES, good, sizeof(good), 1, (int64_t)3);
    engine_response_init(&resp);
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_int_equal(resp.outputs[0].byte_size, sizeof(good));
    assert_memory_equal(resp.outputs[0].data, good, sizeof(good));
    assert_int_equal(resp.outputs[0].dtype, ENGINE_TYPE_BYTES);
    engine_response_release(&resp);

    req.inputs[0].shape[0] = 4; /* more elements than encoded */
    expect_error(e, "identity_bytes", &req,
                 "element byte size mismatch for input 'INPUT0' for model 'identity_bytes': 17 "
                 "bytes do not hold 4 length-prefixed strings");
    req.inputs[0].shape[0] = 2; /* leftover bytes */
    expect_error(e, "identity_bytes", &req,
                 "element byte size mismatch for input 'INPUT0' for model 'identity_bytes': 17 "
                 "bytes do not hold 2 length-prefixed strings");
    engine_destroy(e);
}

static int seq_step(struct engine *e, uint64_t id, bool start, bool end, int32_t x,
                    int32_t *out, char *msg)
{
    struct engine_request req;
    struct engine_response resp;
    int64_t v;
    const struct engine_model *m = find(e, "simple_sequence", &v);
    int rc;
    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT", ENGINE_TYPE_INT32, &x, 4, 2, (int64_t)1, (int64_t)1);
    req.corr_id.u = id;
    req.seq_start = start;
    req.seq_end = end;
    engine_response_init(&resp);
    rc = engine_infer(e, m, v, &req, &resp);
    if (rc == ENGINE_OK)
        memcpy(out, resp.outputs[0].data, 4);
    else
        snprintf(msg, ENGINE_MSG_MAX, "%s", resp.status.msg);
    engine_response_release(&resp);
    return rc;
}

static void test_sequence(void **state)
{
    struct engine *e = load();
    struct engine_model_stats s;
    char msg[ENGINE_MSG_MAX];
    int32_t out = 0;
    int64_t v;
    (void)state;

    assert_int_equal(seq_step(e, 5, true, false, 3, &out, msg), ENGINE_OK);
    assert_int_equal(out, 3);
    assert_int_equal(seq_step(e, 6, true, false, 100, &out, msg), ENGINE_OK);
    assert_int_equal(seq_step(e, 5, false, false, 4, &out, msg), ENGINE_OK);
    assert_int_equal(out, 7);
    /* duplicate START restarts the state */
    assert_int_equal(seq_step(e, 5, true, false, 1, &out, msg), ENGINE_OK);
    assert_int_equal(out, 1);
    assert_int_equal(seq_step(e, 5, false, true, 1, &out, msg), ENGINE_OK);
    assert_int_equal(out, 2);
    assert_int_equal(seq_step(e, 5, false, false, 1, &out, msg), ENGINE_INVALID_ARG);
    assert_string_equal(msg, "inference request for sequence 5 to model 'simple_sequence' must "
                             "specify the START flag on the first request of the sequence");
    assert_int_equal(seq_step(e, 0, true, true, 1, &out, msg), ENGINE_INVALID_ARG);
    assert_string_equal(msg, "inference request to model 'simple_sequence' must specify a "
                             "non-zero or non-empty correlation ID");
    /* START and END on one request */
    assert_int_equal(seq_step(e, 7, true, true, 9, &out, msg), ENGINE_OK);
    assert_int_equal(out, 9);
    assert_int_equal(seq_step(e, 6, false, true, 1, &out, msg), ENGINE_OK);
    assert_int_equal(out, 101);
    /* the missing-START after END happened inside the scheduler: counted as failure */
    assert_int_equal(engine_stats_get(e, find(e, "simple_sequence", &v), 1, &s, NULL), 0);
    assert_int_equal(s.success.count, 7);
    assert_int_equal(s.fail.count, 1);
    engine_destroy(e);
}

static void test_sequence_idle_timeout(void **state)
{
    char dir[] = "/tmp/pa-engine-test-XXXXXX", path[128], err[512] = "", msg[ENGINE_MSG_MAX];
    struct engine *e;
    int32_t out;
    FILE *f;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/simple_sequence.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"name\":\"simple_sequence\",\"kind\":\"accumulate\",\"max_batch_size\":1,"
          "\"inputs\":[{\"name\":\"INPUT\",\"datatype\":\"INT32\",\"dims\":[1]}],"
          "\"outputs\":[{\"name\":\"OUTPUT\",\"datatype\":\"INT32\",\"dims\":[1]}],"
          "\"sequence_batching\":{\"max_sequence_idle_microseconds\":20000}}",
          f);
    fclose(f);
    e = engine_create(dir, err, sizeof(err));
    assert_non_null(e);
    assert_int_equal(seq_step(e, 1, true, false, 1, &out, msg), ENGINE_OK);
    assert_int_equal(seq_step(e, 1, false, false, 1, &out, msg), ENGINE_OK);
    clock_sleep_ns(40 * NS_PER_MS);
    assert_int_equal(seq_step(e, 1, false, false, 1, &out, msg), ENGINE_INVALID_ARG);
    assert_non_null(strstr(msg, "must specify the START flag"));
    engine_destroy(e);
    unlink(path);
    rmdir(dir);
}

struct collected {
    int n;
    int32_t values[16];
    bool final[16];
    size_t n_outputs[16];
};

static int collect(void *arg, const struct engine_response *resp)
{
    struct collected *c = arg;
    assert_int_equal(resp->status.code, ENGINE_OK);
    assert_true(c->n < 16);
    c->final[c->n] = resp->final;
    c->n_outputs[c->n] = resp->n_outputs;
    c->values[c->n] = 0;
    if (resp->n_outputs)
        memcpy(&c->values[c->n], resp->outputs[0].data, 4);
    c->n++;
    return 0;
}

static void run_repeat(struct engine *e, const char *model, const int32_t *vals, size_t n,
                       bool empty_final, struct collected *c)
{
    struct engine_request req;
    struct engine_response resp;
    int64_t v;
    const struct engine_model *m = find(e, model, &v);
    memset(&req, 0, sizeof(req));
    memset(c, 0, sizeof(*c));
    add_input(&req, "IN", ENGINE_TYPE_INT32, vals, 4 * n, 1, (int64_t)n);
    req.enable_empty_final_response = empty_final;
    engine_response_init(&resp);
    assert_int_equal(engine_infer_decoupled(e, m, v, &req, &resp, collect, c), ENGINE_OK);
    engine_response_release(&resp);
}

static void test_decoupled(void **state)
{
    struct engine *e = load();
    struct collected c;
    struct engine_model_stats s;
    const int32_t vals[3] = {4, 5, 6};
    int64_t v;
    (void)state;

    run_repeat(e, "repeat_int32", vals, 3, true, &c);
    assert_int_equal(c.n, 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c.values[i], vals[i]);
        assert_false(c.final[i]);
        assert_int_equal(c.n_outputs[i], 1);
    }
    assert_true(c.final[3]);
    assert_int_equal(c.n_outputs[3], 0);

    run_repeat(e, "repeat_int32", vals, 3, false, &c);
    assert_int_equal(c.n, 3);
    assert_false(c.final[2]);

    run_repeat(e, "repeat_int32", vals, 0, true, &c);
    assert_int_equal(c.n, 1);
    assert_true(c.final[0]);
    assert_int_equal(c.n_outputs[0], 0);

    run_repeat(e, "repeat_int32_final", vals, 3, true, &c);
    assert_int_equal(c.n, 3);
    assert_true(c.final[2]);
    assert_false(c.final[1]);
    assert_int_equal(c.values[2], 6);

    /* a non-decoupled model on the decoupled path: one final response */
    {
        struct engine_request req;
        struct engine_response resp;
        int32_t x[16] = {0};
        const struct engine_model *m = find(e, "identity_int32", &v);
        memset(&req, 0, sizeof(req));
        add_input(&req, "INPUT0", ENGINE_TYPE_INT32, x, sizeof(x), 2, (int64_t)1, (int64_t)16);
        engine_response_init(&resp);
        memset(&c, 0, sizeof(c));
        assert_int_equal(engine_infer_decoupled(e, m, v, &req, &resp, collect, &c), ENGINE_OK);
        assert_int_equal(c.n, 1);
        assert_true(c.final[0]);
        engine_response_release(&resp);
    }
    assert_int_equal(engine_stats_get(e, find(e, "repeat_int32", &v), 1, &s, NULL), 0);
    assert_int_equal(s.success.count, 3);
    assert_int_equal(s.execution_count, 3);
    engine_destroy(e);
}

static void test_ensemble(void **state)
{
    struct engine *e = load();
    struct engine_request req;
    struct engine_response resp;
    struct engine_model_stats s;
    struct engine_status st;
    int32_t a[16], b[16];
    int64_t v;
    const struct engine_model *m = find(e, "simple_ensemble", &v);
    cJSON *j;
    char *text;
    (void)state;

    i32_fill(a, 16, 0, 3);
    i32_fill(b, 16, 7, -1);
    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT0", ENGINE_TYPE_INT32, a, sizeof(a), 2, (int64_t)1, (int64_t)16);
    add_input(&req, "INPUT1", ENGINE_TYPE_INT32, b, sizeof(b), 2, (int64_t)1, (int64_t)16);
    engine_response_init(&resp);
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_int_equal(resp.n_outputs, 2);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(((const int32_t *)resp.outputs[0].data)[i], a[i] + b[i]);
        assert_int_equal(((const int32_t *)resp.outputs[1].data)[i], a[i] - b[i]);
    }
    engine_response_release(&resp);
    assert_int_equal(engine_stats_get(e, find(e, "add_sub", &v), 1, &s, NULL), 0);
    assert_int_equal(s.success.count, 2);
    assert_int_equal(engine_stats_get(e, find(e, "identity_int32", &v), 1, &s, NULL), 0);
    assert_int_equal(s.success.count, 2);
    assert_int_equal(engine_stats_get(e, m, 1, &s, NULL), 0);
    assert_int_equal(s.success.count, 2);

    j = engine_stats_json(e, NULL, NULL, &st);
    assert_non_null(j);
    text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "{\"name\":\"add_sub\",\"version\":\"1\""));
    assert_non_null(strstr(text, "\"inference_stats\":{\"success\":{\"count\":2,"));
    free(text);
    cJSON_Delete(j);
    assert_null(engine_stats_json(e, "nope", NULL, &st));
    assert_string_equal(st.msg, "requested model 'nope' is not available");
    assert_null(engine_stats_json(e, "simple", "4", &st));
    assert_string_equal(st.msg, "requested model version is not available for model 'simple'");
    engine_destroy(e);
}

static void test_json_documents(void **state)
{
    struct engine *e = load();
    int64_t v;
    char *text;
    cJSON *j = engine_model_metadata_json(find(e, "simple", &v), -1);
    (void)state;
    text = cJSON_PrintUnformatted(j);
    assert_string_equal(text,
                        "{\"name\":\"simple\",\"versions\":[\"1\"],\"platform\":\"pa_test\","
                        "\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"INT32\",\"shape\":[-1,16]},"
                        "{\"name\":\"INPUT1\",\"datatype\":\"INT32\",\"shape\":[-1,16]}],"
                        "\"outputs\":[{\"name\":\"OUTPUT0\",\"datatype\":\"INT32\",\"shape\":[-1,16]},"
                        "{\"name\":\"OUTPUT1\",\"datatype\":\"INT32\",\"shape\":[-1,16]}]}");
    free(text);
    cJSON_Delete(j);

    j = engine_model_config_json(find(e, "simple_sequence", &v));
    text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"max_batch_size\":1,"));
    assert_non_null(strstr(text, "\"dims\":[1]"));
    assert_non_null(strstr(text, "\"sequence_batching\":{\"max_sequence_idle_microseconds\":1000000"));
    assert_null(strstr(text, "dynamic_batching"));
    free(text);
    cJSON_Delete(j);

    j = engine_model_config_json(find(e, "identity_bytes", &v));
    text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"data_type\":\"TYPE_STRING\",\"format\":\"FORMAT_NONE\",\"dims\":[-1]"));
    assert_non_null(strstr(text, "\"max_batch_size\":0,"));
    free(text);
    cJSON_Delete(j);

    j = engine_server_metadata_json(e);
    text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"statistics\""));
    assert_non_null(strstr(text, "\"version\":\"2.39.0\""));
    free(text);
    cJSON_Delete(j);
    engine_destroy(e);
}

static void test_system_shm(void **state)
{
    struct engine *e = load();
    struct engine_request req;
    struct engine_response resp;
    struct engine_status st;
    struct engine_shm_info info[4];
    char key[64];
    int32_t *mem;
    int64_t v;
    const struct engine_model *m = find(e, "simple", &v);
    int fd;
    (void)state;

    snprintf(key, sizeof(key), "/pa_engine_test_%d", (int)getpid());
    fd = shm_open(key, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 8192), 0);
    mem = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(mem != MAP_FAILED);
    close(fd);
    /* the region starts at 4096 + 64 in the object: exercises page alignment */
    i32_fill(mem + (4096 + 64) / 4, 16, 1, 1);
    i32_fill(mem + (4096 + 128) / 4, 16, 100, 0);

    assert_int_equal(engine_shm_register(e, "r", key, 4096 + 64, 256, &st), ENGINE_OK);
    assert_int_equal(engine_shm_register(e, "r", key, 0, 64, &st), ENGINE_ALREADY_EXISTS);
    assert_string_equal(st.msg, "shared memory region 'r' already in manager");
    assert_int_equal(engine_shm_register(e, "x", "/pa_no_such_key", 0, 64, &st), ENGINE_INTERNAL);
    assert_int_equal(engine_shm_register(e, "big", key, 0, 1 << 20, &st), ENGINE_INVALID_ARG);
    assert_int_equal(engine_shm_list(e, false, NULL, info, 4, &st), 1);
    assert_string_equal(info[0].key, key);
    assert_int_equal(info[0].offset, 4096 + 64);
    assert_int_equal(engine_shm_list(e, false, "zz", info, 4, &st), -1);
    assert_string_equal(st.msg, "Unable to find system shared memory region: 'zz'");

    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT0", ENGINE_TYPE_INT32, NULL, 0, 2, (int64_t)1, (int64_t)16);
    add_input(&req, "INPUT1", ENGINE_TYPE_INT32, NULL, 0, 2, (int64_t)1, (int64_t)16);
    req.inputs[0].shm_region = req.inputs[1].shm_region = "r";
    req.inputs[0].shm_byte_size = req.inputs[1].shm_byte_size = 64;
    req.inputs[1].shm_offset = 64;
    req.outputs[0].name = "OUTPUT0";
    req.outputs[0].shm_region = "r";
    req.outputs[0].shm_offset = 128;
    req.outputs[0].shm_byte_size = 64;
    req.n_outputs = 1;
    engine_response_init(&resp);
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_true(resp.outputs[0].in_shm);
    assert_null(resp.outputs[0].data);
    for (int i = 0; i < 16; i++)
        assert_int_equal(mem[(4096 + 64 + 128) / 4 + i], i + 1 + 100);

    req.outputs[0].shm_byte_size = 8;
    assert_int_not_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_string_equal(resp.status.msg,
                        "shared memory size specified with the request for output 'OUTPUT0' (8 "
                        "bytes) should be at least 64 bytes to hold the results");
    req.outputs[0].shm_byte_size = 64;
    req.inputs[1].shm_offset = 250;
    assert_int_not_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_string_equal(resp.status.msg, "Invalid offset + byte size for shared memory region: 'r'");
    req.inputs[1].shm_region = "gone";
    assert_int_not_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_string_equal(resp.status.msg, "Unable to find shared memory region: 'gone'");
    engine_response_release(&resp);

    /* CUDA unregister/status work without a GPU; register with no libcudart fails */
    assert_int_equal(engine_cuda_shm_unregister(e, NULL, &st), ENGINE_OK);
    assert_int_equal(engine_shm_list(e, true, NULL, info, 4, &st), 0);
    engine_set_cudart_path(e, "/nonexistent/libcudart.so");
    {
        unsigned char handle[64] = {0};
        assert_int_equal(engine_cuda_shm_register(e, "c", handle, 64, 0, 64, &st),
                         ENGINE_UNSUPPORTED);
        assert_int_equal(engine_cuda_shm_register(e, "c", handle, 63, 0, 64, &st),
                         ENGINE_INVALID_ARG);
    }

    assert_int_equal(engine_shm_unregister(e, "r", &st), ENGINE_OK);
    assert_int_equal(engine_shm_list(e, false, NULL, info, 4, &st), 0);
    munmap(mem, 8192);
    shm_unlink(key);
    engine_destroy(e);
}

static void test_knobs(void **state)
{
    struct engine *e = load();
    struct engine_knobs k = {0};
    struct engine_request req;
    struct engine_response resp;
    struct engine_model_stats s;
    struct engine_status st;
    int32_t a[16] = {0};
    int64_t v;
    const struct engine_model *m = find(e, "identity_int32", &v);
    uint64_t t0;
    (void)state;

    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT0", ENGINE_TYPE_INT32, a, sizeof(a), 2, (int64_t)1, (int64_t)16);
    engine_response_init(&resp);

    assert_int_equal(engine_set_model_delay(e, "identity_int32", 20 * NS_PER_MS, 20 * NS_PER_MS,
                                            &st), ENGINE_OK);
    assert_int_not_equal(engine_set_model_delay(e, "nope", 1, 1, &st), ENGINE_OK);
    t0 = clock_now_ns();
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_true(clock_now_ns() - t0 >= 20 * NS_PER_MS);
    req.defer_delay = true;
    t0 = clock_now_ns();
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_OK);
    assert_true(clock_now_ns() - t0 < 15 * NS_PER_MS);
    assert_true(resp.ready_ns >= t0 + 20 * NS_PER_MS);
    assert_int_equal(engine_stats_get(e, m, v, &s, NULL), 0);
    assert_true(s.compute_infer.ns >= 40 * NS_PER_MS);
    assert_true(s.success.ns >= 40 * NS_PER_MS);

    k.error_rate = 1.0;
    k.drop_every = 2;
    engine_set_knobs(e, &k);
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_INTERNAL);
    assert_string_equal(resp.status.msg, "injected failure (--error-rate)");
    assert_false(resp.drop_connection);
    assert_int_equal(engine_infer(e, m, v, &req, &resp), ENGINE_INTERNAL);
    assert_true(resp.drop_connection);
    assert_int_equal(engine_stats_get(e, m, v, &s, NULL), 0);
    assert_int_equal(s.fail.count, 2);
    assert_int_equal(s.success.count, 2);
    engine_response_release(&resp);
    engine_destroy(e);
}

struct worker {
    struct engine *e;
    int n;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    struct engine_request req;
    struct engine_response resp;
    int32_t a[16], b[16];
    int64_t v;
    const struct engine_model *m = NULL;
    struct engine_status st;
    i32_fill(a, 16, 1, 1);
    i32_fill(b, 16, 2, 2);
    memset(&req, 0, sizeof(req));
    add_input(&req, "INPUT0", ENGINE_TYPE_INT32, a, sizeof(a), 2, (int64_t)1, (int64_t)16);
    add_input(&req, "INPUT1", ENGINE_TYPE_INT32, b, sizeof(b), 2, (int64_t)1, (int64_t)16);
    if (engine_find(w->e, "simple_ensemble", NULL, &m, &v, &st))
        return NULL;
    engine_response_init(&resp);
    for (int i = 0; i < w->n; i++) {
        if (engine_infer(w->e, m, v, &req, &resp) ||
            ((const int32_t *)resp.outputs[0].data)[3] != a[3] + b[3])
            break;
    }
    engine_response_release(&resp);
    return NULL;
}

static void test_concurrent_stats(void **state)
{
    struct engine *e = load();
    struct worker w = {e, 500};
    pthread_t t[4];
    struct engine_model_stats s;
    int64_t v;
    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(engine_stats_get(e, find(e, "add_sub", &v), 1, &s, NULL), 0);
    assert_int_equal(s.success.count, 2000);
    assert_int_equal(s.compute_output.count, 2000);
    assert_int_equal(s.execution_count, 2000);
    assert_int_equal(engine_stats_get(e, find(e, "simple_ensemble", &v), 1, &s, NULL), 0);
    assert_int_equal(s.inference_count, 2000);
    engine_destroy(e);
}

static void test_trace(void **state)
{
    struct engine *e = load();
    struct engine_status st;
    cJSON *upd = cJSON_Parse("{\"trace_rate\":\"5\",\"trace_level\":[\"TIMESTAMPS\"]}");
    cJSON *res;
    (void)state;
    res = engine_trace_setting(e, NULL, upd, &st);
    assert_non_null(res);
    assert_string_equal(cJSON_GetObjectItem(res, "trace_rate")->valuestring, "5");
    cJSON_Delete(res);
    cJSON_Delete(upd);
    upd = cJSON_Parse("{\"trace_count\":\"3\"}");
    res = engine_trace_setting(e, "simple", upd, &st);
    assert_string_equal(cJSON_GetObjectItem(res, "trace_count")->valuestring, "3");
    assert_string_equal(cJSON_GetObjectItem(res, "trace_rate")->valuestring, "5");
    cJSON_Delete(res);
    cJSON_Delete(upd);
    upd = cJSON_Parse("{\"trace_rate\":5}");
    assert_null(engine_trace_setting(e, NULL, upd, &st));
    cJSON_Delete(upd);
    assert_null(engine_trace_setting(e, "nope", NULL, &st));
    engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_bad_model_dir),
        cmocka_unit_test(test_add_sub_and_stats),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_sequence_idle_timeout),
        cmocka_unit_test(test_decoupled),
        cmocka_unit_test(test_ensemble),
        cmocka_unit_test(test_json_documents),
        cmocka_unit_test(test_system_shm),
        cmocka_unit_test(test_knobs),
        cmocka_unit_test(test_concurrent_stats),
        cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
