/*
 * CSV report (spec 07-output.md §4-§5): conditional columns, sorting,
 * clamping with its stderr note, compute-count check, composing-model files
 * and their path quirk, and the scheduled-latency columns we add.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report.h"

static char model_name[] = "m";

static void base_opts(struct pa_options *o)
{
    memset(o, 0, sizeof(*o));
    o->model_name = model_name;
    o->service_kind = PA_SK_TRITON;
    o->protocol = PA_PROTO_HTTP;
    o->load_mode = PA_LOAD_CONCURRENCY;
    o->concurrency_start = o->concurrency_end = o->concurrency_step = 1;
    o->rate_start = o->rate_end = o->rate_step = 1.0;
    o->percentile = -1;
    o->batch_size = 1;
}

static void client(struct perf_status *s, uint64_t conc, double rate, double ips)
{
    static const int qs[] = {50, 90, 95, 99};
    memset(s, 0, sizeof(*s));
    s->concurrency = conc;
    s->request_rate = rate;
    s->client.request_count = 100;
    s->client.infer_per_sec = ips;
    s->client.avg_latency_ns = 3000500;
    for (size_t i = 0; i < 4; i++) {
        s->client.percentiles[i].q = qs[i];
        s->client.percentiles[i].latency_ns = (3000 + 100 * i) * 1000 + 5;
    }
    s->client.n_percentiles = 4;
    s->client.has_lib_stats = true;
    s->client.avg_request_ns = 2900900;
    s->client.avg_send_ns = 40900;
    s->client.avg_receive_ns = 20900;
}

static void leaf(struct pa_server_side *m, const char *name, const char *version, uint64_t n,
                 uint64_t req_ns, uint64_t q_ns, uint64_t ci_ns, uint64_t cf_ns, uint64_t co_ns)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->version, sizeof(m->version), "%s", version);
    m->inference_count = m->execution_count = n;
    m->success = (struct pa_stat_pair){n, n * req_ns};
    m->queue = (struct pa_stat_pair){n, n * q_ns};
    m->compute_input = (struct pa_stat_pair){n, n * ci_ns};
    m->compute_infer = (struct pa_stat_pair){n, n * cf_ns};
    m->compute_output = (struct pa_stat_pair){n, n * co_ns};
}

struct out {
    char *text, *diag;
    int rc;
    struct pa_err err;
};

static void csv(struct out *r, const struct pa_options *o, const struct report_model *m,
                const struct perf_status *lv, size_t n)
{
    size_t len = 0, dlen = 0;
    memset(r, 0, sizeof(*r));
    FILE *f = open_memstream(&r->text, &len);
    FILE *d = open_memstream(&r->diag, &dlen);
    r->rc = report_csv_print(f, o, m, lv, n, d, &r->err);
    fclose(f);
    fclose(d);
}

static void out_free(struct out *r)
{
    free(r->text);
    free(r->diag);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    if (!f)
        return NULL;
    buf = calloc(1, 4096);
    n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_rows_sorted_by_throughput(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status lv[3];
    struct out r;
    (void)state;

    base_opts(&o);
    o.service_kind = PA_SK_TFSERVING;
    client(&lv[0], 3, 0, 300.5);
    client(&lv[1], 1, 0, 100.25);
    client(&lv[2], 2, 0, 200);
    csv(&r, &o, &m, lv, 3);
    assert_int_equal(r.rc, PA_OK);
    assert_string_equal(r.text,
                        "Concurrency,Inferences/Second,Client Send,Client Recv,p50 latency,"
                        "p90 latency,p95 latency,p99 latency\n"
                        "1,100.25,40,20,3000,3100,3200,3300\n"
                        "2,200,40,20,3000,3100,3200,3300\n"
                        "3,300.5,40,20,3000,3100,3200,3300\n");
    /* The caller's array keeps measurement order. */
    assert_int_equal(lv[0].concurrency, 3);
    out_free(&r);
}

