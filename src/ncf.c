/*
 * ncf.c
 *	  GMF and NeuMF (He, Liao, Zhang, Nie, Hu and Chua, "Neural
 *	  Collaborative Filtering", WWW 2017): pointwise models of implicit
 *	  feedback trained with binary cross-entropy on sampled negatives.
 *
 * Legend: U users, I items, N fitted positives, S = N (1 + negatives)
 * samples of an epoch, B batch pairs, Q queries, G GMF factors, M MLP
 * embedding width per side, L1 L2 L3 tower widths.
 *
 * The networks are the engine's (ncfnet.h).  gmf: z = h . (p_u * q_i) + b.
 * neumf: the GMF branch and an MLP tower on [m_u, n_i], 8f -> 4f -> 2f ->
 * f with ReLU (f = mlp_factors, default 8: 64 -> 32 -> 16 -> 8 as in the
 * paper), fused by one output layer over [p_u * q_i, tower].
 *
 * Training.  Each epoch draws `negatives` uniform non-positives per fitted
 * positive, shuffles the S pairs and takes Adam steps on batches of
 * batch_size pairs.  Adam is lazy on the embedding tables: a step updates
 * (and decays the moments of) only the user and item rows its batch
 * touches, as torch.optim.SparseAdam does, so a step costs O(B (G + M))
 * instead of O((U + I)(G + M)); the tower and output layer take dense Adam
 * steps.  `reg` is Adam's coupled L2 weight decay on the updated rows and
 * layers.
 *
 * NeuMF pretraining (option pretrain_epochs, default 20).  With n > 0,
 * each training run first fits the GMF branch alone for n epochs (the
 * tower's output zeroed), then the MLP branch alone for n epochs, each
 * with fresh Adam moments, then fuses them as in the paper (section 3.4.1):
 * h = [alpha h_gmf, (1 - alpha) h_mlp], b = alpha b_gmf + (1 - alpha)
 * b_mlp, alpha = 0.5, and trains the fused model for the loop's epochs.
 * The pretraining is part of every run (the validated one and the refit)
 * and is not validated; the model is never initialised from another
 * stored model.
 *
 * NeuMF defaults pretrain_epochs 20 and reg 1e-5 (were 10 and 0) were
 * chosen on a validation split of ML-100K u1.base (recgan_split random
 * 0.2, seed 7; threshold 4; NDCG@10 on the held-out 20%, model seeds
 * 42-45): 0.2114 (seeds 42-47: 0.2115, none below 0.207), against 0.2020
 * for the old defaults; pretrain_epochs 15 / 30 with reg 1e-5 gave 0.2075
 * / 0.2122, reg 1e-6 / 3e-6 / 3e-5 with 20 gave 0.2139 / 0.2142 / 0.2068
 * (1e-6 to 1e-5 tie within the seed noise; 3e-6 had a 0.198 seed), 20
 * without reg 0.2066.  factors 64, lr 5e-4, mlp_factors 16, negatives 8,
 * patience 10 and fusion alpha 0.3 / 0.7 (a private build) did not help
 * (0.182-0.207, 2-4 seeds).  Without reg the fused epochs stop improving
 * after one epoch.  Confirmed once on u1.test (trained on u1.base, seeds
 * 1-3): NDCG@10 0.3927 / 0.3906 / 0.4044, mean 0.3959 (was 0.378); 12.6 s
 * per training run.
 *
 * Scoring.  gmf: scores (Q, I) = (P_q * h) Q^T + b, one sgemm.  neumf adds
 * the tower per query: its first layer is split, W1 [m, n] = W1_u m + W1_i
 * n, so W1_i Qm^T + b1 is computed once per block and each query adds its
 * W1_u m_u and runs the two remaining layers over all items as sgemms.
 * Fold-in: not supported; a user must be in the training data (the model
 * has no embedding for a new history): recgan_recommend_items raises
 * FEATURE_NOT_SUPPORTED.  Similar items: cosine of the GMF item
 * embeddings (for neumf the GMF and MLP embeddings, concatenated).
 *
 * Tensors: gmf 0 = P (U, G), 1 = Q (I, G), 2 = h (G), 3 = b (1); neumf 0 =
 * P, 1 = Q, 2 = Pm (U, M), 3 = Qm (I, M), 4 = W1 (L1, 2M), 5 = b1, 6 = W2
 * (L2, L1), 7 = b2, 8 = W3 (L3, L2), 9 = b3, 10 = h (G + L3), 11 = b (1).
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "miscadmin.h"

#include "model.h"
#include "ncfnet.h"
#include "optim.h"
#include "recgan.h"

/* Options, shared layout: scoring dimensions first (stored in the header). */
enum
{
	OPT_FACTORS,
	OPT_MLP_FACTORS,			/* neumf only; gmf has no such key */
	OPT_NEGATIVES,
	OPT_LR,
	OPT_BATCH,
	OPT_REG,
	OPT_INIT_STD,
	OPT_PRETRAIN,				/* neumf only */
	OPT_LOOP
};

