/*
 * KServe v2 HTTP infer request encoding and response decoding (see
 * http_codec.h for the body layout).
 *
 * Encoding runs once per prepared request, so it favours clarity (printf
 * into a growable buffer). The only per-send piece, http_encode_prefix, is
 * written with memcpy and a hand-rolled integer formatter because it runs
 * for every sequence request. JSON values use the shortest text that reads
 * back as the same value, with a ".0" on integral floats so that strict
 * parsers see a float. Tensor bytes are little-endian (spec 00 §1), which is
 * the host order on every platform we build for.
 */
#include "client/http_codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/xalloc.h"
#include "core/banned.h"

/* A buffer that remembers a failed append, so encoders check once at the end. */
struct enc {
    struct buf b;
    bool failed;
};

static void put(struct enc *e, const void *s, size_t n)
{
    if (!e->failed && buf_append(&e->b, s, n) != PA_OK)
        e->failed = true;
}

static void puts_(struct enc *e, const char *s)
{
    put(e, s, strlen(s));
}

static void putf(struct enc *e, const char *fmt, ...) PA_PRINTF(2, 3);
static void putf(struct enc *e, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        e->failed = true;
        return;
    }
    put(e, tmp, (size_t)n);
}

/* A JSON string literal, quotes included. */
static void put_json_str(struct enc *e, const char *s, size_t n)
{
    put(e, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        put(e, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"':
            puts_(e, "\\\"");
            break;
        case '\\':
            puts_(e, "\\\\");
            break;
        case '\n':
            puts_(e, "\\n");
            break;
        case '\r':
            puts_(e, "\\r");
            break;
        case '\t':
            puts_(e, "\\t");
            break;
        default:
            putf(e, "\\u%04x", ch);
            break;
        }
    }
    put(e, s + run, n - run);
    put(e, "\"", 1);
}

static void put_cstr(struct enc *e, const char *s)
{
    put_json_str(e, s, strlen(s));
}

/* Shortest %g text that reads back as v (as a float when is_float). */
static void put_real(struct enc *e, double v, bool is_float)
{
    char tmp[40];
    int prec = is_float ? 6 : 15;
    int max = is_float ? 9 : 17;
    for (; prec <= max; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        double back = strtod(tmp, NULL);
        if (is_float ? (float)back == (float)v : back == v)
            break;
    }
    puts_(e, tmp);
    if (!strpbrk(tmp, ".eE"))
        puts_(e, ".0");
}

static size_t dtype_size(const char *dt)
{
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {
        {"BOOL", 1}, {"UINT8", 1}, {"INT8", 1},  {"UINT16", 2}, {"INT16", 2},
        {"FP16", 2}, {"BF16", 2},  {"UINT32", 4}, {"INT32", 4}, {"FP32", 4},
        {"UINT64", 8}, {"INT64", 8}, {"FP64", 8},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (strcmp(dt, sizes[i].name) == 0)
            return sizes[i].size;
    }
    return 0;
}

/* One element of a fixed-size type as a JSON value. */
static int put_element(struct enc *e, const char *dt, const unsigned char *p, const char *name,
                       struct pa_err *err)
{
    if (strcmp(dt, "BOOL") == 0) {
        puts_(e, p[0] ? "true" : "false");
    } else if (strcmp(dt, "UINT8") == 0) {
        putf(e, "%u", (unsigned)p[0]);
    } else if (strcmp(dt, "INT8") == 0) {
        int8_t v;
        memcpy(&v, p, 1);
        putf(e, "%d", (int)v);
    } else if (strcmp(dt, "UINT16") == 0) {
        uint16_t v;
        memcpy(&v, p, 2);
        putf(e, "%u", (unsigned)v);
    } else if (strcmp(dt, "INT16") == 0) {
        int16_t v;
        memcpy(&v, p, 2);
        putf(e, "%d", (int)v);
    } else if (strcmp(dt, "UINT32") == 0) {
        uint32_t v;
        memcpy(&v, p, 4);
        putf(e, "%" PRIu32, v);
    } else if (strcmp(dt, "INT32") == 0) {
        int32_t v;
        memcpy(&v, p, 4);
        putf(e, "%" PRId32, v);
    } else if (strcmp(dt, "UINT64") == 0) {
        uint64_t v;
        memcpy(&v, p, 8);
        putf(e, "%" PRIu64, v);
    } else if (strcmp(dt, "INT64") == 0) {
        int64_t v;
        memcpy(&v, p, 8);
        putf(e, "%" PRId64, v);
    } else if (strcmp(dt, "FP32") == 0 || strcmp(dt, "FP64") == 0) {
        double v;
        if (dt[2] == '3') {
            float f;
            memcpy(&f, p, 4);
            v = f;
        } else {
            memcpy(&v, p, 8);
        }
        if (!isfinite(v))
            return pa_errorf(err, PA_EINVAL,
                             "input '%s' holds a NaN or infinite value, which JSON cannot carry; "
                             "use --input-tensor-format binary",
                             name);
        put_real(e, v, dt[2] == '3');
    } else {
        return pa_errorf(err, PA_EINVAL,
                         "input '%s': datatype %s cannot be sent with --input-tensor-format json",
                         name, dt);
    }
    return PA_OK;
}

