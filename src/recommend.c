/*
 * recommend.c
 *	  Loading models by name and the top-K set-returning functions.
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

#include "model.h"
#include "recgan.h"
#include "topk.h"

/* Load and decode a model by name; UNDEFINED_OBJECT if there is none. */
Model *
ModelLoad(const char *name)
{
	MemoryContext outer = CurrentMemoryContext;
	char	   *sql = psprintf("SELECT model FROM %s WHERE name = $1",
							   RecganCatalogTable("recgan_models"));
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bytea	   *raw = NULL;
	bool		isnull;

	SPI_connect();
	SPI_execute_with_args(sql, 1, types, values, NULL, true, 1);
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spi_cxt = MemoryContextSwitchTo(outer);

			raw = DatumGetByteaPCopy(d);
			MemoryContextSwitchTo(spi_cxt);
		}
	}
	SPI_finish();
	if (raw == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("Train it with recgan_train(source, model => '%s').", name)));
	return ModelDecode(raw);
}

/* k argument: at least 1. */
static int32
CheckK(int32 k)
{
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1"),
				 errdetail("Got %d.", k)));
	return k;
}

/* Emit the top k of one score row as (item_id, score, rank) rows. */
static void
EmitTopK(ReturnSetInfo *rsinfo, const Model *model, const float *scores, int32 k,
		 int32 *heap, int32 *top, bool with_user, int64 user_id)
{
	int32		got = topk_select(scores, model->n_items, k, heap, top);

	for (int32 r = 0; r < got; r++)
	{
		Datum		values[4];
		bool		nulls[4] = {false};
		int			c = 0;

		if (with_user)
			values[c++] = Int64GetDatum(user_id);
		values[c++] = Int64GetDatum(model->item_ids[top[r]]);
		values[c++] = Float4GetDatum(scores[top[r]]);
		values[c++] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* Set the scores of a query's history items to -inf (never recommended). */
static void
ExcludeItems(float *scores, const int32 *items, int32 n)
{
	for (int32 h = 0; h < n; h++)
		scores[items[h]] = -INFINITY;
}

/*
 * Score one query and emit its top k.  q NULL is the cold-start answer
 * (popularity, nothing excluded); otherwise the query's history is excluded
 * when exclude is set.
 */
static void
RecommendOne(ReturnSetInfo *rsinfo, const Model *model, const ScoreQuery *q,
			 bool exclude, int32 k)
{
	int32		kk = Min(k, model->n_items);
	float	   *scores = palloc_array(float, model->n_items);

	if (q == NULL)
		memcpy(scores, model->popularity, model->n_items * sizeof(float));
	else
	{
		RecganBlasSetup();
		model->ops->score(model, q, 1, scores);
		if (exclude)
			ExcludeItems(scores, q->items, q->n_items);
	}
	EmitTopK(rsinfo, model, scores, kk, palloc_array(int32, kk), palloc_array(int32, kk),
			 false, 0);
}

PG_FUNCTION_INFO_V1(recgan_recommend);

/* Top-k items for one user; unknown users get the cold-start answer. */
Datum
recgan_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		user_id = PG_GETARG_INT64(0);
	int32		k = CheckK(PG_GETARG_INT32(1));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bool		exclude_seen = PG_GETARG_BOOL(3);
	Model	   *model;
	ScoreQuery	q;
	int32		u;

	InitMaterializedSRF(fcinfo, 0);
	model = ModelLoad(name);
	u = DatasetFindId(model->user_ids, model->n_users, user_id);
	if (u >= 0)
		ModelUserQuery(model, u, &q);
	RecommendOne(rsinfo, model, u >= 0 ? &q : NULL, exclude_seen, k);
	return (Datum) 0;
}

/* Map raw item ids to sorted distinct known indexes; count unknown ones. */
static int32 *
MapItems(const Model *model, ArrayType *arr, int32 *n_out, int32 *unknown)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int32	   *idx;
	int32		m = 0;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("items must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	idx = palloc_array(int32, Max(n, 1));
	*unknown = 0;
	for (int i = 0; i < n; i++)
	{
		int32		j;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("items must not contain NULL")));
		j = DatasetFindId(model->item_ids, model->n_items, DatumGetInt64(elems[i]));
		if (j < 0)
			(*unknown)++;
		else
			idx[m++] = j;
	}
	/* sort and dedupe (insertion sort: histories given by hand are short) */
	for (int32 a = 1; a < m; a++)
		for (int32 b = a; b > 0 && idx[b - 1] > idx[b]; b--)
		{
			int32		t = idx[b];

			idx[b] = idx[b - 1];
			idx[b - 1] = t;
		}
	*n_out = 0;
	for (int32 a = 0; a < m; a++)
		if (a == 0 || idx[a] != idx[a - 1])
			idx[(*n_out)++] = idx[a];
	return idx;
}

PG_FUNCTION_INFO_V1(recgan_recommend_items);

/* Top-k items for a user given only by a list of liked items (fold-in). */
Datum
recgan_recommend_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32		k = CheckK(PG_GETARG_INT32(1));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Model	   *model;
	ScoreQuery	q;
	int32		unknown;

	InitMaterializedSRF(fcinfo, 0);
	model = ModelLoad(name);
	q.user = -1;
	q.items = MapItems(model, arr, &q.n_items, &unknown);
	if (unknown > 0)
		ereport(NOTICE,
				(errmsg("%d of the given items are unknown to model \"%s\" and were ignored",
						unknown, name)));
	RecommendOne(rsinfo, model, q.n_items > 0 ? &q : NULL, true, k);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(recgan_recommend_all);

/* Top-k unseen items for every user of the model, scored in blocks. */
Datum
recgan_recommend_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		k = CheckK(PG_GETARG_INT32(0));
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Model	   *model;
	ScoreQuery *queries;
	float	   *scores;			/* (Q, I) */
	int32	   *heap;
	int32	   *top;
	int32		kk;
	int			block;

	InitMaterializedSRF(fcinfo, 0);
	model = ModelLoad(name);
	kk = Min(k, model->n_items);
	block = ModelScoreBlockSize(model);
	RecganBlasSetup();
	queries = palloc_array(ScoreQuery, block);
	scores = palloc_extended((Size) block * model->n_items * sizeof(float), MCXT_ALLOC_HUGE);
	heap = palloc_array(int32, kk);
	top = palloc_array(int32, kk);

	for (int32 u0 = 0; u0 < model->n_users; u0 += block)
	{
		int			nq = Min(block, model->n_users - u0);

		CHECK_FOR_INTERRUPTS();
		for (int q = 0; q < nq; q++)
			ModelUserQuery(model, u0 + q, &queries[q]);
		model->ops->score(model, queries, nq, scores);
		for (int q = 0; q < nq; q++)
		{
			float	   *row = scores + (Size) q * model->n_items;

			ExcludeItems(row, queries[q].items, queries[q].n_items);
			EmitTopK(rsinfo, model, row, kk, heap, top, true, model->user_ids[u0 + q]);
		}
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(recgan_model_header);

/* Validate a model bytea fully and describe its header as jsonb. */
Datum
recgan_model_header(PG_FUNCTION_ARGS)
{
	Model	   *model = ModelDecode(PG_GETARG_BYTEA_PP(0));
	StringInfoData buf;

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
