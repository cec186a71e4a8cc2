/*
 * alg_gfcf.c
 *	  GF-CF: graph filter collaborative filtering (Shen et al., CIKM 2021,
 *	  "How Powerful is Graph Convolution for Recommendation?"), closed form,
 *	  for catalogues too large for dense EASE.
 *
 * Legend: U users, I items, N training positives, K factors kept,
 * K2 = min(K + oversample, U, I) columns of the randomized subspace.
 *
 * With R the binary (U, I) training positives and d_u, d_i the user and
 * item degrees, the normalised matrix is
 *
 *   A = D_U^-1/2 R D_I^-1/2        (U, I), A_ui = 1 / sqrt(d_u d_i)
 *
 * and a history row r (I, binary) is scored as
 *
 *   s = r A^T A  +  alpha (r D_I^-1/2) V V^T D_I^1/2
 *
 * the linear filter plus the ideal low-pass filter, V (I, K) the top-K
 * right singular vectors of A.  Both terms are computed sparsely: r A^T is
 * a vector over the users who share an item with r, then times A; the
 * low-pass term is (r D_I^-1/2) V, a (K) vector, times V^T.
 *
 * Training finds V by randomized subspace iteration (Halko, Martinsson
 * and Tropp, SIAM Review 2011) on A^T A, never forming it:
 *
 *   X = orth(A^T A Omega)          Omega (I, K2) Gaussian from the seed
 *   X = orth(A^T A X)              power_iters more times
 *   M = (A X)^T (A X)              (K2, K2), eigenpairs by LAPACK dsyevd
 *   V = X W, sigma = sqrt(eig)     the K largest
 *
 * in float64, orth() by Householder QR (dgeqrf + dorgqr).  The sparse
 * products split their output rows over recgan.threads (parallel.h), so
 * they are bit-identical at any thread count; QR and the eigensolve are
 * OpenBLAS's, deterministic for a thread count.  Cost: 2 power_iters + 3
 * sparse products of N K2 multiply-adds, power_iters + 1 QRs of about
 * 4 I K2^2 flops; memory (2 I + U) K2 float64 (Gowalla, K2 = 320: 0.29 GB).
 *
 * Known users score their stored history (the training positives in the
 * model), a fold-in history (recgan_recommend_items) is scored the same
 * way, and the similar items of i are the scores of the history {i}.  The
 * degrees are derived from the stored positives when the model is
 * decoded, so they cannot disagree with them.
 *
 * Tensors: 0 = V (I, K), 1 = sigma (K) singular values, descending,
 * float32; K = min(factors, U, I).  Options: factors, alpha, power_iters,
 * oversample.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model.h"
#include "parallel.h"
#include "rng.h"

/* LAPACK (Fortran ABI, with the hidden lengths of the character arguments) */
extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau,
					double *work, const int *lwork, int *info);
extern void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda,
					const double *tau, double *work, const int *lwork, int *info);
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
					const int *lda, double *w, double *work, const int *lwork, int *iwork,
					const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

enum
{
	OPT_FACTORS,
	OPT_ALPHA,
	OPT_POWER_ITERS,
	OPT_OVERSAMPLE
};

static const OptionSpec gfcf_options[] = {
	{"factors", OPT_INT, 256, 1, 4096, NULL,
	"singular vectors of the ideal low-pass filter (at most the users and items)"},
	{"alpha", OPT_REAL, 0.3, 0, 1e6, NULL,
	"weight of the ideal low-pass filter beside the linear filter"},
	{"power_iters", OPT_INT, 4, 0, 100, NULL,
	"extra subspace iterations of the randomized SVD (more: more accurate, slower)"},
	{"oversample", OPT_INT, 64, 0, 4096, NULL,
	"extra columns of the randomized subspace beyond factors"},
};

