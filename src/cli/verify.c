/*
 * What happens after every option has been read: the derived defaults
 * (spec 01-cli.md §4), the cross-option checks in the original's exact
 * order (§3), and later, once the model is known, the model-dependent
 * checks and adjustments (§5).
 *
 * The order matters because only the first failure is reported, and some
 * checks see values that earlier steps changed (the deprecated -t/-c/-d
 * mapping happens in the middle of §3, after the "start > 0" check, which
 * is why "-t 0" slips through as in the original). Keep the checks in
 * the numbered order of the spec.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/options-internal.h"
#include "core/xalloc.h"

#include "core/banned.h"

static int fail(struct pa_err *err, const char *msg)
{
    return pa_errorf(err, PA_EUSAGE, "%s", msg);
}

/*
 * "An MPI run" is --enable-mpi with more than one rank. MPI itself is set
 * up later by the pipeline; the rank count is already in the environment
 * that mpirun/mpiexec gives each process (Open MPI, whose library the
 * original loads, and PMI-based launchers).
 */
static bool mpi_run(const struct pa_options *o)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
    if (!o->enable_mpi)
        return false;
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && strtol(v, NULL, 10) > 1)
            return true;
    }
    return false;
}

/* §4: computed right after parsing, before the checks. */
static void derive_defaults(struct parse_state *ps)
{
    struct pa_options *o = ps->o;
    bool intervals = o->request_intervals_file != NULL;
    bool targeting_concurrency = o->concurrency_range_given || o->deprecated_used ||
                                 !(ps->rate_range_given || intervals || ps->periodic_given);

    if (targeting_concurrency)
        o->load_mode = PA_LOAD_CONCURRENCY;
    else if (ps->rate_range_given)
        o->load_mode = PA_LOAD_REQUEST_RATE;
    else if (intervals)
        o->load_mode = PA_LOAD_CUSTOM_INTERVALS;
    else
        o->load_mode = PA_LOAD_PERIODIC_CONCURRENCY;

    if (!o->url_given && o->protocol == PA_PROTO_GRPC) {
        if (o->service_kind == PA_SK_TRITON) {
            free(o->url);
            o->url = xstrdup("localhost:8001");
        } else if (o->service_kind == PA_SK_TFSERVING) {
            free(o->url);
            o->url = xstrdup("localhost:8500");
        }
    }

    if (!o->max_threads_given)
        o->max_threads = targeting_concurrency ? 16 : 4;

    if (intervals)
        o->search_mode = PA_SEARCH_NONE;

    if (ps->zero_input)
        o->input_kind = PA_INPUT_ZERO;
    else if (o->n_input_data_paths > 0)
        o->input_kind = PA_INPUT_FILES;
    else
        o->input_kind = PA_INPUT_RANDOM;
}

/* §3 items 1-11. */
static int check_basics(struct parse_state *ps, struct pa_err *err)
{
    struct pa_options *o = ps->o;

    if (!o->model_name || !o->model_name[0])
        return fail(err, "Failed to parse -m (model name). The value must be specified.");
    if (o->concurrency_start == 0 || ps->deprecated_t < 0)
        return fail(err, "The start of the search range must be > 0");
    if (o->rate_start <= 0)
        return fail(err, "Failed to parse --request-rate-range. The start of the search range "
                         "must be > 0.");
    if (o->protocol == PA_PROTO_UNKNOWN)
        return fail(err, "Failed to parse -i (protocol). The value should be either HTTP or gRPC.");
    if (o->streaming && o->protocol != PA_PROTO_GRPC)
        return fail(err, "Streaming is only allowed with gRPC protocol.");
    if (o->grpc_compression_given && o->protocol != PA_PROTO_GRPC)
        return fail(err, "Using compression algorithm is only allowed with gRPC protocol.");
    if (o->sequence_length_variation < 0.0)
        return fail(err, "Failed to parse --sequence-length-variation. The value must be >= 0.0.");
    if (o->sequence_id_start == 0) {
        fputs("WARNING: using an invalid start sequence id. Perf Analyzer will use default "
              "value if it is measuring on sequence model.\n",
              ps->diag);
        o->sequence_id_start = 1;
    }
    if (o->percentile != -1 && (o->percentile > 99 || o->percentile < 1))
        return fail(err, "Failed to parse --percentile. The value must be -1 for not reporting "
                         "or in range (0, 100).");
    if (ps->zero_input && o->n_input_data_paths > 0)
        return fail(err, "The -z flag cannot be set when --data-directory is provided.");
    if (o->async_given && o->sync_given)
        return fail(err, "Cannot specify --async and --sync simultaneously.");
    return PA_OK;
}

