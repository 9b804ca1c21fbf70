/*
 * pa-test-server's TF Serving PredictionService, protobuf side (see
 * tfs_handlers.h). Messages are unpacked and packed with protobuf-c; the
 * scratch memory of one request (decoded input bytes, output protos) is
 * allocated per call, which is fine for a server nobody benchmarks.
 */
#include "tfs_handlers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "tfs_serving.pb-c.h"

#include "core/banned.h"

#define ST_INVALID_ARGUMENT 3
#define ST_NOT_FOUND 5
#define SIGNATURE "serving_default"
#define SIGNATURE_DEF_MAP_URL "type.googleapis.com/tensorflow.serving.SignatureDefMap"

static const struct {
    enum engine_dtype e;
    Tensorflow__DataType tf;
} dtype_map[] = {
    {ENGINE_TYPE_BOOL, TENSORFLOW__DATA_TYPE__DT_BOOL},
    {ENGINE_TYPE_UINT8, TENSORFLOW__DATA_TYPE__DT_UINT8},
    {ENGINE_TYPE_UINT16, TENSORFLOW__DATA_TYPE__DT_UINT16},
    {ENGINE_TYPE_UINT32, TENSORFLOW__DATA_TYPE__DT_UINT32},
    {ENGINE_TYPE_UINT64, TENSORFLOW__DATA_TYPE__DT_UINT64},
    {ENGINE_TYPE_INT8, TENSORFLOW__DATA_TYPE__DT_INT8},
    {ENGINE_TYPE_INT16, TENSORFLOW__DATA_TYPE__DT_INT16},
    {ENGINE_TYPE_INT32, TENSORFLOW__DATA_TYPE__DT_INT32},
    {ENGINE_TYPE_INT64, TENSORFLOW__DATA_TYPE__DT_INT64},
    {ENGINE_TYPE_FP16, TENSORFLOW__DATA_TYPE__DT_HALF},
    {ENGINE_TYPE_FP32, TENSORFLOW__DATA_TYPE__DT_FLOAT},
    {ENGINE_TYPE_FP64, TENSORFLOW__DATA_TYPE__DT_DOUBLE},
    {ENGINE_TYPE_BYTES, TENSORFLOW__DATA_TYPE__DT_STRING},
    {ENGINE_TYPE_BF16, TENSORFLOW__DATA_TYPE__DT_BFLOAT16},
};

static Tensorflow__DataType to_tf(enum engine_dtype t)
{
    for (size_t i = 0; i < sizeof(dtype_map) / sizeof(dtype_map[0]); i++)
        if (dtype_map[i].e == t)
            return dtype_map[i].tf;
    return TENSORFLOW__DATA_TYPE__DT_INVALID;
}

static const char *tf_name(Tensorflow__DataType t)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&tensorflow__data_type__descriptor, (int)t);
    return v ? v->name : "DT_UNKNOWN";
}

static void fail(struct tfs_reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct tfs_reply *out, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
    va_end(ap);
    out->status = status;
}

static void pack(struct tfs_reply *out, const ProtobufCMessage *m)
{
    out->len = protobuf_c_message_get_packed_size(m);
    out->body = xmalloc(out->len ? out->len : 1);
    protobuf_c_message_pack(m, out->body);
    out->status = 0;
}

/* protobuf-c string fields are `char *`; packing never writes through them. */
static char *str(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s ? s : ""};
    return u.m;
}

