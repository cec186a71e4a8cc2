/*
 * trainloop.c
 *	  The epoch loop every iterative model shares: validation holdout,
 *	  validation NDCG after each epoch, early stopping with the best epoch's
 *	  weights, epoch rows, progress NOTICEs, interrupts and divergence checks.
 *
 * Legend: U users, I items, V validation users, Q users in a scoring block.
 *
 * Holdout.  With validation_fraction f > 0, each user with n training
 * positives gives floor(f n + u) of them, u ~ U(0, 1) (stochastic rounding,
 * so about f of all positives), at most n - 1, chosen uniformly: a user
 * with one positive keeps it.  The draws come from the engine Rng seeded
 * with the model's seed, so the split is reproducible.  The model is fitted
 * on the rest ("fit"); the weights it ends with are the best epoch's of
 * that fit, and they are not refitted on all positives.
 *
 * Validation.  After each epoch the users with a validation positive are
 * scored through ops->score with the current weights (the model's tensors
 * point at them), their fit positives excluded, and the mean NDCG@k over
 * those users (binary relevance, IDCG over min(k, |validation items|)
 * ranks, as in recgan_evaluate) is the epoch's validation value.  The best
 * value's tensors are copied aside; after `patience` epochs without a
 * strictly better value the loop stops (patience 0: it runs every epoch),
 * and the best copy becomes the model.
 *
 * Refit (option refit, on by default).  The validated run only chooses the
 * number of epochs: the model is then trained again from the same seed on
 * all training positives for the best epoch's count, without validation,
 * and that is the stored model (the usual protocol: a model fitted on 90 %
 * of the data is measurably worse than one fitted on all of it).  The
 * refit's epochs are reported after the validated ones, numbered from 1
 * again, with validation NULL.  With refit off, the stored weights are the
 * best epoch's of the fit on train minus validation.
 *
 * The stored model.  While training, model->pos is the data being fitted,
 * so that a model which scores from its own positives (CFGAN item-based)
 * validates without seeing the validation items.  At the end model->pos is
 * all training positives again: the stored CSR is what recommendations
 * must exclude and what such models condition on when serving.
 *
 * Each run's allocations live in a "recgan fit" context deleted at its
 * end; the final tensors are made in the caller's context.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "model.h"
#include "recgan.h"
#include "rng.h"
#include "topk.h"

/* Seconds between progress NOTICEs. */
#define NOTICE_SECONDS 10.0

/* Most bytes of validation scores computed at once. */
#define VALIDATION_BLOCK_BYTES (64 * 1024 * 1024)

struct TrainLoop
{
	const IterativeOps *it;
	Model	   *model;
	int			max_epochs;
	int			patience;
	double		fraction;
	int			k;
	bool		refit;
	bool		refitting;		/* in the refit run */

	Csr			full;			/* (U x I) all training positives */
	Csr			fit;			/* (U x I) full minus validation */
	Csr			val;			/* (U x I) validation positives */
	int32	   *val_users;		/* (V) users with a validation positive */
	int32		n_val_users;

	int			epoch;			/* the running epoch, from 1 */
	int			run_epochs;		/* epochs of the running fit at most */
	double		best;			/* best validation NDCG, -1 before any */
	int			best_epoch;
	float	   *final;			/* the best epoch's tensors, back to back, then the
								 * model's (in the caller's context) */
	int64		tensor_floats;
	int			epochs_run;		/* over both runs */

	int			block;			/* users per validation block */
	ScoreQuery *queries;		/* (block) */
	float	   *scores;			/* (block, I) */
	int32	   *heap;			/* (k) */
	int32	   *top;			/* (k) */
	bool	   *relevant;		/* (I) the scored user's validation items */
	MemoryContext score_cxt;	/* what ops->score allocates, reset per block */

	instr_time	start;
	double		last_notice;	/* seconds since start at the last NOTICE */
	bool		noticed;
};

