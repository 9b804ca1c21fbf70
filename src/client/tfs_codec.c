/*
 * TF Serving message codec: PredictRequest and GetModelMetadataRequest
 * encoding, GetModelMetadataResponse -> JSON (see tfs_codec.h).
 *
 * A TF Serving request has no per-send fields (no id, no sequence
 * parameters), so the whole PredictRequest is serialised once at prepare()
 * time with protobuf-c; the typed value arrays it needs exist only during
 * that call. Input data is little-endian, like the hosts we build for.
 */
#include "client/tfs_codec.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/grpc_json.h"
#include "core/xalloc.h"
#include "tfs_serving.pb-c.h"
#include "core/banned.h"

static const struct {
    const char *datatype;
    Tensorflow__DataType dtype;
} dtypes[] = {
    {"FP16", TENSORFLOW__DATA_TYPE__DT_HALF},     {"BF16", TENSORFLOW__DATA_TYPE__DT_BFLOAT16},
    {"FP32", TENSORFLOW__DATA_TYPE__DT_FLOAT},    {"FP64", TENSORFLOW__DATA_TYPE__DT_DOUBLE},
    {"INT32", TENSORFLOW__DATA_TYPE__DT_INT32},   {"INT16", TENSORFLOW__DATA_TYPE__DT_INT16},
    {"UINT16", TENSORFLOW__DATA_TYPE__DT_UINT16}, {"INT8", TENSORFLOW__DATA_TYPE__DT_INT8},
    {"UINT8", TENSORFLOW__DATA_TYPE__DT_UINT8},   {"BYTES", TENSORFLOW__DATA_TYPE__DT_STRING},
    {"INT64", TENSORFLOW__DATA_TYPE__DT_INT64},   {"BOOL", TENSORFLOW__DATA_TYPE__DT_BOOL},
    {"UINT32", TENSORFLOW__DATA_TYPE__DT_UINT32}, {"UINT64", TENSORFLOW__DATA_TYPE__DT_UINT64},
};

int tfs_dtype_from_datatype(const char *datatype)
{
    for (size_t i = 0; datatype && i < sizeof(dtypes) / sizeof(dtypes[0]); i++) {
        if (strcmp(datatype, dtypes[i].datatype) == 0)
            return (int)dtypes[i].dtype;
    }
    return -1;
}

