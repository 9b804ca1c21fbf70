/*
 * Protobuf wire encoding of ModelInferRequest and in-place scanning of infer
 * responses; see grpc_wire.h for why the data plane does not use protobuf-c.
 *
 * Encoding works inside-out: each nested message is encoded into its own
 * struct buf and then appended to its parent as tag + length + bytes. That
 * costs a few copies of small headers at setup, never of tensor data, which
 * is recorded as a segment pointing at the caller's buffer.
 */
#include "client/grpc_wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "core/banned.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static size_t put_varint(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

/* Encoding failures are only ever "too big", which setup reports once. */
static int add_varint(struct buf *b, uint64_t v)
{
    unsigned char tmp[10];
    return buf_append(b, tmp, put_varint(tmp, v));
}

static int add_tag(struct buf *b, uint32_t field, int wt)
{
    return add_varint(b, ((uint64_t)field << 3) | (uint64_t)wt);
}

static int add_bytes(struct buf *b, uint32_t field, const void *p, size_t n)
{
    int rc = add_tag(b, field, WT_LEN);
    if (rc == PA_OK)
        rc = add_varint(b, n);
    if (rc == PA_OK && n)
        rc = buf_append(b, p, n);
    return rc;
}

static int add_str(struct buf *b, uint32_t field, const char *s)
{
    return add_bytes(b, field, s, strlen(s));
}

/* map<string, InferParameter> entry: {1: key, 2: {<case>: value}}. */
static int add_param(struct buf *b, uint32_t field, const struct gw_param *p)
{
    struct buf v, e;
    int rc;
    buf_init(&v, 1 << 20);
    buf_init(&e, 1 << 20);
    switch (p->type) {
    case GW_P_BOOL: /* oneof members are always emitted, even when false */
        rc = add_tag(&v, 1, WT_VARINT);
        if (rc == PA_OK)
            rc = add_varint(&v, p->b ? 1 : 0);
        break;
    case GW_P_INT64:
        rc = add_tag(&v, 2, WT_VARINT);
        if (rc == PA_OK)
            rc = add_varint(&v, (uint64_t)p->i);
        break;
    default:
        rc = add_str(&v, 3, p->s);
        break;
    }
    if (rc == PA_OK)
        rc = add_str(&e, 1, p->name);
    if (rc == PA_OK)
        rc = add_bytes(&e, 2, v.data, v.len);
    if (rc == PA_OK)
        rc = add_bytes(b, field, e.data, e.len);
    buf_release(&v);
    buf_release(&e);
    return rc;
}

/* Tensor parameters for shared memory: region, byte size, offset (if != 0). */
static int add_shm_params(struct buf *b, uint32_t field, const char *region, uint64_t size,
                          uint64_t offset)
{
    struct gw_param p = {.name = "shared_memory_region", .type = GW_P_STRING, .s = region};
    int rc = add_param(b, field, &p);
    p = (struct gw_param){.name = "shared_memory_byte_size", .type = GW_P_INT64,
                          .i = (int64_t)size};
    if (rc == PA_OK)
        rc = add_param(b, field, &p);
    if (rc == PA_OK && offset) {
        p = (struct gw_param){.name = "shared_memory_offset", .type = GW_P_INT64,
                              .i = (int64_t)offset};
        rc = add_param(b, field, &p);
    }
    return rc;
}

static int add_input(struct buf *b, const struct pa_input *in)
{
    struct buf t, shape;
    int rc;
    buf_init(&t, 1 << 20);
    buf_init(&shape, 1 << 20);
    rc = add_str(&t, 1, in->name);
    if (rc == PA_OK)
        rc = add_str(&t, 2, in->datatype);
    for (size_t i = 0; rc == PA_OK && i < in->rank; i++)
        rc = add_varint(&shape, (uint64_t)in->shape[i]);
    if (rc == PA_OK && in->rank) /* packed repeated int64 */
        rc = add_bytes(&t, 3, shape.data, shape.len);
    if (rc == PA_OK && in->shm_region)
        rc = add_shm_params(&t, 4, in->shm_region, in->byte_size, in->shm_offset);
    if (rc == PA_OK)
        rc = add_bytes(b, 5, t.data, t.len);
    buf_release(&t);
    buf_release(&shape);
    return rc;
}

static int add_output(struct buf *b, const struct pa_output *out)
{
    struct buf t;
    int rc;
    buf_init(&t, 1 << 20);
    rc = add_str(&t, 1, out->name);
    if (rc == PA_OK && out->shm_region)
        rc = add_shm_params(&t, 2, out->shm_region, out->shm_byte_size, out->shm_offset);
    if (rc == PA_OK)
        rc = add_bytes(b, 6, t.data, t.len);
    buf_release(&t);
    return rc;
}

