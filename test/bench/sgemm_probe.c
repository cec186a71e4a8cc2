/*
 * sgemm_probe.c: this machine's one-thread OpenBLAS sgemm rate, at a large
 * square and at the GEMM shapes of a CFGAN epoch (test/bench/side_by_side.sh).
 *
 *   sgemm_probe E C [H K BG BD SG SD]
 *
 * E entities of width C (item-based CFGAN: E items, C users), H generator and
 * K discriminator hidden units, BG / BD generator / discriminator batches,
 * SG / SD passes per epoch (defaults 400 125 32 64 4 2, the paper's).  The
 * shapes are those src/engine/gan.c calls (row-major, M x N x K, transposes):
 *   D fakes, G step: g = h W2^T      B x C x H  (N, T)
 *   D and G step: fake V1[C:]        B x K x C  (N, N)
 *   D step:       dV1 += fake^T dhf  C x K x B  (T, N)
 *   G step:       dfake = dhf V1^T   B x C x K  (N, T)
 *                 dh = dg W2         B x H x C  (N, N)
 *                 dW2 += dg^T h      C x H x B  (T, N)
 * Prints one line per shape (GFLOP/s, best of 5 runs of enough calls to last
 * about 0.1 s), then "square" (2048^3, best of 5 calls) and "epoch" (the calls
 * of one epoch in their real counts and order, best of 3 epochs).  Every line
 * ends in its GFLOP/s; "epoch" is the rate CFGAN could reach if its epoch were
 * nothing but these GEMMs.  Then the Adam steps of an epoch (the engine's
 * optim.c, one per batch over each network's parameters: ns per parameter)
 * and "floor": the seconds of an epoch that had only these GEMMs, at the
 * epoch's rate, and these Adam steps (a bound on CFGAN's one-thread speed).
 * Build: gcc -O3 -I src/engine sgemm_probe.c src/engine/optim.c
 * src/engine/parallel.c -lopenblas -lm -pthread.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optim.h"

typedef struct
{
	const char *name;
	int			ta,
				tb,
				m,
				n,
				k;
} Shape;

static float *buf_a,
		   *buf_b,
		   *buf_c;

/* Seconds of the monotonic clock. */
static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* One call at shape s on the shared buffers (C += A B, so no zeroing). */
static void
run(const Shape *s)
{
	int			lda = s->ta ? s->m : s->k,
				ldb = s->tb ? s->k : s->n;

	cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
				s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k,
				1.0f, buf_a, lda, buf_b, ldb, 1.0f, buf_c, s->n);
}

/* Best GFLOP/s over 5 runs of `calls` calls of shape s. */
static double
rate(const Shape *s, long calls)
{
	double		best = 0.0,
				flop = 2.0 * s->m * s->n * (double) s->k * calls;

	for (int rep = 0; rep < 5; rep++)
	{
		double		t0 = now(),
					r;

		for (long c = 0; c < calls; c++)
			run(s);
		r = flop / (now() - t0) / 1e9;
		if (r > best)
			best = r;
	}
	return best;
}

/*
 * Best seconds per parameter of one Adam step (the engine's optim.c) over
 * n parameters, applied in pieces of `piece` with one gradient buffer of
 * that size reused (as CFGAN's fused G step does), or in one
 * adam_update_zero call when piece is 0 (as its D step does); best of 5
 * runs of 10 steps.
 */
static double
adam_seconds(long n, long piece)
{
	float	   *p = calloc(n, sizeof(float)),
			   *m = malloc(sizeof(float) * n),
			   *v = malloc(sizeof(float) * n),
			   *g = calloc(piece > 0 ? piece : n, sizeof(float));
	AdamState	st;
	AdamConfig	cfg = {1e-4, 0.9, 0.999, 1e-8, 1e-3, 0.0};
	double		best = 1e30;

	if (p == NULL || m == NULL || v == NULL || g == NULL)
	{
		fprintf(stderr, "sgemm_probe: out of memory\n");
		exit(1);
	}
	adam_init(&st, m, v, n);
	for (int rep = 0; rep < 5; rep++)
	{
		double		t0 = now(),
					t;

		for (int step = 0; step < 10; step++)
		{
			if (piece == 0)
			{
				adam_update_zero(p, &st, g, &cfg);
				continue;
			}
			{
				AdamStep	as;

				adam_step_begin(&st, &cfg, &as);
				for (long o = 0; o < n; o += piece)
					adam_step_apply(&as, p + o, m + o, v + o, g,
									n - o < piece ? n - o : piece, false);
			}
		}
		t = (now() - t0) / (10.0 * n);
		if (t < best)
			best = t;
	}
	free(p);
	free(m);
	free(v);
	free(g);
	return best;
}