static bool is_decimal(const char *s)
{
    if (!s || !*s || strlen(s) > 18)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

/*
 * -x as a model spec. The original always sends it as version_label, which
 * a real TF Serving resolves through its label map only, so `-x 1` fails
 * there unless a label "1" exists; a number goes in `version` instead
 * (protocols/03 §4 allows this), anything else stays a label.
 */
static void model_spec_init(Tensorflow__Serving__ModelSpec *spec, Google__Protobuf__Int64Value *ver,
                            const char *name, const char *version, const char *signature)
{
    tensorflow__serving__model_spec__init(spec);
    spec->name = grpc_json_str(name);
    if (signature)
        spec->signature_name = grpc_json_str(signature);
    if (is_decimal(version)) {
        google__protobuf__int64_value__init(ver);
        ver->value = strtoll(version, NULL, 10);
        spec->version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION;
        spec->version = ver;
    } else if (version && *version) {
        spec->version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION_LABEL;
        spec->version_label = grpc_json_str(version);
    }
}

/* Everything one input's TensorProto points at, freed after packing. */
struct tensor_parts {
    Tensorflow__Serving__PredictRequest__InputsEntry entry;
    Tensorflow__TensorProto tensor;
    Tensorflow__TensorShapeProto shape;
    Tensorflow__TensorShapeProto__Dim dims[PA_MAX_DIMS];
    Tensorflow__TensorShapeProto__Dim *pdims[PA_MAX_DIMS];
    void *values;                       /* typed array */
};

static int fill_strings(struct tensor_parts *t, const struct pa_input *in, struct pa_err *err)
{
    const unsigned char *p = in->data;
    size_t n = 0;
    /* Count first, then point each entry into the caller's buffer (no copy). */
    for (size_t off = 0; off < in->byte_size; n++) {
        uint32_t len;
        if (in->byte_size - off < 4)
            goto bad;
        memcpy(&len, p + off, 4);
        if (len > in->byte_size - off - 4)
            goto bad;
        off += 4 + (size_t)len;
    }
    ProtobufCBinaryData *v = xcalloc(n ? n : 1, sizeof(*v));
    union {
        const unsigned char *c;
        uint8_t *m;
    } u;
    for (size_t i = 0; i < n; i++) {
        uint32_t len;
        memcpy(&len, p, 4);
        u.c = p + 4;
        v[i].data = u.m;
        v[i].len = len;
        p += 4 + (size_t)len;
    }
    t->values = v;
    t->tensor.string_val = v;
    t->tensor.n_string_val = n;
    return PA_OK;
bad:
    return pa_errorf(err, PA_EDATA, "malformed BYTES data for input '%s'", in->name);
}

/* Copies `n` elements of `size` bytes each, widened as the typed field needs. */
static int fill_values(struct tensor_parts *t, const struct pa_input *in, int dtype,
                       struct pa_err *err)
{
    const unsigned char *p = in->data;
    size_t bytes = in->byte_size;
    Tensorflow__TensorProto *tp = &t->tensor;

#define ELEMS(sz)                                                                             \
    do {                                                                                      \
        if (bytes % (sz))                                                                     \
            return pa_errorf(err, PA_EDATA,                                                   \
                             "input '%s' has %zu bytes, not a multiple of its element size", \
                             in->name, bytes);                                                \
    } while (0)

    switch (dtype) {
    case TENSORFLOW__DATA_TYPE__DT_BFLOAT16:
        return pa_errorf(err, PA_EUNSUPPORTED,
                         "BF16 datatype not currently supported for populating input data.");
    case TENSORFLOW__DATA_TYPE__DT_STRING:
        return fill_strings(t, in, err);
    case TENSORFLOW__DATA_TYPE__DT_FLOAT: {
        ELEMS(4);
        size_t n = bytes / 4;
        float *v = xcalloc(n ? n : 1, sizeof(*v));
        if (n)
            memcpy(v, p, bytes);
        t->values = tp->float_val = v;
        tp->n_float_val = n;
        return PA_OK;
    }
    case TENSORFLOW__DATA_TYPE__DT_DOUBLE: {
        ELEMS(8);
        size_t n = bytes / 8;
        double *v = xcalloc(n ? n : 1, sizeof(*v));
        if (n)
            memcpy(v, p, bytes);
        t->values = tp->double_val = v;
        tp->n_double_val = n;
        return PA_OK;
    }
    case TENSORFLOW__DATA_TYPE__DT_INT64: {
        ELEMS(8);
        size_t n = bytes / 8;
        int64_t *v = xcalloc(n ? n : 1, sizeof(*v));
        if (n)
            memcpy(v, p, bytes);
        t->values = tp->int64_val = v;
        tp->n_int64_val = n;
        return PA_OK;
    }
    case TENSORFLOW__DATA_TYPE__DT_UINT64: {
        ELEMS(8);
        size_t n = bytes / 8;
        uint64_t *v = xcalloc(n ? n : 1, sizeof(*v));
        if (n)
            memcpy(v, p, bytes);
        t->values = tp->uint64_val = v;
        tp->n_uint64_val = n;
        return PA_OK;
    }
    case TENSORFLOW__DATA_TYPE__DT_UINT32: {
        ELEMS(4);
        size_t n = bytes / 4;
        uint32_t *v = xcalloc(n ? n : 1, sizeof(*v));
        if (n)
            memcpy(v, p, bytes);
        t->values = tp->uint32_val = v;
        tp->n_uint32_val = n;
        return PA_OK;
    }
    case TENSORFLOW__DATA_TYPE__DT_BOOL: {
        size_t n = bytes;
        protobuf_c_boolean *v = xcalloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++)
            v[i] = p[i] != 0;
        t->values = tp->bool_val = v;
        tp->n_bool_val = n;
        return PA_OK;
    }
    default:
        break;
    }

    /* The int32-carried types: int_val, or half_val for FP16. */
    size_t size = dtype == TENSORFLOW__DATA_TYPE__DT_INT32 ? 4
                  : dtype == TENSORFLOW__DATA_TYPE__DT_INT8 ||
                          dtype == TENSORFLOW__DATA_TYPE__DT_UINT8
                      ? 1
                      : 2;
    ELEMS(size);
    size_t n = bytes / size;
    int32_t *v = xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        const unsigned char *e = p + i * size;
        switch (dtype) {
        case TENSORFLOW__DATA_TYPE__DT_INT32:
            memcpy(&v[i], e, 4);
            break;
        case TENSORFLOW__DATA_TYPE__DT_INT8:
            v[i] = (int8_t)e[0];
            break;
        case TENSORFLOW__DATA_TYPE__DT_UINT8:
            v[i] = e[0];
            break;
        case TENSORFLOW__DATA_TYPE__DT_INT16: {
            int16_t x;
            memcpy(&x, e, 2);
            v[i] = x;
            break;
        }
        default: { /* UINT16, HALF: the 16-bit pattern, zero-extended */
            uint16_t x;
            memcpy(&x, e, 2);
            v[i] = x;
            break;
        }
        }
    }
    t->values = v;
    if (dtype == TENSORFLOW__DATA_TYPE__DT_HALF) {
        tp->half_val = v;
        tp->n_half_val = n;
    } else {
        tp->int_val = v;
        tp->n_int_val = n;
    }
    return PA_OK;
