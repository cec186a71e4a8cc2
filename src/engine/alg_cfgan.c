/*
 * alg_cfgan.c
 *	  CFGAN: collaborative filtering with a generative adversarial network
 *	  (Chae, Kang, Kim and Lee, "CFGAN: A Generic Collaborative Filtering
 *	  Framework based on Generative Adversarial Networks", CIKM 2018).
 *
 * Legend: U users, I items, E entities, C vector width, Z noise width, H
 * generator hidden units, K discriminator hidden units, Q queries.
 *
 * The math and the training schedule are the engine's (gan.h, gan.c), and
 * follow the authors' code: a generator conditioned on an entity's purchase
 * vector produces that vector, a discriminator tells [condition, real]
 * from [condition, generated * mask]; zero-reconstruction (ZR) and partial
 * masking (PM) samples are drawn anew every epoch.  The defaults are the
 * paper's ML-100K settings.  The epoch loop, validation and early stopping
 * are the shared train loop's (trainloop.c); an epoch here is one draw of
 * the samples followed by steps_d D passes and steps_g G passes (the
 * authors count G passes: their 750-1000 "epochs" on ML-100K are 188-250 of
 * ours).  Only the entities with a purchase are trained (CfganKeepPurchasers),
 * as in the authors' code.
 *
 * Modes.  mode 'user': an entity is a user, its vector is over items (E =
 * U, C = I).  mode 'item' (the default, as in the paper's ML-100K runs): an
 * entity is an item, its vector is over users (E = I, C = U); the score of
 * user u for item i is the generator's output at u for item i's vector.
 *
 * Scoring (ops->score).
 *	- user mode: the query's history is the condition; its generator output
 *	  is the score row.  A fold-in history (recgan_recommend_items) works
 *	  the same way: no retraining, no user index needed.
 *	- item mode, known user u: the generator's hidden layer is computed for
 *	  every item from the model's stored positives (the conditions), and
 *	  score(u, i) = hidden(i) . W2[u] + b2[u].
 *	- item mode, fold-in: a user the model has not seen is not an input or
 *	  output unit of the generator, so the history is scored through item
 *	  similarities: score(j) = sum over history items i of the cosine
 *	  between the generator outputs of i and j (each a vector over the known
 *	  users).  This is an approximation; train with mode 'user' when fold-in
 *	  quality matters.
 *	- similar items (recgan_similar_items): the fold-in scores of a history
 *	  of that one item.
 * An item-mode model prepared for serving (the model cache) keeps every
 * item's hidden layer and output norm, so a known user costs one (I, H)
 * product and a fold-in one more.
 *
 * Tensors (the generator only; the discriminator is not needed to score):
 *	0 = W1 (C + Z, H) input-major, 1 = b1 (H), 2 = W2 (C, H), 3 = b2 (C).
 * Noise (noise_dim > 0) is N(0, 1) while training and zero when scoring.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gan.h"
#include "model.h"
#include "trainloop.h"

enum
{
	/* needed to score: stored in the model header, so first */
	OPT_MODE,
	OPT_HIDDEN_G,
	OPT_NOISE_DIM,
	/* training only */
	OPT_HIDDEN_D,
	OPT_LR_G,
	OPT_LR_D,
	OPT_REG_G,
	OPT_REG_D,
	OPT_BATCH_G,
	OPT_BATCH_D,
	OPT_STEPS_G,
	OPT_STEPS_D,
	OPT_ZR_RATIO,
	OPT_PM_RATIO,
	OPT_ZR_WEIGHT,
	OPT_LOOP					/* RECGAN_LOOP_OPTIONS */
};

#define MODE_USER 0
#define MODE_ITEM 1

