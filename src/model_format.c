/*
 * model_format.c
 *	  Encode a Model to bytea and decode it back, validating every byte.
 *
 * A model is one bytea: a fixed 192-byte header, then the payload.  All
 * integers and floats are little-endian (the byte-order mark at offset 12
 * lets a big-endian host refuse the model instead of misreading it).
 *
 *   Header
 *   Offset  Size  Meaning
 *        0     8  magic "RECGAN\0M"
 *        8     2  format version (RECGAN_FORMAT_VERSION, currently 1)
 *       10     2  algorithm id (RecganAlgorithm in model.h)
 *       12     4  byte-order mark 0x01020304
 *       16     4  header size in bytes (192)
 *       20     4  flags (reserved, 0)
 *       24     4  U: number of users
 *       28     4  I: number of items
 *       32     8  N: number of training positives
 *       40     8  training seed
 *       48     8  rating threshold (float64; NaN = every row was a positive)
 *       56     4  number of hyperparameters H (<= 14)
 *       60     4  number of weight tensors T (<= 16)
 *       64   112  hyperparameters: 14 float64, the first H used, rest 0
 *      176     8  payload size in bytes
 *      184     4  CRC-32C of header bytes 0..183, then of the payload
 *      188     4  reserved, 0
 *
 *   Payload (offsets relative to its start, 8-byte aligned sections)
 *        0   8*U  user ids: int64, strictly ascending
 *            8*I  item ids: int64, strictly ascending
 *        8*(U+1)  CSR row pointers: int64, from 0 to N, non-decreasing
 *            4*N  CSR column indexes: int32 in [0, I), strictly ascending per row
 *         0 or 4  zero padding to a multiple of 8
 *            8*T  tensor lengths: int64 (number of 4-byte words)
 *        4*sum(len)  tensor data, one after another: float32 weights (a
 *                 model may store int32 indexes bitwise in a tensor; its
 *                 validate function says which)
 *
 * The decoder checks the magic, version, byte order, sizes (with overflow
 * checks) against the bytea length, the checksum (which covers the header
 * too, so a flipped seed or hyperparameter is caught), the id order and every CSR
 * index before any use; then the algorithm's validate() checks its tensor
 * shapes.  Any mismatch is a DATA_CORRUPTED error, never a crash.
 */
#include "postgres.h"

#include <math.h>

#include "port/pg_crc32c.h"
#include "utils/memutils.h"

#include "model.h"

#define RECGAN_MAGIC "RECGAN\0M"
#define RECGAN_FORMAT_VERSION 1
#define RECGAN_BOM 0x01020304
#define HEADER_SIZE 192

/* Fixed header; layout pinned by the offset table above. */
typedef struct ModelHeader
{
	char		magic[8];		/* 0 */
	uint16		version;		/* 8 */
	uint16		algorithm;		/* 10 */
	uint32		bom;			/* 12 */
	uint32		header_size;	/* 16 */
	uint32		flags;			/* 20 */
	int32		n_users;		/* 24 */
	int32		n_items;		/* 28 */
	int64		nnz;			/* 32 */
	uint64		seed;			/* 40 */
	double		threshold;		/* 48 */
	uint32		n_hyper;		/* 56 */
	uint32		n_tensors;		/* 60 */
	double		hyper[RECGAN_MAX_HYPER];	/* 64 */
	uint64		payload_size;	/* 192 - 16 */
	uint32		crc;			/* 192 - 8 */
	uint32		reserved;		/* 192 - 4 */
} ModelHeader;

StaticAssertDecl(sizeof(ModelHeader) == HEADER_SIZE, "model header must be 192 bytes");
StaticAssertDecl(offsetof(ModelHeader, hyper) == 64, "hyperparameters at offset 64");
StaticAssertDecl(offsetof(ModelHeader, payload_size) == 176, "payload size at offset 176");

#define ALIGN8(x) (((x) + 7) & ~((uint64) 7))

/* Report a corrupted model. */
#define CORRUPTED(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_DATA_CORRUPTED), \
			 errmsg("recgan model data is corrupted"), \
			 errdetail(__VA_ARGS__), \
			 errhint("Retrain the model with recgan_train().")))

/* a + b, or error on overflow past the bytea limit. */
static uint64
SizeAdd(uint64 a, uint64 b)
{
	if (a > (uint64) MaxAllocHugeSize || b > (uint64) MaxAllocHugeSize - a)
		CORRUPTED("A section size overflows.");
	return a + b;
}

/* a * b, or error on overflow past the bytea limit. */
static uint64
SizeMul(uint64 a, uint64 b)
{
	if (b != 0 && a > (uint64) MaxAllocHugeSize / b)
		CORRUPTED("A section size overflows.");
	return a * b;
}

/* CRC-32C of the header up to the checksum field, then of the payload. */
static pg_crc32c
ModelChecksum(const ModelHeader *hdr, const char *payload)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, hdr, offsetof(ModelHeader, crc));
	COMP_CRC32C(crc, payload, hdr->payload_size);
	FIN_CRC32C(crc);
	return crc;
}

