/*
 * test_gfcf.c
 *	  Unit tests of GF-CF (alg_gfcf.c), run without a server by `make
 *	  unitcheck`: the randomized SVD against a dense reference (LAPACK dsyevd
 *	  on A^T A, A = D_U^-1/2 R D_I^-1/2: singular values and the spanned
 *	  subspace), the sparse scoring of known users, fold-in histories and
 *	  similar items against a dense naive twin, determinism for a seed and
 *	  across thread counts, tensor validation, and degenerate shapes.  Exit
 *	  status 0 only when every check passed.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "parallel.h"
#include "registry.h"
#include "rng.h"
#include "unit.h"

extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
					const int *lda, double *w, double *work, const int *lwork, int *iwork,
					const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

enum
{
	NU = 70, NI = 45
};

/* Options in gfcf's spec order: factors, alpha, power_iters, oversample. */
typedef struct GfcfOpts
{
	double		opt[4];
} GfcfOpts;

/* A random binary (U x I) matrix of the given density; item NI - 1 is left empty. */
static void
random_csr(Csr *csr, int32_t nu, int32_t ni, double density, uint64_t seed, int empty_item)
{
	int32_t    *rows = malloc(sizeof(int32_t) * nu * ni);
	int32_t    *cols = malloc(sizeof(int32_t) * nu * ni);
	int64_t		n = 0;
	Rng			rng;

	rng_seed(&rng, seed);
	for (int32_t u = 0; u < nu; u++)
		for (int32_t i = 0; i < ni; i++)
			if ((rng_uniform(&rng) < density || i == u % (ni - empty_item)) &&
				!(empty_item && i == ni - 1))
			{
				rows[n] = u;
				cols[n] = i;
				n++;
			}
	csr_from_pairs(csr, nu, ni, rows, cols, n);
	free(rows);
	free(cols);
}

/* Train gfcf on csr into m (its tensors through the host). */
static RgStatus
train(Model *m, const Csr *csr, const double *opt, uint64_t seed)
{
	return unit_train(m, "gfcf", csr, opt, seed);
}

/* The dense normalised matrix A (U, I) in double. */
static double *
dense_a(const Csr *csr)
{
	double	   *a = calloc((size_t) csr->n_rows * csr->n_cols, sizeof(double));
	double	   *di = calloc(csr->n_cols, sizeof(double));

	for (int64_t p = 0; p < CsrNnz(csr); p++)
		di[csr->indices[p]] += 1;
	for (int32_t u = 0; u < csr->n_rows; u++)
		for (int64_t p = csr->indptr[u]; p < csr->indptr[u + 1]; p++)
			a[(size_t) u * csr->n_cols + csr->indices[p]] =
				1.0 / sqrt((double) CsrRowLen(csr, u) * di[csr->indices[p]]);
	free(di);
	return a;
}

/* Eigenvalues (ascending) and vectors (columns of g, column-major) of A^T A. */
static void
dense_eigen(const double *a, int nu, int ni, double *g, double *w)
{
	int			lwork = -1,
				liwork = -1,
				iq = 0,
				info = 0;
	double		q = 0;
	double	   *work;
	int		   *iwork;

	cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, ni, ni, nu, 1.0, a, ni, a, ni,
				0.0, g, ni);
	dsyevd_("V", "U", &ni, g, &ni, w, &q, &lwork, &iq, &liwork, &info, 1, 1);
	lwork = (int) q;
	liwork = iq;
	work = malloc(sizeof(double) * lwork);
	iwork = malloc(sizeof(int) * liwork);
	dsyevd_("V", "U", &ni, g, &ni, w, work, &lwork, iwork, &liwork, &info, 1, 1);
	CHECK(info == 0, "reference dsyevd info %d", info);
	free(work);
	free(iwork);
}

