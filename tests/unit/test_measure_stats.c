/*
 * Statistics formulas, the three-window merge, the stability rule, level
 * outcomes and server-side statistics deltas (spec 03 §3-§5, §7).
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

#include "core/clock.h"
#include "core/xalloc.h"
#include "measure/perf_status.h"
#include "measure/profiler.h"
#include "measure/server_stats.h"
#include "measure/stats.h"

static void test_percentile_index(void **state)
{
    (void)state;
    assert_int_equal(stats_percentile_index(50, 1), 0);
    assert_int_equal(stats_percentile_index(99, 1), 0);
    /* 0.5·9 + 0.5 = 5.0 → 5 ; 0.9·9 + 0.5 = 8.6 → 8 ; 0.99·9 + 0.5 = 9.41 → 9 */
    assert_int_equal(stats_percentile_index(50, 10), 5);
    assert_int_equal(stats_percentile_index(90, 10), 8);
    assert_int_equal(stats_percentile_index(95, 10), 9);
    assert_int_equal(stats_percentile_index(99, 10), 9);
    /* 0.5·1 + 0.5 = 1.0 → 1 (rounds half up) */
    assert_int_equal(stats_percentile_index(50, 2), 1);
    assert_int_equal(stats_percentile_index(95, 100), 94);
    assert_int_equal(stats_percentile_index(99, 100), 98);
}

static void test_std_dev(void **state)
{
    (void)state;
    uint64_t lat[] = {1000000, 2000000, 3000000};
    /* Σd² = 2e12, /2 = 1e12, sqrt = 1e6 ns → 1000 µs */
    assert_int_equal(stats_std_us(lat, 3, 2000000), 1000);
    uint64_t one[] = {5000};
    assert_true(stats_std_us(one, 1, 5000) == UINT64_MAX);
    /* Truncation at each step: {1000, 1001} around avg 1000 → s = 1, /1 = 1, sqrt 1 → 0 µs */
    uint64_t two[] = {1000, 1001};
    assert_int_equal(stats_std_us(two, 2, 1000), 0);
    /* Large deviations (> 3 s) must not overflow into garbage: 4 s and 0 around 2 s */
    uint64_t big[] = {0, 4000000000ULL};
    assert_int_equal(stats_std_us(big, 2, 2000000000ULL), 2828427); /* sqrt(8e18)/1000 */
}

static void test_float_throughput(void **state)
{
    (void)state;
    /* Single precision all the way: 1000 / 1.2f */
    assert_true(stats_per_sec(1000, 1200000000ULL) == 833.3333129882812);
    /* (float)999999999 rounds to 1e9, so this is exactly 1407 (double math gives 1407.0000014) */
    assert_true(stats_per_sec(1407, 999999999ULL) == 1407.0);
    assert_true(stats_per_sec(2, 3000000000ULL) == 0.6666666865348816);
}

static void test_latency_summary_percentiles(void **state)
{
    (void)state;
    uint64_t lat[10];
    for (size_t i = 0; i < 10; i++)
        lat[i] = (i + 1) * 1000;
    struct pa_client_side c = {0};
    stats_latency_summary(lat, 10, -1, &c);
    assert_int_equal(c.avg_latency_ns, 5500);
    assert_int_equal(c.n_percentiles, 4);
    assert_int_equal(c.percentiles[0].q, 50);
    assert_int_equal(c.percentiles[0].latency_ns, 6000);
    assert_int_equal(c.percentiles[1].latency_ns, 9000);
    assert_int_equal(c.percentiles[3].q, 99);
    assert_int_equal(c.stabilizing_latency_ns, 5500);

    memset(&c, 0, sizeof(c));
    stats_latency_summary(lat, 10, 75, &c);
    assert_int_equal(c.n_percentiles, 5);
    assert_int_equal(c.percentiles[1].q, 75); /* ascending position */
    assert_int_equal(c.percentiles[1].latency_ns, lat[stats_percentile_index(75, 10)]);
    assert_int_equal(c.stabilizing_latency_ns, c.percentiles[1].latency_ns);

    memset(&c, 0, sizeof(c));
    stats_latency_summary(lat, 10, 95, &c); /* already in the set: not repeated */
    assert_int_equal(c.n_percentiles, 4);
    assert_int_equal(c.stabilizing_latency_ns, 10000);

    memset(&c, 0, sizeof(c));
    stats_latency_summary(lat, 10, 1, &c);
    assert_int_equal(c.percentiles[0].q, 1);
    memset(&c, 0, sizeof(c));
    stats_latency_summary(lat, 10, 99, &c);
    assert_int_equal(c.n_percentiles, 4);
}

