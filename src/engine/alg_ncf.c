/*
 * alg_ncf.c
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
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "model.h"
#include "trainloop.h"
#include "ncfnet.h"
#include "optim.h"

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
	int64_t		step;
	NcfCache	cache;
	float	   *z;				/* (B) */
	float	   *dz;				/* (B) */
	float	   *t;				/* (B) */
	int32_t	   *users;			/* (S) an epoch's pairs */
	int32_t	   *items;			/* (S) */
	float	   *labels;			/* (S) */
	int32_t	   *order;			/* (S) */
	int32_t	   *bu;				/* (B) a batch's users */
	int32_t	   *bi;				/* (B) a batch's items */
	int32_t	   *stamp_u;		/* (U) last step that touched each user */
	int32_t	   *stamp_i;		/* (I) */
	int32_t	   *rows_u;			/* (B) distinct users of the step */
	int32_t	   *rows_i;			/* (B) */
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
NcfAdamSlice(NcfState *st, int64_t off, int64_t n)
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
	int64_t		dense = param_arena_offset(a, first_dense);

	st->step++;
	for (int t = 0; t < first_dense; t++)
	{
		bool		user_table = (t % 2) == 0;
		int64_t		base = param_arena_offset(a, t);

		if (branches & (t < 2 ? NCF_GMF : NCF_MLP))
			adam_rows_update(a->params + base, a->grads + base, a->m + base, a->v + base,
							 user_table ? st->rows_u : st->rows_i, user_table ? n_u : n_i,
							 t < 2 ? d->G : d->M, st->step, &st->adam);
	}
	NcfAdamSlice(st, dense, a->n - dense);
}

