/*
 * Data module basics: datatype table and shape arithmetic, BYTES encoding,
 * the RapidJSON-compatible reader, generated (random/zero) data, batch
 * assembly of generated data, directory input, and output validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/xalloc.h"
#include "data/data-internal.h"
#include "data/dataset.h"
#include "data/datatype.h"
#include "data/jsonr.h"

/* ---- a hand-built model and options ---- */

struct fixture {
    struct pa_model model;
    struct pa_tensor_info in[8], out[8];
    struct pa_options opts;
    char *paths[4];
    char dir[64];
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
    f->model.version = xstrdup("");
    f->model.max_batch_size = max_batch;
    f->model.inputs = f->in;
    f->model.outputs = f->out;
    f->opts.batch_size = 1;
    f->opts.service_kind = PA_SK_TRITON;
    f->opts.string_length = 128;
    f->opts.output_shm_size = 102400;
    f->opts.input_data_paths = f->paths;
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
    for (size_t i = 0; i < f->opts.n_input_data_paths; i++)
        free(f->paths[i]);
    free(f->model.name);
    free(f->model.version);
    free(f);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len)
        assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static const struct pa_input *find_input(const struct pa_infer_desc *d, const char *name)
{
    for (size_t i = 0; i < d->n_inputs; i++)
        if (strcmp(d->inputs[i].name, name) == 0)
            return &d->inputs[i];
    return NULL;
}

/* ---- datatypes and shapes ---- */

static void test_datatype_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t size;
    } cases[] = {
        {"BOOL", 1},  {"INT8", 1},  {"UINT8", 1},  {"INT16", 2},  {"UINT16", 2},
        {"FP16", 2},  {"BF16", 2},  {"INT32", 4},  {"UINT32", 4}, {"FP32", 4},
        {"INT64", 8}, {"UINT64", 8}, {"FP64", 8},  {"BYTES", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum data_type t = datatype_from_name(cases[i].name);
        assert_int_not_equal(t, DT_INVALID);
        assert_int_equal(datatype_size(t), cases[i].size);
        assert_string_equal(datatype_name(t), cases[i].name);
    }
    assert_int_equal(datatype_from_name("STRING"), DT_INVALID);
    assert_int_equal(datatype_from_name("fp32"), DT_INVALID);
    assert_int_equal(datatype_from_name(NULL), DT_INVALID);
}

static void test_shape_utils(void **state)
{
    (void)state;
    int64_t s1[] = {3, 4}, s2[] = {3, -1}, big[] = {INT64_MAX, 4, 4};
    size_t n = 0;
    char text[64];

    assert_int_equal(shape_elements(s1, 2, &n), SHAPE_OK);
    assert_int_equal(n, 12);
    assert_int_equal(shape_elements(NULL, 0, &n), SHAPE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(shape_elements(s2, 2, &n), SHAPE_VARIABLE);
    assert_int_equal(shape_elements(big, 3, &n), SHAPE_OVERFLOW);
    assert_int_equal(shape_byte_size(s1, 2, DT_FP64, &n), SHAPE_OK);
    assert_int_equal(n, 96);
    assert_int_equal(shape_byte_size(s1, 2, DT_BYTES, &n), SHAPE_VARIABLE);
    assert_true(shape_has_variable(s2, 2));
    assert_false(shape_has_variable(s1, 2));
    assert_true(shape_equal(s1, 2, s1, 2));
    assert_false(shape_equal(s1, 2, s2, 2));
    assert_false(shape_equal(s1, 2, s1, 1));

    shape_format(s2, 2, text, sizeof(text));
    assert_string_equal(text, "[3,-1]");
    shape_format(NULL, 0, text, sizeof(text));
    assert_string_equal(text, "[]");
    shape_format(s1, 2, text, 4); /* truncated, still terminated */
    assert_true(strlen(text) < 4);
}

static void test_bytes_encoding(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_DEFAULT_MAX);
    assert_int_equal(bytes_append_element(&b, "ab", 2), PA_OK);
    assert_int_equal(bytes_append_element(&b, "", 0), PA_OK);
    assert_int_equal(b.len, 10);
    const uint8_t want[] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(le32_load((const uint8_t *)b.data), 2);
    buf_release(&b);
}

/* ---- JSON reader ---- */

