/*
 * Unit tests of the gRPC backend's hand-written wire codec (grpc_wire.c),
 * cross-checked against protobuf-c's generated code for the same .proto,
 * and of the protobuf -> KServe JSON conversion (grpc_json.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/grpc_json.h"
#include "client/grpc_wire.h"
#include "grpc_service.pb-c.h"
#include "model_config.pb-c.h"

/* protobuf-c string fields are `char *`; packing never writes through them. */
static char *S(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

/* Joins a prepared request's segments and a per-send suffix. */
static unsigned char *flatten(const struct gw_request *r, const unsigned char *suffix,
                              size_t slen, size_t *len)
{
    unsigned char *out = malloc(r->total + slen);
    size_t n = 0;
    for (size_t i = 0; i < r->n_segs; i++) {
        memcpy(out + n, r->segs[i].data, r->segs[i].len);
        n += r->segs[i].len;
    }
    memcpy(out + n, suffix, slen);
    *len = n + slen;
    return out;
}

static const Inference__InferParameter *param(Inference__ModelInferRequest__ParametersEntry **ps,
                                              size_t n, const char *key)
{
    const Inference__InferParameter *found = NULL;
    for (size_t i = 0; i < n; i++) /* last one wins, as in protobuf maps */
        if (!strcmp(ps[i]->key, key))
            found = ps[i]->value;
    return found;
}

static void test_request_roundtrip(void **state)
{
    (void)state;
    int32_t a[4] = {1, 2, 3, 4};
    int64_t shape_a[2] = {1, 4}, shape_b[2] = {-1, 2};
    struct pa_input in[2] = {
        {"INPUT0", "INT32", shape_a, 2, a, sizeof(a), NULL, 0},
        {"INPUT1", "FP32", shape_b, 2, NULL, 8, "region_in", 64},
    };
    struct pa_output out[2] = {{"OUTPUT0", NULL, 0, 0}, {"OUTPUT1", "region_out", 32, 0}};
    struct pa_infer_desc d = {"simple", "3", in, 2, out, 2, true};
    struct gw_param params[3] = {
        {.name = "mode", .type = GW_P_STRING, .s = "fast"},
        {.name = "depth", .type = GW_P_INT64, .i = -7},
        {.name = "flag", .type = GW_P_BOOL, .b = false},
    };
    struct gw_request r;
    struct pa_err err = {0};
    assert_int_equal(gw_request_build(&d, params, 3, &r, &err), PA_OK);

    /* Tensor data is referenced, never copied. */
    bool referenced = false;
    for (size_t i = 0; i < r.n_segs; i++)
        referenced |= r.segs[i].data == (const void *)a && r.segs[i].len == sizeof(a);
    assert_true(referenced);

    unsigned char suffix[GW_SEND_MAX];
    struct pa_send s = {.sequence_id = 5000000000ull, .sequence_start = false,
                        .sequence_end = true};
    size_t slen = gw_encode_send(suffix, 12345, &s);
    assert_true(slen <= GW_SEND_MAX);
    size_t len;
    unsigned char *bytes = flatten(&r, suffix, slen, &len);
    Inference__ModelInferRequest *m = inference__model_infer_request__unpack(NULL, len, bytes);
    assert_non_null(m);
    assert_string_equal(m->model_name, "simple");
    assert_string_equal(m->model_version, "3");
    assert_string_equal(m->id, "12345");

    const Inference__InferParameter *p;
    p = param(m->parameters, m->n_parameters, "triton_enable_empty_final_response");
    assert_non_null(p);
    assert_int_equal(p->parameter_choice_case,
                     INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM);
    assert_true(p->bool_param);
    p = param(m->parameters, m->n_parameters, "sequence_id");
    assert_int_equal(p->parameter_choice_case,
                     INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM);
    assert_int_equal(p->int64_param, 5000000000ll);
    /* A false oneof member is still present (spec 00 §5). */
    p = param(m->parameters, m->n_parameters, "sequence_start");
    assert_non_null(p);
    assert_int_equal(p->parameter_choice_case,
                     INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM);
    assert_false(p->bool_param);
    p = param(m->parameters, m->n_parameters, "sequence_end");
    assert_true(p->bool_param);
    p = param(m->parameters, m->n_parameters, "mode");
    assert_string_equal(p->string_param, "fast");
    p = param(m->parameters, m->n_parameters, "depth");
    assert_int_equal(p->int64_param, -7);
    p = param(m->parameters, m->n_parameters, "flag");
    assert_int_equal(p->parameter_choice_case,
                     INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM);

    assert_int_equal(m->n_inputs, 2);
    assert_string_equal(m->inputs[0]->name, "INPUT0");
    assert_string_equal(m->inputs[0]->datatype, "INT32");
    assert_int_equal(m->inputs[0]->n_shape, 2);
    assert_int_equal(m->inputs[0]->shape[1], 4);
    assert_int_equal(m->inputs[0]->n_parameters, 0);
    assert_int_equal(m->inputs[1]->shape[0], -1);
    assert_int_equal(m->inputs[1]->n_parameters, 3);
    /* Only the non-shm input has a raw entry. */
    assert_int_equal(m->n_raw_input_contents, 1);
    assert_int_equal(m->raw_input_contents[0].len, sizeof(a));
    assert_memory_equal(m->raw_input_contents[0].data, a, sizeof(a));
    assert_int_equal(m->n_outputs, 2);
    assert_string_equal(m->outputs[1]->name, "OUTPUT1");
    assert_int_equal(m->outputs[1]->n_parameters, 2); /* region + size; offset 0 omitted */
    assert_int_equal(m->outputs[0]->n_parameters, 0);

    inference__model_infer_request__free_unpacked(m, NULL);
    free(bytes);

    /* Without a sequence id only the request id is appended. */
    struct pa_send plain = {0};
    slen = gw_encode_send(suffix, 0, &plain);
    bytes = flatten(&r, suffix, slen, &len);
    m = inference__model_infer_request__unpack(NULL, len, bytes);
    assert_non_null(m);
    assert_string_equal(m->id, "0");
    assert_null(param(m->parameters, m->n_parameters, "sequence_id"));
    assert_int_equal(m->n_parameters, 4);
    inference__model_infer_request__free_unpacked(m, NULL);
    free(bytes);
    gw_request_release(&r);
}

static unsigned char *pack_response(bool stream, int final, const char *error, size_t *len)
{
    Inference__ModelInferResponse r;
    inference__model_infer_response__init(&r);
    r.id = S("77");
    r.model_name = S("simple");
    Inference__ModelInferResponse__InferOutputTensor o[2], *po[2] = {&o[0], &o[1]};
    inference__model_infer_response__infer_output_tensor__init(&o[0]);
    inference__model_infer_response__infer_output_tensor__init(&o[1]);
    o[0].name = S("OUT_A");
    o[1].name = S("OUT_B");
    uint8_t data[3] = {9, 8, 7};
    ProtobufCBinaryData raw[2] = {{3, data}, {0, NULL}};
    if (!error) {
        r.outputs = po;
        r.n_outputs = 2;
        r.raw_output_contents = raw;
        r.n_raw_output_contents = 2;
    }
    Inference__InferParameter fp;
    inference__infer_parameter__init(&fp);
    fp.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM;
    fp.bool_param = final == 1;
    Inference__ModelInferResponse__ParametersEntry e, *pe = &e;
    inference__model_infer_response__parameters_entry__init(&e);
    e.key = S("triton_final_response");
    e.value = &fp;
    if (final >= 0) {
        r.parameters = &pe;
        r.n_parameters = 1;
    }
    const ProtobufCMessage *m = &r.base;
    Inference__ModelStreamInferResponse sr;
    inference__model_stream_infer_response__init(&sr);
    if (stream) {
        sr.infer_response = &r;
        if (error)
            sr.error_message = S(error);
        m = &sr.base;
    }
    *len = protobuf_c_message_get_packed_size(m);
    unsigned char *buf = malloc(*len);
    protobuf_c_message_pack(m, buf);
    return buf;
}

static void test_response_scan(void **state)
{
    (void)state;
    struct gw_response v;
    size_t len;
    unsigned char *b = pack_response(false, -1, NULL, &len);
    assert_int_equal(gw_parse_infer_response(b, len, &v), PA_OK);
    assert_int_equal(v.id_len, 2);
    assert_memory_equal(v.id, "77", 2);
    assert_int_equal(v.final_param, -1);
    assert_true(gw_is_final(&v)); /* absent flag = final */
    assert_int_equal(v.n_outputs, 2);
    assert_int_equal(v.n_raw, 2);
    assert_int_equal(v.outputs[0].name_len, 5);
    assert_memory_equal(v.outputs[0].name, "OUT_A", 5);
    assert_int_equal(v.outputs[0].len, 3);
    assert_int_equal(v.outputs[0].data[2], 7);
    assert_int_equal(v.outputs[1].len, 0); /* empty raw entries keep their position */
    /* Every strict prefix is either incomplete-but-valid or rejected, never out of bounds. */
    for (size_t cut = 0; cut < len; cut++) {
        int rc = gw_parse_infer_response(b, cut, &v);
        assert_true(rc == PA_OK || rc == PA_EPROTO);
    }
    assert_int_equal(gw_parse_infer_response(b, len - 1, &v), PA_EPROTO);
    free(b);

    b = pack_response(true, 0, NULL, &len);
    assert_int_equal(gw_parse_stream_response(b, len, &v), PA_OK);
    assert_int_equal(v.final_param, 0);
    assert_false(gw_is_final(&v));
    assert_int_equal(v.error_len, 0);
    free(b);

    b = pack_response(true, 1, NULL, &len);
    assert_int_equal(gw_parse_stream_response(b, len, &v), PA_OK);
    assert_true(gw_is_final(&v));
    free(b);

    b = pack_response(true, -1, "model exploded", &len);
    assert_int_equal(gw_parse_stream_response(b, len, &v), PA_OK);
    assert_int_equal(v.error_len, strlen("model exploded"));
    assert_memory_equal(v.error, "model exploded", v.error_len);
    assert_memory_equal(v.id, "77", 2);
    assert_int_equal(v.n_outputs, 0);
    free(b);
}

static void test_parse_id(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(gw_parse_id("0", 1, &v));
    assert_int_equal(v, 0);
    assert_true(gw_parse_id("18446744073709551615", 20, &v));
    assert_true(v == UINT64_MAX);
    assert_false(gw_parse_id("18446744073709551616", 20, &v));
    assert_false(gw_parse_id("", 0, &v));
    assert_false(gw_parse_id("12a", 3, &v));
}

static void test_json_config(void **state)
{
    (void)state;
    Inference__ModelConfig c;
    inference__model_config__init(&c);
    c.name = S("seq");
    c.max_batch_size = 4;
    Inference__ModelInput in, *pin = &in;
    inference__model_input__init(&in);
    in.name = S("INPUT");
    in.data_type = INFERENCE__DATA_TYPE__TYPE_STRING;
    int64_t dims[2] = {-1, 16};
    in.dims = dims;
    in.n_dims = 2;
    c.input = &pin;
    c.n_input = 1;
    Inference__ModelSequenceBatching sb;
    inference__model_sequence_batching__init(&sb);
    sb.max_sequence_idle_microseconds = 20000000000000000ull; /* > 2^53: must stay exact */
    c.scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_SEQUENCE_BATCHING;
    c.sequence_batching = &sb;
    Inference__ModelParameter mp;
    inference__model_parameter__init(&mp);
    mp.string_value = S("v");
    Inference__ModelConfig__ParametersEntry pe, *ppe = &pe;
    inference__model_config__parameters_entry__init(&pe);
    pe.key = S("k");
    pe.value = &mp;
    c.parameters = &ppe;
    c.n_parameters = 1;

    /* Through the wire, as the backend sees it. */
    size_t len = protobuf_c_message_get_packed_size(&c.base);
    unsigned char *buf = malloc(len);
    protobuf_c_message_pack(&c.base, buf);
    Inference__ModelConfig *u = inference__model_config__unpack(NULL, len, buf);
    assert_non_null(u);
    cJSON *j = grpc_json_from_message(&u->base);

    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "seq");
    assert_string_equal(cJSON_GetObjectItem(j, "platform")->valuestring, ""); /* defaults printed */
    assert_int_equal(cJSON_GetObjectItem(j, "max_batch_size")->valueint, 4);
    cJSON *i0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "input"), 0);
    assert_string_equal(cJSON_GetObjectItem(i0, "data_type")->valuestring, "TYPE_STRING");
    assert_string_equal(cJSON_GetObjectItem(i0, "format")->valuestring, "FORMAT_NONE");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(i0, "optional")));
    cJSON *jd = cJSON_GetObjectItem(i0, "dims");
    assert_int_equal(cJSON_GetArrayItem(jd, 0)->valueint, -1);
    assert_int_equal(cJSON_GetArrayItem(jd, 1)->valueint, 16);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "output"))); /* empty repeated printed */
    /* Oneof: only the member that is set; unset sub-messages omitted. */
    cJSON *jsb = cJSON_GetObjectItem(j, "sequence_batching");
    assert_non_null(jsb);
    assert_null(cJSON_GetObjectItem(j, "dynamic_batching"));
    assert_null(cJSON_GetObjectItem(j, "ensemble_scheduling"));
    assert_null(cJSON_GetObjectItem(j, "model_transaction_policy"));
    assert_null(cJSON_GetObjectItem(jsb, "direct"));
    assert_string_equal(cJSON_GetObjectItem(jsb, "max_sequence_idle_microseconds")->valuestring,
                        "20000000000000000");
    /* Maps become objects. */
    cJSON *jp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "parameters"), "k");
    assert_string_equal(cJSON_GetObjectItem(jp, "string_value")->valuestring, "v");
    cJSON_Delete(j);
    inference__model_config__free_unpacked(u, NULL);
    free(buf);
}

