/*
 * catalog.c
 *	  Models as bytea values of recgan_models: the engine's byte format
 *	  (src/engine/format.c, offset table in its file comment) inside a
 *	  varlena, and the scoring block size for serving.
 *
 * A model larger than recgan.model_chunk_size is stored in ordered chunks:
 * its bytes are cut into rows (name, seq, data) of recgan_model_chunks and
 * the model column of its recgan_models row holds a small manifest (magic
 * "RGCHUNKS", chunk count, total size, chunk size) instead.  Chunks are
 * written in the training's transaction, after deleting the name's old ones,
 * so a retrain that fails or is cancelled leaves the old model and its
 * chunks as they were, and readers see the manifest and the chunks of one
 * snapshot.  Reading assembles the bytes in one huge allocation and decodes
 * them as any model: the engine's checksum covers every byte, so a missing,
 * short or altered chunk is reported as corruption.  Chunks keep a bytea
 * below 512 MB so that pg_dump's hex text of one stays under 1 GB.
 *
 * Versions (0.2.0 catalog): chunk rows are keyed (name, version, seq) and the
 * manifest (format 2) names the model version they belong to, so a version's
 * chunks stay where they are while its row moves between recgan_models and
 * recgan_model_archive (recgan_deploy), nothing is deleted when a new version
 * is stored, and readers need nothing but the manifest.  A row deleted from
 * either table takes its chunks (the triggers below).  A 0.1.0 catalog (the
 * library upgraded, ALTER EXTENSION UPDATE not yet run) has no version
 * column: there the format 1 manifest and the 0.1.0 behaviour apply.
 *
 * Chunks are read and written as the owner of recgan_model_chunks (a
 * security-restricted switch, as REFRESH MATERIALIZED VIEW does), so a role
 * needs privileges on recgan_models only: a reader reaches the chunks of a
 * manifest it could read with its own privileges and policies, and a
 * writer's chunk changes roll back with its transaction if it may not
 * write the model row.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"

#include "catalog.h"
#include "engine_host.h"
#include "format.h"
#include "guc.h"
#include "util.h"

#define CHUNK_MAGIC "RGCHUNKS"
#define CHUNK_VERSION_1 1		/* 0.1.0: chunks keyed (name, seq) */
#define CHUNK_VERSION_2 2		/* versions: chunks keyed (name, version, seq) */

/*
 * The recgan_models.model value of a chunked model (little-endian host).
 * Format 1 ends after chunk_size (32 bytes); format 2 adds the model version.
 */
typedef struct ChunkManifest
{
	char		magic[8];		/* CHUNK_MAGIC */
	uint32		version;		/* CHUNK_VERSION_1 or CHUNK_VERSION_2 */
	uint32		n_chunks;
	uint64		total;			/* bytes of the encoded model */
	uint64		chunk_size;		/* bytes of every chunk but the last */
	int32		model_version;	/* format 2: the chunks' version column */
	uint32		reserved;		/* format 2: zero */
} ChunkManifest;

#define CHUNK_MANIFEST_V1_SIZE offsetof(ChunkManifest, model_version)

/* The manifest in raw, or false if raw holds a model itself. */
static bool
ManifestOf(bytea *raw, ChunkManifest *man)
{
	Size		len = VARSIZE_ANY_EXHDR(raw);

	if ((len != CHUNK_MANIFEST_V1_SIZE && len != sizeof(ChunkManifest)) ||
		memcmp(VARDATA_ANY(raw), CHUNK_MAGIC, 8) != 0)
		return false;
	memset(man, 0, sizeof(ChunkManifest));
	memcpy(man, VARDATA_ANY(raw), len);
	if (man->version == CHUNK_VERSION_1 && len == CHUNK_MANIFEST_V1_SIZE)
		man->model_version = 1; /* upgraded chunks are version 1 */
	else if (man->version != CHUNK_VERSION_2 || len != sizeof(ChunkManifest) ||
			 man->model_version < 1 || man->reserved != 0)
		man->n_chunks = 0;		/* reported below */
	if (man->chunk_size == 0 || man->total == 0 || man->total > RG_MAX_MODEL_BYTES ||
		man->n_chunks != (man->total + man->chunk_size - 1) / man->chunk_size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("recgan model data is corrupted"),
				 errdetail("The chunk manifest is inconsistent."),
				 errhint("Retrain the model with recgan_train().")));
	return true;
}

