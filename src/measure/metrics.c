/*
 * Prometheus GPU metrics (spec 03 §8): a poller thread per level scrapes
 * the endpoint with libcurl and keeps the parsed samples behind a mutex;
 * the profiler takes them at every window end and aggregates the samples of
 * the level's last three windows per GPU.
 *
 * Parsing is deliberately as narrow as the original's pattern: a line must
 * follow a newline, carry exactly one gpu_uuid label, and its value is
 * read as digits with an optional fraction (so "1.5e+09" reads as 1.5).
 */
#include "measure/metrics.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

#include "core/banned.h"

enum { M_UTIL, M_POWER, M_MEM_USED, M_MEM_TOTAL, M_COUNT };

static const char *const metric_names[M_COUNT] = {
    "nv_gpu_utilization",
    "nv_gpu_power_usage",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_memory_total_bytes",
};

/* Once-per-run warnings. */
static atomic_bool warned_missing, warned_slow;

void metrics_samples_release(struct metrics_samples *m)
{
    if (!m)
        return;
    free(m->s);
    m->s = NULL;
    m->n = m->cap = 0;
}

static struct pa_gpu_metric *sample_for(struct metrics_samples *out, size_t from,
                                        const char *uuid, size_t len)
{
    for (size_t i = from; i < out->n; i++)
        if (strlen(out->s[i].uuid) == len && !memcmp(out->s[i].uuid, uuid, len))
            return &out->s[i];
    if (out->n == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 8;
        out->s = xreallocarray(out->s, out->cap, sizeof(*out->s));
    }
    struct pa_gpu_metric *g = &out->s[out->n++];
    memset(g, 0, sizeof(*g));
    snprintf(g->uuid, sizeof(g->uuid), "%.*s", (int)len, uuid);
    return g;
}

/*
 * Reads `\d+(\.\d*)?` at p; returns false when there is no digit or the
 * integer part is absurdly long (no metric has 60 digits). Fraction digits
 * past the buffer are dropped: they cannot change a double anyway.
 */
static bool read_value(const char *p, double *out)
{
    char num[64];
    size_t n = 0;
    while (p[n] >= '0' && p[n] <= '9')
        n++;
    if (n == 0 || n >= sizeof(num) - 1)
        return false;
    size_t len = n;
    if (p[n] == '.') {
        len = ++n;
        while (p[n] >= '0' && p[n] <= '9') {
            if (len < sizeof(num) - 1)
                len++;
            n++;
        }
    }
    memcpy(num, p, len);
    num[len] = '\0';
    *out = strtod(num, NULL);
    return true;
}

/* Memory gauges are byte counts: truncate, saturating at the uint64 range. */
static uint64_t bytes_of(double v)
{
    if (!(v > 0))
        return 0;
    if (v >= 18446744073709551616.0)
        return UINT64_MAX;
    return (uint64_t)v;
}

void metrics_parse(const char *text, struct metrics_samples *out, unsigned *missing)
{
    size_t from = out->n;
    *missing = 0;
    for (int m = 0; m < M_COUNT; m++) {
        char prefix[96];
        snprintf(prefix, sizeof(prefix), "\n%s{gpu_uuid=\"", metric_names[m]);
        size_t plen = strlen(prefix);
        bool found = false;
        for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
            const char *uuid = p + plen;
            const char *q = strchr(uuid, '"');
            const char *nl = strchr(uuid, '\n');
            if (!q || (nl && nl < q) || strncmp(q, "\"} ", 3) != 0)
                continue;
            double v;
            if (!read_value(q + 3, &v))
                continue;
            struct pa_gpu_metric *g = sample_for(out, from, uuid, (size_t)(q - uuid));
            found = true;
            switch (m) {
            case M_UTIL:
                g->utilization = v;
                g->has_utilization = true;
                break;
            case M_POWER:
                g->power_watts = v;
                g->has_power = true;
                break;
            case M_MEM_USED:
                g->memory_used = bytes_of(v);
                g->has_memory_used = true;
                break;
            default:
                g->memory_total = bytes_of(v);
                g->has_memory_total = true;
                break;
            }
        }
        if (!found)
            *missing |= 1u << m;
    }
}

static int cmp_uuid(const void *a, const void *b)
{
    return strcmp(((const struct pa_gpu_metric *)a)->uuid, ((const struct pa_gpu_metric *)b)->uuid);
}

void metrics_aggregate(const struct metrics_samples *const *lists, size_t n_lists,
                       struct pa_gpu_metric **out, size_t *n_out)
{
    struct metrics_samples acc = {0};
    size_t *n_util = NULL, *n_power = NULL;

    for (size_t l = 0; l < n_lists; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            const struct pa_gpu_metric *s = &lists[l]->s[i];
            size_t before = acc.n;
            struct pa_gpu_metric *g = sample_for(&acc, 0, s->uuid, strlen(s->uuid));
            if (acc.n != before) {
                n_util = xreallocarray(n_util, acc.cap, sizeof(*n_util));
                n_power = xreallocarray(n_power, acc.cap, sizeof(*n_power));
                n_util[acc.n - 1] = n_power[acc.n - 1] = 0;
            }
            size_t k = (size_t)(g - acc.s);
            if (s->has_utilization) {
                g->utilization += s->utilization;
                n_util[k]++;
                g->has_utilization = true;
            }
            if (s->has_power) {
                g->power_watts += s->power_watts;
                n_power[k]++;
                g->has_power = true;
            }
            if (s->has_memory_used && (!g->has_memory_used || s->memory_used > g->memory_used)) {
                g->memory_used = s->memory_used;
                g->has_memory_used = true;
            }
            if (s->has_memory_total && !g->has_memory_total) {
                g->memory_total = s->memory_total;
                g->has_memory_total = true;
            }
        }
    }
    for (size_t k = 0; k < acc.n; k++) {
        if (n_util[k])
            acc.s[k].utilization /= (double)n_util[k];
        if (n_power[k])
            acc.s[k].power_watts /= (double)n_power[k];
    }
    free(n_util);
    free(n_power);
    if (acc.n)
        qsort(acc.s, acc.n, sizeof(*acc.s), cmp_uuid);
    *out = acc.s;
    *n_out = acc.n;
}

