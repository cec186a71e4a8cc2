/*
 * rng.c
 *	  xoshiro256** with splitmix64 seeding, and the sampling helpers built on it.
 *
 * Reference: D. Blackman, S. Vigna, "Scrambled Linear Pseudorandom Number
 * Generators", ACM TOMS 2021.  The first outputs for seed 0 are pinned by
 * test/unit/test_engine.c, so a change here cannot silently change every
 * stored seed's meaning.
 */
#include "rng.h"

#include <math.h>

/* Advance a splitmix64 state and return its next output. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Rotate x left by k bits. */
static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Seed the four state words from splitmix64(seed). */
void
rng_seed(Rng *rng, uint64_t seed)
{
	uint64_t	x = seed;

	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

/* Return the next 64 bits of xoshiro256**. */
uint64_t
rng_next(Rng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Return a double in [0, 1) from the top 53 bits. */
double
rng_uniform(Rng *rng)
{
	return (rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Return an unbiased integer in [0, n) (Lemire's multiply-and-reject). */
uint64_t
rng_below(Rng *rng, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128) rng_next(rng) * n;
	uint64_t	low = (uint64_t) m;

	if (low < n)
	{
		uint64_t	threshold = -n % n;

		while (low < threshold)
		{
			m = (unsigned __int128) rng_next(rng) * n;
			low = (uint64_t) m;
		}
	}
	return (uint64_t) (m >> 64);
}

/* Return a standard normal deviate by the polar method. */
double
rng_normal(Rng *rng)
{
	double		u,
				v,
				s;

	do
	{
		u = 2.0 * rng_uniform(rng) - 1.0;
		v = 2.0 * rng_uniform(rng) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);

	return u * sqrt(-2.0 * log(s) / s);
}

/* Shuffle idx[0..n) uniformly in place. */
void
rng_shuffle(Rng *rng, int32_t *idx, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--)
	{
		int64_t		j = (int64_t) rng_below(rng, (uint64_t) i + 1);
		int32_t		t = idx[i];

		idx[i] = idx[j];
		idx[j] = t;
	}
}

/* Write k distinct sorted values of [0, n) to out (Knuth, Algorithm S). */
void
rng_sample_sorted(Rng *rng, int64_t n, int64_t k, int32_t *out)
{
	int64_t		chosen = 0;

	for (int64_t i = 0; i < n && chosen < k; i++)
	{
		/* select i with probability (k - chosen) / (n - i) */
		if ((double) (n - i) * rng_uniform(rng) < (double) (k - chosen))
			out[chosen++] = (int32_t) i;
	}
}