/* §3 items 12-26: load modes and search ranges. */
static int check_load_modes(struct parse_state *ps, struct pa_err *err)
{
    struct pa_options *o = ps->o;
    bool intervals = o->request_intervals_file != NULL;
    bool mpi = mpi_run(o);

    if (o->concurrency_range_given && o->deprecated_used)
        return fail(err, "Cannot use deprecated options with --concurrency-range.");
    if (o->deprecated_used) {
        /* Without -d the end stays 1, so "-t 8" measures concurrency 8 only. */
        if (ps->deprecated_d)
            o->concurrency_end = (uint64_t)(int64_t)ps->deprecated_c;
        o->concurrency_start = (uint64_t)(int64_t)ps->deprecated_t;
    }
    if (ps->rate_range_given && o->deprecated_used)
        return fail(err, "Cannot use concurrency options with --request-rate-range.");

    int n_modes =
        ps->periodic_given + o->concurrency_range_given + ps->rate_range_given + intervals;
    if (n_modes > 1)
        return fail(err, "Cannot specify more then one inference load mode. Please choose only "
                         "one of the following modes: --concurrency-range, "
                         "--periodic-concurrency-range, --request-rate-range, or "
                         "--request-intervals.");

    if (ps->periodic_given && !o->streaming)
        return fail(err, "The --periodic-concurrency-range option requires bi-directional gRPC "
                         "streaming.");
    if (ps->periodic_given && !o->profile_export_file)
        return fail(err, "Must provide --profile-export-file when using the "
                         "--periodic-concurrency-range option.");
    if (ps->periodic_given) {
        if (o->periodic_end == 0) {
            fputs("WARNING: The maximum attainable concurrency will be limited by max_threads "
                  "specification.\n",
                  ps->diag);
            o->periodic_end = o->max_threads;
        } else {
            if (o->max_threads_given)
                fputs("WARNING: Overriding max_threads specification to ensure requested "
                      "concurrency range.\n",
                      ps->diag);
            if (o->periodic_end > o->max_threads)
                o->max_threads = o->periodic_end;
        }
    }

    if (o->n_request_params > 0 && o->protocol != PA_PROTO_GRPC)
        return fail(err, "The --request-parameter option is currently only supported by gRPC "
                         "protocol.");
    if (ps->rate_range_given && mpi && (o->rate_end != 1.0 || o->rate_step != 1.0))
        return fail(err, "Cannot specify --request-rate-range when in multi-model mode.");
    if (intervals && o->deprecated_used)
        return fail(err, "Cannot use deprecated options with --request-intervals.");
    if (intervals && (o->concurrency_range_given || ps->rate_range_given))
        return fail(err, "Cannot use --concurrency-range or --request-rate-range along with "
                         "--request-intervals.");
    if (o->concurrency_range_given && mpi && (o->concurrency_end != 1 || o->concurrency_step != 1))
        return fail(err, "Cannot specify --concurrency-range when in multi-model mode.");

    bool end_zero = o->concurrency_end == 0 || o->rate_end == 0.0;
    bool binary = o->search_mode == PA_SEARCH_BINARY;
    if (end_zero && o->latency_threshold_ms == 0)
        return fail(err, "The end of the search range and the latency limit can not be both 0 "
                         "(or 0.0) simultaneously");
    if (end_zero && binary)
        return fail(err, "The end of the range can not be 0 (or 0.0) for binary search mode.");
    if (binary && o->latency_threshold_ms == 0)
        return fail(err, "The --latency-threshold cannot be 0 for binary search mode.");
    if (binary && (o->concurrency_end < o->concurrency_start || o->rate_end < o->rate_start))
        return fail(err, "The end of the range can not be less than start of the range for "
                         "binary search mode.");
    return PA_OK;
}

