/*
 * trainloop.h
 *	  Iterative training (trainloop.c).  What every iterative model gets
 *	  without writing it: a validation holdout, epochs, early stopping on the
 *	  validation NDCG with the best epoch's weights kept, a row per epoch,
 *	  progress notices, interrupts and divergence checks every batch.
 *
 * A model declares RECGAN_LOOP_OPTIONS at the end of its OptionSpec table
 * and its train function calls train_loop_run with an IterativeOps table.
 */
#ifndef RECGAN_TRAINLOOP_H
#define RECGAN_TRAINLOOP_H

#include "model.h"
#include "rng.h"

#define RECGAN_LOOP_OPTIONS(max_epochs, patience) \
	{"epochs", OPT_INT, (max_epochs), 1, 100000, NULL, \
	 "maximum number of epochs"}, \
	{"patience", OPT_INT, (patience), 0, 100000, NULL, \
	 "stop after this many epochs without a better validation NDCG; 0 runs every epoch"}, \
	{"validation_fraction", OPT_REAL, 0.1, 0, 0.9, NULL, \
	 "share of each user's training positives held out for validation; 0 for none"}, \
	{"validation_k", OPT_INT, 20, 1, 10000, NULL, \
	 "cutoff of the validation NDCG"}, \
	{"refit", OPT_BOOL, 1, 0, 1, NULL, \
	 "retrain on all positives for the best epoch count after validation"}
#define RECGAN_N_LOOP_OPTIONS 5

typedef struct TrainLoop TrainLoop;

/* A validation holdout of the training positives (trainloop.c: "Holdout"). */
typedef struct Holdout
{
	Csr			fit;			/* (U x I) training positives minus validation */
	Csr			val;			/* (U x I) validation positives */
	int32_t    *val_users;		/* (V) users with a validation positive */
	int32_t		n_val_users;	/* V */
} Holdout;

/* Buffers to score a holdout's users in blocks (holdout_ndcg). */
typedef struct HoldoutScorer
{
	int			block;			/* users per block */
	int			k;				/* NDCG cutoff */
	ScoreQuery *queries;		/* (block) */
	float	   *scores;			/* (block, I) */
	int32_t    *heap;			/* (k) */
	int32_t    *top;			/* (k) */
	bool	   *relevant;		/* (I) the scored user's validation items */
} HoldoutScorer;

/*
 * Split full into h->fit and h->val: each user with n positives gives
 * floor(fraction n + u) of them, u ~ U(0, 1) drawn from rng, at most n - 1.
 * The training loop's split for the same seed and fraction.
 */
extern void holdout_split(Holdout *h, const Csr *full, double fraction, Rng *rng);

/* Users per validation block for these dimensions (64 MB of scores at most). */
extern int	holdout_block(int32_t n_users, int32_t n_items);

/* Allocate a scorer's buffers: blocks of block users, NDCG@k. */
extern void holdout_scorer_init(HoldoutScorer *s, int32_t n_items, int block, int k);

/*
 * Mean NDCG@k over h's validation users of model's current weights, their
 * fit positives (model->pos must be h->fit) excluded: the validation value
 * of the training loop.
 */
extern RgStatus holdout_ndcg(const Holdout *h, HoldoutScorer *s, Model *model, double *ndcg,
							 RgError *err);

typedef struct IterativeOps
{
	/*
	 * Set up training on fit (the U x I positives to fit, with the
	 * validation positives removed) with the resolved options opt: call
	 * train_loop_check_memory before allocating, initialise the weights from
	 * seed, and point model->tensors at the live weights (ops->score reads
	 * them there).  *state gets the model's training state.
	 */
	RgStatus	(*begin) (TrainLoop *loop, Model *model, const double *opt,
						  const Csr *fit, uint64_t seed, void **state);

	/*
	 * Train one epoch; call train_loop_batch after every batch and return
	 * what it returns when that is not RG_OK.  *loss and *aux_loss get the
	 * epoch's losses (NaN when not applicable).
	 */
	RgStatus	(*epoch) (void *state, TrainLoop *loop, double *loss, double *aux_loss);

	const char *diverged_hint;	/* the hint when a loss is not finite */

	/*
	 * Optional: at most this many validation users (0: all), from the
	 * resolved options; the loop then validates on a uniform sample of
	 * them, the same every epoch, drawn from its own stream of the seed.
	 * NULL: every user with a validation positive.
	 */
	int			(*validation_users) (const double *opt);
} IterativeOps;

/*
 * Train model with it: the options RECGAN_LOOP_OPTIONS start at position
 * first_loop_option of in->opt.  On return model->tensors hold the final
 * weights (see trainloop.c: the refit's, the best epoch's, or the last
 * epoch's), and model->pos is all of in->pos's positives again.
 */
extern RgStatus train_loop_run(const TrainInput *in, Model *model, const IterativeOps *it,
							   int first_loop_option, EpochCallback report, void *report_arg,
							   RgError *err);

/*
 * RG_PROGRAM_LIMIT when model_bytes of training memory plus the loop's own
 * (holdout, best weights for tensor_floats floats, validation scores)
 * exceed the host's limit.
 */
extern RgStatus train_loop_check_memory(TrainLoop *loop, double model_bytes,
										double tensor_floats);

/* After every batch: honour interrupts; RG_DATA_EXCEPTION unless loss is finite. */
extern RgStatus train_loop_batch(TrainLoop *loop, double loss);

/*
 * Whether the loop reads the model's tensors after the running epoch: when
 * it validates, and after the run's last epoch.  A model whose tensors are
 * derived from its weights (LightGCN's propagation) may skip deriving them
 * otherwise.
 */
extern bool train_loop_reads_tensors(const TrainLoop *loop);

/* The loop's error, for a model's own failures inside begin or epoch. */
extern RgError *train_loop_error(TrainLoop *loop);

#endif							/* RECGAN_TRAINLOOP_H */
