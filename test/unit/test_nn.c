/*
 * test_nn.c
 *	  Unit tests of the layers, losses, initialisers, parameter arena,
 *	  sampling helpers (nn.c) and optimisers (optim.c), run without a server
 *	  by `make unitcheck`.  Exit status 0 only when every check passed.
 *
 * Gradient checks (grad_check in unit.h, which states the error measure):
 * layers are reduced to a scalar by a fixed random projection,
 * L = sum_i r_i y_i, so dy = r.  Every check prints its measured error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "optim.h"
#include "rng.h"
#include "unit.h"

/* ---- Dense layer */

enum
{
	LB = 4, LIN = 7, LOUT = 5
};

typedef struct LinearCtx
{
	float		x[LB * LIN];	/* (B, IN) */
	float		W[LOUT * LIN];	/* (OUT, IN) */
	float		b[LOUT];		/* (OUT) */
	float		y[LB * LOUT];	/* (B, OUT) */
	float		r[LB * LOUT];	/* (B, OUT) projection */
} LinearCtx;

/* Projected output of the sgemm linear layer. */
static double
linear_scalar(void *arg)
{
	LinearCtx  *c = arg;

	linear_forward(c->y, c->x, c->W, c->b, LB, LIN, LOUT);
	return project(c->y, c->r, LB * LOUT);
}

/* linear_backward's dx, dW, db against finite differences. */
static void
test_linear_gradients(void)
{
	static LinearCtx c;
	float		dx[LB * LIN],
				dW[LOUT * LIN] = {0},
				db[LOUT] = {0};
	Rng			rng;

	rng_seed(&rng, 101);
	fill_normal(c.x, LB * LIN, 1.0, &rng);
	fill_normal(c.W, LOUT * LIN, 0.5, &rng);
	fill_normal(c.b, LOUT, 0.5, &rng);
	fill_normal(c.r, LB * LOUT, 1.0, &rng);
	linear_backward(dx, dW, db, c.r, c.x, c.W, LB, LIN, LOUT);
	/* L is linear in each input, so a large step loses nothing to curvature */
	grad_check("linear dx", linear_scalar, &c, c.x, dx, LB * LIN, 0.1f);
	grad_check("linear dW", linear_scalar, &c, c.W, dW, LOUT * LIN, 0.1f);
	grad_check("linear db", linear_scalar, &c, c.b, db, LOUT, 0.1f);
}

/* The sgemm kernels agree with their naive-loop twins, accumulation included. */
static void
test_linear_matches_reference(void)
{
	enum
	{
		B = 37, IN = 53, OUT = 29
	};
	static float x[B * IN],
				W[OUT * IN],
				b[OUT],
				dy[B * OUT],
				y[B * OUT],
				y_ref[B * OUT],
				dx[B * IN],
				dx_ref[B * IN],
				dW[OUT * IN],
				dW_ref[OUT * IN],
				db[OUT],
				db_ref[OUT];
	Rng			rng;
	double		err;

	rng_seed(&rng, 103);
	fill_normal(x, B * IN, 1.0, &rng);
	fill_normal(W, OUT * IN, 1.0, &rng);
	fill_normal(b, OUT, 1.0, &rng);
	fill_normal(dy, B * OUT, 1.0, &rng);
	/* start the parameter gradients non-zero: backward must add to them */
	fill_normal(dW, OUT * IN, 1.0, &rng);
	fill_normal(db, OUT, 1.0, &rng);
	memcpy(dW_ref, dW, sizeof(dW));
	memcpy(db_ref, db, sizeof(db));

	linear_forward(y, x, W, b, B, IN, OUT);
	linear_forward_ref(y_ref, x, W, b, B, IN, OUT);
	err = max_abs_diff(y, y_ref, B * OUT);
	CHECK(err < 1e-4, "forward differs from reference by %g", err);

	linear_forward(y, x, W, NULL, B, IN, OUT);
	linear_forward_ref(y_ref, x, W, NULL, B, IN, OUT);
	err = max_abs_diff(y, y_ref, B * OUT);
	CHECK(err < 1e-4, "forward without bias differs from reference by %g", err);

	linear_backward(dx, dW, db, dy, x, W, B, IN, OUT);
	linear_backward_ref(dx_ref, dW_ref, db_ref, dy, x, W, B, IN, OUT);
	err = max_abs_diff(dx, dx_ref, B * IN);
	CHECK(err < 1e-4, "dx differs from reference by %g", err);
	err = max_abs_diff(dW, dW_ref, OUT * IN);
	CHECK(err < 1e-4, "dW differs from reference by %g", err);
	err = max_abs_diff(db, db_ref, OUT);
	CHECK(err < 1e-4, "db differs from reference by %g", err);

	/* a NULL gradient is skipped; dx is written (=), so a rerun repeats it */
	memcpy(dx_ref, dx, sizeof(dx));
	memcpy(dW_ref, dW, sizeof(dW));
	linear_backward(NULL, NULL, db, dy, x, W, B, IN, OUT);
	CHECK(memcmp(dW, dW_ref, sizeof(dW)) == 0, "dW changed though NULL was passed for it");
	linear_backward(dx, NULL, NULL, dy, x, W, B, IN, OUT);
	CHECK(memcmp(dx, dx_ref, sizeof(dx)) == 0, "dx not rewritten identically");
}

/* ---- Sparse-input layer */

enum
{
	SB = 5, SIN = 9, SOUT = 6, SROWS = 4
};

/*
 * sparse_linear_* against the dense reference on the densified input: rows
 * with several ones, an empty row, a row picked twice, and rows == NULL.
 */