/* Allocate the shared buffers, big enough for every shape (n x n at most). */
static void
alloc_buffers(long n)
{
	buf_a = malloc(sizeof(float) * n);
	buf_b = malloc(sizeof(float) * n);
	buf_c = malloc(sizeof(float) * n);
	if (buf_a == NULL || buf_b == NULL || buf_c == NULL)
	{
		fprintf(stderr, "sgemm_probe: out of memory\n");
		exit(1);
	}
	for (long i = 0; i < n; i++)
	{
		buf_a[i] = (float) (i % 7) / 7.0f;
		buf_b[i] = (float) (i % 5) / 5.0f;
		buf_c[i] = 0.0f;
	}
}

int
main(int argc, char **argv)
{
	int			E,
				C,
				H = 400,
				K = 125,
				BG = 32,
				BD = 64,
				SG = 4,
				SD = 2;
	long		big;

	if (argc != 3 && argc != 9)
	{
		fprintf(stderr, "usage: sgemm_probe E C [H K BG BD SG SD]\n");
		return 2;
	}
	E = atoi(argv[1]);
	C = atoi(argv[2]);
	if (argc == 9)
	{
		H = atoi(argv[3]);
		K = atoi(argv[4]);
		BG = atoi(argv[5]);
		BD = atoi(argv[6]);
		SG = atoi(argv[7]);
		SD = atoi(argv[8]);
	}
	openblas_set_num_threads(1);
	big = 2048L * 2048;
	if ((long) C * H > big)
		big = (long) C * H;
	alloc_buffers(big);

	{
		Shape		d[] = {
			{"D fakes: g = h W2^T", 0, 1, BD, C, H},
			{"D: fake V1", 0, 0, BD, K, C},
			{"D: dV1 += fake^T dhf", 1, 0, C, K, BD},
		};
		Shape		g[] = {
			{"G: g = h W2^T", 0, 1, BG, C, H},
			{"G: fake V1", 0, 0, BG, K, C},
			{"G: dfake = dhf V1^T", 0, 1, BG, C, K},
			{"G: dh = dg W2", 0, 0, BG, H, C},
			{"G: dW2 += dg^T h", 1, 0, C, H, BG},
		};
		Shape		sq = {"square 2048^3", 0, 0, 2048, 2048, 2048};
		int			nd = sizeof(d) / sizeof(d[0]),
					ng = sizeof(g) / sizeof(g[0]);
		double		flop = 0.0,
					best = 0.0;

		for (int i = 0; i < nd + ng; i++)
		{
			const Shape *s = i < nd ? &d[i] : &g[i - nd];
			long		calls = 1 + (long) (1e8 / (2.0 * s->m * s->n * (double) s->k));

			printf("%-22s %5d x %5d x %5d  %6.1f\n", s->name, s->m, s->n, s->k, rate(s, calls));
		}
		printf("%-22s %5d x %5d x %5d  %6.1f\n", sq.name, sq.m, sq.n, sq.k, rate(&sq, 1));

		/*
		 * one epoch of calls: the fakes of the D passes (the generator, once,
		 * in batches of BD), SD passes of ceil(E / BD) D steps (their other
		 * shapes), SG passes of G steps
		 */
		for (int rep = 0; rep < 3; rep++)
		{
			double		t0 = now(),
						r;

			flop = 0.0;
			for (int pass = -1; pass < SD + SG; pass++)
			{
				int			B = pass < SD ? BD : BG;
				const Shape *s = pass < 0 ? d : pass < SD ? d + 1 : g;
				int			ns = pass < 0 ? 1 : pass < SD ? nd - 1 : ng;

				for (int e0 = 0; e0 < E; e0 += B)
				{
					int			b = E - e0 < B ? E - e0 : B;

					for (int i = 0; i < ns; i++)
					{
						Shape		t = s[i];

						/* the batch is whichever of m, k was B */
						if (t.m == B)
							t.m = b;
						else
							t.k = b;
						run(&t);
						flop += 2.0 * t.m * t.n * (double) t.k;
					}
				}
			}
			r = flop / (now() - t0) / 1e9;
			if (r > best)
				best = r;
		}
		printf("%-22s %.2f GFLOP  %6.1f\n", "epoch", flop / 1e9, best);

		/*
		 * The floor of a CFGAN epoch on one thread: these GEMMs at the
		 * epoch's rate, plus the generator's and the discriminator's Adam
		 * steps (one per batch) at the rates measured here; everything else
		 * (sparse first layers, activations, sampling) counted as free.
		 */
		{
			long		n_g = 2L * C * H + H + C,
						n_d = 2L * C * K + K + 1;
			double		ag = adam_seconds(n_g, 48L * H),
						ad = adam_seconds(n_d, 0),
						steps_g = (double) SG * ((E + BG - 1) / BG),
						steps_d = (double) SD * ((E + BD - 1) / BD),
						floor_s = flop / (best * 1e9) + steps_g * n_g * ag + steps_d * n_d * ad;

			printf("adam G %ld params       %.2f ns per parameter, %.0f steps\n", n_g, 1e9 * ag, steps_g);
			printf("adam D %ld params       %.2f ns per parameter, %.0f steps\n", n_d, 1e9 * ad, steps_d);
			printf("floor s per epoch      %.3f\n", floor_s);
		}
	}
	return 0;
}
