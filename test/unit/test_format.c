/*
 * test_format.c
 *	  Unit tests of the model byte format (format.c) and CRC-32C (crc32c.c),
 *	  run without a server by `make unitcheck`: small hand-built models
 *	  round-trip field by field, the header sits at the offsets of the
 *	  format spec, every kind of damage is refused with RG_DATA_CORRUPTED and
 *	  the exact detail the regression tests pin, random damage never crashes,
 *	  and nothing is left allocated.  Exit status 0 only when every check
 *	  passed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "format.h"
#include "registry.h"
#include "model.h"
#include "rng.h"
#include "unit.h"

#define MSG "recgan model data is corrupted"
#define HINT "Retrain the model with recgan_train()."
#define HDR RG_MODEL_HEADER_SIZE

/* Header field offsets, from the format spec in format.c. */
enum
{
	OFF_MAGIC = 0, OFF_VERSION = 8, OFF_ALG = 10, OFF_BOM = 12, OFF_HSIZE = 16,
	OFF_FLAGS = 20, OFF_USERS = 24, OFF_ITEMS = 28, OFF_NNZ = 32, OFF_SEED = 40,
	OFF_THRESH = 48, OFF_NHYPER = 56, OFF_NTENS = 60, OFF_HYPER = 64,
	OFF_PAYLOAD = 176, OFF_CRC = 184, OFF_RESERVED = 188
};

/* ---- A counting host: every rg_alloc must be matched by an rg_free. */
static void *(*base_alloc) (size_t);
static void (*base_free) (void *);
static long live_blocks = 0;

/* Count, then allocate. */
static void *
CountingAlloc(size_t size)
{
	live_blocks++;
	return base_alloc(size);
}

/* Count, then free. */
static void
CountingFree(void *ptr)
{
	live_blocks--;
	base_free(ptr);
}

/* The malloc host with allocation counting. */
static void
host_setup(void)
{
	rg_host_malloc();
	base_alloc = rg_host.alloc;
	base_free = rg_host.free;
	rg_host.alloc = CountingAlloc;
	rg_host.free = CountingFree;
}

/* ---- Hand-built models. */

/* popularity: U 3, I 4, N 6 (no padding), no tensors. */
static int64_t pop_users[3] = {10, 20, 30};
static int64_t pop_items[4] = {-5, 7, 100, 1000};
static int64_t pop_indptr[4] = {0, 2, 3, 6};
static int32_t pop_indices[6] = {0, 2, 1, 0, 1, 3};

/* ease: U 2, I 3, N 3 (4 bytes of padding), one (I, I) tensor. */
static int64_t ease_users[2] = {INT64_MIN, INT64_MAX};
static int64_t ease_items[3] = {1, 2, 3};
static int64_t ease_indptr[3] = {0, 2, 3};
static int32_t ease_indices[3] = {0, 2, 1};
static float ease_b[9] = {0.0f, 0.5f, -0.25f, 1e-30f, 0.0f, 3.5f, -1e30f, 2.0f, 0.0f};

/* Fill the fields every model has. */
static void
model_init(Model *m, RecganAlgorithm alg, int32_t u, int32_t i, int64_t *users,
		   int64_t *items, int64_t *indptr, int32_t *indices)
{
	memset(m, 0, sizeof(*m));
	m->algorithm = alg;
	m->ops = model_ops_by_id(alg);
	m->n_users = u;
	m->n_items = i;
	m->user_ids = users;
	m->item_ids = items;
	m->pos.n_rows = u;
	m->pos.n_cols = i;
	m->pos.indptr = indptr;
	m->pos.indices = indices;
}

/* The popularity model. */
static void
pop_model(Model *m)
{
	model_init(m, RECGAN_ALG_POPULARITY, 3, 4, pop_users, pop_items, pop_indptr,
			   pop_indices);
	m->seed = UINT64_C(0xDEADBEEFCAFEF00D);
	m->threshold = NAN;
	m->n_hyper = 0;
}

/* The ease model. */
static void
ease_model(Model *m)
{
	model_init(m, RECGAN_ALG_EASE, 2, 3, ease_users, ease_items, ease_indptr,
			   ease_indices);
	m->seed = 42;
	m->threshold = 3.5;
	m->n_hyper = 1;
	m->hyper[0] = 200.0;
	m->n_tensors = 1;
	m->tensors[0].len = 9;
	m->tensors[0].data = ease_b;
}

/* Encode m into a new malloc'd buffer; *len gets its size. */
static unsigned char *
encode(const Model *m, size_t *len)
{
	RgError		err;
	unsigned char *buf;
	RgStatus	st = model_encoded_size(m, len, &err);

	CHECK(st == RG_OK, "model_encoded_size: %d %s", st, err.message);
	buf = malloc(*len);
	memset(buf, 0xA5, *len);
	st = model_encode(m, buf, *len, &err);
	CHECK(st == RG_OK, "model_encode: %d %s", st, err.message);
	return buf;
}

/* Free a decoded model (format.c allocates each array through the host). */
static void
model_release(Model *m)
{
	rg_free(m->user_ids);
	rg_free(m->item_ids);
	rg_free(m->pos.indptr);
	rg_free(m->pos.indices);
	for (int t = 0; t < m->n_tensors; t++)
		rg_free(m->tensors[t].data);
	rg_free(m->popularity);
	rg_free(m);
}

