/*
 * cache.c
 *	  Per-backend cache of decoded models, so serving does not decode the
 *	  model bytea on every call.
 *
 * An entry is keyed by the model name and the version of its catalog row:
 * the row's xmin and ctid.  Every retrain or replace writes a new row
 * version, so the next call in any session that can see it misses and
 * decodes the new model; a retrain that rolled back is never visible, so the
 * old entry keeps being served.  The lookup reads only xmin and ctid (the
 * bytea is a TOAST pointer, fetched only on a miss) by a direct probe of the
 * primary key index after checking SELECT privilege; when row-level security
 * applies it goes through SPI instead, so policies are honoured.  Nothing is
 * written, so this works on a hot standby.
 *
 * The serving fast path skips even that probe: when the caller may read
 * recgan_models directly (SELECT privilege, no row-level security: checked
 * on every call, so SET ROLE and SECURITY DEFINER are honoured) and
 * CacheCatalogStable says no write to recgan_models can have become visible
 * since an entry was last confirmed by a probe in the same generation
 * (cache_inval.c: invalidation messages, a shared count of committing
 * writers, the snapshot's xmin), the entry is served as confirmed.  Under
 * row-level security every call probes through SPI, as policies may depend
 * on anything (settings, functions).
 *
 * Each entry also memoizes, per known user, the top RECGAN_MEMO_K items of
 * the unfiltered recommendation (history excluded) once it has been
 * computed, so repeated requests for a user cost a copy of at most k rows.
 * The memo belongs to the model version: a retrain drops it with the entry.
 *
 * Each entry owns a memory context under a long-lived "recgan model cache"
 * context; entries are evicted least recently used first when their total
 * would exceed recgan.cache_mb.  A model larger than the whole cache is
 * decoded for the call only and not kept.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "storage/itemptr.h"
#include "utils/tuplestore.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "cache.h"
#include "catalog.h"
#include "dataset.h"
#include "guc.h"
#include "util.h"

typedef struct CacheEntry
{
	dlist_node	lru;			/* most recently used at the head */
	char	   *name;
	Size		name_len;
	TransactionId xmin;
	ItemPointerData tid;
	MemoryContext cxt;
	Model	   *model;
	Size		bytes;
	UserTop    *memo;			/* (U) memoized top lists, allocated on first use */
	ModelSource source;			/* the row's source and columns, for live histories */
	uint64		confirmed;		/* generation of its last stable probe, 0 if none */
} CacheEntry;

static MemoryContext cache_cxt = NULL;
static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static Size cache_bytes = 0;
static uint64 cache_hits = 0;
static uint64 cache_misses = 0;
static uint64 memo_hits = 0;
static uint64 probes = 0;		/* catalog lookups (hits, misses and errors) */
static uint64 evictions = 0;	/* entries dropped (a model pointer may be stale) */

/* Drop one entry and its memory. */
static void
CacheEvict(CacheEntry *e)
{
	dlist_delete(&e->lru);
	cache_bytes -= e->bytes;
	MemoryContextDelete(e->cxt);
	evictions++;
}

/*
 * The number of entries evicted so far in this backend: a model returned by
 * ModelLoad stays valid while it does not change.
 */
uint64
ModelCacheEvictions(void)
{
	return evictions;
}

/*
 * model, loaded as name when ModelCacheEvictions() was since, or the model
 * loaded again if an eviction may have freed it since then.
 */
Model *
ModelReloadIfEvicted(const char *name, Model *model, uint64 since)
{
	return evictions == since ? model : ModelLoad(name);
}

/* Evict least recently used entries until need more bytes fit. */
static void
CacheMakeRoom(Size need)
{
	Size		limit = (Size) recgan_cache_mb * 1024 * 1024;

	while (!dlist_is_empty(&cache_lru) && cache_bytes + need > limit)
		CacheEvict(dlist_container(CacheEntry, lru, dlist_tail_node(&cache_lru)));
}