#undef ELEMS
}

int tfs_encode_predict(const struct pa_infer_desc *desc, const char *signature,
                       unsigned char **out, size_t *len, struct pa_err *err)
{
    Tensorflow__Serving__PredictRequest req;
    Tensorflow__Serving__ModelSpec spec;
    Google__Protobuf__Int64Value ver;
    int rc = PA_OK;

    tensorflow__serving__predict_request__init(&req);
    model_spec_init(&spec, &ver, desc->model_name, desc->model_version, signature);
    req.model_spec = &spec;

    struct tensor_parts *parts = xcalloc(desc->n_inputs ? desc->n_inputs : 1, sizeof(*parts));
    Tensorflow__Serving__PredictRequest__InputsEntry **entries =
        xcalloc(desc->n_inputs ? desc->n_inputs : 1, sizeof(*entries));
    for (size_t i = 0; i < desc->n_inputs && rc == PA_OK; i++) {
        const struct pa_input *in = &desc->inputs[i];
        struct tensor_parts *t = &parts[i];
        if (in->shm_region) {
            rc = pa_errorf(err, PA_EUNSUPPORTED,
                           "client backend of kind TENSORFLOW_SERVING does not support shared "
                           "memory inputs");
            break;
        }
        if (in->rank > PA_MAX_DIMS) {
            rc = pa_errorf(err, PA_EINVAL, "input '%s' has too many dimensions", in->name);
            break;
        }
        int dtype = tfs_dtype_from_datatype(in->datatype);
        if (dtype < 0) {
            rc = pa_errorf(err, PA_EINVAL, "failed to retrieve the TF datatype for %s", in->name);
            break;
        }
        tensorflow__tensor_proto__init(&t->tensor);
        tensorflow__tensor_shape_proto__init(&t->shape);
        t->tensor.dtype = (Tensorflow__DataType)dtype;
        for (size_t d = 0; d < in->rank; d++) {
            tensorflow__tensor_shape_proto__dim__init(&t->dims[d]);
            t->dims[d].size = in->shape[d];
            t->pdims[d] = &t->dims[d];
        }
        t->shape.dim = t->pdims;
        t->shape.n_dim = in->rank;
        t->tensor.tensor_shape = &t->shape;
        rc = fill_values(t, in, dtype, err);
        tensorflow__serving__predict_request__inputs_entry__init(&t->entry);
        t->entry.key = grpc_json_str(in->name);
        t->entry.value = &t->tensor;
        entries[i] = &t->entry;
        req.n_inputs = i + 1;
    }
    req.inputs = entries;

    if (rc == PA_OK) {
        size_t n = protobuf_c_message_get_packed_size(&req.base);
        if (n > INT_MAX) {
            rc = pa_errorf(err, PA_EINVAL,
                           "Request has byte size %zu which exceed gRPC's byte size limit "
                           "2147483647.",
                           n);
        } else {
            *out = xmalloc(n ? n : 1);
            *len = protobuf_c_message_pack(&req.base, *out);
        }
    }
    for (size_t i = 0; i < desc->n_inputs; i++)
        free(parts[i].values);
    free(parts);
    free(entries);
    return rc;
}

