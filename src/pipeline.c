/*
 * The run after option parsing (spec 00-overview.md §1, steps 5-15):
 * control client → model → model-dependent option checks → input data →
 * server metadata → settings block → load levels → summary, CSV, profile
 * export → cleanup.
 *
 * This file is the only place that knows every module: it wires the
 * profiler (measure/) to the concurrency manager (load/) and to the console
 * report (report/) through the small callback tables in profiler.h, so that
 * those modules stay independent of each other. It decides how each error is
 * printed (plain or "error: " prefixed) the way the original does, and it
 * never exits: main.c turns the result into the exit code.
 *
 * Stopping: pipeline_request_stop() only raises an atomic flag (it is safe
 * from a signal handler). The profiler polls the flag, ends the current
 * level with "Received exit signal.", and the pipeline then still reports
 * the levels measured so far, as the original does after SIGINT.
 */
#include "pipeline.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "data/dataset.h"
#include "load/concurrency.h"
#include "measure/perf_status.h"
#include "measure/profiler.h"
#include "model/model.h"
#include "pa/client.h"
#include "report/report.h"

#include "core/banned.h"

static atomic_bool stop_requested;

void pipeline_request_stop(void)
{
    atomic_store(&stop_requested, true);
}

/* Features of later issues: fail loudly before touching the server. */
static int check_supported(const struct pa_options *o, struct pa_err *err)
{
    switch (o->load_mode) {
    case PA_LOAD_CONCURRENCY:
        break;
    case PA_LOAD_REQUEST_RATE:
        return pa_errorf(err, PA_EUNSUPPORTED, "--request-rate-range is not supported yet");
    case PA_LOAD_CUSTOM_INTERVALS:
        return pa_errorf(err, PA_EUNSUPPORTED, "--request-intervals is not supported yet");
    case PA_LOAD_PERIODIC_CONCURRENCY:
        return pa_errorf(err, PA_EUNSUPPORTED,
                         "--periodic-concurrency-range is not supported yet");
    }
    if (o->enable_mpi)
        return pa_errorf(err, PA_EUNSUPPORTED, "--enable-mpi is not supported yet");
    return PA_OK;
}

/* --- wiring: profiler → load ------------------------------------------ */

static int load_set(void *arg, uint64_t c, struct pa_err *err)
{
    return concurrency_set(arg, c, err);
}

static void load_collect(void *arg, struct pa_record_batch *into)
{
    concurrency_collect(arg, into);
}

static int load_health(void *arg, struct pa_err *err)
{
    return concurrency_health(arg, err);
}

static void load_lib(void *arg, struct stats_lib *out)
{
    struct load_counters c;
    concurrency_counters(arg, &c);
    out->completed = c.completed;
    out->total_ns = c.total_ns;
    out->send_ns = c.send_ns;
    out->recv_ns = c.recv_ns;
}

static uint64_t load_completed(void *arg)
{
    return concurrency_completed(arg);
}

static uint64_t load_take_sent(void *arg)
{
    return concurrency_take_sent(arg);
}

static void load_reset_idle(void *arg)
{
    concurrency_reset_idle(arg);
}

static uint64_t load_idle(void *arg)
{
    return concurrency_idle_ns(arg);
}

/* --- wiring: profiler → report ----------------------------------------- */

static void rep_level_start(void *arg, uint64_t c)
{
    report_concurrency_header(arg, c);
    fflush(stdout);
}

static void rep_pass(void *arg, unsigned k, const struct perf_status *w)
{
    report_pass(arg, k, w);
    fflush(stdout);
}

static void rep_pass_failed(void *arg, unsigned k, const char *msg)
{
    report_pass_failed(arg, k, msg);
    fflush(stdout);
}

static void rep_level_done(void *arg, const struct perf_status *s)
{
    report_level(arg, s);
    fflush(stdout);
}

/* --- server statistics ------------------------------------------------- */

struct stats_source {
    struct pa_client *control;
    const char *name;    /* NULL: all models (ensembles) */
    const char *version;
};

