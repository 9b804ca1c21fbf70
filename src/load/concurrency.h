/*
 * Concurrency mode (spec 04 §2): keeps exactly C requests outstanding.
 *
 * Threads are created on demand (sync: one per unit of concurrency; async:
 * up to --max-threads) and never destroyed between levels. At every level
 * change each worker's share is re-sized, ⌊C/T⌋ plus one for the first C mod
 * T workers, so the aggregate in-flight count equals C at every level (the
 * original only sized shares once; see the spec's defect table). Called from
 * the main thread only.
 */
#ifndef PA_LOAD_CONCURRENCY_H
#define PA_LOAD_CONCURRENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "load/worker.h"
#include "pa/record.h"
#include "pa/status.h"

struct concurrency_manager;

/* cfg is copied. No thread is started until the first level. */
struct concurrency_manager *concurrency_create(const struct load_config *cfg);

/*
 * Sets the level: starts the threads it needs, re-sizes every share, and
 * waits (bounded) until no worker has more requests in flight than its new
 * share, so that measuring starts at exactly C outstanding requests.
 * Errors: thread creation failures only (worker failures go to the health
 * check).
 */
PA_MUST_CHECK int concurrency_set(struct concurrency_manager *m, uint64_t concurrency,
                                  struct pa_err *err);

/* Moves every worker's completed records to the end of *into. */
void concurrency_collect(struct concurrency_manager *m, struct pa_record_batch *into);

/*
 * Health check (spec 04 §1): PA_OK, or the original's "Failed to maintain
 * requested inference load. ..." (a send failed) / "Failed to retrieve results
 * from inference request." (a completion failed).
 */
PA_MUST_CHECK int concurrency_health(struct concurrency_manager *m, struct pa_err *err);

void concurrency_counters(struct concurrency_manager *m, struct load_counters *out);
uint64_t concurrency_completed(struct concurrency_manager *m);
uint64_t concurrency_failed(struct concurrency_manager *m);
uint64_t concurrency_take_sent(struct concurrency_manager *m);
void concurrency_reset_idle(struct concurrency_manager *m);
/* Mean idle time over the workers whose idle time is non-zero (spec 03 §6). */
uint64_t concurrency_idle_ns(struct concurrency_manager *m);
/* Requests in flight over all workers right now. */
size_t concurrency_in_flight(struct concurrency_manager *m);
size_t concurrency_threads(struct concurrency_manager *m);

/*
 * Stops the load: raises the stop flag, lets every worker drain its
 * in-flight requests (bounded), and joins the threads. Idempotent.
 */
void concurrency_stop(struct concurrency_manager *m);

/* Writes "Thread [<i>] had error: <message>" for every failed worker. */
void concurrency_report_errors(struct concurrency_manager *m, FILE *out);

/* Stops (if needed) and frees. NULL is fine. */
void concurrency_free(struct concurrency_manager *m);

#endif
