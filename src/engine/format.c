/*
 * format.c
 *	  Encode a Model to bytes and decode them back, validating every byte.
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
 *       56     4  number of hyperparameters H: the algorithm's option
 *                 count, at most 14 (or fewer: ModelOps.n_original_options)
 *       60     4  number of weight tensors T (<= 16)
 *       64   112  hyperparameters: 14 float64, the first H used (the
 *                 first H options, in the algorithm's order, each within
 *                 its option's bounds), rest 0
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
 * too, so a flipped seed or hyperparameter is caught), the id order, every
 * CSR index and every hyperparameter before any use; then the algorithm's
 * validate() checks its tensor shapes.  Any mismatch is a DATA_CORRUPTED
 * error, never a crash (fuzzed: test/fuzz/).  Because stored
 * hyperparameters are checked against the option table, changing an
 * algorithm's first 14 options (their order, count or bounds) changes the
 * format of its models.
 */
#include <string.h>

#include "crc32c.h"
#include "format.h"
#include "registry.h"

#define RECGAN_MAGIC "RECGAN\0M"
#define RECGAN_FORMAT_VERSION 1
#define RECGAN_BOM 0x01020304
#define HEADER_SIZE RG_MODEL_HEADER_SIZE

/* Fixed header; layout pinned by the offset table above. */
typedef struct ModelHeader
{
	char		magic[8];		/* 0 */
	uint16_t	version;		/* 8 */
	uint16_t	algorithm;		/* 10 */
	uint32_t	bom;			/* 12 */
	uint32_t	header_size;	/* 16 */
	uint32_t	flags;			/* 20 */
	int32_t		n_users;		/* 24 */
	int32_t		n_items;		/* 28 */
	int64_t		nnz;			/* 32 */
	uint64_t	seed;			/* 40 */
	double		threshold;		/* 48 */
	uint32_t	n_hyper;		/* 56 */
	uint32_t	n_tensors;		/* 60 */
	double		hyper[RECGAN_MAX_HYPER];	/* 64 */
	uint64_t	payload_size;	/* 192 - 16 */
	uint32_t	crc;			/* 192 - 8 */
	uint32_t	reserved;		/* 192 - 4 */
} ModelHeader;

_Static_assert(sizeof(ModelHeader) == HEADER_SIZE, "model header must be 192 bytes");
_Static_assert(offsetof(ModelHeader, hyper) == 64, "hyperparameters at offset 64");
_Static_assert(offsetof(ModelHeader, payload_size) == 176, "payload size at offset 176");
_Static_assert(offsetof(ModelHeader, crc) == 184, "checksum at offset 184");

#define ALIGN8(x) (((x) + 7) & ~((uint64_t) 7))

/* Largest size a section sum may reach: PostgreSQL's MaxAllocHugeSize. */
#define SIZE_LIMIT ((uint64_t) (SIZE_MAX / 2))

/* Report a corrupted model: evaluates to RG_DATA_CORRUPTED. */
#define CORRUPTED(err, ...) model_corrupted((err), __VA_ARGS__)

/* *size += n * width, or RG_DATA_CORRUPTED on overflow past SIZE_LIMIT. */
static RgStatus
SizeAddMul(uint64_t *size, uint64_t n, uint64_t width, RgError *err)
{
	uint64_t	bytes;

	if (width != 0 && n > SIZE_LIMIT / width)
		return CORRUPTED(err, "A section size overflows.");
	bytes = n * width;
	if (*size > SIZE_LIMIT || bytes > SIZE_LIMIT - *size)
		return CORRUPTED(err, "A section size overflows.");
	*size += bytes;
	return RG_OK;
}

/* CRC-32C of the header up to the checksum field, then of the payload. */
static uint32_t
ModelChecksum(const ModelHeader *hdr, const char *payload)
{
	uint32_t	crc = CRC32C_INIT;

	crc = crc32c_update(crc, hdr, offsetof(ModelHeader, crc));
	crc = crc32c_update(crc, payload, (size_t) hdr->payload_size);
	return CRC32C_FINISH(crc);
}

