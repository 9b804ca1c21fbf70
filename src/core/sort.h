/*
 * Sorting unsigned 64-bit keys (latencies in nanoseconds) in linear time.
 *
 * The profiler sorts every window's latencies and again the three merged
 * windows; with qsort that was a fifth of the instructions perf_analyzer
 * spends per request. A least-significant-digit radix sort over bytes does
 * the same in a handful of passes, and skips the bytes every key shares
 * (the high bytes of latencies), so typically four or five.
 */
#ifndef PA_CORE_SORT_H
#define PA_CORE_SORT_H

#include <stddef.h>
#include <stdint.h>

/* Sorts a[0..n) ascending. Allocates a scratch copy of n keys (xmalloc). */
void sort_u64(uint64_t *a, size_t n);

#endif
