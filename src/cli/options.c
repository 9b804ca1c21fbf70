/*
 * Command-line parsing: the option table and what each option does.
 *
 * One table (opt_table) describes every option of perf_analyzer r23.10: its
 * long and short names, whether it takes a value, the handler that converts
 * and range-checks the value, and its two entries in the usage text (the
 * synopsis line and the description). getopt.c scans argv with GNU rules,
 * the handlers below fill struct pa_options, and verify.c then derives the
 * defaults and runs the cross-option checks. usage.c prints the help from
 * the same table.
 *
 * Options are handled left to right and the first error wins, as in the
 * original, so an earlier bad option is reported before a later one and
 * --version only counts if nothing before it failed. All messages are the
 * original's words (spec 01-cli.md §2), hence their capitals and periods.
 */
#include "cli/options.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/getopt.h"
#include "cli/numparse.h"
#include "cli/options-internal.h"
#include "core/xalloc.h"

#include "core/banned.h"

/* ---- small helpers shared by the handlers ---- */

static bool *bool_field(struct pa_options *o, size_t off)
{
    return (bool *)(void *)((char *)o + off);
}

static char **str_field(struct pa_options *o, size_t off)
{
    return (char **)(void *)((char *)o + off);
}

static uint64_t *u64_field(struct pa_options *o, size_t off)
{
    return (uint64_t *)(void *)((char *)o + off);
}

static void replace_str(char **slot, const char *value)
{
    free(*slot);
    *slot = xstrdup(value);
}

static void mark_given(struct parse_state *ps, const struct opt_def *def)
{
    if (def->given_field != NO_FIELD)
        *bool_field(ps->o, def->given_field) = true;
}

/* The original's catch-all for std::invalid_argument (and, our fix, out_of_range). */
static int invalid_value(const struct parse_state *ps, const char *arg, struct pa_err *err)
{
    return pa_errorf(err, PA_EUSAGE, "Failed to parse %s. Invalid value provided: %s", ps->optname,
                     arg);
}

static int usage_error(const char *msg, struct pa_err *err)
{
    return pa_errorf(err, PA_EUSAGE, "%s", msg);
}

static int unsupported(const struct opt_def *def, const char *arg, struct pa_err *err)
{
    return pa_errorf(err, PA_EUSAGE, "Failed to parse --%s. Unsupported type provided: '%s'. %s",
                     def->long_name, arg, def->msg);
}

static int parse_i64(const struct parse_state *ps, const char *text, const char *arg, int64_t *out,
                     struct pa_err *err)
{
    if (num_stoll(text, out) != NUM_OK)
        return invalid_value(ps, arg, err);
    return PA_OK;
}

static int parse_u64(const struct parse_state *ps, const char *text, const char *arg, uint64_t *out,
                     struct pa_err *err)
{
    if (num_stoull(text, out) != NUM_OK)
        return invalid_value(ps, arg, err);
    return PA_OK;
}

static int parse_double(const struct parse_state *ps, const char *text, const char *arg,
                        double *out, struct pa_err *err)
{
    if (num_stod(text, out) != NUM_OK)
        return invalid_value(ps, arg, err);
    return PA_OK;
}

/* Index of arg in names (NULL-terminated), or -1. */
static int choice(const char *arg, const char *const *names, bool ignore_case)
{
    for (int i = 0; names[i]; i++)
        if (ignore_case ? strcasecmp(arg, names[i]) == 0 : strcmp(arg, names[i]) == 0)
            return i;
    return -1;
}

static bool is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Splits text at every `sep`, like the original's SplitString: n separators
 * always give n + 1 parts, so "4:" is {"4", ""}. Returns a NULL-terminated
 * array of copies; free with free_parts().
 */
static char **split(const char *text, char sep, size_t *n_parts)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == sep;
    char **parts = xcalloc(n + 1, sizeof(*parts));
    const char *start = text;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(start, sep);
        size_t len = end ? (size_t)(end - start) : strlen(start);
        parts[i] = xstrndup(start, len);
        start += len + 1;
    }
    *n_parts = n;
    return parts;
}

static void free_parts(char **parts)
{
    if (!parts)
        return;
    for (size_t i = 0; parts[i]; i++)
        free(parts[i]);
    free(parts);
}

/* ---- generic handlers (field, given_field and msg come from the table) ---- */

static int h_flag(struct parse_state *ps, const struct opt_def *def, const char *arg,
                  struct pa_err *err)
{
    (void)arg;
    (void)err;
    *bool_field(ps->o, def->field) = true;
    return PA_OK;
}

static int h_string(struct parse_state *ps, const struct opt_def *def, const char *arg,
                    struct pa_err *err)
{
    (void)err;
    replace_str(str_field(ps->o, def->field), arg);
    mark_given(ps, def);
    return PA_OK;
}

/* An integer that must be > 0 (def->msg otherwise). */
static int h_positive(struct parse_state *ps, const struct opt_def *def, const char *arg,
                      struct pa_err *err)
{
    int64_t v;
    int rc = parse_i64(ps, arg, arg, &v, err);
    if (rc)
        return rc;
    if (v <= 0)
        return usage_error(def->msg, err);
    *u64_field(ps->o, def->field) = (uint64_t)v;
    mark_given(ps, def);
    return PA_OK;
}

/* A path that must name an existing regular file (def->msg otherwise). */
static int h_file(struct parse_state *ps, const struct opt_def *def, const char *arg,
                  struct pa_err *err)
{
    if (!is_regular_file(arg))
        return usage_error(def->msg, err);
    replace_str(str_field(ps->o, def->field), arg);
    return PA_OK;
}

/* ---- option-specific handlers ---- */

static int h_version(struct parse_state *ps, const struct opt_def *def, const char *arg,
                     struct pa_err *err)
{
    (void)def;
    (void)arg;
    (void)err;
    ps->version_requested = true;
    return PA_OK;
}

static int h_verbose(struct parse_state *ps, const struct opt_def *def, const char *arg,
                     struct pa_err *err)
{
    (void)def;
    (void)arg;
    (void)err;
    if (ps->o->verbose < 2) /* a third -v changes nothing */
        ps->o->verbose++;
    return PA_OK;
}

static int h_service_kind(struct parse_state *ps, const struct opt_def *def, const char *arg,
                          struct pa_err *err)
{
    static const char *const names[] = {"triton", "tfserving", "torchserve", "triton_c_api", NULL};
    static const enum pa_service_kind kinds[] = {PA_SK_TRITON, PA_SK_TFSERVING, PA_SK_TORCHSERVE,
                                                 PA_SK_TRITON_C_API};
    int i = choice(arg, names, false);
    if (i < 0)
        return unsupported(def, arg, err);
    ps->o->service_kind = kinds[i];
    return PA_OK;
}

/* name[:version][,name[:version]...], white space anywhere ignored. */
static int h_bls_composing(struct parse_state *ps, const struct opt_def *def, const char *arg,
                           struct pa_err *err)
{
    struct pa_options *o = ps->o;
    (void)def;
    (void)err;

    char *compact = xmalloc(strlen(arg) + 1);
    size_t len = 0;
    for (const char *p = arg; *p; p++)
        if (!isspace((unsigned char)*p))
            compact[len++] = *p;
    compact[len] = '\0';

    for (size_t i = 0; i < o->n_bls_composing; i++) {
        free(o->bls_composing[i].name);
        free(o->bls_composing[i].version);
    }
    free(o->bls_composing);

    size_t n;
    char **items = split(compact, ',', &n);
    o->bls_composing = xcalloc(n, sizeof(*o->bls_composing));
    o->n_bls_composing = n;
    for (size_t i = 0; i < n; i++) {
        char *colon = strchr(items[i], ':');
        if (colon) {
            o->bls_composing[i].name = xstrndup(items[i], (size_t)(colon - items[i]));
            o->bls_composing[i].version = xstrdup(colon + 1);
        } else {
            o->bls_composing[i].name = xstrdup(items[i]);
            o->bls_composing[i].version = xstrdup("");
        }
    }
    free_parts(items);
    free(compact);
    return PA_OK;
}

static int h_async(struct parse_state *ps, const struct opt_def *def, const char *arg,
                   struct pa_err *err)
{
    (void)def;
    (void)arg;
    (void)err;
    ps->o->async = true;
    ps->o->async_given = true;
    return PA_OK;
}

static int h_measurement_mode(struct parse_state *ps, const struct opt_def *def, const char *arg,
                              struct pa_err *err)
{
    static const char *const names[] = {"time_windows", "count_windows", NULL};
    int i = choice(arg, names, false);
    if (i < 0)
        return unsupported(def, arg, err);
    ps->o->measurement_mode = i == 0 ? PA_MEASURE_TIME_WINDOWS : PA_MEASURE_COUNT_WINDOWS;
    return PA_OK;
}

/*
 * start[:end[:step]] of unsigned integers; parts not given keep their current
 * value. Step 0 made the original loop forever on 'start': we reject it.
 */
