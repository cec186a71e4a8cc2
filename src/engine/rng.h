/*
 * rng.h
 *	  Explicit-state random number generator of the training engine.
 *
 * xoshiro256** (Blackman and Vigna, 2018) seeded through splitmix64.  All
 * state lives in an Rng value owned by the caller, so a model's training is
 * reproducible from the seed stored with the model, and two trainings in one
 * backend never share a stream.  Pure C: no server headers.
 */
#ifndef RECGAN_RNG_H
#define RECGAN_RNG_H

#include <stdint.h>

typedef struct Rng
{
	uint64_t	s[4];
} Rng;

/* Seed the generator; every seed, including 0, gives a valid state. */
void		rng_seed(Rng *rng, uint64_t seed);

/* Next 64 uniformly distributed bits. */
uint64_t	rng_next(Rng *rng);

/* Uniform double in [0, 1) with 53 random bits. */
double		rng_uniform(Rng *rng);

/* Uniform integer in [0, n), unbiased; n must be > 0. */
uint64_t	rng_below(Rng *rng, uint64_t n);

/* Standard normal deviate (Marsaglia polar method, no cached spare). */
double		rng_normal(Rng *rng);

/* Shuffle idx[0..n) in place (Fisher-Yates). */
void		rng_shuffle(Rng *rng, int32_t *idx, int64_t n);

/*
 * Choose k distinct values of [0, n) uniformly, written to out[0..k) in
 * ascending order (Knuth's selection sampling, O(n) time, no scratch).
 * Requires 0 <= k <= n.
 */
void		rng_sample_sorted(Rng *rng, int64_t n, int64_t k, int32_t *out);

#endif							/* RECGAN_RNG_H */