static int put_json_data(struct enc *e, const struct pa_input *in, struct pa_err *err)
{
    const unsigned char *p = in->data;
    size_t left = in->byte_size;

    puts_(e, "\"data\":[");
    if (strcmp(in->datatype, "BYTES") == 0) {
        for (bool first = true; left > 0; first = false) {
            uint32_t n;
            if (left < 4)
                goto bad_bytes;
            memcpy(&n, p, 4);
            if (n > left - 4)
                goto bad_bytes;
            if (!first)
                put(e, ",", 1);
            put_json_str(e, (const char *)p + 4, n);
            p += 4 + (size_t)n;
            left -= 4 + (size_t)n;
        }
    } else {
        size_t sz = dtype_size(in->datatype);
        if (sz == 0)
            return pa_errorf(err, PA_EINVAL, "input '%s': unknown datatype '%s'", in->name,
                             in->datatype);
        if (left % sz != 0)
            return pa_errorf(err, PA_EINVAL,
                             "input '%s': %zu bytes is not a whole number of %s elements",
                             in->name, left, in->datatype);
        for (size_t off = 0; off < left; off += sz) {
            if (off)
                put(e, ",", 1);
            int rc = put_element(e, in->datatype, p + off, in->name, err);
            if (rc != PA_OK)
                return rc;
        }
    }
    put(e, "]", 1);
    return PA_OK;

bad_bytes:
    return pa_errorf(err, PA_EINVAL, "input '%s': malformed BYTES data (bad length prefix)",
                     in->name);
}

static void put_shm_params(struct enc *e, const char *region, uint64_t size, uint64_t offset)
{
    puts_(e, "\"parameters\":{\"shared_memory_region\":");
    put_cstr(e, region);
    putf(e, ",\"shared_memory_byte_size\":%" PRIu64, size);
    if (offset)
        putf(e, ",\"shared_memory_offset\":%" PRIu64, offset);
    put(e, "}", 1);
}

static bool input_is_json(const struct pa_input *in, enum pa_tensor_format in_fmt)
{
    return !in->shm_region && in_fmt == PA_FMT_JSON;
}

int http_encode_request(const struct pa_infer_desc *desc, enum pa_tensor_format in_fmt,
                        enum pa_tensor_format out_fmt, struct http_body *body,
                        struct pa_err *err)
{
    struct enc e = {.failed = false};
    struct pa_send plain = {0};
    char prefix[HTTP_PREFIX_MAX];
    size_t binary_len = 0;
    bool all_json = desc->n_inputs > 0;
    int rc;

    memset(body, 0, sizeof(*body));
    buf_init(&e.b, 0);
    body->no_outputs = desc->n_outputs == 0;
    body->fixed_off = http_encode_prefix(prefix, &plain, body->no_outputs);
    put(&e, prefix, body->fixed_off);

    puts_(&e, "\"inputs\":[");
    for (size_t i = 0; i < desc->n_inputs; i++) {
        const struct pa_input *in = &desc->inputs[i];
        if (i)
            put(&e, ",", 1);
        puts_(&e, "{\"name\":");
        put_cstr(&e, in->name);
        puts_(&e, ",\"datatype\":");
        put_cstr(&e, in->datatype);
        puts_(&e, ",\"shape\":[");
        for (size_t d = 0; d < in->rank; d++)
            putf(&e, d ? ",%" PRId64 : "%" PRId64, in->shape[d]);
        puts_(&e, "],");
        if (in->shm_region) {
            put_shm_params(&e, in->shm_region, in->byte_size, in->shm_offset);
            all_json = false;
        } else if (input_is_json(in, in_fmt)) {
            rc = put_json_data(&e, in, err);
            if (rc != PA_OK)
                goto fail;
        } else {
            putf(&e, "\"parameters\":{\"binary_data_size\":%zu}", in->byte_size);
            binary_len += in->byte_size;
            all_json = false;
        }
        put(&e, "}", 1);
    }
    put(&e, "]", 1);

