/*
 * recommend.c
 *	  The top-K set-returning functions and model information.
 *
 * Legend: I items, Q users in a scoring block.
 *
 * Cold start: a user the model has never seen gets the items ranked by
 * their number of training positives (popularity), whatever the algorithm.
 * Ties in score are broken by ascending item id.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "cache.h"
#include "catalog.h"
#include "dataset.h"
#include "live.h"
#include "util.h"
#include "topk.h"

/* qsort comparator for int32 indexes. */
static int
CompareIndex(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* Error unless argument arg is non-NULL. */
static void
RequireArg(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
}

/* k argument: non-NULL and at least 1. */
static int32
GetK(FunctionCallInfo fcinfo, int arg)
{
	int32		k;

	RequireArg(fcinfo, arg, "k");
	k = PG_GETARG_INT32(arg);
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1"),
				 errdetail("Got %d.", k)));
	return k;
}

/* Model name argument: non-NULL. */
static char *
GetModelName(FunctionCallInfo fcinfo, int arg)
{
	RequireArg(fcinfo, arg, "model");
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/*
 * The live_history argument, when the function's declaration has it (a
 * 0.1.0 catalog does not); on, the model must fold histories in.
 */
static bool
GetLive(FunctionCallInfo fcinfo, int arg)
{
	if (PG_NARGS() <= arg)
		return false;
	RequireArg(fcinfo, arg, "live_history");
	return PG_GETARG_BOOL(arg);
}

/* Error unless the model can score a history it was not trained on. */
static void
RequireFoldIn(const Model *model, const char *name)
{
	if (model->ops->no_fold_in != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" (%s) cannot use a live history", name, model->ops->name),
				 errdetail("%s", model->ops->no_fold_in),
				 errhint("Call it with live_history => false, or use an algorithm with fold-in such as ials or ease.")));
}

/*
 * Start the result tuplestore, with the row type the executor expects when
 * it gives one: building it from pg_proc instead is a fifth of a cached
 * call's time.
 */
static void
InitResultSet(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		expected = rsinfo != NULL && IsA(rsinfo, ReturnSetInfo) &&
		rsinfo->expectedDesc != NULL;

	InitMaterializedSRF(fcinfo, expected ? MAT_SRF_USE_EXPECTED_DESC : 0);
}

/*
 * Where one user's top k goes: rows of the result set (recgan_recommend), or
 * item ids in rank order (recgan_recommend_ids, which skips the set-returning
 * machinery: a function scan and its tuplestore cost more than the scoring
 * of a cached model).
 */
typedef struct RecSink
{
	ReturnSetInfo *rsinfo;		/* rows here, or NULL */
	int64	   *ids;			/* else k item ids here (Recommend allocates) */
	int32		n;				/* how many so far */
} RecSink;

/* Rank rank + 1 of the answer: item index item with its score. */
static void
SinkPut(RecSink *out, const Model *model, int32 item, float score, int32 rank)
{
	Datum		values[3];
	bool		nulls[3] = {false};

	if (out->rsinfo == NULL)
	{
		out->ids[out->n++] = model->item_ids[item];
		return;
	}
	values[0] = Int64GetDatum(model->item_ids[item]);
	values[1] = Float4GetDatum(score);
	values[2] = Int32GetDatum(rank + 1);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
	out->n++;
}

/*
 * Sorted distinct known item indexes of n raw item ids; *unknown counts
 * ids the model does not know.
 */
static int32 *
MapIds(const Model *model, const int64 *ids, int n, int32 *n_out, int32 *unknown)
{
	int32	   *idx = palloc_array(int32, Max(n, 1));
	int32		m = 0;

	*unknown = 0;
	for (int i = 0; i < n; i++)
	{
		int32		j = ids_find(model->item_ids, model->n_items, ids[i]);

		if (j < 0)
			(*unknown)++;
		else
			idx[m++] = j;
	}
	qsort(idx, m, sizeof(int32), CompareIndex);
	*n_out = 0;
	for (int32 a = 0; a < m; a++)
		if (a == 0 || idx[a] != idx[a - 1])
			idx[(*n_out)++] = idx[a];
	return idx;
}