/* Resolves model_spec to a model and version; fills out on failure. */
static const struct engine_model *resolve(struct engine *e,
                                          const Tensorflow__Serving__ModelSpec *spec,
                                          int64_t *version, struct tfs_reply *out)
{
    char ver[32] = "";
    const struct engine_model *m;
    struct engine_status st;
    if (!spec || !spec->name || !spec->name[0]) {
        fail(out, ST_INVALID_ARGUMENT, "Missing ModelSpec");
        return NULL;
    }
    if (spec->version_choice_case == TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION &&
        spec->version) {
        snprintf(ver, sizeof(ver), "%" PRId64, spec->version->value);
    } else if (spec->version_choice_case ==
               TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION_LABEL) {
        const char *l = spec->version_label;
        size_t n = strspn(l, "0123456789");
        if (!l[0] || l[n] || n >= sizeof(ver)) {
            fail(out, ST_NOT_FOUND, "Unrecognized servable version label: %s", l);
            return NULL;
        }
        snprintf(ver, sizeof(ver), "%s", l);
    }
    if (engine_find(e, spec->name, ver, &m, version, &st)) {
        if (ver[0])
            fail(out, ST_NOT_FOUND, "Servable not found for request: Specific(%s, %s)",
                 spec->name, ver);
        else
            fail(out, ST_NOT_FOUND, "Servable not found for request: Latest(%s)", spec->name);
        return NULL;
    }
    return m;
}