/*
 * Whether the installed catalog has model versions (0.2.0: a version column
 * in recgan_model_chunks); false for a 0.1.0 catalog not yet updated.
 */
bool
CatalogHasVersions(void)
{
	return RecganCatalogHasColumn("recgan_model_chunks", "version");
}

/* Saved identity of a ChunksAsOwner switch. */
typedef struct ChunkUser
{
	Oid			userid;
	int			sec_context;
} ChunkUser;

/*
 * Become the owner of recgan_model_chunks for the chunk statements (see the
 * file comment); ChunksAsCaller switches back.  An error in between is
 * cleaned up by the (sub)transaction's abort, which restores the identity.
 */
static void
ChunksAsOwner(ChunkUser *saved)
{
	const char *qualified = RecganCatalogTable("recgan_model_chunks");
	Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(qualified)),
										 AccessShareLock, false);
	Relation	rel = table_open(relid, NoLock);
	Oid			owner = rel->rd_rel->relowner;

	table_close(rel, NoLock);
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

static void
ChunksAsCaller(const ChunkUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/* Run one statement with text/int4 arguments as the chunks' owner; expect rc. */
static void
ChunksExec(const char *sql, const char *name, int32 version, int expect)
{
	Datum		args[2] = {CStringGetTextDatum(name), Int32GetDatum(version)};
	Oid			types[2] = {TEXTOID, INT4OID};
	ChunkUser	saved;

	ChunksAsOwner(&saved);
	SPI_connect();
	if (SPI_execute_with_args(sql, version > 0 ? 2 : 1, types, args, NULL, false, 0) != expect)
		elog(ERROR, "deleting model versions or chunks failed. Please report a bug.");
	SPI_finish();
	ChunksAsCaller(&saved);
}

/* Delete every row of name in one of the catalog tables, as the chunks' owner. */
static void
DeleteAllOfName(const char *table, const char *name)
{
	ChunksExec(psprintf("DELETE FROM %s WHERE name = $1", RecganCatalogTable(table)),
			   name, 0, SPI_OK_DELETE);
}

/* Column n of a trigger's old row, which must not be NULL. */
static Datum
TriggerOldColumn(TriggerData *td, const char *column)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			n = SPI_fnumber(desc, column);
	bool		isnull;
	Datum		value;

	if (n <= 0)
		elog(ERROR, "recgan catalog table has no column \"%s\". Please report a bug.", column);
	value = heap_getattr(td->tg_trigtuple, n, desc, &isnull);
	if (isnull)
		elog(ERROR, "recgan catalog row has a NULL \"%s\". Please report a bug.", column);
	return value;
}

/* Refuse anything but a row trigger AFTER DELETE. */
static TriggerData *
DeleteTriggerData(FunctionCallInfo fcinfo, const char *function)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be called as a row trigger on DELETE", function)));
	return td;
}

PG_FUNCTION_INFO_V1(recgan_models_deleted);

/*
 * Row trigger AFTER DELETE on recgan_models: a deleted model takes its other
 * versions and every chunk with it (as their owner), whoever deleted it and
 * however (recgan_drop_model or a DELETE).  On a 0.1.0 catalog: the chunks of
 * a chunked model (only the first 8 bytes of the model value are read).
 */
