/*
 * Option parsing: every option in its long and short spellings, "=" and
 * separate values, long-name prefixes, getopt's diagnostics, the C++-style
 * number conversions, deprecated options, derived defaults, --version and
 * the usage text against the original's recorded --help output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/options.h"

#include "cli_run.h"

/* A getopt-level failure: diagnostic on diag, empty message. */
#define EXPECT_DIAG(text, ...)                       \
    do {                                             \
        struct run r_;                               \
        RUN(&r_, __VA_ARGS__);                       \
        assert_int_equal(r_.rc, PA_EUSAGE);          \
        assert_string_equal(r_.err.msg, "");         \
        assert_string_equal(r_.diag, (text));        \
        run_done(&r_);                               \
    } while (0)

static char tmpdir[64];
static char existing_file[128];
static char missing_path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa_cli_test_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(existing_file, sizeof(existing_file), "%s/file.txt", tmpdir);
    snprintf(missing_path, sizeof(missing_path), "%s/missing.json", tmpdir);
    FILE *f = fopen(existing_file, "w");
    if (!f)
        return -1;
    fputs("100\n200\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char zero[160];
    snprintf(zero, sizeof(zero), "%s/zero", tmpdir);
    unlink(zero);
    unlink(existing_file);
    rmdir(tmpdir);
    return 0;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    struct run r;
    (void)state;
    OK(&r, "-m", "simple");
    const struct pa_options *o = &r.o;
    assert_string_equal(o->model_name, "simple");
    assert_string_equal(o->model_version, "");
    assert_int_equal(o->service_kind, PA_SK_TRITON);
    assert_string_equal(o->model_signature_name, "serving_default");
    assert_int_equal(o->n_bls_composing, 0);
    assert_int_equal(o->verbose, 0);
    assert_false(o->async);
    assert_false(o->async_given);
    assert_false(o->sync_given);
    assert_int_equal(o->measurement_interval_ms, 5000);
    assert_int_equal(o->measurement_mode, PA_MEASURE_TIME_WINDOWS);
    assert_int_equal(o->measurement_request_count, 50);
    assert_int_equal(o->load_mode, PA_LOAD_CONCURRENCY);
    assert_int_equal(o->concurrency_start, 1);
    assert_int_equal(o->concurrency_end, 1);
    assert_int_equal(o->concurrency_step, 1);
    assert_false(o->concurrency_range_given);
    assert_int_equal(o->periodic_start, 1);
    assert_int_equal(o->periodic_end, 1);
    assert_int_equal(o->periodic_step, 1);
    assert_int_equal(o->request_period, 10);
    assert_true(o->rate_start == 1.0 && o->rate_end == 1.0 && o->rate_step == 1.0);
    assert_int_equal(o->request_distribution, PA_DIST_CONSTANT);
    assert_null(o->request_intervals_file);
    assert_int_equal(o->search_mode, PA_SEARCH_LINEAR);
    assert_int_equal(o->num_of_sequences, 4);
    assert_int_equal(o->latency_threshold_ms, 0);
    assert_int_equal(o->max_threads, 16);
    assert_false(o->max_threads_given);
    assert_true(fabs(o->stability_threshold - 0.1) < 1e-12);
    assert_int_equal(o->max_trials, 10);
    assert_int_equal(o->percentile, -1);
    assert_false(o->serial_sequences);
    assert_int_equal(o->batch_size, 1);
    assert_false(o->batch_size_given);
    assert_int_equal(o->input_kind, PA_INPUT_RANDOM);
    assert_int_equal(o->n_input_data_paths, 0);
    assert_int_equal(o->shared_memory, PA_SHM_NONE);
    assert_int_equal(o->output_shm_size, 102400);
    assert_int_equal(o->n_shapes, 0);
    assert_int_equal(o->sequence_length, 20);
    assert_false(o->sequence_length_given);
    assert_true(o->sequence_length_variation == 20.0);
    assert_int_equal(o->sequence_id_start, 1);
    assert_int_equal(o->sequence_id_range, UINT32_MAX);
    assert_int_equal(o->string_length, 128);
    assert_null(o->string_data);
    assert_int_equal(o->input_tensor_format, PA_FMT_BINARY);
    assert_int_equal(o->output_tensor_format, PA_FMT_BINARY);
    assert_string_equal(o->url, "localhost:8000");
    assert_false(o->url_given);
    assert_int_equal(o->protocol, PA_PROTO_HTTP);
    assert_false(o->ssl_grpc_use_ssl);
    assert_string_equal(o->ssl_grpc_root_certs, "");
    assert_string_equal(o->ssl_grpc_private_key, "");
    assert_string_equal(o->ssl_grpc_cert_chain, "");
    assert_int_equal(o->ssl_https_verify_peer, 1);
    assert_int_equal(o->ssl_https_verify_host, 2);
    assert_string_equal(o->ssl_https_ca_certs, "");
    assert_string_equal(o->ssl_https_client_cert, "");
    assert_string_equal(o->ssl_https_private_key, "");
    assert_int_equal(o->ssl_https_client_cert_type, PA_CERT_PEM);
    assert_int_equal(o->ssl_https_private_key_type, PA_CERT_PEM);
    assert_string_equal(o->triton_server_directory, "/opt/tritonserver");
    assert_string_equal(o->model_repository, "");
    assert_null(o->csv_file);
    assert_null(o->profile_export_file);
    assert_int_equal(o->n_headers, 0);
    assert_false(o->streaming);
    assert_int_equal(o->grpc_compression, PA_COMPRESS_NONE);
    assert_false(o->grpc_compression_given);
    assert_null(o->trace_file);
    assert_null(o->trace_level);
    assert_null(o->trace_rate);
    assert_false(o->trace_count_given);
    assert_false(o->log_frequency_given);
    assert_false(o->verbose_csv);
    assert_false(o->enable_mpi);
    assert_false(o->collect_metrics);
    assert_string_equal(o->metrics_url, "localhost:8002/metrics");
    assert_false(o->metrics_url_given);
    assert_int_equal(o->metrics_interval_ms, 1000);
    assert_false(o->metrics_interval_given);
    assert_false(o->deprecated_used);
    assert_string_equal(r.diag, "");
    run_done(&r);
}

