/*
 * The run after option parsing: connect, parse the model, build the data,
 * drive the load levels, report. main.c calls pipeline_run() and turns its
 * result into the exit code; pipeline code never exits.
 */
#ifndef PA_PIPELINE_H
#define PA_PIPELINE_H

#include "cli/options.h"
#include "pa/status.h"

/*
 * Runs the whole measurement. opts may be adjusted by model-dependent
 * validation (options_apply_model) before the load starts.
 * Returns PA_OK, or a PA_E* code with err set. err->msg is printed by main.c
 * exactly as the original prints it (see spec 07-output.md §7): the pipeline
 * sets the message text and `*err_style` says how to print it.
 */
enum pa_err_style {
    PA_ERR_PLAIN,      /* "<msg>\n" */
    PA_ERR_PREFIXED,   /* "error: <msg>\n\n" */
};

PA_MUST_CHECK int pipeline_run(struct pa_options *opts, enum pa_err_style *err_style,
                               struct pa_err *err);

/*
 * Releases what pipeline_run left open: unregisters and unlinks shared
 * memory, closes the clients, finalizes MPI. Called by main.c after it has
 * printed pipeline_run's error, so that shutdown warnings ("Unable to
 * unregister all shared memory regions") follow the error, as in the
 * original. Call exactly once after pipeline_run, whatever it returned.
 */
void pipeline_finish(void);

/* Set from the SIGINT handler (through main.c); the pipeline stops gracefully. */
void pipeline_request_stop(void);

#endif