/* ---- Byte surgery on an encoded model. */

static void
put32(unsigned char *buf, size_t off, uint32_t v)
{
	memcpy(buf + off, &v, 4);
}

static void
put64(unsigned char *buf, size_t off, uint64_t v)
{
	memcpy(buf + off, &v, 8);
}

static uint32_t
get32(const unsigned char *buf, size_t off)
{
	uint32_t	v;

	memcpy(&v, buf + off, 4);
	return v;
}

static uint64_t
get64(const unsigned char *buf, size_t off)
{
	uint64_t	v;

	memcpy(&v, buf + off, 8);
	return v;
}

/* The checksum the header of buf should hold (header to 183, then payload). */
static uint32_t
model_crc(const unsigned char *buf, size_t len)
{
	uint32_t	crc = CRC32C_INIT;

	crc = crc32c_update(crc, buf, OFF_CRC);
	crc = crc32c_update(crc, buf + HDR, len - HDR);
	return CRC32C_FINISH(crc);
}

/* Store the right checksum, so a structural check is what fails. */
static void
fix_crc(unsigned char *buf, size_t len)
{
	put32(buf, OFF_CRC, model_crc(buf, len));
}

/* A copy of an encoded model. */
static unsigned char *
dup(const unsigned char *buf, size_t len)
{
	unsigned char *c = malloc(len + 1);

	memcpy(c, buf, len);
	return c;
}

/*
 * Decode must fail with RG_DATA_CORRUPTED, the corrupted message and hint,
 * and detail (NULL: any), leaving nothing allocated.
 */
static void
expect_corrupt(const unsigned char *buf, size_t len, const char *detail, const char *what)
{
	RgError		err;
	Model	   *m = (Model *) &err; /* must be set to NULL */
	long		before = live_blocks;
	RgStatus	st = model_decode(buf, len, &m, &err);

	CHECK(st == RG_DATA_CORRUPTED, "%s: status %d, expected RG_DATA_CORRUPTED", what, st);
	CHECK(m == NULL, "%s: *out not NULL on failure", what);
	CHECK(live_blocks == before, "%s: %ld blocks leaked", what, live_blocks - before);
	if (st != RG_DATA_CORRUPTED)
	{
		if (st == RG_OK && m != NULL)
			model_release(m);
		return;
	}
	CHECK(err.code == RG_DATA_CORRUPTED, "%s: err.code %d", what, err.code);
	CHECK(strcmp(err.message, MSG) == 0, "%s: message \"%s\"", what, err.message);
	CHECK(strcmp(err.hint, HINT) == 0, "%s: hint \"%s\"", what, err.hint);
	if (detail != NULL)
		CHECK(strcmp(err.detail, detail) == 0, "%s: detail \"%s\", expected \"%s\"",
			  what, err.detail, detail);
}

/* Decode must succeed; returns the model. */
static Model *
expect_ok(const unsigned char *buf, size_t len, const char *what)
{
	RgError		err;
	Model	   *m = NULL;
	RgStatus	st = model_decode(buf, len, &m, &err);

	CHECK(st == RG_OK && m != NULL, "%s: status %d (%s: %s)", what, st, err.message,
		  st == RG_OK ? "" : err.detail);
	return st == RG_OK ? m : NULL;
}

/* ---- CRC-32C. */

/* The standard check value, and incremental updates. */
static void
test_crc32c_check_value(void)
{
	const char *s = "123456789";
	uint32_t	crc;

	CHECK(crc32c(s, 9) == 0xE3069283u, "crc32c check value %08X", crc32c(s, 9));
	CHECK(CRC32C_FINISH(crc32c_update_table(CRC32C_INIT, s, 9)) == 0xE3069283u,
		  "table check value");
	if (crc32c_have_sse42())
		CHECK(CRC32C_FINISH(crc32c_update_sse42(CRC32C_INIT, s, 9)) == 0xE3069283u,
			  "sse4.2 check value");
	CHECK(crc32c("", 0) == 0, "crc32c of nothing");
	for (int split = 0; split <= 9; split++)
	{
		crc = crc32c_update(CRC32C_INIT, s, split);
		crc = crc32c_update(crc, s + split, 9 - split);
		CHECK(CRC32C_FINISH(crc) == 0xE3069283u, "split at %d", split);
	}
	/* 32 zero bytes: RFC 3720 (iSCSI) test vector */
	{
		unsigned char zeros[32] = {0};

		CHECK(crc32c(zeros, 32) == 0x8A9136AAu, "32 zeros: %08X", crc32c(zeros, 32));
	}
}

