/*
 * alg_itemknn.c
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
#include <math.h>
#include <string.h>

#include "model.h"
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
static int32_t
KnnK(const Model *model)
{
	return (int32_t) RG_MAX(1, RG_MIN(model->hyper[OPT_NEIGHBORS], (double) model->n_items - 1));
}

/* Workspace of one item's row. */
typedef struct KnnWork
{
	const double *norm;			/* (I) sqrt of each item's user count */
	float	   *acc;			/* (I) co-occurrence counts, then similarities */
	float	   *scratch;		/* (I) for the selection */
	int32_t    *heap;			/* (K) */
	int32_t    *top;			/* (K) */
} KnnWork;

/*
 * Item i's row: co-occurrence with every item into w->acc (zero on entry
 * and on return), then its K best cosines into nbr_idx / nbr_sim (K each).
 */
static void
KnnItem(const Model *model, const Csr *x, const Csr *xt, int32_t i, int32_t k,
		const KnnWork *w, int32_t *nbr_idx, float *nbr_sim)
{
	int32_t		n_items = model->n_items;
	double		shrink = model->hyper[OPT_SHRINK];
	int32_t		got;
	double		norm_i = w->norm[i];
	float	   *acc = w->acc;
	int32_t    *top = w->top;
	double		total = 0;

	/* co-occurrence of i with every item */
	for (int64_t p = xt->indptr[i]; p < xt->indptr[i + 1]; p++)
	{
		int32_t		u = xt->indices[p];

		for (int64_t q = x->indptr[u]; q < x->indptr[u + 1]; q++)
			acc[x->indices[q]] += 1.0f;
	}
	for (int32_t j = 0; j < n_items; j++)
	{
		if (j == i || acc[j] == 0.0f)
			acc[j] = -INFINITY;
		else
			acc[j] = (float) (acc[j] / (norm_i * w->norm[j] + shrink));
	}
	got = topk_select_scratch(acc, n_items, k, w->scratch, w->heap, top);
	for (int32_t n = 0; n < got; n++)
		total += acc[top[n]];
	for (int32_t n = 0; n < k; n++)
	{
		float		sim = n < got ? acc[top[n]] : 0.0f;

		if (model->hyper[OPT_NORMALIZE] != 0 && total > 0)
			sim = (float) (sim / total);
		nbr_idx[n] = n < got ? top[n] : -1;
		nbr_sim[n] = sim;
	}
	memset(acc, 0, (size_t) n_items * sizeof(float));
}

/* Compute each item's K nearest items by cosine over co-occurrence counts. */
static RgStatus
KnnTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	const Csr  *x = in->pos;	/* (U x I) */
	int32_t		n_items = model->n_items;
	int32_t		k = KnnK(model);
	double		start = rg_now();
	Csr			xt;				/* (I x U) */
	double	   *norm;
	KnnWork		w;
	int32_t    *nbr_idx;
	float	   *nbr_sim;
	EpochReport r = {1, NAN, NAN, NAN, 0};

	RG_TRY(rg_check_memory(err, (double) n_items * k * 8 + (double) n_items * 24 +
						   (double) CsrNnz(x) * 4, "itemknn"));
	csr_transpose(x, &xt);
	norm = rg_alloc_array(double, n_items);
	for (int32_t j = 0; j < n_items; j++)
		norm[j] = sqrt((double) CsrRowLen(&xt, j));
	w.norm = norm;
	w.acc = rg_alloc0_array(float, n_items);
	w.scratch = rg_alloc_array(float, n_items);
	w.heap = rg_alloc_array(int32_t, k);
	w.top = rg_alloc_array(int32_t, k);
	nbr_idx = rg_alloc_array(int32_t, (size_t) n_items * k);
	nbr_sim = rg_alloc_array(float, (size_t) n_items * k);

	for (int32_t i = 0; i < n_items; i++)
	{
		RG_TRY(rg_check_interrupts(err));
		KnnItem(model, x, &xt, i, k, &w, nbr_idx + (size_t) i * k, nbr_sim + (size_t) i * k);
	}

	model->n_tensors = 2;
	model->tensors[0].len = (int64_t) n_items * k;
	model->tensors[0].data = (float *) nbr_idx;
	model->tensors[1].len = (int64_t) n_items * k;
	model->tensors[1].data = nbr_sim;
	r.seconds = rg_now() - start;
	report(arg, &r);
	return RG_OK;
}

/* Check tensor shapes and that every neighbor index is -1 or another item. */
static RgStatus
KnnValidate(const Model *model, RgError *err)
{
	return model_check_neighbors(model, KnnK(model), err);
}

/* Sum the neighbor similarities of each history item. */
static void
KnnScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int32_t		n_items = model->n_items;
	int32_t		k = KnnK(model);
	const int32_t *nbr_idx = (const int32_t *) model->tensors[0].data;
	const float *nbr_sim = model->tensors[1].data;

	memset(scores, 0, (size_t) nq * n_items * sizeof(float));
	for (int q = 0; q < nq; q++)
	{
		float	   *row = scores + (size_t) q * n_items;

		for (int32_t h = 0; h < queries[q].n_items; h++)
		{
			size_t		base = (size_t) queries[q].items[h] * k;

			for (int32_t n = 0; n < k && nbr_idx[base + n] >= 0; n++)
				row[nbr_idx[base + n]] += nbr_sim[base + n];
		}
	}
}

/* Item i's stored neighbors with their cosine; every other item -inf. */
static void
KnnSimilar(const Model *model, int32_t item, float *scores)
{
	int32_t		k = KnnK(model);
	size_t		base = (size_t) item * k;
	const int32_t *nbr_idx = (const int32_t *) model->tensors[0].data;

	for (int32_t j = 0; j < model->n_items; j++)
		scores[j] = -INFINITY;
	for (int32_t n = 0; n < k && nbr_idx[base + n] >= 0; n++)
		scores[nbr_idx[base + n]] = model->tensors[1].data[base + n];
}

const ModelOps itemknn_ops = {
	.name = "itemknn",
	.algorithm = RECGAN_ALG_ITEMKNN,
	.options = knn_options,
	.n_options = RG_LENGTHOF(knn_options),
	.train = KnnTrain,
	.validate = KnnValidate,
	.score = KnnScore,
	.similar = KnnSimilar,
	.additive = true,
};
