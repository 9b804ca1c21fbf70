/*
 * The -f CSV report and the composing-model CSVs (spec 07-output.md §4-§5).
 *
 * Model Analyzer reads the main file by exact header name, so the header is
 * assembled from the same conditions that decide each row's cells, in one
 * place per column group. Rows are sorted by throughput on a private index,
 * leaving the caller's measurement-order array (used by the console
 * summary) untouched.
 *
 * Server columns use ns averages (time/count) and divide by 1000 only when
 * printing, as the original does; the network column is clamped at 0 where
 * the original's unsigned subtraction would wrap (a fix the spec allows).
 */
#include "report/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "report/report-internal.h"
#include "core/banned.h"

#define UNACCOUNTED_MSG                                                                        \
    "Server average accounted time was larger than client average wait time due to small "    \
    "sample size. Increase the measurement interval with `--measurement-interval`.\n"

static bool targets_concurrency(const struct pa_options *o)
{
    return o->load_mode == PA_LOAD_CONCURRENCY || o->load_mode == PA_LOAD_PERIODIC_CONCURRENCY;
}

/* Indices of levels sorted by infer_per_sec ascending; ties keep measurement order. */
static size_t *sorted_order(const struct perf_status *levels, size_t n)
{
    size_t *idx = xcalloc(n ? n : 1, sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 &&
               levels[idx[j - 1]].client.infer_per_sec > levels[i].client.infer_per_sec) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return idx;
}

static void print_level_value(FILE *out, const struct pa_options *o, const struct perf_status *s)
{
    char d[REPORT_DBL_BUFSZ];
    if (targets_concurrency(o))
        fprintf(out, "%" PRIu64 ",", s->concurrency);
    else
        fprintf(out, "%s,", fmt_double_default(d, sizeof(d), s->request_rate));
}

/* Per-stage server averages of one model's own statistics, in ns. */
struct stage_ns {
    uint64_t queue, compute_input, compute_infer, compute_output, cache_hit, cache_miss;
};

static void stage_avgs(const struct pa_server_side *m, struct stage_ns *a)
{
    a->queue = report_avg_ns(m->queue.ns, m->queue.count);
    a->compute_input = report_avg_ns(m->compute_input.ns, m->compute_input.count);
    a->compute_infer = report_avg_ns(m->compute_infer.ns, m->compute_infer.count);
    a->compute_output = report_avg_ns(m->compute_output.ns, m->compute_output.count);
    a->cache_hit = report_avg_ns(m->cache_hit.ns, m->cache_hit.count);
    a->cache_miss = report_avg_ns(m->cache_miss.ns, m->cache_miss.count);
}

static uint64_t accounted_ns(const struct stage_ns *a)
{
    return a->queue + a->compute_input + a->compute_infer + a->compute_output + a->cache_hit +
           a->cache_miss;
}

/* "<queue>,<input>,<infer>,<output>,[<hit>,<miss>,]" in µs. */
static void print_stages(FILE *out, const struct stage_ns *a, bool cache)
{
    fprintf(out, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", a->queue / 1000,
            a->compute_input / 1000, a->compute_infer / 1000, a->compute_output / 1000);
    if (cache)
        fprintf(out, "%" PRIu64 ",%" PRIu64 ",", a->cache_hit / 1000, a->cache_miss / 1000);
}

static void print_server_header(FILE *out, bool cache)
{
    fputs("Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,"
          "Server Compute Output,",
          out);
    if (cache)
        fputs("Server Cache Hit,Server Cache Miss,", out);
}

static void print_gpu_cells(FILE *out, const struct perf_status *s)
{
    char d[REPORT_DBL_BUFSZ];

    fputc(',', out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_utilization)
            fprintf(out, "%s:%s;", s->gpus[i].uuid,
                    fmt_double_default(d, sizeof(d), s->gpus[i].utilization));
    fputc(',', out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_power)
            fprintf(out, "%s:%s;", s->gpus[i].uuid,
                    fmt_double_default(d, sizeof(d), s->gpus[i].power_watts));
    fputc(',', out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_memory_used)
            fprintf(out, "%s:%" PRIu64 ";", s->gpus[i].uuid, s->gpus[i].memory_used);
    fputc(',', out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_memory_total)
            fprintf(out, "%s:%" PRIu64 ";", s->gpus[i].uuid, s->gpus[i].memory_total);
}

/* The first level that carries scheduled latencies, or NULL when the columns are off. */
static const struct perf_status *schedule_source(const struct pa_options *o,
                                                 const struct perf_status *levels, size_t n)
{
    if (!o->verbose_csv ||
        (o->load_mode != PA_LOAD_REQUEST_RATE && o->load_mode != PA_LOAD_CUSTOM_INTERVALS))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (levels[i].client.has_schedule)
            return &levels[i];
    return NULL;
}

