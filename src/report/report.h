/*
 * The report layer (spec 07-output.md): the console report on stdout, the
 * -f CSV with its composing-model companions, and the profile export JSON.
 *
 * Everything here is called from the main thread only (pipeline.c), after
 * the profiler produced a struct perf_status for a level or a window. The
 * report layer never measures and never exits; it formats what it is given.
 *
 * Typical use in the pipeline:
 *
 *     struct report_console rc;
 *     struct report_model rm = report_model_from(&model);
 *     report_console_init(&rc, stdout, stderr, opts, &rm);
 *     report_settings(&rc);
 *     for each level:
 *         report_concurrency_header(&rc, c);   or report_rate_header(&rc, r)
 *         for each window (only when opts->verbose):
 *             report_pass(&rc, k, &window_status) / report_pass_failed(&rc, k, msg)
 *         if the level is stable and under the latency threshold:
 *             report_level(&rc, &level_status)
 *     report_summary(&rc, levels, n);                 (not in periodic mode)
 *     report_csv_write(opts, &rm, levels, n, stderr, &err);   (not in periodic mode)
 *     if (opts->profile_export_file)
 *         report_export_write_levels(opts->profile_export_file, profile.exports,
 *                                    profile.n_exports, clock_epoch_offset_ns(),
 *                                    periodic, &err);
 */
#ifndef PA_REPORT_REPORT_H
#define PA_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/options.h"
#include "measure/perf_status.h"
#include "model/model.h"
#include "pa/record.h"
#include "pa/status.h"

/* ---- Number formatting (spec 07 §0) ------------------------------------ */

/* Big enough for any double in either format below. */
#define REPORT_DBL_BUFSZ 352

/*
 * C++ ostream default formatting of a double (precision 6: "439.645",
 * "1e+06", "100", "0.809", "inf", "nan"). Writes into buf and returns buf;
 * the text is truncated if size is too small (use REPORT_DBL_BUFSZ).
 */
const char *fmt_double_default(char *buf, size_t size, double v);
/* std::fixed with setprecision(2): "%.2f". */
const char *fmt_double_fixed2(char *buf, size_t size, double v);

/* ---- What the report needs to know about the model -------------------- */

struct report_model {
    const char *name;      /* target model name; borrowed */
    bool decoupled;        /* Response Throughput line/column, settings line */
    bool sequence;         /* Sequence count line */
    bool response_cache;   /* cache lines and columns */
};

static inline struct report_model report_model_from(const struct pa_model *m)
{
    struct report_model rm = {
        .name = m->name,
        .decoupled = m->decoupled,
        .sequence = m->scheduler == PA_SCHED_SEQUENCE ||
                    m->scheduler == PA_SCHED_ENSEMBLE_SEQUENCE,
        .response_cache = m->response_cache,
    };
    return rm;
}

/* ---- Console report ----------------------------------------------------- */

/*
 * Console state. `fixed` is the original's sticky std::fixed: it becomes
 * true the first time a "requests were delayed" warning is printed, and from
 * then on every floating value on `out` is printed as %.2f. Fields are set
 * by report_console_init(); callers only read them.
 */
struct report_console {
    FILE *out;                        /* stdout */
    FILE *diag;                       /* stderr: report-time diagnostics */
    const struct pa_options *opts;    /* borrowed, after options_apply_model() */
    struct report_model model;
    bool fixed;
};

void report_console_init(struct report_console *rc, FILE *out, FILE *diag,
                         const struct pa_options *opts, const struct report_model *model);

/* A double formatted for `out` in the console's current mode. */
const char *report_console_double(const struct report_console *rc, char *buf, size_t size,
                                  double v);

/* "*** Measurement Settings ***" block, ending with its empty line (07 §1). */
void report_settings(struct report_console *rc);

/* "Request concurrency: C" / "Request Rate: R inference requests per seconds". */
void report_concurrency_header(struct report_console *rc, uint64_t concurrency);
void report_rate_header(struct report_console *rc, double request_rate);

/*
 * Verbose pass lines (07 §2). k counts windows from 1 within the level.
 * `window` is the single window's status (not merged): infer_per_sec,
 * avg_latency_ns, std_us and, with --percentile, the percentile value.
 * The caller prints them only when opts->verbose.
 */
void report_pass(struct report_console *rc, unsigned k, const struct perf_status *window);
void report_pass_failed(struct report_console *rc, unsigned k, const char *message);

/*
 * The report of one recorded level: Client block, Server block (when
 * s->has_server_stats), Prometheus metrics (when opts->collect_metrics),
 * overhead warning. May switch rc to fixed notation (delayed warning). The
 * "Response Cache is disabled ... non-zero." message goes to rc->diag.
 */
void report_level(struct report_console *rc, const struct perf_status *s);

/*
 * The summary after all levels, in measurement order. Prints nothing when
 * n == 0. The caller skips it in periodic mode.
 */
void report_summary(struct report_console *rc, const struct perf_status *levels, size_t n);

