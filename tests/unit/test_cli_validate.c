/*
 * Validation: every per-option message of spec 01-cli.md §2 word for word,
 * the cross-option checks of §3 one by one and in their order (for each
 * pair of neighbouring checks, a command line violating both must report
 * the earlier one), our deliberate fixes, and the model-dependent checks
 * and adjustments of §5 (options_apply_model).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/options.h"

#include "cli_run.h"

static char tmpdir[64];
static char existing_file[128];
static char missing_path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa_cli_validate_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(existing_file, sizeof(existing_file), "%s/file.txt", tmpdir);
    snprintf(missing_path, sizeof(missing_path), "%s/missing", tmpdir);
    FILE *f = fopen(existing_file, "w");
    if (!f)
        return -1;
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(existing_file);
    rmdir(tmpdir);
    return 0;
}

/* ---- §2: checks made while parsing ---- */

static void test_general_and_measurement_messages(void **state)
{
    (void)state;
    EXPECT_ERR("Failed to parse -m (model name). The value must be specified.", "-p", "500");
    EXPECT_ERR("Failed to parse --service-kind. Unsupported type provided: 'Triton'. The "
               "available options are 'triton', 'tfserving', 'torchserve', or 'triton_c_api'.",
               "-m", "x", "--service-kind", "Triton");
    EXPECT_ERR("Failed to parse --measurement-interval (-p). The value must be > 0 msec.", "-m",
               "x", "-p", "0");
    EXPECT_ERR("Failed to parse --measurement-interval (-p). The value must be > 0 msec.", "-m",
               "x", "--measurement-interval", "-5");
    EXPECT_ERR("Failed to parse --measurement-mode. Unsupported type provided: 'windows'. The "
               "available options are 'time_windows' or 'count_windows'.",
               "-m", "x", "--measurement-mode", "windows");
    EXPECT_ERR("Failed to parse --measurement-request-count. The value must be > 0.", "-m", "x",
               "--measurement-request-count", "0");
    EXPECT_ERR("Failed to parse --concurrency-range. The value does not match "
               "<start:end:step>.",
               "-m", "x", "--concurrency-range", "1:2:3:4");
    EXPECT_ERR("Failed to parse --periodic-concurrency-range. Both <start> and <end> values "
               "must be provided.",
               "-m", "x", "--periodic-concurrency-range", "5");
    EXPECT_ERR("Failed to parse --periodic-concurrency-range. The value does not match "
               "<start:end:step>.",
               "-m", "x", "--periodic-concurrency-range", "1:2:3:4");
    EXPECT_ERR("Failed to parse --periodic-concurrency-range. The <step> value must be > 0.",
               "-m", "x", "--periodic-concurrency-range", "1:5:0");
    EXPECT_ERR("Failed to parse --periodic-concurrency-range. The <start> must be <= <end>.",
               "-m", "x", "--periodic-concurrency-range", "5:1");
    EXPECT_ERR("Failed to parse --periodic-concurrency-range. The <step> value must be a factor "
               "of the range size (<end> - <start>).",
               "-m", "x", "--periodic-concurrency-range", "1:6:2");
    EXPECT_ERR("Failed to parse --request-period. The value must be > 0", "-m", "x",
               "--request-period", "0");
    EXPECT_ERR("Failed to parse --request-parameter. The value does not match "
               "<name:value:type>.",
               "-m", "x", "--request-parameter", "a:b");
    EXPECT_ERR("Failed to parse --request-parameter. The value does not match "
               "<name:value:type>.",
               "-m", "x", "--request-parameter", "a:b:c:d");
    EXPECT_ERR("Failed to parse --request-rate-range. The value does not match "
               "<start:end:step>.",
               "-m", "x", "--request-rate-range", "1:2:3:4");
    EXPECT_ERR("Failed to parse --request-distribution. Unsupported type provided: 'Poisson'. "
               "Choices are 'posson' or 'constant'.",
               "-m", "x", "--request-distribution", "Poisson");
    EXPECT_ERR("Failed to parse --request-intervals. The value must be a valid file path", "-m",
               "x", "--request-intervals", missing_path);
    EXPECT_ERR("Failed to parse --request-intervals. The value must be a valid file path", "-m",
               "x", "--request-intervals", tmpdir);
    EXPECT_ERR("Failed to parse --num-of-sequences. The value must be > 0.", "-m", "x",
               "--num-of-sequences", "0");
    EXPECT_ERR("Failed to parse --latency-threshold (-l). The value must be >= 0 msecs.", "-m",
               "x", "-l", "-1");
    EXPECT_ERR("Failed to parse --max-threads. The value must be > 0.", "-m", "x",
               "--max-threads", "0");
    EXPECT_ERR("Failed to parse --stability-percentage (-s). The value must be >= 0.0.", "-m",
               "x", "-s", "-0.5");
    EXPECT_ERR("Failed to parse --max-trials (-r). The value must be > 0.", "-m", "x", "-r", "0");
}

