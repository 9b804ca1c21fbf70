/*
 * Unit tests of the KServe HTTP body codec (JSON and binary tensors,
 * compression, error bodies) and of the metrics exposition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <regex.h>

#include "engine.h"
#include "http_codec.h"
#include "http_frontend.h"

/* The codec keeps pointers into the body, so the last body stays alive here. */
static unsigned char *keep;

static int decode(struct http_infer *h, const char *json, const void *bin, size_t bin_len,
                  long long hl, struct engine_status *st)
{
    size_t jl = strlen(json);
    unsigned char *body = malloc(jl + bin_len + 1);
    int rc;
    memcpy(body, json, jl);
    if (bin_len)
        memcpy(body + jl, bin, bin_len);
    free(keep);
    keep = body;
    rc = http_infer_decode(h, body, jl + bin_len, hl == -2 ? (long long)jl : hl, st);
    return rc;
}

static void test_decode_json(void **state)
{
    struct http_infer h;
    struct engine_status st;
    const int32_t *p;
    (void)state;
    http_infer_init(&h);
    assert_int_equal(decode(&h,
                            "{\"id\":\"x\",\"parameters\":{\"sequence_id\":42,\"sequence_start\":true,"
                            "\"sequence_end\":false,\"priority\":2,\"custom\":\"ok\"},"
                            "\"inputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2,2],"
                            "\"data\":[[1,-2],[3,2147483647]]},"
                            "{\"name\":\"B\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"hi\",\"\"]},"
                            "{\"name\":\"C\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[true]}],"
                            "\"outputs\":[{\"name\":\"O\",\"parameters\":{\"binary_data\":true}}]}",
                            NULL, 0, -1, &st),
                     ENGINE_OK);
    assert_string_equal(h.req.id, "x");
    assert_false(h.req.corr_id.is_string);
    assert_int_equal(h.req.corr_id.u, 42);
    assert_true(h.req.seq_start);
    assert_false(h.req.seq_end);
    assert_int_equal(h.req.priority, 2);
    assert_int_equal(h.req.n_inputs, 3);
    assert_int_equal(h.req.inputs[0].rank, 2);
    assert_int_equal(h.req.inputs[0].byte_size, 16);
    p = h.req.inputs[0].data;
    assert_int_equal(p[0], 1);
    assert_int_equal(p[1], -2);
    assert_int_equal(p[3], 2147483647);
    assert_int_equal(h.req.inputs[1].byte_size, 4 + 2 + 4);
    assert_memory_equal(h.req.inputs[1].data, "\x02\0\0\0hi\0\0\0\0", 10);
    assert_int_equal(((const unsigned char *)h.req.inputs[2].data)[0], 1);
    assert_int_equal(h.req.n_outputs, 1);
    assert_true(h.out_binary[0]);
    http_infer_release(&h);
}