/* ---- CSV (-f) ----------------------------------------------------------- */

/*
 * Writes opts->csv_file and, for models with composing-model statistics,
 * one "<name>_v<version>.<csv_file>" per direct composing model (07 §4-§5,
 * path quirk replicated). Nothing is written when opts->csv_file is NULL
 * or n == 0. An unopenable path is silently skipped, as the original does.
 * `levels` is in measurement order and is not modified (rows are sorted on
 * a private index). The "Server average accounted time ..." messages go to
 * diag. Returns PA_OK, or PA_EPROTO with "Server side statistics compute
 * counts must be the same." when a level's three compute counts differ
 * (nothing is written then).
 *
 * Beyond the original: with --verbose-csv in request-rate or custom-interval
 * mode, when some level has client.has_schedule, trailing columns
 * "Scheduled p<q> latency"... and "Scheduled Avg latency" (latency from the
 * scheduled send time, µs) are appended after every original column.
 */
PA_MUST_CHECK int report_csv_write(const struct pa_options *opts, const struct report_model *model,
                                   const struct perf_status *levels, size_t n, FILE *diag,
                                   struct pa_err *err);

/* The main CSV text to a stream (what report_csv_write puts in -f). */
PA_MUST_CHECK int report_csv_print(FILE *out, const struct pa_options *opts,
                                   const struct report_model *model,
                                   const struct perf_status *levels, size_t n, FILE *diag,
                                   struct pa_err *err);

/*
 * The CSV of the direct composing model `index` of levels' target model
 * (index into the first sorted level's server.composing), to a stream.
 */
void report_composing_csv_print(FILE *out, const struct pa_options *opts,
                                const struct report_model *model,
                                const struct perf_status *levels, size_t n, size_t index,
                                FILE *diag);

/* ---- Profile export (--profile-export-file) ----------------------------- */

/*
 * One measured level as the engine collected it for the export. Everything
 * is borrowed. Times are CLOCK_MONOTONIC ns; the writer adds
 * export_doc.epoch_offset_ns (clock_epoch_offset_ns()) to every record time
 * and boundary. records[] holds, in window order, every record selected into
 * any window of the level (stable or not) plus the records dropped because
 * their only response was empty. A record's response times are
 * response_ns[first_response .. first_response + n_responses) and include a
 * final empty response.
 *
 * boundaries_ns: start of the first window, then the end of every window
 * (and the start of a window again only if it did not follow the previous
 * one contiguously).
 */
struct export_level {
    uint64_t concurrency;    /* != 0: mode "concurrency", value = concurrency */
    double request_rate;     /* used when concurrency == 0: mode "request_rate" */
    const struct pa_record *records;
    size_t n_records;
    const uint64_t *response_ns;
    const uint64_t *boundaries_ns;
    size_t n_boundaries;
};

struct export_doc {
    const struct export_level *levels; /* in measurement order */
    size_t n_levels;
    uint64_t epoch_offset_ns;
    /*
     * Periodic concurrency mode: a single experiment {"mode":"concurrency",
     * "value":1} holding the records of every level, with window boundaries
     * [0,18446744073709551615] (levels' boundaries are ignored).
     */
    bool periodic;
};

/* A borrowed view of what the profiler collected for one level. */
static inline struct export_level report_export_level_from(const struct pa_level_export *e)
{
    struct export_level l = {
        .concurrency = e->concurrency,
        .request_rate = e->request_rate,
        .records = e->records.records,
        .n_records = e->records.n,
        .response_ns = e->records.response_ns,
        .boundaries_ns = e->window_boundaries,
        .n_boundaries = e->n_window_boundaries,
    };
    return l;
}

/*
 * Convenience for the pipeline: writes the export of the profiler's
 * per-level collections (struct pa_profile.exports) to path, with
 * epoch_offset_ns added to every time. Same results as report_export_write.
 */
PA_MUST_CHECK int report_export_write_levels(const char *path,
                                             const struct pa_level_export *exports, size_t n,
                                             uint64_t epoch_offset_ns, bool periodic,
                                             struct pa_err *err);

/*
 * Writes the compact JSON document of 07 §6 to path (no trailing newline).
 * Levels with the same (concurrency, request rate) are merged into one
 * experiment, placed where the first was measured. Returns PA_OK or PA_EIO
 * with "failed to open file for outputting raw profile data".
 */
PA_MUST_CHECK int report_export_write(const char *path, const struct export_doc *doc,
                                      struct pa_err *err);
/* The same document to a stream. Returns PA_OK or PA_EIO on a write error. */
PA_MUST_CHECK int report_export_print(FILE *out, const struct export_doc *doc,
                                      struct pa_err *err);

/*
 * A double as the original's JSON writer (rapidjson) renders it: shortest
 * round-trip digits, always with a fraction or exponent ("100.0", "0.5",
 * "1e21", "1.5e-7"). Exposed for tests.
 */
const char *fmt_double_json(char *buf, size_t size, double v);

#endif
