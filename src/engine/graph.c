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
 *
 * Large products, row gathers and the batch's gradient passes are split
 * over threads (parallel.h) by output rows: each row is computed by one
 * thread in the serial order, so the bits do not depend on the thread
 * count (test_threads compares 1, 2 and 3 threads).
 */
#include "graph.h"

#include "nn.h"
#include "parallel.h"

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
#define BPR_AHEAD 4				/* incidences prefetched ahead (bpr_rows_part) */

/* Eight floats, any alignment (GCC's vector extension: 2 SSE or 1 AVX register). */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

/*
 * Columns [f0, f0 + w) of one output row: unless yr is NULL, y_r = sum over
 * the row's non-zeros of v x_c; and, unless sum is NULL, sum_r += scale y_r
 * while the slice is in registers.  Inlined with w = SPMM_CHUNK, a constant:
 * the accumulators are SPMM_CHUNK / 8 vectors that stay in registers (a
 * float array would be zeroed, spilled and copied through the stack for
 * every row, a tenth of the time at 37 non-zeros a row); or with the
 * remainder width, in an array.  Either way each column is summed in the
 * order of the naive loop.
 */
static RECGAN_ALWAYS_INLINE void
spmm_row_slice(float *restrict yr, float *restrict sum, float scale, const GraphAdj *adj,
			   const float *restrict x, int F, int32_t r, int f0, int w)
{
	int64_t		b = adj->indptr[r],
				e = adj->indptr[r + 1],
				nnz = adj->indptr[adj->n];

	if (w == SPMM_CHUNK)
	{
		v8			acc[SPMM_CHUNK / 8] = {0};

		for (int64_t p = b; p < e; p++)
		{
			const v8   *xc = (const v8 *) (x + (int64_t) adj->indices[p] * F + f0);
			float		v = adj->values[p];

			if (p + SPMM_AHEAD < nnz)
				prefetch_row(x + (int64_t) adj->indices[p + SPMM_AHEAD] * F + f0, w);
			for (int k = 0; k < SPMM_CHUNK / 8; k++)
				acc[k] += v * xc[k];
		}
		for (int k = 0; k < SPMM_CHUNK / 8; k++)
		{
			if (yr != NULL)
				((v8 *) (yr + f0))[k] = acc[k];
			if (sum != NULL)
				((v8 *) (sum + f0))[k] += scale * acc[k];
		}
	}
	else
	{
		float		acc[SPMM_CHUNK];

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
		if (yr != NULL)
			memcpy(yr + f0, acc, sizeof(float) * (size_t) w);
		if (sum != NULL)
			for (int f = 0; f < w; f++)
				sum[f0 + f] += scale * acc[f];
	}
}

/*
 * A product split over threads (parallel.h): all rows, cut where the parts
 * hold equal non-zeros plus rows, or the listed rows, cut evenly.  Each
 * output row is computed by one part exactly as the serial loop does.
 */
typedef struct SpmmJob
{
	float	   *y;				/* (N, F), or NULL: the product is not stored */
	float	   *sum;			/* (N, F), (n_rows, F) when rows or slot is set, or NULL */
	float		scale;			/* sum += scale y */
	float		post_scale;		/* then, with rows set, sum *= post_scale */
	const GraphAdj *adj;
	const float *x;				/* (N, F) */
	int			F;
	const int32_t *rows;		/* (n_rows) rows to compute, or NULL: all */
	int32_t		n_rows;
	const int32_t *slot;		/* (N) or NULL; with rows NULL, row r adds to sum's
								 * row slot[r] only, none when slot[r] < 0 */
} SpmmJob;