static const OptionSpec cfgan_options[] = {
	{"mode", OPT_ENUM, MODE_ITEM, 0, 0, "user|item",
	"what the generator produces: each user's vector over items, or each item's over users"},
	{"hidden_g", OPT_INT, 400, 1, 100000, NULL, "generator hidden units"},
	{"noise_dim", OPT_INT, 0, 0, 100000, NULL, "N(0, 1) noise inputs of the generator; 0 for none"},
	{"hidden_d", OPT_INT, 125, 1, 100000, NULL, "discriminator hidden units"},
	{"lr_g", OPT_REAL, 1e-4, 1e-12, 1e30, NULL, "generator Adam learning rate"},
	{"lr_d", OPT_REAL, 1e-4, 1e-12, 1e30, NULL, "discriminator Adam learning rate"},
	{"reg_g", OPT_REAL, 1e-3, 0, 1e6, NULL, "generator L2 coefficient (on sum w^2 / 2)"},
	{"reg_d", OPT_REAL, 0, 0, 1e6, NULL, "discriminator L2 coefficient"},
	{"batch_g", OPT_INT, 32, 1, 1000000, NULL, "entities per generator step"},
	{"batch_d", OPT_INT, 64, 1, 1000000, NULL, "entities per discriminator step"},
	{"steps_g", OPT_INT, 4, 1, 1000, NULL, "generator passes per epoch"},
	{"steps_d", OPT_INT, 2, 1, 1000, NULL, "discriminator passes per epoch"},
	{"zr_ratio", OPT_REAL, 70, 0, 100, NULL, "percent of the unobserved entries drawn for zero reconstruction"},
	{"pm_ratio", OPT_REAL, 70, 0, 100, NULL, "percent of the unobserved entries drawn for partial masking"},
	{"zr_weight", OPT_REAL, 0.03, 0, 1e6, NULL, "weight of the zero-reconstruction loss"},
	RECGAN_LOOP_OPTIONS(400, 30),
};

/* Training state: the engine trainer and the entities' purchases. */
typedef struct CfganState
{
	CfganTrainer trainer;
	Csr			entities;		/* (E x C) */
	TrainLoop  *loop;			/* the epoch's loop, for the batch hook */
	RgStatus	status;			/* the first failed train_loop_batch of the epoch */
} CfganState;

/* Dimensions of a model's generator from its header options. */
static CfganDims
CfganModelDims(const Model *model)
{
	CfganDims	d;

	d.C = model->hyper[OPT_MODE] == MODE_USER ? model->n_items : model->n_users;
	d.Z = (int) model->hyper[OPT_NOISE_DIM];
	d.H = (int) model->hyper[OPT_HIDDEN_G];
	d.K = 0;					/* the discriminator is not stored */
	return d;
}

/* The engine configuration from the resolved options. */
static CfganConfig
CfganModelConfig(const Model *model, const double *opt)
{
	CfganConfig cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.dims = CfganModelDims(model);
	cfg.dims.K = (int) opt[OPT_HIDDEN_D];
	cfg.batch_g = (int) opt[OPT_BATCH_G];
	cfg.batch_d = (int) opt[OPT_BATCH_D];
	cfg.steps_g = (int) opt[OPT_STEPS_G];
	cfg.steps_d = (int) opt[OPT_STEPS_D];
	cfg.zr_ratio = opt[OPT_ZR_RATIO];
	cfg.pm_ratio = opt[OPT_PM_RATIO];
	cfg.zr_weight = opt[OPT_ZR_WEIGHT];
	/* TensorFlow's Adam defaults, as in the reference code */
	cfg.adam_g = (AdamConfig) {opt[OPT_LR_G], 0.9, 0.999, 1e-8, opt[OPT_REG_G], 0.0};
	cfg.adam_d = (AdamConfig) {opt[OPT_LR_D], 0.9, 0.999, 1e-8, opt[OPT_REG_D], 0.0};
	return cfg;
}

/* Point the model's four tensors at a generator (the live one while training). */
static void
CfganPointTensors(Model *model, const CfganG *G, const CfganDims *d)
{
	int64_t		lens[4] = {((int64_t) d->C + d->Z) * d->H, d->H, (int64_t) d->C * d->H, d->C};
	float	   *data[4] = {G->W1, G->b1, G->W2, G->b2};

	model->n_tensors = 4;
	for (int t = 0; t < 4; t++)
	{
		model->tensors[t].len = lens[t];
		model->tensors[t].data = data[t];
	}
}

