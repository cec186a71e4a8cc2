/*
 * format.h
 *	  The model byte format: encode a Model into bytes and decode it back,
 *	  validating every byte.  Engine: no server headers.  The layout is
 *	  specified in format.c's file comment.
 *
 * Encoding is two calls, so that the host can put the bytes where it
 * stores them without a second copy (the backend: a bytea of VARHDRSZ +
 * size bytes, encoded into VARDATA):
 *
 *	  size_t size;
 *	  RG_TRY(model_encoded_size(model, &size, err));
 *	  buf = <size bytes>;
 *	  RG_TRY(model_encode(model, buf, size, err));
 *
 * Decoding takes any bytes (no alignment needed) and returns a model that
 * shares nothing with them, or RG_DATA_CORRUPTED, never a crash.
 */
#ifndef RECGAN_ENGINE_FORMAT_H
#define RECGAN_ENGINE_FORMAT_H

#include <stddef.h>

#include "engine.h"
#include "model.h"

/* Bytes of the fixed header at the start of every encoded model. */
#define RG_MODEL_HEADER_SIZE 192

/*
 * The largest encoded model: 64 GB.  PostgreSQL stores a model up to a chunk
 * (recgan.model_chunk_size) as one bytea and a larger one in ordered chunks
 * (src/catalog.c), so the bound is the memory a backend can be asked to
 * assemble, not the 1 GB of a bytea.  The "too large to store" error names
 * the size with the RG_MODEL_STORE_OVERHEAD-byte varlena header, in MB.
 */
#define RG_MODEL_STORE_OVERHEAD 4
#define RG_MAX_MODEL_BYTES (((size_t) 64 << 30) - RG_MODEL_STORE_OVERHEAD)

/*
 * Bytes model_encode will write for model into *size: RG_PROGRAM_LIMIT
 * beyond RG_MAX_MODEL_BYTES.
 */
extern RgStatus model_encoded_size(const Model *model, size_t *size, RgError *err);

/*
 * Write model's header and payload into out, which holds exactly out_size
 * bytes as given by model_encoded_size (RG_INTERNAL otherwise).  Every byte
 * of out is written.
 */
extern RgStatus model_encode(const Model *model, void *out, size_t out_size,
							 RgError *err);

/*
 * Decode and validate len bytes at data into a new model (*out, allocated
 * through the host with every array, its popularity computed);
 * RG_DATA_CORRUPTED, with nothing left allocated, when any check fails.
 */
extern RgStatus model_decode(const void *data, size_t len, Model **out, RgError *err);

#endif							/* RECGAN_ENGINE_FORMAT_H */