Datum
recgan_models_deleted(PG_FUNCTION_ARGS)
{
	TriggerData *td = DeleteTriggerData(fcinfo, "recgan_models_deleted");
	char	   *name = TextDatumGetCString(TriggerOldColumn(td, "name"));
	bytea	   *head;

	if (CatalogHasVersions())
	{
		DeleteAllOfName("recgan_model_archive", name);
		DeleteAllOfName("recgan_model_chunks", name);
		return PointerGetDatum(NULL);
	}
	head = DatumGetByteaPSlice(TriggerOldColumn(td, "model"), 0, 8);
	if (VARSIZE_ANY_EXHDR(head) == 8 && memcmp(VARDATA_ANY(head), CHUNK_MAGIC, 8) == 0)
		DeleteAllOfName("recgan_model_chunks", name);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(recgan_model_archive_deleted);

/*
 * Row trigger AFTER DELETE on recgan_model_archive: a deleted version takes
 * its chunks with it (as their owner), unless it is now the deployed version
 * (recgan_deploy moves a version into recgan_models, then deletes it here).
 */
Datum
recgan_model_archive_deleted(PG_FUNCTION_ARGS)
{
	TriggerData *td = DeleteTriggerData(fcinfo, "recgan_model_archive_deleted");
	char	   *name = TextDatumGetCString(TriggerOldColumn(td, "name"));
	int32		version = DatumGetInt32(TriggerOldColumn(td, "version"));

	ChunksExec(psprintf("DELETE FROM %s c WHERE c.name = $1 AND c.version = $2 "
						"AND NOT EXISTS (SELECT FROM %s m WHERE m.name = $1 AND m.version = $2)",
						RecganCatalogTable("recgan_model_chunks"),
						RecganCatalogTable("recgan_models")),
			   name, version, SPI_OK_DELETE);
	return PointerGetDatum(NULL);
}

/*
 * Encode a model for storing under name as version (0 on a 0.1.0 catalog):
 * its bytes as one bytea when they fit a chunk (recgan.model_chunk_size),
 * else chunk rows written now and a manifest returned.  On a 0.1.0 catalog
 * the old chunks of name are deleted first; with versions nothing is, the
 * new version's chunks have keys of their own.
 */
bytea *
ModelEncodeStored(const Model *model, const char *name, int32 version)
{
	size_t		size;
	Size		chunk = (Size) recgan_model_chunk_size * 1024;
	char	   *buf;
	bytea	   *out;
	ChunkManifest man;
	SPIPlanPtr	plan;
	Oid			types[4] = {TEXTOID, INT4OID, BYTEAOID, INT4OID};
	ChunkUser	saved;
	Size		man_size = version > 0 ? sizeof(man) : CHUNK_MANIFEST_V1_SIZE;

	ENGINE_CALL(model_encoded_size(model, &size, &engine_err));
	buf = palloc_extended(VARHDRSZ + size, MCXT_ALLOC_HUGE);
	ENGINE_CALL(model_encode(model, buf + VARHDRSZ, size, &engine_err));
	if (version == 0)
		DeleteAllOfName("recgan_model_chunks", name);
	if (size <= chunk)
	{
		SET_VARSIZE(buf, VARHDRSZ + size);
		return (bytea *) buf;
	}

	memset(&man, 0, sizeof(man));
	memcpy(man.magic, CHUNK_MAGIC, 8);
	man.version = version > 0 ? CHUNK_VERSION_2 : CHUNK_VERSION_1;
	man.total = size;
	man.chunk_size = chunk;
	man.n_chunks = (uint32) ((size + chunk - 1) / chunk);
	man.model_version = version;
	ChunksAsOwner(&saved);
	SPI_connect();
	plan = SPI_prepare(version > 0 ?
					   psprintf("INSERT INTO %s (name, seq, data, version) VALUES ($1, $2, $3, $4)",
								RecganCatalogTable("recgan_model_chunks")) :
					   psprintf("INSERT INTO %s (name, seq, data) VALUES ($1, $2, $3)",
								RecganCatalogTable("recgan_model_chunks")),
					   version > 0 ? 4 : 3, types);
	if (plan == NULL)
		elog(ERROR, "preparing the chunk insert failed. Please report a bug.");
	for (uint32 seq = 0; seq < man.n_chunks; seq++)
	{
		Size		off = (Size) seq * chunk;
		Size		len = Min(chunk, size - off);
		bytea	   *piece = palloc(VARHDRSZ + len);
		Datum		values[4];

		CHECK_FOR_INTERRUPTS();
		SET_VARSIZE(piece, VARHDRSZ + len);
		memcpy(VARDATA(piece), buf + VARHDRSZ + off, len);
		values[0] = CStringGetTextDatum(name);
		values[1] = Int32GetDatum((int32) seq);
		values[2] = PointerGetDatum(piece);
		values[3] = Int32GetDatum(version);
		if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "storing a model chunk failed. Please report a bug.");
		pfree(piece);
	}
	SPI_finish();
	ChunksAsCaller(&saved);
	pfree(buf);
	out = palloc(VARHDRSZ + man_size);
	SET_VARSIZE(out, VARHDRSZ + man_size);
	memcpy(VARDATA(out), &man, man_size);
	return out;
}

