/*
 * perf_analyzer: parse the command line, run the pipeline, turn the result
 * into the exit code. This is the only file that prints a fatal error and
 * decides how the process exits (spec 00-overview.md §1-§4).
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread and taken by one
 * thread that waits for them with sigwait(). That thread is ordinary code,
 * so it can print through stdio (keeping the interrupt messages in order
 * with the report lines already buffered on stdout, as the original's
 * std::cout did) and pipeline_request_stop() never runs in signal context.
 * The first signal asks the pipeline to stop gracefully (it still reports
 * what was measured); the second exits at once with status 0. The original
 * leaves its shared-memory regions in /dev/shm then; we unlink them first
 * (no server call, so it is still immediate): a name left behind would be
 * reused, stale, by the next run.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/options.h"
#include "core/log.h"
#include "core/version.h"
#include "data/shm.h"
#include "pa/status.h"
#include "pipeline.h"

static sigset_t stop_signals;

static void *signal_thread(void *arg)
{
    unsigned received = 0;
    (void)arg;

    for (;;) {
        int sig;
        if (sigwait(&stop_signals, &sig) != 0)
            continue;
        if (received++ == 0) {
            printf("Interrupt signal (%d) received.\n"
                   "Waiting for in-flight inferences to complete.\n",
                   sig);
            fflush(stdout);
            pipeline_request_stop();
        } else {
            puts("Exiting immediately...");
            fflush(stdout);
            data_shm_unlink_all();
            _exit(0); /* not exit(): the other threads are still running */
        }
    }
    return NULL;
}

/*
 * Must run before any other thread exists, so that every thread created
 * later inherits the blocked mask and only signal_thread sees the signals.
 */
static void install_signal_thread(void)
{
    pthread_t tid;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) != 0 ||
        pthread_create(&tid, NULL, signal_thread, NULL) != 0) {
        /* Without the thread the default action (terminate) stays in place. */
        pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
        return;
    }
    pthread_detach(tid);
}

int main(int argc, char **argv)
{
    const char *argv0 = argc > 0 && argv[0] ? argv[0] : "perf_analyzer";
    struct pa_options opts;
    struct pa_err err;
    bool version = false;

    memset(&err, 0, sizeof(err));
    int rc = options_parse(argc, argv, &opts, &version, stderr, &err);
    if (rc != PA_OK) {
        if (err.msg[0])
            fprintf(stderr, "Error: %s\n", err.msg);
        options_usage(stderr, argv0);
        return pa_exit_code(rc);
    }
    if (version) {
        fprintf(stderr, "Perf Analyzer Version %s (commit %s)\n", pa_version(), pa_git_sha());
        return 0;
    }

    log_set_level(opts.verbose);
    install_signal_thread();

    enum pa_err_style style = PA_ERR_PLAIN;
    rc = pipeline_run(&opts, &style, &err);
    if (rc != PA_OK) {
        fflush(stdout);
        if (style == PA_ERR_PREFIXED)
            fprintf(stderr, "error: %s\n\n", err.msg);
        else
            fprintf(stderr, "%s\n", err.msg);
    }
    pipeline_finish();
    options_release(&opts);
    return pa_exit_code(rc);
}