/* ---- every option, long form "--x v" and "--x=v", short form "-x v" and "-xv" ---- */

typedef void check_fn(const struct pa_options *o);

struct opt_case {
    const char *name;     /* "max-threads" (long) or "p" (short) */
    const char *value;    /* NULL for flags; "@FILE" = an existing file, "@NEW" = a new path */
    const char *extra[6]; /* more arguments making the command valid */
    check_fn *check;
};

static void c_max_threads(const struct pa_options *o)
{
    assert_int_equal(o->max_threads, 7);
    assert_true(o->max_threads_given);
}
static void c_seq_len(const struct pa_options *o)
{
    assert_int_equal(o->sequence_length, 33);
    assert_true(o->sequence_length_given);
}
static void c_percentile(const struct pa_options *o) { assert_int_equal(o->percentile, 95); }
static void c_data_dir(const struct pa_options *o)
{
    assert_int_equal(o->n_input_data_paths, 1);
    assert_string_equal(o->input_data_paths[0], "/no/such/dir");
    assert_int_equal(o->input_kind, PA_INPUT_FILES);
}
static void c_shape(const struct pa_options *o)
{
    assert_int_equal(o->n_shapes, 1);
    assert_string_equal(o->shapes[0].name, "in:put");
    assert_int_equal(o->shapes[0].rank, 3);
    assert_int_equal(o->shapes[0].dims[0], 1);
    assert_int_equal(o->shapes[0].dims[1], 2);
    assert_int_equal(o->shapes[0].dims[2], 3);
}
static void c_interval(const struct pa_options *o)
{
    assert_int_equal(o->measurement_interval_ms, 750);
}
static void c_conc(const struct pa_options *o)
{
    assert_int_equal(o->concurrency_start, 2);
    assert_int_equal(o->concurrency_end, 8);
    assert_int_equal(o->concurrency_step, 3);
    assert_true(o->concurrency_range_given);
    assert_int_equal(o->load_mode, PA_LOAD_CONCURRENCY);
}
static void c_latency(const struct pa_options *o) { assert_int_equal(o->latency_threshold_ms, 120); }
static void c_stability(const struct pa_options *o)
{
    assert_true(fabs(o->stability_threshold - 0.25) < 1e-12);
}
static void c_trials(const struct pa_options *o) { assert_int_equal(o->max_trials, 4); }
static void c_input_zero(const struct pa_options *o)
{
    assert_int_equal(o->input_kind, PA_INPUT_ZERO);
    assert_int_equal(o->n_input_data_paths, 0);
}
static void c_input_file(const struct pa_options *o)
{
    assert_int_equal(o->input_kind, PA_INPUT_FILES);
    assert_int_equal(o->n_input_data_paths, 1);
    assert_string_equal(o->input_data_paths[0], existing_file);
}
static void c_string_length(const struct pa_options *o) { assert_int_equal(o->string_length, 9); }
static void c_string_data(const struct pa_options *o) { assert_string_equal(o->string_data, "abc"); }
static void c_async(const struct pa_options *o)
{
    assert_true(o->async);
    assert_true(o->async_given);
}
static void c_sync(const struct pa_options *o)
{
    assert_true(o->sync_given);
    assert_false(o->async);
}
static void c_rate(const struct pa_options *o)
{
    assert_true(o->rate_start == 10.5 && o->rate_end == 20.0 && o->rate_step == 2.5);
    assert_int_equal(o->load_mode, PA_LOAD_REQUEST_RATE);
    assert_int_equal(o->max_threads, 4);
}
static void c_num_seq(const struct pa_options *o) { assert_int_equal(o->num_of_sequences, 6); }
static void c_binary(const struct pa_options *o) { assert_int_equal(o->search_mode, PA_SEARCH_BINARY); }
static void c_poisson(const struct pa_options *o)
{
    assert_int_equal(o->request_distribution, PA_DIST_POISSON);
}
static void c_intervals(const struct pa_options *o)
{
    assert_string_equal(o->request_intervals_file, existing_file);
    assert_int_equal(o->load_mode, PA_LOAD_CUSTOM_INTERVALS);
    assert_int_equal(o->search_mode, PA_SEARCH_NONE);
    assert_int_equal(o->max_threads, 4);
}
static void c_shm(const struct pa_options *o) { assert_int_equal(o->shared_memory, PA_SHM_SYSTEM); }
static void c_shm_size(const struct pa_options *o) { assert_int_equal(o->output_shm_size, 4096); }
static void c_service_kind(const struct pa_options *o)
{
    assert_int_equal(o->service_kind, PA_SK_TFSERVING);
    assert_string_equal(o->url, "localhost:8500");
    assert_int_equal(o->batch_size, 0);
}
static void c_signature(const struct pa_options *o)
{
    assert_string_equal(o->model_signature_name, "sig");
}
static void c_compression(const struct pa_options *o)
{
    assert_int_equal(o->grpc_compression, PA_COMPRESS_GZIP);
    assert_true(o->grpc_compression_given);
}
static void c_mmode(const struct pa_options *o)
{
    assert_int_equal(o->measurement_mode, PA_MEASURE_COUNT_WINDOWS);
}
static void c_mcount(const struct pa_options *o) { assert_int_equal(o->measurement_request_count, 77); }
static void c_server_dir(const struct pa_options *o)
{
    assert_string_equal(o->triton_server_directory, "/srv/triton");
    assert_int_equal(o->service_kind, PA_SK_TRITON_C_API);
    assert_int_equal(o->protocol, PA_PROTO_UNKNOWN);
}
static void c_model_repo(const struct pa_options *o)
{
    assert_string_equal(o->model_repository, "/models");
}
static void c_seq_id(const struct pa_options *o)
{
    assert_int_equal(o->sequence_id_start, 5);
    assert_int_equal(o->sequence_id_range, 95);
}
static void c_use_ssl(const struct pa_options *o) { assert_true(o->ssl_grpc_use_ssl); }
static void c_root(const struct pa_options *o)
{
    assert_string_equal(o->ssl_grpc_root_certs, existing_file);
}
static void c_gkey(const struct pa_options *o)
{
    assert_string_equal(o->ssl_grpc_private_key, existing_file);
}
static void c_chain(const struct pa_options *o)
{
    assert_string_equal(o->ssl_grpc_cert_chain, existing_file);
}
static void c_peer(const struct pa_options *o) { assert_int_equal(o->ssl_https_verify_peer, 0); }
static void c_host(const struct pa_options *o) { assert_int_equal(o->ssl_https_verify_host, 1); }
static void c_ca(const struct pa_options *o)
{
    assert_string_equal(o->ssl_https_ca_certs, existing_file);
}
static void c_ccert(const struct pa_options *o)
{
    assert_string_equal(o->ssl_https_client_cert, existing_file);
}
static void c_ccert_type(const struct pa_options *o)
{
    assert_int_equal(o->ssl_https_client_cert_type, PA_CERT_DER);
}
static void c_hkey(const struct pa_options *o)
{
    assert_string_equal(o->ssl_https_private_key, existing_file);
}
static void c_hkey_type(const struct pa_options *o)
{
    assert_int_equal(o->ssl_https_private_key_type, PA_CERT_DER);
}
static void c_verbose_csv(const struct pa_options *o) { assert_true(o->verbose_csv); }
static void c_mpi(const struct pa_options *o) { assert_true(o->enable_mpi); }
static void c_trace_file(const struct pa_options *o) { assert_string_equal(o->trace_file, "t.log"); }
static void c_trace_level(const struct pa_options *o)
{
    assert_string_equal(o->trace_level, "TIMESTAMPS");
}
static void c_trace_rate(const struct pa_options *o) { assert_string_equal(o->trace_rate, "500"); }
static void c_trace_count(const struct pa_options *o)
{
    assert_int_equal(o->trace_count, 12);
    assert_true(o->trace_count_given);
}
static void c_log_freq(const struct pa_options *o)
{
    assert_int_equal(o->log_frequency, 3);
    assert_true(o->log_frequency_given);
}
static void c_collect(const struct pa_options *o)
{
    assert_true(o->collect_metrics);
    assert_string_equal(o->metrics_url, "localhost:8002/metrics");
}
static void c_metrics_url(const struct pa_options *o)
{
    assert_string_equal(o->metrics_url, "h:9/m");
    assert_true(o->metrics_url_given);
}
static void c_metrics_interval(const struct pa_options *o)
{
    assert_int_equal(o->metrics_interval_ms, 250);
    assert_true(o->metrics_interval_given);
}
static void c_variation(const struct pa_options *o)
{
    assert_true(o->sequence_length_variation == 7.5);
}
static void c_bls(const struct pa_options *o)
{
    assert_int_equal(o->n_bls_composing, 2);
    assert_string_equal(o->bls_composing[0].name, "a");
    assert_string_equal(o->bls_composing[0].version, "3");
    assert_string_equal(o->bls_composing[1].name, "b");
    assert_string_equal(o->bls_composing[1].version, "");
}
static void c_req_param(const struct pa_options *o)
{
    assert_int_equal(o->n_request_params, 1);
    assert_string_equal(o->request_params[0].name, "max_tokens");
    assert_string_equal(o->request_params[0].value, "256");
    assert_string_equal(o->request_params[0].type_text, "int");
    assert_int_equal(o->request_params[0].type, PA_PARAM_INT);
}
static void c_periodic(const struct pa_options *o)
{
    assert_int_equal(o->periodic_start, 2);
    assert_int_equal(o->periodic_end, 10);
    assert_int_equal(o->periodic_step, 4);
    assert_int_equal(o->load_mode, PA_LOAD_PERIODIC_CONCURRENCY);
    assert_int_equal(o->max_threads, 10); /* max(4, end) */
}
static void c_period(const struct pa_options *o) { assert_int_equal(o->request_period, 3); }
static void c_in_fmt(const struct pa_options *o)
{
    assert_int_equal(o->input_tensor_format, PA_FMT_JSON);
}
static void c_out_fmt(const struct pa_options *o)
{
    assert_int_equal(o->output_tensor_format, PA_FMT_JSON);
}
static void c_profile(const struct pa_options *o)
{
    assert_string_equal(o->profile_export_file, missing_path);
}
static void c_streaming(const struct pa_options *o) { assert_true(o->streaming); }
static void c_serial(const struct pa_options *o) { assert_true(o->serial_sequences); }
static void c_model(const struct pa_options *o) { assert_string_equal(o->model_name, "other"); }
static void c_version_x(const struct pa_options *o) { assert_string_equal(o->model_version, "3"); }
static void c_url(const struct pa_options *o)
{
    assert_string_equal(o->url, "h:1234");
    assert_true(o->url_given);
}
static void c_proto(const struct pa_options *o)
{
    assert_int_equal(o->protocol, PA_PROTO_GRPC);
    assert_string_equal(o->url, "localhost:8001");
}
static void c_batch(const struct pa_options *o)
{
    assert_int_equal(o->batch_size, 4);
    assert_true(o->batch_size_given);
}
static void c_csv(const struct pa_options *o) { assert_string_equal(o->csv_file, "out.csv"); }
static void c_header(const struct pa_options *o)
{
    assert_int_equal(o->n_headers, 1);
    assert_string_equal(o->headers[0].name, "X-A");
    assert_string_equal(o->headers[0].value, " b:c");
}
static void c_t(const struct pa_options *o)
{
    assert_true(o->deprecated_used);
    assert_int_equal(o->concurrency_start, 5);
    assert_int_equal(o->concurrency_end, 1);
}
static void c_c(const struct pa_options *o)
{
    assert_true(o->deprecated_used);
    assert_int_equal(o->concurrency_start, 1);
    assert_int_equal(o->concurrency_end, 1); /* -c only counts with -d */
}
static void c_verbose(const struct pa_options *o) { assert_int_equal(o->verbose, 1); }
static void c_d(const struct pa_options *o)
{
    assert_true(o->deprecated_used);
    assert_int_equal(o->concurrency_end, 0); /* -c absent */
}
static void c_z(const struct pa_options *o) { assert_int_equal(o->input_kind, PA_INPUT_ZERO); }

