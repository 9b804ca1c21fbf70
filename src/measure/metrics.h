/*
 * Prometheus GPU metrics (--collect-metrics, spec 03-measurement.md §8):
 * parsing the exposition text, a poller thread that scrapes the endpoint
 * every --metrics-interval ms while a level is measured, and the per-GPU
 * aggregation over a level's windows.
 *
 * A sample is one GPU in one scrape (struct pa_gpu_metric with the has_*
 * flags saying which of the four values that scrape had).
 */
#ifndef PA_MEASURE_METRICS_H
#define PA_MEASURE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "measure/perf_status.h"
#include "pa/status.h"

/* A list of samples (owned). */
struct metrics_samples {
    struct pa_gpu_metric *s;
    size_t n, cap;
};

void metrics_samples_release(struct metrics_samples *m);

/*
 * Parses one scrape's text into samples appended to out (one per GPU UUID
 * seen). *missing gets bit i set when metric i (utilization, power, memory
 * used, memory total) had no match.
 */
void metrics_parse(const char *text, struct metrics_samples *out, unsigned *missing);

/*
 * Aggregates samples per GPU (utilization and power: mean; memory used:
 * max; total memory: first seen) into a new array sorted by UUID.
 */
void metrics_aggregate(const struct metrics_samples *const *lists, size_t n_lists,
                       struct pa_gpu_metric **out, size_t *n_out);

struct metrics_poller;

/*
 * Starts scraping url every interval_ms on a new thread. The first failed
 * scrape ends the polling (the original's behaviour): that failure is
 * reported once by metrics_poller_take() and the level goes on without
 * GPU metrics.
 */
PA_MUST_CHECK int metrics_poller_start(struct metrics_poller **out, const char *url,
                                       uint64_t interval_ms, struct pa_err *err);

/*
 * Moves the samples scraped since the previous call into *into. Returns
 * PA_OK, or the first scrape failure since the previous call (the window
 * error "Unable to connect to Metrics endpoint <url>" / "Metrics endpoint
 * curling did not succeed.").
 */
PA_MUST_CHECK int metrics_poller_take(struct metrics_poller *p, struct metrics_samples *into,
                                      struct pa_err *err);

/* Stops the thread and frees. NULL is fine. */
void metrics_poller_stop(struct metrics_poller *p);

#endif
