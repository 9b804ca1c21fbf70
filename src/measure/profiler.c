/*
 * The measurement loop (spec 03 §2, §4, §7).
 *
 * One level = set the load, empty the record buffers, then measure
 * contiguous windows (each starts where the previous ended) until the last
 * three agree within --stability-percentage, the latency threshold trips, or
 * --max-trials runs out. Records are moved out of the workers at each window
 * end into a pending list and selected by their end time, so a request that
 * completes between the end timestamp and the collection rolls over into the
 * next window instead of being lost or counted twice.
 *
 * Only the last three windows are kept: they are what the stability rule
 * looks at and what a stable level's report merges. A failed window stays in
 * the history as throughput 0, which keeps the level unstable for the next
 * two windows, and its error ends the run if it is still among the last
 * three when the loop stops.
 */
#include "measure/profiler.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "measure/metrics.h"

#include "core/banned.h"

#define STABILITY_WINDOW 3
#define DEFAULT_COUNT_POLL_NS NS_PER_S
/* How often a sleeping window checks for SIGINT. */
#define STOP_CHECK_NS (50 * NS_PER_MS)

/* A load level: a concurrency, or a request rate (concurrency 0). */
struct level_value {
    uint64_t concurrency;
    double rate;
};

struct level {
    const struct profiler_config *cfg;
    struct stats_params params;
    struct level_value value;

    struct pa_record_batch pending;
    struct stats_window win[STABILITY_WINDOW]; /* ring: window k lives in win[k % 3] */
    size_t n_windows;
    double *hist_tput;
    uint64_t *hist_lat;
    size_t cap_hist;

    /* Values at the previous window's end = this window's start. */
    uint64_t prev_end_ns;
    struct stats_lib prev_lib;
    uint64_t prev_completed;
    struct server_snapshot prev_snap;
    bool prev_snap_ok;
    struct pa_err prev_snap_err;

    struct pa_level_export *exp; /* NULL without a profile export */
    struct metrics_poller *poller; /* --collect-metrics: runs for the whole level */
};

static bool stopped(const struct profiler_config *cfg)
{
    return cfg->stop && atomic_load(cfg->stop);
}

enum level_outcome profiler_level_outcome(bool stable, uint64_t stabilizing_latency_ns,
                                          uint64_t threshold_ms)
{
    if (!stable)
        return LEVEL_UNSTABLE;
    if (threshold_ms && stabilizing_latency_ns / NS_PER_MS >= threshold_ms)
        return LEVEL_OVER_THRESHOLD;
    return LEVEL_RECORDED;
}

static int snapshot_server(const struct profiler_config *cfg, struct server_snapshot *out,
                           struct pa_err *err)
{
    cJSON *json = NULL;
    int rc = cfg->server_stats(cfg->server_stats_arg, &json, err);
    if (rc)
        return rc;
    rc = server_snapshot_parse(json, out, err);
    cJSON_Delete(json);
    return rc;
}

/* --- profile export ---------------------------------------------------- */

static void export_boundary(struct pa_level_export *e, uint64_t t)
{
    if (e->n_window_boundaries == e->cap_window_boundaries) {
        e->cap_window_boundaries = e->cap_window_boundaries ? 2 * e->cap_window_boundaries : 16;
        e->window_boundaries = xreallocarray(e->window_boundaries, e->cap_window_boundaries,
                                             sizeof(*e->window_boundaries));
    }
    e->window_boundaries[e->n_window_boundaries++] = t;
}

static size_t grown(size_t cap, size_t need)
{
    size_t c = cap ? cap : 1024;
    while (c < need)
        c *= 2;
    return c;
}

