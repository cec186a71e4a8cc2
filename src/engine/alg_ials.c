/*
 * alg_ials.c
 *	  iALS: weighted alternating least squares for implicit feedback
 *	  (Hu, Koren and Volinsky, ICDM 2008), with the Gramian trick.
 *
 * Legend: U users, I items, F factors, n_u positives of user u.
 *
 * With p_ui = 1 for a training positive (else 0) and confidence
 * c_ui = 1 + alpha for a positive (else 1), iALS minimises
 *
 *   L = sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2 + lambda (|X|^2 + |Y|^2)
 *
 * by alternating exact solves.  With Y fixed, user u's problem is
 *
 *   (G + alpha sum_{i in I_u} y_i y_i^T + lambda Id) x_u = (1 + alpha) sum_{i in I_u} y_i
 *
 * where G = Y^T Y is computed once per half-sweep (the Gramian trick), so a
 * user costs O(n_u F^2 + F^3) instead of O(I F^2).  Items are symmetric.
 * Two solvers (option solver): "cg" (default) runs cg_steps conjugate-
 * gradient steps per row, warm-started from the previous epoch, without
 * forming the system (O(F^2 + n_u F) a step; Takacs, Pilaszy and Tikk,
 * RecSys 2011); "cholesky" forms the F x F system (ssyrk) and solves it
 * exactly in float32 (CholeskySolveUpper when F is a multiple of 8, else
 * LAPACK sposv).  An epoch is one user half-sweep and one item
 * half-sweep.  The CG half-sweep splits its rows over recgan.threads
 * (parallel.h) in parts of near-equal work; a row's arithmetic is the same
 * whichever part solves it (plain C kernels, fixed summation order), so the
 * model has the same bits at any thread count.
 *
 * The reported loss is L / N (N training positives), computed without
 * touching all U x I pairs: the sum of all squared predictions is
 * trace((X^T X)(Y^T Y)), and the positives correct it.
 *
 * Fold-in (recgan_recommend_items) is exact (Cholesky whatever the
 * training solver): a new user's history is solved
 * for x_u against the stored Y with the same equation, then scored.
 * Similar items: cosine of the item factors.
 *
 * Tensors: 0 = X (U, F), 1 = Y (I, F), float32.
 * Options: factors, alpha, lambda, init_std, solver, cg_steps, then the
 * training-loop options.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "factor.h"
#include "model.h"
#include "trainloop.h"
#include "nn.h"
#include "parallel.h"
#include "rng.h"

/* Rows per parallel_run of a CG half-sweep (interrupts are checked between). */
#define SWEEP_CHUNK 2048

/* LAPACK (Fortran ABI, with the hidden length of the character argument) */
extern void sposv_(const char *uplo, const int *n, const int *nrhs, float *a,
				   const int *lda, float *b, const int *ldb, int *info, size_t uplo_len);

enum
{
	OPT_FACTORS,
	OPT_ALPHA,
	OPT_LAMBDA,
	OPT_INIT_STD,
	OPT_SOLVER,
	OPT_CG_STEPS,
	OPT_LOOP					/* RECGAN_LOOP_OPTIONS */
};

enum
{
	SOLVER_CG,
	SOLVER_CHOLESKY
};

static const OptionSpec ials_options[] = {
	{"factors", OPT_INT, 64, 1, 4096, NULL, "latent factors per user and item"},
	{"alpha", OPT_REAL, 3, 0, 1e6, NULL, "extra confidence of a positive (c = 1 + alpha)"},
	{"lambda", OPT_REAL, 30, 0, 1e9, NULL, "L2 regularisation of the factors"},
	{"init_std", OPT_REAL, 0.01, 0, 10, NULL, "standard deviation of the initial factors"},
	{"solver", OPT_ENUM, SOLVER_CG, 0, 0, "cg|cholesky",
	"cg: a few conjugate-gradient steps warm-started from the previous epoch; cholesky: exact"},
	{"cg_steps", OPT_INT, 3, 1, 1000, NULL, "conjugate-gradient steps per row and half-sweep"},
	RECGAN_LOOP_OPTIONS(50, 5),
};

