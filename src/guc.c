/*
 * guc.c
 *	  The recgan.* configuration parameters.
 *
 * PGC_POSTMASTER parameters (recgan.database, recgan.max_workers) exist only
 * while preloading, where the launcher does; the others always.
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "guc.h"

int			recgan_threads = 1;
int			recgan_max_train_memory = 4096;
char	   *recgan_database = NULL;
int			recgan_max_workers = 2;
int			recgan_naptime = 10;
bool		recgan_allow_superuser_jobs = false;
int			recgan_cache_mb = 256;
int			recgan_model_chunk_size = 256 * 1024;

/* Define every recgan.* GUC and reserve the prefix. */
void
GucInit(void)
{
	DefineCustomIntVariable("recgan.threads",
							"Threads a training or batch-scoring call may use: OpenBLAS's and recgan's own kernels.",
							"recgan's own kernels (graph products, Adam) give the same bits at any count; OpenBLAS results may differ in the last bits between counts.",
							&recgan_threads,
							1, 1, 64,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("recgan.max_train_memory",
							"Largest estimated training footprint recgan_train accepts.",
							"Training refuses to start, naming both figures, above this.",
							&recgan_max_train_memory,
							4096, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("recgan.cache_mb",
							"Memory for decoded models kept by each backend.",
							"Least recently used models are evicted above it; 0 disables the cache.",
							&recgan_cache_mb,
							256, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("recgan.model_chunk_size",
							"Largest model stored as one bytea; larger ones are stored in chunks of this size.",
							"Chunks are rows of recgan_model_chunks, read back in order; at most 512 MB so that pg_dump can write each one.",
							&recgan_model_chunk_size,
							256 * 1024, 64, 512 * 1024,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("recgan.naptime",
							"Longest sleep of the recgan launcher between checks of its schedules and queue.",
							"It also wakes when a run is queued, a schedule is made or a worker ends.",
							&recgan_naptime,
							10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("recgan.allow_superuser_jobs",
							 "Lets scheduled and asynchronous training run as a superuser.",
							 "Off, as cron.enable_superuser_jobs: a job should have no more privilege than it needs.",
							 &recgan_allow_superuser_jobs,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	/*
	 * PGC_POSTMASTER variables can only be defined while preloading; they
	 * exist only where the launcher does.  One database per cluster, as
	 * pg_cron's cron.database_name (see worker.c).
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("recgan.database",
								   "Database in which the recgan launcher runs scheduled and asynchronous training.",
								   "One per cluster; recgan must be installed there.",
								   &recgan_database,
								   "postgres",
								   PGC_POSTMASTER, 0,
								   NULL, NULL, NULL);

		DefineCustomIntVariable("recgan.max_workers",
								"Most background training runs going on at once.",
								"Each takes one of max_worker_processes, as does the launcher.",
								&recgan_max_workers,
								2, 1, 64,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
	}

	MarkGUCPrefixReserved("recgan");
}