/* First row of part `part`: where indptr[r] + r reaches its share. */
static int32_t
spmm_cut(const GraphAdj *adj, int part, int n_parts)
{
	int64_t		n = adj->n,
				target = (adj->indptr[n] + n) * part / n_parts;
	int32_t		lo = 0,
				hi = adj->n;

	while (lo < hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (adj->indptr[mid] + mid < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The rows of one part of a product, SPMM_CHUNK columns at a time. */
RECGAN_VECTOR_CLONES static void
spmm_part_clones(void *arg, int part, int n_parts)
{
	const SpmmJob *j = arg;
	int			F = j->F;
	int64_t		b,
				e;

	if (j->rows == NULL)
	{
		b = spmm_cut(j->adj, part, n_parts);
		e = spmm_cut(j->adj, part + 1, n_parts);
	}
	else
		parallel_range(j->n_rows, part, n_parts, 1, &b, &e);
	for (int64_t k = b; k < e; k++)
	{
		int32_t		r = j->rows ? j->rows[k] : (int32_t) k;
		float	   *restrict yr = j->y ? j->y + (int64_t) r * F : NULL;
		float	   *restrict s = j->sum == NULL ? NULL :
			j->slot == NULL ? j->sum + (j->rows ? k : r) * F :
			j->slot[r] >= 0 ? j->sum + (int64_t) j->slot[r] * F : NULL;

		for (int f0 = 0; f0 < F; f0 += SPMM_CHUNK)
		{
			if (F - f0 >= SPMM_CHUNK)
				spmm_row_slice(yr, s, j->scale, j->adj, j->x, F, r, f0, SPMM_CHUNK);
			else
				spmm_row_slice(yr, s, j->scale, j->adj, j->x, F, r, f0, F - f0);
		}
		if (s != NULL && j->post_scale != 1.0f)
			for (int f = 0; f < F; f++)
				s[f] *= j->post_scale;
	}
}
PARALLEL_CLONED_PART(spmm_part)

/* Run a product; its work is F multiply-adds per non-zero visited. */
static void
spmm_run(SpmmJob *job)
{
	const GraphAdj *adj = job->adj;
	int64_t		nnz = adj->indptr[adj->n];

	/* non-zeros visited: a listed row has 2 P / N of them on average */
	double		visits = job->rows ? (double) nnz * job->n_rows / (adj->n > 0 ? adj->n : 1) : nnz;

	parallel_run(spmm_part, job, visits * job->F);
}

/* y = Â x, row by row. */
void
graph_spmm(float *y, const GraphAdj *adj, const float *x, int F)
{
	SpmmJob		job = {y, NULL, 0.0f, 1.0f, adj, x, F, NULL, 0, NULL};

	spmm_run(&job);
}

/* y = Â x and sum += scale y, row by row; y may be NULL (not stored). */
void
graph_spmm_accumulate(float *y, float *sum, float scale, const GraphAdj *adj,
					  const float *x, int F)
{
	SpmmJob		job = {y, sum, scale, 1.0f, adj, x, F, NULL, 0, NULL};

	spmm_run(&job);
}

/* y = Â x at the listed rows only. */
void
graph_spmm_rows(float *y, const GraphAdj *adj, const float *x, int F,
				const int32_t *rows, int32_t n_rows)
{
	SpmmJob		job = {y, NULL, 0.0f, 1.0f, adj, x, F, rows, n_rows, NULL};

	spmm_run(&job);
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

/* out (n_rows, F) = the listed rows of m (N, F), split over threads. */
typedef struct RowsJob
{
	float	   *out;			/* (n_rows, F) */
	const float *m;				/* (N, F) */
	const int32_t *rows;		/* (n_rows) */
	int32_t		n_rows;
	int			F;
} RowsJob;

/* The listed rows of one part. */
static void
rows_part(void *arg, int part, int n_parts)
{
	const RowsJob *j = arg;
	int64_t		b,
				e;

	parallel_range(j->n_rows, part, n_parts, 1, &b, &e);
	for (int64_t k = b; k < e; k++)
		memcpy(j->out + k * j->F, j->m + (int64_t) j->rows[k] * j->F, sizeof(float) * (size_t) j->F);
}

/*
 * Mean of layers 0..K at the listed rows: out starts as E0's rows; each
 * full product adds its listed rows to out while they are in registers
 * (slot says where), and the last layer is computed only at the listed
 * rows, added to out without being stored, and the mean taken in the same
 * pass.
 */
void
lightgcn_forward_rows(float *out, const GraphAdj *adj, const float *e0, int K, int F,
					  const int32_t *rows, const int32_t *slot, int32_t n_rows,
					  float *scratch)
{
	const float *cur = e0;
	float		scale = 1.0f / (float) (K + 1);
	RowsJob		copy = {out, e0, rows, n_rows, F};

	parallel_run(rows_part, &copy, (double) n_rows * F);
	for (int k = 1; k < K; k++)
	{
		float	   *next = scratch + (int64_t) ((k - 1) % 2) * adj->n * F;
		SpmmJob		job = {next, out, 1.0f, 1.0f, adj, cur, F, NULL, 0, slot};

		spmm_run(&job);
		cur = next;
	}
	if (K >= 1)
	{
		SpmmJob		job = {NULL, out, 1.0f, scale, adj, cur, F, rows, n_rows, NULL};

		spmm_run(&job);
	}
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
		else					/* the last product is only added up */
			graph_spmm_accumulate(k < K ? next : NULL, de0, scale, adj, cur, F);
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

/*
 * The batch's distinct rows and, for each, its incidences 3 b + role (role
 * 0 user, 1 positive, 2 negative) in ascending order: a counting sort of
 * the 3 B triple entries by slot.  Returns the number of rows.
 */
static int32_t
batch_rows(LightgcnWork *w, int32_t U, const int32_t *users, const int32_t *pos,
		   const int32_t *neg, int B)
{
	int32_t		n_rows = 0;

	for (int b = 0; b < B; b++)
	{
		batch_slot(w, &n_rows, users[b]);
		batch_slot(w, &n_rows, U + pos[b]);
		batch_slot(w, &n_rows, U + neg[b]);
	}
	memset(w->inc_ptr, 0, sizeof(int32_t) * ((size_t) n_rows + 1));
	for (int b = 0; b < B; b++)
	{
		w->inc_ptr[w->slot[users[b]] + 1]++;
		w->inc_ptr[w->slot[U + pos[b]] + 1]++;
		w->inc_ptr[w->slot[U + neg[b]] + 1]++;
	}
	for (int32_t k = 0; k < n_rows; k++)
		w->inc_ptr[k + 1] += w->inc_ptr[k];
	for (int b = 0; b < B; b++)		/* inc_ptr[k] runs to the end of row k - 1 ... */
	{
		w->inc[w->inc_ptr[w->slot[users[b]]]++] = 3 * b;
		w->inc[w->inc_ptr[w->slot[U + pos[b]]]++] = 3 * b + 1;
		w->inc[w->inc_ptr[w->slot[U + neg[b]]]++] = 3 * b + 2;
	}
	for (int32_t k = n_rows; k > 0; k--)	/* ... and back to its start */
		w->inc_ptr[k] = w->inc_ptr[k - 1];
	w->inc_ptr[0] = 0;
	return n_rows;
}

/* The arguments of the batch's split passes (see lightgcn_bpr_loss). */
typedef struct BprJob
{
	LightgcnWork *w;
	float	   *de0;			/* (N, F), or NULL: the loss only */
	const float *e0;			/* (N, F) */
	int32_t		U;
	int			F;
	const int32_t *users,
			   *pos,
			   *neg;			/* (B) */
	int			B;
	int32_t		n_rows;
	float		reg_b;			/* reg / B */
} BprJob;

/* The propagated embedding of triple b's entry role (0 user, 1 positive, 2 negative). */
static inline const float *
bpr_emb(const BprJob *j, int64_t b, int role)
{
	int32_t		node = role == 0 ? j->users[b] : j->U + (role == 1 ? j->pos[b] : j->neg[b]);

	return j->w->emb + (int64_t) j->w->slot[node] * j->F;
}

/*
 * Prefetch the embeddings incidence inc (3 b + role) of bpr_rows_part reads:
 * the positive's and the negative's for a user, the user's for an item.
 */
static inline void
bpr_prefetch(const BprJob *j, int32_t inc)
{
	int			b = inc / 3;

	if (inc % 3 == 0)
	{
		prefetch_row(bpr_emb(j, b, 1), j->F);
		prefetch_row(bpr_emb(j, b, 2), j->F);
	}
	else
		prefetch_row(bpr_emb(j, b, 0), j->F);
}

/* Scores of the triples of one part. */
RECGAN_VECTOR_CLONES static void
bpr_scores_part_clones(void *arg, int part, int n_parts)
{
	const BprJob *j = arg;
	const LightgcnWork *w = j->w;
	int64_t		b0,
				b1;

	parallel_range(j->B, part, n_parts, 1, &b0, &b1);
	for (int64_t b = b0; b < b1; b++)
	{
		const float *eu = bpr_emb(j, b, 0);

		w->sp[b] = dot_lanes(eu, bpr_emb(j, b, 1), j->F);
		w->sn[b] = dot_lanes(eu, bpr_emb(j, b, 2), j->F);
	}
}
PARALLEL_CLONED_PART(bpr_scores_part)

/*
 * Columns [f0, f0 + w) of row k's BPR gradient: g += the sum over the row's
 * incidences q0..q1 (triple order) of gp e_i + gn e_j (a user) or gw e_u (an
 * item).  Inlined with w = SPMM_CHUNK, a constant: the slice of g is summed
 * in registers and stored once (a store and reload per incidence cost half
 * the pass); or with the remainder width, in place.  Either way each column
 * is summed in incidence order, as the serial loop over triples does.
 */
static RECGAN_ALWAYS_INLINE void
bpr_row_slice(float *restrict g, const BprJob *j, int32_t q0, int32_t q1, int32_t q_end,
			  int f0, int w)
{
	const LightgcnWork *w_ = j->w;
	v8			acc[SPMM_CHUNK / 8];

	if (w == SPMM_CHUNK)
		for (int k = 0; k < SPMM_CHUNK / 8; k++)
			acc[k] = ((const v8 *) (g + f0))[k];
	for (int32_t q = q0; q < q1; q++)
	{
		int			b = w_->inc[q] / 3,
					role = w_->inc[q] % 3;

		if (q + BPR_AHEAD < q_end)
			bpr_prefetch(j, w_->inc[q + BPR_AHEAD]);
		if (role == 0)
		{
			const float *ei = bpr_emb(j, b, 1) + f0,
					   *ej = bpr_emb(j, b, 2) + f0;
			float		gp = w_->dp[b],
						gn = w_->dn[b];

			if (w == SPMM_CHUNK)
				for (int k = 0; k < SPMM_CHUNK / 8; k++)
					acc[k] += gp * ((const v8 *) ei)[k] + gn * ((const v8 *) ej)[k];
			else
				for (int f = 0; f < w; f++)
					g[f0 + f] += gp * ei[f] + gn * ej[f];
		}
		else
		{
			const float *eu = bpr_emb(j, b, 0) + f0;
			float		gw = role == 1 ? w_->dp[b] : w_->dn[b];

			if (w == SPMM_CHUNK)
				for (int k = 0; k < SPMM_CHUNK / 8; k++)
					acc[k] += gw * ((const v8 *) eu)[k];
			else
				for (int f = 0; f < w; f++)
					g[f0 + f] += gw * eu[f];
		}
	}
	if (w == SPMM_CHUNK)
		for (int k = 0; k < SPMM_CHUNK / 8; k++)
			((v8 *) (g + f0))[k] = acc[k];
}

/*
 * The rows of one part: the squared norm of the layer-0 row and, unless
 * de0 is NULL, its BPR gradient into dE (bpr_row_slice) and its L2
 * gradient reg/B e0_r into de0 once per incidence, each summed in triple
 * order: the order of the serial loop over triples, so the same bits at
 * any thread count.
 */
RECGAN_VECTOR_CLONES static void
bpr_rows_part_clones(void *arg, int part, int n_parts)
{
	const BprJob *j = arg;
	const LightgcnWork *w = j->w;
	int			F = j->F;
	float		reg_b = j->reg_b;
	int64_t		k0,
				k1;

	parallel_range(j->n_rows, part, n_parts, 1, &k0, &k1);
	for (int64_t k = k0; k < k1; k++)
	{
		int32_t		r = w->rows[k],
					q0 = w->inc_ptr[k],
					q1 = w->inc_ptr[k + 1],
					q_end = w->inc_ptr[k1];
		const float *restrict e = j->e0 + (int64_t) r * F;
		float	   *restrict d,
				   *restrict g;

		if (k + 1 < k1)
		{
			int32_t		next = w->rows[k + 1];

			prefetch_row(j->e0 + (int64_t) next * F, F);
			if (j->de0 != NULL)
			{
				prefetch_row(j->de0 + (int64_t) next * F, F);
				prefetch_row(w->dE + (int64_t) next * F, F);
			}
		}
		w->norm[k] = dot_lanes(e, e, F);
		if (j->de0 == NULL)
			continue;
		d = j->de0 + (int64_t) r * F;
		g = w->dE + (int64_t) r * F;
		for (int f0 = 0; f0 < F; f0 += SPMM_CHUNK)
		{
			if (F - f0 >= SPMM_CHUNK)
				bpr_row_slice(g, j, q0, q1, q_end, f0, SPMM_CHUNK);
			else
				bpr_row_slice(g, j, q0, q1, q_end, f0, F - f0);
		}
		for (int32_t q = q0; q < q1; q++)
			for (int f = 0; f < F; f++)
				d[f] += reg_b * e[f];
	}
}
PARALLEL_CLONED_PART(bpr_rows_part)

/* Reset the dE rows and slots of one part's rows. */
static void
bpr_clear_part(void *arg, int part, int n_parts)
{
	const BprJob *j = arg;
	LightgcnWork *w = j->w;
	int64_t		k0,
				k1;

	parallel_range(j->n_rows, part, n_parts, 1, &k0, &k1);
	for (int64_t k = k0; k < k1; k++)
	{
		if (j->de0 != NULL)
			memset(w->dE + (int64_t) w->rows[k] * j->F, 0, sizeof(float) * (size_t) j->F);
		w->slot[w->rows[k]] = -1;
	}
}

/*
 * BPR loss on the propagated embeddings + L2 on layer 0 (see graph.h).
 * The passes over triples and rows are split over threads when the batch
 * is large (a 32768-triple batch on Gowalla touches most of the graph);
 * every sum keeps the serial order, so the bits do not depend on the
 * thread count.
 */
double
lightgcn_bpr_loss(float *de0, LightgcnWork *w, const GraphAdj *adj, const float *e0,
				  int32_t U, int K, int F, const int32_t *users, const int32_t *pos,
				  const int32_t *neg, int B, double reg)
{
	BprJob		job = {w, de0, e0, U, F, users, pos, neg, B, 0, (float) (reg / B)};
	double		work = 3.0 * B * F, /* F-wide row operations per triple entry */
				loss,
				l2 = 0.0;

	if (B <= 0)
		return 0.0;
	job.n_rows = batch_rows(w, U, users, pos, neg, B);
	lightgcn_forward_rows(w->emb, adj, e0, K, F, w->rows, w->slot, job.n_rows, w->scratch);
	parallel_run(bpr_scores_part, &job, work);
	loss = bpr_loss(w->dp, w->dn, w->sp, w->sn, B);
	/* row by row: dE (the BPR gradient on E), the L2 gradient, the norms */
	parallel_run(bpr_rows_part, &job, work);
	for (int b = 0; b < B; b++)
	{
		l2 += w->norm[w->slot[users[b]]];
		l2 += w->norm[w->slot[U + pos[b]]];
		l2 += w->norm[w->slot[U + neg[b]]];
	}
	loss += 0.5 * reg * l2 / B;
	if (de0 != NULL)
		lightgcn_backward(de0, adj, w->dE, w->rows, job.n_rows, K, F, w->scratch);
	parallel_run(bpr_clear_part, &job, work);
	return loss;
}
