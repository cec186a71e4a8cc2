/*
 * alg_sgan.c
 *	  SGAN, recgan's sparse GAN recommender, as a ModelOps: options, the
 *	  iterative training through the shared train loop, stored tensors,
 *	  scoring (fold-in included) and similar items.  The model itself (the
 *	  generator, the discriminator, their losses and steps) is sgan.c.
 *
 * Legend: U users, I items, H generator hidden units, T prior neighbours
 * per item, Q queries in a scoring block.
 *
 * Tensors: 0 W1 (I, H), 1 b1 (H), 2 W2 (I, H), 3 b2 (I), 4 a (1), then the
 * prior: 5 ease (I, I) for the EASE prior, or 5 nb_val (I, T) and 6 nb_idx
 * (I, T, int32 item indexes stored bitwise) for the sparse GF-CF prior;
 * nothing for no prior.  The discriminator is not stored: it only trains.
 */
#include <math.h>
#include <string.h>

#include "factor.h"
#include "model.h"
#include "sgan.h"
#include "trainloop.h"

/* Catalogues up to this many items get the dense EASE prior under "auto". */
#define SGAN_AUTO_EASE_ITEMS 12000

enum
{
	OPT_HIDDEN,					/* scoring options first: they are stored */
	OPT_PRIOR,
	OPT_PRIOR_TOPK,
	OPT_DROPOUT,
	OPT_NEGATIVES,
	OPT_BATCH,
	OPT_LR,
	OPT_WEIGHT_DECAY,
	OPT_PRIOR_LAMBDA,
	OPT_PRIOR_SCALE,
	OPT_ADV_WEIGHT,
	OPT_D_HIDDEN,
	OPT_D_NEGATIVES,
	OPT_D_LR,
	OPT_VALUE,
	OPT_VALIDATION_USERS,
	OPT_LOOP					/* RECGAN_LOOP_OPTIONS */
};

/* Positions of the "prior" choices; "auto" resolves to ease or gfcf. */
enum
{
	PRIOR_AUTO,
	PRIOR_NONE,
	PRIOR_EASE,
	PRIOR_GFCF
};

static const OptionSpec sgan_options[] = {
	{"hidden", OPT_INT, 600, 1, 100000, NULL, "generator hidden units H"},
	{"prior", OPT_ENUM, PRIOR_AUTO, 0, 0, "auto|none|ease|gfcf",
	 "closed-form item-item prior of the generator: dense EASE, sparse GF-CF filter, none; auto picks EASE up to 12000 items"},
	{"prior_topk", OPT_INT, 200, 1, 100000, NULL, "neighbours kept per item by the GF-CF prior"},
	{"dropout", OPT_REAL, 0.5, 0, 0.95, NULL, "input dropout of the generator"},
	{"negatives", OPT_INT, 1000000, 1, 100000000, NULL,
	 "items sampled per batch for the sampled softmax; at least the number of items: full softmax"},
	{"batch", OPT_INT, 128, 1, 1000000, NULL, "users per generator and discriminator step"},
	{"lr", OPT_REAL, 1e-2, 1e-9, 10, NULL, "generator Adam learning rate"},
	{"weight_decay", OPT_REAL, 0, 0, 1e6, NULL, "L2 coefficient on the generator rows a step touches"},
	{"prior_lambda", OPT_REAL, 200, 1e-6, 1e12, NULL, "L2 regularisation of the EASE prior"},
	{"prior_scale", OPT_REAL, 20, 0, 1e9, NULL, "weight of the prior in the generator's scores"},
	{"adv_weight", OPT_REAL, 0.1, 0, 1e6, NULL,
	 "weight of the adversarial loss in the generator's; 0 trains the discriminator-free twin"},
	{"d_hidden", OPT_INT, 128, 1, 100000, NULL, "discriminator hidden units"},
	{"d_negatives", OPT_INT, 100, 0, 100000000, NULL, "sampled items the discriminator sees per user"},
	{"d_lr", OPT_REAL, 1e-3, 1e-9, 10, NULL, "discriminator Adam learning rate"},
	{"value", OPT_ENUM, SGAN_VALUE_SOFTMAX, 0, 0, "softmax|sigmoid|miner",
	 "what the discriminator sees: n softmax(z), sigmoid(z), or item ids (miner: dropped positives against the generator's top d_negatives)"},
	{"validation_users", OPT_INT, 5000, 0, 100000000, NULL,
	 "users scored for the validation NDCG after each epoch (a fixed sample); 0 for all"},
	RECGAN_LOOP_OPTIONS(20, 5),
};