    if (desc->n_outputs) {
        puts_(&e, ",\"outputs\":[");
        for (size_t i = 0; i < desc->n_outputs; i++) {
            const struct pa_output *out = &desc->outputs[i];
            if (i)
                put(&e, ",", 1);
            puts_(&e, "{\"name\":");
            put_cstr(&e, out->name);
            put(&e, ",", 1);
            if (out->shm_region)
                put_shm_params(&e, out->shm_region, out->shm_byte_size, out->shm_offset);
            else
                puts_(&e, out_fmt == PA_FMT_BINARY ? "\"parameters\":{\"binary_data\":true}"
                                                   : "\"parameters\":{\"binary_data\":false}");
            put(&e, "}", 1);
        }
        put(&e, "]", 1);
    }
    put(&e, "}", 1);
    body->json_len = e.b.len;

    if (!e.failed && binary_len && buf_reserve(&e.b, binary_len) != PA_OK)
        e.failed = true;
    for (size_t i = 0; i < desc->n_inputs && !e.failed; i++) {
        const struct pa_input *in = &desc->inputs[i];
        if (!in->shm_region && !input_is_json(in, in_fmt))
            put(&e, in->data, in->byte_size);
    }
    if (e.failed) {
        rc = pa_errorf(err, PA_EINVAL, "the request for model '%s' is too large to encode",
                       desc->model_name);
        goto fail;
    }
    body->json_content = all_json;
    body->data = buf_detach(&e.b, &body->len);
    return PA_OK;

fail:
    buf_release(&e.b);
    memset(body, 0, sizeof(*body));
    return rc;
}

void http_body_release(struct http_body *body)
{
    if (!body)
        return;
    free(body->data);
    memset(body, 0, sizeof(*body));
}

size_t http_u64_dec(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

#define APPEND_LIT(p, lit)                      \
    do {                                        \
        memcpy((p), (lit), sizeof(lit) - 1);    \
        (p) += sizeof(lit) - 1;                 \
    } while (0)

size_t http_encode_prefix(char *out, const struct pa_send *send, bool no_outputs)
{
    char *p = out;

    APPEND_LIT(p, "{\"id\":\"\",");
    if (send->sequence_id) {
        APPEND_LIT(p, "\"parameters\":{\"sequence_id\":");
        p += http_u64_dec(p, send->sequence_id);
        if (send->sequence_start)
            APPEND_LIT(p, ",\"sequence_start\":true");
        else
            APPEND_LIT(p, ",\"sequence_start\":false");
        if (send->sequence_end)
            APPEND_LIT(p, ",\"sequence_end\":true");
        else
            APPEND_LIT(p, ",\"sequence_end\":false");
        if (no_outputs)
            APPEND_LIT(p, ",\"binary_data_output\":true");
        APPEND_LIT(p, "},");
    } else if (no_outputs) {
        APPEND_LIT(p, "\"parameters\":{\"binary_data_output\":true},");
    }
    return (size_t)(p - out);
}

/* ---- decoding ---- */

static size_t json_part(size_t len, long json_len)
{
    return json_len >= 0 && (size_t)json_len <= len ? (size_t)json_len : len;
}

void http_error_message(const char *body, size_t len, long json_len, long status, char *out,
                        size_t cap)
{
    if (status == 499) {
        snprintf(out, cap, "Deadline Exceeded");
        return;
    }
    cJSON *root = body && len ? cJSON_ParseWithLength(body, json_part(len, json_len)) : NULL;
    const char *msg = root ? json_get_str(root, "error") : NULL;
    if (msg)
        snprintf(out, cap, "%s", msg);
    else if (len)
        snprintf(out, cap, "server returned HTTP status %ld: %.*s", status,
                 (int)(len > 200 ? 200 : len), body);
    else
        snprintf(out, cap, "server returned HTTP status %ld", status);
    cJSON_Delete(root);
}

/* Appends the leaves of a (possibly nested) JSON data array in the binary layout. */
static int json_to_binary(const cJSON *v, const char *dt, size_t sz, struct buf *out,
                          const char *name, struct pa_err *err)
{
    if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v)
        {
            int rc = json_to_binary(item, dt, sz, out, name, err);
            if (rc != PA_OK)
                return rc;
        }
        return PA_OK;
    }
    unsigned char tmp[8];
    if (strcmp(dt, "BYTES") == 0) {
        if (!cJSON_IsString(v))
            goto bad;
        size_t n = strlen(v->valuestring);
        uint32_t n32 = (uint32_t)n;
        if (buf_append(out, &n32, 4) != PA_OK || buf_append(out, v->valuestring, n) != PA_OK)
            goto big;
        return PA_OK;
    }
    if (strcmp(dt, "BOOL") == 0) {
        if (!cJSON_IsBool(v))
            goto bad;
        tmp[0] = cJSON_IsTrue(v) ? 1 : 0;
    } else {
        if (!cJSON_IsNumber(v))
            goto bad;
        double d = v->valuedouble;
        if (strcmp(dt, "FP32") == 0) {
            float f = (float)d;
            memcpy(tmp, &f, 4);
        } else if (strcmp(dt, "FP64") == 0) {
            memcpy(tmp, &d, 8);
        } else if (dt[0] == 'U') {
            /* A value outside the 64-bit range has no integer form (and
             * converting it would be undefined): treat it as bad JSON. */
            if (!(d < 18446744073709551616.0))
                goto bad;
            uint64_t u = d < 0 ? 0 : (uint64_t)d;
            uint8_t u8 = (uint8_t)u;
            uint16_t u16 = (uint16_t)u;
            uint32_t u32 = (uint32_t)u;
            memcpy(tmp, sz == 1 ? (void *)&u8 : sz == 2 ? (void *)&u16
                                          : sz == 4 ? (void *)&u32 : (void *)&u, sz);
        } else {
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
                goto bad;
            int64_t i = (int64_t)d;
            int8_t i8 = (int8_t)i;
            int16_t i16 = (int16_t)i;
            int32_t i32 = (int32_t)i;
            memcpy(tmp, sz == 1 ? (void *)&i8 : sz == 2 ? (void *)&i16
                                          : sz == 4 ? (void *)&i32 : (void *)&i, sz);
        }
    }
    if (buf_append(out, tmp, sz) != PA_OK)
        goto big;
    return PA_OK;
