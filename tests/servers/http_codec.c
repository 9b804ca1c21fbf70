/*
 * KServe v2 HTTP inference body codec (spec 01 §7-10). See http_codec.h.
 *
 * The response JSON is written by hand into a reused buffer rather than
 * built as a cJSON tree: it is the hot path, and its shape is fixed.
 */
#include "http_codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/xalloc.h"

#include "core/banned.h"

#define CODEC_FAIL(st, ...) engine_fail(st, ENGINE_INVALID_ARG, __VA_ARGS__)

void http_infer_init(struct http_infer *h)
{
    memset(h, 0, sizeof(*h));
    buf_init(&h->out, BUF_DEFAULT_MAX);
}

void http_infer_reset(struct http_infer *h)
{
    cJSON_Delete(h->root);
    h->root = NULL;
    memset(&h->req, 0, sizeof(h->req));
    h->binary_default = false;
    memset(h->out_binary, 0, sizeof(h->out_binary));
    buf_reset(&h->out);
    h->out_json_len = 0;
    h->out_has_binary = false;
}

void http_infer_release(struct http_infer *h)
{
    http_infer_reset(h);
    free(h->conv);
    buf_release(&h->out);
    memset(h, 0, sizeof(*h));
}

/* ------------------------------------------------------------- JSON helpers */

static bool json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble >= 18446744073709551616.0)
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

/* Number of leaves of a (possibly nested) JSON array; -1 when a leaf is an object. */
static long long count_leaves(const cJSON *a)
{
    long long n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) {
        if (cJSON_IsArray(x)) {
            long long k = count_leaves(x);
            if (k < 0)
                return -1;
            n += k;
        } else if (cJSON_IsObject(x)) {
            return -1;
        } else {
            n++;
        }
    }
    return n;
}

/* Bytes the binary form of a JSON data array needs. */
static bool json_data_size(const cJSON *a, enum engine_dtype t, size_t *size)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, a) {
        if (cJSON_IsArray(x)) {
            if (!json_data_size(x, t, size))
                return false;
        } else if (t == ENGINE_TYPE_BYTES) {
            if (!cJSON_IsString(x))
                return false;
            *size += 4 + strlen(x->valuestring);
        } else {
            *size += engine_dtype_size(t);
        }
    }
    return true;
}

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Converts one JSON leaf into its binary form at *p. */
static bool convert_leaf(const cJSON *x, enum engine_dtype t, unsigned char **p)
{
    double d = x->valuedouble;
    switch (t) {
    case ENGINE_TYPE_BOOL:
        if (!cJSON_IsBool(x))
            return false;
        *(*p)++ = cJSON_IsTrue(x) ? 1 : 0;
        return true;
    case ENGINE_TYPE_UINT8:
    case ENGINE_TYPE_UINT16:
    case ENGINE_TYPE_UINT32:
    case ENGINE_TYPE_UINT64: {
        size_t n = engine_dtype_size(t);
        double lim = n == 8 ? 18446744073709551616.0 : (double)(1ULL << (8 * n));
        if (!cJSON_IsNumber(x) || d < 0 || d >= lim || d != floor(d))
            return false;
        put_le(*p, (uint64_t)d, n);
        *p += n;
        return true;
    }
    case ENGINE_TYPE_INT8:
    case ENGINE_TYPE_INT16:
    case ENGINE_TYPE_INT32:
    case ENGINE_TYPE_INT64: {
        size_t n = engine_dtype_size(t);
        double lim = n == 8 ? 9223372036854775808.0 : (double)(1ULL << (8 * n - 1));
        int64_t iv;
        uint64_t uv;
        if (!cJSON_IsNumber(x) || d < -lim || d >= lim || d != floor(d))
            return false;
        iv = (int64_t)d;
        memcpy(&uv, &iv, sizeof(uv));
        put_le(*p, uv, n);
        *p += n;
        return true;
    }
    case ENGINE_TYPE_FP32: {
        float f = (float)d;
        if (!cJSON_IsNumber(x))
            return false;
        memcpy(*p, &f, 4);
        *p += 4;
        return true;
    }
    case ENGINE_TYPE_FP64:
        if (!cJSON_IsNumber(x))
            return false;
        memcpy(*p, &d, 8);
        *p += 8;
        return true;
    case ENGINE_TYPE_BYTES: {
        size_t len;
        if (!cJSON_IsString(x))
            return false;
        len = strlen(x->valuestring);
        put_le(*p, (uint64_t)len, 4);
        memcpy(*p + 4, x->valuestring, len);
        *p += 4 + len;
        return true;
    }
    default:
        return false;
    }
}