static int h_concurrency_range(struct parse_state *ps, const struct opt_def *def, const char *arg,
                               struct pa_err *err)
{
    struct pa_options *o = ps->o;
    uint64_t *slots[] = {&o->concurrency_start, &o->concurrency_end, &o->concurrency_step};
    size_t n;
    int rc = PA_OK;
    (void)def;

    o->concurrency_range_given = true;
    char **parts = split(arg, ':', &n);
    if (n > 3) {
        rc = usage_error("Failed to parse --concurrency-range. The value does not match "
                         "<start:end:step>.",
                         err);
        goto out;
    }
    for (size_t i = 0; i < n && rc == PA_OK; i++)
        rc = parse_u64(ps, parts[i], arg, slots[i], err);
    if (rc == PA_OK && o->concurrency_step == 0)
        rc = usage_error("Failed to parse --concurrency-range. The <step> value must be > 0.", err);
out:
    free_parts(parts);
    return rc;
}

static int h_periodic_range(struct parse_state *ps, const struct opt_def *def, const char *arg,
                            struct pa_err *err)
{
    struct pa_options *o = ps->o;
    uint64_t *slots[] = {&o->periodic_start, &o->periodic_end, &o->periodic_step};
    size_t n;
    int rc = PA_OK;
    (void)def;

    ps->periodic_given = true;
    char **parts = split(arg, ':', &n);
    if (n < 2) {
        rc = usage_error("Failed to parse --periodic-concurrency-range. Both <start> and <end> "
                         "values must be provided.",
                         err);
        goto out;
    }
    if (n > 3) {
        rc = usage_error("Failed to parse --periodic-concurrency-range. The value does not "
                         "match <start:end:step>.",
                         err);
        goto out;
    }
    for (size_t i = 0; i < n && rc == PA_OK; i++)
        rc = parse_u64(ps, parts[i], arg, slots[i], err);
    if (rc)
        goto out;
    if (o->periodic_step == 0)
        rc = usage_error("Failed to parse --periodic-concurrency-range. The <step> value must "
                         "be > 0.",
                         err);
    else if (o->periodic_start > o->periodic_end)
        rc = usage_error("Failed to parse --periodic-concurrency-range. The <start> must be <= "
                         "<end>.",
                         err);
    else if ((o->periodic_end - o->periodic_start) % o->periodic_step != 0)
        rc = usage_error("Failed to parse --periodic-concurrency-range. The <step> value must "
                         "be a factor of the range size (<end> - <start>).",
                         err);
out:
    free_parts(parts);
    return rc;
}

static enum pa_param_type param_type(const char *type)
{
    if (strcmp(type, "string") == 0)
        return PA_PARAM_STRING;
    if (strcmp(type, "int") == 0)
        return PA_PARAM_INT;
    if (strcmp(type, "bool") == 0)
        return PA_PARAM_BOOL;
    return PA_PARAM_OTHER;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* name:value:type, all lower-cased; kept sorted by name, a repeated name overwrites. */
static int h_request_parameter(struct parse_state *ps, const struct opt_def *def, const char *arg,
                               struct pa_err *err)
{
    struct pa_options *o = ps->o;
    size_t n;
    (void)def;

    char **parts = split(arg, ':', &n);
    if (n != 3) {
        free_parts(parts);
        return usage_error("Failed to parse --request-parameter. The value does not match "
                           "<name:value:type>.",
                           err);
    }
    for (size_t i = 0; i < 3; i++)
        lower(parts[i]);

    size_t at = 0;
    while (at < o->n_request_params && strcmp(o->request_params[at].name, parts[0]) < 0)
        at++;
    struct pa_request_param *p;
    if (at < o->n_request_params && strcmp(o->request_params[at].name, parts[0]) == 0) {
        p = &o->request_params[at];
        free(p->name);
        free(p->value);
        free(p->type_text);
    } else {
        o->request_params =
            xreallocarray(o->request_params, o->n_request_params + 1, sizeof(*o->request_params));
        memmove(&o->request_params[at + 1], &o->request_params[at],
                (o->n_request_params - at) * sizeof(*o->request_params));
        o->n_request_params++;
        p = &o->request_params[at];
    }
    p->name = parts[0];
    p->value = parts[1];
    p->type_text = parts[2];
    p->type = param_type(p->type_text);
    free(parts); /* the strings now belong to p */
    return PA_OK;
}

static int h_request_rate_range(struct parse_state *ps, const struct opt_def *def, const char *arg,
                                struct pa_err *err)
{
    struct pa_options *o = ps->o;
    double *slots[] = {&o->rate_start, &o->rate_end, &o->rate_step};
    size_t n;
    int rc = PA_OK;
    (void)def;

    ps->rate_range_given = true;
    char **parts = split(arg, ':', &n);
    if (n > 3)
        rc = usage_error("Failed to parse --request-rate-range. The value does not match "
                         "<start:end:step>.",
                         err);
    for (size_t i = 0; i < n && rc == PA_OK; i++)
        rc = parse_double(ps, parts[i], arg, slots[i], err);
    free_parts(parts);
    return rc;
}

static int h_request_distribution(struct parse_state *ps, const struct opt_def *def,
                                  const char *arg, struct pa_err *err)
{
    static const char *const names[] = {"poisson", "constant", NULL};
    int i = choice(arg, names, false);
    if (i < 0)
        return unsupported(def, arg, err);
    ps->o->request_distribution = i == 0 ? PA_DIST_POISSON : PA_DIST_CONSTANT;
    return PA_OK;
}

static int h_binary_search(struct parse_state *ps, const struct opt_def *def, const char *arg,
                           struct pa_err *err)
{
    (void)def;
    (void)arg;
    (void)err;
    ps->o->search_mode = PA_SEARCH_BINARY;
    return PA_OK;
}

static int h_latency_threshold(struct parse_state *ps, const struct opt_def *def, const char *arg,
                               struct pa_err *err)
{
    int64_t v;
    int rc = parse_i64(ps, arg, arg, &v, err);
    if (rc)
        return rc;
    if (v < 0)
        return usage_error(def->msg, err);
    ps->o->latency_threshold_ms = (uint64_t)v;
    return PA_OK;
}

static int h_stability(struct parse_state *ps, const struct opt_def *def, const char *arg,
                       struct pa_err *err)
{
    double v;
    int rc = parse_double(ps, arg, arg, &v, err);
    if (rc)
        return rc;
    if (v < 0.0)
        return usage_error(def->msg, err);
    ps->o->stability_threshold = v / 100.0;
    return PA_OK;
}

static int h_percentile(struct parse_state *ps, const struct opt_def *def, const char *arg,
                        struct pa_err *err)
{
    (void)def;
    (void)err;
    ps->o->percentile = num_atoi(arg); /* checked in verify.c, as the original did */
    return PA_OK;
}

static void add_input_path(struct pa_options *o, const char *path)
{
    o->input_data_paths =
        xreallocarray(o->input_data_paths, o->n_input_data_paths + 1, sizeof(*o->input_data_paths));
    o->input_data_paths[o->n_input_data_paths++] = xstrdup(path);
}

/* An existing file or directory is taken first, so a file named "zero" wins. */
static int h_input_data(struct parse_state *ps, const struct opt_def *def, const char *arg,
                        struct pa_err *err)
{
    if (is_directory(arg) || is_regular_file(arg))
        add_input_path(ps->o, arg);
    else if (strcmp(arg, "zero") == 0)
        ps->zero_input = true;
    else if (strcmp(arg, "random") != 0)
        return unsupported(def, arg, err);
    return PA_OK;
}

static int h_data_directory(struct parse_state *ps, const struct opt_def *def, const char *arg,
                            struct pa_err *err)
{
    (void)def;
    (void)err;
    add_input_path(ps->o, arg);
    return PA_OK;
}

static int h_shared_memory(struct parse_state *ps, const struct opt_def *def, const char *arg,
                           struct pa_err *err)
{
    static const char *const names[] = {"system", "cuda", "none", NULL};
    static const enum pa_shm_kind kinds[] = {PA_SHM_SYSTEM, PA_SHM_CUDA, PA_SHM_NONE};
    int i = choice(arg, names, false);
    if (i < 0)
        return unsupported(def, arg, err);
    /*
     * CUDA support is decided at run time (the data module loads libcudart),
     * so this build behaves like the original built with TRITON_ENABLE_GPU.
     */
    ps->o->shared_memory = kinds[i];
    return PA_OK;
}

static int h_output_shm_size(struct parse_state *ps, const struct opt_def *def, const char *arg,
                             struct pa_err *err)
{
    int64_t v;
    int rc = parse_i64(ps, arg, arg, &v, err);
    if (rc)
        return rc;
    if (v < 0)
        return usage_error(def->msg, err);
    ps->o->output_shm_size = (uint64_t)v;
    return PA_OK;
}

static void free_shape(struct pa_shape_opt *s)
{
    free(s->name);
    free(s->dims);
}

/* name:d1,d2,... where name is everything before the last colon. */
static int h_shape(struct parse_state *ps, const struct opt_def *def, const char *arg,
                   struct pa_err *err)
{
    struct pa_options *o = ps->o;
    (void)def;