static struct stats_window *window(const uint64_t *lat, size_t n, uint64_t dur, double overhead,
                                   uint64_t lib_completed, uint64_t lib_total)
{
    struct stats_window *w = xcalloc(1, sizeof(*w));
    w->latencies = xmalloc(n * sizeof(*lat));
    memcpy(w->latencies, lat, n * sizeof(*lat));
    w->n_latencies = n;
    w->client.request_count = n;
    w->client.response_count = n;
    w->client.duration_ns = dur;
    w->client.overhead_pct = overhead;
    w->lib.completed = lib_completed;
    w->lib.total_ns = lib_total;
    return w;
}

static void test_merge(void **state)
{
    (void)state;
    struct stats_params p = {.batch_size = 2, .percentile = -1, .lib_stats = true};
    uint64_t a[] = {3000, 1000}, b[] = {2000}, c[] = {6000, 5000, 4000};
    struct stats_window *w[3] = {
        window(a, 2, 1000000000, 10.0, 2, 4000),
        window(b, 1, 1000000000, 20.0, 1, 3000),
        window(c, 3, 2000000000, 30.0, 3, 15000),
    };
    for (size_t i = 0; i < 3; i++)
        stats_window_finish(w[i], &p);
    assert_int_equal(w[0]->latencies[0], 1000); /* sorted */
    assert_true(w[0]->client.infer_per_sec == 4.0);
    assert_int_equal(w[0]->client.avg_request_ns, 2000);

    struct perf_status st = {0};
    struct pa_err err = {0};
    const struct stats_window *cw[3] = {w[0], w[1], w[2]};
    assert_int_equal(stats_merge(cw, 3, &p, &st, &err), PA_OK);
    assert_int_equal(st.client.request_count, 6);
    assert_int_equal(st.client.duration_ns, 4000000000ULL);
    assert_true(st.client.infer_per_sec == 3.0); /* 6·2 / 4 s */
    assert_int_equal(st.client.avg_latency_ns, 3500);
    /* pooled sorted {1..6}k: p50 index ⌊2.5+0.5⌋ = 3 → 4000 */
    assert_int_equal(st.client.percentiles[0].latency_ns, 4000);
    assert_int_equal(st.client.percentiles[3].latency_ns, 6000);
    /* sample std: Σd² = 17.5e6, /5 = 3.5e6, sqrt = 1870.8 ns → 1 µs */
    assert_int_equal(st.client.std_us, 1);
    assert_true(fabs(st.client.overhead_pct - 20.0) < 1e-9);
    assert_int_equal(st.client.lib_completed, 6);
    /* Σ avgᵢ·countᵢ / Σ countᵢ = (2000·2 + 3000·1 + 5000·3) / 6 */
    assert_int_equal(st.client.avg_request_ns, (2000 * 2 + 3000 + 5000 * 3) / 6);
    assert_false(st.has_server_stats);
    perf_status_release(&st);
    for (size_t i = 0; i < 3; i++) {
        stats_window_release(w[i]);
        free(w[i]);
    }
}

