/*
 * catalog.h
 *	  Stored models as bytea (catalog.c, over the engine's byte format in
 *	  src/engine/format.c), and the scoring block size for serving.
 */
#ifndef RECGAN_CATALOG_H
#define RECGAN_CATALOG_H

#include "model.h"

#define RECGAN_SCORE_BLOCK 256

/* Encode a model into a new bytea; PROGRAM_LIMIT_EXCEEDED above 1 GB. */
extern bytea *ModelEncode(const Model *model);

/* Decode and validate a model bytea; DATA_CORRUPTED on any bad byte. */
extern Model *ModelDecode(bytea *raw);

/*
 * Users per scoring block: at most 256, fewer when a (block, I) float score
 * matrix would exceed maintenance_work_mem; at least 1.
 */
extern int	ModelScoreBlockSize(const Model *model);

#endif							/* RECGAN_CATALOG_H */