static int fetch_stats(void *arg, cJSON **out, struct pa_err *err)
{
    struct stats_source *s = arg;
    return pa_client_model_statistics(s->control, s->name, s->version, out, err);
}

/* Whether the server lists the "statistics" extension (spec 03 §5). */
static int server_has_statistics(struct pa_client *control, bool *has, struct pa_err *err)
{
    cJSON *meta = NULL;
    int rc = pa_client_server_metadata(control, &meta, err);
    if (rc)
        return pa_error_prefix(err, "unable to get server metadata");
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(meta, "extensions");
    const cJSON *e;
    *has = false;
    cJSON_ArrayForEach(e, ext)
    {
        if (cJSON_IsString(e) && !strcmp(e->valuestring, "statistics"))
            *has = true;
    }
    cJSON_Delete(meta);
    return PA_OK;
}

static int validate_outputs(void *arg, const struct pa_client *c, const struct pa_response *r,
                            const struct pa_dataset_step *step, struct pa_err *err)
{
    (void)arg;
    return data_validate_outputs(step, c, r, err);
}

/* --- reporting after the sweep ----------------------------------------- */

static int write_export(const struct pa_options *o, const struct pa_profile *p,
                        struct pa_err *err)
{
    if (!o->profile_export_file)
        return PA_OK;
    size_t n = p->n_exports;
    struct export_level *levels = calloc(n ? n : 1, sizeof(*levels));
    if (!levels)
        return pa_errorf(err, PA_EINTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const struct pa_level_export *e = &p->exports[i];
        levels[i] = (struct export_level){
            .concurrency = e->concurrency,
            .request_rate = e->request_rate,
            .records = e->records.records,
            .n_records = e->records.n,
            .response_ns = e->records.response_ns,
            .boundaries_ns = e->window_boundaries,
            .n_boundaries = e->n_window_boundaries,
        };
    }
    struct export_doc doc = {
        .levels = levels,
        .n_levels = n,
        .epoch_offset_ns = clock_epoch_offset_ns(),
    };
    int rc = report_export_write(o->profile_export_file, &doc, err);
    free(levels);
    return rc;
}

/* Appends the workers' "Thread [i] had error: ..." lines to a failure message. */
static void append_worker_errors(struct concurrency_manager *m, struct pa_err *err)
{
    char lines[PA_ERR_MSG_MAX] = "";
    FILE *f = fmemopen(lines, sizeof(lines) - 1, "w");
    if (!f)
        return;
    concurrency_report_errors(m, f);
    fclose(f);
    size_t len = strlen(lines);
    if (len && lines[len - 1] == '\n')
        lines[len - 1] = '\0';
    if (len) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof(err->msg) - used, "\n%s", lines);
    }
}

/* --- the run ----------------------------------------------------------- */

struct run {
    struct pa_options *opts;
    struct pa_client control;
    bool control_open;
    struct pa_model model;
    bool model_loaded;
    struct pa_dataset ds;
    struct concurrency_manager *load;
    struct report_console console;
    struct report_model rmodel;
    struct pa_profile profile;
};

static int measure(struct run *r, bool server_stats, enum pa_err_style *style,
                   struct pa_err *err)
{
    struct pa_options *o = r->opts;
    struct load_config lc = {
        .opts = o,
        .ds = &r->ds,
        .open_client = pa_client_open,
        .close_client = pa_client_close,
        .validate = validate_outputs,
        .async = o->async,
        .batch_size = o->batch_size,
    };
    r->load = concurrency_create(&lc);