/*
 * Map an int8[] of raw item ids to sorted distinct known item indexes; NULL
 * elements and multi-dimensional arrays are errors; *unknown counts ids the
 * model does not know.
 */
static int32 *
MapItems(const Model *model, ArrayType *arr, const char *what, int32 *n_out, int32 *unknown)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int64	   *ids;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	ids = palloc_array(int64, Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what)));
		ids[i] = DatumGetInt64(elems[i]);
	}
	return MapIds(model, ids, n, n_out, unknown);
}

/*
 * The fold-in query of raw user id user_id's live positives in the model's
 * source (live.c); items the model does not know are left out.  The query
 * may run the caller's code (a view's functions) that evicts cached models,
 * so the model to use from here on is returned: the same one, or the one
 * loaded again.
 */
static Model *
LiveQuery(const char *name, Model *model, const ModelSource *src, int64 user_id,
		  ScoreQuery *q)
{
	uint64		evictions = ModelCacheEvictions();
	int64	   *ids;
	int			n = LiveHistory(name, model, src, user_id, &ids);
	int32		unknown;

	model = ModelReloadIfEvicted(name, model, evictions);
	RequireFoldIn(model, name);
	q->user = -1;
	q->items = MapIds(model, ids, n, &q->n_items, &unknown);
	return model;
}

/* Business filters of one call: items to skip, and the only items allowed. */
typedef struct Filters
{
	int32	   *exclude;		/* item indexes never returned */
	int32		n_exclude;
	bool		has_candidates;
	int32	   *candidates;		/* item indexes allowed, if has_candidates */
	int32		n_candidates;
	float	   *saved;			/* (n_candidates) scratch */
} Filters;

/* Read the exclude and candidates array arguments (either may be NULL). */
static void
GetFilters(FunctionCallInfo fcinfo, int exclude_arg, int candidates_arg, const Model *model,
		   Filters *f)
{
	int32		unknown;

	memset(f, 0, sizeof(*f));
	if (!PG_ARGISNULL(exclude_arg))
		f->exclude = MapItems(model, PG_GETARG_ARRAYTYPE_P(exclude_arg), "exclude",
							  &f->n_exclude, &unknown);
	if (!PG_ARGISNULL(candidates_arg))
	{
		f->has_candidates = true;
		f->candidates = MapItems(model, PG_GETARG_ARRAYTYPE_P(candidates_arg), "candidates",
								 &f->n_candidates, &unknown);
		f->saved = palloc_array(float, Max(f->n_candidates, 1));
	}
}

/* Set the scores of these items to -inf (never recommended). */
static void
ExcludeItems(float *scores, const int32 *items, int32 n)
{
	for (int32 h = 0; h < n; h++)
		scores[items[h]] = -INFINITY;
}

/* Apply exclusions, then keep only the candidates' scores. */
static void
ApplyFilters(const Filters *f, float *scores, int32 n_items)
{
	ExcludeItems(scores, f->exclude, f->n_exclude);
	if (!f->has_candidates)
		return;
	for (int32 c = 0; c < f->n_candidates; c++)
		f->saved[c] = scores[f->candidates[c]];
	for (int32 j = 0; j < n_items; j++)
		scores[j] = -INFINITY;
	for (int32 c = 0; c < f->n_candidates; c++)
		scores[f->candidates[c]] = f->saved[c];
}