int gw_request_build(const struct pa_infer_desc *d, const struct gw_param *params,
                     size_t n_params, struct gw_request *out, struct pa_err *err)
{
    struct buf h;
    /* Segment boundaries are offsets into h until h stops moving. */
    size_t max_segs = 2 * d->n_inputs + 1;
    size_t *cut = xcalloc(max_segs, sizeof(*cut));       /* end offset in h of head piece i */
    const struct pa_input **data = xcalloc(max_segs, sizeof(*data));
    size_t n = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    buf_init(&h, BUF_DEFAULT_MAX);
    rc = add_str(&h, 1, d->model_name);
    if (rc == PA_OK && d->model_version && d->model_version[0])
        rc = add_str(&h, 2, d->model_version);
    struct gw_param empty_final = {.name = "triton_enable_empty_final_response",
                                   .type = GW_P_BOOL, .b = true};
    if (rc == PA_OK)
        rc = add_param(&h, 4, &empty_final);
    for (size_t i = 0; rc == PA_OK && i < n_params; i++)
        rc = add_param(&h, 4, &params[i]);
    for (size_t i = 0; rc == PA_OK && i < d->n_inputs; i++)
        rc = add_input(&h, &d->inputs[i]);
    for (size_t i = 0; rc == PA_OK && i < d->n_outputs; i++)
        rc = add_output(&h, &d->outputs[i]);
    /* raw_input_contents: one entry per input not in shared memory, in order. */
    for (size_t i = 0; rc == PA_OK && i < d->n_inputs; i++) {
        const struct pa_input *in = &d->inputs[i];
        if (in->shm_region)
            continue;
        rc = add_tag(&h, 7, WT_LEN);
        if (rc == PA_OK)
            rc = add_varint(&h, in->byte_size);
        cut[n] = h.len;
        data[n++] = in->byte_size ? in : NULL;
    }
    if (rc != PA_OK) {
        buf_release(&h);
        free(cut);
        free(data);
        return pa_errorf(err, PA_EINVAL, "cannot encode the inference request for model '%s'",
                         d->model_name);
    }

    size_t head_len = h.len;
    out->head = (unsigned char *)buf_detach(&h, NULL);
    out->segs = xcalloc(2 * n + 1, sizeof(*out->segs));
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        out->segs[out->n_segs++] = (struct gw_segment){out->head + from, cut[i] - from};
        from = cut[i];
        if (data[i])
            out->segs[out->n_segs++] = (struct gw_segment){data[i]->data, data[i]->byte_size};
    }
    if (head_len > from)
        out->segs[out->n_segs++] = (struct gw_segment){out->head + from, head_len - from};
    for (size_t i = 0; i < out->n_segs; i++)
        out->total += out->segs[i].len;
    free(cut);
    free(data);
    return PA_OK;
}

void gw_request_release(struct gw_request *r)
{
    free(r->head);
    free(r->segs);
    memset(r, 0, sizeof(*r));
}

/* Writes one parameter map entry (field 4) with a fixed buffer. */
static size_t put_param(unsigned char *p, const char *key, int choice, uint64_t v)
{
    size_t klen = strlen(key);
    unsigned char val[12];
    size_t vlen = put_varint(val + 1, v) + 1;
    val[0] = (unsigned char)((choice << 3) | WT_VARINT);
    size_t entry = 1 + 1 + klen + 1 + 1 + vlen; /* key and value are < 128 bytes */
    size_t n = 0;
    p[n++] = (4 << 3) | WT_LEN;
    n += put_varint(p + n, entry);
    p[n++] = (1 << 3) | WT_LEN;
    p[n++] = (unsigned char)klen;
    memcpy(p + n, key, klen);
    n += klen;
    p[n++] = (2 << 3) | WT_LEN;
    p[n++] = (unsigned char)vlen;
    memcpy(p + n, val, vlen);
    return n + vlen;
}

size_t gw_encode_send(unsigned char *buf, uint64_t id, const struct pa_send *send)
{
    char digits[24];
    int nd = snprintf(digits, sizeof(digits), "%" PRIu64, id);
    size_t n = 0;
    buf[n++] = (3 << 3) | WT_LEN;
    buf[n++] = (unsigned char)nd;
    memcpy(buf + n, digits, (size_t)nd);
    n += (size_t)nd;
    if (send && send->sequence_id) {
        n += put_param(buf + n, "sequence_id", 2, send->sequence_id);
        n += put_param(buf + n, "sequence_start", 1, send->sequence_start ? 1 : 0);
        n += put_param(buf + n, "sequence_end", 1, send->sequence_end ? 1 : 0);
    }
    return n;
}

