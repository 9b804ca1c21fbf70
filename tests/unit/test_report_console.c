/*
 * Console report paths the golden runs do not cover: settings variants, the
 * sticky fixed-notation quirk after a delayed warning, sequence/decoupled
 * lines, verbose wordings, ensembles and response cache, GPU metric limits,
 * the overhead warning. Expected texts follow spec 07-output.md §1-§3.
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

static char model_name[] = "m";

static void base_opts(struct pa_options *o)
{
    memset(o, 0, sizeof(*o));
    o->model_name = model_name;
    o->service_kind = PA_SK_TRITON;
    o->protocol = PA_PROTO_HTTP;
    o->measurement_interval_ms = 5000;
    o->measurement_mode = PA_MEASURE_TIME_WINDOWS;
    o->measurement_request_count = 50;
    o->load_mode = PA_LOAD_CONCURRENCY;
    o->concurrency_start = o->concurrency_end = o->concurrency_step = 1;
    o->rate_start = o->rate_end = o->rate_step = 1.0;
    o->search_mode = PA_SEARCH_LINEAR;
    o->percentile = -1;
    o->batch_size = 1;
}

/* Captures what a report function prints to out and diag. */
struct capture {
    char *out_text, *diag_text;
    size_t out_len, diag_len;
    FILE *out, *diag;
    struct report_console rc;
};

static void cap_open(struct capture *c, const struct pa_options *o, const struct report_model *m)
{
    memset(c, 0, sizeof(*c));
    c->out = open_memstream(&c->out_text, &c->out_len);
    c->diag = open_memstream(&c->diag_text, &c->diag_len);
    assert_non_null(c->out);
    assert_non_null(c->diag);
    report_console_init(&c->rc, c->out, c->diag, o, m);
}

static void cap_close(struct capture *c)
{
    fclose(c->out);
    fclose(c->diag);
}

static void cap_free(struct capture *c)
{
    free(c->out_text);
    free(c->diag_text);
}

static const char *settings_text(const struct pa_options *o, const struct report_model *m,
                                 struct capture *c)
{
    cap_open(c, o, m);
    report_settings(&c->rc);
    cap_close(c);
    return c->out_text;
}

static void test_settings_capi_binary_decoupled(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m", .decoupled = true};
    struct capture c;
    (void)state;

    base_opts(&o);
    o.service_kind = PA_SK_TRITON_C_API;
    o.protocol = PA_PROTO_UNKNOWN;
    o.concurrency_start = 2;
    o.concurrency_end = 8;
    o.latency_threshold_ms = 30;
    o.search_mode = PA_SEARCH_BINARY;
    o.percentile = 99;
    assert_string_equal(settings_text(&o, &m, &c),
                        "*** Measurement Settings ***\n"
                        "  Service Kind: Triton C-API\n"
                        "  Using \"time_windows\" mode for stabilization\n"
                        "  Measurement window: 5000 msec\n"
                        "  Latency limit: 30 msec\n"
                        "  Concurrency limit: 8 concurrent requests\n"
                        "  Using Binary Search algorithm\n"
                        "  Using synchronous calls for inference\n"
                        "  Detected decoupled model, using the first response for measuring "
                        "latency\n"
                        "  Stabilizing using p99 latency\n"
                        "\n");
    cap_free(&c);
}

static void test_settings_request_rate_poisson(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct capture c;
    (void)state;

    base_opts(&o);
    o.load_mode = PA_LOAD_REQUEST_RATE;
    o.request_distribution = PA_DIST_POISSON;
    o.rate_start = 1500.5;
    o.rate_end = 250;
    o.async = true;
    o.service_kind = PA_SK_TFSERVING;
    o.protocol = PA_PROTO_GRPC;
    o.batch_size = 0;
    o.measurement_mode = PA_MEASURE_COUNT_WINDOWS;
    o.measurement_request_count = 120;
    assert_string_equal(settings_text(&o, &m, &c),
                        "*** Measurement Settings ***\n"
                        "  Service Kind: TensorFlow Serving\n"
                        "  Using \"count_windows\" mode for stabilization\n"
                        "  Minimum number of samples in each window: 120\n"
                        "  Latency limit: 0 msec\n"
                        "  Request Rate limit: 1500.5 requests per seconds\n"
                        "  Using poisson distribution on request generation\n"
                        "  Using asynchronous calls for inference\n"
                        "  Stabilizing using average latency\n"
                        "\n");
    cap_free(&c);
}