/* Payload size implied by the counts and tensor lengths, into *out. */
static RgStatus
PayloadSize(int32_t u, int32_t i, int64_t nnz, int n_tensors, const int64_t *lens,
			uint64_t *out, RgError *err)
{
	uint64_t	size = 0;

	RG_TRY(SizeAddMul(&size, (uint64_t) u, 8, err));
	RG_TRY(SizeAddMul(&size, (uint64_t) i, 8, err));
	RG_TRY(SizeAddMul(&size, (uint64_t) u + 1, 8, err));
	RG_TRY(SizeAddMul(&size, (uint64_t) nnz, 4, err));
	size = ALIGN8(size);
	RG_TRY(SizeAddMul(&size, (uint64_t) n_tensors, 8, err));
	for (int t = 0; t < n_tensors; t++)
	{
		if (lens[t] < 0)
			return CORRUPTED(err, "Tensor %d has negative length.", t);
		RG_TRY(SizeAddMul(&size, (uint64_t) lens[t], 4, err));
	}
	*out = size;
	return RG_OK;
}

/* Tensor lengths into lens, payload size into *payload, total into *total. */
static RgStatus
EncodedSize(const Model *model, int64_t *lens, uint64_t *payload, uint64_t *total,
			RgError *err)
{
	for (int t = 0; t < model->n_tensors; t++)
		lens[t] = model->tensors[t].len;
	RG_TRY(PayloadSize(model->n_users, model->n_items, CsrNnz(&model->pos),
					   model->n_tensors, lens, payload, err));
	*total = HEADER_SIZE + *payload;
	if (*total > RG_MAX_MODEL_BYTES)
	{
		rg_fail(err, RG_PROGRAM_LIMIT, "model is too large to store: %.0f MB",
				(*total + RG_MODEL_STORE_OVERHEAD) / 1048576.0);
		rg_detail(err, "recgan stores models of up to 64 GB.");
		return rg_hint(err, "Use fewer items or a smaller model (e.g. fewer factors or neighbors).");
	}
	return RG_OK;
}

/* Bytes model_encode writes for model. */
RgStatus
model_encoded_size(const Model *model, size_t *size, RgError *err)
{
	int64_t		lens[RECGAN_MAX_TENSORS];
	uint64_t	payload,
				total;

	RG_TRY(EncodedSize(model, lens, &payload, &total, err));
	*size = (size_t) total;
	return RG_OK;
}

/* Fill the header of model, its payload size and checksum included. */
static void
FillHeader(const Model *model, uint64_t payload_size, const char *payload, ModelHeader *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr->magic, RECGAN_MAGIC, 8);
	hdr->version = RECGAN_FORMAT_VERSION;
	hdr->algorithm = (uint16_t) model->algorithm;
	hdr->bom = RECGAN_BOM;
	hdr->header_size = HEADER_SIZE;
	hdr->n_users = model->n_users;
	hdr->n_items = model->n_items;
	hdr->nnz = CsrNnz(&model->pos);
	hdr->seed = model->seed;
	hdr->threshold = model->threshold;
	hdr->n_hyper = (uint32_t) model->n_hyper;
	hdr->n_tensors = (uint32_t) model->n_tensors;
	memcpy(hdr->hyper, model->hyper, sizeof(hdr->hyper));
	hdr->payload_size = payload_size;
	hdr->crc = ModelChecksum(hdr, payload);
}