static void test_all_conditional_columns(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m", .decoupled = true, .response_cache = true};
    struct perf_status s;
    struct out r;
    (void)state;

    base_opts(&o);
    o.load_mode = PA_LOAD_REQUEST_RATE;
    o.percentile = 95;
    o.verbose_csv = true;
    client(&s, 0, 12.5, 12.25);
    s.client.responses_per_sec = 49;
    s.has_server_stats = true;
    leaf(&s.server, "m", "1", 4, 2500000, 100000, 10000, 2000000, 30000);
    s.server.cache_hit = (struct pa_stat_pair){2, 2 * 7000};
    s.server.cache_miss = (struct pa_stat_pair){2, 2 * 9000};
    csv(&r, &o, &m, &s, 1);
    assert_int_equal(r.rc, PA_OK);
    /* network = (3000500 − 40900 − 20900) − (100000 + 10000 + 2000000 + 30000 + 7000 + 9000) */
    assert_string_equal(r.text,
                        "Request Rate,Inferences/Second,Response Throughput,Client Send,"
                        "Network+Server Send/Recv,Server Queue,Server Compute Input,"
                        "Server Compute Infer,Server Compute Output,Server Cache Hit,"
                        "Server Cache Miss,Client Recv,p50 latency,p90 latency,p95 latency,"
                        "p99 latency,request/response,response wait\n"
                        "12.5,12.25,49,40,782,100,10,2000,30,7,9,20,3000,3100,3200,3300,60,"
                        "2840\n");
    assert_string_equal(r.diag, "");
    out_free(&r);
}

static void test_verbose_csv_metrics_cells(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status s[2];
    struct out r;
    (void)state;

    base_opts(&o);
    o.verbose_csv = true;
    o.collect_metrics = true;
    o.service_kind = PA_SK_TORCHSERVE;
    client(&s[0], 1, 0, 10);
    client(&s[1], 2, 0, 20);
    s[0].has_metrics = true;
    s[0].n_gpus = 2;
    s[0].gpus = calloc(2, sizeof(*s[0].gpus));
    snprintf(s[0].gpus[0].uuid, sizeof(s[0].gpus[0].uuid), "GPU-aaf4fea0");
    snprintf(s[0].gpus[1].uuid, sizeof(s[0].gpus[1].uuid), "GPU-aaf4fea1");
    s[0].gpus[0].has_utilization = s[0].gpus[1].has_utilization = true;
    s[0].gpus[0].utilization = 0.809;
    s[0].gpus[1].utilization = 0.901;
    s[0].gpus[0].has_power = s[0].gpus[1].has_power = true;
    s[0].gpus[0].power_watts = 91.2;
    s[0].gpus[1].power_watts = 100;
    s[0].gpus[0].has_memory_used = s[0].gpus[1].has_memory_used = true;
    s[0].gpus[0].memory_used = 1000000000;
    s[0].gpus[1].memory_used = 2000000000;
    s[0].gpus[1].has_memory_total = true; /* only one GPU reported its total */
    s[0].gpus[1].memory_total = 3000000000;
    csv(&r, &o, &m, s, 2);
    assert_string_equal(
        r.text,
        "Concurrency,Inferences/Second,Client Send,Client Recv,p50 latency,p90 latency,"
        "p95 latency,p99 latency,Avg latency,request/response,response wait,Avg GPU Utilization,"
        "Avg GPU Power Usage,Max GPU Memory Usage,Total GPU Memory\n"
        "1,10,40,20,3000,3100,3200,3300,3000,60,2840,GPU-aaf4fea0:0.809;GPU-aaf4fea1:0.901;,"
        "GPU-aaf4fea0:91.2;GPU-aaf4fea1:100;,GPU-aaf4fea0:1000000000;GPU-aaf4fea1:2000000000;,"
        "GPU-aaf4fea1:3000000000;\n"
        "2,20,40,20,3000,3100,3200,3300,3000,60,2840,,,,\n");
    out_free(&r);
    perf_status_release(&s[0]);
}

static void test_network_clamped_with_note(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status s;
    struct out r;
    (void)state;

    base_opts(&o);
    client(&s, 1, 0, 5);
    s.has_server_stats = true;
    leaf(&s.server, "m", "1", 3, 9000000, 1000000, 0, 5000000, 0);
    csv(&r, &o, &m, &s, 1);
    assert_int_equal(r.rc, PA_OK);
    assert_non_null(strstr(r.text, "\n1,5,40,0,1000,0,5000,0,20,"));
    assert_string_equal(r.diag,
                        "Server average accounted time was larger than client average wait time "
                        "due to small sample size. Increase the measurement interval with "
                        "`--measurement-interval`.\n");
    out_free(&r);

    /* Send + receive above the average latency: clamped, not wrapped. */
    s.client.avg_send_ns = 5000000;
    csv(&r, &o, &m, &s, 1);
    assert_non_null(strstr(r.text, "\n1,5,5000,0,1000,"));
    assert_non_null(strstr(r.diag, "Server average accounted time"));
    out_free(&r);
}