static void export_record(struct pa_level_export *e, const struct pa_record *r,
                          const uint64_t *response_ns)
{
    struct pa_record_batch *b = &e->records;
    if (b->n + 1 > b->cap) {
        b->cap = grown(b->cap, b->n + 1);
        b->records = xreallocarray(b->records, b->cap, sizeof(*b->records));
    }
    if (b->n_responses + r->n_responses > b->cap_responses) {
        b->cap_responses = grown(b->cap_responses, b->n_responses + r->n_responses);
        b->response_ns = xreallocarray(b->response_ns, b->cap_responses, sizeof(*b->response_ns));
    }
    struct pa_record *d = &b->records[b->n++];
    *d = *r;
    d->first_response = (uint32_t)b->n_responses;
    memcpy(b->response_ns + b->n_responses, response_ns + r->first_response,
           r->n_responses * sizeof(*b->response_ns));
    b->n_responses += r->n_responses;
}

/* --- one window -------------------------------------------------------- */

/* The time a record is selected by: its end, or for a request whose only
 * response was empty, that response's arrival. */
static uint64_t selection_time(const struct pa_record_batch *b, const struct pa_record *r)
{
    if (r->end_ns)
        return r->end_ns;
    if (r->n_responses)
        return b->response_ns[r->first_response + r->n_responses - 1];
    return 0;
}

/*
 * Moves the pending records that ended inside [start, end] into the window:
 * counts and latencies into w, everything into the export. Records ending
 * later stay pending (compacted to the front); earlier ones are dropped.
 */
static void select_records(struct level *lv, struct stats_window *w)
{
    struct pa_record_batch *b = &lv->pending;
    size_t keep = 0, keep_resp = 0;

    w->latencies = xmalloc((b->n ? b->n : 1) * sizeof(*w->latencies));
    if (lv->params.schedule)
        w->sched_latencies = xmalloc((b->n ? b->n : 1) * sizeof(*w->sched_latencies));
    for (size_t i = 0; i < b->n; i++) {
        struct pa_record r = b->records[i];
        uint64_t t = selection_time(b, &r);
        if (r.flags & PA_REC_ERROR)
            continue;
        if (t > w->end_ns) {
            /* Rolls over: compact in place (write position never passes read). */
            memmove(b->response_ns + keep_resp, b->response_ns + r.first_response,
                    r.n_responses * sizeof(*b->response_ns));
            r.first_response = (uint32_t)keep_resp;
            keep_resp += r.n_responses;
            b->records[keep++] = r;
            continue;
        }
        if (t < w->start_ns)
            continue;
        if (lv->exp)
            export_record(lv->exp, &r, b->response_ns);
        if (!r.end_ns)
            continue; /* only an empty response: exported, not measured */
        w->latencies[w->n_latencies++] = r.end_ns - r.start_ns;
        if (lv->params.schedule) {
            /* Open loop: from the planned send time (closing requests have none). */
            uint64_t from = r.scheduled_ns && r.scheduled_ns < r.start_ns ? r.scheduled_ns
                                                                           : r.start_ns;
            w->sched_latencies[w->n_sched_latencies++] = r.end_ns - from;
        }
        w->client.request_count++;
        if (r.flags & PA_REC_SEQUENCE_END)
            w->client.sequence_count++;
        if (r.flags & PA_REC_DELAYED)
            w->client.delayed_request_count++;
        w->client.response_count += r.n_responses - ((r.flags & PA_REC_NULL_LAST) ? 1u : 0u);
    }
    b->n = keep;
    b->n_responses = keep_resp;
}

static void sleep_checking_stop(const struct profiler_config *cfg, uint64_t ns)
{
    uint64_t deadline = clock_now_ns() + ns;
    for (;;) {
        uint64_t now = clock_now_ns();
        if (now >= deadline || stopped(cfg))
            return;
        uint64_t step = deadline - now < STOP_CHECK_NS ? deadline - now : STOP_CHECK_NS;
        clock_sleep_ns(step);
    }
}

