/*
 * alg_lightgcn.c
 *	  LightGCN (He, Deng, Wang, Li, Zhang and Wang, SIGIR 2020): embeddings
 *	  propagated over the symmetric-normalised user-item graph, trained with
 *	  BPR.
 *
 * Legend: U users, I items, N = U + I nodes, F factors, K layers, B batch,
 * P positives.
 *
 * Â = D^-1/2 A D^-1/2 is built from the fitted positives (graph.c); the
 * final embeddings are E = (1 / (K + 1)) sum_{k=0..K} Â^k E0 and the score
 * of (u, i) is e_u . e_i.  An epoch visits every fitted positive once in a
 * seeded random order with a uniform negative each (sample_negative); a
 * batch of B triples minimises BPR on E plus reg/2 times the mean squared
 * norm of the batch's layer-0 rows (lightgcn_bpr_loss, as the paper's
 * code), and Adam updates E0.  As in the paper's code the propagation runs
 * once per batch; graph.c computes it exactly but only where the batch
 * needs it (see there), and the backward goes through all K products.
 *
 * After an epoch whose tensors the training loop reads (it validates, or
 * the epoch is the run's last) the full propagation E is computed once:
 * the model's tensors are E's user and item rows (what validation scores
 * and what is stored), not E0.  Scoring is X_q Y^T through sgemm.
 *
 * Fold-in (recgan_recommend_items): a new user joins the graph with no
 * layer-0 embedding of their own, so their layer-1 embedding is the
 * one-hop propagation sum_{i in H} e_i / sqrt(|H| d_i) of their history
 * H.  The stored item rows are already the layer means, so the fold-in
 * vector is sum_{i in H} y_i / sqrt(d_i) (d_i the item's training
 * positives; the common factor does not change a ranking).  Similar items:
 * cosine of the final item embeddings.
 *
 * Tensors: 0 = final user embeddings (U, F), 1 = final item embeddings (I, F).
 * Options: factors, layers, lr, reg, batch, init_std, lr_decay, then the
 * training-loop options.  lr_decay multiplies Adam's learning rate after
 * every epoch (1, the default, keeps it constant): with the large batches
 * that make an epoch cheap, a decaying rate is what lets the embeddings
 * settle (the Gowalla schedule in the README was chosen on a holdout).
 */
#include <math.h>
#include <string.h>

#include "factor.h"
#include "graph.h"
#include "model.h"
#include "trainloop.h"
#include "nn.h"
#include "optim.h"
#include "rng.h"

enum
{
	OPT_FACTORS,
	OPT_LAYERS,
	OPT_LR,
	OPT_REG,
	OPT_BATCH,
	OPT_INIT_STD,
	OPT_LR_DECAY,
	OPT_LOOP					/* RECGAN_LOOP_OPTIONS */
};

static const OptionSpec lightgcn_options[] = {
	{"factors", OPT_INT, 64, 1, 4096, NULL, "embedding width"},
	{"layers", OPT_INT, 3, 0, 10, NULL, "propagation layers K (0 is BPR-MF)"},
	{"lr", OPT_REAL, 0.01, 1e-6, 10, NULL, "Adam learning rate (the paper: 0.001 with batch 2048)"},
	{"reg", OPT_REAL, 1e-4, 0, 1e6, NULL, "L2 regularisation of the batch's layer-0 rows"},
	{"batch", OPT_INT, 4096, 1, 1000000, NULL, "triples per mini-batch (the paper: 2048)"},
	{"init_std", OPT_REAL, 0.1, 0, 10, NULL, "standard deviation of the initial embeddings"},
	{"lr_decay", OPT_REAL, 1.0, 0.5, 1.0, NULL, "factor applied to lr after every epoch"},
	RECGAN_LOOP_OPTIONS(300, 10),
};

/* Training state of one run. */
typedef struct LightgcnState
{
	Model	   *model;
	const Csr  *fit;			/* (U x I) positives being fitted */
	int			f;				/* F */
	int			layers;			/* K */
	int			batch;			/* B */
	double		reg;
	double		lr_decay;
	AdamConfig	adam;
	AdamState	opt;
	GraphAdj	adj;			/* Â of fit */
	float	   *e0;				/* (N, F) layer-0 embeddings: the weights */
	float	   *g;				/* (N, F) their gradient */
	float	   *final;			/* (N, F) propagated: the model's tensors */
	LightgcnWork work;
	int32_t    *user_of;		/* (P) user of each fitted positive */
	int32_t    *order;			/* (P) the epoch's order */
	int32_t    *tu,
			   *ti,
			   *tj;				/* (B) the batch's triples */
	Rng			rng;
} LightgcnState;