/* The normalised graph: A_ui = wu[u] wi[i] on the positives. */
typedef struct GfcfGraph
{
	const Csr  *ui;				/* (U x I) positives */
	Csr			iu;				/* (I x U) the transpose */
	float	   *wu;				/* (U) d_u^-1/2, 0 for an empty row */
	float	   *wi;				/* (I) d_i^-1/2, 0 for an item without positives */
	float	   *si;				/* (I) d_i^1/2 */
} GfcfGraph;

/* K: the factors kept, at most min(U, I). */
static int
GfcfRank(const Model *model)
{
	int64_t		k = (int64_t) model->hyper[OPT_FACTORS];

	k = RG_MIN(k, model->n_users);
	k = RG_MIN(k, model->n_items);
	return (int) k;
}

/* Transpose and degree weights of the positives. */
static void
GraphBuild(GfcfGraph *g, const Csr *pos)
{
	g->ui = pos;
	csr_transpose(pos, &g->iu);
	g->wu = rg_alloc_array(float, RG_MAX(pos->n_rows, 1));
	g->wi = rg_alloc_array(float, RG_MAX(pos->n_cols, 1));
	g->si = rg_alloc_array(float, RG_MAX(pos->n_cols, 1));
	for (int32_t u = 0; u < pos->n_rows; u++)
		g->wu[u] = CsrRowLen(pos, u) > 0 ? (float) (1.0 / sqrt(CsrRowLen(pos, u))) : 0.0f;
	for (int32_t i = 0; i < pos->n_cols; i++)
	{
		int32_t		d = CsrRowLen(&g->iu, i);

		g->wi[i] = d > 0 ? (float) (1.0 / sqrt(d)) : 0.0f;
		g->si[i] = (float) sqrt(d);
	}
}

/* Free what GraphBuild allocated. */
static void
GraphFree(GfcfGraph *g)
{
	rg_free(g->iu.indptr);
	rg_free(g->iu.indices);
	rg_free(g->wu);
	rg_free(g->wi);
	rg_free(g->si);
}

/* Arguments of a weighted sparse x dense product. */
typedef struct SpmmJob
{
	double	   *out;			/* (rows, k) */
	const double *in;			/* (cols, k) */
	const Csr  *csr;			/* (rows x cols) pattern */
	const float *wrow;			/* (rows) */
	const float *wcol;			/* (cols) */
	int			k;
} SpmmJob;

/* out[r] = wrow[r] * sum over c in row r of wcol[c] in[c], for the rows of one part. */
static void
spmm_part(void *arg, int part, int n_parts)
{
	SpmmJob    *j = arg;
	int			k = j->k;
	int64_t		r0,
				r1;

	parallel_range(j->csr->n_rows, part, n_parts, 1, &r0, &r1);
	for (int64_t r = r0; r < r1; r++)
	{
		double	   *o = j->out + (size_t) r * k;

		memset(o, 0, sizeof(double) * k);
		for (int64_t p = j->csr->indptr[r]; p < j->csr->indptr[r + 1]; p++)
		{
			int32_t		c = j->csr->indices[p];
			const double *x = j->in + (size_t) c * k;
			double		w = j->wcol[c];

			for (int d = 0; d < k; d++)
				o[d] += w * x[d];
		}
		for (int d = 0; d < k; d++)
			o[d] *= j->wrow[r];
	}
}

/* out (rows, k) = diag(wrow) csr diag(wcol) in, rows split over the threads. */
static void
WeightedSpmm(double *out, const double *in, const Csr *csr, const float *wrow,
			 const float *wcol, int k)
{
	SpmmJob		j = {out, in, csr, wrow, wcol, k};

	parallel_run(spmm_part, &j, (double) CsrNnz(csr) * k + (double) csr->n_rows * k);
}

/* dst (cols, rows) = src (rows, cols) transposed. */
static void
Transpose(double *dst, const double *src, int64_t rows, int64_t cols)
{
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c = 0; c < cols; c++)
			dst[(size_t) c * rows + r] = src[(size_t) r * cols + c];
}

