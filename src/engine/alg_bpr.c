/*
 * alg_bpr.c
 *	  BPR-MF: matrix factorisation trained with the Bayesian personalised
 *	  ranking loss and uniform negative sampling (Rendle, Freudenthaler,
 *	  Gantner and Schmidt-Thieme, UAI 2009).
 *
 * Legend: U users, I items, F factors, B triples in a batch, P positives.
 *
 * The score of (u, i) is x_u . y_i (+ b_i with the item_bias option).  An
 * epoch visits every fitted positive (u, i) `negatives` times in a seeded
 * random order; each visit draws a uniform item j the user has no positive
 * for (sample_negative) and makes the triple (u, i, j).  A batch of B
 * triples minimises
 *
 *	 (1/B) sum_b -log sigmoid(s_ui - s_uj)
 *		 + reg (1/2) (1/B) sum_b (|x_u|^2 + |y_i|^2 + |y_j|^2 + b_i^2 + b_j^2)
 *
 * (the L2 of the batch's rows, as LightGCN's code regularises its layer-0
 * embeddings) with Adam over all weights.
 *
 * Fold-in (recgan_recommend_items): the new user's vector is the mean of
 * the item vectors of their history.  BPR pulls a user's vector towards
 * the items they liked and away from the rest, so this mean points where
 * a trained vector of that history would, and it costs O(n F); it ranks
 * by similarity to the history's centroid rather than re-solving BPR for
 * the user.  Similar items: cosine of the item vectors.
 *
 * Tensors: 0 = X (U, F), 1 = Y (I, F), 2 = item bias (I) with item_bias.
 * Options: factors, item_bias, lr, reg, batch, negatives, init_std, then
 * the training-loop options.
 */
#include <math.h>
#include <string.h>

#include "factor.h"
#include "model.h"
#include "trainloop.h"
#include "nn.h"
#include "optim.h"
#include "rng.h"

enum
{
	OPT_FACTORS,
	OPT_ITEM_BIAS,
	OPT_LR,
	OPT_REG,
	OPT_BATCH,
	OPT_NEGATIVES,
	OPT_INIT_STD,
	OPT_LOOP					/* RECGAN_LOOP_OPTIONS */
};

static const OptionSpec bpr_options[] = {
	{"factors", OPT_INT, 64, 1, 4096, NULL, "latent factors per user and item"},
	{"item_bias", OPT_BOOL, 1, 0, 1, NULL, "learn a bias per item"},
	{"lr", OPT_REAL, 0.002, 1e-6, 10, NULL, "Adam learning rate"},
	{"reg", OPT_REAL, 0.02, 0, 1e6, NULL, "L2 regularisation of the batch's rows"},
	{"batch", OPT_INT, 1024, 1, 1000000, NULL, "triples per mini-batch"},
	{"negatives", OPT_INT, 1, 1, 1000, NULL, "negative items drawn per positive and epoch"},
	{"init_std", OPT_REAL, 0.01, 0, 10, NULL, "standard deviation of the initial factors"},
	RECGAN_LOOP_OPTIONS(300, 10),
};

/* Training state of one run. */
typedef struct BprState
{
	Model	   *model;
	const Csr  *fit;			/* (U x I) positives being fitted */
	int			f;				/* F */
	bool		bias;
	int			batch;			/* B */
	int			negatives;
	double		reg;
	AdamConfig	adam;
	AdamState	opt;
	int64_t		n;				/* weights: (U + I) F (+ I) */
	float	   *w;				/* (n) X, then Y, then the bias */
	float	   *g;				/* (n) gradients, same layout */
	int32_t    *user_of;		/* (P) user of each fitted positive */
	int32_t    *order;			/* (P) the epoch's order */
	int32_t    *tu,
			   *ti,
			   *tj;				/* (B) the batch's triples */
	float	   *scores;			/* (4 B) scores and their gradients */
	Rng			rng;
} BprState;

/* Loss of one batch; adds its gradient to st->g (nn.c's engine kernel). */
static double
BprBatch(BprState *st, int nb)
{
	size_t		xs = (size_t) st->model->n_users * st->f,
				ys = (size_t) st->model->n_items * st->f;

	return bpr_mf_batch(st->g, st->g + xs, st->bias ? st->g + xs + ys : NULL,
						st->w, st->w + xs, st->bias ? st->w + xs + ys : NULL,
						st->tu, st->ti, st->tj, nb, st->f, st->reg, st->scores);
}