/* SSE4.2 and slicing-by-8 agree on every length and alignment. */
static void
test_crc32c_sse42_vs_table(void)
{
	enum
	{
		N = 5000
	};
	static unsigned char buf[N + 16];
	Rng			rng;
	int			same = 1,
				cases = 0;

	printf("     sse4.2 %s\n", crc32c_have_sse42() ? "available" : "not available");
	if (!crc32c_have_sse42())
		return;
	rng_seed(&rng, 3);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char) rng_next(&rng);
	for (int align = 0; align < 16; align++)
		for (size_t len = 0; len <= N; len = len < 100 ? len + 1 : len * 3 / 2)
		{
			uint32_t	seed = (uint32_t) rng_next(&rng);

			same &= crc32c_update_table(seed, buf + align, len) ==
				crc32c_update_sse42(seed, buf + align, len);
			cases++;
		}
	CHECK(same, "sse4.2 and table CRCs differ");
	printf("     %d (length, alignment, seed) cases\n", cases);
}

/* ---- Round trips. */

/* Every field of a decoded model against the original. */
static void
compare_models(const Model *a, const Model *b, const char *what)
{
	int			same = 1;

	CHECK(a->algorithm == b->algorithm && a->ops == b->ops, "%s: algorithm", what);
	CHECK(a->n_users == b->n_users && a->n_items == b->n_items, "%s: counts", what);
	CHECK(a->seed == b->seed, "%s: seed", what);
	CHECK(memcmp(&a->threshold, &b->threshold, sizeof(double)) == 0, "%s: threshold", what);
	CHECK(a->n_hyper == b->n_hyper &&
		  memcmp(a->hyper, b->hyper, sizeof(a->hyper)) == 0, "%s: hyper", what);
	CHECK(memcmp(a->user_ids, b->user_ids, a->n_users * 8) == 0, "%s: user ids", what);
	CHECK(memcmp(a->item_ids, b->item_ids, a->n_items * 8) == 0, "%s: item ids", what);
	CHECK(a->pos.n_rows == b->pos.n_rows && a->pos.n_cols == b->pos.n_cols, "%s: csr", what);
	CHECK(memcmp(a->pos.indptr, b->pos.indptr, (a->n_users + 1) * 8) == 0, "%s: indptr", what);
	CHECK(memcmp(a->pos.indices, b->pos.indices, CsrNnz(&a->pos) * 4) == 0,
		  "%s: indices", what);
	CHECK(a->n_tensors == b->n_tensors, "%s: tensor count", what);
	for (int t = 0; t < a->n_tensors && t < b->n_tensors; t++)
		same &= a->tensors[t].len == b->tensors[t].len &&
			memcmp(a->tensors[t].data, b->tensors[t].data, a->tensors[t].len * 4) == 0;
	CHECK(same, "%s: tensors", what);
	CHECK(b->serving == NULL, "%s: serving", what);
}

/* Per-item positives of the decoded model. */
static void
check_popularity(const Model *m, const float *expected, const char *what)
{
	int			same = 1;

	for (int i = 0; i < m->n_items; i++)
		same &= m->popularity[i] == expected[i];
	CHECK(same, "%s: popularity", what);
}

/* The header holds every field at the offsets of the spec. */
static void
check_header(const unsigned char *buf, size_t len, const Model *m)
{
	double		th,
				h[RECGAN_MAX_HYPER];

	CHECK(memcmp(buf, "RECGAN\0M", 8) == 0, "magic");
	CHECK(buf[OFF_VERSION] == 1 && buf[OFF_VERSION + 1] == 0, "version 1, little-endian");
	CHECK(buf[OFF_ALG] == m->algorithm && buf[OFF_ALG + 1] == 0, "algorithm id");
	CHECK(buf[OFF_BOM] == 4 && buf[OFF_BOM + 3] == 1, "byte-order mark 0x01020304");
	CHECK(get32(buf, OFF_HSIZE) == 192, "header size");
	CHECK(get32(buf, OFF_FLAGS) == 0 && get32(buf, OFF_RESERVED) == 0, "flags, reserved");
	CHECK((int32_t) get32(buf, OFF_USERS) == m->n_users, "U");
	CHECK((int32_t) get32(buf, OFF_ITEMS) == m->n_items, "I");
	CHECK((int64_t) get64(buf, OFF_NNZ) == CsrNnz(&m->pos), "N");
	CHECK(get64(buf, OFF_SEED) == m->seed, "seed");
	memcpy(&th, buf + OFF_THRESH, 8);
	CHECK(memcmp(&th, &m->threshold, 8) == 0, "threshold");
	CHECK(get32(buf, OFF_NHYPER) == (uint32_t) m->n_hyper, "H");
	CHECK(get32(buf, OFF_NTENS) == (uint32_t) m->n_tensors, "T");
	memcpy(h, buf + OFF_HYPER, sizeof(h));
	CHECK(memcmp(h, m->hyper, sizeof(h)) == 0, "hyperparameters");
	CHECK(get64(buf, OFF_PAYLOAD) == len - HDR, "payload size");
	CHECK(get32(buf, OFF_CRC) == model_crc(buf, len), "checksum");
}