static void test_input_server_other_messages(void **state)
{
    (void)state;
    EXPECT_ERR("Failed to parse -b (batch size). The value must be > 0.", "-m", "x", "-b", "0");
    EXPECT_ERR("Failed to parse --input-data. Unsupported type provided: 'ones'. The available "
               "options are 'zero', 'random', path to a directory, or a json file.",
               "-m", "x", "--input-data", "ones");
    EXPECT_ERR("Failed to parse --shared-memory. Unsupported type provided: 'gpu'. The "
               "available options are 'system', 'cuda', or 'none'.",
               "-m", "x", "--shared-memory", "gpu");
    EXPECT_ERR("Failed to parse --output-shared-memory-size. The value must be >= 0.", "-m", "x",
               "--output-shared-memory-size", "-1");
    EXPECT_ERR("Failed to parse --shape. There must be a colon after input name.", "-m", "x",
               "--shape", "input");
    EXPECT_ERR("Failed to parse --shape. The dimensions of input tensor must be > 0.", "-m", "x",
               "--shape", "in:1,0");
    EXPECT_ERR("Failed to parse --shape. The dimensions of input tensor must be > 0.", "-m", "x",
               "--shape", "in:-1,x");
    EXPECT_ERR("Failed to parse --sequence-id-range. The value does not match <start:end>.",
               "-m", "x", "--sequence-id-range", "1:2:3");
    EXPECT_ERR("Failed to parse --sequence-id-range. The range values must be >= 0.", "-m", "x",
               "--sequence-id-range", "-1:5");
    EXPECT_ERR("Failed to parse --sequence-id-range. The 'end' value must be greater than "
               "'start' value.",
               "-m", "x", "--sequence-id-range", "5:3");
    EXPECT_ERR("Failed to parse --string-length. The value must be > 0", "-m", "x",
               "--string-length", "0");
    EXPECT_ERR("Failed to parse --input-tensor-format. Unsupported type provided: 'proto'. The "
               "available options are 'binary' or 'json'.",
               "-m", "x", "--input-tensor-format", "proto");
    EXPECT_ERR("Failed to parse --output-tensor-format. Unsupported type provided: 'x'. The "
               "available options are 'binary' or 'json'.",
               "-m", "x", "--output-tensor-format", "x");
    EXPECT_ERR("Failed to parse --ssl-grpc-root-certifications-file. The value must be a valid "
               "file path.",
               "-m", "x", "--ssl-grpc-root-certifications-file", missing_path);
    EXPECT_ERR("Failed to parse --ssl-grpc-private-key-file. The value must be a valid file "
               "path.",
               "-m", "x", "--ssl-grpc-private-key-file", missing_path);
    EXPECT_ERR("Failed to parse --ssl-grpc-certificate-chain-file. The value must be a valid "
               "file path.",
               "-m", "x", "--ssl-grpc-certificate-chain-file", missing_path);
    EXPECT_ERR("Failed to parse --ssl-https-verify-peer. The value must be either 0 or 1.", "-m",
               "x", "--ssl-https-verify-peer", "2");
    EXPECT_ERR("Failed to parse --ssl-https-verify-host. The value must be either 0, 1, or 2.",
               "-m", "x", "--ssl-https-verify-host", "3");
    EXPECT_ERR("Failed to parse --ssl-https-ca-certificates-file. The value must be a valid "
               "file path.",
               "-m", "x", "--ssl-https-ca-certificates-file", missing_path);
    EXPECT_ERR("Failed to parse --ssl-https-client-certificate-file. The value must be a valid "
               "file path.",
               "-m", "x", "--ssl-https-client-certificate-file", missing_path);
    EXPECT_ERR("Failed to parse --ssl-https-client-certificate-type. Unsupported type provided: "
               "'pem'. The available options are 'PEM' or 'DER'.",
               "-m", "x", "--ssl-https-client-certificate-type", "pem");
    EXPECT_ERR("Failed to parse --ssl-https-private-key-file. The value must be a valid file "
               "path.",
               "-m", "x", "--ssl-https-private-key-file", missing_path);
    EXPECT_ERR("Failed to parse --ssl-https-private-key-type. Unsupported type provided: 'CRT'. "
               "The available options are 'PEM' or 'DER'.",
               "-m", "x", "--ssl-https-private-key-type", "CRT");
    EXPECT_ERR("Failed to parse --profile-export-file. Path must not already exist.", "-m", "x",
               "--profile-export-file", existing_file);
    EXPECT_ERR("Failed to parse --profile-export-file. Path must not already exist.", "-m", "x",
               "--profile-export-file", tmpdir);
    EXPECT_ERR("Failed to parse --grpc-compression-algorithm. Unsupported type provided: "
               "'zstd'. The available options are 'gzip', 'deflate', or 'none'.",
               "-m", "x", "--grpc-compression-algorithm", "zstd");
    EXPECT_ERR("Failed to parse --trace-level. Unsupported type provided: 'off'. The available "
               "options are 'OFF', 'TIMESTAMPS', or 'TENSORS'.",
               "-m", "x", "--trace-level", "off");
    EXPECT_ERR("Failed to parse --trace-count. The value must be >= 0 or set to -1 (default).",
               "-m", "x", "--trace-count", "-2");
    EXPECT_ERR("Failed to parse --log-frequency. The value must be >= 0.", "-m", "x",
               "--log-frequency", "-1");
    EXPECT_ERR("Failed to parse --metrics-interval. The value must be > 0 msecs.", "-m", "x",
               "--metrics-interval", "0");

    /* Boundary values that are accepted. */
    struct run r;
    OK(&r, "-m", "x", "-l", "0", "-s", "0", "--output-shared-memory-size", "0", "--trace-count",
       "-1", "--log-frequency", "0", "--ssl-https-verify-host", "0");
    run_done(&r);
}