static void test_settings_unbounded_ends(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct capture c;
    (void)state;

    /* end 0 (search until the latency limit): limit lines without the maximum. */
    base_opts(&o);
    o.concurrency_end = 0;
    o.latency_threshold_ms = 10;
    o.service_kind = PA_SK_TORCHSERVE;
    o.batch_size_given = true;
    assert_string_equal(settings_text(&o, &m, &c),
                        "*** Measurement Settings ***\n"
                        "  Batch size: 1\n"
                        "  Service Kind: TorchServe\n"
                        "  Using \"time_windows\" mode for stabilization\n"
                        "  Measurement window: 5000 msec\n"
                        "  Latency limit: 10 msec\n"
                        "  Using synchronous calls for inference\n"
                        "  Stabilizing using average latency\n"
                        "\n");
    cap_free(&c);

    base_opts(&o);
    o.load_mode = PA_LOAD_CUSTOM_INTERVALS;
    o.search_mode = PA_SEARCH_NONE;
    o.rate_end = 0.0;
    assert_string_equal(settings_text(&o, &m, &c),
                        "*** Measurement Settings ***\n"
                        "  Batch size: 1\n"
                        "  Service Kind: Triton\n"
                        "  Using \"time_windows\" mode for stabilization\n"
                        "  Measurement window: 5000 msec\n"
                        "  Latency limit: 0 msec\n"
                        "  Using synchronous calls for inference\n"
                        "  Stabilizing using average latency\n"
                        "\n");
    cap_free(&c);
}

static void fill_client(struct pa_client_side *cl)
{
    static const int qs[] = {50, 90, 95, 99};
    memset(cl, 0, sizeof(*cl));
    cl->request_count = 200;
    cl->infer_per_sec = 99.5;
    cl->avg_latency_ns = 2500400;
    cl->std_us = 30;
    for (size_t i = 0; i < 4; i++) {
        cl->percentiles[i].q = qs[i];
        cl->percentiles[i].latency_ns = (2400 + 100 * i) * 1000 + 999;
    }
    cl->n_percentiles = 4;
    cl->stabilizing_latency_ns = cl->avg_latency_ns;
    cl->has_lib_stats = true;
    cl->avg_request_ns = 2400999;
    cl->avg_send_ns = 40999;
    cl->avg_receive_ns = 10999;
}

/*
 * Beyond the original: under -v, request-rate levels end their Client block
 * with the latency measured from the scheduled send time; without -v, or
 * without schedule data, the block is exactly the original's.
 */
static void test_scheduled_latency_line(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status lv;
    struct capture c;
    (void)state;

    base_opts(&o);
    o.load_mode = PA_LOAD_REQUEST_RATE;
    o.verbose = 1;
    memset(&lv, 0, sizeof(lv));
    lv.request_rate = 100;
    fill_client(&lv.client);
    lv.client.has_schedule = true;
    lv.client.sched_avg_latency_ns = 9000999;
    for (size_t i = 0; i < 4; i++) {
        lv.client.sched_percentiles[i].q = lv.client.percentiles[i].q;
        lv.client.sched_percentiles[i].latency_ns = (8000 + 1000 * i) * 1000;
    }

    cap_open(&c, &o, &m);
    report_level(&c.rc, &lv);
    cap_close(&c);
    assert_non_null(strstr(c.out_text, "    Avg HTTP time: 2400 usec (send 40 usec + response wait "
                                       "2350 usec + receive 10 usec)\n"
                                       "    Scheduled latency: avg 9000 usec, p50 8000 usec, "
                                       "p90 9000 usec, p95 10000 usec, p99 11000 usec\n"));
    cap_free(&c);

    o.verbose = 0;
    cap_open(&c, &o, &m);
    report_level(&c.rc, &lv);
    cap_close(&c);
    assert_null(strstr(c.out_text, "Scheduled"));
    cap_free(&c);
}