static bool convert_array(const cJSON *a, enum engine_dtype t, unsigned char **p)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, a) {
        if (cJSON_IsArray(x) ? !convert_array(x, t, p) : !convert_leaf(x, t, p))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ decode */

static int parse_corr_id(const cJSON *v, struct engine_corr_id *id, struct engine_status *st)
{
    memset(id, 0, sizeof(*id));
    if (cJSON_IsString(v)) {
        if (strlen(v->valuestring) >= sizeof(id->s))
            return CODEC_FAIL(st, "'sequence_id' string is too long");
        id->is_string = true;
        snprintf(id->s, sizeof(id->s), "%s", v->valuestring);
        return ENGINE_OK;
    }
    if (!json_uint(v, &id->u))
        return CODEC_FAIL(st, "Unable to parse 'sequence_id'");
    return ENGINE_OK;
}

static int parse_request_params(struct http_infer *h, const cJSON *params,
                                struct engine_status *st)
{
    const cJSON *kv;
    if (!params)
        return ENGINE_OK;
    if (!cJSON_IsObject(params))
        return CODEC_FAIL(st, "Unable to parse 'parameters'");
    cJSON_ArrayForEach(kv, params) {
        const char *k = kv->string;
        if (!strcmp(k, "sequence_id")) {
            if (parse_corr_id(kv, &h->req.corr_id, st))
                return (int)st->code;
        } else if (!strcmp(k, "sequence_start") || !strcmp(k, "sequence_end") ||
                   !strcmp(k, "binary_data_output")) {
            bool b;
            if (!cJSON_IsBool(kv))
                return CODEC_FAIL(st, "Unable to parse '%s'", k);
            b = cJSON_IsTrue(kv);
            if (k[0] == 'b')
                h->binary_default = b;
            else if (!strcmp(k, "sequence_start"))
                h->req.seq_start = b;
            else
                h->req.seq_end = b;
        } else if (!strcmp(k, "priority") || !strcmp(k, "timeout")) {
            uint64_t u;
            if (!json_uint(kv, &u))
                return CODEC_FAIL(st, "Unable to parse '%s'", k);
            if (k[0] == 'p')
                h->req.priority = u;
            else
                h->req.timeout_us = u;
        } else if (!strncmp(k, "triton_", 7)) {
            return CODEC_FAIL(st,
                              "parameter keys starting with 'triton_' are reserved for Triton "
                              "usage and should not be specified.");
        } else if (!cJSON_IsString(kv) && !cJSON_IsBool(kv) &&
                   !(cJSON_IsNumber(kv) && kv->valuedouble == floor(kv->valuedouble))) {
            return CODEC_FAIL(st, "parameter '%s' has invalid type. It should be either "
                                  "'int', 'bool', or 'string'.", k);
        }
        /* other custom parameters are accepted and ignored by our models */
    }
    return ENGINE_OK;
}

static int parse_shape(const cJSON *shape, struct engine_input *in, struct engine_status *st)
{
    const cJSON *d;
    if (!cJSON_IsArray(shape))
        return CODEC_FAIL(st, "Unable to parse 'shape' for input '%s'", in->name);
    in->rank = 0;
    cJSON_ArrayForEach(d, shape) {
        uint64_t u;
        if (in->rank == ENGINE_MAX_DIMS || !json_uint(d, &u) || u > INT64_MAX)
            return CODEC_FAIL(st, "Unable to parse 'shape' for input '%s'", in->name);
        in->shape[in->rank++] = (int64_t)u;
    }
    return ENGINE_OK;
}

/* Shared-memory triple of an input or output parameters object. */
static int parse_shm(const cJSON *p, const char *what, const char *name, const char **region,
                     uint64_t *offset, uint64_t *size, struct engine_status *st)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "shared_memory_region");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "shared_memory_byte_size");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(p, "shared_memory_offset");
    *region = NULL;
    if (!r)
        return ENGINE_OK;
    if (!cJSON_IsString(r))
        return CODEC_FAIL(st, "Unable to parse 'shared_memory_region' for %s '%s'", what, name);
    if (!s || !json_uint(s, size))
        return CODEC_FAIL(st, "'shared_memory_byte_size' must be specified along with "
                              "'shared_memory_region' for %s '%s'", what, name);
    *offset = 0;
    if (o && !json_uint(o, offset))
        return CODEC_FAIL(st, "Unable to parse 'shared_memory_offset' for %s '%s'", what, name);
    *region = r->valuestring;
    return ENGINE_OK;
}

