/*
 * Client-side statistics of one measurement window and the merge of the
 * last three windows of a level (spec 03-measurement.md §3, §4.1).
 *
 * Everything here is pure arithmetic on plain data so that the formulas the
 * original uses (float throughput, integer averages, the percentile index
 * rounding, the sample standard deviation in integer microseconds) can be
 * tested without threads, clocks or a server.
 */
#ifndef PA_MEASURE_STATS_H
#define PA_MEASURE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "measure/metrics.h"
#include "measure/perf_status.h"
#include "pa/status.h"

/* Fixed knobs of the computation, taken from the options once. */
struct stats_params {
    uint64_t batch_size;   /* -b; B = max(batch_size, 1) in throughput */
    int percentile;        /* --percentile, -1 = stabilize on the average */
    bool lib_stats;        /* client-library timing is collected */
    bool metrics;          /* --collect-metrics: windows carry GPU samples */
    bool schedule;         /* open loop: latency from the scheduled send time too */
};

/* Accumulated client-library counters (spec 06 §6); windows use deltas. */
struct stats_lib {
    uint64_t completed;
    uint64_t total_ns, send_ns, recv_ns;
};

/*
 * One measurement window. The profiler fills the counts, latencies, lib
 * deltas, overhead and server statistics; stats_window_finish() computes
 * the rest. err.code != 0 marks a failed window (its numbers are unused).
 */
struct stats_window {
    struct pa_err err;
    uint64_t start_ns, end_ns;
    struct pa_client_side client;
    uint64_t *latencies;       /* owned; sorted by stats_window_finish */
    size_t n_latencies;
    /* Open loop: end − scheduled send time of the same requests (owned, sorted). */
    uint64_t *sched_latencies;
    size_t n_sched_latencies;
    struct stats_lib lib;      /* end - start deltas */
    bool has_server;
    struct pa_server_side server; /* owned tree */
    struct metrics_samples metrics; /* GPU samples scraped during the window */
};

void stats_window_release(struct stats_window *w);

/* ⌊q/100·(n−1) + 0.5⌋ for a sorted list of n > 0 values. */
size_t stats_percentile_index(int q, size_t n);

/* count / (duration in seconds), in single precision as the original. */
double stats_per_sec(uint64_t count, uint64_t duration_ns);

/*
 * Sample standard deviation of n latencies around avg_ns, in whole µs.
 * UINT64_MAX when n == 1 (the caller warns), 0 when n == 0.
 */
uint64_t stats_std_us(const uint64_t *lat, size_t n, uint64_t avg_ns);

/*
 * Average, standard deviation, percentiles and stabilizing latency of a
 * sorted latency list, written into out (other fields untouched). Prints
 * the original's single-request warning to stderr when n == 1.
 */
void stats_latency_summary(const uint64_t *sorted, size_t n, int percentile,
                           struct pa_client_side *out);

/*
 * The percentiles reported for --percentile p: {50, 90, 95, 99} plus p when
 * p != -1, ascending and unique. Writes them to qs (PA_MAX_PERCENTILES
 * entries) and returns how many.
 */
size_t stats_percentile_list(int percentile, int *qs);

/*
 * Beyond the original: average and percentiles (the same q list) of the
 * latencies measured from the scheduled send time (sorted list), into
 * out->sched_*; sets out->has_schedule. Prints nothing.
 */
void stats_schedule_summary(const uint64_t *sorted, size_t n, int percentile,
                            struct pa_client_side *out);

/*
 * Completes a successful window: sorts the latencies and computes the
 * throughputs, latency summary and lib-stat averages from the counts the
 * profiler filled in (request/sequence/response counts, duration, lib).
 */
void stats_window_finish(struct stats_window *w, const struct stats_params *p);

/*
 * Merges n successful windows (the last three of a stable level) into out:
 * counts and durations summed, latencies pooled and re-summarized,
 * throughput recomputed from the sums, overhead and send rate averaged, lib
 * stats weighted, server statistics summed. out must be zeroed; the caller
 * sets the level fields (concurrency, batch size, stable). Fails only on
 * inconsistent server statistics.
 */
PA_MUST_CHECK int stats_merge(const struct stats_window *const *w, size_t n,
                              const struct stats_params *p, struct perf_status *out,
                              struct pa_err *err);

/*
 * The stability rule over the last three entries of the history (spec 03
 * §4): needs ≥ 3 entries, no zero throughput among them, and max/min ≤ 1 +
 * threshold for both throughput and latency.
 */
bool stats_is_stable(const double *infer_per_sec, const uint64_t *latency_ns, size_t n,
                     double threshold);

#endif