static const struct opt_case opt_cases[] = {
    {"streaming", NULL, {"-i", "grpc"}, c_streaming},
    {"max-threads", "7", {0}, c_max_threads},
    {"sequence-length", "33", {0}, c_seq_len},
    {"percentile", "95", {0}, c_percentile},
    {"data-directory", "/no/such/dir", {0}, c_data_dir},
    {"shape", "in:put:1,2,3", {0}, c_shape},
    {"measurement-interval", "750", {0}, c_interval},
    {"p", "750", {0}, c_interval},
    {"concurrency-range", "2:8:3", {0}, c_conc},
    {"latency-threshold", "120", {0}, c_latency},
    {"l", "120", {0}, c_latency},
    {"stability-percentage", "25", {0}, c_stability},
    {"s", "25", {0}, c_stability},
    {"max-trials", "4", {0}, c_trials},
    {"r", "4", {0}, c_trials},
    {"input-data", "zero", {0}, c_input_zero},
    {"input-data", "@FILE", {0}, c_input_file},
    {"string-length", "9", {0}, c_string_length},
    {"string-data", "abc", {0}, c_string_data},
    {"async", NULL, {0}, c_async},
    {"a", NULL, {0}, c_async},
    {"sync", NULL, {0}, c_sync},
    {"request-rate-range", "10.5:20:2.5", {0}, c_rate},
    {"num-of-sequences", "6", {0}, c_num_seq},
    {"binary-search", NULL, {"-l", "10", "--concurrency-range", "1:4"}, c_binary},
    {"request-distribution", "poisson", {0}, c_poisson},
    {"request-intervals", "@FILE", {0}, c_intervals},
    {"shared-memory", "system", {0}, c_shm},
    {"output-shared-memory-size", "4096", {0}, c_shm_size},
    {"service-kind", "tfserving", {"-i", "grpc"}, c_service_kind},
    {"model-signature-name", "sig", {0}, c_signature},
    {"grpc-compression-algorithm", "gzip", {"-i", "gRPC"}, c_compression},
    {"measurement-mode", "count_windows", {0}, c_mmode},
    {"measurement-request-count", "77", {0}, c_mcount},
    {"triton-server-directory", "/srv/triton",
     {"--service-kind", "triton_c_api", "--model-repository", "/m"}, c_server_dir},
    {"model-repository", "/models", {0}, c_model_repo},
    {"sequence-id-range", "5:100", {0}, c_seq_id},
    {"ssl-grpc-use-ssl", NULL, {0}, c_use_ssl},
    {"ssl-grpc-root-certifications-file", "@FILE", {0}, c_root},
    {"ssl-grpc-private-key-file", "@FILE", {0}, c_gkey},
    {"ssl-grpc-certificate-chain-file", "@FILE", {0}, c_chain},
    {"ssl-https-verify-peer", "0", {0}, c_peer},
    {"ssl-https-verify-host", "1", {0}, c_host},
    {"ssl-https-ca-certificates-file", "@FILE", {0}, c_ca},
    {"ssl-https-client-certificate-file", "@FILE", {0}, c_ccert},
    {"ssl-https-client-certificate-type", "DER", {0}, c_ccert_type},
    {"ssl-https-private-key-file", "@FILE", {0}, c_hkey},
    {"ssl-https-private-key-type", "DER", {0}, c_hkey_type},
    {"verbose-csv", NULL, {0}, c_verbose_csv},
    {"enable-mpi", NULL, {0}, c_mpi},
    {"trace-file", "t.log", {0}, c_trace_file},
    {"trace-level", "TIMESTAMPS", {0}, c_trace_level},
    {"trace-rate", "500", {0}, c_trace_rate},
    {"trace-count", "12", {0}, c_trace_count},
    {"log-frequency", "3", {0}, c_log_freq},
    {"collect-metrics", NULL, {0}, c_collect},
    {"metrics-url", "h:9/m", {"--collect-metrics"}, c_metrics_url},
    {"metrics-interval", "250", {"--collect-metrics"}, c_metrics_interval},
    {"serial-sequences", NULL, {0}, c_serial},
    {"sequence-length-variation", "7.5", {0}, c_variation},
    {"bls-composing-models", " a : 3 , b", {0}, c_bls},
    {"request-parameter", "MAX_Tokens:256:INT", {"-i", "grpc"}, c_req_param},
    {"periodic-concurrency-range", "2:10:4",
     {"-i", "grpc", "--streaming", "--profile-export-file", "@NEW"}, c_periodic},
    {"request-period", "3", {0}, c_period},
    {"input-tensor-format", "JSON", {0}, c_in_fmt},
    {"output-tensor-format", "json", {0}, c_out_fmt},
    {"profile-export-file", "@NEW", {0}, c_profile},
    {"m", "other", {0}, c_model},
    {"x", "3", {0}, c_version_x},
    {"u", "h:1234", {0}, c_url},
    {"i", "GRPC", {0}, c_proto},
    {"b", "4", {0}, c_batch},
    {"f", "out.csv", {0}, c_csv},
    {"H", "X-A: b:c", {0}, c_header},
    {"t", "5", {0}, c_t},
    {"c", "9", {0}, c_c},
    {"v", NULL, {0}, c_verbose},
    {"d", NULL, {"-l", "5"}, c_d},
    {"z", NULL, {0}, c_z},
};