/* gmf's table skips mlp_factors and pretrain_epochs: its positions map here. */
static const int gmf_slot[] = {OPT_FACTORS, OPT_NEGATIVES, OPT_LR, OPT_BATCH, OPT_REG,
OPT_INIT_STD};

#define GMF_N_OWN 6

static const OptionSpec gmf_options[] = {
	{"factors", OPT_INT, 64, 1, 4096, NULL, "embedding width (predictive factors)"},
	{"negatives", OPT_INT, 4, 1, 1000, NULL, "uniform negatives sampled per positive each epoch"},
	{"lr", OPT_REAL, 0.0005, 1e-9, 10, NULL, "Adam learning rate"},
	{"batch_size", OPT_INT, 256, 1, 1000000, NULL, "pairs per Adam step"},
	{"reg", OPT_REAL, 0, 0, 1e6, NULL, "L2 weight decay"},
	{"init_std", OPT_REAL, 0.01, 0, 10, NULL, "standard deviation of the initial embeddings"},
	RECGAN_LOOP_OPTIONS(100, 5),
};

static const OptionSpec neumf_options[] = {
	{"factors", OPT_INT, 32, 1, 4096, NULL, "GMF embedding width"},
	{"mlp_factors", OPT_INT, 8, 1, 1024, NULL,
	"last tower layer f: embeddings 4f per side, layers 8f -> 4f -> 2f -> f"},
	{"negatives", OPT_INT, 4, 1, 1000, NULL, "uniform negatives sampled per positive each epoch"},
	{"lr", OPT_REAL, 0.001, 1e-9, 10, NULL, "Adam learning rate"},
	{"batch_size", OPT_INT, 256, 1, 1000000, NULL, "pairs per Adam step"},
	{"reg", OPT_REAL, 1e-5, 0, 1e6, NULL, "L2 weight decay"},
	{"init_std", OPT_REAL, 0.01, 0, 10, NULL, "standard deviation of the initial embeddings"},
	{"pretrain_epochs", OPT_INT, 20, 0, 10000, NULL,
	"epochs of GMF-only then MLP-only training before the fused model (0: none)"},
	RECGAN_LOOP_OPTIONS(100, 5),
};

#define NCF_MAX_SPECS 12

/* Training state of one run. */
typedef struct NcfState
{
	Model	   *model;
	NcfDims		d;
	const Csr  *fit;
	int			negatives;
	int			batch;
	ParamSpec	specs[NCF_MAX_SPECS];
	int			n_specs;
	ParamArena	arena;
	NcfParams	p;				/* live weights */
	NcfParams	g;				/* their gradients */
	AdamConfig	adam;
	int64		step;
	NcfCache	cache;
	float	   *z;				/* (B) */
	float	   *dz;				/* (B) */
	float	   *t;				/* (B) */
	int32	   *users;			/* (S) an epoch's pairs */
	int32	   *items;			/* (S) */
	float	   *labels;			/* (S) */
	int32	   *order;			/* (S) */
	int32	   *bu;				/* (B) a batch's users */
	int32	   *bi;				/* (B) a batch's items */
	int32	   *stamp_u;		/* (U) last step that touched each user */
	int32	   *stamp_i;		/* (I) */
	int32	   *rows_u;			/* (B) distinct users of the step */
	int32	   *rows_i;			/* (B) */
	Rng			rng;
} NcfState;

