/*
 * Datatype table and shape arithmetic (see datatype.h). Shapes come from
 * user files and the server, so every product is overflow-checked: a
 * hostile shape must produce an error, never a wrapped size.
 */
#include "data/datatype.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/banned.h"

static const struct {
    const char *name;
    enum data_type type;
    size_t size;
} types[] = {
    {"BOOL", DT_BOOL, 1},     {"UINT8", DT_UINT8, 1},   {"UINT16", DT_UINT16, 2},
    {"UINT32", DT_UINT32, 4}, {"UINT64", DT_UINT64, 8}, {"INT8", DT_INT8, 1},
    {"INT16", DT_INT16, 2},   {"INT32", DT_INT32, 4},   {"INT64", DT_INT64, 8},
    {"FP16", DT_FP16, 2},     {"BF16", DT_BF16, 2},     {"FP32", DT_FP32, 4},
    {"FP64", DT_FP64, 8},     {"BYTES", DT_BYTES, 0},
};

enum data_type datatype_from_name(const char *name)
{
    if (!name)
        return DT_INVALID;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i].name, name) == 0)
            return types[i].type;
    return DT_INVALID;
}

size_t datatype_size(enum data_type t)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == t)
            return types[i].size;
    return 0;
}

const char *datatype_name(enum data_type t)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == t)
            return types[i].name;
    return "";
}

enum shape_count shape_elements(const int64_t *shape, size_t rank, size_t *out)
{
    size_t n = 1;
    bool overflow = false;

    for (size_t i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return SHAPE_VARIABLE;
        /* Keep scanning after an overflow: a later -1 makes it "variable". */
        if ((uint64_t)shape[i] > SIZE_MAX || __builtin_mul_overflow(n, (size_t)shape[i], &n))
            overflow = true;
    }
    if (overflow)
        return SHAPE_OVERFLOW;
    *out = n;
    return SHAPE_OK;
}

enum shape_count shape_byte_size(const int64_t *shape, size_t rank, enum data_type t,
                                 size_t *out)
{
    size_t n, es = datatype_size(t);
    enum shape_count rc = shape_elements(shape, rank, &n);

    if (rc != SHAPE_OK)
        return rc;
    if (es == 0)
        return SHAPE_VARIABLE;
    if (__builtin_mul_overflow(n, es, out))
        return SHAPE_OVERFLOW;
    return SHAPE_OK;
}

bool shape_equal(const int64_t *a, size_t ra, const int64_t *b, size_t rb)
{
    return ra == rb && (ra == 0 || memcmp(a, b, ra * sizeof(*a)) == 0);
}

bool shape_has_variable(const int64_t *shape, size_t rank)
{
    for (size_t i = 0; i < rank; i++)
        if (shape[i] < 0)
            return true;
    return false;
}

void shape_format(const int64_t *shape, size_t rank, char *out, size_t out_size)
{
    size_t used;
    int n;

    if (out_size < 3) {
        if (out_size)
            out[0] = '\0';
        return;
    }
    out[0] = '[';
    used = 1;
    for (size_t i = 0; i < rank && used < out_size; i++) {
        n = snprintf(out + used, out_size - used, "%s%" PRId64, i ? "," : "", shape[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (used < out_size)
        snprintf(out + used, out_size - used, "]");
}

int bytes_append_element(struct buf *b, const void *data, size_t len)
{
    uint8_t prefix[4];

    if (len > UINT32_MAX)
        return pa_errorf(NULL, PA_EINVAL, "string element too long");
    le32_store(prefix, (uint32_t)len);
    if (buf_append(b, prefix, sizeof(prefix)) != PA_OK)
        return PA_EINVAL;
    if (len && buf_append(b, data, len) != PA_OK)
        return PA_EINVAL;
    return PA_OK;
}