/* Training state of one run. */
typedef struct IalsState
{
	Model	   *model;
	int			f;				/* F */
	double		alpha;
	double		lambda;
	int			solver;
	int			cg_steps;
	const Csr  *fit;			/* (U x I) positives being fitted */
	Csr			fit_t;			/* (I x U) */
	float	   *x;				/* (U, F) */
	float	   *y;				/* (I, F) */
	float	   *gram;			/* (F, F) */
	float	   *a;				/* (F, F) system of one row */
	float	   *b;				/* (F) right-hand side, then solution */
	float	   *rows;			/* (max n_u or n_i, F) gathered factors */
	float	   *cg;				/* (PARALLEL_MAX_THREADS, 3 F) CG vectors per part */
} IalsState;

/*
 * G (F, F) = M^T M for a (n, F) matrix, both triangles filled.  Training
 * callers check for interrupts before it.
 */
static void
Gramian(float *gram, const float *m, int64_t n, int f)
{
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, f, (int) n, 1.0f, m, f, 0.0f, gram, f);
	for (int a = 0; a < f; a++)
		for (int b = 0; b < a; b++)
			gram[a * f + b] = gram[b * f + a];
}

/* Rows of a panel of CholeskySolveUpper, and the width of its vectors. */
#define CHOL_PANEL 8

/*
 * Solve a x = b in place (b becomes x) for F a multiple of CHOL_PANEL: a
 * (F, F) symmetric positive definite, its upper triangle row-major (= the
 * lower triangle column-major, as ssyrk CblasLower leaves it), overwritten
 * by U, a = U^T U.  Right-looking in panels of CHOL_PANEL rows: a panel is
 * factored, then the trailing rows take its rank-8 update in 8 x 8 register
 * tiles.  The tiles on the diagonal also update a few entries left of it,
 * which must hold finite values on entry and are never read.  LAPACK's
 * spotrf spends most of its time in call overheads at F = 64 (11.7 us per
 * factorisation here, this 8.8 us).  Returns 0, or the 1-based row where a
 * is not positive definite.
 */
RECGAN_VECTOR_CLONES static int
CholeskySolveUpper(float *restrict a, float *restrict b, int f)
{
	typedef float v8 __attribute__((vector_size(32), aligned(4)));

	for (int k0 = 0; k0 < f; k0 += CHOL_PANEL)
	{
		int			k1 = k0 + CHOL_PANEL;

		for (int k = k0; k < k1; k++)
		{
			float	   *ak = a + (size_t) k * f;
			float		inv;

			if (!(ak[k] > 0))
				return k + 1;
			ak[k] = sqrtf(ak[k]);
			inv = 1.0f / ak[k];
			for (int c = k + 1; c < f; c++)
				ak[c] *= inv;
			for (int r = k + 1; r < k1; r++)
			{
				float		t = ak[r];
				float	   *ar = a + (size_t) r * f;

				for (int c = r; c < f; c++)
					ar[c] -= t * ak[c];
			}
		}
		for (int r0 = k1; r0 < f; r0 += CHOL_PANEL)
			for (int c0 = r0; c0 < f; c0 += 8)
			{
				v8			acc[CHOL_PANEL];

				for (int i = 0; i < CHOL_PANEL; i++)
					acc[i] = *(const v8 *) (a + (size_t) (r0 + i) * f + c0);
				for (int k = k0; k < k1; k++)
				{
					const float *ak = a + (size_t) k * f;
					v8			vk = *(const v8 *) (ak + c0);

					for (int i = 0; i < CHOL_PANEL; i++)
						acc[i] -= ak[r0 + i] * vk;
				}
				for (int i = 0; i < CHOL_PANEL; i++)
					*(v8 *) (a + (size_t) (r0 + i) * f + c0) = acc[i];
			}
	}
	/* U^T z = b, then U x = z */
	for (int k = 0; k < f; k++)
	{
		const float *ak = a + (size_t) k * f;

		b[k] /= ak[k];
		for (int c = k + 1; c < f; c++)
			b[c] -= ak[c] * b[k];
	}
	for (int k = f - 1; k >= 0; k--)
	{
		const float *ak = a + (size_t) k * f;
		float		t = b[k];
		v8			s = {0, 0, 0, 0, 0, 0, 0, 0};
		int			c = k + 1;

		/* to the next multiple of 8, then 8 partial sums (a fixed order) */
		for (; c < f && (c & 7) != 0; c++)
			t -= ak[c] * b[c];
		for (; c < f; c += 8)
			s += *(const v8 *) (ak + c) * *(const v8 *) (b + c);
		t -= ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
		b[k] = t / ak[k];
	}
	return 0;
}