/* Emit the top k of one score row as (user_id, item_id, score, rank) rows. */
static void
EmitUserTopK(ReturnSetInfo *rsinfo, const Model *model, const float *scores, int32 k,
			 int32 *heap, int32 *top, int64 user_id)
{
	int32		got = topk_select(scores, model->n_items, k, heap, top);

	for (int32 r = 0; r < got; r++)
	{
		Datum		values[4];
		bool		nulls[4] = {false};

		values[0] = Int64GetDatum(user_id);
		values[1] = Int64GetDatum(model->item_ids[top[r]]);
		values[2] = Float4GetDatum(scores[top[r]]);
		values[3] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* The top k of one score row (k at most the model's items) into out. */
static void
SinkTopK(RecSink *out, const Model *model, const float *scores, int32 k)
{
	int32	   *top = palloc_array(int32, Max(k, 1));
	int32		got = topk_select(scores, model->n_items, k, palloc_array(int32, Max(k, 1)), top);

	for (int32 r = 0; r < got; r++)
		SinkPut(out, model, top[r], scores[top[r]], r);
}

/*
 * Score one query and emit its top k.  q NULL is the cold-start answer
 * (popularity); otherwise the query's history is excluded when
 * exclude_history is set.  Filters apply in both cases.
 */
static void
RecommendOne(RecSink *out, const Model *model, const ScoreQuery *q,
			 bool exclude_history, const Filters *f, int32 k)
{
	float	   *scores = palloc_array(float, model->n_items);

	if (q == NULL)
		memcpy(scores, model->popularity, model->n_items * sizeof(float));
	else
	{
		RecganThreadsSetup();
		model->ops->score(model, q, 1, scores);
		if (exclude_history)
			ExcludeItems(scores, q->items, q->n_items);
	}
	ApplyFilters(f, scores, model->n_items);
	SinkTopK(out, model, scores, Min(k, model->n_items));
}

/*
 * Emit the top k of known user u without filters, from the memo when it
 * holds enough rows; otherwise score, select the top max(k, RECGAN_MEMO_K)
 * and memoize them.  The answer is the same either way: the selection
 * order (score, then item index) is total.
 */
static void
RecommendKnownUser(RecSink *out, const Model *model, int32 u, int32 k)
{
	const UserTop *memo = ModelMemoGet(model, u);
	int32		rows = memo ? MemoRows(memo, k, model->n_items) : -1;
	int32		want = MemoWant(k, model->n_items);
	ScoreQuery	q;
	float	   *scores;
	int32	   *top;
	float	   *top_scores;
	int32		got;

	if (rows < 0)
	{
		model_user_query(model, u, &q);
		scores = palloc_array(float, model->n_items);
		RecganThreadsSetup();
		model->ops->score(model, &q, 1, scores);
		ExcludeItems(scores, q.items, q.n_items);
		top = palloc_array(int32, want);
		got = topk_select(scores, model->n_items, want, palloc_array(int32, want), top);
		top_scores = palloc_array(float, Max(got, 1));
		for (int32 r = 0; r < got; r++)
			top_scores[r] = scores[top[r]];
		ModelMemoPut(model, u, top, top_scores, got);
		rows = Min(Min(k, model->n_items), got);
	}
	else if (out->rsinfo == NULL)
	{
		/* the ids are ready in the memo */
		out->n = rows;
		memcpy(out->ids, memo->ids, rows * sizeof(int64));
		return;
	}
	else
	{
		top = memo->items;
		top_scores = memo->scores;
	}
	for (int32 r = 0; r < rows; r++)
		SinkPut(out, model, top[r], top_scores[r], r);
}

/*
 * One user's top k into out (the arguments of recgan_recommend and
 * recgan_recommend_ids: user_id, k, model, exclude_seen, exclude,
 * candidates, live_history); false for a NULL user.  Unknown users get the
 * cold-start answer.  With live_history the user's current positives in the
 * model's source are folded in (live.c), known to the model or not; none is
 * a cold start.
 */
static bool
Recommend(FunctionCallInfo fcinfo, RecSink *out, int32 k)
{
	char	   *name = GetModelName(fcinfo, 2);
	bool		live = GetLive(fcinfo, 6);
	bool		exclude_seen;
	Model	   *model;
	const ModelSource *src;
	Filters		f;
	ScoreQuery	q;
	int32		u;

	RequireArg(fcinfo, 3, "exclude_seen");
	exclude_seen = PG_GETARG_BOOL(3);
	model = ModelLoadSource(name, &src);
	if (live)
		RequireFoldIn(model, name);
	if (live && !PG_ARGISNULL(0))
		model = LiveQuery(name, model, src, PG_GETARG_INT64(0), &q);
	GetFilters(fcinfo, 4, 5, model, &f);
	if (PG_ARGISNULL(0))
		return false;			/* no user, no answer */
	if (out->rsinfo == NULL)
		out->ids = palloc_array(int64, Max(Min(k, model->n_items), 1));
	if (live)
	{
		RecommendOne(out, model, q.n_items > 0 ? &q : NULL, exclude_seen, &f, k);
		return true;
	}
	u = ids_find(model->user_ids, model->n_users, PG_GETARG_INT64(0));
	if (u >= 0 && exclude_seen && f.n_exclude == 0 && !f.has_candidates)
		RecommendKnownUser(out, model, u, k);
	else
	{
		if (u >= 0)
			model_user_query(model, u, &q);
		RecommendOne(out, model, u >= 0 ? &q : NULL, exclude_seen, &f, k);
	}
	return true;
}

/*
 * The hot path of recgan_recommend and recgan_recommend_ids: a known user,
 * the default options (exclude_seen, no exclude or candidates, no live
 * history), the answer memoized for the model served last.  false: take
 * the general path (Recommend), which gives the same answer.
 */
static bool
MemoHotPath(FunctionCallInfo fcinfo, const UserTop **memo, int32 *n)
{
	return PG_NARGS() >= 6 && !PG_ARGISNULL(0) && !PG_ARGISNULL(1) && PG_GETARG_INT32(1) >= 1 &&
		!PG_ARGISNULL(2) && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3) &&
		PG_ARGISNULL(4) && PG_ARGISNULL(5) &&
		(PG_NARGS() < 7 || (!PG_ARGISNULL(6) && !PG_GETARG_BOOL(6))) &&
		ModelMemoServe(PG_GETARG_TEXT_PP(2), PG_GETARG_INT64(0), PG_GETARG_INT32(1), memo, n);
}

PG_FUNCTION_INFO_V1(recgan_recommend);

/* Top-k (item_id, score, rank) rows for one user (see Recommend). */
Datum
recgan_recommend(PG_FUNCTION_ARGS)
{
	RecSink		out = {(ReturnSetInfo *) fcinfo->resultinfo, NULL, 0};
	const UserTop *memo;
	int32		n;

	if (MemoHotPath(fcinfo, &memo, &n))
	{
		InitResultSet(fcinfo);
		for (int32 r = 0; r < n; r++)
		{
			Datum		values[3] = {Int64GetDatum(memo->ids[r]), Float4GetDatum(memo->scores[r]),
			Int32GetDatum(r + 1)};
			bool		nulls[3] = {false};

			tuplestore_putvalues(out.rsinfo->setResult, out.rsinfo->setDesc, values, nulls);
		}
		return (Datum) 0;
	}
	InitResultSet(fcinfo);
	Recommend(fcinfo, &out, GetK(fcinfo, 1));
	return (Datum) 0;
}

/* A one-dimensional int8[] without nulls of n ids: the header, then the ids as they are. */
static ArrayType *
IdsArray(const int64 *ids, int32 n)
{
	Size		bytes = ARR_OVERHEAD_NONULLS(1) + n * sizeof(int64);
	ArrayType  *result;

	if (n == 0)
		return construct_empty_array(INT8OID);
	result = (ArrayType *) palloc0(bytes);
	SET_VARSIZE(result, bytes);
	result->ndim = 1;
	result->elemtype = INT8OID;
	ARR_DIMS(result)[0] = n;
	ARR_LBOUND(result)[0] = 1;
	memcpy((char *) result + ARR_OVERHEAD_NONULLS(1), ids, n * sizeof(int64));
	return result;
}

PG_FUNCTION_INFO_V1(recgan_recommend_ids);

/*
 * The same top k as recgan_recommend, as an array of item ids in rank
 * order (NULL for a NULL user): a scalar function, for the hot path.
 */
Datum
recgan_recommend_ids(PG_FUNCTION_ARGS)
{
	RecSink		out = {NULL, NULL, 0};
	const UserTop *memo;
	int32		n;

	if (MemoHotPath(fcinfo, &memo, &n))
		PG_RETURN_ARRAYTYPE_P(IdsArray(memo->ids, n));
	if (!Recommend(fcinfo, &out, GetK(fcinfo, 1)))
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(IdsArray(out.ids, out.n));
}

PG_FUNCTION_INFO_V1(recgan_recommend_items);

/* Top-k items for a user given only by a list of liked items (fold-in). */
Datum
recgan_recommend_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = GetK(fcinfo, 1);
	char	   *name = GetModelName(fcinfo, 2);
	Model	   *model;
	Filters		f;
	ScoreQuery	q;
	int32		unknown;
	RecSink		out = {NULL, NULL, 0};

	RequireArg(fcinfo, 0, "items");
	InitResultSet(fcinfo);
	model = ModelLoad(name);
	GetFilters(fcinfo, 3, 4, model, &f);
	q.user = -1;
	q.items = MapItems(model, PG_GETARG_ARRAYTYPE_P(0), "items", &q.n_items, &unknown);
	if (unknown > 0)
		ereport(NOTICE,
				(errmsg("%d of the given items are unknown to model \"%s\" and were ignored",
						unknown, name)));
	if (q.n_items > 0 && model->ops->no_fold_in != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s models cannot recommend for a list of items", model->ops->name),
				 errdetail("%s", model->ops->no_fold_in),
				 errhint("Use recgan_recommend for a known user, or an algorithm with fold-in such as ials or ease.")));
	out.rsinfo = rsinfo;
	RecommendOne(&out, model, q.n_items > 0 ? &q : NULL, q.n_items > 0, &f, k);
	return (Datum) 0;
}