/* Payload size implied by the counts and tensor lengths. */
static uint64
PayloadSize(int32 u, int32 i, int64 nnz, int n_tensors, const int64 *lens)
{
	uint64		size = 0;

	size = SizeAdd(size, SizeMul(u, 8));
	size = SizeAdd(size, SizeMul(i, 8));
	size = SizeAdd(size, SizeMul((uint64) u + 1, 8));
	size = SizeAdd(size, SizeMul(nnz, 4));
	size = ALIGN8(size);
	size = SizeAdd(size, SizeMul(n_tensors, 8));
	for (int t = 0; t < n_tensors; t++)
	{
		if (lens[t] < 0)
			CORRUPTED("Tensor %d has negative length.", t);
		size = SizeAdd(size, SizeMul(lens[t], 4));
	}
	return size;
}

/* Serialise a model into a new bytea. */
bytea *
ModelEncode(const Model *model)
{
	int64		nnz = CsrNnz(&model->pos);
	int64		lens[RECGAN_MAX_TENSORS] = {0};
	uint64		payload;
	Size		total;
	bytea	   *out;
	char	   *p;
	ModelHeader hdr;

	for (int t = 0; t < model->n_tensors; t++)
		lens[t] = model->tensors[t].len;
	payload = PayloadSize(model->n_users, model->n_items, nnz, model->n_tensors, lens);
	total = VARHDRSZ + HEADER_SIZE + payload;
	if (total > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model is too large to store: %.0f MB", total / 1048576.0),
				 errdetail("A bytea value holds at most 1 GB."),
				 errhint("Use fewer items or a smaller model (e.g. fewer factors or neighbors).")));

	out = palloc0(total);
	SET_VARSIZE(out, total);
	p = VARDATA(out) + HEADER_SIZE;

#define PUT(src, bytes) do { memcpy(p, (src), (bytes)); p += (bytes); } while (0)
	PUT(model->user_ids, (Size) model->n_users * 8);
	PUT(model->item_ids, (Size) model->n_items * 8);
	PUT(model->pos.indptr, ((Size) model->n_users + 1) * 8);
	PUT(model->pos.indices, (Size) nnz * 4);
	p = VARDATA(out) + HEADER_SIZE + ALIGN8(p - (VARDATA(out) + HEADER_SIZE));
	PUT(lens, (Size) model->n_tensors * 8);
	for (int t = 0; t < model->n_tensors; t++)
		PUT(model->tensors[t].data, (Size) lens[t] * 4);
#undef PUT
	Assert(p == VARDATA(out) + HEADER_SIZE + payload);

	memset(&hdr, 0, sizeof(hdr));
	memcpy(hdr.magic, RECGAN_MAGIC, 8);
	hdr.version = RECGAN_FORMAT_VERSION;
	hdr.algorithm = (uint16) model->algorithm;
	hdr.bom = RECGAN_BOM;
	hdr.header_size = HEADER_SIZE;
	hdr.n_users = model->n_users;
	hdr.n_items = model->n_items;
	hdr.nnz = nnz;
	hdr.seed = model->seed;
	hdr.threshold = model->threshold;
	hdr.n_hyper = model->n_hyper;
	hdr.n_tensors = model->n_tensors;
	memcpy(hdr.hyper, model->hyper, sizeof(hdr.hyper));
	hdr.payload_size = payload;
	hdr.crc = ModelChecksum(&hdr, VARDATA(out) + HEADER_SIZE);
	memcpy(VARDATA(out), &hdr, HEADER_SIZE);
	return out;
}

/* Copy bytes of the payload at *off into a new aligned array. */
static void *
TakeSection(const char *payload, uint64 *off, uint64 bytes)
{
	void	   *dst = palloc_extended(Max(bytes, 1), MCXT_ALLOC_HUGE);

	memcpy(dst, payload + *off, bytes);
	*off += bytes;
	return dst;
}

/* Check ids are strictly ascending. */
static void
CheckSortedIds(const int64 *ids, int32 n, const char *what)
{
	for (int32 i = 1; i < n; i++)
		if (ids[i] <= ids[i - 1])
			CORRUPTED("The %s ids are not strictly ascending at position %d.", what, i);
}

/* Check CSR row pointers and column indexes. */
static void
CheckCsr(const Csr *csr)
{
	if (csr->indptr[0] != 0)
		CORRUPTED("The first row pointer is not 0.");
	for (int32 r = 0; r < csr->n_rows; r++)
	{
		int64		start = csr->indptr[r],
					end = csr->indptr[r + 1];

		if (end < start || end > csr->indptr[csr->n_rows])
			CORRUPTED("Row pointer %d is out of order.", r + 1);
		for (int64 p = start; p < end; p++)
			if (csr->indices[p] < 0 || csr->indices[p] >= csr->n_cols ||
				(p > start && csr->indices[p] <= csr->indices[p - 1]))
				CORRUPTED("Item index out of range or order in row %d.", r);
	}
}