bad:
    return pa_errorf(err, PA_EPROTO, "output '%s': unexpected JSON value for datatype %s", name,
                     dt);
big:
    return pa_errorf(err, PA_EPROTO, "output '%s' is too large", name);
}

int http_output_lookup(const char *body, size_t len, long json_len, cJSON **parsed,
                       const char *name, struct buf *scratch, const void **data,
                       size_t *byte_size, struct pa_err *err)
{
    size_t jlen = json_part(len, json_len);
    if (!*parsed) {
        *parsed = cJSON_ParseWithLength(body, jlen);
        if (!*parsed)
            return pa_errorf(err, PA_EPROTO, "failed to parse the response JSON header");
    }
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(*parsed, "outputs");
    const cJSON *o;
    uint64_t offset = 0;
    cJSON_ArrayForEach(o, outputs)
    {
        const char *oname = json_get_str(o, "name");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        const cJSON *bsz = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
        bool match = oname && strcmp(oname, name) == 0;
        if (bsz) {
            uint64_t n;
            int rc = json_to_u64(bsz, &n, err);
            if (rc != PA_OK)
                return rc;
            if (n > len - jlen || offset > len - jlen - n)
                return pa_errorf(err, PA_EPROTO,
                                 "output '%s' lies beyond the end of the response",
                                 oname ? oname : "?");
            if (match) {
                *data = body + jlen + offset;
                *byte_size = (size_t)n;
                return PA_OK;
            }
            offset += n;
            continue;
        }
        if (!match)
            continue;
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(o, "data");
        const char *dt = json_get_str(o, "datatype");
        if (!values || !dt)
            return pa_errorf(err, PA_EPROTO, "output '%s' carries no data in the response",
                             name);
        size_t sz = strcmp(dt, "BYTES") == 0 ? 1 : dtype_size(dt);
        if (sz == 0 || strcmp(dt, "FP16") == 0 || strcmp(dt, "BF16") == 0)
            return pa_errorf(err, PA_EPROTO, "output '%s': datatype '%s' cannot be JSON data",
                             name, dt);
        buf_reset(scratch);
        int rc = json_to_binary(values, dt, sz, scratch, name, err);
        if (rc != PA_OK)
            return rc;
        *data = scratch->data ? scratch->data : "";
        *byte_size = scratch->len;
        return PA_OK;
    }
    return pa_errorf(err, PA_EPROTO, "output '%s' is not in the response", name);
}
