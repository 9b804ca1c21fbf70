/*
 * The profiler: sweeps load levels and, for each, measures windows until
 * the last three are stable (spec 03-measurement.md §2, §4, §7).
 *
 * The profiler does not know how load is generated. It drives the load
 * through struct profiler_load (the pipeline wires it to load/), fetches
 * server statistics through a callback, and hands each level's outcome to
 * struct profiler_report (the pipeline wires it to report/). It runs on the
 * main thread; the callbacks are called from that thread only.
 */
#ifndef PA_MEASURE_PROFILER_H
#define PA_MEASURE_PROFILER_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/options.h"
#include "measure/mpi.h"
#include "measure/perf_status.h"
#include "measure/server_stats.h"
#include "measure/stats.h"
#include "pa/record.h"
#include "pa/status.h"

struct profiler_load {
    void *arg;
    /* Sets the concurrency level (waits until the load runs at it). */
    int (*set_concurrency)(void *arg, uint64_t concurrency, struct pa_err *err);
    /* Request-rate and custom-interval modes: starts the level's schedule
     * (custom intervals: rate is the computed label, the schedule is the
     * file's). */
    int (*set_rate)(void *arg, double rate, struct pa_err *err);
    /* Appends every record completed so far to *into and empties the
     * workers' batches. */
    void (*collect)(void *arg, struct pa_record_batch *into);
    /* PA_OK, or the workers' failure (spec 04 §1 health check). */
    int (*health)(void *arg, struct pa_err *err);
    /* Accumulated client-library counters over all workers. */
    void (*lib_stats)(void *arg, struct stats_lib *out);
    /* Requests completed since the load started (count windows). */
    uint64_t (*completed)(void *arg);
    /* Requests sent since the previous call (the send-rate counter). */
    uint64_t (*take_sent)(void *arg);
    /* Idle timers: reset all; mean over the workers with non-zero idle time. */
    void (*reset_idle)(void *arg);
    uint64_t (*idle_ns)(void *arg);
};

struct profiler_report {
    void *arg;
    /* A level is about to be measured ("Request concurrency: C"). */
    void (*level_start)(void *arg, uint64_t concurrency);
    /* Request-rate mode: "Request Rate: R inference requests per seconds".
     * (Custom intervals print nothing.) */
    void (*level_start_rate)(void *arg, double rate);
    /* Verbose pass lines (only called with -v). When NULL the profiler
     * prints them to profiler_config.out itself. */
    void (*pass)(void *arg, unsigned k, const struct perf_status *window);
    void (*pass_failed)(void *arg, unsigned k, const char *message);
    /* A level ended stable and under the latency threshold. */
    void (*level_done)(void *arg, const struct perf_status *status);
};

/* Fetches a statistics JSON ({"model_stats":[...]}); *out is deleted by the profiler. */
typedef int profiler_stats_fn(void *arg, cJSON **out, struct pa_err *err);

struct profiler_config {
    const struct pa_options *opts;
    struct profiler_load load;
    struct profiler_report report;
    profiler_stats_fn *server_stats; /* NULL: no server-side statistics */
    void *server_stats_arg;
    struct server_model model;       /* for the statistics deltas */
    bool lib_stats;                  /* client-library timing collected */
    FILE *out;                       /* verbose "Pass [k]" lines without report.pass */
    /* Set asynchronously (SIGINT); the profiler stops at the next check. */
    const atomic_bool *stop;
    /* Custom intervals: the level's "request rate" label (schedule_custom_rate). */
    double custom_rate;
    /* --enable-mpi: in an MPI run a level is done only when every rank is
     * stable (spec 03 §9). NULL or not an MPI run: this process's own
     * stability decides. */
    struct mpi *mpi;
    /* Sleep granularity while waiting (tests shorten it); 0 = defaults. */
    uint64_t count_poll_ns;          /* count_windows poll, 1 s */
};

/* The three outcomes of a measured level (spec 03 §7). */
enum level_outcome {
    LEVEL_RECORDED,        /* stable and under the latency threshold */
    LEVEL_OVER_THRESHOLD,  /* stable but its latency reached the threshold */
    LEVEL_UNSTABLE,        /* never became stable */
};

/* Decides a level's outcome; threshold_ms 0 = no threshold. */
enum level_outcome profiler_level_outcome(bool stable, uint64_t stabilizing_latency_ns,
                                          uint64_t threshold_ms);

/*
 * Runs the sweep the options ask for: concurrency or request rate, linear or
 * binary search; custom intervals measure one level (an unstable one only
 * prints "Failed to obtain stable measurement." and returns PA_OK). In the
 * open-loop modes every level also gets the latency from the scheduled send
 * time (perf_status.client.has_schedule). Every recorded level is appended to result->levels and passed to
 * report.level_done; with a profile export file, every measured level's
 * requests go to result->exports. Returns PA_OK; PA_EUNSTABLE "Failed to
 * obtain stable measurement." (exit 2) when the only level of a linear sweep
 * was unstable; PA_EINTR "Received exit signal." when stopped (results so far
 * are kept); or the oldest surviving window error / worker failure.
 * result must be zeroed; the caller releases it with pa_profile_release.
 */
PA_MUST_CHECK int profiler_run(const struct profiler_config *cfg, struct pa_profile *result,
                               struct pa_err *err);

#endif