/* A model row as found by a lookup. */
typedef struct RowVersion
{
	bool		found;
	TransactionId xmin;
	ItemPointerData tid;
	bytea	   *raw;			/* detoasted copy, when asked for */
	char	   *text[4];		/* with raw: source, user_col, item_col, rating_col */
} RowVersion;

/*
 * The row's text columns a live history needs, in RowVersion.text order;
 * user_col, item_col and rating_col exist from version 0.2.0 on.
 */
static const char *const source_columns[4] = {"source", "user_col", "item_col", "rating_col"};

/* The catalog relation, its primary key and the model column, per backend. */
static Oid	models_relid = InvalidOid;
static Oid	models_pkey = InvalidOid;
static AttrNumber models_attnum = InvalidAttrNumber;

/*
 * The user last allowed to probe recgan_models directly, and the cache
 * generation of that decision: it holds until the generation ends (any
 * message about the table, any change of roles: cache_inval.c), so a hot
 * loop skips the name check, the privilege check and the row-security check.
 */
static Oid	direct_user = InvalidOid;
static uint64 direct_gen = 0;

/* Resolve (again, if the extension was dropped or recreated) the catalog OIDs. */
static void
CatalogResolve(void)
{
	char	   *relname = OidIsValid(models_relid) ? get_rel_name(models_relid) : NULL;
	char	   *qualified;
	Relation	rel;

	if (relname != NULL && strcmp(relname, "recgan_models") == 0)
		return;
	qualified = RecganCatalogTable("recgan_models");	/* errors if not installed */
	models_relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified)),
									NoLock, false);
	rel = table_open(models_relid, AccessShareLock);
	models_pkey = RelationGetPrimaryKeyIndex(rel);
	table_close(rel, NoLock);
	models_attnum = get_attnum(models_relid, "model");
	if (!OidIsValid(models_pkey) || models_attnum == InvalidAttrNumber)
		elog(ERROR, "recgan_models has lost its primary key or model column. Please report a bug.");
}

/*
 * Find a model row by a direct probe of the primary key index (no SPI, no
 * planner): the serving fast path.  The caller has checked SELECT privilege
 * and that no row-level security applies.
 */
static void
LookupDirect(const char *name, RowVersion *rv, bool want_bytes)
{
	Relation	rel = table_open(models_relid, AccessShareLock);
	Relation	idx = index_open(models_pkey, AccessShareLock);
	Snapshot	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan;
	ScanKeyData key;
	bool		isnull;

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   idx->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(name));
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	rv->found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (rv->found)
	{
		rv->xmin = DatumGetTransactionId(slot_getsysattr(slot, MinTransactionIdAttributeNumber, &isnull));
		ItemPointerCopy(&slot->tts_tid, &rv->tid);
		if (want_bytes)
		{
			rv->raw = DatumGetByteaPCopy(slot_getattr(slot, models_attnum, &isnull));
			for (int c = 0; c < 4; c++)
			{
				AttrNumber	att = get_attnum(models_relid, source_columns[c]);
				Datum		d = att > 0 ? slot_getattr(slot, att, &isnull) : (Datum) 0;

				rv->text[c] = att > 0 && !isnull ? TextDatumGetCString(d) : NULL;
			}
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
}

/*
 * Find a model row through SPI, which applies every permission and policy:
 * used when row-level security or column privileges are in play.
 */
static void
LookupSpi(const char *name, RowVersion *rv, bool want_bytes)
{
	MemoryContext outer = CurrentMemoryContext;
	Datum		arg = CStringGetTextDatum(name);
	Oid			types[1] = {TEXTOID};
	StringInfoData sql;
	bool		isnull;
	int			col[4];			/* SPI column of each source column, 0 if none */
	int			n_cols = 3;

	initStringInfo(&sql);
	appendStringInfoString(&sql, want_bytes ? "SELECT xmin, ctid, model" : "SELECT xmin, ctid");
	for (int c = 0; c < 4; c++)
	{
		col[c] = 0;
		if (want_bytes && get_attnum(models_relid, source_columns[c]) > 0)
		{
			appendStringInfo(&sql, ", %s", source_columns[c]);
			col[c] = ++n_cols;
		}
	}
	appendStringInfo(&sql, " FROM %s WHERE name = $1", RecganCatalogTable("recgan_models"));

	SPI_connect();
	if (SPI_execute_with_args(sql.data, 1, types, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "model lookup failed. Please report a bug.");
	rv->found = (SPI_processed == 1);
	if (rv->found)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		rv->xmin = DatumGetTransactionId(SPI_getbinval(tup, desc, 1, &isnull));
		ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 2, &isnull)), &rv->tid);
		if (want_bytes)
		{
			MemoryContext spi_cxt = MemoryContextSwitchTo(outer);

			rv->raw = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 3, &isnull));
			for (int c = 0; c < 4; c++)
				rv->text[c] = col[c] ? SPI_getvalue(tup, desc, col[c]) : NULL;
			MemoryContextSwitchTo(spi_cxt);
		}
	}
	SPI_finish();
}

