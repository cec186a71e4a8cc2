/*
 * test_ials.c
 *	  Unit tests of iALS (alg_ials.c), run without a server by `make
 *	  unitcheck`: the conjugate-gradient half-sweeps split over threads give
 *	  the same bits at 1, 2 and 3 threads (rows cut by work, plain C kernels),
 *	  CG with 4 steps per factor lands on the exact (Cholesky) solution, with
 *	  our factorisation (F a multiple of 8) and LAPACK's,
 *	  and a seed fixes the model.  Exit status 0 only when every check passed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "parallel.h"
#include "registry.h"
#include "rng.h"
#include "unit.h"

enum
{
	NU = 3000, NI = 500, F = 16
};

/* Long-tailed random positives: user u rates about 5 + u % 40 items, popular ones more often. */
static void
random_csr(Csr *csr, uint64_t seed)
{
	int32_t    *rows = malloc(sizeof(int32_t) * NU * 60);
	int32_t    *cols = malloc(sizeof(int32_t) * NU * 60);
	unsigned char *seen = calloc(NI, 1);
	int64_t		n = 0;
	Rng			rng;

	rng_seed(&rng, seed);
	for (int32_t u = 0; u < NU; u++)
	{
		int			want = 5 + u % 40;

		memset(seen, 0, NI);
		for (int k = 0; k < want; k++)
		{
			double		r = rng_uniform(&rng);
			int32_t		i = (int32_t) (NI * r * r * r);	/* skewed to low ids */

			if (i >= NI || seen[i])
				continue;
			seen[i] = 1;
			rows[n] = u;
			cols[n] = i;
			n++;
		}
	}
	csr_from_pairs(csr, NU, NI, rows, cols, n);
	free(rows);
	free(cols);
	free(seen);
}

/* Factors of the models train() builds (F unless a test sets it). */
static int	factors = F;

/* Train ials on csr into m with its defaults but these; epochs, no validation. */
static RgStatus
train(Model *m, const Csr *csr, int solver_cholesky, int cg_steps, int epochs, uint64_t seed)
{
	const ModelOps *ops = model_ops_by_name("ials");
	double		opt[RECGAN_MAX_HYPER];

	for (int o = 0; o < ops->n_options; o++)
	{
		const char *key = ops->options[o].key;

		opt[o] = ops->options[o].defval;
		if (strcmp(key, "factors") == 0)
			opt[o] = factors;
		else if (strcmp(key, "lambda") == 0)
			opt[o] = 5;
		else if (strcmp(key, "init_std") == 0)
			opt[o] = 0.1;
		else if (strcmp(key, "solver") == 0)
			opt[o] = solver_cholesky;
		else if (strcmp(key, "cg_steps") == 0)
			opt[o] = cg_steps;
		else if (strcmp(key, "epochs") == 0)
			opt[o] = epochs;
		else if (strcmp(key, "validation_fraction") == 0)
			opt[o] = 0;
	}
	return unit_train(m, "ials", csr, opt, seed);
}

/* Largest |a - b| / (1 + |b|) over n floats. */
static double
max_rel(const float *a, const float *b, size_t n)
{
	double		worst = 0;

	for (size_t k = 0; k < n; k++)
		worst = fmax(worst, fabs((double) a[k] - b[k]) / (1 + fabs((double) b[k])));
	return worst;
}

/* The same bits at 1, 2 and 3 threads and for a seed; another seed differs. */
static void
test_threads(void)
{
	Csr			csr;
	Model		a,
				b;
	size_t		xb = sizeof(float) * NU * F,
				yb = sizeof(float) * NI * F;

	random_csr(&csr, 7);
	printf("     %lld positives\n", (long long) CsrNnz(&csr));
	parallel_set_threads(1);
	CHECK(train(&a, &csr, 0, 3, 4, 11) == RG_OK, "train 1 thread");
	for (int t = 2; t <= 3; t++)
	{
		parallel_set_threads(t);
		CHECK(train(&b, &csr, 0, 3, 4, 11) == RG_OK, "train %d threads", t);
		CHECK(memcmp(a.tensors[0].data, b.tensors[0].data, xb) == 0, "X differs at %d threads", t);
		CHECK(memcmp(a.tensors[1].data, b.tensors[1].data, yb) == 0, "Y differs at %d threads", t);
	}
	CHECK(train(&b, &csr, 0, 3, 4, 12) == RG_OK, "train seed 12");
	CHECK(memcmp(a.tensors[1].data, b.tensors[1].data, yb) != 0, "seed is ignored");
	parallel_set_threads(1);
}

/*
 * CG with 4 F steps solves each row's system: one epoch matches the exact
 * solver, at F = 16 (our Cholesky, F a multiple of 8) and F = 12 (LAPACK's).
 */
static void
test_cg_exact(void)
{
	static const int fs[] = {F, 12};
	Csr			csr;
	Model		cg,
				chol;
	double		dx,
				dy;

	random_csr(&csr, 8);
	parallel_set_threads(2);
	for (int t = 0; t < 2; t++)
	{
		factors = fs[t];
		CHECK(train(&cg, &csr, 0, 4 * factors, 1, 5) == RG_OK, "train cg");
		CHECK(train(&chol, &csr, 1, 3, 1, 5) == RG_OK, "train cholesky");
		dx = max_rel(cg.tensors[0].data, chol.tensors[0].data, (size_t) NU * factors);
		dy = max_rel(cg.tensors[1].data, chol.tensors[1].data, (size_t) NI * factors);
		printf("     F %d: cg (%d steps) vs cholesky after one epoch: X %.2e, Y %.2e\n",
			   factors, 4 * factors, dx, dy);
		CHECK(dx < 1e-3 && dy < 1e-3, "F %d: cg off the exact solution: X %g, Y %g", factors, dx, dy);
		/* and 1 step is not the exact solution: the test can tell them apart */
		CHECK(train(&cg, &csr, 0, 1, 1, 5) == RG_OK, "train cg 1 step");
		dy = max_rel(cg.tensors[1].data, chol.tensors[1].data, (size_t) NI * factors);
		CHECK(dy > 1e-3, "F %d: one CG step already exact (%g): the comparison cannot fail",
			  factors, dy);
	}
	factors = F;
	parallel_set_threads(1);
}

int
main(void)
{
	rg_host_malloc();
	RUN(test_threads);
	RUN(test_cg_exact);
	return unit_summary();
}
