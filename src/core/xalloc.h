/*
 * Allocation that never returns NULL: on out-of-memory it prints one line to
 * stderr and aborts, so callers have no OOM error paths. Use only at setup,
 * never in the request loop.
 */
#ifndef PA_CORE_XALLOC_H
#define PA_CORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* realloc of nmemb * size bytes, aborting on multiplication overflow too. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
