/*
 * The parsed command line: one struct pa_options, filled by options_parse()
 * and never changed afterwards (model-dependent adjustments produce a copy,
 * see options_apply_model()).
 *
 * Everything the original derives before contacting the server is already
 * derived here: the URL per protocol and service kind, max threads, the load
 * mode, the deprecated-option mapping, the metrics URL (spec 01-cli.md §4).
 */
#ifndef PA_CLI_OPTIONS_H
#define PA_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pa/status.h"

enum pa_service_kind { PA_SK_TRITON, PA_SK_TFSERVING, PA_SK_TORCHSERVE, PA_SK_TRITON_C_API };
enum pa_protocol { PA_PROTO_HTTP, PA_PROTO_GRPC, PA_PROTO_UNKNOWN };
enum pa_load_mode {
    PA_LOAD_CONCURRENCY,
    PA_LOAD_REQUEST_RATE,
    PA_LOAD_CUSTOM_INTERVALS,
    PA_LOAD_PERIODIC_CONCURRENCY,
};
enum pa_measurement_mode { PA_MEASURE_TIME_WINDOWS, PA_MEASURE_COUNT_WINDOWS };
enum pa_search_mode { PA_SEARCH_LINEAR, PA_SEARCH_BINARY, PA_SEARCH_NONE };
enum pa_distribution { PA_DIST_CONSTANT, PA_DIST_POISSON };
enum pa_shm_kind { PA_SHM_NONE, PA_SHM_SYSTEM, PA_SHM_CUDA };
enum pa_tensor_format { PA_FMT_BINARY, PA_FMT_JSON };
enum pa_compression { PA_COMPRESS_NONE, PA_COMPRESS_GZIP, PA_COMPRESS_DEFLATE };
enum pa_input_kind { PA_INPUT_RANDOM, PA_INPUT_ZERO, PA_INPUT_FILES };
enum pa_cert_type { PA_CERT_PEM, PA_CERT_DER };
enum pa_param_type { PA_PARAM_STRING, PA_PARAM_INT, PA_PARAM_BOOL, PA_PARAM_OTHER };

struct pa_name_version {
    char *name;
    char *version; /* "" when not given */
};

struct pa_shape_opt { /* --shape name:d1,d2,... */
    char *name;
    int64_t *dims;
    size_t rank;
};

struct pa_header { /* -H Name:Value, kept sorted by name, unique names */
    char *name;
    char *value;
};

struct pa_request_param { /* --request-parameter name:value:type, lower-cased */
    char *name;
    char *value;
    char *type_text;
    enum pa_param_type type;
};

struct pa_options {
    /* General */
    char *model_name;             /* -m */
    char *model_version;          /* -x, "" = latest */
    enum pa_service_kind service_kind;
    char *model_signature_name;   /* "serving_default" */
    struct pa_name_version *bls_composing; size_t n_bls_composing;
    int verbose;                  /* count of -v: 0, 1, 2 */

    /* Measurement */
    bool async;                   /* effective, before model adjustments */
    bool async_given, sync_given;
    uint64_t measurement_interval_ms;      /* -p, 5000 */
    enum pa_measurement_mode measurement_mode;
    uint64_t measurement_request_count;    /* 50 */
    enum pa_load_mode load_mode;
    uint64_t concurrency_start, concurrency_end, concurrency_step; /* 1:1:1 */
    bool concurrency_range_given;
    uint64_t periodic_start, periodic_end, periodic_step;          /* 1:1:1 */
    uint64_t request_period;               /* 10 */
    struct pa_request_param *request_params; size_t n_request_params;
    double rate_start, rate_end, rate_step; /* 1.0:1.0:1.0 */
    enum pa_distribution request_distribution;
    char *request_intervals_file;          /* NULL when not given */
    enum pa_search_mode search_mode;
    uint64_t num_of_sequences;             /* 4 */
    uint64_t latency_threshold_ms;         /* -l, 0 = none */
    uint64_t max_threads;                  /* 16 (concurrency) or 4 */
    bool max_threads_given;
    double stability_threshold;            /* -s / 100, 0.1 */
    uint64_t max_trials;                   /* -r, 10 */
    int percentile;                        /* -1 = average */
    bool serial_sequences;