static void test_compute_counts_must_match(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status s;
    struct out r;
    struct pa_err err = {0};
    char dir[] = "/tmp/pa_report_csvXXXXXX", path[PATH_MAX];
    (void)state;

    base_opts(&o);
    client(&s, 1, 0, 5);
    s.has_server_stats = true;
    leaf(&s.server, "m", "1", 3, 9000000, 1000000, 0, 5000000, 0);
    s.server.compute_infer.count = 2;
    csv(&r, &o, &m, &s, 1);
    assert_int_equal(r.rc, PA_EPROTO);
    assert_string_equal(r.err.msg, "Server side statistics compute counts must be the same.");
    out_free(&r);

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/out.csv", dir);
    o.csv_file = path;
    assert_int_equal(report_csv_write(&o, &m, &s, 1, stderr, &err), PA_EPROTO);
    assert_int_equal(access(path, F_OK), -1); /* nothing written */
    assert_int_equal(rmdir(dir), 0);
}

static void ensemble(struct perf_status *s, uint64_t conc, double ips, bool swap)
{
    client(s, conc, 0, ips);
    s->has_server_stats = true;
    leaf(&s->server, "ens", "1", 10, 4000000, 0, 0, 0, 0);
    s->server.n_composing = 2;
    s->server.composing = calloc(2, sizeof(*s->server.composing));
    /* Levels need not list composing models in the same slots. */
    size_t a = swap ? 1 : 0, b = swap ? 0 : 1;
    leaf(&s->server.composing[a], "a", "1", 5, 2000000, 100000, 10000, 1000000, 20000);
    leaf(&s->server.composing[b], "b", "2", 10, 1000000, 1000000, 0, 0, 0);
}

static void test_composing_files_and_path_quirk(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "ens"};
    struct perf_status s[2];
    struct pa_err err = {0};
    char dir[] = "/tmp/pa_report_compXXXXXX", cwd[PATH_MAX], res[] = "res.csv",
         nested[] = "out/res.csv";
    char *text, *notes = NULL;
    size_t notes_len = 0;
    FILE *d = open_memstream(&notes, &notes_len);
    (void)state;

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);

    base_opts(&o);
    o.csv_file = res;
    ensemble(&s[0], 2, 400, false);
    ensemble(&s[1], 1, 200, true);
    assert_int_equal(report_csv_write(&o, &m, s, 2, d, &err), PA_OK);

    text = slurp("res.csv");
    assert_non_null(text);
    assert_non_null(strstr(text, "Concurrency,Inferences/Second,Client Send,Network+Server"));
    assert_non_null(strstr(text, "\n1,200,"));
    free(text);
    /* a: throughput × 5/10; overhead 2000 − (100 + 10 + 1000 + 20) µs. */
    text = slurp("a_v1.res.csv");
    assert_non_null(text);
    assert_string_equal(text,
                        "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,"
                        "Server Queue,Server Compute Input,Server Compute Infer,"
                        "Server Compute Output,Client Recv\n"
                        "1,100,0,870,100,10,1000,20,0\n"
                        "2,200,0,870,100,10,1000,20,0\n");
    free(text);
    text = slurp("b_v2.res.csv");
    assert_non_null(text);
    assert_non_null(strstr(text, "\n1,200,0,0,1000,0,0,0,0\n2,400,0,0,1000,0,0,0,0\n"));
    free(text);

    /* QUIRK: "<name>_v<version>." goes before the whole -f string. */
    o.csv_file = nested;
    assert_int_equal(mkdir("out", 0700), 0);
    assert_int_equal(mkdir("a_v1.out", 0700), 0);
    assert_int_equal(report_csv_write(&o, &m, s, 2, d, &err), PA_OK);
    assert_int_equal(access("out/res.csv", F_OK), 0);
    assert_int_equal(access("a_v1.out/res.csv", F_OK), 0);
    assert_int_equal(access("b_v2.out", F_OK), -1); /* unopenable: silently skipped */

    /* Cache columns in the composing files too. */
    m.response_cache = true;
    o.csv_file = res;
    assert_int_equal(report_csv_write(&o, &m, s, 2, d, &err), PA_OK);
    text = slurp("a_v1.res.csv");
    assert_non_null(strstr(text, "Server Compute Output,Server Cache Hit,Server Cache Miss,"
                                 "Client Recv\n1,100,0,870,100,10,1000,20,0,0,0\n"));
    free(text);

    /* b's queue equals its latency: overhead clamped, noted once per row. */
    fclose(d);
    assert_non_null(strstr(notes, "Server average accounted time was larger"));
    free(notes);

    unlink("res.csv");
    unlink("a_v1.res.csv");
    unlink("b_v2.res.csv");
    unlink("out/res.csv");
    unlink("a_v1.out/res.csv");
    rmdir("out");
    rmdir("a_v1.out");
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rmdir(dir), 0);
    perf_status_release(&s[0]);
    perf_status_release(&s[1]);
}

