/*
 * alg_popularity.c
 *	  Most-popular baseline: an item's score is its number of training
 *	  positives.  It needs no weights (popularity is derived from the stored
 *	  CSR at decode time), and its answer is the same for every user, which
 *	  is also every model's cold-start answer for unknown users.
 */
#include <math.h>
#include <string.h>

#include "model.h"

/* Nothing to learn: popularity is derived from the positives. */
static RgStatus
PopularityTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg,
				RgError *err)
{
	EpochReport r = {1, NAN, NAN, NAN, 0};

	(void) in;
	(void) err;
	model->n_tensors = 0;
	report(arg, &r);
	return RG_OK;
}

/* A popularity model has no tensors. */
static RgStatus
PopularityValidate(const Model *model, RgError *err)
{
	return model_check_tensors(model, 0, NULL, err);
}

/* Every query gets the popularity vector. */
static void
PopularityScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	(void) queries;
	for (int q = 0; q < nq; q++)
		memcpy(scores + (size_t) q * model->n_items, model->popularity,
			   (size_t) model->n_items * sizeof(float));
}

const ModelOps popularity_ops = {
	.name = "popularity",
	.algorithm = RECGAN_ALG_POPULARITY,
	.options = NULL,
	.n_options = 0,
	.train = PopularityTrain,
	.validate = PopularityValidate,
	.score = PopularityScore,
};