static void
test_sparse_linear(void)
{
	static const int64_t indptr[SROWS + 1] = {0, 3, 3, 7, 8};
	static const int32_t indices[8] = {0, 4, 8, 1, 2, 4, 7, 5};
	static const int32_t rows[SB] = {2, 0, 1, 2, 3};
	float		W[SIN * SOUT],	/* (IN, OUT) */
				Wt[SOUT * SIN], /* (OUT, IN) for the reference */
				b[SOUT],
				x[SB * SIN],
				y[SB * SOUT],
				y_ref[SB * SOUT],
				dy[SB * SOUT],
				dW[SIN * SOUT],
				dWt_ref[SOUT * SIN],
				db[SOUT],
				db_ref[SOUT];
	double		err = 0.0;
	Rng			rng;

	rng_seed(&rng, 11);
	fill_normal(W, SIN * SOUT, 1.0, &rng);
	fill_normal(b, SOUT, 1.0, &rng);
	fill_normal(dy, SB * SOUT, 1.0, &rng);
	fill_normal(dW, SIN * SOUT, 1.0, &rng);
	fill_normal(db, SOUT, 1.0, &rng);
	memcpy(db_ref, db, sizeof(db));
	for (int i = 0; i < SIN; i++)
		for (int o = 0; o < SOUT; o++)
		{
			Wt[o * SIN + i] = W[i * SOUT + o];
			dWt_ref[o * SIN + i] = dW[i * SOUT + o];
		}
	memset(x, 0, sizeof(x));
	for (int r = 0; r < SB; r++)
		for (int64_t p = indptr[rows[r]]; p < indptr[rows[r] + 1]; p++)
			x[r * SIN + indices[p]] = 1.0f;

	sparse_linear_forward(y, indptr, indices, rows, W, b, SB, SOUT);
	linear_forward_ref(y_ref, x, Wt, b, SB, SIN, SOUT);
	err = max_abs_diff(y, y_ref, SB * SOUT);
	CHECK(err < 1e-5, "sparse forward differs from the dense reference by %g", err);
	sparse_linear_forward(y, indptr, indices, rows, W, NULL, SB, SOUT);
	linear_forward_ref(y_ref, x, Wt, NULL, SB, SIN, SOUT);
	err = max_abs_diff(y, y_ref, SB * SOUT);
	CHECK(err < 1e-5, "sparse forward without bias differs by %g", err);

	sparse_linear_backward(dW, db, dy, indptr, indices, rows, SB, SOUT);
	linear_backward_ref(NULL, dWt_ref, db_ref, dy, x, Wt, SB, SIN, SOUT);
	err = 0.0;
	for (int i = 0; i < SIN; i++)
		for (int o = 0; o < SOUT; o++)
			err = fmax(err, fabs((double) dW[i * SOUT + o] - dWt_ref[o * SIN + i]));
	CHECK(err < 1e-5, "sparse dW (accumulated) differs from the reference by %g", err);
	err = max_abs_diff(db, db_ref, SOUT);
	CHECK(err < 1e-5, "sparse db differs from the reference by %g", err);

	/* rows == NULL: batch row r is CSR row r */
	sparse_linear_forward(y, indptr, indices, NULL, W, b, SROWS, SOUT);
	sparse_linear_forward(y_ref, indptr, indices, rows + 1, W, b, 1, SOUT);
	CHECK(memcmp(y, y_ref, sizeof(float) * SOUT) == 0, "rows == NULL reads row 0");
	for (int o = 0; o < SOUT; o++)
		CHECK(y[1 * SOUT + o] == b[o], "an empty row gives the bias");
}

/* ---- Embedding, product, dot */

enum
{
	EN = 6, ED = 4, EB = 5
};

typedef struct EmbeddingCtx
{
	float		table[EN * ED]; /* (N, D) */
	int32_t		idx[EB];		/* (B) */
	float		out[EB * ED];	/* (B, D) */
	float		r[EB * ED];		/* (B, D) */
} EmbeddingCtx;

/* Projected gathered rows. */
static double
embedding_scalar(void *arg)
{
	EmbeddingCtx *c = arg;

	embedding_forward(c->out, c->idx, c->table, EB, ED);
	return project(c->out, c->r, EB * ED);
}

/* Gather copies rows; scatter-add sums repeated rows and matches FD. */
static void
test_embedding(void)
{
	static EmbeddingCtx c = {.idx = {3, 0, 3, 5, 3}};
	float		dtable[EN * ED] = {0};
	Rng			rng;
	int			ok = 1;

	rng_seed(&rng, 107);
	fill_normal(c.table, EN * ED, 1.0, &rng);
	fill_normal(c.r, EB * ED, 1.0, &rng);
	embedding_forward(c.out, c.idx, c.table, EB, ED);
	for (int b = 0; b < EB; b++)
		ok &= memcmp(c.out + b * ED, c.table + c.idx[b] * ED, sizeof(float) * ED) == 0;
	CHECK(ok, "gathered rows differ from the table");
	embedding_backward(dtable, c.r, c.idx, EB, ED);
	grad_check("embedding dtable", embedding_scalar, &c, c.table, dtable, EN * ED, 0.1f);
	for (int d = 0; d < ED; d++)
		CHECK(dtable[1 * ED + d] == 0.0f, "an unused row got a gradient");
}

typedef struct PairCtx
{
	float		a[EB * ED];
	float		b[EB * ED];
	float		y[EB * ED];
	float		r[EB * ED];
} PairCtx;

/* Projected elementwise product. */
static double
mul_scalar(void *arg)
{
	PairCtx    *c = arg;

	mul_forward(c->y, c->a, c->b, EB * ED);
	return project(c->y, c->r, EB * ED);
}

/* Projected row-wise dot (uses only r[0..B)). */
static double
rowdot_scalar(void *arg)
{
	PairCtx    *c = arg;

	rowdot_forward(c->y, c->a, c->b, EB, ED);
	return project(c->y, c->r, EB);
}

/* mul and rowdot backward against finite differences. */
static void
test_mul_rowdot(void)
{
	static PairCtx c;
	float		da[EB * ED],
				db[EB * ED];
	Rng			rng;

	rng_seed(&rng, 109);
	fill_normal(c.a, EB * ED, 1.0, &rng);
	fill_normal(c.b, EB * ED, 1.0, &rng);
	fill_normal(c.r, EB * ED, 1.0, &rng);
	mul_backward(da, db, c.r, c.a, c.b, EB * ED);
	grad_check("mul da", mul_scalar, &c, c.a, da, EB * ED, 0.1f);
	grad_check("mul db", mul_scalar, &c, c.b, db, EB * ED, 0.1f);
	rowdot_backward(da, db, c.r, c.a, c.b, EB, ED);
	grad_check("rowdot da", rowdot_scalar, &c, c.a, da, EB * ED, 0.1f);
	grad_check("rowdot db", rowdot_scalar, &c, c.b, db, EB * ED, 0.1f);
}

/* ---- Activations */

enum
{
	AN = 40
};

typedef struct ActCtx
{
	void		(*forward) (float *y, const float *x, int64_t n);
	void		(*backward) (float *dx, const float *dy, const float *y, int64_t n);
	float		x[AN];
	float		y[AN];
	float		r[AN];
} ActCtx;

/* Leaky ReLU with the alpha under test, in the common signature. */
static void
leaky_forward_02(float *y, const float *x, int64_t n)
{
	leaky_relu_forward(y, x, 0.2f, n);
}

/* Its backward. */
static void
leaky_backward_02(float *dx, const float *dy, const float *y, int64_t n)
{
	leaky_relu_backward(dx, dy, y, 0.2f, n);
}

/* Projected activation output. */
static double
act_scalar(void *arg)
{
	ActCtx	   *c = arg;

	c->forward(c->y, c->x, AN);
	return project(c->y, c->r, AN);
}