static void test_no_file_cases(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status s;
    struct pa_err err = {0};
    char bad[] = "/nonexistent-dir/x/out.csv";
    (void)state;

    base_opts(&o);
    client(&s, 1, 0, 5);
    assert_int_equal(report_csv_write(&o, &m, &s, 1, stderr, &err), PA_OK); /* no -f */
    o.csv_file = bad;
    assert_int_equal(report_csv_write(&o, &m, &s, 1, stderr, &err), PA_OK);
    assert_int_equal(report_csv_write(&o, &m, &s, 0, stderr, &err), PA_OK);
    assert_int_equal(err.code, 0);
}

static void test_scheduled_latency_columns(void **state)
{
    struct pa_options o;
    struct report_model m = {.name = "m"};
    struct perf_status s[2];
    struct out r;
    (void)state;

    base_opts(&o);
    o.load_mode = PA_LOAD_REQUEST_RATE;
    o.verbose_csv = true;
    client(&s[0], 0, 100, 99.5);
    client(&s[1], 0, 200, 150);
    s[1].client.has_schedule = true;
    s[1].client.sched_avg_latency_ns = 9000999;
    for (size_t i = 0; i < 4; i++) {
        s[1].client.sched_percentiles[i].q = s[1].client.percentiles[i].q;
        s[1].client.sched_percentiles[i].latency_ns = (8000 + i) * 1000 + 1;
    }
    csv(&r, &o, &m, s, 2);
    assert_string_equal(r.text,
                        "Request Rate,Inferences/Second,Client Send,Client Recv,p50 latency,"
                        "p90 latency,p95 latency,p99 latency,Avg latency,request/response,"
                        "response wait,Scheduled p50 latency,Scheduled p90 latency,"
                        "Scheduled p95 latency,Scheduled p99 latency,Scheduled Avg latency\n"
                        "100,99.5,40,20,3000,3100,3200,3300,3000,60,2840,,,,,\n"
                        "200,150,40,20,3000,3100,3200,3300,3000,60,2840,8000,8001,8002,8003,"
                        "9000\n");
    out_free(&r);

    /* Only with --verbose-csv, and never in concurrency mode. */
    o.verbose_csv = false;
    csv(&r, &o, &m, s, 2);
    assert_null(strstr(r.text, "Scheduled"));
    out_free(&r);
    o.verbose_csv = true;
    o.load_mode = PA_LOAD_CONCURRENCY;
    csv(&r, &o, &m, s, 2);
    assert_null(strstr(r.text, "Scheduled"));
    out_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_sorted_by_throughput),
        cmocka_unit_test(test_all_conditional_columns),
        cmocka_unit_test(test_verbose_csv_metrics_cells),
        cmocka_unit_test(test_network_clamped_with_note),
        cmocka_unit_test(test_compute_counts_must_match),
        cmocka_unit_test(test_composing_files_and_path_quirk),
        cmocka_unit_test(test_no_file_cases),
        cmocka_unit_test(test_scheduled_latency_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
