/*
 * --input-data FILE.json: every value form, layouts, several files,
 * validation data, batch assembly of JSON steps, and every error text.
 * Fixtures are written into a fresh temporary directory by each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "data/data-internal.h"
#include "data/dataset.h"
#include "data/datatype.h"

struct fixture {
    struct pa_model model;
    struct pa_tensor_info in[8], out[8];
    struct pa_options opts;
    char *paths[4];
    char dir[64];
    int n_files;
    char *out_text; /* what dataset_build printed to `out` */
    size_t out_len;
};

static void tensor(struct pa_tensor_info *t, const char *name, const char *dt, size_t rank,
                   const int64_t *shape)
{
    memset(t, 0, sizeof(*t));
    t->name = xstrdup(name);
    t->datatype = xstrdup(dt);
    t->rank = rank;
    t->shape = xmalloc((rank ? rank : 1) * sizeof(int64_t));
    if (rank)
        memcpy(t->shape, shape, rank * sizeof(int64_t));
}

static struct fixture *fixture_new(uint64_t max_batch)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    f->model.name = xstrdup("m");
    f->model.version = xstrdup("3");
    f->model.max_batch_size = max_batch;
    f->model.inputs = f->in;
    f->model.outputs = f->out;
    f->opts.batch_size = 1;
    f->opts.service_kind = PA_SK_TRITON;
    f->opts.string_length = 128;
    f->opts.output_shm_size = 102400;
    f->opts.input_kind = PA_INPUT_FILES;
    f->opts.input_data_paths = f->paths;
    snprintf(f->dir, sizeof(f->dir), "/tmp/pa_test_data_json_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    return f;
}

static void add_input(struct fixture *f, const char *name, const char *dt, size_t rank,
                      const int64_t *shape)
{
    tensor(&f->in[f->model.n_inputs++], name, dt, rank, shape);
}

static void add_output(struct fixture *f, const char *name, const char *dt, size_t rank,
                       const int64_t *shape)
{
    tensor(&f->out[f->model.n_outputs++], name, dt, rank, shape);
}

/* Replaces the --input-data list with the given documents, one file each. */
static void set_files(struct fixture *f, size_t n, const char *const *docs)
{
    for (size_t i = 0; i < f->opts.n_input_data_paths; i++) {
        /* Only remove what this fixture wrote: never a reference file. */
        if (strncmp(f->paths[i], f->dir, strlen(f->dir)) == 0)
            unlink(f->paths[i]);
        free(f->paths[i]);
    }
    for (size_t i = 0; i < n; i++) {
        f->paths[i] = xasprintf("%s/data%zu.json", f->dir, i);
        FILE *fp = fopen(f->paths[i], "w");
        assert_non_null(fp);
        fputs(docs[i], fp);
        fclose(fp);
    }
    f->opts.n_input_data_paths = n;
}

static void set_doc(struct fixture *f, const char *doc)
{
    set_files(f, 1, &doc);
}

static int build(struct fixture *f, struct pa_dataset *ds, struct pa_err *err)
{
    FILE *out;
    int rc;

    free(f->out_text);
    f->out_text = NULL;
    out = open_memstream(&f->out_text, &f->out_len);
    assert_non_null(out);
    rc = dataset_build(&f->opts, &f->model, NULL, out, ds, err);
    fclose(out);
    return rc;
}

/* Builds and expects failure with exactly `msg`. */
static void expect_error(struct fixture *f, const char *doc, const char *msg)
{
    struct pa_dataset ds;
    struct pa_err err = {0};

    set_doc(f, doc);
    int rc = build(f, &ds, &err);
    if (rc == PA_OK) {
        dataset_release(&ds, NULL);
        fail_msg("accepted: %s", doc);
    }
    assert_int_equal(rc, PA_EDATA);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("for %s\n got: %s\nwant: %s", doc, err.msg, msg);
    assert_null(ds.priv);
}