/* The engine prior (SganPrior) the options give for I items. */
static int
SganPriorOf(const double *opt, int32_t n_items)
{
	switch ((int) opt[OPT_PRIOR])
	{
		case PRIOR_NONE:
			return SGAN_PRIOR_NONE;
		case PRIOR_EASE:
			return SGAN_PRIOR_EASE;
		case PRIOR_GFCF:
			return SGAN_PRIOR_GFCF;
	}
	return n_items <= SGAN_AUTO_EASE_ITEMS ? SGAN_PRIOR_EASE : SGAN_PRIOR_GFCF;
}

/* The engine options from the resolved ones. */
static void
SganOptionsFrom(const double *opt, int32_t n_items, SganOptions *o)
{
	sgan_default_options(o);
	o->hidden = (int) opt[OPT_HIDDEN];
	o->prior = SganPriorOf(opt, n_items);
	o->prior_topk = (int) RG_MIN(opt[OPT_PRIOR_TOPK], (double) n_items);
	o->dropout = opt[OPT_DROPOUT];
	o->negatives = (int) opt[OPT_NEGATIVES];
	o->batch = (int) opt[OPT_BATCH];
	o->lr = opt[OPT_LR];
	o->weight_decay = opt[OPT_WEIGHT_DECAY];
	o->prior_lambda = opt[OPT_PRIOR_LAMBDA];
	o->prior_scale = opt[OPT_PRIOR_SCALE];
	o->adv_weight = opt[OPT_ADV_WEIGHT];
	o->d_hidden = (int) opt[OPT_D_HIDDEN];
	o->d_negatives = (int) opt[OPT_D_NEGATIVES];
	o->d_lr = opt[OPT_D_LR];
	o->value = (int) opt[OPT_VALUE];
}

/* sgan.c's allocator on the host's: zeroed, never NULL. */
static void *
SganAlloc(void *arg, size_t n)
{
	(void) arg;
	return rg_alloc0(n);
}

/* Free through the host. */
static void
SganFree(void *arg, void *p)
{
	(void) arg;
	rg_free(p);
}

static const SganAllocator sgan_allocator = {SganAlloc, SganFree, NULL};

/* A training run: sgan.c's state and whether a discriminator trains. */
typedef struct SganRun
{
	Sgan	   *s;
	bool		adversarial;	/* adv_weight > 0 */
} SganRun;

/* Point the model's tensors at the weights w. */
static void
SganPointTensors(Model *model, const SganWeights *w)
{
	SganTensor	t[SGAN_MAX_TENSORS];
	int			n = sgan_tensors(w, t);

	model->n_tensors = n;
	for (int i = 0; i < n; i++)
		model->tensors[i] = (Tensor) {t[i].len, t[i].data};
}

/* Set up the generator and discriminator on fit. */
static RgStatus
SganBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64_t seed,
		  void **state)
{
	SganOptions o;
	Sgan	   *s;
	SganRun    *run;
	double		floats;

	SganOptionsFrom(opt, model->n_items, &o);
	model->hyper[OPT_PRIOR] = o.prior == SGAN_PRIOR_EASE ? PRIOR_EASE :
		o.prior == SGAN_PRIOR_GFCF ? PRIOR_GFCF : PRIOR_NONE;
	model->hyper[OPT_PRIOR_TOPK] = o.prior_topk;
	floats = 2.0 * model->n_items * o.hidden + o.hidden + model->n_items + 1 +
		(o.prior == SGAN_PRIOR_EASE ? (double) model->n_items * model->n_items :
		 o.prior == SGAN_PRIOR_GFCF ? 2.0 * model->n_items * o.prior_topk : 0);
	RG_TRY(train_loop_check_memory(loop, (double) sgan_sizes(&o, fit->n_rows, fit->n_cols,
															 CsrNnz(fit)), floats));
	s = sgan_init(&o, fit->indptr, fit->indices, fit->n_rows, fit->n_cols, seed, &sgan_allocator);
	if (s == NULL)
	{
		rg_fail(train_loop_error(loop), RG_DATA_EXCEPTION,
				"sgan prior: the EASE Gram matrix is not positive definite");
		return rg_hint(train_loop_error(loop), "Increase the \"prior_lambda\" option.");
	}
	SganPointTensors(model, sgan_weights(s));
	run = rg_alloc(sizeof(SganRun));
	run->s = s;
	run->adversarial = o.adv_weight > 0;
	*state = run;
	return RG_OK;
}

/* The loop's interrupt check, for sgan_epoch: non-zero stops the epoch. */
static int
SganInterrupted(void *arg)
{
	return rg_check_interrupts(train_loop_error((TrainLoop *) arg)) != RG_OK;
}

/*
 * One epoch of alternating discriminator and generator steps; aux_loss is
 * the discriminator's (NaN for the twin, which has none).
 */
