/*
 * The run after option parsing (spec 00-overview.md §1, steps 5-15):
 * control client → model → model-dependent option checks → input data →
 * server metadata → settings block → load levels → summary, CSV, profile
 * export → cleanup.
 *
 * This file is the only place that knows every module: it wires the
 * profiler (measure/) to the load manager (load/) and to the console
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
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "data/dataset.h"
#include "load/manager.h"
#include "load/periodic.h"
#include "load/record_batch.h"
#include "load/schedule.h"
#include "measure/mpi.h"
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

/* --- wiring: profiler → load ------------------------------------------ */

struct load_wire {
    struct load_manager *m;
    enum pa_load_mode mode;
    const uint64_t *gaps_ns;   /* custom intervals */
    size_t n_gaps;
};

static int load_set(void *arg, uint64_t c, struct pa_err *err)
{
    struct load_wire *lw = arg;
    return load_set_concurrency(lw->m, c, err);
}

static int load_rate(void *arg, double rate, struct pa_err *err)
{
    struct load_wire *lw = arg;
    if (lw->mode == PA_LOAD_CUSTOM_INTERVALS)
        return load_set_custom(lw->m, lw->gaps_ns, lw->n_gaps, err);
    return load_set_rate(lw->m, rate, err);
}

static void load_collect_cb(void *arg, struct pa_record_batch *into)
{
    struct load_wire *lw = arg;
    load_collect(lw->m, into);
}

static int load_health_cb(void *arg, struct pa_err *err)
{
    struct load_wire *lw = arg;
    return load_health(lw->m, err);
}

static void load_lib(void *arg, struct stats_lib *out)
{
    struct load_wire *lw = arg;
    struct load_counters c;
    load_counters(lw->m, &c);
    out->completed = c.completed;
    out->total_ns = c.total_ns;
    out->send_ns = c.send_ns;
    out->recv_ns = c.recv_ns;
}

static uint64_t load_completed_cb(void *arg)
{
    struct load_wire *lw = arg;
    return load_completed(lw->m);
}

static uint64_t load_take_sent_cb(void *arg)
{
    struct load_wire *lw = arg;
    return load_take_sent(lw->m);
}

static void load_reset_idle_cb(void *arg)
{
    struct load_wire *lw = arg;
    load_reset_idle(lw->m);
}

static uint64_t load_idle(void *arg)
{
    struct load_wire *lw = arg;
    return load_idle_ns(lw->m);
}

/* --- wiring: profiler → report ----------------------------------------- */

static void rep_level_start(void *arg, uint64_t c)
{
    report_concurrency_header(arg, c);
    fflush(stdout);
}

