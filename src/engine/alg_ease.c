/*
 * ease.c
 *	  EASE: embarrassingly shallow autoencoder (Steck, WWW 2019), closed form.
 *
 * Legend: I items, nb column block.
 *
 *   G = X^T X + lambda * Id        (I, I), float64
 *   P = G^-1                       (I, I), float64, by Cholesky
 *   B[i][j] = -P[i][j] / P[j][j],  B[j][j] = 0
 *   score(u, j) = sum over items i of u's history of B[i][j]
 *
 * The Cholesky factorisation and the inverse are blocked (panels of
 * EASE_BLOCK columns through LAPACK dpotrf and BLAS dtrsm/dsyrk) so that a
 * cancel request is honoured between panels even for large catalogues.
 *
 * Tensors: 0 = B, (I, I) float32, row-major.  Options: lambda.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model.h"
#include "nn.h"

#define EASE_BLOCK 256

/* LAPACK (Fortran ABI, with the hidden length of the character argument) */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);

enum
{
	OPT_LAMBDA
};

static const OptionSpec ease_options[] = {
	{"lambda", OPT_REAL, 200, 1e-6, 1e12, NULL, "L2 regularisation of the item-item weights"},
};

/* Factor g (n x n, column-major, lower) in place: g = L L^T, blocked. */
static RgStatus
CholeskyBlocked(double *g, int n, RgError *err)
{
	for (int k = 0; k < n; k += EASE_BLOCK)
	{
		int			b = RG_MIN(EASE_BLOCK, n - k);
		int			rest = n - k - b;
		int			info = 0;

		RG_TRY(rg_check_interrupts(err));
		dpotrf_("L", &b, g + (size_t) k * n + k, &n, &info, 1);
		if (info != 0)
		{
			rg_fail(err, RG_DATA_EXCEPTION,
					"EASE Gram matrix is not positive definite (LAPACK info %d)", info);
			return rg_hint(err, "Increase the \"lambda\" option.");
		}
		if (rest == 0)
			break;
		/* L21 = A21 L11^-T */
		cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
					rest, b, 1.0, g + (size_t) k * n + k, n, g + (size_t) k * n + k + b, n);
		/* A22 -= L21 L21^T */
		cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, rest, b,
					-1.0, g + (size_t) k * n + k + b, n, 1.0, g + (size_t) (k + b) * n + k + b, n);
	}
	return RG_OK;
}

/* Write P = (L L^T)^-1 (n x n, column-major, full) into p, panel by panel. */
static RgStatus
InverseFromCholesky(const double *l, double *p, int n, RgError *err)
{
	memset(p, 0, (size_t) n * n * sizeof(double));
	for (int j = 0; j < n; j += EASE_BLOCK)
	{
		int			b = RG_MIN(EASE_BLOCK, n - j);
		double	   *panel = p + (size_t) j * n;	/* columns j..j+b of P */

		RG_TRY(rg_check_interrupts(err));
		for (int c = 0; c < b; c++)
			panel[(size_t) c * n + j + c] = 1.0;
		/* L Y = E: rows above j stay zero, so solve on the trailing block */
		cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
					n - j, b, 1.0, l + (size_t) j * n + j, n, panel + j, n);
		/* L^T X = Y */
		cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
					n, b, 1.0, l, n, panel, n);
	}
	return RG_OK;
}

/* G = X^T X + lambda I (n x n, float64) from the positives. */
static RgStatus
GramMatrix(const Csr *x, int n, double lambda, double **out, RgError *err)
{
	double	   *g = rg_alloc0_array(double, (size_t) n * n);

	for (int32_t u = 0; u < x->n_rows; u++)
	{
		const int32_t *row = CsrRow(x, u);
		int32_t		len = CsrRowLen(x, u);

		RG_TRY(rg_check_interrupts(err));
		for (int32_t a = 0; a < len; a++)
			for (int32_t c = 0; c < len; c++)
				g[(size_t) row[a] * n + row[c]] += 1.0;
	}
	for (int i = 0; i < n; i++)
		g[(size_t) i * n + i] += lambda;
	*out = g;
	return RG_OK;
}

/* Fit B in closed form. */
static RgStatus
EaseTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	int			n = model->n_items;
	double	   *g;				/* (I, I) Gram, then its Cholesky factor */
	double	   *p;				/* (I, I) inverse */
	float	   *b;				/* (I, I) weights */
	double		start = rg_now();
	EpochReport r = {1, NAN, NAN, NAN, 0};

	/* dense in items squared: beyond the limit, point at the sparse model */
	if (rg_check_memory(err, (double) n * n * (8 + 8 + 4), "ease") != RG_OK)
		return rg_hint(err, "Train algorithm gfcf, whose memory grows with the data rather than items squared, or raise recgan.max_train_memory.");
	RG_TRY(GramMatrix(in->pos, n, model->hyper[OPT_LAMBDA], &g, err));
	RG_TRY(CholeskyBlocked(g, n, err));
	p = rg_alloc_array(double, (size_t) n * n);
	RG_TRY(InverseFromCholesky(g, p, n, err));
	rg_free(g);

	b = rg_alloc_array(float, (size_t) n * n);
	for (int i = 0; i < n; i++)
	{
		RG_TRY(rg_check_interrupts(err));
		/* P is symmetric, so P[i][j] is p[j * n + i] or p[i * n + j] */
		for (int j = 0; j < n; j++)
			b[(size_t) i * n + j] = (i == j) ? 0.0f :
				(float) (-p[(size_t) i * n + j] / p[(size_t) j * n + j]);
	}
	rg_free(p);

	model->n_tensors = 1;
	model->tensors[0].len = (int64_t) n * n;
	model->tensors[0].data = b;
	r.seconds = rg_now() - start;
	report(arg, &r);
	return RG_OK;
}

/* One (I, I) tensor. */
static RgStatus
EaseValidate(const Model *model, RgError *err)
{
	int64_t		expected[1] = {(int64_t) model->n_items * model->n_items};

	return model_check_tensors(model, 1, expected, err);
}

/* Sum the B rows of each history item (sparse X times dense B). */
static void
EaseScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int32_t		n = model->n_items;

	for (int q = 0; q < nq; q++)
		rows_sum(scores + (size_t) q * n, model->tensors[0].data, queries[q].items,
				 queries[q].n_items, n);
}

/* Items most predicted by item i: row i of B. */
static void
EaseSimilar(const Model *model, int32_t item, float *scores)
{
	memcpy(scores, model->tensors[0].data + (size_t) item * model->n_items,
		   (size_t) model->n_items * sizeof(float));
}

const ModelOps ease_ops = {
	.name = "ease",
	.algorithm = RECGAN_ALG_EASE,
	.options = ease_options,
	.n_options = RG_LENGTHOF(ease_options),
	.train = EaseTrain,
	.validate = EaseValidate,
	.score = EaseScore,
	.similar = EaseSimilar,
};