    struct stats_source src = {
        .control = &r->control,
        .name = model_is_ensemble(&r->model) ? NULL : r->model.name,
        .version = r->model.version,
    };
    struct profiler_config pc = {
        .opts = o,
        .load = {.arg = r->load, .set_concurrency = load_set, .collect = load_collect,
                 .health = load_health, .lib_stats = load_lib, .completed = load_completed,
                 .take_sent = load_take_sent, .reset_idle = load_reset_idle,
                 .idle_ns = load_idle},
        .report = {.arg = &r->console, .level_start = rep_level_start, .pass = rep_pass,
                   .pass_failed = rep_pass_failed, .level_done = rep_level_done},
        .server_stats = server_stats ? fetch_stats : NULL,
        .server_stats_arg = &src,
        .model = {.name = r->model.name, .version = r->model.version,
                  .composing = r->model.composing, .n_composing = r->model.n_composing,
                  .top_level_cache = r->model.response_cache},
        /* The original collects no client-library timing for decoupled models. */
        .lib_stats = !r->model.decoupled,
        .out = stdout,
        .stop = &stop_requested,
    };

    int rc = profiler_run(&pc, &r->profile, err);
    bool interrupted = atomic_load(&stop_requested);
    /* Workers stop sending and drain what is in flight before anything is reported. */
    concurrency_stop(r->load);
    *style = PA_ERR_PLAIN;
    if (rc && !interrupted) {
        /* Printed by main after the failure line, as the original does at shutdown. */
        append_worker_errors(r->load, err);
        return rc;
    }
    if (interrupted && rc != PA_EINTR && rc != PA_OK) {
        /* What the measurement failed with is still shown; the run goes on to report. */
        fprintf(stderr, "%s\n", err->msg);
    }

    report_summary(&r->console, r->profile.levels, r->profile.n_levels);
    fflush(stdout);
    int wrc = report_csv_write(o, &r->rmodel, r->profile.levels, r->profile.n_levels, stderr,
                               err);
    if (!wrc)
        wrc = write_export(o, &r->profile, err);
    concurrency_report_errors(r->load, stderr);
    if (wrc)
        return wrc;
    if (interrupted)
        return pa_errorf(err, PA_EINTR, "Received exit signal.");
    return PA_OK;
}

static int run_pipeline(struct run *r, enum pa_err_style *style, struct pa_err *err)
{
    struct pa_options *o = r->opts;
    int rc;

    *style = PA_ERR_PLAIN;
    rc = check_supported(o, err);
    if (rc)
        return rc;

    *style = PA_ERR_PREFIXED;
    rc = pa_client_open(&r->control, o, NULL, NULL, err);
    if (rc)
        return pa_error_prefix(err, "failed to create triton client backend");
    r->control_open = true;

    rc = model_load(&r->control, o, &r->model, err);
    if (rc)
        return rc;
    r->model_loaded = true;

    *style = PA_ERR_PLAIN;
    struct pa_model_facts facts = {
        .max_batch_size = r->model.max_batch_size,
        .sequence = model_is_sequence(&r->model),
        .decoupled = r->model.decoupled,
    };
    rc = options_apply_model(o, &facts, stderr, err);
    if (rc)
        return rc;
    if (facts.sequence)
        return pa_errorf(err, PA_EUNSUPPORTED, "sequence models are not supported yet");

    *style = PA_ERR_PREFIXED;
    rc = dataset_build(o, &r->model, &r->control, stdout, &r->ds, err);
    if (rc)
        return rc;

    bool server_stats = false;
    if (r->control.backend->flags & PA_BACKEND_SERVER_STATS) {
        rc = server_has_statistics(&r->control, &server_stats, err);
        if (rc)
            return rc;
    }

    r->rmodel = report_model_from(&r->model);
    report_console_init(&r->console, stdout, stderr, o, &r->rmodel);
    report_settings(&r->console);
    fflush(stdout);

    return measure(r, server_stats, style, err);
}

int pipeline_run(struct pa_options *opts, enum pa_err_style *err_style, struct pa_err *err)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.opts = opts;

    int rc = run_pipeline(&r, err_style, err);

    concurrency_free(r.load);
    pa_profile_release(&r.profile);
    if (r.control_open)
        dataset_release(&r.ds, &r.control);
    if (r.model_loaded)
        model_release(&r.model);
    if (r.control_open)
        pa_client_close(&r.control);
    return rc;
}
