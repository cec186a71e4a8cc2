/*
 * bpr.c
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
#include "postgres.h"

#include <math.h>

#include "factor.h"
#include "model.h"
#include "nn.h"
#include "optim.h"
#include "recgan.h"
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
	int64		n;				/* weights: (U + I) F (+ I) */
	float	   *w;				/* (n) X, then Y, then the bias */
	float	   *g;				/* (n) gradients, same layout */
	int32	   *user_of;		/* (P) user of each fitted positive */
	int32	   *order;			/* (P) the epoch's order */
	int32	   *tu,
			   *ti,
			   *tj;				/* (B) the batch's triples */
	float	   *scores;			/* (4 B) scores and their gradients */
	Rng			rng;
} BprState;

/* Loss of one batch; adds its gradient to st->g (nn.c's engine kernel). */
static double
BprBatch(BprState *st, int nb)
{
	Size		xs = (Size) st->model->n_users * st->f,
				ys = (Size) st->model->n_items * st->f;

	return bpr_mf_batch(st->g, st->g + xs, st->bias ? st->g + xs + ys : NULL,
						st->w, st->w + xs, st->bias ? st->w + xs + ys : NULL,
						st->tu, st->ti, st->tj, nb, st->f, st->reg, st->scores);
}

/* Allocate and initialise the weights; point the model's tensors at them. */
static void *
BprBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64 seed)
{
	BprState   *st = palloc0(sizeof(BprState));
	int			f = (int) opt[OPT_FACTORS];
	int64		nnz = CsrNnz(fit);
	int			nb = (int) opt[OPT_BATCH];

	st->model = model;
	st->fit = fit;
	st->f = f;
	st->bias = opt[OPT_ITEM_BIAS] != 0;
	st->batch = nb;
	st->negatives = (int) opt[OPT_NEGATIVES];
	st->reg = opt[OPT_REG];
	st->adam = (AdamConfig) {opt[OPT_LR], 0.9, 0.999, 1e-8, 0, 0};
	st->n = ((int64) model->n_users + model->n_items) * f + (st->bias ? model->n_items : 0);

	TrainLoopCheckMemory(loop, 4.0 * st->n * sizeof(float) + 2.0 * nnz * sizeof(int32) +
						 (double) nb * (3 * sizeof(int32) + 4 * sizeof(float)),
						 (double) st->n);
	st->w = palloc_extended(sizeof(float) * st->n, MCXT_ALLOC_HUGE);
	st->g = palloc_extended(sizeof(float) * st->n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	adam_init(&st->opt, palloc_extended(sizeof(float) * st->n, MCXT_ALLOC_HUGE),
			  palloc_extended(sizeof(float) * st->n, MCXT_ALLOC_HUGE), st->n);
	st->user_of = palloc_extended(sizeof(int32) * Max(nnz, 1), MCXT_ALLOC_HUGE);
	st->order = palloc_extended(sizeof(int32) * Max(nnz, 1), MCXT_ALLOC_HUGE);
	st->tu = palloc_array(int32, nb);
	st->ti = palloc_array(int32, nb);
	st->tj = palloc_array(int32, nb);
	st->scores = palloc_array(float, 4 * (Size) nb);
	FactorUserOfPositives(fit, st->user_of);

	rng_seed(&st->rng, seed);
	init_normal(st->w, (float) opt[OPT_INIT_STD], ((int64) model->n_users + model->n_items) * f,
				&st->rng);
	if (st->bias)
		memset(st->w + ((Size) model->n_users + model->n_items) * f, 0,
			   sizeof(float) * model->n_items);

	model->n_tensors = st->bias ? 3 : 2;
	model->tensors[0] = (Tensor) {(int64) model->n_users * f, st->w};
	model->tensors[1] = (Tensor) {(int64) model->n_items * f, st->w + (Size) model->n_users * f};
	if (st->bias)
		model->tensors[2] = (Tensor) {model->n_items,
		st->w + ((Size) model->n_users + model->n_items) * f};
	RecganThreadsSetup();
	return st;
}

/* One epoch: every positive `negatives` times, in a fresh random order. */
static void
BprEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	BprState   *st = state;
	const Csr  *fit = st->fit;
	int64		nnz = CsrNnz(fit);
	double		sum = 0.0;
	int64		seen = 0;

	for (int rep = 0; rep < st->negatives; rep++)
	{
		sample_permutation(st->order, nnz, &st->rng);
		for (int64 p0 = 0; p0 < nnz; p0 += st->batch)
		{
			int			nb = (int) Min((int64) st->batch, nnz - p0);
			double		l;

			sample_bpr_triples(&st->rng, fit->indptr, fit->indices, fit->n_cols, st->user_of,
										   st->order + p0, nb, st->tu, st->ti, st->tj);
			l = BprBatch(st, nb);
			adam_update_zero(st->w, &st->opt, st->g, &st->adam);	/* g is zero again */
			TrainLoopBatch(loop, l);
			sum += l * nb;
			seen += nb;
		}
	}
	*loss = seen > 0 ? sum / seen : NAN;
	*aux_loss = NAN;
}

static const IterativeOps bpr_iterative = {
	.begin = BprBegin,
	.epoch = BprEpoch,
	.diverged_hint = "Lower \"lr\" or raise \"reg\".",
};

/* Train through the shared loop (validation, early stopping, refit). */
static void
BprTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg)
{
	TrainLoopRun(in, model, &bpr_iterative, OPT_LOOP, report, arg);
}

/* (U, F), (I, F) and, with item_bias, (I). */
static void
BprValidate(const Model *model)
{
	int64		f = (int64) model->hyper[OPT_FACTORS];
	int64		expected[3] = {model->n_users * f, model->n_items * f, model->n_items};

	ModelCheckTensors(model, model->hyper[OPT_ITEM_BIAS] != 0 ? 3 : 2, expected);
}

/* scores (Q, I) = X_q Y^T (+ b); a fold-in query's x is its history's mean item vector. */
static void
BprScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int			f = (int) model->hyper[OPT_FACTORS];
	const float *x = model->tensors[0].data;
	const float *y = model->tensors[1].data;
	float	   *xq = palloc_array(float, (Size) nq * f);	/* (Q, F) */

	for (int q = 0; q < nq; q++)
	{
		if (queries[q].user >= 0)
			memcpy(xq + (Size) q * f, x + (Size) queries[q].user * f, sizeof(float) * f);
		else
			FactorMeanRows(xq + (Size) q * f, y, queries[q].items, queries[q].n_items, f);
	}
	FactorScore(xq, nq, y, model->n_tensors > 2 ? model->tensors[2].data : NULL,
				model->n_items, f, scores);
	pfree(xq);
}

/* Cosine of the item vectors. */
static void
BprSimilar(const Model *model, int32 item, float *scores)
{
	FactorCosine(model->tensors[1].data, model->n_items, (int) model->hyper[OPT_FACTORS],
				 item, scores);
}

const ModelOps bpr_ops = {
	.name = "bpr",
	.algorithm = RECGAN_ALG_BPR,
	.options = bpr_options,
	.n_options = lengthof(bpr_options),
	.train = BprTrain,
	.validate = BprValidate,
	.score = BprScore,
	.similar = BprSimilar,
};