/* Distinct rows of idx[0..B) into rows, using the stamps; returns their count. */
static int
DistinctRows(const int32_t *idx, int B, int32_t *stamp, int32_t now, int32_t *rows)
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
static int64_t
DrawPairs(NcfState *st)
{
	const Csr  *fit = st->fit;
	int64_t		s = 0;

	for (int32_t u = 0; u < fit->n_rows; u++)
	{
		const int32_t *row = CsrRow(fit, u);
		int32_t		n = CsrRowLen(fit, u);

		for (int32_t p = 0; p < n; p++)
		{
			st->users[s] = u;
			st->items[s] = row[p];
			st->labels[s++] = 1.0f;
			for (int k = 0; k < st->negatives; k++)
			{
				int32_t		j = sample_negative(&st->rng, st->d.n_items, row, n);

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

/* One pass over freshly drawn pairs through the branches; *mean gets the mean BCE. */
static RgStatus
NcfPass(NcfState *st, TrainLoop *loop, int branches, double *mean)
{
	int64_t		n = DrawPairs(st);
	double		total = 0.0;

	for (int64_t s0 = 0; s0 < n; s0 += st->batch)
	{
		int			B = (int) RG_MIN((int64_t) st->batch, n - s0);
		int			n_u,
					n_i;
		double		loss;

		for (int b = 0; b < B; b++)
		{
			int32_t		s = st->order[s0 + b];

			st->bu[b] = st->users[s];
			st->bi[b] = st->items[s];
			st->t[b] = st->labels[s];
		}
		ncf_forward(st->z, &st->cache, &st->p, &st->d, st->bu, st->bi, B, branches);
		loss = bce_logits_loss(st->dz, st->z, st->t, NULL, B);
		ncf_backward(&st->g, &st->cache, st->dz, &st->p, &st->d, st->bu, st->bi, B, branches);
		n_u = DistinctRows(st->bu, B, st->stamp_u, (int32_t) (st->step + 1), st->rows_u);
		n_i = DistinctRows(st->bi, B, st->stamp_i, (int32_t) (st->step + 1), st->rows_i);
		NcfAdamStep(st, n_u, n_i, branches);
		total += loss * B;
		RG_TRY(train_loop_batch(loop, loss));
	}
	*mean = total / RG_MAX(n, 1);
	return RG_OK;
}

/* Fresh Adam moments (between the pretraining stages). */
static void
NcfResetAdam(NcfState *st)
{
	memset(st->arena.m, 0, sizeof(float) * st->arena.n);
	memset(st->arena.v, 0, sizeof(float) * st->arena.n);
	st->step = 0;
	memset(st->stamp_u, 0xff, sizeof(int32_t) * RG_MAX(st->d.n_users, 1));
	memset(st->stamp_i, 0xff, sizeof(int32_t) * RG_MAX(st->d.n_items, 1));
}

/* NeuMF pretraining: GMF alone, MLP alone, then fuse (see the file comment). */
static RgStatus
NcfPretrain(NcfState *st, TrainLoop *loop, int epochs)
{
	const double alpha = 0.5;
	int			G = st->d.G;
	float		b_gmf;
	double		mean;

	for (int e = 0; e < epochs; e++)
		RG_TRY(NcfPass(st, loop, NCF_GMF, &mean));
	b_gmf = st->p.b[0];
	st->p.b[0] = 0.0f;
	NcfResetAdam(st);
	for (int e = 0; e < epochs; e++)
		RG_TRY(NcfPass(st, loop, NCF_MLP, &mean));
	for (int k = 0; k < G + st->d.L3; k++)
		st->p.h[k] *= (float) (k < G ? alpha : 1.0 - alpha);
	st->p.b[0] = (float) (alpha * b_gmf + (1.0 - alpha) * st->p.b[0]);
	NcfResetAdam(st);
	return RG_OK;
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

/* The batch and epoch buffers: B pairs per step, S pairs per epoch. */
static void
NcfAllocBuffers(NcfState *st, int B, int64_t S)
{
	ncf_cache_init(&st->cache, rg_alloc(sizeof(float) * RG_MAX(ncf_cache_floats(&st->d, B), 1)),
				   &st->d, B);
	st->z = rg_alloc_array(float, B);
	st->dz = rg_alloc_array(float, B);
	st->t = rg_alloc_array(float, B);
	st->bu = rg_alloc_array(int32_t, B);
	st->bi = rg_alloc_array(int32_t, B);
	st->rows_u = rg_alloc_array(int32_t, B);
	st->rows_i = rg_alloc_array(int32_t, B);
	st->users = rg_alloc(sizeof(int32_t) * RG_MAX(S, 1));
	st->items = rg_alloc(sizeof(int32_t) * RG_MAX(S, 1));
	st->labels = rg_alloc(sizeof(float) * RG_MAX(S, 1));
	st->order = rg_alloc(sizeof(int32_t) * RG_MAX(S, 1));
	st->stamp_u = rg_alloc_array(int32_t, RG_MAX(st->d.n_users, 1));
	st->stamp_i = rg_alloc_array(int32_t, RG_MAX(st->d.n_items, 1));
}

/* Estimate, allocate, initialise; pretrain NeuMF when asked. */
static RgStatus
NcfBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64_t seed,
		 void **state)
{
	NcfState   *st = rg_alloc0(sizeof(NcfState));
	bool		gmf = model->algorithm == RECGAN_ALG_GMF;
	size_t		arena_bytes;
	int64_t		S;
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
	S = CsrNnz(fit) * (1 + (int64_t) st->negatives);
	RG_TRY(train_loop_check_memory(loop,
								   (double) arena_bytes + (double) S * 16 +
								   (double) ncf_cache_floats(&st->d, B) * 4 + (double) B * 28 +
								   (double) (st->d.n_users + st->d.n_items) * 4,
								   (double) arena_bytes / 16));
	if (arena_bytes == 0)
		return rg_fail(train_loop_error(loop), RG_INTERNAL,
					   "NCF parameter table is invalid. Please report a bug.");

	param_arena_init(&st->arena, st->specs, st->n_specs,
					 PARAM_ARENA_ADAM,
					 rg_alloc(arena_bytes), arena_bytes);
	ncf_params_point(&st->p, &st->arena, st->arena.params, &st->d);
	ncf_params_point(&st->g, &st->arena, st->arena.grads, &st->d);
	NcfAllocBuffers(st, B, S);
	NcfResetAdam(st);

	rng_seed(&st->rng, seed);
	NcfInit(st, NcfOpt(opt, gmf, OPT_INIT_STD));
	NcfPointTensors(st, model);
	if (!gmf && opt[OPT_PRETRAIN] > 0)
		RG_TRY(NcfPretrain(st, loop, (int) opt[OPT_PRETRAIN]));
	*state = st;
	return RG_OK;
}

/* One epoch: fresh negatives, one pass through both branches. */
static RgStatus
NcfEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	NcfState   *st = state;

	*aux_loss = NAN;
	return NcfPass(st, loop, NCF_GMF | NCF_MLP, loss);
}

static const IterativeOps ncf_iterative = {
	.begin = NcfBegin,
	.epoch = NcfEpoch,
	.diverged_hint = "Lower the \"lr\" option.",
};

/* Train through the shared loop. */
static RgStatus
NcfTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	int			first = model->algorithm == RECGAN_ALG_GMF ? GMF_N_OWN : OPT_LOOP;

	return train_loop_run(in, model, &ncf_iterative, first, report, arg, err);
}

/* The stored layout for the model's dimensions. */
static int
NcfModelSpecs(const Model *model, ParamSpec *specs, NcfDims *d)
{
	*d = NcfModelDims(model, model->hyper);
	return ncf_param_specs(specs, d);
}

/* Tensor count and lengths as ncf_param_specs lays them out. */
static RgStatus
NcfValidate(const Model *model, RgError *err)
{
	ParamSpec	specs[NCF_MAX_SPECS];
	int64_t		expected[NCF_MAX_SPECS];
	NcfDims		d;
	int			n = NcfModelSpecs(model, specs, &d);

	for (int t = 0; t < n; t++)
		expected[t] = specs[t].rows * specs[t].cols;
	return model_check_tensors(model, n, expected, err);
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

/*
 * Add the tower's part of each query's scores (Q, I); see the file comment.
 * Fold-in queries (user < 0) are skipped: NcfScore zeroes their rows.
 */
static void
NcfScoreTower(const NcfDims *d, const NcfParams *p,
			  const ScoreQuery *queries, int nq, float *scores)
{
	int			n_items = d->n_items,
				M = d->M;
	float	   *bi = rg_alloc(sizeof(float) * n_items * d->L1);	/* (I, L1) */
	float	   *h1 = rg_alloc(sizeof(float) * n_items * d->L1);	/* (I, L1) */
	float	   *h2 = rg_alloc(sizeof(float) * n_items * d->L2);	/* (I, L2) */
	float	   *h3 = rg_alloc(sizeof(float) * n_items * d->L3);	/* (I, L3) */
	float	   *au = rg_alloc_array(float, d->L1);
	RgError		cancel;

	for (int i = 0; i < n_items; i++)
		memcpy(bi + (size_t) i * d->L1, p->b1, sizeof(float) * d->L1);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_items, d->L1, M, 1.0f, p->Qm, M,
				p->W1 + M, 2 * M, 1.0f, bi, d->L1);
	for (int q = 0; q < nq; q++)
	{
		/* scoring cannot fail: only a host whose check unwinds can stop it here */
		(void) rg_check_interrupts(&cancel);
		if (queries[q].user < 0)
			continue;
		cblas_sgemv(CblasRowMajor, CblasNoTrans, d->L1, M, 1.0f, p->W1, 2 * M,
					p->Pm + (size_t) queries[q].user * M, 1, 0.0f, au, 1);
		for (int i = 0; i < n_items; i++)
			for (int k = 0; k < d->L1; k++)
				h1[(size_t) i * d->L1 + k] = RG_MAX(0.0f, bi[(size_t) i * d->L1 + k] + au[k]);
		linear_forward(h2, h1, p->W2, p->b2, n_items, d->L1, d->L2);
		relu_forward(h2, h2, (int64_t) n_items * d->L2);
		linear_forward(h3, h2, p->W3, p->b3, n_items, d->L2, d->L3);
		relu_forward(h3, h3, (int64_t) n_items * d->L3);
		cblas_sgemv(CblasRowMajor, CblasNoTrans, n_items, d->L3, 1.0f, h3, d->L3, p->h + d->G, 1,
					1.0f, scores + (size_t) q * n_items, 1);
	}
	rg_free(bi);
	rg_free(h1);
	rg_free(h2);
	rg_free(h3);
	rg_free(au);
}

/*
 * scores (Q, I): (P_q * h) Q^T + b, plus the tower for neumf.  A fold-in
 * query (user < 0) has no embedding: the host must refuse it before scoring
 * (FEATURE_NOT_SUPPORTED, "<name> models cannot recommend for a list of
 * items", detail "A <name> model scores only the users it was trained on.",
 * hint "Use recgan_recommend for a known user, or an algorithm with fold-in
 * such as ials or ease."); its row here is all zeros.
 */
static void
NcfScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	NcfDims		d = NcfModelDims(model, model->hyper);
	NcfParams	p;
	float	   *xq = rg_alloc_array(float, (size_t) nq * d.G);	/* (Q, G) */

	NcfModelParams(model, &d, &p);
	for (int q = 0; q < nq; q++)
	{
		if (queries[q].user < 0)
			memset(xq + (size_t) q * d.G, 0, sizeof(float) * d.G);
		else
			mul_forward(xq + (size_t) q * d.G, p.P + (size_t) queries[q].user * d.G, p.h, d.G);
	}
	for (size_t s = 0; s < (size_t) nq * d.n_items; s++)
		scores[s] = p.b[0];
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, d.n_items, d.G, 1.0f, xq, d.G,
				p.Q, d.G, 1.0f, scores, d.n_items);
	if (d.M > 0)
		NcfScoreTower(&d, &p, queries, nq, scores);
	for (int q = 0; q < nq; q++)
		if (queries[q].user < 0)
			memset(scores + (size_t) q * d.n_items, 0, sizeof(float) * d.n_items);
	rg_free(xq);
}

