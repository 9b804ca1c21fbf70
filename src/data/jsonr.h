/*
 * A small JSON reader for --input-data files.
 *
 * cJSON cannot be used here: the original reads these files with RapidJSON
 * and its rules leak into user-visible behavior. A number written "1" is an
 * integer and "1.0" a double (FP32 data must be doubles), integers keep
 * their exact 64-bit value, NaN/Inf/Infinity literals are accepted, strings
 * may hold NUL bytes, and a syntax error is reported as RapidJSON's numeric
 * error code plus byte offset. This reader reproduces those rules.
 *
 * The document is one allocation tree owned by struct jr_doc; values are
 * read-only after jr_parse().
 */
#ifndef PA_DATA_JSONR_H
#define PA_DATA_JSONR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jr_type { JR_NULL, JR_FALSE, JR_TRUE, JR_OBJECT, JR_ARRAY, JR_STRING, JR_NUMBER };

/* Which C types a number converts to without loss (RapidJSON's Is* tests). */
enum jr_num_flags {
    JR_INT = 1 << 0,    /* integer literal in int32 range */
    JR_UINT = 1 << 1,   /* integer literal in uint32 range */
    JR_INT64 = 1 << 2,  /* integer literal in int64 range */
    JR_UINT64 = 1 << 3, /* integer literal in uint64 range */
    JR_DOUBLE = 1 << 4, /* fraction, exponent, NaN/Inf, or too big for 64 bits */
};

struct jr_value {
    uint8_t type;  /* enum jr_type */
    uint8_t flags; /* enum jr_num_flags, numbers only */
    union {
        int64_t i;   /* integer literals (negative, or <= INT64_MAX) */
        uint64_t u;  /* integer literals above INT64_MAX */
        double d;    /* JR_DOUBLE */
        struct {
            char *s; /* NUL-terminated; may also contain NUL bytes */
            size_t len;
        } str;
        struct {
            struct jr_value *items; /* arrays: n values; objects: n (key, value) pairs */
            size_t n;
        } list;
    } v;
};

/* RapidJSON's ParseErrorCode values, printed as numbers by the original. */
enum jr_error {
    JR_OK = 0,
    JR_DOCUMENT_EMPTY = 1,
    JR_ROOT_NOT_SINGULAR = 2,
    JR_VALUE_INVALID = 3,
    JR_OBJECT_MISS_NAME = 4,
    JR_OBJECT_MISS_COLON = 5,
    JR_OBJECT_MISS_COMMA_OR_CURLY = 6,
    JR_ARRAY_MISS_COMMA_OR_SQUARE = 7,
    JR_STRING_UNICODE_ESCAPE_INVALID_HEX = 8,
    JR_STRING_UNICODE_SURROGATE_INVALID = 9,
    JR_STRING_ESCAPE_INVALID = 10,
    JR_STRING_MISS_QUOTATION = 11,
    JR_STRING_INVALID_ENCODING = 12,
    JR_NUMBER_TOO_BIG = 13,
    JR_NUMBER_MISS_FRACTION = 14,
    JR_NUMBER_MISS_EXPONENT = 15,
    JR_TERMINATION = 16,
    JR_UNSPECIFIC = 17, /* also: nesting deeper than JR_MAX_DEPTH */
};

#define JR_MAX_DEPTH 512

struct jr_doc {
    struct jr_value root;
    enum jr_error error; /* JR_OK after a successful parse */
    size_t error_offset;
};

/*
 * Parses len bytes. As with RapidJSON reading a FILE stream, a NUL byte ends
 * the input. Returns true on success; on failure doc->error/error_offset are
 * set and nothing needs to be released (jr_free is still safe).
 */
bool jr_parse(struct jr_doc *doc, const char *text, size_t len);
void jr_free(struct jr_doc *doc);

/* Object member `key` (first one if repeated), or NULL; NULL for non-objects. */
const struct jr_value *jr_get(const struct jr_value *obj, const char *key);

static inline bool jr_is_object(const struct jr_value *v)
{
    return v && v->type == JR_OBJECT;
}

static inline bool jr_is_array(const struct jr_value *v)
{
    return v && v->type == JR_ARRAY;
}

static inline bool jr_is_string(const struct jr_value *v)
{
    return v && v->type == JR_STRING;
}

/* Numeric value as double (any number). */
double jr_number(const struct jr_value *v);
/* Integer values; only meaningful when the matching JR_* flag is set. */
int64_t jr_i64(const struct jr_value *v);
uint64_t jr_u64(const struct jr_value *v);

#endif
