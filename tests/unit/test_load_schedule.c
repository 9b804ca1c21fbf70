/*
 * Open-loop schedules (spec 04 §3-§4): the mt19937 engine, constant and
 * poisson gaps, the round-robin spreading over threads and slot lists, the
 * cycle length, custom intervals (file parsing, the integer rate label).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "load/schedule.h"

/* Every send time of a schedule up to `limit`, over all workers, sorted. */
static size_t merged_times(const struct load_schedule *s, uint64_t limit, uint64_t *out,
                           size_t cap)
{
    size_t n = 0;
    for (size_t w = 0; w < s->n_workers; w++)
        for (uint64_t k = 0;; k++) {
            uint64_t t = schedule_at(&s->workers[w], k);
            if (t > limit || n == cap)
                break;
            out[n++] = t;
        }
    for (size_t i = 1; i < n; i++) /* insertion sort: small lists */
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            uint64_t x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    return n;
}

static void test_mt19937_reference(void **state)
{
    (void)state;
    struct mt19937 g;
    mt19937_seed(&g, MT19937_DEFAULT_SEED);
    /* The C++ standard fixes the 10000th value of a default-constructed mt19937. */
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++)
        v = mt19937_next(&g);
    assert_int_equal(v, 4123659995u);

    mt19937_seed(&g, MT19937_DEFAULT_SEED);
    assert_int_equal(mt19937_next(&g), 3499211612u); /* first output, seed 5489 */
    for (int i = 0; i < 1000; i++) {
        double u = mt19937_canonical(&g);
        assert_true(u >= 0.0 && u < 1.0);
    }
}

static void test_constant_gaps(void **state)
{
    (void)state;
    assert_int_equal(schedule_constant_gap_ns(100), 10000000);
    assert_int_equal(schedule_constant_gap_ns(3), 333333333); /* truncated */
    assert_int_equal(schedule_constant_gap_ns(0.5), 2000000000);
}

/* Constant rate, 4 threads: one entry each, aggregate spacing exactly 1/R. */
static void test_constant_schedule_threads(void **state)
{
    (void)state;
    struct load_schedule s = {0};
    struct pa_err err = {0};
    assert_int_equal(schedule_rate(&s, 100, PA_DIST_CONSTANT, 4, 4, 0, &err), PA_OK);
    assert_int_equal(s.n_workers, 4);
    for (size_t w = 0; w < 4; w++) {
        assert_int_equal(s.workers[w].n, 1);
        assert_int_equal(s.workers[w].at_ns[0], (w + 1) * 10 * NS_PER_MS);
        assert_int_equal(s.workers[w].cycle_ns, 40 * NS_PER_MS);
    }
    /* Worker 1's third send: 20 ms + 2 cycles. */
    assert_int_equal(schedule_at(&s.workers[1], 2), 100 * NS_PER_MS);
    uint64_t t[100];
    size_t n = merged_times(&s, 640 * NS_PER_MS, t, 100);
    assert_int_equal(n, 64);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(t[i], (i + 1) * 10 * NS_PER_MS);
    schedule_release(&s);
}

/* Sequence model: 6 slots over 4 threads (entry i -> thread i mod 4). */
static void test_constant_schedule_slots(void **state)
{
    (void)state;
    struct load_schedule s = {0};
    struct pa_err err = {0};
    assert_int_equal(schedule_rate(&s, 100, PA_DIST_CONSTANT, 4, 6, 0, &err), PA_OK);
    assert_int_equal(s.workers[0].n, 2);
    assert_int_equal(s.workers[1].n, 2);
    assert_int_equal(s.workers[2].n, 1);
    assert_int_equal(s.workers[3].n, 1);
    assert_int_equal(s.workers[0].at_ns[1], 50 * NS_PER_MS);
    assert_int_equal(s.workers[2].cycle_ns, 60 * NS_PER_MS);
    uint64_t t[100];
    size_t n = merged_times(&s, 600 * NS_PER_MS, t, 100);
    assert_int_equal(n, 60);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(t[i], (i + 1) * 10 * NS_PER_MS);
    schedule_release(&s);
}

static void test_poisson_mean_variance(void **state)
{
    (void)state;
    struct load_schedule s = {0}, again = {0};
    struct pa_err err = {0};
    const double rate = 1000;
    assert_int_equal(schedule_rate(&s, rate, PA_DIST_POISSON, 1, 1, 20 * NS_PER_S, &err), PA_OK);
    const struct worker_schedule *w = &s.workers[0];
    assert_true(w->n > 19000 && w->n < 21000);
    assert_true(w->at_ns[w->n - 1] >= 20 * NS_PER_S);

    double sum = 0, sq = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < w->n; i++) {
        double g = (double)(w->at_ns[i] - prev) / 1e9;
        prev = w->at_ns[i];
        sum += g;
        sq += g * g;
    }
    double mean = sum / (double)w->n;
    double var = sq / (double)w->n - mean * mean;
    /* Exponential(λ): mean 1/λ, variance 1/λ² (20000 samples: a few % of noise). */
    assert_true(fabs(mean * rate - 1.0) < 0.03);
    assert_true(fabs(var * rate * rate - 1.0) < 0.08);

    /* Fixed default seed, re-created per schedule: identical every time. */
    assert_int_equal(schedule_rate(&again, rate, PA_DIST_POISSON, 1, 1, 20 * NS_PER_S, &err),
                     PA_OK);
    assert_int_equal(again.workers[0].n, w->n);
    assert_memory_equal(again.workers[0].at_ns, w->at_ns, w->n * sizeof(uint64_t));
    schedule_release(&again);

    /* The first gap is -ln(1 - u)/λ with u from the first two engine outputs. */
    struct mt19937 g;
    mt19937_seed(&g, MT19937_DEFAULT_SEED);
    double u = mt19937_canonical(&g);
    assert_int_equal(w->at_ns[0], (uint64_t)(-log(1.0 - u) / rate * 1e9));
    schedule_release(&s);
}

