/*
 * worker_launcher.c
 *	  WorkerInit and the launcher: it marks runs interrupted by a restart as
 *	  failed, reaps ended workers, queues due schedules and starts one
 *	  dynamic worker (worker_job.c) per queued run.
 *
 * Processes.  With recgan in shared_preload_libraries, the postmaster starts
 * one launcher once recovery has finished (so nothing runs on a hot
 * standby; it starts on promotion) and restarts it LAUNCHER_RESTART_SECONDS
 * after it dies.  The launcher connects to the one database named by
 * recgan.database, as pg_cron does with cron.database_name: a cluster-wide
 * process cannot follow every database without a connection to each, and
 * one configured database is the simplest rule to explain and to secure.
 * It loops WaitLatch -> ResetLatch -> CHECK_FOR_INTERRUPTS -> reload the
 * configuration -> one transaction (reap ended workers, queue due
 * schedules) -> a second one (start queued runs).  It wakes when a
 * transaction that queued a run or made a schedule commits, when one of its
 * workers ends (bgw_notify_pid), at the next due schedule, and at least
 * every recgan.naptime.
 *
 * min_new_rows.  The launcher counts changes of the source from the
 * cumulative statistics: n_tup_ins + n_tup_upd + n_tup_del of the table (of
 * every leaf partition for a partitioned table), remembered in
 * recgan_schedules.source_changes when a run that trained succeeds.  Not
 * n_mod_since_analyze, which ANALYZE resets.  The count is approximate:
 * backends report it at most once a second and at exit, statistics are
 * reset by pg_stat_reset() and after a crash, and rolled-back writes count.
 * A counter lower than the remembered one (a reset) counts as a change.
 * Views, materialized views (a non-concurrent REFRESH replaces the heap
 * unseen) and foreign tables have no such counts: recgan_schedule refuses
 * min_new_rows > 0 on them.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "guc.h"
#include "util.h"
#include "worker.h"
#include "worker_int.h"

#define LAUNCHER_RESTART_SECONDS 10
#define MAX_QUEUED_PER_PASS 1000

/* A due schedule and what to do with it. */
typedef struct DueSchedule
{
	char	   *model;
	const char *status;			/* "queued" or "skipped" */
	char	   *message;		/* why skipped */
	int64		changes;		/* source change count now */
	bool		changes_null;
} DueSchedule;

static BackgroundWorkerHandle **launcher_handles = NULL;	/* in the launcher */
static bool warned_no_bgworker = false;

/* ----------------------------------------------------------------
 * Runs and slots
 * ---------------------------------------------------------------- */

/* Forget the launcher's latch when it exits. */
static void
LauncherOnExit(int code, Datum arg)
{
	WorkerSlotSetLauncherLatch(NULL);
}

/* Runs of the slots in use, as an int8[] datum. */
static Datum
LauncherActiveRuns(void)
{
	Datum	   *ids = palloc(sizeof(Datum) * (WorkerSlotCount() + 1));
	int			n = WorkerSlotActiveRunIds(ids);

	return PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Mark runs left 'running' by a previous server life as failed. */
static void
LauncherFailInterrupted(void)
{
	Params		p = {0};

	WorkerParamAdd(&p, INT8ARRAYOID, LauncherActiveRuns(), false);
	WorkerExec(psprintf("UPDATE %s SET status = 'failed', ended_at = pg_catalog.clock_timestamp(), "
				  "message = 'server restarted' "
				  "WHERE status = 'running' AND run_id <> ALL ($1)",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_UPDATE);
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("recgan marked " UINT64_FORMAT " run(s) interrupted by a server restart as failed",
						SPI_processed)));
}

/* Whether the worker of slot i has ended (its exit seen or its handle stopped). */
static bool
LauncherSlotEnded(int i)
{
	SlotState	state = WorkerSlotStateOf(i);
	pid_t		pid;

	if (state == SLOT_FREE)
		return false;
	if (state == SLOT_EXITED)
		return true;
	return launcher_handles[i] != NULL &&
		GetBackgroundWorkerPid(launcher_handles[i], &pid) == BGWH_STOPPED;
}

/* Free the slots of ended workers; end their runs if they could not. */
static void
LauncherReap(void)
{
	for (int i = 0; i < WorkerSlotCount(); i++)
	{
		WorkerSlot	s;

		CHECK_FOR_INTERRUPTS();
		if (!LauncherSlotEnded(i))
			continue;
		WorkerSlotTake(i, &s);
		if (launcher_handles[i] != NULL)
			pfree(launcher_handles[i]);
		launcher_handles[i] = NULL;
		if (s.finished)
			continue;
		s.message[WORKER_MESSAGE_LEN - 1] = '\0';
		WorkerRunEnd(s.run_id, s.cancel_requested ? "cancelled" : "failed",
			   s.cancel_requested ? "cancelled by recgan_cancel" :
			   s.message[0] ? s.message :
			   "the training worker exited before recording an end; see the server log",
			   s.epoch, s.loss);
	}
}

