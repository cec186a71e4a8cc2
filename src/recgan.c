/*
 * recgan.c
 *	  Module entry point: PG_MODULE_MAGIC, GUCs, and the init of each subsystem.
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

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "parallel.h"
#include "recgan.h"
#include "worker.h"

PG_MODULE_MAGIC;

int			recgan_threads = 1;
int			recgan_max_train_memory = 4096;
char	   *recgan_database = NULL;
int			recgan_max_workers = 2;
int			recgan_naptime = 10;
bool		recgan_allow_superuser_jobs = false;
int			recgan_cache_mb = 256;

void		_PG_init(void);

/* Define GUCs, then initialise each subsystem. */
void
_PG_init(void)
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

	WorkerInit();
}

/* Give OpenBLAS and the engine's split kernels (parallel.h) recgan.threads threads. */
void
RecganThreadsSetup(void)
{
	if (openblas_get_num_threads() != recgan_threads)
		openblas_set_num_threads(recgan_threads);
	parallel_set_threads(recgan_threads);
}

/* Error out when an estimated training footprint exceeds the GUC. */
void
RecganCheckTrainMemory(double bytes, const char *what)
{
	double		mb = bytes / (1024.0 * 1024.0);

	if (mb > recgan_max_train_memory)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training %s needs an estimated %.0f MB, more than recgan.max_train_memory (%d MB)",
						what, mb, recgan_max_train_memory),
				 errhint("Raise recgan.max_train_memory, or train on fewer items.")));
}

/* Schema of an installed extension (get_extension_schema is static in PG 15). */
static Oid
ExtensionSchema(Oid ext)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/* Qualify an extension table with the schema recgan was installed in. */
char *
RecganCatalogTable(const char *table)
{
	Oid			ext = get_extension_oid("recgan", true);
	Oid			nsp = OidIsValid(ext) ? ExtensionSchema(ext) : InvalidOid;

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"recgan\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION recgan.")));
	return quote_qualified_identifier(get_namespace_name(nsp), table);
}

/* Seconds elapsed since start. */
double
RecganElapsed(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
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
