/*
 * A load worker: one OS thread that owns one client (one curl multi handle,
 * one gRPC completion queue, ...), the prepared requests of every dataset
 * step, a pool of in-flight request slots and its record batch (spec 04 §1).
 *
 * A worker runs in one of three ways, fixed by the load configuration:
 *
 *  - closed loop, non-sequence model: keeps `share` requests in flight
 *    (async), or sends one blocking request after another (sync, share ≤ 1);
 *    the share may change at any time;
 *  - closed loop, sequence model: drives `n_slots` sequence slots, one
 *    request in flight per slot, free slots used in FIFO order;
 *  - open loop (request rate, custom intervals): sends at the absolute
 *    CLOCK_MONOTONIC deadlines of its schedule, sleeping (or waiting for
 *    completions) in between; a request whose deadline has already passed
 *    is sent at once and flagged delayed.
 *
 * The last two change their plan (slot range, schedule) only while paused:
 * the manager asks every worker to pause, each closes its open sequences,
 * waits for its requests in flight and parks; the manager then sets the new
 * plans and resumes them all (spec 04 §2-§3 "pause ... resume").
 *
 * Everything the profiler reads is atomic or behind the worker's mutex, so
 * the worker never waits for the profiler except for the short batch copy.
 */
#ifndef PA_LOAD_WORKER_H
#define PA_LOAD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "data/dataset.h"
#include "load/schedule.h"
#include "load/sequence.h"
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
    /* Sequence models (spec 04 §6). */
    bool sequence;                   /* the model is a sequence model */
    bool json_data;                  /* the data came from JSON (sequence lengths) */
};

/* Accumulated client-library counters (spec 06 §6). */
struct load_counters {
    uint64_t completed;
    uint64_t total_ns, send_ns, recv_ns;
};

/* How a worker behaves in the open loop / sequence modes, set while paused. */
struct worker_plan {
    size_t active;                   /* JSON step stride (workers sending) */
    size_t slot_first, n_slots;      /* sequence slots driven by this worker */
    const struct worker_schedule *schedule; /* open loop; NULL = closed loop */
    uint64_t level_start_ns;         /* schedule origin (CLOCK_MONOTONIC) */
    bool serial;                     /* --serial-sequences (open loop) */
};

struct worker;

/*
 * Creates worker `index` (not started). stop is the manager's stop flag.
 * seq is the run's sequence table (NULL for non-sequence models). With
 * `planned` the worker starts paused and waits for worker_set_plan; without
 * it, it follows worker_set_share.
 */
struct worker *worker_create(const struct load_config *cfg, size_t index, const atomic_bool *stop,
                             struct seq_table *seq, bool planned);

/*
 * Starts the thread and waits until it has opened its client and prepared
 * every dataset step. A failure there is the worker's error (see
 * worker_error), not a return value: the health check reports it.
 */
PA_MUST_CHECK int worker_start(struct worker *w, struct pa_err *err);

/*
 * Closed loop, non-sequence: sets how many requests the worker keeps in
 * flight and how many workers are active (the JSON step stride). Reserves
 * record capacity for the level. Any thread; takes effect at the worker's
 * next loop turn.
 */
void worker_set_share(struct worker *w, size_t share, size_t active);

/* Asks the worker to pause (close sequences, drain, park). Returns at once. */
void worker_request_pause(struct worker *w);
/* Waits until the worker is paused (or ended); false when timeout_ns passed first. */
bool worker_wait_paused(struct worker *w, uint64_t timeout_ns);
/* Sets the plan of a paused worker (share = n_slots, or 1 in the open loop). */
void worker_set_plan(struct worker *w, const struct worker_plan *plan);
/* Lets a paused worker go on with its (new) plan. */
void worker_resume(struct worker *w);

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
 * Waits for the thread to end (it closes its open sequences and drains its
 * in-flight requests first, so the stop flag must be set). Idempotent;
 * counters and the error stay readable.
 */
void worker_join(struct worker *w);

/* Joins the thread (if still running) and frees everything. */
void worker_free(struct worker *w);

#endif
