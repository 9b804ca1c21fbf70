/*
 * The usage text, byte for byte as perf_analyzer r23.10 prints it.
 *
 * Each option's synopsis line and description live in its opt_table entry
 * (options.c); this file only lays them out. usage_doc[] gives the order,
 * which differs between the two parts (the original listed, for example,
 * --bls-composing-models among the general options in the synopsis but last
 * in the descriptions) and holds the headings.
 *
 * Descriptions are stored unwrapped and wrapped here with the original's
 * rule, reproduced exactly rather than improved: starting at an offset, while
 * offset + 60 is before the end, the last space at or before offset + 60
 * becomes "\n\t " and the offset moves on by 70. The odd results (lines of
 * 75 to 90 columns, the first line of section III entries running to 130)
 * are what the original prints.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/options-internal.h"
#include "core/xalloc.h"

#include "core/banned.h"

enum row_kind { ROW_TEXT, ROW_SYNOPSIS, ROW_HELP, ROW_HELP_TEXT };

struct usage_row {
    enum row_kind kind;
    enum opt_id id;              /* ROW_SYNOPSIS, ROW_HELP */
    const char *text;            /* ROW_TEXT: one line, printed as is */
    const struct opt_help *help; /* ROW_HELP_TEXT: a description that is not an option */
};

// clang-format off
#define TEXT(t)      { ROW_TEXT, OPT_COUNT, t, NULL }
#define SYN(o)       { ROW_SYNOPSIS, o, NULL, NULL }
#define HELP(o)      { ROW_HELP, o, NULL, NULL }
#define HELP_TEXT(h) { ROW_HELP_TEXT, OPT_COUNT, NULL, h }
// clang-format on

static const struct opt_help extra_verbose_help = {HELP_COLUMN, 9,
                                                   " -v -v: ", "Enables extra verbose mode."};

