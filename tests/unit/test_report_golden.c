/*
 * Console and CSV layout against the original's recorded runs
 * (shared/reference/golden/<case>/stdout.txt and out.csv).
 *
 * For each case we rebuild the perf_status values the original must have
 * had: the printed integers are floors of ns averages, so the fractional
 * ns parts are searched (a few candidates each) until the derived values
 * the report computes itself (server overhead, Network+Server column) come
 * out as printed. The whole stdout (and CSV) is then compared byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

#define MAXLV 4

/* One level as the golden files show it (µs, counts, throughput). */
struct lv {
    uint64_t conc;
    double rate;
    uint64_t count;
    float ips;
    uint64_t avg, std, p50, p90, p95, p99;
    uint64_t t, s;                 /* library: total, send+recv (recv is 0) */
    bool server;
    uint64_t inf, exec, succ, req, ovh, q, ci, cf, co;
    int64_t net;                   /* CSV Network+Server column, -1 = not known */
    double overhead_pct;
    bool metrics;
};

struct pass {
    float ips;
    uint64_t avg, std;
};

struct golden_case {
    const char *dir;
    void (*opts)(struct pa_options *);
    struct report_model model;
    struct lv lv[MAXLV];
    size_t n;
    struct pass passes[3]; /* verbose case: windows of the single level */
    size_t n_passes;
    bool skip_first_line;  /* the data module's "Successfully read data" line */
};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

static char *golden(const char *dir, const char *file)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/reference/golden/%s/%s", PA_SHARED_DIR, dir, file);
    return read_file(path, &len);
}

static char model_simple[] = "simple";
static char out_csv[] = "out.csv";

static void base_opts(struct pa_options *o)
{
    memset(o, 0, sizeof(*o));
    o->model_name = model_simple;
    o->service_kind = PA_SK_TRITON;
    o->protocol = PA_PROTO_HTTP;
    o->measurement_interval_ms = 500;
    o->measurement_mode = PA_MEASURE_TIME_WINDOWS;
    o->measurement_request_count = 50;
    o->load_mode = PA_LOAD_CONCURRENCY;
    o->concurrency_start = o->concurrency_end = o->concurrency_step = 1;
    o->rate_start = o->rate_end = o->rate_step = 1.0;
    o->search_mode = PA_SEARCH_LINEAR;
    o->max_threads = 16;
    o->percentile = -1;
    o->batch_size = 1;
}

static void opts_default(struct pa_options *o)
{
    base_opts(o);
    o->measurement_interval_ms = 5000;
}
static void opts_csv(struct pa_options *o)
{
    base_opts(o);
    o->csv_file = out_csv;
}
static void opts_range_1_4(struct pa_options *o)
{
    base_opts(o);
    o->concurrency_end = 4;
    o->concurrency_range_given = true;
}
static void opts_range_1_2(struct pa_options *o)
{
    base_opts(o);
    o->concurrency_end = 2;
}
static void opts_p95(struct pa_options *o)
{
    base_opts(o);
    o->percentile = 95;
}
static void opts_verbose(struct pa_options *o)
{
    base_opts(o);
    o->verbose = 1;
}
static void opts_count_windows(struct pa_options *o)
{
    base_opts(o);
    o->measurement_interval_ms = 5000;
    o->measurement_mode = PA_MEASURE_COUNT_WINDOWS;
}
static void opts_batch4(struct pa_options *o)
{
    base_opts(o);
    o->batch_size = 4;
    o->batch_size_given = true;
}
static void opts_rate(struct pa_options *o, double end)
{
    base_opts(o);
    o->load_mode = PA_LOAD_REQUEST_RATE;
    o->rate_start = 100;
    o->rate_end = end;
    o->rate_step = 100;
    o->max_threads = 4;
}
static void opts_csv_rate(struct pa_options *o)
{
    opts_rate(o, 200);
    o->csv_file = out_csv;
}
static void opts_rate_300(struct pa_options *o)
{
    opts_rate(o, 300);
}
static void opts_tfs(struct pa_options *o)
{
    base_opts(o);
    o->service_kind = PA_SK_TFSERVING;
    o->protocol = PA_PROTO_GRPC;
    o->batch_size_given = true;
    o->csv_file = out_csv;
}
static void opts_torchserve(struct pa_options *o)
{
    base_opts(o);
    o->service_kind = PA_SK_TORCHSERVE;
}
static void opts_grpc(struct pa_options *o)
{
    base_opts(o);
    o->protocol = PA_PROTO_GRPC;
}
static void opts_grpc_streaming(struct pa_options *o)
{
    opts_grpc(o);
    o->streaming = true;
    o->async = true;
}
static void opts_metrics(struct pa_options *o)
{
    base_opts(o);
    o->collect_metrics = true;
}
static void opts_verbose_csv_metrics(struct pa_options *o)
{
    opts_range_1_2(o);
    o->csv_file = out_csv;
    o->verbose_csv = true;
    o->collect_metrics = true;
}

