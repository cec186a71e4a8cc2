/*
 * worker_job.c
 *	  The dynamic background worker of one run: it claims the run, trains
 *	  as the run's owner, publishes progress to its slot, and records how
 *	  the run ended.
 *
 * Each worker connects as the run's owner role
 * (BackgroundWorkerInitializeConnectionByOid) and trains by calling
 * recgan_train through SPI, so it reads exactly what the owner may read and
 * the model row is written in one transaction with the run's end.  Only the
 * bookkeeping statements on recgan_schedules and recgan_run_history run as
 * the bootstrap superuser, with a pinned search_path (CatalogBegin).  A job
 * owned by a superuser is refused unless recgan.allow_superuser_jobs.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/memutils.h"

#include "util.h"
#include "train.h"
#include "versions.h"
#include "worker_int.h"

static emit_log_hook_type prev_emit_log_hook = NULL;

/* Publish a finished epoch (RecganTrainProgressHook). */
static void
WorkerProgress(const struct EpochReport *report)
{
	WorkerSlotSetProgress(report->epoch, report->loss);
}

/* Keep the worker's last error in its slot, for the launcher. */
static void
WorkerLogHook(ErrorData *edata)
{
	if (edata->elevel >= ERROR && edata->message != NULL)
		WorkerSlotKeepMessage(edata->message);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* Mark the slot exited, whatever the reason; the launcher takes it from there. */
static void
WorkerOnExit(int code, Datum arg)
{
	WorkerSlotMarkExited();
}

/* Read the job columns of the claimed run (row 0, columns 1..11) into cxt. */
static void
WorkerReadJob(MemoryContext cxt, JobSpec *job)
{
	job->source = WorkerResultText(0, 1, cxt);
	job->model = WorkerResultText(0, 2, cxt);
	job->algorithm = WorkerResultText(0, 3, cxt);
	job->options = WorkerResultText(0, 4, cxt);
	job->user_col = WorkerResultText(0, 5, cxt);
	job->item_col = WorkerResultText(0, 6, cxt);
	job->rating_col = WorkerResultText(0, 7, cxt);
	job->threshold = WorkerResultText(0, 8, cxt);
	job->kind = WorkerResultText(0, 9, cxt);
	job->owner = WorkerResultText(0, 10, cxt);
	job->source_changes = WorkerResultText(0, 11, cxt);
}

/* Claim the run (queued -> running) and read its job into cxt; false if it is gone. */
static bool
WorkerClaim(int64 run_id, MemoryContext cxt, JobSpec *job)
{
	Params		p = {0};
	CatalogAccess ca;
	bool		found;
	int			epochs;

	WorkerTxBegin();
	WorkerCatalogBegin(&ca);
	WorkerParamInt8(&p, run_id);
	WorkerParamAdd(&p, INT4OID, Int32GetDatum(MyProcPid), false);
	WorkerExec(psprintf("UPDATE %s SET status = 'running', started_at = pg_catalog.now(), pid = $2 "
				  "WHERE run_id = $1 AND status = 'queued' "
				  "RETURNING " JOB_COLUMNS ", kind, owner, source_changes",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_UPDATE_RETURNING);
	found = SPI_processed == 1;
	if (found)
	{
		WorkerReadJob(cxt, job);
		epochs = WorkerJobEpochs(job);
		WorkerSlotSetEpochs(epochs);
		p.n = 0;
		WorkerParamInt8(&p, run_id);
		WorkerParamAdd(&p, INT4OID, Int32GetDatum(epochs), false);
		WorkerExec(psprintf("UPDATE %s SET epochs = $2 WHERE run_id = $1",
					  RecganCatalogTable("recgan_run_history")),
			 &p, SPI_OK_UPDATE);
	}
	WorkerCatalogEnd(&ca);
	WorkerTxCommit();
	return found;
}

/*
 * Record success: the stored version's metrics and, when the training said
 * something about deploying it (RecganLastStore), that as the run's message;
 * for a scheduled run, remember the source's change count.
 */
static void
WorkerRecordSuccess(int64 run_id, const JobSpec *job)
{
	Params		p = {0};
	int32		epoch;
	double		loss;
	const VersionOutcome *stored = &RecganLastStore;
	char	   *metrics;

	WorkerSlotGetProgress(&epoch, &loss);

	WorkerParamInt8(&p, run_id);
	WorkerParamAdd(&p, INT4OID, Int32GetDatum(epoch), epoch < 1);
	WorkerParamAdd(&p, FLOAT8OID, Float8GetDatum(loss), isnan(loss));
	WorkerParamAdd(&p, TEXTOID, CStringGetTextDatum(stored->message), stored->message[0] == '\0');
	WorkerParamAdd(&p, INT4OID, Int32GetDatum(stored->version), false);
	if (stored->version > 0)	/* the version's row, deployed or archived */
		metrics = psprintf("COALESCE((SELECT m.metrics FROM %s m WHERE m.name = r.model AND m.version = $5), "
						   "(SELECT a.metrics FROM %s a WHERE a.name = r.model AND a.version = $5))",
						   RecganCatalogTable("recgan_models"), RecganCatalogTable("recgan_model_archive"));
	else						/* a 0.1.0 catalog: no versions, no message */
		metrics = psprintf("(SELECT m.metrics FROM %s m WHERE m.name = r.model)",
						   RecganCatalogTable("recgan_models"));
	WorkerExec(psprintf("UPDATE %s r SET status = 'succeeded', ended_at = pg_catalog.clock_timestamp(), "
				  "epoch = $2, loss = $3, message = $4, metrics = %s WHERE r.run_id = $1",
				  RecganCatalogTable("recgan_run_history"), metrics),
		 &p, SPI_OK_UPDATE);
	if (strcmp(job->kind, "scheduled") != 0 || job->source_changes == NULL)
		return;
	p.n = 0;
	WorkerParamText(&p, job->model);
	WorkerParamText(&p, job->owner);
	WorkerParamText(&p, job->source_changes);
	WorkerExec(psprintf("UPDATE %s SET source_changes = $3::pg_catalog.int8 "
				  "WHERE model = $1 AND owner = $2",
				  RecganCatalogTable("recgan_schedules")),
		 &p, SPI_OK_UPDATE);
}

/*
 * Train as the owner and record success in one transaction, so that the
 * model row and the run's end commit together.
 */
static void
WorkerTrain(int64 run_id, const JobSpec *job)
{
	Params		p = {0};
	CatalogAccess ca;

	WorkerTxBegin();
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("recgan run " INT64_FORMAT ": training model %s", run_id, job->model));
	WorkerParamJob(&p, job);
	memset(&RecganLastStore, 0, sizeof(RecganLastStore));
	RecganTrainProgressHook = WorkerProgress;
	WorkerExec(psprintf("SELECT pg_catalog.count(*) FROM %s(" JOB_VALUES ")",
				  RecganCatalogTable("recgan_train")),
		 &p, SPI_OK_SELECT);
	RecganTrainProgressHook = NULL;

	WorkerCatalogBegin(&ca);
	WorkerRecordSuccess(run_id, job);
	WorkerCatalogEnd(&ca);

	if (WorkerSlotFinishUnlessCancelled())
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling run " INT64_FORMAT " by recgan_cancel", run_id)));
	WorkerTxCommit();
}

/*
 * After an error: log it, roll back (the previous model stays), and record
 * the run as cancelled (recgan_cancel, or a query cancel) or failed.
 */
static void
WorkerRecordError(int64 run_id, MemoryContext cxt)
{
	ErrorData  *edata;
	bool		requested;
	const char *status;
	const char *message;
	int32		epoch;
	double		loss;
	CatalogAccess ca;

	MemoryContextSwitchTo(cxt);
	RecganTrainProgressHook = NULL;
	HOLD_INTERRUPTS();
	EmitErrorReport();
	edata = CopyErrorData();
	AbortOutOfAnyTransaction();
	FlushErrorState();
	RESUME_INTERRUPTS();

	WorkerSlotFinishAfterError(&requested, &epoch, &loss);
	QueryCancelPending = false;
	status = (requested || edata->sqlerrcode == ERRCODE_QUERY_CANCELED) ? "cancelled" : "failed";
	message = requested ? "cancelled by recgan_cancel" : edata->message;

	WorkerTxBegin();
	WorkerCatalogBegin(&ca);
	WorkerRunEnd(run_id, status, message, epoch, loss);
	WorkerCatalogEnd(&ca);
	WorkerTxCommit();
}

/* Main of a per-run worker: main_arg is its slot. */
void
recgan_worker_main(Datum main_arg)
{
	int			i = DatumGetInt32(main_arg);
	MemoryContext cxt;
	JobSpec		job;
	int64		run_id;
	Oid			database,
				owner;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (!WorkerShmemAttached() || i < 0 || i >= WorkerSlotCount())
		elog(FATAL, "recgan worker started without a slot. Please report a bug.");
	if (!WorkerSlotAttach(i, &run_id, &database, &owner))
		elog(FATAL, "recgan worker slot %d is not starting. Please report a bug.", i);
	before_shmem_exit(WorkerOnExit, (Datum) 0);
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = WorkerLogHook;

	BackgroundWorkerInitializeConnectionByOid(database, owner, 0);
	pgstat_report_appname(psprintf("recgan run " INT64_FORMAT, run_id));
	cxt = AllocSetContextCreate(TopMemoryContext, "recgan worker", ALLOCSET_DEFAULT_SIZES);

	PG_TRY();
	{
		memset(&job, 0, sizeof(job));
		if (WorkerClaim(run_id, cxt, &job))
			WorkerTrain(run_id, &job);
	}
	PG_CATCH();
	{
		WorkerRecordError(run_id, cxt);
	}
	PG_END_TRY();

	WorkerSlotMarkFinished();
	pgstat_report_activity(STATE_IDLE, NULL);
}
