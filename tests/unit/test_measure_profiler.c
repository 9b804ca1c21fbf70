/*
 * The profiler's loop and sweeps against a fake load: records are
 * synthesized on demand at a fixed rate with a latency that depends on the
 * concurrency level, so windows, stability, -r limits, the latency
 * threshold, linear and binary sweeps and the level outcome messages can be
 * checked with short (10 ms) windows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "measure/profiler.h"

struct fake_load {
    uint64_t concurrency;
    uint64_t interval_ns;      /* one record per interval */
    uint64_t last_gen;         /* end time of the last generated record */
    bool silent;               /* produce nothing (no valid requests) */
    bool failing;              /* health check fails */
    struct pa_record_batch buf;
    uint64_t completed, sent;
    uint64_t levels_set[16];
    size_t n_levels_set;
    size_t level_starts, level_dones;
    uint64_t done_levels[16];
    int stats_calls;
    atomic_bool *stop;       /* raised at the stop_at_collect-th collect call */
    int stop_at_collect, collects;
    /* Request-rate modes. */
    double rate;               /* latency = rate / 100 ms */
    double rates_set[16];
    size_t n_rates_set, rate_starts;
};

/* Latency grows with the level: c ms. */
static uint64_t latency_of(const struct fake_load *f)
{
    if (f->rate > 0)
        return (uint64_t)(f->rate * 10000.0);
    return f->concurrency * NS_PER_MS;
}

static void generate(struct fake_load *f)
{
    uint64_t now = clock_now_ns();
    if (f->silent) {
        f->last_gen = now;
        return;
    }
    while (f->last_gen + f->interval_ns <= now) {
        f->last_gen += f->interval_ns;
        if (f->buf.n == f->buf.cap) {
            f->buf.cap = f->buf.cap ? 2 * f->buf.cap : 1024;
            f->buf.records = xreallocarray(f->buf.records, f->buf.cap, sizeof(*f->buf.records));
            f->buf.response_ns =
                xreallocarray(f->buf.response_ns, f->buf.cap, sizeof(*f->buf.response_ns));
        }
        f->buf.response_ns[f->buf.n_responses] = f->last_gen;
        f->buf.records[f->buf.n++] = (struct pa_record){
            .start_ns = f->last_gen - latency_of(f),
            .end_ns = f->last_gen,
            .first_response = (uint32_t)f->buf.n_responses++,
            .n_responses = 1,
        };
        if (f->rate > 0) {
            /* Open loop: every request sent 500 µs after its schedule, every 4th "late". */
            struct pa_record *r = &f->buf.records[f->buf.n - 1];
            r->scheduled_ns = r->start_ns - 500 * NS_PER_US;
            if (f->completed % 4 == 0)
                r->flags |= PA_REC_DELAYED;
        }
        f->completed++;
        f->sent++;
    }
}

static int fl_set(void *arg, uint64_t c, struct pa_err *err)
{
    struct fake_load *f = arg;
    (void)err;
    f->concurrency = c;
    f->last_gen = clock_now_ns();
    f->levels_set[f->n_levels_set++ % 16] = c;
    return PA_OK;
}

static int fl_set_rate(void *arg, double rate, struct pa_err *err)
{
    struct fake_load *f = arg;
    (void)err;
    f->rate = rate;
    f->last_gen = clock_now_ns();
    f->rates_set[f->n_rates_set++ % 16] = rate;
    return PA_OK;
}

static void fl_rate_start(void *arg, double rate)
{
    struct fake_load *f = arg;
    (void)rate;
    f->rate_starts++;
}

static void fl_collect(void *arg, struct pa_record_batch *into)
{
    struct fake_load *f = arg;
    generate(f);
    if (f->stop && ++f->collects == f->stop_at_collect)
        atomic_store(f->stop, true);
    for (size_t i = 0; i < f->buf.n; i++) {
        if (into->n == into->cap) {
            into->cap = into->cap ? 2 * into->cap : 1024;
            into->records = xreallocarray(into->records, into->cap, sizeof(*into->records));
        }
        if (into->n_responses == into->cap_responses) {
            into->cap_responses = into->cap_responses ? 2 * into->cap_responses : 1024;
            into->response_ns =
                xreallocarray(into->response_ns, into->cap_responses, sizeof(*into->response_ns));
        }
        struct pa_record r = f->buf.records[i];
        into->response_ns[into->n_responses] = f->buf.response_ns[r.first_response];
        r.first_response = (uint32_t)into->n_responses++;
        into->records[into->n++] = r;
    }
    f->buf.n = 0;
    f->buf.n_responses = 0;
}