/* The delayed warning switches all later floats on stdout to %.2f, for good. */
static void test_delayed_warning_sticks(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m", .sequence = true};
    struct perf_status lv[2];
    struct capture c;
    (void)state;

    base_opts(&o);
    o.load_mode = PA_LOAD_REQUEST_RATE;
    o.rate_start = 100;
    o.rate_end = 200;
    o.rate_step = 100;
    memset(lv, 0, sizeof(lv));
    lv[0].request_rate = 100;
    fill_client(&lv[0].client);
    lv[0].client.delayed_request_count = 3; /* 1.5% > 1% */
    lv[0].client.send_request_rate = 98.7654;
    lv[0].client.sequence_count = 10;
    lv[0].client.sequence_per_sec = 4.75;
    lv[1].request_rate = 200;
    fill_client(&lv[1].client);
    lv[1].client.infer_per_sec = 199.25;
    lv[1].client.delayed_request_count = 2; /* exactly 1%: no warning */
    lv[1].client.sequence_count = 20;
    lv[1].client.sequence_per_sec = 9.5;

    cap_open(&c, &o, &m);
    report_rate_header(&c.rc, 100);
    report_level(&c.rc, &lv[0]);
    assert_true(c.rc.fixed);
    report_rate_header(&c.rc, 200);
    report_level(&c.rc, &lv[1]);
    report_summary(&c.rc, lv, 2);
    cap_close(&c);
    assert_string_equal(
        c.out_text,
        "Request Rate: 100 inference requests per seconds\n"
        "  Client: \n"
        "    Request count: 200\n"
        "    Avg send request rate: 98.77 infer/sec\n"
        "    [WARNING] Perf Analyzer was not able to keep up with the desired request rate. "
        "1.50% of the requests were delayed. \n"
        "    Sequence count: 10 (4.75 seq/sec)\n"
        "    Throughput: 99.50 infer/sec\n"
        "    Avg latency: 2500 usec (standard deviation 30 usec)\n"
        "    p50 latency: 2400 usec\n"
        "    p90 latency: 2500 usec\n"
        "    p95 latency: 2600 usec\n"
        "    p99 latency: 2700 usec\n"
        "    Avg HTTP time: 2400 usec (send/recv 50 usec + response wait 2350 usec)\n"
        "Request Rate: 200.00 inference requests per seconds\n"
        "  Client: \n"
        "    Request count: 200\n"
        "    Sequence count: 20 (9.50 seq/sec)\n"
        "    Throughput: 199.25 infer/sec\n"
        "    Avg latency: 2500 usec (standard deviation 30 usec)\n"
        "    p50 latency: 2400 usec\n"
        "    p90 latency: 2500 usec\n"
        "    p95 latency: 2600 usec\n"
        "    p99 latency: 2700 usec\n"
        "    Avg HTTP time: 2400 usec (send/recv 50 usec + response wait 2350 usec)\n"
        "Inferences/Second vs. Client Average Batch Latency\n"
        "Request Rate: 100.00, throughput: 99.50 infer/sec, latency 2500 usec\n"
        "Request Rate: 200.00, throughput: 199.25 infer/sec, latency 2500 usec\n");
    cap_free(&c);
}