/* Split full into fit and val per user (see the file comment). */
static void
SplitHoldout(TrainLoop *loop, Rng *rng)
{
	const Csr  *full = &loop->full;
	int64		nnz = CsrNnz(full);
	int32	   *picked = palloc_array(int32, Max(full->n_cols, 1));
	int64		nf = 0,
				nv = 0;

	loop->fit = loop->val = (Csr) {full->n_rows, full->n_cols, NULL, NULL};
	loop->fit.indptr = palloc_array(int64, (Size) full->n_rows + 1);
	loop->val.indptr = palloc_array(int64, (Size) full->n_rows + 1);
	loop->fit.indices = palloc_extended(sizeof(int32) * Max(nnz, 1), MCXT_ALLOC_HUGE);
	loop->val.indices = palloc_extended(sizeof(int32) * Max(nnz, 1), MCXT_ALLOC_HUGE);
	loop->val_users = palloc_array(int32, Max(full->n_rows, 1));
	loop->n_val_users = 0;
	for (int32 u = 0; u < full->n_rows; u++)
	{
		const int32 *row = CsrRow(full, u);
		int32		n = CsrRowLen(full, u);
		int32		k = (int32) floor(loop->fraction * n + rng_uniform(rng));
		int32		j = 0;

		loop->fit.indptr[u] = nf;
		loop->val.indptr[u] = nv;
		k = Max(0, Min(k, n - 1));
		rng_sample_sorted(rng, n, k, picked);
		for (int32 p = 0; p < n; p++)
		{
			if (j < k && picked[j] == p)
			{
				loop->val.indices[nv++] = row[p];
				j++;
			}
			else
				loop->fit.indices[nf++] = row[p];
		}
		if (k > 0)
			loop->val_users[loop->n_val_users++] = u;
	}
	loop->fit.indptr[full->n_rows] = nf;
	loop->val.indptr[full->n_rows] = nv;
	pfree(picked);
}

/* Estimate everything and refuse above recgan.max_train_memory. */
void
TrainLoopCheckMemory(TrainLoop *loop, double model_bytes, double tensor_floats)
{
	double		n_items = loop->model->n_items;
	double		bytes = model_bytes;

	/* holdout: fit and val CSRs, val user list */
	bytes += 2.0 * (CsrNnz(&loop->full) * 4.0 + (loop->full.n_rows + 1.0) * 8.0) +
		loop->full.n_rows * 4.0;
	/* the best (then final) weights */
	bytes += tensor_floats * sizeof(float);
	/* validation block, top-k buffers, relevance marks */
	bytes += loop->block * (n_items * sizeof(float) + sizeof(ScoreQuery)) + 2.0 * loop->k * 4.0 +
		n_items;
	RecganCheckTrainMemory(bytes, loop->model->ops->name);
}

/* Honour interrupts; stop with DATA_EXCEPTION on a non-finite loss. */
void
TrainLoopBatch(TrainLoop *loop, double loss)
{
	CHECK_FOR_INTERRUPTS();
	if (!isfinite(loss))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s training diverged at epoch %d%s", loop->model->ops->name, loop->epoch,
						loop->refitting ? " of the refit on all positives" : ""),
				 errdetail("A batch loss is %s.", isnan(loss) ? "NaN" : "infinite"),
				 errhint("%s", loop->it->diverged_hint)));
}

/* NDCG@k of one scored user against its validation items; scores are consumed. */
static double
UserNdcg(TrainLoop *loop, float *scores, const ScoreQuery *q)
{
	const int32 *val = CsrRow(&loop->val, q->user);
	int32		n_val = CsrRowLen(&loop->val, q->user);
	int32		got;
	double		dcg = 0.0,
				idcg = 0.0;

	for (int32 h = 0; h < q->n_items; h++)
		scores[q->items[h]] = -INFINITY;
	got = topk_select(scores, loop->model->n_items, loop->k, loop->heap, loop->top);
	for (int32 v = 0; v < n_val; v++)
		loop->relevant[val[v]] = true;
	for (int32 r = 0; r < got; r++)
		if (loop->relevant[loop->top[r]])
			dcg += 1.0 / log2(r + 2.0);
	for (int32 v = 0; v < n_val; v++)
		loop->relevant[val[v]] = false;
	for (int32 r = 0; r < Min(loop->k, n_val); r++)
		idcg += 1.0 / log2(r + 2.0);
	return dcg / idcg;
}