/* The generator of a model, pointing at its tensors. */
static CfganG
CfganModelG(const Model *model)
{
	CfganG		G;

	G.W1 = model->tensors[0].data;
	G.b1 = model->tensors[1].data;
	G.W2 = model->tensors[2].data;
	G.b2 = model->tensors[3].data;
	return G;
}

/* Bytes ops->score allocates for a block of q queries (validation). */
static double
CfganScoreBytes(const Model *model, const CfganDims *d, int q)
{
	double		nnz = (double) CsrNnz(&model->pos);

	if (model->hyper[OPT_MODE] == MODE_USER)
		return (double) q * d->H * 4.0 + nnz * 4.0 + (q + 1.0) * 8.0;
	return (double) model->n_items * d->H * 4.0 + (double) q * d->H * 4.0 +
		nnz * 4.0 + (model->n_items + 1.0) * 8.0;
}

/*
 * Drop the entities without a purchase from the training set, as the
 * authors' code does (its entities are those of its purchase lists): their
 * condition and real vector are all zeros, so they only teach both networks
 * the empty vector, and in item mode they were 15 % of the work on
 * MovieLens-100K u1 (242 of its 1,650 items have no rating >= 4).  The rows
 * kept stay in order, so indices is shared; only indptr is rebuilt.  The
 * generator still scores every entity (an item without a purchase gets the
 * output of an empty condition).  When no entity has a purchase, all are
 * kept (the trainer then learns the empty vector, as before).
 */
static void
CfganKeepPurchasers(Csr *entities)
{
	int32_t		kept = 0;
	int64_t    *indptr;

	for (int32_t e = 0; e < entities->n_rows; e++)
		kept += CsrRowLen(entities, e) > 0;
	if (kept == entities->n_rows || kept == 0)
		return;
	indptr = rg_alloc_array(int64_t, (size_t) kept + 1);
	kept = 0;
	indptr[0] = 0;
	for (int32_t e = 0; e < entities->n_rows; e++)
		if (CsrRowLen(entities, e) > 0)
			indptr[++kept] = entities->indptr[e + 1];
	entities->indptr = indptr;
	entities->n_rows = kept;
}

/* Allocate the trainer over fit's entities and initialise the weights. */
static RgStatus
CfganBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64_t seed,
		   void **state)
{
	CfganState *st = rg_alloc0(sizeof(CfganState));
	CfganConfig cfg = CfganModelConfig(model, opt);
	const CfganDims *d = &cfg.dims;
	int32_t		E;
	size_t		bytes;
	double		csr_bytes = 0.0;
	void	   *mem;

	if (opt[OPT_MODE] == MODE_USER)
		st->entities = *fit;
	else
	{
		csr_transpose(fit, &st->entities);
		csr_bytes = CsrNnz(fit) * 4.0 + (model->n_items + 1.0) * 8.0;
	}
	csr_bytes += (st->entities.n_rows + 1.0) * 8.0;
	CfganKeepPurchasers(&st->entities);
	E = st->entities.n_rows;
	bytes = cfgan_trainer_bytes(&cfg, E);
	/* SIZE_MAX / 2: the backend's largest allocation (MaxAllocHugeSize) */
	if (bytes == 0 || bytes > SIZE_MAX / 2)
	{
		rg_fail(train_loop_error(loop), RG_PROGRAM_LIMIT,
				"cfgan networks of this size cannot be allocated");
		return rg_hint(train_loop_error(loop),
					   "Use fewer hidden units, smaller batches, or fewer users and items.");
	}
	RG_TRY(train_loop_check_memory(loop, bytes + csr_bytes + CfganScoreBytes(model, d, model->n_users),
								   (double) cfgan_g_count(d)));
	mem = rg_alloc_lines(bytes);	/* vector kernels: cache-line aligned (engine.h) */
	if (cfgan_trainer_init(&st->trainer, &cfg, E, st->entities.indptr,
						   st->entities.indices, seed, mem, bytes) != 0)
		return rg_fail(train_loop_error(loop), RG_INTERNAL,
					   "cfgan trainer layout failed. Please report a bug.");
	CfganPointTensors(model, &st->trainer.G, d);
	*state = st;
	return RG_OK;
}