static void print_schedule_cells(FILE *out, const struct perf_status *src,
                                 const struct perf_status *s)
{
    const struct pa_client_side *c = &s->client;
    size_t np = src->client.n_percentiles;

    for (size_t i = 0; i < np && i < PA_MAX_PERCENTILES; i++) {
        int q = src->client.sched_percentiles[i].q;
        fputc(',', out);
        if (!c->has_schedule)
            continue;
        for (size_t j = 0; j < c->n_percentiles && j < PA_MAX_PERCENTILES; j++)
            if (c->sched_percentiles[j].q == q) {
                fprintf(out, "%" PRIu64, c->sched_percentiles[j].latency_ns / 1000);
                break;
            }
    }
    fputc(',', out);
    if (c->has_schedule)
        fprintf(out, "%" PRIu64, c->sched_avg_latency_ns / 1000);
}

static int check_compute_counts(const struct perf_status *levels, size_t n, struct pa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct pa_server_side *m = &levels[i].server;
        if (!levels[i].has_server_stats)
            continue;
        if (m->compute_input.count != m->compute_infer.count ||
            m->compute_infer.count != m->compute_output.count)
            return pa_errorf(err, PA_EPROTO,
                             "Server side statistics compute counts must be the same.");
    }
    return PA_OK;
}

static void print_header(FILE *out, const struct pa_options *o, const struct report_model *model,
                         const struct perf_status *levels, bool server, bool metrics,
                         const struct perf_status *sched)
{
    const struct pa_client_side *c0 = &levels[0].client;
    int prev_q = -1;

    fputs(targets_concurrency(o) ? "Concurrency," : "Request Rate,", out);
    fputs("Inferences/Second,", out);
    if (model->decoupled)
        fputs("Response Throughput,", out);
    fputs("Client Send,", out);
    if (server)
        print_server_header(out, model->response_cache);
    fputs("Client Recv", out);
    for (size_t i = 0; i < c0->n_percentiles && i < PA_MAX_PERCENTILES; i++) {
        if (c0->percentiles[i].q == prev_q)
            continue;
        prev_q = c0->percentiles[i].q;
        fprintf(out, ",p%d latency", c0->percentiles[i].q);
    }
    if (o->verbose_csv) {
        fputc(',', out);
        if (o->percentile == -1)
            fputs("Avg latency,", out);
        fputs("request/response,response wait", out);
        if (metrics)
            fputs(",Avg GPU Utilization,Avg GPU Power Usage,Max GPU Memory Usage,"
                  "Total GPU Memory",
                  out);
    }
    if (sched) {
        for (size_t i = 0; i < sched->client.n_percentiles && i < PA_MAX_PERCENTILES; i++)
            fprintf(out, ",Scheduled p%d latency", sched->client.sched_percentiles[i].q);
        fputs(",Scheduled Avg latency", out);
    }
    fputc('\n', out);
}

static void print_row(FILE *out, const struct pa_options *o, const struct report_model *model,
                      const struct perf_status *s, const struct perf_status *first, bool server,
                      bool metrics, const struct perf_status *sched, FILE *diag)
{
    const struct pa_client_side *c = &s->client;
    char d[REPORT_DBL_BUFSZ];
    int prev_q = -1;

    print_level_value(out, o, s);
    fprintf(out, "%s,", fmt_double_default(d, sizeof(d), c->infer_per_sec));
    if (model->decoupled)
        fprintf(out, "%s,", fmt_double_default(d, sizeof(d), c->responses_per_sec));
    fprintf(out, "%" PRIu64 ",", c->avg_send_ns / 1000);
    if (server) {
        struct stage_ns a;
        uint64_t io = c->avg_send_ns + c->avg_receive_ns;
        uint64_t wait = c->avg_latency_ns > io ? c->avg_latency_ns - io : 0;
        uint64_t network;

        stage_avgs(&s->server, &a);
        network = wait > accounted_ns(&a) ? wait - accounted_ns(&a) : 0;
        if (network == 0)
            fputs(UNACCOUNTED_MSG, diag);
        fprintf(out, "%" PRIu64 ",", network / 1000);
        print_stages(out, &a, model->response_cache);
    }
    fprintf(out, "%" PRIu64, c->avg_receive_ns / 1000);
    /* Columns follow the header's percentile list (the first level's). */
    for (size_t i = 0; i < first->client.n_percentiles && i < PA_MAX_PERCENTILES; i++) {
        int q = first->client.percentiles[i].q;
        if (q == prev_q)
            continue;
        prev_q = q;
        fputc(',', out);
        for (size_t j = 0; j < c->n_percentiles && j < PA_MAX_PERCENTILES; j++)
            if (c->percentiles[j].q == q) {
                fprintf(out, "%" PRIu64, c->percentiles[j].latency_ns / 1000);
                break;
            }
    }
    if (o->verbose_csv) {
        uint64_t send_us = c->avg_send_ns / 1000;
        uint64_t recv_us = c->avg_receive_ns / 1000;
        uint64_t total_us = c->avg_request_ns / 1000;

        fputc(',', out);
        if (o->percentile == -1)
            fprintf(out, "%" PRIu64 ",", c->avg_latency_ns / 1000);
        /* Unsigned like the original; the counters keep total ≥ send + recv. */
        fprintf(out, "%" PRIu64 ",%" PRIu64, send_us + recv_us, total_us - send_us - recv_us);
        if (metrics)
            print_gpu_cells(out, s);
    }
    if (sched)
        print_schedule_cells(out, sched, s);
    fputc('\n', out);
}

