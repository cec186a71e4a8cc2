/*
 * catalog.c
 *	  Models as bytea values of recgan_models: the engine's byte format
 *	  (src/engine/format.c, offset table in its file comment) inside a
 *	  varlena, and the scoring block size for serving.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "catalog.h"
#include "engine_host.h"
#include "format.h"

/* Serialise a model into a new bytea (one copy: encoded in place). */
bytea *
ModelEncode(const Model *model)
{
	size_t		size;
	bytea	   *out;

	ENGINE_CALL(model_encoded_size(model, &size, &engine_err));
	out = palloc_extended(VARHDRSZ + size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, VARHDRSZ + size);
	ENGINE_CALL(model_encode(model, VARDATA(out), size, &engine_err));
	return out;
}

/* Decode and validate a model bytea; the result shares nothing with raw. */
Model *
ModelDecode(bytea *raw)
{
	Model	   *model;

	ENGINE_CALL(model_decode(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw), &model, &engine_err));
	return model;
}

/* Users per scoring block, bounded by maintenance_work_mem. */
int
ModelScoreBlockSize(const Model *model)
{
	Size		row_bytes = mul_size(sizeof(float), model->n_items);
	Size		fit = (Size) maintenance_work_mem * 1024 / row_bytes;

	return (int) Max(Min(fit, (Size) RECGAN_SCORE_BLOCK), 1);
}