static void conv_reserve(struct http_infer *h, size_t n)
{
    if (n > h->conv_cap) {
        size_t cap = h->conv_cap ? h->conv_cap : 1024;
        while (cap < n)
            cap *= 2;
        free(h->conv);
        h->conv = xmalloc(cap);
        h->conv_cap = cap;
    }
}

int http_infer_decode(struct http_infer *h, const unsigned char *body, size_t len,
                      long long header_len, struct engine_status *st)
{
    const cJSON *inputs, *outputs, *x, *id;
    size_t json_len = len, offset, conv_need = 0, conv_off = 0;
    size_t conv_size[ENGINE_MAX_IO] = {0};
    const cJSON *json_data[ENGINE_MAX_IO] = {0};

    http_infer_reset(h);
    if (header_len >= 0) {
        if ((unsigned long long)header_len > len)
            return CODEC_FAIL(st, "inference header size should be in range (0, %zu), got: %lld",
                              len, header_len);
        if (header_len == 0)
            return engine_fail(st, ENGINE_UNSUPPORTED,
                               "raw binary inference requests (Inference-Header-Content-Length: "
                               "0) are not supported yet by pa-test-server");
        json_len = (size_t)header_len;
    }
    h->root = cJSON_ParseWithLength((const char *)body, json_len);
    if (!h->root || !cJSON_IsObject(h->root))
        return CODEC_FAIL(st, "failed to parse the request JSON buffer: invalid JSON");

    id = cJSON_GetObjectItemCaseSensitive(h->root, "id");
    if (id) {
        if (!cJSON_IsString(id))
            return CODEC_FAIL(st, "Unable to parse 'id'");
        h->req.id = id->valuestring;
    }
    if (parse_request_params(h, cJSON_GetObjectItemCaseSensitive(h->root, "parameters"), st))
        return (int)st->code;

    inputs = cJSON_GetObjectItemCaseSensitive(h->root, "inputs");
    if (!cJSON_IsArray(inputs))
        return CODEC_FAIL(st, "Unable to parse 'inputs'");
    offset = json_len;
    cJSON_ArrayForEach(x, inputs) {
        struct engine_input *in = &h->req.inputs[h->req.n_inputs];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(x, "name");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(x, "datatype");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(x, "parameters");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(x, "data");
        const cJSON *bds = params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_size")
                                  : NULL;
        int sources;
        if (h->req.n_inputs == ENGINE_MAX_IO)
            return CODEC_FAIL(st, "too many inputs (at most %d)", ENGINE_MAX_IO);
        if (!cJSON_IsString(name))
            return CODEC_FAIL(st, "Unable to parse 'name'");
        in->name = name->valuestring;
        if (!cJSON_IsString(dt))
            return CODEC_FAIL(st, "Unable to parse 'datatype' for input '%s'", in->name);
        in->dtype = engine_dtype_parse(dt->valuestring);
        if (in->dtype == ENGINE_TYPE_INVALID)
            return CODEC_FAIL(st, "invalid datatype '%s' for input '%s'", dt->valuestring,
                              in->name);
        if (parse_shape(cJSON_GetObjectItemCaseSensitive(x, "shape"), in, st))
            return (int)st->code;
        if (params && !cJSON_IsObject(params))
            return CODEC_FAIL(st, "Unable to parse 'parameters' for input '%s'", in->name);
        if (params && parse_shm(params, "input", in->name, &in->shm_region, &in->shm_offset,
                                &in->shm_byte_size, st))
            return (int)st->code;
        sources = (data ? 1 : 0) + (bds ? 1 : 0) + (in->shm_region ? 1 : 0);
        if (sources != 1)
            return CODEC_FAIL(st, "input '%s' must specify exactly one of 'data', "
                                  "'binary_data_size' or 'shared_memory_region'", in->name);
        if (bds) {
            uint64_t n;
            if (!json_uint(bds, &n))
                return CODEC_FAIL(st, "Unable to parse 'binary_data_size' for input '%s'",
                                  in->name);
            if (n > len - offset)
                return CODEC_FAIL(st, "unexpected size for input '%s', expecting %" PRIu64
                                      " bytes but only %zu bytes are left in the request",
                                  in->name, n, len - offset);
            in->data = n ? body + offset : NULL;
            in->byte_size = (size_t)n;
            offset += (size_t)n;
        } else if (data) {
            long long leaves = cJSON_IsArray(data) ? count_leaves(data) : -1;
            uint64_t want = 1;
            if (in->dtype == ENGINE_TYPE_FP16 || in->dtype == ENGINE_TYPE_BF16)
                return CODEC_FAIL(st, "receiving %s data via JSON is not supported. Please use "
                                      "the binary data format for input '%s'",
                                  engine_dtype_name(in->dtype), in->name);
            for (size_t d = 0; d < in->rank; d++)
                want *= (uint64_t)in->shape[d];
            if (leaves < 0 || (uint64_t)leaves != want)
                return CODEC_FAIL(st, "Shape does not match true shape of 'data' field");
            if (!json_data_size(data, in->dtype, &conv_size[h->req.n_inputs]))
                return CODEC_FAIL(st, "Unable to parse 'data': expected %s elements for input "
                                      "'%s'",
                                  engine_dtype_name(in->dtype), in->name);
            json_data[h->req.n_inputs] = data;
            conv_need += conv_size[h->req.n_inputs];
        }
        h->req.n_inputs++;
    }
    if (offset != len)
        return CODEC_FAIL(st, "unexpected additional input data");

    /* JSON data: one buffer for all inputs, sized up front so pointers stay valid */
    if (conv_need) {
        conv_reserve(h, conv_need);
        for (size_t i = 0; i < h->req.n_inputs; i++) {
            unsigned char *p = h->conv + conv_off;
            if (!json_data[i])
                continue;
            if (!convert_array(json_data[i], h->req.inputs[i].dtype, &p))
                return CODEC_FAIL(st, "Unable to parse 'data': value out of range or of the "
                                      "wrong type for input '%s' (%s)",
                                  h->req.inputs[i].name,
                                  engine_dtype_name(h->req.inputs[i].dtype));
            h->req.inputs[i].data = h->conv + conv_off;
            h->req.inputs[i].byte_size = conv_size[i];
            conv_off += conv_size[i];
        }
    } else {
        for (size_t i = 0; i < h->req.n_inputs; i++) {
            if (json_data[i]) {
                h->req.inputs[i].data = NULL;
                h->req.inputs[i].byte_size = 0;
            }
        }
    }

    outputs = cJSON_GetObjectItemCaseSensitive(h->root, "outputs");
    if (outputs && !cJSON_IsArray(outputs))
        return CODEC_FAIL(st, "Unable to parse 'outputs'");
    cJSON_ArrayForEach(x, outputs) {
        size_t i = h->req.n_outputs;
        struct engine_output_req *o = &h->req.outputs[i];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(x, "name");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(x, "parameters");
        const cJSON *bin = params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data") : NULL;
        const cJSON *cls = params ? cJSON_GetObjectItemCaseSensitive(params, "classification")
                                  : NULL;
        if (i == ENGINE_MAX_IO)
            return CODEC_FAIL(st, "too many outputs (at most %d)", ENGINE_MAX_IO);
        if (!cJSON_IsString(name))
            return CODEC_FAIL(st, "Unable to parse 'name'");
        o->name = name->valuestring;
        if (params && !cJSON_IsObject(params))
            return CODEC_FAIL(st, "Unable to parse 'parameters' for output '%s'", o->name);
        if (params && parse_shm(params, "output", o->name, &o->shm_region, &o->shm_offset,
                                &o->shm_byte_size, st))
            return (int)st->code;
        h->out_binary[i] = h->binary_default;
        if (bin) {
            if (!cJSON_IsBool(bin))
                return CODEC_FAIL(st, "Unable to parse 'binary_data' for output '%s'", o->name);
            h->out_binary[i] = cJSON_IsTrue(bin);
        }
        if (cls) {
            uint64_t n;
            if (!json_uint(cls, &n) || n == 0 || n > UINT32_MAX)
                return CODEC_FAIL(st, "Unable to parse 'classification' for output '%s'",
                                  o->name);
            o->classification = (uint32_t)n;
        }
        if (o->shm_region && (cls || (bin && cJSON_IsTrue(bin))))
            return CODEC_FAIL(st, "Output can't set both 'shared_memory_region' and '%s'",
                              cls ? "classification" : "binary_data");
        h->req.n_outputs++;
    }
    return ENGINE_OK;
}