/* Serialise a model into out (out_size bytes, from model_encoded_size). */
RgStatus
model_encode(const Model *model, void *out, size_t out_size, RgError *err)
{
	int64_t		nnz = CsrNnz(&model->pos);
	int64_t		lens[RECGAN_MAX_TENSORS];
	uint64_t	payload,
				total;
	char	   *base = out;
	char	   *p = base + HEADER_SIZE;
	ModelHeader hdr;

	RG_TRY(EncodedSize(model, lens, &payload, &total, err));
	if (out_size != total)
		return rg_fail(err, RG_INTERNAL,
					   "model_encode got %zu bytes for a %llu-byte model. Please report a bug.",
					   out_size, (unsigned long long) total);

#define PUT(src, bytes) \
	do { size_t n_ = (bytes); if (n_ > 0) memcpy(p, (src), n_); p += n_; } while (0)
	PUT(model->user_ids, (size_t) model->n_users * 8);
	PUT(model->item_ids, (size_t) model->n_items * 8);
	PUT(model->pos.indptr, ((size_t) model->n_users + 1) * 8);
	PUT(model->pos.indices, (size_t) nnz * 4);
	while ((uint64_t) (p - (base + HEADER_SIZE)) % 8 != 0)
		*p++ = 0;
	PUT(lens, (size_t) model->n_tensors * 8);
	for (int t = 0; t < model->n_tensors; t++)
		PUT(model->tensors[t].data, (size_t) lens[t] * 4);
#undef PUT
	if (p != base + total)
		return rg_fail(err, RG_INTERNAL,
					   "model_encode wrote %zu of %llu bytes. Please report a bug.",
					   (size_t) (p - base), (unsigned long long) total);

	FillHeader(model, payload, base + HEADER_SIZE, &hdr);
	memcpy(base, &hdr, HEADER_SIZE);
	return RG_OK;
}

/* Read the header from len bytes at data and check it and the checksum. */
static RgStatus
CheckHeader(const char *data, size_t len, ModelHeader *hdr, RgError *err)
{
	uint32_t	crc;

	if (len < HEADER_SIZE)
		return CORRUPTED(err, "The value has %zu bytes, less than the %d-byte header.",
						 len, HEADER_SIZE);
	memcpy(hdr, data, HEADER_SIZE);
	if (memcmp(hdr->magic, RECGAN_MAGIC, 8) != 0)
		return CORRUPTED(err, "The magic number is wrong: this is not a recgan model.");
	if (hdr->bom != RECGAN_BOM)
		return CORRUPTED(err, "The byte order does not match this server.");
	if (hdr->version != RECGAN_FORMAT_VERSION)
		return CORRUPTED(err, "Format version %u is not supported (this build reads version %d).",
						 (unsigned) hdr->version, RECGAN_FORMAT_VERSION);
	if (hdr->header_size != HEADER_SIZE || hdr->flags != 0 || hdr->reserved != 0)
		return CORRUPTED(err, "Reserved header fields are not zero.");
	if (hdr->n_users <= 0 || hdr->n_items <= 0 || hdr->nnz < 0 ||
		hdr->n_hyper > RECGAN_MAX_HYPER || hdr->n_tensors > RECGAN_MAX_TENSORS)
		return CORRUPTED(err, "Header counts are out of range.");
	if (hdr->payload_size != len - HEADER_SIZE)
		return CORRUPTED(err, "The header announces %llu payload bytes, the value holds %zu.",
						 (unsigned long long) hdr->payload_size, len - HEADER_SIZE);
	crc = ModelChecksum(hdr, data + HEADER_SIZE);
	if (crc != hdr->crc)
		return CORRUPTED(err, "Checksum mismatch: stored %08X, computed %08X.",
						 (unsigned) hdr->crc, (unsigned) crc);
	return RG_OK;
}

