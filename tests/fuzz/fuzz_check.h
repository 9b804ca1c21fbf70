/*
 * What the fuzz targets check with (included by each, tests only).
 *
 * check(): a property that must hold; a failure traps, so libFuzzer
 * records the input as a crash. touch(): reads every byte of a view (a
 * string, an output, a response) the code under test handed back, so ASan
 * sees one that points outside its buffer; returns a sum the caller keeps.
 */
#ifndef PA_FUZZ_CHECK_H
#define PA_FUZZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>

static inline void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static inline unsigned touch(const void *p, size_t n)
{
    const volatile unsigned char *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    return s;
}

#endif
