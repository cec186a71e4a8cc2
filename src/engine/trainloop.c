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
 * Each run's allocations live in an allocation scope (engine.h) freed at
 * its end; the final tensors are allocated outside it.  Errors (a
 * divergence, the memory limit, a cancel) are returned as an RgStatus with
 * the loop's RgError filled.
 */
#include <math.h>
#include <string.h>

#include "model.h"
#include "trainloop.h"
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
	RgError    *err;			/* where a failure is described */

	Csr			full;			/* (U x I) all training positives */
	Holdout		h;				/* full split into fit and validation */

	int			epoch;			/* the running epoch, from 1 */
	int			run_epochs;		/* epochs of the running fit at most */
	double		best;			/* best validation NDCG, -1 before any */
	int			best_epoch;
	float	   *final;			/* the best epoch's tensors, back to back, then the
								 * model's (in the caller's context) */
	int64_t		tensor_floats;
	int			epochs_run;		/* over both runs */

	int			block;			/* users per validation block */
	HoldoutScorer scorer;		/* validation buffers of the running fit */

	double		start;			/* rg_now() at the start */
	double		last_notice;	/* seconds since start at the last NOTICE */
	bool		noticed;
};

/* Split full into fit and val per user (see the file comment). */
void
holdout_split(Holdout *h, const Csr *full, double fraction, Rng *rng)
{
	int64_t		nnz = CsrNnz(full);
	int32_t	   *picked = rg_alloc_array(int32_t, RG_MAX(full->n_cols, 1));
	int64_t		nf = 0,
				nv = 0;

	h->fit = h->val = (Csr) {full->n_rows, full->n_cols, NULL, NULL};
	h->fit.indptr = rg_alloc_array(int64_t, (size_t) full->n_rows + 1);
	h->val.indptr = rg_alloc_array(int64_t, (size_t) full->n_rows + 1);
	h->fit.indices = rg_alloc_array(int32_t, RG_MAX(nnz, 1));
	h->val.indices = rg_alloc_array(int32_t, RG_MAX(nnz, 1));
	h->val_users = rg_alloc_array(int32_t, RG_MAX(full->n_rows, 1));
	h->n_val_users = 0;
	for (int32_t u = 0; u < full->n_rows; u++)
	{
		const int32_t *row = CsrRow(full, u);
		int32_t		n = CsrRowLen(full, u);
		int32_t		k = (int32_t) floor(fraction * n + rng_uniform(rng));
		int32_t		j = 0;

		h->fit.indptr[u] = nf;
		h->val.indptr[u] = nv;
		k = RG_MAX(0, RG_MIN(k, n - 1));
		rng_sample_sorted(rng, n, k, picked);
		for (int32_t p = 0; p < n; p++)
		{
			if (j < k && picked[j] == p)
			{
				h->val.indices[nv++] = row[p];
				j++;
			}
			else
				h->fit.indices[nf++] = row[p];
		}
		if (k > 0)
			h->val_users[h->n_val_users++] = u;
	}
	h->fit.indptr[full->n_rows] = nf;
	h->val.indptr[full->n_rows] = nv;
	rg_free(picked);
}

/* Keep a uniform sample of at most cap validation users (cap 0: all). */
static void
SampleValidationUsers(TrainLoop *loop, int cap, uint64_t seed)
{
	Rng			rng;
	int32_t    *picked;

	if (cap <= 0 || loop->h.n_val_users <= cap)
		return;
	rng_seed(&rng, seed ^ 0x76616c6964617465ULL);	/* "validate": its own stream */
	picked = rg_alloc_array(int32_t, cap);
	rng_sample_sorted(&rng, loop->h.n_val_users, cap, picked);
	for (int32_t v = 0; v < cap; v++)
		loop->h.val_users[v] = loop->h.val_users[picked[v]];
	loop->h.n_val_users = cap;
	rg_free(picked);
}

/* Estimate everything and refuse above the host's limit. */
RgStatus
train_loop_check_memory(TrainLoop *loop, double model_bytes, double tensor_floats)
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
	return rg_check_memory(loop->err, bytes, loop->model->ops->name);
}

/* Honour interrupts; stop with RG_DATA_EXCEPTION on a non-finite loss. */
RgStatus
train_loop_batch(TrainLoop *loop, double loss)
{
	RG_TRY(rg_check_interrupts(loop->err));
	if (!isfinite(loss))
	{
		rg_fail(loop->err, RG_DATA_EXCEPTION, "%s training diverged at epoch %d%s",
				loop->model->ops->name, loop->epoch,
				loop->refitting ? " of the refit on all positives" : "");
		rg_detail(loop->err, "A batch loss is %s.", isnan(loss) ? "NaN" : "infinite");
		return rg_hint(loop->err, "%s", loop->it->diverged_hint);
	}
	return RG_OK;
}