/* Singular values and the subspace of V against the dense reference. */
static void
check_svd(const Csr *csr, const Model *m, int k, double tol, const char *what)
{
	int			ni = csr->n_cols;
	double	   *a = dense_a(csr);
	double	   *g = malloc(sizeof(double) * ni * ni);
	double	   *w = malloc(sizeof(double) * ni);
	const float *v = m->tensors[0].data;
	const float *sigma = m->tensors[1].data;
	double		worst_sigma = 0,
				worst_orth = 0,
				proj = 0;

	dense_eigen(a, csr->n_rows, ni, g, w);
	for (int c = 0; c < k; c++)
		worst_sigma = fmax(worst_sigma, fabs(sigma[c] - sqrt(fmax(w[ni - 1 - c], 0))));
	/* V^T V = Id, and |Vref^T V|_F^2 = k when the subspaces agree */
	for (int c = 0; c < k; c++)
		for (int e = 0; e < k; e++)
		{
			double		dot = 0,
						ref = 0;

			for (int i = 0; i < ni; i++)
			{
				dot += (double) v[i * k + c] * v[i * k + e];
				ref += g[(size_t) (ni - 1 - c) * ni + i] * v[i * k + e];
			}
			worst_orth = fmax(worst_orth, fabs(dot - (c == e)));
			proj += ref * ref;
		}
	printf("     %-34s max |sigma - ref| %.2e, max |V^T V - Id| %.2e, k - |Vref^T V|^2 %.2e\n",
		   what, worst_sigma, worst_orth, k - proj);
	CHECK(worst_sigma < tol, "%s: singular values off by %g", what, worst_sigma);
	CHECK(worst_orth < 1e-5, "%s: V not orthonormal (%g)", what, worst_orth);
	CHECK(k - proj < tol * k, "%s: subspace off by %g", what, k - proj);
	CHECK(sigma[0] <= 1.0 + 1e-5 && sigma[0] > 0.99, "%s: sigma_1 of A is 1, got %g", what, sigma[0]);
	free(a);
	free(g);
	free(w);
}

/* Full rank (K = I, the whole space) and a truncated, well-iterated SVD. */
static void
test_svd(void)
{
	Csr			csr;
	Model		m;
	double		full[4] = {NI, 0.3, 2, 0};
	double		trunc[4] = {8, 0.3, 12, 8};

	random_csr(&csr, NU, NI, 0.15, 7, 1);
	CHECK(train(&m, &csr, full, 42) == RG_OK, "full-rank training");
	CHECK(m.tensors[0].len == NI * NI && m.tensors[1].len == NI, "full-rank shapes");
	check_svd(&csr, &m, NI, 1e-5, "full rank (K = I)");
	CHECK(train(&m, &csr, trunc, 42) == RG_OK, "truncated training");
	check_svd(&csr, &m, 8, 1e-4, "K 8, oversample 8, 12 iters");
}

/* The dense twin of score(): r A^T A + alpha (r D^-1/2) V V^T D^1/2. */
static void
dense_score(const Csr *csr, const Model *m, const int32_t *hist, int n, double *out)
{
	int			nu = csr->n_rows,
				ni = csr->n_cols,
				k = (int) m->tensors[1].len;
	double	   *a = dense_a(csr);
	double	   *r = calloc(ni, sizeof(double));
	double	   *t = calloc(nu, sizeof(double));
	double	   *p = calloc(k, sizeof(double));
	double	   *d = calloc(ni, sizeof(double));
	const float *v = m->tensors[0].data;

	for (int64_t e = 0; e < CsrNnz(csr); e++)
		d[csr->indices[e]] += 1;
	for (int h = 0; h < n; h++)
		r[hist[h]] = 1;
	for (int u = 0; u < nu; u++)
		for (int i = 0; i < ni; i++)
			t[u] += r[i] * a[u * ni + i];
	for (int i = 0; i < ni; i++)
	{
		double		wi = d[i] > 0 ? 1 / sqrt(d[i]) : 0;

		for (int c = 0; c < k; c++)
			p[c] += r[i] * wi * v[i * k + c];
	}
	for (int j = 0; j < ni; j++)
	{
		double		lin = 0,
					low = 0;

		for (int u = 0; u < nu; u++)
			lin += t[u] * a[u * ni + j];
		for (int c = 0; c < k; c++)
			low += p[c] * v[j * k + c];
		out[j] = lin + m->hyper[1] * low * sqrt(d[j]);
	}
	free(a);
	free(r);
	free(t);
	free(p);
	free(d);
}

/* Largest |got - want| relative to the largest |want|. */
static double
rel_diff(const float *got, const double *want, int n)
{
	double		diff = 0,
				mag = 0;

	for (int j = 0; j < n; j++)
	{
		diff = fmax(diff, fabs(got[j] - want[j]));
		mag = fmax(mag, fabs(want[j]));
	}
	return diff / fmax(mag, 1e-30);
}