static bool signature_ok(const Tensorflow__Serving__ModelSpec *spec, struct tfs_reply *out)
{
    const char *sig = spec->signature_name ? spec->signature_name : "";
    if (sig[0] && strcmp(sig, SIGNATURE) != 0) {
        fail(out, ST_INVALID_ARGUMENT, "Serving signature name: \"%s\" not found in signature def",
             sig);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------- metadata */

/* Owns everything one TensorInfo points at. */
struct info_parts {
    Tensorflow__SignatureDef__InputsEntry entry; /* same layout as OutputsEntry */
    Tensorflow__SignatureDef__OutputsEntry oentry;
    Tensorflow__TensorInfo info;
    Tensorflow__TensorShapeProto shape;
    Tensorflow__TensorShapeProto__Dim dims[ENGINE_MAX_DIMS + 1];
    Tensorflow__TensorShapeProto__Dim *pdims[ENGINE_MAX_DIMS + 1];
    char name[ENGINE_NAME_MAX + 3];
};

static void info_init(struct info_parts *p, const struct engine_tensor_info *t, bool batching)
{
    size_t r = 0;
    tensorflow__tensor_info__init(&p->info);
    tensorflow__tensor_shape_proto__init(&p->shape);
    snprintf(p->name, sizeof(p->name), "%s:0", t->name);
    p->info.encoding_case = TENSORFLOW__TENSOR_INFO__ENCODING_NAME;
    p->info.name = p->name;
    p->info.dtype = to_tf(t->dtype);
    if (batching) {
        tensorflow__tensor_shape_proto__dim__init(&p->dims[r]);
        p->dims[r].size = -1;
        p->pdims[r] = &p->dims[r];
        r++;
    }
    for (size_t d = 0; d < t->rank; d++, r++) {
        tensorflow__tensor_shape_proto__dim__init(&p->dims[r]);
        p->dims[r].size = t->dims[d];
        p->pdims[r] = &p->dims[r];
    }
    p->shape.dim = p->pdims;
    p->shape.n_dim = r;
    p->info.tensor_shape = &p->shape;
}

void tfs_handle_metadata(struct engine *e, const unsigned char *req, size_t len,
                         struct tfs_reply *out)
{
    memset(out, 0, sizeof(*out));
    Tensorflow__Serving__GetModelMetadataRequest *rq =
        tensorflow__serving__get_model_metadata_request__unpack(NULL, len, req);
    if (!rq) {
        fail(out, ST_INVALID_ARGUMENT, "failed to parse the GetModelMetadataRequest");
        return;
    }
    int64_t version;
    const struct engine_model *m = NULL;
    if (rq->n_metadata_field == 0) {
        fail(out, ST_INVALID_ARGUMENT,
             "GetModelMetadataRequest must specify at least one metadata_field");
        goto out;
    }
    for (size_t i = 0; i < rq->n_metadata_field; i++) {
        if (strcmp(rq->metadata_field[i], "signature_def") != 0) {
            fail(out, ST_INVALID_ARGUMENT, "Metadata field %s is not supported",
                 rq->metadata_field[i]);
            goto out;
        }
    }
    m = resolve(e, rq->model_spec, &version, out);
    if (!m)
        goto out;

    const struct engine_model_info *mi = engine_model_info(m);
    bool batching = mi->max_batch_size > 0;
    struct info_parts *ins = xcalloc(mi->n_inputs + 1, sizeof(*ins));
    struct info_parts *outs = xcalloc(mi->n_outputs + 1, sizeof(*outs));
    Tensorflow__SignatureDef__InputsEntry *pins[ENGINE_MAX_IO];
    Tensorflow__SignatureDef__OutputsEntry *pouts[ENGINE_MAX_IO];
    Tensorflow__SignatureDef sig;
    tensorflow__signature_def__init(&sig);
    for (size_t i = 0; i < mi->n_inputs; i++) {
        info_init(&ins[i], &mi->inputs[i], batching);
        tensorflow__signature_def__inputs_entry__init(&ins[i].entry);
        ins[i].entry.key = str(mi->inputs[i].name);
        ins[i].entry.value = &ins[i].info;
        pins[i] = &ins[i].entry;
    }
    for (size_t i = 0; i < mi->n_outputs; i++) {
        info_init(&outs[i], &mi->outputs[i], batching);
        tensorflow__signature_def__outputs_entry__init(&outs[i].oentry);
        outs[i].oentry.key = str(mi->outputs[i].name);
        outs[i].oentry.value = &outs[i].info;
        pouts[i] = &outs[i].oentry;
    }
    sig.inputs = pins;
    sig.n_inputs = mi->n_inputs;
    sig.outputs = pouts;
    sig.n_outputs = mi->n_outputs;
    sig.method_name = str("tensorflow/serving/predict");

    Tensorflow__Serving__SignatureDefMap__SignatureDefEntry sentry;
    Tensorflow__Serving__SignatureDefMap__SignatureDefEntry *psentry = &sentry;
    tensorflow__serving__signature_def_map__signature_def_entry__init(&sentry);
    sentry.key = str(SIGNATURE);
    sentry.value = &sig;
    Tensorflow__Serving__SignatureDefMap map;
    tensorflow__serving__signature_def_map__init(&map);
    map.signature_def = &psentry;
    map.n_signature_def = 1;
    size_t map_len = protobuf_c_message_get_packed_size(&map.base);
    unsigned char *map_bytes = xmalloc(map_len ? map_len : 1);
    protobuf_c_message_pack(&map.base, map_bytes);

    Google__Protobuf__Any any;
    google__protobuf__any__init(&any);
    any.type_url = str(SIGNATURE_DEF_MAP_URL);
    any.value.data = map_bytes;
    any.value.len = map_len;
    Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry mentry;
    Tensorflow__Serving__GetModelMetadataResponse__MetadataEntry *pmentry = &mentry;
    tensorflow__serving__get_model_metadata_response__metadata_entry__init(&mentry);
    mentry.key = str("signature_def");
    mentry.value = &any;

    Google__Protobuf__Int64Value ver;
    google__protobuf__int64_value__init(&ver);
    ver.value = version;
    Tensorflow__Serving__ModelSpec spec;
    tensorflow__serving__model_spec__init(&spec);
    spec.name = str(mi->name);
    spec.version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION;
    spec.version = &ver;
    Tensorflow__Serving__GetModelMetadataResponse rs;
    tensorflow__serving__get_model_metadata_response__init(&rs);
    rs.model_spec = &spec;
    rs.metadata = &pmentry;
    rs.n_metadata = 1;
    pack(out, &rs.base);
    free(map_bytes);
    free(ins);
    free(outs);
out:
    tensorflow__serving__get_model_metadata_request__free_unpacked(rq, NULL);
}

/* -------------------------------------------------------------- predict */

/* Number of values in the typed field of dtype t. */
static size_t typed_count(const Tensorflow__TensorProto *tp, Tensorflow__DataType t)
{
    switch (t) {
    case TENSORFLOW__DATA_TYPE__DT_FLOAT: return tp->n_float_val;
    case TENSORFLOW__DATA_TYPE__DT_DOUBLE: return tp->n_double_val;
    case TENSORFLOW__DATA_TYPE__DT_INT64: return tp->n_int64_val;
    case TENSORFLOW__DATA_TYPE__DT_UINT64: return tp->n_uint64_val;
    case TENSORFLOW__DATA_TYPE__DT_UINT32: return tp->n_uint32_val;
    case TENSORFLOW__DATA_TYPE__DT_BOOL: return tp->n_bool_val;
    case TENSORFLOW__DATA_TYPE__DT_STRING: return tp->n_string_val;
    case TENSORFLOW__DATA_TYPE__DT_HALF:
    case TENSORFLOW__DATA_TYPE__DT_BFLOAT16: return tp->n_half_val;
    default: return tp->n_int_val; /* INT32, INT16, UINT16, INT8, UINT8 */
    }
}

/* Writes typed value i of tp (element size `size`) little-endian into dst. */
static void typed_value(const Tensorflow__TensorProto *tp, Tensorflow__DataType t, size_t i,
                        size_t size, unsigned char *dst)
{
    switch (t) {
    case TENSORFLOW__DATA_TYPE__DT_FLOAT: memcpy(dst, &tp->float_val[i], 4); return;
    case TENSORFLOW__DATA_TYPE__DT_DOUBLE: memcpy(dst, &tp->double_val[i], 8); return;
    case TENSORFLOW__DATA_TYPE__DT_INT64: memcpy(dst, &tp->int64_val[i], 8); return;
    case TENSORFLOW__DATA_TYPE__DT_UINT64: memcpy(dst, &tp->uint64_val[i], 8); return;
    case TENSORFLOW__DATA_TYPE__DT_UINT32: memcpy(dst, &tp->uint32_val[i], 4); return;
    case TENSORFLOW__DATA_TYPE__DT_BOOL: dst[0] = tp->bool_val[i] ? 1 : 0; return;
    case TENSORFLOW__DATA_TYPE__DT_HALF:
    case TENSORFLOW__DATA_TYPE__DT_BFLOAT16: {
        uint16_t v = (uint16_t)tp->half_val[i];
        memcpy(dst, &v, 2);
        return;
    }
    default: { /* the low `size` bytes of the int32 (little-endian) */
        uint32_t v = (uint32_t)tp->int_val[i];
        unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                              (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
        memcpy(dst, b, size);
        return;
    }
    }
}

/*
 * The raw bytes of one input tensor (BYTES: 4-byte length prefixes), with
 * TF's rule for short typed fields: the last value repeats, none = zeros.
 * Returns a malloc'ed buffer, or NULL with out filled.
 */
static unsigned char *decode_tensor(const char *alias, const Tensorflow__TensorProto *tp,
                                    enum engine_dtype dt, size_t elems, size_t *len,
                                    struct tfs_reply *out)
{
    Tensorflow__DataType t = tp->dtype;
    if (dt == ENGINE_TYPE_BYTES) {
        size_t n = tp->n_string_val, total = 0;
        if (n > elems) {
            fail(out, ST_INVALID_ARGUMENT, "input '%s' has %zu values for %zu elements", alias,
                 n, elems);
            return NULL;
        }
        for (size_t i = 0; i < elems; i++)
            total += 4 + (n ? tp->string_val[i < n ? i : n - 1].len : 0);
        unsigned char *buf = xmalloc(total ? total : 1), *p = buf;
        for (size_t i = 0; i < elems; i++) {
            const ProtobufCBinaryData *s = n ? &tp->string_val[i < n ? i : n - 1] : NULL;
            uint32_t l = s ? (uint32_t)s->len : 0;
            memcpy(p, &l, 4);
            if (l)
                memcpy(p + 4, s->data, l);
            p += 4 + l;
        }
        *len = total;
        return buf;
    }
    size_t size = engine_dtype_size(dt), bytes = elems * size;
    unsigned char *buf = xcalloc(bytes ? bytes : 1, 1);
    *len = bytes;
    if (tp->tensor_content.len) {
        if (tp->tensor_content.len != bytes) {
            fail(out, ST_INVALID_ARGUMENT,
                 "input '%s': tensor_content has %zu bytes, the shape needs %zu", alias,
                 tp->tensor_content.len, bytes);
            free(buf);
            return NULL;
        }
        memcpy(buf, tp->tensor_content.data, bytes);
        return buf;
    }
    size_t n = typed_count(tp, t);
    if (n > elems) {
        fail(out, ST_INVALID_ARGUMENT, "input '%s' has %zu values for %zu elements", alias, n,
             elems);
        free(buf);
        return NULL;
    }
    for (size_t i = 0; n && i < elems; i++)
        typed_value(tp, t, i < n ? i : n - 1, size, buf + i * size);
    return buf;
}

/* Owns everything one output TensorProto points at. */
struct out_parts {
    Tensorflow__Serving__PredictResponse__OutputsEntry entry;
    Tensorflow__TensorProto tensor;
    Tensorflow__TensorShapeProto shape;
    Tensorflow__TensorShapeProto__Dim dims[ENGINE_MAX_DIMS];
    Tensorflow__TensorShapeProto__Dim *pdims[ENGINE_MAX_DIMS];
    ProtobufCBinaryData *strings;
};

static void encode_output(struct out_parts *p, const struct engine_output *o)
{
    union {
        const void *c;
        uint8_t *m;
    } u = {.c = o->data};
    tensorflow__serving__predict_response__outputs_entry__init(&p->entry);
    tensorflow__tensor_proto__init(&p->tensor);
    tensorflow__tensor_shape_proto__init(&p->shape);
    for (size_t d = 0; d < o->rank; d++) {
        tensorflow__tensor_shape_proto__dim__init(&p->dims[d]);
        p->dims[d].size = o->shape[d];
        p->pdims[d] = &p->dims[d];
    }
    p->shape.dim = p->pdims;
    p->shape.n_dim = o->rank;
    p->tensor.tensor_shape = &p->shape;
    p->tensor.dtype = to_tf(o->dtype);
    if (o->dtype == ENGINE_TYPE_BYTES) {
        size_t n = 0, off = 0;
        while (off + 4 <= o->byte_size) {
            uint32_t l;
            memcpy(&l, u.m + off, 4);
            off += 4 + (size_t)l;
            n++;
        }
        p->strings = xcalloc(n ? n : 1, sizeof(*p->strings));
        off = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t l;
            memcpy(&l, u.m + off, 4);
            p->strings[i].data = u.m + off + 4;
            p->strings[i].len = l;
            off += 4 + (size_t)l;
        }
        p->tensor.string_val = p->strings;
        p->tensor.n_string_val = n;
    } else {
        p->tensor.tensor_content.data = u.m;
        p->tensor.tensor_content.len = o->byte_size;
    }
    p->entry.key = str(o->name);
    p->entry.value = &p->tensor;
}

void tfs_handle_predict(struct engine *e, const unsigned char *req, size_t len,
                        uint64_t arrival_ns, struct engine_response *resp, struct tfs_reply *out)
{
    memset(out, 0, sizeof(*out));
    Tensorflow__Serving__PredictRequest *rq =
        tensorflow__serving__predict_request__unpack(NULL, len, req);
    if (!rq) {
        fail(out, ST_INVALID_ARGUMENT, "failed to parse the PredictRequest");
        return;
    }
    unsigned char *bufs[ENGINE_MAX_IO] = {0};
    struct out_parts *parts = NULL;
    int64_t version;
    const struct engine_model *m = resolve(e, rq->model_spec, &version, out);
    if (!m || !signature_ok(rq->model_spec, out))
        goto out;
    const struct engine_model_info *mi = engine_model_info(m);

    struct engine_request er;
    memset(&er, 0, sizeof(er));
    er.defer_delay = true;
    er.arrival_ns = arrival_ns;
    if (rq->n_inputs > ENGINE_MAX_IO) {
        fail(out, ST_INVALID_ARGUMENT, "too many inputs");
        goto out;
    }
    for (size_t i = 0; i < rq->n_inputs; i++) {
        const char *alias = rq->inputs[i]->key;
        const Tensorflow__TensorProto *tp = rq->inputs[i]->value;
        const struct engine_tensor_info *ti = NULL;
        for (size_t k = 0; k < mi->n_inputs && !ti; k++)
            if (strcmp(mi->inputs[k].name, alias) == 0)
                ti = &mi->inputs[k];
        if (!ti) {
            fail(out, ST_INVALID_ARGUMENT, "input tensor alias not found in signature: %s",
                 alias);
            goto out;
        }
        if (!tp || tp->dtype != to_tf(ti->dtype)) {
            fail(out, ST_INVALID_ARGUMENT, "input '%s' has dtype %s, the signature expects %s",
                 alias, tf_name(tp ? tp->dtype : TENSORFLOW__DATA_TYPE__DT_INVALID),
                 tf_name(to_tf(ti->dtype)));
            goto out;
        }
        struct engine_input *in = &er.inputs[er.n_inputs++];
        size_t elems = 1;
        const Tensorflow__TensorShapeProto *sp = tp->tensor_shape;
        if (sp && sp->n_dim > ENGINE_MAX_DIMS) {
            fail(out, ST_INVALID_ARGUMENT, "input '%s' has too many dimensions", alias);
            goto out;
        }
        for (size_t d = 0; sp && d < sp->n_dim; d++) {
            int64_t s = sp->dim[d]->size;
            if (s < 0) {
                fail(out, ST_INVALID_ARGUMENT, "input '%s' has an unknown dimension", alias);
                goto out;
            }
            in->shape[d] = s;
            elems *= (size_t)s;
        }
        in->rank = sp ? sp->n_dim : 0;
        in->name = ti->name;
        in->dtype = ti->dtype;
        bufs[i] = decode_tensor(alias, tp, ti->dtype, elems, &in->byte_size, out);
        if (!bufs[i])
            goto out;
        in->data = bufs[i];
    }
    if (rq->n_output_filter > ENGINE_MAX_IO) {
        fail(out, ST_INVALID_ARGUMENT, "too many outputs in output_filter");
        goto out;
    }
    for (size_t i = 0; i < rq->n_output_filter; i++)
        er.outputs[er.n_outputs++].name = rq->output_filter[i];

    if (engine_infer(e, m, version, &er, resp) != ENGINE_OK) {
        fail(out, engine_code_grpc(resp->status.code), "%s", resp->status.msg);
        goto out;
    }
    parts = xcalloc(resp->n_outputs + 1, sizeof(*parts));
    Tensorflow__Serving__PredictResponse__OutputsEntry *pents[ENGINE_MAX_IO];
    for (size_t i = 0; i < resp->n_outputs; i++) {
        encode_output(&parts[i], &resp->outputs[i]);
        pents[i] = &parts[i].entry;
    }
    Google__Protobuf__Int64Value ver;
    google__protobuf__int64_value__init(&ver);
    ver.value = version;
    Tensorflow__Serving__ModelSpec spec;
    tensorflow__serving__model_spec__init(&spec);
    spec.name = str(mi->name);
    spec.version_choice_case = TENSORFLOW__SERVING__MODEL_SPEC__VERSION_CHOICE_VERSION;
    spec.version = &ver;
    spec.signature_name = str(SIGNATURE);
    Tensorflow__Serving__PredictResponse rs;
    tensorflow__serving__predict_response__init(&rs);
    rs.model_spec = &spec;
    rs.outputs = pents;
    rs.n_outputs = resp->n_outputs;
    pack(out, &rs.base);
    out->ready_ns = resp->ready_ns;
    out->drop = resp->drop_connection;
    for (size_t i = 0; i < resp->n_outputs; i++)
        free(parts[i].strings);
out:
    free(parts);
    for (size_t i = 0; i < ENGINE_MAX_IO; i++)
        free(bufs[i]);
    tensorflow__serving__predict_request__free_unpacked(rq, NULL);
}