/* One activation: FD gradient, and in-place passes equal out-of-place ones. */
static void
check_activation(const char *name, ActCtx *c, Rng *rng)
{
	float		dx[AN],
				buf[AN],
				dbuf[AN];

	/* keep |x| >= 0.1, away from the kinks of (leaky) ReLU at 0 */
	for (int i = 0; i < AN; i++)
	{
		double		u = 0.1 + 2.9 * rng_uniform(rng);

		c->x[i] = (float) (i % 2 ? u : -u);
	}
	fill_normal(c->r, AN, 1.0, rng);
	c->forward(c->y, c->x, AN);
	c->backward(dx, c->r, c->y, AN);
	grad_check(name, act_scalar, c, c->x, dx, AN, 1e-2f);
	c->forward(c->y, c->x, AN);	/* grad_check left y at a perturbed x */

	memcpy(buf, c->x, sizeof(buf));
	c->forward(buf, buf, AN);
	memcpy(dbuf, c->r, sizeof(dbuf));
	c->backward(dbuf, dbuf, buf, AN);
	CHECK(memcmp(buf, c->y, sizeof(buf)) == 0, "%s forward in place differs", name);
	CHECK(memcmp(dbuf, dx, sizeof(dbuf)) == 0, "%s backward in place differs", name);
}

/* ReLU, LeakyReLU(0.2), sigmoid and tanh. */
static void
test_activations(void)
{
	static ActCtx relu = {.forward = relu_forward, .backward = relu_backward},
				leaky = {.forward = leaky_forward_02, .backward = leaky_backward_02},
				sigm = {.forward = sigmoid_forward, .backward = sigmoid_backward},
				tanh_ = {.forward = tanh_forward, .backward = tanh_backward};
	float		x[4] = {-1000.0f, -2.0f, 0.0f, 1000.0f},
				y[4];
	Rng			rng;

	rng_seed(&rng, 113);
	check_activation("relu", &relu, &rng);
	check_activation("leaky_relu(0.2)", &leaky, &rng);
	check_activation("sigmoid", &sigm, &rng);
	check_activation("tanh", &tanh_, &rng);

	leaky_relu_forward(y, x, 0.2f, 4);
	CHECK(y[1] == -0.4f && y[2] == 0.0f && y[3] == 1000.0f, "leaky relu values");
	sigmoid_forward(y, x, 4);
	CHECK(y[0] == 0.0f && y[2] == 0.5f && y[3] == 1.0f && isfinite(y[0]),
		  "sigmoid saturates without NaN: %g %g %g", y[0], y[2], y[3]);
}

/* ---- Losses */

enum
{
	LN = 24
};

typedef struct BceCtx
{
	float		z[LN];
	float		t[LN];
	float		w[LN];
	int			weighted;
} BceCtx;

/* The BCE loss itself. */
static double
bce_scalar(void *arg)
{
	BceCtx	   *c = arg;

	return bce_logits_loss(NULL, c->z, c->t, c->weighted ? c->w : NULL, LN);
}

/* BCE: value against the textbook formula, FD gradient, mask, stability. */
static void
test_bce_logits(void)
{
	static BceCtx c;
	float		dz[LN];
	Rng			rng;
	double		loss,
				ref = 0.0;
	float		big[4] = {100.0f, -100.0f, 1e4f, -1e4f},
				big_t[4] = {1.0f, 1.0f, 0.0f, 0.0f},
				dbig[4];

	rng_seed(&rng, 127);
	fill_normal(c.z, LN, 2.0, &rng);
	for (int i = 0; i < LN; i++)
	{
		c.t[i] = (float) rng_uniform(&rng);
		c.w[i] = i % 3 == 0 ? 0.0f : (float) (0.5 + rng_uniform(&rng));
	}

	for (int i = 0; i < LN; i++)
	{
		double		s = 1.0 / (1.0 + exp(-(double) c.z[i]));

		ref -= c.w[i] * (c.t[i] * log(s) + (1.0 - c.t[i]) * log(1.0 - s));
	}
	c.weighted = 1;
	loss = bce_logits_loss(dz, c.z, c.t, c.w, LN);
	CHECK_CLOSE(loss, ref / LN, 1e-9, "weighted BCE value");
	grad_check("bce weighted/masked dz", bce_scalar, &c, c.z, dz, LN, 1e-2f);
	for (int i = 0; i < LN; i += 3)
		CHECK(dz[i] == 0.0f, "masked entry %d has gradient %g", i, dz[i]);

	c.weighted = 0;
	bce_logits_loss(dz, c.z, c.t, NULL, LN);
	grad_check("bce dz", bce_scalar, &c, c.z, dz, LN, 1e-2f);

	/* large logits: exact, finite values and bounded gradients */
	loss = bce_logits_loss(dbig, big, big_t, NULL, 4);
	CHECK(isfinite(loss), "BCE overflowed on large logits");
	CHECK_CLOSE(loss, (0.0 + 100.0 + 1e4 + 0.0) / 4, 1e-12, "BCE on saturated logits");
	CHECK(dbig[0] == 0.0f && dbig[1] == -0.25f && dbig[2] == 0.25f && dbig[3] == 0.0f,
		  "saturated BCE gradients %g %g %g %g", dbig[0], dbig[1], dbig[2], dbig[3]);
}

enum
{
	MB = 3, MC = 5
};

typedef struct MseCtx
{
	float		y[MB * MC];
	float		t[MB * MC];
	float		m[MB * MC];
} MseCtx;

/* The masked squared-error loss itself. */
static double
mse_scalar(void *arg)
{
	MseCtx	   *c = arg;

	return masked_mse_loss(NULL, c->y, c->t, c->m, MB, MC);
}

/* masked_mse: a hand-computed value, FD gradient, NULL target and mask. */
static void
test_masked_mse(void)
{
	static MseCtx c;
	float		dy[MB * MC];
	float		y2[4] = {1.0f, 2.0f, -1.0f, 0.5f},
				m2[4] = {1.0f, 0.0f, 1.0f, 1.0f},
				d2[4];
	Rng			rng;

	/* rows (1, 2) and (-1, 0.5), target 0, mask drops the 2: (1 + 1 + 0.25) / 2 */
	CHECK_CLOSE(masked_mse_loss(d2, y2, NULL, m2, 2, 2), 1.125, 1e-12, "masked mse value");
	CHECK(d2[0] == 1.0f && d2[1] == 0.0f && d2[2] == -1.0f && d2[3] == 0.5f,
		  "masked mse gradient %g %g %g %g", d2[0], d2[1], d2[2], d2[3]);
	CHECK_CLOSE(masked_mse_loss(NULL, y2, NULL, NULL, 2, 2), 3.125, 1e-12, "unmasked value");

	rng_seed(&rng, 131);
	fill_normal(c.y, MB * MC, 1.0, &rng);
	fill_normal(c.t, MB * MC, 1.0, &rng);
	for (int i = 0; i < MB * MC; i++)
		c.m[i] = (float) (i % 4 != 1);
	masked_mse_loss(dy, c.y, c.t, c.m, MB, MC);
	grad_check("masked_mse dy", mse_scalar, &c, c.y, dy, MB * MC, 1e-1f);
}