static const char *subst(const char *v)
{
    if (v && strcmp(v, "@FILE") == 0)
        return existing_file;
    if (v && strcmp(v, "@NEW") == 0)
        return missing_path;
    return v;
}

/* Runs one spelling: argv = -m simple <spelled option...> <extra...>. */
static void run_case(const struct opt_case *c, int form)
{
    const char *args[16];
    char joined[256];
    size_t n = 0;
    bool is_long = strlen(c->name) > 1;
    const char *value = subst(c->value);

    args[n++] = "-m";
    args[n++] = "simple";
    if (c->check == c_model) /* -m is the option under test: drop the default */
        n = 0;
    if (is_long) {
        if (value && form == 1) {
            snprintf(joined, sizeof(joined), "--%s=%s", c->name, value);
            args[n++] = joined;
        } else {
            snprintf(joined, sizeof(joined), "--%s", c->name);
            args[n++] = joined;
            if (value)
                args[n++] = value;
        }
    } else {
        if (value && form == 1) {
            snprintf(joined, sizeof(joined), "-%s%s", c->name, value);
            args[n++] = joined;
        } else {
            snprintf(joined, sizeof(joined), "-%s", c->name);
            args[n++] = joined;
            if (value)
                args[n++] = value;
        }
    }
    for (size_t i = 0; i < 6 && c->extra[i]; i++)
        args[n++] = subst(c->extra[i]);
    args[n] = NULL;

    struct run r;
    run_argv(&r, args);
    if (r.rc != PA_OK)
        fail_msg("%s (form %d): unexpected error: %s %s", c->name, form, r.err.msg, r.diag);
    c->check(&r.o);
    run_done(&r);
}