/* Mean validation NDCG@k of the current weights. */
static double
Validate(TrainLoop *loop)
{
	Model	   *model = loop->model;
	double		sum = 0.0;

	for (int32 v0 = 0; v0 < loop->n_val_users; v0 += loop->block)
	{
		int			nq = Min(loop->block, loop->n_val_users - v0);
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		for (int q = 0; q < nq; q++)
			ModelUserQuery(model, loop->val_users[v0 + q], &loop->queries[q]);
		old = MemoryContextSwitchTo(loop->score_cxt);
		model->ops->score(model, loop->queries, nq, loop->scores);
		MemoryContextSwitchTo(old);
		MemoryContextReset(loop->score_cxt);
		for (int q = 0; q < nq; q++)
			sum += UserNdcg(loop, loop->scores + (Size) q * model->n_items, &loop->queries[q]);
	}
	return sum / loop->n_val_users;
}

/* Copy the model's tensors to dst, back to back. */
static void
CopyTensorsOut(const Model *model, float *dst)
{
	for (int t = 0; t < model->n_tensors; t++)
	{
		memcpy(dst, model->tensors[t].data, sizeof(float) * model->tensors[t].len);
		dst += model->tensors[t].len;
	}
}

/* Point the model's tensors at consecutive slices of src. */
static void
PointTensorsAt(Model *model, float *src)
{
	for (int t = 0; t < model->n_tensors; t++)
	{
		model->tensors[t].data = src;
		src += model->tensors[t].len;
	}
}

/* Report the epoch, keep the best weights, NOTICE now and then. */
static void
FinishEpoch(TrainLoop *loop, double loss, double aux, double validation,
			double seconds, EpochCallback report, void *arg)
{
	EpochReport r = {loop->epoch, loss, aux, validation, seconds};
	double		elapsed = RecganElapsed(loop->start);

	report(arg, &r);
	if (!isnan(validation) && validation > loop->best)
	{
		loop->best = validation;
		loop->best_epoch = loop->epoch;
		CopyTensorsOut(loop->model, loop->final);
	}
	if (elapsed - loop->last_notice >= NOTICE_SECONDS)
	{
		if (isnan(validation))
			ereport(NOTICE,
					(errmsg("%s epoch %d of %d: loss %.4f (%.0f s)", loop->model->ops->name,
							loop->epoch, loop->run_epochs, loss, elapsed)));
		else
			ereport(NOTICE,
					(errmsg("%s epoch %d of %d: loss %.4f, validation ndcg@%d %.4f, best %.4f at epoch %d (%.0f s)",
							loop->model->ops->name, loop->epoch, loop->run_epochs, loss,
							loop->k, validation, loop->best, loop->best_epoch, elapsed)));
		loop->last_notice = elapsed;
		loop->noticed = true;
	}
}

/* Read the loop options and the validation block size. */
static void
LoopSetup(TrainLoop *loop, const TrainInput *in, Model *model, int first)
{
	Size		row_bytes = sizeof(float) * (Size) Max(model->n_items, 1);

	loop->model = model;
	loop->max_epochs = (int) in->opt[first];
	loop->patience = (int) in->opt[first + 1];
	loop->fraction = in->opt[first + 2];
	loop->k = (int) in->opt[first + 3];
	loop->refit = in->opt[first + 4] != 0;
	loop->full = in->data->pos;
	loop->best = -1.0;
	loop->block = (int) Max(1, Min((Size) model->n_users, VALIDATION_BLOCK_BYTES / row_bytes));
}

/*
 * One run: begin on data, then up to `epochs` epochs, validating when the
 * holdout has users and this is not the refit.  The weights end up in
 * loop->final: the best epoch's, or the last epoch's without validation.
 */