/*
 * Solve one row's system: out (F) = (G + alpha Y_h^T Y_h + lambda Id)^-1
 * (1 + alpha) Y_h^T 1, where Y_h are the rows of other (N, F) listed in
 * hist[0..n).  Float32 is ample for these small, well-conditioned systems
 * (lambda > 0 bounds the condition number).  Scratch a, b, rows come from
 * the caller.
 */
static RgStatus
SolveRow(float *out, const float *gram, const float *other, const int32_t *hist, int32_t n,
		 int f, double alpha, double lambda, float *a, float *b, float *rows, RgError *err)
{
	int			one = 1,
				info = 0;
	bool		own = f % CHOL_PANEL == 0;	/* CholeskySolveUpper, else sposv */

	/* no history: the right-hand side is 0, and so is the solution (exactly, as sposv finds it) */
	if (n == 0)
	{
		memset(out, 0, sizeof(float) * f);
		return RG_OK;
	}
	for (int32_t h = 0; h < n; h++)
		memcpy(rows + (size_t) h * f, other + (size_t) hist[h] * f, sizeof(float) * f);
	if (own)
	{
		/* G's rows from the panel boundary on (finite entries left of the diagonal) */
		for (int c = 0; c < f; c++)
			memcpy(a + (size_t) c * f + (c & ~(CHOL_PANEL - 1)),
				   gram + (size_t) c * f + (c & ~(CHOL_PANEL - 1)),
				   sizeof(float) * (f - (c & ~(CHOL_PANEL - 1))));
	}
	else
		memcpy(a, gram, sizeof(float) * f * f);
	cblas_ssyrk(CblasColMajor, own ? CblasLower : CblasUpper, CblasNoTrans, f, n, (float) alpha,
				rows, f, 1.0f, a, f);
	rows_sum(b, other, hist, n, f);
	for (int c = 0; c < f; c++)
	{
		a[c * f + c] += (float) lambda;
		b[c] *= (float) (1.0 + alpha);
	}
	if (own)
		info = CholeskySolveUpper(a, b, f);
	else
		sposv_("U", &f, &one, a, &f, b, &f, &info, 1);
	if (info != 0)
	{
		rg_fail(err, RG_DATA_EXCEPTION,
				"iALS system is not positive definite (row %d of its factorisation)", info);
		return rg_hint(err, "Increase the \"lambda\" option.");
	}
	memcpy(out, b, sizeof(float) * f);
	return RG_OK;
}

/* a . b over f floats, in 8 interleaved partial sums (a fixed order). */
static inline float
Dot(const float *a, const float *b, int f)
{
	float		s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	float		r;
	int			c = 0;

	for (; c + 8 <= f; c += 8)
		for (int l = 0; l < 8; l++)
			s[l] += a[c + l] * b[c + l];
	r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
	for (; c < f; c++)
		r += a[c] * b[c];
	return r;
}

/*
 * out (F) = (G + alpha Y_h^T Y_h + lambda Id) v, with Y_h the rows of other
 * listed in hist[0..n); G is symmetric, so G v sums its rows.
 */
static void
ApplySystem(float *out, const float *v, const float *gram, const float *other,
			const int32_t *hist, int32_t n, int f, float alpha, float lambda)
{
	for (int c = 0; c < f; c++)
		out[c] = lambda * v[c];
	for (int b = 0; b < f; b++)
	{
		const float *g = gram + (size_t) b * f;
		float		vb = v[b];

		for (int c = 0; c < f; c++)
			out[c] += vb * g[c];
	}
	for (int32_t h = 0; h < n; h++)
	{
		const float *y = other + (size_t) hist[h] * f;
		float		t = alpha * Dot(y, v, f);

		for (int c = 0; c < f; c++)
			out[c] += t * y[c];
	}
}

/*
 * Improve x (F) in place by conjugate-gradient steps on the row's system,
 * without forming it: each step costs O(F^2 + n F) instead of the
 * O(n F^2 + F^3) of building and factoring (Takacs, Pilaszy and Tikk,
 * RecSys 2011).  x holds the previous epoch's solution (warm start); cg
 * holds 3 F floats of scratch.  Pure C: safe on any thread.
 */
