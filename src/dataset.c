/*
 * dataset.c
 *	  Read interactions from a table, view or materialized view through SPI
 *	  and build the user/item id maps and the CSR of positives.
 *
 * The relation name is resolved with regclass semantics (quoting, schema
 * qualification and search_path behave as in SQL), and the rows are read by
 * an ordinary query with the caller's privileges.  Each row goes straight from
 * the executor's slot into the raw arrays (a DestReceiver, RawRowsReceiver):
 * no SPI tuple table, no tuple formed per row.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "dataset.h"

/* Raw rows read from a relation. */
typedef struct RawRows
{
	int64		n;				/* rows with non-NULL ids */
	int64		cap;
	int64	   *users;			/* (n) */
	int64	   *items;			/* (n) */
	bool	   *positive;		/* (n) */
	int64		n_null_ids;
} RawRows;

/* Resolve the source relation; return its quoted, qualified name. */
static char *
ResolveSource(const char *source, Oid *relid)
{
	List	   *names = stringToQualifiedNameList(source);
	RangeVar   *rv = makeRangeVarFromNameList(names);
	char		relkind;

	*relid = RangeVarGetRelid(rv, AccessShareLock, false);
	relkind = get_rel_relkind(*relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_VIEW &&
		relkind != RELKIND_MATVIEW && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table, view or materialized view", source)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(*relid)),
									  get_rel_name(*relid));
}

/* Check that a column of source (a quoted, qualified name) exists and has an accepted type. */
static void
CheckColumn(Oid relid, const char *source, const char *col, bool numeric_ok)
{
	AttrNumber	att = get_attnum(relid, col);
	Oid			type;

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" does not exist in %s", col, source)));
	type = get_atttype(relid, att);
	if (type == INT2OID || type == INT4OID || type == INT8OID)
		return;
	if (numeric_ok && (type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of %s has type %s", col, source, format_type_be(type)),
			 errdetail(numeric_ok ? "Ratings must be of a numeric type." :
					   "User and item ids must be of an integer type (smallint, integer or bigint).")));
}

/* Append one row to a RawRows, growing its arrays geometrically. */
static void
RawRowsAppend(RawRows *raw, int64 user, int64 item, bool positive)
{
	if (raw->n == raw->cap)
	{
		raw->cap = raw->cap ? raw->cap * 2 : 65536;
		raw->users = repalloc_huge(raw->users, raw->cap * sizeof(int64));
		raw->items = repalloc_huge(raw->items, raw->cap * sizeof(int64));
		raw->positive = repalloc_huge(raw->positive, raw->cap * sizeof(bool));
	}
	raw->users[raw->n] = user;
	raw->items[raw->n] = item;
	raw->positive[raw->n] = positive;
	raw->n++;
}

/* The query reading (user, item, is_positive) from the qualified relation. */
static void
ReadQuery(StringInfo sql, const DatasetSpec *spec, const char *qualified, bool all_positive)
{
	initStringInfo(sql);
	appendStringInfo(sql, "SELECT %s::pg_catalog.int8, %s::pg_catalog.int8, ",
					 quote_identifier(spec->user_col), quote_identifier(spec->item_col));
	if (all_positive)
		appendStringInfoString(sql, "true");
	else
		appendStringInfo(sql, "%s::pg_catalog.float8 OPERATOR(pg_catalog.>=) $1",
						 quote_identifier(spec->rating_col));
	appendStringInfo(sql, " FROM %s", qualified);
}

/* A DestReceiver appending each row of the read query to a RawRows. */
typedef struct RawRowsReceiver
{
	DestReceiver pub;
	RawRows    *raw;
} RawRowsReceiver;