static void rep_level_start_rate(void *arg, double rate)
{
    report_rate_header(arg, rate);
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
static void append_worker_errors(struct load_manager *m, struct pa_err *err)
{
    char lines[PA_ERR_MSG_MAX] = "";
    FILE *f = fmemopen(lines, sizeof(lines) - 1, "w");
    if (!f)
        return;
    load_report_errors(m, f);
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
    struct load_manager *load;
    uint64_t *gaps_ns;          /* --request-intervals */
    size_t n_gaps;
    struct report_console console;
    struct report_model rmodel;
    struct pa_profile profile;
    struct mpi mpi;             /* --enable-mpi */
    bool mpi_synced;            /* passed the barrier after profiling */
};

/* Sequence lengths follow the data only when it came from JSON files (spec 04 §6). */
static bool json_input(const struct pa_options *o)
{
    struct stat st;
    if (o->input_kind != PA_INPUT_FILES || o->n_input_data_paths == 0)
        return false;
    return !(stat(o->input_data_paths[0], &st) == 0 && S_ISDIR(st.st_mode));
}

static struct load_config load_config_for(struct run *r)
{
    struct pa_options *o = r->opts;
    return (struct load_config){
        .opts = o,
        .ds = &r->ds,
        .open_client = pa_client_open,
        .close_client = pa_client_close,
        .validate = validate_outputs,
        .async = o->async,
        .batch_size = o->batch_size,
        .sequence = model_is_sequence(&r->model),
        .json_data = json_input(o),
    };
}

/*
 * Periodic concurrency (spec 04 §5): no levels, no console report, no CSV;
 * every request goes to the profile export as one experiment.
 */
static int measure_periodic(struct run *r, struct pa_err *err)
{
    struct load_config lc = load_config_for(r);
    struct pa_level_export exp;
    memset(&exp, 0, sizeof(exp));
    exp.concurrency = 1;

    int rc = periodic_run(&lc, &stop_requested, &exp.records, err);
    bool interrupted = rc == PA_EINTR;
    if (rc && !interrupted) {
        pa_level_export_release(&exp);
        return rc;
    }
    if (interrupted)
        fprintf(stderr, "%s\n", err->msg);
    rc = report_export_write_levels(r->opts->profile_export_file, &exp, 1,
                                    clock_epoch_offset_ns(), true, err);
    pa_level_export_release(&exp);
    if (rc)
        return rc;
    return interrupted ? pa_errorf(err, PA_EINTR, "Received exit signal.") : PA_OK;
}

static int measure(struct run *r, bool server_stats, enum pa_err_style *style,
                   struct pa_err *err)
{
    struct pa_options *o = r->opts;
    struct load_config lc = load_config_for(r);
    int rc;

    *style = PA_ERR_PLAIN;
    double custom_rate = 0;
    if (o->load_mode == PA_LOAD_CUSTOM_INTERVALS) {
        /* Read when profiling starts, as the original does: errors follow the settings. */
        rc = schedule_read_intervals(o->request_intervals_file, &r->gaps_ns, &r->n_gaps, err);
        if (rc)
            return rc;
        custom_rate = schedule_custom_rate(r->gaps_ns, r->n_gaps);
    }
    r->load = load_manager_create(&lc);
    struct load_wire lw = {
        .m = r->load, .mode = o->load_mode, .gaps_ns = r->gaps_ns, .n_gaps = r->n_gaps};

    struct stats_source src = {
        .control = &r->control,
        .name = model_is_ensemble(&r->model) ? NULL : r->model.name,
        .version = r->model.version,
    };
    struct profiler_config pc = {
        .opts = o,
        .load = {.arg = &lw, .set_concurrency = load_set, .set_rate = load_rate,
                 .collect = load_collect_cb, .health = load_health_cb, .lib_stats = load_lib,
                 .completed = load_completed_cb, .take_sent = load_take_sent_cb,
                 .reset_idle = load_reset_idle_cb, .idle_ns = load_idle},
        .report = {.arg = &r->console, .level_start = rep_level_start,
                   .level_start_rate = rep_level_start_rate, .pass = rep_pass,
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
        .custom_rate = custom_rate,
        .mpi = &r->mpi,
    };

    rc = profiler_run(&pc, &r->profile, err);
    /* Only a sweep that ran to its end leaves every rank at this barrier;
     * after a failure mid-level the others may still be in an exchange. */
    if (rc == PA_OK || rc == PA_EUNSTABLE) {
        mpi_barrier(&r->mpi);
        r->mpi_synced = true;
    }
    bool interrupted = atomic_load(&stop_requested);
    /* Workers close their sequences and drain what is in flight before anything is reported. */
    load_stop(r->load);
    if (rc && !interrupted) {
        /* Beyond the original, which writes nothing on a failed run: what was
         * measured before the failure is kept (the finished levels' CSV rows,
         * every measured window in the profile export). No summary is printed:
         * stdout stays as the original leaves it. */
        struct pa_err werr = {0};
        if (report_csv_write(o, &r->rmodel, r->profile.levels, r->profile.n_levels, stderr,
                             &werr) == PA_OK)
            (void)write_export(o, &r->profile, &werr);
        if (werr.code)
            fprintf(stderr, "%s\n", werr.msg);
        /* Printed by main after the failure line, as the original does at shutdown. */
        append_worker_errors(r->load, err);
        return rc;
    }
    /* Interrupted, but a window error of the level won (the profiler returns
     * it before "Received exit signal."): the original shows that error alone
     * and goes on to report. */
    bool window_error = interrupted && rc != PA_EINTR && rc != PA_OK;
    if (window_error)
        fprintf(stderr, "%s\n", err->msg);

    report_summary(&r->console, r->profile.levels, r->profile.n_levels);
    fflush(stdout);
    int wrc = report_csv_write(o, &r->rmodel, r->profile.levels, r->profile.n_levels, stderr,
                               err);
    if (!wrc)
        wrc = write_export(o, &r->profile, err);
    load_report_errors(r->load, stderr);
    if (wrc)
        return wrc;
    if (interrupted && !window_error)
        return pa_errorf(err, PA_EINTR, "Received exit signal.");
    return PA_OK;
}

static int run_pipeline(struct run *r, enum pa_err_style *style, struct pa_err *err)
{
    struct pa_options *o = r->opts;
    int rc;

    *style = PA_ERR_PLAIN;
    r->mpi.enabled = o->enable_mpi;
    rc = mpi_init(&r->mpi, err);
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
    if (facts.sequence && o->load_mode == PA_LOAD_PERIODIC_CONCURRENCY)
        return pa_errorf(err, PA_EUNSUPPORTED,
                         "--periodic-concurrency-range with sequence models is not supported yet");

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

    mpi_barrier(&r->mpi);
    if (o->load_mode == PA_LOAD_PERIODIC_CONCURRENCY) {
        *style = PA_ERR_PLAIN;
        rc = measure_periodic(r, err);
        if (rc == PA_OK) {
            mpi_barrier(&r->mpi);
            r->mpi_synced = true;
        }
        return rc;
    }
    return measure(r, server_stats, style, err);
}

/* The one run of this process, kept between pipeline_run and pipeline_finish. */
static struct run the_run;

int pipeline_run(struct pa_options *opts, enum pa_err_style *err_style, struct pa_err *err)
{
    memset(&the_run, 0, sizeof(the_run));
    the_run.opts = opts;
    return run_pipeline(&the_run, err_style, err);
}

void pipeline_finish(void)
{
    struct run *r = &the_run;
    /* Without the barrier after profiling, other ranks may be blocked in a
     * collective call and MPI_Finalize could wait for them forever: exit
     * without it instead, which makes mpirun end the whole job (what every
     * failure of the original does). */
    if (r->mpi_synced)
        mpi_finalize(&r->mpi);

    load_manager_free(r->load);
    free(r->gaps_ns);
    pa_profile_release(&r->profile);
    if (r->control_open)
        dataset_release(&r->ds, &r->control);
    if (r->model_loaded)
        model_release(&r->model);
    if (r->control_open)
        pa_client_close(&r->control);
    memset(r, 0, sizeof(*r));
}