/* Decode and validate a model bytea; the result shares nothing with raw. */
Model *
ModelDecode(bytea *raw)
{
	Size		len = VARSIZE_ANY_EXHDR(raw);
	const char *data = VARDATA_ANY(raw);
	const char *payload = data + HEADER_SIZE;
	ModelHeader hdr;
	Model	   *model;
	uint64		off = 0;
	int64		lens[RECGAN_MAX_TENSORS];
	pg_crc32c	crc;

	if (len < HEADER_SIZE)
		CORRUPTED("The value has %zu bytes, less than the %d-byte header.", len, HEADER_SIZE);
	memcpy(&hdr, data, HEADER_SIZE);
	if (memcmp(hdr.magic, RECGAN_MAGIC, 8) != 0)
		CORRUPTED("The magic number is wrong: this is not a recgan model.");
	if (hdr.bom != RECGAN_BOM)
		CORRUPTED("The byte order does not match this server.");
	if (hdr.version != RECGAN_FORMAT_VERSION)
		CORRUPTED("Format version %u is not supported (this build reads version %d).",
				  hdr.version, RECGAN_FORMAT_VERSION);
	if (hdr.header_size != HEADER_SIZE || hdr.flags != 0 || hdr.reserved != 0)
		CORRUPTED("Reserved header fields are not zero.");
	if (hdr.n_users <= 0 || hdr.n_items <= 0 || hdr.nnz < 0 ||
		hdr.n_hyper > RECGAN_MAX_HYPER || hdr.n_tensors > RECGAN_MAX_TENSORS)
		CORRUPTED("Header counts are out of range.");
	if (hdr.payload_size != len - HEADER_SIZE)
		CORRUPTED("The header announces %llu payload bytes, the value holds %zu.",
				  (unsigned long long) hdr.payload_size, len - HEADER_SIZE);
	crc = ModelChecksum(&hdr, payload);
	if (crc != hdr.crc)
		CORRUPTED("Checksum mismatch: stored %08X, computed %08X.", hdr.crc, crc);

	/* sizes of the fixed sections, then the tensor length table */
	off = ALIGN8(PayloadSize(hdr.n_users, hdr.n_items, hdr.nnz, 0, NULL));
	if (SizeAdd(off, SizeMul(hdr.n_tensors, 8)) > hdr.payload_size)
		CORRUPTED("The payload is shorter than its sections.");
	memcpy(lens, payload + off, (Size) hdr.n_tensors * 8);
	if (PayloadSize(hdr.n_users, hdr.n_items, hdr.nnz, hdr.n_tensors, lens) != hdr.payload_size)
		CORRUPTED("Section sizes do not add up to the payload size.");

	model = palloc0(sizeof(Model));
	model->algorithm = hdr.algorithm;
	model->ops = ModelOpsById(hdr.algorithm);
	if (model->ops == NULL)
		CORRUPTED("Unknown algorithm id %u.", hdr.algorithm);
	model->n_users = hdr.n_users;
	model->n_items = hdr.n_items;
	model->seed = hdr.seed;
	model->threshold = hdr.threshold;
	model->n_hyper = hdr.n_hyper;
	memcpy(model->hyper, hdr.hyper, sizeof(model->hyper));
	model->n_tensors = hdr.n_tensors;

	off = 0;
	model->user_ids = TakeSection(payload, &off, (uint64) hdr.n_users * 8);
	model->item_ids = TakeSection(payload, &off, (uint64) hdr.n_items * 8);
	model->pos.n_rows = hdr.n_users;
	model->pos.n_cols = hdr.n_items;
	model->pos.indptr = TakeSection(payload, &off, ((uint64) hdr.n_users + 1) * 8);
	model->pos.indices = TakeSection(payload, &off, (uint64) hdr.nnz * 4);
	off = ALIGN8(off) + (uint64) hdr.n_tensors * 8;
	for (int t = 0; t < model->n_tensors; t++)
	{
		model->tensors[t].len = lens[t];
		model->tensors[t].data = TakeSection(payload, &off, (uint64) lens[t] * 4);
	}

	CheckSortedIds(model->user_ids, model->n_users, "user");
	CheckSortedIds(model->item_ids, model->n_items, "item");
	if (model->pos.indptr[model->n_users] != hdr.nnz)
		CORRUPTED("The last row pointer is not the number of positives.");
	CheckCsr(&model->pos);
	model->ops->validate(model);
	ModelComputePopularity(model);
	return model;
}

/* Error out unless a decoded model has the expected tensor lengths. */
void
ModelCheckTensors(const Model *model, int n, const int64 *expected)
{
	if (model->n_tensors != n)
		CORRUPTED("Algorithm %s expects %d tensors, the model has %d.",
				  model->ops->name, n, model->n_tensors);
	for (int t = 0; t < n; t++)
		if (model->tensors[t].len != expected[t])
			CORRUPTED("Tensor %d of a %s model has " INT64_FORMAT " words, expected " INT64_FORMAT ".",
					  t, model->ops->name, model->tensors[t].len, expected[t]);
}
