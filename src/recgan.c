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
 *
 * _PG_init does lower OpenBLAS's thread count to one (recgan.threads'
 * default), which starts no thread: OpenBLAS's fork handler stops its thread
 * pool in the postmaster at each fork, and changing the count in a forked
 * backend starts the pool again there, whose idle thread then spins in
 * sched_yield for tens of milliseconds (measured: 30-40 ms of CPU per new
 * session, taken from the training when the cores are busy).  A backend
 * inherits the count, so at recgan.threads = 1 RecganThreadsSetup changes
 * nothing and no OpenBLAS thread is started.
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

/* One OpenBLAS thread (see above), the GUCs, the engine's host, then each subsystem. */
void
_PG_init(void)
{
	openblas_set_num_threads(1);
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
