/*
 * test_engine.c
 *	  Unit tests of the training engine, run without a server by
 *	  `make unitcheck`.  Exit status 0 only when every check passed.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "rng.h"
#include "topk.h"
#include "unit.h"

/* First outputs pinned against an independent implementation (Python). */
static void
test_rng_reference_stream(void)
{
	Rng			rng;

	rng_seed(&rng, 0);
	CHECK(rng_next(&rng) == UINT64_C(0x99ec5f36cb75f2b4), "seed 0, output 1");
	CHECK(rng_next(&rng) == UINT64_C(0xbf6e1f784956452a), "seed 0, output 2");
	CHECK(rng_next(&rng) == UINT64_C(0x1a5f849d4933e6e0), "seed 0, output 3");
	rng_seed(&rng, 42);
	CHECK(rng_next(&rng) == UINT64_C(0x15780b2e0c2ec716), "seed 42, output 1");
}

/* Same seed, same stream; different seeds, different streams. */
static void
test_rng_determinism(void)
{
	Rng			a,
				b,
				c;
	int			same = 1,
				differ = 0;

	rng_seed(&a, 7);
	rng_seed(&b, 7);
	rng_seed(&c, 8);
	for (int i = 0; i < 1000; i++)
	{
		uint64_t	x = rng_next(&a);

		same &= (x == rng_next(&b));
		differ |= (x != rng_next(&c));
	}
	CHECK(same, "two generators with seed 7 diverged");
	CHECK(differ, "seeds 7 and 8 gave the same stream");
}

/* Uniform doubles stay in [0, 1) with mean 1/2 and variance 1/12. */
static void
test_rng_uniform_moments(void)
{
	Rng			rng;
	const int	n = 200000;
	double		sum = 0,
				sumsq = 0;
	int			in_range = 1;

	rng_seed(&rng, 1);
	for (int i = 0; i < n; i++)
	{
		double		u = rng_uniform(&rng);

		in_range &= (u >= 0.0 && u < 1.0);
		sum += u;
		sumsq += u * u;
	}
	CHECK(in_range, "uniform outside [0, 1)");
	CHECK_CLOSE(sum / n, 0.5, 0.005, "uniform mean");
	CHECK_CLOSE(sumsq / n - (sum / n) * (sum / n), 1.0 / 12, 0.005, "uniform variance");
}

/* rng_below covers [0, n) evenly (chi-square against a loose bound). */
static void
test_rng_below_even(void)
{
	Rng			rng;
	enum
	{
		N = 10, DRAWS = 100000
	};
	int			count[N] = {0};
	int			in_range = 1;
	double		chi2 = 0;

	rng_seed(&rng, 3);
	for (int i = 0; i < DRAWS; i++)
	{
		uint64_t	v = rng_below(&rng, N);

		in_range &= (v < N);
		if (v < N)
			count[v]++;
	}
	for (int i = 0; i < N; i++)
		chi2 += (count[i] - DRAWS / N) * (double) (count[i] - DRAWS / N) / (DRAWS / N);
	CHECK(in_range, "rng_below out of range");
	/* 9 degrees of freedom: P(chi2 > 27.9) = 0.001 */
	CHECK(chi2 < 27.9, "rng_below chi-square %.2f", chi2);
}

/* Normal deviates have mean 0 and variance 1. */
static void
test_rng_normal_moments(void)
{
	Rng			rng;
	const int	n = 200000;
	double		sum = 0,
				sumsq = 0;

	rng_seed(&rng, 5);
	for (int i = 0; i < n; i++)
	{
		double		z = rng_normal(&rng);

		sum += z;
		sumsq += z * z;
	}
	CHECK(fabs(sum / n) < 0.01, "normal mean %g", sum / n);
	CHECK_CLOSE(sumsq / n, 1.0, 0.01, "normal variance");
}

/* Selection sampling returns k distinct sorted values, each equally likely. */
static void
test_rng_sample_sorted(void)
{
	Rng			rng;
	enum
	{
		N = 20, K = 7, ROUNDS = 20000
	};
	int32_t		out[K];
	int			hits[N] = {0};
	int			ok = 1;

	rng_seed(&rng, 11);
	for (int r = 0; r < ROUNDS; r++)
	{
		memset(out, -1, sizeof(out));
		rng_sample_sorted(&rng, N, K, out);
		for (int i = 0; i < K; i++)
		{
			ok &= (out[i] >= 0 && out[i] < N);
			if (i > 0)
				ok &= (out[i] > out[i - 1]);
			if (out[i] >= 0 && out[i] < N)
				hits[out[i]]++;
		}
	}
	CHECK(ok, "sample not sorted, distinct and in range");
	for (int i = 0; i < N; i++)
		CHECK_CLOSE(hits[i] / (double) ROUNDS, (double) K / N, 0.03, "inclusion probability");

	/* edge cases: k = 0 writes nothing, k = n takes everything */
	out[0] = -5;
	rng_sample_sorted(&rng, N, 0, out);
	CHECK(out[0] == -5, "k = 0 wrote output");
	{
		int32_t		all[N];

		rng_sample_sorted(&rng, N, N, all);
		for (int i = 0; i < N; i++)
			CHECK(all[i] == i, "k = n must return 0..n-1, got %d at %d", all[i], i);
	}
}