    const char *colon = strrchr(arg, ':');
    if (!colon)
        return usage_error("Failed to parse --shape. There must be a colon after input name.", err);
    size_t rank;
    char **dims_text = split(colon + 1, ',', &rank);
    int64_t *dims = xcalloc(rank, sizeof(*dims));
    for (size_t i = 0; i < rank; i++) {
        int rc = parse_i64(ps, dims_text[i], arg, &dims[i], err);
        if (rc == PA_OK && dims[i] <= 0)
            rc = usage_error("Failed to parse --shape. The dimensions of input tensor must be "
                             "> 0.",
                             err);
        if (rc) {
            free(dims);
            free_parts(dims_text);
            return rc;
        }
    }
    free_parts(dims_text);

    struct pa_shape_opt shape = {xstrndup(arg, (size_t)(colon - arg)), dims, rank};
    size_t at = 0;
    while (at < o->n_shapes && strcmp(o->shapes[at].name, shape.name) < 0)
        at++;
    if (at < o->n_shapes && strcmp(o->shapes[at].name, shape.name) == 0) {
        free_shape(&o->shapes[at]);
    } else {
        o->shapes = xreallocarray(o->shapes, o->n_shapes + 1, sizeof(*o->shapes));
        memmove(&o->shapes[at + 1], &o->shapes[at], (o->n_shapes - at) * sizeof(*o->shapes));
        o->n_shapes++;
    }
    o->shapes[at] = shape;
    return PA_OK;
}

static int h_sequence_length(struct parse_state *ps, const struct opt_def *def, const char *arg,
                             struct pa_err *err)
{
    int64_t v;
    int rc = parse_i64(ps, arg, arg, &v, err);
    (void)def;
    if (rc)
        return rc;
    if (v <= 0) {
        fputs("WARNING: The sequence length must be > 0. Perf Analyzer will use default value "
              "if it is measuring on sequence model.\n",
              ps->diag);
        v = 20;
    }
    ps->o->sequence_length = (uint64_t)v;
    ps->o->sequence_length_given = true;
    return PA_OK;
}

static int h_sequence_length_variation(struct parse_state *ps, const struct opt_def *def,
                                       const char *arg, struct pa_err *err)
{
    (void)def;
    return parse_double(ps, arg, arg, &ps->o->sequence_length_variation, err);
}

/*
 * start[:end]. With an end the ids are start..end-1. The original accepted
 * start == end (a range of 0 ids, then divided by it): we reject it with the
 * message the original uses for start > end, which states the rule exactly.
 */
static int h_sequence_id_range(struct parse_state *ps, const struct opt_def *def, const char *arg,
                               struct pa_err *err)
{
    int64_t v[2] = {0, 0};
    size_t n;
    int rc = PA_OK;
    (void)def;

    char **parts = split(arg, ':', &n);
    if (n > 2) {
        rc = usage_error("Failed to parse --sequence-id-range. The value does not match "
                         "<start:end>.",
                         err);
        goto out;
    }
    for (size_t i = 0; i < n && rc == PA_OK; i++)
        rc = parse_i64(ps, parts[i], arg, &v[i], err);
    if (rc)
        goto out;
    if (v[0] < 0 || v[1] < 0) {
        rc =
            usage_error("Failed to parse --sequence-id-range. The range values must be >= 0.", err);
    } else if (n == 2 && v[0] >= v[1]) {
        rc = usage_error("Failed to parse --sequence-id-range. The 'end' value must be greater "
                         "than 'start' value.",
                         err);
    } else {
        ps->o->sequence_id_start = (uint64_t)v[0];
        if (n == 2)
            ps->o->sequence_id_range = (uint64_t)(v[1] - v[0]);
    }
out:
    free_parts(parts);
    return rc;
}

static int h_tensor_format(struct parse_state *ps, const struct opt_def *def, const char *arg,
                           struct pa_err *err)
{
    static const char *const names[] = {"binary", "json", NULL};
    int i = choice(arg, names, true);
    if (i < 0)
        return unsupported(def, arg, err);
    enum pa_tensor_format f = i == 0 ? PA_FMT_BINARY : PA_FMT_JSON;
    if (def == &opt_table[OPT_INPUT_TENSOR_FORMAT])
        ps->o->input_tensor_format = f;
    else
        ps->o->output_tensor_format = f;
    return PA_OK;
}

static int h_url(struct parse_state *ps, const struct opt_def *def, const char *arg,
                 struct pa_err *err)
{
    (void)def;
    (void)err;
    replace_str(&ps->o->url, arg);
    ps->o->url_given = true;
    return PA_OK;
}

/* Anything but http/grpc is reported later (verify.c), as the original did. */
static int h_protocol(struct parse_state *ps, const struct opt_def *def, const char *arg,
                      struct pa_err *err)
{
    (void)def;
    (void)err;
    if (strcasecmp(arg, "http") == 0)
        ps->o->protocol = PA_PROTO_HTTP;
    else if (strcasecmp(arg, "grpc") == 0)
        ps->o->protocol = PA_PROTO_GRPC;
    else
        ps->o->protocol = PA_PROTO_UNKNOWN;
    return PA_OK;
}

static int h_verify_peer(struct parse_state *ps, const struct opt_def *def, const char *arg,
                         struct pa_err *err)
{
    long v = num_atol(arg);
    if (v != 0 && v != 1)
        return usage_error(def->msg, err);
    ps->o->ssl_https_verify_peer = v;
    return PA_OK;
}

static int h_verify_host(struct parse_state *ps, const struct opt_def *def, const char *arg,
                         struct pa_err *err)
{
    long v = num_atol(arg);
    if (v < 0 || v > 2)
        return usage_error(def->msg, err);
    ps->o->ssl_https_verify_host = v;
    return PA_OK;
}

static int h_cert_type(struct parse_state *ps, const struct opt_def *def, const char *arg,
                       struct pa_err *err)
{
    static const char *const names[] = {"PEM", "DER", NULL};
    int i = choice(arg, names, false);
    if (i < 0)
        return unsupported(def, arg, err);
    enum pa_cert_type t = i == 0 ? PA_CERT_PEM : PA_CERT_DER;
    if (def == &opt_table[OPT_SSL_HTTPS_CLIENT_CERT_TYPE])
        ps->o->ssl_https_client_cert_type = t;
    else
        ps->o->ssl_https_private_key_type = t;
    return PA_OK;
}

static int h_profile_export_file(struct parse_state *ps, const struct opt_def *def, const char *arg,
                                 struct pa_err *err)
{
    struct stat st;
    if (stat(arg, &st) == 0)
        return usage_error(def->msg, err);
    replace_str(&ps->o->profile_export_file, arg);
    return PA_OK;
}

/*
 * Name:Value split at the first colon, value kept verbatim; sorted by name,
 * a repeated name overwrites. A value without a colon crashed the original.
 */
static int h_header(struct parse_state *ps, const struct opt_def *def, const char *arg,
                    struct pa_err *err)
{
    struct pa_options *o = ps->o;
    (void)def;