/* Waits out one window. Returns non-zero only on a worker failure (fatal). */
static int wait_window(struct level *lv, struct pa_err *err)
{
    const struct profiler_config *cfg = lv->cfg;
    const struct pa_options *o = cfg->opts;
    if (o->measurement_mode == PA_MEASURE_TIME_WINDOWS) {
        /* 1.2 x the window on purpose (spec 03 §2): the original does so. */
        sleep_checking_stop(cfg, o->measurement_interval_ms * NS_PER_MS * 12 / 10);
        return PA_OK;
    }
    uint64_t poll = cfg->count_poll_ns ? cfg->count_poll_ns : DEFAULT_COUNT_POLL_NS;
    do {
        int rc = cfg->load.health(cfg->load.arg, err);
        if (rc)
            return rc;
        sleep_checking_stop(cfg, poll);
    } while (!stopped(cfg) &&
             cfg->load.completed(cfg->load.arg) - lv->prev_completed <
                 o->measurement_request_count);
    return PA_OK;
}

static void window_server_stats(struct level *lv, struct stats_window *w)
{
    const struct profiler_config *cfg = lv->cfg;
    struct server_snapshot snap = {0};
    struct pa_err e = {0};
    int rc = snapshot_server(cfg, &snap, &e);

    if (!w->err.code) {
        if (!lv->prev_snap_ok)
            w->err = lv->prev_snap_err;
        else if (rc)
            w->err = e;
        else
            w->has_server = server_stats_delta(&lv->prev_snap, &snap, &cfg->model, &w->server,
                                               &w->err) == PA_OK;
    }
    /* This window's end is the next window's start. */
    server_snapshot_release(&lv->prev_snap);
    lv->prev_snap = snap;
    lv->prev_snap_ok = rc == PA_OK;
    lv->prev_snap_err = e;
}

/* Measures window number k (0-based) of the level into lv->win[k % 3]. */
static int measure_window(struct level *lv, size_t k, struct pa_err *err)
{
    const struct profiler_config *cfg = lv->cfg;
    const struct pa_options *o = cfg->opts;
    struct stats_window *w = &lv->win[k % STABILITY_WINDOW];
    stats_window_release(w);

    cfg->load.reset_idle(cfg->load.arg);
    if (k == 0) {
        lv->prev_end_ns = clock_now_ns();
        if (lv->exp)
            export_boundary(lv->exp, lv->prev_end_ns);
        if (cfg->server_stats) {
            memset(&lv->prev_snap_err, 0, sizeof(lv->prev_snap_err));
            lv->prev_snap_ok =
                snapshot_server(cfg, &lv->prev_snap, &lv->prev_snap_err) == PA_OK;
        }
        if (o->collect_metrics && !lv->poller) {
            int mrc = metrics_poller_start(&lv->poller, o->metrics_url,
                                           o->metrics_interval_ms, err);
            if (mrc)
                return mrc;
        }
        cfg->load.lib_stats(cfg->load.arg, &lv->prev_lib);
        lv->prev_completed = cfg->load.completed(cfg->load.arg);
        (void)cfg->load.take_sent(cfg->load.arg);
    }
    w->start_ns = lv->prev_end_ns;

    int rc = wait_window(lv, err);
    if (rc)
        return rc;

    w->end_ns = clock_now_ns();
    if (lv->exp)
        export_boundary(lv->exp, w->end_ns);
    uint64_t d = w->end_ns - w->start_ns;
    w->client.duration_ns = d;

    struct stats_lib lib;
    cfg->load.lib_stats(cfg->load.arg, &lib);
    w->lib.completed = lib.completed - lv->prev_lib.completed;
    w->lib.total_ns = lib.total_ns - lv->prev_lib.total_ns;
    w->lib.send_ns = lib.send_ns - lv->prev_lib.send_ns;
    w->lib.recv_ns = lib.recv_ns - lv->prev_lib.recv_ns;
    lv->prev_lib = lib;
    lv->prev_completed = cfg->load.completed(cfg->load.arg);

    uint64_t idle = cfg->load.idle_ns(cfg->load.arg);
    w->client.overhead_pct = idle > d ? 0.0 : (double)(d - idle) / (double)d * 100.0;
    w->client.send_request_rate =
        (double)cfg->load.take_sent(cfg->load.arg) / ((double)d / (double)NS_PER_S);

    cfg->load.collect(cfg->load.arg, &lv->pending);
    select_records(lv, w);
    if (w->client.request_count == 0)
        pa_errorf(&w->err, PA_ENOREQUESTS,
                  "No valid requests recorded within time interval. Please use a larger time "
                  "window.");
    if (cfg->server_stats)
        window_server_stats(lv, w);
    if (lv->poller) {
        struct pa_err me = {0};
        if (metrics_poller_take(lv->poller, &w->metrics, &me) && !w->err.code)
            w->err = me;
    }
    if (!w->err.code)
        stats_window_finish(w, &lv->params);
    lv->prev_end_ns = w->end_ns;
    return PA_OK;
}