static void parse_ok(const char *text, struct jr_doc *doc)
{
    bool ok = jr_parse(doc, text, strlen(text));
    if (!ok)
        fail_msg("parse of '%s' failed: code %d offset %zu", text, doc->error, doc->error_offset);
}

static void parse_err(const char *text, enum jr_error code, size_t offset)
{
    struct jr_doc doc;
    assert_false(jr_parse(&doc, text, strlen(text)));
    if (doc.error != code || doc.error_offset != offset)
        fail_msg("'%s': got code %d offset %zu, want %d at %zu", text, doc.error,
                 doc.error_offset, code, offset);
    jr_free(&doc);
}

static void test_jsonr_numbers(void **state)
{
    (void)state;
    struct jr_doc doc;
    const struct jr_value *it;

    parse_ok("[1, 1.0, -1, 3000000000, -3000000000, 18446744073709551615, "
             "18446744073709551616, -9223372036854775808, 1e2, -0, NaN, -Infinity, Inf]",
             &doc);
    it = doc.root.v.list.items;
    assert_int_equal(doc.root.v.list.n, 13);
    assert_int_equal(it[0].flags, JR_INT | JR_UINT | JR_INT64 | JR_UINT64);
    assert_int_equal(it[1].flags, JR_DOUBLE);
    assert_int_equal(it[2].flags, JR_INT | JR_INT64);
    assert_int_equal(jr_i64(&it[2]), -1);
    assert_int_equal(it[3].flags, JR_UINT | JR_INT64 | JR_UINT64);
    assert_int_equal(it[4].flags, JR_INT64);
    assert_int_equal(it[5].flags, JR_UINT64);
    assert_true(jr_u64(&it[5]) == UINT64_MAX);
    assert_int_equal(it[6].flags, JR_DOUBLE); /* beyond 64 bits: a double, as RapidJSON */
    assert_int_equal(it[7].flags, JR_INT64);
    assert_true(jr_i64(&it[7]) == INT64_MIN);
    assert_int_equal(it[8].flags, JR_DOUBLE);
    assert_true(jr_number(&it[8]) == 100.0);
    assert_true(it[9].flags & JR_UINT);
    assert_int_equal(it[10].flags, JR_DOUBLE);
    assert_true(it[10].v.d != it[10].v.d); /* NaN */
    assert_true(it[11].v.d < -1e308);
    assert_true(it[12].v.d > 1e308);
    jr_free(&doc);
}

static void test_jsonr_strings_and_objects(void **state)
{
    (void)state;
    struct jr_doc doc;

    parse_ok("{\"a\": \"x\\u0000y\\n\\u00e9\\ud83d\\ude00\", \"a\": 2, \"b\": [true, false, null]}",
             &doc);
    const struct jr_value *a = jr_get(&doc.root, "a");
    assert_non_null(a);
    assert_int_equal(a->type, JR_STRING);
    assert_int_equal(a->v.str.len, 10);
    assert_memory_equal(a->v.str.s, "x\0y\n\xc3\xa9\xf0\x9f\x98\x80", 10);
    assert_int_equal(jr_get(&doc.root, "b")->v.list.n, 3);
    assert_null(jr_get(&doc.root, "c"));
    assert_null(jr_get(a, "a"));
    jr_free(&doc);

    /* A NUL byte ends the input, as with RapidJSON's file stream. */
    assert_true(jr_parse(&doc, "{}\0garbage", 10));
    jr_free(&doc);
}

static void test_jsonr_errors(void **state)
{
    (void)state;
    parse_err("", JR_DOCUMENT_EMPTY, 0);
    parse_err("   ", JR_DOCUMENT_EMPTY, 3);
    parse_err("{} x", JR_ROOT_NOT_SINGULAR, 3);
    parse_err("nul", JR_VALUE_INVALID, 3);
    parse_err("[tru]", JR_VALUE_INVALID, 4);
    parse_err("{1:2}", JR_OBJECT_MISS_NAME, 1);
    parse_err("{\"a\" 2}", JR_OBJECT_MISS_COLON, 5);
    parse_err("{\"a\":2 \"b\"}", JR_OBJECT_MISS_COMMA_OR_CURLY, 7);
    parse_err("[1 2]", JR_ARRAY_MISS_COMMA_OR_SQUARE, 3);
    parse_err("[1,]", JR_VALUE_INVALID, 3);
    parse_err("\"\\u12G4\"", JR_STRING_UNICODE_ESCAPE_INVALID_HEX, 1);
    parse_err("\"\\ud800x\"", JR_STRING_UNICODE_SURROGATE_INVALID, 1);
    parse_err("\"\\q\"", JR_STRING_ESCAPE_INVALID, 1);
    parse_err("\"abc", JR_STRING_MISS_QUOTATION, 4);
    parse_err("\"a\tb\"", JR_STRING_INVALID_ENCODING, 2);
    parse_err("[1e999]", JR_NUMBER_TOO_BIG, 1);
    parse_err("1.", JR_NUMBER_MISS_FRACTION, 2);
    parse_err("1e+", JR_NUMBER_MISS_EXPONENT, 3);
    parse_err("-", JR_VALUE_INVALID, 1);
    parse_err("Nax", JR_VALUE_INVALID, 2);

    char deep[2 * JR_MAX_DEPTH + 10];
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    struct jr_doc doc;
    assert_false(jr_parse(&doc, deep, strlen(deep)));
    assert_int_equal(doc.error, JR_UNSPECIFIC);
}

