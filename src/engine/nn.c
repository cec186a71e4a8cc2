/*
 * nn.c
 *	  Layers, losses, initialisers, the parameter arena and sampling helpers.
 *
 * Legend: B batch rows, IN / OUT layer widths, N embedding rows, D embedding
 * width, n flat elements.  Conventions are in nn.h: parameter gradients
 * accumulate, input gradients are written.  The dense layer goes through
 * cblas_sgemm; linear_forward_ref / linear_backward_ref are its naive-loop
 * twins, which test/unit/test_nn.c holds it to.
 */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Columns summed at once by add_column_sums (a stack block of doubles). */
#define COLUMN_BLOCK 64

/* Logistic function in double, without overflow for any x. */
static inline double
sigmoid_d(double x)
{
	double		e;

	if (x >= 0)
		return 1.0 / (1.0 + exp(-x));
	e = exp(x);
	return e / (1.0 + e);
}

/* log(1 + exp(x)) in double, without overflow for any x. */
static inline double
softplus_d(double x)
{
	return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

/* Add the column sums of a (B, C) to acc (C), in double, row by row. */
void
add_column_sums(float *acc, const float *a, int B, int C)
{
	for (int c0 = 0; c0 < C; c0 += COLUMN_BLOCK)
	{
		double		sum[COLUMN_BLOCK] = {0};
		int			width = C - c0 < COLUMN_BLOCK ? C - c0 : COLUMN_BLOCK;

		for (int r = 0; r < B; r++)
		{
			const float *row = a + (int64_t) r * C + c0;

			for (int c = 0; c < width; c++)
				sum[c] += row[c];
		}
		for (int c = 0; c < width; c++)
			acc[c0 + c] += (float) sum[c];
	}
}

/* ---- Dense layer */

/* y = x W^T + b through one sgemm on top of the broadcast bias. */
void
linear_forward(float *y, const float *x, const float *W, const float *b,
			   int B, int in, int out)
{
	float		beta = 0.0f;

	if (B <= 0 || out <= 0)
		return;
	if (b != NULL)
	{
		for (int r = 0; r < B; r++)
			memcpy(y + (int64_t) r * out, b, sizeof(float) * out);
		beta = 1.0f;
	}
	else if (in <= 0)
		memset(y, 0, sizeof(float) * B * (size_t) out);
	if (in <= 0)
		return;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in,
				1.0f, x, in, W, in, beta, y, out);
}

/* dx = dy W (written); dW += dy^T x; db += column sums of dy. */
void
linear_backward(float *dx, float *dW, float *db, const float *dy,
				const float *x, const float *W, int B, int in, int out)
{
	if (B <= 0 || in <= 0 || out <= 0)
		return;
	if (dx != NULL)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out,
					1.0f, dy, out, W, in, 0.0f, dx, in);
	if (dW != NULL)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B,
					1.0f, dy, out, x, in, 1.0f, dW, in);
	if (db != NULL)
		add_column_sums(db, dy, B, out);
}

/* Naive twin of linear_forward. */
void
linear_forward_ref(float *y, const float *x, const float *W, const float *b,
				   int B, int in, int out)
{
	for (int r = 0; r < B; r++)
		for (int o = 0; o < out; o++)
		{
			double		sum = b != NULL ? b[o] : 0.0;

			for (int i = 0; i < in; i++)
				sum += (double) x[(int64_t) r * in + i] * W[(int64_t) o * in + i];
			y[(int64_t) r * out + o] = (float) sum;
		}
}

/* Naive twin of linear_backward. */
void
linear_backward_ref(float *dx, float *dW, float *db, const float *dy,
					const float *x, const float *W, int B, int in, int out)
{
	for (int r = 0; dx != NULL && r < B; r++)
		for (int i = 0; i < in; i++)
		{
			double		sum = 0.0;

			for (int o = 0; o < out; o++)
				sum += (double) dy[(int64_t) r * out + o] * W[(int64_t) o * in + i];
			dx[(int64_t) r * in + i] = (float) sum;
		}
	for (int o = 0; dW != NULL && o < out; o++)
		for (int i = 0; i < in; i++)
		{
			double		sum = dW[(int64_t) o * in + i];

			for (int r = 0; r < B; r++)
				sum += (double) dy[(int64_t) r * out + o] * x[(int64_t) r * in + i];
			dW[(int64_t) o * in + i] = (float) sum;
		}
	for (int o = 0; db != NULL && o < out; o++)
	{
		double		sum = db[o];

		for (int r = 0; r < B; r++)
			sum += dy[(int64_t) r * out + o];
		db[o] = (float) sum;
	}
}

