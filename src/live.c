/*
 * live.c
 *	  Live histories: a user's positives read from a model's source relation
 *	  at call time (the live_history option of the serving functions).
 *
 * The positives are those of the rule the model was trained with: the
 * source relation and the user, item and rating columns recorded in its
 * recgan_models row (version 0.2.0 on), and the rating threshold stored in
 * the model (NaN: every row is a positive).  They are read by one query,
 *
 *	 SELECT item::int8 FROM source WHERE user = $1 [AND rating::float8 >= $2]
 *
 * whose user comparison leaves the column bare, so a btree index on it is
 * used (int2/int4/int8 compare with an int8 parameter in one operator
 * family); without such an index each call scans the relation.  The query
 * runs through SPI as the caller (recgan's functions are not SECURITY
 * DEFINER): table and column privileges and row-level security apply, as to
 * any query the caller writes.
 *
 * Each backend keeps the prepared plan of each distinct query text (so one
 * per source, columns and rule) in a small most-recently-used list.  The
 * plan cache replans it when the relation, its policies or the role change;
 * it is re-analysed from its text, so a source dropped and created again is
 * found by its name.  A retrained model with other columns has another text
 * and another plan; the least recently used plan is freed beyond
 * LIVE_PLANS.  Names are parsed and quoted again before they go into the
 * text, so a hand-edited catalog row cannot inject SQL into other callers'
 * queries.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/value.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

#include "cache.h"
#include "dataset.h"
#include "live.h"

#define LIVE_PLANS 8

typedef struct LivePlan
{
	char	   *sql;			/* in TopMemoryContext */
	SPIPlanPtr	plan;			/* kept (SPI_keepplan) */
} LivePlan;

static LivePlan live_plans[LIVE_PLANS];	/* most recently used first */
static int	n_live_plans = 0;

/* The source relation name of the catalog row, parsed and quoted again. */
static char *
LiveRelation(const char *source)
{
	List	   *names = stringToQualifiedNameList(source);

	if (list_length(names) == 2)
		return quote_qualified_identifier(strVal(linitial(names)), strVal(lsecond(names)));
	if (list_length(names) == 1)
		return pstrdup(quote_identifier(strVal(linitial(names))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_NAME),
			 errmsg("improper source relation name \"%s\" in recgan_models", source)));
	return NULL;				/* not reached */
}

/* Error unless the catalog row records the source's columns this rule needs. */
static void
LiveCheckSource(const char *name, const ModelSource *src, bool all_positive)
{
	if (src->source == NULL || src->user_col == NULL || src->item_col == NULL ||
		(!all_positive && src->rating_col == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" does not record the columns of its source", name),
				 errdetail("Models trained before recgan 0.2.0 store only the source relation."),
				 errhint("Retrain it with recgan_train to use live_history.")));
}

/* The text of the live history query of this source and rule. */
static char *
LiveQueryText(const char *name, const ModelSource *src, bool all_positive)
{
	StringInfoData sql;

	LiveCheckSource(name, src, all_positive);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s::pg_catalog.int8 FROM %s WHERE %s OPERATOR(pg_catalog.=) $1",
					 quote_identifier(src->item_col), LiveRelation(src->source),
					 quote_identifier(src->user_col));
	if (!all_positive)
		appendStringInfo(&sql, " AND %s::pg_catalog.float8 OPERATOR(pg_catalog.>=) $2",
						 quote_identifier(src->rating_col));
	return sql.data;
}

/* The kept plan of this query text, prepared on first use (inside SPI). */
static SPIPlanPtr
LivePlanGet(const char *sql, int nargs)
{
	Oid			types[2] = {INT8OID, FLOAT8OID};
	LivePlan	found;
	int			at;

	for (at = 0; at < n_live_plans; at++)
		if (strcmp(live_plans[at].sql, sql) == 0)
			break;
	if (at < n_live_plans)
		found = live_plans[at];
	else
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "preparing the live history query failed: %s. Please report a bug.",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		found.plan = plan;
		found.sql = MemoryContextStrdup(TopMemoryContext, sql);
		if (n_live_plans == LIVE_PLANS)
		{
			n_live_plans--;
			SPI_freeplan(live_plans[n_live_plans].plan);
			pfree(live_plans[n_live_plans].sql);
		}
		at = n_live_plans++;
	}
	for (; at > 0; at--)		/* move it to the front */
		live_plans[at] = live_plans[at - 1];
	live_plans[0] = found;
	return found.plan;
}

/*
 * Read the item ids of raw user id user_id's live positives into *items (in
 * the current memory context, in no order, duplicates kept); return their
 * number.  Rows with a NULL item are left out.  model and src are not used
 * once the query has run: it may run code that evicts them from the cache.
 */
int
LiveHistory(const char *name, const Model *model, const ModelSource *src, int64 user_id,
			int64 **items)
{
	MemoryContext outer = CurrentMemoryContext;
	bool		all_positive = isnan(model->threshold);
	char	   *sql = LiveQueryText(name, src, all_positive);
	Datum		args[2] = {Int64GetDatum(user_id), Float8GetDatum(model->threshold)};
	int			n = 0;

	SPI_connect();
	if (SPI_execute_plan(LivePlanGet(sql, all_positive ? 1 : 2), args, NULL, true, 0) !=
		SPI_OK_SELECT)
		elog(ERROR, "live history query failed. Please report a bug.");
	if (SPI_processed > MaxAllocSize / sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("user " INT64_FORMAT " has too many rows in the source of model \"%s\"",
						user_id, name)));
	*items = MemoryContextAlloc(outer, Max(SPI_processed, 1) * sizeof(int64));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		item = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			(*items)[n++] = DatumGetInt64(item);
	}
	SPI_finish();
	return n;
}

/*
 * Read the live positives of every user in the model's source, by one scan
 * (dataset.c's reader, with the training's rule): n (user, item) raw id
 * pairs, sorted and distinct, in *users and *items; n is returned.  As for
 * LiveHistory, model and src are not used once the source has been read.
 */
int64
LiveHistoryAll(const char *name, const Model *model, const ModelSource *src, int64 **users,
			   int64 **items)
{
	bool		all_positive = isnan(model->threshold);
	DatasetSpec spec;

	LiveCheckSource(name, src, all_positive);
	spec.source = pstrdup(src->source);
	spec.user_col = pstrdup(src->user_col);
	spec.item_col = pstrdup(src->item_col);
	spec.rating_col = all_positive ? NULL : pstrdup(src->rating_col);
	spec.threshold = model->threshold;
	return DatasetLoadPairs(&spec, users, items);
}
