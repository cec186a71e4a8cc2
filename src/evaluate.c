/*
 * evaluate.c
 *	  recgan_evaluate: top-k metrics of a trained model on a test table.
 *
 * Legend: U users, I items (of the model), E evaluated users, B users in a
 * scoring block, K = max(k) ranks kept per user, S sampled items per pair.
 *
 * Protocol (full ranking, the default)
 * ------------------------------------
 * - Test positives are the rows of the test table with rating >= threshold;
 *   threshold NULL takes the model's own training threshold, and a model
 *   trained without one (every row a positive), a NaN threshold or
 *   rating_col NULL make every test row a positive.  Duplicate (user, item)
 *   rows count once.
 * - A test positive that is also a training positive of the same user is
 *   dropped: it can never be recommended (see below), so keeping it would
 *   only lower recall for every model alike.
 * - T_u, the relevant set of user u, is what remains, including items the
 *   model has never seen: they can never be hit, but they are the model's
 *   fault, so they count in recall, ndcg and map.
 * - Evaluated users: users known to the model with at least one training
 *   positive and a non-empty T_u.  Test users unknown to the model (cold
 *   start) are not evaluated.  When no user qualifies recgan_evaluate raises
 *   an error rather than returning averages over nobody.
 * - Each evaluated user's items are ranked over the whole catalogue (every
 *   item of the model), excluding the user's training positives; ties are
 *   broken by ascending item id, as in recgan_recommend.
 * - Per k, with hits@r the number of T_u items at ranks 1..r:
 *     precision@k = hits@k / k
 *     recall@k    = hits@k / |T_u|
 *     ndcg@k      = DCG / IDCG, DCG = sum over hit ranks r <= k of
 *                   1 / log2(r + 1), IDCG the same over ranks
 *                   1..min(k, |T_u|) (binary relevance)
 *     hitrate@k   = 1 if hits@k > 0, else 0
 *     map@k       = (1 / min(k, |T_u|)) * sum over hit ranks r <= k of
 *                   hits@r / r
 *     mrr@k       = 1 / (rank of the first hit) if it is <= k, else 0
 *   each averaged over evaluated users, and
 *     coverage@k  = distinct items in the top-k lists of all evaluated users
 *                   / I.
 *   The users column is the number of evaluated users.  When fewer than k
 *   items remain for a user the list is shorter, and precision still
 *   divides by k.
 *
 * Sampled protocol (sampled => S; He et al., "Neural Collaborative
 * Filtering", 2017)
 * ------------------------------------------------------------------------
 * For each test positive (u, i) of a user as above whose item i is known to
 * the model, S items are drawn uniformly without replacement (engine RNG
 * seeded with seed, pairs taken in (user, item) order) among the items that
 * are neither training nor test positives of u (all of them when fewer than
 * S remain).  The rank of i among those S + 1 items, ties again to the
 * lower item id, gives hitrate@k = [rank <= k] and ndcg@k = 1 / log2(rank
 * + 1) if rank <= k, else 0, averaged over test pairs; users counts the
 * users with at least one such pair.  Sampled metrics are cheap but can
 * rank models differently from the full ranking (Krichene and Rendle, "On
 * Sampled Metrics for Item Recommendation", 2020): report them for
 * comparison with papers that use them, and prefer the full ranking.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "dataset.h"
#include "cache.h"
#include "catalog.h"
#include "util.h"
#include "rng.h"
#include "topk.h"

/* At most this many users are scored by one call of ops->score. */

/* Averaged metrics, in output order; coverage comes last and is not a sum. */
typedef enum EvalMetric
{
	EVAL_PRECISION,
	EVAL_RECALL,
	EVAL_NDCG,
	EVAL_HITRATE,
	EVAL_MAP,
	EVAL_MRR,
	EVAL_N_SUMS
} EvalMetric;

static const char *const eval_metric_names[EVAL_N_SUMS] = {
	"precision", "recall", "ndcg", "hitrate", "map", "mrr"
};

/* Test positives of the evaluated users, grouped by user. */
typedef struct TestSet
{
	int32		n_users;		/* E */
	int32	   *users;			/* (E) model user indexes, ascending */
	int64	   *start;			/* (E + 1) offsets into items */
	int32	   *items;			/* known test items, ascending per user */
	int32	   *n_relevant;		/* (E) |T_u|: known and unknown test items */
	int32		max_relevant;	/* max over users of n_relevant */
} TestSet;

