#include "core/sort.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#include "core/banned.h"

/* Below this, the histogram set-up costs more than it saves. */
#define SMALL_N 64

static void insertion_sort(uint64_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

void sort_u64(uint64_t *a, size_t n)
{
    if (n < SMALL_N) {
        insertion_sort(a, n);
        return;
    }
    /* One pass counts every byte position; a byte all keys share needs no pass. */
    size_t count[8][256];
    memset(count, 0, sizeof(count));
    for (size_t i = 0; i < n; i++)
        for (unsigned b = 0; b < 8; b++)
            count[b][(a[i] >> (8 * b)) & 0xff]++;

    uint64_t *tmp = xmalloc(n * sizeof(*tmp));
    uint64_t *from = a, *to = tmp;
    for (unsigned b = 0; b < 8; b++) {
        size_t *c = count[b];
        if (c[(from[0] >> (8 * b)) & 0xff] == n)
            continue;
        size_t at = 0;
        for (unsigned d = 0; d < 256; d++) {
            size_t k = c[d];
            c[d] = at;
            at += k;
        }
        /* Stable scatter: keys keep the order of the earlier (lower) bytes. */
        for (size_t i = 0; i < n; i++)
            to[c[(from[i] >> (8 * b)) & 0xff]++] = from[i];
        uint64_t *t = from;
        from = to;
        to = t;
    }
    if (from != a)
        memcpy(a, from, n * sizeof(*a));
    free(tmp);
}