    const char *colon = strchr(arg, ':');
    if (!colon)
        return usage_error("Failed to parse -H. The header must be specified as "
                           "'Header:Value'.",
                           err);
    char *name = xstrndup(arg, (size_t)(colon - arg));
    size_t at = 0;
    while (at < o->n_headers && strcmp(o->headers[at].name, name) < 0)
        at++;
    if (at < o->n_headers && strcmp(o->headers[at].name, name) == 0) {
        free(name);
        replace_str(&o->headers[at].value, colon + 1);
        return PA_OK;
    }
    o->headers = xreallocarray(o->headers, o->n_headers + 1, sizeof(*o->headers));
    memmove(&o->headers[at + 1], &o->headers[at], (o->n_headers - at) * sizeof(*o->headers));
    o->n_headers++;
    o->headers[at].name = name;
    o->headers[at].value = xstrdup(colon + 1);
    return PA_OK;
}

static int h_grpc_compression(struct parse_state *ps, const struct opt_def *def, const char *arg,
                              struct pa_err *err)
{
    static const char *const names[] = {"none", "gzip", "deflate", NULL};
    static const enum pa_compression algos[] = {PA_COMPRESS_NONE, PA_COMPRESS_GZIP,
                                                PA_COMPRESS_DEFLATE};
    int i = choice(arg, names, false);
    if (i < 0)
        return unsupported(def, arg, err);
    ps->o->grpc_compression = algos[i];
    ps->o->grpc_compression_given = true; /* even "none": the gRPC-only check applies */
    return PA_OK;
}

static int h_trace_level(struct parse_state *ps, const struct opt_def *def, const char *arg,
                         struct pa_err *err)
{
    static const char *const names[] = {"OFF", "TIMESTAMPS", "TENSORS", NULL};
    if (choice(arg, names, false) < 0)
        return unsupported(def, arg, err);
    replace_str(&ps->o->trace_level, arg); /* the help says repeatable; the last one wins */
    return PA_OK;
}

static int h_trace_count(struct parse_state *ps, const struct opt_def *def, const char *arg,
                         struct pa_err *err)
{
    int64_t v;
    int rc = parse_i64(ps, arg, arg, &v, err);
    if (rc)
        return rc;
    if (v < -1)
        return usage_error(def->msg, err);
    ps->o->trace_count = v;
    ps->o->trace_count_given = true;
    return PA_OK;
}

static int h_log_frequency(struct parse_state *ps, const struct opt_def *def, const char *arg,
                           struct pa_err *err)
{
    int64_t v;
    int rc = parse_i64(ps, arg, arg, &v, err);
    if (rc)
        return rc;
    if (v < 0)
        return usage_error(def->msg, err);
    ps->o->log_frequency = v;
    ps->o->log_frequency_given = true;
    return PA_OK;
}

static int h_deprecated_t(struct parse_state *ps, const struct opt_def *def, const char *arg,
                          struct pa_err *err)
{
    (void)def;
    (void)err;
    ps->deprecated_t = num_atoi(arg);
    ps->o->deprecated_used = true;
    return PA_OK;
}

static int h_deprecated_c(struct parse_state *ps, const struct opt_def *def, const char *arg,
                          struct pa_err *err)
{
    (void)def;
    (void)err;
    ps->deprecated_c = num_atoi(arg);
    ps->o->deprecated_used = true;
    return PA_OK;
}

static int h_deprecated_d(struct parse_state *ps, const struct opt_def *def, const char *arg,
                          struct pa_err *err)
{
    (void)def;
    (void)arg;
    (void)err;
    ps->deprecated_d = true;
    ps->o->deprecated_used = true;
    return PA_OK;
}

static int h_zero_input(struct parse_state *ps, const struct opt_def *def, const char *arg,
                        struct pa_err *err)
{
    (void)def;
    (void)arg;
    (void)err;
    ps->zero_input = true;
    return PA_OK;
}

/* ---- the table ---- */

// clang-format off

#define F(member) offsetof(struct pa_options, member)
#define INLINE(label, text) { HELP_INLINE, 18, label, text }
#define COLUMN(width, label, text) { HELP_COLUMN, width, label, text }
#define NO_HELP { HELP_NONE, 0, NULL, NULL }

/* Every entry sets given_field; designated initializers would default it to 0. */
const struct opt_def opt_table[OPT_COUNT] = {
    [OPT_STREAMING] = {
        "streaming", 0, false, h_flag, F(streaming), NO_FIELD, NULL,
        "--streaming",
        INLINE(" --streaming: ",
               "Enables the use of streaming API. This flag is only valid with gRPC protocol. "
               "By default, it is set false."),
    },
    [OPT_MAX_THREADS] = {
        "max-threads", 0, true, h_positive, F(max_threads), F(max_threads_given),
        "Failed to parse --max-threads. The value must be > 0.",
        "--max-threads <thread counts>",
        INLINE(" --max-threads: ",
               "Sets the maximum number of threads that will be created for providing desired "
               "concurrency or request rate. However, when runningin synchronous mode with "
               "concurrency-range having explicit 'end' specification,this value will be "
               "ignored. Default is 4 if --request-rate-range is specified otherwise default is "
               "16."),
    },
    [OPT_SEQUENCE_LENGTH] = {
        "sequence-length", 0, true, h_sequence_length, 0, NO_FIELD, NULL,
        "--sequence-length <length>",
        INLINE(" --sequence-length: ",
               "Indicates the base length of a sequence used for sequence models. A sequence "
               "with length X will be composed of X requests to be sent as the elements in the "
               "sequence. The actual length of the sequencewill be within +/- Y% of the base "
               "length, where Y defaults to 20% and is customizable via "
               "`--sequence-length-variation`. If sequence length is unspecified and input data "
               "is provided, the sequence length will be the number of inputs in the "
               "user-provided input data. Default is 20."),
    },
    [OPT_PERCENTILE] = {
        "percentile", 0, true, h_percentile, 0, NO_FIELD, NULL,
        "--percentile <percentile>",
        INLINE(" --percentile: ",
               "Indicates the confidence value as a percentile that will be used to determine "
               "if a measurement is stable. For example, a value of 85 indicates that the 85th "
               "percentile latency will be used to determine stability. The percentile will "
               "also be reported in the results. The default is -1 indicating that the average "
               "latency is used to determine stability"),
    },
    [OPT_DATA_DIRECTORY] = {
        "data-directory", 0, true, h_data_directory, 0, NO_FIELD, NULL,
        "--data-directory <path>",
        NO_HELP,
    },
    [OPT_SHAPE] = {
        "shape", 0, true, h_shape, 0, NO_FIELD, NULL,
        "--shape <name:shape>",
        INLINE(" --shape: ",
               "The shape used for the specified input. The argument must be specified as "
               "'name:shape' where the shape is a comma-separated list for dimension sizes, for "
               "example '--shape input_name:1,2,3' indicate tensor shape [ 1, 2, 3 ]. --shape "
               "may be specified multiple times to specify shapes for different inputs."),
    },
    [OPT_MEASUREMENT_INTERVAL] = {
        "measurement-interval", 'p', true, h_positive, F(measurement_interval_ms), NO_FIELD,
        "Failed to parse --measurement-interval (-p). The value must be > 0 msec.",
        "--measurement-interval (-p) <measurement window (in msec)>",
        INLINE(" --measurement-interval (-p): ",
               "Indicates the time interval used for each measurement in milliseconds. The perf "
               "analyzer will sample a time interval specified by -p and take measurement over "
               "the requests completed within that time interval. The default value is 5000 "
               "msec."),
    },
    [OPT_CONCURRENCY_RANGE] = {
        "concurrency-range", 0, true, h_concurrency_range, 0, NO_FIELD, NULL,
        "--concurrency-range <start:end:step>",
        INLINE(" --concurrency-range <start:end:step>: ",
               "Determines the range of concurrency levels covered by the perf_analyzer. The "
               "perf_analyzer will start from the concurrency level of 'start' and go till "
               "'end' with a stride of 'step'. The default value of 'end' and 'step' are 1. If "
               "'end' is not specified then perf_analyzer will run for a single concurrency "
               "level determined by 'start'. If 'end' is set as 0, then the concurrency limit "
               "will be incremented by 'step' till latency threshold is met. 'end' and "
               "--latency-threshold can not be both 0 simultaneously. 'end' can not be 0 for "
               "sequence models while using asynchronous mode."),
    },
    [OPT_LATENCY_THRESHOLD] = {
        "latency-threshold", 'l', true, h_latency_threshold, 0, NO_FIELD,
        "Failed to parse --latency-threshold (-l). The value must be >= 0 msecs.",
        "--latency-threshold (-l) <latency threshold (in msec)>",
        INLINE(" --latency-threshold (-l): ",
               "Sets the limit on the observed latency. Analyzer will terminate the concurrency "
               "search once the measured latency exceeds this threshold. By default, latency "
               "threshold is set 0 and the perf_analyzer will run for entire "
               "--concurrency-range."),
    },
    [OPT_STABILITY_PERCENTAGE] = {
        "stability-percentage", 's', true, h_stability, 0, NO_FIELD,
        "Failed to parse --stability-percentage (-s). The value must be >= 0.0.",
        "--stability-percentage (-s) <deviation threshold for stable measurement (in "
        "percentage)>",
        INLINE(" --stability-percentage (-s): ",
               "Indicates the allowed variation in latency measurements when determining if a "
               "result is stable. The measurement is considered as stable if the ratio of max / "
               "min from the recent 3 measurements is within (stability percentage)% in terms "
               "of both infer per second and latency. Default is 10(%)."),
    },
    [OPT_MAX_TRIALS] = {
        "max-trials", 'r', true, h_positive, F(max_trials), NO_FIELD,
        "Failed to parse --max-trials (-r). The value must be > 0.",
        "--max-trials (-r)  <maximum number of measurements for each profiling>",
        INLINE(" --max-trials (-r): ",
               "Indicates the maximum number of measurements for each concurrency level visited "
               "during search. The perf analyzer will take multiple measurements and report the "
               "measurement until it is stable. The perf analyzer will abort if the measurement "
               "is still unstable after the maximum number of measurements. The default value "
               "is 10."),
    },
    [OPT_INPUT_DATA] = {
        "input-data", 0, true, h_input_data, 0, NO_FIELD,
        "The available options are 'zero', 'random', path to a directory, or a json file.",
        "--input-data <\"zero\"|\"random\"|<path>>",
        INLINE(" --input-data: ",
               "Select the type of data that will be used for input in inference requests. The "
               "available options are \"zero\", \"random\", path to a directory or a json file. If "
               "the option is path to a directory then the directory must contain a binary/text "
               "file for each non-string/string input respectively, named the same as the "
               "input. Each file must contain the data required for that input for a batch-1 "
               "request. Each binary file should contain the raw binary representation of the "
               "input in row-major order for non-string inputs. The text file should contain "
               "all strings needed by batch-1, each in a new line, listed in row-major order. "
               "When pointing to a json file, user must adhere to the format described in the "
               "Performance Analyzer documentation. By specifying json data users can control "
               "data used with every request. Multiple data streams can be specified for a "
               "sequence model and the analyzer will select a data stream in a round-robin "
               "fashion for every new sequence. Multiple json files can also be provided "
               "(--input-data json_file1 --input-data json-file2 and so on) and the analyzer "
               "will append data streams from each file. When using --service-kind=torchserve "
               "make sure this option points to a json file. Default is \"random\"."),
    },
    [OPT_STRING_LENGTH] = {
        "string-length", 0, true, h_positive, F(string_length), NO_FIELD,
        "Failed to parse --string-length. The value must be > 0",
        "--string-length <length>",
        INLINE(" --string-length: ",
               "Specifies the length of the random strings to be generated by the analyzer for "
               "string input. This option is ignored if --input-data points to a directory. "
               "Default is 128."),
    },
    [OPT_STRING_DATA] = {
        "string-data", 0, true, h_string, F(string_data), NO_FIELD, NULL,
        "--string-data <string>",
        INLINE(" --string-data: ",
               "If provided, analyzer will use this string to initialize string input buffers. "
               "The perf analyzer will replicate the given string to build tensors of required "
               "shape. --string-length will not have any effect. This option is ignored if "
               "--input-data points to a directory."),
    },
    [OPT_ASYNC] = {
        "async", 'a', false, h_async, 0, NO_FIELD, NULL,
        "--async (-a)",
        INLINE(" --async (-a): ",
               "Enables asynchronous mode in perf_analyzer. By default, perf_analyzer will use "
               "synchronous API to request inference. However, if the model is sequential then "
               "default mode is asynchronous. Specify --sync to operate sequential models in "
               "synchronous mode. In synchronous mode, perf_analyzer will start threads equal "
               "to the concurrency level. Use asynchronous mode to limit the number of threads, "
               "yet maintain the concurrency."),
    },
    [OPT_SYNC] = {
        "sync", 0, false, h_flag, F(sync_given), NO_FIELD, NULL,
        "--sync",
        INLINE(" --sync: ",
               "Force enables synchronous mode in perf_analyzer. Can be used to operate "
               "perf_analyzer with sequential model in synchronous mode."),
    },
    [OPT_REQUEST_RATE_RANGE] = {
        "request-rate-range", 0, true, h_request_rate_range, 0, NO_FIELD, NULL,
        "--request-rate-range <start:end:step>",
        INLINE(" --request-rate-range <start:end:step>: ",
               "Determines the range of request rates for load generated by analyzer. This "
               "option can take floating-point values. The search along the request rate range "
               "is enabled only when using this option. If not specified, then analyzer will "
               "search along the concurrency-range. The perf_analyzer will start from the "
               "request rate of 'start' and go till 'end' with a stride of 'step'. The default "
               "values of 'start', 'end' and 'step' are all 1.0. If 'end' is not specified then "
               "perf_analyzer will run for a single request rate as determined by 'start'. If "
               "'end' is set as 0.0, then the request rate will be incremented by 'step' till "
               "latency threshold is met. 'end' and --latency-threshold can not be both 0 "
               "simultaneously."),
    },
    [OPT_NUM_OF_SEQUENCES] = {
        "num-of-sequences", 0, true, h_positive, F(num_of_sequences), NO_FIELD,
        "Failed to parse --num-of-sequences. The value must be > 0.",
        "--num-of-sequences <number of concurrent sequences>",
        INLINE("--num-of-sequences: ",
               "Sets the number of concurrent sequences for sequence models. This option is "
               "ignored when --request-rate-range is not specified. By default, its value is 4."),
    },
    [OPT_BINARY_SEARCH] = {
        "binary-search", 0, false, h_binary_search, 0, NO_FIELD, NULL,
        "--binary-search",
        INLINE("--binary-search: ",
               "Enables the binary search on the specified search range. This option requires "
               "'start' and 'end' to be expilicitly specified in the --concurrency-range or "
               "--request-rate-range. When using this option, 'step' is more like the "
               "precision. Lower the 'step', more the number of iterations along the search "
               "path to find suitable convergence. By default, linear search is used."),
    },
    [OPT_REQUEST_DISTRIBUTION] = {
        "request-distribution", 0, true, h_request_distribution, 0, NO_FIELD,
        "Choices are 'posson' or 'constant'.",
        "--request-distribution <\"poisson\"|\"constant\">",
        INLINE(" --request-distribution <\"poisson\"|\"constant\">: ",
               "Specifies the time interval distribution between dispatching inference requests "
               "to the server. Poisson distribution closely mimics the real-world work load on "
               "a server. This option is ignored if not using --request-rate-range. By default, "
               "this option is set to be constant."),
    },
    [OPT_REQUEST_INTERVALS] = {
        "request-intervals", 0, true, h_file, F(request_intervals_file), NO_FIELD,
        "Failed to parse --request-intervals. The value must be a valid file path",
        "--request-intervals <path to file containing time intervals in microseconds>",
        INLINE(" --request-intervals: ",
               "Specifies a path to a file containing time intervals in microseconds. Each time "
               "interval should be in a new line. The analyzer will try to maintain time "
               "intervals between successive generated requests to be as close as possible in "
               "this file. This option can be used to apply custom load to server with a "
               "certain pattern of interest. The analyzer will loop around the file if the "
               "duration of execution exceeds to that accounted for by the intervals. This "
               "option can not be used with --request-rate-range or --concurrency-range."),
    },
    [OPT_SHARED_MEMORY] = {
        "shared-memory", 0, true, h_shared_memory, 0, NO_FIELD,
        "The available options are 'system', 'cuda', or 'none'.",
        "--shared-memory <\"system\"|\"cuda\"|\"none\">",
        INLINE(" --shared-memory <\"system\"|\"cuda\"|\"none\">: ",
               "Specifies the type of the shared memory to use for input and output data. "
               "Default is none."),
    },
    [OPT_OUTPUT_SHM_SIZE] = {
        "output-shared-memory-size", 0, true, h_output_shm_size, 0, NO_FIELD,
        "Failed to parse --output-shared-memory-size. The value must be >= 0.",
        "--output-shared-memory-size <size in bytes>",
        INLINE(" --output-shared-memory-size: ",
               "The size in bytes of the shared memory region to allocate per output tensor. "
               "Only needed when one or more of the outputs are of string type and/or variable "
               "shape. The value should be larger than the size of the largest output tensor "
               "the model is expected to return. The analyzer will use the following formula to "
               "calculate the total shared memory to allocate: output_shared_memory_size * "
               "number_of_outputs * batch_size. Defaults to 100KB."),
    },
    [OPT_SERVICE_KIND] = {
        "service-kind", 0, true, h_service_kind, 0, NO_FIELD,
        "The available options are 'triton', 'tfserving', 'torchserve', or 'triton_c_api'.",
        "--service-kind <\"triton\"|\"tfserving\"|\"torchserve\"|\"triton_c_api\">",
        INLINE(" --service-kind: ",
               "Describes the kind of service perf_analyzer to generate load for. The options "
               "are \"triton\", \"triton_c_api\", \"tfserving\" and \"torchserve\". Default value is "
               "\"triton\". Note in order to use \"torchserve\" backend --input-data option must "
               "point to a json file holding data in the following format {\"data\" : "
               "[{\"TORCHSERVE_INPUT\" : [\"<complete path to the content file>\"]}, {...}...]}. "
               "The type of file here will depend on the model. In order to use \"triton_c_api\" "
               "you must specify the Triton server install path and the model repository path "
               "via the --triton-server-directory and --model-repository flags"),
    },
    [OPT_MODEL_SIGNATURE_NAME] = {
        "model-signature-name", 0, true, h_string, F(model_signature_name), NO_FIELD, NULL,
        "--model-signature-name <model signature name>",
        INLINE(" --model-signature-name: ",
               "The signature name of the saved model to use. Default value is "
               "\"serving_default\". This option will be ignored if --service-kind is not "
               "\"tfserving\"."),
    },
    [OPT_GRPC_COMPRESSION] = {
        "grpc-compression-algorithm", 0, true, h_grpc_compression, 0, NO_FIELD,
        "The available options are 'gzip', 'deflate', or 'none'.",
        "--grpc-compression-algorithm <compression_algorithm>",
        INLINE(" --grpc-compression-algorithm: ",
               "The compression algorithm to be used by gRPC when sending request. Only "
               "supported when grpc protocol is being used. The supported values are none, "
               "gzip, and deflate. Default value is none."),
    },
    [OPT_MEASUREMENT_MODE] = {
        "measurement-mode", 0, true, h_measurement_mode, 0, NO_FIELD,
        "The available options are 'time_windows' or 'count_windows'.",
        NULL,
        INLINE(" --measurement-mode <\"time_windows\"|\"count_windows\">: ",
               "Indicates the mode used for stabilizing measurements. \"time_windows\" will "
               "create windows such that the length of each window is equal to "
               "--measurement-interval. \"count_windows\" will create windows such that there are "
               "at least --measurement-request-count requests in each window."),
    },
    [OPT_MEASUREMENT_REQUEST_COUNT] = {
        "measurement-request-count", 0, true, h_positive, F(measurement_request_count),
        NO_FIELD, "Failed to parse --measurement-request-count. The value must be > 0.",
        NULL,
        INLINE(" --measurement-request-count: ",
               "Indicates the minimum number of requests to be collected in each measurement "
               "window when \"count_windows\" mode is used. This mode can be enabled using the "
               "--measurement-mode flag."),
    },
    [OPT_TRITON_SERVER_DIRECTORY] = {
        "triton-server-directory", 0, true, h_string, F(triton_server_directory), NO_FIELD,
        NULL, NULL,
        INLINE(" --triton-server-directory: ",
               "The Triton server install path. Required by and only used when C API is used "
               "(--service-kind=triton_c_api). eg:--triton-server-directory=/opt/tritonserver."),
    },
    [OPT_MODEL_REPOSITORY] = {
        "model-repository", 0, true, h_string, F(model_repository), NO_FIELD, NULL, NULL,
        INLINE(" --model-repository: ",
               "The model repository of which the model is loaded. Required by and only used "
               "when C API is used (--service-kind=triton_c_api). "
               "eg:--model-repository=/tmp/host/docker-data/model_unit_test."),
    },
    [OPT_SEQUENCE_ID_RANGE] = {
        "sequence-id-range", 0, true, h_sequence_id_range, 0, NO_FIELD, NULL,
        "--sequence-id-range <start:end>",
        INLINE(" --sequence-id-range <start:end>: ",
               "Determines the range of sequence id used by the perf_analyzer. The "
               "perf_analyzer will start from the sequence id of 'start' and go till 'end' "
               "(excluded). If 'end' is not specified then perf_analyzer will use new sequence "
               "id without bounds. If 'end' is specified and the concurrency setting may result "
               "in maintaining a number of sequences more than the range of available sequence "
               "id, perf analyzer will exit with error due to possible sequence id collision. "
               "The default setting is start from sequence id 1 and without bounds"),
    },
    [OPT_SSL_GRPC_USE_SSL] = {
        /* The synopsis says <bool> but the original declared it without a value. */
        "ssl-grpc-use-ssl", 0, false, h_flag, F(ssl_grpc_use_ssl), NO_FIELD, NULL,
        "--ssl-grpc-use-ssl <bool>",
        COLUMN(38, " --ssl-grpc-use-ssl: ",
               "Bool (true|false) for whether to use encrypted channel to the server. Default "
               "false."),
    },
    [OPT_SSL_GRPC_ROOT_CERTS] = {
        "ssl-grpc-root-certifications-file", 0, true, h_file, F(ssl_grpc_root_certs), NO_FIELD,
        "Failed to parse --ssl-grpc-root-certifications-file. The value must be a valid file "
        "path.",
        "--ssl-grpc-root-certifications-file <path>",
        COLUMN(38, " --ssl-grpc-root-certifications-file: ",
               "Path to file containing the PEM encoding of the server root certificates."),
    },
    [OPT_SSL_GRPC_PRIVATE_KEY] = {
        "ssl-grpc-private-key-file", 0, true, h_file, F(ssl_grpc_private_key), NO_FIELD,
        "Failed to parse --ssl-grpc-private-key-file. The value must be a valid file path.",
        "--ssl-grpc-private-key-file <path>",
        COLUMN(38, " --ssl-grpc-private-key-file: ",
               "Path to file containing the PEM encoding of the client's private key."),
    },
    [OPT_SSL_GRPC_CERT_CHAIN] = {
        "ssl-grpc-certificate-chain-file", 0, true, h_file, F(ssl_grpc_cert_chain), NO_FIELD,
        "Failed to parse --ssl-grpc-certificate-chain-file. The value must be a valid file "
        "path.",
        "--ssl-grpc-certificate-chain-file <path>",
        COLUMN(38, " --ssl-grpc-certificate-chain-file: ",
               "Path to file containing the PEM encoding of the client's certificate chain."),
    },
    [OPT_SSL_HTTPS_VERIFY_PEER] = {
        "ssl-https-verify-peer", 0, true, h_verify_peer, 0, NO_FIELD,
        "Failed to parse --ssl-https-verify-peer. The value must be either 0 or 1.",
        "--ssl-https-verify-peer <number>",
        COLUMN(38, " --ssl-https-verify-peer: ",
               "Number (0|1) to verify the peer's SSL certificate. See "
               "https://curl.se/libcurl/c/CURLOPT_SSL_VERIFYPEER.html for the meaning of each "
               "value. Default is 1."),
    },
    [OPT_SSL_HTTPS_VERIFY_HOST] = {
        "ssl-https-verify-host", 0, true, h_verify_host, 0, NO_FIELD,
        "Failed to parse --ssl-https-verify-host. The value must be either 0, 1, or 2.",
        "--ssl-https-verify-host <number>",
        COLUMN(38, " --ssl-https-verify-host: ",
               "Number (0|1|2) to verify the certificate's name against host. See "
               "https://curl.se/libcurl/c/CURLOPT_SSL_VERIFYHOST.html for the meaning of each "
               "value. Default is 2."),
    },
    [OPT_SSL_HTTPS_CA_CERTS] = {
        "ssl-https-ca-certificates-file", 0, true, h_file, F(ssl_https_ca_certs), NO_FIELD,
        "Failed to parse --ssl-https-ca-certificates-file. The value must be a valid file "
        "path.",
        "--ssl-https-ca-certificates-file <path>",
        COLUMN(38, " --ssl-https-ca-certificates-file: ",
               "Path to Certificate Authority (CA) bundle."),
    },
    [OPT_SSL_HTTPS_CLIENT_CERT] = {
        "ssl-https-client-certificate-file", 0, true, h_file, F(ssl_https_client_cert),
        NO_FIELD,
        "Failed to parse --ssl-https-client-certificate-file. The value must be a valid file "
        "path.",
        "--ssl-https-client-certificate-file <path>",
        COLUMN(38, " --ssl-https-client-certificate-file: ",
               "Path to the SSL client certificate."),
    },
    [OPT_SSL_HTTPS_CLIENT_CERT_TYPE] = {
        "ssl-https-client-certificate-type", 0, true, h_cert_type, 0, NO_FIELD,
        "The available options are 'PEM' or 'DER'.",
        "--ssl-https-client-certificate-type <string>",
        COLUMN(38, " --ssl-https-client-certificate-type: ",
               "Type (PEM|DER) of the client SSL certificate. Default is PEM."),
    },
    [OPT_SSL_HTTPS_PRIVATE_KEY] = {
        "ssl-https-private-key-file", 0, true, h_file, F(ssl_https_private_key), NO_FIELD,
        "Failed to parse --ssl-https-private-key-file. The value must be a valid file path.",
        "--ssl-https-private-key-file <path>",
        COLUMN(38, " --ssl-https-private-key-file: ",
               "Path to the private keyfile for TLS and SSL client cert."),
    },
    [OPT_SSL_HTTPS_PRIVATE_KEY_TYPE] = {
        "ssl-https-private-key-type", 0, true, h_cert_type, 0, NO_FIELD,
        "The available options are 'PEM' or 'DER'.",
        "--ssl-https-private-key-type <string>",
        COLUMN(38, " --ssl-https-private-key-type: ",
               "Type (PEM|DER) of the private key file. Default is PEM."),
    },
    [OPT_VERBOSE_CSV] = {
        "verbose-csv", 0, false, h_flag, F(verbose_csv), NO_FIELD, NULL, NULL,
        INLINE(" --verbose-csv: ",
               "The csv files generated by perf analyzer will include additional information."),
    },
    [OPT_ENABLE_MPI] = {
        "enable-mpi", 0, false, h_flag, F(enable_mpi), NO_FIELD, NULL, NULL, NO_HELP,
    },
    [OPT_TRACE_FILE] = {
        "trace-file", 0, true, h_string, F(trace_file), NO_FIELD, NULL,
        "--trace-file",
        INLINE(" --trace-file: ",
               "Set the file where trace output will be saved. If --log-frequency is also "
               "specified, this argument value will be the prefix of the files to save the "
               "trace output. See --log-frequency for details. Only used for service-kind of "
               "triton. Default value is none."),
    },
    [OPT_TRACE_LEVEL] = {
        "trace-level", 0, true, h_trace_level, 0, NO_FIELD,
        "The available options are 'OFF', 'TIMESTAMPS', or 'TENSORS'.",
        "--trace-level",
        INLINE(" --trace-level: ",
               "Specify a trace level. OFF to disable tracing, TIMESTAMPS to trace timestamps, "
               "TENSORS to trace tensors. It may be specified multiple times to trace multiple "
               "information. Default is OFF."),
    },
    [OPT_TRACE_RATE] = {
        "trace-rate", 0, true, h_string, F(trace_rate), NO_FIELD, NULL,
        "--trace-rate",
        INLINE(" --trace-rate: ", "Set the trace sampling rate. Default is 1000."),
    },
    [OPT_TRACE_COUNT] = {
        "trace-count", 0, true, h_trace_count, 0, NO_FIELD,
        "Failed to parse --trace-count. The value must be >= 0 or set to -1 (default).",
        "--trace-count",
        INLINE(" --trace-count: ",
               "Set the number of traces to be sampled. If the value is -1, the number of "
               "traces to be sampled will not be limited. Default is -1."),
    },
    [OPT_LOG_FREQUENCY] = {
        "log-frequency", 0, true, h_log_frequency, 0, NO_FIELD,
        "Failed to parse --log-frequency. The value must be >= 0.",
        "--log-frequency",
        INLINE(" --log-frequency:  ",
               "Set the trace log frequency. If the value is 0, Triton will only log the trace "
               "output to <trace-file> when shutting down. Otherwise, Triton will log the trace "
               "output to <trace-file>.<idx> when it collects the specified number of traces. "
               "For example, if the log frequency is 100, when Triton collects the 100-th "
               "trace, it logs the traces to file <trace-file>.0, and when it collects the "
               "200-th trace, it logs the 101-th to the 200-th traces to file <trace-file>.1. "
               "Default is 0."),
    },
    [OPT_COLLECT_METRICS] = {
        "collect-metrics", 0, false, h_flag, F(collect_metrics), NO_FIELD, NULL,
        "--collect-metrics",
        INLINE(" --collect-metrics: ",
               "Enables collection of server-side inference server metrics. Outputs metrics in "
               "the csv file generated with the -f option. Must enable `--verbose-csv` option "
               "to use the `--collect-metrics`."),
    },
    [OPT_METRICS_URL] = {
        "metrics-url", 0, true, h_string, F(metrics_url), F(metrics_url_given), NULL,
        "--metrics-url",
        INLINE(" --metrics-url: ",
               "The URL to query for server-side inference server metrics. Default is "
               "'localhost:8002/metrics'."),
    },
    [OPT_METRICS_INTERVAL] = {
        "metrics-interval", 0, true, h_positive, F(metrics_interval_ms),
        F(metrics_interval_given),
        "Failed to parse --metrics-interval. The value must be > 0 msecs.",
        "--metrics-interval",
        INLINE(" --metrics-interval: ",
               "How often in milliseconds, within each measurement window, to query for "
               "server-side inference server metrics. Default is 1000."),
    },
    [OPT_SERIAL_SEQUENCES] = {
        "serial-sequences", 0, false, h_flag, F(serial_sequences), NO_FIELD, NULL,
        "--serial-sequences",
        INLINE(" --serial-sequences: ",
               "Enables serial sequence mode where a maximum of one request is outstanding at a "
               "time for any given sequence. The default is false."),
    },
    [OPT_SEQUENCE_LENGTH_VARIATION] = {
        "sequence-length-variation", 0, true, h_sequence_length_variation, 0, NO_FIELD, NULL,
        "--sequence-length-variation <variation>",
        INLINE(" --sequence-length-variation: ",
               "The percentage variation in length of sequences. This flag is only valid when "
               "not using user-provided input data or when `--sequence-length` is specified "
               "while using user-provided input data. Default is 20."),
    },
    [OPT_BLS_COMPOSING_MODELS] = {
        "bls-composing-models", 0, true, h_bls_composing, 0, NO_FIELD, NULL,
        "--bls-composing-models=<string>",
        INLINE(" --bls-composing-models: ",
               "A comma separated list of all BLS composing models (with optional model version "
               "number after a colon for each) that may be called by the input BLS model. For "
               "example, 'modelA:3,modelB' would specify that modelA and modelB are composing "
               "models that may be called by the input BLS model, and that modelA will use "
               "version 3, while modelB's version is unspecified"),
    },
    [OPT_REQUEST_PARAMETER] = {
        "request-parameter", 0, true, h_request_parameter, 0, NO_FIELD, NULL,
        NULL, /* absent from the original's synopsis */
        INLINE("--request-parameter <name:value:type>: ",
               "Specifies a custom parameter that can be sent to a Triton backend as part of "
               "the request. For example, providing '--request-parameter max_tokens:256:int' to "
               "the command line will set an additional parameter 'max_tokens' of type 'int' to "
               "256 as part of the request. The --request-parameter may be specified multiple "
               "times for different custom parameters."),
    },
    [OPT_PERIODIC_CONCURRENCY_RANGE] = {
        "periodic-concurrency-range", 0, true, h_periodic_range, 0, NO_FIELD, NULL,
        "--periodic-concurrency-range <start:end:step>",
        INLINE("--periodic-concurrency-range <start:end:step>: ",
               "Determines the range of concurrency levels in the similar but slightly "
               "different manner as the --concurrency-range. Perf Analyzer will start from the "
               "concurrency level of 'start' and increase by 'step' each time. Unlike "
               "--concurrency-range, the 'end' indicates the *total* number of concurrency "
               "since the 'start' (including) and will stop increasing once the cumulative "
               "number of concurrent requests has reached the 'end'. The user can specify "
               "*when* to periodically increase the concurrency level using the "
               "--request-period option. The concurrency level will periodically increase for "
               "every n-th response specified by --request-period. Since this disables "
               "stability check in Perf Analyzer and reports response timestamps only, the user "
               "must provide --profile-export-file to specify where to dump all the measured "
               "timestamps. The default values of 'start', 'end', and 'step' are 1."),
    },
    [OPT_REQUEST_PERIOD] = {
        "request-period", 0, true, h_positive, F(request_period), NO_FIELD,
        "Failed to parse --request-period. The value must be > 0",
        "--request-period <number of responses>",
        INLINE("--request-period <n>: ",
               "Indicates the number of responses that each request must receive before new, "
               "concurrent requests are sent when --periodic-concurrency-range is specified. "
               "Default value is 10."),
    },
    [OPT_INPUT_TENSOR_FORMAT] = {
        "input-tensor-format", 0, true, h_tensor_format, 0, NO_FIELD,
        "The available options are 'binary' or 'json'.",
        "--input-tensor-format=[binary|json]",
        INLINE(" --input-tensor-format=[binary|json]: ",
               "Specifies Triton inference request input tensor format. Only valid when HTTP "
               "protocol is used. Default is 'binary'."),
    },
    [OPT_OUTPUT_TENSOR_FORMAT] = {
        "output-tensor-format", 0, true, h_tensor_format, 0, NO_FIELD,
        "The available options are 'binary' or 'json'.",
        "--output-tensor-format=[binary|json]",
        INLINE(" --output-tensor-format=[binary|json]: ",
               "Specifies Triton inference response output tensor format. Only valid when HTTP "
               "protocol is used. Default is 'binary'."),
    },
    [OPT_VERSION] = {
        "version", 0, false, h_version, 0, NO_FIELD, NULL,
        "--version ",
        INLINE(" --version: ", "print the current version of Perf Analyzer."),
    },
    [OPT_PROFILE_EXPORT_FILE] = {
        "profile-export-file", 0, true, h_profile_export_file, 0, NO_FIELD,
        "Failed to parse --profile-export-file. Path must not already exist.",
        "--profile-export-file <path>",
        COLUMN(9, " --profile-export-file: ",
               "Specifies the path that the profile export will be generated at. By default, "
               "the profile export will not be generated."),
    },
    [OPT_VERBOSE] = {
        NULL, 'v', false, h_verbose, 0, NO_FIELD, NULL,
        "-v",
        COLUMN(9, " -v: ", "Enables verbose mode."),
    },
    [OPT_MODEL_NAME] = {
        NULL, 'm', true, h_string, F(model_name), NO_FIELD, NULL,
        "-m <model name>",
        COLUMN(9, " -m: ",
               "This is a required argument and is used to specify the model against which to "
               "run perf_analyzer."),
    },
    [OPT_MODEL_VERSION] = {
        NULL, 'x', true, h_string, F(model_version), NO_FIELD, NULL,
        "-x <model version>",
        COLUMN(9, " -x: ",
               "The version of the above model to be used. If not specified the most recent "
               "version (that is, the highest numbered version) of the model will be used."),
    },
    [OPT_URL] = {
        NULL, 'u', true, h_url, 0, NO_FIELD, NULL,
        "-u <URL for inference service>",
        COLUMN(38, " -u: ",
               "Specify URL to the server. When using triton default is \"localhost:8000\" if "
               "using HTTP and \"localhost:8001\" if using gRPC. When using tfserving default is "
               "\"localhost:8500\". "),
    },
    [OPT_PROTOCOL] = {
        NULL, 'i', true, h_protocol, 0, NO_FIELD, NULL,
        "-i <Protocol used to communicate with inference service>",
        COLUMN(38, " -i: ",
               "The communication protocol to use. The available protocols are gRPC and HTTP. "
               "Default is HTTP."),
    },
    [OPT_BATCH_SIZE] = {
        NULL, 'b', true, h_positive, F(batch_size), F(batch_size_given),
        "Failed to parse -b (batch size). The value must be > 0.",
        "-b <batch size>",
        COLUMN(9, " -b: ", "Batch size for each request sent."),
    },
    [OPT_CSV_FILE] = {
        NULL, 'f', true, h_string, F(csv_file), NO_FIELD, NULL,
        "-f <filename for storing report in csv format>",
        COLUMN(9, " -f: ",
               "The latency report will be stored in the file named by this option. By default, "
               "the result is not recorded in a file."),
    },
    [OPT_HEADER] = {
        NULL, 'H', true, h_header, 0, NO_FIELD, NULL,
        "-H <HTTP header>",
        COLUMN(9, " -H: ",
               "The header will be added to HTTP requests (ignored for GRPC requests). The "
               "header must be specified as 'Header:Value'. -H may be specified multiple times "
               "to add multiple headers."),
    },
    [OPT_DEPRECATED_T] = {
        NULL, 't', true, h_deprecated_t, 0, NO_FIELD, NULL,
        "-t <number of concurrent requests>", NO_HELP,
    },
    [OPT_DEPRECATED_C] = {
        NULL, 'c', true, h_deprecated_c, 0, NO_FIELD, NULL,
        "-c <maximum concurrency>", NO_HELP,
    },
    [OPT_DEPRECATED_D] = {
        NULL, 'd', false, h_deprecated_d, 0, NO_FIELD, NULL, "-d", NO_HELP,
    },
    [OPT_DEPRECATED_Z] = {
        NULL, 'z', false, h_zero_input, 0, NO_FIELD, NULL, "-z", NO_HELP,
    },
};

// clang-format on

/* ---- defaults, parse loop, release ---- */

void options_set_defaults(struct pa_options *o)
{
    memset(o, 0, sizeof(*o));
    o->model_version = xstrdup("");
    o->service_kind = PA_SK_TRITON;
    o->model_signature_name = xstrdup("serving_default");
    o->measurement_interval_ms = 5000;
    o->measurement_mode = PA_MEASURE_TIME_WINDOWS;
    o->measurement_request_count = 50;
    o->load_mode = PA_LOAD_CONCURRENCY;
    o->concurrency_start = o->concurrency_end = o->concurrency_step = 1;
    o->periodic_start = o->periodic_end = o->periodic_step = 1;
    o->request_period = 10;
    o->rate_start = o->rate_end = o->rate_step = 1.0;
    o->request_distribution = PA_DIST_CONSTANT;
    o->search_mode = PA_SEARCH_LINEAR;
    o->num_of_sequences = 4;
    o->max_threads = 4;
    o->stability_threshold = 0.1;
    o->max_trials = 10;
    o->percentile = -1;
    o->batch_size = 1;
    o->input_kind = PA_INPUT_RANDOM;
    o->shared_memory = PA_SHM_NONE;
    o->output_shm_size = 102400;
    o->sequence_length = 20;
    o->sequence_length_variation = 20.0;
    o->sequence_id_start = 1;
    o->sequence_id_range = UINT32_MAX;
    o->string_length = 128;
    o->input_tensor_format = o->output_tensor_format = PA_FMT_BINARY;
    o->url = xstrdup("localhost:8000");
    o->protocol = PA_PROTO_HTTP;
    o->ssl_grpc_root_certs = xstrdup("");
    o->ssl_grpc_private_key = xstrdup("");
    o->ssl_grpc_cert_chain = xstrdup("");
    o->ssl_https_verify_peer = 1;
    o->ssl_https_verify_host = 2;
    o->ssl_https_ca_certs = xstrdup("");
    o->ssl_https_client_cert = xstrdup("");
    o->ssl_https_private_key = xstrdup("");
    o->ssl_https_client_cert_type = o->ssl_https_private_key_type = PA_CERT_PEM;
    o->triton_server_directory = xstrdup("/opt/tritonserver");
    o->model_repository = xstrdup("");
    o->grpc_compression = PA_COMPRESS_NONE;
    o->trace_count = -1;
    o->log_frequency = 0;
    o->metrics_url = xstrdup("localhost:8002/metrics");
    o->metrics_interval_ms = 1000;
}

static const struct opt_def *find_short(char c)
{
    for (size_t i = 0; i < OPT_COUNT; i++)
        if (opt_table[i].short_name == c)
            return &opt_table[i];
    return NULL;
}

int options_parse(int argc, char **argv, struct pa_options *opts, bool *version_requested,
                  FILE *diag, struct pa_err *err)
{
    struct gopt_long longs[OPT_COUNT];
    const struct opt_def *long_defs[OPT_COUNT];
    char shorts[2 * OPT_COUNT + 1];
    size_t n_longs = 0, n_shorts = 0;
    struct parse_state ps;
    struct gopt g;
    int rc = PA_OK;

    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct opt_def *def = &opt_table[i];
        if (def->long_name) {
            longs[n_longs] = (struct gopt_long){def->long_name, def->has_arg};
            long_defs[n_longs++] = def;
        }
        if (def->short_name) {
            shorts[n_shorts++] = def->short_name;
            if (def->has_arg)
                shorts[n_shorts++] = ':';
        }
    }
    shorts[n_shorts] = '\0';