static void test_decode_binary(void **state)
{
    struct http_infer h;
    struct engine_status st;
    const unsigned char bin[12] = {1, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    const char *hdr = "{\"parameters\":{\"sequence_id\":\"corr\",\"binary_data_output\":true},"
                      "\"inputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
                      "\"parameters\":{\"binary_data_size\":8}},"
                      "{\"name\":\"Z\",\"datatype\":\"FP32\",\"shape\":[0],"
                      "\"parameters\":{\"binary_data_size\":0}},"
                      "{\"name\":\"B\",\"datatype\":\"INT32\",\"shape\":[1],"
                      "\"parameters\":{\"binary_data_size\":4}},"
                      "{\"name\":\"S\",\"datatype\":\"INT32\",\"shape\":[1],"
                      "\"parameters\":{\"shared_memory_region\":\"r\",\"shared_memory_byte_size\":4,"
                      "\"shared_memory_offset\":8}}]}";
    (void)state;
    http_infer_init(&h);
    assert_int_equal(decode(&h, hdr, bin, sizeof(bin), -2, &st), ENGINE_OK);
    assert_true(h.req.corr_id.is_string);
    assert_string_equal(h.req.corr_id.s, "corr");
    assert_true(h.binary_default);
    assert_int_equal(h.req.inputs[0].byte_size, 8);
    assert_memory_equal(h.req.inputs[0].data, bin, 8);
    assert_int_equal(h.req.inputs[1].byte_size, 0);
    assert_memory_equal(h.req.inputs[2].data, bin + 8, 4);
    assert_string_equal(h.req.inputs[3].shm_region, "r");
    assert_int_equal(h.req.inputs[3].shm_offset, 8);
    assert_int_equal(h.req.inputs[3].shm_byte_size, 4);

    /* leftover bytes, short data, header longer than the body, raw binary */
    assert_int_not_equal(decode(&h, hdr, bin, sizeof(bin) - 1, -2, &st), ENGINE_OK);
    assert_non_null(strstr(st.msg, "unexpected size for input 'B'"));
    {
        unsigned char more[13];
        memcpy(more, bin, 12);
        more[12] = 0;
        assert_int_not_equal(decode(&h, hdr, more, 13, -2, &st), ENGINE_OK);
        assert_string_equal(st.msg, "unexpected additional input data");
    }
    assert_int_not_equal(decode(&h, "{}", NULL, 0, 5, &st), ENGINE_OK);
    assert_int_equal(decode(&h, "{}", NULL, 0, 0, &st), ENGINE_UNSUPPORTED);
    http_infer_release(&h);
}

static void test_decode_errors(void **state)
{
    struct http_infer h;
    struct engine_status st;
    (void)state;
    http_infer_init(&h);
    assert_int_not_equal(decode(&h, "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP16\","
                                    "\"shape\":[1],\"data\":[1]}]}", NULL, 0, -1, &st), 0);
    assert_string_equal(st.msg, "receiving FP16 data via JSON is not supported. Please use the "
                                "binary data format for input 'A'");
    assert_int_not_equal(decode(&h, "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"INT32\","
                                    "\"shape\":[3],\"data\":[1,2]}]}", NULL, 0, -1, &st), 0);
    assert_string_equal(st.msg, "Shape does not match true shape of 'data' field");
    assert_int_not_equal(decode(&h, "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"INT8\","
                                    "\"shape\":[1],\"data\":[300]}]}", NULL, 0, -1, &st), 0);
    assert_non_null(strstr(st.msg, "out of range"));
    assert_int_not_equal(decode(&h, "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"INT32\","
                                    "\"shape\":[1],\"data\":[1],"
                                    "\"parameters\":{\"binary_data_size\":4}}]}",
                                "\0\0\0\0", 4, -2, &st), 0);
    assert_non_null(strstr(st.msg, "exactly one of"));
    assert_int_not_equal(decode(&h, "{\"parameters\":{\"triton_foo\":1},\"inputs\":[]}", NULL, 0,
                                -1, &st), 0);
    assert_non_null(strstr(st.msg, "'triton_' are reserved"));
    assert_int_not_equal(decode(&h, "{\"parameters\":{\"custom\":[1]},\"inputs\":[]}", NULL, 0,
                                -1, &st), 0);
    assert_int_not_equal(decode(&h, "{\"parameters\":{\"sequence_start\":1},\"inputs\":[]}",
                                NULL, 0, -1, &st), 0);
    assert_int_not_equal(decode(&h, "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"INT33\","
                                    "\"shape\":[1],\"data\":[1]}]}", NULL, 0, -1, &st), 0);
    assert_int_not_equal(decode(&h, "{\"inputs\":[],\"outputs\":[{\"name\":\"O\",\"parameters\":"
                                    "{\"shared_memory_region\":\"r\",\"shared_memory_byte_size\":4,"
                                    "\"binary_data\":true}}]}", NULL, 0, -1, &st), 0);
    assert_int_not_equal(decode(&h, "[1,2]", NULL, 0, -1, &st), 0);
    assert_int_not_equal(decode(&h, "{", NULL, 0, -1, &st), 0);
    http_infer_release(&h);
}

static void test_encode(void **state)
{
    struct http_infer h;
    struct engine_status st;
    struct engine_response r;
    const int32_t v[2] = {7, -8};
    const unsigned char s[7] = {3, 0, 0, 0, 'a', '"', 'b'};
    (void)state;
    http_infer_init(&h);
    assert_int_equal(decode(&h, "{\"id\":\"9\",\"inputs\":[],\"outputs\":[{\"name\":\"B\","
                                "\"parameters\":{\"binary_data\":true}},{\"name\":\"J\"},"
                                "{\"name\":\"Z\",\"parameters\":{\"binary_data\":true}},"
                                "{\"name\":\"S\"}]}", NULL, 0, -1, &st), 0);
    memset(&r, 0, sizeof(r));
    r.model_name = "m";
    r.model_version = 3;
    r.n_outputs = 5;
    r.outputs[0] = (struct engine_output){.name = "B", .dtype = ENGINE_TYPE_INT32, .shape = {2},
                                          .rank = 1, .data = v, .byte_size = 8, .req_index = 0};
    r.outputs[1] = (struct engine_output){.name = "J", .dtype = ENGINE_TYPE_INT32, .shape = {1, 2},
                                          .rank = 2, .data = v, .byte_size = 8, .req_index = 1};
    r.outputs[2] = (struct engine_output){.name = "Z", .dtype = ENGINE_TYPE_FP32, .shape = {0},
                                          .rank = 1, .data = NULL, .byte_size = 0, .req_index = 2};
    r.outputs[3] = (struct engine_output){.name = "S", .dtype = ENGINE_TYPE_BYTES, .shape = {1},
                                          .rank = 1, .data = s, .byte_size = 7, .req_index = 3};
    r.outputs[4] = (struct engine_output){.name = "M", .dtype = ENGINE_TYPE_INT32, .shape = {2},
                                          .rank = 1, .byte_size = 8, .in_shm = true,
                                          .req_index = -1};
    assert_int_equal(http_infer_encode(&h, &r, &st), ENGINE_OK);
    {
        const char *want =
            "{\"id\":\"9\",\"model_name\":\"m\",\"model_version\":\"3\",\"outputs\":["
            "{\"name\":\"B\",\"datatype\":\"INT32\",\"shape\":[2],\"parameters\":{\"binary_data_size\":8}},"
            "{\"name\":\"J\",\"datatype\":\"INT32\",\"shape\":[1,2],\"data\":[7,-8]},"
            "{\"name\":\"Z\",\"datatype\":\"FP32\",\"shape\":[0],\"parameters\":{\"binary_data_size\":0}},"
            "{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"a\\\"b\"]},"
            "{\"name\":\"M\",\"datatype\":\"INT32\",\"shape\":[2]}]}";
        assert_int_equal(h.out_json_len, strlen(want));
        assert_memory_equal(h.out.data, want, strlen(want));
        assert_int_equal(h.out.len, strlen(want) + 8);
        assert_memory_equal(h.out.data + strlen(want), v, 8);
        assert_true(h.out_has_binary);
    }
    /* no id, only a zero-byte binary output: no binary section */
    assert_int_equal(decode(&h, "{\"inputs\":[],\"outputs\":[{\"name\":\"Z\",\"parameters\":"
                                "{\"binary_data\":true}}]}", NULL, 0, -1, &st), 0);
    r.n_outputs = 1;
    r.outputs[0] = (struct engine_output){.name = "Z", .dtype = ENGINE_TYPE_FP16, .shape = {0},
                                          .rank = 1, .req_index = 0};
    assert_int_equal(http_infer_encode(&h, &r, &st), ENGINE_OK);
    assert_false(h.out_has_binary);
    assert_int_equal(strncmp(h.out.data, "{\"model_name\":\"m\"", 17), 0);
    /* FP16 cannot go out as JSON */
    h.out_binary[0] = false;
    assert_int_not_equal(http_infer_encode(&h, &r, &st), ENGINE_OK);
    assert_non_null(strstr(st.msg, "sending FP16 data via JSON is not supported"));
    http_infer_release(&h);
}

static void test_compression(void **state)
{
    struct buf z, back;
    struct engine_status st;
    char text[4000];
    (void)state;
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 7);
    buf_init(&z, BUF_DEFAULT_MAX);
    buf_init(&back, BUF_DEFAULT_MAX);
    for (int gz = 0; gz < 2; gz++) {
        assert_int_equal(http_compress((const unsigned char *)text, sizeof(text), gz, &z), 0);
        assert_true(z.len < sizeof(text));
        if (gz)
            assert_int_equal((unsigned char)z.data[0], 0x1f);
        assert_int_equal(http_inflate((const unsigned char *)z.data, z.len, &back, 1 << 20, &st), 0);
        assert_int_equal(back.len, sizeof(text));
        assert_memory_equal(back.data, text, sizeof(text));
    }
    assert_int_not_equal(http_inflate((const unsigned char *)"junk", 4, &back, 1 << 20, &st), 0);
    assert_int_not_equal(http_inflate((const unsigned char *)z.data, z.len, &back, 100, &st), 0);
    buf_release(&z);
    buf_release(&back);

    assert_int_equal(http_pick_encoding(NULL), 0);
    assert_int_equal(http_pick_encoding("identity"), 0);
    assert_int_equal(http_pick_encoding("gzip"), 1);
    assert_int_equal(http_pick_encoding("deflate, gzip"), 2);
    assert_int_equal(http_pick_encoding("gzip;q=0.5, deflate;q=0.8"), 2);
    assert_int_equal(http_pick_encoding("br, gzip;q=0.1"), 1);
}