static void fixture_free(struct fixture *f)
{
    for (size_t i = 0; i < f->model.n_inputs; i++) {
        free(f->in[i].name);
        free(f->in[i].datatype);
        free(f->in[i].shape);
    }
    for (size_t i = 0; i < f->model.n_outputs; i++) {
        free(f->out[i].name);
        free(f->out[i].datatype);
        free(f->out[i].shape);
    }
    set_files(f, 0, NULL);
    rmdir(f->dir);
    free(f->out_text);
    free(f->model.name);
    free(f->model.version);
    free(f);
}

static const struct pa_input *find_input(const struct pa_infer_desc *d, const char *name)
{
    for (size_t i = 0; i < d->n_inputs; i++)
        if (strcmp(d->inputs[i].name, name) == 0)
            return &d->inputs[i];
    return NULL;
}

static void assert_i32s(const void *data, size_t n, const int32_t *want)
{
    for (size_t i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, (const uint8_t *)data + 4 * i, 4);
        assert_int_equal(v, want[i]);
    }
}

/* The "simple" model of the golden runs: INT32 [16] inputs and outputs, batching 8. */
static struct fixture *simple_model(void)
{
    struct fixture *f = fixture_new(8);
    int64_t s16[] = {16};
    add_input(f, "INPUT0", "INT32", 1, s16);
    add_input(f, "INPUT1", "INT32", 1, s16);
    add_output(f, "OUTPUT0", "INT32", 1, s16);
    add_output(f, "OUTPUT1", "INT32", 1, s16);
    return f;
}

/* ---- tests ---- */

static void test_golden_validation_file(void **state)
{
    (void)state;
    struct fixture *f = simple_model();
    struct pa_dataset ds;
    struct pa_err err = {0};

    f->paths[0] = xstrdup(PA_SOURCE_DIR "/tests/cases/expected/input_data_json_validation/"
                                        "data.json");
    f->opts.n_input_data_paths = 1;
    if (access(f->paths[0], R_OK) != 0) {
        free(f->paths[0]);
        f->paths[0] = xstrdup(PA_SHARED_DIR
                              "/reference/golden/input_data_json_validation/data.json");
    }
    if (access(f->paths[0], R_OK) != 0) {
        free(f->paths[0]);
        f->opts.n_input_data_paths = 0;
        fixture_free(f);
        skip();
    }
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_string_equal(f->out_text, " Successfully read data for 1 stream/streams with 2 "
                                     "step/steps.\n");
    assert_int_equal(ds.n_streams, 1);
    assert_int_equal(ds.streams[0].n_steps, 2);

    const struct pa_dataset_step *st = dataset_step(&ds, 0, 1);
    assert_string_equal(st->desc.model_name, "m");
    assert_string_equal(st->desc.model_version, "3");
    assert_int_equal(st->desc.n_outputs, 2);
    assert_string_equal(st->desc.outputs[0].name, "OUTPUT0");
    assert_null(st->desc.outputs[0].shm_region);
    const struct pa_input *in0 = find_input(&st->desc, "INPUT0");
    assert_int_equal(in0->rank, 2);
    assert_int_equal(in0->shape[0], 1);
    assert_int_equal(in0->shape[1], 16);
    assert_int_equal(in0->byte_size, 64);
    int32_t want[16];
    for (int i = 0; i < 16; i++)
        want[i] = 100 + i;
    assert_i32s(in0->data, 16, want);

    assert_int_equal(st->n_expected, 2);
    assert_string_equal(st->expected[1].name, "OUTPUT1");
    for (int i = 0; i < 16; i++)
        want[i] = 98 + i;
    assert_i32s(st->expected[1].data, 16, want);
    assert_int_equal(st->expected[1].byte_size, 64);
    dataset_release(&ds, NULL);
    fixture_free(f);
}