/* Everything the per-user evaluation needs, and the sums it adds to. */
typedef struct EvalState
{
	const Model *model;
	int			nk;
	int32	   *k;				/* (nk) requested cut-offs, ascending, distinct */
	int32		kmax;			/* K: min(k[nk - 1], I), and <= S + 1 if sampled */
	int32		sampled;		/* S, or 0 for the full ranking */
	double	   *discount;		/* (K + 1) 1 / log2(r + 1) at rank r */
	double	   *idcg;			/* (min(max k, max |T_u|) + 1) ideal DCG of n hits */
	double	   *sum;			/* (EVAL_N_SUMS, nk) metric sums */
	int64		n_cases;		/* users (full) or test pairs (sampled) summed */
	int32	   *min_rank;		/* (I) best rank of each item in any top list */
	int32	   *heap;			/* (max(K, S)) topk_select scratch */
	int32	   *top;			/* (max(K, S)) ranked items, or drawn negatives */
	bool	   *is_test;		/* (I) the current user's test items; sampled: and
								 * training items */
	int64	   *drawn;			/* (I) sampled: stamp of the pair that drew it */
	int64		stamp;			/* current test pair, for drawn */
	int32	   *picks;			/* (S) sampled: positions of drawn candidates */
	Rng			rng;
} EvalState;