/* ----------------------------------------------------------------
 * Schedules
 * ---------------------------------------------------------------- */

/* Decide whether a due schedule (row of the due query) trains now. */
static void
LauncherDecide(int row, DueSchedule *d)
{
	bool		busy_null,
				min_null,
				base_null;
	int64		busy = WorkerResultInt8(row, 2, &busy_null);
	int64		min_new_rows = WorkerResultInt8(row, 3, &min_null);
	int64		base = WorkerResultInt8(row, 4, &base_null);

	d->model = WorkerResultText(row, 1, CurrentMemoryContext);
	d->changes = WorkerResultInt8(row, 5, &d->changes_null);
	d->status = "queued";
	d->message = NULL;
	if (!busy_null)
	{
		d->status = "skipped";
		d->message = psprintf("run " INT64_FORMAT " of this schedule has not finished", busy);
	}
	else if (min_new_rows > 0 && !d->changes_null && !base_null &&
			 d->changes >= base && d->changes - base < min_new_rows)
	{
		d->status = "skipped";
		d->message = psprintf(INT64_FORMAT " rows of %s changed since the last training, fewer than min_new_rows (" INT64_FORMAT ")",
							  d->changes - base, WorkerResultText(row, 6, CurrentMemoryContext),
							  min_new_rows);
	}
}

/* Queue (or record as skipped) a run of every due schedule. */
static void
LauncherQueueDue(void)
{
	char	   *runs = RecganCatalogTable("recgan_run_history");
	char	   *schedules = RecganCatalogTable("recgan_schedules");
	DueSchedule *due;
	int			n;

	WorkerExec(psprintf("SELECT s.model, "
				  "(SELECT pg_catalog.max(r.run_id) FROM %s r WHERE r.model = s.model "
				  "AND r.kind = 'scheduled' AND r.status IN ('queued', 'running')), "
				  "s.min_new_rows, s.source_changes, "
				  "CASE WHEN s.min_new_rows > 0 THEN "
				  "(SELECT pg_catalog.sum(pg_catalog.pg_stat_get_tuples_inserted(t.relid) + "
				  "pg_catalog.pg_stat_get_tuples_updated(t.relid) + "
				  "pg_catalog.pg_stat_get_tuples_deleted(t.relid))::pg_catalog.int8 "
				  "FROM (SELECT p.relid FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass(s.source)) p "
				  "WHERE p.isleaf UNION SELECT pg_catalog.to_regclass(s.source)) t) END, "
				  "s.source "
				  "FROM %s s WHERE s.next_run_at <= pg_catalog.now() ORDER BY s.next_run_at",
				  runs, schedules),
		 NULL, SPI_OK_SELECT);
	n = (int) SPI_processed;
	due = palloc(sizeof(DueSchedule) * (n + 1));
	for (int i = 0; i < n; i++)
		LauncherDecide(i, &due[i]);

	for (int i = 0; i < n; i++)
	{
		Params		p = {0};

		WorkerParamText(&p, due[i].model);
		WorkerParamText(&p, due[i].status);
		WorkerParamText(&p, due[i].message);
		WorkerParamAdd(&p, INT8OID, Int64GetDatum(due[i].changes), due[i].changes_null);
		WorkerExec(psprintf("WITH run AS (INSERT INTO %s (model, owner, kind, status, ended_at, message, "
					  "source, algorithm, options, user_col, item_col, rating_col, threshold, source_changes) "
					  "SELECT s.model, s.owner, 'scheduled', $2, "
					  "CASE WHEN $2 = 'skipped' THEN pg_catalog.now() END, $3, s.source, s.algorithm, "
					  "s.options, s.user_col, s.item_col, s.rating_col, s.threshold, $4 "
					  "FROM %s s WHERE s.model = $1 RETURNING run_id) "
					  "UPDATE %s s SET last_run_id = run.run_id, next_run_at = "
					  "CASE WHEN s.next_run_at + s.every > pg_catalog.now() THEN s.next_run_at + s.every "
					  "ELSE pg_catalog.now() + s.every END "
					  "FROM run WHERE s.model = $1",
					  runs, schedules, schedules),
			 &p, SPI_OK_UPDATE);
	}
}

/* Milliseconds until the next schedule is due, at most max_ms. */
static long
LauncherNextDueMs(long max_ms)
{
	bool		isnull;
	double		seconds;

	WorkerExec(psprintf("SELECT pg_catalog.date_part('epoch', pg_catalog.min(next_run_at) "
				  "- pg_catalog.clock_timestamp()) FROM %s",
				  RecganCatalogTable("recgan_schedules")),
		 NULL, SPI_OK_SELECT);
	seconds = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										   &isnull));
	if (isnull || seconds * 1000.0 >= max_ms)
		return max_ms;
	return Max(10, (long) ceil(seconds * 1000.0));
}

/* ----------------------------------------------------------------
 * Starting workers
 * ---------------------------------------------------------------- */