/* ns = us·1000 + fraction, so a floor back to µs gives the printed value. */
static struct pa_stat_pair pair(uint64_t count, uint64_t avg_ns)
{
    struct pa_stat_pair p = {count, avg_ns * count};
    return p;
}

static const uint64_t FR[] = {0, 500, 999};
#define NFR (sizeof(FR) / sizeof(FR[0]))

/* Picks fractional ns parts that reproduce the printed overhead and network values. */
static void build_level(const struct lv *l, const struct golden_case *gc, struct perf_status *s)
{
    static const uint64_t LF[] = {0, 250, 500, 750, 999};
    memset(s, 0, sizeof(*s));
    s->concurrency = l->conc;
    s->request_rate = l->rate;
    s->batch_size = 1;
    s->stable = true;
    struct pa_client_side *c = &s->client;
    c->request_count = l->count;
    c->infer_per_sec = (double)l->ips;
    c->std_us = l->std;
    static const int qs[] = {50, 90, 95, 99};
    const uint64_t pv[] = {l->p50, l->p90, l->p95, l->p99};
    for (size_t i = 0; i < 4; i++) {
        c->percentiles[c->n_percentiles].q = qs[i];
        c->percentiles[c->n_percentiles++].latency_ns = pv[i] * 1000 + 321;
        /* --percentile 95 duplicates an existing entry; the report prints it once. */
        if (qs[i] == 95 && strcmp(gc->dir, "percentile_95") == 0) {
            c->percentiles[c->n_percentiles].q = 95;
            c->percentiles[c->n_percentiles++].latency_ns = pv[i] * 1000 + 321;
        }
    }
    c->has_lib_stats = true;
    c->lib_completed = l->count;
    c->avg_request_ns = l->t * 1000 + 999;
    c->overhead_pct = l->overhead_pct;
    c->stabilizing_latency_ns =
        strcmp(gc->dir, "percentile_95") == 0 ? l->p95 * 1000 + 321 : l->avg * 1000 + 1;

    if (!l->server) {
        c->avg_latency_ns = l->avg * 1000 + 1;
        c->avg_send_ns = l->s * 1000 + 1;
        goto metrics;
    }
    s->has_server_stats = true;
    struct pa_server_side *m = &s->server;
    snprintf(m->name, sizeof(m->name), "simple");
    snprintf(m->version, sizeof(m->version), "1");
    m->inference_count = l->inf;
    m->execution_count = l->exec;
    m->success = pair(l->succ, l->req * 1000 + 500);
    bool found = false;
    for (size_t a = 0; a < NFR * NFR * NFR && !found; a++) {
        uint64_t fa = FR[a % NFR], fb = FR[a / NFR % NFR], fc = FR[a / NFR / NFR];
        uint64_t comp = (l->ci * 1000 + fa + l->cf * 1000 + fb + l->co * 1000 + fc) / 1000;
        uint64_t ovh = l->req > l->q + comp ? l->req - l->q - comp : 0;
        if (ovh != l->ovh)
            continue;
        for (size_t b = 0; b < NFR * NFR * 5 && !found; b++) {
            uint64_t qf = FR[b % NFR], sf = FR[b / NFR % NFR], lf = LF[b / NFR / NFR];
            uint64_t lat = l->avg * 1000 + lf, send = l->s * 1000 + sf;
            uint64_t acc = l->q * 1000 + qf + l->ci * 1000 + fa + l->cf * 1000 + fb +
                           l->co * 1000 + fc;
            uint64_t wait = lat > send ? lat - send : 0;
            uint64_t net = wait > acc ? (wait - acc) / 1000 : 0;
            if (l->net >= 0 && net != (uint64_t)l->net)
                continue;
            found = true;
            c->avg_latency_ns = lat;
            c->avg_send_ns = send;
            m->queue = pair(l->succ, l->q * 1000 + qf);
            m->compute_input = pair(l->succ, l->ci * 1000 + fa);
            m->compute_infer = pair(l->succ, l->cf * 1000 + fb);
            m->compute_output = pair(l->succ, l->co * 1000 + fc);
        }
    }
    if (!found)
        fail_msg("%s: no ns values reproduce overhead %lu / network %ld", gc->dir,
                 (unsigned long)l->ovh, (long)l->net);
metrics:
    if (!l->metrics)
        return;
    s->has_metrics = true;
    s->n_gpus = 2;
    s->gpus = calloc(2, sizeof(*s->gpus));
    assert_non_null(s->gpus);
    for (size_t i = 0; i < 2; i++) {
        struct pa_gpu_metric *g = &s->gpus[i];
        snprintf(g->uuid, sizeof(g->uuid), "GPU-00000000-0000-0000-0000-00000000000%zu", i + 1);
        g->utilization = i == 0 ? 0.25 : 0.5;
        g->power_watts = i == 0 ? 100.5 : 110.5;
        g->memory_used = i == 0 ? 1048576000ULL : 2097152000ULL;
        g->memory_total = 85899345920ULL;
        g->has_utilization = g->has_power = g->has_memory_used = g->has_memory_total = true;
    }
}