/* Whether the tensors are read after this epoch (validation, or the run's last epoch). */
bool
train_loop_reads_tensors(const TrainLoop *loop)
{
	return (loop->h.n_val_users > 0 && !loop->refitting) || loop->epoch >= loop->run_epochs;
}

/* The loop's error, for a model's own failures. */
RgError *
train_loop_error(TrainLoop *loop)
{
	return loop->err;
}

/* NDCG@k of one scored user against its validation items; scores are consumed. */
static double
UserNdcg(const Holdout *h, HoldoutScorer *s, int32_t n_items, float *scores,
		 const ScoreQuery *q)
{
	const int32_t *val = CsrRow(&h->val, q->user);
	int32_t		n_val = CsrRowLen(&h->val, q->user);
	int32_t		got;
	double		dcg = 0.0,
				idcg = 0.0;

	for (int32_t i = 0; i < q->n_items; i++)
		scores[q->items[i]] = -INFINITY;
	got = topk_select(scores, n_items, s->k, s->heap, s->top);
	for (int32_t v = 0; v < n_val; v++)
		s->relevant[val[v]] = true;
	for (int32_t r = 0; r < got; r++)
		if (s->relevant[s->top[r]])
			dcg += 1.0 / log2(r + 2.0);
	for (int32_t v = 0; v < n_val; v++)
		s->relevant[val[v]] = false;
	for (int32_t r = 0; r < RG_MIN(s->k, n_val); r++)
		idcg += 1.0 / log2(r + 2.0);
	return dcg / idcg;
}

/* Allocate the buffers of scoring blocks of up to block users at cutoff k. */
void
holdout_scorer_init(HoldoutScorer *s, int32_t n_items, int block, int k)
{
	s->block = block;
	s->k = k;
	s->queries = rg_alloc_array(ScoreQuery, block);
	s->scores = rg_alloc_array(float, (size_t) block * n_items);
	s->heap = rg_alloc_array(int32_t, k);
	s->top = rg_alloc_array(int32_t, k);
	s->relevant = rg_alloc0_array(bool, n_items);
}

/* Mean validation NDCG@k of model's current weights (see the file comment). */
RgStatus
holdout_ndcg(const Holdout *h, HoldoutScorer *s, Model *model, double *ndcg, RgError *err)
{
	double		sum = 0.0;

	for (int32_t v0 = 0; v0 < h->n_val_users; v0 += s->block)
	{
		int			nq = RG_MIN(s->block, h->n_val_users - v0);
		void	   *scope;

		RG_TRY(rg_check_interrupts(err));
		for (int q = 0; q < nq; q++)
			model_user_query(model, h->val_users[v0 + q], &s->queries[q]);
		scope = rg_scope_push();	/* what ops->score allocates */
		model->ops->score(model, s->queries, nq, s->scores);
		rg_scope_pop(scope);
		for (int q = 0; q < nq; q++)
			sum += UserNdcg(h, s, model->n_items, s->scores + (size_t) q * model->n_items,
							&s->queries[q]);
	}
	*ndcg = sum / h->n_val_users;
	return RG_OK;
}

/* Users per validation block: VALIDATION_BLOCK_BYTES of scores, 1 to n_users. */
int
holdout_block(int32_t n_users, int32_t n_items)
{
	size_t		row_bytes = sizeof(float) * (size_t) RG_MAX(n_items, 1);

	return (int) RG_MAX(1, RG_MIN((size_t) RG_MAX(n_users, 1), VALIDATION_BLOCK_BYTES / row_bytes));
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

/* Report the epoch, keep the best weights, a progress notice now and then. */
static void
FinishEpoch(TrainLoop *loop, double loss, double aux, double validation,
			double seconds, EpochCallback report, void *arg)
{
	EpochReport r = {loop->epoch, loss, aux, validation, seconds};
	double		elapsed = rg_now() - loop->start;

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
			rg_notice("%s epoch %d of %d: loss %.4f (%.0f s)", loop->model->ops->name,
					  loop->epoch, loop->run_epochs, loss, elapsed);
		else
			rg_notice("%s epoch %d of %d: loss %.4f, validation ndcg@%d %.4f, best %.4f at epoch %d (%.0f s)",
					  loop->model->ops->name, loop->epoch, loop->run_epochs, loss,
					  loop->k, validation, loop->best, loop->best_epoch, elapsed);
		loop->last_notice = elapsed;
		loop->noticed = true;
	}
}

/* Read the loop options and the validation block size. */
static void
LoopSetup(TrainLoop *loop, const TrainInput *in, Model *model, int first)
{
	loop->model = model;
	loop->max_epochs = (int) in->opt[first];
	loop->patience = (int) in->opt[first + 1];
	loop->fraction = in->opt[first + 2];
	loop->k = (int) in->opt[first + 3];
	loop->refit = in->opt[first + 4] != 0;
	loop->full = *in->pos;
	loop->best = -1.0;
	loop->block = holdout_block(model->n_users, model->n_items);
}