/* §3 items 27-32: service kinds and metrics. */
static int check_services(struct parse_state *ps, struct pa_err *err)
{
    struct pa_options *o = ps->o;

    if (o->service_kind == PA_SK_TFSERVING) {
        if (o->protocol != PA_PROTO_GRPC)
            return fail(err, "perf_analyzer supports only grpc protocol for TensorFlow Serving.");
        if (o->streaming)
            return fail(err, "perf_analyzer does not support streaming for TensorFlow Serving.");
        if (o->async_given)
            return fail(err, "perf_analyzer does not support async API for TensorFlow Serving.");
        if (!o->batch_size_given)
            o->batch_size = 0; /* no batch dimension is sent */
    } else if (o->service_kind == PA_SK_TORCHSERVE) {
        if (o->n_input_data_paths == 0)
            return fail(err, "--input-data should be provided with a json file with input data "
                             "for torchserve.");
    }

    if (o->service_kind == PA_SK_TRITON_C_API) {
        if (!o->triton_server_directory[0])
            return fail(err, "--triton-server-path should not be empty when using "
                             "service-kind=triton_c_api.");
        if (!o->model_repository[0])
            return fail(err, "--model-repository should not be empty when using "
                             "service-kind=triton_c_api.");
        if (o->async_given)
            return fail(err, "Async mode is not supported by triton_c_api service kind.");
        o->protocol = PA_PROTO_UNKNOWN;
    }

    if (o->collect_metrics && o->service_kind != PA_SK_TRITON)
        return fail(err, "Server-side metric collection is only supported with Triton client "
                         "backend.");
    if (o->metrics_url_given && !o->collect_metrics)
        return fail(err, "Must specify --collect-metrics when using the --metrics-url option.");
    if (o->metrics_interval_given && !o->collect_metrics)
        return fail(err,
                    "Must specify --collect-metrics when using the --metrics-interval option.");

    if (o->collect_metrics && !o->metrics_url_given) {
        /*
         * QUIRK kept from the original: the host is the text before the
         * first ':' of -u, so "http://h:8000" gives "http:8002/metrics".
         */
        const char *colon = strchr(o->url, ':');
        if (colon) {
            char *host = xstrndup(o->url, (size_t)(colon - o->url));
            free(o->metrics_url);
            o->metrics_url = xasprintf("%s:8002/metrics", host);
            free(host);
        }
    }
    return PA_OK;
}

int options_verify(struct parse_state *ps, struct pa_err *err)
{
    int rc;

    derive_defaults(ps);
    if ((rc = check_basics(ps, err)) != PA_OK)
        return rc;
    if ((rc = check_load_modes(ps, err)) != PA_OK)
        return rc;
    return check_services(ps, err);
}

uint64_t options_max_concurrency(const struct pa_options *opts)
{
    return opts->concurrency_start > opts->concurrency_end ? opts->concurrency_start
                                                           : opts->concurrency_end;
}

int options_apply_model(struct pa_options *o, const struct pa_model_facts *m, FILE *diag,
                        struct pa_err *err)
{
    if (!diag)
        diag = stderr;

    if (m->max_batch_size == 0 && o->batch_size > 1)
        return fail(err, "can not specify batch size > 1 as the model does not support batching");

    if (m->sequence) {
        if (!o->async_given)
            o->async = !o->sync_given;
        if (o->batch_size > 1)
            return fail(err, "can not specify batch size > 1 when using a sequence model");
    }

    if (o->streaming) {
        if (o->sync_given)
            return fail(err, "can not use streaming with synchronous API");
        o->async = true;
    }

    if (o->load_mode == PA_LOAD_CONCURRENCY) {
        if (m->sequence && o->concurrency_end == 0 && o->async)
            return fail(err, "The 'end' concurrency can not be 0 for sequence models when using "
                             "asynchronous API.");
        /* Taken before the sync-mode step below may turn an end of 0 into max_threads. */
        uint64_t max_concurrency = options_max_concurrency(o);
        if (!o->async) {
            if (o->concurrency_end == 0) {
                fputs("WARNING: The maximum attainable concurrency will be limited by "
                      "max_threads specification.\n",
                      diag);
                o->concurrency_end = o->max_threads;
            } else {
                /* Synchronous requests each need their own thread. */
                if (o->max_threads_given)
                    fputs("WARNING: Overriding max_threads specification to ensure requested "
                          "concurrency range.\n",
                          diag);
                o->max_threads = max_concurrency;
            }
        }
        if (o->sequence_id_range != 0 && o->sequence_id_range < max_concurrency)
            return fail(err, "sequence id range specified is smaller than the maximum possible "
                             "concurrency, sequence id collision may occur.");
    } else if (o->load_mode == PA_LOAD_REQUEST_RATE || o->load_mode == PA_LOAD_CUSTOM_INTERVALS) {
        if (o->sequence_id_range != 0 && o->sequence_id_range < o->num_of_sequences)
            return fail(err, "sequence id range specified is smaller than the maximum possible "
                             "number of sequences, sequence id collision may occur.");
    }
    return PA_OK;
}