/* Live histories of every user of the model, as fold-in queries. */
typedef struct LiveAll
{
	int64	   *offsets;		/* (U + 1) user u's items: items[offsets[u]..offsets[u + 1]) */
	int32	   *items;			/* item indexes, ascending per user */
} LiveAll;

/*
 * Read the live positives of every user in the model's source (one scan)
 * and group those of the model's users by user; other users and unknown
 * items are left out.  Returns the model to use from here on (loaded again
 * if reading the source evicted it, as in LiveQuery).
 */
static Model *
LiveQueryAll(const char *name, Model *model, const ModelSource *src, LiveAll *live)
{
	uint64		evictions = ModelCacheEvictions();
	int64	   *users;
	int64	   *items;
	int64		n = LiveHistoryAll(name, model, src, &users, &items);
	int64		at = 0;

	model = ModelReloadIfEvicted(name, model, evictions);
	RequireFoldIn(model, name);
	live->offsets = palloc_extended((Size) (model->n_users + 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	live->items = palloc_extended(Max(n, 1) * sizeof(int32), MCXT_ALLOC_HUGE);
	live->offsets[0] = 0;
	/* pairs and user ids are both sorted by raw id: one merge */
	for (int32 u = 0; u < model->n_users; u++)
	{
		int64		m = live->offsets[u];

		while (at < n && users[at] < model->user_ids[u])
			at++;
		for (; at < n && users[at] == model->user_ids[u]; at++)
		{
			int32		j = ids_find(model->item_ids, model->n_items, items[at]);

			if (j >= 0)
				live->items[m++] = j;	/* ascending: index order is id order */
		}
		live->offsets[u + 1] = m;
	}
	pfree(users);
	pfree(items);
	return model;
}

PG_FUNCTION_INFO_V1(recgan_recommend_all);

/*
 * Top-k unseen items for every user of the model, scored in blocks.  With
 * live_history each user's current positives in the source (read by one
 * scan) are folded in instead; a user with none gets the cold-start answer.
 */
Datum
recgan_recommend_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = GetK(fcinfo, 0);
	char	   *name = GetModelName(fcinfo, 1);
	bool		live = GetLive(fcinfo, 4);
	Model	   *model;
	const ModelSource *src;
	LiveAll		la;
	Filters		f;
	ScoreQuery *queries;
	float	   *scores;			/* (Q, I) */
	int32	   *heap;
	int32	   *top;
	int32		kk;
	int			block;

	InitResultSet(fcinfo);
	model = ModelLoadSource(name, &src);
	if (live)
	{
		RequireFoldIn(model, name);
		model = LiveQueryAll(name, model, src, &la);
	}
	GetFilters(fcinfo, 2, 3, model, &f);
	kk = Min(k, model->n_items);
	block = ModelScoreBlockSize(model);
	RecganThreadsSetup();
	queries = palloc_array(ScoreQuery, block);
	scores = palloc_extended((Size) block * model->n_items * sizeof(float), MCXT_ALLOC_HUGE);
	heap = palloc_array(int32, kk);
	top = palloc_array(int32, kk);

	for (int32 u0 = 0; u0 < model->n_users; u0 += block)
	{
		int			nq = Min(block, model->n_users - u0);

		CHECK_FOR_INTERRUPTS();
		for (int q = 0; q < nq; q++)
		{
			int32		u = u0 + q;

			if (!live)
				model_user_query(model, u, &queries[q]);
			else
			{
				queries[q].user = -1;
				queries[q].items = la.items + la.offsets[u];
				queries[q].n_items = (int32) (la.offsets[u + 1] - la.offsets[u]);
			}
		}
		model->ops->score(model, queries, nq, scores);
		for (int q = 0; q < nq; q++)
		{
			float	   *row = scores + (Size) q * model->n_items;

			if (live && queries[q].n_items == 0)	/* cold start, as recgan_recommend */
				memcpy(row, model->popularity, model->n_items * sizeof(float));
			ExcludeItems(row, queries[q].items, queries[q].n_items);
			ApplyFilters(&f, row, model->n_items);
			EmitUserTopK(rsinfo, model, row, kk, heap, top, model->user_ids[u0 + q]);
		}
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(recgan_similar_items);

/* The k items most similar to an item, for models with item representations. */
Datum
recgan_similar_items(PG_FUNCTION_ARGS)
{
	RecSink		out = {(ReturnSetInfo *) fcinfo->resultinfo, NULL, 0};
	int32		k = GetK(fcinfo, 1);
	char	   *name = GetModelName(fcinfo, 2);
	Model	   *model;
	int32		i;
	float	   *scores;

	InitResultSet(fcinfo);
	model = ModelLoad(name);
	if (model->ops->similar == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" (%s) has no item representations", name, model->ops->name),
				 errhint("Use an itemknn, ease, gfcf or cfgan model for similar items.")));
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	i = ids_find(model->item_ids, model->n_items, PG_GETARG_INT64(0));
	if (i < 0)
		return (Datum) 0;		/* an item the model does not know has no neighbours */
	scores = palloc_array(float, model->n_items);
	model->ops->similar(model, i, scores);
	scores[i] = -INFINITY;
	SinkTopK(&out, model, scores, Min(k, model->n_items));
	return (Datum) 0;
}

/*
 * Contribution of each history item of q to item j: for an additive model
 * the score of j from the one-item history (exact: they sum to j's score),
 * otherwise the model's similarity of the history item to j.  Items that
 * contributed nothing (0, or no similarity) get -inf.
 */
static float *
ExplainContributions(const Model *model, const ScoreQuery *q, int32 j)
{
	float	   *contrib = palloc_array(float, Max(q->n_items, 1));
	float	   *row = palloc_array(float, model->n_items);

	RecganThreadsSetup();
	if (!model->ops->additive)
		model->ops->similar(model, j, row);
	for (int32 h = 0; h < q->n_items; h++)
	{
		ScoreQuery	one = {-1, &q->items[h], 1};

		CHECK_FOR_INTERRUPTS();
		if (model->ops->additive)
			model->ops->score(model, &one, 1, row);
		contrib[h] = row[model->ops->additive ? j : q->items[h]];
		if (contrib[h] == 0 || isnan(contrib[h]))
			contrib[h] = -INFINITY;
	}
	return contrib;
}

/* Error unless raw id is one of the model's users (what "user") or items. */
static int32
ExplainFind(const Model *model, const char *name, int64 id, bool user)
{
	int32		at = user ? ids_find(model->user_ids, model->n_users, id)
		: ids_find(model->item_ids, model->n_items, id);

	if (at < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s " INT64_FORMAT " is not known to model \"%s\"", user ? "user" : "item",
						id, name),
				 errhint("%s", user ? "recgan_explain explains the scores of users the model was trained on."
						 : "recgan_explain explains the scores of items the model was trained on.")));
	return at;
}