    /* Input data */
    uint64_t batch_size;                   /* -b, 1 (0 for TF Serving without -b) */
    bool batch_size_given;
    enum pa_input_kind input_kind;
    char **input_data_paths; size_t n_input_data_paths; /* files or directories, in order */
    enum pa_shm_kind shared_memory;
    uint64_t output_shm_size;              /* 102400 */
    struct pa_shape_opt *shapes; size_t n_shapes;
    uint64_t sequence_length;              /* 20 */
    bool sequence_length_given;
    double sequence_length_variation;      /* percent, 20 */
    uint64_t sequence_id_start;            /* 1 */
    uint64_t sequence_id_range;            /* end - start; UINT32_MAX when unbounded */
    uint64_t string_length;                /* 128 */
    char *string_data;                     /* NULL when not given */
    enum pa_tensor_format input_tensor_format, output_tensor_format;

    /* Server */
    char *url;                             /* derived default per protocol/service kind */
    bool url_given;
    enum pa_protocol protocol;
    bool ssl_grpc_use_ssl;
    char *ssl_grpc_root_certs, *ssl_grpc_private_key, *ssl_grpc_cert_chain; /* "" = unset */
    long ssl_https_verify_peer;            /* 1 */
    long ssl_https_verify_host;            /* 2 */
    char *ssl_https_ca_certs, *ssl_https_client_cert, *ssl_https_private_key; /* "" = unset */
    enum pa_cert_type ssl_https_client_cert_type, ssl_https_private_key_type;
    char *triton_server_directory;         /* "/opt/tritonserver" */
    char *model_repository;                /* "" */

    /* Other */
    char *csv_file;                        /* -f, NULL when not given */
    char *profile_export_file;             /* NULL when not given */
    struct pa_header *headers; size_t n_headers;
    bool streaming;
    enum pa_compression grpc_compression;
    bool grpc_compression_given;
    char *trace_file;                      /* NULL when not given */
    char *trace_level;                     /* NULL when not given; last one wins */
    char *trace_rate;
    int64_t trace_count; bool trace_count_given;
    int64_t log_frequency; bool log_frequency_given;
    bool verbose_csv;
    bool enable_mpi;
    bool collect_metrics;
    char *metrics_url;                     /* derived: "localhost:8002/metrics" or from -u */
    bool metrics_url_given;
    uint64_t metrics_interval_ms;          /* 1000 */
    bool metrics_interval_given;

    /* Deprecated options, kept to report conflicts */
    bool deprecated_used;
};

/*
 * Parses argv (argv[0] is the program path as invoked) and runs every
 * validation of spec 01-cli.md §2-§4 in the original's order.
 *
 * Returns PA_OK and fills *opts; or PA_EUSAGE with err->msg set to the text
 * to print after "Error: " (empty message when only the usage text must be
 * printed, e.g. for an unknown option whose getopt-style diagnostic was
 * already written to `diag`); or PA_EINTR-free special case: when --version
 * is met, *version_requested is set and PA_OK is returned at once.
 * Warnings the original prints while parsing are written to `diag` (stderr
 * in main). On failure *opts is released.
 */
PA_MUST_CHECK int options_parse(int argc, char **argv, struct pa_options *opts,
                                bool *version_requested, FILE *diag, struct pa_err *err);

/* What model-dependent validation needs to know about the model. */
struct pa_model_facts {
    uint64_t max_batch_size; /* 0 = no batching */
    bool sequence;           /* scheduler sequence or ensemble-sequence */
    bool decoupled;
};

/*
 * Model-dependent validation and adjustments of spec 01-cli.md §5 (async
 * default for sequence models and streaming, sync-mode max threads, id-range
 * checks), applied once in main.c after model parsing and before the options
 * are handed to the load and measurement layers, which treat them as const.
 * Warnings go to diag. Errors: PA_EUSAGE with the original's text (printed
 * as a plain line, exit 99).
 */
PA_MUST_CHECK int options_apply_model(struct pa_options *opts, const struct pa_model_facts *m,
                                      FILE *diag, struct pa_err *err);

/* Writes the usage text of the original, with argv0 as program name. */
void options_usage(FILE *out, const char *argv0);

/* Frees everything options_parse allocated. Safe on a zeroed struct. */
void options_release(struct pa_options *opts);

/* Effective maximum concurrency: max(start, end). */
uint64_t options_max_concurrency(const struct pa_options *opts);

#endif