/* Open loop: scheduled latencies are summarized and pooled like the latencies. */
static void test_merge_schedule(void **state)
{
    (void)state;
    struct stats_params p = {.batch_size = 1, .percentile = 95, .schedule = true};
    uint64_t a[] = {1000, 2000}, b[] = {3000, 4000};
    uint64_t sa[] = {9000, 1500}, sb[] = {5000, 3000}; /* end − scheduled send */
    struct stats_window *w[2] = {window(a, 2, NS_PER_S, 0, 0, 0), window(b, 2, NS_PER_S, 0, 0, 0)};
    const uint64_t *sl[2] = {sa, sb};
    for (size_t i = 0; i < 2; i++) {
        w[i]->sched_latencies = xmalloc(2 * sizeof(uint64_t));
        memcpy(w[i]->sched_latencies, sl[i], 2 * sizeof(uint64_t));
        w[i]->n_sched_latencies = 2;
        stats_window_finish(w[i], &p);
    }
    assert_true(w[0]->client.has_schedule);
    assert_int_equal(w[0]->client.sched_avg_latency_ns, 5250);
    assert_int_equal(w[0]->sched_latencies[0], 1500); /* sorted */

    struct perf_status st = {0};
    struct pa_err err = {0};
    const struct stats_window *cw[2] = {w[0], w[1]};
    assert_int_equal(stats_merge(cw, 2, &p, &st, &err), PA_OK);
    assert_true(st.client.has_schedule);
    assert_int_equal(st.client.sched_avg_latency_ns, (9000 + 1500 + 5000 + 3000) / 4);
    /* same q list as the latencies: 50, 90, 95 (user), 99 */
    assert_int_equal(st.client.n_percentiles, 4);
    static const int qs[] = {50, 90, 95, 99};
    /* pooled sorted {1500, 3000, 5000, 9000}: p50 index ⌊1.5+0.5⌋ = 2 */
    static const uint64_t expect[] = {5000, 9000, 9000, 9000};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(st.client.sched_percentiles[i].q, qs[i]);
        assert_int_equal(st.client.sched_percentiles[i].latency_ns, expect[i]);
    }
    assert_int_equal(st.client.avg_latency_ns, 2500); /* the original figure is unchanged */
    perf_status_release(&st);
    for (size_t i = 0; i < 2; i++) {
        stats_window_release(w[i]);
        free(w[i]);
    }
}

static void test_stability_rule(void **state)
{
    (void)state;
    double t[] = {100, 105, 108, 120};
    uint64_t l[] = {1000, 1050, 1000, 1000};
    assert_false(stats_is_stable(t, l, 2, 0.1)); /* fewer than 3 */
    assert_true(stats_is_stable(t, l, 3, 0.1));  /* 108/100 ≤ 1.1 */
    assert_false(stats_is_stable(t, l, 4, 0.1)); /* 120/105 > 1.1 */
    assert_true(stats_is_stable(t, l, 4, 0.2));

    /* latency must agree too */
    uint64_t l2[] = {1000, 1000, 1200};
    assert_false(stats_is_stable(t, l2, 3, 0.1));

    /* -s 0: only exact equality */
    double te[] = {50, 50, 50};
    uint64_t le[] = {7, 7, 7};
    assert_true(stats_is_stable(te, le, 3, 0.0));
    le[2] = 8;
    assert_false(stats_is_stable(te, le, 3, 0.0));

    /* A failed window (0, ∞) poisons the next two windows. */
    double tp[] = {100, 0, 100, 100, 100};
    uint64_t lp[] = {10, UINT64_MAX, 10, 10, 10};
    assert_false(stats_is_stable(tp, lp, 3, 0.1));
    assert_false(stats_is_stable(tp, lp, 4, 0.1));
    assert_true(stats_is_stable(tp, lp, 5, 0.1));
}

static void test_level_outcome(void **state)
{
    (void)state;
    assert_int_equal(profiler_level_outcome(false, 0, 0), LEVEL_UNSTABLE);
    assert_int_equal(profiler_level_outcome(false, 0, 5), LEVEL_UNSTABLE);
    assert_int_equal(profiler_level_outcome(true, 9 * NS_PER_MS, 0), LEVEL_RECORDED);
    /* ⌊latency / 1e6⌋ ≥ threshold */
    assert_int_equal(profiler_level_outcome(true, 4999999, 5), LEVEL_RECORDED);
    assert_int_equal(profiler_level_outcome(true, 5000000, 5), LEVEL_OVER_THRESHOLD);
}

/* --- server statistics -------------------------------------------------- */

#define STATS_ENTRY(name, ver, n, q, qns, cns)                                              \
    "{\"name\":\"" name "\",\"version\":\"" ver "\",\"inference_count\":" #n                 \
    ",\"execution_count\":" #n ",\"inference_stats\":{"                                      \
    "\"success\":{\"count\":" #n ",\"ns\":\"" #cns "\"},"                                    \
    "\"queue\":{\"count\":" #q ",\"ns\":" #qns "},"                                          \
    "\"compute_input\":{\"count\":" #n ",\"ns\":" #n "000},"                                 \
    "\"compute_infer\":{\"count\":" #n ",\"ns\":" #cns "},"                                  \
    "\"compute_output\":{\"count\":" #n ",\"ns\":0},"                                        \
    "\"cache_hit\":{\"count\":0,\"ns\":0},\"cache_miss\":{\"count\":0,\"ns\":0}}}"