PG_FUNCTION_INFO_V1(recgan_explain);

/*
 * The k items of a known user's history that contributed most to the
 * score of an item, with their contributions, best first.  With
 * live_history the history is the user's current positives in the model's
 * source, and the user need not be known.
 */
Datum
recgan_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = GetModelName(fcinfo, 2);
	int32		k = GetK(fcinfo, 3);
	bool		live = GetLive(fcinfo, 4);
	Model	   *model;
	const ModelSource *src;
	ScoreQuery	q;
	int32		j;
	float	   *contrib;
	int32	   *top;
	int32		got;

	InitResultSet(fcinfo);
	model = ModelLoadSource(name, &src);
	if (!model->ops->additive && model->ops->similar == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s models cannot explain a score", model->ops->name),
				 errdetail("Their scores do not depend on the user's history."),
				 errhint("Use an ease, itemknn or gfcf model for exact explanations.")));
	if (live)
		RequireFoldIn(model, name);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;		/* no user or no item, no rows */
	if (live)
		model = LiveQuery(name, model, src, PG_GETARG_INT64(0), &q);
	else
		model_user_query(model, ExplainFind(model, name, PG_GETARG_INT64(0), true), &q);
	j = ExplainFind(model, name, PG_GETARG_INT64(1), false);
	if (q.n_items == 0)
		return (Datum) 0;		/* no history, nothing contributed */
	contrib = ExplainContributions(model, &q, j);
	k = Min(k, Max(q.n_items, 1));
	top = palloc_array(int32, k);
	got = topk_select(contrib, q.n_items, k, palloc_array(int32, k), top);
	for (int32 r = 0; r < got; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false};

		values[0] = Int64GetDatum(model->item_ids[q.items[top[r]]]);
		values[1] = Float4GetDatum(contrib[top[r]]);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(recgan_model_header);

/* Validate a model bytea fully and describe its header as jsonb. */
Datum
recgan_model_header(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	char	   *manifest = ModelManifestJson(raw);
	Model	   *model;
	StringInfoData buf;

	if (manifest != NULL)		/* a chunked model: its manifest only */
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(manifest)));
	model = ModelDecode(raw);

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"format_version\": 1, \"algorithm\": \"%s\", \"n_users\": %d, "
					 "\"n_items\": %d, \"n_positives\": " INT64_FORMAT ", \"seed\": " UINT64_FORMAT
					 ", \"threshold\": ",
					 model->ops->name, model->n_users, model->n_items, CsrNnz(&model->pos),
					 model->seed);
	if (isnan(model->threshold))
		appendStringInfoString(&buf, "null");
	else
		appendStringInfo(&buf, "%.17g", model->threshold);
	appendStringInfoString(&buf, ", \"tensors\": [");
	for (int t = 0; t < model->n_tensors; t++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, t ? ", " : "", model->tensors[t].len);
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