static void test_json_bytes_and_stats(void **state)
{
    (void)state;
    Inference__CudaSharedMemoryRegisterRequest r;
    inference__cuda_shared_memory_register_request__init(&r);
    uint8_t h[3] = {'a', 'b', 'c'};
    r.raw_handle.data = h;
    r.raw_handle.len = 3;
    cJSON *j = grpc_json_from_message(&r.base);
    assert_string_equal(cJSON_GetObjectItem(j, "raw_handle")->valuestring, "YWJj");
    cJSON_Delete(j);

    /* A stats answer whose counters were all zero: proto3 sent nothing. */
    Inference__ModelStatistics ms, *pms = &ms;
    inference__model_statistics__init(&ms);
    ms.name = S("m");
    ms.version = S("1");
    Inference__ModelStatisticsResponse rs;
    inference__model_statistics_response__init(&rs);
    rs.model_stats = &pms;
    rs.n_model_stats = 1;
    j = grpc_json_from_message(&rs.base);
    grpc_json_complete_stats(j);
    cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "model_stats"), 0);
    assert_int_equal(cJSON_GetObjectItem(m0, "inference_count")->valueint, 0);
    cJSON *is = cJSON_GetObjectItem(m0, "inference_stats");
    const char *keys[] = {"success",       "fail",           "queue",     "compute_input",
                          "compute_infer", "compute_output", "cache_hit", "cache_miss"};
    for (size_t i = 0; i < 8; i++) {
        cJSON *d = cJSON_GetObjectItem(is, keys[i]);
        assert_non_null(d);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(d, "count")));
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(d, "ns")));
    }
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(m0, "batch_stats")));
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_roundtrip), cmocka_unit_test(test_response_scan),
        cmocka_unit_test(test_parse_id),          cmocka_unit_test(test_json_config),
        cmocka_unit_test(test_json_bytes_and_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