typedef struct BprCtx
{
	float		pos[LN];
	float		neg[LN];
} BprCtx;

/* The BPR loss itself. */
static double
bpr_scalar(void *arg)
{
	BprCtx	   *c = arg;

	return bpr_loss(NULL, NULL, c->pos, c->neg, LN);
}

/* BPR: value against -log sigmoid, FD gradients, saturation. */
static void
test_bpr(void)
{
	static BprCtx c;
	float		dpos[LN],
				dneg[LN],
				p[2] = {50.0f, -50.0f},
				n[2] = {-50.0f, 50.0f};
	Rng			rng;
	double		ref = 0.0;

	rng_seed(&rng, 137);
	fill_normal(c.pos, LN, 2.0, &rng);
	fill_normal(c.neg, LN, 2.0, &rng);
	for (int i = 0; i < LN; i++)
		ref -= log(1.0 / (1.0 + exp(-((double) c.pos[i] - c.neg[i]))));
	CHECK_CLOSE(bpr_loss(dpos, dneg, c.pos, c.neg, LN), ref / LN, 1e-9, "BPR value");
	grad_check("bpr dpos", bpr_scalar, &c, c.pos, dpos, LN, 1e-2f);
	grad_check("bpr dneg", bpr_scalar, &c, c.neg, dneg, LN, 1e-2f);
	CHECK_CLOSE(bpr_loss(NULL, NULL, p, n, 2), 50.0, 1e-12, "BPR saturated value");
}

enum
{
	MF_U = 3, MF_I = 4, MF_F = 5, MF_B = 5, MF_N = (MF_U + MF_I) * MF_F + MF_I
};

typedef struct BprMfCtx
{
	float		w[MF_N];		/* X (U, F), Y (I, F), bias (I) */
	float		g[MF_N];		/* gradient sink of the loss-only calls */
	float		scratch[4 * MF_B];
} BprMfCtx;

/* Triples with repeated users and items, so gradients accumulate. */
static const int32_t mf_u[MF_B] = {0, 1, 0, 2, 0},
			mf_i[MF_B] = {1, 0, 1, 3, 2},
			mf_j[MF_B] = {2, 3, 0, 3, 3};	/* triple 3: i == j */

static double
bpr_mf_scalar(void *arg)
{
	BprMfCtx   *c = arg;

	return bpr_mf_batch(c->g, c->g + MF_U * MF_F, c->g + (MF_U + MF_I) * MF_F, c->w,
						c->w + MF_U * MF_F, c->w + (MF_U + MF_I) * MF_F, mf_u, mf_i, mf_j,
						MF_B, MF_F, 0.7, c->scratch);
}

/* BPR-MF batch: value against a naive double formula, FD gradients of every weight. */
static void
test_bpr_mf_batch(void)
{
	static BprMfCtx c;
	float		grad[MF_N] = {0};
	const float *x = c.w,
			   *y = c.w + MF_U * MF_F,
			   *bias = c.w + (MF_U + MF_I) * MF_F;
	double		ref = 0.0,
				l2 = 0.0,
				got;
	Rng			rng;

	rng_seed(&rng, 141);
	fill_normal(c.w, MF_N, 0.8, &rng);
	for (int b = 0; b < MF_B; b++)
	{
		double		si = bias[mf_i[b]],
					sj = bias[mf_j[b]];

		for (int f = 0; f < MF_F; f++)
		{
			si += (double) x[mf_u[b] * MF_F + f] * y[mf_i[b] * MF_F + f];
			sj += (double) x[mf_u[b] * MF_F + f] * y[mf_j[b] * MF_F + f];
			l2 += pow(x[mf_u[b] * MF_F + f], 2) + pow(y[mf_i[b] * MF_F + f], 2) +
				pow(y[mf_j[b] * MF_F + f], 2);
		}
		l2 += pow(bias[mf_i[b]], 2) + pow(bias[mf_j[b]], 2);
		ref += log1p(exp(sj - si));
	}
	ref = ref / MF_B + 0.5 * 0.7 * l2 / MF_B;
	got = bpr_mf_batch(grad, grad + MF_U * MF_F, grad + (MF_U + MF_I) * MF_F, c.w,
					   c.w + MF_U * MF_F, c.w + (MF_U + MF_I) * MF_F, mf_u, mf_i, mf_j,
					   MF_B, MF_F, 0.7, c.scratch);
	CHECK_CLOSE(got, ref, 1e-5, "BPR-MF batch value");
	grad_check("bpr_mf_batch", bpr_mf_scalar, &c, c.w, grad, MF_N, 1e-2f);
}

typedef struct L2Ctx
{
	float		w[LN];
} L2Ctx;

/* The L2 penalty itself, lambda 0.3. */
static double
l2_scalar(void *arg)
{
	return l2_penalty(NULL, ((L2Ctx *) arg)->w, 0.3, LN);
}

/* L2: value, FD gradient, and accumulation into an existing gradient. */
static void
test_l2(void)
{
	static L2Ctx c;
	float		grad[LN] = {0},
				acc[LN];
	float		w2[2] = {1.0f, -2.0f},
				g2[2] = {10.0f, 10.0f};
	Rng			rng;

	CHECK_CLOSE(l2_penalty(g2, w2, 0.5, 2), 1.25, 1e-12, "L2 value (0.5 / 2) * 5");
	CHECK(g2[0] == 10.5f && g2[1] == 9.0f, "L2 must add lambda w: %g %g", g2[0], g2[1]);

	rng_seed(&rng, 139);
	fill_normal(c.w, LN, 1.0, &rng);
	l2_penalty(grad, c.w, 0.3, LN);
	grad_check("l2 dw", l2_scalar, &c, c.w, grad, LN, 1e-1f);
	memcpy(acc, grad, sizeof(acc));
	l2_penalty(acc, c.w, 0.3, LN);
	for (int i = 0; i < LN; i++)
		CHECK_CLOSE(acc[i], 2.0 * grad[i], 1e-6, "L2 gradient accumulates");
}

/* ---- Optimisers */

/* A scalar Adam step emulating float storage of p, m and v. */
static void
adam_scalar(double *p, double *m, double *v, double g, int t,
			const AdamConfig *c)
{
	double		geff = g + c->weight_decay * *p,
				mhat,
				vhat,
				q;

	q = *p * (1.0 - c->lr * c->decoupled_weight_decay);
	*m = (float) (c->beta1 * *m + (1.0 - c->beta1) * geff);
	*v = (float) (c->beta2 * *v + (1.0 - c->beta2) * geff * geff);
	mhat = *m / (1.0 - pow(c->beta1, t));
	vhat = *v / (1.0 - pow(c->beta2, t));
	*p = (float) (q - c->lr * mhat / (sqrt(vhat) + c->eps));
}

