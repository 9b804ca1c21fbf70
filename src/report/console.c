/*
 * The console report (spec 07-output.md §0-§3): settings block, per-level
 * headers, verbose pass lines, level reports and the summary, byte for byte
 * as the original prints them.
 *
 * The original writes through one std::cout whose float format becomes
 * std::fixed (2 decimals) for good after the first "requests were delayed"
 * warning. We keep that as explicit state (report_console.fixed) and format
 * every floating value through report_console_double(), so the quirk is
 * visible in one place rather than hidden in a stream flag.
 */
#include "report/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/banned.h"

/* Above this delayed percentage the send rate and a warning are shown. */
#define DELAY_PCT_THRESHOLD 1.0
/* Above this mean client overhead the level report ends with a warning. */
#define OVERHEAD_PCT_THRESHOLD 50.0
/* More GPUs than this in any metric map: no per-GPU console lines. */
#define MAX_GPUS_ON_CONSOLE 16

const char *fmt_double_default(char *buf, size_t size, double v)
{
    /* C++ defaultfloat with precision 6 is exactly %g. */
    snprintf(buf, size, "%g", v);
    return buf;
}

const char *fmt_double_fixed2(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%.2f", v);
    return buf;
}

void report_console_init(struct report_console *rc, FILE *out, FILE *diag,
                         const struct pa_options *opts, const struct report_model *model)
{
    memset(rc, 0, sizeof(*rc));
    rc->out = out;
    rc->diag = diag;
    rc->opts = opts;
    rc->model = *model;
    rc->fixed = false;
}

const char *report_console_double(const struct report_console *rc, char *buf, size_t size,
                                  double v)
{
    return rc->fixed ? fmt_double_fixed2(buf, size, v) : fmt_double_default(buf, size, v);
}

static const char *service_kind_name(enum pa_service_kind kind)
{
    switch (kind) {
    case PA_SK_TRITON:
        return "Triton";
    case PA_SK_TFSERVING:
        return "TensorFlow Serving";
    case PA_SK_TORCHSERVE:
        return "TorchServe";
    case PA_SK_TRITON_C_API:
        return "Triton C-API";
    }
    return "Unknown";
}

void report_settings(struct report_console *rc)
{
    const struct pa_options *o = rc->opts;
    FILE *out = rc->out;
    char d[REPORT_DBL_BUFSZ];

    fputs("*** Measurement Settings ***\n", out);
    if (o->service_kind == PA_SK_TRITON || o->batch_size_given)
        fprintf(out, "  Batch size: %" PRIu64 "\n", o->batch_size);
    fprintf(out, "  Service Kind: %s\n", service_kind_name(o->service_kind));
    if (o->measurement_mode == PA_MEASURE_TIME_WINDOWS) {
        fputs("  Using \"time_windows\" mode for stabilization\n", out);
        fprintf(out, "  Measurement window: %" PRIu64 " msec\n", o->measurement_interval_ms);
    } else {
        fputs("  Using \"count_windows\" mode for stabilization\n", out);
        fprintf(out, "  Minimum number of samples in each window: %" PRIu64 "\n",
                o->measurement_request_count);
    }
    /* Both ranges always exist in the original (defaults 1 and 1.0), so each
     * block keys off its own end value, whatever the load mode. */
    if (o->concurrency_end != 1) {
        fprintf(out, "  Latency limit: %" PRIu64 " msec\n", o->latency_threshold_ms);
        if (o->concurrency_end != 0) {
            uint64_t limit = o->concurrency_start > o->concurrency_end ? o->concurrency_start
                                                                       : o->concurrency_end;
            fprintf(out, "  Concurrency limit: %" PRIu64 " concurrent requests\n", limit);
        }
    }
    if (o->rate_end != 1.0) {
        fprintf(out, "  Latency limit: %" PRIu64 " msec\n", o->latency_threshold_ms);
        if (o->rate_end != 0.0) {
            double limit = o->rate_start > o->rate_end ? o->rate_start : o->rate_end;
            fprintf(out, "  Request Rate limit: %s requests per seconds\n",
                    report_console_double(rc, d, sizeof(d), limit));
        }
    }
    if (o->load_mode == PA_LOAD_REQUEST_RATE) {
        if (o->request_distribution == PA_DIST_POISSON)
            fputs("  Using poisson distribution on request generation\n", out);
        else
            fputs("  Using uniform distribution on request generation\n", out);
    }
    if (o->search_mode == PA_SEARCH_BINARY)
        fputs("  Using Binary Search algorithm\n", out);
    if (o->async)
        fputs("  Using asynchronous calls for inference\n", out);
    else
        fputs("  Using synchronous calls for inference\n", out);
    if (rc->model.decoupled)
        fputs("  Detected decoupled model, using the first response for measuring latency\n",
              out);
    if (o->percentile == -1)
        fputs("  Stabilizing using average latency\n", out);
    else
        fprintf(out, "  Stabilizing using p%d latency\n", o->percentile);
    fputs("\n", out);
}