static void test_every_option(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(opt_cases) / sizeof(opt_cases[0]); i++) {
        run_case(&opt_cases[i], 0);
        if (opt_cases[i].value)
            run_case(&opt_cases[i], 1);
    }
}

/* ---- GNU getopt behaviour ---- */

static void test_prefixes(void **state)
{
    struct run r;
    (void)state;

    OK(&r, "-m", "x", "--concurrency", "4"); /* unambiguous prefix */
    assert_int_equal(r.o.concurrency_start, 4);
    assert_true(r.o.concurrency_range_given);
    run_done(&r);

    OK(&r, "-m", "x", "--measurement-i=300", "--lat", "9");
    assert_int_equal(r.o.measurement_interval_ms, 300);
    assert_int_equal(r.o.latency_threshold_ms, 9);
    run_done(&r);

    /* An exact name wins over the longer names it prefixes. */
    OK(&r, "-m", "x", "--sequence-length", "5");
    assert_int_equal(r.o.sequence_length, 5);
    assert_true(r.o.sequence_length_variation == 20.0);
    run_done(&r);
    OK(&r, "-m", "x", "--sync");
    assert_true(r.o.sync_given);
    run_done(&r);

    EXPECT_DIAG("perf_analyzer: option '--seq' is ambiguous; possibilities: "
                "'--sequence-length' '--sequence-id-range' '--sequence-length-variation'\n",
                "-m", "x", "--seq", "3");
    EXPECT_DIAG("perf_analyzer: option '--measurement=5' is ambiguous; possibilities: "
                "'--measurement-interval' '--measurement-mode' '--measurement-request-count'\n",
                "--measurement=5");
}

static void test_getopt_diagnostics(void **state)
{
    (void)state;
    EXPECT_DIAG("perf_analyzer: unrecognized option '--help'\n", "--help");
    EXPECT_DIAG("perf_analyzer: unrecognized option '--foo=bar'\n", "-m", "x", "--foo=bar");
    EXPECT_DIAG("perf_analyzer: invalid option -- 'h'\n", "-h");
    EXPECT_DIAG("perf_analyzer: invalid option -- '?'\n", "-?");
    EXPECT_DIAG("perf_analyzer: invalid option -- 'h'\n", "-m", "x", "-vvh");
    EXPECT_DIAG("perf_analyzer: invalid option -- ':'\n", "-:");
    EXPECT_DIAG("perf_analyzer: option requires an argument -- 'm'\n", "-m");
    EXPECT_DIAG("perf_analyzer: option '--shape' requires an argument\n", "-m", "x", "--shape");
    EXPECT_DIAG("perf_analyzer: option '--sync' doesn't allow an argument\n", "--sync=1");
    EXPECT_DIAG("perf_analyzer: option '--ssl-grpc-use-ssl' doesn't allow an argument\n",
                "--ssl-grpc-use=true");
    /* The first bad option wins; later ones are never looked at. */
    EXPECT_DIAG("perf_analyzer: unrecognized option '--a1'\n", "--a1", "--a2", "-h");
    /* A usage error from an earlier option comes before a later getopt error. */
    EXPECT_ERR("Failed to parse -b (batch size). The value must be > 0.", "-b", "0", "--foo");
}

static void test_argument_forms(void **state)
{
    struct run r;
    (void)state;

    /* Clustered flags, attached and separate short values. */
    OK(&r, "-vvam", "x", "-b4", "-p", "100");
    assert_int_equal(r.o.verbose, 2);
    assert_true(r.o.async);
    assert_string_equal(r.o.model_name, "x");
    assert_int_equal(r.o.batch_size, 4);
    assert_int_equal(r.o.measurement_interval_ms, 100);
    run_done(&r);

    /* A flag cluster ending in a value option takes the rest or the next word. */
    OK(&r, "-vmx");
    assert_string_equal(r.o.model_name, "x");
    run_done(&r);

    /* Words that are not options are ignored wherever they are; "-" too. */
    OK(&r, "profile", "-m", "x", "extra", "-", "-b", "2", "more");
    assert_string_equal(r.o.model_name, "x");
    assert_int_equal(r.o.batch_size, 2);
    run_done(&r);

    /* A value is taken even when it looks like an option. */
    OK(&r, "-m", "--foo");
    assert_string_equal(r.o.model_name, "--foo");
    run_done(&r);
    OK(&r, "-m", "x", "--string-data", "-b");
    assert_string_equal(r.o.string_data, "-b");
    assert_int_equal(r.o.batch_size, 1);
    run_done(&r);

    /* "--" ends the options. */
    EXPECT_ERR("Failed to parse -m (model name). The value must be specified.", "--", "-m", "x");

    /* Empty value given with '='. */
    OK(&r, "-m", "x", "--string-data=");
    assert_string_equal(r.o.string_data, "");
    run_done(&r);

    /* -v a third time changes nothing. */
    OK(&r, "-m", "x", "-v", "-v", "-v");
    assert_int_equal(r.o.verbose, 2);
    run_done(&r);
}