static int fl_health(void *arg, struct pa_err *err)
{
    struct fake_load *f = arg;
    if (f->failing)
        return pa_errorf(err, PA_ESERVER, "Failed to retrieve results from inference request.");
    return PA_OK;
}

static void fl_lib(void *arg, struct stats_lib *out)
{
    struct fake_load *f = arg;
    out->completed = f->completed;
    out->total_ns = f->completed * latency_of(f);
    out->send_ns = f->completed * 1000;
    out->recv_ns = f->completed * 2000;
}

static uint64_t fl_completed(void *arg)
{
    struct fake_load *f = arg;
    generate(f);
    return f->completed;
}

static uint64_t fl_take_sent(void *arg)
{
    struct fake_load *f = arg;
    uint64_t s = f->sent;
    f->sent = 0;
    return s;
}

static void fl_reset_idle(void *arg)
{
    (void)arg;
}

static uint64_t fl_idle(void *arg)
{
    (void)arg;
    return 0;
}

static void fl_level_start(void *arg, uint64_t c)
{
    struct fake_load *f = arg;
    (void)c;
    f->level_starts++;
}

static void fl_level_done(void *arg, const struct perf_status *s)
{
    struct fake_load *f = arg;
    f->done_levels[f->level_dones++ % 16] = s->concurrency;
}

static int fl_stats(void *arg, cJSON **out, struct pa_err *err)
{
    struct fake_load *f = arg;
    (void)err;
    f->stats_calls++;
    char text[512];
    snprintf(text, sizeof(text),
             "{\"model_stats\":[{\"name\":\"m\",\"version\":\"1\",\"inference_stats\":{"
             "\"success\":{\"count\":%d,\"ns\":%d},\"queue\":{\"count\":%d,\"ns\":%d}}}]}",
             f->stats_calls * 10, f->stats_calls * 10000, f->stats_calls * 10,
             f->stats_calls * 1000);
    *out = cJSON_Parse(text);
    return PA_OK;
}

struct setup {
    struct fake_load f;
    struct pa_options o;
    struct profiler_config cfg;
    struct pa_profile result;
    struct pa_err err;
    char out[8192];
    FILE *outf;
};

static struct setup *setup_new(void)
{
    struct setup *s = xcalloc(1, sizeof(*s));
    s->f.interval_ns = 100 * NS_PER_US;
    s->o.measurement_interval_ms = 10;
    s->o.measurement_mode = PA_MEASURE_TIME_WINDOWS;
    s->o.measurement_request_count = 50;
    s->o.load_mode = PA_LOAD_CONCURRENCY;
    s->o.search_mode = PA_SEARCH_LINEAR;
    s->o.concurrency_start = 1;
    s->o.concurrency_end = 1;
    s->o.concurrency_step = 1;
    s->o.stability_threshold = 0.1;
    s->o.max_trials = 10;
    s->o.percentile = -1;
    s->o.batch_size = 1;
    s->outf = fmemopen(s->out, sizeof(s->out), "w");
    s->cfg = (struct profiler_config){
        .opts = &s->o,
        .load = {.arg = &s->f, .set_concurrency = fl_set, .set_rate = fl_set_rate,
                 .collect = fl_collect,
                 .health = fl_health, .lib_stats = fl_lib, .completed = fl_completed,
                 .take_sent = fl_take_sent, .reset_idle = fl_reset_idle, .idle_ns = fl_idle},
        .report = {.arg = &s->f, .level_start = fl_level_start,
                   .level_start_rate = fl_rate_start, .level_done = fl_level_done},
        .model = {.name = "m", .version = ""},
        .lib_stats = true,
        .out = s->outf,
        .count_poll_ns = 5 * NS_PER_MS,
    };
    return s;
}