/* Register the dynamic worker of slot i; false (slot freed) if no bgworker slot is free. */
static bool
LauncherStartWorker(int i, int64 run_id)
{
	BackgroundWorker w;
	MemoryContext old;
	bool		ok;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "recgan", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "recgan_worker_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "recgan worker for run " INT64_FORMAT, run_id);
	strlcpy(w.bgw_type, "recgan worker", BGW_MAXLEN);
	w.bgw_main_arg = Int32GetDatum(i);
	w.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&w, &launcher_handles[i]);
	MemoryContextSwitchTo(old);
	if (ok)
	{
		warned_no_bgworker = false;
		return true;
	}
	WorkerSlotRelease(i);
	launcher_handles[i] = NULL;
	if (!warned_no_bgworker)
		ereport(WARNING,
				(errmsg("recgan could not start a worker for run " INT64_FORMAT ": no background worker slot is free",
						run_id),
				 errdetail("The run stays queued until a slot frees up."),
				 errhint("Raise max_worker_processes (now %d) and restart the server.",
						 max_worker_processes)));
	warned_no_bgworker = true;
	return false;
}

/* Start a worker for each queued run, while recgan and bgworker slots last. */
static void
LauncherStartQueued(void)
{
	int			n;
	int64	   *ids;
	char	  **owners;

	WorkerExec(psprintf("SELECT run_id, owner FROM %s WHERE status = 'queued' ORDER BY run_id LIMIT %d",
				  RecganCatalogTable("recgan_run_history"), MAX_QUEUED_PER_PASS),
		 NULL, SPI_OK_SELECT);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	owners = palloc(sizeof(char *) * (n + 1));
	for (int r = 0; r < n; r++)
	{
		bool		isnull;

		ids[r] = WorkerResultInt8(r, 1, &isnull);
		owners[r] = WorkerResultText(r, 2, CurrentMemoryContext);
	}

	for (int r = 0; r < n; r++)
	{
		Oid			owner;
		OwnerProblem problem;
		int			slot;

		CHECK_FOR_INTERRUPTS();
		if (WorkerSlotOfRun(ids[r]) >= 0)
			continue;
		owner = get_role_oid(owners[r], true);
		if (!OidIsValid(owner))
		{
			WorkerRunEnd(ids[r], "failed", psprintf("role \"%s\" does not exist", owners[r]), 0, NAN);
			continue;
		}
		problem = WorkerOwnerCheck(owner);
		if (problem != OWNER_OK)
		{
			WorkerRunEnd(ids[r], "failed", WorkerOwnerProblemText(problem, owners[r]), 0, NAN);
			continue;
		}
		slot = WorkerSlotClaim(ids[r], owner);
		if (slot < 0 || !LauncherStartWorker(slot, ids[r]))
			break;
	}
}

/* ----------------------------------------------------------------
 * Main loop
 * ---------------------------------------------------------------- */

/* One pass: reap, queue due schedules, start queued runs; return the sleep in ms. */
static long
LauncherIteration(bool *first)
{
	long		sleep_ms = recgan_naptime * 1000L;
	bool		installed;

	if (RecoveryInProgress())
		return sleep_ms;		/* never train on a standby */

	WorkerTxBegin();
	pgstat_report_activity(STATE_RUNNING, "recgan launcher: checking runs and schedules");
	installed = OidIsValid(get_extension_oid("recgan", true));
	if (installed)
	{
		if (*first)
			LauncherFailInterrupted();
		*first = false;
		LauncherReap();
		LauncherQueueDue();
		sleep_ms = LauncherNextDueMs(sleep_ms);
	}
	WorkerTxCommit();
	if (installed)
	{
		WorkerTxBegin();
		LauncherStartQueued();
		WorkerTxCommit();
	}
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return sleep_ms;
}

/* Main of the launcher background worker. */
void
recgan_launcher_main(Datum main_arg)
{
	bool		first = true;
	long		sleep_ms = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(recgan_database, NULL, 0);
	pgstat_report_appname("recgan launcher");
	/* A superuser session: keep the database's and role's search_path out. */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	launcher_handles = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(BackgroundWorkerHandle *) * WorkerSlotCount());
	WorkerSlotSetLauncherLatch(MyLatch);
	before_shmem_exit(LauncherOnExit, (Datum) 0);
	ereport(LOG,
			(errmsg("recgan launcher started in database \"%s\"", recgan_database)));

	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		sleep_ms = LauncherIteration(&first);
	}
}

/* ----------------------------------------------------------------
 * Init
 * ---------------------------------------------------------------- */

/* Register the launcher and the shared memory, when preloading. */
void
WorkerInit(void)
{
	BackgroundWorker w;

	if (!process_shared_preload_libraries_in_progress)
		return;

	WorkerShmemInit();

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = LAUNCHER_RESTART_SECONDS;
	strlcpy(w.bgw_library_name, "recgan", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "recgan_launcher_main", BGW_MAXLEN);
	strlcpy(w.bgw_name, "recgan launcher", BGW_MAXLEN);
	strlcpy(w.bgw_type, "recgan launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&w);
}