static uint64_t to_us(uint64_t ns)
{
    return ns / NS_PER_US;
}

static void print_pass(const struct level *lv, size_t k, const struct stats_window *w)
{
    const struct profiler_config *cfg = lv->cfg;
    if (!cfg->opts->verbose)
        return;
    if (w->err.code && cfg->report.pass_failed) {
        cfg->report.pass_failed(cfg->report.arg, (unsigned)k + 1, w->err.msg);
        return;
    }
    if (!w->err.code && cfg->report.pass) {
        struct perf_status st = {.concurrency = lv->value.concurrency,
                                 .request_rate = lv->value.rate,
                                 .batch_size = cfg->opts->batch_size,
                                 .client = w->client};
        cfg->report.pass(cfg->report.arg, (unsigned)k + 1, &st);
        return;
    }
    if (!cfg->out)
        return;
    if (w->err.code)
        fprintf(cfg->out, "  Pass [%zu] cb::Error: %s\n", k + 1, w->err.msg);
    else if (cfg->opts->percentile == -1)
        fprintf(cfg->out,
                "  Pass [%zu] throughput: %g infer/sec. Avg latency: %" PRIu64
                " usec (std %" PRIu64 " usec). \n",
                k + 1, w->client.infer_per_sec, to_us(w->client.avg_latency_ns),
                w->client.std_us);
    else
        fprintf(cfg->out, "  Pass [%zu] throughput: %g infer/sec. p%d latency: %" PRIu64 " usec\n",
                k + 1, w->client.infer_per_sec, cfg->opts->percentile,
                to_us(w->client.stabilizing_latency_ns));
    fflush(cfg->out);
}

static void push_history(struct level *lv, size_t k, double tput, uint64_t lat)
{
    if (k == lv->cap_hist) {
        lv->cap_hist = lv->cap_hist ? 2 * lv->cap_hist : 16;
        lv->hist_tput = xreallocarray(lv->hist_tput, lv->cap_hist, sizeof(*lv->hist_tput));
        lv->hist_lat = xreallocarray(lv->hist_lat, lv->cap_hist, sizeof(*lv->hist_lat));
    }
    lv->hist_tput[k] = tput;
    lv->hist_lat[k] = lat;
}

static bool over_latency_threshold(const struct level *lv, size_t n)
{
    uint64_t ms = lv->cfg->opts->latency_threshold_ms;
    if (!ms || n < STABILITY_WINDOW)
        return false;
    for (size_t i = n - STABILITY_WINDOW; i < n; i++)
        if (lv->hist_lat[i] >= ms * NS_PER_MS)
            return true;
    return false;
}

static void level_release(struct level *lv)
{
    metrics_poller_stop(lv->poller);
    for (size_t i = 0; i < STABILITY_WINDOW; i++)
        stats_window_release(&lv->win[i]);
    free(lv->pending.records);
    free(lv->pending.response_ns);
    free(lv->hist_tput);
    free(lv->hist_lat);
    server_snapshot_release(&lv->prev_snap);
}