static void setup_free(struct setup *s)
{
    fclose(s->outf);
    pa_profile_release(&s->result);
    free(s->f.buf.records);
    free(s->f.buf.response_ns);
    free(s);
}

static void test_single_level_stable(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.verbose = 1;
    s->cfg.server_stats = fl_stats;
    s->cfg.server_stats_arg = &s->f;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->result.n_levels, 1);
    const struct perf_status *st = &s->result.levels[0];
    assert_true(st->stable);
    assert_int_equal(st->concurrency, 1);
    /* ~12 ms windows at 10 requests/ms; three of them merged */
    assert_true(st->client.request_count > 300);
    assert_true(st->client.duration_ns >= 36 * NS_PER_MS);
    assert_int_equal(st->client.avg_latency_ns, 1 * NS_PER_MS);
    assert_int_equal(st->client.std_us, 0);
    assert_true(st->client.infer_per_sec > 8000 && st->client.infer_per_sec < 11000);
    assert_true(st->client.has_lib_stats);
    assert_int_equal(st->client.avg_send_ns, 1000);
    assert_true(st->client.send_request_rate > 0);
    /* server stats: 10 more successes per snapshot, three windows */
    assert_true(st->has_server_stats);
    assert_int_equal(st->server.success.count, 30);
    assert_int_equal(st->server.queue.ns, 3000);
    assert_int_equal(s->f.level_starts, 1);
    assert_int_equal(s->f.level_dones, 1);
    /* verbose pass lines */
    fflush(s->outf);
    assert_memory_equal(s->out, "  Pass [1] throughput: ", 23);
    assert_non_null(strstr(s->out, " infer/sec. Avg latency: 1000 usec (std 0 usec). \n"));
    assert_non_null(strstr(s->out, "  Pass [3] "));
    assert_null(strstr(s->out, "  Pass [4] "));
    setup_free(s);
}

/* -r 1 and -r 2 can never reach three windows: the only level fails with exit code 2. */
static void test_max_trials_below_three(void **state)
{
    (void)state;
    for (uint64_t r = 1; r <= 2; r++) {
        struct setup *s = setup_new();
        s->o.max_trials = r;
        assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_EUNSTABLE);
        assert_string_equal(s->err.msg, "Failed to obtain stable measurement.");
        assert_int_equal(pa_exit_code(s->err.code), 2);
        assert_int_equal(s->result.n_levels, 0);
        setup_free(s);
    }
}

/* A linear sweep 1..4 with a 3 ms threshold records 1 and 2, stops at 3, exit 0. */
static void test_linear_sweep_threshold(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.concurrency_end = 4;
    s->o.latency_threshold_ms = 3;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->result.n_levels, 2);
    assert_int_equal(s->result.levels[0].concurrency, 1);
    assert_int_equal(s->result.levels[1].concurrency, 2);
    assert_int_equal(s->f.n_levels_set, 3);
    assert_int_equal(s->f.level_dones, 2);
    setup_free(s);
}

/* end 0: the sweep goes on until the threshold stops it. */
static void test_linear_sweep_end_zero(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.concurrency_end = 0;
    s->o.concurrency_step = 2;
    s->o.latency_threshold_ms = 4;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    /* 1, 3 recorded; 5 over */
    assert_int_equal(s->result.n_levels, 2);
    assert_int_equal(s->result.levels[1].concurrency, 3);
    assert_int_equal(s->f.levels_set[2], 5);
    setup_free(s);
}

/* First level stable but over the threshold: exit 0, nothing recorded. */
static void test_first_level_over_threshold(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.concurrency_start = 2;
    s->o.concurrency_end = 4;
    s->o.latency_threshold_ms = 1;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->result.n_levels, 0);
    assert_int_equal(s->f.n_levels_set, 1);
    setup_free(s);
}

static void test_binary_search(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.search_mode = PA_SEARCH_BINARY;
    s->o.concurrency_start = 1;
    s->o.concurrency_end = 8;
    s->o.latency_threshold_ms = 3;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    /* visits 1 (ok), 8 (over), 4 (over), 2 (ok), 3 (over) */
    assert_int_equal(s->f.n_levels_set, 5);
    static const uint64_t visited[] = {1, 8, 4, 2, 3};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(s->f.levels_set[i], visited[i]);
    assert_int_equal(s->result.n_levels, 2);
    assert_int_equal(s->result.levels[1].concurrency, 2);
    setup_free(s);
}