static void test_value_forms(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0);
    int64_t var[] = {-1}, s2[] = {2};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "V", "INT32", 1, var);
    add_input(f, "W", "FP16", 1, s2);
    /* [1, 2] as INT32 little-endian = AQAAAAIAAAA= ; FP16 1.0, 2.0 = ADwAQA== */
    set_doc(f, "{\"data\": ["
               " {\"V\": {\"content\": [7, 8, 9], \"shape\": [3]}, \"W\": {\"b64\": \"ADwAQA==\"}},"
               " {\"V\": {\"b64\": \"AQAAAAIAAAA=\", \"shape\": [2]},"
               "  \"W\": {\"content\": {\"b64\": \"ADwAQA\"}}},"
               " {\"V\": {\"content\": {\"b64\": \"AQAAAAIAAAA=\"}, \"shape\": [2]},"
               "  \"W\": {\"b64\": \"ADwA QA==\", \"extra\": 1}, \"UNKNOWN\": 5}"
               "]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_string_equal(f->out_text, " Successfully read data for 1 stream/streams with 3 "
                                     "step/steps.\n");
    const struct pa_input *v = find_input(&dataset_step(&ds, 0, 0)->desc, "V");
    assert_int_equal(v->rank, 1);
    assert_int_equal(v->shape[0], 3);
    assert_i32s(v->data, 3, (const int32_t[]){7, 8, 9});
    for (size_t k = 1; k < 3; k++) {
        v = find_input(&dataset_step(&ds, 0, k)->desc, "V");
        assert_int_equal(v->shape[0], 2);
        assert_i32s(v->data, 2, (const int32_t[]){1, 2});
        const struct pa_input *w = find_input(&dataset_step(&ds, 0, k)->desc, "W");
        assert_int_equal(w->byte_size, 4);
        assert_memory_equal(w->data, "\x00\x3c\x00\x40", 4);
    }
    dataset_release(&ds, NULL);
    fixture_free(f);
}

static void test_type_rules(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0);
    int64_t s2[] = {2};
    struct pa_dataset ds;
    struct pa_err err = {0};
    static const struct {
        const char *dt, *good, *bad, *msg;
        size_t bytes;
    } cases[] = {
        {"FP32", "[1.0, 2e0]", "[1.0, 2]", "unable to find float data in json", 8},
        {"FP64", "[1.5, -2.5E-3]", "[1, 2.0]", "unable to find fp64 data in json", 16},
        {"BOOL", "[true, false]", "[1, 0]", "unable to find bool data in json", 2},
        {"UINT8", "[255, 256]", "[1, -1]", "unable to find uint8_t data in json", 2},
        {"UINT16", "[1, 65536]", "[1, 1.0]", "unable to find uint16_t data in json", 4},
        {"UINT32", "[0, 4294967295]", "[0, 4294967296]", "unable to find uint32_t data in json",
         8},
        {"UINT64", "[0, 18446744073709551615]", "[0, -1]", "unable to find uint64_t data in json",
         16},
        {"INT8", "[-128, 300]", "[1, \"1\"]", "unable to find int8_t data in json", 2},
        {"INT16", "[-1, 2]", "[1, true]", "unable to find int16_t data in json", 4},
        {"INT32", "[-2147483648, 2147483647]", "[0, 2147483648]",
         "unable to find int32_t data in json", 8},
        {"INT64", "[-9223372036854775808, 9223372036854775807]", "[0, 9223372036854775808]",
         "unable to find int64_t data in json", 16},
        {"BYTES", "[\"a\", \"\"]", "[\"a\", 1]", "unable to find string data in json", 9},
        {"FP16", NULL, "[1.0, 2.0]", "Can not use explicit tensor description for fp16 datatype",
         0},
        {"BF16", NULL, "[1.0, 2.0]", "Can not use explicit tensor description for bf16 datatype",
         0},
    };

    add_input(f, "X", "INT32", 1, s2);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *doc, *msg;
        free(f->in[0].datatype);
        f->in[0].datatype = xstrdup(cases[i].dt);
        if (cases[i].good) {
            doc = xasprintf("{\"data\": [{\"X\": %s}]}", cases[i].good);
            set_doc(f, doc);
            if (build(f, &ds, &err) != PA_OK)
                fail_msg("%s %s: %s", cases[i].dt, cases[i].good, err.msg);
            assert_int_equal(dataset_step(&ds, 0, 0)->desc.inputs[0].byte_size, cases[i].bytes);
            dataset_release(&ds, NULL);
            free(doc);
        }
        doc = xasprintf("{\"data\": [{\"X\": %s}]}", cases[i].bad);
        msg = xasprintf("Failed to init manager inputs: %s", cases[i].msg);
        expect_error(f, doc, msg);
        free(doc);
        free(msg);
    }

    /* Truncation and exact values. */
    free(f->in[0].datatype);
    f->in[0].datatype = xstrdup("UINT8");
    set_doc(f, "{\"data\": [{\"X\": [255, 257]}]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_memory_equal(dataset_step(&ds, 0, 0)->desc.inputs[0].data, "\xff\x01", 2);
    dataset_release(&ds, NULL);

    free(f->in[0].datatype);
    f->in[0].datatype = xstrdup("BYTES");
    set_doc(f, "{\"data\": [{\"X\": [\"hi\", \"a\\u0000b\"]}]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_memory_equal(dataset_step(&ds, 0, 0)->desc.inputs[0].data,
                        "\x02\0\0\0hi\x03\0\0\0a\0b", 13);
    dataset_release(&ds, NULL);
    fixture_free(f);
}