void report_concurrency_header(struct report_console *rc, uint64_t concurrency)
{
    fprintf(rc->out, "Request concurrency: %" PRIu64 "\n", concurrency);
}

void report_rate_header(struct report_console *rc, double request_rate)
{
    char d[REPORT_DBL_BUFSZ];
    fprintf(rc->out, "Request Rate: %s inference requests per seconds\n",
            report_console_double(rc, d, sizeof(d), request_rate));
}

/* The --percentile value of a status, or 0 when it is missing. */
static uint64_t percentile_ns(const struct pa_client_side *c, int q)
{
    for (size_t i = 0; i < c->n_percentiles && i < PA_MAX_PERCENTILES; i++)
        if (c->percentiles[i].q == q)
            return c->percentiles[i].latency_ns;
    return 0;
}

void report_pass(struct report_console *rc, unsigned k, const struct perf_status *window)
{
    char d[REPORT_DBL_BUFSZ];
    const struct pa_client_side *c = &window->client;

    fprintf(rc->out, "  Pass [%u] throughput: %s infer/sec. ", k,
            report_console_double(rc, d, sizeof(d), c->infer_per_sec));
    if (rc->opts->percentile != -1)
        fprintf(rc->out, "p%d latency: %" PRIu64 " usec\n", rc->opts->percentile,
                percentile_ns(c, rc->opts->percentile) / 1000);
    else
        fprintf(rc->out, "Avg latency: %" PRIu64 " usec (std %" PRIu64 " usec). \n",
                c->avg_latency_ns / 1000, c->std_us);
}

void report_pass_failed(struct report_console *rc, unsigned k, const char *message)
{
    fprintf(rc->out, "  Pass [%u] cb::Error: %s\n", k, message);
}

/*
 * The client-library line. Values are µs; the response wait is computed in
 * unsigned arithmetic like the original (it wraps if send + receive exceed
 * the total, which the counters make impossible in practice).
 */
static void print_library_line(struct report_console *rc, const struct pa_client_side *c)
{
    FILE *out = rc->out;
    const struct pa_options *o = rc->opts;
    uint64_t total = c->avg_request_ns / 1000;
    uint64_t send = c->avg_send_ns / 1000;
    uint64_t recv = c->avg_receive_ns / 1000;
    uint64_t wait = total - send - recv;
    bool grpc, http;

    fputs("    ", out);
    if (!c->has_lib_stats || o->service_kind == PA_SK_TRITON_C_API) {
        fputs("\n", out);
        return;
    }
    grpc = o->service_kind == PA_SK_TFSERVING ||
           (o->service_kind == PA_SK_TRITON && o->protocol == PA_PROTO_GRPC);
    http = o->service_kind == PA_SK_TORCHSERVE ||
           (o->service_kind == PA_SK_TRITON && o->protocol == PA_PROTO_HTTP);
    if (grpc) {
        fprintf(out, "Avg gRPC time: %" PRIu64 " usec (", total);
        if (!o->verbose)
            fprintf(out,
                    "(un)marshal request/response %" PRIu64 " usec + response wait %" PRIu64
                    " usec)",
                    send + recv, wait);
        else
            fprintf(out,
                    "marshal %" PRIu64 " usec + response wait %" PRIu64 " usec + unmarshal %" PRIu64
                    " usec)",
                    send, wait, recv);
    } else if (http) {
        fprintf(out, "Avg HTTP time: %" PRIu64 " usec (", total);
        if (!o->verbose)
            fprintf(out, "send/recv %" PRIu64 " usec + response wait %" PRIu64 " usec)",
                    send + recv, wait);
        else
            fprintf(out,
                    "send %" PRIu64 " usec + response wait %" PRIu64 " usec + receive %" PRIu64
                    " usec)",
                    send, wait, recv);
    }
    fputs("\n", out);
}

