/*
 * The TF Serving codec (src/client/tfs_codec.c): PredictRequest encoding for
 * every datatype (typed fields, widening, INT64 in int64_val, BYTES without
 * prefixes, BF16 refusal, unmappable datatypes), the model spec (numeric
 * version vs label, signature), GetModelMetadataRequest, and the
 * GetModelMetadataResponse -> JSON conversion model.c reads. Encoded bytes
 * are decoded again with protobuf-c from our .proto files, and a few wire
 * bytes are checked directly so the field numbers are pinned as well.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/tfs_codec.h"
#include "tfs_serving.pb-c.h"

/* protobuf-c and pa_options take `char *` for strings they never write. */
static char *mut(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

static const int64_t shape_b1x4[2] = {1, 4};

static Tensorflow__Serving__PredictRequest *encode_one(const char *datatype, const void *data,
                                                       size_t len, const int64_t *shape,
                                                       size_t rank, const char *version,
                                                       unsigned char **bytes, size_t *n)
{
    struct pa_input in = {.name = "x", .datatype = datatype, .shape = shape, .rank = rank,
                          .data = data, .byte_size = len};
    struct pa_infer_desc d = {.model_name = "m", .model_version = version, .inputs = &in,
                              .n_inputs = 1};
    struct pa_err err = {0};
    if (tfs_encode_predict(&d, "serving_default", bytes, n, &err) != PA_OK)
        fail_msg("encode: %s", err.msg);
    Tensorflow__Serving__PredictRequest *rq =
        tensorflow__serving__predict_request__unpack(NULL, *n, *bytes);
    assert_non_null(rq);
    assert_int_equal(rq->n_inputs, 1);
    assert_string_equal(rq->inputs[0]->key, "x");
    return rq;
}

static const Tensorflow__TensorProto *tensor(const Tensorflow__Serving__PredictRequest *rq)
{
    return rq->inputs[0]->value;
}

static void done(Tensorflow__Serving__PredictRequest *rq, unsigned char *bytes)
{
    tensorflow__serving__predict_request__free_unpacked(rq, NULL);
    free(bytes);
}

static void test_dtype_map(void **state)
{
    (void)state;
    assert_int_equal(tfs_dtype_from_datatype("FP32"), 1);
    assert_int_equal(tfs_dtype_from_datatype("FP64"), 2);
    assert_int_equal(tfs_dtype_from_datatype("INT32"), 3);
    assert_int_equal(tfs_dtype_from_datatype("UINT8"), 4);
    assert_int_equal(tfs_dtype_from_datatype("INT16"), 5);
    assert_int_equal(tfs_dtype_from_datatype("INT8"), 6);
    assert_int_equal(tfs_dtype_from_datatype("BYTES"), 7);
    assert_int_equal(tfs_dtype_from_datatype("INT64"), 9);
    assert_int_equal(tfs_dtype_from_datatype("BOOL"), 10);
    assert_int_equal(tfs_dtype_from_datatype("BF16"), 14);
    assert_int_equal(tfs_dtype_from_datatype("UINT16"), 17);
    assert_int_equal(tfs_dtype_from_datatype("FP16"), 19);
    assert_int_equal(tfs_dtype_from_datatype("UINT32"), 22);
    assert_int_equal(tfs_dtype_from_datatype("UINT64"), 23);
    assert_int_equal(tfs_dtype_from_datatype("COMPLEX"), -1);
    assert_int_equal(tfs_dtype_from_datatype(NULL), -1);
}

static void test_model_spec_and_shape(void **state)
{
    (void)state;
    float v[4] = {1.5f, -2.0f, 0.0f, 3.25f};
    unsigned char *bytes;
    size_t n;

    Tensorflow__Serving__PredictRequest *rq =
        encode_one("FP32", v, sizeof(v), shape_b1x4, 2, "", &bytes, &n);
    const Tensorflow__Serving__ModelSpec *spec = rq->model_spec;
    assert_string_equal(spec->name, "m");
    assert_string_equal(spec->signature_name, "serving_default");
    assert_int_equal(spec->version_choice_case,
                     TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE__NOT_SET);
    assert_int_equal(rq->n_output_filter, 0); /* the server returns every output */
    const Tensorflow__TensorProto *t = tensor(rq);
    assert_int_equal(t->dtype, TENSORFLOW__DATA_TYPE__DT_FLOAT);
    assert_int_equal(t->tensor_shape->n_dim, 2);
    assert_int_equal(t->tensor_shape->dim[0]->size, 1);
    assert_int_equal(t->tensor_shape->dim[1]->size, 4);
    assert_int_equal(t->n_float_val, 4);
    assert_memory_equal(t->float_val, v, sizeof(v));
    assert_int_equal(t->tensor_content.len, 0);
    done(rq, bytes);

    /* Without -b there is no batch dim: the shape is sent exactly as given. */
    static const int64_t shape4[1] = {4};
    rq = encode_one("FP32", v, sizeof(v), shape4, 1, "3", &bytes, &n);
    assert_int_equal(tensor(rq)->tensor_shape->n_dim, 1);
    assert_int_equal(tensor(rq)->tensor_shape->dim[0]->size, 4);
    /* A numeric -x is the Int64Value version, not a label. */
    assert_int_equal(rq->model_spec->version_choice_case,
                     TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION);
    assert_int_equal(rq->model_spec->version->value, 3);
    done(rq, bytes);

    rq = encode_one("FP32", v, sizeof(v), shape4, 1, "stable", &bytes, &n);
    assert_int_equal(rq->model_spec->version_choice_case,
                     TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION_LABEL);
    assert_string_equal(rq->model_spec->version_label, "stable");
    done(rq, bytes);
}

static void test_int_widening(void **state)
{
    (void)state;
    unsigned char *bytes;
    size_t n;
    static const int64_t s4[1] = {4};

    int8_t i8[4] = {-1, 127, -128, 5};
    Tensorflow__Serving__PredictRequest *rq = encode_one("INT8", i8, 4, s4, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->dtype, TENSORFLOW__DATA_TYPE__DT_INT8);
    assert_int_equal(tensor(rq)->n_int_val, 4);
    assert_int_equal(tensor(rq)->int_val[0], -1); /* sign-extended */
    assert_int_equal(tensor(rq)->int_val[1], 127);
    assert_int_equal(tensor(rq)->int_val[2], -128);
    done(rq, bytes);

    uint8_t u8[4] = {255, 0, 128, 1};
    rq = encode_one("UINT8", u8, 4, s4, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->int_val[0], 255); /* zero-extended */
    assert_int_equal(tensor(rq)->int_val[2], 128);
    done(rq, bytes);

    int16_t i16[4] = {-2, 32767, -32768, 0};
    rq = encode_one("INT16", i16, 8, s4, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->int_val[0], -2);
    assert_int_equal(tensor(rq)->int_val[2], -32768);
    done(rq, bytes);

    uint16_t u16[4] = {65535, 1, 2, 3};
    rq = encode_one("UINT16", u16, 8, s4, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->dtype, TENSORFLOW__DATA_TYPE__DT_UINT16);
    assert_int_equal(tensor(rq)->int_val[0], 65535);
    done(rq, bytes);

    uint16_t half[4] = {0x3c00, 0xbc00, 0x7c00, 0}; /* 1.0, -1.0, inf, 0 */
    rq = encode_one("FP16", half, 8, s4, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->dtype, TENSORFLOW__DATA_TYPE__DT_HALF);
    assert_int_equal(tensor(rq)->n_half_val, 4);
    assert_int_equal(tensor(rq)->half_val[1], 0xbc00); /* the bit pattern, zero-extended */
    assert_int_equal(tensor(rq)->n_int_val, 0);
    done(rq, bytes);

    int32_t i32[4] = {-7, 2147483647, 0, 9};
    rq = encode_one("INT32", i32, 16, s4, 1, "", &bytes, &n);
    assert_memory_equal(tensor(rq)->int_val, i32, sizeof(i32));
    done(rq, bytes);
}

static void test_wide_types(void **state)
{
    (void)state;
    unsigned char *bytes;
    size_t n;
    static const int64_t s2[1] = {2};

    /* INT64 goes to int64_val (field 10): r23.10 put it in bool_val. */
    int64_t i64[2] = {-5, 1LL << 40};
    Tensorflow__Serving__PredictRequest *rq = encode_one("INT64", i64, 16, s2, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->dtype, TENSORFLOW__DATA_TYPE__DT_INT64);
    assert_int_equal(tensor(rq)->n_int64_val, 2);
    assert_int_equal(tensor(rq)->int64_val[0], -5);
    assert_int_equal(tensor(rq)->int64_val[1], 1LL << 40);
    assert_int_equal(tensor(rq)->n_bool_val, 0);
    /* On the wire: the packed field 10 (tag 0x52) and no field 11 (0x5a). */
    static const unsigned char tag10[] = {0x52, 0x10, 0xfb, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x01};
    bool found = false;
    for (size_t i = 0; i + sizeof(tag10) <= n && !found; i++)
        found = memcmp(bytes + i, tag10, sizeof(tag10)) == 0;
    assert_true(found);
    done(rq, bytes);

    uint64_t u64[2] = {UINT64_MAX, 3};
    rq = encode_one("UINT64", u64, 16, s2, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->n_uint64_val, 2);
    assert_true(tensor(rq)->uint64_val[0] == UINT64_MAX);
    done(rq, bytes);

    uint32_t u32[2] = {4000000000u, 1};
    rq = encode_one("UINT32", u32, 8, s2, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->n_uint32_val, 2);
    assert_true(tensor(rq)->uint32_val[0] == 4000000000u);
    done(rq, bytes);

    double f64[2] = {1e300, -0.5};
    rq = encode_one("FP64", f64, 16, s2, 1, "", &bytes, &n);
    assert_memory_equal(tensor(rq)->double_val, f64, sizeof(f64));
    done(rq, bytes);

    unsigned char b[2] = {0, 7};
    rq = encode_one("BOOL", b, 2, s2, 1, "", &bytes, &n);
    assert_int_equal(tensor(rq)->n_bool_val, 2);
    assert_false(tensor(rq)->bool_val[0]);
    assert_true(tensor(rq)->bool_val[1]);
    done(rq, bytes);
}

static void test_bytes(void **state)
{
    (void)state;
    unsigned char data[32], *bytes;
    size_t off = 0, n;
    const char *strs[3] = {"ab", "", "xyz"};
    for (int i = 0; i < 3; i++) {
        uint32_t l = (uint32_t)strlen(strs[i]);
        memcpy(data + off, &l, 4);
        memcpy(data + off + 4, strs[i], l);
        off += 4 + l;
    }
    static const int64_t s3[1] = {3};
    Tensorflow__Serving__PredictRequest *rq = encode_one("BYTES", data, off, s3, 1, "", &bytes, &n);
    const Tensorflow__TensorProto *t = tensor(rq);
    assert_int_equal(t->dtype, TENSORFLOW__DATA_TYPE__DT_STRING);
    assert_int_equal(t->n_string_val, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t->string_val[i].len, strlen(strs[i])); /* no length prefix */
        assert_memory_equal(t->string_val[i].data, strs[i], strlen(strs[i]));
    }
    done(rq, bytes);

    /* A length running past the buffer is refused. */
    uint32_t big = 100;
    memcpy(data, &big, 4);
    struct pa_input in = {.name = "s", .datatype = "BYTES", .shape = s3, .rank = 1, .data = data,
                          .byte_size = 10};
    struct pa_infer_desc d = {.model_name = "m", .model_version = "", .inputs = &in,
                              .n_inputs = 1};
    struct pa_err err = {0};
    assert_int_equal(tfs_encode_predict(&d, "serving_default", &bytes, &n, &err), PA_EDATA);
    assert_string_equal(err.msg, "malformed BYTES data for input 's'");
}