/* Poisson over 4 threads: the slot list wraps before the schedule ends. */
static void test_poisson_threads(void **state)
{
    (void)state;
    struct load_schedule s = {0};
    struct pa_err err = {0};
    assert_int_equal(schedule_rate(&s, 500, PA_DIST_POISSON, 4, 4, NS_PER_S, &err), PA_OK);
    size_t total = 0;
    uint64_t last = 0;
    for (size_t i = 0; i < 4; i++) {
        total += s.workers[i].n;
        assert_int_equal(s.workers[i].n, s.workers[0].n); /* equal shares */
        if (s.workers[i].at_ns[s.workers[i].n - 1] > last)
            last = s.workers[i].at_ns[s.workers[i].n - 1];
    }
    assert_int_equal(total % 4, 0);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s.workers[i].cycle_ns, last);
    schedule_release(&s);
}

static void test_rate_too_high(void **state)
{
    (void)state;
    struct load_schedule s = {0};
    struct pa_err err = {0};
    assert_int_not_equal(schedule_rate(&s, 2e9, PA_DIST_CONSTANT, 4, 4, 0, &err), PA_OK);
    assert_non_null(strstr(err.msg, "too high"));
}

/* Spec 04 §4 example: 100/200/500 ms → 0.1, 0.3, 0.8, 0.9, 1.1, 1.6 s ... */
static void test_custom_schedule(void **state)
{
    (void)state;
    struct load_schedule s = {0};
    struct pa_err err = {0};
    const uint64_t gaps[] = {100 * NS_PER_MS, 200 * NS_PER_MS, 500 * NS_PER_MS};
    assert_int_equal(schedule_custom(&s, gaps, 3, 4, 4, &err), PA_OK);
    size_t entries = 0;
    for (size_t i = 0; i < 4; i++) {
        entries += s.workers[i].n;
        assert_int_equal(s.workers[i].cycle_ns, 3200 * NS_PER_MS); /* lcm(3,4) gaps */
    }
    assert_int_equal(entries, 12);
    uint64_t t[40];
    size_t n = merged_times(&s, 5 * NS_PER_S, t, 40);
    static const uint64_t expect_ms[] = {100, 300, 800, 900, 1100, 1600, 1700, 1900, 2400,
                                         2500, 2700, 3200, 3300, 3500, 4000};
    assert_true(n >= 15);
    for (size_t i = 0; i < 15; i++)
        assert_int_equal(t[i], expect_ms[i] * NS_PER_MS);
    /* Consecutive requests go to consecutive threads. */
    assert_int_equal(s.workers[0].at_ns[0], 100 * NS_PER_MS);
    assert_int_equal(s.workers[1].at_ns[0], 300 * NS_PER_MS);
    assert_int_equal(s.workers[3].at_ns[0], 900 * NS_PER_MS);
    assert_int_equal(s.workers[0].at_ns[1], 1100 * NS_PER_MS);
    schedule_release(&s);

    /* The label is integer arithmetic: 3 gaps in 0.8 s → 3, not 3.75. */
    assert_true(schedule_custom_rate(gaps, 3) == 3.0);
    const uint64_t g2[] = {1 * NS_PER_MS, 2 * NS_PER_MS, 5 * NS_PER_MS};
    assert_true(schedule_custom_rate(g2, 3) == 375.0);
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/pa_test_intervals_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_read_intervals(void **state)
{
    (void)state;
    struct pa_err err = {0};
    uint64_t *gaps = NULL;
    size_t n = 0;

    char *p = write_tmp("100000\n  200000\n500000us"); /* stol: blanks and junk allowed */
    assert_int_equal(schedule_read_intervals(p, &gaps, &n, &err), PA_OK);
    assert_int_equal(n, 3);
    assert_int_equal(gaps[0], 100 * NS_PER_MS);
    assert_int_equal(gaps[1], 200 * NS_PER_MS);
    assert_int_equal(gaps[2], 500 * NS_PER_MS);
    free(gaps);
    unlink(p);
    free(p);

    p = write_tmp("");
    assert_int_equal(schedule_read_intervals(p, &gaps, &n, &err), PA_EINVAL);
    char expect[256];
    snprintf(expect, sizeof(expect), "file '%s' is empty", p);
    assert_string_equal(err.msg, expect);
    unlink(p);
    free(p);

    p = write_tmp("100\nabc\n");
    assert_int_equal(schedule_read_intervals(p, &gaps, &n, &err), PA_EINVAL);
    assert_non_null(strstr(err.msg, "line 2"));
    unlink(p);
    free(p);

    p = write_tmp("0\n0\n");
    assert_int_equal(schedule_read_intervals(p, &gaps, &n, &err), PA_EINVAL);
    unlink(p);
    free(p);

    assert_int_equal(schedule_read_intervals("/nonexistent/x", &gaps, &n, &err), PA_EIO);
    assert_string_equal(err.msg, "failed to open file '/nonexistent/x'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mt19937_reference),
        cmocka_unit_test(test_constant_gaps),
        cmocka_unit_test(test_constant_schedule_threads),
        cmocka_unit_test(test_constant_schedule_slots),
        cmocka_unit_test(test_poisson_mean_variance),
        cmocka_unit_test(test_poisson_threads),
        cmocka_unit_test(test_rate_too_high),
        cmocka_unit_test(test_custom_schedule),
        cmocka_unit_test(test_read_intervals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