/* Runs the console report of a whole case into a string. */
static char *run_console(const struct golden_case *gc, struct perf_status *levels,
                         const struct pa_options *o, char **diag_text)
{
    char *text = NULL, *dtext = NULL;
    size_t len = 0, dlen = 0;
    FILE *out = open_memstream(&text, &len);
    FILE *diag = open_memstream(&dtext, &dlen);
    struct report_console rc;

    report_console_init(&rc, out, diag, o, &gc->model);
    report_settings(&rc);
    for (size_t i = 0; i < gc->n; i++) {
        if (o->load_mode == PA_LOAD_CONCURRENCY)
            report_concurrency_header(&rc, gc->lv[i].conc);
        else
            report_rate_header(&rc, gc->lv[i].rate);
        for (size_t k = 0; k < gc->n_passes; k++) {
            struct perf_status w;
            memset(&w, 0, sizeof(w));
            w.client.infer_per_sec = (double)gc->passes[k].ips;
            w.client.avg_latency_ns = gc->passes[k].avg * 1000 + 7;
            w.client.std_us = gc->passes[k].std;
            report_pass(&rc, (unsigned)k + 1, &w);
        }
        report_level(&rc, &levels[i]);
    }
    report_summary(&rc, levels, gc->n);
    fclose(out);
    fclose(diag);
    *diag_text = dtext;
    return text;
}

#define SIMPLE {.name = "simple"}

