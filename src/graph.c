/*
 * graph.c
 *	  LightGCN's normalised adjacency, sparse-dense products and the
 *	  propagation forward and backward (He et al., "LightGCN: Simplifying
 *	  and Powering Graph Convolution Network for Recommendation", SIGIR 2020).
 *
 * Legend: U users, I items, N = U + I nodes, P positives, F width, K layers.
 *
 * The propagation is linear in the layer-0 embeddings E0:
 *
 *	 E = S E0,	S = (1 / (K + 1)) (Id + Â + Â^2 + ... + Â^K)
 *
 * so its backward is dE0 = S^T dE = S dE (Â is symmetric).  A BPR batch
 * touches only some rows of E, which the kernels exploit twice: the forward
 * evaluates the last layer only at the batch's rows, and the backward
 * pushes the first product from the batch's rows (dE is zero elsewhere)
 * when that visits few enough non-zeros (push_cost).  The products are
 * memory-bound and written for it (see spmm_slice); the layer sums are
 * added while each product row is still in registers.  graph_spmm_ref is
 * the naive twin test/unit/test_graph.c holds the products to, and the unit
 * test checks the whole gradient against finite differences and both
 * backward paths against naive products.
 */
#include "graph.h"

#include "nn.h"

#include <math.h>
#include <string.h>

/* Build Â from the U x I positives: users are nodes 0..U-1, items U..N-1. */
void
graph_build_adjacency(GraphAdj *adj, const int64_t *ui_indptr, const int32_t *ui_indices,
					  int32_t U, int32_t I, int64_t *cursor)
{
	int64_t		P = ui_indptr[U],
				at = P;

	adj->n = U + I;
	memset(cursor, 0, sizeof(int64_t) * (size_t) I);
	for (int64_t p = 0; p < P; p++)
		cursor[ui_indices[p]]++;
	for (int32_t u = 0; u <= U; u++)
		adj->indptr[u] = ui_indptr[u];
	for (int32_t i = 0; i < I; i++)
	{
		int64_t		deg = cursor[i];

		adj->indptr[U + i] = at;
		cursor[i] = at;
		at += deg;
	}
	adj->indptr[U + I] = at;
	for (int32_t u = 0; u < U; u++)
	{
		double		du = (double) (ui_indptr[u + 1] - ui_indptr[u]);

		for (int64_t p = ui_indptr[u]; p < ui_indptr[u + 1]; p++)
		{
			int32_t		i = ui_indices[p];
			double		di = (double) (adj->indptr[U + i + 1] - adj->indptr[U + i]);
			float		v = (float) (1.0 / sqrt(du * di));

			adj->indices[p] = U + i;
			adj->values[p] = v;
			adj->indices[cursor[i]] = u;
			adj->values[cursor[i]] = v;
			cursor[i]++;
		}
	}
}

/*
 * Products are memory-bound: each non-zero gathers one F-wide row of x
 * (256 bytes at F = 64) from a table that does not fit in L2.  So a row is
 * accumulated in registers, SPMM_CHUNK columns at a time, and the rows of
 * the non-zeros SPMM_AHEAD places ahead are prefetched, which keeps enough
 * loads in flight to run at cache bandwidth instead of cache latency (about
 * 5x on Gowalla).  The summation order (non-zeros in row order, per column)
 * is that of the naive loop, so the result is bit-identical to it.
 */
#define SPMM_CHUNK 64			/* columns accumulated at once: 16 SSE or 8 AVX registers */
#define SPMM_AHEAD 8			/* non-zeros prefetched ahead */

/*
 * acc (w) = sum over the non-zeros p in [b, e) of v_p x_c[f0 .. f0 + w);
 * inlined with w = SPMM_CHUNK (a constant: the loop is unrolled into
 * registers) or with the remainder width.
 */
