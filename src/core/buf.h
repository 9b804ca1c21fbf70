/*
 * Growable byte buffer with a hard size limit (curl's dynbuf idea).
 *
 * Fields are read-only for callers; change them only through these
 * functions. The content is always NUL-terminated (the NUL is not counted
 * in len), so text can be used as a C string. Appending past max fails with
 * PA_EINVAL and leaves the buffer unchanged. Growth aborts on OOM (xalloc).
 */
#ifndef PA_CORE_BUF_H
#define PA_CORE_BUF_H

#include <stddef.h>

#include "pa/status.h"

struct buf {
    char *data;  /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;  /* largest len allowed */
};

#define BUF_DEFAULT_MAX ((size_t)1 << 31)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);          /* frees the data, keeps max */
void buf_reset(struct buf *b);            /* len = 0, keeps the memory */
PA_MUST_CHECK int buf_reserve(struct buf *b, size_t extra);
PA_MUST_CHECK int buf_append(struct buf *b, const void *data, size_t len);
PA_MUST_CHECK int buf_append_str(struct buf *b, const char *s);
PA_MUST_CHECK int buf_printf(struct buf *b, const char *fmt, ...) PA_PRINTF(2, 3);
/* Hands the data to the caller (who frees it); the buffer is left empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