/* Resolved option i of the spec layout above, whichever algorithm. */
static double
NcfOpt(const double *opt, bool gmf, int i)
{
	if (!gmf)
		return opt[i];
	for (int k = 0; k < GMF_N_OWN; k++)
		if (gmf_slot[k] == i)
			return opt[k];
	return 0;					/* mlp_factors, pretrain_epochs: none for gmf */
}

/* Dimensions from the scoring options. */
static NcfDims
NcfModelDims(const Model *model, const double *opt)
{
	bool		gmf = model->algorithm == RECGAN_ALG_GMF;
	int			f = (int) NcfOpt(opt, gmf, OPT_MLP_FACTORS);
	NcfDims		d = {0};

	d.n_users = model->n_users;
	d.n_items = model->n_items;
	d.G = (int) NcfOpt(opt, gmf, OPT_FACTORS);
	if (!gmf)
	{
		d.M = 4 * f;
		d.L1 = 4 * f;
		d.L2 = 2 * f;
		d.L3 = f;
	}
	return d;
}

/* Adam step of one row (or block) sharing the run's step count; zero its grads. */
static void
NcfAdamSlice(NcfState *st, int64 off, int64 n)
{
	ParamArena *a = &st->arena;
	AdamState	s = {a->m + off, a->v + off, n, st->step - 1};

	adam_update(a->params + off, &s, a->grads + off, &st->adam);
	memset(a->grads + off, 0, sizeof(float) * n);
}

/* Lazy Adam: the rows of the tables the branches use, touched by the batch, then the layers. */
static void
NcfAdamStep(NcfState *st, int n_u, int n_i, int branches)
{
	const NcfDims *d = &st->d;
	ParamArena *a = &st->arena;
	int			first_dense = d->M > 0 ? 4 : 2;
	int64		dense = param_arena_offset(a, first_dense);

	st->step++;
	for (int t = 0; t < first_dense; t++)
	{
		bool		user_table = (t % 2) == 0;
		int64		base = param_arena_offset(a, t);

		if (branches & (t < 2 ? NCF_GMF : NCF_MLP))
			adam_rows_update(a->params + base, a->grads + base, a->m + base, a->v + base,
							 user_table ? st->rows_u : st->rows_i, user_table ? n_u : n_i,
							 t < 2 ? d->G : d->M, st->step, &st->adam);
	}
	NcfAdamSlice(st, dense, a->n - dense);
}

/* Distinct rows of idx[0..B) into rows, using the stamps; returns their count. */
static int
DistinctRows(const int32 *idx, int B, int32 *stamp, int32 now, int32 *rows)
{
	int			n = 0;

	for (int b = 0; b < B; b++)
		if (stamp[idx[b]] != now)
		{
			stamp[idx[b]] = now;
			rows[n++] = idx[b];
		}
	return n;
}

/* Draw the epoch's pairs: each positive, then its negatives; shuffle the order. */
static int64
DrawPairs(NcfState *st)
{
	const Csr  *fit = st->fit;
	int64		s = 0;

	for (int32 u = 0; u < fit->n_rows; u++)
	{
		const int32 *row = CsrRow(fit, u);
		int32		n = CsrRowLen(fit, u);

		for (int32 p = 0; p < n; p++)
		{
			st->users[s] = u;
			st->items[s] = row[p];
			st->labels[s++] = 1.0f;
			for (int k = 0; k < st->negatives; k++)
			{
				int32		j = sample_negative(&st->rng, st->d.n_items, row, n);

				if (j < 0)
					break;
				st->users[s] = u;
				st->items[s] = j;
				st->labels[s++] = 0.0f;
			}
		}
	}
	sample_permutation(st->order, s, &st->rng);
	return s;
}

