/*
 * The load manager: creates the worker threads and sets the load level of
 * every mode that is measured level by level (spec 04 §2-§4).
 *
 *  - concurrency (load_set_concurrency): threads are created on demand
 *    (sync: one per unit of concurrency; async: up to --max-threads) and
 *    never destroyed; every level re-sizes every worker's share, ⌊C/T⌋ plus
 *    one for the first C mod T workers, so the aggregate in-flight count
 *    equals C at every level (the original only sized shares once; see the
 *    spec's defect table). Sequence models pause all workers (each closes its
 *    open sequences and drains) and hand each a range of sequence slots
 *    starting at the sum of the shares before it.
 *  - request rate (load_set_rate) and custom intervals (load_set_custom):
 *    T threads created on the first level (max threads, or min(max threads,
 *    --num-of-sequences) for sequence models), each owning ⌊S/T⌋ (+1)
 *    consecutive sequence slots; every level pauses the workers, generates
 *    the schedule, sets one shared level start on CLOCK_MONOTONIC and
 *    resumes them.
 *
 * Called from the main thread only.
 */
#ifndef PA_LOAD_MANAGER_H
#define PA_LOAD_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "load/worker.h"
#include "pa/record.h"
#include "pa/status.h"

struct load_manager;

/* cfg is copied. No thread is started until the first level. */
struct load_manager *load_manager_create(const struct load_config *cfg);

/*
 * Sets the concurrency level: starts the threads it needs, re-sizes every
 * share, and waits (bounded) until no worker has more requests in flight
 * than its new share, so that measuring starts at exactly C outstanding
 * requests. Errors: thread creation failures, or a worker that would not
 * pause (worker failures go to the health check).
 */
PA_MUST_CHECK int load_set_concurrency(struct load_manager *m, uint64_t concurrency,
                                       struct pa_err *err);

/* Sets a request rate (constant or poisson, from the options). */
PA_MUST_CHECK int load_set_rate(struct load_manager *m, double rate, struct pa_err *err);

/* Starts the custom-intervals schedule (gaps in ns, copied). */
PA_MUST_CHECK int load_set_custom(struct load_manager *m, const uint64_t *gaps_ns, size_t n_gaps,
                                  struct pa_err *err);

/* Moves every worker's completed records to the end of *into. */
void load_collect(struct load_manager *m, struct pa_record_batch *into);

/*
 * Health check (spec 04 §1): PA_OK, or the original's "Failed to maintain
 * requested inference load. ..." (a send failed) / "Failed to retrieve results
 * from inference request." (a completion failed).
 */
PA_MUST_CHECK int load_health(struct load_manager *m, struct pa_err *err);

void load_counters(struct load_manager *m, struct load_counters *out);
uint64_t load_completed(struct load_manager *m);
uint64_t load_failed(struct load_manager *m);
uint64_t load_take_sent(struct load_manager *m);
void load_reset_idle(struct load_manager *m);
/* Mean idle time over the workers whose idle time is non-zero (spec 03 §6). */
uint64_t load_idle_ns(struct load_manager *m);
/* Requests in flight over all workers right now. */
size_t load_in_flight(struct load_manager *m);
size_t load_threads(struct load_manager *m);

/*
 * Stops the load: raises the stop flag, lets every worker close its open
 * sequences and drain its in-flight requests (bounded), and joins the
 * threads. Idempotent.
 */
void load_stop(struct load_manager *m);

/* Writes "Thread [<i>] had error: <message>" for every failed worker. */
void load_report_errors(struct load_manager *m, FILE *out);

/* Stops (if needed) and frees. NULL is fine. */
void load_manager_free(struct load_manager *m);

#endif