static void test_streams_and_files(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0);
    int64_t s1[] = {1};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "INPUT", "BYTES", 1, s1);
    set_doc(f, "{\"data\": [[{\"INPUT\": [\"1\"]}, {\"INPUT\": [\"2\"]}, {\"INPUT\": [\"3\"]},"
               " {\"INPUT\": [\"4\"]}], [{\"INPUT\": [\"a\"]}, {\"INPUT\": [\"b\"]}],"
               " [{\"INPUT\": [\"x\"]}]]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_string_equal(f->out_text, " Successfully read data for 3 stream/streams.\n");
    assert_int_equal(ds.n_streams, 3);
    assert_int_equal(ds.streams[0].n_steps, 4);
    assert_int_equal(ds.streams[1].n_steps, 2);
    assert_int_equal(ds.streams[2].n_steps, 1);
    assert_memory_equal(dataset_step(&ds, 1, 1)->desc.inputs[0].data, "\1\0\0\0b", 5);
    assert_memory_equal(dataset_step(&ds, 0, 3)->desc.inputs[0].data, "\1\0\0\0" "4", 5);
    dataset_release(&ds, NULL);

    /* Several files, streams layout: streams are appended. */
    const char *two_streams[] = {
        "{\"data\": [[{\"INPUT\": [\"1\"]}]]}",
        "{\"data\": [[{\"INPUT\": [\"2\"]}, {\"INPUT\": [\"3\"]}]]}",
    };
    set_files(f, 2, two_streams);
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_string_equal(f->out_text, " Successfully read data for 2 stream/streams.\n");
    assert_int_equal(ds.streams[1].n_steps, 2);
    dataset_release(&ds, NULL);

    /* Several files, steps layout: steps are appended to stream 0, ids continue. */
    const char *two_steps[] = {
        "{\"data\": [{\"INPUT\": [\"1\"]}, {\"INPUT\": [\"2\"]}]}",
        "{\"data\": [{\"INPUT\": [\"3\"]}, {}]}",
    };
    set_files(f, 2, two_steps);
    assert_int_equal(build(f, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Failed to init manager inputs: missing tensor INPUT ( "
                                 "Location stream id: 0, step id: 3)");
    two_steps[1] = "{\"data\": [{\"INPUT\": [\"3\"]}]}";
    set_files(f, 2, two_steps);
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_string_equal(f->out_text, " Successfully read data for 1 stream/streams with 3 "
                                     "step/steps.\n");
    dataset_release(&ds, NULL);

    /* Mixing layouts, inside one file or across files. */
    const char *mixed[] = {
        "{\"data\": [{\"INPUT\": [\"1\"]}]}",
        "{\"data\": [[{\"INPUT\": [\"2\"]}]]}",
    };
    set_files(f, 2, mixed);
    assert_int_equal(build(f, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Failed to init manager inputs: Inconsistency in input-data "
                                 "provided. Can not have a combination of objects and arrays "
                                 "inside of the Data array");
    expect_error(f, "{\"data\": [[{\"INPUT\": [\"2\"]}], {\"INPUT\": [\"1\"]}]}",
                 "Failed to init manager inputs: Inconsistency in input-data provided. Can not "
                 "have a combination of objects and arrays inside of the Data array");
    /* Location ids in the streams layout: global stream, step in stream. */
    expect_error(f, "{\"data\": [[{\"INPUT\": [\"1\"]}], [{\"INPUT\": [\"1\"]}, {\"X\": 1}]]}",
                 "Failed to init manager inputs: missing tensor INPUT ( Location stream id: 1, "
                 "step id: 1)");
    fixture_free(f);
}

static void test_document_errors(void **state)
{
    (void)state;
    struct fixture *f = simple_model();
    const char *p = "Failed to init manager inputs: ";
    char msg[512];
#define EXPECT(doc, text)                                  \
    do {                                                   \
        snprintf(msg, sizeof(msg), "%s%s", p, text);       \
        expect_error(f, doc, msg);                         \
    } while (0)

    EXPECT("{\"dat\": []}", "The json file doesn't contain data field");
    EXPECT("[1]", "The json file doesn't contain data field");
    EXPECT("{\"data\": [", "failed to parse the specified json file for reading provided data");
    EXPECT("", "failed to parse the specified json file for reading provided data");
    EXPECT("{\"data\": []}", "the input data files contain no data (empty 'data' array)");
    EXPECT("{\"data\": [[]]}", "stream 0 of the input data has no steps");
    EXPECT("{\"data\": 5}", "Input data file is malformed.");
    EXPECT("{\"data\": [5]}", "Input data file is malformed.");
    EXPECT("{\"data\": [{\"INPUT0\": 5}]}", "Input data file is malformed.");
    EXPECT("{\"data\": [{\"INPUT0\": {\"shape\": [16]}}]}",
           "missing content field. ( Location stream id: 0, step id: 0)");
    EXPECT("{\"data\": [{\"INPUT0\": {\"b64\": 5}}]}",
           "the value of b64 field should be of type string ( Location stream id: 0, step id: 0)");
    EXPECT("{\"data\": [{\"INPUT0\": {\"content\": {\"b64\": []}}}]}",
           "the value of b64 field should be of type string ( Location stream id: 0, step id: 0)");
    EXPECT("{\"data\": [{\"INPUT0\": {\"content\": \"abc\"}}]}",
           "The tensor values are not supported. Expected an array or b64 string ( Location "
           "stream id: 0, step id: 0)");
    EXPECT("{\"data\": [{\"INPUT0\": {\"content\": {}}}]}",
           "The tensor values are not supported. Expected an array or b64 string ( Location "
           "stream id: 0, step id: 0)");
    EXPECT("{\"data\": [{\"INPUT0\": {\"content\": [], \"shape\": [1.0]}}]}",
           "shape values must be integers.");
    EXPECT("{\"data\": [{\"INPUT0\": {\"content\": [], \"shape\": 16}}]}",
           "shape values must be integers.");
    EXPECT("{\"data\": [{\"INPUT0\": {\"b64\": \"@@@@\"}}]}",
           "invalid base64 data in the b64 field of tensor 'INPUT0' ( Location stream id: 0, "
           "step id: 0)");
    EXPECT("{\"data\": [{\"INPUT0\": [1,2,3]}]}",
           "mismatch in the data provided for INPUT0. Expected: 64 bytes, Got: 12 bytes");
    EXPECT("{\"data\": [{\"INPUT0\": {\"content\": [1,2], \"shape\": [2,1]}}]}",
           "The supplied shape of [2,1] for input \"INPUT0\" is incompatible with the model's "
           "input shape of [16]");
    EXPECT("{\"data\": [{\"INPUT0\": {\"content\": [1,2], \"shape\": [2]}}]}",
           "The supplied shape of [2] for input \"INPUT0\" is incompatible with the model's "
           "input shape of [16]");
    EXPECT("{\"data\": [{\"INPUT0\": [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}]}",
           "missing tensor INPUT1 ( Location stream id: 0, step id: 0)");

    /* validation_data alignment and contents */
    const char *in = "{\"INPUT0\": {\"b64\": \"" /* 64 zero bytes */
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                     "AAAAAAAAAA==\"}, \"INPUT1\": {\"b64\": \""
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                     "AAAAAAAAAA==\"}}";
    char doc[1024];
    snprintf(doc, sizeof(doc), "{\"data\": [%s], \"validation_data\": []}", in);
    EXPECT(doc, "The 'validation_data' field doesn't align with 'data' field in the json file");
    snprintf(doc, sizeof(doc), "{\"data\": [%s], \"validation_data\": {}}", in);
    EXPECT(doc, "The 'validation_data' field doesn't align with 'data' field in the json file");
    snprintf(doc, sizeof(doc), "{\"data\": [[%s]], \"validation_data\": [[]]}", in);
    EXPECT(doc, "The 'validation_data' field doesn't align with 'data' field in the json file");
    snprintf(doc, sizeof(doc), "{\"data\": [%s], \"validation_data\": [{\"OUTPUT0\": [1]}]}",
             in);
    EXPECT(doc, "mismatch in the data provided for OUTPUT0. Expected: 64 bytes, Got: 4 bytes");
    snprintf(doc, sizeof(doc), "{\"data\": [%s], \"validation_data\": [{\"OUTPUT1\": {\"b64\": "
             "\"AAAAAA==\"}}]}", in);
    EXPECT(doc, "missing tensor OUTPUT0 ( Location stream id: 0, step id: 0)");
#undef EXPECT

    /* Unreadable file. */
    struct pa_dataset ds;
    struct pa_err err = {0};
    set_files(f, 0, NULL);
    f->paths[0] = xasprintf("%s/does-not-exist.json", f->dir);
    f->opts.n_input_data_paths = 1;
    assert_int_equal(build(f, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Failed to init manager inputs: failed to open file for reading "
                                 "provided data");
    fixture_free(f);
}

static void test_syntax_error_lines(void **state)
{
    (void)state;
    struct fixture *f = simple_model();
    struct data_raw raw;
    struct pa_err err = {0};
    char *diag_text = NULL;
    size_t diag_len = 0;
    FILE *diag = open_memstream(&diag_text, &diag_len);

    data_raw_init(&raw, &f->model);
    const char doc[] = "{\"data\": [1 2]}";
    assert_int_equal(data_load_json_text(&raw, doc, strlen(doc), diag, &err), PA_EDATA);
    fclose(diag);
    assert_string_equal(diag_text, "cb::Error  : 7\nOffset : 12\n");
    assert_string_equal(err.msg,
                        "failed to parse the specified json file for reading provided data");
    free(diag_text);
    data_raw_release(&raw);
    fixture_free(f);
}

static void test_variable_shapes(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(4);
    int64_t var[] = {-1, -1};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "INPUT", "INT32", 2, var);
    expect_error(f, "{\"data\": [{\"INPUT\": [1, 2]}]}",
                 "Failed to init manager inputs: The variable-sized tensor \"INPUT\" with model "
                 "shape [-1,-1] needs to have its shape fully defined. See the --shape option.");
    set_doc(f, "{\"data\": [{\"INPUT\": {\"content\": [1,2,3,4], \"shape\": [2,2]}},"
               " {\"INPUT\": {\"content\": [5,6,7,8], \"shape\": [2,2]}},"
               " {\"INPUT\": {\"content\": [1,2,3,4], \"shape\": [4,1]}}]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    const struct pa_input *in = &dataset_step(&ds, 0, 2)->desc.inputs[0];
    assert_int_equal(in->rank, 3);
    assert_int_equal(in->shape[0], 1);
    assert_int_equal(in->shape[1], 4);
    assert_int_equal(in->shape[2], 1);
    dataset_release(&ds, NULL);

    /* Batch 2: step 1 + step 2 have different shapes. */
    f->opts.batch_size = 2;
    assert_int_equal(build(f, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Unable to init infer data manager: can not batch tensors with "
                                 "different shapes together (input 'INPUT' expected shape [2,2] "
                                 "and received [4,1]");
    fixture_free(f);
}

static void test_batch_assembly(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(8);
    int64_t s2[] = {2}, s1[] = {1};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "IN", "INT32", 1, s2);
    add_input(f, "SHAPE", "INT32", 1, s1);
    f->in[1].is_shape_tensor = true;
    add_output(f, "OUT", "INT32", 1, s2);
    f->opts.batch_size = 2;
    set_doc(f, "{\"data\": [{\"IN\": [1, 2], \"SHAPE\": [5]}, {\"IN\": [3, 4], \"SHAPE\": [5]},"
               " {\"IN\": [5, 6], \"SHAPE\": [5]}],"
               " \"validation_data\": [{\"OUT\": [10, 20]}, {\"OUT\": [30, 40]},"
               " {\"OUT\": [50, 60]}]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_int_equal(ds.streams[0].n_steps, 3);

    /* Start 2 wraps: steps 2, 0. */
    const struct pa_dataset_step *st = dataset_step(&ds, 0, 2);
    const struct pa_input *in = find_input(&st->desc, "IN"), *sh = find_input(&st->desc, "SHAPE");
    assert_int_equal(in->rank, 2);
    assert_int_equal(in->shape[0], 2);
    assert_int_equal(in->byte_size, 16);
    assert_i32s(in->data, 4, (const int32_t[]){5, 6, 1, 2});
    /* The shape tensor: one copy, no batch dim. */
    assert_int_equal(sh->rank, 1);
    assert_int_equal(sh->shape[0], 1);
    assert_int_equal(sh->byte_size, 4);
    assert_i32s(sh->data, 1, (const int32_t[]){5});
    /* Expected output: two chunks, same wrap. */
    assert_int_equal(st->n_expected, 1);
    assert_int_equal(st->expected[0].n_chunks, 2);
    assert_i32s(st->expected[0].data, 4, (const int32_t[]){50, 60, 10, 20});
    in = find_input(&dataset_step(&ds, 0, 1)->desc, "IN");
    assert_i32s(in->data, 4, (const int32_t[]){3, 4, 5, 6});
    dataset_release(&ds, NULL);

    /* Shape tensors of one batch must agree. */
    set_doc(f, "{\"data\": [{\"IN\": [1, 2], \"SHAPE\": [5]}, {\"IN\": [3, 4], \"SHAPE\": [6]}]}");
    assert_int_equal(build(f, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Unable to init infer data manager: The shape tensors should be "
                                 "identical in a batch (mismatch in content)");
    f->in[1].shape[0] = -1;
    set_doc(f, "{\"data\": [{\"IN\": [1, 2], \"SHAPE\": {\"content\": [5], \"shape\": [1]}},"
               " {\"IN\": [3, 4], \"SHAPE\": {\"content\": [6, 7], \"shape\": [2]}}]}");
    assert_int_equal(build(f, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Unable to init infer data manager: The shape tensors should be "
                                 "identical in a batch (mismatch in size)");
    fixture_free(f);
}

static void test_optional_inputs(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(8);
    int64_t s1[] = {1};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "A", "INT32", 1, s1);
    add_input(f, "OPT", "INT32", 1, s1);
    f->in[1].optional = true;
    set_doc(f, "{\"data\": [{\"A\": [1], \"OPT\": [2]}, {\"A\": [3]}]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    assert_int_equal(dataset_step(&ds, 0, 0)->desc.n_inputs, 2);
    assert_int_equal(dataset_step(&ds, 0, 1)->desc.n_inputs, 1);
    assert_string_equal(dataset_step(&ds, 0, 1)->desc.inputs[0].name, "A");
    dataset_release(&ds, NULL);

    f->opts.batch_size = 2;
    assert_int_equal(build(f, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Unable to init infer data manager: For batch sizes larger than "
                                 "1, the same set of inputs must be specified for each batch. "
                                 "You cannot use different set of optional inputs for each "
                                 "individual batch.");

    /* Optional inputs cannot go through shared memory. */
    f->opts.batch_size = 1;
    f->opts.shared_memory = PA_SHM_SYSTEM;
    assert_int_equal(build(f, &ds, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "Unable to init infer data manager: Shared memory support in "
                                 "Perf Analyzer does not support optional inputs at this time");
    /* CUDA: without a runtime that is the first error (CUDA runs: test_data_cuda.c). */
    f->opts.shared_memory = PA_SHM_CUDA;
    assert_int_equal(setenv("PA_CUDART_PATH", "/nonexistent/libcudart.so", 1), 0);
    assert_int_equal(build(f, &ds, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "Unable to init infer data manager: Cuda shared memory is "
                                 "not supported: unable to load the CUDA runtime: "
                                 "/nonexistent/libcudart.so: cannot open shared object file: "
                                 "No such file or directory");
    unsetenv("PA_CUDART_PATH");
    fixture_free(f);
}

static void test_validation_stream0_quirk(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0);
    int64_t s1[] = {1};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "I", "INT8", 1, s1);
    add_output(f, "O", "INT8", 1, s1);
    set_doc(f, "{\"data\": [[{\"I\": [1]}, {\"I\": [2]}], [{\"I\": [3]}, {\"I\": [4]}, {\"I\": [5]}]],"
               " \"validation_data\": [[{\"O\": [11]}, {\"O\": [12]}],"
               " [{\"O\": [13]}, {\"O\": [14]}, {\"O\": [15]}]]}");
    assert_int_equal(build(f, &ds, &err), PA_OK);
    /* Stream 1, step 2: the expected step index wraps on stream 0's two steps -> step 0. */
    const struct pa_dataset_step *st = dataset_step(&ds, 1, 2);
    assert_memory_equal(st->desc.inputs[0].data, "\5", 1);
    assert_int_equal(st->n_expected, 1);
    assert_memory_equal(st->expected[0].data, "\15", 1);
    assert_memory_equal(dataset_step(&ds, 1, 1)->expected[0].data, "\16", 1);
    dataset_release(&ds, NULL);
    fixture_free(f);
}

/* Every file in examples/data must load with the model it is written for. */
static void test_examples_load(void **state)
{
    (void)state;
    static const struct {
        const char *file, *dt;
        size_t rank, streams, steps;
        int64_t shape[2];
    } cases[] = {
        {"sequence_streams.json", "INT32", 1, 3, 4, {1, 0}},
        {"variable_shape.json", "FP32", 2, 1, 3, {-1, -1}},
        {"strings.json", "BYTES", 1, 1, 2, {2, 0}},
    };
    struct pa_dataset ds;
    struct pa_err err = {0};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture *f = fixture_new(0);
        add_input(f, strcmp(cases[i].dt, "BYTES") == 0 ? "TEXT" : "INPUT", cases[i].dt,
                  cases[i].rank, cases[i].shape);
        f->paths[0] = xasprintf("%s%s", PA_SOURCE_DIR "/examples/data/", cases[i].file);
        f->opts.n_input_data_paths = 1;
        if (build(f, &ds, &err) != PA_OK)
            fail_msg("%s: %s", cases[i].file, err.msg);
        assert_int_equal(ds.n_streams, cases[i].streams);
        assert_int_equal(ds.streams[0].n_steps, cases[i].steps);
        dataset_release(&ds, NULL);
        fixture_free(f);
    }

    const char *simple[] = {"simple_steps.json", "simple_validation.json"};
    for (size_t i = 0; i < 2; i++) {
        struct fixture *f = simple_model();
        f->paths[0] = xasprintf("%s%s", PA_SOURCE_DIR "/examples/data/", simple[i]);
        f->opts.n_input_data_paths = 1;
        if (build(f, &ds, &err) != PA_OK)
            fail_msg("%s: %s", simple[i], err.msg);
        assert_int_equal(dataset_step(&ds, 0, 0)->n_expected, i == 1 ? 2 : 0);
        dataset_release(&ds, NULL);
        fixture_free(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_validation_file),
        cmocka_unit_test(test_value_forms),
        cmocka_unit_test(test_type_rules),
        cmocka_unit_test(test_streams_and_files),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_syntax_error_lines),
        cmocka_unit_test(test_variable_shapes),
        cmocka_unit_test(test_batch_assembly),
        cmocka_unit_test(test_optional_inputs),
        cmocka_unit_test(test_validation_stream0_quirk),
        cmocka_unit_test(test_examples_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
