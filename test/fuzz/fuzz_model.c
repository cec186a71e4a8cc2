/*
 * fuzz_model.c
 *	  libFuzzer harness of the model decoder and every algorithm's serving
 *	  path, built from src/engine/ alone (no server) with ASan + UBSan:
 *
 *	    make fuzz FUZZ_SECONDS=60
 *
 * An input is the bytes of a stored model.  The CRC-32C at header offset
 * 184 would reject nearly every random mutation before the structural
 * checks run, so the custom mutator below recomputes it (and, usually, the
 * payload size at offset 176) after libFuzzer mutates: what is attacked
 * is every length, count, id, CSR index, hyperparameter and tensor shape
 * behind the checksum.  The seed corpus is a real model of every
 * algorithm (make_corpus.c, synthetic data).
 *
 * On a successful decode the model is served the way the backend serves it
 * (cache.c, recommend.c): prepare, score a block of known users and a
 * block of fold-in histories, similar items of the first and last item;
 * then everything is freed with the malloc host's scope, so a leak is a
 * LeakSanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "format.h"
#include "parallel.h"
#include "registry.h"

#define HDR RG_MODEL_HEADER_SIZE
#define OFF_PAYLOAD 176
#define OFF_CRC 184

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The malloc host, one engine thread (so a run is deterministic); `make
 * fuzz` also sets OPENBLAS_NUM_THREADS=1.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	rg_host_malloc();
	parallel_set_threads(1);
	return 0;
}

/*
 * libFuzzer's mutation, then a valid checksum (see the file comment); not
 * in the replay of test/unit/test_fuzz_cases.c, which has no libFuzzer.
 */
#ifndef FUZZ_REPLAY
/* Make the header's payload size and checksum match the bytes. */
static void
FixHeader(uint8_t *data, size_t size, int fix_size)
{
	uint64_t	payload = size - HDR;
	uint32_t	crc = CRC32C_INIT;

	if (fix_size)
		memcpy(data + OFF_PAYLOAD, &payload, 8);
	crc = crc32c_update(crc, data, OFF_CRC);
	crc = crc32c_update(crc, data + HDR, size - HDR);
	crc = CRC32C_FINISH(crc);
	memcpy(data + OFF_CRC, &crc, 4);
}

size_t		LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t		LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
									unsigned int seed);

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size = LLVMFuzzerMutate(data, size, max_size);
	if (size >= HDR)
		FixHeader(data, size, seed % 16 != 0);
	return size;
}
#endif

/* Score nq queries at once and touch every score (ASan sees the writes). */
static void
ScoreBlock(const Model *model, const ScoreQuery *q, int nq)
{
	float	   *scores = rg_alloc_array(float, (size_t) nq * model->n_items);
	volatile float sink = 0;

	model->ops->score(model, q, nq, scores);
	for (size_t s = 0; s < (size_t) nq * model->n_items; s++)
		sink += scores[s];
}

/* Serve a decoded model as recommend.c does. */
static void
Serve(Model *model)
{
	int32_t		nu = model->n_users,
				ni = model->n_items;
	ScoreQuery	q[3];
	int32_t		hist_a[3],
				hist_b[1];
	int			nh = 0;

	if (model->ops->prepare)
		model->ops->prepare(model);

	/* known users: the first, the last, one in the middle */
	model_user_query(model, 0, &q[0]);
	model_user_query(model, nu - 1, &q[1]);
	model_user_query(model, nu / 2, &q[2]);
	ScoreBlock(model, q, 3);
	ScoreBlock(model, &q[1], 1);

	/* fold-in histories of valid, ascending item indexes (and an empty one) */
	hist_a[nh++] = 0;
	if (ni > 2)
		hist_a[nh++] = ni / 2;
	if (ni > 1)
		hist_a[nh++] = ni - 1;
	hist_b[0] = ni - 1;
	q[0] = (ScoreQuery) {-1, hist_a, nh};
	q[1] = (ScoreQuery) {-1, hist_b, 1};
	q[2] = (ScoreQuery) {-1, hist_b, 0};
	ScoreBlock(model, q, 3);

	if (model->ops->similar)
	{
		float	   *scores = rg_alloc_array(float, ni);

		model->ops->similar(model, 0, scores);
		model->ops->similar(model, ni - 1, scores);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void	   *scope = rg_scope_push();
	Model	   *model;
	RgError		err;

	if (model_decode(data, size, &model, &err) == RG_OK)
		Serve(model);
	rg_scope_pop(scope);
	return 0;
}