/* Workspace sizes of the LAPACK calls, from their queries. */
static int
LapackWork(int m, int k2, double *tmp)
{
	int			lwork = -1,
				info = 0,
				best = 1;
	double		q = 0;

	dgeqrf_(&m, &k2, tmp, &m, tmp, &q, &lwork, &info);
	best = RG_MAX(best, (int) q);
	dorgqr_(&m, &k2, &k2, tmp, &m, tmp, &q, &lwork, &info);
	best = RG_MAX(best, (int) q);
	return best;
}

/*
 * Orthonormalise the columns of x (I, K2) row-major in place through cm, a
 * column-major copy, by Householder QR.
 */
static RgStatus
Orthonormalise(double *x, double *cm, int m, int k2, double *tau, double *work, int lwork,
			   RgError *err)
{
	int			info = 0;

	Transpose(cm, x, m, k2);
	dgeqrf_(&m, &k2, cm, &m, tau, work, &lwork, &info);
	if (info == 0)
		dorgqr_(&m, &k2, &k2, cm, &m, tau, work, &lwork, &info);
	if (info != 0)
		return rg_fail(err, RG_INTERNAL, "gfcf QR factorisation failed (LAPACK info %d)", info);
	Transpose(x, cm, k2, m);
	return RG_OK;
}

/* x (I, K2) = A^T A x through b (U, K2). */
static void
ApplyGram(double *x, double *b, const GfcfGraph *g, int k2)
{
	WeightedSpmm(b, x, g->ui, g->wu, g->wi, k2);
	WeightedSpmm(x, b, &g->iu, g->wi, g->wu, k2);
}

/*
 * Rayleigh-Ritz on the subspace x (I, K2): the K largest eigenpairs of
 * (A x)^T (A x) give v (I, K) float and sigma (K), descending.
 */
static RgStatus
RayleighRitz(float *v, float *sigma, const double *x, double *b, const GfcfGraph *g,
			 int m, int k2, int k, RgError *err)
{
	double	   *mat = rg_alloc_array(double, (size_t) k2 * k2);	/* (K2, K2) */
	double	   *w = rg_alloc_array(double, k2);
	double	   *top = rg_alloc_array(double, (size_t) k2 * k);	/* (K2, K) */
	double	   *vd = rg_alloc_array(double, (size_t) m * k);	/* (I, K) */
	double		q = 0;
	int			lwork = -1,
				liwork = -1,
				iq = 0,
				info = 0;
	double	   *work;
	int		   *iwork;

	WeightedSpmm(b, x, g->ui, g->wu, g->wi, k2);
	cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, k2, g->ui->n_rows, 1.0, b, k2,
				0.0, mat, k2);
	dsyevd_("V", "U", &k2, mat, &k2, w, &q, &lwork, &iq, &liwork, &info, 1, 1);
	lwork = RG_MAX(1, (int) q);
	liwork = RG_MAX(1, iq);
	work = rg_alloc_array(double, lwork);
	iwork = rg_alloc_array(int, liwork);
	dsyevd_("V", "U", &k2, mat, &k2, w, work, &lwork, iwork, &liwork, &info, 1, 1);
	if (info != 0)
		return rg_fail(err, RG_INTERNAL, "gfcf eigensolver failed (LAPACK info %d)", info);
	/* ascending eigenvalues: column k2 - 1 - c of the vectors is the c-th largest */
	for (int r = 0; r < k2; r++)
		for (int c = 0; c < k; c++)
			top[(size_t) r * k + c] = mat[(size_t) (k2 - 1 - c) * k2 + r];
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, k2, 1.0, x, k2, top, k,
				0.0, vd, k);
	for (size_t e = 0; e < (size_t) m * k; e++)
		v[e] = (float) vd[e];
	for (int c = 0; c < k; c++)
		sigma[c] = (float) sqrt(fmax(w[k2 - 1 - c], 0.0));
	rg_free(iwork);
	rg_free(work);
	rg_free(vd);
	rg_free(top);
	rg_free(w);
	rg_free(mat);
	return RG_OK;
}