/* --- the poller -------------------------------------------------------- */

struct metrics_poller {
    char *url;
    uint64_t interval_ns;
    pthread_t thread;
    atomic_bool stop;

    pthread_mutex_t lock; /* guards samples and err */
    pthread_cond_t cond;  /* stop */
    struct metrics_samples samples;
    struct pa_err err;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, data, size * nmemb) == PA_OK ? size * nmemb : 0;
}

/* One scrape; its samples (or its failure) are queued for the next window. False on failure. */
static bool scrape(struct metrics_poller *p, CURL *curl, struct buf *body)
{
    struct pa_err e = {0};
    buf_reset(body);
    curl_easy_setopt(curl, CURLOPT_URL, p->url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

    if (rc != CURLE_OK)
        pa_errorf(&e, PA_ECONN, "Unable to connect to Metrics endpoint %s", p->url);
    else if (status != 200)
        pa_errorf(&e, PA_ESERVER, "Metrics endpoint curling did not succeed.");

    struct metrics_samples got = {0};
    unsigned missing = 0;
    if (!e.code) {
        metrics_parse(body->data ? body->data : "", &got, &missing);
        if (missing && !atomic_exchange(&warned_missing, true)) {
            for (int m = 0; m < M_COUNT; m++)
                if (missing & (1u << m))
                    log_warnx("WARNING: Unable to parse '%s' metric.", metric_names[m]);
        }
    }

    pthread_mutex_lock(&p->lock);
    if (e.code && !p->err.code)
        p->err = e;
    for (size_t i = 0; i < got.n; i++) {
        if (p->samples.n == p->samples.cap) {
            p->samples.cap = p->samples.cap ? 2 * p->samples.cap : 16;
            p->samples.s = xreallocarray(p->samples.s, p->samples.cap, sizeof(*p->samples.s));
        }
        p->samples.s[p->samples.n++] = got.s[i];
    }
    pthread_mutex_unlock(&p->lock);
    metrics_samples_release(&got);
    return !e.code;
}

static void *poller_main(void *arg)
{
    struct metrics_poller *p = arg;
    CURL *curl = curl_easy_init();
    struct buf body;
    buf_init(&body, (size_t)64 << 20);

    while (curl && !atomic_load(&p->stop)) {
        uint64_t t0 = clock_now_ns();
        /* As the original's metrics thread does, the first failed scrape ends
         * the polling for the level: that failure fails one window, and the
         * level goes on (and may stabilize) without GPU metrics. */
        if (!scrape(p, curl, &body))
            break;
        uint64_t took = clock_now_ns() - t0;
        if (took > p->interval_ns) {
            uint64_t took_ms = took / NS_PER_MS, interval_ms = p->interval_ns / NS_PER_MS;
            if (!atomic_exchange(&warned_slow, true))
                log_warnx("WARNING: Triton metrics endpoint latency (%" PRIu64
                          "ms) is larger than the querying interval (%" PRIu64
                          "ms). Please try a larger querying interval via "
                          "`--triton-metrics-interval`.",
                          took_ms, interval_ms);
            continue;
        }
        /* Sleep the rest of the interval unless stopped. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t rest = p->interval_ns - took;
        until.tv_sec += (time_t)(rest / NS_PER_S);
        until.tv_nsec += (long)(rest % NS_PER_S);
        if (until.tv_nsec >= (long)NS_PER_S) {
            until.tv_sec++;
            until.tv_nsec -= (long)NS_PER_S;
        }
        pthread_mutex_lock(&p->lock);
        while (!atomic_load(&p->stop) &&
               pthread_cond_timedwait(&p->cond, &p->lock, &until) == 0)
            ;
        pthread_mutex_unlock(&p->lock);
    }
    buf_release(&body);
    if (curl)
        curl_easy_cleanup(curl);
    return NULL;
}

int metrics_poller_start(struct metrics_poller **out, const char *url, uint64_t interval_ms,
                         struct pa_err *err)
{
    struct metrics_poller *p = xcalloc(1, sizeof(*p));
    p->url = xstrdup(url);
    p->interval_ns = (interval_ms ? interval_ms : 1) * NS_PER_MS;
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (pthread_create(&p->thread, NULL, poller_main, p)) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p->url);
        free(p);
        return pa_errorf(err, PA_EINTERNAL, "cannot start the metrics thread");
    }
    *out = p;
    return PA_OK;
}

int metrics_poller_take(struct metrics_poller *p, struct metrics_samples *into,
                        struct pa_err *err)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->samples.n; i++) {
        if (into->n == into->cap) {
            into->cap = into->cap ? 2 * into->cap : 16;
            into->s = xreallocarray(into->s, into->cap, sizeof(*into->s));
        }
        into->s[into->n++] = p->samples.s[i];
    }
    p->samples.n = 0;
    int rc = p->err.code;
    if (rc)
        *err = p->err;
    memset(&p->err, 0, sizeof(p->err));
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void metrics_poller_stop(struct metrics_poller *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    metrics_samples_release(&p->samples);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->url);
    free(p);
}