/* Read the tensor length table into lens and check the section sizes. */
static RgStatus
CheckSections(const ModelHeader *hdr, const char *payload, int64_t *lens, RgError *err)
{
	uint64_t	off,
				end,
				size;

	/* sizes of the fixed sections, then the tensor length table */
	RG_TRY(PayloadSize(hdr->n_users, hdr->n_items, hdr->nnz, 0, NULL, &off, err));
	off = ALIGN8(off);
	end = off;
	RG_TRY(SizeAddMul(&end, hdr->n_tensors, 8, err));
	if (end > hdr->payload_size)
		return CORRUPTED(err, "The payload is shorter than its sections.");
	memcpy(lens, payload + off, (size_t) hdr->n_tensors * 8);
	RG_TRY(PayloadSize(hdr->n_users, hdr->n_items, hdr->nnz, (int) hdr->n_tensors, lens,
					   &size, err));
	if (size != hdr->payload_size)
		return CORRUPTED(err, "Section sizes do not add up to the payload size.");
	return RG_OK;
}

/* Copy bytes of the payload at *off into a new aligned array. */
static void *
TakeSection(const char *payload, uint64_t *off, uint64_t bytes)
{
	void	   *dst = rg_alloc(RG_MAX((size_t) bytes, 1));

	memcpy(dst, payload + *off, (size_t) bytes);
	*off += bytes;
	return dst;
}

/* A new model from a checked header and payload; its arrays are copies. */
static Model *
NewModel(const ModelHeader *hdr, const char *payload, const int64_t *lens,
		 const ModelOps *ops)
{
	Model	   *model = rg_alloc0(sizeof(Model));
	uint64_t	off = 0;

	model->algorithm = (RecganAlgorithm) hdr->algorithm;
	model->ops = ops;
	model->n_users = hdr->n_users;
	model->n_items = hdr->n_items;
	model->seed = hdr->seed;
	model->threshold = hdr->threshold;
	model->n_hyper = (int) hdr->n_hyper;
	memcpy(model->hyper, hdr->hyper, sizeof(model->hyper));
	model->n_tensors = (int) hdr->n_tensors;

	model->user_ids = TakeSection(payload, &off, (uint64_t) hdr->n_users * 8);
	model->item_ids = TakeSection(payload, &off, (uint64_t) hdr->n_items * 8);
	model->pos.n_rows = hdr->n_users;
	model->pos.n_cols = hdr->n_items;
	model->pos.indptr = TakeSection(payload, &off, ((uint64_t) hdr->n_users + 1) * 8);
	model->pos.indices = TakeSection(payload, &off, (uint64_t) hdr->nnz * 4);
	off = ALIGN8(off) + (uint64_t) hdr->n_tensors * 8;
	for (int t = 0; t < model->n_tensors; t++)
	{
		model->tensors[t].len = lens[t];
		model->tensors[t].data = TakeSection(payload, &off, (uint64_t) lens[t] * 4);
	}
	return model;
}

/* Free a model made by NewModel. */
static void
FreeModel(Model *model)
{
	rg_free(model->user_ids);
	rg_free(model->item_ids);
	rg_free(model->pos.indptr);
	rg_free(model->pos.indices);
	for (int t = 0; t < model->n_tensors; t++)
		rg_free(model->tensors[t].data);
	rg_free(model);
}

/* Check ids are strictly ascending. */
static RgStatus
CheckSortedIds(const int64_t *ids, int32_t n, const char *what, RgError *err)
{
	for (int32_t i = 1; i < n; i++)
		if (ids[i] <= ids[i - 1])
			return CORRUPTED(err, "The %s ids are not strictly ascending at position %d.",
							 what, i);
	return RG_OK;
}

/* Check CSR row pointers and column indexes. */
static RgStatus
CheckCsr(const Csr *csr, RgError *err)
{
	if (csr->indptr[0] != 0)
		return CORRUPTED(err, "The first row pointer is not 0.");
	for (int32_t r = 0; r < csr->n_rows; r++)
	{
		int64_t		start = csr->indptr[r],
					end = csr->indptr[r + 1];

		if (end < start || end > csr->indptr[csr->n_rows])
			return CORRUPTED(err, "Row pointer %d is out of order.", r + 1);
		for (int64_t p = start; p < end; p++)
			if (csr->indices[p] < 0 || csr->indices[p] >= csr->n_cols ||
				(p > start && csr->indices[p] <= csr->indices[p - 1]))
				return CORRUPTED(err, "Item index out of range or order in row %d.", r);
	}
	return RG_OK;
}