/* True when the ascending row[0..n) contains x. */
static bool
SortedContains(const int32 *row, int32 n, int32 x)
{
	int32		lo = 0,
				hi = n;

	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (row[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && row[lo] == x;
}

/*
 * Group raw test pairs (sorted by user, item) into a TestSet of the users
 * that can be evaluated; known_only keeps users by their known test items
 * (sampled protocol) rather than by |T_u|.  *n_candidates gets the number of
 * test users known to the model with training positives.
 */
static void
EvalBuildTestSet(TestSet *ts, const Model *model, const int64 *users,
				 const int64 *items, int64 n, bool known_only, int32 *n_candidates)
{
	int64		p = 0;
	int32		e = 0;

	ts->users = palloc_extended(sizeof(int32) * Max(n, 1), MCXT_ALLOC_HUGE);
	ts->start = palloc_extended(sizeof(int64) * (Max(n, 1) + 1), MCXT_ALLOC_HUGE);
	ts->items = palloc_extended(sizeof(int32) * Max(n, 1), MCXT_ALLOC_HUGE);
	ts->n_relevant = palloc_extended(sizeof(int32) * Max(n, 1), MCXT_ALLOC_HUGE);
	ts->start[0] = 0;
	ts->max_relevant = 0;
	*n_candidates = 0;
	while (p < n)
	{
		int64		uid = users[p];
		int32		u = ids_find(model->user_ids, model->n_users, uid);
		int64		end = ts->start[e];
		int32		relevant = 0;
		const int32 *train = u >= 0 ? CsrRow(&model->pos, u) : NULL;
		int32		n_train = u >= 0 ? CsrRowLen(&model->pos, u) : 0;

		for (; p < n && users[p] == uid; p++)
		{
			int32		i;

			if (n_train == 0)
				continue;
			i = ids_find(model->item_ids, model->n_items, items[p]);
			if (i >= 0 && SortedContains(train, n_train, i))
				continue;		/* a training positive: dropped */
			relevant++;
			if (i >= 0)
				ts->items[end++] = i;
		}
		if (n_train == 0)
			continue;
		(*n_candidates)++;
		if (known_only ? end == ts->start[e] : relevant == 0)
			continue;
		ts->users[e] = u;
		ts->n_relevant[e] = relevant;
		ts->max_relevant = Max(ts->max_relevant, relevant);
		ts->start[++e] = end;
	}
	ts->n_users = e;
}

/* Add the metrics of one user's ranked list at cut-off index ki. */
static void
EvalAddCutoff(EvalState *st, int ki, int32 hits, double dcg, double ap,
			  int32 first_hit, int32 n_relevant)
{
	int32		k = st->k[ki];
	int32		ideal = Min(k, n_relevant);
	int			nk = st->nk;

	st->sum[EVAL_PRECISION * nk + ki] += (double) hits / k;
	st->sum[EVAL_RECALL * nk + ki] += (double) hits / n_relevant;
	st->sum[EVAL_NDCG * nk + ki] += dcg / st->idcg[ideal];
	st->sum[EVAL_HITRATE * nk + ki] += hits > 0 ? 1.0 : 0.0;
	st->sum[EVAL_MAP * nk + ki] += ap / ideal;
	st->sum[EVAL_MRR * nk + ki] += first_hit > 0 ? 1.0 / first_hit : 0.0;
}

/*
 * Full ranking of one user: scores (I) of the user are consumed (training
 * positives set to -INFINITY); test (n_test known items) are its test items.
 */
static void
EvalUserFull(EvalState *st, float *scores, int32 u, const int32 *test,
			 int32 n_test, int32 n_relevant)
{
	const Model *model = st->model;
	const int32 *train = CsrRow(&model->pos, u);
	int32		n_train = CsrRowLen(&model->pos, u);
	int32		got,
				hits = 0,
				first_hit = 0,
				ki = 0;
	double		dcg = 0.0,
				ap = 0.0;

	for (int32 j = 0; j < n_train; j++)
		scores[train[j]] = -INFINITY;
	got = topk_select(scores, model->n_items, st->kmax, st->heap, st->top);
	for (int32 j = 0; j < n_test; j++)
		st->is_test[test[j]] = true;

	for (int32 r = 1; r <= got; r++)
	{
		int32		item = st->top[r - 1];

		st->min_rank[item] = Min(st->min_rank[item], r);
		if (st->is_test[item])
		{
			hits++;
			dcg += st->discount[r];
			ap += (double) hits / r;
			if (first_hit == 0)
				first_hit = r;
		}
		for (; ki < st->nk && st->k[ki] == r; ki++)
			EvalAddCutoff(st, ki, hits, dcg, ap, first_hit, n_relevant);
	}
	/* cut-offs beyond the end of a short list see the whole list */
	for (; ki < st->nk; ki++)
		EvalAddCutoff(st, ki, hits, dcg, ap, first_hit, n_relevant);

	for (int32 j = 0; j < n_test; j++)
		st->is_test[test[j]] = false;
	st->n_cases++;
}

/* True when item a ranks above item b (higher score, then lower index). */
static inline bool
EvalRanksAbove(const float *scores, int32 a, int32 b)
{
	float		sa = isnan(scores[a]) ? -INFINITY : scores[a];
	float		sb = isnan(scores[b]) ? -INFINITY : scores[b];

	return sa > sb || (sa == sb && a < b);
}

/*
 * Draw the negatives of one test pair into st->top, excluding items marked
 * in excluded (the user's training and test items); return how many.
 */
static int32
EvalDrawNegatives(EvalState *st, const bool *excluded, int32 n_candidates)
{
	int32		n_items = st->model->n_items;
	int32		want = Min(st->sampled, n_candidates);
	int32		got = 0;

	st->stamp++;
	if (n_candidates >= 2 * want)
	{
		/* rejection: candidates are at least half of what we draw from */
		while (got < want)
		{
			int32		j = (int32) rng_below(&st->rng, (uint64) n_items);

			if (excluded[j] || st->drawn[j] == st->stamp)
				continue;
			st->drawn[j] = st->stamp;
			st->top[got++] = j;
		}
		return got;
	}
	/* selection sampling of candidate positions, mapped to items */
	rng_sample_sorted(&st->rng, n_candidates, want, st->picks);
	for (int32 j = 0, pos = 0; j < n_items && got < want; j++)
	{
		if (excluded[j])
			continue;
		if (st->picks[got] == pos++)
			st->top[got++] = j;
	}
	return got;
}

/* Sampled protocol for one user: one ranking per known test item. */
static void
EvalUserSampled(EvalState *st, const float *scores, int32 u, const int32 *test,
				int32 n_test)
{
	const Model *model = st->model;
	const int32 *train = CsrRow(&model->pos, u);
	int32		n_train = CsrRowLen(&model->pos, u);
	int32		n_candidates = model->n_items - n_train - n_test;

	for (int32 j = 0; j < n_train; j++)
		st->is_test[train[j]] = true;
	for (int32 j = 0; j < n_test; j++)
		st->is_test[test[j]] = true;

	for (int32 t = 0; t < n_test; t++)
	{
		int32		n = EvalDrawNegatives(st, st->is_test, n_candidates);
		int32		rank = 1;

		for (int32 j = 0; j < n; j++)
			rank += EvalRanksAbove(scores, st->top[j], test[t]) ? 1 : 0;
		for (int ki = 0; ki < st->nk; ki++)
		{
			if (rank > st->k[ki])
				continue;
			st->sum[EVAL_HITRATE * st->nk + ki] += 1.0;
			st->sum[EVAL_NDCG * st->nk + ki] += st->discount[rank];
		}
		st->n_cases++;
	}

	for (int32 j = 0; j < n_train; j++)
		st->is_test[train[j]] = false;
	for (int32 j = 0; j < n_test; j++)
		st->is_test[test[j]] = false;
}

/* Allocate the per-user scratch and the discount tables of st. */
static void
EvalStateInit(EvalState *st, const Model *model, int32 *k, int nk,
			  int32 sampled, uint64 seed, const TestSet *ts)
{
	int32		n_items = model->n_items;
	int32		n_ideal;

	/*
	 * No pair has more than I candidates, so drawing up to I is drawing S:
	 * clamping keeps sampled + 1 and the (S) arrays in range for any S.
	 */
	sampled = Min(sampled, n_items);
	st->model = model;
	st->k = k;
	st->nk = nk;
	st->sampled = sampled;
	st->kmax = Max(Min(k[nk - 1], n_items), 1);
	if (sampled > 0)
		st->kmax = Min(st->kmax, sampled + 1);
	st->sum = palloc0(sizeof(double) * EVAL_N_SUMS * nk);
	st->n_cases = 0;
	st->discount = palloc(sizeof(double) * (st->kmax + 1));
	st->discount[0] = 0.0;
	for (int32 r = 1; r <= st->kmax; r++)
		st->discount[r] = 1.0 / log2((double) r + 1.0);
	/* min(k, |T_u|) may exceed I when unknown items are relevant */
	n_ideal = Min(k[nk - 1], ts->max_relevant);
	st->idcg = palloc(sizeof(double) * ((Size) n_ideal + 1));
	st->idcg[0] = 0.0;
	for (int32 r = 1; r <= n_ideal; r++)
		st->idcg[r] = st->idcg[r - 1] + 1.0 / log2((double) r + 1.0);
	st->min_rank = palloc(sizeof(int32) * n_items);
	for (int32 j = 0; j < n_items; j++)
		st->min_rank[j] = PG_INT32_MAX;
	st->heap = palloc(sizeof(int32) * Max(st->kmax, sampled));
	st->top = palloc(sizeof(int32) * Max(st->kmax, sampled));
	st->is_test = palloc0(sizeof(bool) * n_items);
	if (sampled > 0)
	{
		st->drawn = palloc0(sizeof(int64) * n_items);
		st->picks = palloc(sizeof(int32) * sampled);
		st->stamp = 0;
		rng_seed(&st->rng, seed);
	}
}

/* Score the evaluated users in blocks (ModelScoreBlockSize) and evaluate each. */
static void
EvalRun(EvalState *st, const TestSet *ts)
{
	const Model *model = st->model;
	Size		row_bytes = mul_size(sizeof(float), model->n_items);
	int			block = ModelScoreBlockSize(model);
	float	   *scores = palloc_extended(mul_size(row_bytes, block), MCXT_ALLOC_HUGE);	/* (B, I) */
	ScoreQuery *queries = palloc(sizeof(ScoreQuery) * block);

	RecganThreadsSetup();
	for (int32 b0 = 0; b0 < ts->n_users; b0 += block)
	{
		int			nq = Min(block, ts->n_users - b0);

		CHECK_FOR_INTERRUPTS();
		for (int q = 0; q < nq; q++)
			model_user_query(model, ts->users[b0 + q], &queries[q]);
		model->ops->score(model, queries, nq, scores);
		for (int q = 0; q < nq; q++)
		{
			int32		e = b0 + q;
			float	   *row = scores + (Size) q * model->n_items;
			const int32 *test = ts->items + ts->start[e];
			int32		n_test = (int32) (ts->start[e + 1] - ts->start[e]);

			if (st->sampled > 0)
				EvalUserSampled(st, row, ts->users[e], test, n_test);
			else
				EvalUserFull(st, row, ts->users[e], test, n_test, ts->n_relevant[e]);
		}
	}
}

/* Append one (metric, k, value, users) row to the result. */
static void
EvalEmit(ReturnSetInfo *rsinfo, const char *metric, int32 k, double value, int32 users)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = CStringGetTextDatum(metric);
	values[1] = Int32GetDatum(k);
	values[2] = Float8GetDatum(value);
	values[3] = Int32GetDatum(users);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Emit the averages (and, for the full ranking, coverage) of st. */
static void
EvalEmitAll(ReturnSetInfo *rsinfo, const EvalState *st, int32 n_users)
{
	for (int m = 0; m < EVAL_N_SUMS; m++)
	{
		if (st->sampled > 0 && m != EVAL_HITRATE && m != EVAL_NDCG)
			continue;
		for (int ki = 0; ki < st->nk; ki++)
			EvalEmit(rsinfo, eval_metric_names[m], st->k[ki],
					 st->sum[m * st->nk + ki] / st->n_cases, n_users);
	}
	if (st->sampled > 0)
		return;
	for (int ki = 0; ki < st->nk; ki++)
	{
		int64		covered = 0;

		for (int32 j = 0; j < st->model->n_items; j++)
			covered += st->min_rank[j] <= st->k[ki] ? 1 : 0;
		EvalEmit(rsinfo, "coverage", st->k[ki],
				 (double) covered / st->model->n_items, n_users);
	}
}

/* qsort comparator of int32. */
static int
EvalCmpInt32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* The cut-offs of a k array, checked, sorted and deduplicated. */
static int32 *
EvalParseK(ArrayType *arr, int *nk)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				m = 0;
	int32	   *k;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				errmsg("k must be a one-dimensional array"));
	deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("k must contain at least one cut-off"));
	k = palloc(sizeof(int32) * n);
	for (int j = 0; j < n; j++)
	{
		if (nulls[j])
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("k must not contain NULL"));
		k[j] = DatumGetInt32(elems[j]);
		if (k[j] < 1)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("k must be at least 1, got %d", k[j]));
	}
	qsort(k, n, sizeof(int32), EvalCmpInt32);
	for (int j = 0; j < n; j++)
		if (m == 0 || k[j] != k[m - 1])
			k[m++] = k[j];
	*nk = m;
	return k;
}