/* The epochs of one run, after begin. */
static RgStatus
RunEpochs(TrainLoop *loop, void *state, int epochs, bool validating,
		  EpochCallback report, void *report_arg)
{
	for (loop->epoch = 1; loop->epoch <= epochs; loop->epoch++)
	{
		double		t0 = rg_now();
		double		loss = NAN,
					aux = NAN,
					validation = NAN;

		RG_TRY(loop->it->epoch(state, loop, &loss, &aux));
		if (validating)
			RG_TRY(holdout_ndcg(&loop->h, &loop->scorer, loop->model, &validation, loop->err));
		FinishEpoch(loop, loss, aux, validation, rg_now() - t0, report, report_arg);
		if (loop->patience > 0 && loop->best_epoch > 0 &&
			loop->epoch - loop->best_epoch >= loop->patience)
			break;
	}
	loop->epochs_run += RG_MIN(loop->epoch, epochs);
	return RG_OK;
}

/*
 * One run: begin on data, then up to `epochs` epochs, validating when the
 * holdout has users and this is not the refit.  The weights end up in
 * loop->final: the best epoch's, or the last epoch's without validation.
 */
static RgStatus
RunFit(TrainLoop *loop, const TrainInput *in, const Csr *data, uint64_t seed, int epochs,
	   EpochCallback report, void *report_arg)
{
	Model	   *model = loop->model;
	void	   *scope = rg_scope_push();
	bool		validating = loop->h.n_val_users > 0 && !loop->refitting;
	void	   *state = NULL;
	RgStatus	status;

	loop->run_epochs = epochs;
	model->pos = *data;
	status = loop->it->begin(loop, model, in->opt, data, seed, &state);
	if (status == RG_OK && loop->final == NULL)
	{
		for (int t = 0; t < model->n_tensors; t++)
			loop->tensor_floats += model->tensors[t].len;
		loop->final = rg_alloc_outer(sizeof(float) * RG_MAX(loop->tensor_floats, 1));
	}
	if (status == RG_OK && validating)
		holdout_scorer_init(&loop->scorer, model->n_items, loop->block, loop->k);
	if (status == RG_OK)
		status = RunEpochs(loop, state, epochs, validating, report, report_arg);
	if (status == RG_OK && !validating)
		CopyTensorsOut(model, loop->final);
	rg_scope_pop(scope);
	return status;
}

/* Run the epochs of an iterative model (see model.h and the file comment). */
RgStatus
train_loop_run(const TrainInput *in, Model *model, const IterativeOps *it,
			   int first_loop_option, EpochCallback report, void *report_arg, RgError *err)
{
	TrainLoop  *loop = rg_alloc0(sizeof(TrainLoop));
	Rng			rng;
	uint64_t	seed;

	loop->it = it;
	loop->err = err;
	LoopSetup(loop, in, model, first_loop_option);
	rng_seed(&rng, in->seed);
	if (loop->fraction > 0)
		holdout_split(&loop->h, &loop->full, loop->fraction, &rng);
	else
		loop->h.fit = loop->full;
	seed = rng_next(&rng);
	if (it->validation_users != NULL)
		SampleValidationUsers(loop, it->validation_users(in->opt), seed);
	loop->block = RG_MIN(loop->block, RG_MAX(loop->h.n_val_users, 1));
	loop->start = rg_now();

	RG_TRY(RunFit(loop, in, &loop->h.fit, seed, loop->max_epochs, report, report_arg));
	if (loop->refit && loop->best_epoch > 0)
	{
		loop->refitting = true;
		if (loop->noticed)
			rg_notice("%s: best validation ndcg@%d %.4f at epoch %d; refitting on all positives for %d epochs",
					  model->ops->name, loop->k, loop->best, loop->best_epoch, loop->best_epoch);
		RG_TRY(RunFit(loop, in, &loop->full, seed, loop->best_epoch, report, report_arg));
	}
	if (loop->noticed && loop->best_epoch > 0 && !loop->refitting)
		rg_notice("%s trained %d epochs in %.0f s, best validation ndcg@%d %.4f at epoch %d",
				  model->ops->name, loop->epochs_run, rg_now() - loop->start,
				  loop->k, loop->best, loop->best_epoch);
	else if (loop->noticed)
		rg_notice("%s trained %d epochs in %.0f s", model->ops->name, loop->epochs_run,
				  rg_now() - loop->start);
	PointTensorsAt(model, loop->final);
	model->pos = loop->full;
	rg_free(loop);
	return RG_OK;
}