/* Number of '|'-separated choices of an OPT_ENUM option. */
static int
EnumChoices(const OptionSpec *spec)
{
	int			n = 1;

	for (const char *c = spec->choices; c != NULL && *c != '\0'; c++)
		n += (*c == '|');
	return n;
}

/*
 * Check the stored hyperparameters against the algorithm's option table:
 * as many as the algorithm stores (options added after its first release,
 * ModelOps.n_original_options, may be left out, read as their default 0),
 * each a value its option accepts (an integer for INT, BOOL and ENUM
 * options, within the bounds), the unused slots 0.  validate, prepare and
 * score size their loops with them.
 */
static RgStatus
CheckHyper(const Model *model, RgError *err)
{
	const ModelOps *ops = model->ops;
	int			stored = RG_MIN(ops->n_options, RECGAN_MAX_HYPER);
	int			least = ops->n_original_options > 0 ? ops->n_original_options : stored;

	if (model->n_hyper < least || model->n_hyper > stored)
		return CORRUPTED(err, "The header has %d hyperparameters, algorithm %s stores %d.",
						 model->n_hyper, ops->name, stored);
	for (int h = 0; h < RECGAN_MAX_HYPER; h++)
	{
		const OptionSpec *spec = h < model->n_hyper ? &ops->options[h] : NULL;
		double		v = model->hyper[h];
		double		lo = spec ? spec->min : 0,
					hi = spec ? spec->max : 0;

		if (spec && spec->type == OPT_BOOL)
			hi = 1;
		else if (spec && spec->type == OPT_ENUM)
			lo = 0, hi = EnumChoices(spec) - 1;
		if (!(v >= lo && v <= hi) ||
			((spec == NULL || spec->type != OPT_REAL) && v != (double) (int64_t) v))
			return CORRUPTED(err, "Hyperparameter %d (%s) is out of range.",
							 h, spec ? spec->key : "unused");
	}
	return RG_OK;
}

/* Check a new model's ids, positives, hyperparameters and tensors. */
static RgStatus
CheckModel(const Model *model, int64_t nnz, RgError *err)
{
	RG_TRY(CheckHyper(model, err));
	RG_TRY(CheckSortedIds(model->user_ids, model->n_users, "user", err));
	RG_TRY(CheckSortedIds(model->item_ids, model->n_items, "item", err));
	if (model->pos.indptr[model->n_users] != nnz)
		return CORRUPTED(err, "The last row pointer is not the number of positives.");
	RG_TRY(CheckCsr(&model->pos, err));
	return model->ops->validate(model, err);
}

/* Decode and validate a model; the result shares nothing with data. */
RgStatus
model_decode(const void *data, size_t len, Model **out, RgError *err)
{
	const char *bytes = data;
	ModelHeader hdr;
	int64_t		lens[RECGAN_MAX_TENSORS];
	const ModelOps *ops;
	Model	   *model;
	RgStatus	status;

	*out = NULL;
	RG_TRY(CheckHeader(bytes, len, &hdr, err));
	RG_TRY(CheckSections(&hdr, bytes + HEADER_SIZE, lens, err));
	ops = model_ops_by_id(hdr.algorithm);
	if (ops == NULL)
		return CORRUPTED(err, "Unknown algorithm id %u.", (unsigned) hdr.algorithm);

	model = NewModel(&hdr, bytes + HEADER_SIZE, lens, ops);
	status = CheckModel(model, hdr.nnz, err);
	if (status != RG_OK)
	{
		FreeModel(model);
		return status;
	}
	model_compute_popularity(model);
	*out = model;
	return RG_OK;
}
