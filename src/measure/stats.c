/*
 * Window statistics and the three-window merge (spec 03 §3, §4.1).
 *
 * The arithmetic deliberately follows the original's types: throughput is
 * divided in single precision (so reported values round the way the
 * original's do), averages are integer divisions of nanosecond sums, the
 * standard deviation is the integer sample variance's square root truncated
 * to µs, and the percentile index rounds half up in double precision.
 */
#include "measure/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/sort.h"
#include "core/xalloc.h"
#include "measure/server_stats.h"

#include "core/banned.h"

static const int standard_percentiles[] = {50, 90, 95, 99};

void stats_window_release(struct stats_window *w)
{
    if (!w)
        return;
    free(w->latencies);
    free(w->sched_latencies);
    server_side_clear(&w->server);
    metrics_samples_release(&w->metrics);
    memset(w, 0, sizeof(*w));
}

size_t stats_percentile_index(int q, size_t n)
{
    if (n == 0)
        return 0;
    double idx = ((double)q / 100.0) * (double)(n - 1) + 0.5;
    size_t i = (size_t)idx;
    return i < n ? i : n - 1;
}

double stats_per_sec(uint64_t count, uint64_t duration_ns)
{
    /* The original divides a float by a float; keep every step in float. */
    float secs = (float)duration_ns / (float)NS_PER_S;
    float rate = (float)count / secs;
    return (double)rate;
}

uint64_t stats_std_us(const uint64_t *lat, size_t n, uint64_t avg_ns)
{
    if (n == 0)
        return 0;
    if (n == 1)
        return UINT64_MAX;
    uint64_t sq = 0;
    for (size_t i = 0; i < n; i++) {
        /* |d|² equals the original's signed d·d, wrapping modulo 2^64 alike. */
        uint64_t d = lat[i] >= avg_ns ? lat[i] - avg_ns : avg_ns - lat[i];
        sq += d * d;
    }
    uint64_t var = sq / (uint64_t)(n - 1);
    return (uint64_t)(sqrt((double)var) / 1000.0);
}

size_t stats_percentile_list(int percentile, int *qs)
{
    /* {50, 90, 95, 99} plus the user's percentile, ascending and unique. */
    size_t nq = 0;
    bool user_done = percentile == -1;
    for (size_t i = 0; i < sizeof(standard_percentiles) / sizeof(standard_percentiles[0]); i++) {
        int q = standard_percentiles[i];
        if (!user_done && percentile <= q) {
            if (percentile < q)
                qs[nq++] = percentile;
            user_done = true;
        }
        qs[nq++] = q;
    }
    if (!user_done)
        qs[nq++] = percentile;
    return nq;
}

void stats_schedule_summary(const uint64_t *sorted, size_t n, int percentile,
                            struct pa_client_side *out)
{
    int qs[PA_MAX_PERCENTILES];
    size_t nq = stats_percentile_list(percentile, qs);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sorted[i];
    out->has_schedule = true;
    out->sched_avg_latency_ns = n ? sum / n : 0;
    for (size_t i = 0; i < nq; i++) {
        out->sched_percentiles[i].q = qs[i];
        out->sched_percentiles[i].latency_ns = n ? sorted[stats_percentile_index(qs[i], n)] : 0;
    }
}

void stats_latency_summary(const uint64_t *sorted, size_t n, int percentile,
                           struct pa_client_side *out)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sorted[i];
    out->avg_latency_ns = n ? sum / n : 0;
    out->std_us = stats_std_us(sorted, n, out->avg_latency_ns);
    if (n == 1)
        log_warnx("WARNING: Pass contained only one request, so sample latency standard "
                  "deviation will be infinity (UINT64_MAX).");

    int qs[PA_MAX_PERCENTILES];
    size_t nq = stats_percentile_list(percentile, qs);

    out->n_percentiles = nq;
    out->stabilizing_latency_ns = out->avg_latency_ns;
    for (size_t i = 0; i < nq; i++) {
        out->percentiles[i].q = qs[i];
        out->percentiles[i].latency_ns = n ? sorted[stats_percentile_index(qs[i], n)] : 0;
        if (qs[i] == percentile)
            out->stabilizing_latency_ns = out->percentiles[i].latency_ns;
    }
}

static void client_rates(struct pa_client_side *c, const struct stats_params *p)
{
    uint64_t b = p->batch_size ? p->batch_size : 1;
    c->infer_per_sec = stats_per_sec(c->request_count * b, c->duration_ns);
    c->sequence_per_sec = stats_per_sec(c->sequence_count, c->duration_ns);
    c->responses_per_sec = stats_per_sec(c->response_count, c->duration_ns);
}

static void lib_averages(struct pa_client_side *c, const struct stats_lib *lib,
                         const struct stats_params *p)
{
    c->has_lib_stats = p->lib_stats;
    c->lib_completed = lib->completed;
    if (p->lib_stats && lib->completed) {
        c->avg_request_ns = lib->total_ns / lib->completed;
        c->avg_send_ns = lib->send_ns / lib->completed;
        c->avg_receive_ns = lib->recv_ns / lib->completed;
    }
}

