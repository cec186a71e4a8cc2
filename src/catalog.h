/*
 * catalog.h
 *	  Stored models as bytea (catalog.c, over the engine's byte format in
 *	  src/engine/format.c), and the scoring block size for serving.
 */
#ifndef RECGAN_CATALOG_H
#define RECGAN_CATALOG_H

#include "model.h"

#define RECGAN_SCORE_BLOCK 256

/* Decode and validate a model bytea; DATA_CORRUPTED on any bad byte. */
extern Model *ModelDecode(bytea *raw);

/*
 * Stored models: the value of recgan_models.model for name, either the model
 * itself or, above recgan.model_chunk_size, a manifest of chunk rows in
 * recgan_model_chunks under (name, version) (written by ModelEncodeStored,
 * read back by ModelDecodeStored as the chunks' owner).  version is 0 on a
 * 0.1.0 catalog (CatalogHasVersions false).
 */
extern bytea *ModelEncodeStored(const Model *model, const char *name, int32 version);
extern Model *ModelDecodeStored(const char *name, bytea *raw);

/* Whether the installed catalog has model versions (0.2.0). */
extern bool CatalogHasVersions(void);

/* jsonb text describing a chunk manifest, or NULL if raw is a model. */
extern char *ModelManifestJson(bytea *raw);

/*
 * Users per scoring block: at most 256, fewer when a (block, I) float score
 * matrix would exceed maintenance_work_mem; at least 1.
 */
extern int	ModelScoreBlockSize(const Model *model);

#endif							/* RECGAN_CATALOG_H */