static inline void
spmm_slice(float *restrict acc, const GraphAdj *adj, const float *restrict x, int F,
		   int f0, int w, int64_t b, int64_t e)
{
	int64_t		nnz = adj->indptr[adj->n];

	for (int f = 0; f < w; f++)
		acc[f] = 0.0f;
	for (int64_t p = b; p < e; p++)
	{
		const float *restrict xc = x + (int64_t) adj->indices[p] * F + f0;
		float		v = adj->values[p];

		if (p + SPMM_AHEAD < nnz)
			prefetch_row(x + (int64_t) adj->indices[p + SPMM_AHEAD] * F + f0, w);
		for (int f = 0; f < w; f++)
			acc[f] += v * xc[f];
	}
}

/*
 * One output row: y_r = sum over the row's non-zeros of v x_c; and, unless
 * sum is NULL, sum_r += scale y_r while the row is in registers.
 */
static inline void
spmm_row(float *restrict yr, float *restrict sum, float scale, const GraphAdj *adj,
		 const float *restrict x, int F, int32_t r)
{
	int64_t		b = adj->indptr[r],
				e = adj->indptr[r + 1];

	for (int f0 = 0; f0 < F; f0 += SPMM_CHUNK)
	{
		float		acc[SPMM_CHUNK];
		int			w = F - f0 < SPMM_CHUNK ? F - f0 : SPMM_CHUNK;

		if (w == SPMM_CHUNK)
			spmm_slice(acc, adj, x, F, f0, SPMM_CHUNK, b, e);
		else
			spmm_slice(acc, adj, x, F, f0, w, b, e);
		memcpy(yr + f0, acc, sizeof(float) * (size_t) w);
		if (sum != NULL)
			for (int f = 0; f < w; f++)
				sum[f0 + f] += scale * acc[f];
	}
}

/* y = Â x, row by row. */
RECGAN_VECTOR_CLONES void
graph_spmm(float *y, const GraphAdj *adj, const float *x, int F)
{
	for (int32_t r = 0; r < adj->n; r++)
		spmm_row(y + (int64_t) r * F, NULL, 0.0f, adj, x, F, r);
}

/* y = Â x and sum += scale y, row by row. */
RECGAN_VECTOR_CLONES void
graph_spmm_accumulate(float *y, float *sum, float scale, const GraphAdj *adj,
					  const float *x, int F)
{
	for (int32_t r = 0; r < adj->n; r++)
		spmm_row(y + (int64_t) r * F, sum + (int64_t) r * F, scale, adj, x, F, r);
}

/* y = Â x at the listed rows only. */
RECGAN_VECTOR_CLONES void
graph_spmm_rows(float *y, const GraphAdj *adj, const float *x, int F,
				const int32_t *rows, int32_t n_rows)
{
	for (int32_t k = 0; k < n_rows; k++)
		spmm_row(y + (int64_t) rows[k] * F, NULL, 0.0f, adj, x, F, rows[k]);
}

/*
 * y = Â x for x supported on the listed rows: push each to its neighbours,
 * prefetching the neighbour rows SPMM_AHEAD places ahead (they are read and
 * written back).
 */
RECGAN_VECTOR_CLONES void
graph_spmm_push(float *y, const GraphAdj *adj, const float *x, int F,
				const int32_t *rows, int32_t n_rows)
{
	memset(y, 0, sizeof(float) * (size_t) adj->n * F);
	for (int32_t k = 0; k < n_rows; k++)
	{
		int32_t		c = rows[k];
		const float *restrict xc = x + (int64_t) c * F;
		int64_t		e = adj->indptr[c + 1];

		for (int64_t p = adj->indptr[c]; p < e; p++)
		{
			float	   *restrict yr = y + (int64_t) adj->indices[p] * F;
			float		v = adj->values[p];

			if (p + SPMM_AHEAD < e)
				prefetch_row(y + (int64_t) adj->indices[p + SPMM_AHEAD] * F,
							   F < SPMM_CHUNK ? F : SPMM_CHUNK);
			for (int f = 0; f < F; f++)
				yr[f] += v * xc[f];
		}
	}
}

/* Naive y = Â x with double accumulators. */
void
graph_spmm_ref(float *y, const GraphAdj *adj, const float *x, int F)
{
	for (int32_t r = 0; r < adj->n; r++)
		for (int f = 0; f < F; f++)
		{
			double		sum = 0.0;

			for (int64_t p = adj->indptr[r]; p < adj->indptr[r + 1]; p++)
				sum += (double) adj->values[p] * x[(int64_t) adj->indices[p] * F + f];
			y[(int64_t) r * F + f] = (float) sum;
		}
}