/* One pass over freshly drawn pairs through the branches; the mean BCE. */
static double
NcfPass(NcfState *st, TrainLoop *loop, int branches)
{
	int64		n = DrawPairs(st);
	double		total = 0.0;

	for (int64 s0 = 0; s0 < n; s0 += st->batch)
	{
		int			B = (int) Min((int64) st->batch, n - s0);
		int			n_u,
					n_i;
		double		loss;

		for (int b = 0; b < B; b++)
		{
			int32		s = st->order[s0 + b];

			st->bu[b] = st->users[s];
			st->bi[b] = st->items[s];
			st->t[b] = st->labels[s];
		}
		ncf_forward(st->z, &st->cache, &st->p, &st->d, st->bu, st->bi, B, branches);
		loss = bce_logits_loss(st->dz, st->z, st->t, NULL, B);
		ncf_backward(&st->g, &st->cache, st->dz, &st->p, &st->d, st->bu, st->bi, B, branches);
		n_u = DistinctRows(st->bu, B, st->stamp_u, (int32) (st->step + 1), st->rows_u);
		n_i = DistinctRows(st->bi, B, st->stamp_i, (int32) (st->step + 1), st->rows_i);
		NcfAdamStep(st, n_u, n_i, branches);
		total += loss * B;
		TrainLoopBatch(loop, loss);
	}
	return total / Max(n, 1);
}

/* Fresh Adam moments (between the pretraining stages). */
static void
NcfResetAdam(NcfState *st)
{
	memset(st->arena.m, 0, sizeof(float) * st->arena.n);
	memset(st->arena.v, 0, sizeof(float) * st->arena.n);
	st->step = 0;
	memset(st->stamp_u, 0xff, sizeof(int32) * Max(st->d.n_users, 1));
	memset(st->stamp_i, 0xff, sizeof(int32) * Max(st->d.n_items, 1));
}

/* NeuMF pretraining: GMF alone, MLP alone, then fuse (see the file comment). */
static void
NcfPretrain(NcfState *st, TrainLoop *loop, int epochs)
{
	const double alpha = 0.5;
	int			G = st->d.G;
	float		b_gmf;

	for (int e = 0; e < epochs; e++)
		NcfPass(st, loop, NCF_GMF);
	b_gmf = st->p.b[0];
	st->p.b[0] = 0.0f;
	NcfResetAdam(st);
	for (int e = 0; e < epochs; e++)
		NcfPass(st, loop, NCF_MLP);
	for (int k = 0; k < G + st->d.L3; k++)
		st->p.h[k] *= (float) (k < G ? alpha : 1.0 - alpha);
	st->p.b[0] = (float) (alpha * b_gmf + (1.0 - alpha) * st->p.b[0]);
	NcfResetAdam(st);
}

/* Random initial weights: N(0, init_std) embeddings, Xavier-uniform layers. */
static void
NcfInit(NcfState *st, double init_std)
{
	const NcfDims *d = &st->d;
	NcfParams  *p = &st->p;

	init_normal(p->P, (float) init_std, (int64_t) d->n_users * d->G, &st->rng);
	init_normal(p->Q, (float) init_std, (int64_t) d->n_items * d->G, &st->rng);
	if (d->M > 0)
	{
		init_normal(p->Pm, (float) init_std, (int64_t) d->n_users * d->M, &st->rng);
		init_normal(p->Qm, (float) init_std, (int64_t) d->n_items * d->M, &st->rng);
		init_xavier_uniform(p->W1, 2 * d->M, d->L1, &st->rng);
		init_xavier_uniform(p->W2, d->L1, d->L2, &st->rng);
		init_xavier_uniform(p->W3, d->L2, d->L3, &st->rng);
	}
	init_xavier_uniform(p->h, d->G + (d->M > 0 ? d->L3 : 0), 1, &st->rng);
}