void stats_window_finish(struct stats_window *w, const struct stats_params *p)
{
    sort_u64(w->latencies, w->n_latencies);
    client_rates(&w->client, p);
    stats_latency_summary(w->latencies, w->n_latencies, p->percentile, &w->client);
    lib_averages(&w->client, &w->lib, p);
    if (p->schedule) {
        sort_u64(w->sched_latencies, w->n_sched_latencies);
        stats_schedule_summary(w->sched_latencies, w->n_sched_latencies, p->percentile,
                               &w->client);
    }
}

/* The n windows' lists (latencies or scheduled latencies) pooled and sorted. */
static uint64_t *pool_sorted(const struct stats_window *const *w, size_t n, bool sched,
                             size_t *total)
{
    size_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += sched ? w[i]->n_sched_latencies : w[i]->n_latencies;
    uint64_t *pool = xmalloc((t ? t : 1) * sizeof(*pool));
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *src = sched ? w[i]->sched_latencies : w[i]->latencies;
        size_t k = sched ? w[i]->n_sched_latencies : w[i]->n_latencies;
        if (k)
            memcpy(pool + at, src, k * sizeof(*pool));
        at += k;
    }
    sort_u64(pool, t);
    *total = t;
    return pool;
}

int stats_merge(const struct stats_window *const *w, size_t n, const struct stats_params *p,
                struct perf_status *out, struct pa_err *err)
{
    struct pa_client_side *c = &out->client;
    size_t total = 0;
    double overhead = 0, send_rate = 0;
    uint64_t lib_count = 0, lib_req = 0, lib_send = 0, lib_recv = 0;

    for (size_t i = 0; i < n; i++) {
        const struct pa_client_side *wc = &w[i]->client;
        c->request_count += wc->request_count;
        c->sequence_count += wc->sequence_count;
        c->delayed_request_count += wc->delayed_request_count;
        c->response_count += wc->response_count;
        c->duration_ns += wc->duration_ns;
        overhead += wc->overhead_pct;
        send_rate += wc->send_request_rate;
        lib_count += wc->lib_completed;
        lib_req += wc->avg_request_ns * wc->lib_completed;
        lib_send += wc->avg_send_ns * wc->lib_completed;
        lib_recv += wc->avg_receive_ns * wc->lib_completed;
    }

    uint64_t *pool = pool_sorted(w, n, false, &total);
    client_rates(c, p);
    stats_latency_summary(pool, total, p->percentile, c);
    free(pool);
    if (p->schedule) {
        pool = pool_sorted(w, n, true, &total);
        stats_schedule_summary(pool, total, p->percentile, c);
        free(pool);
    }

    if (n) {
        c->overhead_pct = overhead / (double)n;
        c->send_request_rate = send_rate / (double)n;
    }
    c->has_lib_stats = p->lib_stats;
    c->lib_completed = lib_count;
    if (p->lib_stats && lib_count) {
        c->avg_request_ns = lib_req / lib_count;
        c->avg_send_ns = lib_send / lib_count;
        c->avg_receive_ns = lib_recv / lib_count;
    }

    if (p->metrics) {
        const struct metrics_samples *lists[8];
        size_t nl = n < 8 ? n : 8;
        for (size_t i = 0; i < nl; i++)
            lists[i] = &w[i]->metrics;
        metrics_aggregate(lists, nl, &out->gpus, &out->n_gpus);
        out->has_metrics = true;
    }

    out->has_server_stats = n > 0 && w[0]->has_server;
    if (out->has_server_stats) {
        server_side_copy(&out->server, &w[0]->server);
        for (size_t i = 1; i < n; i++) {
            int rc = server_stats_add(&out->server, &w[i]->server, err);
            if (rc) {
                server_side_clear(&out->server);
                out->has_server_stats = false;
                return rc;
            }
        }
    }
    return PA_OK;
}

static double ratio(double hi, double lo)
{
    if (lo == 0)
        return hi == 0 ? 1.0 : INFINITY;
    return hi / lo;
}

bool stats_is_stable(const double *infer_per_sec, const uint64_t *latency_ns, size_t n,
                     double threshold)
{
    if (n < 3)
        return false;
    double tmin = INFINITY, tmax = 0;
    uint64_t lmin = UINT64_MAX, lmax = 0;
    for (size_t i = n - 3; i < n; i++) {
        if (infer_per_sec[i] == 0)
            return false;
        tmin = fmin(tmin, infer_per_sec[i]);
        tmax = fmax(tmax, infer_per_sec[i]);
        lmin = latency_ns[i] < lmin ? latency_ns[i] : lmin;
        lmax = latency_ns[i] > lmax ? latency_ns[i] : lmax;
    }
    if (ratio(tmax, tmin) > 1.0 + threshold)
        return false;
    return ratio((double)lmax, (double)lmin) <= 1.0 + threshold;
}
