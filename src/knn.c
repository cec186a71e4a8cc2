/*
 * knn.c
 *	  ItemKNN: item-based top-N recommendation with cosine similarity
 *	  (Deshpande and Karypis, 2004).
 *
 * Legend: U users, I items, K neighbors kept per item.
 *
 * sim(i, j) = co(i, j) / (sqrt(n_i) * sqrt(n_j) + shrink), where co counts
 * users with both items and n_i users with item i.  Each item keeps its K
 * most similar items; a user's score for item j is the sum of sim(i, j) over
 * the items i of the user's history that have j among their neighbors.
 *
 * Tensors: 0 = (I, K) neighbor indexes, int32 stored bitwise, -1 = none;
 *          1 = (I, K) similarities, float32.
 * Options: neighbors (K), shrink, normalize (each item's kept similarities
 * scaled to sum to 1, so items with many strong neighbours do not dominate).
 * Defaults (400, 10, on) were chosen on a validation split of ML-100K
 * u1.base (80/20 per user, seed 7), never on u1.test.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "model.h"
#include "recgan.h"
#include "topk.h"

enum
{
	OPT_NEIGHBORS,
	OPT_SHRINK,
	OPT_NORMALIZE
};

static const OptionSpec knn_options[] = {
	{"neighbors", OPT_INT, 400, 1, 100000, NULL, "neighbors kept per item"},
	{"shrink", OPT_REAL, 10, 0, 1e9, NULL, "added to the cosine denominator"},
	{"normalize", OPT_BOOL, 1, 0, 1, NULL,
	"scale each item's kept similarities to sum to 1 (Deshpande and Karypis)"},
};

/* Effective K: neighbors, at most I - 1 (and at least 1). */
static int32
KnnK(const Model *model)
{
	return (int32) Max(1, Min(model->hyper[OPT_NEIGHBORS], (double) model->n_items - 1));
}

/* Compute each item's K nearest items by cosine over co-occurrence counts. */
static void
KnnTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg)
{
	const Csr  *x = &in->data->pos;	/* (U x I) */
	int32		n_items = model->n_items;
	int32		k = KnnK(model);
	double		shrink = model->hyper[OPT_SHRINK];
	instr_time	start;
	Csr			xt;				/* (I x U) */
	float	   *acc;			/* (I) co-occurrence counts, then similarities */
	int32	   *heap;
	int32	   *top;
	int32	   *nbr_idx;
	float	   *nbr_sim;
	EpochReport r = {1, NAN, NAN, NAN, 0};

	INSTR_TIME_SET_CURRENT(start);
	RecganCheckTrainMemory((double) n_items * k * 8 + (double) n_items * 12 +
						   (double) CsrNnz(x) * 4, "itemknn");
	CsrTranspose(x, &xt);
	acc = palloc0_array(float, n_items);
	heap = palloc_array(int32, k);
	top = palloc_array(int32, k);
	nbr_idx = palloc_extended((Size) n_items * k * sizeof(int32), MCXT_ALLOC_HUGE);
	nbr_sim = palloc_extended((Size) n_items * k * sizeof(float), MCXT_ALLOC_HUGE);

	for (int32 i = 0; i < n_items; i++)
	{
		int32		got;
		double		norm_i = sqrt((double) CsrRowLen(&xt, i));

		CHECK_FOR_INTERRUPTS();
		/* co-occurrence of i with every item */
		for (int64 p = xt.indptr[i]; p < xt.indptr[i + 1]; p++)
		{
			int32		u = xt.indices[p];

			for (int64 q = x->indptr[u]; q < x->indptr[u + 1]; q++)
				acc[x->indices[q]] += 1.0f;
		}
		for (int32 j = 0; j < n_items; j++)
		{
			if (j == i || acc[j] == 0.0f)
				acc[j] = -INFINITY;
			else
				acc[j] = (float) (acc[j] / (norm_i * sqrt((double) CsrRowLen(&xt, j)) + shrink));
		}
		got = topk_select(acc, n_items, k, heap, top);
		{
			double		total = 0;

			for (int32 n = 0; n < got; n++)
				total += acc[top[n]];
			for (int32 n = 0; n < k; n++)
			{
				float		sim = n < got ? acc[top[n]] : 0.0f;

				if (model->hyper[OPT_NORMALIZE] != 0 && total > 0)
					sim = (float) (sim / total);
				nbr_idx[(Size) i * k + n] = n < got ? top[n] : -1;
				nbr_sim[(Size) i * k + n] = sim;
			}
		}
		memset(acc, 0, (Size) n_items * sizeof(float));
	}

	model->n_tensors = 2;
	model->tensors[0].len = (int64) n_items * k;
	model->tensors[0].data = (float *) nbr_idx;
	model->tensors[1].len = (int64) n_items * k;
	model->tensors[1].data = nbr_sim;
	r.seconds = RecganElapsed(start);
	report(arg, &r);
}

/* Check tensor shapes and that every neighbor index is -1 or in range. */
static void
KnnValidate(const Model *model)
{
	int64		len = (int64) model->n_items * KnnK(model);
	int64		expected[2] = {len, len};
	const int32 *idx;

	ModelCheckTensors(model, 2, expected);
	idx = (const int32 *) model->tensors[0].data;
	for (int64 p = 0; p < len; p++)
		if (idx[p] < -1 || idx[p] >= model->n_items)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("recgan model data is corrupted"),
					 errdetail("ItemKNN neighbor index out of range.")));
}

/* Sum the neighbor similarities of each history item. */
static void
KnnScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int32		n_items = model->n_items;
	int32		k = KnnK(model);
	const int32 *nbr_idx = (const int32 *) model->tensors[0].data;
	const float *nbr_sim = model->tensors[1].data;

	memset(scores, 0, (Size) nq * n_items * sizeof(float));
	for (int q = 0; q < nq; q++)
	{
		float	   *row = scores + (Size) q * n_items;

		for (int32 h = 0; h < queries[q].n_items; h++)
		{
			Size		base = (Size) queries[q].items[h] * k;

			for (int32 n = 0; n < k && nbr_idx[base + n] >= 0; n++)
				row[nbr_idx[base + n]] += nbr_sim[base + n];
		}
	}
}

/* Item i's stored neighbors with their cosine; every other item -inf. */
static void
KnnSimilar(const Model *model, int32 item, float *scores)
{
	int32		k = KnnK(model);
	Size		base = (Size) item * k;
	const int32 *nbr_idx = (const int32 *) model->tensors[0].data;

	for (int32 j = 0; j < model->n_items; j++)
		scores[j] = -INFINITY;
	for (int32 n = 0; n < k && nbr_idx[base + n] >= 0; n++)
		scores[nbr_idx[base + n]] = model->tensors[1].data[base + n];
}

const ModelOps itemknn_ops = {
	.name = "itemknn",
	.algorithm = RECGAN_ALG_ITEMKNN,
	.options = knn_options,
	.n_options = lengthof(knn_options),
	.train = KnnTrain,
	.validate = KnnValidate,
	.score = KnnScore,
	.similar = KnnSimilar,
};