/* Point the model's tensors at the arena's parameters. */
static void
NcfPointTensors(NcfState *st, Model *model)
{
	model->n_tensors = st->n_specs;
	for (int t = 0; t < st->n_specs; t++)
	{
		model->tensors[t].len = st->specs[t].rows * st->specs[t].cols;
		model->tensors[t].data = st->arena.params + param_arena_offset(&st->arena, t);
	}
}

/* Estimate, allocate, initialise; pretrain NeuMF when asked. */
static void *
NcfBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64 seed)
{
	NcfState   *st = palloc0(sizeof(NcfState));
	bool		gmf = model->algorithm == RECGAN_ALG_GMF;
	size_t		arena_bytes;
	int64		S;
	int			B;

	st->model = model;
	st->fit = fit;
	st->d = NcfModelDims(model, opt);
	st->negatives = (int) NcfOpt(opt, gmf, OPT_NEGATIVES);
	st->batch = B = (int) NcfOpt(opt, gmf, OPT_BATCH);
	st->adam = (AdamConfig) {NcfOpt(opt, gmf, OPT_LR), 0.9, 0.999, 1e-8,
	NcfOpt(opt, gmf, OPT_REG), 0.0};
	st->n_specs = ncf_param_specs(st->specs, &st->d);
	arena_bytes = param_arena_bytes(st->specs, st->n_specs,
									PARAM_ARENA_ADAM);
	S = CsrNnz(fit) * (1 + (int64) st->negatives);
	TrainLoopCheckMemory(loop,
						 (double) arena_bytes + (double) S * 16 +
						 (double) ncf_cache_floats(&st->d, B) * 4 + (double) B * 28 +
						 (double) (st->d.n_users + st->d.n_items) * 4,
						 (double) arena_bytes / 16);
	if (arena_bytes == 0)
		elog(ERROR, "NCF parameter table is invalid. Please report a bug.");

	param_arena_init(&st->arena, st->specs, st->n_specs,
					 PARAM_ARENA_ADAM,
					 palloc_extended(arena_bytes, MCXT_ALLOC_HUGE), arena_bytes);
	ncf_params_point(&st->p, &st->arena, st->arena.params, &st->d);
	ncf_params_point(&st->g, &st->arena, st->arena.grads, &st->d);
	ncf_cache_init(&st->cache, palloc_extended(sizeof(float) * Max(ncf_cache_floats(&st->d, B), 1),
											   MCXT_ALLOC_HUGE), &st->d, B);
	st->z = palloc_array(float, B);
	st->dz = palloc_array(float, B);
	st->t = palloc_array(float, B);
	st->bu = palloc_array(int32, B);
	st->bi = palloc_array(int32, B);
	st->rows_u = palloc_array(int32, B);
	st->rows_i = palloc_array(int32, B);
	st->users = palloc_extended(sizeof(int32) * Max(S, 1), MCXT_ALLOC_HUGE);
	st->items = palloc_extended(sizeof(int32) * Max(S, 1), MCXT_ALLOC_HUGE);
	st->labels = palloc_extended(sizeof(float) * Max(S, 1), MCXT_ALLOC_HUGE);
	st->order = palloc_extended(sizeof(int32) * Max(S, 1), MCXT_ALLOC_HUGE);
	st->stamp_u = palloc_array(int32, Max(st->d.n_users, 1));
	st->stamp_i = palloc_array(int32, Max(st->d.n_items, 1));
	NcfResetAdam(st);

	rng_seed(&st->rng, seed);
	NcfInit(st, NcfOpt(opt, gmf, OPT_INIT_STD));
	NcfPointTensors(st, model);
	RecganThreadsSetup();
	if (!gmf && opt[OPT_PRETRAIN] > 0)
		NcfPretrain(st, loop, (int) opt[OPT_PRETRAIN]);
	return st;
}