bool gw_parse_id(const char *id, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (id[i] < '0' || id[i] > '9')
            return false;
        uint64_t d = (uint64_t)(id[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---------------------------------------------------------------- scanning */

struct rd {
    const unsigned char *p, *end;
};

static bool get_varint(struct rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        unsigned char c = *r->p++;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Next field: number, wire type and, for WT_LEN, the payload. */
static bool next_field(struct rd *r, uint32_t *field, int *wt, struct rd *payload,
                       uint64_t *value)
{
    uint64_t key;
    if (!get_varint(r, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX)
        return false;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case WT_VARINT:
        return get_varint(r, value);
    case WT_I64:
        if (r->end - r->p < 8)
            return false;
        r->p += 8;
        return true;
    case WT_I32:
        if (r->end - r->p < 4)
            return false;
        r->p += 4;
        return true;
    case WT_LEN: {
        uint64_t n;
        if (!get_varint(r, &n) || n > (uint64_t)(r->end - r->p))
            return false;
        payload->p = r->p;
        payload->end = r->p + n;
        r->p += n;
        return true;
    }
    default: /* groups are not used by these messages */
        return false;
    }
}

/* A parameters map entry: sets final_param for "triton_final_response". */
static bool scan_param_entry(struct rd e, struct gw_response *out)
{
    static const char key_final[] = "triton_final_response";
    struct rd key = {NULL, NULL}, val = {NULL, NULL}, f;
    uint32_t field;
    int wt;
    uint64_t v;
    while (e.p < e.end) {
        if (!next_field(&e, &field, &wt, &f, &v))
            return false;
        if (field == 1 && wt == WT_LEN)
            key = f;
        else if (field == 2 && wt == WT_LEN)
            val = f;
    }
    if (!key.p || (size_t)(key.end - key.p) != sizeof(key_final) - 1 ||
        memcmp(key.p, key_final, sizeof(key_final) - 1) != 0)
        return true;
    int flag = 1; /* a value that is not a bool_param: treat as set, like "present" */
    while (val.p && val.p < val.end) {
        if (!next_field(&val, &field, &wt, &f, &v))
            return false;
        if (field == 1 && wt == WT_VARINT)
            flag = v != 0;
    }
    out->final_param = flag;
    return true;
}

static bool scan_output(struct rd t, struct gw_output *o)
{
    struct rd f;
    uint32_t field;
    int wt;
    uint64_t v;
    while (t.p < t.end) {
        if (!next_field(&t, &field, &wt, &f, &v))
            return false;
        if (field == 1 && wt == WT_LEN) {
            o->name = (const char *)f.p;
            o->name_len = (size_t)(f.end - f.p);
        }
    }
    return true;
}

static bool scan_infer(struct rd r, struct gw_response *out)
{
    struct rd f;
    uint32_t field;
    int wt;
    uint64_t v;
    while (r.p < r.end) {
        if (!next_field(&r, &field, &wt, &f, &v))
            return false;
        if (wt != WT_LEN)
            continue;
        switch (field) {
        case 3:
            out->id = (const char *)f.p;
            out->id_len = (size_t)(f.end - f.p);
            break;
        case 4:
            if (!scan_param_entry(f, out))
                return false;
            break;
        case 5:
            if (out->n_outputs < GW_MAX_OUTPUTS &&
                !scan_output(f, &out->outputs[out->n_outputs]))
                return false;
            out->n_outputs++;
            break;
        case 6:
            if (out->n_raw < GW_MAX_OUTPUTS) {
                out->outputs[out->n_raw].data = f.p;
                out->outputs[out->n_raw].len = (size_t)(f.end - f.p);
            }
            out->n_raw++;
            break;
        default:
            break;
        }
    }
    return true;
}

static void reset(struct gw_response *out)
{
    out->id = "";
    out->id_len = 0;
    out->error = NULL;
    out->error_len = 0;
    out->final_param = -1;
    out->n_outputs = 0;
    out->n_raw = 0;
    memset(out->outputs, 0, sizeof(out->outputs));
}

int gw_parse_infer_response(const unsigned char *p, size_t len, struct gw_response *out)
{
    reset(out);
    struct rd r = {p, p + len};
    return scan_infer(r, out) ? PA_OK : PA_EPROTO;
}

int gw_parse_stream_response(const unsigned char *p, size_t len, struct gw_response *out)
{
    reset(out);
    struct rd r = {p, p + len}, f;
    uint32_t field;
    int wt;
    uint64_t v;
    while (r.p < r.end) {
        if (!next_field(&r, &field, &wt, &f, &v))
            return PA_EPROTO;
        if (field == 1 && wt == WT_LEN) {
            out->error = (const char *)f.p;
            out->error_len = (size_t)(f.end - f.p);
        } else if (field == 2 && wt == WT_LEN) {
            if (!scan_infer(f, out))
                return PA_EPROTO;
        }
    }
    return PA_OK;
}