static void test_verbose_grpc_decoupled_and_capi(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m", .decoupled = true};
    struct perf_status s;
    struct capture c;
    (void)state;

    /* Verbose gRPC wording, overhead line, response throughput, user percentile. */
    base_opts(&o);
    o.protocol = PA_PROTO_GRPC;
    o.verbose = 1;
    o.percentile = 92;
    memset(&s, 0, sizeof(s));
    s.concurrency = 3;
    fill_client(&s.client);
    memmove(&s.client.percentiles[3], &s.client.percentiles[2],
            2 * sizeof(s.client.percentiles[0]));
    s.client.percentiles[2].q = 92;
    s.client.percentiles[2].latency_ns = 2550000;
    s.client.n_percentiles = 5;
    s.client.responses_per_sec = 1234.5;
    s.client.overhead_pct = 3.14159;
    cap_open(&c, &o, &m);
    report_concurrency_header(&c.rc, 3);
    report_level(&c.rc, &s);
    report_summary(&c.rc, &s, 1);
    cap_close(&c);
    assert_string_equal(c.out_text,
                        "Request concurrency: 3\n"
                        "  Client: \n"
                        "    Request count: 200\n"
                        "    Throughput: 99.5 infer/sec\n"
                        "    Response Throughput: 1234.5 infer/sec\n"
                        "    Avg client overhead: 3.14%\n"
                        "    p50 latency: 2400 usec\n"
                        "    p90 latency: 2500 usec\n"
                        "    p92 latency: 2550 usec\n"
                        "    p95 latency: 2600 usec\n"
                        "    p99 latency: 2700 usec\n"
                        "    Avg gRPC time: 2400 usec (marshal 40 usec + response wait 2350 usec "
                        "+ unmarshal 10 usec)\n"
                        "Inferences/Second vs. Client p92 Batch Latency\n"
                        "Concurrency: 3, throughput: 99.5 infer/sec, latency 2500 usec\n");
    cap_free(&c);

    /* Decoupled Triton models collect no library stats: a line of four spaces. */
    s.client.has_lib_stats = false;
    o.verbose = 0;
    o.percentile = -1;
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    assert_non_null(strstr(c.out_text, "    p99 latency: 2700 usec\n    \n"));
    assert_null(strstr(c.out_text, "Avg gRPC"));
    cap_free(&c);

    /* The C API has no protocol: four spaces even with library stats. */
    s.client.has_lib_stats = true;
    o.service_kind = PA_SK_TRITON_C_API;
    o.protocol = PA_PROTO_UNKNOWN;
    m.decoupled = false;
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    assert_non_null(strstr(c.out_text, "    p99 latency: 2700 usec\n    \n"));
    cap_free(&c);

    /* Verbose HTTP wording, and TF Serving speaks gRPC wording. */
    o.service_kind = PA_SK_TRITON;
    o.protocol = PA_PROTO_HTTP;
    o.verbose = 1;
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    assert_non_null(strstr(c.out_text, "    Avg HTTP time: 2400 usec (send 40 usec + response "
                                       "wait 2350 usec + receive 10 usec)\n"));
    cap_free(&c);
    o.service_kind = PA_SK_TFSERVING;
    o.protocol = PA_PROTO_GRPC;
    o.verbose = 0;
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    assert_non_null(strstr(c.out_text, "    Avg gRPC time: 2400 usec ((un)marshal "
                                       "request/response 50 usec + response wait 2350 usec)\n"));
    cap_free(&c);
}

static void test_pass_lines(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status w;
    struct capture c;
    (void)state;

    base_opts(&o);
    o.verbose = 1;
    memset(&w, 0, sizeof(w));
    fill_client(&w.client);
    w.client.infer_per_sec = 1e6;
    cap_open(&c, &o, &m);
    report_pass(&c.rc, 1, &w);
    report_pass_failed(&c.rc, 2,
                       "No valid requests recorded within time interval. Please use a larger "
                       "time window.");
    o.percentile = 90;
    report_pass(&c.rc, 3, &w);
    cap_close(&c);
    assert_string_equal(c.out_text,
                        "  Pass [1] throughput: 1e+06 infer/sec. Avg latency: 2500 usec (std 30 "
                        "usec). \n"
                        "  Pass [2] cb::Error: No valid requests recorded within time interval. "
                        "Please use a larger time window.\n"
                        "  Pass [3] throughput: 1e+06 infer/sec. p90 latency: 2500 usec\n");
    cap_free(&c);
}

static void set_leaf(struct pa_server_side *s, const char *name, const char *version,
                     uint64_t n, uint64_t req_ns, uint64_t q_ns, uint64_t ci_ns, uint64_t cf_ns,
                     uint64_t co_ns)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->version, sizeof(s->version), "%s", version);
    s->inference_count = n;
    s->execution_count = n;
    s->success = (struct pa_stat_pair){n, n * req_ns};
    s->queue = (struct pa_stat_pair){n, n * q_ns};
    s->compute_input = (struct pa_stat_pair){n, n * ci_ns};
    s->compute_infer = (struct pa_stat_pair){n, n * cf_ns};
    s->compute_output = (struct pa_stat_pair){n, n * co_ns};
}