/* ---- C++-style number conversion ---- */

static void test_numbers(void **state)
{
    struct run r;
    (void)state;

    OK(&r, "-m", "x", "-p", "5000ms", "--concurrency-range", "100,400,10", "-b", " 3x");
    assert_int_equal(r.o.measurement_interval_ms, 5000);
    assert_int_equal(r.o.concurrency_start, 100);
    assert_int_equal(r.o.concurrency_end, 1);
    assert_int_equal(r.o.batch_size, 3);
    run_done(&r);

    OK(&r, "-m", "x", "--request-rate-range", "2.5e1rps", "-s", "0x10");
    assert_true(r.o.rate_start == 25.0);
    assert_true(fabs(r.o.stability_threshold - 0.16) < 1e-12);
    run_done(&r);

    /* Unsigned parts wrap on a leading minus, as std::stoull does. */
    OK(&r, "-m", "x", "--concurrency-range", "1:-1");
    assert_int_equal(r.o.concurrency_end, UINT64_MAX);
    run_done(&r);

    /* atoi-style options never fail: junk is 0. */
    OK(&r, "-m", "x", "-t", "4x", "-c", "junk", "-d", "-l", "1", "--ssl-https-verify-peer", "no");
    assert_int_equal(r.o.concurrency_start, 4);
    assert_int_equal(r.o.concurrency_end, 0);
    assert_int_equal(r.o.ssl_https_verify_peer, 0);
    run_done(&r);
    EXPECT_ERR("Failed to parse --percentile. The value must be -1 for not reporting or in "
               "range (0, 100).",
               "-m", "x", "--percentile", "abc");

    EXPECT_ERR("Failed to parse -p. Invalid value provided: abc", "-m", "x", "-p", "abc");
    EXPECT_ERR("Failed to parse -p. Invalid value provided: abc", "-m", "x", "-pabc");
    EXPECT_ERR("Failed to parse --measurement-interval. Invalid value provided: abc", "-m", "x",
               "--measurement-interval", "abc");
    /* A prefix is reported under the option's full name. */
    EXPECT_ERR("Failed to parse --measurement-interval. Invalid value provided: ms", "-m", "x",
               "--measurement-int=ms");
    EXPECT_ERR("Failed to parse -b. Invalid value provided: ", "-m", "x", "-b", "");
    EXPECT_ERR("Failed to parse --concurrency-range. Invalid value provided: 4:", "-m", "x",
               "--concurrency-range", "4:");
    EXPECT_ERR("Failed to parse --concurrency-range. Invalid value provided: :4", "-m", "x",
               "--concurrency-range", ":4");
    EXPECT_ERR("Failed to parse --request-rate-range. Invalid value provided: 1:x", "-m", "x",
               "--request-rate-range", "1:x");
    EXPECT_ERR("Failed to parse --shape. Invalid value provided: in:1,x", "-m", "x", "--shape",
               "in:1,x");
    EXPECT_ERR("Failed to parse --shape. Invalid value provided: in:", "-m", "x", "--shape",
               "in:");
    EXPECT_ERR("Failed to parse --sequence-id-range. Invalid value provided: a:4", "-m", "x",
               "--sequence-id-range", "a:4");
    EXPECT_ERR("Failed to parse --sequence-length-variation. Invalid value provided: x", "-m",
               "x", "--sequence-length-variation", "x");
    EXPECT_ERR("Failed to parse --trace-count. Invalid value provided: many", "-m", "x",
               "--trace-count", "many");

    /* Overflow aborted the original; we report an invalid value. */
    EXPECT_ERR("Failed to parse -b. Invalid value provided: 99999999999999999999", "-m", "x",
               "-b", "99999999999999999999");
    EXPECT_ERR("Failed to parse --concurrency-range. Invalid value provided: "
               "1:99999999999999999999",
               "-m", "x", "--concurrency-range", "1:99999999999999999999");
    EXPECT_ERR("Failed to parse --request-rate-range. Invalid value provided: 1e999", "-m", "x",
               "--request-rate-range", "1e999");
    EXPECT_ERR("Failed to parse --shape. Invalid value provided: in:99999999999999999999", "-m",
               "x", "--shape", "in:99999999999999999999");
}

/* ---- repeatable options ---- */

