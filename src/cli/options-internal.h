/*
 * The option table shared by the parser (options.c), the checks that run
 * after parsing (verify.c) and the usage text (usage.c). Not for use outside
 * src/cli/.
 */
#ifndef PA_CLI_OPTIONS_INTERNAL_H
#define PA_CLI_OPTIONS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/options.h"

/*
 * One per option, in the order of the original's getopt_long table (that
 * order shows in glibc's "is ambiguous; possibilities:" list), then the
 * options that exist only in short form.
 */
enum opt_id {
    OPT_STREAMING,
    OPT_MAX_THREADS,
    OPT_SEQUENCE_LENGTH,
    OPT_PERCENTILE,
    OPT_DATA_DIRECTORY,
    OPT_SHAPE,
    OPT_MEASUREMENT_INTERVAL,
    OPT_CONCURRENCY_RANGE,
    OPT_LATENCY_THRESHOLD,
    OPT_STABILITY_PERCENTAGE,
    OPT_MAX_TRIALS,
    OPT_INPUT_DATA,
    OPT_STRING_LENGTH,
    OPT_STRING_DATA,
    OPT_ASYNC,
    OPT_SYNC,
    OPT_REQUEST_RATE_RANGE,
    OPT_NUM_OF_SEQUENCES,
    OPT_BINARY_SEARCH,
    OPT_REQUEST_DISTRIBUTION,
    OPT_REQUEST_INTERVALS,
    OPT_SHARED_MEMORY,
    OPT_OUTPUT_SHM_SIZE,
    OPT_SERVICE_KIND,
    OPT_MODEL_SIGNATURE_NAME,
    OPT_GRPC_COMPRESSION,
    OPT_MEASUREMENT_MODE,
    OPT_MEASUREMENT_REQUEST_COUNT,
    OPT_TRITON_SERVER_DIRECTORY,
    OPT_MODEL_REPOSITORY,
    OPT_SEQUENCE_ID_RANGE,
    OPT_SSL_GRPC_USE_SSL,
    OPT_SSL_GRPC_ROOT_CERTS,
    OPT_SSL_GRPC_PRIVATE_KEY,
    OPT_SSL_GRPC_CERT_CHAIN,
    OPT_SSL_HTTPS_VERIFY_PEER,
    OPT_SSL_HTTPS_VERIFY_HOST,
    OPT_SSL_HTTPS_CA_CERTS,
    OPT_SSL_HTTPS_CLIENT_CERT,
    OPT_SSL_HTTPS_CLIENT_CERT_TYPE,
    OPT_SSL_HTTPS_PRIVATE_KEY,
    OPT_SSL_HTTPS_PRIVATE_KEY_TYPE,
    OPT_VERBOSE_CSV,
    OPT_ENABLE_MPI,
    OPT_TRACE_FILE,
    OPT_TRACE_LEVEL,
    OPT_TRACE_RATE,
    OPT_TRACE_COUNT,
    OPT_LOG_FREQUENCY,
    OPT_COLLECT_METRICS,
    OPT_METRICS_URL,
    OPT_METRICS_INTERVAL,
    OPT_SERIAL_SEQUENCES,
    OPT_SEQUENCE_LENGTH_VARIATION,
    OPT_BLS_COMPOSING_MODELS,
    OPT_REQUEST_PARAMETER,
    OPT_PERIODIC_CONCURRENCY_RANGE,
    OPT_REQUEST_PERIOD,
    OPT_INPUT_TENSOR_FORMAT,
    OPT_OUTPUT_TENSOR_FORMAT,
    OPT_VERSION,
    OPT_PROFILE_EXPORT_FILE,
    /* short-only */
    OPT_VERBOSE,
    OPT_MODEL_NAME,
    OPT_MODEL_VERSION,
    OPT_URL,
    OPT_PROTOCOL,
    OPT_BATCH_SIZE,
    OPT_CSV_FILE,
    OPT_HEADER,
    OPT_DEPRECATED_T,
    OPT_DEPRECATED_C,
    OPT_DEPRECATED_D,
    OPT_DEPRECATED_Z,
    OPT_COUNT
};

/*
 * What parsing learns that struct pa_options does not keep: the deprecated
 * options before they are mapped, which load modes were asked for, and how
 * the option being handled was spelled (for "Invalid value provided").
 */
struct parse_state {
    struct pa_options *o;
    FILE *diag;
    char optname[64];  /* "--concurrency-range" or "-p", as the user named it */
    int deprecated_t;  /* -t, default 1 */
    int deprecated_c;  /* -c, default 0 */
    bool deprecated_d; /* -d */
    bool zero_input;   /* -z or --input-data zero */
    bool rate_range_given;
    bool periodic_given;
    bool version_requested;
};

struct opt_def;
typedef int opt_handler_fn(struct parse_state *ps, const struct opt_def *def, const char *arg,
                           struct pa_err *err);

/*
 * How an option's entry in the "==== OPTIONS ====" part of the usage is laid
 * out. The original wrapped each description with the same routine (see
 * usage.c) at an offset that depends on the layout:
 *   HELP_INLINE: label and text are one string, wrapped from `offset` (18);
 *   HELP_COLUMN: the label is left-aligned in `offset` columns and only the
 *                text is wrapped, from `offset`.
 */
enum help_layout { HELP_NONE, HELP_INLINE, HELP_COLUMN };

struct opt_help {
    enum help_layout layout;
    int offset;
    const char *label;
    const char *text; /* unwrapped */
};

#define NO_FIELD ((size_t)-1)

struct opt_def {
    const char *long_name; /* NULL: short only */
    char short_name;       /* 0: long only */
    bool has_arg;
    opt_handler_fn *handle;
    size_t field;         /* struct pa_options member for the generic handlers */
    size_t given_field;   /* bool member set when the option is met, or NO_FIELD */
    const char *msg;      /* validation message of the generic handlers */
    const char *synopsis; /* line under "==== SYNOPSIS ====", NULL if not listed */
    struct opt_help help;
};

extern const struct opt_def opt_table[OPT_COUNT];

/*
 * verify.c: the derived defaults of spec 01 §4 and the cross-option checks of
 * §3, in the original's order. Warnings go to ps->diag.
 */
PA_MUST_CHECK int options_verify(struct parse_state *ps, struct pa_err *err);

/* Sets the option defaults of spec 01 §2 (allocates the default strings). */
void options_set_defaults(struct pa_options *o);

#endif