/* popularity: encode, check the layout, decode, compare. */
static void
test_roundtrip_popularity(void)
{
	Model		m;
	size_t		len;
	unsigned char *buf;
	Model	   *d;
	static const float pop[4] = {2, 2, 1, 1};

	pop_model(&m);
	buf = encode(&m, &len);
	CHECK(len == HDR + 24 + 32 + 32 + 24 + 0, "popularity size %zu", len);
	check_header(buf, len, &m);
	CHECK(memcmp(buf + HDR, pop_users, 24) == 0 && memcmp(buf + HDR + 24, pop_items, 32) == 0 &&
		  memcmp(buf + HDR + 56, pop_indptr, 32) == 0 &&
		  memcmp(buf + HDR + 88, pop_indices, 24) == 0, "popularity payload layout");
	d = expect_ok(buf, len, "popularity");
	if (d != NULL)
	{
		compare_models(&m, d, "popularity");
		check_popularity(d, pop, "popularity");
		model_release(d);
	}
	CHECK(live_blocks == 0, "popularity: %ld blocks live", live_blocks);
	free(buf);
}

/* ease: padding, a tensor; every byte written whatever the buffer held. */
static void
test_roundtrip_ease(void)
{
	Model		m;
	size_t		len;
	unsigned char *buf,
			   *buf2;
	Model	   *d;
	RgError		err;
	static const float pop[3] = {1, 1, 1};

	ease_model(&m);
	buf = encode(&m, &len);
	CHECK(len == HDR + 16 + 24 + 24 + 12 + 4 + 8 + 36, "ease size %zu", len);
	check_header(buf, len, &m);
	CHECK(get32(buf, HDR + 76) == 0, "padding is zero");
	CHECK(get64(buf, HDR + 80) == 9, "tensor length table");
	CHECK(memcmp(buf + HDR + 88, ease_b, 36) == 0, "tensor data");
	buf2 = malloc(len);
	memset(buf2, 0x5A, len);
	CHECK(model_encode(&m, buf2, len, &err) == RG_OK, "ease: second encode");
	CHECK(memcmp(buf, buf2, len) == 0, "ease: encodings differ with the buffer's old bytes");
	d = expect_ok(buf, len, "ease");
	if (d != NULL)
	{
		compare_models(&m, d, "ease");
		check_popularity(d, pop, "ease");
		model_release(d);
	}
	/* unaligned input */
	buf2 = realloc(buf2, len + 1);
	memcpy(buf2 + 1, buf, len);
	d = expect_ok(buf2 + 1, len, "ease, unaligned");
	if (d != NULL)
	{
		compare_models(&m, d, "ease, unaligned");
		model_release(d);
	}
	CHECK(live_blocks == 0, "ease: %ld blocks live", live_blocks);
	free(buf);
	free(buf2);
}

/* Encoder limits: too large to store, wrong buffer size. */
static void
test_encode_limits(void)
{
	Model		m;
	RgError		err;
	size_t		len;
	char		expected[128];
	unsigned char small[8];
	uint64_t	total;

	ease_model(&m);
	m.tensors[0].len = 300 * 1000 * 1000; /* 1.2 GB, never read: stored in chunks */
	CHECK(model_encoded_size(&m, &len, &err) == RG_OK &&
		  len == HDR + 16 + 24 + 24 + 12 + 4 + 8 + (uint64_t) 1200 * 1000 * 1000,
		  "1.2 GB model: %zu", len);
	m.tensors[0].len = (int64_t) 20 * 1000 * 1000 * 1000;	/* 80 GB */
	total = HDR + 16 + 24 + 24 + 12 + 4 + 8 + (uint64_t) m.tensors[0].len * 4;
	CHECK(model_encoded_size(&m, &len, &err) == RG_PROGRAM_LIMIT, "80 GB model accepted");
	snprintf(expected, sizeof(expected), "model is too large to store: %.0f MB",
			 (total + 4) / 1048576.0);
	CHECK(strcmp(err.message, expected) == 0, "message \"%s\"", err.message);
	CHECK(strcmp(err.detail, "recgan stores models of up to 64 GB.") == 0, "detail");
	CHECK(strcmp(err.hint, "Use fewer items or a smaller model (e.g. fewer factors or neighbors).") == 0,
		  "hint");
	CHECK(model_encode(&m, small, sizeof(small), &err) == RG_PROGRAM_LIMIT, "encode too large");

	/* the largest storable size is accepted, one more word is not */
	m.tensors[0].len = (int64_t) (RG_MAX_MODEL_BYTES - (total - (uint64_t) m.tensors[0].len * 4)) / 4;
	CHECK(model_encoded_size(&m, &len, &err) == RG_OK && len <= RG_MAX_MODEL_BYTES &&
		  len + 4 > RG_MAX_MODEL_BYTES, "largest model: %zu", len);
	m.tensors[0].len++;
	CHECK(model_encoded_size(&m, &len, &err) == RG_PROGRAM_LIMIT, "one word past the limit");

	ease_model(&m);
	CHECK(model_encode(&m, small, sizeof(small), &err) == RG_INTERNAL, "short buffer");
	CHECK(model_encoded_size(&m, &len, &err) == RG_OK, "ease size");
}

/* ---- Rejections. */

