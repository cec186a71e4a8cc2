/*
 * factor.c
 *	  Scoring, fold-in and similar-item helpers of the embedding models
 *	  (bpr.c, lightgcn.c).
 *
 * Legend: I items, F factors, Q queries in a scoring block.
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "factor.h"
#include "nn.h"

/* scores = X_q Y^T, plus the item bias when there is one. */
void
FactorScore(const float *xq, int nq, const float *y, const float *bias, int32 n_items, int f,
			float *scores)
{
	float		beta = 0.0f;

	if (bias != NULL)
	{
		for (int q = 0; q < nq; q++)
			memcpy(scores + (Size) q * n_items, bias, sizeof(float) * n_items);
		beta = 1.0f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, n_items, f,
				1.0f, xq, f, y, f, beta, scores, n_items);
}

/* Mean of the listed rows of Y, in double. */
void
FactorMeanRows(float *x, const float *y, const int32 *items, int32 n, int f)
{
	for (int c = 0; c < f; c++)
	{
		double		sum = 0.0;

		for (int32 h = 0; h < n; h++)
			sum += y[(Size) items[h] * f + c];
		x[c] = n > 0 ? (float) (sum / n) : 0.0f;
	}
}

/* Cosine of row item of Y with every row. */
void
FactorCosine(const float *y, int32 n_items, int f, int32 item, float *scores)
{
	const float *yi = y + (Size) item * f;
	double		ni = 0;

	for (int c = 0; c < f; c++)
		ni += (double) yi[c] * yi[c];
	for (int32 j = 0; j < n_items; j++)
	{
		const float *yj = y + (Size) j * f;
		double		dot = 0,
					nj = 0;

		for (int c = 0; c < f; c++)
		{
			dot += (double) yi[c] * yj[c];
			nj += (double) yj[c] * yj[c];
		}
		scores[j] = (ni > 0 && nj > 0) ? (float) (dot / sqrt(ni * nj)) : 0.0f;
	}
}

/* The row of each CSR entry. */
void
FactorUserOfPositives(const Csr *fit, int32 *user_of)
{
	for (int32 u = 0; u < fit->n_rows; u++)
		for (int64 p = fit->indptr[u]; p < fit->indptr[u + 1]; p++)
			user_of[p] = u;
}