static void test_repeatable(void **state)
{
    struct run r;
    (void)state;

    OK(&r, "-m", "x", "-H", "b:2", "-H", "a:1", "-H", "b:3", "-H", "c:");
    assert_int_equal(r.o.n_headers, 3);
    assert_string_equal(r.o.headers[0].name, "a");
    assert_string_equal(r.o.headers[0].value, "1");
    assert_string_equal(r.o.headers[1].name, "b");
    assert_string_equal(r.o.headers[1].value, "3");
    assert_string_equal(r.o.headers[2].name, "c");
    assert_string_equal(r.o.headers[2].value, "");
    run_done(&r);

    OK(&r, "-m", "x", "--shape", "b:4", "--shape", "a:1,2", "--shape", "b:5,6");
    assert_int_equal(r.o.n_shapes, 2);
    assert_string_equal(r.o.shapes[0].name, "a");
    assert_string_equal(r.o.shapes[1].name, "b");
    assert_int_equal(r.o.shapes[1].rank, 2);
    assert_int_equal(r.o.shapes[1].dims[0], 5);
    run_done(&r);

    OK(&r, "-m", "x", "-i", "grpc", "--request-parameter", "b:1:bool", "--request-parameter",
       "A:Hello:STRING", "--request-parameter", "b:2:int", "--request-parameter", "c:1.5:float");
    assert_int_equal(r.o.n_request_params, 3);
    assert_string_equal(r.o.request_params[0].name, "a");
    assert_string_equal(r.o.request_params[0].value, "hello");
    assert_int_equal(r.o.request_params[0].type, PA_PARAM_STRING);
    assert_string_equal(r.o.request_params[1].value, "2");
    assert_int_equal(r.o.request_params[1].type, PA_PARAM_INT);
    assert_int_equal(r.o.request_params[2].type, PA_PARAM_OTHER);
    assert_string_equal(r.o.request_params[2].type_text, "float");
    run_done(&r);

    /* --input-data paths accumulate in order; "random" is a no-op. */
    OK(&r, "-m", "x", "--input-data", existing_file, "--input-data", "random",
       "--data-directory", "/d", "--input-data", tmpdir);
    assert_int_equal(r.o.n_input_data_paths, 3);
    assert_string_equal(r.o.input_data_paths[0], existing_file);
    assert_string_equal(r.o.input_data_paths[1], "/d");
    assert_string_equal(r.o.input_data_paths[2], tmpdir);
    run_done(&r);

    /* Only the last --trace-level counts; later range parts keep earlier values. */
    OK(&r, "-m", "x", "--trace-level", "OFF", "--trace-level", "TENSORS", "--concurrency-range",
       "2:9:3", "--concurrency-range", "4");
    assert_string_equal(r.o.trace_level, "TENSORS");
    assert_int_equal(r.o.concurrency_start, 4);
    assert_int_equal(r.o.concurrency_end, 9);
    assert_int_equal(r.o.concurrency_step, 3);
    run_done(&r);

    /* A trailing comma gives an empty composing model name. */
    OK(&r, "-m", "x", "--bls-composing-models", "a,");
    assert_int_equal(r.o.n_bls_composing, 2);
    assert_string_equal(r.o.bls_composing[1].name, "");
    run_done(&r);
}

static void test_input_data_file_named_zero(void **state)
{
    struct run r;
    char cwd[512], zero[160];
    (void)state;

    snprintf(zero, sizeof(zero), "%s/zero", tmpdir);
    FILE *f = fopen(zero, "w");
    assert_non_null(f);
    fclose(f);
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(tmpdir), 0);
    OK(&r, "-m", "x", "--input-data", "zero");
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(r.o.input_kind, PA_INPUT_FILES);
    assert_string_equal(r.o.input_data_paths[0], "zero");
    run_done(&r);
    unlink(zero);
}

/* ---- deprecated options ---- */

static void test_deprecated(void **state)
{
    struct run r;
    (void)state;

    OK(&r, "-m", "x", "-t", "8");
    assert_int_equal(r.o.concurrency_start, 8);
    assert_int_equal(r.o.concurrency_end, 1);
    assert_int_equal(r.o.load_mode, PA_LOAD_CONCURRENCY);
    assert_true(r.o.deprecated_used);
    run_done(&r);

    OK(&r, "-m", "x", "-t", "2", "-c", "10", "-d");
    assert_int_equal(r.o.concurrency_start, 2);
    assert_int_equal(r.o.concurrency_end, 10);
    run_done(&r);

    /* -t 0 passes the "start > 0" check, which runs before the mapping. */
    OK(&r, "-m", "x", "-t", "0");
    assert_int_equal(r.o.concurrency_start, 0);
    run_done(&r);
    EXPECT_ERR("The start of the search range must be > 0", "-m", "x", "-t", "-1");

    /* -d without -c gives end 0, which needs a latency limit. */
    EXPECT_ERR("The end of the search range and the latency limit can not be both 0 (or 0.0) "
               "simultaneously",
               "-m", "x", "-d");

    /* Deprecated options select concurrency mode even with a rate range (then rejected). */
    EXPECT_ERR("Cannot use deprecated options with --concurrency-range.", "-m", "x", "-c", "3",
               "--concurrency-range", "2");
    EXPECT_ERR("Cannot use concurrency options with --request-rate-range.", "-m", "x", "-d",
               "--request-rate-range", "2");
    EXPECT_ERR("Cannot use deprecated options with --request-intervals.", "-m", "x", "-t", "2",
               "--request-intervals", existing_file);

    /* -z is --input-data zero; --data-directory takes any path unchecked. */
    OK(&r, "-m", "x", "-z");
    assert_int_equal(r.o.input_kind, PA_INPUT_ZERO);
    run_done(&r);
    EXPECT_ERR("The -z flag cannot be set when --data-directory is provided.", "-m", "x", "-z",
               "--data-directory", "/nowhere");
    EXPECT_ERR("The -z flag cannot be set when --data-directory is provided.", "-m", "x",
               "--input-data", "zero", "--input-data", existing_file);
}

/* ---- derived defaults (spec 01 §4, §3 item 27, 28, 32) ---- */