/* Allocate and initialise the weights; point the model's tensors at them. */
static RgStatus
BprBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64_t seed,
		 void **state)
{
	BprState   *st = rg_alloc0(sizeof(BprState));
	int			f = (int) opt[OPT_FACTORS];
	int64_t		nnz = CsrNnz(fit);
	int			nb = (int) opt[OPT_BATCH];

	st->model = model;
	st->fit = fit;
	st->f = f;
	st->bias = opt[OPT_ITEM_BIAS] != 0;
	st->batch = nb;
	st->negatives = (int) opt[OPT_NEGATIVES];
	st->reg = opt[OPT_REG];
	st->adam = (AdamConfig) {opt[OPT_LR], 0.9, 0.999, 1e-8, 0, 0};
	st->n = ((int64_t) model->n_users + model->n_items) * f + (st->bias ? model->n_items : 0);

	RG_TRY(train_loop_check_memory(loop, 4.0 * st->n * sizeof(float) + 2.0 * nnz * sizeof(int32_t) +
								   (double) nb * (3 * sizeof(int32_t) + 4 * sizeof(float)),
								   (double) st->n));
	st->w = rg_alloc(sizeof(float) * st->n);
	st->g = rg_alloc0(sizeof(float) * st->n);
	adam_init(&st->opt, rg_alloc(sizeof(float) * st->n),
			  rg_alloc(sizeof(float) * st->n), st->n);
	st->user_of = rg_alloc(sizeof(int32_t) * RG_MAX(nnz, 1));
	st->order = rg_alloc(sizeof(int32_t) * RG_MAX(nnz, 1));
	st->tu = rg_alloc_array(int32_t, nb);
	st->ti = rg_alloc_array(int32_t, nb);
	st->tj = rg_alloc_array(int32_t, nb);
	st->scores = rg_alloc_array(float, 4 * (size_t) nb);
	factor_user_of_positives(fit, st->user_of);

	rng_seed(&st->rng, seed);
	init_normal(st->w, (float) opt[OPT_INIT_STD], ((int64_t) model->n_users + model->n_items) * f,
				&st->rng);
	if (st->bias)
		memset(st->w + ((size_t) model->n_users + model->n_items) * f, 0,
			   sizeof(float) * model->n_items);

	model->n_tensors = st->bias ? 3 : 2;
	model->tensors[0] = (Tensor) {(int64_t) model->n_users * f, st->w};
	model->tensors[1] = (Tensor) {(int64_t) model->n_items * f, st->w + (size_t) model->n_users * f};
	if (st->bias)
		model->tensors[2] = (Tensor) {model->n_items,
		st->w + ((size_t) model->n_users + model->n_items) * f};
	*state = st;
	return RG_OK;
}

/* One epoch: every positive `negatives` times, in a fresh random order. */
static RgStatus
BprEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	BprState   *st = state;
	const Csr  *fit = st->fit;
	int64_t		nnz = CsrNnz(fit);
	double		sum = 0.0;
	int64_t		seen = 0;

	for (int rep = 0; rep < st->negatives; rep++)
	{
		sample_permutation(st->order, nnz, &st->rng);
		for (int64_t p0 = 0; p0 < nnz; p0 += st->batch)
		{
			int			nb = (int) RG_MIN((int64_t) st->batch, nnz - p0);
			double		l;

			sample_bpr_triples(&st->rng, fit->indptr, fit->indices, fit->n_cols, st->user_of,
										   st->order + p0, nb, st->tu, st->ti, st->tj);
			l = BprBatch(st, nb);
			adam_update_zero(st->w, &st->opt, st->g, &st->adam);	/* g is zero again */
			RG_TRY(train_loop_batch(loop, l));
			sum += l * nb;
			seen += nb;
		}
	}
	*loss = seen > 0 ? sum / seen : NAN;
	*aux_loss = NAN;
	return RG_OK;
}

static const IterativeOps bpr_iterative = {
	.begin = BprBegin,
	.epoch = BprEpoch,
	.diverged_hint = "Lower \"lr\" or raise \"reg\".",
};

/* Train through the shared loop (validation, early stopping, refit). */
static RgStatus
BprTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	return train_loop_run(in, model, &bpr_iterative, OPT_LOOP, report, arg, err);
}

/* (U, F), (I, F) and, with item_bias, (I). */
static RgStatus
BprValidate(const Model *model, RgError *err)
{
	int64_t		f = (int64_t) model->hyper[OPT_FACTORS];
	int64_t		expected[3] = {model->n_users * f, model->n_items * f, model->n_items};

	return model_check_tensors(model, model->hyper[OPT_ITEM_BIAS] != 0 ? 3 : 2, expected, err);
}

/* scores (Q, I) = X_q Y^T (+ b); a fold-in query's x is its history's mean item vector. */
static void
BprScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int			f = (int) model->hyper[OPT_FACTORS];
	const float *x = model->tensors[0].data;
	const float *y = model->tensors[1].data;
	float	   *xq = rg_alloc_array(float, (size_t) nq * f);	/* (Q, F) */

	for (int q = 0; q < nq; q++)
	{
		if (queries[q].user >= 0)
			memcpy(xq + (size_t) q * f, x + (size_t) queries[q].user * f, sizeof(float) * f);
		else
			factor_mean_rows(xq + (size_t) q * f, y, queries[q].items, queries[q].n_items, f);
	}
	factor_score(xq, nq, y, model->n_tensors > 2 ? model->tensors[2].data : NULL,
				 model->n_items, f, scores);
	rg_free(xq);
}

/* Cosine of the item vectors. */
static void
BprSimilar(const Model *model, int32_t item, float *scores)
{
	factor_cosine(model->tensors[1].data, model->n_items, (int) model->hyper[OPT_FACTORS],
				  item, scores);
}

const ModelOps bpr_ops = {
	.name = "bpr",
	.algorithm = RECGAN_ALG_BPR,
	.options = bpr_options,
	.n_options = RG_LENGTHOF(bpr_options),
	.train = BprTrain,
	.validate = BprValidate,
	.score = BprScore,
	.similar = BprSimilar,
};