static RgStatus
SganEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	SganRun    *run = state;
	int			rc = sgan_epoch(run->s, loss, aux_loss, SganInterrupted, loop);

	if (!run->adversarial)
		*aux_loss = NAN;
	if (rc > 0)
		return train_loop_error(loop)->code;
	if (rc < 0)
		return train_loop_batch(loop, NAN);
	return train_loop_batch(loop, *loss);
}

/* At most this many validation users, from the options. */
static int
SganValidationUsers(const double *opt)
{
	return (int) opt[OPT_VALIDATION_USERS];
}

static const IterativeOps sgan_iterative = {
	.begin = SganBegin,
	.epoch = SganEpoch,
	.diverged_hint = "Lower \"lr\" or \"d_lr\", or lower \"adv_weight\".",
	.validation_users = SganValidationUsers,
};

/* Train through the shared loop (validation, early stopping, refit). */
static RgStatus
SganTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	return train_loop_run(in, model, &sgan_iterative, OPT_LOOP, report, arg, err);
}

/* The weights of a model, as sgan.c reads them. */
static void
SganWeightsOf(const Model *model, SganWeights *w)
{
	int			prior = (int) model->hyper[OPT_PRIOR];

	memset(w, 0, sizeof(*w));
	w->I = model->n_items;
	w->H = (int) model->hyper[OPT_HIDDEN];
	w->prior = prior == PRIOR_EASE ? SGAN_PRIOR_EASE :
		prior == PRIOR_GFCF ? SGAN_PRIOR_GFCF : SGAN_PRIOR_NONE;
	w->T = (int) model->hyper[OPT_PRIOR_TOPK];
	w->W1 = model->tensors[0].data;
	w->b1 = model->tensors[1].data;
	w->W2 = model->tensors[2].data;
	w->b2 = model->tensors[3].data;
	w->a = model->tensors[4].data;
	if (w->prior == SGAN_PRIOR_EASE)
		w->ease = model->tensors[5].data;
	else if (w->prior == SGAN_PRIOR_GFCF)
	{
		w->nb_val = model->tensors[5].data;
		w->nb_idx = (int32_t *) model->tensors[6].data;
	}
}

/* The stored prior (resolved, never auto) and shapes must agree with the tensors. */
static RgStatus
SganValidate(const Model *model, RgError *err)
{
	int64_t		I = model->n_items,
				H = (int64_t) model->hyper[OPT_HIDDEN],
				T = (int64_t) model->hyper[OPT_PRIOR_TOPK];
	int			prior = (int) model->hyper[OPT_PRIOR];
	int64_t		expected[7] = {I * H, H, I * H, I, 1, 0, 0};
	int			n = 5;

	if (model->n_hyper <= OPT_PRIOR_TOPK || H < 1 || H > 100000 || T < 1 || T > I ||
		(prior != PRIOR_NONE && prior != PRIOR_EASE && prior != PRIOR_GFCF))
		return model_corrupted(err, "The sgan hyperparameters are out of range.");
	if (prior == PRIOR_EASE)
		expected[n++] = I * I;
	else if (prior == PRIOR_GFCF)
	{
		expected[n++] = I * T;
		expected[n++] = I * T;
	}
	RG_TRY(model_check_tensors(model, n, expected, err));
	if (prior == PRIOR_GFCF)
	{
		const int32_t *idx = (const int32_t *) model->tensors[6].data;

		for (int64_t p = 0; p < I * T; p++)
			if (idx[p] < 0 || idx[p] >= I)
				return model_corrupted(err, "A neighbour index of the sgan prior is out of range.");
	}
	return RG_OK;
}

/* Score each query's history (fold-in and known users alike). */
static void
SganScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	SganWeights w;
	const int32_t **hist = rg_alloc_array(const int32_t *, nq);
	int32_t    *len = rg_alloc_array(int32_t, nq);
	float	   *work;

	SganWeightsOf(model, &w);
	work = rg_alloc_array(float, (size_t) nq * w.H);
	for (int q = 0; q < nq; q++)
	{
		hist[q] = queries[q].items;
		len[q] = queries[q].n_items;
	}
	sgan_score(&w, hist, len, nq, scores, work);
	rg_free(work);
	rg_free(len);
	rg_free(hist);
}

/* Items whose generator output rows are closest (cosine) to item's. */
static void
SganSimilar(const Model *model, int32_t item, float *scores)
{
	factor_cosine(model->tensors[2].data, model->n_items, (int) model->hyper[OPT_HIDDEN],
				  item, scores);
}

const ModelOps sgan_ops = {
	.name = "sgan",
	.algorithm = RECGAN_ALG_SGAN,
	.options = sgan_options,
	.n_options = RG_LENGTHOF(sgan_options),
	.train = SganTrain,
	.validate = SganValidate,
	.score = SganScore,
	.similar = SganSimilar,
};
