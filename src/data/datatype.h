/*
 * KServe v2 datatypes and tensor shapes as the data module needs them:
 * element sizes, element and byte counts (with overflow and "variable"
 * detection), the original's "[d1,d2]" shape text and the BYTES encoding
 * (4-byte little-endian length before every element).
 *
 * Other modules may use these too (a backend encoding the JSON tensor
 * format needs the element size); everything here is pure and thread-safe.
 */
#ifndef PA_DATA_DATATYPE_H
#define PA_DATA_DATATYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "pa/status.h"

enum data_type {
    DT_INVALID = 0,
    DT_BOOL,
    DT_UINT8,
    DT_UINT16,
    DT_UINT32,
    DT_UINT64,
    DT_INT8,
    DT_INT16,
    DT_INT32,
    DT_INT64,
    DT_FP16,
    DT_BF16,
    DT_FP32,
    DT_FP64,
    DT_BYTES,
};

/* The datatype named `name` (exact KServe spelling), or DT_INVALID. */
enum data_type datatype_from_name(const char *name);
/* Bytes per element; 0 for BYTES (variable) and DT_INVALID. */
size_t datatype_size(enum data_type t);
/* KServe name, "" for DT_INVALID. */
const char *datatype_name(enum data_type t);

/* Result of a shape computation. */
enum shape_count {
    SHAPE_OK = 0,
    SHAPE_VARIABLE,  /* some dim is negative (-1 = variable) */
    SHAPE_OVERFLOW,  /* the count does not fit in size_t */
};

/* Product of the dims (1 for rank 0). */
enum shape_count shape_elements(const int64_t *shape, size_t rank, size_t *out);
/* Elements x element size; SHAPE_VARIABLE also for BYTES and unknown types. */
enum shape_count shape_byte_size(const int64_t *shape, size_t rank, enum data_type t,
                                 size_t *out);
bool shape_equal(const int64_t *a, size_t ra, const int64_t *b, size_t rb);
bool shape_has_variable(const int64_t *shape, size_t rank);

/* Writes "[d1,d2,...]" (no spaces, as the original prints shapes) into out. */
void shape_format(const int64_t *shape, size_t rank, char *out, size_t out_size);

/* Appends one BYTES element: 4-byte LE length, then the bytes. */
PA_MUST_CHECK int bytes_append_element(struct buf *b, const void *data, size_t len);

/* Little-endian helpers for the length prefixes. */
static inline void le32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t le32_load(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