/* A shuffle is a permutation. */
static void
test_rng_shuffle_permutation(void)
{
	Rng			rng;
	enum
	{
		N = 1000
	};
	int32_t		idx[N];
	int			seen[N] = {0};
	int			moved = 0,
				ok = 1;

	for (int i = 0; i < N; i++)
		idx[i] = i;
	rng_seed(&rng, 13);
	rng_shuffle(&rng, idx, N);
	for (int i = 0; i < N; i++)
	{
		ok &= (idx[i] >= 0 && idx[i] < N && !seen[idx[i]]);
		if (idx[i] >= 0 && idx[i] < N)
			seen[idx[i]] = 1;
		moved += (idx[i] != i);
	}
	CHECK(ok, "shuffle is not a permutation");
	CHECK(moved > N / 2, "shuffle left %d of %d in place", N - moved, N);
}

/* The linked cblas_sgemm agrees with a naive triple loop. */
static void
test_cblas_sgemm_links(void)
{
	enum
	{
		M = 17, N = 13, K = 29
	};
	float		a[M * K],
				b[K * N],
				c[M * N];
	Rng			rng;
	double		maxerr = 0;

	rng_seed(&rng, 17);
	for (int i = 0; i < M * K; i++)
		a[i] = (float) rng_normal(&rng);
	for (int i = 0; i < K * N; i++)
		b[i] = (float) rng_normal(&rng);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K,
				1.0f, a, K, b, N, 0.0f, c, N);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		ref = 0;

			for (int k = 0; k < K; k++)
				ref += (double) a[i * K + k] * b[k * N + j];
			maxerr = fmax(maxerr, fabs(ref - c[i * N + j]));
		}
	CHECK(maxerr < 1e-4, "sgemm differs from naive loop by %g", maxerr);
}

/* topk_select agrees with a full sort, ties by index, skipping -inf and NaN. */
static void
test_topk_matches_sort(void)
{
	enum
	{
		N = 500
	};
	float		scores[N];
	int32_t		heap[N],
				out[N],
				ref[N];
	Rng			rng;
	int			nref = 0;

	rng_seed(&rng, 19);
	for (int i = 0; i < N; i++)
	{
		/* few distinct values, so ties are common */
		scores[i] = (float) rng_below(&rng, 20);
		if (i % 17 == 0)
			scores[i] = -INFINITY;
		if (i % 23 == 0)
			scores[i] = NAN;
	}
	/* reference: selection sort by (score desc, index asc) over eligible */
	for (int i = 0; i < N; i++)
		if (!isnan(scores[i]) && scores[i] != -INFINITY)
			ref[nref++] = i;
	for (int a = 0; a < nref; a++)
		for (int b = a + 1; b < nref; b++)
			if (scores[ref[b]] > scores[ref[a]] ||
				(scores[ref[b]] == scores[ref[a]] && ref[b] < ref[a]))
			{
				int32_t		t = ref[a];

				ref[a] = ref[b];
				ref[b] = t;
			}

	for (int k = 0; k <= N; k += (k < 12 ? 1 : 97))
	{
		int32_t		got = topk_select(scores, N, k, heap, out);
		int			same = (got == (k < nref ? k : nref));

		for (int i = 0; same && i < got; i++)
			same = (out[i] == ref[i]);
		CHECK(same, "top-%d differs from the sorted reference", k);
	}
	CHECK(topk_select(scores, N, 0, heap, out) == 0, "k = 0 selects nothing");
}

/*
 * topk_select_scratch gives topk_select's answer: sizes 1 to 2000, every
 * kind of k, ties (few distinct values), NaN, -inf and +inf, sorted inputs
 * both ways, all equal.
 */
static void
test_topk_scratch_same(void)
{
	enum
	{
		N = 2000
	};
	static float scores[N],
				scratch[N];
	static int32_t heap[N],
				a[N],
				b[N];
	int32_t		sizes[] = {1, 2, 7, 50, 333, 1682, 2000};
	Rng			rng;
	int			bad = 0,
				cases = 0;

	rng_seed(&rng, 31);
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
	{
		int32_t		n = sizes[si];

		for (int kind = 0; kind < 6; kind++)
		{
			for (int32_t j = 0; j < n; j++)
			{
				switch (kind)
				{
					case 0:		/* continuous */
						scores[j] = (float) rng_uniform(&rng);
						break;
					case 1:		/* few distinct values: many ties */
						scores[j] = (float) rng_below(&rng, 5);
						break;
					case 2:		/* ties, NaN, -inf, +inf */
						scores[j] = (float) rng_below(&rng, 9);
						if (j % 7 == 0)
							scores[j] = -INFINITY;
						if (j % 11 == 0)
							scores[j] = NAN;
						if (j % 13 == 0)
							scores[j] = INFINITY;
						break;
					case 3:		/* ascending */
						scores[j] = (float) j;
						break;
					case 4:		/* descending */
						scores[j] = (float) (n - j);
						break;
					case 5:		/* all equal */
						scores[j] = 1.0f;
						break;
				}
			}
			for (int32_t k = 1; k <= n + 1; k += (k < 12 ? 1 : 1 + k / 3))
			{
				int32_t		ga = topk_select(scores, n, k, heap, a);
				int32_t		gb = topk_select_scratch(scores, n, k, scratch, heap, b);
				int			same = (ga == gb);

				for (int32_t i = 0; same && i < ga; i++)
					same = (a[i] == b[i]);
				bad += !same;
				cases++;
			}
		}
	}
	CHECK(bad == 0, "topk_select_scratch differs from topk_select in %d of %d cases", bad, cases);
}

