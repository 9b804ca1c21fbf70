/*
 * --input-data FILE.json (spec 05 §5): documents of step objects or of
 * streams of step objects, one or several files, with optional
 * "validation_data".
 *
 * Every value form the original accepts is accepted, with its strict type
 * rules (RapidJSON's Is* tests, hence the own reader in jsonr.c), and every
 * rejection carries the original's message. Locations in messages are the
 * global stream and step ids, as the original numbers them across files.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "data/data-internal.h"
#include "data/datatype.h"
#include "data/jsonr.h"
#include "core/banned.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor data is written in host order, which must be little-endian"
#endif

#define LOC_FMT " ( Location stream id: %zu, step id: %zu)"

static int malformed(struct pa_err *err)
{
    return pa_errorf(err, PA_EDATA, "Input data file is malformed.");
}

static int misaligned(struct pa_err *err)
{
    return pa_errorf(err, PA_EDATA,
                     "The 'validation_data' field doesn't align with 'data' field in the json "
                     "file");
}

static int inconsistent(struct pa_err *err)
{
    return pa_errorf(err, PA_EDATA,
                     "Inconsistency in input-data provided. Can not have a combination of "
                     "objects and arrays inside of the Data array");
}

/* Appends the element's bytes in host (little-endian) order. */
static void put(struct buf *b, const void *p, size_t n)
{
    if (buf_append(b, p, n) != PA_OK)
        abort(); /* cannot exceed BUF_DEFAULT_MAX: each element came from a smaller file */
}