static struct golden_case cases[] = {
    {"default", opts_default, SIMPLE,
     {{.conc = 1, .count = 7916, .ips = 439.645f, .avg = 2273, .std = 234, .p50 = 2234,
       .p90 = 2275, .p95 = 2311, .p99 = 3475, .t = 2271, .s = 63, .server = true, .inf = 7916,
       .exec = 7916, .succ = 7916, .req = 2148, .ovh = 1, .q = 31, .ci = 3, .cf = 2098,
       .co = 13, .net = -1}},
     .n = 1},
    {"csv", opts_csv, SIMPLE,
     {{.conc = 1, .count = 785, .ips = 434.41f, .avg = 2299, .std = 385, .p50 = 2217,
       .p90 = 2406, .p95 = 2424, .p99 = 4482, .t = 2297, .s = 60, .server = true, .inf = 785,
       .exec = 785, .succ = 785, .req = 2158, .ovh = 1, .q = 25, .ci = 3, .cf = 2115, .co = 13,
       .net = 80}},
     .n = 1},
    {"concurrency_range_1_4", opts_range_1_4, SIMPLE,
     {{.conc = 1, .count = 804, .ips = 445.589f, .avg = 2242, .std = 110, .p50 = 2228,
       .p90 = 2251, .p95 = 2263, .p99 = 2665, .t = 2240, .s = 59, .server = true, .inf = 804,
       .exec = 804, .succ = 804, .req = 2130, .ovh = 1, .q = 27, .ci = 3, .cf = 2086, .co = 12,
       .net = -1},
      {.conc = 2, .count = 1572, .ips = 870.193f, .avg = 2298, .std = 183, .p50 = 2259,
       .p90 = 2378, .p95 = 2399, .p99 = 2491, .t = 2296, .s = 42, .server = true, .inf = 1571,
       .exec = 1571, .succ = 1571, .req = 2133, .ovh = 1, .q = 28, .ci = 3, .cf = 2090,
       .co = 11, .net = -1},
      {.conc = 3, .count = 2362, .ips = 1309.28f, .avg = 2290, .std = 177, .p50 = 2242,
       .p90 = 2382, .p95 = 2456, .p99 = 3108, .t = 2287, .s = 48, .server = true, .inf = 2363,
       .exec = 2363, .succ = 2363, .req = 2147, .ovh = 1, .q = 27, .ci = 3, .cf = 2104,
       .co = 11, .net = -1},
      {.conc = 4, .count = 3121, .ips = 1731.35f, .avg = 2309, .std = 129, .p50 = 2274,
       .p90 = 2425, .p95 = 2502, .p99 = 2754, .t = 2307, .s = 45, .server = true, .inf = 3121,
       .exec = 3121, .succ = 3121, .req = 2147, .ovh = 0, .q = 25, .ci = 4, .cf = 2104,
       .co = 13, .net = -1}},
     .n = 4},
    {"percentile_95", opts_p95, SIMPLE,
     {{.conc = 1, .count = 758, .ips = 420.544f, .avg = 2370, .std = 1, .p50 = 2383,
       .p90 = 2432, .p95 = 2446, .p99 = 2481, .t = 2370, .s = 93, .server = true, .inf = 758,
       .exec = 758, .succ = 758, .req = 2185, .ovh = 0, .q = 42, .ci = 6, .cf = 2113, .co = 23,
       .net = -1}},
     .n = 1},
    {"verbose", opts_verbose, SIMPLE,
     {{.conc = 1, .count = 798, .ips = 442.705f, .avg = 2257, .std = 189, .p50 = 2228,
       .p90 = 2250, .p95 = 2285, .p99 = 3164, .t = 2254, .s = 58, .server = true, .inf = 798,
       .exec = 798, .succ = 798, .req = 2136, .ovh = 1, .q = 27, .ci = 3, .cf = 2091, .co = 13,
       .net = -1, .overhead_pct = 0.0123}},
     .n = 1,
     .passes = {{439.394f, 2274, 263}, {444.436f, 2242, 103}, {444.284f, 2255, 167}},
     .n_passes = 3},
    {"count_windows", opts_count_windows, SIMPLE,
     {{.conc = 1, .count = 1284, .ips = 427.625f, .avg = 2336, .std = 151, .p50 = 2331,
       .p90 = 2432, .p95 = 2448, .p99 = 2492, .t = 2332, .s = 81, .server = true, .inf = 1284,
       .exec = 1284, .succ = 1284, .req = 2172, .ovh = 1, .q = 37, .ci = 5, .cf = 2109,
       .co = 19, .net = -1}},
     .n = 1},
    {"batch_4", opts_batch4, SIMPLE,
     {{.conc = 1, .count = 790, .ips = 1753.38f, .avg = 2279, .std = 126, .p50 = 2249,
       .p90 = 2384, .p95 = 2418, .p99 = 2470, .t = 2276, .s = 50, .server = true, .inf = 3160,
       .exec = 790, .succ = 790, .req = 2148, .ovh = 1, .q = 25, .ci = 5, .cf = 2102, .co = 15,
       .net = -1}},
     .n = 1},
    {"csv_request_rate", opts_csv_rate, SIMPLE,
     {{.rate = 100, .count = 180, .ips = 99.7996f, .avg = 2530, .std = 344, .p50 = 2412,
       .p90 = 2809, .p95 = 2886, .p99 = 4120, .t = 2524, .s = 40, .server = true, .inf = 180,
       .exec = 180, .succ = 180, .req = 2259, .ovh = 1, .q = 23, .ci = 6, .cf = 2207, .co = 22,
       .net = 230},
      {.rate = 200, .count = 360, .ips = 199.597f, .avg = 2579, .std = 609, .p50 = 2327,
       .p90 = 2723, .p95 = 4604, .p99 = 5030, .t = 2575, .s = 37, .server = true, .inf = 360,
       .exec = 360, .succ = 360, .req = 2277, .ovh = 1, .q = 15, .ci = 4, .cf = 2241, .co = 15,
       .net = 264}},
     .n = 2},
    {"request_rate_range", opts_rate_300, SIMPLE,
     {{.rate = 100, .count = 179, .ips = 99.3013f, .avg = 2518, .std = 120, .p50 = 2502,
       .p90 = 2644, .p95 = 2739, .p99 = 2845, .t = 2508, .s = 67, .server = true, .inf = 180,
       .exec = 180, .succ = 180, .req = 2183, .ovh = 0, .q = 35, .ci = 9, .cf = 2107, .co = 30,
       .net = -1},
      {.rate = 200, .count = 360, .ips = 199.7f, .avg = 2383, .std = 167, .p50 = 2350,
       .p90 = 2456, .p95 = 2513, .p99 = 2907, .t = 2377, .s = 43, .server = true, .inf = 360,
       .exec = 360, .succ = 360, .req = 2156, .ovh = 1, .q = 22, .ci = 6, .cf = 2106, .co = 21,
       .net = -1},
      {.rate = 300, .count = 540, .ips = 299.546f, .avg = 2381, .std = 76, .p50 = 2360,
       .p90 = 2495, .p95 = 2517, .p99 = 2552, .t = 2375, .s = 46, .server = true, .inf = 540,
       .exec = 540, .succ = 540, .req = 2150, .ovh = 1, .q = 22, .ci = 6, .cf = 2098, .co = 22,
       .net = -1}},
     .n = 3},
    {"tfserving_csv", opts_tfs, SIMPLE,
     {{.conc = 1, .count = 728, .ips = 404.347f, .avg = 2468, .std = 480, .p50 = 2359,
       .p90 = 2699, .p95 = 3106, .p99 = 4539, .t = 2462, .s = 2, .net = -1}},
     .n = 1},
    {"torchserve", opts_torchserve, SIMPLE,
     {{.conc = 1, .count = 734, .ips = 407.14f, .avg = 2451, .std = 594, .p50 = 2323,
       .p90 = 2389, .p95 = 2679, .p99 = 5664, .t = 0, .s = 0, .net = -1}},
     .n = 1, .skip_first_line = true},
    {"grpc", opts_grpc, SIMPLE,
     {{.conc = 1, .count = 758, .ips = 419.585f, .avg = 2381, .std = 424, .p50 = 2301,
       .p90 = 2440, .p95 = 2663, .p99 = 4446, .t = 2375, .s = 1, .server = true, .inf = 758,
       .exec = 758, .succ = 758, .req = 2106, .ovh = 0, .q = 1, .ci = 8, .cf = 2083, .co = 13,
       .net = -1}},
     .n = 1},
    {"grpc_streaming", opts_grpc_streaming, SIMPLE,
     {{.conc = 1, .count = 799, .ips = 442.979f, .avg = 2236, .std = 182, .p50 = 2206,
       .p90 = 2259, .p95 = 2285, .p99 = 2843, .t = 2235, .s = 0, .server = true, .inf = 799,
       .exec = 799, .succ = 799, .req = 2107, .ovh = 1, .q = 0, .ci = 6, .cf = 2087, .co = 12,
       .net = -1}},
     .n = 1},
    {"collect_metrics_console", opts_metrics, SIMPLE,
     {{.conc = 1, .count = 801, .ips = 441.997f, .avg = 2260, .std = 288, .p50 = 2219,
       .p90 = 2265, .p95 = 2304, .p99 = 3679, .t = 2257, .s = 58, .server = true, .inf = 802,
       .exec = 802, .succ = 802, .req = 2133, .ovh = 0, .q = 29, .ci = 3, .cf = 2087, .co = 13,
       .net = -1, .metrics = true}},
     .n = 1},
    {"verbose_csv_metrics", opts_verbose_csv_metrics, SIMPLE,
     {{.conc = 1, .count = 771, .ips = 426.567f, .avg = 2339, .std = 497, .p50 = 2219,
       .p90 = 2507, .p95 = 2732, .p99 = 5004, .t = 2338, .s = 52, .server = true, .inf = 772,
       .exec = 772, .succ = 772, .req = 2155, .ovh = 0, .q = 21, .ci = 3, .cf = 2118, .co = 12,
       .net = 130, .metrics = true},
      {.conc = 2, .count = 1590, .ips = 879.08f, .avg = 2273, .std = 255, .p50 = 2232,
       .p90 = 2291, .p95 = 2366, .p99 = 3486, .t = 2271, .s = 34, .server = true, .inf = 1591,
       .exec = 1591, .succ = 1591, .req = 2129, .ovh = 1, .q = 16, .ci = 3, .cf = 2098,
       .co = 10, .net = 108, .metrics = true}},
     .n = 2},
    {"profile_export", opts_range_1_2, SIMPLE,
     {{.conc = 1, .count = 799, .ips = 442.997f, .avg = 2256, .std = 264, .p50 = 2220,
       .p90 = 2251, .p95 = 2273, .p99 = 3592, .t = 2253, .s = 56, .server = true, .inf = 799,
       .exec = 799, .succ = 799, .req = 2129, .ovh = 0, .q = 30, .ci = 3, .cf = 2083, .co = 12,
       .net = -1},
      {.conc = 2, .count = 1580, .ips = 875.726f, .avg = 2282, .std = 240, .p50 = 2239,
       .p90 = 2289, .p95 = 2386, .p99 = 3389, .t = 2280, .s = 45, .server = true, .inf = 1581,
       .exec = 1581, .succ = 1581, .req = 2137, .ovh = 1, .q = 23, .ci = 3, .cf = 2097,
       .co = 13, .net = -1}},
     .n = 2},
};