/* ---- Sparse-input dense layer */

/* y[r] = b + the rows of W selected by the ones of CSR row rows[r]. */
RECGAN_VECTOR_CLONES void
sparse_linear_forward(float *y, const int64_t *indptr, const int32_t *indices,
					  const int32_t *rows, const float *W, const float *b,
					  int B, int out)
{
	for (int r = 0; r < B; r++)
	{
		int64_t		row = rows != NULL ? rows[r] : r;
		float	   *restrict yr = y + (int64_t) r * out;

		if (b != NULL)
			memcpy(yr, b, sizeof(float) * out);
		else
			memset(yr, 0, sizeof(float) * out);
		for (int64_t p = indptr[row]; p < indptr[row + 1]; p++)
		{
			const float *restrict w = W + (int64_t) indices[p] * out;

			for (int o = 0; o < out; o++)
				yr[o] += w[o];
		}
	}
}

/* Scatter-add dy[r] into the rows of dW selected by the ones of row r. */
RECGAN_VECTOR_CLONES void
sparse_linear_backward(float *dW, float *db, const float *dy,
					   const int64_t *indptr, const int32_t *indices,
					   const int32_t *rows, int B, int out)
{
	for (int r = 0; r < B; r++)
	{
		int64_t		row = rows != NULL ? rows[r] : r;
		const float *restrict g = dy + (int64_t) r * out;

		for (int64_t p = indptr[row]; p < indptr[row + 1]; p++)
		{
			float	   *restrict w = dW + (int64_t) indices[p] * out;

			for (int o = 0; o < out; o++)
				w[o] += g[o];
		}
	}
	if (db != NULL)
		add_column_sums(db, dy, B, out);
}

/* ---- Embedding */

/* Copy row idx[b] of table into row b of out. */
void
embedding_forward(float *out, const int32_t *idx, const float *table,
				  int B, int D)
{
	for (int r = 0; r < B; r++)
		memcpy(out + (int64_t) r * D, table + (int64_t) idx[r] * D,
			   sizeof(float) * D);
}

/* Add row b of dout into row idx[b] of dtable. */
void
embedding_backward(float *dtable, const float *dout, const int32_t *idx,
				   int B, int D)
{
	for (int r = 0; r < B; r++)
	{
		float	   *dst = dtable + (int64_t) idx[r] * D;
		const float *src = dout + (int64_t) r * D;

		for (int d = 0; d < D; d++)
			dst[d] += src[d];
	}
}

/* ---- Elementwise product and row-wise dot */

/* y = a * b elementwise. */
void
mul_forward(float *y, const float *a, const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = a[i] * b[i];
}

/* da = dy * b, db = dy * a (read before written, so dy may alias either). */
void
mul_backward(float *da, float *db, const float *dy, const float *a,
			 const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
	{
		float		g = dy[i],
					ai = a[i],
					bi = b[i];

		if (da != NULL)
			da[i] = g * bi;
		if (db != NULL)
			db[i] = g * ai;
	}
}

/* y[r] = dot(a[r], b[r]) in double. */
void
rowdot_forward(float *y, const float *a, const float *b, int B, int D)
{
	for (int r = 0; r < B; r++)
	{
		const float *ar = a + (int64_t) r * D,
				   *br = b + (int64_t) r * D;
		double		sum = 0.0;

		for (int d = 0; d < D; d++)
			sum += (double) ar[d] * br[d];
		y[r] = (float) sum;
	}
}

/* da[r] = dy[r] b[r], db[r] = dy[r] a[r]. */
void
rowdot_backward(float *da, float *db, const float *dy, const float *a,
				const float *b, int B, int D)
{
	for (int r = 0; r < B; r++)
	{
		int64_t		o = (int64_t) r * D;

		for (int d = 0; d < D; d++)
		{
			float		ai = a[o + d],
						bi = b[o + d];

			if (da != NULL)
				da[o + d] = dy[r] * bi;
			if (db != NULL)
				db[o + d] = dy[r] * ai;
		}
	}
}