/* Top-K right singular vectors of A by randomized subspace iteration. */
static RgStatus
GfcfTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	int			m = model->n_items;
	int			k = GfcfRank(model);
	int			k2 = (int) RG_MIN((int64_t) k + (int64_t) in->opt[OPT_OVERSAMPLE],
								  (int64_t) RG_MIN(model->n_users, model->n_items));
	int			power_iters = (int) in->opt[OPT_POWER_ITERS];
	double		start = rg_now();
	EpochReport r = {1, NAN, NAN, NAN, 0};
	GfcfGraph	g;
	double	   *x,				/* (I, K2) subspace, row-major */
			   *cm,				/* (I, K2) column-major copy for QR */
			   *b,				/* (U, K2) A x */
			   *tau;
	double		tmp = 0;
	int			lwork;
	double	   *work;
	float	   *v,				/* (I, K) */
			   *sigma;			/* (K) */
	Rng			rng;
	void	   *scope;

	RG_TRY(rg_check_memory(err,
						   ((double) 2 * m + model->n_users) * k2 * 8 +
						   (double) m * k * 12 + (double) k2 * (k2 + k) * 8 +
						   (double) CsrNnz(in->pos) * 4 + ((double) m * 4 + model->n_users) * 8,
						   "gfcf"));
	v = rg_alloc_array(float, (size_t) m * k);
	sigma = rg_alloc_array(float, k);
	scope = rg_scope_push();
	GraphBuild(&g, in->pos);
	x = rg_alloc_array(double, (size_t) m * k2);
	cm = rg_alloc_array(double, (size_t) m * k2);
	b = rg_alloc_array(double, (size_t) model->n_users * k2);
	tau = rg_alloc_array(double, k2);
	lwork = LapackWork(m, k2, &tmp);
	work = rg_alloc_array(double, lwork);

	rng_seed(&rng, in->seed);
	for (size_t e = 0; e < (size_t) m * k2; e++)
		x[e] = rng_normal(&rng);
	for (int it = 0; it <= power_iters; it++)
	{
		RG_TRY(rg_check_interrupts(err));
		ApplyGram(x, b, &g, k2);
		RG_TRY(rg_check_interrupts(err));
		RG_TRY(Orthonormalise(x, cm, m, k2, tau, work, lwork, err));
	}
	RG_TRY(rg_check_interrupts(err));
	RG_TRY(RayleighRitz(v, sigma, x, b, &g, m, k2, k, err));
	GraphFree(&g);
	rg_scope_pop(scope);

	model->n_tensors = 2;
	model->tensors[0].len = (int64_t) m * k;
	model->tensors[0].data = v;
	model->tensors[1].len = k;
	model->tensors[1].data = sigma;
	r.seconds = rg_now() - start;
	report(arg, &r);
	return RG_OK;
}

/* V (I, K) and sigma (K), K = min(factors, U, I). */
static RgStatus
GfcfValidate(const Model *model, RgError *err)
{
	int64_t		k = GfcfRank(model);
	int64_t		expected[2] = {(int64_t) model->n_items * k, k};

	return model_check_tensors(model, 2, expected, err);
}

/* Serving state: the transpose and the degree weights. */
static void
GfcfPrepare(Model *model)
{
	GfcfGraph  *g = rg_alloc(sizeof(GfcfGraph));

	GraphBuild(g, &model->pos);
	model->serving = g;
}

/* Arguments of the scoring parts. */
typedef struct ScoreJob
{
	const Model *model;
	const GfcfGraph *g;
	const ScoreQuery *queries;
	int			nq;
	float	   *scores;			/* (Q, I): the low-pass V V^T term on entry */
	float	   *t;				/* (parts, U) r A^T */
	int32_t    *touched;		/* (parts, U) users with t != 0 */
	float	   *acc;			/* (parts, I) */
} ScoreJob;

/*
 * One history: row (I) = alpha D_I^1/2 row + r A^T A.  t, touched, acc are
 * zero on entry and on return.
 */