static void check_case(const struct golden_case *gc)
{
    struct pa_options o;
    struct perf_status levels[MAXLV];
    char *diag = NULL;

    gc->opts(&o);
    for (size_t i = 0; i < gc->n; i++)
        build_level(&gc->lv[i], gc, &levels[i]);

    char *want = golden(gc->dir, "stdout.txt");
    const char *w = want;
    if (gc->skip_first_line)
        w = strchr(want, '\n') + 1;
    char *got = run_console(gc, levels, &o, &diag);
    if (strcmp(got, w) != 0)
        print_error("case %s: stdout differs\n--- got\n%s--- want\n%s", gc->dir, got, w);
    assert_string_equal(got, w);
    assert_string_equal(diag, "");
    free(got);
    free(diag);
    free(want);

    if (o.csv_file) {
        char *csv = NULL, *dtext = NULL;
        size_t len = 0, dlen = 0;
        FILE *out = open_memstream(&csv, &len);
        FILE *d = open_memstream(&dtext, &dlen);
        struct pa_err err = {0};
        assert_int_equal(report_csv_print(out, &o, &gc->model, levels, gc->n, d, &err), PA_OK);
        fclose(out);
        fclose(d);
        want = golden(gc->dir, "out.csv");
        if (strcmp(csv, want) != 0)
            print_error("case %s: csv differs\n--- got\n%s--- want\n%s", gc->dir, csv, want);
        assert_string_equal(csv, want);
        assert_string_equal(dtext, ""); /* no clamped network column in these runs */
        free(csv);
        free(dtext);
        free(want);
    }
    for (size_t i = 0; i < gc->n; i++)
        perf_status_release(&levels[i]);
}

static void test_golden(void **state)
{
    const struct golden_case *gc = *state;
    check_case(gc);
}

int main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct CMUnitTest t = {cases[i].dir, test_golden, NULL, NULL, &cases[i]};
        tests[i] = t;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