/* Whether the caller may probe recgan_models directly (no policy applies). */
static bool
LookupDirectAllowed(void)
{
	return pg_class_aclcheck(models_relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK &&
		check_enable_rls(models_relid, InvalidOid, true) != RLS_ENABLED;
}

/* Look a model row up, directly or through SPI; UNDEFINED_OBJECT if none. */
static void
LookupRow(const char *name, RowVersion *rv, bool want_bytes, bool direct)
{
	memset(rv, 0, sizeof(*rv));
	probes++;
	if (direct)
		LookupDirect(name, rv, want_bytes);
	else
		LookupSpi(name, rv, want_bytes);
	if (!rv->found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("Train it with recgan_train(source, model => '%s').", name)));
}

/* The cache entry of this model name, or NULL. */
static CacheEntry *
CacheFind(const char *name)
{
	dlist_iter	it;

	dlist_foreach(it, &cache_lru)
	{
		CacheEntry *e = dlist_container(CacheEntry, lru, it.cur);

		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

/* Decode a model row's bytes (and its chunks) into a new context under the cache's. */
static Model *
CacheDecode(const char *name, bytea *raw, MemoryContext *cxt_out)
{
	MemoryContext cxt = AllocSetContextCreate(cache_cxt, "recgan cached model",
											  ALLOCSET_DEFAULT_SIZES);
	Model	   *model;

	PG_TRY();
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		model = ModelDecodeStored(name, raw);
		if (model->ops->prepare)
			model->ops->prepare(model);
		MemoryContextSwitchTo(old);
	}
	PG_CATCH();
	{
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	*cxt_out = cxt;
	return model;
}

/* Copy a row's source columns into a ModelSource allocated in cxt. */
static void
SourceCopy(MemoryContext cxt, const RowVersion *rv, ModelSource *src)
{
	char	   *copy[4];

	for (int c = 0; c < 4; c++)
		copy[c] = rv->text[c] ? MemoryContextStrdup(cxt, rv->text[c]) : NULL;
	src->source = copy[0];
	src->user_col = copy[1];
	src->item_col = copy[2];
	src->rating_col = copy[3];
}

/*
 * Whether the current user was allowed to read recgan_models directly in
 * the current generation, *gen (cache_inval.c), which is stable.
 */
static bool
DirectDecided(uint64 *gen)
{
	return OidIsValid(direct_user) && direct_user == GetUserId() &&
		CacheCatalogStable(models_relid, gen) && *gen == direct_gen;
}

/*
 * Return the decoded model of this name: from the cache without a catalog
 * probe (nor a privilege check, when the same user passed it in this
 * generation) when nothing can have changed (file comment), from the cache after
 * a probe when the row is unchanged, else decoded anew.  The model is owned
 * by the cache: callers must not modify or free it, and must not keep it
 * past the current call.  With source non-NULL, *source gets where the
 * model's row says it was trained from (owned like the model).
 */
Model *
ModelLoadSource(const char *name, const ModelSource **source)
{
	RowVersion	rv;
	Model	   *model;
	MemoryContext cxt;
	Size		bytes;
	CacheEntry *e;
	bool		direct;
	uint64		gen = 0;
	bool		stable;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "recgan model cache",
										  ALLOCSET_DEFAULT_SIZES);
	if (DirectDecided(&gen))
		direct = stable = true;
	else
	{
		CatalogResolve();
		direct = LookupDirectAllowed();
		stable = direct && CacheCatalogStable(models_relid, &gen);
		direct_user = stable ? GetUserId() : InvalidOid;
		direct_gen = gen;
	}
	e = CacheFind(name);
	if (e != NULL && stable && e->confirmed == gen)
	{
		dlist_move_head(&cache_lru, &e->lru);
		cache_hits++;
		if (source)
			*source = &e->source;
		return e->model;
	}
	LookupRow(name, &rv, false, direct);
	if (e != NULL && e->xmin == rv.xmin && ItemPointerEquals(&e->tid, &rv.tid))
	{
		dlist_move_head(&cache_lru, &e->lru);
		e->confirmed = stable ? gen : 0;
		cache_hits++;
		if (source)
			*source = &e->source;
		return e->model;
	}
	if (e != NULL)
		CacheEvict(e);			/* another version of the row */

	/* miss: fetch the bytes (same snapshot, same row) and decode */
	cache_misses++;
	LookupRow(name, &rv, true, direct);
	model = CacheDecode(name, rv.raw, &cxt);
	pfree(rv.raw);

	bytes = MemoryContextMemAllocated(cxt, true);
	if (bytes > (Size) recgan_cache_mb * 1024 * 1024)
	{
		/* too big to keep: it lives as long as the caller's context */
		ModelSource *src = MemoryContextAlloc(cxt, sizeof(ModelSource));

		SourceCopy(cxt, &rv, src);
		MemoryContextSetParent(cxt, CurrentMemoryContext);
		if (source)
			*source = src;
		return model;
	}
	CacheMakeRoom(bytes);
	e = MemoryContextAlloc(cxt, sizeof(CacheEntry));
	e->name = MemoryContextStrdup(cxt, name);
	e->name_len = strlen(name);
	e->xmin = rv.xmin;
	e->tid = rv.tid;
	e->cxt = cxt;
	e->model = model;
	e->bytes = bytes;
	e->memo = NULL;
	SourceCopy(cxt, &rv, &e->source);
	e->confirmed = stable ? gen : 0;
	dlist_push_head(&cache_lru, &e->lru);
	cache_bytes += bytes;
	if (source)
		*source = &e->source;
	return model;
}

/* The decoded model of this name (ModelLoadSource without the source). */
Model *
ModelLoad(const char *name)
{
	return ModelLoadSource(name, NULL);
}

/* The cache entry holding this decoded model, or NULL if it is not cached. */
static CacheEntry *
CacheEntryOf(const Model *model)
{
	dlist_iter	it;

	dlist_foreach(it, &cache_lru)
	{
		CacheEntry *e = dlist_container(CacheEntry, lru, it.cur);

		if (e->model == model)
			return e;
	}
	return NULL;
}

/* The memoized top list of known user u, or NULL. */
const UserTop *
ModelMemoGet(const Model *model, int32 u)
{
	CacheEntry *e = CacheEntryOf(model);

	if (e == NULL || e->memo == NULL || e->memo[u].items == NULL)
		return NULL;
	memo_hits++;
	return &e->memo[u];
}

/*
 * How many rows of a memoized top list answer k for a model of n_items
 * items, or -1 when it cannot: it must hold the top min(k, n_items), or all
 * it kept when it was computed for min(max(k, RECGAN_MEMO_K), n_items) and
 * fewer were eligible.
 */
int32
MemoRows(const UserTop *top, int32 k, int32 n_items)
{
	int32		kk = Min(k, n_items);

	if (top->n < kk && top->n < MemoWant(k, n_items))
		return -1;
	return Min(kk, top->n);
}

/*
 * Remember the top list of known user u (best first) with the model's cache
 * entry, counting its memory against recgan.cache_mb; nothing is kept for
 * an uncached model or when the cache is full.
 */
void
ModelMemoPut(const Model *model, int32 u, const int32 *items, const float *scores, int32 n)
{
	CacheEntry *e = CacheEntryOf(model);
	Size		need = (Size) n * (sizeof(int64) + sizeof(int32) + sizeof(float));
	Size		limit = (Size) recgan_cache_mb * 1024 * 1024;
	UserTop    *top;

	if (e == NULL)
		return;
	if (e->memo == NULL)
		need += (Size) model->n_users * sizeof(UserTop);
	if (cache_bytes + need > limit)
		return;
	if (e->memo == NULL)
		e->memo = MemoryContextAllocZero(e->cxt, (Size) model->n_users * sizeof(UserTop));
	/* one block: ids, then indexes, then scores */
	top = &e->memo[u];
	top->ids = MemoryContextAlloc(e->cxt, (Size) Max(n, 1) * (sizeof(int64) + sizeof(int32) + sizeof(float)));
	top->items = (int32 *) (top->ids + n);
	top->scores = (float *) (top->items + n);
	for (int32 r = 0; r < n; r++)
		top->ids[r] = model->item_ids[items[r]];
	memcpy(top->items, items, (Size) n * sizeof(int32));
	memcpy(top->scores, scores, (Size) n * sizeof(float));
	top->n = n;
	e->bytes += need;
	cache_bytes += need;
}

/*
 * The hot path of recgan_recommend(_ids): known user user_id's memoized top
 * list, of which the first *n answer k, of the model last served (the head of the LRU list), when it is the model
 * named name, ModelLoadSource would serve it without a probe (same user and
 * generation, confirmed in it) and the memo holds the answer for k (the
 * test of RecommendKnownUser).  false: nothing was done, take the general
 * path, which gives the same answer.
 */
bool
ModelMemoServe(const text *name, int64 user_id, int32 k, const UserTop **memo, int32 *n)
{
	CacheEntry *e;
	const Model *model;
	uint64		gen;
	int32		u;

	if (dlist_is_empty(&cache_lru))
		return false;
	e = dlist_container(CacheEntry, lru, dlist_head_node(&cache_lru));
	if (e->name_len != VARSIZE_ANY_EXHDR(name) ||
		memcmp(e->name, VARDATA_ANY(name), e->name_len) != 0)
		return false;
	if (!DirectDecided(&gen) || e->confirmed != gen)
		return false;
	model = e->model;
	u = ids_find(model->user_ids, model->n_users, user_id);
	if (u < 0 || e->memo == NULL || e->memo[u].items == NULL ||
		(*n = MemoRows(&e->memo[u], k, model->n_items)) < 0)
		return false;
	cache_hits++;
	memo_hits++;
	*memo = &e->memo[u];
	return true;
}

PG_FUNCTION_INFO_V1(recgan_cache_stats);

/* Per-backend cache statistics as jsonb. */
Datum
recgan_cache_stats(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	dlist_iter	it;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"hits\": " UINT64_FORMAT ", \"misses\": " UINT64_FORMAT
					 ", \"memo_hits\": " UINT64_FORMAT ", \"probes\": " UINT64_FORMAT
					 ", \"bytes\": %zu, \"limit_bytes\": %zu, \"models\": [",
					 cache_hits, cache_misses, memo_hits, probes, cache_bytes,
					 (Size) recgan_cache_mb * 1024 * 1024);
	dlist_foreach(it, &cache_lru)
	{
		CacheEntry *e = dlist_container(CacheEntry, lru, it.cur);

		appendStringInfoString(&buf, first ? "" : ", ");
		escape_json(&buf, e->name);
		first = false;
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