static const struct usage_row usage_doc[] = {
    TEXT("==== SYNOPSIS ===="),
    TEXT(" "),
    SYN(OPT_VERSION),
    SYN(OPT_SERVICE_KIND),
    SYN(OPT_MODEL_NAME),
    SYN(OPT_MODEL_VERSION),
    SYN(OPT_BLS_COMPOSING_MODELS),
    SYN(OPT_MODEL_SIGNATURE_NAME),
    SYN(OPT_VERBOSE),
    TEXT(""),
    TEXT("I. MEASUREMENT PARAMETERS: "),
    SYN(OPT_ASYNC),
    SYN(OPT_SYNC),
    SYN(OPT_MEASUREMENT_INTERVAL),
    SYN(OPT_CONCURRENCY_RANGE),
    SYN(OPT_PERIODIC_CONCURRENCY_RANGE),
    SYN(OPT_REQUEST_PERIOD),
    SYN(OPT_REQUEST_RATE_RANGE),
    SYN(OPT_REQUEST_DISTRIBUTION),
    SYN(OPT_REQUEST_INTERVALS),
    SYN(OPT_SERIAL_SEQUENCES),
    SYN(OPT_BINARY_SEARCH),
    SYN(OPT_NUM_OF_SEQUENCES),
    SYN(OPT_LATENCY_THRESHOLD),
    SYN(OPT_MAX_THREADS),
    SYN(OPT_STABILITY_PERCENTAGE),
    SYN(OPT_MAX_TRIALS),
    SYN(OPT_PERCENTILE),
    TEXT("\tDEPRECATED OPTIONS"),
    SYN(OPT_DEPRECATED_T),
    SYN(OPT_DEPRECATED_C),
    SYN(OPT_DEPRECATED_D),
    TEXT(""),
    TEXT("II. INPUT DATA OPTIONS: "),
    SYN(OPT_BATCH_SIZE),
    SYN(OPT_INPUT_DATA),
    SYN(OPT_SHARED_MEMORY),
    SYN(OPT_OUTPUT_SHM_SIZE),
    SYN(OPT_SHAPE),
    SYN(OPT_SEQUENCE_LENGTH),
    SYN(OPT_SEQUENCE_LENGTH_VARIATION),
    SYN(OPT_SEQUENCE_ID_RANGE),
    SYN(OPT_STRING_LENGTH),
    SYN(OPT_STRING_DATA),
    SYN(OPT_INPUT_TENSOR_FORMAT),
    SYN(OPT_OUTPUT_TENSOR_FORMAT),
    TEXT("\tDEPRECATED OPTIONS"),
    SYN(OPT_DEPRECATED_Z),
    SYN(OPT_DATA_DIRECTORY),
    TEXT(""),
    TEXT("III. SERVER DETAILS: "),
    SYN(OPT_URL),
    SYN(OPT_PROTOCOL),
    SYN(OPT_SSL_GRPC_USE_SSL),
    SYN(OPT_SSL_GRPC_ROOT_CERTS),
    SYN(OPT_SSL_GRPC_PRIVATE_KEY),
    SYN(OPT_SSL_GRPC_CERT_CHAIN),
    SYN(OPT_SSL_HTTPS_VERIFY_PEER),
    SYN(OPT_SSL_HTTPS_VERIFY_HOST),
    SYN(OPT_SSL_HTTPS_CA_CERTS),
    SYN(OPT_SSL_HTTPS_CLIENT_CERT),
    SYN(OPT_SSL_HTTPS_CLIENT_CERT_TYPE),
    SYN(OPT_SSL_HTTPS_PRIVATE_KEY),
    SYN(OPT_SSL_HTTPS_PRIVATE_KEY_TYPE),
    TEXT(""),
    TEXT("IV. OTHER OPTIONS: "),
    SYN(OPT_CSV_FILE),
    SYN(OPT_PROFILE_EXPORT_FILE),
    SYN(OPT_HEADER),
    SYN(OPT_STREAMING),
    SYN(OPT_GRPC_COMPRESSION),
    SYN(OPT_TRACE_FILE),
    SYN(OPT_TRACE_LEVEL),
    SYN(OPT_TRACE_RATE),
    SYN(OPT_TRACE_COUNT),
    SYN(OPT_LOG_FREQUENCY),
    SYN(OPT_COLLECT_METRICS),
    SYN(OPT_METRICS_URL),
    SYN(OPT_METRICS_INTERVAL),
    TEXT(""),
    TEXT("==== OPTIONS ==== "),
    TEXT(" "),
    HELP(OPT_VERSION),
    HELP(OPT_SERVICE_KIND),
    HELP(OPT_MODEL_NAME),
    HELP(OPT_MODEL_VERSION),
    HELP(OPT_MODEL_SIGNATURE_NAME),
    HELP(OPT_VERBOSE),
    HELP_TEXT(&extra_verbose_help),
    TEXT(""),
    TEXT("I. MEASUREMENT PARAMETERS: "),
    HELP(OPT_ASYNC),
    HELP(OPT_SYNC),
    HELP(OPT_MEASUREMENT_INTERVAL),
    HELP(OPT_MEASUREMENT_MODE),
    HELP(OPT_MEASUREMENT_REQUEST_COUNT),
    HELP(OPT_CONCURRENCY_RANGE),
    HELP(OPT_PERIODIC_CONCURRENCY_RANGE),
    HELP(OPT_REQUEST_PERIOD),
    HELP(OPT_REQUEST_PARAMETER),
    HELP(OPT_REQUEST_RATE_RANGE),
    HELP(OPT_REQUEST_DISTRIBUTION),
    HELP(OPT_REQUEST_INTERVALS),
    HELP(OPT_BINARY_SEARCH),
    HELP(OPT_NUM_OF_SEQUENCES),
    HELP(OPT_LATENCY_THRESHOLD),
    HELP(OPT_MAX_THREADS),
    HELP(OPT_STABILITY_PERCENTAGE),
    HELP(OPT_MAX_TRIALS),
    HELP(OPT_PERCENTILE),
    HELP(OPT_SERIAL_SEQUENCES),
    TEXT(""),
    TEXT("II. INPUT DATA OPTIONS: "),
    HELP(OPT_BATCH_SIZE),
    HELP(OPT_INPUT_DATA),
    HELP(OPT_SHARED_MEMORY),
    HELP(OPT_OUTPUT_SHM_SIZE),
    HELP(OPT_SHAPE),
    HELP(OPT_SEQUENCE_LENGTH),
    HELP(OPT_SEQUENCE_LENGTH_VARIATION),
    HELP(OPT_SEQUENCE_ID_RANGE),
    HELP(OPT_STRING_LENGTH),
    HELP(OPT_STRING_DATA),
    HELP(OPT_INPUT_TENSOR_FORMAT),
    HELP(OPT_OUTPUT_TENSOR_FORMAT),
    TEXT(""),
    TEXT("III. SERVER DETAILS: "),
    HELP(OPT_URL),
    HELP(OPT_PROTOCOL),
    HELP(OPT_SSL_GRPC_USE_SSL),
    HELP(OPT_SSL_GRPC_ROOT_CERTS),
    HELP(OPT_SSL_GRPC_PRIVATE_KEY),
    HELP(OPT_SSL_GRPC_CERT_CHAIN),
    HELP(OPT_SSL_HTTPS_VERIFY_PEER),
    HELP(OPT_SSL_HTTPS_VERIFY_HOST),
    HELP(OPT_SSL_HTTPS_CA_CERTS),
    HELP(OPT_SSL_HTTPS_CLIENT_CERT),
    HELP(OPT_SSL_HTTPS_CLIENT_CERT_TYPE),
    HELP(OPT_SSL_HTTPS_PRIVATE_KEY),
    HELP(OPT_SSL_HTTPS_PRIVATE_KEY_TYPE),
    TEXT(""),
    TEXT("IV. OTHER OPTIONS: "),
    HELP(OPT_CSV_FILE),
    HELP(OPT_PROFILE_EXPORT_FILE),
    HELP(OPT_HEADER),
    HELP(OPT_STREAMING),
    HELP(OPT_GRPC_COMPRESSION),
    HELP(OPT_TRACE_FILE),
    HELP(OPT_TRACE_LEVEL),
    HELP(OPT_TRACE_RATE),
    HELP(OPT_TRACE_COUNT),
    HELP(OPT_LOG_FREQUENCY),
    HELP(OPT_TRITON_SERVER_DIRECTORY),
    HELP(OPT_MODEL_REPOSITORY),
    HELP(OPT_VERBOSE_CSV),
    HELP(OPT_COLLECT_METRICS),
    HELP(OPT_METRICS_URL),
    HELP(OPT_METRICS_INTERVAL),
    HELP(OPT_BLS_COMPOSING_MODELS),
};