static void
CgRow(float *x, const float *gram, const float *other, const int32_t *hist, int32_t n,
	  int f, double alpha, double lambda, int steps, float *cg)
{
	float	   *r = cg,
			   *p = cg + f,
			   *ap = cg + 2 * f;
	double		rs = 0;

	/* r = b - A x, with b = (1 + alpha) sum of the rows */
	ApplySystem(ap, x, gram, other, hist, n, f, (float) alpha, (float) lambda);
	rows_sum(r, other, hist, n, f);
	for (int c = 0; c < f; c++)
	{
		r[c] = (float) ((1.0 + alpha) * r[c] - ap[c]);
		p[c] = r[c];
		rs += (double) r[c] * r[c];
	}
	for (int k = 0; k < steps && rs > 1e-20; k++)
	{
		double		pap = 0,
					rs_new = 0,
					a;

		ApplySystem(ap, p, gram, other, hist, n, f, (float) alpha, (float) lambda);
		for (int c = 0; c < f; c++)
			pap += (double) p[c] * ap[c];
		if (pap <= 0)
			break;
		a = rs / pap;
		for (int c = 0; c < f; c++)
		{
			x[c] += (float) (a * p[c]);
			r[c] -= (float) (a * ap[c]);
			rs_new += (double) r[c] * r[c];
		}
		for (int c = 0; c < f; c++)
			p[c] = (float) (r[c] + rs_new / rs * p[c]);
		rs = rs_new;
	}
}

/* Arguments of the parallel parts of one chunk of a CG half-sweep. */
typedef struct SweepChunk
{
	const IalsState *st;
	float	   *mine;
	const float *other;
	const Csr  *rows;
	int32_t		r0,
				r1;				/* the chunk's rows [r0, r1) */
} SweepChunk;

/* Work of rows [0, r) of the chunk's CSR: 2 per positive plus F per row. */
static inline int64_t
SweepWork(const SweepChunk *ch, int32_t r)
{
	return 2 * ch->rows->indptr[r] + (int64_t) r * ch->st->f;
}