static void test_error_body(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 1 << 16);
    http_error_body(&b, "bad \"x\"\n\\");
    assert_string_equal(b.data, "{\"error\":\"bad \\\"x\\\"\\n\\\\\"}");
    buf_release(&b);
}

static void test_metrics(void **state)
{
    char err[256];
    struct engine *e = engine_create(PA_MODELS_DIR, err, sizeof(err));
    char *text;
    regex_t re;
    regmatch_t mt[3];
    int matches = 0;
    const char *p;
    (void)state;
    assert_non_null(e);
    text = metrics_render(e);
    /* perf_analyzer's strict pattern (spec 06 §3), POSIX form */
    assert_int_equal(regcomp(&re, "\nnv_gpu_utilization\\{gpu_uuid=\"([^\"]+)\"\\} ([0-9]+\\.?[0-9]*)",
                             REG_EXTENDED), 0);
    for (p = text; regexec(&re, p, 3, mt, 0) == 0; p += mt[0].rm_eo)
        matches++;
    regfree(&re);
    assert_int_equal(matches, 2);
    assert_non_null(strstr(text, "\nnv_gpu_memory_total_bytes{gpu_uuid=\"GPU-00000000-0000-0000-"
                                 "0000-000000000001\"} 85899345920\n"));
    assert_non_null(strstr(text, "\nnv_gpu_power_usage{gpu_uuid=\"GPU-00000000-0000-0000-0000-"
                                 "000000000002\"} 110.5\n"));
    assert_non_null(strstr(text, "# TYPE nv_gpu_memory_used_bytes gauge\n"));
    assert_non_null(strstr(text, "\nnv_inference_count{model=\"simple\",version=\"1\"} 0\n"));
    assert_true(strncmp(text, "# HELP ", 7) == 0);
    free(text);
    engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_json),
        cmocka_unit_test(test_decode_binary),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_compression),
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
