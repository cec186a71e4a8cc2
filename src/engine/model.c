/*
 * model.c
 *	  The helpers every algorithm shares.
 */
#include <stdarg.h>
#include <stdio.h>

#include "model.h"

/* All stored options, or the original ones and up to the last non-default addition. */
int
model_n_hyper(const ModelOps *ops, const double *opt)
{
	int			n = RG_MIN(ops->n_options, RECGAN_MAX_HYPER);

	if (ops->n_original_options > 0)
		while (n > ops->n_original_options && opt[n - 1] == ops->options[n - 1].defval)
			n--;
	return n;
}

/* Count training positives per item into model->popularity. */
void
model_compute_popularity(Model *model)
{
	int64_t		nnz = CsrNnz(&model->pos);

	model->popularity = rg_alloc0_array(float, model->n_items);
	for (int64_t p = 0; p < nnz; p++)
		model->popularity[model->pos.indices[p]] += 1.0f;
}

/* Fill a query with a known user's training history. */
void
model_user_query(const Model *model, int32_t user, ScoreQuery *q)
{
	q->user = user;
	q->items = CsrRow(&model->pos, user);
	q->n_items = CsrRowLen(&model->pos, user);
}

/* Report a corrupted model with a printf-style detail. */
RgStatus
model_corrupted(RgError *err, const char *fmt,...)
{
	va_list		ap;

	rg_fail(err, RG_DATA_CORRUPTED, "recgan model data is corrupted");
	rg_hint(err, "Retrain the model with recgan_train().");
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return err->code;
}

/* RG_DATA_CORRUPTED unless a decoded model has the expected tensor lengths. */
RgStatus
model_check_tensors(const Model *model, int n, const int64_t *expected, RgError *err)
{
	if (model->n_tensors != n)
		return model_corrupted(err, "Algorithm %s expects %d tensors, the model has %d.",
							   model->ops->name, n, model->n_tensors);
	for (int t = 0; t < n; t++)
		if (model->tensors[t].len != expected[t])
			return model_corrupted(err, "Tensor %d of a %s model has %lld words, expected %lld.",
								   t, model->ops->name, (long long) model->tensors[t].len,
								   (long long) expected[t]);
	return RG_OK;
}

/* Two (I, k) tensors; every neighbour index -1 or another item in range. */
RgStatus
model_check_neighbors(const Model *model, int64_t k, RgError *err)
{
	int64_t		len = (int64_t) model->n_items * k;
	int64_t		expected[2] = {len, len};
	const int32_t *idx;

	RG_TRY(model_check_tensors(model, 2, expected, err));
	idx = (const int32_t *) model->tensors[0].data;
	for (int64_t p = 0; p < len; p++)
		if (idx[p] < -1 || idx[p] >= model->n_items || idx[p] == p / k)
			return model_corrupted(err, "Neighbour index %lld of item %lld in a %s model is out of range.",
								   (long long) idx[p], (long long) (p / k), model->ops->name);
	return RG_OK;
}