/* First row of [lo, hi] whose SweepWork reaches w. */
static int32_t
SweepCut(const SweepChunk *ch, int32_t lo, int32_t hi, int64_t w)
{
	while (lo < hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (SweepWork(ch, mid) < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Part `part` of a chunk: the rows holding its share of the chunk's work. */
static void
SweepPart(void *arg, int part, int n_parts)
{
	const SweepChunk *ch = arg;
	const IalsState *st = ch->st;
	int64_t		w0 = SweepWork(ch, ch->r0),
				total = SweepWork(ch, ch->r1) - w0;
	int32_t		begin = part == 0 ? ch->r0 :
		SweepCut(ch, ch->r0, ch->r1, w0 + total * part / n_parts);
	int32_t		end = part == n_parts - 1 ? ch->r1 :
		SweepCut(ch, ch->r0, ch->r1, w0 + total * (part + 1) / n_parts);
	float	   *cg = st->cg + (size_t) part * 3 * st->f;

	for (int32_t r = begin; r < end; r++)
		CgRow(ch->mine + (size_t) r * st->f, st->gram, ch->other, CsrRow(ch->rows, r),
			  CsrRowLen(ch->rows, r), st->f, st->alpha, st->lambda, st->cg_steps, cg);
}

/* One half-sweep: solve every row of mine against the fixed factors other. */
static RgStatus
HalfSweep(IalsState *st, TrainLoop *loop, float *mine, const float *other, int64_t n_other,
		  const Csr *rows)
{
	RG_TRY(rg_check_interrupts(train_loop_error(loop)));
	Gramian(st->gram, other, n_other, st->f);
	if (st->solver == SOLVER_CG)
	{
		SweepChunk	ch = {st, mine, other, rows, 0, 0};

		for (int32_t r0 = 0; r0 < rows->n_rows; r0 += SWEEP_CHUNK)
		{
			ch.r0 = r0;
			ch.r1 = RG_MIN(r0 + SWEEP_CHUNK, rows->n_rows);
			parallel_run(SweepPart, &ch, (double) (SweepWork(&ch, ch.r1) - SweepWork(&ch, ch.r0)) *
						 st->f * (st->cg_steps + 1));
			RG_TRY(train_loop_batch(loop, 0.0));
		}
		return RG_OK;
	}
	for (int32_t r = 0; r < rows->n_rows; r++)
	{
		RG_TRY(SolveRow(mine + (size_t) r * st->f, st->gram, other, CsrRow(rows, r),
						CsrRowLen(rows, r), st->f, st->alpha, st->lambda, st->a, st->b,
						st->rows, train_loop_error(loop)));
		if ((r & 255) == 255)
			RG_TRY(train_loop_batch(loop, 0.0));
	}
	return RG_OK;
}

/* *loss = L / N, computed through the Gramians (see the file comment). */
static RgStatus
IalsLoss(IalsState *st, RgError *err, double *loss)
{
	int			f = st->f;
	const Csr  *fit = st->fit;
	float	   *gx = rg_alloc_array(float, (size_t) f * f);
	double		all = 0,
				pos = 0,
				reg = 0;

	RG_TRY(rg_check_interrupts(err));
	Gramian(gx, st->x, fit->n_rows, f);
	RG_TRY(rg_check_interrupts(err));
	Gramian(st->gram, st->y, fit->n_cols, f);
	for (int a = 0; a < f * f; a++)
		all += (double) gx[a] * st->gram[a];
	for (int a = 0; a < f; a++)
		reg += gx[a * f + a] + st->gram[a * f + a];
	for (int32_t u = 0; u < fit->n_rows; u++)
		for (int64_t p = fit->indptr[u]; p < fit->indptr[u + 1]; p++)
		{
			double		s = cblas_sdot(f, st->x + (size_t) u * f, 1,
									   st->y + (size_t) fit->indices[p] * f, 1);

			/* replace the c = 1, p = 0 term counted in all by the positive's */
			pos += (1.0 + st->alpha) * (1.0 - s) * (1.0 - s) - s * s;
		}
	rg_free(gx);
	*loss = (all + pos + st->lambda * reg) / RG_MAX(CsrNnz(fit), 1);
	return RG_OK;
}

/* Allocate and initialise the factors; point the model's tensors at them. */
static RgStatus
IalsBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64_t seed,
		  void **state)
{
	IalsState  *st = rg_alloc0(sizeof(IalsState));
	int			f = (int) opt[OPT_FACTORS];
	int32_t		longest = 0;
	Rng			rng;

	st->model = model;
	st->f = f;
	st->alpha = opt[OPT_ALPHA];
	st->lambda = opt[OPT_LAMBDA];
	st->solver = (int) opt[OPT_SOLVER];
	st->cg_steps = (int) opt[OPT_CG_STEPS];
	st->fit = fit;
	for (int32_t u = 0; u < fit->n_rows; u++)
		longest = RG_MAX(longest, CsrRowLen(fit, u));
	csr_transpose(fit, &st->fit_t);
	for (int32_t i = 0; i < st->fit_t.n_rows; i++)
		longest = RG_MAX(longest, CsrRowLen(&st->fit_t, i));

	RG_TRY(train_loop_check_memory(loop,
								   (double) (model->n_users + model->n_items) * f * 4 +
								   (double) CsrNnz(fit) * 4 + ((double) longest + 2 * f + 5) * f * 4 + longest * 4.0,
								   (double) (model->n_users + model->n_items) * f));
	/* the solvers' vector kernels read these: cache-line aligned (engine.h) */
	st->x = rg_alloc_lines(sizeof(float) * (size_t) model->n_users * f);
	st->y = rg_alloc_lines(sizeof(float) * (size_t) model->n_items * f);
	st->gram = rg_alloc_lines(sizeof(float) * (size_t) f * f);
	st->a = rg_alloc_lines(sizeof(float) * (size_t) f * f);
	st->b = rg_alloc_lines(sizeof(float) * f);
	st->rows = rg_alloc_lines(sizeof(float) * (size_t) RG_MAX(longest, 1) * f);
	st->cg = rg_alloc_lines(sizeof(float) * (size_t) PARALLEL_MAX_THREADS * 3 * f);

	rng_seed(&rng, seed);
	init_normal(st->x, (float) opt[OPT_INIT_STD], (int64_t) model->n_users * f, &rng);
	init_normal(st->y, (float) opt[OPT_INIT_STD], (int64_t) model->n_items * f, &rng);

	model->n_tensors = 2;
	model->tensors[0].len = (int64_t) model->n_users * f;
	model->tensors[0].data = st->x;
	model->tensors[1].len = (int64_t) model->n_items * f;
	model->tensors[1].data = st->y;
	*state = st;
	return RG_OK;
}

/* One epoch: users against items, then items against users. */
static RgStatus
IalsEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	IalsState  *st = state;

	RG_TRY(HalfSweep(st, loop, st->x, st->y, st->model->n_items, st->fit));
	RG_TRY(HalfSweep(st, loop, st->y, st->x, st->model->n_users, &st->fit_t));
	RG_TRY(IalsLoss(st, train_loop_error(loop), loss));
	*aux_loss = NAN;
	return train_loop_batch(loop, *loss);
}

static const IterativeOps ials_iterative = {
	.begin = IalsBegin,
	.epoch = IalsEpoch,
	.diverged_hint = "Increase \"lambda\" or lower \"alpha\".",
};

/* Train through the shared loop (validation, early stopping, refit). */
static RgStatus
IalsTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	return train_loop_run(in, model, &ials_iterative, OPT_LOOP, report, arg, err);
}