/*
 * Beyond the original, under -v in request-rate modes: latency measured from
 * each request's scheduled send time, free of coordinated omission. It is
 * the Client block's last line, so the original's lines keep their places.
 */
static void print_scheduled_latency(FILE *out, const struct pa_client_side *c)
{
    int prev_q = -1;
    fprintf(out, "    Scheduled latency: avg %" PRIu64 " usec", c->sched_avg_latency_ns / 1000);
    for (size_t i = 0; i < c->n_percentiles && i < PA_MAX_PERCENTILES; i++) {
        if (c->sched_percentiles[i].q == prev_q)
            continue;
        prev_q = c->sched_percentiles[i].q;
        fprintf(out, ", p%d %" PRIu64 " usec", c->sched_percentiles[i].q,
                c->sched_percentiles[i].latency_ns / 1000);
    }
    fputc('\n', out);
}

static void print_client_block(struct report_console *rc, const struct perf_status *s)
{
    FILE *out = rc->out;
    const struct pa_client_side *c = &s->client;
    char d[REPORT_DBL_BUFSZ];
    double delay_pct = 0.0;
    int prev_q = -1;

    fputs("  Client: \n", out);
    fprintf(out, "    Request count: %" PRIu64 "\n", c->request_count);
    if (c->request_count > 0)
        delay_pct = (double)c->delayed_request_count / (double)c->request_count * 100.0;
    if (delay_pct > DELAY_PCT_THRESHOLD) {
        /* The original sets std::fixed here and never resets it. */
        rc->fixed = true;
        fprintf(out, "    Avg send request rate: %s infer/sec\n",
                fmt_double_fixed2(d, sizeof(d), c->send_request_rate));
        fprintf(out,
                "    [WARNING] Perf Analyzer was not able to keep up with the desired request "
                "rate. %s%% of the requests were delayed. \n",
                fmt_double_fixed2(d, sizeof(d), delay_pct));
    }
    if (rc->model.sequence)
        fprintf(out, "    Sequence count: %" PRIu64 " (%s seq/sec)\n", c->sequence_count,
                report_console_double(rc, d, sizeof(d), c->sequence_per_sec));
    fprintf(out, "    Throughput: %s infer/sec\n",
            report_console_double(rc, d, sizeof(d), c->infer_per_sec));
    if (rc->model.decoupled)
        fprintf(out, "    Response Throughput: %s infer/sec\n",
                report_console_double(rc, d, sizeof(d), c->responses_per_sec));
    if (rc->opts->verbose)
        fprintf(out, "    Avg client overhead: %s%%\n",
                fmt_double_fixed2(d, sizeof(d), c->overhead_pct));
    if (rc->opts->percentile == -1)
        fprintf(out, "    Avg latency: %" PRIu64 " usec (standard deviation %" PRIu64 " usec)\n",
                c->avg_latency_ns / 1000, c->std_us);
    for (size_t i = 0; i < c->n_percentiles && i < PA_MAX_PERCENTILES; i++) {
        /* The original keeps percentiles in a map: one line per value. */
        if (c->percentiles[i].q == prev_q)
            continue;
        prev_q = c->percentiles[i].q;
        fprintf(out, "    p%d latency: %" PRIu64 " usec\n", c->percentiles[i].q,
                c->percentiles[i].latency_ns / 1000);
    }
    print_library_line(rc, c);
    if (rc->opts->verbose && c->has_schedule)
        print_scheduled_latency(out, c);
}