/*
 * Hook of the engine after each batch.  The hook cannot stop the epoch: the
 * first failure is kept in st->status (and no later batch is checked, so its
 * error stays the one reported) and CfganEpoch returns it.
 */
static void
CfganBatchDone(void *arg, double loss)
{
	CfganState *st = arg;

	if (st->status == RG_OK)
		st->status = train_loop_batch(st->loop, loss);
}

/* One epoch: loss is the generator's, aux_loss the discriminator's. */
static RgStatus
CfganEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	CfganState *st = state;
	CfganEpochStats stats;

	st->loop = loop;
	st->status = RG_OK;
	cfgan_train_epoch(&st->trainer, &stats, CfganBatchDone, st);
	*loss = stats.g_loss;
	*aux_loss = stats.d_loss;
	return st->status;
}

static const IterativeOps cfgan_iterative = {
	.begin = CfganBegin,
	.epoch = CfganEpoch,
	.diverged_hint = "Lower the learning rates (options \"lr_g\" and \"lr_d\").",
};

/* Train through the shared loop. */
static RgStatus
CfganTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	return train_loop_run(in, model, &cfgan_iterative, OPT_LOOP, report, arg, err);
}

/* Report a corrupted CFGAN model. */
static RgStatus
CfganCorrupted(RgError *err, const char *detail)
{
	return model_corrupted(err, "%s", detail);
}

/* Check the header options scoring needs, then the four tensor lengths. */
static RgStatus
CfganValidate(const Model *model, RgError *err)
{
	CfganDims	d;
	int64_t		expected[4];

	if (model->n_hyper <= OPT_NOISE_DIM)
		return CfganCorrupted(err, "A CFGAN model needs its mode, hidden_g and noise_dim options.");
	for (int o = 0; o <= OPT_NOISE_DIM; o++)
	{
		const OptionSpec *spec = &cfgan_options[o];
		double		v = model->hyper[o];

		if (!(v >= spec->min && v <= (spec->type == OPT_ENUM ? 1 : spec->max)) || v != floor(v))
		{
			char		detail[128];

			snprintf(detail, sizeof(detail), "CFGAN option \"%s\" is out of range.", spec->key);
			return CfganCorrupted(err, detail);
		}
	}
	d = CfganModelDims(model);
	expected[0] = ((int64_t) d.C + d.Z) * d.H;
	expected[1] = d.H;
	expected[2] = (int64_t) d.C * d.H;
	expected[3] = d.C;
	return model_check_tensors(model, 4, expected, err);
}

/* User mode: each query's history is a condition; the output is its score row. */
static void
CfganScoreUsers(const CfganDims *d, const CfganG *G,
				const ScoreQuery *queries, int nq, float *scores)
{
	int64_t	   *indptr = rg_alloc_array(int64_t, nq + 1);
	int64_t		nnz = 0;
	int32_t	   *indices;
	float	   *h = rg_alloc(sizeof(float) * (size_t) nq * d->H);

	for (int q = 0; q < nq; q++)
		nnz += queries[q].n_items;
	indices = rg_alloc(sizeof(int32_t) * RG_MAX(nnz, 1));
	indptr[0] = 0;
	for (int q = 0; q < nq; q++)
	{
		memcpy(indices + indptr[q], queries[q].items, sizeof(int32_t) * queries[q].n_items);
		indptr[q + 1] = indptr[q] + queries[q].n_items;
	}
	cfgan_generator_hidden(h, indptr, indices, NULL, nq, G, d);
	linear_forward(scores, h, G->W2, G->b2, nq, d->H, d->C);
	rg_free(h);
	rg_free(indices);
	rg_free(indptr);
}

