/*
 * Send schedules of the open-loop modes (spec 04 §3-§4): request rate with
 * a constant or poisson distribution, and custom intervals read from a file.
 *
 * A schedule is generated once per level on the main thread and then only
 * read by the workers: each worker gets the list of its send offsets
 * (nanoseconds from the level start) and the cycle length P after which the
 * list repeats, so its n-th send is at at_ns[n mod len] + P·⌊n/len⌋.
 * Timestamps are handed out round-robin over a "slot list" of K entries
 * (entry i = i mod T), which spreads consecutive requests over the threads.
 *
 * The poisson gaps replicate the original exactly: a Mersenne Twister
 * (mt19937) with its default seed, re-created for every schedule, and
 * libstdc++'s exponential distribution (-log(1 - canonical) / rate), so a
 * given rate always yields the same gaps.
 */
#ifndef PA_LOAD_SCHEDULE_H
#define PA_LOAD_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "pa/status.h"

/* ---- mt19937 (the C++ std::mt19937 engine) ---------------------------- */

#define MT19937_N 624
#define MT19937_DEFAULT_SEED 5489u

struct mt19937 {
    uint32_t mt[MT19937_N];
    size_t i;
};

void mt19937_seed(struct mt19937 *g, uint32_t seed);
uint32_t mt19937_next(struct mt19937 *g);
/* std::generate_canonical<double, 53> as libstdc++ computes it: [0, 1). */
double mt19937_canonical(struct mt19937 *g);

/* ---- gaps -------------------------------------------------------------- */

/* 1/rate seconds, truncated to ns (std::chrono::duration_cast). */
uint64_t schedule_constant_gap_ns(double rate);
/* One exponential gap with the given rate, truncated to ns. */
uint64_t schedule_poisson_gap_ns(struct mt19937 *g, double rate);

/* ---- schedules --------------------------------------------------------- */

struct worker_schedule {
    uint64_t *at_ns;   /* ascending offsets from the level start */
    size_t n;
    uint64_t cycle_ns; /* P: the largest last offset over all workers */
};

struct load_schedule {
    struct worker_schedule *workers;
    size_t n_workers;
};

/* The n-th (0-based) send time of a worker, relative to the level start. */
static inline uint64_t schedule_at(const struct worker_schedule *w, uint64_t n)
{
    return w->at_ns[n % w->n] + w->cycle_ns * (n / w->n);
}

/*
 * Request-rate schedule for n_threads workers over a slot list of n_ids
 * entries (max threads, or --num-of-sequences for sequence models):
 * constant → exactly n_ids timestamps; poisson → timestamps until
 * max_duration_ns is reached and the slot list wrapped. Fails on a rate
 * whose gap truncates to 0 ns or whose schedule would be unreasonably long.
 * s must be zeroed or released.
 */
PA_MUST_CHECK int schedule_rate(struct load_schedule *s, double rate, enum pa_distribution dist,
                                size_t n_threads, size_t n_ids, uint64_t max_duration_ns,
                                struct pa_err *err);

/*
 * Custom-intervals schedule: cumulative sums of the gaps (file repeated),
 * round-robin over the slot list, until the gap index and the slot index
 * wrap to 0 together (lcm(#gaps, n_ids) entries).
 */
PA_MUST_CHECK int schedule_custom(struct load_schedule *s, const uint64_t *gaps_ns, size_t n_gaps,
                                  size_t n_threads, size_t n_ids, struct pa_err *err);

void schedule_release(struct load_schedule *s);

/*
 * Reads --request-intervals: one integer per line, microseconds (parsed like
 * std::stol: leading blanks, longest numeric prefix). Errors (PA_EIO /
 * PA_EINVAL): "failed to open file '<path>'", "file '<path>' is empty", and
 * (the original aborts there) a line without a number, a negative value, or
 * gaps that sum to 0. *gaps_ns is malloc'ed, in ns.
 */
PA_MUST_CHECK int schedule_read_intervals(const char *path, uint64_t **gaps_ns, size_t *n,
                                          struct pa_err *err);

/* The custom-interval "request rate": ⌊#gaps · 10⁹ / Σgaps_ns⌋ in integers. */
double schedule_custom_rate(const uint64_t *gaps_ns, size_t n);

#endif