/* The original crashed or hung on these; we reject them (docs/cli.md). */
static void test_fixes(void **state)
{
    (void)state;
    EXPECT_ERR("Failed to parse --sequence-id-range. The 'end' value must be greater than "
               "'start' value.",
               "-m", "x", "--sequence-id-range", "7:7");
    EXPECT_ERR("Failed to parse --concurrency-range. The <step> value must be > 0.", "-m", "x",
               "--concurrency-range", "1:4:0");
    EXPECT_ERR("Failed to parse -H. The header must be specified as 'Header:Value'.", "-m", "x",
               "-H", "NoColon");
    EXPECT_ERR("Failed to parse --max-threads. Invalid value provided: 18446744073709551616",
               "-m", "x", "--max-threads", "18446744073709551616");
}

/* ---- §3: each check, and each check before the next ---- */

static void test_cross_checks_in_order(void **state)
{
    static char mpi_env[] = "OMPI_COMM_WORLD_SIZE=2";
    (void)state;

    /* 1 before 2 */
    EXPECT_ERR("Failed to parse -m (model name). The value must be specified.",
               "--concurrency-range", "0");
    /* 2 before 3 */
    EXPECT_ERR("The start of the search range must be > 0", "-m", "x", "--concurrency-range",
               "0", "--request-rate-range", "0");
    /* 3 before 4 */
    EXPECT_ERR("Failed to parse --request-rate-range. The start of the search range must be > 0.",
               "-m", "x", "--request-rate-range", "0", "-i", "udp");
    /* 4 before 5 */
    EXPECT_ERR("Failed to parse -i (protocol). The value should be either HTTP or gRPC.", "-m",
               "x", "-i", "udp", "--streaming");
    /* 5 before 6 */
    EXPECT_ERR("Streaming is only allowed with gRPC protocol.", "-m", "x", "--streaming",
               "--grpc-compression-algorithm", "none");
    /* 6 before 7 ("none" counts as using compression) */
    EXPECT_ERR("Using compression algorithm is only allowed with gRPC protocol.", "-m", "x",
               "--grpc-compression-algorithm", "none", "--sequence-length-variation", "-1");
    /* 7 before 9 */
    EXPECT_ERR("Failed to parse --sequence-length-variation. The value must be >= 0.0.", "-m",
               "x", "--sequence-length-variation", "-1", "--percentile", "100");

    /* 8 warns and goes on; 9 then fails */
    struct run r;
    RUN(&r, "-m", "x", "--sequence-id-range", "0:10", "--percentile", "100");
    assert_int_equal(r.rc, PA_EUSAGE);
    assert_string_equal(r.err.msg, "Failed to parse --percentile. The value must be -1 for not "
                                   "reporting or in range (0, 100).");
    assert_string_equal(r.diag, "WARNING: using an invalid start sequence id. Perf Analyzer "
                                "will use default value if it is measuring on sequence model.\n");
    run_done(&r);
    EXPECT_ERR("Failed to parse --percentile. The value must be -1 for not reporting or in range "
               "(0, 100).",
               "-m", "x", "--percentile=101");
    OK(&r, "-m", "x", "--percentile", "1");
    run_done(&r);
    OK(&r, "-m", "x", "--percentile", "99");
    run_done(&r);

    /* 9 before 10 */
    EXPECT_ERR("Failed to parse --percentile. The value must be -1 for not reporting or in range "
               "(0, 100).",
               "-m", "x", "--percentile", "0", "-z", "--data-directory", "d");
    /* 10 before 11 */
    EXPECT_ERR("The -z flag cannot be set when --data-directory is provided.", "-m", "x", "-z",
               "--data-directory", "d", "-a", "--sync");
    /* 11 before 12 */
    EXPECT_ERR("Cannot specify --async and --sync simultaneously.", "-m", "x", "-a", "--sync",
               "-t", "2", "--concurrency-range", "2");
    /* 12 before 13 */
    EXPECT_ERR("Cannot use deprecated options with --concurrency-range.", "-m", "x", "-t", "2",
               "--concurrency-range", "2", "--request-rate-range", "3");
    /* 13 before 14 */
    EXPECT_ERR("Cannot use concurrency options with --request-rate-range.", "-m", "x", "-t", "2",
               "--request-rate-range", "3", "--request-intervals", existing_file);
    /* 14: two load modes (item 13 needs deprecated options, so it stays silent) */
    EXPECT_ERR("Cannot specify more then one inference load mode. Please choose only one of the "
               "following modes: --concurrency-range, --periodic-concurrency-range, "
               "--request-rate-range, or --request-intervals.",
               "-m", "simple", "--concurrency-range", "1:2", "--request-rate-range", "100");
    /* 14 pre-empts 21 */
    EXPECT_ERR("Cannot specify more then one inference load mode. Please choose only one of the "
               "following modes: --concurrency-range, --periodic-concurrency-range, "
               "--request-rate-range, or --request-intervals.",
               "-m", "x", "--request-intervals", existing_file, "--concurrency-range", "2");
    EXPECT_ERR("Cannot specify more then one inference load mode. Please choose only one of the "
               "following modes: --concurrency-range, --periodic-concurrency-range, "
               "--request-rate-range, or --request-intervals.",
               "-m", "x", "--periodic-concurrency-range", "1:2", "--request-intervals",
               existing_file);
    /* 15 before 16 */
    EXPECT_ERR("The --periodic-concurrency-range option requires bi-directional gRPC streaming.",
               "-m", "x", "--periodic-concurrency-range", "1:2");
    /* 16 */
    EXPECT_ERR("Must provide --profile-export-file when using the --periodic-concurrency-range "
               "option.",
               "-m", "x", "-i", "grpc", "--streaming", "--periodic-concurrency-range", "1:2");
    /* 18 before 23 */
    EXPECT_ERR("The --request-parameter option is currently only supported by gRPC protocol.",
               "-m", "x", "--request-parameter", "a:1:int", "--concurrency-range", "1:0");

    /* 19 and 22 only in an MPI run (--enable-mpi and more than one rank). */
    OK(&r, "-m", "x", "--request-rate-range", "1:2", "--enable-mpi");
    run_done(&r);
    putenv(mpi_env);
    EXPECT_ERR("Cannot specify --request-rate-range when in multi-model mode.", "-m", "x",
               "--enable-mpi", "--request-rate-range", "5:10");
    EXPECT_ERR("Cannot specify --concurrency-range when in multi-model mode.", "-m", "x",
               "--enable-mpi", "--concurrency-range", "4:4");
    OK(&r, "-m", "x", "--enable-mpi", "--concurrency-range", "4");
    run_done(&r);
    OK(&r, "-m", "x", "--enable-mpi", "--request-rate-range", "7.5");
    run_done(&r);
    OK(&r, "-m", "x", "--concurrency-range", "4:8"); /* MPI not enabled */
    run_done(&r);
    unsetenv("OMPI_COMM_WORLD_SIZE");

    /* 22 before 23 is covered by MPI above; 23 before 24 */
    EXPECT_ERR("The end of the search range and the latency limit can not be both 0 (or 0.0) "
               "simultaneously",
               "-m", "x", "--concurrency-range", "1:0", "--binary-search");
    EXPECT_ERR("The end of the search range and the latency limit can not be both 0 (or 0.0) "
               "simultaneously",
               "-m", "x", "--request-rate-range", "1:0");
    OK(&r, "-m", "x", "--concurrency-range", "1:0", "-l", "50");
    run_done(&r);
    /* 24 before 25 cannot be shown (24 needs a latency limit to pass 23); 24 */
    EXPECT_ERR("The end of the range can not be 0 (or 0.0) for binary search mode.", "-m", "x",
               "--concurrency-range", "1:0", "--binary-search", "-l", "10");
    /* 25 before 26 */
    EXPECT_ERR("The --latency-threshold cannot be 0 for binary search mode.", "-m", "x",
               "--binary-search", "--concurrency-range", "4:2");
    /* 26 */
    EXPECT_ERR("The end of the range can not be less than start of the range for binary search "
               "mode.",
               "-m", "x", "--binary-search", "-l", "5", "--concurrency-range", "4:2");
    EXPECT_ERR("The end of the range can not be less than start of the range for binary search "
               "mode.",
               "-m", "x", "--binary-search", "-l", "5", "--request-rate-range", "4:2");
    /* 26 before 27 */
    EXPECT_ERR("The end of the range can not be less than start of the range for binary search "
               "mode.",
               "-m", "x", "--binary-search", "-l", "5", "--concurrency-range", "4:2",
               "--service-kind", "tfserving");

    /* 27: TF Serving, in its own order; TorchServe */
    EXPECT_ERR("perf_analyzer supports only grpc protocol for TensorFlow Serving.", "-m", "x",
               "--service-kind", "tfserving", "-a");
    EXPECT_ERR("perf_analyzer does not support streaming for TensorFlow Serving.", "-m", "x",
               "--service-kind", "tfserving", "-i", "grpc", "--streaming", "-a");
    EXPECT_ERR("perf_analyzer does not support async API for TensorFlow Serving.", "-m", "x",
               "--service-kind", "tfserving", "-i", "grpc", "-a");
    EXPECT_ERR("--input-data should be provided with a json file with input data for torchserve.",
               "-m", "x", "--service-kind", "torchserve", "-z");
    /* 28: C API, in its own order */
    EXPECT_ERR("--triton-server-path should not be empty when using service-kind=triton_c_api.",
               "-m", "x", "--service-kind", "triton_c_api", "--triton-server-directory=", "-a");
    EXPECT_ERR("--model-repository should not be empty when using service-kind=triton_c_api.",
               "-m", "x", "--service-kind", "triton_c_api", "-a");
    EXPECT_ERR("Async mode is not supported by triton_c_api service kind.", "-m", "x",
               "--service-kind", "triton_c_api", "--model-repository", "/m", "-a");
    /* 27 before 29 */
    EXPECT_ERR("perf_analyzer supports only grpc protocol for TensorFlow Serving.", "-m", "x",
               "--service-kind", "tfserving", "--collect-metrics");
    /* 29 before 30 */
    EXPECT_ERR("Server-side metric collection is only supported with Triton client backend.",
               "-m", "x", "--service-kind", "tfserving", "-i", "grpc", "--collect-metrics",
               "--metrics-url", "u");
    /* 30 before 31 */
    EXPECT_ERR("Must specify --collect-metrics when using the --metrics-url option.", "-m", "x",
               "--metrics-url", "u", "--metrics-interval", "5");
    /* 31 */
    EXPECT_ERR("Must specify --collect-metrics when using the --metrics-interval option.", "-m",
               "x", "--metrics-interval", "5");
}