/* Damage to the header. */
static void
test_reject_header(void)
{
	Model		m;
	size_t		len;
	unsigned char *good,
			   *b;
	char		detail[256];

	pop_model(&m);
	good = encode(&m, &len);

	expect_corrupt(good, 0, "The value has 0 bytes, less than the 192-byte header.", "empty");
	expect_corrupt(good, HDR - 1, "The value has 191 bytes, less than the 192-byte header.",
				   "short");
	b = dup(good, len);
	b[OFF_MAGIC + 6] = 'X';
	expect_corrupt(b, len, "The magic number is wrong: this is not a recgan model.", "magic");
	memcpy(b, good, len);
	put32(b, OFF_BOM, 0x04030201);
	expect_corrupt(b, len, "The byte order does not match this server.", "byte order");
	memcpy(b, good, len);
	b[OFF_VERSION] = 2;
	expect_corrupt(b, len, "Format version 2 is not supported (this build reads version 1).",
				   "version");
	memcpy(b, good, len);
	b[OFF_VERSION] = 0;
	b[OFF_VERSION + 1] = 1;
	expect_corrupt(b, len, "Format version 256 is not supported (this build reads version 1).",
				   "version 256");

	/* reserved fields, each with a fixed checksum */
	{
		const size_t offs[] = {OFF_HSIZE, OFF_FLAGS, OFF_RESERVED, OFF_FLAGS + 3};

		for (size_t k = 0; k < RG_LENGTHOF(offs); k++)
		{
			memcpy(b, good, len);
			b[offs[k]] ^= 1;
			fix_crc(b, len);
			expect_corrupt(b, len, "Reserved header fields are not zero.", "reserved");
		}
	}

	/* counts out of range */
	{
		const struct
		{
			size_t		off;
			int			bytes;
			uint64_t	value;
		}			cases[] = {
			{OFF_USERS, 4, 0}, {OFF_USERS, 4, (uint32_t) -1}, {OFF_USERS, 4, 0x80000000u},
			{OFF_ITEMS, 4, 0}, {OFF_ITEMS, 4, (uint32_t) -7},
			{OFF_NNZ, 8, (uint64_t) -1}, {OFF_NNZ, 8, UINT64_C(1) << 63},
			{OFF_NHYPER, 4, 15}, {OFF_NHYPER, 4, 0xFFFFFFFFu},
			{OFF_NTENS, 4, 17}, {OFF_NTENS, 4, 0x80000000u},
		};

		for (size_t k = 0; k < RG_LENGTHOF(cases); k++)
		{
			memcpy(b, good, len);
			if (cases[k].bytes == 4)
				put32(b, cases[k].off, (uint32_t) cases[k].value);
			else
				put64(b, cases[k].off, cases[k].value);
			fix_crc(b, len);
			snprintf(detail, sizeof(detail), "case %zu", k);
			expect_corrupt(b, len, "Header counts are out of range.", detail);
		}
	}

	/* payload size against the value's length */
	expect_corrupt(good, len - 1,
				   "The header announces 112 payload bytes, the value holds 111.", "truncated");
	memcpy(b, good, len);
	b[len] = 0;
	expect_corrupt(b, len + 1,
				   "The header announces 112 payload bytes, the value holds 113.", "extended");
	memcpy(b, good, len);
	put64(b, OFF_PAYLOAD, UINT64_MAX);
	fix_crc(b, len);
	expect_corrupt(b, len, "The header announces 18446744073709551615 payload bytes, the value holds 112.",
				   "payload size UINT64_MAX");
	for (size_t cut = 0; cut < len; cut++)
		expect_corrupt(good, cut, NULL, "every truncation");

	free(b);
	free(good);
}

/* Checksum: a flipped bit anywhere is caught. */
static void
test_reject_checksum(void)
{
	Model		m;
	size_t		len;
	unsigned char *good,
			   *b;
	char		detail[128];
	int			all = 1;

	pop_model(&m);
	good = encode(&m, &len);
	b = dup(good, len);

	b[HDR + 3] ^= 0x10;			/* in a user id */
	snprintf(detail, sizeof(detail), "Checksum mismatch: stored %08X, computed %08X.",
			 get32(good, OFF_CRC), model_crc(b, len));
	expect_corrupt(b, len, detail, "payload flip");
	memcpy(b, good, len);
	b[OFF_SEED] ^= 1;
	snprintf(detail, sizeof(detail), "Checksum mismatch: stored %08X, computed %08X.",
			 get32(good, OFF_CRC), model_crc(b, len));
	expect_corrupt(b, len, detail, "seed flip");
	memcpy(b, good, len);
	b[OFF_HYPER + 100] ^= 0x80;
	expect_corrupt(b, len, NULL, "hyper flip");

	/* every single-byte change of every position of both models */
	for (int which = 0; which < 2; which++)
	{
		if (which == 1)
		{
			free(good);
			free(b);
			ease_model(&m);
			good = encode(&m, &len);
			b = dup(good, len);
		}
		for (size_t pos = 0; pos < len; pos++)
			for (int x = 1; x < 256; x++)
			{
				RgError		err;
				Model	   *d = NULL;
				RgStatus	st;

				b[pos] ^= (unsigned char) x;
				st = model_decode(b, len, &d, &err);
				b[pos] = good[pos];
				if (st != RG_DATA_CORRUPTED || d != NULL)
				{
					all = 0;
					fprintf(stderr, "model %d: flip %02X at %zu gave %d\n", which, x, pos, st);
					if (d != NULL)
						model_release(d);
				}
			}
	}
	CHECK(all, "a single-byte change was not refused");
	CHECK(live_blocks == 0, "flips: %ld blocks live", live_blocks);
	free(b);
	free(good);
}