static void parse(const char *text, struct server_snapshot *s)
{
    struct pa_err err = {0};
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_int_equal(server_snapshot_parse(j, s, &err), PA_OK);
    cJSON_Delete(j);
}

static void test_server_delta_versions(void **state)
{
    (void)state;
    struct server_snapshot s0 = {0}, s1 = {0};
    struct pa_server_side out;
    struct pa_err err = {0};
    parse("{\"model_stats\":[" STATS_ENTRY("m", "1", 10, 10, 500, 9000) ","
          STATS_ENTRY("m", "2", 4, 4, 100, 400) "]}", &s0);
    parse("{\"model_stats\":[" STATS_ENTRY("m", "1", 30, 30, 2500, 29000) ","
          STATS_ENTRY("m", "2", 4, 4, 100, 400) "]}", &s1);
    assert_int_equal(s1.n, 2);
    assert_int_equal(s1.entries[0].success.ns, 29000); /* "ns" given as a string */

    /* Only version 1 moved: it is chosen although 2 is higher. */
    struct server_model m = {.name = "m", .version = ""};
    assert_int_equal(server_stats_delta(&s0, &s1, &m, &out, &err), PA_OK);
    assert_string_equal(out.version, "1");
    assert_int_equal(out.success.count, 20);
    assert_int_equal(out.success.ns, 20000);
    assert_int_equal(out.queue.ns, 2000);
    assert_int_equal(out.inference_count, 20);
    server_side_clear(&out);

    /* Explicit version: taken as is even if it did not move. */
    m.version = "2";
    assert_int_equal(server_stats_delta(&s0, &s1, &m, &out, &err), PA_OK);
    assert_string_equal(out.version, "2");
    assert_int_equal(out.success.count, 0);
    server_side_clear(&out);

    /* Missing explicit version. */
    m.version = "3";
    assert_int_equal(server_stats_delta(&s0, &s1, &m, &out, &err), PA_ESERVER);
    assert_string_equal(err.msg, "failed to find the requested model version");

    /* Nothing moved. */
    m.version = "";
    assert_int_equal(server_stats_delta(&s1, &s1, &m, &out, &err), PA_ESERVER);
    assert_string_equal(err.msg, "failed to find the requested model version");

    /* Both moved (start empty → start counters 0): highest wins (warning on stderr). */
    struct server_snapshot empty = {0};
    assert_int_equal(server_stats_delta(&empty, &s1, &m, &out, &err), PA_OK);
    assert_string_equal(out.version, "2");
    assert_int_equal(out.success.count, 4);
    server_side_clear(&out);

    server_snapshot_release(&s0);
    server_snapshot_release(&s1);
}

static void test_server_delta_compute_counts(void **state)
{
    (void)state;
    struct server_snapshot s0 = {0}, s1 = {0};
    struct pa_server_side out;
    struct pa_err err = {0};
    parse("{\"model_stats\":[]}", &s0);
    parse("{\"model_stats\":[{\"name\":\"m\",\"version\":\"1\",\"inference_stats\":{"
          "\"queue\":{\"count\":2,\"ns\":1},\"compute_input\":{\"count\":2,\"ns\":1},"
          "\"compute_infer\":{\"count\":1,\"ns\":1},\"compute_output\":{\"count\":2,\"ns\":1}"
          "}}]}",
          &s1);
    struct server_model m = {.name = "m", .version = ""};
    assert_int_equal(server_stats_delta(&s0, &s1, &m, &out, &err), PA_ESERVER);
    assert_string_equal(err.msg, "Server side statistics compute counts must be the same.");
    server_snapshot_release(&s0);
    server_snapshot_release(&s1);
}