/* A bad value reported while parsing wins over any later cross check. */
static void test_parse_errors_before_cross_checks(void **state)
{
    (void)state;
    EXPECT_ERR("Failed to parse --concurrency-range. The value does not match <start:end:step>.",
               "--concurrency-range", "1:2:3:4");
    EXPECT_ERR("Failed to parse -b (batch size). The value must be > 0.", "-b", "0", "-b", "x");
}

/* ---- §5: options_apply_model ---- */

static void apply(struct run *r, const struct pa_model_facts *m, int expect_rc,
                  const char *expect_msg, const char *expect_diag)
{
    char *diag = NULL;
    size_t diag_len = 0;
    FILE *f = open_memstream(&diag, &diag_len);
    struct pa_err err;
    memset(&err, 0, sizeof(err));
    int rc = options_apply_model(&r->o, m, f, &err);
    fclose(f);
    assert_int_equal(rc, expect_rc);
    if (expect_msg)
        assert_string_equal(err.msg, expect_msg);
    assert_string_equal(diag, expect_diag ? expect_diag : "");
    free(diag);
}

static void test_apply_model(void **state)
{
    const struct pa_model_facts plain = {8, false, false};
    const struct pa_model_facts nobatch = {0, false, false};
    const struct pa_model_facts seq = {8, true, false};
    struct run r;
    (void)state;

    OK(&r, "-m", "x", "-b", "2");
    apply(&r, &nobatch, PA_EUSAGE,
          "can not specify batch size > 1 as the model does not support batching", NULL);
    run_done(&r);
    OK(&r, "-m", "x", "-b", "2");
    apply(&r, &plain, PA_OK, NULL, NULL);
    run_done(&r);

    /* Sequence models: async unless --sync; no batching. */
    OK(&r, "-m", "x", "--concurrency-range", "2:4");
    apply(&r, &seq, PA_OK, NULL, NULL);
    assert_true(r.o.async);
    assert_int_equal(r.o.max_threads, 16);
    run_done(&r);
    OK(&r, "-m", "x", "--sync", "--concurrency-range", "2:4");
    apply(&r, &seq, PA_OK, NULL, NULL);
    assert_false(r.o.async);
    assert_int_equal(r.o.max_threads, 4);
    run_done(&r);
    OK(&r, "-m", "x", "-b", "2");
    apply(&r, &seq, PA_EUSAGE, "can not specify batch size > 1 when using a sequence model",
          NULL);
    run_done(&r);

    /* Streaming implies async; not with --sync. */
    OK(&r, "-m", "x", "-i", "grpc", "--streaming");
    apply(&r, &plain, PA_OK, NULL, NULL);
    assert_true(r.o.async);
    run_done(&r);
    OK(&r, "-m", "x", "-i", "grpc", "--streaming", "--sync");
    apply(&r, &plain, PA_EUSAGE, "can not use streaming with synchronous API", NULL);
    run_done(&r);

    /* Concurrency end 0 with an async sequence model. */
    OK(&r, "-m", "x", "--concurrency-range", "1:0", "-l", "10");
    apply(&r, &seq, PA_EUSAGE,
          "The 'end' concurrency can not be 0 for sequence models when using asynchronous API.",
          NULL);
    run_done(&r);

    /* Sync mode: end 0 becomes max_threads; otherwise threads follow the range. */
    OK(&r, "-m", "x", "--concurrency-range", "3:0", "-l", "10");
    apply(&r, &plain, PA_OK, NULL,
          "WARNING: The maximum attainable concurrency will be limited by max_threads "
          "specification.\n");
    assert_int_equal(r.o.concurrency_end, 16);
    assert_int_equal(r.o.max_threads, 16);
    assert_int_equal(options_max_concurrency(&r.o), 16);
    run_done(&r);
    OK(&r, "-m", "x", "--concurrency-range", "2:40:2");
    apply(&r, &plain, PA_OK, NULL, NULL);
    assert_int_equal(r.o.max_threads, 40);
    run_done(&r);
    OK(&r, "-m", "x", "--concurrency-range", "2:4", "--max-threads", "32");
    apply(&r, &plain, PA_OK, NULL,
          "WARNING: Overriding max_threads specification to ensure requested concurrency "
          "range.\n");
    assert_int_equal(r.o.max_threads, 4);
    run_done(&r);
    OK(&r, "-m", "x", "-a", "--concurrency-range", "2:40:2", "--max-threads", "3");
    apply(&r, &plain, PA_OK, NULL, NULL);
    assert_int_equal(r.o.max_threads, 3);
    run_done(&r);

    /* Sequence id range against the concurrency, for any model. */
    OK(&r, "-m", "x", "--concurrency-range", "1:4", "--sequence-id-range", "1:3");
    apply(&r, &plain, PA_EUSAGE,
          "sequence id range specified is smaller than the maximum possible concurrency, "
          "sequence id collision may occur.",
          NULL);
    run_done(&r);
    OK(&r, "-m", "x", "--concurrency-range", "1:4", "--sequence-id-range", "1:5");
    apply(&r, &seq, PA_OK, NULL, NULL);
    run_done(&r);
    /* The max concurrency is taken before an end of 0 becomes max_threads. */
    OK(&r, "-m", "x", "--concurrency-range", "2:0", "-l", "5", "--sequence-id-range", "10:12");
    apply(&r, &plain, PA_OK, NULL,
          "WARNING: The maximum attainable concurrency will be limited by max_threads "
          "specification.\n");
    run_done(&r);

    /* ... and against --num-of-sequences in request-rate and custom-interval modes. */
    OK(&r, "-m", "x", "--request-rate-range", "10", "--sequence-id-range", "1:4");
    apply(&r, &seq, PA_EUSAGE,
          "sequence id range specified is smaller than the maximum possible number of "
          "sequences, sequence id collision may occur.",
          NULL);
    run_done(&r);
    OK(&r, "-m", "x", "--request-intervals", existing_file, "--sequence-id-range", "1:5",
       "--num-of-sequences", "4");
    apply(&r, &plain, PA_OK, NULL, NULL);
    run_done(&r);
    OK(&r, "-m", "x", "--request-intervals", existing_file, "--sequence-id-range", "1:5",
       "--num-of-sequences", "5");
    apply(&r, &plain, PA_EUSAGE,
          "sequence id range specified is smaller than the maximum possible number of "
          "sequences, sequence id collision may occur.",
          NULL);
    run_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_general_and_measurement_messages),
        cmocka_unit_test(test_input_server_other_messages),
        cmocka_unit_test(test_fixes),
        cmocka_unit_test(test_cross_checks_in_order),
        cmocka_unit_test(test_parse_errors_before_cross_checks),
        cmocka_unit_test(test_apply_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