    if (!diag)
        diag = stderr;
    *version_requested = false;
    options_set_defaults(opts);
    memset(&ps, 0, sizeof(ps));
    ps.o = opts;
    ps.diag = diag;
    ps.deprecated_t = 1;

    gopt_init(&g, argc, argv, longs, n_longs, shorts, diag);
    for (;;) {
        enum gopt_result r = gopt_next(&g);
        const struct opt_def *def;
        if (r == GOPT_DONE)
            break;
        if (r == GOPT_ERROR) {
            rc = pa_errorf(err, PA_EUSAGE, "%s", ""); /* getopt already explained */
            goto fail;
        }
        if (r == GOPT_LONG) {
            def = long_defs[g.long_index];
            snprintf(ps.optname, sizeof(ps.optname), "--%s", def->long_name);
        } else {
            def = find_short(g.short_opt);
            snprintf(ps.optname, sizeof(ps.optname), "-%c", g.short_opt);
        }
        rc = def->handle(&ps, def, g.arg, err);
        if (rc)
            goto fail;
        if (ps.version_requested) {
            *version_requested = true;
            options_release(opts);
            return PA_OK;
        }
    }

    rc = options_verify(&ps, err);
    if (rc)
        goto fail;
    return PA_OK;

fail:
    options_release(opts);
    return rc;
}

