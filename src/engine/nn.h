/*
 * nn.h
 *	  Layers, losses, initialisers, the parameter arena and the sampling
 *	  helpers of the training engine.  Pure C11 + cblas: no server headers, no
 *	  allocation; every buffer is owned by the caller.
 *
 * Legend: B batch rows, IN / OUT layer widths, N rows of an embedding
 * table, D embedding width, n elements of a flat tensor.  All tensors are
 * float32, row-major.
 *
 * Conventions (llm.c style):
 *	- forward(outputs, inputs, weights, dimensions);
 *	  backward(gradient outputs, saved caches / inputs, weights, dimensions).
 *	- Parameter gradients (dW, db, dtable, L2 penalty) ACCUMULATE (+=): the
 *	  caller zeroes them once per step (param_arena_zero_grad).
 *	- Gradients with respect to a layer's input (dx) and a loss's input are
 *	  WRITTEN (=), so they need no zeroing, and activations can run in place
 *	  (y == x forward, dx == dy backward).  Where an input fans out to two
 *	  consumers the caller sums the two gradients (cblas_saxpy).
 *	- A parameter-gradient argument may be NULL to skip it: a frozen layer,
 *	  such as the discriminator during the generator's step.
 */
#ifndef RECGAN_NN_H
#define RECGAN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/*
 * The hot elementwise kernels (Adam, the sparse-input layer) are also
 * compiled for AVX2 and the clone is picked when the library loads (GNU
 * ifunc).  The clones differ in vector width only (no FMA contraction, no
 * reassociation), so every clone gives the same bits.
 *
 * Clang before 18 names the dispatcher "name.ifunc", not "name" as GCC
 * does, so a caller in another file fails to link (llvm-project PR 71706);
 * those clangs (the fuzzer's, test/fuzz/) build the default clone only.
 */
#if defined(__x86_64__) && defined(__linux__) && \
	((defined(__GNUC__) && !defined(__clang__)) || (defined(__clang__) && __clang_major__ >= 18))
#define RECGAN_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define RECGAN_VECTOR_CLONES
#endif

/*
 * Inline a kernel's inner loop into every caller, so that each clone of a
 * RECGAN_VECTOR_CLONES caller compiles it for its own target (a call would
 * run the out-of-line default, SSE2 build).
 */
#if defined(__GNUC__)
#define RECGAN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define RECGAN_ALWAYS_INLINE inline
#endif

/*
 * Hint the first n floats of row into the cache, one hint per 64-byte line:
 * kernels that gather rows by index prefetch the rows a few indexes ahead,
 * so that several cache misses are in flight instead of one at a time.
 */
static inline void
prefetch_row(const float *row, int n)
{
#if defined(__GNUC__)
	for (int k = 0; k < n; k += 16)
		__builtin_prefetch(row + k);
#endif
}

/*
 * a . b over n floats in DOT_LANES independent partial sums (added up at
 * the end): a single running sum is one dependent chain the compiler may
 * not vectorise (that would reassociate it), partial sums vectorise and
 * overlap.  Deterministic: the order depends on n only.
 */
#define DOT_LANES 16

static inline float
dot_lanes(const float *restrict a, const float *restrict b, int n)
{
	float		lane[DOT_LANES] = {0},
				sum = 0.0f;
	int			c = 0;

	for (; c + DOT_LANES <= n; c += DOT_LANES)
		for (int k = 0; k < DOT_LANES; k++)
			lane[k] += a[c + k] * b[c + k];
	for (; c < n; c++)
		sum += a[c] * b[c];
	for (int k = 0; k < DOT_LANES; k++)
		sum += lane[k];
	return sum;
}

/* ---- Dense layer: y = x W^T + b, W stored (OUT, IN) as in torch.nn.Linear */

/* y (B, OUT) = x (B, IN) W^T + b; b (OUT) may be NULL (no bias). */
void		linear_forward(float *y, const float *x, const float *W,
						   const float *b, int B, int in, int out);

/*
 * From dy (B, OUT): write dx (B, IN) = dy W unless dx is NULL; add dy^T x
 * to dW (OUT, IN) and the column sums of dy to db (OUT), each unless NULL.
 */
void		linear_backward(float *dx, float *dW, float *db, const float *dy,
							const float *x, const float *W,
							int B, int in, int out);

/* Naive-loop twins of the two above (double accumulators): the reference. */
void		linear_forward_ref(float *y, const float *x, const float *W,
							   const float *b, int B, int in, int out);
void		linear_backward_ref(float *dx, float *dW, float *db,
								const float *dy, const float *x,
								const float *W, int B, int in, int out);

/*
 * ---- Sparse-input dense layer: y = x W + b for a BINARY x given by the
 * column indexes of its ones, as rows of a CSR (indptr, indices).  W is
 * stored (IN, OUT), input-major, so each one of x adds a contiguous row of
 * W: the cost is nnz(x) * OUT instead of B * IN * OUT.  Row r of the batch
 * is CSR row rows[r], or row r itself when rows is NULL.
 */

/* y (B, OUT) = b + sum of W[indices[p]] over the ones p of each row; b may be NULL. */
void		sparse_linear_forward(float *y, const int64_t *indptr,
								  const int32_t *indices, const int32_t *rows,
								  const float *W, const float *b, int B, int out);

/*
 * From dy (B, OUT): add dy[r] to the rows indices[p] of dW (IN, OUT) for the
 * ones p of row r, and the column sums of dy to db (OUT) unless NULL.  No
 * dx: the input is data.
 */
void		sparse_linear_backward(float *dW, float *db, const float *dy,
								   const int64_t *indptr, const int32_t *indices,
								   const int32_t *rows, int B, int out);

/* ---- Embedding: gather rows of a (N, D) table */

/* out (B, D) = table[idx[b]] for each b; every idx[b] must be in [0, N). */
void		embedding_forward(float *out, const int32_t *idx,
							  const float *table, int B, int D);

/* Scatter-add dout (B, D) into dtable (N, D) rows idx[b] (repeats add up). */
void		embedding_backward(float *dtable, const float *dout,
							   const int32_t *idx, int B, int D);

/*
 * out (D) = sum of table rows idx[0..n) (table is (N, D)).  Eight rows per
 * pass over out, so out is read and written n/8 times instead of n: the
 * scoring kernel of item-item models (a user's score row is the sum of the
 * weight rows of the items in their history).
 */
void		rows_sum(float *out, const float *table, const int32_t *idx, int n, int D);
/* rows_sum over a table whose rows are ld floats apart (D <= ld). */
void		rows_sum_ld(float *out, const float *table, size_t ld, const int32_t *idx, int n,
						int D);

/* ---- Elementwise product and row-wise dot, for factor models */

/* y (n) = a (n) * b (n). */
void		mul_forward(float *y, const float *a, const float *b, int64_t n);

/* Write da = dy * b and db = dy * a (either may be NULL). */
void		mul_backward(float *da, float *db, const float *dy,
						 const float *a, const float *b, int64_t n);

/* y (B) = sum over D of a (B, D) * b (B, D), double accumulator. */
void		rowdot_forward(float *y, const float *a, const float *b,
						   int B, int D);

/* Write da (B, D) = dy[r] * b and db (B, D) = dy[r] * a (either may be NULL). */
void		rowdot_backward(float *da, float *db, const float *dy,
							const float *a, const float *b, int B, int D);

/*
 * ---- Activations, elementwise over n.  Backward takes the forward OUTPUT
 * y (not x), so both passes are safe in place.
 */
void		relu_forward(float *y, const float *x, int64_t n);
void		relu_backward(float *dx, const float *dy, const float *y, int64_t n);

/* y = x for x > 0, alpha x otherwise; requires alpha >= 0 (so sign y = sign x). */
void		leaky_relu_forward(float *y, const float *x, float alpha, int64_t n);
void		leaky_relu_backward(float *dx, const float *dy, const float *y,
								float alpha, int64_t n);

void		sigmoid_forward(float *y, const float *x, int64_t n);
void		sigmoid_backward(float *dx, const float *dy, const float *y, int64_t n);

void		tanh_forward(float *y, const float *x, int64_t n);
void		tanh_backward(float *dx, const float *dy, const float *y, int64_t n);

/*
 * ---- Losses.  Each returns the loss (double) and, unless the gradient
 * pointer is NULL, writes the gradient of exactly that returned value.
 */

/*
 * Binary cross-entropy on logits z (n) against targets t (n) in [0, 1]:
 *	 (1/n) sum_i w_i [softplus(z_i) - t_i z_i]
 * computed stably; w (n) NULL means all ones, a 0/1 w is a mask.  The
 * divisor is n even when w masks entries (torch BCEWithLogitsLoss with
 * weight=w, reduction='mean'); scale the result to normalise otherwise.
 * dz_i = w_i (sigmoid(z_i) - t_i) / n.
 */
double		bce_logits_loss(float *dz, const float *z, const float *t,
							const float *w, int64_t n);

/*
 * CFGAN's masked squared error on y (B, C) against t (B, C), mask m (B, C):
 *	 (1/B) sum_r sum_c m_rc (y_rc - t_rc)^2
 * i.e. a sum over the masked entries of each row, averaged over the B rows
 * (the reference CFGAN code: reduce_mean(reduce_sum(square(G - 0) * ZR, 1))).
 * t NULL means all zeros; m NULL means all ones.
 * dy_rc = 2 m_rc (y_rc - t_rc) / B.
 */
double		masked_mse_loss(float *dy, const float *y, const float *t,
							const float *m, int B, int C);

/*
 * Bayesian personalised ranking: (1/n) sum_i -log sigmoid(pos_i - neg_i),
 * computed as softplus(neg_i - pos_i).  Writes dpos = -sigmoid(neg - pos)/n
 * and dneg = -dpos (either may be NULL); a weight below 1e-25 is written as
 * 0 (its products would be subnormal floats, tens of times slower).
 */
double		bpr_loss(float *dpos, float *dneg, const float *pos,
					 const float *neg, int64_t n);

/*
 * One batch of BPR-MF over B triples (u, i, j), bpr.c's training step:
 * X (U, F) user and Y (I, F) item factors, bias (I) or NULL; s_ui = x_u .
 * y_i (+ b_i).  Returns
 *	 (1/B) sum_b softplus(s_uj - s_ui)
 *		 + reg (1/2) (1/B) sum_b (|x_u|^2 + |y_i|^2 + |y_j|^2 + b_i^2 + b_j^2)
 * and ADDS its gradient to gx, gy and gb (gb only with a bias).  i == j is
 * allowed (a user positive on every item gets j = i).  scratch is (4 B).
 */
double		bpr_mf_batch(float *gx, float *gy, float *gb, const float *x,
						 const float *y, const float *bias, const int32_t *tu,
						 const int32_t *ti, const int32_t *tj, int B, int F,
						 double reg, float *scratch);

/*
 * L2 penalty (lambda / 2) sum_i w_i^2; ADDS lambda w_i to grad (a parameter
 * gradient, so it accumulates) unless grad is NULL.
 */
double		l2_penalty(float *grad, const float *w, double lambda, int64_t n);

/* ---- Initialisers; a W of a linear layer is (fan_out, fan_in) */

/* w (n) ~ U(lo, hi). */
void		init_uniform(float *w, float lo, float hi, int64_t n, Rng *rng);

/* w (n) ~ N(0, std^2). */
void		init_normal(float *w, float std, int64_t n, Rng *rng);

/* w (fan_out, fan_in) ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
void		init_xavier_uniform(float *w, int fan_in, int fan_out, Rng *rng);

/* w (fan_out, fan_in) ~ N(0, 2 / (fan_in + fan_out)). */
void		init_xavier_normal(float *w, int fan_in, int fan_out, Rng *rng);

/*
 * ---- Parameter arena.  A network lists its tensors in a size table of
 * ParamSpec; the arena lays them out back to back, in table order, in one
 * float block, followed by same-shaped twin blocks for the gradients and
 * for Adam's first and second moments:
 *
 *	 [ params (n) | grads (n) | adam m (n) | adam v (n) ]	n = param_count
 *
 * (only the first `blocks` of the four are present).  The model then points
 * a struct of named float pointers into a block with param_arena_point.
 */

typedef struct ParamSpec
{
	const char *name;			/* for messages and the model format */
	int64_t		rows;			/* a vector of length n is (n, 1) */
	int64_t		cols;
} ParamSpec;

typedef enum ParamArenaBlocks
{
	PARAM_ARENA_PARAMS = 1,		/* inference: parameters only */
	PARAM_ARENA_GRADS = 2,		/* + gradients (SGD) */
	PARAM_ARENA_ADAM = 4		/* + Adam m and v */
} ParamArenaBlocks;

typedef struct ParamArena
{
	const ParamSpec *specs;		/* the caller's table; must outlive the arena */
	int			n_specs;
	int64_t		n;				/* floats per block: sum of rows * cols */
	float	   *params;			/* (n) */
	float	   *grads;			/* (n) or NULL */
	float	   *m;				/* (n) or NULL */
	float	   *v;				/* (n) or NULL */
} ParamArena;

/* Floats per block, or -1 when a shape is negative or the sum overflows. */
int64_t		param_arena_count(const ParamSpec *specs, int n_specs);

/*
 * Bytes the caller must provide for `blocks` blocks (1, 2 or 4); 0 when a
 * shape is invalid or the size does not fit in size_t.  Call this first, so
 * the backend can check the total against its memory limit.
 */
size_t		param_arena_bytes(const ParamSpec *specs, int n_specs,
							  ParamArenaBlocks blocks);

/*
 * Lay the arena over the caller's memory (suitably aligned for float) and
 * zero all of it.  Returns 0, or -1 when the table is invalid or
 * memory_bytes is below param_arena_bytes (nothing is written then).
 */
int			param_arena_init(ParamArena *arena, const ParamSpec *specs,
							 int n_specs, ParamArenaBlocks blocks,
							 void *memory, size_t memory_bytes);

/* Offset in floats of tensor i within any block. */
int64_t		param_arena_offset(const ParamArena *arena, int i);

/*
 * Point fields[i] at tensor i of block (arena->params, ->grads, ...), for
 * i < n_specs.  E.g. float **f[] = {&p.w1, &p.b1}; param_arena_point(a,
 * a->params, f).
 */
void		param_arena_point(const ParamArena *arena, float *block,
							  float **fields[]);

/* Zero the gradient block (once per step, before the backward passes). */
void		param_arena_zero_grad(ParamArena *arena);

/* ---- Sampling on top of rng.h */

/*
 * A uniform item of [0, n_items) not in pos[0..n_pos) (strictly ascending,
 * each in range), in one draw and O(log n_pos); -1 when every item is
 * positive.
 */
int32_t		sample_negative(Rng *rng, int32_t n_items, const int32_t *pos,
							int32_t n_pos);

/*
 * k distinct items of [0, n_items) not in pos (as above), written to
 * out[0..k) ascending, uniformly over such sets (CFGAN's zero-reconstruction
 * and partial-masking samples).  O(n_items).  Returns k, or -1 when fewer
 * than k items are negative (nothing is written then).
 */
int32_t		sample_negatives(Rng *rng, int32_t n_items, const int32_t *pos,
							 int32_t n_pos, int32_t k, int32_t *out);

/* idx[0..n) = a uniformly random permutation of 0..n-1 (an epoch's order). */
void		sample_permutation(int32_t *idx, int64_t n, Rng *rng);

/*
 * BPR triples for nb positives of a user x item CSR (indptr (U + 1),
 * indices ascending per row, n_items columns) given by their positions
 * order[0..nb) in indices: tu, ti (nb) are each positive's user
 * (user_of (P), the row of each position) and item, tj (nb) a uniform item
 * the user has no positive for (sample_negative), or the positive itself
 * when the user has every item (a zero-gradient triple).
 */
void		sample_bpr_triples(Rng *rng, const int64_t *indptr, const int32_t *indices,
							   int32_t n_items, const int32_t *user_of, const int32_t *order,
							   int nb, int32_t *tu, int32_t *ti, int32_t *tj);

#endif							/* RECGAN_NN_H */