/* Section sizes and the tensor length table (checksums fixed). */
static void
test_reject_sections(void)
{
	Model		m;
	size_t		len,
				plen;
	unsigned char *pop,
			   *ease,
			   *b;
	size_t		lens_off = HDR + 80;	/* ease: tensor length table */

	pop_model(&m);
	pop = encode(&m, &plen);
	ease_model(&m);
	ease = encode(&m, &len);
	b = dup(ease, len);

	put64(b, lens_off, 8);
	fix_crc(b, len);
	expect_corrupt(b, len, "Section sizes do not add up to the payload size.", "length 8");
	put64(b, lens_off, 10);
	fix_crc(b, len);
	expect_corrupt(b, len, "Section sizes do not add up to the payload size.", "length 10");
	put64(b, lens_off, (uint64_t) -1);
	fix_crc(b, len);
	expect_corrupt(b, len, "Tensor 0 has negative length.", "negative length");
	put64(b, lens_off, UINT64_C(1) << 62);
	fix_crc(b, len);
	expect_corrupt(b, len, "A section size overflows.", "length overflow");
	put64(b, lens_off, (uint64_t) (SIZE_MAX / 2) / 4 + 1);
	fix_crc(b, len);
	expect_corrupt(b, len, "A section size overflows.", "length just overflowing");
	put64(b, lens_off, UINT64_C(1) << 40);
	fix_crc(b, len);
	expect_corrupt(b, len, "Section sizes do not add up to the payload size.", "length 2^40");

	/* more tensors than the payload holds lengths for */
	memcpy(b, ease, len);
	put32(b, OFF_NTENS, 16);
	fix_crc(b, len);
	expect_corrupt(b, len, "The payload is shorter than its sections.", "16 tensors");
	memcpy(b, ease, len);
	put32(b, OFF_NTENS, 2);
	fix_crc(b, len);
	/* the second length is the first 8 bytes of B: 0.0f, 0.5f = 0x3F00000000000000 */
	expect_corrupt(b, len, "A section size overflows.", "2 tensors");
	memcpy(b, ease, len);
	put32(b, OFF_NTENS, 0);
	fix_crc(b, len);
	expect_corrupt(b, len, "Section sizes do not add up to the payload size.", "0 tensors");

	/* counts that do not fit the payload */
	memcpy(b, pop, plen);
	put32(b, OFF_ITEMS, 5);
	fix_crc(b, plen);
	expect_corrupt(b, plen, "The payload is shorter than its sections.", "I + 1");
	memcpy(b, pop, plen);
	put32(b, OFF_USERS, 2);
	fix_crc(b, plen);
	expect_corrupt(b, plen, "Section sizes do not add up to the payload size.", "U - 1");
	memcpy(b, pop, plen);
	put64(b, OFF_NNZ, UINT64_C(1) << 62);
	fix_crc(b, plen);
	expect_corrupt(b, plen, "A section size overflows.", "N overflow");
	memcpy(b, pop, plen);
	put32(b, OFF_USERS, INT32_MAX);
	put32(b, OFF_ITEMS, INT32_MAX);
	put64(b, OFF_NNZ, INT64_MAX / 8);
	fix_crc(b, plen);
	expect_corrupt(b, plen, NULL, "every count huge");

	free(b);
	free(ease);
	free(pop);
}

/* Ids and positives (checksums fixed). */
static void
test_reject_ids_csr(void)
{
	Model		m;
	size_t		len;
	unsigned char *good,
			   *b;

	/* popularity payload: users at 0, items at 24, indptr at 56, indices at 88 */
	pop_model(&m);
	good = encode(&m, &len);
	b = dup(good, len);

#define EDIT64(off, v) do { memcpy(b, good, len); put64(b, HDR + (off), (uint64_t) (v)); fix_crc(b, len); } while (0)
#define EDIT32(off, v) do { memcpy(b, good, len); put32(b, HDR + (off), (uint32_t) (v)); fix_crc(b, len); } while (0)
	EDIT64(8, 10);
	expect_corrupt(b, len, "The user ids are not strictly ascending at position 1.", "user tie");
	EDIT64(16, 5);
	expect_corrupt(b, len, "The user ids are not strictly ascending at position 2.", "user order");
	EDIT64(24 + 24, 99);
	expect_corrupt(b, len, "The item ids are not strictly ascending at position 3.", "item order");
	EDIT64(24, INT64_MAX);
	expect_corrupt(b, len, "The item ids are not strictly ascending at position 1.", "item max");

	EDIT64(56 + 24, 5);
	expect_corrupt(b, len, "The last row pointer is not the number of positives.", "last ptr");
	EDIT64(56, 1);
	expect_corrupt(b, len, "The first row pointer is not 0.", "first ptr");
	EDIT64(56, -1);
	expect_corrupt(b, len, "The first row pointer is not 0.", "first ptr -1");
	EDIT64(56 + 16, 1);
	expect_corrupt(b, len, "Row pointer 2 is out of order.", "decreasing ptr");
	EDIT64(56 + 8, 7);
	expect_corrupt(b, len, "Row pointer 1 is out of order.", "ptr past N");
	EDIT64(56 + 8, INT64_MIN);
	expect_corrupt(b, len, "Row pointer 1 is out of order.", "ptr INT64_MIN");
	EDIT32(88 + 4, 4);
	expect_corrupt(b, len, "Item index out of range or order in row 0.", "index I");
	EDIT32(88 + 8, -1);
	expect_corrupt(b, len, "Item index out of range or order in row 1.", "index -1");
	EDIT32(88 + 16, 0);
	expect_corrupt(b, len, "Item index out of range or order in row 2.", "index tie");
	EDIT32(88 + 4, 0);
	expect_corrupt(b, len, "Item index out of range or order in row 0.", "index order");
#undef EDIT64
#undef EDIT32
	free(b);
	free(good);
}

