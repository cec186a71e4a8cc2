/*
 * recgan.c
 *	  Module entry point: PG_MODULE_MAGIC, GUCs, and the init of each subsystem.
 *
 * _PG_init works both when the library is preloaded through
 * shared_preload_libraries and when it is loaded on demand by the first call
 * of one of its functions.  It never calls BLAS: under preloading it runs in
 * the postmaster, and OpenBLAS threads there would be inherited by nothing
 * useful.  recgan.blas_threads is applied lazily by RecganBlasSetup() in the
 * backend that does the work.
 */
#include "postgres.h"

#include <cblas.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "recgan.h"

PG_MODULE_MAGIC;

int			recgan_blas_threads = 1;

void		_PG_init(void);

/* Define GUCs, then initialise each subsystem. */
void
_PG_init(void)
{
	DefineCustomIntVariable("recgan.blas_threads",
							"Number of OpenBLAS threads used by training and batch scoring.",
							"1 keeps results bit-for-bit reproducible.",
							&recgan_blas_threads,
							1, 1, 64,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("recgan");
}

/* Set the OpenBLAS thread count to recgan.blas_threads if it differs. */
void
RecganBlasSetup(void)
{
	if (openblas_get_num_threads() != recgan_blas_threads)
		openblas_set_num_threads(recgan_blas_threads);
}

PG_FUNCTION_INFO_V1(recgan_version);

/* Return the library version and the linked OpenBLAS configuration. */
Datum
recgan_version(PG_FUNCTION_ARGS)
{
	char	   *config;

	RecganBlasSetup();
	config = openblas_get_config();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("recgan %s (%s, %d thread%s)",
											  RECGAN_VERSION_STR,
											  config ? config : "unknown BLAS",
											  openblas_get_num_threads(),
											  openblas_get_num_threads() == 1 ? "" : "s")));
}
