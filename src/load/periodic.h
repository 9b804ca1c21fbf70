/*
 * Periodic concurrency (spec 04 §5): --periodic-concurrency-range
 * start:end:step with --request-period M, for decoupled models over gRPC
 * streaming.
 *
 * `start` requests are launched; when every request of the latest batch has
 * received M responses, `step` more are launched while batches × step < end;
 * the experiment ends when `end` requests have received their final
 * response. Every request is sent exactly once, each on its own gRPC stream
 * (stream index = request index), as the original gives each request its
 * own thread and context. Here one thread (the caller's) drives them all
 * through one client: the requests are independent streams, so the
 * observable traffic is the same while the process stays frugal.
 *
 * There is no stabilization and no console report: the records go to the
 * profile export as one experiment.
 */
#ifndef PA_LOAD_PERIODIC_H
#define PA_LOAD_PERIODIC_H

#include <stdatomic.h>

#include "load/worker.h"
#include "pa/record.h"
#include "pa/status.h"

/*
 * Runs the experiment on the calling thread with cfg's client functions,
 * data (stream 0; request i uses step (i·B) mod N) and validation hook.
 * Appends one record per request that completed before the experiment
 * ended to *out (in completion order). Stops early when *stop is raised
 * (PA_EINTR "Received exit signal.", records kept). Errors: the client's,
 * a failed request ("Failed to retrieve results from inference request."
 * followed by "Thread [<i>] had error: <message>"), or PA_EINVAL with the
 * original's "Request received final response before request period was
 * reached. ..." (the original aborts there).
 */
PA_MUST_CHECK int periodic_run(const struct load_config *cfg, const atomic_bool *stop,
                               struct pa_record_batch *out, struct pa_err *err);

#endif
