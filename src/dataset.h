/*
 * dataset.h
 *	  Interactions read from a ratings table, as CSR over dense indexes.
 *
 * Legend: U users, I items, N positives (non-zeros of the user x item matrix).
 * Raw ids are arbitrary int8 values; they are mapped to dense indexes by
 * position in the sorted id arrays, so index order equals id order (csr.h).
 */
#ifndef RECGAN_DATASET_H
#define RECGAN_DATASET_H

#include "postgres.h"

#include "csr.h"

/* Where and how to read interactions. */
typedef struct DatasetSpec
{
	const char *source;			/* relation name, regclass syntax */
	const char *user_col;
	const char *item_col;
	const char *rating_col;		/* NULL: every row is a positive */
	double		threshold;		/* rating >= threshold is a positive; NaN: all */
} DatasetSpec;

typedef struct Dataset
{
	int32		n_users;		/* U */
	int32		n_items;		/* I */
	int64	   *user_ids;		/* (U) sorted raw user ids */
	int64	   *item_ids;		/* (I) sorted raw item ids */
	Csr			pos;			/* (U x I) positives, deduplicated */
	int64		n_rows;			/* rows read with non-NULL ids */
	int64		n_null_ids;		/* rows skipped for a NULL id */
	char	   *source_name;	/* schema-qualified, quoted name of the relation */
} Dataset;

/* Read a relation into a Dataset allocated in the current memory context. */
extern Dataset *DatasetLoad(const DatasetSpec *spec);

/*
 * Read (user, item) positives of a relation as raw id pairs, for test sets:
 * *users and *items get n entries, duplicates removed, sorted by (user, item).
 */
extern int64 DatasetLoadPairs(const DatasetSpec *spec, int64 **users, int64 **items);

#endif							/* RECGAN_DATASET_H */