/* Linear search: the reference for ids_find. */
static int32_t
ids_find_linear(const int64_t *ids, int32_t n, int64_t id)
{
	for (int32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return i;
	return -1;
}

/*
 * ids_find (its shortcut for dense ids, then its binary search) agrees with
 * a linear search on dense, offset, gapped and extreme id sets, for present
 * and absent ids, the int8 extremes included (no overflow in the shortcut).
 */
static void
test_ids_find(void)
{
	enum
	{
		N = 300
	};
	int64_t		ids[N];
	int64_t		probes[] = {INT64_MIN, INT64_MIN + 1, -2, -1, 0, 1, 2, 5, 299, 300, 301,
		1000, INT64_MAX - 1, INT64_MAX};
	Rng			rng;
	int			bad = 0,
				checked = 0;

	rng_seed(&rng, 23);
	for (int set = 0; set < 6; set++)
	{
		int32_t		n = (set == 5) ? 0 : N;

		for (int32_t i = 0; i < n; i++)
		{
			switch (set)
			{
				case 0:			/* 1..n */
					ids[i] = i + 1;
					break;
				case 1:			/* offset, negative start */
					ids[i] = i - 150;
					break;
				case 2:			/* gaps */
					ids[i] = (i == 0 ? 0 : ids[i - 1]) + 1 + (int64_t) rng_below(&rng, 3);
					break;
				case 3:			/* extremes at both ends */
					ids[i] = (i == 0) ? INT64_MIN : (i == n - 1) ? INT64_MAX : i;
					break;
				case 4:			/* dense but missing one id in the middle */
					ids[i] = i + (i >= 100);
					break;
			}
		}
		for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++)
		{
			bad += ids_find(ids, n, probes[p]) != ids_find_linear(ids, n, probes[p]);
			checked++;
		}
		for (int32_t i = 0; i < n; i++)
		{
			bad += ids_find(ids, n, ids[i]) != i;
			checked++;
			if (ids[i] == INT64_MAX)
				continue;
			bad += ids_find(ids, n, ids[i] + 1) != ids_find_linear(ids, n, ids[i] + 1);
			checked++;
		}
	}
	CHECK(bad == 0, "ids_find disagrees with a linear search in %d of %d lookups", bad, checked);
}

/* A bump allocator whose blocks start 8 bytes past a 16-byte boundary, as palloc's do. */
static unsigned char odd_arena[1 << 16] __attribute__((aligned(64)));
static size_t odd_used;

static void *
odd_alloc(size_t size)
{
	void	   *p = odd_arena + odd_used + 8;

	odd_used += (size + 8 + 15) & ~(size_t) 15;
	if (odd_used > sizeof(odd_arena))
		abort();
	return p;
}

/*
 * rg_alloc_lines returns cache-line-aligned memory of the asked size even
 * when the host's blocks are not 16-byte aligned (the backend's palloc),
 * and rg_alloc_lines0 zeroes it.
 */
static void
test_alloc_lines(void)
{
	RgHost		saved = rg_host;
	int			bad = 0;

	rg_host.alloc = odd_alloc;
	for (size_t size = 1; size < 4096; size = size * 3 + 1)
	{
		unsigned char *a = rg_alloc(size),
				   *p = rg_alloc_lines(size),
				   *z;

		bad += (uintptr_t) a % 16 != 8;	/* the host is as odd as meant */
		bad += (uintptr_t) p % 64 != 0;
		memset(p, 0xff, size);
		memset(odd_arena + odd_used, 0xff, 128);	/* what the next block gets */
		z = rg_alloc_lines0(size);
		bad += (uintptr_t) z % 64 != 0 || z < p + size;
		for (size_t i = 0; i < size; i++)
			bad += z[i] != 0;
	}
	rg_host = saved;
	CHECK(bad == 0, "rg_alloc_lines: %d misaligned, overlapping or unzeroed", bad);
}

int
main(void)
{
	RUN(test_rng_reference_stream);
	RUN(test_rng_determinism);
	RUN(test_rng_uniform_moments);
	RUN(test_rng_below_even);
	RUN(test_rng_normal_moments);
	RUN(test_rng_sample_sorted);
	RUN(test_rng_shuffle_permutation);
	RUN(test_cblas_sgemm_links);
	RUN(test_topk_matches_sort);
	RUN(test_ids_find);
	RUN(test_topk_scratch_same);
	RUN(test_alloc_lines);
	return unit_summary();
}