/* Writes text wrapped with the original's rule (see the top of this file). */
static void put_wrapped(FILE *out, const char *text, size_t offset)
{
    enum { WIDTH = 60, BREAK_LEN = 3 }; /* a break is "\n\t ", replacing one space */
    size_t len = strlen(text);
    /* Each break adds 2 bytes, and breaks are at least 70 bytes of offset apart. */
    char *s = xmalloc(len + 2 * (len / 35 + 2) + 1);
    memcpy(s, text, len + 1);

    for (size_t pos = offset; pos + WIDTH < len; pos += WIDTH + 10) {
        size_t n = pos + WIDTH + 1;
        while (n > 0 && s[n - 1] != ' ')
            n--;
        if (n == 0)
            break; /* no space at all: the original would loop forever here */
        n--;
        memmove(s + n + BREAK_LEN, s + n + 1, len - n); /* includes the NUL */
        memcpy(s + n, "\n\t ", BREAK_LEN);
        len += BREAK_LEN - 1;
    }
    fputs(s, out);
    free(s);
}

static void put_help(FILE *out, const struct opt_help *h)
{
    if (h->layout == HELP_INLINE) {
        char *whole = xasprintf("%s%s", h->label, h->text);
        put_wrapped(out, whole, (size_t)h->offset);
        free(whole);
    } else {
        fprintf(out, "%-*s", h->offset, h->label);
        put_wrapped(out, h->text, (size_t)h->offset);
    }
    fputc('\n', out);
}

void options_usage(FILE *out, const char *argv0)
{
    fprintf(out, "Usage: %s [options]\n", argv0 ? argv0 : "perf_analyzer");
    for (size_t i = 0; i < sizeof(usage_doc) / sizeof(usage_doc[0]); i++) {
        const struct usage_row *r = &usage_doc[i];
        switch (r->kind) {
        case ROW_TEXT:
            fprintf(out, "%s\n", r->text);
            break;
        case ROW_SYNOPSIS:
            fprintf(out, "\t%s\n", opt_table[r->id].synopsis);
            break;
        case ROW_HELP:
            put_help(out, &opt_table[r->id].help);
            break;
        case ROW_HELP_TEXT:
            put_help(out, r->help);
            break;
        }
    }
}