/* Two tensors, (U, F) and (I, F). */
static RgStatus
IalsValidate(const Model *model, RgError *err)
{
	int64_t		f = (int64_t) model->hyper[OPT_FACTORS];
	int64_t		expected[2] = {model->n_users * f, model->n_items * f};

	return model_check_tensors(model, 2, expected, err);
}

/* Serving state: the item Gramian, for fold-in. */
static void
IalsPrepare(Model *model)
{
	int			f = (int) model->hyper[OPT_FACTORS];
	float	   *gram = rg_alloc_array(float, (size_t) f * f);

	Gramian(gram, model->tensors[1].data, model->n_items, f);
	model->serving = gram;
}

/*
 * Fold-in: x (F) solved from the query's history against Y with the
 * training equation.  If the system is not positive definite (in exact
 * arithmetic only with lambda = 0) x is zero: score() cannot fail.
 */
static void
IalsFoldIn(float *x, const Model *model, const float *gram, const ScoreQuery *q, int f)
{
	float	   *a = rg_alloc_array(float, (size_t) f * f);
	float	   *b = rg_alloc_array(float, f);
	float	   *rows = rg_alloc_array(float, (size_t) RG_MAX(q->n_items, 1) * f);
	RgError		err;

	if (SolveRow(x, gram, model->tensors[1].data, q->items, q->n_items, f,
				 model->hyper[OPT_ALPHA], model->hyper[OPT_LAMBDA], a, b, rows, &err) != RG_OK)
		memset(x, 0, sizeof(float) * f);
	rg_free(rows);
	rg_free(b);
	rg_free(a);
}

/* scores (Q, I) = X_q Y^T; fold-in queries solve their x first. */
static void
IalsScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int			f = (int) model->hyper[OPT_FACTORS];
	const float *x = model->tensors[0].data;
	const float *y = model->tensors[1].data;
	float	   *xq = rg_alloc_array(float, (size_t) nq * f);	/* (Q, F) */
	float	   *gram = model->serving;

	for (int q = 0; q < nq; q++)
	{
		if (queries[q].user >= 0)
		{
			memcpy(xq + (size_t) q * f, x + (size_t) queries[q].user * f, sizeof(float) * f);
			continue;
		}
		if (gram == NULL)
		{
			gram = rg_alloc_array(float, (size_t) f * f);
			Gramian(gram, y, model->n_items, f);
		}
		IalsFoldIn(xq + (size_t) q * f, model, gram, &queries[q], f);
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, model->n_items, f,
				1.0f, xq, f, y, f, 0.0f, scores, model->n_items);
	if (gram != model->serving)
		rg_free(gram);
	rg_free(xq);
}

/* Cosine of item factors. */
static void
IalsSimilar(const Model *model, int32_t item, float *scores)
{
	factor_cosine(model->tensors[1].data, model->n_items, (int) model->hyper[OPT_FACTORS],
				  item, scores);
}

const ModelOps ials_ops = {
	.name = "ials",
	.algorithm = RECGAN_ALG_IALS,
	.options = ials_options,
	.n_options = RG_LENGTHOF(ials_options),
	.train = IalsTrain,
	.validate = IalsValidate,
	.score = IalsScore,
	.prepare = IalsPrepare,
	.similar = IalsSimilar,
};