/* The algorithm id and its tensors (checksums fixed). */
static void
test_reject_algorithm(void)
{
	Model		m;
	size_t		len;
	unsigned char *good,
			   *b;

	ease_model(&m);
	good = encode(&m, &len);
	b = dup(good, len);

	put32(b, OFF_VERSION, 1 | 99u << 16);
	fix_crc(b, len);
	expect_corrupt(b, len, "Unknown algorithm id 99.", "id 99");
	memcpy(b, good, len);
	b[OFF_ALG] = 0;
	fix_crc(b, len);
	expect_corrupt(b, len, "Unknown algorithm id 0.", "id 0");
	memcpy(b, good, len);
	b[OFF_ALG + 1] = 1;
	fix_crc(b, len);
	expect_corrupt(b, len, "Unknown algorithm id 259.", "id 259");

	/* an ease model read as popularity: one hyperparameter, one tensor too many */
	memcpy(b, good, len);
	b[OFF_ALG] = RECGAN_ALG_POPULARITY;
	fix_crc(b, len);
	expect_corrupt(b, len, "The header has 1 hyperparameters, algorithm popularity stores 0.",
				   "popularity with 1 hyperparameter");
	put32(b, OFF_NHYPER, 0);
	put64(b, OFF_HYPER, 0);
	fix_crc(b, len);
	expect_corrupt(b, len, "Algorithm popularity expects 0 tensors, the model has 1.",
				   "popularity with 1 tensor");
	free(b);
	free(good);

	/* ease without its tensor, and with a tensor of the wrong length */
	ease_model(&m);
	m.n_tensors = 0;
	good = encode(&m, &len);
	expect_corrupt(good, len, "A dense ease model has 1 tensor (payload version 1) or 3 (version 2), this one 0.", "ease 0");
	free(good);
	ease_model(&m);
	m.tensors[0].len = 8;
	good = encode(&m, &len);
	expect_corrupt(good, len, "Tensor 0 of a ease model has 8 words, expected 9.", "ease 8");
	free(good);
}

/*
 * The ease model's bytes relabelled as algorithm alg, its hyperparameters
 * the defaults of alg's options but key = value, and the checksum fixed:
 * the hyperparameter check runs before any tensor check.
 */
static void
expect_hyper(RecganAlgorithm alg, const char *key, double value, const char *detail)
{
	const ModelOps *ops = model_ops_by_id(alg);
	int			stored = ops->n_options < RECGAN_MAX_HYPER ? ops->n_options : RECGAN_MAX_HYPER;
	Model		m;
	size_t		len;
	unsigned char *b;
	char		what[128];

	ease_model(&m);
	b = encode(&m, &len);
	b[OFF_ALG] = (unsigned char) alg;
	put32(b, OFF_NHYPER, (uint32_t) stored);
	for (int h = 0; h < RECGAN_MAX_HYPER; h++)
	{
		double		v = h < stored ? ops->options[h].defval : 0;

		if ((h < stored && strcmp(ops->options[h].key, key) == 0) ||
			(h >= stored && strcmp(key, "unused") == 0 && h == stored))
			v = value;
		memcpy(b + OFF_HYPER + 8 * h, &v, 8);
	}
	fix_crc(b, len);
	snprintf(what, sizeof(what), "%s %s = %g", ops->name, key, value);
	expect_corrupt(b, len, detail, what);
	free(b);
}

/*
 * Hyperparameters out of their option's bounds are refused before
 * validate/score use them (the fuzzer's first find: gmf with factors
 * 7.4e19 made NcfModelDims convert it to int, undefined behaviour).
 */