/* ------------------------------------------------------------------ encode */

void http_json_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[8];
    int rc = buf_reserve(b, len + 2);
    (void)rc;
    rc = buf_append(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: break;
        }
        if (esc) {
            rc = buf_append_str(b, esc);
        } else if (c < 0x20) {
            tmp[0] = '\\';
            tmp[1] = 'u';
            tmp[2] = '0';
            tmp[3] = '0';
            tmp[4] = hex[c >> 4];
            tmp[5] = hex[c & 15];
            rc = buf_append(b, tmp, 6);
        } else {
            rc = buf_append(b, &s[i], 1);
        }
    }
    rc = buf_append(b, "\"", 1);
    (void)rc;
}

void http_error_body(struct buf *b, const char *msg)
{
    int rc;
    buf_reset(b);
    rc = buf_append_str(b, "{\"error\":");
    http_json_string(b, msg, strlen(msg));
    rc |= buf_append_str(b, "}");
    (void)rc;
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int sign_extend_print(struct buf *b, uint64_t v, size_t n)
{
    int64_t iv;
    if (n < 8 && (v >> (8 * n - 1)) & 1)
        v |= ~0ULL << (8 * n);
    memcpy(&iv, &v, sizeof(iv));
    return buf_printf(b, "%" PRId64, iv);
}

/* JSON "data" array for one output. */
static int json_data(struct buf *b, const struct engine_output *o)
{
    const unsigned char *p = o->data;
    size_t es = engine_dtype_size(o->dtype), n = es ? o->byte_size / es : 0;
    int rc = buf_append(b, "[", 1);
    if (o->dtype == ENGINE_TYPE_BYTES) {
        size_t off = 0;
        bool first = true;
        while (off + 4 <= o->byte_size) {
            size_t l = (size_t)get_le(p + off, 4);
            if (!first)
                rc |= buf_append(b, ",", 1);
            first = false;
            http_json_string(b, (const char *)p + off + 4, l);
            off += 4 + l;
        }
        return rc | buf_append(b, "]", 1);
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *q = p + i * es;
        if (i)
            rc |= buf_append(b, ",", 1);
        switch (o->dtype) {
        case ENGINE_TYPE_BOOL:
            rc |= buf_append_str(b, *q ? "true" : "false");
            break;
        case ENGINE_TYPE_UINT8:
        case ENGINE_TYPE_UINT16:
        case ENGINE_TYPE_UINT32:
        case ENGINE_TYPE_UINT64:
            rc |= buf_printf(b, "%" PRIu64, get_le(q, es));
            break;
        case ENGINE_TYPE_INT8:
        case ENGINE_TYPE_INT16:
        case ENGINE_TYPE_INT32:
        case ENGINE_TYPE_INT64:
            rc |= sign_extend_print(b, get_le(q, es), es);
            break;
        case ENGINE_TYPE_FP32: {
            float f;
            memcpy(&f, q, 4);
            rc |= isfinite(f) ? buf_printf(b, "%.9g", (double)f) : buf_append_str(b, "null");
            break;
        }
        case ENGINE_TYPE_FP64: {
            double d;
            memcpy(&d, q, 8);
            rc |= isfinite(d) ? buf_printf(b, "%.17g", d) : buf_append_str(b, "null");
            break;
        }
        default:
            break;
        }
    }
    return rc | buf_append(b, "]", 1);
}

int http_infer_encode(struct http_infer *h, const struct engine_response *resp,
                      struct engine_status *st)
{
    struct buf *b = &h->out;
    bool binary[ENGINE_MAX_IO];
    int rc = 0;

    buf_reset(b);
    h->out_has_binary = false;
    rc |= buf_append(b, "{", 1);
    if (h->req.id && h->req.id[0]) {
        rc |= buf_append_str(b, "\"id\":");
        http_json_string(b, h->req.id, strlen(h->req.id));
        rc |= buf_append(b, ",", 1);
    }
    rc |= buf_append_str(b, "\"model_name\":");
    http_json_string(b, resp->model_name, strlen(resp->model_name));
    rc |= buf_printf(b, ",\"model_version\":\"%" PRId64 "\",\"outputs\":[", resp->model_version);
    for (size_t i = 0; i < resp->n_outputs; i++) {
        const struct engine_output *o = &resp->outputs[i];
        binary[i] = o->req_index >= 0 ? h->out_binary[o->req_index] : h->binary_default;
        if (!o->in_shm && !binary[i] &&
            (o->dtype == ENGINE_TYPE_FP16 || o->dtype == ENGINE_TYPE_BF16))
            return CODEC_FAIL(st, "sending %s data via JSON is not supported. Please use the "
                                  "binary data format for output '%s'",
                              engine_dtype_name(o->dtype), o->name);
        if (i)
            rc |= buf_append(b, ",", 1);
        rc |= buf_append_str(b, "{\"name\":");
        http_json_string(b, o->name, strlen(o->name));
        rc |= buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", engine_dtype_name(o->dtype));
        for (size_t d = 0; d < o->rank; d++)
            rc |= buf_printf(b, "%s%" PRId64, d ? "," : "", o->shape[d]);
        rc |= buf_append(b, "]", 1);
        if (o->in_shm) {
            /* data went to the region: neither data nor parameters */
        } else if (binary[i]) {
            rc |= buf_printf(b, ",\"parameters\":{\"binary_data_size\":%zu}", o->byte_size);
            if (o->byte_size)
                h->out_has_binary = true;
        } else {
            rc |= buf_append_str(b, ",\"data\":");
            rc |= json_data(b, o);
        }
        rc |= buf_append(b, "}", 1);
    }
    rc |= buf_append_str(b, "]}");
    h->out_json_len = b->len;
    for (size_t i = 0; i < resp->n_outputs; i++) {
        const struct engine_output *o = &resp->outputs[i];
        if (!o->in_shm && binary[i] && o->byte_size)
            rc |= buf_append(b, o->data, o->byte_size);
    }
    if (rc)
        return engine_fail(st, ENGINE_INTERNAL, "response too large");
    return ENGINE_OK;
}

/* ------------------------------------------------------------ compression */

int http_inflate(const unsigned char *in, size_t len, struct buf *out, size_t max,
                 struct engine_status *st)
{
    z_stream zs;
    int zrc;
    memset(&zs, 0, sizeof(zs));
    buf_reset(out);
    /* 32 + 15: detect a zlib or gzip header automatically */
    if (inflateInit2(&zs, 32 + 15) != Z_OK)
        return engine_fail(st, ENGINE_INTERNAL, "cannot initialise zlib");
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    do {
        if (buf_reserve(out, 64 * 1024) || out->len + 64 * 1024 > max) {
            inflateEnd(&zs);
            return CODEC_FAIL(st, "decompressed request body is too large");
        }
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)(out->cap - out->len - 1);
        zrc = inflate(&zs, Z_NO_FLUSH);
        out->len = (size_t)((char *)zs.next_out - out->data);
        out->data[out->len] = '\0';
    } while (zrc == Z_OK);
    inflateEnd(&zs);
    if (zrc != Z_STREAM_END)
        return CODEC_FAIL(st, "failed to decompress the request body");
    return ENGINE_OK;
}