static void test_server_delta_ensemble(void **state)
{
    (void)state;
    struct server_snapshot s0 = {0}, s1 = {0};
    struct pa_server_side out, sum;
    struct pa_err err = {0};
    parse("{\"model_stats\":[" STATS_ENTRY("ens", "1", 0, 0, 0, 0) ","
          STATS_ENTRY("a", "1", 0, 0, 0, 0) "," STATS_ENTRY("inner", "1", 0, 0, 0, 0) ","
          STATS_ENTRY("b", "3", 0, 0, 0, 0) "]}", &s0);
    parse("{\"model_stats\":[" STATS_ENTRY("ens", "1", 10, 10, 0, 50000000) ","
          STATS_ENTRY("a", "1", 10, 10, 1000000, 20000000) ","
          STATS_ENTRY("inner", "1", 10, 10, 0, 25000000) ","
          STATS_ENTRY("b", "3", 10, 10, 2000000, 10000000) "]}", &s1);

    /* ens → {a, inner}; inner (nested ensemble) → {b} */
    /* model.h's fields are mutable char *; the literals live in arrays. */
    char n_a[] = "a", n_b[] = "b", n_inner[] = "inner", n_ens[] = "ens", n_zzz[] = "zzz";
    char v_none[] = "", v_none2[] = "", v_none3[] = "", v_1[] = "1";
    struct pa_name_version ens_models[] = {{n_a, v_none}, {n_inner, v_1}};
    struct pa_name_version inner_models[] = {{n_b, v_none2}};
    struct pa_composing map[] = {
        {.parent = n_ens, .models = ens_models, .n_models = 2},
        {.parent = n_inner, .models = inner_models, .n_models = 1},
    };
    struct server_model m = {.name = "ens", .version = "", .composing = map, .n_composing = 2};
    assert_int_equal(server_stats_delta(&s0, &s1, &m, &out, &err), PA_OK);
    assert_string_equal(out.name, "ens");
    assert_int_equal(out.n_composing, 2);
    assert_string_equal(out.composing[0].name, "a");
    assert_string_equal(out.composing[0].version, "1");
    assert_int_equal(out.composing[1].n_composing, 1);
    assert_string_equal(out.composing[1].composing[0].name, "b");
    assert_string_equal(out.composing[1].composing[0].version, "3");
    assert_int_equal(out.composing[1].composing[0].queue.ns, 2000000);

    /* Ensemble summary: sums over the leaves a and b. */
    struct pa_server_summary sm;
    perf_status_server_summary(&out, false, &sm);
    assert_int_equal(sm.avg_request_us, 5000);   /* 50 ms / 10 */
    assert_int_equal(sm.queue_us, 100 + 200);    /* a 1 ms/10, b 2 ms/10 */
    /* compute per leaf = (input n·1000 + infer cns + 0)/(n·1000): a 2001, b 1001 */
    assert_int_equal(sm.compute_us, 2001 + 1001);
    assert_int_equal(sm.overhead_us, 5000 - 300 - 3002);
    /* Clamped at zero when the parts exceed the total. */
    struct pa_server_side leaf = out.composing[0];
    leaf.success.ns = 0;
    perf_status_server_summary(&leaf, false, &sm);
    assert_int_equal(sm.overhead_us, 0);

    /* Merge: counters summed recursively; shape mismatch is an error. */
    memset(&sum, 0, sizeof(sum));
    server_side_copy(&sum, &out);
    assert_int_equal(server_stats_add(&sum, &out, &err), PA_OK);
    assert_int_equal(sum.success.count, 20);
    assert_int_equal(sum.composing[1].composing[0].queue.ns, 4000000);
    struct pa_server_side flat = {0};
    assert_int_equal(server_stats_add(&sum, &flat, &err), PA_EINTERNAL);
    assert_string_equal(err.msg, "Inconsistent ensemble setting detected between the trials.");

    /* A composing model missing from the statistics. */
    struct pa_name_version bad_models[] = {{n_zzz, v_none3}};
    map[1].models = bad_models;
    struct pa_server_side out2;
    assert_int_equal(server_stats_delta(&s0, &s1, &m, &out2, &err), PA_ESERVER);
    assert_string_equal(err.msg, "failed to find the requested model version");

    server_side_clear(&sum);
    server_side_clear(&out);
    server_snapshot_release(&s0);
    server_snapshot_release(&s1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile_index),
        cmocka_unit_test(test_std_dev),
        cmocka_unit_test(test_float_throughput),
        cmocka_unit_test(test_latency_summary_percentiles),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_schedule),
        cmocka_unit_test(test_stability_rule),
        cmocka_unit_test(test_level_outcome),
        cmocka_unit_test(test_server_delta_versions),
        cmocka_unit_test(test_server_delta_compute_counts),
        cmocka_unit_test(test_server_delta_ensemble),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