static void
RunFit(TrainLoop *loop, const TrainInput *in, const Csr *data, uint64 seed, int epochs,
	   EpochCallback report, void *report_arg)
{
	Model	   *model = loop->model;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext fit_cxt = AllocSetContextCreate(caller, "recgan fit", ALLOCSET_DEFAULT_SIZES);
	bool		validating = loop->n_val_users > 0 && !loop->refitting;
	void	   *state;

	MemoryContextSwitchTo(fit_cxt);
	loop->run_epochs = epochs;
	model->pos = *data;
	state = loop->it->begin(loop, model, in->opt, data, seed);
	if (loop->final == NULL)
	{
		for (int t = 0; t < model->n_tensors; t++)
			loop->tensor_floats += model->tensors[t].len;
		loop->final = MemoryContextAllocExtended(caller, sizeof(float) * Max(loop->tensor_floats, 1),
												 MCXT_ALLOC_HUGE);
	}
	if (validating)
	{
		loop->queries = palloc_array(ScoreQuery, loop->block);
		loop->scores = palloc_extended(sizeof(float) * loop->block * (Size) model->n_items,
									   MCXT_ALLOC_HUGE);
		loop->heap = palloc_array(int32, loop->k);
		loop->top = palloc_array(int32, loop->k);
		loop->relevant = palloc0_array(bool, model->n_items);
		loop->score_cxt = AllocSetContextCreate(fit_cxt, "recgan validation",
												ALLOCSET_DEFAULT_SIZES);
	}

	for (loop->epoch = 1; loop->epoch <= epochs; loop->epoch++)
	{
		instr_time	t0;
		double		loss = NAN,
					aux = NAN,
					validation = NAN;

		INSTR_TIME_SET_CURRENT(t0);
		loop->it->epoch(state, loop, &loss, &aux);
		if (validating)
			validation = Validate(loop);
		FinishEpoch(loop, loss, aux, validation, RecganElapsed(t0), report, report_arg);
		if (loop->patience > 0 && loop->best_epoch > 0 &&
			loop->epoch - loop->best_epoch >= loop->patience)
			break;
	}
	loop->epochs_run += Min(loop->epoch, epochs);
	if (!validating)
		CopyTensorsOut(model, loop->final);
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(fit_cxt);
}

/* Run the epochs of an iterative model (see model.h and the file comment). */
void
TrainLoopRun(const TrainInput *in, Model *model, const IterativeOps *it,
			 int first_loop_option, EpochCallback report, void *report_arg)
{
	TrainLoop  *loop = palloc0(sizeof(TrainLoop));
	Rng			rng;
	uint64		seed;

	loop->it = it;
	LoopSetup(loop, in, model, first_loop_option);
	rng_seed(&rng, in->seed);
	if (loop->fraction > 0)
		SplitHoldout(loop, &rng);
	else
		loop->fit = loop->full;
	loop->block = Min(loop->block, Max(loop->n_val_users, 1));
	seed = rng_next(&rng);
	INSTR_TIME_SET_CURRENT(loop->start);

	RunFit(loop, in, &loop->fit, seed, loop->max_epochs, report, report_arg);
	if (loop->refit && loop->best_epoch > 0)
	{
		loop->refitting = true;
		if (loop->noticed)
			ereport(NOTICE,
					(errmsg("%s: best validation ndcg@%d %.4f at epoch %d; refitting on all positives for %d epochs",
							model->ops->name, loop->k, loop->best, loop->best_epoch,
							loop->best_epoch)));
		RunFit(loop, in, &loop->full, seed, loop->best_epoch, report, report_arg);
	}
	if (loop->noticed)
		ereport(NOTICE,
				(errmsg("%s trained %d epochs in %.0f s%s", model->ops->name, loop->epochs_run,
						RecganElapsed(loop->start),
						loop->best_epoch > 0 && !loop->refitting ?
						psprintf(", best validation ndcg@%d %.4f at epoch %d",
								 loop->k, loop->best, loop->best_epoch) : "")));
	PointTensorsAt(model, loop->final);
	model->pos = loop->full;
	pfree(loop);
}