static void test_refusals(void **state)
{
    (void)state;
    uint16_t v[2] = {1, 2};
    static const int64_t s2[1] = {2};
    struct pa_input in = {.name = "y", .datatype = "BF16", .shape = s2, .rank = 1, .data = v,
                          .byte_size = 4};
    struct pa_infer_desc d = {.model_name = "m", .model_version = "", .inputs = &in,
                              .n_inputs = 1};
    struct pa_err err = {0};
    unsigned char *bytes = NULL;
    size_t n;
    assert_int_equal(tfs_encode_predict(&d, "serving_default", &bytes, &n, &err),
                     PA_EUNSUPPORTED);
    assert_string_equal(err.msg,
                        "BF16 datatype not currently supported for populating input data.");

    in.datatype = "COMPLEX64";
    assert_int_not_equal(tfs_encode_predict(&d, "serving_default", &bytes, &n, &err), PA_OK);
    assert_string_equal(err.msg, "failed to retrieve the TF datatype for y");

    in.datatype = "FP32";
    in.byte_size = 3;
    assert_int_equal(tfs_encode_predict(&d, "serving_default", &bytes, &n, &err), PA_EDATA);

    in.byte_size = 4;
    in.shm_region = "region";
    assert_int_equal(tfs_encode_predict(&d, "serving_default", &bytes, &n, &err),
                     PA_EUNSUPPORTED);
}