static void test_no_valid_requests(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->f.silent = true;
    s->o.verbose = 1;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_ENOREQUESTS);
    assert_string_equal(s->err.msg, "No valid requests recorded within time interval. Please "
                                    "use a larger time window.");
    assert_int_equal(pa_exit_code(s->err.code), 3);
    fflush(s->outf);
    assert_non_null(strstr(s->out, "  Pass [1] cb::Error: No valid requests recorded"));
    setup_free(s);
}

static void test_worker_failure_is_fatal(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->f.failing = true;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_ESERVER);
    assert_string_equal(s->err.msg, "Failed to retrieve results from inference request.");
    assert_int_equal(s->f.level_starts, 1);
    setup_free(s);
}

static void test_count_windows(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.measurement_mode = PA_MEASURE_COUNT_WINDOWS;
    s->o.measurement_request_count = 100;
    s->o.percentile = 95;
    s->o.verbose = 1;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->result.n_levels, 1);
    assert_true(s->result.levels[0].client.request_count >= 300);
    assert_int_equal(s->result.levels[0].client.stabilizing_latency_ns, NS_PER_MS);
    fflush(s->outf);
    assert_non_null(strstr(s->out, " infer/sec. p95 latency: 1000 usec\n"));
    setup_free(s);
}

static void test_stop_flag(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    atomic_bool stop;
    atomic_init(&stop, false);
    s->cfg.stop = &stop;
    s->o.concurrency_end = 3;
    /* collects: level 1 start + 3 windows, level 2 start + 1 window → stop */
    s->f.stop = &stop;
    s->f.stop_at_collect = 6;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_EINTR);
    assert_string_equal(s->err.msg, "Received exit signal.");
    assert_int_equal(pa_exit_code(s->err.code), 0);
    /* the level completed before the interrupt is kept */
    assert_int_equal(s->result.n_levels, 1);
    assert_int_equal(s->f.n_levels_set, 2);
    setup_free(s);
}

static void test_profile_export(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    char path[] = "unused.json";
    s->o.profile_export_file = path;
    s->o.concurrency_end = 2;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->result.n_exports, 2);
    const struct pa_level_export *e = &s->result.exports[0];
    assert_int_equal(e->concurrency, 1);
    /* start + one end per window, contiguous */
    assert_int_equal(e->n_window_boundaries, 4);
    /* every selected request is exported, at least the merged ones */
    const struct pa_record_batch *b = &e->records;
    assert_true(b->n >= s->result.levels[0].client.request_count);
    uint64_t lo = e->window_boundaries[0], hi = e->window_boundaries[3];
    for (size_t i = 0; i < b->n; i++) {
        uint64_t t = b->response_ns[b->records[i].first_response];
        assert_true(t >= lo && t <= hi);
        assert_int_equal(t - b->records[i].start_ns, NS_PER_MS);
    }
    setup_free(s);
}

/* Request rate 100:300:100, 3 ms threshold (latency = rate/100 ms): 100, 200 recorded. */
static void test_rate_linear_sweep(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.load_mode = PA_LOAD_REQUEST_RATE;
    s->o.rate_start = 100;
    s->o.rate_end = 300;
    s->o.rate_step = 100;
    s->o.latency_threshold_ms = 3;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->f.n_rates_set, 3);
    assert_true(s->f.rates_set[2] == 300);
    assert_int_equal(s->f.rate_starts, 3);
    assert_int_equal(s->f.level_starts, 0);
    assert_int_equal(s->result.n_levels, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct perf_status *st = &s->result.levels[i];
        uint64_t lat = (uint64_t)(i + 1) * NS_PER_MS;
        assert_true(st->request_rate == 100.0 * (double)(i + 1));
        assert_int_equal(st->concurrency, 0);
        assert_int_equal(st->client.avg_latency_ns, lat);
        /* latency from the schedule: the same requests, 500 µs more each */
        assert_true(st->client.has_schedule);
        assert_int_equal(st->client.sched_avg_latency_ns, lat + 500 * NS_PER_US);
        for (size_t q = 0; q < st->client.n_percentiles; q++) {
            assert_int_equal(st->client.sched_percentiles[q].q, st->client.percentiles[q].q);
            assert_int_equal(st->client.sched_percentiles[q].latency_ns,
                             st->client.percentiles[q].latency_ns + 500 * NS_PER_US);
        }
        /* every 4th request was flagged delayed */
        assert_true(st->client.delayed_request_count * 4 >= st->client.request_count - 3);
        assert_true(st->client.delayed_request_count * 4 <= st->client.request_count + 3);
    }
    setup_free(s);
}

