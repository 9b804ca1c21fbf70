/*
 * A load worker: one OS thread that owns one client (one curl multi handle,
 * one gRPC completion queue, ...), the prepared requests of every dataset
 * step, a pool of in-flight slots and its record batch (spec 04 §1).
 *
 * The manager tells a worker how many requests to keep in flight (its
 * share); the worker keeps exactly that many outstanding (async) or sends
 * one blocking request after another (sync, share 0 or 1). Everything the
 * profiler reads is either atomic or behind the worker's own mutex, so the
 * worker never waits for the profiler except for the short batch copy.
 */
#ifndef PA_LOAD_WORKER_H
#define PA_LOAD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "data/dataset.h"
#include "pa/client.h"
#include "pa/record.h"
#include "pa/status.h"

/* Opens a data-plane client; pa_client_open in the program, a fake in tests. */
typedef int load_open_fn(struct pa_client *c, const struct pa_options *opts,
                         pa_response_fn *on_response, void *arg, struct pa_err *err);

/* Closes it; pa_client_close in the program. */
typedef void load_close_fn(struct pa_client *c);

/*
 * Checks the outputs of a final response against a step's expected outputs
 * (spec 05 §8). Called on the worker thread inside the completion callback.
 * Returns PA_OK or an error whose message becomes the worker's error.
 */
typedef int load_validate_fn(void *arg, const struct pa_client *c, const struct pa_response *r,
                             const struct pa_dataset_step *step, struct pa_err *err);

/* Shared by every worker of a load manager; must outlive them. */
struct load_config {
    const struct pa_options *opts;
    const struct pa_dataset *ds;
    load_open_fn *open_client;
    load_close_fn *close_client;
    load_validate_fn *validate;      /* NULL: no output validation */
    void *validate_arg;
    bool async;                      /* false: one blocking request at a time */
    uint64_t batch_size;             /* B of the JSON step selection (spec 04 §7) */
    uint64_t drain_timeout_ms;       /* bound on waiting for in-flight requests at stop */
    uint64_t poll_timeout_ms;        /* longest single wait inside the client; 0 = 50 */
};

/* Accumulated client-library counters (spec 06 §6). */
struct load_counters {
    uint64_t completed;
    uint64_t total_ns, send_ns, recv_ns;
};

struct worker;

/* Creates worker `index` (not started). stop is the manager's stop flag. */
struct worker *worker_create(const struct load_config *cfg, size_t index, const atomic_bool *stop);

/*
 * Starts the thread and waits until it has opened its client and prepared
 * every dataset step. A failure there is the worker's error (see
 * worker_error), not a return value: the health check reports it.
 */
PA_MUST_CHECK int worker_start(struct worker *w, struct pa_err *err);

/*
 * Sets how many requests the worker keeps in flight and how many workers are
 * active (the JSON step stride). Reserves record capacity for the level.
 * Any thread; takes effect at the worker's next loop turn.
 */
void worker_set_share(struct worker *w, size_t share, size_t active);

size_t worker_in_flight(const struct worker *w);
size_t worker_share(const struct worker *w);

/* Appends the worker's completed records to *into and empties its batch. */
void worker_collect(struct worker *w, struct pa_record_batch *into);

void worker_counters(const struct worker *w, struct load_counters *out);
uint64_t worker_completed(const struct worker *w);
uint64_t worker_failed(const struct worker *w);
uint64_t worker_take_sent(struct worker *w);
void worker_reset_idle(struct worker *w);
uint64_t worker_idle_ns(const struct worker *w);

/*
 * The worker's first error, or NULL. *async_path says whether it came from a
 * completion (the original's "callback status") rather than from sending.
 */
const struct pa_err *worker_error(const struct worker *w, bool *async_path);

/* Wakes a parked worker (after the stop flag was set). */
void worker_wake(struct worker *w);

/*
 * Waits for the thread to end (it drains its in-flight requests first, so
 * the stop flag must be set). Idempotent; counters and the error stay
 * readable.
 */
void worker_join(struct worker *w);

/* Joins the thread (if still running) and frees everything. */
void worker_free(struct worker *w);

#endif