/*
 * Decode the stored model of name whose model value is raw, reading its
 * chunks (same snapshot, as their owner) if raw is a manifest.
 */
Model *
ModelDecodeStored(const char *name, bytea *raw)
{
	ChunkManifest man;
	char	   *buf;
	Model	   *model;
	SPIPlanPtr	plan;
	Oid			types[3] = {TEXTOID, INT4OID, INT4OID};
	ChunkUser	saved;
	bool		versions;

	if (!ManifestOf(raw, &man))
		return ModelDecode(raw);
	versions = CatalogHasVersions();
	buf = palloc_extended(man.total, MCXT_ALLOC_HUGE);
	ChunksAsOwner(&saved);
	SPI_connect();
	plan = SPI_prepare(psprintf("SELECT data FROM %s WHERE name = $1 AND seq = $2%s",
								RecganCatalogTable("recgan_model_chunks"),
								versions ? " AND version = $3" : ""),
					   versions ? 3 : 2, types);
	if (plan == NULL)
		elog(ERROR, "preparing the chunk read failed. Please report a bug.");
	for (uint32 seq = 0; seq < man.n_chunks; seq++)
	{
		Size		off = (Size) seq * man.chunk_size;
		Size		want = Min(man.chunk_size, man.total - off);
		Datum		values[3] = {CStringGetTextDatum(name), Int32GetDatum((int32) seq),
		Int32GetDatum(man.model_version)};
		bool		isnull;
		Datum		datum;
		bytea	   *piece;

		CHECK_FOR_INTERRUPTS();
		if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "reading a model chunk failed. Please report a bug.");
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("recgan model data is corrupted"),
					 errdetail("Chunk %u of %u of model \"%s\" is missing.",
							   seq + 1, man.n_chunks, name),
					 errhint("Retrain the model with recgan_train().")));
		datum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		piece = DatumGetByteaPP(datum);	/* detoasted: free it before the next */
		if (VARSIZE_ANY_EXHDR(piece) != want)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("recgan model data is corrupted"),
					 errdetail("Chunk %u of %u of model \"%s\" holds %zu bytes, not %zu.",
							   seq + 1, man.n_chunks, name, (size_t) VARSIZE_ANY_EXHDR(piece),
							   (size_t) want),
					 errhint("Retrain the model with recgan_train().")));
		memcpy(buf + off, VARDATA_ANY(piece), want);
		if ((Pointer) piece != DatumGetPointer(datum))
			pfree(piece);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_finish();
	ChunksAsCaller(&saved);
	ENGINE_CALL(model_decode(buf, man.total, &model, &engine_err));
	pfree(buf);
	return model;
}

PG_FUNCTION_INFO_V1(recgan_model_size);

/*
 * Bytes of a stored model value: the manifest's size for a chunked model,
 * else the value's length.  Reads the first bytes only (a slice).
 */
Datum
recgan_model_size(PG_FUNCTION_ARGS)
{
	Datum		value = PG_GETARG_DATUM(0);
	bytea	   *head = DatumGetByteaPSlice(value, 0, sizeof(ChunkManifest) + 1);
	ChunkManifest man;

	if (ManifestOf(head, &man))
		PG_RETURN_INT64((int64) man.total);
	PG_RETURN_INT64((int64) toast_raw_datum_size(value) - VARHDRSZ);
}

/*
 * The manifest of a chunked model value as jsonb text, or NULL if raw holds
 * a model itself.
 */
char *
ModelManifestJson(bytea *raw)
{
	ChunkManifest man;

	if (!ManifestOf(raw, &man))
		return NULL;
	return psprintf("{\"format_version\": 1, \"chunked\": true, \"chunks\": %u, "
					"\"size_bytes\": " UINT64_FORMAT ", \"chunk_size\": " UINT64_FORMAT ", "
					"\"manifest_version\": %u, \"model_version\": %d}",
					man.n_chunks, man.total, man.chunk_size, man.version, man.model_version);
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