/*
 * Measures one level. On PA_OK, *stable says whether it stabilized and, if
 * so, *status holds the merged result. Errors: worker failures, the oldest
 * retained window error, or "Received exit signal.".
 */
static bool open_loop(const struct pa_options *o)
{
    return o->load_mode == PA_LOAD_REQUEST_RATE || o->load_mode == PA_LOAD_CUSTOM_INTERVALS;
}

static int measure_level(const struct profiler_config *cfg, struct level_value value,
                         struct pa_level_export *exp, struct perf_status *status, bool *stable,
                         struct pa_err *err)
{
    const struct pa_options *o = cfg->opts;
    struct level lv = {
        .cfg = cfg,
        .params = {.batch_size = o->batch_size, .percentile = o->percentile,
                   .lib_stats = cfg->lib_stats, .metrics = o->collect_metrics,
                   .schedule = open_loop(o)},
        .value = value,
        .exp = exp,
    };
    int rc;
    size_t k = 0;

    *stable = false;
    /* Emptying the buffers at level start drops what the previous level left. */
    cfg->load.collect(cfg->load.arg, &lv.pending);
    lv.pending.n = 0;
    lv.pending.n_responses = 0;

    do {
        rc = cfg->load.health(cfg->load.arg, err);
        if (rc)
            goto out;
        rc = measure_window(&lv, k, err);
        if (rc)
            goto out;
        const struct stats_window *w = &lv.win[k % STABILITY_WINDOW];
        if (w->err.code)
            push_history(&lv, k, 0.0, UINT64_MAX);
        else
            push_history(&lv, k, w->client.infer_per_sec, w->client.stabilizing_latency_ns);
        print_pass(&lv, k, w);
        k++;
        *stable = stats_is_stable(lv.hist_tput, lv.hist_lat, k, o->stability_threshold);
        bool done = *stable;
        if (mpi_is_run(cfg->mpi)) {
            /* Collective: every rank exchanges after every window, whatever
             * its own state, so none is left waiting in a broadcast. */
            done = mpi_all_stable(cfg->mpi, *stable);
            if (done && o->verbose && cfg->out) {
                fputs("All models on all MPI ranks are stable\n", cfg->out);
                fflush(cfg->out);
            }
        }
        if (done || over_latency_threshold(&lv, k))
            break;
    } while (!stopped(cfg) && k < o->max_trials);

    /* The oldest error among the retained windows ends the run. */
    size_t first = k > STABILITY_WINDOW ? k - STABILITY_WINDOW : 0;
    for (size_t i = first; i < k; i++) {
        const struct stats_window *w = &lv.win[i % STABILITY_WINDOW];
        if (w->err.code) {
            *err = w->err;
            rc = w->err.code;
            goto out;
        }
    }
    if (*stable) {
        const struct stats_window *last[STABILITY_WINDOW];
        for (size_t i = 0; i < STABILITY_WINDOW; i++)
            last[i] = &lv.win[(k - STABILITY_WINDOW + i) % STABILITY_WINDOW];
        rc = stats_merge(last, STABILITY_WINDOW, &lv.params, status, err);
        if (rc)
            goto out;
        status->concurrency = value.concurrency;
        status->request_rate = value.rate;
        status->batch_size = o->batch_size;
        status->stable = true;
    }
    if (stopped(cfg))
        rc = pa_errorf(err, PA_EINTR, "Received exit signal.");
out:
    level_release(&lv);
    return rc;
}

/* --- sweeps ------------------------------------------------------------ */

struct sweep {
    const struct profiler_config *cfg;
    struct pa_profile *result;
};