/* Text argument n of the call, or an error naming it when NULL. */
static char *
EvalTextArg(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("%s must not be NULL", name));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

PG_FUNCTION_INFO_V1(recgan_evaluate);

/* Evaluate a model on a test table: one row per metric and cut-off. */
Datum
recgan_evaluate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *model_name = EvalTextArg(fcinfo, 0, "model");
	DatasetSpec spec;
	int32		sampled = PG_ARGISNULL(7) ? 0 : PG_GETARG_INT32(7);
	MemoryContext ctx,
				old;
	Model	   *model;
	uint64		evictions;
	int64	   *users,
			   *items,
				n_pairs;
	int32	   *k;
	int			nk;
	int32		n_candidates;
	TestSet		ts;
	EvalState	st;

	spec.source = EvalTextArg(fcinfo, 1, "test_source");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("k must not be NULL"));
	spec.user_col = EvalTextArg(fcinfo, 3, "user_col");
	spec.item_col = EvalTextArg(fcinfo, 4, "item_col");
	spec.rating_col = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	if (PG_ARGISNULL(8))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("seed must not be NULL"));
	if (!PG_ARGISNULL(7) && sampled < 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("sampled must be at least 1, got %d", sampled));

	InitMaterializedSRF(fcinfo, 0);
	ctx = AllocSetContextCreate(CurrentMemoryContext, "recgan evaluate",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);

	k = EvalParseK(PG_GETARG_ARRAYTYPE_P(2), &nk);
	model = ModelLoad(model_name);
	evictions = ModelCacheEvictions();
	spec.threshold = PG_ARGISNULL(6) ? model->threshold : PG_GETARG_FLOAT8(6);
	if (isnan(spec.threshold))
		spec.rating_col = NULL;
	n_pairs = DatasetLoadPairs(&spec, &users, &items);
	model = ModelReloadIfEvicted(model_name, model, evictions);	/* the source's code may evict it */

	EvalBuildTestSet(&ts, model, users, items, n_pairs, sampled > 0, &n_candidates);
	if (ts.n_users == 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("no user of \"%s\" can be evaluated with model \"%s\"",
					   spec.source, model_name),
				errdetail("The test source has " INT64_FORMAT " positive pairs; users known to the model with training positives among them: %d, none with a test positive %s.",
						  n_pairs, n_candidates,
						  sampled > 0 ? "on an item known to the model" : "outside its training positives"),
				errhint("Check the threshold, and that the test table uses the ids of the training table."));

	EvalStateInit(&st, model, k, nk, sampled, (uint64) PG_GETARG_INT64(8), &ts);
	EvalRun(&st, &ts);

	MemoryContextSwitchTo(old);
	EvalEmitAll(rsinfo, &st, ts.n_users);
	MemoryContextDelete(ctx);
	return (Datum) 0;
}