/* Three adam_update steps against the scalar formula, for one config. */
static void
check_adam(const char *name, const AdamConfig *cfg)
{
	enum
	{
		N = 5
	};
	const float p0[N] = {0.5f, -1.0f, 2.0f, 0.0f, -0.25f};
	const float g[3][N] = {
		{0.1f, -0.2f, 0.3f, 0.0f, 1.5f},
		{-0.05f, -0.2f, 0.1f, 0.4f, 1.0f},
		{0.2f, 0.3f, -0.3f, -0.1f, 0.5f}
	};
	float		p[N],
				m[N],
				v[N];
	double		ep[N],
				em[N] = {0},
				ev[N] = {0};
	AdamState	st;

	memcpy(p, p0, sizeof(p));
	for (int i = 0; i < N; i++)
		ep[i] = p0[i];
	adam_init(&st, m, v, N);
	for (int t = 1; t <= 3; t++)
	{
		adam_update(p, &st, g[t - 1], cfg);
		for (int i = 0; i < N; i++)
		{
			adam_scalar(&ep[i], &em[i], &ev[i], g[t - 1][i], t, cfg);
			CHECK_CLOSE(p[i], ep[i], 1e-6, name);
			CHECK_CLOSE(m[i], em[i], 1e-6, name);
			CHECK_CLOSE(v[i], ev[i], 1e-6, name);
		}
	}
	CHECK(st.step == 3, "%s: step counter %lld", name, (long long) st.step);
}

/* Adam: a step-1 identity, three steps with and without both weight decays. */
/*
 * adam_rows_update: the listed rows of a (4, 3) table take adam_update's
 * step t (here t = 3, after two dense steps) and have their gradients
 * zeroed; the other rows, their moments and gradients are untouched.
 */
static void
test_adam_rows(void)
{
	AdamConfig	cfg = {0.01, 0.9, 0.999, 1e-8, 0.1, 0.0};
	static const int32_t rows[2] = {2, 0};
	float		p[12],
				g[12],
				m[12] = {0},
				v[12] = {0},
				want_p[12],
				want_m[12],
				want_v[12],
				row_p[3],
				row_g[3],
				row_m[3],
				row_v[3];
	AdamState	st;
	Rng			rng;

	rng_seed(&rng, 151);
	fill_normal(p, 12, 1.0, &rng);
	adam_init(&st, m, v, 12);
	for (int t = 0; t < 2; t++)
	{
		fill_normal(g, 12, 1.0, &rng);
		adam_update(p, &st, g, &cfg);
	}
	fill_normal(g, 12, 1.0, &rng);
	memcpy(want_p, p, sizeof(p));
	memcpy(want_m, m, sizeof(m));
	memcpy(want_v, v, sizeof(v));
	for (int k = 0; k < 2; k++)
	{
		int			r = rows[k];
		AdamState	rs;

		memcpy(row_p, p + 3 * r, sizeof(row_p));
		memcpy(row_g, g + 3 * r, sizeof(row_g));
		memcpy(row_m, m + 3 * r, sizeof(row_m));
		memcpy(row_v, v + 3 * r, sizeof(row_v));
		rs = (AdamState) {row_m, row_v, 3, 2};
		adam_update(row_p, &rs, row_g, &cfg);
		memcpy(want_p + 3 * r, row_p, sizeof(row_p));
		memcpy(want_m + 3 * r, row_m, sizeof(row_m));
		memcpy(want_v + 3 * r, row_v, sizeof(row_v));
	}
	adam_rows_update(p, g, m, v, rows, 2, 3, 3, &cfg);
	CHECK(memcmp(p, want_p, sizeof(p)) == 0, "rows: parameters as adam_update's step 3");
	CHECK(memcmp(m, want_m, sizeof(m)) == 0 && memcmp(v, want_v, sizeof(v)) == 0,
		  "rows: moments as adam_update's, others untouched");
	CHECK(g[0] == 0.0f && g[8] == 0.0f && g[3] != 0.0f && g[9] != 0.0f,
		  "rows: listed gradients zeroed, others kept");
}

static void
test_adam(void)
{
	AdamConfig	plain = {0.01, 0.9, 0.999, 1e-8, 0.0, 0.0},
				coupled = {0.01, 0.9, 0.999, 1e-8, 0.1, 0.0},
				decoupled = {0.01, 0.9, 0.999, 1e-8, 0.0, 0.1},
				big = {0.05, 0.8, 0.99, 1e-3, 0.2, 0.3};
	float		p[3] = {1.0f, 1.0f, 1.0f},
				g[3] = {4.0f, -0.001f, 0.0f},
				m[3],
				v[3],
				pc[2] = {1.0f, 1.0f},
				pd[2] = {1.0f, 1.0f},
				g2[2] = {0.5f, 0.5f},
				mv[8];
	AdamState	st;

	/* step 1: m_hat = g and v_hat = g^2, so p moves by lr * sign(g) */
	adam_init(&st, m, v, 3);
	adam_update(p, &st, g, &plain);
	CHECK_CLOSE(p[0], 0.99, 1e-6, "first step moves by -lr for g > 0");
	CHECK_CLOSE(p[1], 1.01, 1e-4, "first step moves by +lr for g < 0 (eps-limited)");
	CHECK(p[2] == 1.0f, "zero gradient leaves the parameter");

	check_adam("adam", &plain);
	check_adam("adam weight_decay", &coupled);
	check_adam("adamw", &decoupled);
	check_adam("adam both decays, odd betas", &big);

	/* adam_update_zero: the same step, and the gradients zeroed */
	{
		float		pa[5] = {0.5f, -1.0f, 2.0f, 0.0f, -0.25f},
					pb[5],
					ga[5] = {0.1f, -0.2f, 0.3f, 0.0f, 1.5f},
					gb[5],
					mva[10],
					mvb[10];
		AdamState	sa,
					sb;

		memcpy(pb, pa, sizeof(pa));
		memcpy(gb, ga, sizeof(ga));
		adam_init(&sa, mva, mva + 5, 5);
		adam_init(&sb, mvb, mvb + 5, 5);
		for (int t = 0; t < 3; t++)
		{
			adam_update(pa, &sa, ga, &big);
			adam_update_zero(pb, &sb, gb, &big);
			CHECK(memcmp(pa, pb, sizeof(pa)) == 0, "adam_update_zero step %d differs", t);
			for (int i = 0; i < 5; i++)
				CHECK(gb[i] == 0.0f, "adam_update_zero left gradient %d at %g", i, gb[i]);
			memcpy(gb, ga, sizeof(ga));
		}
	}

	/* coupled and decoupled decay are different updates */
	adam_init(&st, mv, mv + 2, 2);
	adam_update(pc, &st, g2, &coupled);
	adam_init(&st, mv + 4, mv + 6, 2);
	adam_update(pd, &st, g2, &decoupled);
	CHECK(pc[0] != pd[0], "coupled and decoupled decay gave the same step");
}