static struct pa_level_export *new_export(struct sweep *s, struct level_value v)
{
    struct pa_profile *p = s->result;
    if (!s->cfg->opts->profile_export_file)
        return NULL;
    p->exports = xreallocarray(p->exports, p->n_exports + 1, sizeof(*p->exports));
    struct pa_level_export *e = &p->exports[p->n_exports++];
    memset(e, 0, sizeof(*e));
    e->concurrency = v.concurrency;
    e->request_rate = v.rate;
    return e;
}

/* Sets the load to v and prints its header line. */
static int set_level(struct sweep *s, struct level_value v, struct pa_err *err)
{
    const struct profiler_config *cfg = s->cfg;
    const struct pa_options *o = cfg->opts;
    int rc;

    if (o->load_mode == PA_LOAD_CONCURRENCY) {
        rc = cfg->load.set_concurrency(cfg->load.arg, v.concurrency, err);
        if (!rc && cfg->report.level_start)
            cfg->report.level_start(cfg->report.arg, v.concurrency);
        return rc;
    }
    if (!cfg->load.set_rate)
        return pa_errorf(err, PA_EUNSUPPORTED, "this load mode is not supported yet");
    rc = cfg->load.set_rate(cfg->load.arg, v.rate, err);
    if (!rc && o->load_mode == PA_LOAD_REQUEST_RATE && cfg->report.level_start_rate)
        cfg->report.level_start_rate(cfg->report.arg, v.rate);
    return rc;
}

/* Measures level v, reports it, and says how it ended. */
static int run_level(struct sweep *s, struct level_value v, enum level_outcome *outcome,
                     struct pa_err *err)
{
    const struct profiler_config *cfg = s->cfg;
    const struct pa_options *o = cfg->opts;
    struct perf_status st;
    bool stable;

    int rc = set_level(s, v, err);
    if (rc)
        return rc;

    memset(&st, 0, sizeof(st));
    rc = measure_level(cfg, v, new_export(s, v), &st, &stable, err);
    if (rc) {
        perf_status_release(&st);
        return rc;
    }
    *outcome = profiler_level_outcome(stable, st.client.stabilizing_latency_ns,
                                      o->latency_threshold_ms);
    switch (*outcome) {
    case LEVEL_OVER_THRESHOLD:
        log_warnx("Measured latency went over the set limit of %" PRIu64 " msec. ",
                  o->latency_threshold_ms);
        perf_status_release(&st);
        break;
    case LEVEL_UNSTABLE:
        if (o->load_mode == PA_LOAD_CONCURRENCY)
            log_warnx("Failed to obtain stable measurement within %" PRIu64
                      " measurement windows for concurrency %" PRIu64
                      ". Please try to increase the %s.",
                      o->max_trials, v.concurrency,
                      o->measurement_mode == PA_MEASURE_TIME_WINDOWS
                          ? "--measurement-interval"
                          : "--measurement-request-count");
        else
            log_warnx("Failed to obtain stable measurement.");
        perf_status_release(&st);
        break;
    case LEVEL_RECORDED: {
        struct pa_profile *p = s->result;
        p->levels = xreallocarray(p->levels, p->n_levels + 1, sizeof(*p->levels));
        p->levels[p->n_levels++] = st;
        if (cfg->report.level_done)
            cfg->report.level_done(cfg->report.arg, &p->levels[p->n_levels - 1]);
        break;
    }
    }
    return PA_OK;
}

static struct level_value conc(uint64_t c)
{
    return (struct level_value){.concurrency = c};
}

static struct level_value rate(double r)
{
    return (struct level_value){.rate = r};
}

static int linear_sweep(struct sweep *s, struct pa_err *err)
{
    const struct pa_options *o = s->cfg->opts;
    uint64_t start = o->concurrency_start, end = o->concurrency_end, step = o->concurrency_step;
    uint64_t v = start;
    enum level_outcome outcome;
    size_t examined = 0;

    do {
        int rc = run_level(s, conc(v), &outcome, err);
        if (rc)
            return rc;
        examined++;
        if (step == 0) /* would measure the same level forever */
            break;
        v += step;
    } while ((v <= end || end == 0) && outcome == LEVEL_RECORDED);

    if (examined == 1 && outcome == LEVEL_UNSTABLE)
        return pa_errorf(err, PA_EUNSTABLE, "Failed to obtain stable measurement.");
    return PA_OK;
}