/* Cosine of the item embeddings (GMF's, then the MLP's for neumf). */
static void
NcfSimilar(const Model *model, int32_t item, float *scores)
{
	NcfDims		d = NcfModelDims(model, model->hyper);
	NcfParams	p;
	double		ni = 0;

	NcfModelParams(model, &d, &p);
	for (int c = 0; c < d.G; c++)
		ni += (double) p.Q[(size_t) item * d.G + c] * p.Q[(size_t) item * d.G + c];
	for (int c = 0; c < d.M; c++)
		ni += (double) p.Qm[(size_t) item * d.M + c] * p.Qm[(size_t) item * d.M + c];
	for (int32_t j = 0; j < d.n_items; j++)
	{
		double		dot = 0,
					nj = 0;

		for (int c = 0; c < d.G; c++)
		{
			dot += (double) p.Q[(size_t) item * d.G + c] * p.Q[(size_t) j * d.G + c];
			nj += (double) p.Q[(size_t) j * d.G + c] * p.Q[(size_t) j * d.G + c];
		}
		for (int c = 0; c < d.M; c++)
		{
			dot += (double) p.Qm[(size_t) item * d.M + c] * p.Qm[(size_t) j * d.M + c];
			nj += (double) p.Qm[(size_t) j * d.M + c] * p.Qm[(size_t) j * d.M + c];
		}
		scores[j] = (ni > 0 && nj > 0) ? (float) (dot / sqrt(ni * nj)) : 0.0f;
	}
}

const ModelOps gmf_ops = {
	.name = "gmf",
	.algorithm = RECGAN_ALG_GMF,
	.options = gmf_options,
	.n_options = RG_LENGTHOF(gmf_options),
	.no_fold_in = "A gmf model scores only the users it was trained on.",
	.train = NcfTrain,
	.validate = NcfValidate,
	.score = NcfScore,
	.similar = NcfSimilar,
};

const ModelOps neumf_ops = {
	.name = "neumf",
	.algorithm = RECGAN_ALG_NEUMF,
	.options = neumf_options,
	.n_options = RG_LENGTHOF(neumf_options),
	.no_fold_in = "A neumf model scores only the users it was trained on.",
	.train = NcfTrain,
	.validate = NcfValidate,
	.score = NcfScore,
	.similar = NcfSimilar,
};
