/*
 * factor.c
 *	  Scoring, fold-in and similar-item helpers of the embedding models
 *	  (alg_bpr.c, alg_lightgcn.c, alg_ials.c).
 *
 * Legend: I items, F factors, Q queries in a scoring block.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "factor.h"
#include "nn.h"

/* scores = X_q Y^T, plus the item bias when there is one. */
void
factor_score(const float *xq, int nq, const float *y, const float *bias, int32_t n_items, int f,
			 float *scores)
{
	float		beta = 0.0f;

	if (bias != NULL)
	{
		for (int q = 0; q < nq; q++)
			memcpy(scores + (size_t) q * n_items, bias, sizeof(float) * n_items);
		beta = 1.0f;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, n_items, f,
				1.0f, xq, f, y, f, beta, scores, n_items);
}

/* Mean of the listed rows of Y, in double. */
void
factor_mean_rows(float *x, const float *y, const int32_t *items, int32_t n, int f)
{
	for (int c = 0; c < f; c++)
	{
		double		sum = 0.0;

		for (int32_t h = 0; h < n; h++)
			sum += y[(size_t) items[h] * f + c];
		x[c] = n > 0 ? (float) (sum / n) : 0.0f;
	}
}

/* Cosine of row item of Y with every row. */
void
factor_cosine(const float *y, int32_t n_items, int f, int32_t item, float *scores)
{
	const float *yi = y + (size_t) item * f;
	double		ni = 0;

	for (int c = 0; c < f; c++)
		ni += (double) yi[c] * yi[c];
	for (int32_t j = 0; j < n_items; j++)
	{
		const float *yj = y + (size_t) j * f;
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
factor_user_of_positives(const Csr *fit, int32_t *user_of)
{
	for (int32_t u = 0; u < fit->n_rows; u++)
		for (int64_t p = fit->indptr[u]; p < fit->indptr[u + 1]; p++)
			user_of[p] = u;
}