/* Request rates accumulate in double precision, as the original's loop does. */
static int linear_rate_sweep(struct sweep *s, struct pa_err *err)
{
    const struct pa_options *o = s->cfg->opts;
    double start = o->rate_start, end = o->rate_end, step = o->rate_step;
    double v = start;
    enum level_outcome outcome;
    size_t examined = 0;

    do {
        int rc = run_level(s, rate(v), &outcome, err);
        if (rc)
            return rc;
        examined++;
        if (!(step > 0)) /* would measure the same level forever */
            break;
        v += step;
    } while ((v <= end || end == 0.0) && outcome == LEVEL_RECORDED);

    if (examined == 1 && outcome == LEVEL_UNSTABLE)
        return pa_errorf(err, PA_EUNSTABLE, "Failed to obtain stable measurement.");
    return PA_OK;
}

static int binary_sweep(struct sweep *s, struct pa_err *err)
{
    const struct pa_options *o = s->cfg->opts;
    uint64_t lo = o->concurrency_start, hi = o->concurrency_end, step = o->concurrency_step;
    enum level_outcome outcome;

    int rc = run_level(s, conc(lo), &outcome, err);
    if (rc || outcome != LEVEL_RECORDED)
        return rc;
    rc = run_level(s, conc(hi), &outcome, err);
    if (rc || outcome == LEVEL_RECORDED)
        return rc;
    while (hi - lo > step) {
        uint64_t mid = (lo + hi) / 2;
        rc = run_level(s, conc(mid), &outcome, err);
        if (rc)
            return rc;
        if (outcome == LEVEL_RECORDED)
            lo = mid;
        else
            hi = mid;
    }
    return PA_OK;
}

/* The same search on rates; the midpoint is exact (no integer division). */
static int binary_rate_sweep(struct sweep *s, struct pa_err *err)
{
    const struct pa_options *o = s->cfg->opts;
    double lo = o->rate_start, hi = o->rate_end, step = o->rate_step;
    enum level_outcome outcome;

    int rc = run_level(s, rate(lo), &outcome, err);
    if (rc || outcome != LEVEL_RECORDED)
        return rc;
    rc = run_level(s, rate(hi), &outcome, err);
    if (rc || outcome == LEVEL_RECORDED)
        return rc;
    while (hi - lo > step) {
        double mid = (lo + hi) / 2;
        rc = run_level(s, rate(mid), &outcome, err);
        if (rc)
            return rc;
        if (outcome == LEVEL_RECORDED)
            lo = mid;
        else
            hi = mid;
    }
    return PA_OK;
}

int profiler_run(const struct profiler_config *cfg, struct pa_profile *result,
                 struct pa_err *err)
{
    struct sweep s = {.cfg = cfg, .result = result};
    enum level_outcome outcome;
    bool binary = cfg->opts->search_mode == PA_SEARCH_BINARY;

    switch (cfg->opts->load_mode) {
    case PA_LOAD_CONCURRENCY:
        return binary ? binary_sweep(&s, err) : linear_sweep(&s, err);
    case PA_LOAD_REQUEST_RATE:
        return binary ? binary_rate_sweep(&s, err) : linear_rate_sweep(&s, err);
    case PA_LOAD_CUSTOM_INTERVALS:
        /* One level; an unstable one is not an error here (spec 03 §7). */
        return run_level(&s, rate(cfg->custom_rate), &outcome, err);
    case PA_LOAD_PERIODIC_CONCURRENCY:
        break;
    }
    return pa_errorf(err, PA_EUNSUPPORTED,
                     "periodic concurrency is not measured by the profiler");
}