/* Known users, fold-in histories and similar items against the twin, with and without prepare. */
static void
test_score(void)
{
	Csr			csr;
	Model		m;
	double		opt[4] = {6, 0.7, 4, 10};
	int32_t		fold[3] = {2, 9, 30};
	int32_t		empty_hist = NI - 1;	/* an item without positives */
	ScoreQuery	qs[5];
	float	   *scores = malloc(sizeof(float) * 5 * NI);
	double		want[NI];
	double		worst = 0;

	random_csr(&csr, NU, NI, 0.12, 11, 1);
	CHECK(train(&m, &csr, opt, 5) == RG_OK, "training");
	for (int prepared = 0; prepared < 2; prepared++)
	{
		if (prepared)
			m.ops->prepare(&m);
		model_user_query(&m, 0, &qs[0]);
		model_user_query(&m, NU - 1, &qs[1]);
		qs[2] = (ScoreQuery) {-1, fold, 3};
		qs[3] = (ScoreQuery) {-1, &empty_hist, 1};
		qs[4] = (ScoreQuery) {-1, NULL, 0};
		m.ops->score(&m, qs, 5, scores);
		for (int q = 0; q < 5; q++)
		{
			dense_score(&csr, &m, qs[q].items, qs[q].n_items, want);
			if (qs[q].n_items == 0 || qs[q].items[0] == NI - 1)
			{
				for (int j = 0; j < NI; j++)
					CHECK(scores[q * NI + j] == 0.0f, "query %d: empty history scores 0", q);
				continue;
			}
			worst = fmax(worst, rel_diff(scores + q * NI, want, NI));
		}
		for (int i = 0; i < NI - 1; i += 7)
		{
			int32_t		one = i;

			m.ops->similar(&m, i, scores);
			dense_score(&csr, &m, &one, 1, want);
			worst = fmax(worst, rel_diff(scores, want, NI));
		}
	}
	printf("     sparse scoring vs dense twin: rel err %.2e\n", worst);
	CHECK(worst < 1e-5, "sparse scoring off the dense twin by %g", worst);
	free(scores);
}

/* The same bits for a seed, at 1 and 2 threads; another seed gives other bits. */
static void
test_determinism(void)
{
	Csr			csr;
	Model		a,
				b;
	double		opt[4] = {10, 0.3, 3, 16};
	size_t		bytes;

	random_csr(&csr, 400, 300, 0.05, 3, 0);
	bytes = sizeof(float) * 300 * 10;
	parallel_set_threads(1);
	CHECK(train(&a, &csr, opt, 9) == RG_OK, "train 1 thread");
	parallel_set_threads(2);
	CHECK(train(&b, &csr, opt, 9) == RG_OK, "train 2 threads");
	CHECK(memcmp(a.tensors[0].data, b.tensors[0].data, bytes) == 0, "V differs across threads");
	CHECK(train(&b, &csr, opt, 9) == RG_OK, "train again");
	CHECK(memcmp(a.tensors[0].data, b.tensors[0].data, bytes) == 0, "V differs for one seed");
	CHECK(train(&b, &csr, opt, 10) == RG_OK, "train seed 10");
	CHECK(memcmp(a.tensors[0].data, b.tensors[0].data, bytes) != 0, "seed is ignored");
	parallel_set_threads(1);
}

/* Tensor shapes are checked; K is min(factors, U, I); tiny shapes train. */
static void
test_validate_and_shapes(void)
{
	Csr			csr;
	Model		m;
	RgError		err;
	double		opt[4] = {256, 0.3, 4, 64};
	int32_t		row = 0,
				col = 0;

	random_csr(&csr, 12, 5, 0.3, 1, 0);
	CHECK(train(&m, &csr, opt, 1) == RG_OK, "train 12 x 5 with factors 256");
	CHECK(m.tensors[0].len == 5 * 5 && m.tensors[1].len == 5, "K = min(factors, U, I) = 5");
	CHECK(m.ops->validate(&m, &err) == RG_OK, "validate a trained model");
	m.tensors[1].len = 4;
	CHECK(m.ops->validate(&m, &err) == RG_DATA_CORRUPTED, "short sigma refused");
	m.tensors[1].len = 5;
	m.n_tensors = 1;
	CHECK(m.ops->validate(&m, &err) == RG_DATA_CORRUPTED, "missing tensor refused");
	csr_from_pairs(&csr, 1, 1, &row, &col, 1);
	CHECK(train(&m, &csr, opt, 1) == RG_OK, "train 1 x 1");
	CHECK(m.tensors[1].len == 1 && fabsf(m.tensors[1].data[0] - 1.0f) < 1e-6,
		  "1 x 1: sigma 1");
}

int
main(void)
{
	rg_host_malloc();
	RUN(test_svd);
	RUN(test_score);
	RUN(test_determinism);
	RUN(test_validate_and_shapes);
	return unit_summary();
}