int http_compress(const unsigned char *in, size_t len, bool gzip, struct buf *out)
{
    z_stream zs;
    int zrc;
    memset(&zs, 0, sizeof(zs));
    buf_reset(out);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 31 : 15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    if (buf_reserve(out, deflateBound(&zs, (uLong)len) + 1)) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->data;
    zs.avail_out = (uInt)(out->cap - 1);
    zrc = deflate(&zs, Z_FINISH);
    out->len = zs.total_out;
    out->data[out->len] = '\0';
    deflateEnd(&zs);
    return zrc == Z_STREAM_END ? 0 : -1;
}

int http_pick_encoding(const char *accept)
{
    int best = 0;
    double best_q = 0;
    const char *p = accept;
    if (!accept)
        return 0;
    while (*p) {
        const char *tok, *end;
        size_t n;
        double q = 1.0;
        int kind = 0;
        while (*p == ' ' || *p == ',')
            p++;
        tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ')
            p++;
        n = (size_t)(p - tok);
        if (n == 4 && !strncmp(tok, "gzip", 4))
            kind = 1;
        else if (n == 7 && !strncmp(tok, "deflate", 7))
            kind = 2;
        end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        {
            const char *qs = strstr(p, "q=");
            if (qs && qs < end)
                q = strtod(qs + 2, NULL);
        }
        if (kind && q > best_q) {
            best = kind;
            best_q = q;
        }
        p = end;
    }
    return best;
}