/* One epoch: fresh negatives, one pass through both branches. */
static void
NcfEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	NcfState   *st = state;

	*loss = NcfPass(st, loop, NCF_GMF | NCF_MLP);
	*aux_loss = NAN;
}

static const IterativeOps ncf_iterative = {
	.begin = NcfBegin,
	.epoch = NcfEpoch,
	.diverged_hint = "Lower the \"lr\" option.",
};

/* Train through the shared loop. */
static void
NcfTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg)
{
	int			first = model->algorithm == RECGAN_ALG_GMF ? GMF_N_OWN : OPT_LOOP;

	TrainLoopRun(in, model, &ncf_iterative, first, report, arg);
}

/* The stored layout for the model's dimensions. */
static int
NcfModelSpecs(const Model *model, ParamSpec *specs, NcfDims *d)
{
	*d = NcfModelDims(model, model->hyper);
	return ncf_param_specs(specs, d);
}

/* Tensor count and lengths as ncf_param_specs lays them out. */
static void
NcfValidate(const Model *model)
{
	ParamSpec	specs[NCF_MAX_SPECS];
	int64		expected[NCF_MAX_SPECS];
	NcfDims		d;
	int			n = NcfModelSpecs(model, specs, &d);

	for (int t = 0; t < n; t++)
		expected[t] = specs[t].rows * specs[t].cols;
	ModelCheckTensors(model, n, expected);
}

/* The stored tensors as named parameters. */
static void
NcfModelParams(const Model *model, const NcfDims *d, NcfParams *p)
{
	float	  **gmf[] = {&p->P, &p->Q, &p->h, &p->b};
	float	  **neumf[] = {&p->P, &p->Q, &p->Pm, &p->Qm, &p->W1, &p->b1, &p->W2, &p->b2,
	&p->W3, &p->b3, &p->h, &p->b};
	float	 ***fields = d->M > 0 ? neumf : gmf;

	memset(p, 0, sizeof(*p));
	for (int t = 0; t < model->n_tensors; t++)
		*fields[t] = model->tensors[t].data;
}

/* Add the tower's part of each query's scores (Q, I); see the file comment. */
static void
NcfScoreTower(const Model *model, const NcfDims *d, const NcfParams *p,
			  const ScoreQuery *queries, int nq, float *scores)
{
	int			n_items = d->n_items,
				M = d->M;
	float	   *bi = palloc_extended(sizeof(float) * n_items * d->L1, MCXT_ALLOC_HUGE);	/* (I, L1) */
	float	   *h1 = palloc_extended(sizeof(float) * n_items * d->L1, MCXT_ALLOC_HUGE);	/* (I, L1) */
	float	   *h2 = palloc_extended(sizeof(float) * n_items * d->L2, MCXT_ALLOC_HUGE);	/* (I, L2) */
	float	   *h3 = palloc_extended(sizeof(float) * n_items * d->L3, MCXT_ALLOC_HUGE);	/* (I, L3) */
	float	   *au = palloc_array(float, d->L1);

	for (int i = 0; i < n_items; i++)
		memcpy(bi + (Size) i * d->L1, p->b1, sizeof(float) * d->L1);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_items, d->L1, M, 1.0f, p->Qm, M,
				p->W1 + M, 2 * M, 1.0f, bi, d->L1);
	for (int q = 0; q < nq; q++)
	{
		CHECK_FOR_INTERRUPTS();
		cblas_sgemv(CblasRowMajor, CblasNoTrans, d->L1, M, 1.0f, p->W1, 2 * M,
					p->Pm + (Size) queries[q].user * M, 1, 0.0f, au, 1);
		for (int i = 0; i < n_items; i++)
			for (int k = 0; k < d->L1; k++)
				h1[(Size) i * d->L1 + k] = Max(0.0f, bi[(Size) i * d->L1 + k] + au[k]);
		linear_forward(h2, h1, p->W2, p->b2, n_items, d->L1, d->L2);
		relu_forward(h2, h2, (int64_t) n_items * d->L2);
		linear_forward(h3, h2, p->W3, p->b3, n_items, d->L2, d->L3);
		relu_forward(h3, h3, (int64_t) n_items * d->L3);
		cblas_sgemv(CblasRowMajor, CblasNoTrans, n_items, d->L3, 1.0f, h3, d->L3, p->h + d->G, 1,
					1.0f, scores + (Size) q * n_items, 1);
	}
	pfree(bi);
	pfree(h1);
	pfree(h2);
	pfree(h3);
	pfree(au);
}

