/*
 * factor.h
 *	  Helpers shared by the embedding models that score a user by a dot
 *	  product with item vectors (bpr, lightgcn): BPR triple sampling,
 *	  scoring, fold-in and similar items.
 *
 * Legend: U users, I items, F factors, Q queries in a scoring block.
 */
#ifndef RECGAN_FACTOR_H
#define RECGAN_FACTOR_H

#include "model.h"
#include "rng.h"

/*
 * scores (Q, I) = X_q Y^T (+ bias (I) unless NULL), X_q (Q, F) the query
 * vectors, Y (I, F), through one cblas_sgemm.
 */
extern void FactorScore(const float *xq, int nq, const float *y, const float *bias,
						int32 n_items, int f, float *scores);

/* x (F) = mean of the rows of Y (I, F) listed in items[0..n); zero when n = 0. */
extern void FactorMeanRows(float *x, const float *y, const int32 *items, int32 n, int f);

/* scores (I) = cosine of every row of Y (I, F) with row item (0 for a zero row). */
extern void FactorCosine(const float *y, int32 n_items, int f, int32 item, float *scores);

/* user_of (P) = the user (row) of each positive of fit, in CSR order. */
extern void FactorUserOfPositives(const Csr *fit, int32 *user_of);

#endif							/* RECGAN_FACTOR_H */
