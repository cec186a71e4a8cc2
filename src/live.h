/*
 * live.h
 *	  A user's positives read from a model's source at call time (live.c).
 */
#ifndef RECGAN_LIVE_H
#define RECGAN_LIVE_H

#include "cache.h"

/*
 * The item ids of raw user id user_id's live positives in model's source
 * (*items, unordered, duplicates kept; the count is returned), read as the
 * caller through one kept plan per source and rule.
 */
extern int	LiveHistory(const char *name, const Model *model, const ModelSource *src,
						int64 user_id, int64 **items);

/*
 * The live positives of every user in model's source, by one scan: n raw
 * (user, item) pairs sorted and distinct in *users and *items.
 */
extern int64 LiveHistoryAll(const char *name, const Model *model, const ModelSource *src,
							int64 **users, int64 **items);

#endif							/* RECGAN_LIVE_H */