static void test_ensemble_server_block(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "ens"};
    struct perf_status s;
    struct capture c;
    (void)state;

    base_opts(&o);
    memset(&s, 0, sizeof(s));
    fill_client(&s.client);
    s.has_server_stats = true;
    set_leaf(&s.server, "ens", "1", 10, 5000000, 100000, 0, 0, 0);
    s.server.n_composing = 3;
    s.server.composing = calloc(3, sizeof(*s.server.composing));
    set_leaf(&s.server.composing[0], "a", "1", 10, 2000000, 50000, 10000, 1000000, 20000);
    set_leaf(&s.server.composing[1], "b", "2", 0, 0, 0, 0, 0, 0);
    /* A nested ensemble whose leaf counts toward the outer sums. */
    set_leaf(&s.server.composing[2], "sub", "1", 5, 900000, 0, 0, 0, 0);
    s.server.composing[2].n_composing = 1;
    s.server.composing[2].composing = calloc(1, sizeof(struct pa_server_side));
    set_leaf(&s.server.composing[2].composing[0], "c", "3", 5, 800000, 30000, 5000, 500000,
             5000);

    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    const char *server = strstr(c.out_text, "  Server: \n");
    assert_non_null(server);
    /* ΣQ = 50 + 30, ΣC = 1030 + 510; overhead = 5000 − 80 − 1540. */
    assert_string_equal(server,
                        "  Server: \n"
                        "    Inference count: 10\n"
                        "    Execution count: 10\n"
                        "    Successful request count: 10\n"
                        "    Avg request latency: 5000 usec (overhead 3380 usec + queue 80 usec + "
                        "compute 1540 usec)\n"
                        "\n"
                        "  Composing models: \n"
                        "  a, version: 1\n"
                        "      Inference count: 10\n"
                        "      Execution count: 10\n"
                        "      Successful request count: 10\n"
                        "      Avg request latency: 2000 usec (overhead 920 usec + queue 50 usec + "
                        "compute input 10 usec + compute infer 1000 usec + compute output 20 "
                        "usec)\n"
                        "\n"
                        "  b, version: 2\n"
                        "      Request count: 0\n"
                        "  sub, version: 1\n"
                        "      Inference count: 5\n"
                        "      Execution count: 5\n"
                        "      Successful request count: 5\n"
                        "      Avg request latency: 900 usec (overhead 360 usec + queue 30 usec + "
                        "compute 510 usec)\n"
                        "\n"
                        "    Composing models: \n"
                        "    c, version: 3\n"
                        "        Inference count: 5\n"
                        "        Execution count: 5\n"
                        "        Successful request count: 5\n"
                        "        Avg request latency: 800 usec (overhead 260 usec + queue 30 usec "
                        "+ compute input 5 usec + compute infer 500 usec + compute output 5 "
                        "usec)\n"
                        "\n");
    assert_string_equal(c.diag_text, "");
    cap_free(&c);

    /* Response cache on: cache counts and the hit/miss breakdown, ensemble form. */
    m.response_cache = true;
    s.server.composing[0].cache_hit = (struct pa_stat_pair){4, 400000};
    s.server.composing[0].cache_miss = (struct pa_stat_pair){6, 1200000};
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    /* leaf a: combined = (10300000 + 400000 + 1200000) / (10 + 4) = 850 µs; c: 510. */
    assert_non_null(strstr(c.out_text,
                           "    Cache hit count: 0\n"
                           "    Cache miss count: 0\n"
                           "    Successful request count: 10\n"
                           "    Avg request latency: 5000 usec (overhead 3560 usec + queue 80 usec "
                           "+ cache hit/miss 1360 usec)\n"
                           "      Average Cache Hit Latency: 100 usec\n"
                           "      Average Cache Miss Latency: 1740 usec \n"
                           "\n"
                           "  Composing models: \n"));
    assert_non_null(strstr(c.out_text,
                           "      Cache hit count: 4\n"
                           "      Cache miss count: 6\n"
                           "      Successful request count: 10\n"
                           "      Avg request latency: 2000 usec (overhead 1100 usec + queue 50 "
                           "usec + cache hit/miss 850 usec)\n"
                           "          Average Cache Hit Latency: 100 usec\n"
                           "          Average Cache Miss Latency: 1230 usec (cache "
                           "lookup/insertion 200 usec + compute input 10 usec + compute infer "
                           "1000 usec + compute output 20 usec)\n"
                           "\n"
                           "  b, version: 2\n"));
    cap_free(&c);

    /* Cache off but cache time reported: the stderr note after the block. */
    m.response_cache = false;
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    assert_string_equal(c.diag_text, "Response Cache is disabled for model [a] but cache "
                                     "hit/miss latency is non-zero.\n");
    cap_free(&c);
    perf_status_release(&s);
}