static void indent(FILE *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc(' ', out);
}

/*
 * One model's server block at `depth` (1 = the target), then its composing
 * models one level deeper. The numbers come from perf_status_server_summary()
 * (spec 03 §5), which sums leaf averages for ensembles.
 */
static void print_server_model(struct report_console *rc, const struct pa_server_side *m,
                               size_t depth)
{
    FILE *out = rc->out;
    size_t id = 2 * depth; /* the original's `ident` */
    bool cache = rc->model.response_cache;
    struct pa_server_summary a;

    if (m->success.count == 0) {
        indent(out, id);
        fputs("  Request count: 0\n", out);
        return;
    }
    perf_status_server_summary(m, cache, &a);
    indent(out, id);
    fprintf(out, "  Inference count: %" PRIu64 "\n", m->inference_count);
    indent(out, id);
    fprintf(out, "  Execution count: %" PRIu64 "\n", m->execution_count);
    if (cache) {
        indent(out, id);
        fprintf(out, "  Cache hit count: %" PRIu64 "\n", m->cache_hit.count);
        indent(out, id);
        fprintf(out, "  Cache miss count: %" PRIu64 "\n", m->cache_miss.count);
    }
    indent(out, id);
    fprintf(out, "  Successful request count: %" PRIu64 "\n", m->success.count);
    indent(out, id);
    fprintf(out, "  Avg request latency: %" PRIu64 " usec", a.avg_request_us);

    if (cache) {
        fprintf(out,
                " (overhead %" PRIu64 " usec + queue %" PRIu64 " usec + cache hit/miss %" PRIu64
                " usec)\n",
                a.overhead_us, a.queue_us, a.combined_us);
        indent(out, 2 * id);
        fprintf(out, "  Average Cache Hit Latency: %" PRIu64 " usec\n", a.cache_hit_us);
        indent(out, 2 * id);
        if (m->n_composing == 0)
            fprintf(out,
                    "  Average Cache Miss Latency: %" PRIu64
                    " usec (cache lookup/insertion %" PRIu64 " usec + compute input %" PRIu64
                    " usec + compute infer %" PRIu64 " usec + compute output %" PRIu64
                    " usec)\n\n",
                    a.cache_miss_us + a.compute_us, a.cache_miss_us, a.compute_input_us,
                    a.compute_infer_us, a.compute_output_us);
        else
            fprintf(out, "  Average Cache Miss Latency: %" PRIu64 " usec \n\n",
                    a.cache_miss_us + a.compute_us);
    } else if (m->n_composing == 0) {
        fprintf(out,
                " (overhead %" PRIu64 " usec + queue %" PRIu64 " usec + compute input %" PRIu64
                " usec + compute infer %" PRIu64 " usec + compute output %" PRIu64 " usec)\n\n",
                a.overhead_us, a.queue_us, a.compute_input_us, a.compute_infer_us,
                a.compute_output_us);
        if (m->cache_hit.ns > 0 || m->cache_miss.ns > 0) {
            /* stdout first: the two streams may be the same terminal. */
            fflush(out);
            fprintf(rc->diag,
                    "Response Cache is disabled for model [%s] but cache hit/miss latency is "
                    "non-zero.\n",
                    m->name);
        }
    } else {
        fprintf(out,
                " (overhead %" PRIu64 " usec + queue %" PRIu64 " usec + compute %" PRIu64
                " usec)\n\n",
                a.overhead_us, a.queue_us, a.compute_us);
    }
    if (m->n_composing == 0)
        return;

    indent(out, id);
    fputs("Composing models: \n", out);
    for (size_t i = 0; i < m->n_composing; i++) {
        const struct pa_server_side *c = &m->composing[i];
        indent(out, id);
        fprintf(out, "%s, version: %s\n", c->name, c->version);
        print_server_model(rc, c, depth + 1);
    }
}