/* SGD: one hand-computed step. */
static void
test_sgd(void)
{
	float		p[3] = {1.0f, -2.0f, 0.5f},
				g[3] = {0.5f, 0.25f, -1.0f};

	sgd_update(p, g, 0.1, 0.01, 3);
	CHECK_CLOSE(p[0], 0.949, 1e-6, "sgd p0 = 1 - 0.1 (0.5 + 0.01)");
	CHECK_CLOSE(p[1], -2.023, 1e-6, "sgd p1 = -2 - 0.1 (0.25 - 0.02)");
	CHECK_CLOSE(p[2], 0.5995, 1e-6, "sgd p2 = 0.5 - 0.1 (-1 + 0.005)");
}

/* ---- Initialisers */

/* Sample mean and variance of w (n) in double. */
static void
moments(const float *w, int64_t n, double *mean, double *var)
{
	double		s = 0.0,
				ss = 0.0;

	for (int64_t i = 0; i < n; i++)
	{
		s += w[i];
		ss += (double) w[i] * w[i];
	}
	*mean = s / n;
	*var = ss / n - *mean * *mean;
}

/* Xavier bounds and variances, normal std, determinism. */
static void
test_init(void)
{
	enum
	{
		FI = 200, FO = 300, N = FI * FO
	};
	static float w[N],
				w2[N];
	Rng			rng;
	double		a = sqrt(6.0 / (FI + FO)),
				mean,
				var,
				maxabs = 0.0;

	rng_seed(&rng, 149);
	init_xavier_uniform(w, FI, FO, &rng);
	for (int i = 0; i < N; i++)
		maxabs = fmax(maxabs, fabs((double) w[i]));
	moments(w, N, &mean, &var);
	CHECK(maxabs <= a, "xavier uniform exceeds its bound: %g > %g", maxabs, a);
	CHECK(maxabs > 0.99 * a, "xavier uniform does not reach its bound: %g", maxabs);
	CHECK(fabs(mean) < 1e-3, "xavier uniform mean %g", mean);
	/* relative sd of the variance estimate is 0.4%: 2% is five of them */
	CHECK_CLOSE(var / (2.0 / (FI + FO)), 1.0, 0.02, "xavier uniform variance 2/(fi+fo)");

	init_xavier_normal(w, FI, FO, &rng);
	moments(w, N, &mean, &var);
	CHECK(fabs(mean) < 1e-3, "xavier normal mean %g", mean);
	CHECK_CLOSE(var / (2.0 / (FI + FO)), 1.0, 0.03, "xavier normal variance 2/(fi+fo)");

	init_normal(w, 0.01f, N, &rng);
	moments(w, N, &mean, &var);
	CHECK_CLOSE(sqrt(var) / 0.01, 1.0, 0.02, "normal(0, 0.01) std");

	rng_seed(&rng, 151);
	init_xavier_uniform(w, FI, FO, &rng);
	rng_seed(&rng, 151);
	init_xavier_uniform(w2, FI, FO, &rng);
	CHECK(memcmp(w, w2, sizeof(w)) == 0, "same seed gave different weights");
}

/* ---- Parameter arena and a 2-layer MLP trained through it */

enum
{
	XB = 8, XI = 6, XH = 5, XO = 3
};

typedef struct MlpParams
{
	float	   *w1;				/* (H, I) */
	float	   *b1;				/* (H) */
	float	   *w2;				/* (O, H) */
	float	   *b2;				/* (O) */
} MlpParams;

typedef struct Mlp
{
	ParamArena	arena;
	MlpParams	p;
	MlpParams	g;
	float		x[XB * XI];		/* (B, I) */
	float		t[XB * XO];		/* (B, O) targets */
	float		hpre[XB * XH];	/* (B, H) */
	float		h[XB * XH];		/* (B, H) */
	float		z[XB * XO];		/* (B, O) logits */
	float		dz[XB * XO];	/* (B, O) */
	float		dh[XB * XH];	/* (B, H) */
} Mlp;

/* Point the named structs at the arena's parameter and gradient blocks. */
static void
mlp_point(Mlp *net)
{
	float	  **pf[] = {&net->p.w1, &net->p.b1, &net->p.w2, &net->p.b2};
	float	  **gf[] = {&net->g.w1, &net->g.b1, &net->g.w2, &net->g.b2};

	param_arena_point(&net->arena, net->arena.params, pf);
	param_arena_point(&net->arena, net->arena.grads, gf);
}

/* Forward: x -> linear -> ReLU -> linear -> BCE; returns the loss. */
static double
mlp_forward(Mlp *net)
{
	linear_forward(net->hpre, net->x, net->p.w1, net->p.b1, XB, XI, XH);
	relu_forward(net->h, net->hpre, XB * XH);
	linear_forward(net->z, net->h, net->p.w2, net->p.b2, XB, XH, XO);
	return bce_logits_loss(net->dz, net->z, net->t, NULL, XB * XO);
}

/* Backward after mlp_forward, accumulating into the arena's gradients. */
static void
mlp_backward(Mlp *net)
{
	linear_backward(net->dh, net->g.w2, net->g.b2, net->dz, net->h, net->p.w2,
					XB, XH, XO);
	relu_backward(net->dh, net->dh, net->h, XB * XH);
	linear_backward(NULL, net->g.w1, net->g.b1, net->dh, net->x, net->p.w1,
					XB, XI, XH);
}

/* The loss as a function of the arena, for grad_check. */
static double
mlp_scalar(void *arg)
{
	return mlp_forward(arg);
}

/* Size table of the MLP (static: the arena keeps a pointer to it). */
static const ParamSpec mlp_specs[] = {
	{"w1", XH, XI}, {"b1", XH, 1}, {"w2", XO, XH}, {"b2", XO, 1}
};