static void test_metrics_and_overhead_warning(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status s;
    struct capture c;
    (void)state;

    base_opts(&o);
    o.collect_metrics = true;
    memset(&s, 0, sizeof(s));
    fill_client(&s.client);
    s.client.overhead_pct = 50.5;
    s.has_metrics = true;
    s.n_gpus = 17;
    s.gpus = calloc(17, sizeof(*s.gpus));
    for (size_t i = 0; i < 17; i++) {
        snprintf(s.gpus[i].uuid, sizeof(s.gpus[i].uuid), "GPU-%02zu", i);
        s.gpus[i].has_memory_total = true;
        s.gpus[i].memory_total = 1;
    }
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    assert_non_null(strstr(c.out_text,
                           "    Avg HTTP time: 2400 usec (send/recv 50 usec + response wait 2350 "
                           "usec)\n"
                           "  Server Prometheus Metrics: \n"
                           "Too many GPUs on system to print out individual Prometheus metrics, "
                           "use the CSV output feature to see metrics.\n"
                           "[WARNING] Perf Analyzer is not able to keep up with the desired load. "
                           "The results may not be accurate.\n"));
    cap_free(&c);

    /* 16 GPUs still print; a GPU lacking a metric is absent from that list only. */
    s.n_gpus = 2;
    s.gpus[0].has_utilization = true;
    s.gpus[0].utilization = 0.809;
    s.gpus[1].has_power = true;
    s.gpus[1].power_watts = 91.25;
    s.gpus[1].has_memory_used = true;
    s.gpus[1].memory_used = 2000000000;
    s.client.overhead_pct = 50.0;
    cap_open(&c, &o, &m);
    report_level(&c.rc, &s);
    cap_close(&c);
    assert_non_null(strstr(c.out_text, "  Server Prometheus Metrics: \n"
                                       "    Avg GPU Utilization:\n"
                                       "      GPU-00 : 80.9%\n"
                                       "    Avg GPU Power Usage:\n"
                                       "      GPU-01 : 91.25 watts\n"
                                       "    Max GPU Memory Usage:\n"
                                       "      GPU-01 : 2000000000 bytes\n"
                                       "    Total GPU Memory:\n"
                                       "      GPU-00 : 1 bytes\n"
                                       "      GPU-01 : 1 bytes\n"));
    assert_null(strstr(c.out_text, "[WARNING]"));
    cap_free(&c);
    perf_status_release(&s);
}

static void test_summary_empty(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct capture c;
    (void)state;

    base_opts(&o);
    cap_open(&c, &o, &m);
    report_summary(&c.rc, NULL, 0);
    cap_close(&c);
    assert_string_equal(c.out_text, "");
    cap_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_capi_binary_decoupled),
        cmocka_unit_test(test_settings_request_rate_poisson),
        cmocka_unit_test(test_settings_unbounded_ends),
        cmocka_unit_test(test_delayed_warning_sticks),
        cmocka_unit_test(test_scheduled_latency_line),
        cmocka_unit_test(test_verbose_grpc_decoupled_and_capi),
        cmocka_unit_test(test_pass_lines),
        cmocka_unit_test(test_ensemble_server_block),
        cmocka_unit_test(test_metrics_and_overhead_warning),
        cmocka_unit_test(test_summary_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