/* One array element of a non-BYTES tensor; false when its JSON type is wrong. */
static bool put_element(struct buf *b, enum data_type dt, const struct jr_value *v)
{
    unsigned f = v->type == JR_NUMBER ? v->flags : 0;

    switch (dt) {
    case DT_BOOL: {
        if (v->type != JR_TRUE && v->type != JR_FALSE)
            return false;
        uint8_t x = v->type == JR_TRUE;
        put(b, &x, 1);
        return true;
    }
    case DT_UINT8: {
        if (!(f & JR_UINT))
            return false;
        uint8_t x = (uint8_t)jr_u64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_UINT16: {
        if (!(f & JR_UINT))
            return false;
        uint16_t x = (uint16_t)jr_u64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_UINT32: {
        if (!(f & JR_UINT))
            return false;
        uint32_t x = (uint32_t)jr_u64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_UINT64: {
        if (!(f & JR_UINT64))
            return false;
        uint64_t x = jr_u64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_INT8: {
        if (!(f & JR_INT))
            return false;
        int8_t x = (int8_t)jr_i64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_INT16: {
        if (!(f & JR_INT))
            return false;
        int16_t x = (int16_t)jr_i64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_INT32: {
        if (!(f & JR_INT))
            return false;
        int32_t x = (int32_t)jr_i64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_INT64: {
        if (!(f & JR_INT64))
            return false;
        int64_t x = jr_i64(v);
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_FP32: {
        /* Only literals with a fraction or exponent: "1" is rejected, as in the original. */
        if (!(f & JR_DOUBLE))
            return false;
        float x = (float)v->v.d;
        put(b, &x, sizeof(x));
        return true;
    }
    case DT_FP64: {
        if (!(f & JR_DOUBLE))
            return false;
        double x = v->v.d;
        put(b, &x, sizeof(x));
        return true;
    }
    default:
        return false;
    }
}

static const char *type_error_text(enum data_type dt)
{
    switch (dt) {
    case DT_BYTES: return "unable to find string data in json";
    case DT_BOOL: return "unable to find bool data in json";
    case DT_UINT8: return "unable to find uint8_t data in json";
    case DT_UINT16: return "unable to find uint16_t data in json";
    case DT_UINT32: return "unable to find uint32_t data in json";
    case DT_UINT64: return "unable to find uint64_t data in json";
    case DT_INT8: return "unable to find int8_t data in json";
    case DT_INT16: return "unable to find int16_t data in json";
    case DT_INT32: return "unable to find int32_t data in json";
    case DT_INT64: return "unable to find int64_t data in json";
    case DT_FP32: return "unable to find float data in json";
    case DT_FP64: return "unable to find fp64 data in json";
    default: return "unable to find data in json";
    }
}

/* A JSON array of elements -> tensor bytes (spec 05 §5.3, element conversion). */
static int serialize_array(const struct jr_value *arr, const struct pa_tensor_info *info,
                           struct buf *out, struct pa_err *err)
{
    enum data_type dt = datatype_from_name(info->datatype);
    size_t es = datatype_size(dt);

    if (dt == DT_FP16)
        return pa_errorf(err, PA_EDATA, "Can not use explicit tensor description for fp16 "
                                        "datatype");
    if (dt == DT_BF16)
        return pa_errorf(err, PA_EDATA, "Can not use explicit tensor description for bf16 "
                                        "datatype");
    if (dt == DT_INVALID)
        return pa_errorf(err, PA_EDATA, "datatype %s of tensor '%s' is not supported",
                         info->datatype, info->name);
    if (es && buf_reserve(out, arr->v.list.n * es) != PA_OK)
        return pa_errorf(err, PA_EDATA, "data of tensor '%s' is too large", info->name);

    for (size_t i = 0; i < arr->v.list.n; i++) {
        const struct jr_value *v = &arr->v.list.items[i];
        if (dt == DT_BYTES) {
            if (v->type != JR_STRING)
                return pa_errorf(err, PA_EDATA, "%s", type_error_text(dt));
            if (bytes_append_element(out, v->v.str.s, v->v.str.len) != PA_OK)
                return pa_errorf(err, PA_EDATA, "data of tensor '%s' is too large", info->name);
        } else if (!put_element(out, dt, v)) {
            return pa_errorf(err, PA_EDATA, "%s", type_error_text(dt));
        }
    }
    return PA_OK;
}

/*
 * Decodes a "b64" string. Padding may be left out and whitespace is
 * skipped (both appear in hand-made files); anything else outside the
 * alphabet is an error naming the tensor and its location.
 */
static int decode_b64(const struct jr_value *s, const struct pa_tensor_info *info,
                      size_t stream, size_t step, struct buf *out, struct pa_err *err)
{
    size_t n = 0, dec_len = 0;
    char *clean = xmalloc(s->v.str.len + 4);
    uint8_t *dec;

    for (size_t i = 0; i < s->v.str.len; i++) {
        char c = s->v.str.s[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            clean[n++] = c;
    }
    while (n % 4 == 2 || n % 4 == 3)
        clean[n++] = '=';
    dec = xmalloc(base64_decoded_max(n) + 1);
    if (base64_decode(clean, n, dec, &dec_len) != PA_OK) {
        free(clean);
        free(dec);
        return pa_errorf(err, PA_EDATA, "invalid base64 data in the b64 field of tensor '%s'"
                         LOC_FMT, info->name, stream, step);
    }
    free(clean);
    if (dec_len)
        put(out, dec, dec_len);
    free(dec);
    return PA_OK;
}

static int parse_shape(const struct jr_value *v, const struct pa_tensor_info *info,
                       int64_t **shape, size_t *rank, struct pa_err *err)
{
    if (!jr_is_array(v))
        return pa_errorf(err, PA_EDATA, "shape values must be integers.");
    if (v->v.list.n > PA_MAX_DIMS - 1)
        return pa_errorf(err, PA_EDATA, "the shape of tensor '%s' has more than %d dimensions",
                         info->name, PA_MAX_DIMS - 1);
    *shape = xmalloc((v->v.list.n ? v->v.list.n : 1) * sizeof(**shape));
    *rank = v->v.list.n;
    for (size_t i = 0; i < v->v.list.n; i++) {
        const struct jr_value *d = &v->v.list.items[i];
        if (d->type != JR_NUMBER || !(d->flags & JR_INT)) {
            free(*shape);
            *shape = NULL;
            return pa_errorf(err, PA_EDATA, "shape values must be integers.");
        }
        (*shape)[i] = jr_i64(d);
    }
    return PA_OK;
}

/* Spec 05 §5.4: shape fully defined, compatible with the model, right byte count. */
static int validate_tensor(const struct pa_tensor_info *info, const struct data_tensor *t,
                           bool json_shape, struct pa_err *err)
{
    char model_dims[256], dims[256];
    enum data_type dt = datatype_from_name(info->datatype);
    size_t want;

    shape_format(info->shape, info->rank, model_dims, sizeof(model_dims));
    if (shape_has_variable(t->shape, t->rank))
        return pa_errorf(err, PA_EDATA,
                         "The variable-sized tensor \"%s\" with model shape %s needs to have "
                         "its shape fully defined. See the --shape option.",
                         info->name, model_dims);
    if (json_shape) {
        bool ok = t->rank == info->rank;
        for (size_t i = 0; ok && i < t->rank; i++)
            if (info->shape[i] != -1 && info->shape[i] != t->shape[i])
                ok = false;
        if (!ok) {
            shape_format(t->shape, t->rank, dims, sizeof(dims));
            return pa_errorf(err, PA_EDATA,
                             "The supplied shape of %s for input \"%s\" is incompatible with "
                             "the model's input shape of %s",
                             dims, info->name, model_dims);
        }
    }
    if (dt == DT_BYTES)
        return PA_OK;
    switch (shape_byte_size(t->shape, t->rank, dt, &want)) {
    case SHAPE_OK:
        break;
    case SHAPE_OVERFLOW:
        return pa_errorf(err, PA_EDATA, "the shape of tensor '%s' is too large", info->name);
    case SHAPE_VARIABLE:
        return pa_errorf(err, PA_EDATA, "datatype %s of tensor '%s' is not supported",
                         info->datatype, info->name);
    }
    if (want != t->len)
        return pa_errorf(err, PA_EDATA,
                         "mismatch in the data provided for %s. Expected: %zu bytes, Got: %zu "
                         "bytes",
                         info->name, want, t->len);
    return PA_OK;
}

/* One tensor member of a step object (spec 05 §5.3 value forms). */
static int read_tensor(const struct jr_value *m, const struct pa_tensor_info *info, size_t stream,
                       size_t step, struct data_tensor *t, struct pa_err *err)
{
    const struct jr_value *content = m, *b64 = NULL, *shape_v = NULL;
    struct buf data;
    int64_t *shape = NULL;
    size_t rank = 0;
    int rc;

    if (m->type != JR_ARRAY && m->type != JR_OBJECT)
        return malformed(err);
    if (m->type == JR_OBJECT) {
        shape_v = jr_get(m, "shape");
        if (!jr_get(m, "b64")) {
            if (shape_v && (rc = parse_shape(shape_v, info, &shape, &rank, err)) != PA_OK)
                return rc;
            shape_v = NULL; /* parsed */
            content = jr_get(m, "content");
            if (!content) {
                free(shape);
                return pa_errorf(err, PA_EDATA, "missing content field." LOC_FMT, stream, step);
            }
        }
    }

    buf_init(&data, BUF_DEFAULT_MAX);
    if (content->type == JR_ARRAY) {
        rc = serialize_array(content, info, &data, err);
    } else if (content->type == JR_OBJECT && (b64 = jr_get(content, "b64")) != NULL) {
        if (b64->type != JR_STRING)
            rc = pa_errorf(err, PA_EDATA,
                           "the value of b64 field should be of type string" LOC_FMT, stream,
                           step);
        else
            rc = decode_b64(b64, info, stream, step, &data, err);
        /* A "shape" beside a top-level "b64" is honored too. */
        if (rc == PA_OK && shape_v)
            rc = parse_shape(shape_v, info, &shape, &rank, err);
    } else {
        rc = pa_errorf(err, PA_EDATA,
                       "The tensor values are not supported. Expected an array or b64 string"
                       LOC_FMT, stream, step);
    }
    if (rc != PA_OK) {
        free(shape);
        buf_release(&data);
        return rc;
    }

    bool json_shape = shape != NULL;
    if (!json_shape) {
        rank = info->rank;
        shape = xmalloc((rank ? rank : 1) * sizeof(*shape));
        if (rank)
            memcpy(shape, info->shape, rank * sizeof(*shape));
    }
    t->data = (uint8_t *)buf_detach(&data, &t->len);
    t->shape = shape;
    t->rank = rank;
    t->present = true;
    return validate_tensor(info, t, json_shape, err);
}

/* All model inputs (or outputs) of one step object. */
static int read_step(const struct jr_value *obj, const struct pa_tensor_info *tensors, size_t n,
                     bool is_input, size_t stream, size_t step, struct data_tensor *out,
                     struct pa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct jr_value *m = jr_get(obj, tensors[i].name);
        int rc;

        if (!m) {
            if (is_input && tensors[i].optional)
                continue;
            return pa_errorf(err, PA_EDATA, "missing tensor %s" LOC_FMT, tensors[i].name,
                             stream, step);
        }
        rc = read_tensor(m, &tensors[i], stream, step, &out[i], err);
        if (rc != PA_OK)
            return rc;
    }
    return PA_OK;
}

static int read_io_step(struct data_raw *raw, size_t stream, const struct jr_value *in_obj,
                        const struct jr_value *out_obj, struct pa_err *err)
{
    const struct pa_model *m = raw->model;
    size_t step_id = stream < raw->n_streams ? raw->streams[stream].n_steps : 0;
    struct data_step *step = data_raw_add_step(raw, stream);
    int rc;

    rc = read_step(in_obj, m->inputs, m->n_inputs, true, stream, step_id, step->in, err);
    if (rc != PA_OK || !out_obj)
        return rc;
    if (!jr_is_object(out_obj))
        return misaligned(err);
    step->out = xcalloc(m->n_outputs ? m->n_outputs : 1, sizeof(*step->out));
    return read_step(out_obj, m->outputs, m->n_outputs, false, stream, step_id, step->out, err);
}

static int check_layout(struct data_raw *raw, const struct jr_value *e, struct pa_err *err)
{
    enum data_layout l;

    if (e->type == JR_OBJECT)
        l = LAYOUT_STEPS;
    else if (e->type == JR_ARRAY)
        l = LAYOUT_STREAMS;
    else
        return malformed(err);
    if (raw->layout == LAYOUT_NONE)
        raw->layout = l;
    else if (raw->layout != l)
        return inconsistent(err);
    return PA_OK;
}

static int parse_document(struct data_raw *raw, const struct jr_value *root, struct pa_err *err)
{
    const struct jr_value *data = jr_get(root, "data");
    const struct jr_value *valid = jr_get(root, "validation_data");
    int rc;

    if (!data)
        return pa_errorf(err, PA_EDATA, "The json file doesn't contain data field");
    if (!jr_is_array(data))
        return malformed(err);
    if (valid && (!jr_is_array(valid) || valid->v.list.n != data->v.list.n))
        return misaligned(err);

    for (size_t e = 0; e < data->v.list.n; e++) {
        const struct jr_value *elem = &data->v.list.items[e];
        const struct jr_value *velem = valid ? &valid->v.list.items[e] : NULL;

        rc = check_layout(raw, elem, err);
        if (rc != PA_OK)
            return rc;
        if (raw->layout == LAYOUT_STEPS) {
            rc = read_io_step(raw, 0, elem, velem, err);
            if (rc != PA_OK)
                return rc;
            continue;
        }

        /* A new stream, numbered after every stream read so far. */
        size_t stream = raw->n_streams;
        if (velem && (!jr_is_array(velem) || velem->v.list.n != elem->v.list.n))
            return misaligned(err);
        data_raw_add_stream(raw);
        for (size_t k = 0; k < elem->v.list.n; k++) {
            const struct jr_value *step = &elem->v.list.items[k];
            if (!jr_is_object(step))
                return malformed(err);
            rc = read_io_step(raw, stream, step, velem ? &velem->v.list.items[k] : NULL, err);
            if (rc != PA_OK)
                return rc;
        }
    }
    return PA_OK;
}

int data_load_json_text(struct data_raw *raw, const char *text, size_t len, FILE *diag,
                        struct pa_err *err)
{
    struct jr_doc doc;
    int rc;

    raw->from_json = true;
    if (!jr_parse(&doc, text, len)) {
        if (diag) {
            fprintf(diag, "cb::Error  : %d\n", (int)doc.error);
            fprintf(diag, "Offset : %zu\n", doc.error_offset);
        }
        return pa_errorf(err, PA_EDATA,
                         "failed to parse the specified json file for reading provided data");
    }
    rc = parse_document(raw, &doc.root, err);
    jr_free(&doc);
    return rc;
}

int data_load_json_file(struct data_raw *raw, const char *path, FILE *diag, struct pa_err *err)
{
    struct buf b;
    char chunk[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    int rc;

    if (fd < 0)
        return pa_errorf(err, PA_EDATA, "failed to open file for reading provided data");
    buf_init(&b, BUF_DEFAULT_MAX);
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf_append(&b, chunk, (size_t)n) != PA_OK) {
            n = -1;
            break;
        }
    }
    close(fd);
    if (n < 0) {
        buf_release(&b);
        return pa_errorf(err, PA_EDATA, "failed to open file for reading provided data");
    }
    rc = data_load_json_text(raw, b.data ? b.data : "", b.len, diag, err);
    buf_release(&b);
    return rc;
}

int data_json_finish(const struct data_raw *raw, struct pa_err *err)
{
    if (raw->n_streams == 0)
        return pa_errorf(err, PA_EDATA, "the input data files contain no data (empty 'data' "
                                        "array)");
    for (size_t s = 0; s < raw->n_streams; s++)
        if (raw->streams[s].n_steps == 0)
            return pa_errorf(err, PA_EDATA, "stream %zu of the input data has no steps", s);
    return PA_OK;
}

void data_print_summary(const struct data_raw *raw, FILE *out)
{
    if (!out)
        return;
    fprintf(out, " Successfully read data for %zu stream/streams", raw->n_streams);
    if (raw->n_streams == 1)
        fprintf(out, " with %zu step/steps", raw->streams[0].n_steps);
    fputs(".\n", out);
    fflush(out);
}