static void test_derived_defaults(void **state)
{
    struct run r;
    (void)state;

    OK(&r, "-m", "x", "-i", "grpc");
    assert_string_equal(r.o.url, "localhost:8001");
    run_done(&r);
    OK(&r, "-m", "x", "-i", "grpc", "-u", "host:1");
    assert_string_equal(r.o.url, "host:1");
    run_done(&r);
    OK(&r, "-m", "x", "--service-kind", "torchserve", "--input-data", existing_file);
    assert_string_equal(r.o.url, "localhost:8000");
    assert_int_equal(r.o.protocol, PA_PROTO_HTTP);
    run_done(&r);
    OK(&r, "-m", "x", "--service-kind", "tfserving", "-i", "grpc", "-b", "2");
    assert_string_equal(r.o.url, "localhost:8500");
    assert_int_equal(r.o.batch_size, 2); /* -b given: kept */
    run_done(&r);
    OK(&r, "-m", "x", "--service-kind", "triton_c_api", "--model-repository", "/m", "-i", "grpc");
    assert_int_equal(r.o.protocol, PA_PROTO_UNKNOWN);
    run_done(&r);

    /* Max threads: 16 when targeting concurrency, else 4; explicit value kept. */
    OK(&r, "-m", "x", "--request-rate-range", "5");
    assert_int_equal(r.o.max_threads, 4);
    run_done(&r);
    OK(&r, "-m", "x", "--max-threads", "3");
    assert_int_equal(r.o.max_threads, 3);
    run_done(&r);

    /* --binary-search is ignored with --request-intervals. */
    OK(&r, "-m", "x", "--request-intervals", existing_file, "--binary-search", "-l", "5");
    assert_int_equal(r.o.search_mode, PA_SEARCH_NONE);
    run_done(&r);

    /* Metrics URL: text before the first ':' of -u, the original's quirk. */
    OK(&r, "-m", "x", "--collect-metrics", "-u", "myhost:8000");
    assert_string_equal(r.o.metrics_url, "myhost:8002/metrics");
    run_done(&r);
    OK(&r, "-m", "x", "--collect-metrics", "-u", "http://h:8000");
    assert_string_equal(r.o.metrics_url, "http:8002/metrics");
    run_done(&r);
    OK(&r, "-m", "x", "--collect-metrics", "-u", "nocolon");
    assert_string_equal(r.o.metrics_url, "localhost:8002/metrics");
    run_done(&r);
    OK(&r, "-m", "x", "--collect-metrics", "-u", "a:1", "--metrics-url", "m:2/x");
    assert_string_equal(r.o.metrics_url, "m:2/x");
    run_done(&r);
}

static void test_warnings(void **state)
{
    struct run r;
    (void)state;

    OK(&r, "-m", "x", "--sequence-length", "0");
    assert_int_equal(r.o.sequence_length, 20);
    assert_true(r.o.sequence_length_given);
    assert_string_equal(r.diag, "WARNING: The sequence length must be > 0. Perf Analyzer will "
                                "use default value if it is measuring on sequence model.\n");
    run_done(&r);

    OK(&r, "-m", "x", "--sequence-id-range", "0");
    assert_int_equal(r.o.sequence_id_start, 1);
    assert_string_equal(r.diag, "WARNING: using an invalid start sequence id. Perf Analyzer will "
                                "use default value if it is measuring on sequence model.\n");
    run_done(&r);

    OK(&r, "-m", "x", "-i", "grpc", "--streaming", "--profile-export-file", missing_path,
       "--periodic-concurrency-range", "0:0");
    assert_int_equal(r.o.periodic_end, 4);
    assert_string_equal(r.diag, "WARNING: The maximum attainable concurrency will be limited by "
                                "max_threads specification.\n");
    run_done(&r);

    OK(&r, "-m", "x", "-i", "grpc", "--streaming", "--profile-export-file", missing_path,
       "--periodic-concurrency-range", "1:3", "--max-threads", "8");
    assert_int_equal(r.o.max_threads, 8);
    assert_string_equal(r.diag, "WARNING: Overriding max_threads specification to ensure "
                                "requested concurrency range.\n");
    run_done(&r);
}

/* ---- --version ---- */

static void test_version(void **state)
{
    struct run r;
    (void)state;

    RUN(&r, "--version");
    assert_int_equal(r.rc, PA_OK);
    assert_true(r.version);
    run_done(&r);

    /* Met at once: later errors and the missing -m do not matter. */
    RUN(&r, "--version", "-b", "0", "--foo");
    assert_int_equal(r.rc, PA_OK);
    assert_true(r.version);
    run_done(&r);

    RUN(&r, "-m", "x", "--vers");
    assert_true(r.version);
    run_done(&r);

    /* An earlier bad option wins. */
    EXPECT_ERR("Failed to parse -b (batch size). The value must be > 0.", "-b", "0",
               "--version");
}

/* ---- usage text ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    data[n] = '\0';
    *len = n;
    return data;
}

static void test_usage_matches_original(void **state)
{
    size_t golden_len, ours_len;
    char *ours = NULL;
    (void)state;

    char *golden = slurp(PA_SHARED_DIR "/reference/golden/help_long/stderr.txt", &golden_len);
    assert_non_null(golden);
    /* The recorded run is "perf_analyzer --help": one getopt line, then the usage. */
    const char *usage = strchr(golden, '\n');
    assert_non_null(usage);
    usage++;

    FILE *out = open_memstream(&ours, &ours_len);
    assert_non_null(out);
    options_usage(out, "perf_analyzer");
    fclose(out);
    assert_int_equal(ours_len, strlen(usage));
    assert_string_equal(ours, usage);
    free(ours);

    /* argv[0] is printed as invoked. */
    out = open_memstream(&ours, &ours_len);
    options_usage(out, "/usr/local/bin/pa");
    fclose(out);
    assert_true(strncmp(ours, "Usage: /usr/local/bin/pa [options]\n==== SYNOPSIS ====\n",
                        strlen("Usage: /usr/local/bin/pa [options]\n==== SYNOPSIS ====\n")) == 0);
    free(ours);

    /* The whole stderr of the recorded --help run, rebuilt the way main.c does. */
    struct run r;
    RUN(&r, "--help");
    out = open_memstream(&ours, &ours_len);
    fputs(r.diag, out);
    options_usage(out, "perf_analyzer");
    fclose(out);
    assert_string_equal(ours, golden);
    free(ours);
    run_done(&r);
    free(golden);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_getopt_diagnostics),
        cmocka_unit_test(test_argument_forms),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_repeatable),
        cmocka_unit_test(test_input_data_file_named_zero),
        cmocka_unit_test(test_deprecated),
        cmocka_unit_test(test_derived_defaults),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_usage_matches_original),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
