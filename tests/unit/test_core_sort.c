/*
 * sort_u64: the radix sort the profiler uses for latencies, checked against
 * qsort on the inputs that matter (small and large counts, keys that share
 * their high bytes or differ only there, duplicates, extremes, presorted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "core/sort.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts a copy both ways and compares. */
static void check_sorts(const uint64_t *keys, size_t n)
{
    uint64_t *got = malloc((n ? n : 1) * sizeof(*got));
    uint64_t *want = malloc((n ? n : 1) * sizeof(*want));
    assert_non_null(got);
    assert_non_null(want);
    if (n) {
        memcpy(got, keys, n * sizeof(*got));
        memcpy(want, keys, n * sizeof(*want));
    }
    sort_u64(got, n);
    qsort(want, n, sizeof(*want), cmp_u64);
    if (n)
        assert_memory_equal(got, want, n * sizeof(*got));
    free(got);
    free(want);
}

static void test_empty_and_one(void **state)
{
    (void)state;
    uint64_t one = 42;
    sort_u64(NULL, 0);
    sort_u64(&one, 1);
    assert_int_equal(one, 42);
}

static void test_random_sizes(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 7);
    static const size_t sizes[] = {2, 3, 63, 64, 65, 1000, 100000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        uint64_t *k = malloc(n * sizeof(*k));
        assert_non_null(k);
        /* Full-width keys: every byte position takes a pass. */
        for (size_t i = 0; i < n; i++)
            k[i] = rng_next(&r);
        check_sorts(k, n);
        /* Latency-like keys (up to ~17 s in ns): high bytes shared, skipped. */
        for (size_t i = 0; i < n; i++)
            k[i] = rng_below(&r, (uint64_t)1 << 34);
        check_sorts(k, n);
        free(k);
    }
}

static void test_shapes(void **state)
{
    (void)state;
    size_t n = 5000;
    uint64_t *k = malloc(n * sizeof(*k));
    assert_non_null(k);
    for (size_t i = 0; i < n; i++)
        k[i] = 123456789; /* all equal: every pass skipped */
    check_sorts(k, n);
    for (size_t i = 0; i < n; i++)
        k[i] = i % 3 ? UINT64_MAX : 0; /* extremes only */
    check_sorts(k, n);
    for (size_t i = 0; i < n; i++)
        k[i] = (uint64_t)(n - i) << 56; /* differ only in the top byte */
    check_sorts(k, n);
    for (size_t i = 0; i < n; i++)
        k[i] = i * 1000; /* presorted, as a merge of sorted windows nearly is */
    check_sorts(k, n);
    for (size_t i = 0; i < n; i++)
        k[i] = (i * 2654435761u) % 97; /* many duplicates */
    check_sorts(k, n);
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_one),
        cmocka_unit_test(test_random_sizes),
        cmocka_unit_test(test_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