/* ---- generated data ---- */

static void test_generated_random_shares_prefix(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(8);
    int64_t s16[] = {16}, s4[] = {4};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "A", "INT32", 1, s16);
    add_input(f, "B", "UINT8", 1, s4);
    f->opts.batch_size = 3;
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_OK);
    assert_int_equal(ds.n_streams, 1);
    assert_int_equal(ds.streams[0].n_steps, 1);

    const struct pa_infer_desc *d = &dataset_step(&ds, 0, 0)->desc;
    assert_string_equal(d->model_name, "m");
    assert_int_equal(d->n_inputs, 2);
    const struct pa_input *a = find_input(d, "A"), *b = find_input(d, "B");
    assert_non_null(a);
    assert_non_null(b);
    /* Batch dim prepended, B copies of the batch-1 data. */
    assert_int_equal(a->rank, 2);
    assert_int_equal(a->shape[0], 3);
    assert_int_equal(a->shape[1], 16);
    assert_int_equal(a->byte_size, 3 * 64);
    assert_int_equal(b->byte_size, 3 * 4);
    assert_memory_equal(a->data, (const uint8_t *)a->data + 64, 64);
    assert_memory_equal(a->data, (const uint8_t *)a->data + 128, 64);
    /* Every input starts with the same bytes of the one random buffer. */
    assert_memory_equal(a->data, b->data, 4);

    /* The bytes are glibc's unseeded rand() sequence, one call per byte. */
    srand(1);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(((const uint8_t *)a->data)[i], (uint8_t)rand());
    dataset_release(&ds, NULL);
    fixture_free(f);
}