static void
ScoreOne(float *row, const GfcfGraph *g, const ScoreQuery *q, double alpha, int32_t n_items,
		 float *t, int32_t *touched, float *acc)
{
	int32_t		n_touched = 0;

	/* t_u = sum over i in r and row u of wu wi (kept as wu^2 sum wi, times A_uj / wi_j below) */
	for (int32_t h = 0; h < q->n_items; h++)
	{
		int32_t		i = q->items[h];

		for (int64_t p = g->iu.indptr[i]; p < g->iu.indptr[i + 1]; p++)
		{
			int32_t		u = g->iu.indices[p];

			if (t[u] == 0.0f)
				touched[n_touched++] = u;
			t[u] += g->wi[i];
		}
	}
	for (int32_t n = 0; n < n_touched; n++)
	{
		int32_t		u = touched[n];
		float		c = t[u] * g->wu[u] * g->wu[u];

		for (int64_t p = g->ui->indptr[u]; p < g->ui->indptr[u + 1]; p++)
			acc[g->ui->indices[p]] += c;
		t[u] = 0.0f;
	}
	for (int32_t j = 0; j < n_items; j++)
	{
		row[j] = (float) (alpha * g->si[j]) * row[j] + g->wi[j] * acc[j];
		acc[j] = 0.0f;
	}
}

/* The queries of one part. */
static void
score_part(void *arg, int part, int n_parts)
{
	ScoreJob   *j = arg;
	size_t		nu = j->model->n_users,
				ni = j->model->n_items;
	int64_t		q0,
				q1;

	parallel_range(j->nq, part, n_parts, 1, &q0, &q1);
	for (int64_t q = q0; q < q1; q++)
		ScoreOne(j->scores + q * ni, j->g, &j->queries[q], j->model->hyper[OPT_ALPHA],
				 (int32_t) ni, j->t + part * nu, j->touched + part * nu, j->acc + part * ni);
}

/* scores (Q, I): the low-pass term by two small products, then the linear filter sparsely. */
static void
GfcfScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int32_t		nu = model->n_users,
				ni = model->n_items;
	int			k = GfcfRank(model);
	int			parts = parallel_threads();
	const float *v = model->tensors[0].data;
	GfcfGraph  *g = model->serving;
	float	   *p = rg_alloc0_array(float, (size_t) nq * k);	/* (Q, K) */
	ScoreJob	j = {model, NULL, queries, nq, scores, NULL, NULL, NULL};

	if (g == NULL)
	{
		g = rg_alloc(sizeof(GfcfGraph));
		GraphBuild(g, &model->pos);
	}
	/* p = r D_I^-1/2 V */
	for (int q = 0; q < nq; q++)
		for (int32_t h = 0; h < queries[q].n_items; h++)
		{
			int32_t		i = queries[q].items[h];

			cblas_saxpy(k, g->wi[i], v + (size_t) i * k, 1, p + (size_t) q * k, 1);
		}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, ni, k, 1.0f, p, k, v, k,
				0.0f, scores, ni);
	j.g = g;
	j.t = rg_alloc0_array(float, (size_t) parts * nu);
	j.touched = rg_alloc_array(int32_t, (size_t) parts * nu);
	j.acc = rg_alloc0_array(float, (size_t) parts * ni);
	parallel_run(score_part, &j, (double) nq * ni * 4);
	rg_free(j.acc);
	rg_free(j.touched);
	rg_free(j.t);
	if (g != model->serving)
	{
		GraphFree(g);
		rg_free(g);
	}
	rg_free(p);
}

/* Items most recommended by the one-item history {item}. */
static void
GfcfSimilar(const Model *model, int32_t item, float *scores)
{
	ScoreQuery	q = {-1, &item, 1};

	GfcfScore(model, &q, 1, scores);
}

const ModelOps gfcf_ops = {
	.name = "gfcf",
	.algorithm = RECGAN_ALG_GFCF,
	.options = gfcf_options,
	.n_options = RG_LENGTHOF(gfcf_options),
	.train = GfcfTrain,
	.validate = GfcfValidate,
	.score = GfcfScore,
	.prepare = GfcfPrepare,
	.similar = GfcfSimilar,
	.additive = true,
};