/* ---- Activations */

/* y = max(x, 0). */
void
relu_forward(float *y, const float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* dx = dy where y > 0, else 0. */
void
relu_backward(float *dx, const float *dy, const float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* y = x for x > 0, else alpha x. */
void
leaky_relu_forward(float *y, const float *x, float alpha, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
}

/* dx = dy where y > 0, else alpha dy (alpha >= 0, so y > 0 iff x > 0). */
void
leaky_relu_backward(float *dx, const float *dy, const float *y, float alpha,
					int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i];
}

/* y = 1 / (1 + exp(-x)), without overflow. */
void
sigmoid_forward(float *y, const float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
	{
		float		xi = x[i],
					e;

		if (xi >= 0.0f)
			y[i] = 1.0f / (1.0f + expf(-xi));
		else
		{
			e = expf(xi);
			y[i] = e / (1.0f + e);
		}
	}
}

/* dx = dy y (1 - y). */
void
sigmoid_backward(float *dx, const float *dy, const float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

/* y = tanh(x). */
void
tanh_forward(float *y, const float *x, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = tanhf(x[i]);
}

/* dx = dy (1 - y^2). */
void
tanh_backward(float *dx, const float *dy, const float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* ---- Losses */

/* Weighted mean BCE on logits; dz = w (sigmoid(z) - t) / n. */
double
bce_logits_loss(float *dz, const float *z, const float *t, const float *w,
				int64_t n)
{
	double		sum = 0.0;

	if (n <= 0)
		return 0.0;
	for (int64_t i = 0; i < n; i++)
	{
		double		zi = z[i],
					ti = t[i],
					wi = w != NULL ? w[i] : 1.0;

		sum += wi * (softplus_d(zi) - ti * zi);
		if (dz != NULL)
			dz[i] = (float) (wi * (sigmoid_d(zi) - ti) / (double) n);
	}
	return sum / (double) n;
}

/* Row-averaged masked sum of squared errors; dy = 2 m (y - t) / B. */
double
masked_mse_loss(float *dy, const float *y, const float *t, const float *m,
				int B, int C)
{
	double		sum = 0.0;
	int64_t		n = (int64_t) B * C;

	if (B <= 0)
		return 0.0;
	for (int64_t i = 0; i < n; i++)
	{
		double		diff = (double) y[i] - (t != NULL ? t[i] : 0.0),
					mi = m != NULL ? m[i] : 1.0;

		sum += mi * diff * diff;
		if (dy != NULL)
			dy[i] = (float) (2.0 * mi * diff / B);
	}
	return sum / B;
}

#define BPR_TINY 1e-25			/* smallest gradient weight bpr_loss returns */

/* Mean softplus(neg - pos); dneg = sigmoid(neg - pos) / n = -dpos (0 below BPR_TINY). */
double
bpr_loss(float *dpos, float *dneg, const float *pos, const float *neg,
		 int64_t n)
{
	double		sum = 0.0;

	if (n <= 0)
		return 0.0;
	for (int64_t i = 0; i < n; i++)
	{
		double		d = (double) neg[i] - pos[i],
					g = sigmoid_d(d) / (double) n;

		/*
		 * A pair ranked right by a wide margin has a weight of order
		 * exp(-margin) / n: below BPR_TINY its products with embeddings
		 * would be subnormal floats, which x86 computes tens of times
		 * slower (BPR-MF, 400 epochs on ML-100K u1: 6.5 s before, 4.5 s
		 * after); it is returned as 0.
		 */
		if (g < BPR_TINY)
			g = 0.0;

		sum += softplus_d(d);
		if (dpos != NULL)
			dpos[i] = (float) -g;
		if (dneg != NULL)
			dneg[i] = (float) g;
	}
	return sum / (double) n;
}

/*
 * One BPR-MF batch (see nn.h): scores, loss, gradients with the rows' L2.
 * The factor and gradient rows of the triple BPR_AHEAD places ahead are
 * prefetched (the rows are gathered at random; Adam's passes over all
 * weights evict them between batches).
 */
#define BPR_AHEAD 4

/* The gradient rows of one triple with i != j (distinct rows: X and Y apart). */
static inline void
bpr_mf_rows(float *restrict gu, float *restrict gi, float *restrict gj,
			const float *restrict xu, const float *restrict yi, const float *restrict yj,
			float gp, float gn, float lam, int F)
{
	for (int c = 0; c < F; c++)
	{
		gu[c] += gp * yi[c] + gn * yj[c] + lam * xu[c];
		gi[c] += gp * xu[c] + lam * yi[c];
		gj[c] += gn * xu[c] + lam * yj[c];
	}
}

RECGAN_VECTOR_CLONES double
bpr_mf_batch(float *gx, float *gy, float *gb, const float *x, const float *y,
			 const float *bias, const int32_t *tu, const int32_t *ti, const int32_t *tj,
			 int B, int F, double reg, float *scratch)
{
	float	   *sp = scratch,
			   *sn = scratch + B,
			   *dp = scratch + 2 * (int64_t) B,
			   *dn = scratch + 3 * (int64_t) B;
	float		lam = (float) (reg / B);
	double		loss,
				l2 = 0.0;

	if (B <= 0)
		return 0.0;
	for (int b = 0; b < B; b++)
	{
		const float *restrict xu = x + (int64_t) tu[b] * F,
				   *restrict yi = y + (int64_t) ti[b] * F,
				   *restrict yj = y + (int64_t) tj[b] * F;

		if (b + BPR_AHEAD < B)
		{
			prefetch_row(x + (int64_t) tu[b + BPR_AHEAD] * F, F);
			prefetch_row(y + (int64_t) ti[b + BPR_AHEAD] * F, F);
			prefetch_row(y + (int64_t) tj[b + BPR_AHEAD] * F, F);
		}
		sp[b] = dot_lanes(xu, yi, F) + (bias ? bias[ti[b]] : 0.0f);
		sn[b] = dot_lanes(xu, yj, F) + (bias ? bias[tj[b]] : 0.0f);
	}
	loss = bpr_loss(dp, dn, sp, sn, B);
	for (int b = 0; b < B; b++)
	{
		const float *xu = x + (int64_t) tu[b] * F,
				   *yi = y + (int64_t) ti[b] * F,
				   *yj = y + (int64_t) tj[b] * F;

		if (b + BPR_AHEAD < B)
		{
			prefetch_row(gx + (int64_t) tu[b + BPR_AHEAD] * F, F);
			prefetch_row(gy + (int64_t) ti[b + BPR_AHEAD] * F, F);
			prefetch_row(gy + (int64_t) tj[b + BPR_AHEAD] * F, F);
		}

		if (ti[b] != tj[b])
			bpr_mf_rows(gx + (int64_t) tu[b] * F, gy + (int64_t) ti[b] * F,
						gy + (int64_t) tj[b] * F, xu, yi, yj, dp[b], dn[b], lam, F);
		else
		{
			/* a user positive on every item: the sampler repeats i as j */
			float	   *gu = gx + (int64_t) tu[b] * F,
					   *gi = gy + (int64_t) ti[b] * F;

			for (int c = 0; c < F; c++)
			{
				gu[c] += (dp[b] + dn[b]) * yi[c] + lam * xu[c];
				gi[c] += (dp[b] + dn[b]) * xu[c] + 2.0f * lam * yi[c];
			}
		}
		l2 += dot_lanes(xu, xu, F) + dot_lanes(yi, yi, F) + dot_lanes(yj, yj, F);
		if (bias)
		{
			float		bi = bias[ti[b]],
						bj = bias[tj[b]];

			gb[ti[b]] += dp[b] + lam * bi;
			gb[tj[b]] += dn[b] + lam * bj;
			l2 += (double) bi * bi + (double) bj * bj;
		}
	}
	return loss + 0.5 * lam * l2;
}

/* (lambda / 2) sum w^2; grad += lambda w. */
double
l2_penalty(float *grad, const float *w, double lambda, int64_t n)
{
	double		sum = 0.0;

	for (int64_t i = 0; i < n; i++)
	{
		sum += (double) w[i] * w[i];
		if (grad != NULL)
			grad[i] += (float) (lambda * w[i]);
	}
	return 0.5 * lambda * sum;
}

/* ---- Initialisers */

/* Fill w with U(lo, hi) draws. */
void
init_uniform(float *w, float lo, float hi, int64_t n, Rng *rng)
{
	for (int64_t i = 0; i < n; i++)
		w[i] = (float) (lo + ((double) hi - lo) * rng_uniform(rng));
}

/* Fill w with N(0, std^2) draws. */
void
init_normal(float *w, float std, int64_t n, Rng *rng)
{
	for (int64_t i = 0; i < n; i++)
		w[i] = (float) (std * rng_normal(rng));
}

/* Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
void
init_xavier_uniform(float *w, int fan_in, int fan_out, Rng *rng)
{
	float		a = (float) sqrt(6.0 / ((double) fan_in + fan_out));

	init_uniform(w, -a, a, (int64_t) fan_in * fan_out, rng);
}

/* Glorot normal: N(0, 2 / (fan_in + fan_out)). */
void
init_xavier_normal(float *w, int fan_in, int fan_out, Rng *rng)
{
	float		std = (float) sqrt(2.0 / ((double) fan_in + fan_out));

	init_normal(w, std, (int64_t) fan_in * fan_out, rng);
}

/* ---- Parameter arena */

/* Sum of rows * cols over the table; -1 on a negative shape or overflow. */
int64_t
param_arena_count(const ParamSpec *specs, int n_specs)
{
	int64_t		total = 0;

	if (n_specs < 0)
		return -1;
	for (int i = 0; i < n_specs; i++)
	{
		int64_t		rows = specs[i].rows,
					cols = specs[i].cols;

		if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / cols))
			return -1;
		if (rows * cols > INT64_MAX - total)
			return -1;
		total += rows * cols;
	}
	return total;
}

/* Bytes of `blocks` blocks; 0 when invalid or too large for size_t. */
size_t
param_arena_bytes(const ParamSpec *specs, int n_specs, ParamArenaBlocks blocks)
{
	int64_t		n = param_arena_count(specs, n_specs);
	size_t		per_float = sizeof(float) * (size_t) blocks;

	if (n_specs <= 0 || n < 0 ||
		(blocks != PARAM_ARENA_PARAMS && blocks != PARAM_ARENA_GRADS &&
		 blocks != PARAM_ARENA_ADAM))
		return 0;
	if ((uint64_t) n > SIZE_MAX / per_float)
		return 0;
	return (size_t) n * per_float;
}

/* Lay out the blocks over memory and zero it. */
int
param_arena_init(ParamArena *arena, const ParamSpec *specs, int n_specs,
				 ParamArenaBlocks blocks, void *memory, size_t memory_bytes)
{
	size_t		bytes = param_arena_bytes(specs, n_specs, blocks);
	float	   *base = (float *) memory;
	int64_t		n;

	if (bytes == 0 || memory == NULL || memory_bytes < bytes)
		return -1;
	n = param_arena_count(specs, n_specs);
	memset(memory, 0, bytes);
	arena->specs = specs;
	arena->n_specs = n_specs;
	arena->n = n;
	arena->params = base;
	arena->grads = blocks >= PARAM_ARENA_GRADS ? base + n : NULL;
	arena->m = blocks >= PARAM_ARENA_ADAM ? base + 2 * n : NULL;
	arena->v = blocks >= PARAM_ARENA_ADAM ? base + 3 * n : NULL;
	return 0;
}

/* Offset of tensor i: the sizes of the tensors before it. */
int64_t
param_arena_offset(const ParamArena *arena, int i)
{
	return param_arena_count(arena->specs, i);
}

/* Point each named field at its tensor inside block. */
void
param_arena_point(const ParamArena *arena, float *block, float **fields[])
{
	int64_t		offset = 0;

	for (int i = 0; i < arena->n_specs; i++)
	{
		*fields[i] = block + offset;
		offset += arena->specs[i].rows * arena->specs[i].cols;
	}
}

/* Zero every gradient. */
void
param_arena_zero_grad(ParamArena *arena)
{
	if (arena->grads != NULL)
		memset(arena->grads, 0, sizeof(float) * (size_t) arena->n);
}

/* ---- Sampling */

/*
 * Map r, a rank among the negatives, to its item: pos[j] - j negatives lie
 * below pos[j], so the item is r + (number of j with pos[j] - j <= r).
 */
static int32_t
negative_by_rank(int32_t r, const int32_t *pos, int32_t n_pos)
{
	int32_t		lo = 0,			/* every j < lo has pos[j] - j <= r ... */
				len = n_pos;	/* ... and the count is in [lo, lo + len] */

	/* halve without a branch on the data: a random rank mispredicts half the steps */
	while (len > 1)
	{
		int32_t		half = len / 2;

		lo += (pos[lo + half - 1] - (lo + half - 1) <= r) ? half : 0;
		len -= half;
	}
	return r + lo + (len == 1 && pos[lo] - lo <= r);
}

/* One uniform negative item, or -1 when there is none. */
int32_t
sample_negative(Rng *rng, int32_t n_items, const int32_t *pos, int32_t n_pos)
{
	int32_t		n_neg = n_items - n_pos;

	if (n_neg <= 0)
		return -1;
	return negative_by_rank((int32_t) rng_below(rng, (uint64_t) n_neg), pos, n_pos);
}

/* (user, positive, uniform negative) for nb positives in the given order. */
void
sample_bpr_triples(Rng *rng, const int64_t *indptr, const int32_t *indices, int32_t n_items,
				   const int32_t *user_of, const int32_t *order, int nb, int32_t *tu,
				   int32_t *ti, int32_t *tj)
{
	for (int b = 0; b < nb; b++)
	{
		int32_t		p = order[b],
					u = user_of[p],
					j = sample_negative(rng, n_items, indices + indptr[u],
										(int32_t) (indptr[u + 1] - indptr[u]));

		tu[b] = u;
		ti[b] = indices[p];
		tj[b] = j >= 0 ? j : ti[b];
	}
}

/* k distinct sorted negative items, or -1 when there are fewer than k. */
int32_t
sample_negatives(Rng *rng, int32_t n_items, const int32_t *pos, int32_t n_pos,
				 int32_t k, int32_t *out)
{
	int32_t		n_neg = n_items - n_pos,
				j = 0;

	if (k < 0 || k > n_neg)
		return -1;
	rng_sample_sorted(rng, n_neg, k, out);
	/* ranks ascend, so one merge pass over pos maps them all */
	for (int32_t i = 0; i < k; i++)
	{
		while (j < n_pos && pos[j] - j <= out[i])
			j++;
		out[i] += j;
	}
	return k;
}

/* idx = a shuffled 0..n-1. */
void
sample_permutation(int32_t *idx, int64_t n, Rng *rng)
{
	for (int64_t i = 0; i < n; i++)
		idx[i] = (int32_t) i;
	rng_shuffle(rng, idx, n);
}

/* Sum rows idx[0..n) of a (N, D) table into out (D), eight rows a pass. */
void
rows_sum(float *out, const float *table, const int32_t *idx, int n, int D)
{
	rows_sum_ld(out, table, D, idx, n, D);
}

/* rows_sum over a table whose rows are ld floats apart (D <= ld), vectorised for AVX2 too. */
RECGAN_VECTOR_CLONES void
rows_sum_ld(float *out, const float *table, size_t ld, const int32_t *idx, int n, int D)
{
	int			r = 0;

	memset(out, 0, (size_t) D * sizeof(float));
	for (; r + 8 <= n; r += 8)
	{
		const float *t0 = table + (size_t) idx[r] * ld,
				   *t1 = table + (size_t) idx[r + 1] * ld,
				   *t2 = table + (size_t) idx[r + 2] * ld,
				   *t3 = table + (size_t) idx[r + 3] * ld,
				   *t4 = table + (size_t) idx[r + 4] * ld,
				   *t5 = table + (size_t) idx[r + 5] * ld,
				   *t6 = table + (size_t) idx[r + 6] * ld,
				   *t7 = table + (size_t) idx[r + 7] * ld;

		for (int j = 0; j < D; j++)
			out[j] += ((t0[j] + t1[j]) + (t2[j] + t3[j])) + ((t4[j] + t5[j]) + (t6[j] + t7[j]));
	}
	for (; r < n; r++)
	{
		const float *t = table + (size_t) idx[r] * ld;

		for (int j = 0; j < D; j++)
			out[j] += t[j];
	}
}