void tfs_encode_metadata_request(const char *name, const char *version, unsigned char **out,
                                 size_t *len)
{
    Tensorflow__Serving__GetModelMetadataRequest req;
    Tensorflow__Serving__ModelSpec spec;
    Google__Protobuf__Int64Value ver;
    char *fields[1] = {grpc_json_str("signature_def")};

    tensorflow__serving__get_model_metadata_request__init(&req);
    model_spec_init(&spec, &ver, name, version, NULL);
    req.model_spec = &spec;
    req.metadata_field = fields;
    req.n_metadata_field = 1;
    size_t n = protobuf_c_message_get_packed_size(&req.base);
    *out = xmalloc(n ? n : 1);
    *len = protobuf_c_message_pack(&req.base, *out);
}

int tfs_metadata_to_json(const unsigned char *p, size_t len, cJSON **out, struct pa_err *err)
{
    Tensorflow__Serving__GetModelMetadataResponse *rs =
        tensorflow__serving__get_model_metadata_response__unpack(NULL, len, p);
    if (!rs)
        return pa_errorf(err, PA_EPROTO, "failed to parse the GetModelMetadata response");

    int rc = PA_OK;
    cJSON *root = cJSON_CreateObject();
    if (rs->model_spec)
        cJSON_AddItemToObject(root, "model_spec", grpc_json_from_message(&rs->model_spec->base));
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    for (size_t i = 0; i < rs->n_metadata && rc == PA_OK; i++) {
        const Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry *e = rs->metadata[i];
        const Google__Protobuf__Any *any = e->value;
        const char *url = any && any->type_url ? any->type_url : "";
        if (strcmp(url, TFS_SIGNATURE_DEF_MAP_URL) != 0) {
            /* The original's JSON printer cannot expand a type it does not know. */
            rc = pa_errorf(err, PA_EPROTO,
                           "failed to convert the model metadata to JSON: unknown type URL '%s' "
                           "in metadata '%s'",
                           url, e->key ? e->key : "");
            break;
        }
        Tensorflow__Serving__SignatureDefMap *map =
            tensorflow__serving__signature_def_map__unpack(NULL, any->value.len, any->value.data);
        if (!map) {
            rc = pa_errorf(err, PA_EPROTO,
                           "failed to parse the SignatureDefMap in the model metadata");
            break;
        }
        cJSON *j = grpc_json_from_message(&map->base);
        cJSON_AddItemToObject(j, "@type", cJSON_CreateString(url));
        cJSON_AddItemToObject(meta, e->key ? e->key : "", j);
        tensorflow__serving__signature_def_map__free_unpacked(map, NULL);
    }
    tensorflow__serving__get_model_metadata_response__free_unpacked(rs, NULL);
    if (rc != PA_OK) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return PA_OK;
}