/* out (n_rows, F) += the listed rows of m (N, F). */
static void
add_rows(float *out, const float *m, const int32_t *rows, int32_t n_rows, int F)
{
	for (int32_t k = 0; k < n_rows; k++)
	{
		float	   *restrict o = out + (int64_t) k * F;
		const float *restrict src = m + (int64_t) rows[k] * F;

		for (int f = 0; f < F; f++)
			o[f] += src[f];
	}
}

/* Mean of layers 0..K at the listed rows; the last layer is computed only there. */
void
lightgcn_forward_rows(float *out, const GraphAdj *adj, const float *e0, int K, int F,
					  const int32_t *rows, int32_t n_rows, float *scratch)
{
	const float *cur = e0;
	float		scale = 1.0f / (float) (K + 1);

	for (int32_t k = 0; k < n_rows; k++)
		memcpy(out + (int64_t) k * F, e0 + (int64_t) rows[k] * F, sizeof(float) * (size_t) F);
	for (int k = 1; k <= K; k++)
	{
		float	   *next = scratch + (int64_t) ((k - 1) % 2) * adj->n * F;

		if (k < K)
			graph_spmm(next, adj, cur, F);
		else
			graph_spmm_rows(next, adj, cur, F, rows, n_rows);
		add_rows(out, next, rows, n_rows, F);
		cur = next;
	}
	for (int64_t p = 0; p < (int64_t) n_rows * F; p++)
		out[p] *= scale;
}

/* Mean of layers 0..K at every node. */
void
lightgcn_forward(float *out, const GraphAdj *adj, const float *e0, int K, int F,
				 float *scratch)
{
	int64_t		n = (int64_t) adj->n * F;
	const float *cur = e0;
	float		scale = 1.0f / (float) (K + 1);

	memcpy(out, e0, sizeof(float) * (size_t) n);
	for (int k = 1; k <= K; k++)
	{
		float	   *next = scratch + (int64_t) ((k - 1) % 2) * n;

		graph_spmm_accumulate(next, out, 1.0f, adj, cur, F);
		cur = next;
	}
	for (int64_t p = 0; p < n; p++)
		out[p] *= scale;
}

/*
 * Non-zeros a push from the listed rows visits (their degrees).  A push
 * reads and writes a scattered output row per non-zero, a pull writes each
 * row once, and on Gowalla a push costs about 3 times a pull per non-zero:
 * so lightgcn_backward pushes only while it visits fewer than a quarter of
 * the non-zeros; large batches (that touch most nodes) pull.
 */
static int64_t
push_cost(const GraphAdj *adj, const int32_t *rows, int32_t n_rows)
{
	int64_t		cost = 0;

	for (int32_t k = 0; k < n_rows; k++)
		cost += adj->indptr[rows[k] + 1] - adj->indptr[rows[k]];
	return cost;
}

/* de0 += S dE for dE supported on the listed rows (see the file comment). */
void
lightgcn_backward(float *de0, const GraphAdj *adj, const float *dE, const int32_t *rows,
				  int32_t n_rows, int K, int F, float *scratch)
{
	int64_t		n = (int64_t) adj->n * F;
	const float *cur = dE;
	float		scale = 1.0f / (float) (K + 1);

	for (int32_t k = 0; k < n_rows; k++)
	{
		float	   *restrict d = de0 + (int64_t) rows[k] * F;
		const float *restrict g = dE + (int64_t) rows[k] * F;

		for (int f = 0; f < F; f++)
			d[f] += scale * g[f];
	}
	for (int k = 1; k <= K; k++)
	{
		float	   *restrict next = scratch + (int64_t) ((k - 1) % 2) * n;

		if (k == 1 && 4 * push_cost(adj, rows, n_rows) < adj->indptr[adj->n])
		{
			graph_spmm_push(next, adj, cur, F, rows, n_rows);
			for (int64_t p = 0; p < n; p++)
				de0[p] += scale * next[p];
		}
		else
			graph_spmm_accumulate(next, de0, scale, adj, cur, F);
		cur = next;
	}
}