/* scores (Q, I): (P_q * h) Q^T + b, plus the tower for neumf. */
static void
NcfScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	NcfDims		d = NcfModelDims(model, model->hyper);
	NcfParams	p;
	float	   *xq = palloc_array(float, (Size) nq * d.G);	/* (Q, G) */

	NcfModelParams(model, &d, &p);
	for (int q = 0; q < nq; q++)
	{
		if (queries[q].user < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s models cannot recommend for a list of items", model->ops->name),
					 errdetail("A %s model scores only the users it was trained on.",
							   model->ops->name),
					 errhint("Use recgan_recommend for a known user, or an algorithm with fold-in such as ials or ease.")));
		mul_forward(xq + (Size) q * d.G, p.P + (Size) queries[q].user * d.G, p.h, d.G);
	}
	for (Size s = 0; s < (Size) nq * d.n_items; s++)
		scores[s] = p.b[0];
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, d.n_items, d.G, 1.0f, xq, d.G,
				p.Q, d.G, 1.0f, scores, d.n_items);
	if (d.M > 0)
		NcfScoreTower(model, &d, &p, queries, nq, scores);
	pfree(xq);
}

/* Cosine of the item embeddings (GMF's, then the MLP's for neumf). */
static void
NcfSimilar(const Model *model, int32 item, float *scores)
{
	NcfDims		d = NcfModelDims(model, model->hyper);
	NcfParams	p;
	double		ni = 0;

	NcfModelParams(model, &d, &p);
	for (int c = 0; c < d.G; c++)
		ni += (double) p.Q[(Size) item * d.G + c] * p.Q[(Size) item * d.G + c];
	for (int c = 0; c < d.M; c++)
		ni += (double) p.Qm[(Size) item * d.M + c] * p.Qm[(Size) item * d.M + c];
	for (int32 j = 0; j < d.n_items; j++)
	{
		double		dot = 0,
					nj = 0;

		for (int c = 0; c < d.G; c++)
		{
			dot += (double) p.Q[(Size) item * d.G + c] * p.Q[(Size) j * d.G + c];
			nj += (double) p.Q[(Size) j * d.G + c] * p.Q[(Size) j * d.G + c];
		}
		for (int c = 0; c < d.M; c++)
		{
			dot += (double) p.Qm[(Size) item * d.M + c] * p.Qm[(Size) j * d.M + c];
			nj += (double) p.Qm[(Size) j * d.M + c] * p.Qm[(Size) j * d.M + c];
		}
		scores[j] = (ni > 0 && nj > 0) ? (float) (dot / sqrt(ni * nj)) : 0.0f;
	}
}

const ModelOps gmf_ops = {
	.name = "gmf",
	.algorithm = RECGAN_ALG_GMF,
	.options = gmf_options,
	.n_options = lengthof(gmf_options),
	.train = NcfTrain,
	.validate = NcfValidate,
	.score = NcfScore,
	.similar = NcfSimilar,
};

const ModelOps neumf_ops = {
	.name = "neumf",
	.algorithm = RECGAN_ALG_NEUMF,
	.options = neumf_options,
	.n_options = lengthof(neumf_options),
	.train = NcfTrain,
	.validate = NcfValidate,
	.score = NcfScore,
	.similar = NcfSimilar,
};