/* Sizes, layout, the too-small and invalid cases, zero_grad. */
static void
test_arena_layout(void)
{
	enum
	{
		N = XH * XI + XH + XO * XH + XO
	};
	static float mem[4 * N + 1];
	ParamArena	a;
	MlpParams	p;
	float	  **pf[] = {&p.w1, &p.b1, &p.w2, &p.b2};
	ParamSpec	bad[2] = {{"ok", 2, 3}, {"negative", -1, 3}},
				huge[2] = {{"h1", INT64_MAX / 2 + 1, 2}, {"h2", 1, 1}},
				huge_sum[2] = {{"h1", INT64_MAX / 2, 2}, {"h2", 2, 1}};

	CHECK(param_arena_count(mlp_specs, 4) == N, "count %lld", (long long) param_arena_count(mlp_specs, 4));
	CHECK(param_arena_bytes(mlp_specs, 4, PARAM_ARENA_PARAMS) == N * sizeof(float), "params bytes");
	CHECK(param_arena_bytes(mlp_specs, 4, PARAM_ARENA_GRADS) == 2 * N * sizeof(float), "sgd bytes");
	CHECK(param_arena_bytes(mlp_specs, 4, PARAM_ARENA_ADAM) == 4 * N * sizeof(float), "adam bytes");
	CHECK(param_arena_bytes(bad, 2, PARAM_ARENA_ADAM) == 0, "negative shape accepted");
	CHECK(param_arena_count(huge, 2) == -1, "overflowing tensor accepted");
	CHECK(param_arena_count(huge_sum, 1) == INT64_MAX - 1, "largest tensor refused");
	CHECK(param_arena_count(huge_sum, 2) == -1, "overflowing sum accepted");
	CHECK(param_arena_bytes(mlp_specs, 0, PARAM_ARENA_ADAM) == 0, "empty table accepted");
	CHECK(param_arena_bytes(mlp_specs, 4, (ParamArenaBlocks) 3) == 0, "3 blocks accepted");

	mem[0] = 7.0f;
	CHECK(param_arena_init(&a, mlp_specs, 4, PARAM_ARENA_ADAM, mem, 4 * N * sizeof(float) - 1) == -1,
		  "too-small block accepted");
	CHECK(mem[0] == 7.0f, "a refused init wrote memory");
	for (int i = 0; i < 4 * N + 1; i++)
		mem[i] = 1.0f;
	CHECK(param_arena_init(&a, mlp_specs, 4, PARAM_ARENA_ADAM, mem, sizeof(mem)) == 0, "init");
	CHECK(a.n == N && a.params == mem && a.grads == mem + N && a.m == mem + 2 * N &&
		  a.v == mem + 3 * N, "block layout");
	CHECK(mem[0] == 0.0f && mem[4 * N - 1] == 0.0f && mem[4 * N] == 1.0f,
		  "init must zero exactly the arena");
	param_arena_point(&a, a.params, pf);
	CHECK(p.w1 == mem && p.b1 == mem + 30 && p.w2 == mem + 35 && p.b2 == mem + 50,
		  "tensor offsets 0, 30, 35, 50");
	CHECK(param_arena_offset(&a, 3) == 50, "offset of b2");

	a.grads[5] = 3.0f;
	param_arena_zero_grad(&a);
	CHECK(a.grads[5] == 0.0f, "zero_grad left a gradient");
	CHECK(param_arena_init(&a, mlp_specs, 4, PARAM_ARENA_PARAMS, mem, sizeof(mem)) == 0 &&
		  a.grads == NULL && a.m == NULL, "params-only arena has no twins");
}

/* Initialise the toy problem: Xavier weights, targets from fixed planes. */
static void
mlp_setup(Mlp *net, void *mem, size_t bytes, uint64_t seed)
{
	Rng			rng;

	CHECK(param_arena_init(&net->arena, mlp_specs, 4, PARAM_ARENA_ADAM, mem, bytes) == 0,
		  "MLP arena init");
	mlp_point(net);
	rng_seed(&rng, seed);
	init_xavier_uniform(net->p.w1, XI, XH, &rng);
	init_xavier_uniform(net->p.w2, XH, XO, &rng);
	init_uniform(net->p.b1, -0.1f, 0.1f, XH, &rng);
	fill_normal(net->x, XB * XI, 1.0, &rng);
	for (int b = 0; b < XB; b++)
		for (int o = 0; o < XO; o++)
		{
			/* output o is on when x[o] + x[o + 3] > 0 */
			float		s = net->x[b * XI + o] + net->x[b * XI + o + 3];

			net->t[b * XO + o] = s > 0.0f ? 1.0f : 0.0f;
		}
}

/* Whole-network gradient through the arena against finite differences. */
static void
test_mlp_gradient(void)
{
	static Mlp	net;
	static float mem[4 * 64];
	float		margin = INFINITY;

	mlp_setup(&net, mem, sizeof(mem), 160);
	param_arena_zero_grad(&net.arena);
	mlp_forward(&net);
	mlp_backward(&net);
	/* an FD step of 1e-3 moves a pre-activation by 1e-3 max(1, |x|): keep clear of 0 */
	for (int i = 0; i < XB * XH; i++)
		margin = fminf(margin, fabsf(net.hpre[i]));
	CHECK(margin > 2e-2f, "a pre-activation is %g from the ReLU kink: pick another seed", margin);
	grad_check("mlp arena (53 params)", mlp_scalar, &net, net.arena.params,
			   net.arena.grads, net.arena.n, 1e-3f);
}

/* A few Adam steps through the arena decrease the loss on the toy problem. */
static void
test_mlp_training(void)
{
	static Mlp	net;
	static float mem[4 * 64];
	AdamConfig	cfg = {0.05, 0.9, 0.999, 1e-8, 0.0, 0.0};
	AdamState	st;
	double		first = 0.0,
				last = 0.0;
	int			rises = 0;

	mlp_setup(&net, mem, sizeof(mem), 163);
	adam_init(&st, net.arena.m, net.arena.v, net.arena.n);
	for (int step = 0; step < 60; step++)
	{
		double		loss;

		param_arena_zero_grad(&net.arena);
		loss = mlp_forward(&net);
		mlp_backward(&net);
		adam_update(net.arena.params, &st, net.arena.grads, &cfg);
		if (step == 0)
			first = loss;
		else
			rises += loss > last;
		last = loss;
	}
	printf("     mlp loss %.4f -> %.4f in 60 Adam steps (%d rises)\n", first, last, rises);
	CHECK(isfinite(last), "training diverged");
	CHECK(last < 0.5 * first, "loss %g -> %g did not halve", first, last);
	CHECK(rises <= 5, "loss rose on %d of 59 steps", rises);
}

/* ---- Sampling */

