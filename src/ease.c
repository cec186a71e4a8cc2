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
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "miscadmin.h"

#include "model.h"
#include "nn.h"
#include "recgan.h"

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
static void
CholeskyBlocked(double *g, int n)
{
	for (int k = 0; k < n; k += EASE_BLOCK)
	{
		int			b = Min(EASE_BLOCK, n - k);
		int			rest = n - k - b;
		int			info = 0;

		CHECK_FOR_INTERRUPTS();
		dpotrf_("L", &b, g + (Size) k * n + k, &n, &info, 1);
		if (info != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("EASE Gram matrix is not positive definite (LAPACK info %d)", info),
					 errhint("Increase the \"lambda\" option.")));
		if (rest == 0)
			break;
		/* L21 = A21 L11^-T */
		cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
					rest, b, 1.0, g + (Size) k * n + k, n, g + (Size) k * n + k + b, n);
		/* A22 -= L21 L21^T */
		cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, rest, b,
					-1.0, g + (Size) k * n + k + b, n, 1.0, g + (Size) (k + b) * n + k + b, n);
	}
}

/* Write P = (L L^T)^-1 (n x n, column-major, full) into p, panel by panel. */
static void
InverseFromCholesky(const double *l, double *p, int n)
{
	memset(p, 0, (Size) n * n * sizeof(double));
	for (int j = 0; j < n; j += EASE_BLOCK)
	{
		int			b = Min(EASE_BLOCK, n - j);
		double	   *panel = p + (Size) j * n;	/* columns j..j+b of P */

		CHECK_FOR_INTERRUPTS();
		for (int c = 0; c < b; c++)
			panel[(Size) c * n + j + c] = 1.0;
		/* L Y = E: rows above j stay zero, so solve on the trailing block */
		cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
					n - j, b, 1.0, l + (Size) j * n + j, n, panel + j, n);
		/* L^T X = Y */
		cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
					n, b, 1.0, l, n, panel, n);
	}
}

/* Fit B in closed form. */
static void
EaseTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg)
{
	const Csr  *x = &in->data->pos;
	int			n = model->n_items;
	double		lambda = model->hyper[OPT_LAMBDA];
	double	   *g;				/* (I, I) Gram, then its Cholesky factor */
	double	   *p;				/* (I, I) inverse */
	float	   *b;				/* (I, I) weights */
	instr_time	start;
	EpochReport r = {1, NAN, NAN, NAN, 0};

	INSTR_TIME_SET_CURRENT(start);
	RecganCheckTrainMemory((double) n * n * (8 + 8 + 4), "ease");
	RecganThreadsSetup();

	g = palloc_extended((Size) n * n * sizeof(double), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (int32 u = 0; u < x->n_rows; u++)
	{
		const int32 *row = CsrRow(x, u);
		int32		len = CsrRowLen(x, u);

		CHECK_FOR_INTERRUPTS();
		for (int32 a = 0; a < len; a++)
			for (int32 c = 0; c < len; c++)
				g[(Size) row[a] * n + row[c]] += 1.0;
	}
	for (int i = 0; i < n; i++)
		g[(Size) i * n + i] += lambda;

	CholeskyBlocked(g, n);
	p = palloc_extended((Size) n * n * sizeof(double), MCXT_ALLOC_HUGE);
	InverseFromCholesky(g, p, n);
	pfree(g);

	b = palloc_extended((Size) n * n * sizeof(float), MCXT_ALLOC_HUGE);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		/* P is symmetric, so P[i][j] is p[j * n + i] or p[i * n + j] */
		for (int j = 0; j < n; j++)
			b[(Size) i * n + j] = (i == j) ? 0.0f :
				(float) (-p[(Size) i * n + j] / p[(Size) j * n + j]);
	}
	pfree(p);

	model->n_tensors = 1;
	model->tensors[0].len = (int64) n * n;
	model->tensors[0].data = b;
	r.seconds = RecganElapsed(start);
	report(arg, &r);
}

/* One (I, I) tensor. */
static void
EaseValidate(const Model *model)
{
	int64		expected[1] = {(int64) model->n_items * model->n_items};

	ModelCheckTensors(model, 1, expected);
}

/* Sum the B rows of each history item (sparse X times dense B). */
static void
EaseScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int32		n = model->n_items;

	for (int q = 0; q < nq; q++)
		rows_sum(scores + (Size) q * n, model->tensors[0].data, queries[q].items,
				 queries[q].n_items, n);
}

/* Items most predicted by item i: row i of B. */
static void
EaseSimilar(const Model *model, int32 item, float *scores)
{
	memcpy(scores, model->tensors[0].data + (Size) item * model->n_items,
		   (Size) model->n_items * sizeof(float));
}

const ModelOps ease_ops = {
	.name = "ease",
	.algorithm = RECGAN_ALG_EASE,
	.options = ease_options,
	.n_options = lengthof(ease_options),
	.train = EaseTrain,
	.validate = EaseValidate,
	.score = EaseScore,
	.similar = EaseSimilar,
};