void options_release(struct pa_options *o)
{
    if (!o)
        return;
    free(o->model_name);
    free(o->model_version);
    free(o->model_signature_name);
    for (size_t i = 0; i < o->n_bls_composing; i++) {
        free(o->bls_composing[i].name);
        free(o->bls_composing[i].version);
    }
    free(o->bls_composing);
    for (size_t i = 0; i < o->n_request_params; i++) {
        free(o->request_params[i].name);
        free(o->request_params[i].value);
        free(o->request_params[i].type_text);
    }
    free(o->request_params);
    free(o->request_intervals_file);
    for (size_t i = 0; i < o->n_input_data_paths; i++)
        free(o->input_data_paths[i]);
    free(o->input_data_paths);
    for (size_t i = 0; i < o->n_shapes; i++)
        free_shape(&o->shapes[i]);
    free(o->shapes);
    free(o->string_data);
    free(o->url);
    free(o->ssl_grpc_root_certs);
    free(o->ssl_grpc_private_key);
    free(o->ssl_grpc_cert_chain);
    free(o->ssl_https_ca_certs);
    free(o->ssl_https_client_cert);
    free(o->ssl_https_private_key);
    free(o->triton_server_directory);
    free(o->model_repository);
    free(o->csv_file);
    free(o->profile_export_file);
    for (size_t i = 0; i < o->n_headers; i++) {
        free(o->headers[i].name);
        free(o->headers[i].value);
    }
    free(o->headers);
    free(o->trace_file);
    free(o->trace_level);
    free(o->trace_rate);
    free(o->metrics_url);
    memset(o, 0, sizeof(*o));
}
