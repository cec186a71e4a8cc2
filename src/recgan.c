/*
 * recgan.c
 *	  Module entry point: PG_MODULE_MAGIC, _PG_init (GUCs, the engine host,
 *	  the workers) and recgan_version().
 *
 * _PG_init works both when the library is preloaded through
 * shared_preload_libraries and when it is loaded on demand by the first call
 * of one of its functions.  It never calls BLAS: under preloading it runs in
 * the postmaster, and OpenBLAS threads there would be inherited by nothing
 * useful.  recgan.threads is applied lazily by RecganThreadsSetup() in the
 * backend that does the work, to OpenBLAS and to the engine's own threads
 * (parallel.h: compute-only threads, started and joined within a kernel).
 */
#include "postgres.h"

#include <cblas.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "cache.h"
#include "engine_host.h"
#include "guc.h"
#include "util.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Define the GUCs, give the engine its host, then start each subsystem. */
void
_PG_init(void)
{
	GucInit();
	EngineHostInit();
	CacheInit();
	WorkerInit();
}

PG_FUNCTION_INFO_V1(recgan_version);

/* Return the library version and the linked OpenBLAS configuration. */
Datum
recgan_version(PG_FUNCTION_ARGS)
{
	char	   *config;

	RecganThreadsSetup();
	config = openblas_get_config();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("recgan %s (%s, %d thread%s)",
											  RECGAN_VERSION_STR,
											  config ? config : "unknown BLAS",
											  openblas_get_num_threads(),
											  openblas_get_num_threads() == 1 ? "" : "s")));
}
