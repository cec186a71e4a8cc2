/*
 * factor.h
 *	  Helpers shared by the embedding models that score a user by a dot
 *	  product with item vectors (bpr, lightgcn, ials): scoring, fold-in,
 *	  similar items and the user of each positive.  Engine code.
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
extern void factor_score(const float *xq, int nq, const float *y, const float *bias,
						 int32_t n_items, int f, float *scores);

/* x (F) = mean of the rows of Y (I, F) listed in items[0..n); zero when n = 0. */
extern void factor_mean_rows(float *x, const float *y, const int32_t *items, int32_t n, int f);

/* scores (I) = cosine of every row of Y (I, F) with row item (0 for a zero row). */
extern void factor_cosine(const float *y, int32_t n_items, int f, int32_t item, float *scores);

/* user_of (P) = the user (row) of each positive of fit, in CSR order. */
extern void factor_user_of_positives(const Csr *fit, int32_t *user_of);

#endif							/* RECGAN_FACTOR_H */