/* Serving state of an item-mode model, built once by CfganPrepare. */
typedef struct CfganServing
{
	float	   *hidden;			/* (I, H) generator hidden layer of every item */
	float	   *norms;			/* (I) norm of every item's generator output */
} CfganServing;

/* Items scored per block when the full (I, C) output must be swept. */
#define OUTPUT_BLOCK 256

/* hidden (I, H): the generator's hidden layer of every item, from the stored positives. */
static void
CfganItemHidden(const Model *model, const CfganDims *d, const CfganG *G, float *hidden)
{
	Csr			xt;

	csr_transpose(&model->pos, &xt);
	cfgan_generator_hidden(hidden, xt.indptr, xt.indices, NULL, model->n_items, G, d);
	rg_free(xt.indptr);
	rg_free(xt.indices);
}

/* norms (I): the norm of each item's generator output, in blocks of OUTPUT_BLOCK items. */
static void
CfganOutputNorms(const Model *model, const CfganDims *d, const CfganG *G,
				 const float *hidden, float *norms)
{
	float	   *out = rg_alloc(sizeof(float) * OUTPUT_BLOCK * (size_t) d->C);
	RgError		cancel;

	for (int32_t i0 = 0; i0 < model->n_items; i0 += OUTPUT_BLOCK)
	{
		int			n = RG_MIN(OUTPUT_BLOCK, model->n_items - i0);

		/* scoring cannot fail: only a host whose check unwinds can stop it here */
		(void) rg_check_interrupts(&cancel);
		linear_forward(out, hidden + (size_t) i0 * d->H, G->W2, G->b2, n, d->H, d->C);
		for (int r = 0; r < n; r++)
			norms[i0 + r] = cblas_snrm2(d->C, out + (size_t) r * d->C, 1);
	}
	rg_free(out);
}

/*
 * Item mode, fold-in history S: score(j) = sum over i in S of cos(g_i,
 * g_j), g the generator outputs.  With s = sum_i g_i / |g_i| over S (C),
 * g_j . s = hidden_j . (W2^T s) + b2 . s, so only S's outputs are formed.
 */
static void
CfganFoldInItems(const Model *model, const CfganDims *d, const CfganG *G,
				 const float *hidden, const float *norms, const ScoreQuery *q,
				 float *scores)
{
	int			n = q->n_items;
	float	   *hs = rg_alloc_array(float, (size_t) RG_MAX(n, 1) * d->H);
	float	   *gs = rg_alloc(sizeof(float) * RG_MAX(n, 1) * (size_t) d->C);
	float	   *s = rg_alloc0_array(float, d->C);
	float	   *v = rg_alloc_array(float, d->H);
	float		c;

	for (int h = 0; h < n; h++)
		memcpy(hs + (size_t) h * d->H, hidden + (size_t) q->items[h] * d->H, sizeof(float) * d->H);
	linear_forward(gs, hs, G->W2, G->b2, n, d->H, d->C);
	for (int h = 0; h < n; h++)
		if (norms[q->items[h]] > 0.0f)
			cblas_saxpy(d->C, 1.0f / norms[q->items[h]], gs + (size_t) h * d->C, 1, s, 1);
	cblas_sgemv(CblasRowMajor, CblasTrans, d->C, d->H, 1.0f, G->W2, d->H, s, 1, 0.0f, v, 1);
	c = cblas_sdot(d->C, G->b2, 1, s, 1);
	cblas_sgemv(CblasRowMajor, CblasNoTrans, model->n_items, d->H, 1.0f, hidden, d->H, v, 1,
				0.0f, scores, 1);
	for (int32_t j = 0; j < model->n_items; j++)
		scores[j] = norms[j] > 0.0f ? (scores[j] + c) / norms[j] : 0.0f;
	rg_free(v);
	rg_free(s);
	rg_free(gs);
	rg_free(hs);
}

