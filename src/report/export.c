/*
 * The profile export (--profile-export-file, spec 07-output.md §6): every
 * request the profiler selected into any window, per level, as compact JSON
 * with the original's key order.
 *
 * The document can hold hundreds of thousands of requests, so it is
 * streamed straight to the file with stdio rather than built as a cJSON
 * tree. Only integers and one double per experiment are written; the double
 * is rendered the way the original's JSON writer (rapidjson) does, shortest
 * round-trip digits with a mandatory fraction or exponent ("100.0").
 */
#include "report/report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/version.h"
#include "core/xalloc.h"
#include "core/banned.h"

/* Shortest "%.*e" that reads back as v: fills digits (no dot) and the exponent. */
static void shortest_digits(double v, char *digits, size_t size, int *exp10)
{
    char tmp[40];
    size_t n = 0;

    for (int prec = 0; prec <= 16; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is "d[.ddd]e[+-]XX" */
    for (const char *p = tmp; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && n + 1 < size)
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *exp10 = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
}

const char *fmt_double_json(char *buf, size_t size, double v)
{
    char digits[40];
    char out[400];
    size_t o = 0;
    int e, kk, len;

    if (isnan(v) || isinf(v)) {
        snprintf(buf, size, "null");
        return buf;
    }
    if (signbit(v)) {
        out[o++] = '-';
        v = -v;
    }
    if (v == 0.0) {
        snprintf(buf, size, "%s0.0", o ? "-" : "");
        return buf;
    }
    shortest_digits(v, digits, sizeof(digits), &e);
    len = (int)strlen(digits);
    kk = e + 1; /* 10^(kk-1) <= v < 10^kk, as rapidjson's Prettify names it */

    if (len <= kk && kk <= 21) {
        /* 1234e7 -> 12340000000.0 */
        memcpy(out + o, digits, (size_t)len);
        o += (size_t)len;
        for (int i = len; i < kk; i++)
            out[o++] = '0';
        out[o++] = '.';
        out[o++] = '0';
    } else if (0 < kk && kk <= 21) {
        /* 1234e-2 -> 12.34 */
        memcpy(out + o, digits, (size_t)kk);
        o += (size_t)kk;
        out[o++] = '.';
        memcpy(out + o, digits + kk, (size_t)(len - kk));
        o += (size_t)(len - kk);
    } else if (-6 < kk && kk <= 0) {
        /* 1234e-6 -> 0.001234 */
        out[o++] = '0';
        out[o++] = '.';
        for (int i = kk; i < 0; i++)
            out[o++] = '0';
        memcpy(out + o, digits, (size_t)len);
        o += (size_t)len;
    } else {
        /* 1e30, 1234e30 -> 1.234e33 */
        out[o++] = digits[0];
        if (len > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)(len - 1));
            o += (size_t)(len - 1);
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "e%d", kk - 1);
    }
    out[o] = '\0';
    snprintf(buf, size, "%s", out);
    return buf;
}

static bool same_experiment(const struct export_level *a, const struct export_level *b)
{
    return a->concurrency == b->concurrency && a->request_rate == b->request_rate;
}

/* Writes the requests of one level; *first tracks the comma between objects. */
static void write_requests(FILE *out, const struct export_level *l, uint64_t offset, bool *first)
{
    for (size_t i = 0; i < l->n_records; i++) {
        const struct pa_record *r = &l->records[i];
        fprintf(out, "%s{\"timestamp\":%" PRIu64, *first ? "" : ",", r->start_ns + offset);
        *first = false;
        if (r->sequence_id != 0)
            fprintf(out, ",\"sequence_id\":%" PRIu64, r->sequence_id);
        fputs(",\"response_timestamps\":[", out);
        for (uint32_t k = 0; k < r->n_responses; k++)
            fprintf(out, "%s%" PRIu64, k ? "," : "",
                    l->response_ns[r->first_response + k] + offset);
        fputs("]}", out);
    }
}

static void write_experiment_head(FILE *out, const struct export_level *l)
{
    char d[REPORT_DBL_BUFSZ];
    if (l->concurrency != 0)
        fprintf(out, "{\"experiment\":{\"mode\":\"concurrency\",\"value\":%" PRIu64 "}",
                l->concurrency);
    else
        fprintf(out, "{\"experiment\":{\"mode\":\"request_rate\",\"value\":%s}",
                fmt_double_json(d, sizeof(d), l->request_rate));
}

static void write_periodic(FILE *out, const struct export_doc *doc)
{
    bool first = true;

    fputs("{\"experiment\":{\"mode\":\"concurrency\",\"value\":1},\"requests\":[", out);
    for (size_t i = 0; i < doc->n_levels; i++)
        write_requests(out, &doc->levels[i], doc->epoch_offset_ns, &first);
    fprintf(out, "],\"window_boundaries\":[0,%" PRIu64 "]}", UINT64_MAX);
}

static void write_levels(FILE *out, const struct export_doc *doc)
{
    bool first_exp = true;

    for (size_t i = 0; i < doc->n_levels; i++) {
        const struct export_level *l = &doc->levels[i];
        bool seen = false, first = true;

        for (size_t j = 0; j < i && !seen; j++)
            seen = same_experiment(&doc->levels[j], l);
        if (seen)
            continue; /* already written with its first occurrence */

        if (!first_exp)
            fputc(',', out);
        first_exp = false;
        write_experiment_head(out, l);
        fputs(",\"requests\":[", out);
        for (size_t j = i; j < doc->n_levels; j++)
            if (same_experiment(&doc->levels[j], l))
                write_requests(out, &doc->levels[j], doc->epoch_offset_ns, &first);
        fputs("],\"window_boundaries\":[", out);
        first = true;
        for (size_t j = i; j < doc->n_levels; j++) {
            const struct export_level *m = &doc->levels[j];
            if (!same_experiment(m, l))
                continue;
            for (size_t k = 0; k < m->n_boundaries; k++) {
                fprintf(out, "%s%" PRIu64, first ? "" : ",",
                        m->boundaries_ns[k] + doc->epoch_offset_ns);
                first = false;
            }
        }
        fputs("]}", out);
    }
}

int report_export_print(FILE *out, const struct export_doc *doc, struct pa_err *err)
{
    fputs("{\"experiments\":[", out);
    if (doc->periodic)
        write_periodic(out, doc);
    else
        write_levels(out, doc);
    fprintf(out, "],\"version\":\"%s\"}", pa_version());
    if (fflush(out) != 0 || ferror(out))
        return pa_errorf(err, PA_EIO, "failed to write the profile export");
    return PA_OK;
}

int report_export_write(const char *path, const struct export_doc *doc, struct pa_err *err)
{
    FILE *f = fopen(path, "w");
    int rc;

    if (!f)
        return pa_errorf(err, PA_EIO, "failed to open file for outputting raw profile data");
    rc = report_export_print(f, doc, err);
    if (fclose(f) != 0 && rc == PA_OK)
        rc = pa_errorf(err, PA_EIO, "failed to write the profile export");
    return rc;
}

int report_export_write_levels(const char *path, const struct pa_level_export *exports, size_t n,
                               uint64_t epoch_offset_ns, bool periodic, struct pa_err *err)
{
    struct export_level *levels = xcalloc(n ? n : 1, sizeof(*levels));
    struct export_doc doc = {
        .levels = levels, .n_levels = n, .epoch_offset_ns = epoch_offset_ns, .periodic = periodic};
    int rc;

    for (size_t i = 0; i < n; i++)
        levels[i] = report_export_level_from(&exports[i]);
    rc = report_export_write(path, &doc, err);
    free(levels);
    return rc;
}