/* Closed loop: no scheduled latency. */
static void test_concurrency_has_no_schedule(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_false(s->result.levels[0].client.has_schedule);
    setup_free(s);
}

static void test_rate_unstable_only_level(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.load_mode = PA_LOAD_REQUEST_RATE;
    s->o.rate_start = s->o.rate_end = s->o.rate_step = 100;
    s->o.max_trials = 2;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_EUNSTABLE);
    assert_string_equal(s->err.msg, "Failed to obtain stable measurement.");
    setup_free(s);
}

/* Rates bisect exactly: 100 ok, 400 over, 250 ok, 325 over, 287.5 ok. */
static void test_rate_binary_search(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    s->o.load_mode = PA_LOAD_REQUEST_RATE;
    s->o.search_mode = PA_SEARCH_BINARY;
    s->o.rate_start = 100;
    s->o.rate_end = 400;
    s->o.rate_step = 50;
    s->o.latency_threshold_ms = 3;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    static const double visited[] = {100, 400, 250, 325, 287.5};
    assert_int_equal(s->f.n_rates_set, 5);
    for (size_t i = 0; i < 5; i++)
        assert_true(s->f.rates_set[i] == visited[i]);
    assert_int_equal(s->result.n_levels, 3);
    assert_true(s->result.levels[2].request_rate == 287.5);
    setup_free(s);
}

/* Custom intervals: one level, no header, the integer label; unstable is not an error. */
static void test_custom_intervals(void **state)
{
    (void)state;
    struct setup *s = setup_new();
    char path[] = "unused.json";
    s->o.load_mode = PA_LOAD_CUSTOM_INTERVALS;
    s->o.search_mode = PA_SEARCH_NONE;
    s->o.profile_export_file = path;
    s->cfg.custom_rate = 375;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->f.n_rates_set, 1);
    assert_true(s->f.rates_set[0] == 375);
    assert_int_equal(s->f.rate_starts, 0);
    assert_int_equal(s->result.n_levels, 1);
    assert_true(s->result.levels[0].request_rate == 375);
    assert_true(s->result.levels[0].client.has_schedule);
    assert_int_equal(s->result.n_exports, 1);
    assert_int_equal(s->result.exports[0].concurrency, 0);
    assert_true(s->result.exports[0].request_rate == 375);
    setup_free(s);

    s = setup_new();
    s->o.load_mode = PA_LOAD_CUSTOM_INTERVALS;
    s->o.search_mode = PA_SEARCH_NONE;
    s->o.max_trials = 2;
    s->cfg.custom_rate = 375;
    assert_int_equal(profiler_run(&s->cfg, &s->result, &s->err), PA_OK);
    assert_int_equal(s->result.n_levels, 0);
    setup_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_level_stable),
        cmocka_unit_test(test_max_trials_below_three),
        cmocka_unit_test(test_linear_sweep_threshold),
        cmocka_unit_test(test_linear_sweep_end_zero),
        cmocka_unit_test(test_first_level_over_threshold),
        cmocka_unit_test(test_binary_search),
        cmocka_unit_test(test_no_valid_requests),
        cmocka_unit_test(test_worker_failure_is_fatal),
        cmocka_unit_test(test_count_windows),
        cmocka_unit_test(test_stop_flag),
        cmocka_unit_test(test_profile_export),
        cmocka_unit_test(test_rate_linear_sweep),
        cmocka_unit_test(test_concurrency_has_no_schedule),
        cmocka_unit_test(test_rate_unstable_only_level),
        cmocka_unit_test(test_rate_binary_search),
        cmocka_unit_test(test_custom_intervals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