static void test_generated_zero_and_strings(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(0);
    int64_t s2x3[] = {2, 3}, s3[] = {3};
    struct pa_dataset ds;
    struct pa_err err = {0};
    char text[] = "hello";

    add_input(f, "Z", "FP32", 2, s2x3);
    add_input(f, "S", "BYTES", 1, s3);
    f->opts.input_kind = PA_INPUT_ZERO;
    f->opts.string_data = text;
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_OK);
    const struct pa_infer_desc *d = &dataset_step(&ds, 5, 7)->desc;
    const struct pa_input *z = find_input(d, "Z"), *s = find_input(d, "S");
    /* No batch dim for a non-batching model. */
    assert_int_equal(z->rank, 2);
    assert_int_equal(z->shape[0], 2);
    assert_int_equal(z->byte_size, 24);
    for (size_t i = 0; i < 24; i++)
        assert_int_equal(((const uint8_t *)z->data)[i], 0);
    assert_int_equal(s->byte_size, 3 * 9);
    for (size_t i = 0; i < 3; i++) {
        const uint8_t *e = (const uint8_t *)s->data + i * 9;
        assert_int_equal(le32_load(e), 5);
        assert_memory_equal(e + 4, "hello", 5);
    }
    dataset_release(&ds, NULL);

    /* Random strings: --string-length characters from the original's alphabet. */
    f->opts.string_data = NULL;
    f->opts.string_length = 7;
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_OK);
    s = find_input(&dataset_step(&ds, 0, 0)->desc, "S");
    assert_int_equal(s->byte_size, 3 * 11);
    for (size_t i = 0; i < 3; i++) {
        const uint8_t *e = (const uint8_t *)s->data + i * 11;
        assert_int_equal(le32_load(e), 7);
        for (size_t c = 0; c < 7; c++) {
            assert_non_null(memchr("abcdefghijklmnaoqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "1234567890 .?!", e[4 + c], 66));
            assert_int_not_equal(e[4 + c], 'p');
        }
    }
    dataset_release(&ds, NULL);
    fixture_free(f);
}

static void test_generated_errors(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(4);
    int64_t var[] = {-1, 3}, s1[] = {1};
    struct pa_dataset ds;
    struct pa_err err = {0};

    add_input(f, "V", "INT64", 2, var);
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Failed to init manager inputs: input V contains dynamic "
                                 "shape, provide shapes to send along with the request");
    assert_null(ds.priv);

    f->in[0].datatype[0] = 'X'; /* "XNT64" */
    free(f->in[0].shape);
    f->in[0].shape = xmalloc(sizeof(int64_t));
    f->in[0].shape[0] = 2;
    f->in[0].rank = 1;
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    assert_non_null(strstr(err.msg, "XNT64"));

    add_input(f, "T", "INT32", 1, s1);
    f->in[1].is_shape_tensor = true;
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Failed to init manager inputs: can not generate data for "
                                 "shape tensor 'T', user-provided data is needed.");
    fixture_free(f);

    /* A rank-0 input of a non-batching model cannot be sent to Triton. */
    f = fixture_new(0);
    add_input(f, "SCALAR", "FP32", 0, NULL);
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg,
                        "Unable to init infer data manager: unable to set shape for the input");
    f->opts.service_kind = PA_SK_TRITON_C_API;
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_OK);
    assert_int_equal(dataset_step(&ds, 0, 0)->desc.inputs[0].rank, 0);
    assert_int_equal(dataset_step(&ds, 0, 0)->desc.inputs[0].byte_size, 4);
    dataset_release(&ds, NULL);
    fixture_free(f);
}

/* ---- directory data ---- */

static void make_dir(struct fixture *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/pa_test_data_dir_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->paths[0] = xstrdup(f->dir);
    f->opts.n_input_data_paths = 1;
    f->opts.input_kind = PA_INPUT_FILES;
}

static void rm_dir(struct fixture *f, const char *const *names)
{
    for (; *names; names++) {
        char *p = xasprintf("%s/%s", f->dir, *names);
        unlink(p);
        free(p);
    }
    rmdir(f->dir);
}

static void test_directory_input(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(8);
    int64_t s4[] = {4}, s2[] = {2};
    struct pa_dataset ds;
    struct pa_err err = {0};
    const char *const files[] = {"IN", "TXT", "OUT", NULL};
    int32_t vals[4] = {1, 2, 3, 4};
    char *path;

    add_input(f, "IN", "INT32", 1, s4);
    add_input(f, "TXT", "BYTES", 1, s2);
    add_output(f, "OUT", "INT32", 1, s4);
    make_dir(f);

    /* Missing file. */
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    path = xasprintf("Failed to init manager inputs: failed to open file '%s/IN'", f->dir);
    assert_string_equal(err.msg, path);
    free(path);

    /* Wrong byte size. */
    path = xasprintf("%s/IN", f->dir);
    write_file(path, vals, 12);
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Failed to init manager inputs: provided data for input IN "
                                 "has byte size 12, expect 16");
    write_file(path, vals, 0);
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    assert_non_null(strstr(err.msg, "/IN' is empty"));
    write_file(path, vals, 16);
    free(path);

    /* Text file: wrong line count, then right; '\r' is kept. */
    path = xasprintf("%s/TXT", f->dir);
    write_file(path, "one\n", 4);
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_EDATA);
    assert_string_equal(err.msg, "Failed to init manager inputs: provided data for input TXT "
                                 "has 1 elements, expect 2");
    write_file(path, "one\ntw\r\n", 8);
    free(path);

    f->opts.batch_size = 2;
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_OK);
    const struct pa_dataset_step *st = dataset_step(&ds, 0, 0);
    const struct pa_input *in = find_input(&st->desc, "IN"), *txt = find_input(&st->desc, "TXT");
    assert_int_equal(in->byte_size, 32);
    assert_memory_equal(in->data, vals, 16);
    assert_memory_equal((const uint8_t *)in->data + 16, vals, 16);
    assert_int_equal(txt->byte_size, 2 * (7 + 7));
    assert_memory_equal(txt->data, "\3\0\0\0one\3\0\0\0tw\r", 14);
    assert_null(st->expected); /* no OUT file: no validation */
    dataset_release(&ds, NULL);

    /* An output file becomes expected data, one chunk per batched step. */
    path = xasprintf("%s/OUT", f->dir);
    write_file(path, vals, 16);
    free(path);
    assert_int_equal(dataset_build(&f->opts, &f->model, NULL, NULL, &ds, &err), PA_OK);
    st = dataset_step(&ds, 0, 0);
    assert_int_equal(st->n_expected, 1);
    assert_string_equal(st->expected[0].name, "OUT");
    assert_int_equal(st->expected[0].byte_size, 32);
    assert_int_equal(st->expected[0].n_chunks, 2);
    assert_int_equal(st->expected[0].chunk_sizes[1], 16);
    dataset_release(&ds, NULL);

    rm_dir(f, files);
    fixture_free(f);
}

