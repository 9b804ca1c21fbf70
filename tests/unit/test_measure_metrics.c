/*
 * Prometheus metrics parsing and per-GPU aggregation (spec 03 §8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "measure/metrics.h"

static const char scrape1[] =
    "# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)\n"
    "# TYPE nv_gpu_utilization gauge\n"
    "nv_gpu_utilization{gpu_uuid=\"GPU-b\"} 0.5\n"
    "nv_gpu_utilization{gpu_uuid=\"GPU-a\"} 0.25\n"
    "nv_gpu_power_usage{gpu_uuid=\"GPU-a\"} 100.5\n"
    "nv_gpu_power_usage{gpu_uuid=\"GPU-b\"} 110.5\n"
    "nv_gpu_memory_used_bytes{gpu_uuid=\"GPU-a\"} 1048576000\n"
    "nv_gpu_memory_used_bytes{gpu_uuid=\"GPU-b\"} 2.097152e+09\n"
    "nv_gpu_memory_total_bytes{gpu_uuid=\"GPU-a\"} 85899345920\n"
    "nv_gpu_memory_total_bytes{gpu_uuid=\"GPU-a\",other=\"x\"} 1\n";

static void test_parse(void **state)
{
    (void)state;
    struct metrics_samples s = {0};
    unsigned missing = 99;
    metrics_parse(scrape1, &s, &missing);
    assert_int_equal(missing, 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.s[0].uuid, "GPU-b"); /* order of first appearance */
    assert_true(s.s[0].utilization == 0.5);
    assert_true(s.s[1].power_watts == 100.5);
    assert_int_equal(s.s[1].memory_used, 1048576000);
    /* no exponent: "2.097152e+09" reads as 2.097152, truncated to 2 */
    assert_int_equal(s.s[0].memory_used, 2);
    assert_int_equal(s.s[1].memory_total, 85899345920ULL);
    /* the two-label line does not match */
    assert_false(s.s[0].has_memory_total);
    metrics_samples_release(&s);

    /* A line at the very start of the text does not follow a newline. */
    metrics_parse("nv_gpu_utilization{gpu_uuid=\"G\"} 1\n", &s, &missing);
    assert_int_equal(s.n, 0);
    assert_int_equal(missing, 0xf);
    metrics_samples_release(&s);
}

static void test_aggregate(void **state)
{
    (void)state;
    struct metrics_samples w1 = {0}, w2 = {0};
    unsigned missing;
    metrics_parse(scrape1, &w1, &missing);
    metrics_parse("\nnv_gpu_utilization{gpu_uuid=\"GPU-a\"} 0.75\n"
                  "nv_gpu_memory_used_bytes{gpu_uuid=\"GPU-a\"} 2000000000\n"
                  "nv_gpu_memory_total_bytes{gpu_uuid=\"GPU-a\"} 5\n",
                  &w2, &missing);
    assert_int_equal(missing, 1u << 1); /* power missing */
    const struct metrics_samples *lists[] = {&w1, &w2};
    struct pa_gpu_metric *g;
    size_t n;
    metrics_aggregate(lists, 2, &g, &n);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].uuid, "GPU-a"); /* sorted */
    assert_true(g[0].utilization == 0.5);   /* mean of 0.25, 0.75 */
    assert_true(g[0].power_watts == 100.5); /* mean over the samples that had it */
    assert_int_equal(g[0].memory_used, 2000000000); /* max */
    assert_int_equal(g[0].memory_total, 85899345920ULL); /* first seen */
    assert_true(g[1].has_utilization);
    assert_false(g[1].has_memory_total);
    free(g);
    metrics_samples_release(&w1);
    metrics_samples_release(&w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_aggregate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