/* Append one row (user, item, is_positive); a row with a NULL id is counted. */
static bool
RawRowsReceive(TupleTableSlot *slot, DestReceiver *self)
{
	RawRows    *raw = ((RawRowsReceiver *) self)->raw;

	slot_getallattrs(slot);
	if (slot->tts_isnull[0] || slot->tts_isnull[1])
		raw->n_null_ids++;
	else
		RawRowsAppend(raw, DatumGetInt64(slot->tts_values[0]), DatumGetInt64(slot->tts_values[1]),
					  !slot->tts_isnull[2] && DatumGetBool(slot->tts_values[2]));
	if ((raw->n & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();
	return true;
}

/* Nothing to set up or release: the arrays belong to the caller. */
static void
RawRowsStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

/* Nothing to release at the end of the query. */
static void
RawRowsNoop(DestReceiver *self)
{
}

/* Read (user, item, is_positive) for every row of the relation. */
static void
ReadRows(const DatasetSpec *spec, RawRows *raw, char **source_name)
{
	MemoryContext outer = CurrentMemoryContext;
	Oid			relid;
	char	   *qualified = ResolveSource(spec->source, &relid);
	bool		all_positive = spec->rating_col == NULL || isnan(spec->threshold);
	StringInfoData sql;
	RawRowsReceiver receiver = {{RawRowsReceive, RawRowsStartup, RawRowsNoop, RawRowsNoop, DestNone}, raw};
	SPIExecuteOptions options = {0};
	Oid			argtypes[1] = {FLOAT8OID};
	SPIPlanPtr	plan;
	int			rc;

	CheckColumn(relid, qualified, spec->user_col, false);
	CheckColumn(relid, qualified, spec->item_col, false);
	if (!all_positive)
		CheckColumn(relid, qualified, spec->rating_col, true);

	ReadQuery(&sql, spec, qualified, all_positive);

	memset(raw, 0, sizeof(*raw));
	raw->cap = 65536;
	raw->users = palloc_extended(raw->cap * sizeof(int64), MCXT_ALLOC_HUGE);
	raw->items = palloc_extended(raw->cap * sizeof(int64), MCXT_ALLOC_HUGE);
	raw->positive = palloc_extended(raw->cap * sizeof(bool), MCXT_ALLOC_HUGE);

	if (!all_positive)
	{
		options.params = makeParamList(1);
		options.params->params[0].value = Float8GetDatum(spec->threshold);
		options.params->params[0].isnull = false;
		options.params->params[0].pflags = PARAM_FLAG_CONST;
		options.params->params[0].ptype = FLOAT8OID;
	}
	options.read_only = true;
	options.dest = &receiver.pub;
	SPI_connect();
	plan = SPI_prepare(sql.data, all_positive ? 0 : 1, argtypes);
	if (plan == NULL)
		elog(ERROR, "preparing the read of %s failed: %s. Please report a bug.", qualified,
			 SPI_result_code_string(SPI_result));
	rc = SPI_execute_plan_extended(plan, &options);
	if (rc < 0)
		elog(ERROR, "reading %s failed: %s. Please report a bug.", qualified,
			 SPI_result_code_string(rc));
	SPI_finish();

	*source_name = MemoryContextStrdup(outer, qualified);
	if (raw->n_null_ids > 0)
		ereport(NOTICE,
				(errmsg("skipped " INT64_FORMAT " rows of %s with a NULL user or item id",
						raw->n_null_ids, *source_name)));
}

/* qsort comparator for int64. */
static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* qsort comparator for (int64, int64) pairs, lexicographic. */
static int
CompareInt64Pair(const void *a, const void *b)
{
	const int64 *x = a;
	const int64 *y = b;

	if (x[0] != y[0])
		return (x[0] > y[0]) - (x[0] < y[0]);
	return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Sorted distinct values of ids[0..n) in a new array; count in *n_out. */
static int64 *
SortedDistinct(const int64 *ids, int64 n, int32 *n_out, const char *what)
{
	int64	   *out = palloc_extended(Max(n, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	int64		m = 0;

	memcpy(out, ids, n * sizeof(int64));
	qsort(out, n, sizeof(int64), CompareInt64);
	for (int64 i = 0; i < n; i++)
		if (m == 0 || out[i] != out[m - 1])
			out[m++] = out[i];
	if (m > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct %s: " INT64_FORMAT, what, m)));
	*n_out = (int32) m;
	return out;
}

/*
 * Sorted distinct ids and each id's dense index: a direct table over the id
 * range when it is at most 4 ids per row (plus 1024), as ids from a sequence
 * are, else the sorted array and a binary search.  Same ids and indexes
 * either way.
 */
typedef struct IdMap
{
	int64	   *ids;			/* (n) sorted distinct ids */
	int32		n;
	int64		base;			/* smallest id */
	int32	   *index;			/* (span) dense index of base + k, or -1; NULL: search ids */
} IdMap;

/* Build the map of ids[0..n) (n > 0). */
static void
IdMapBuild(IdMap *map, const int64 *ids, int64 n, const char *what)
{
	int64		lo = ids[0],
				hi = ids[0];
	uint64		span;
	int32		m = 0;

	for (int64 p = 1; p < n; p++)
	{
		lo = Min(lo, ids[p]);
		hi = Max(hi, ids[p]);
	}
	span = (uint64) hi - (uint64) lo + 1;	/* wraps to 0 for the full int64 range */
	map->base = lo;
	map->index = NULL;
	if (span == 0 || span > (uint64) n * 4 + 1024 || span > PG_INT32_MAX)
	{
		map->ids = SortedDistinct(ids, n, &map->n, what);
		return;
	}
	map->index = palloc_extended(span * sizeof(int32), MCXT_ALLOC_HUGE);
	memset(map->index, 0xFF, span * sizeof(int32));
	for (int64 p = 0; p < n; p++)
		map->index[ids[p] - lo] = 0;
	for (uint64 k = 0; k < span; k++)
		if (map->index[k] == 0)
			m++;
	map->ids = palloc_extended(Max(m, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	m = 0;
	for (uint64 k = 0; k < span; k++)
		if (map->index[k] == 0)
		{
			map->ids[m] = lo + (int64) k;
			map->index[k] = m++;
		}
	map->n = m;
}

/* Dense index of an id of the map. */
static inline int32
IdMapFind(const IdMap *map, int64 id)
{
	if (map->index == NULL)
		return ids_find(map->ids, map->n, id);
	return map->index[id - map->base];
}

/* Read a relation into user/item maps and a CSR of positives. */
Dataset *
DatasetLoad(const DatasetSpec *spec)
{
	Dataset    *ds = palloc0(sizeof(Dataset));
	RawRows		raw;
	IdMap		users,
				items;
	int32	   *rows;
	int32	   *cols;
	int64		n_pos = 0;

	ReadRows(spec, &raw, &ds->source_name);
	ds->n_rows = raw.n;
	ds->n_null_ids = raw.n_null_ids;
	if (raw.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has no rows with a user and an item id", ds->source_name)));

	IdMapBuild(&users, raw.users, raw.n, "users");
	IdMapBuild(&items, raw.items, raw.n, "items");
	ds->user_ids = users.ids;
	ds->n_users = users.n;
	ds->item_ids = items.ids;
	ds->n_items = items.n;

	rows = palloc_extended(raw.n * sizeof(int32), MCXT_ALLOC_HUGE);
	cols = palloc_extended(raw.n * sizeof(int32), MCXT_ALLOC_HUGE);
	for (int64 p = 0; p < raw.n; p++)
	{
		if ((p & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!raw.positive[p])
			continue;
		rows[n_pos] = IdMapFind(&users, raw.users[p]);
		cols[n_pos] = IdMapFind(&items, raw.items[p]);
		n_pos++;
	}
	if (n_pos == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has no positive interactions", ds->source_name),
				 errdetail("No row has %s >= %g.", spec->rating_col, spec->threshold),
				 errhint("Lower the threshold, or pass threshold => NULL to count every row as a positive.")));

	csr_from_pairs(&ds->pos, ds->n_users, ds->n_items, rows, cols, n_pos);
	pfree(rows);
	pfree(cols);
	if (users.index)
		pfree(users.index);
	if (items.index)
		pfree(items.index);
	pfree(raw.users);
	pfree(raw.items);
	pfree(raw.positive);
	return ds;
}

/* Read the positive (user, item) pairs of a relation, sorted and distinct. */
int64
DatasetLoadPairs(const DatasetSpec *spec, int64 **users, int64 **items)
{
	RawRows		raw;
	char	   *name;
	int64	   *keys;
	int64		n = 0;

	ReadRows(spec, &raw, &name);
	keys = palloc_extended(Max(raw.n, 1) * 2 * sizeof(int64), MCXT_ALLOC_HUGE);
	for (int64 p = 0; p < raw.n; p++)
		if (raw.positive[p])
		{
			keys[2 * n] = raw.users[p];
			keys[2 * n + 1] = raw.items[p];
			n++;
		}
	qsort(keys, n, 2 * sizeof(int64), CompareInt64Pair);
	*users = palloc_extended(Max(n, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	*items = palloc_extended(Max(n, 1) * sizeof(int64), MCXT_ALLOC_HUGE);
	{
		int64		m = 0;

		for (int64 p = 0; p < n; p++)
			if (m == 0 || keys[2 * p] != (*users)[m - 1] || keys[2 * p + 1] != (*items)[m - 1])
			{
				(*users)[m] = keys[2 * p];
				(*items)[m] = keys[2 * p + 1];
				m++;
			}
		n = m;
	}
	pfree(keys);
	pfree(raw.users);
	pfree(raw.items);
	pfree(raw.positive);
	return n;
}