static void print_metrics(struct report_console *rc, const struct perf_status *s)
{
    FILE *out = rc->out;
    char d[REPORT_DBL_BUFSZ];
    size_t n_util = 0, n_power = 0, n_used = 0, n_total = 0;

    fputs("  Server Prometheus Metrics: \n", out);
    for (size_t i = 0; i < s->n_gpus; i++) {
        n_util += s->gpus[i].has_utilization;
        n_power += s->gpus[i].has_power;
        n_used += s->gpus[i].has_memory_used;
        n_total += s->gpus[i].has_memory_total;
    }
    if (n_util > MAX_GPUS_ON_CONSOLE || n_power > MAX_GPUS_ON_CONSOLE ||
        n_used > MAX_GPUS_ON_CONSOLE || n_total > MAX_GPUS_ON_CONSOLE) {
        fputs("Too many GPUs on system to print out individual Prometheus metrics, use the CSV "
              "output feature to see metrics.\n",
              out);
        return;
    }
    fputs("    Avg GPU Utilization:\n", out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_utilization)
            fprintf(out, "      %s : %s%%\n", s->gpus[i].uuid,
                    report_console_double(rc, d, sizeof(d), s->gpus[i].utilization * 100));
    fputs("    Avg GPU Power Usage:\n", out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_power)
            fprintf(out, "      %s : %s watts\n", s->gpus[i].uuid,
                    report_console_double(rc, d, sizeof(d), s->gpus[i].power_watts));
    fputs("    Max GPU Memory Usage:\n", out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_memory_used)
            fprintf(out, "      %s : %" PRIu64 " bytes\n", s->gpus[i].uuid,
                    s->gpus[i].memory_used);
    fputs("    Total GPU Memory:\n", out);
    for (size_t i = 0; i < s->n_gpus; i++)
        if (s->gpus[i].has_memory_total)
            fprintf(out, "      %s : %" PRIu64 " bytes\n", s->gpus[i].uuid,
                    s->gpus[i].memory_total);
}

void report_level(struct report_console *rc, const struct perf_status *s)
{
    print_client_block(rc, s);
    if (s->has_server_stats) {
        fputs("  Server: \n", rc->out);
        print_server_model(rc, &s->server, 1);
    }
    if (rc->opts->collect_metrics)
        print_metrics(rc, s);
    if (s->client.overhead_pct > OVERHEAD_PCT_THRESHOLD)
        fputs("[WARNING] Perf Analyzer is not able to keep up with the desired load. The "
              "results may not be accurate.\n",
              rc->out);
}

void report_summary(struct report_console *rc, const struct perf_status *levels, size_t n)
{
    FILE *out = rc->out;
    char d[REPORT_DBL_BUFSZ];

    if (n == 0)
        return;
    if (rc->opts->percentile == -1)
        fputs("Inferences/Second vs. Client Average Batch Latency\n", out);
    else
        fprintf(out, "Inferences/Second vs. Client p%d Batch Latency\n", rc->opts->percentile);
    for (size_t i = 0; i < n; i++) {
        const struct perf_status *s = &levels[i];
        if (rc->opts->load_mode == PA_LOAD_CONCURRENCY ||
            rc->opts->load_mode == PA_LOAD_PERIODIC_CONCURRENCY)
            fprintf(out, "Concurrency: %" PRIu64 ", ", s->concurrency);
        else
            fprintf(out, "Request Rate: %s, ",
                    report_console_double(rc, d, sizeof(d), s->request_rate));
        fprintf(out, "throughput: %s infer/sec, latency %" PRIu64 " usec\n",
                report_console_double(rc, d, sizeof(d), s->client.infer_per_sec),
                s->client.stabilizing_latency_ns / 1000);
    }
}