static void test_metadata_request(void **state)
{
    (void)state;
    unsigned char *bytes;
    size_t n;
    tfs_encode_metadata_request("simple", "", &bytes, &n);
    Tensorflow__Serving__GetModelMetadataRequest *rq =
        tensorflow__serving__get_model_metadata_request__unpack(NULL, n, bytes);
    assert_non_null(rq);
    assert_string_equal(rq->model_spec->name, "simple");
    assert_int_equal(rq->model_spec->version_choice_case,
                     TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE__NOT_SET);
    assert_int_equal(rq->n_metadata_field, 1);
    assert_string_equal(rq->metadata_field[0], "signature_def");
    tensorflow__serving__get_model_metadata_request__free_unpacked(rq, NULL);
    free(bytes);

    tfs_encode_metadata_request("simple", "12", &bytes, &n);
    rq = tensorflow__serving__get_model_metadata_request__unpack(NULL, n, bytes);
    assert_int_equal(rq->model_spec->version->value, 12);
    tensorflow__serving__get_model_metadata_request__free_unpacked(rq, NULL);
    free(bytes);
}

/* A GetModelMetadataResponse as a TF Serving would send it, serialized. */
static unsigned char *metadata_response(const char *url, size_t *len)
{
    Tensorflow__TensorShapeProto__Dim d0;
    tensorflow__tensor_shape_proto__dim__init(&d0);
    Tensorflow__TensorShapeProto__Dim d1;
    tensorflow__tensor_shape_proto__dim__init(&d1);
    Tensorflow__TensorShapeProto__Dim *dims[2] = {&d0, &d1};
    d0.size = -1;
    d1.size = 16;
    Tensorflow__TensorShapeProto shape;
    tensorflow__tensor_shape_proto__init(&shape);
    shape.dim = dims;
    shape.n_dim = 2;
    Tensorflow__TensorInfo info;
    tensorflow__tensor_info__init(&info);
    info.encoding_case = TENSORFLOW__TENSOR_INFO__ENCODING_NAME;
    info.name = mut("x:0");
    info.dtype = TENSORFLOW__DATA_TYPE__DT_INT64;
    info.tensor_shape = &shape;
    Tensorflow__TensorShapeProto unknown;
    tensorflow__tensor_shape_proto__init(&unknown);
    unknown.unknown_rank = true;
    Tensorflow__TensorInfo info2;
    tensorflow__tensor_info__init(&info2);
    info2.dtype = TENSORFLOW__DATA_TYPE__DT_STRING;
    info2.tensor_shape = &unknown;

    Tensorflow__SignatureDef__InputsEntry e1;
    tensorflow__signature_def__inputs_entry__init(&e1);
    Tensorflow__SignatureDef__InputsEntry e2;
    tensorflow__signature_def__inputs_entry__init(&e2);
    Tensorflow__SignatureDef__InputsEntry *ins[2] = {&e1, &e2};
    e1.key = mut("x");
    e1.value = &info;
    e2.key = mut("text");
    e2.value = &info2;
    Tensorflow__SignatureDef sig;
    tensorflow__signature_def__init(&sig);
    sig.inputs = ins;
    sig.n_inputs = 2;
    sig.method_name = mut("tensorflow/serving/predict");
    Tensorflow__Serving__SignatureDefMap__SignatureDefEntry se;
    tensorflow__serving__signature_def_map__signature_def_entry__init(&se);
    Tensorflow__Serving__SignatureDefMap__SignatureDefEntry *pse = &se;
    se.key = mut("serving_default");
    se.value = &sig;
    Tensorflow__Serving__SignatureDefMap map;
    tensorflow__serving__signature_def_map__init(&map);
    map.signature_def = &pse;
    map.n_signature_def = 1;
    size_t ml = tensorflow__serving__signature_def_map__get_packed_size(&map);
    unsigned char *mb = malloc(ml);
    tensorflow__serving__signature_def_map__pack(&map, mb);

    Google__Protobuf__Any any;
    google__protobuf__any__init(&any);
    any.type_url = mut(url);
    any.value.data = mb;
    any.value.len = ml;
    Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry me;
    tensorflow__serving__get_model_metadata_response__metadata_entry__init(&me);
    Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry *pme = &me;
    me.key = mut("signature_def");
    me.value = &any;
    Google__Protobuf__Int64Value ver;
    google__protobuf__int64_value__init(&ver);
    ver.value = 1;
    Tensorflow__Serving__ModelSpec spec;
    tensorflow__serving__model_spec__init(&spec);
    spec.name = mut("simple");
    spec.version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION;
    spec.version = &ver;
    Tensorflow__Serving__GetModelMetadataResponse rs;
    tensorflow__serving__get_model_metadata_response__init(&rs);
    rs.model_spec = &spec;
    rs.metadata = &pme;
    rs.n_metadata = 1;
    *len = tensorflow__serving__get_model_metadata_response__get_packed_size(&rs);
    unsigned char *out = malloc(*len);
    tensorflow__serving__get_model_metadata_response__pack(&rs, out);
    free(mb);
    return out;
}