int report_csv_print(FILE *out, const struct pa_options *opts, const struct report_model *model,
                     const struct perf_status *levels, size_t n, FILE *diag, struct pa_err *err)
{
    int rc;
    size_t *order;
    bool server, metrics;
    const struct perf_status *sched;

    if (n == 0)
        return PA_OK;
    if ((rc = check_compute_counts(levels, n, err)) != PA_OK)
        return rc;
    server = levels[0].has_server_stats;
    metrics = opts->verbose_csv && opts->collect_metrics;
    sched = schedule_source(opts, levels, n);
    order = sorted_order(levels, n);
    print_header(out, opts, model, levels, server, metrics, sched);
    for (size_t i = 0; i < n; i++)
        print_row(out, opts, model, &levels[order[i]], &levels[0], server, metrics, sched, diag);
    free(order);
    return PA_OK;
}

static const struct pa_server_side *find_composing(const struct pa_server_side *parent,
                                                   const char *name, const char *version)
{
    for (size_t i = 0; i < parent->n_composing; i++)
        if (strcmp(parent->composing[i].name, name) == 0 &&
            strcmp(parent->composing[i].version, version) == 0)
            return &parent->composing[i];
    return NULL;
}

static void print_composing(FILE *out, const struct pa_options *o,
                            const struct report_model *model, const struct perf_status *levels,
                            const size_t *order, size_t n, const struct pa_server_side *which,
                            FILE *diag)
{
    static const struct pa_server_side none; /* a level that lacks the model: all zero */
    bool cache = model->response_cache;
    char d[REPORT_DBL_BUFSZ];

    fputs(targets_concurrency(o) ? "Concurrency," : "Request Rate,", out);
    fputs("Inferences/Second,Client Send,", out);
    print_server_header(out, cache);
    fputs("Client Recv\n", out);

    for (size_t i = 0; i < n; i++) {
        const struct perf_status *s = &levels[order[i]];
        const struct pa_server_side *m = find_composing(&s->server, which->name, which->version);
        struct stage_ns a;
        uint64_t latency, overhead;
        double ratio;

        if (!m)
            m = &none;
        stage_avgs(m, &a);
        latency = report_avg_ns(m->success.ns, m->success.count);
        overhead = latency > accounted_ns(&a) ? latency - accounted_ns(&a) : 0;
        if (overhead == 0)
            fputs(UNACCOUNTED_MSG, diag);
        /* Throughput scaled by the composing model's share of the requests. */
        ratio = s->server.success.count > 0
                    ? (double)m->success.count / (double)s->server.success.count
                    : 0.0;
        print_level_value(out, o, s);
        fprintf(out, "%s,0,%" PRIu64 ",",
                fmt_double_default(d, sizeof(d), ratio * s->client.infer_per_sec),
                overhead / 1000);
        print_stages(out, &a, cache);
        fputs("0\n", out);
    }
}

void report_composing_csv_print(FILE *out, const struct pa_options *opts,
                                const struct report_model *model,
                                const struct perf_status *levels, size_t n, size_t index,
                                FILE *diag)
{
    size_t *order;

    if (n == 0)
        return;
    order = sorted_order(levels, n);
    if (index < levels[order[0]].server.n_composing)
        print_composing(out, opts, model, levels, order, n,
                        &levels[order[0]].server.composing[index], diag);
    free(order);
}

int report_csv_write(const struct pa_options *opts, const struct report_model *model,
                     const struct perf_status *levels, size_t n, FILE *diag, struct pa_err *err)
{
    int rc;
    FILE *f;
    size_t *order;
    const struct pa_server_side *first;

    if (!opts->csv_file || n == 0)
        return PA_OK;
    if ((rc = check_compute_counts(levels, n, err)) != PA_OK)
        return rc;

    /* The original writes through an unchecked ofstream: a bad path is a no-op. */
    f = fopen(opts->csv_file, "w");
    if (f) {
        rc = report_csv_print(f, opts, model, levels, n, diag, err);
        fclose(f);
        if (rc != PA_OK)
            return rc;
    }

    order = sorted_order(levels, n);
    first = &levels[order[0]].server;
    if (levels[order[0]].has_server_stats) {
        for (size_t i = 0; i < first->n_composing; i++) {
            const struct pa_server_side *c = &first->composing[i];
            /* QUIRK (07 §5): the prefix goes before the whole -f string. */
            char *path = xasprintf("%s_v%s.%s", c->name, c->version, opts->csv_file);
            FILE *cf = fopen(path, "w");
            if (cf) {
                print_composing(cf, opts, model, levels, order, n, c, diag);
                fclose(cf);
            }
            free(path);
        }
    }
    free(order);
    return PA_OK;
}
