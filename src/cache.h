/*
 * cache.h
 *	  Decoded models kept per backend, keyed by row version, and the
 *	  per-user memo of recommendations (cache.c); when the catalog probe
 *	  may be skipped (cache_inval.c).
 */
#ifndef RECGAN_CACHE_H
#define RECGAN_CACHE_H

#include "model.h"

/*
 * The decoded model of this name, through the per-backend cache (cache.c);
 * UNDEFINED_OBJECT if there is none.  Owned by the cache: read only.
 */
extern Model *ModelLoad(const char *name);

/* Where a model was trained from, as its recgan_models row says. */
typedef struct ModelSource
{
	char	   *source;			/* quoted, qualified relation name */
	char	   *user_col;		/* NULL: trained before version 0.2.0 */
	char	   *item_col;
	char	   *rating_col;		/* NULL: every row was a positive */
} ModelSource;

/*
 * Entries evicted so far in this backend: code that may run other recgan
 * calls between loading a model and using it loads it again if this moved.
 */
extern uint64 ModelCacheEvictions(void);

/* The model again, from ModelLoad, if an entry was evicted since that count. */
extern Model *ModelReloadIfEvicted(const char *name, Model *model, uint64 since);

/* ModelLoad, also giving the model's source (owned by the cache). */
extern Model *ModelLoadSource(const char *name, const ModelSource **source);

/* Register the invalidation callbacks and shared counter (cache_inval.c). */
extern void CacheInit(void);

/*
 * Whether the rows of recgan_models (relid) visible now are those seen by
 * every other stable lookup of generation *gen (cache_inval.c).
 */
extern bool CacheCatalogStable(Oid relid, uint64 *gen);

/* A known user's memoized recommendation: best first (cache.c). */
typedef struct UserTop
{
	int32		n;
	int64	   *ids;			/* (n) item ids, for recgan_recommend_ids */
	int32	   *items;			/* (n) item indexes */
	float	   *scores;			/* (n) */
} UserTop;

#define RECGAN_MEMO_K 100

/* How many top items a memo computed for k keeps, of n_items. */
static inline int32
MemoWant(int32 k, int32 n_items)
{
	return Min(Max(Min(k, n_items), RECGAN_MEMO_K), n_items);
}

/* How many rows of a memoized top list answer k, or -1 (cache.c). */
extern int32 MemoRows(const UserTop *top, int32 k, int32 n_items);

/* recgan_recommend(_ids)'s hot path: the memoized top list, or false (cache.c). */
extern bool ModelMemoServe(const text *name, int64 user_id, int32 k, const UserTop **memo,
						   int32 *n);

extern const UserTop *ModelMemoGet(const Model *model, int32 u);
extern void ModelMemoPut(const Model *model, int32 u, const int32 *items,
						 const float *scores, int32 n);

#endif							/* RECGAN_CACHE_H */