/* Bytes of training state beyond the holdout (see LightgcnBegin). */
static double
LightgcnBytes(const Model *model, int64_t nnz, int f, int nb)
{
	double		n = (double) model->n_users + model->n_items;

	return n * f * sizeof(float) * 9 +	/* e0, g, m, v, final, dE, 2 scratch, + slack */
		(n + 1) * sizeof(int64_t) + 2.0 * nnz * (sizeof(int32_t) + sizeof(float)) +
		(double) model->n_items * sizeof(int64_t) + n * sizeof(int32_t) +
		2.0 * nnz * sizeof(int32_t) +
		(double) nb * (9 * sizeof(int32_t) + 3.0 * f * sizeof(float) + 7 * sizeof(float));
}

/* Allocate the scratch of lightgcn_bpr_loss for n nodes (nf floats) and batches of nb. */
static void
LightgcnWorkAlloc(LightgcnWork *work, int32_t n, size_t nf, int nb, int f)
{
	work->slot = rg_alloc(sizeof(int32_t) * n);
	memset(work->slot, -1, sizeof(int32_t) * n);
	work->rows = rg_alloc_array(int32_t, 3 * (size_t) nb);
	work->inc_ptr = rg_alloc_array(int32_t, 3 * (size_t) nb + 1);
	work->inc = rg_alloc_array(int32_t, 3 * (size_t) nb);
	work->emb = rg_alloc_lines(sizeof(float) * 3 * (size_t) nb * f);
	work->norm = rg_alloc_array(float, 3 * (size_t) nb);
	work->dE = rg_alloc_lines0(sizeof(float) * nf);
	work->scratch = rg_alloc_lines(sizeof(float) * 2 * nf);
	work->sp = rg_alloc_array(float, nb);
	work->sn = rg_alloc_array(float, nb);
	work->dp = rg_alloc_array(float, nb);
	work->dn = rg_alloc_array(float, nb);
}

/* Allocate the graph, the weights and the scratch; initialise E0. */
static RgStatus
LightgcnBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64_t seed,
			  void **state)
{
	LightgcnState *st = rg_alloc0(sizeof(LightgcnState));
	int			f = (int) opt[OPT_FACTORS];
	int			nb = (int) opt[OPT_BATCH];
	int64_t		nnz = CsrNnz(fit);
	int32_t		n = model->n_users + model->n_items;
	size_t		nf = (size_t) n * f;

	st->model = model;
	st->fit = fit;
	st->f = f;
	st->layers = (int) opt[OPT_LAYERS];
	st->batch = nb;
	st->reg = opt[OPT_REG];
	st->lr_decay = opt[OPT_LR_DECAY];
	st->adam = (AdamConfig) {opt[OPT_LR], 0.9, 0.999, 1e-8, 0, 0};
	RG_TRY(train_loop_check_memory(loop, LightgcnBytes(model, nnz, f, nb), (double) nf));

	st->adj.indptr = rg_alloc(sizeof(int64_t) * ((size_t) n + 1));
	st->adj.indices = rg_alloc(sizeof(int32_t) * RG_MAX(2 * nnz, 1));
	st->adj.values = rg_alloc(sizeof(float) * RG_MAX(2 * nnz, 1));
	graph_build_adjacency(&st->adj, fit->indptr, fit->indices, model->n_users, model->n_items,
						  rg_alloc(sizeof(int64_t) * RG_MAX(model->n_items, 1)));
	st->e0 = rg_alloc_lines(sizeof(float) * nf);
	st->g = rg_alloc_lines0(sizeof(float) * nf);
	st->final = rg_alloc_lines(sizeof(float) * nf);
	adam_init(&st->opt, rg_alloc_lines(sizeof(float) * nf), rg_alloc_lines(sizeof(float) * nf),
			  (int64_t) nf);
	LightgcnWorkAlloc(&st->work, n, nf, nb, f);
	st->user_of = rg_alloc(sizeof(int32_t) * RG_MAX(nnz, 1));
	st->order = rg_alloc(sizeof(int32_t) * RG_MAX(nnz, 1));
	st->tu = rg_alloc_array(int32_t, nb);
	st->ti = rg_alloc_array(int32_t, nb);
	st->tj = rg_alloc_array(int32_t, nb);
	factor_user_of_positives(fit, st->user_of);

	rng_seed(&st->rng, seed);
	init_normal(st->e0, (float) opt[OPT_INIT_STD], (int64_t) nf, &st->rng);
	lightgcn_forward(st->final, &st->adj, st->e0, st->layers, f, st->work.scratch);

	model->n_tensors = 2;
	model->tensors[0] = (Tensor) {(int64_t) model->n_users * f, st->final};
	model->tensors[1] = (Tensor) {(int64_t) model->n_items * f, st->final + (size_t) model->n_users * f};
	*state = st;
	return RG_OK;
}