/* ---- validation ---- */

struct fake_output {
    const void *data;
    size_t size;
    int rc;
};

static int fake_output(const struct pa_client *c, const struct pa_response *r, const char *name,
                       const void **data, size_t *byte_size, struct pa_err *err)
{
    const struct fake_output *fo = c->ctx;
    (void)r;
    (void)name;
    if (fo->rc != PA_OK)
        return pa_errorf(err, fo->rc, "no such output");
    *data = fo->data;
    *byte_size = fo->size;
    return PA_OK;
}

static void test_validate_outputs(void **state)
{
    (void)state;
    static const struct pa_client_ops ops = {.output = fake_output};
    static const struct pa_backend backend = {.name = "fake", .kind = "TRITON", .ops = &ops};
    struct fake_output fo = {0};
    struct pa_client c = {.backend = &backend, .ctx = &fo};
    struct pa_response r = {0};
    struct pa_err err = {0};
    const uint8_t expect[] = {1, 2, 3, 4, 5, 6};
    const size_t chunks[] = {3, 3};
    struct pa_expected_output e = {"OUT", expect, 6, chunks, 2};
    struct pa_dataset_step step = {.expected = &e, .n_expected = 1};

    fo.data = expect;
    fo.size = 6;
    assert_int_equal(data_validate_outputs(&step, &c, &r, &err), PA_OK);

    uint8_t other[] = {1, 2, 3, 4, 9, 6};
    fo.data = other;
    assert_int_equal(data_validate_outputs(&step, &c, &r, &err), PA_EDATA);
    assert_string_equal(err.msg, "Output doesn't match expected output");

    /* Too short inside the second chunk: the size message. */
    fo.data = expect;
    fo.size = 4;
    assert_int_equal(data_validate_outputs(&step, &c, &r, &err), PA_EDATA);
    assert_string_equal(err.msg, "Output size doesn't match expected size");
    /* Short, but the first chunk already differs: chunk order decides. */
    fo.data = other;
    other[1] = 7;
    assert_int_equal(data_validate_outputs(&step, &c, &r, &err), PA_EDATA);
    assert_string_equal(err.msg, "Output doesn't match expected output");

    /* Leftover bytes. */
    uint8_t longer[] = {1, 2, 3, 4, 5, 6, 7};
    fo.data = longer;
    fo.size = 7;
    assert_int_equal(data_validate_outputs(&step, &c, &r, &err), PA_EDATA);
    assert_string_equal(err.msg, "Output size doesn't match expected size");

    /* An output the response does not have. */
    fo.rc = PA_EPROTO;
    assert_int_equal(data_validate_outputs(&step, &c, &r, &err), PA_EDATA);
    assert_string_equal(err.msg, "Output size doesn't match expected size");

    /* No expected data: nothing to check. */
    struct pa_dataset_step none = {0};
    assert_int_equal(data_validate_outputs(&none, &c, &r, &err), PA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datatype_table),
        cmocka_unit_test(test_shape_utils),
        cmocka_unit_test(test_bytes_encoding),
        cmocka_unit_test(test_jsonr_numbers),
        cmocka_unit_test(test_jsonr_strings_and_objects),
        cmocka_unit_test(test_jsonr_errors),
        cmocka_unit_test(test_generated_random_shares_prefix),
        cmocka_unit_test(test_generated_zero_and_strings),
        cmocka_unit_test(test_generated_errors),
        cmocka_unit_test(test_directory_input),
        cmocka_unit_test(test_validate_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