/*
 * Item mode: score(u, i) = hidden(i) . W2[u] + b2[u] for known users, one
 * sgemm over the block; fold-in queries through CfganFoldInItems.  The
 * hidden layer (and the output norms) come from the serving state when the
 * model was prepared, else are computed here.
 */
static void
CfganScoreItems(const Model *model, const CfganDims *d, const CfganG *G,
				const ScoreQuery *queries, int nq, float *scores)
{
	int32_t		n_items = model->n_items;
	const CfganServing *sv = model->serving;
	const float *hidden = sv ? sv->hidden : NULL;
	const float *norms = sv ? sv->norms : NULL;
	float	   *wq = rg_alloc0_array(float, (size_t) nq * d->H);
	float	   *own_hidden = NULL,
			   *own_norms = NULL;	/* computed here, freed at the end */

	if (hidden == NULL)
	{
		own_hidden = rg_alloc(sizeof(float) * (size_t) n_items * d->H);
		CfganItemHidden(model, d, G, own_hidden);
		hidden = own_hidden;
	}
	for (int q = 0; q < nq; q++)
		if (queries[q].user >= 0)
			memcpy(wq + (size_t) q * d->H, G->W2 + (size_t) queries[q].user * d->H,
				   sizeof(float) * d->H);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, n_items, d->H,
				1.0f, wq, d->H, hidden, d->H, 0.0f, scores, n_items);
	for (int q = 0; q < nq; q++)
	{
		float	   *row = scores + (size_t) q * n_items;

		if (queries[q].user >= 0)
		{
			float		bias = G->b2[queries[q].user];

			for (int32_t i = 0; i < n_items; i++)
				row[i] += bias;
			continue;
		}
		if (norms == NULL)
		{
			own_norms = rg_alloc_array(float, n_items);
			CfganOutputNorms(model, d, G, hidden, own_norms);
			norms = own_norms;
		}
		CfganFoldInItems(model, d, G, hidden, norms, &queries[q], row);
	}
	if (own_norms != NULL)
		rg_free(own_norms);
	if (own_hidden != NULL)
		rg_free(own_hidden);
	rg_free(wq);
}

/* Scores of every item for a block of queries (see the file comment). */
static void
CfganScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	CfganDims	d = CfganModelDims(model);
	CfganG		G = CfganModelG(model);

	if (model->hyper[OPT_MODE] == MODE_USER)
		CfganScoreUsers(&d, &G, queries, nq, scores);
	else
		CfganScoreItems(model, &d, &G, queries, nq, scores);
}

/* Item mode: keep every item's hidden layer and output norm for serving. */
static void
CfganPrepare(Model *model)
{
	CfganDims	d = CfganModelDims(model);
	CfganG		G = CfganModelG(model);
	CfganServing *sv;

	if (model->hyper[OPT_MODE] == MODE_USER)
		return;
	sv = rg_alloc(sizeof(CfganServing));
	sv->hidden = rg_alloc(sizeof(float) * (size_t) model->n_items * d.H);
	sv->norms = rg_alloc_array(float, model->n_items);
	CfganItemHidden(model, &d, &G, sv->hidden);
	CfganOutputNorms(model, &d, &G, sv->hidden, sv->norms);
	model->serving = sv;
}

/*
 * Items similar to item i: the fold-in scores of a user who liked only i
 * (user mode: the generator's output for that history; item mode: the
 * cosine between generator outputs).
 */
static void
CfganSimilar(const Model *model, int32_t item, float *scores)
{
	ScoreQuery	q = {-1, &item, 1};

	CfganScore(model, &q, 1, scores);
}

const ModelOps cfgan_ops = {
	.name = "cfgan",
	.algorithm = RECGAN_ALG_CFGAN,
	.options = cfgan_options,
	.n_options = RG_LENGTHOF(cfgan_options),
	.train = CfganTrain,
	.validate = CfganValidate,
	.score = CfganScore,
	.prepare = CfganPrepare,
	.similar = CfganSimilar,
};
