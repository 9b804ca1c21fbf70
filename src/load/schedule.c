/*
 * Send schedules for request-rate and custom-interval modes (see
 * schedule.h; spec 04 §3-§4).
 */
#include "load/schedule.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"

#include "core/banned.h"

/*
 * Bound on the number of timestamps of one schedule. The original has none
 * (it would exhaust memory); 64 Mi entries is 512 MiB and far beyond any
 * rate × window a run can sustain.
 */
#define MAX_ENTRIES (64u * 1024u * 1024u)

/* ---- mt19937 -------------------------------------------------------------- */

#define MT_M 397
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu
#define MT_MATRIX 0x9908b0dfu

void mt19937_seed(struct mt19937 *g, uint32_t seed)
{
    g->mt[0] = seed;
    for (uint32_t i = 1; i < MT19937_N; i++)
        g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) + i;
    g->i = MT19937_N;
}

static void mt_twist(struct mt19937 *g)
{
    for (size_t k = 0; k < MT19937_N; k++) {
        uint32_t y = (g->mt[k] & MT_UPPER) | (g->mt[(k + 1) % MT19937_N] & MT_LOWER);
        g->mt[k] = g->mt[(k + MT_M) % MT19937_N] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX : 0u);
    }
    g->i = 0;
}

uint32_t mt19937_next(struct mt19937 *g)
{
    if (g->i >= MT19937_N)
        mt_twist(g);
    uint32_t y = g->mt[g->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double mt19937_canonical(struct mt19937 *g)
{
    /* libstdc++: two 32-bit draws for 53 bits, sum / 2^64, clamped below 1. */
    const double r = 4294967296.0;
    double sum = (double)mt19937_next(g);
    sum += (double)mt19937_next(g) * r;
    double v = sum / (r * r);
    if (v >= 1.0)
        v = nextafter(1.0, 0.0);
    return v;
}

/* ---- gaps ----------------------------------------------------------------- */

/* std::chrono::duration_cast<nanoseconds>(duration<double>(s)): multiply, truncate. */
static uint64_t seconds_to_ns(double s)
{
    double ns = s * 1e9;
    if (!(ns > 0))
        return 0;
    if (ns >= 1.8e19)
        return UINT64_MAX;
    return (uint64_t)ns;
}

uint64_t schedule_constant_gap_ns(double rate)
{
    return seconds_to_ns(1.0 / rate);
}

uint64_t schedule_poisson_gap_ns(struct mt19937 *g, double rate)
{
    return seconds_to_ns(-log(1.0 - mt19937_canonical(g)) / rate);
}

/* ---- schedules ------------------------------------------------------------ */

static void push(struct worker_schedule *w, size_t *cap, uint64_t t)
{
    if (w->n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        w->at_ns = xreallocarray(w->at_ns, *cap, sizeof(*w->at_ns));
    }
    w->at_ns[w->n++] = t;
}

static void start(struct load_schedule *s, size_t n_threads)
{
    schedule_release(s);
    s->workers = xcalloc(n_threads, sizeof(*s->workers));
    s->n_workers = n_threads;
}

/* Every worker repeats its list after the largest last timestamp (spec 04 §3). */
static void set_cycles(struct load_schedule *s)
{
    uint64_t p = 0;
    for (size_t i = 0; i < s->n_workers; i++)
        if (s->workers[i].n && s->workers[i].at_ns[s->workers[i].n - 1] > p)
            p = s->workers[i].at_ns[s->workers[i].n - 1];
    for (size_t i = 0; i < s->n_workers; i++)
        s->workers[i].cycle_ns = p;
}

static int check_shape(size_t n_threads, size_t n_ids, struct pa_err *err)
{
    if (n_threads == 0 || n_ids < n_threads)
        return pa_errorf(err, PA_EINTERNAL,
                         "schedule needs at least one slot per thread (%zu slots, %zu threads)",
                         n_ids, n_threads);
    return PA_OK;
}

int schedule_rate(struct load_schedule *s, double rate, enum pa_distribution dist,
                  size_t n_threads, size_t n_ids, uint64_t max_duration_ns, struct pa_err *err)
{
    int rc = check_shape(n_threads, n_ids, err);
    if (rc)
        return rc;
    if (!(rate > 0))
        return pa_errorf(err, PA_EINVAL, "request rate must be > 0");

    struct mt19937 g;
    mt19937_seed(&g, MT19937_DEFAULT_SEED);
    uint64_t constant_gap = schedule_constant_gap_ns(rate);
    /* Constant: one entry per slot is enough, the list repeats exactly. */
    uint64_t max_duration = dist == PA_DIST_CONSTANT ? 1 : max_duration_ns;
    if (dist == PA_DIST_CONSTANT && constant_gap == 0)
        return pa_errorf(err, PA_EINVAL, "request rate %g is too high to schedule", rate);
    if (dist == PA_DIST_POISSON &&
        (double)max_duration_ns / 1e9 * rate > (double)MAX_ENTRIES)
        return pa_errorf(err, PA_EINVAL, "request rate %g is too high to schedule", rate);

    size_t *caps = xcalloc(n_threads, sizeof(*caps));
    start(s, n_threads);
    uint64_t t = 0;
    size_t k = 0, total = 0;
    do {
        uint64_t gap = dist == PA_DIST_CONSTANT ? constant_gap : schedule_poisson_gap_ns(&g, rate);
        t = t + gap > t ? t + gap : UINT64_MAX;
        size_t worker = k % n_threads;
        push(&s->workers[worker], &caps[worker], t);
        k = (k + 1) % n_ids;
        if (++total > MAX_ENTRIES) {
            free(caps);
            schedule_release(s);
            return pa_errorf(err, PA_EINVAL, "request rate %g is too high to schedule", rate);
        }
    } while (t < max_duration || k != 0);
    free(caps);
    set_cycles(s);
    if (s->workers[0].cycle_ns == 0) {
        schedule_release(s);
        return pa_errorf(err, PA_EINVAL, "request rate %g is too high to schedule", rate);
    }
    return PA_OK;
}

int schedule_custom(struct load_schedule *s, const uint64_t *gaps_ns, size_t n_gaps,
                    size_t n_threads, size_t n_ids, struct pa_err *err)
{
    int rc = check_shape(n_threads, n_ids, err);
    if (rc)
        return rc;
    if (n_gaps == 0)
        return pa_errorf(err, PA_EINVAL, "The custom intervals vector is empty");

    size_t *caps = xcalloc(n_threads, sizeof(*caps));
    start(s, n_threads);
    uint64_t t = 0;
    size_t k = 0, g = 0, total = 0;
    do {
        t += gaps_ns[g];
        size_t worker = k % n_threads;
        push(&s->workers[worker], &caps[worker], t);
        k = (k + 1) % n_ids;
        g = (g + 1) % n_gaps;
        if (++total > MAX_ENTRIES) {
            free(caps);
            schedule_release(s);
            return pa_errorf(err, PA_EINVAL, "custom intervals schedule is too long");
        }
    } while (k != 0 || g != 0);
    free(caps);
    set_cycles(s);
    return PA_OK;
}

void schedule_release(struct load_schedule *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_workers; i++)
        free(s->workers[i].at_ns);
    free(s->workers);
    memset(s, 0, sizeof(*s));
}

/* ---- custom intervals file ------------------------------------------------ */

int schedule_read_intervals(const char *path, uint64_t **gaps_ns, size_t *n, struct pa_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return pa_errorf(err, PA_EIO, "failed to open file '%s'", path);

    char *line = NULL;
    size_t line_cap = 0, count = 0, cap = 0, lineno = 0;
    uint64_t *gaps = NULL, sum = 0;
    ssize_t len;
    int rc = PA_OK;

    while ((len = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        /* std::stol: leading blanks, then the longest number; junk after it is ignored. */
        const char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        char *end;
        errno = 0;
        long long us = strtoll(p, &end, 10);
        if (end == p || errno == ERANGE || us < 0 || (uint64_t)us > UINT64_MAX / NS_PER_US) {
            rc = pa_errorf(err, PA_EINVAL,
                           "failed to parse request intervals file '%s': line %zu ('%s') is "
                           "not a non-negative number of microseconds",
                           path, lineno, line);
            break;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            gaps = xreallocarray(gaps, cap, sizeof(*gaps));
        }
        gaps[count] = (uint64_t)us * NS_PER_US;
        sum += gaps[count++];
    }
    free(line);
    fclose(f);
    if (rc == PA_OK && count == 0)
        rc = pa_errorf(err, PA_EINVAL, "file '%s' is empty", path);
    if (rc == PA_OK && sum == 0)
        rc = pa_errorf(err, PA_EINVAL,
                       "failed to parse request intervals file '%s': the intervals sum to 0",
                       path);
    if (rc) {
        free(gaps);
        return rc;
    }
    *gaps_ns = gaps;
    *n = count;
    return PA_OK;
}

double schedule_custom_rate(const uint64_t *gaps_ns, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += gaps_ns[i];
    if (total == 0)
        return 0;
    /* Integer division on purpose: the original labels 3 gaps over 0.8 s as 3. */
    return (double)(((uint64_t)n * NS_PER_S) / total);
}