static void
test_reject_hyper(void)
{
	Model		m;
	size_t		len;
	unsigned char *b;
	double		v;

	expect_hyper(RECGAN_ALG_GMF, "factors", 7.3787e19,
				 "Hyperparameter 0 (factors) is out of range.");
	expect_hyper(RECGAN_ALG_GMF, "factors", 0, "Hyperparameter 0 (factors) is out of range.");
	expect_hyper(RECGAN_ALG_GMF, "factors", 4097, "Hyperparameter 0 (factors) is out of range.");
	expect_hyper(RECGAN_ALG_GMF, "factors", 7.5, "Hyperparameter 0 (factors) is out of range.");
	expect_hyper(RECGAN_ALG_GMF, "factors", NAN, "Hyperparameter 0 (factors) is out of range.");
	expect_hyper(RECGAN_ALG_EASE, "lambda", -INFINITY,
				 "Hyperparameter 0 (lambda) is out of range.");
	expect_hyper(RECGAN_ALG_EASE, "lambda", 0, "Hyperparameter 0 (lambda) is out of range.");
	expect_hyper(RECGAN_ALG_EASE, "unused", 1, "Hyperparameter 2 (unused) is out of range.");
	expect_hyper(RECGAN_ALG_EASE, "neighbors", 100001,
				 "Hyperparameter 1 (neighbors) is out of range.");
	expect_hyper(RECGAN_ALG_EASE, "neighbors", 2.5,
				 "Hyperparameter 1 (neighbors) is out of range.");
	expect_hyper(RECGAN_ALG_ITEMKNN, "normalize", 2,
				 "Hyperparameter 2 (normalize) is out of range.");
	expect_hyper(RECGAN_ALG_ITEMKNN, "neighbors", 1e300,
				 "Hyperparameter 0 (neighbors) is out of range.");
	expect_hyper(RECGAN_ALG_CFGAN, "mode", 2, "Hyperparameter 0 (mode) is out of range.");
	expect_hyper(RECGAN_ALG_CGAN, "score_samples", 1e9, NULL);
	/* every default is in range: the tensor check is what refuses these */
	expect_hyper(RECGAN_ALG_GMF, "none", 0, "Algorithm gmf expects 4 tensors, the model has 1.");
	expect_hyper(RECGAN_ALG_CGAN, "none", 0, "Algorithm cgan expects 5 tensors, the model has 1.");

	/* the header's count must be the algorithm's */
	ease_model(&m);
	b = encode(&m, &len);
	put32(b, OFF_NHYPER, 0);
	fix_crc(b, len);
	expect_corrupt(b, len, "The header has 0 hyperparameters, algorithm ease stores 2.",
				   "ease with 0 hyperparameters");
	put32(b, OFF_NHYPER, 3);
	fix_crc(b, len);
	expect_corrupt(b, len, "The header has 3 hyperparameters, algorithm ease stores 2.",
				   "ease with 3 hyperparameters");
	/* a dense ease model stores lambda alone; an unstored later option must read 0 */
	put32(b, OFF_NHYPER, 1);
	v = 5;
	memcpy(b + OFF_HYPER + 8, &v, 8);
	fix_crc(b, len);
	expect_corrupt(b, len, "Hyperparameter 1 (unused) is out of range.",
				   "ease storing lambda alone, neighbors slot 5");
	v = 0;
	memcpy(b + OFF_HYPER + 8, &v, 8);
	v = 1e12;					/* the bound itself is accepted */
	memcpy(b + OFF_HYPER, &v, 8);
	fix_crc(b, len);
	model_release(expect_ok(b, len, "ease lambda 1e12"));
	free(b);
}

/* Random damage with a fixed checksum: refused or decoded, never a crash. */
static void
test_random_damage(void)
{
	Model		m;
	size_t		len;
	unsigned char *good,
			   *b;
	Rng			rng;
	int			ok = 0,
				corrupted = 0,
				other = 0;

	ease_model(&m);
	good = encode(&m, &len);
	b = dup(good, len);
	rng_seed(&rng, 11);
	for (int it = 0; it < 20000; it++)
	{
		int			n = 1 + (int) rng_below(&rng, 4);
		RgError		err;
		Model	   *d = NULL;
		RgStatus	st;

		memcpy(b, good, len);
		for (int k = 0; k < n; k++)
		{
			/* mostly the counts and the payload, whose checks come after the CRC */
			size_t		pos = rng_below(&rng, 3) == 0 ? OFF_USERS + rng_below(&rng, 40)
				: HDR + rng_below(&rng, len - HDR);
			static const unsigned char vals[] = {0, 1, 2, 3, 0x7F, 0x80, 0xFF};

			b[pos] = rng_below(&rng, 2) ? (unsigned char) rng_next(&rng)
				: vals[rng_below(&rng, RG_LENGTHOF(vals))];
		}
		fix_crc(b, len);
		st = model_decode(b, len, &d, &err);
		if (st == RG_OK)
		{
			ok++;
			model_release(d);
		}
		else if (st == RG_DATA_CORRUPTED && d == NULL)
			corrupted++;
		else
			other++;
	}
	printf("     20000 damaged models: %d decoded, %d refused, %d other\n", ok, corrupted, other);
	CHECK(other == 0, "%d damaged models gave another status", other);
	CHECK(corrupted > 0 && ok > 0, "damage was not varied");
	CHECK(live_blocks == 0, "random damage: %ld blocks live", live_blocks);
	free(b);
	free(good);
}

int
main(void)
{
	host_setup();
	RUN(test_crc32c_check_value);
	RUN(test_crc32c_sse42_vs_table);
	RUN(test_roundtrip_popularity);
	RUN(test_roundtrip_ease);
	RUN(test_encode_limits);
	RUN(test_reject_header);
	RUN(test_reject_checksum);
	RUN(test_reject_sections);
	RUN(test_reject_ids_csr);
	RUN(test_reject_algorithm);
	RUN(test_reject_hyper);
	RUN(test_random_damage);
	return unit_summary();
}