/* sample_negative: never a positive, uniform over the rest, -1 when full. */
static void
test_sample_negative(void)
{
	enum
	{
		NI = 10, DRAWS = 60000
	};
	const int32_t pos[4] = {0, 3, 4, 9},
				all[3] = {0, 1, 2},
				tail[3] = {7, 8, 9};
	int			count[NI] = {0},
				ok = 1;
	double		chi2 = 0.0;
	Rng			rng;

	rng_seed(&rng, 167);
	for (int i = 0; i < DRAWS; i++)
	{
		int32_t		j = sample_negative(&rng, NI, pos, 4);

		ok &= j >= 0 && j < NI;
		if (j >= 0 && j < NI)
			count[j]++;
	}
	CHECK(ok, "negative out of range");
	for (int i = 0; i < 4; i++)
		CHECK(count[pos[i]] == 0, "positive %d sampled", pos[i]);
	for (int i = 0; i < NI; i++)
		if (i != 0 && i != 3 && i != 4 && i != 9)
			chi2 += pow(count[i] - DRAWS / 6.0, 2) / (DRAWS / 6.0);
	/* 5 degrees of freedom: P(chi2 > 20.5) = 0.001 */
	CHECK(chi2 < 20.5, "negatives not uniform: chi-square %.2f", chi2);
	CHECK(sample_negative(&rng, 3, all, 3) == -1, "full list must give -1");
	ok = 1;
	for (int i = 0; i < 1000; i++)
		ok &= sample_negative(&rng, 10, tail, 3) < 7;
	CHECK(ok, "positives at the tail sampled");
	CHECK(sample_negative(&rng, 1, NULL, 0) == 0, "one item, no positives");
}

/*
 * sample_negative draws a rank below the number of negatives with
 * rng_below and maps it to the negative of that rank: the same item as a
 * linear scan, on random positive lists of 0 to 40 items out of 48 (full
 * lists included), first, middle and last ranks among the draws.
 */
static void
test_sample_negative_rank(void)
{
	enum
	{
		NI = 48, LISTS = 3000
	};
	int32_t		pos[NI];
	int			bad = 0,
				draws = 0;
	Rng			rng,
				twin;

	rng_seed(&rng, 211);
	for (int l = 0; l < LISTS; l++)
	{
		int32_t		n_pos = 0,
					want_n = (int32_t) rng_below(&rng, 41 + (l % 50 == 0) * 8);

		for (int32_t i = 0; i < NI && n_pos < want_n; i++)	/* a sorted random subset */
			if ((int32_t) rng_below(&rng, (uint64_t) (NI - i)) < want_n - n_pos)
				pos[n_pos++] = i;
		for (int d = 0; d < 8; d++)
		{
			int32_t		got,
						r,
						want = -1;

			twin = rng;
			got = sample_negative(&rng, NI, pos, n_pos);
			if (n_pos < NI)
			{
				r = (int32_t) rng_below(&twin, (uint64_t) (NI - n_pos));
				for (int32_t i = 0, h = 0, seen = 0; i < NI; i++)
				{
					if (h < n_pos && pos[h] == i)
						h++;
					else if (seen++ == r)
					{
						want = i;
						break;
					}
				}
			}
			bad += got != want;
			draws++;
		}
	}
	CHECK(bad == 0, "sample_negative disagrees with a linear scan in %d of %d draws", bad, draws);
}

/* sample_negatives: k sorted distinct negatives, even inclusion, limits. */
static void
test_sample_negatives(void)
{
	enum
	{
		NI = 30, K = 7, ROUNDS = 20000
	};
	const int32_t pos[6] = {1, 2, 5, 17, 28, 29};
	int32_t		out[NI];
	int			hits[NI] = {0},
				ok = 1;
	Rng			rng;

	rng_seed(&rng, 173);
	for (int r = 0; r < ROUNDS; r++)
	{
		ok &= sample_negatives(&rng, NI, pos, 6, K, out) == K;
		for (int i = 0; i < K; i++)
		{
			ok &= out[i] >= 0 && out[i] < NI && (i == 0 || out[i] > out[i - 1]);
			if (out[i] >= 0 && out[i] < NI)
				hits[out[i]]++;
		}
	}
	CHECK(ok, "samples not sorted, distinct and in range");
	for (int i = 0; i < NI; i++)
	{
		int			positive = 0;

		for (int j = 0; j < 6; j++)
			positive |= pos[j] == i;
		if (positive)
			CHECK(hits[i] == 0, "positive %d sampled", i);
		else
			CHECK_CLOSE(hits[i] / (double) ROUNDS, K / 24.0, 0.02, "inclusion probability");
	}
	CHECK(sample_negatives(&rng, NI, pos, 6, 25, out) == -1, "k above the negatives accepted");
	CHECK(sample_negatives(&rng, NI, pos, 6, 24, out) == 24, "k = all negatives");
	ok = out[0] == 0 && out[1] == 3 && out[2] == 4 && out[3] == 6 && out[23] == 27;
	CHECK(ok, "k = all negatives must list them in order");
}

/* permutation: a permutation of 0..n-1, and not the identity. */
static void
test_permutation(void)
{
	enum
	{
		N = 500
	};
	int32_t		idx[N];
	int			seen[N] = {0},
				ok = 1,
				moved = 0;
	Rng			rng;

	rng_seed(&rng, 179);
	sample_permutation(idx, N, &rng);
	for (int i = 0; i < N; i++)
	{
		ok &= idx[i] >= 0 && idx[i] < N && !seen[idx[i]];
		if (idx[i] >= 0 && idx[i] < N)
			seen[idx[i]] = 1;
		moved += idx[i] != i;
	}
	CHECK(ok, "not a permutation");
	CHECK(moved > N / 2, "only %d of %d moved", moved, N);
}

/* rows_sum equals a naive sum of the selected rows, for every remainder mod 8. */
static void
test_rows_sum(void)
{
	enum
	{
		N = 30, D = 37
	};
	float		table[N * D],
				out[D];
	int32_t		idx[N];
	Rng			rng;

	rng_seed(&rng, 23);
	for (int i = 0; i < N * D; i++)
		table[i] = (float) rng_normal(&rng);
	for (int n = 0; n <= 20; n++)
	{
		double		maxerr = 0;

		for (int r = 0; r < n; r++)
			idx[r] = (int32_t) rng_below(&rng, N);	/* repeats allowed */
		rows_sum(out, table, idx, n, D);
		for (int j = 0; j < D; j++)
		{
			double		ref = 0;

			for (int r = 0; r < n; r++)
				ref += table[idx[r] * D + j];
			maxerr = fmax(maxerr, fabs(ref - out[j]));
		}
		CHECK(maxerr < 1e-4, "rows_sum of %d rows differs by %g", n, maxerr);
	}
}

int
main(void)
{
	RUN(test_linear_gradients);
	RUN(test_linear_matches_reference);
	RUN(test_sparse_linear);
	RUN(test_embedding);
	RUN(test_mul_rowdot);
	RUN(test_activations);
	RUN(test_bce_logits);
	RUN(test_masked_mse);
	RUN(test_bpr);
	RUN(test_bpr_mf_batch);
	RUN(test_l2);
	RUN(test_adam);
	RUN(test_adam_rows);
	RUN(test_sgd);
	RUN(test_init);
	RUN(test_arena_layout);
	RUN(test_mlp_gradient);
	RUN(test_mlp_training);
	RUN(test_sample_negative);
	RUN(test_sample_negative_rank);
	RUN(test_sample_negatives);
	RUN(test_permutation);
	RUN(test_rows_sum);
	return unit_summary();
}
