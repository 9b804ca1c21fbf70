/*
 * The result of measuring one load level: what the profiler hands to the
 * report layer (console, CSV, profile export). Values are the merge of the
 * last three windows (spec 03-measurement.md §4.1). Plain data, no pointers
 * into live measurement state.
 */
#ifndef PA_MEASURE_PERF_STATUS_H
#define PA_MEASURE_PERF_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pa/record.h"

/* Percentiles reported: 50, 90, 95, 99 and --percentile when given. */
#define PA_MAX_PERCENTILES 5

struct pa_percentile {
    int q;                 /* 50, 90, ... */
    uint64_t latency_ns;
};

struct pa_client_side {
    uint64_t request_count;
    uint64_t sequence_count;
    uint64_t delayed_request_count;
    uint64_t response_count;
    uint64_t duration_ns;
    double infer_per_sec;      /* computed in float as the original does */
    double sequence_per_sec;
    double responses_per_sec;
    uint64_t avg_latency_ns;
    uint64_t std_us;           /* sample std dev; UINT64_MAX when n == 1 */
    struct pa_percentile percentiles[PA_MAX_PERCENTILES]; /* ascending q */
    size_t n_percentiles;
    uint64_t stabilizing_latency_ns; /* avg, or the --percentile value */
    /* Client-library timing (when collected): averages over completed requests. */
    bool has_lib_stats;
    uint64_t lib_completed;
    uint64_t avg_request_ns, avg_send_ns, avg_receive_ns;
    double overhead_pct;
    double send_request_rate;
    /* Beyond the original: latency measured from the scheduled send time
     * (request-rate modes; coordinated-omission free). has_schedule false
     * in closed-loop modes. */
    bool has_schedule;
    uint64_t sched_avg_latency_ns;
    struct pa_percentile sched_percentiles[PA_MAX_PERCENTILES];
};

struct pa_stat_pair {
    uint64_t count;
    uint64_t ns;
};

/* Server-side statistics deltas of one model, and of its composing models. */
struct pa_server_side {
    char name[256];
    char version[64];          /* resolved version */
    uint64_t inference_count;
    uint64_t execution_count;
    struct pa_stat_pair success, queue, compute_input, compute_infer, compute_output,
        cache_hit, cache_miss;
    struct pa_server_side *composing; /* owned; n_composing entries, (name, version) order */
    size_t n_composing;
};

/* Per-GPU Prometheus metrics aggregated over a level. */
struct pa_gpu_metric {
    char uuid[128];
    double utilization;        /* fraction 0..1, mean */
    double power_watts;        /* mean */
    uint64_t memory_used;      /* max */
    uint64_t memory_total;     /* first seen */
    /* which of the four were seen for this GPU */
    bool has_utilization, has_power, has_memory_used, has_memory_total;
};

struct perf_status {
    uint64_t concurrency;      /* 0 in request-rate modes */
    double request_rate;       /* 0 in concurrency mode */
    uint64_t batch_size;
    bool stable;
    struct pa_client_side client;
    bool has_server_stats;
    struct pa_server_side server;
    bool has_metrics;
    struct pa_gpu_metric *gpus; /* owned, sorted by uuid */
    size_t n_gpus;
};

/* Frees what a perf_status owns (composing trees, gpus). */
void perf_status_release(struct perf_status *s);

/*
 * The derived server-side values the report prints (spec 03 §5), in whole
 * µs: avg(t, c) = ⌊t / (c·1000)⌋, 0 when c == 0. For an ensemble (a node with
 * composing models) queue, compute*, cache and combined are the sums of the
 * leaf models' averages, and overhead = avg request latency − Σqueue −
 * Σcompute (or − Σcombined with the cache enabled), clamped at 0.
 */
struct pa_server_summary {
    uint64_t success_count;
    uint64_t avg_request_us;
    uint64_t queue_us;
    uint64_t compute_input_us, compute_infer_us, compute_output_us;
    uint64_t compute_us;       /* input + infer + output over compute_input.count */
    uint64_t cache_hit_us, cache_miss_us;
    uint64_t combined_us;      /* cache + compute over compute_input.count + cache_hit.count */
    uint64_t overhead_us;
};

void perf_status_server_summary(const struct pa_server_side *s, bool cache_enabled,
                                struct pa_server_summary *out);

/*
 * Profile export data of one measured level (spec 07 §6): every record
 * selected into any window of the level (stable or not), plus the records
 * dropped because their only response was empty, in window order; and the
 * window boundaries (start of the first window, then each window's end).
 * Times are CLOCK_MONOTONIC ns, as in the records: the export writer adds
 * clock_epoch_offset_ns(). A record's response times are
 * records.response_ns[first_response .. + n_responses).
 */
struct pa_level_export {
    uint64_t concurrency;      /* 0 in request-rate modes */
    double request_rate;
    struct pa_record_batch records;     /* owned */
    uint64_t *window_boundaries;        /* owned */
    size_t n_window_boundaries, cap_window_boundaries;
};

void pa_level_export_release(struct pa_level_export *e);

/*
 * Everything a profile run produced, in measurement order: `levels` are the
 * recorded (stable, under-threshold) levels the summary and CSV list;
 * `exports` one entry per measured level (only filled when a profile export
 * file was requested).
 */
struct pa_profile {
    struct perf_status *levels;         /* owned */
    size_t n_levels;
    struct pa_level_export *exports;    /* owned */
    size_t n_exports;
};

void pa_profile_release(struct pa_profile *p);

#endif