/* One epoch over every positive, then the full propagation when the tensors are read. */
static RgStatus
LightgcnEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	LightgcnState *st = state;
	const Csr  *fit = st->fit;
	int64_t		nnz = CsrNnz(fit);
	double		sum = 0.0;

	sample_permutation(st->order, nnz, &st->rng);
	for (int64_t p0 = 0; p0 < nnz; p0 += st->batch)
	{
		int			nb = (int) RG_MIN((int64_t) st->batch, nnz - p0);
		double		l;

		sample_bpr_triples(&st->rng, fit->indptr, fit->indices, fit->n_cols, st->user_of,
								   st->order + p0, nb, st->tu, st->ti, st->tj);
		l = lightgcn_bpr_loss(st->g, &st->work, &st->adj, st->e0, st->model->n_users,
							  st->layers, st->f, st->tu, st->ti, st->tj, nb, st->reg);
		adam_update_zero(st->e0, &st->opt, st->g, &st->adam);	/* g is zero again */
		RG_TRY(train_loop_batch(loop, l));
		sum += l * nb;
	}
	st->adam.lr *= st->lr_decay;
	if (train_loop_reads_tensors(loop))
		lightgcn_forward(st->final, &st->adj, st->e0, st->layers, st->f, st->work.scratch);
	*loss = nnz > 0 ? sum / nnz : NAN;
	*aux_loss = NAN;
	return RG_OK;
}

static const IterativeOps lightgcn_iterative = {
	.begin = LightgcnBegin,
	.epoch = LightgcnEpoch,
	.diverged_hint = "Lower \"lr\" or raise \"reg\".",
};

/* Train through the shared loop (validation, early stopping, refit). */
static RgStatus
LightgcnTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	return train_loop_run(in, model, &lightgcn_iterative, OPT_LOOP, report, arg, err);
}

/* Two tensors, (U, F) and (I, F). */
static RgStatus
LightgcnValidate(const Model *model, RgError *err)
{
	int64_t		f = (int64_t) model->hyper[OPT_FACTORS];
	int64_t		expected[2] = {model->n_users * f, model->n_items * f};

	return model_check_tensors(model, 2, expected, err);
}

/* Fold-in vector: sum over the history of y_i / sqrt(d_i) (see the file comment). */
static void
LightgcnFoldIn(float *x, const Model *model, const ScoreQuery *q, int f)
{
	const float *y = model->tensors[1].data;

	for (int c = 0; c < f; c++)
	{
		double		sum = 0.0;

		for (int32_t h = 0; h < q->n_items; h++)
		{
			int32_t		i = q->items[h];
			double		d = model->popularity ? model->popularity[i] : 1.0;

			sum += y[(size_t) i * f + c] / sqrt(RG_MAX(d, 1.0));
		}
		x[c] = (float) sum;
	}
}

/* scores (Q, I) = X_q Y^T over the propagated embeddings. */
static void
LightgcnScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int			f = (int) model->hyper[OPT_FACTORS];
	const float *x = model->tensors[0].data;
	float	   *xq = rg_alloc_array(float, (size_t) nq * f);	/* (Q, F) */

	for (int q = 0; q < nq; q++)
	{
		if (queries[q].user >= 0)
			memcpy(xq + (size_t) q * f, x + (size_t) queries[q].user * f, sizeof(float) * f);
		else
			LightgcnFoldIn(xq + (size_t) q * f, model, &queries[q], f);
	}
	factor_score(xq, nq, model->tensors[1].data, NULL, model->n_items, f, scores);
	rg_free(xq);
}

/* Cosine of the propagated item embeddings. */
static void
LightgcnSimilar(const Model *model, int32_t item, float *scores)
{
	factor_cosine(model->tensors[1].data, model->n_items, (int) model->hyper[OPT_FACTORS],
				  item, scores);
}

const ModelOps lightgcn_ops = {
	.name = "lightgcn",
	.algorithm = RECGAN_ALG_LIGHTGCN,
	.options = lightgcn_options,
	.n_options = RG_LENGTHOF(lightgcn_options),
	.train = LightgcnTrain,
	.validate = LightgcnValidate,
	.score = LightgcnScore,
	.similar = LightgcnSimilar,
};
