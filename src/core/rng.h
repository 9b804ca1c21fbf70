/*
 * Small, fast, seeded pseudo-random generator (xoshiro256** seeded through
 * splitmix64). Not for cryptography. Each thread owns its own struct rng, so
 * no locking is needed; the same seed always gives the same sequence.
 */
#ifndef PA_CORE_RNG_H
#define PA_CORE_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, bound) without modulo bias; bound 0 returns 0. */
uint64_t rng_below(struct rng *r, uint64_t bound);
/* Uniform double in [0, 1). */
double rng_double(struct rng *r);
/* Exponential with the given mean (for poisson arrivals). */
double rng_exponential(struct rng *r, double mean);

#endif
