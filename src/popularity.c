/*
 * popularity.c
 *	  Most-popular baseline: an item's score is its number of training
 *	  positives.  It needs no weights (popularity is derived from the stored
 *	  CSR at decode time), and its answer is the same for every user, which
 *	  is also every model's cold-start answer for unknown users.
 */
#include "postgres.h"

#include <math.h>

#include "model.h"

/* Nothing to learn: popularity is derived from the positives. */
static void
PopularityTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg)
{
	EpochReport r = {1, NAN, NAN, NAN, 0};

	model->n_tensors = 0;
	report(arg, &r);
}

/* A popularity model has no tensors. */
static void
PopularityValidate(const Model *model)
{
	ModelCheckTensors(model, 0, NULL);
}

/* Every query gets the popularity vector. */
static void
PopularityScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	for (int q = 0; q < nq; q++)
		memcpy(scores + (Size) q * model->n_items, model->popularity,
			   (Size) model->n_items * sizeof(float));
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