/* Position of node in the batch's distinct rows, adding it when new. */
static inline int32_t
batch_slot(LightgcnWork *w, int32_t *n_rows, int32_t node)
{
	if (w->slot[node] < 0)
	{
		w->slot[node] = *n_rows;
		w->rows[(*n_rows)++] = node;
	}
	return w->slot[node];
}

/* BPR loss on the propagated embeddings + L2 on layer 0 (see graph.h). */
RECGAN_VECTOR_CLONES double
lightgcn_bpr_loss(float *de0, LightgcnWork *w, const GraphAdj *adj, const float *e0,
				  int32_t U, int K, int F, const int32_t *users, const int32_t *pos,
				  const int32_t *neg, int B, double reg)
{
	int32_t		n_rows = 0;
	double		loss,
				l2 = 0.0;
	float		reg_b = (float) (reg / B);

	if (B <= 0)
		return 0.0;
	/* the distinct nodes of the batch */
	for (int b = 0; b < B; b++)
	{
		batch_slot(w, &n_rows, users[b]);
		batch_slot(w, &n_rows, U + pos[b]);
		batch_slot(w, &n_rows, U + neg[b]);
	}
	lightgcn_forward_rows(w->emb, adj, e0, K, F, w->rows, n_rows, w->scratch);
	for (int b = 0; b < B; b++)
	{
		const float *eu = w->emb + (int64_t) w->slot[users[b]] * F,
				   *ei = w->emb + (int64_t) w->slot[U + pos[b]] * F,
				   *ej = w->emb + (int64_t) w->slot[U + neg[b]] * F;

		w->sp[b] = dot_lanes(eu, ei, F);
		w->sn[b] = dot_lanes(eu, ej, F);
	}
	loss = bpr_loss(w->dp, w->dn, w->sp, w->sn, B);
	/* L2 on the layer-0 rows of each triple, and its gradient */
	for (int b = 0; b < B; b++)
	{
		const int32_t nodes[3] = {users[b], U + pos[b], U + neg[b]};

		for (int t = 0; t < 3; t++)
		{
			const float *restrict e = e0 + (int64_t) nodes[t] * F;

			l2 += dot_lanes(e, e, F);
			if (de0 != NULL)
			{
				float	   *restrict d = de0 + (int64_t) nodes[t] * F;

				for (int f = 0; f < F; f++)
					d[f] += reg_b * e[f];
			}
		}
	}
	loss += 0.5 * reg * l2 / B;
	if (de0 == NULL)
	{
		for (int32_t k = 0; k < n_rows; k++)
			w->slot[w->rows[k]] = -1;
		return loss;
	}

	memset(w->demb, 0, sizeof(float) * (size_t) n_rows * F);
	for (int b = 0; b < B; b++)
	{
		int64_t		su = (int64_t) w->slot[users[b]] * F,
					si = (int64_t) w->slot[U + pos[b]] * F,
					sj = (int64_t) w->slot[U + neg[b]] * F;
		float		gp = w->dp[b],
					gn = w->dn[b];

		for (int f = 0; f < F; f++)
		{
			w->demb[su + f] += gp * w->emb[si + f] + gn * w->emb[sj + f];
			w->demb[si + f] += gp * w->emb[su + f];
			w->demb[sj + f] += gn * w->emb[su + f];
		}
	}
	for (int32_t k = 0; k < n_rows; k++)
		memcpy(w->dE + (int64_t) w->rows[k] * F, w->demb + (int64_t) k * F,
			   sizeof(float) * (size_t) F);
	lightgcn_backward(de0, adj, w->dE, w->rows, n_rows, K, F, w->scratch);
	for (int32_t k = 0; k < n_rows; k++)
	{
		memset(w->dE + (int64_t) w->rows[k] * F, 0, sizeof(float) * (size_t) F);
		w->slot[w->rows[k]] = -1;
	}
	return loss;
}
