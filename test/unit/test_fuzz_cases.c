/*
 * test_fuzz_cases.c
 *	  Replays every input the fuzzer found a bug with (test/fuzz/cases/, one
 *	  file each, named after the bug) through the fuzzer's own decode-and-
 *	  serve path (test/fuzz/fuzz_model.c), without libFuzzer: under `make
 *	  unitcheck` a case must not crash, under `make sanitizecheck` it must
 *	  also be clean under ASan + UBSan.  Each case must also be refused by
 *	  the decoder (the bugs were all values the decoder let through), and
 *	  every seed model of make_corpus must decode (checked by the fuzzer's
 *	  corpus run, not here).
 *
 *	  RECGAN_FUZZ_CASES overrides the directory (default test/fuzz/cases,
 *	  relative to the top of the source tree, where make runs).
 */
#define _POSIX_C_SOURCE 200809L
#define FUZZ_REPLAY
#include "../fuzz/fuzz_model.c"

#include <dirent.h>
#include <stdio.h>

#include "unit.h"

/* Read a whole file into a new malloc'd buffer; *len gets its size. */
static unsigned char *
ReadFile(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long		n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
	{
		buf = malloc((size_t) n + 1);
		if (buf != NULL && fread(buf, 1, (size_t) n, f) != (size_t) n)
		{
			free(buf);
			buf = NULL;
		}
		*len = (size_t) n;
	}
	fclose(f);
	return buf;
}

int
main(void)
{
	const char *dir = getenv("RECGAN_FUZZ_CASES") ? getenv("RECGAN_FUZZ_CASES") : "test/fuzz/cases";
	DIR		   *d = opendir(dir);
	struct dirent *e;
	int			n = 0;

	LLVMFuzzerInitialize(NULL, NULL);
	CHECK(d != NULL, "cannot open %s", dir);
	while (d != NULL && (e = readdir(d)) != NULL)
	{
		char		path[4096];
		size_t		len = 0;
		unsigned char *buf;
		Model	   *model;
		RgError		err;
		void	   *scope;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		buf = ReadFile(path, &len);
		CHECK(buf != NULL, "cannot read %s", path);
		if (buf == NULL)
			continue;
		LLVMFuzzerTestOneInput(buf, len);
		scope = rg_scope_push();
		CHECK(model_decode(buf, len, &model, &err) == RG_DATA_CORRUPTED,
			  "%s: decoded, expected refused", e->d_name);
		rg_scope_pop(scope);
		printf("     %s: %s\n", e->d_name, err.detail);
		free(buf);
		n++;
	}
	if (d != NULL)
		closedir(d);
	CHECK(n > 0, "no case in %s", dir);
	return unit_summary();
}