static const cJSON *at(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v)
        fail_msg("missing '%s'", key);
    return v;
}

static void test_metadata_to_json(void **state)
{
    (void)state;
    size_t len;
    unsigned char *bytes = metadata_response(TFS_SIGNATURE_DEF_MAP_URL, &len);
    cJSON *j = NULL;
    struct pa_err err = {0};
    assert_int_equal(tfs_metadata_to_json(bytes, len, &j, &err), PA_OK);
    free(bytes);

    /* The path model.c reads: metadata.signature_def.signature_def.<sig>.inputs */
    const cJSON *sd = at(at(j, "metadata"), "signature_def");
    assert_string_equal(at(sd, "@type")->valuestring, TFS_SIGNATURE_DEF_MAP_URL);
    const cJSON *sig = at(at(sd, "signature_def"), "serving_default");
    assert_string_equal(at(sig, "method_name")->valuestring, "tensorflow/serving/predict");
    const cJSON *x = at(at(sig, "inputs"), "x");
    assert_string_equal(at(x, "dtype")->valuestring, "DT_INT64");
    assert_string_equal(at(x, "name")->valuestring, "x:0");
    const cJSON *ts = at(x, "tensor_shape");
    assert_true(cJSON_IsFalse(at(ts, "unknown_rank"))); /* primitives are printed */
    const cJSON *dims = at(ts, "dim");
    assert_int_equal(cJSON_GetArraySize(dims), 2);
    assert_int_equal((int)at(cJSON_GetArrayItem(dims, 0), "size")->valuedouble, -1);
    assert_int_equal((int)at(cJSON_GetArrayItem(dims, 1), "size")->valuedouble, 16);
    const cJSON *text = at(at(sig, "inputs"), "text");
    assert_string_equal(at(text, "dtype")->valuestring, "DT_STRING");
    assert_true(cJSON_IsTrue(at(at(text, "tensor_shape"), "unknown_rank")));
    assert_int_equal(cJSON_GetArraySize(at(at(text, "tensor_shape"), "dim")), 0);
    assert_string_equal(at(at(j, "model_spec"), "name")->valuestring, "simple");
    cJSON_Delete(j);

    /* An Any of a type the printer does not know fails, as in the original. */
    bytes = metadata_response("type.googleapis.com/foo.Bar", &len);
    assert_int_equal(tfs_metadata_to_json(bytes, len, &j, &err), PA_EPROTO);
    assert_non_null(strstr(err.msg, "unknown type URL 'type.googleapis.com/foo.Bar'"));
    free(bytes);

    static const unsigned char junk[] = {0x0a, 0x10, 0x01};
    assert_int_equal(tfs_metadata_to_json(junk, sizeof(junk), &j, &err), PA_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_map),
        cmocka_unit_test(test_model_spec_and_shape),
        cmocka_unit_test(test_int_widening),
        cmocka_unit_test(test_wide_types),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_metadata_request),
        cmocka_unit_test(test_metadata_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
