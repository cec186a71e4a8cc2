/*
 * worker.c
 *	  Scheduled and asynchronous training in background workers: the
 *	  launcher, one dynamic worker per run, live progress in shared memory,
 *	  and the SQL API (recgan_schedule, recgan_unschedule,
 *	  recgan_train_async, recgan_cancel, recgan_run_progress).
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
 * A run is one row of recgan_run_history.  Its life:
 *
 *   queued     inserted by recgan_train_async, or by the launcher for a due
 *              schedule (a due schedule that must not train inserts a
 *              "skipped" row instead: its previous run has not finished, or
 *              fewer than min_new_rows rows changed)
 *   running    the worker claimed it (UPDATE ... WHERE status = 'queued')
 *   succeeded  the worker trained and stored the model and committed this
 *              status in the same transaction
 *   failed     the training raised an error (its message is kept), or the
 *              worker died before recording an end (the launcher notices
 *              its slot, marks the run, and keeps the last error the worker
 *              logged, e.g. "terminating background worker ... due to
 *              administrator command"), or the server restarted while it ran
 *              (the launcher's first pass: 'server restarted')
 *   cancelled  recgan_cancel on a queued run, or on a running one: the
 *              worker gets SIGINT, its training transaction rolls back
 *              (the previous model stays) and it records the cancel
 *
 * Each worker connects as the run's owner role
 * (BackgroundWorkerInitializeConnectionByOid) and trains by calling
 * recgan_train through SPI, so it reads exactly what the owner may read and
 * the model row is written in one transaction with the run's end.  Only the
 * bookkeeping statements on recgan_schedules and recgan_run_history run as
 * the bootstrap superuser, with a pinned search_path (CatalogBegin).  A job
 * owned by a superuser is refused unless recgan.allow_superuser_jobs.
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
 *
 * Shared memory (only when preloaded) holds one WorkerSlot per
 * recgan.max_workers: the run, the worker's pid, the last epoch and loss
 * (published by RecganTrainProgressHook, read by recgan_run_progress and the
 * recgan_runs view), the cancel flag and the worker's last error.
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "model.h"
#include "recgan.h"
#include "worker.h"

#define LAUNCHER_RESTART_SECONDS 10
#define WORKER_MESSAGE_LEN 256
#define MAX_PARAMS 16
#define MAX_QUEUED_PER_PASS 1000

/* Where a slot's worker is in its life. */
typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_STARTING,				/* registered by the launcher, not yet running */
	SLOT_RUNNING,				/* the worker process is running */
	SLOT_EXITED					/* the worker process has exited */
} SlotState;

/* One run going on, in shared memory. */
typedef struct WorkerSlot
{
	SlotState	state;
	int64		run_id;
	Oid			database;
	Oid			owner;
	pid_t		pid;
	bool		cancel_requested;	/* recgan_cancel sent SIGINT */
	bool		finishing;		/* committing its end: send no more signals */
	bool		finished;		/* the run's end is committed */
	int32		epoch;			/* last finished epoch, 0 before the first */
	int32		epochs;
	double		loss;			/* NaN when not applicable */
	char		message[WORKER_MESSAGE_LEN];	/* last error the worker logged */
} WorkerSlot;

typedef struct WorkerShared
{
	LWLock	   *lock;			/* protects everything below */
	Latch	   *launcher_latch; /* NULL while no launcher runs */
	int			n_slots;		/* recgan.max_workers at startup */
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} WorkerShared;

/* The recgan_train arguments of a job, as text (NULL for SQL NULL). */
typedef struct JobSpec
{
	char	   *model;
	char	   *source;			/* quoted, schema-qualified */
	char	   *algorithm;
	char	   *options;		/* jsonb */
	char	   *user_col;
	char	   *item_col;
	char	   *rating_col;
	char	   *threshold;		/* float8 */
	char	   *kind;			/* "scheduled" or "async" */
	char	   *owner;
	char	   *source_changes; /* int8: the change count when queued */
} JobSpec;

/* Parameters of one SPI statement. */
typedef struct Params
{
	int			n;
	Oid			types[MAX_PARAMS];
	Datum		values[MAX_PARAMS];
	char		nulls[MAX_PARAMS];
} Params;

/* Identity saved while acting as the catalog owner. */
typedef struct CatalogAccess
{
	Oid			user;
	int			sec_context;
	int			guc_level;
} CatalogAccess;

/* Why a role may not own a job. */
typedef enum OwnerProblem
{
	OWNER_OK,
	OWNER_SUPERUSER,
	OWNER_NOLOGIN
} OwnerProblem;

PGDLLEXPORT void recgan_launcher_main(Datum main_arg);
PGDLLEXPORT void recgan_worker_main(Datum main_arg);

RecganTrainProgressHookType RecganTrainProgressHook = NULL;

static WorkerShared *WorkerState = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

static WorkerSlot *MySlot = NULL;	/* in a worker: its slot */
static BackgroundWorkerHandle **launcher_handles = NULL;	/* in the launcher */
static bool warned_no_bgworker = false;
static bool wake_launcher_at_commit = false;
static bool xact_callback_registered = false;

/* ----------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------- */

/* Bytes of the shared state for recgan.max_workers slots. */
static Size
WorkerShmemSize(void)
{
	return add_size(offsetof(WorkerShared, slots),
					mul_size(recgan_max_workers, sizeof(WorkerSlot)));
}

/* Ask for the shared state and its lock (postmaster, while preloading). */
static void
WorkerShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(WorkerShmemSize());
	RequestNamedLWLockTranche("recgan", 1);
}

/* Create or attach the shared state. */
static void
WorkerShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	WorkerState = ShmemInitStruct("recgan workers", WorkerShmemSize(), &found);
	if (!found)
	{
		memset(WorkerState, 0, WorkerShmemSize());
		WorkerState->lock = &(GetNamedLWLockTranche("recgan"))->lock;
		WorkerState->n_slots = recgan_max_workers;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* ----------------------------------------------------------------
 * SPI and identity helpers
 * ---------------------------------------------------------------- */

/* Append a parameter; isnull makes it SQL NULL. */
static void
ParamAdd(Params *p, Oid type, Datum value, bool isnull)
{
	if (p->n >= MAX_PARAMS)
		elog(ERROR, "too many SPI parameters. Please report a bug.");
	p->types[p->n] = type;
	p->values[p->n] = value;
	p->nulls[p->n] = isnull ? 'n' : ' ';
	p->n++;
}

/* Append a text parameter; NULL pointer is SQL NULL. */
static void
ParamText(Params *p, const char *s)
{
	ParamAdd(p, TEXTOID, s ? CStringGetTextDatum(s) : (Datum) 0, s == NULL);
}

/* Append an int8 parameter. */
static void
ParamInt8(Params *p, int64 v)
{
	ParamAdd(p, INT8OID, Int64GetDatum(v), false);
}

/*
 * The recgan_train arguments of a job, in recgan_train's order: as columns of
 * the schedule and run tables, and as the parameters ParamJob appends first.
 */
#define JOB_COLUMNS "source, model, algorithm, options, user_col, item_col, rating_col, threshold"
#define JOB_VALUES "$1, $2, $3, $4::pg_catalog.jsonb, $5, $6, $7, $8::pg_catalog.float8"

/* Append the eight JOB_VALUES parameters of a job. */
static void
ParamJob(Params *p, const JobSpec *job)
{
	ParamText(p, job->source);
	ParamText(p, job->model);
	ParamText(p, job->algorithm);
	ParamText(p, job->options);
	ParamText(p, job->user_col);
	ParamText(p, job->item_col);
	ParamText(p, job->rating_col);
	ParamText(p, job->threshold);
}

/* Run one statement; elog unless SPI returns expected. */
static void
Exec(const char *sql, Params *p, int expected)
{
	int			rc = SPI_execute_with_args(sql, p ? p->n : 0, p ? p->types : NULL,
										   p ? p->values : NULL, p ? p->nulls : NULL,
										   false, 0);

	if (rc != expected)
		elog(ERROR, "unexpected SPI result %s for \"%s\". Please report a bug.",
			 SPI_result_code_string(rc), sql);
}

/* Column col (1-based) of result row as a string in cxt, or NULL. */
static char *
ResultText(int row, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/* Column col (1-based) of result row as int8; *isnull tells SQL NULL. */
static int64
ResultInt8(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/* Start a transaction with SPI and a snapshot. */
static void
TxBegin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/* Commit what TxBegin started. */
static void
TxCommit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * Act as the bootstrap superuser with search_path = pg_catalog, pg_temp for
 * the bookkeeping statements on recgan_schedules and recgan_run_history.
 * They are fixed text with $n parameters; the pinned path keeps the
 * caller's operators and functions out of them.  An error in between is
 * undone by the transaction abort.
 */
static void
CatalogBegin(CatalogAccess *a)
{
	GetUserIdAndSecContext(&a->user, &a->sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   a->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	a->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/* Return to the identity CatalogBegin saved. */
static void
CatalogEnd(CatalogAccess *a)
{
	AtEOXact_GUC(false, a->guc_level);
	SetUserIdAndSecContext(a->user, a->sec_context);
}

/* ----------------------------------------------------------------
 * Jobs: arguments, owners, run rows
 * ---------------------------------------------------------------- */

/* Text argument, or NULL. */
static char *
ArgText(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/* Text argument that must not be NULL. */
static char *
ArgRequired(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/* Check algorithm and options; return how many epochs a run reports. */
static int
JobEpochs(const JobSpec *job)
{
	const ModelOps *ops = ModelOpsByName(job->algorithm);
	Jsonb	   *options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															 CStringGetDatum(job->options)));
	double	   *opt = palloc0(sizeof(double) * (ops->n_options + 1));
	uint64		seed;

	ModelParseOptions(ops, options, opt, &seed);
	for (int i = 0; i < ops->n_options; i++)
		if (strcmp(ops->options[i].key, "epochs") == 0)
			return (int) opt[i];
	return 1;					/* closed-form models report epoch 1 once */
}

/* Resolve a source as recgan_train will; return its quoted, qualified name. */
static char *
JobResolveSource(const char *source, Oid *relid)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(source));

	*relid = RangeVarGetRelid(rv, NoLock, false);
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(*relid)),
									  get_rel_name(*relid));
}

/*
 * Read and check a job's recgan_train arguments: model and source at their
 * positions, algorithm .. threshold in order from position rest.
 */
static void
JobFromArgs(FunctionCallInfo fcinfo, int model_arg, int source_arg, int rest,
			JobSpec *job, Oid *relid)
{
	memset(job, 0, sizeof(*job));
	job->source = ArgRequired(fcinfo, source_arg, "source");
	job->model = ArgRequired(fcinfo, model_arg, "model");
	job->algorithm = ArgRequired(fcinfo, rest, "algorithm");
	job->options = PG_ARGISNULL(rest + 1) ? "{}" :
		DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(rest + 1)));
	if (job->model[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	(void) JobEpochs(job);
	job->user_col = ArgRequired(fcinfo, rest + 2, "user_col");
	job->item_col = ArgRequired(fcinfo, rest + 3, "item_col");
	job->rating_col = ArgText(fcinfo, rest + 4);
	if (!PG_ARGISNULL(rest + 5))
	{
		if (!isfinite(PG_GETARG_FLOAT8(rest + 5)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("threshold must be a finite number or NULL")));
		job->threshold = DatumGetCString(DirectFunctionCall1(float8out,
															 PG_GETARG_DATUM(rest + 5)));
	}
	job->source = JobResolveSource(job->source, relid);
}

/* Whether a role may own jobs now. */
static OwnerProblem
OwnerCheck(Oid owner)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(owner));
	bool		super,
				login;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for role %u", owner);
	super = ((Form_pg_authid) GETSTRUCT(tup))->rolsuper;
	login = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	ReleaseSysCache(tup);
	if (super && !recgan_allow_superuser_jobs)
		return OWNER_SUPERUSER;
	if (!login)
		return OWNER_NOLOGIN;
	return OWNER_OK;
}

/* The message of an owner problem, as a run records it. */
static char *
OwnerProblemText(OwnerProblem problem, const char *name)
{
	if (problem == OWNER_SUPERUSER)
		return psprintf("jobs owned by superuser \"%s\" are refused while recgan.allow_superuser_jobs is off",
						name);
	return psprintf("role \"%s\" cannot log in, and a job runs in a session of its owner", name);
}

/*
 * Check that the current user may run jobs as the named role: the role
 * exists, the user is a member of it, and it may own jobs.  Return its oid.
 */
static Oid
JobOwner(const char *name)
{
	Oid			owner = get_role_oid(name, false);
	OwnerProblem problem;

	if (!is_member_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run jobs as role \"%s\"", name),
				 errdetail("Only members of role \"%s\" may schedule jobs for it.", name)));
	problem = OwnerCheck(owner);
	if (problem == OWNER_SUPERUSER)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s", OwnerProblemText(problem, name)),
				 errhint("Run jobs as a role with only the privileges training needs, or set recgan.allow_superuser_jobs.")));
	if (problem == OWNER_NOLOGIN)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s", OwnerProblemText(problem, name)),
				 errhint("Give the role LOGIN, or run the job as a member of it that can log in.")));
	return owner;
}

/* Error out unless the launcher serves this database. */
static void
WorkerCheckAvailable(void)
{
	char	   *db;

	if (WorkerState == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recgan background workers are not available"),
				 errdetail("recgan is not in shared_preload_libraries."),
				 errhint("Add recgan to shared_preload_libraries and restart the server; recgan_train works without it.")));
	db = get_database_name(MyDatabaseId);
	if (strcmp(db, recgan_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("recgan background jobs run only in database \"%s\"", recgan_database),
				 errhint("Set recgan.database to \"%s\" and restart the server, or use recgan_train here.",
						 db)));
}

/* Wake the launcher at once if this transaction commits. */
static void
WorkerXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && wake_launcher_at_commit && WorkerState != NULL)
	{
		Latch	   *latch = WorkerState->launcher_latch;

		if (latch != NULL)
			SetLatch(latch);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		wake_launcher_at_commit = false;
}

/* Arrange for WorkerXactCallback to wake the launcher at commit. */
static void
WakeLauncherAtCommit(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(WorkerXactCallback, NULL);
		xact_callback_registered = true;
	}
	wake_launcher_at_commit = true;
}

/*
 * End a queued or running run: status, message, and the last epoch and loss
 * when known (epoch < 1: keep the row's).
 */
static void
RunEnd(int64 run_id, const char *status, const char *message, int32 epoch, double loss)
{
	Params		p = {0};

	ParamInt8(&p, run_id);
	ParamText(&p, status);
	ParamText(&p, message);
	ParamAdd(&p, INT4OID, Int32GetDatum(epoch), epoch < 1);
	ParamAdd(&p, FLOAT8OID, Float8GetDatum(loss), epoch < 1 || isnan(loss));
	Exec(psprintf("UPDATE %s SET status = $2, message = $3, ended_at = pg_catalog.clock_timestamp(), "
				  "epoch = COALESCE($4, epoch), loss = CASE WHEN $4 IS NULL THEN loss ELSE $5 END "
				  "WHERE run_id = $1 AND status IN ('queued', 'running')",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_UPDATE);
}

/* ----------------------------------------------------------------
 * SQL API
 * ---------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(recgan_schedule);

/* Store (or replace) a schedule; return when it is first due. */
Datum
recgan_schedule(PG_FUNCTION_ARGS)
{
	JobSpec		job;
	Oid			relid;
	char	   *owner_name;
	int64		min_new_rows;
	Params		p = {0};
	CatalogAccess ca;
	Datum		due = (Datum) 0;
	bool		isnull = true;
	Interval	zero = {0};

	JobFromArgs(fcinfo, 0, 2, 3, &job, &relid);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("every must not be NULL")));
	if (DatumGetBool(DirectFunctionCall2(interval_le, PG_GETARG_DATUM(1),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every must be a positive interval")));
	if (PG_ARGISNULL(9))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("min_new_rows must not be NULL")));
	min_new_rows = PG_GETARG_INT64(9);
	if (min_new_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_new_rows must be zero or positive")));
	if (min_new_rows > 0 && get_rel_relkind(relid) != RELKIND_RELATION &&
		get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("min_new_rows needs a table or partitioned table, and %s is not one", job.source),
				 errdetail("Changed rows are counted from the cumulative statistics of the source, which views, materialized views and foreign tables do not have."),
				 errhint("Schedule the underlying table, or use min_new_rows => 0.")));
	owner_name = PG_ARGISNULL(10) ? GetUserNameFromId(GetUserId(), false)
		: pstrdup(NameStr(*PG_GETARG_NAME(10)));
	(void) JobOwner(owner_name);
	WorkerCheckAvailable();

	ParamJob(&p, &job);
	ParamText(&p, owner_name);
	ParamAdd(&p, INTERVALOID, PG_GETARG_DATUM(1), false);
	ParamInt8(&p, min_new_rows);

	SPI_connect();
	CatalogBegin(&ca);
	Exec(psprintf("INSERT INTO %s AS s (" JOB_COLUMNS ", owner, every, min_new_rows, next_run_at) "
				  "VALUES (" JOB_VALUES ", $9, $10, $11, pg_catalog.now()) "
				  "ON CONFLICT (model) DO UPDATE SET every = EXCLUDED.every, source = EXCLUDED.source, "
				  "algorithm = EXCLUDED.algorithm, options = EXCLUDED.options, "
				  "user_col = EXCLUDED.user_col, item_col = EXCLUDED.item_col, "
				  "rating_col = EXCLUDED.rating_col, threshold = EXCLUDED.threshold, "
				  "min_new_rows = EXCLUDED.min_new_rows, next_run_at = EXCLUDED.next_run_at, "
				  "source_changes = NULL "
				  "WHERE s.owner = EXCLUDED.owner RETURNING s.next_run_at",
				  RecganCatalogTable("recgan_schedules")),
		 &p, SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 1)
		due = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	CatalogEnd(&ca);
	SPI_finish();
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" is already scheduled by another role", job.model),
				 errhint("Its owner can remove that schedule with recgan_unschedule.")));
	WakeLauncherAtCommit();
	PG_RETURN_DATUM(due);
}

PG_FUNCTION_INFO_V1(recgan_unschedule);

/* Delete the caller's schedule of a model; true if there was one. */
Datum
recgan_unschedule(PG_FUNCTION_ARGS)
{
	char	   *model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		if_exists = PG_GETARG_BOOL(1);
	Params		p = {0};
	uint64		deleted;

	ParamText(&p, model);
	SPI_connect();
	/* As the caller: row-level security decides which schedules it may see. */
	Exec(psprintf("DELETE FROM %s WHERE model OPERATOR(pg_catalog.=) $1",
				  RecganCatalogTable("recgan_schedules")),
		 &p, SPI_OK_DELETE);
	deleted = SPI_processed;
	SPI_finish();
	if (deleted > 0)
		PG_RETURN_BOOL(true);
	if (!if_exists)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no schedule", model)));
	ereport(NOTICE,
			(errmsg("model \"%s\" has no schedule, skipping", model)));
	PG_RETURN_BOOL(false);
}

PG_FUNCTION_INFO_V1(recgan_train_async);

/* Queue a training run as the current user; return its run id. */
Datum
recgan_train_async(PG_FUNCTION_ARGS)
{
	JobSpec		job;
	Oid			relid;
	Params		p = {0};
	CatalogAccess ca;
	bool		isnull;
	int64		run_id;

	JobFromArgs(fcinfo, 1, 0, 2, &job, &relid);
	job.owner = GetUserNameFromId(GetUserId(), false);
	(void) JobOwner(job.owner);
	WorkerCheckAvailable();

	ParamJob(&p, &job);
	ParamText(&p, job.owner);

	SPI_connect();
	CatalogBegin(&ca);
	Exec(psprintf("INSERT INTO %s (" JOB_COLUMNS ", owner, kind) "
				  "VALUES (" JOB_VALUES ", $9, 'async') RETURNING run_id",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_INSERT_RETURNING);
	run_id = ResultInt8(0, 1, &isnull);
	CatalogEnd(&ca);
	SPI_finish();
	WakeLauncherAtCommit();
	PG_RETURN_INT64(run_id);
}

/* SIGINT the worker of a running run; false if none is running it. */
static bool
WorkerSignalCancel(int64 run_id)
{
	bool		sent = false;

	if (WorkerState == NULL)
		return false;
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < WorkerState->n_slots; i++)
	{
		WorkerSlot *slot = &WorkerState->slots[i];

		if (slot->state == SLOT_RUNNING && slot->run_id == run_id &&
			slot->pid != 0 && !slot->finishing)
		{
			slot->cancel_requested = true;
			sent = kill(slot->pid, SIGINT) == 0;
			break;
		}
	}
	LWLockRelease(WorkerState->lock);
	return sent;
}

PG_FUNCTION_INFO_V1(recgan_cancel);

/* Cancel a queued or running run the caller can see. */
Datum
recgan_cancel(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	Params		p = {0};
	CatalogAccess ca;
	bool		done;

	ParamInt8(&p, run_id);
	SPI_connect();
	/* As the caller: row-level security hides other owners' runs. */
	Exec(psprintf("SELECT 1 FROM %s WHERE run_id OPERATOR(pg_catalog.=) $1",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run " INT64_FORMAT " does not exist", run_id)));
	CatalogBegin(&ca);
	Exec(psprintf("UPDATE %s SET status = 'cancelled', ended_at = pg_catalog.clock_timestamp(), "
				  "message = 'cancelled by recgan_cancel before it started' "
				  "WHERE run_id = $1 AND status = 'queued'",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_UPDATE);
	CatalogEnd(&ca);
	done = SPI_processed == 1 || WorkerSignalCancel(run_id);
	SPI_finish();
	if (!done)
		ereport(NOTICE,
				(errmsg("run " INT64_FORMAT " has already ended", run_id)));
	PG_RETURN_BOOL(done);
}

PG_FUNCTION_INFO_V1(recgan_run_progress);

/* Live progress of the runs going on (the caller's; all for superusers). */
Datum
recgan_run_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		all = superuser();
	Oid			me = GetUserId();
	WorkerSlot *copy;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (WorkerState == NULL)
		return (Datum) 0;
	copy = palloc(sizeof(WorkerSlot) * WorkerState->n_slots);
	LWLockAcquire(WorkerState->lock, LW_SHARED);
	for (int i = 0; i < WorkerState->n_slots; i++)
		if (WorkerState->slots[i].state == SLOT_RUNNING &&
			(all || WorkerState->slots[i].owner == me))
			copy[n++] = WorkerState->slots[i];
	LWLockRelease(WorkerState->lock);

	for (int i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false};

		values[0] = Int64GetDatum(copy[i].run_id);
		values[1] = Int32GetDatum(copy[i].pid);
		values[2] = Int32GetDatum(copy[i].epoch);
		values[3] = Int32GetDatum(copy[i].epochs);
		nulls[3] = copy[i].epochs < 1;
		values[4] = Float8GetDatum(copy[i].loss);
		nulls[4] = isnan(copy[i].loss);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ----------------------------------------------------------------
 * Launcher
 * ---------------------------------------------------------------- */

/* Forget the launcher's latch when it exits. */
static void
LauncherOnExit(int code, Datum arg)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	WorkerState->launcher_latch = NULL;
	LWLockRelease(WorkerState->lock);
}

/* Runs of the slots in use, as an int8[] datum. */
static Datum
LauncherActiveRuns(void)
{
	Datum	   *ids = palloc(sizeof(Datum) * (WorkerState->n_slots + 1));
	int			n = 0;

	LWLockAcquire(WorkerState->lock, LW_SHARED);
	for (int i = 0; i < WorkerState->n_slots; i++)
		if (WorkerState->slots[i].state != SLOT_FREE)
			ids[n++] = Int64GetDatum(WorkerState->slots[i].run_id);
	LWLockRelease(WorkerState->lock);
	return PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Mark runs left 'running' by a previous server life as failed. */
static void
LauncherFailInterrupted(void)
{
	Params		p = {0};

	ParamAdd(&p, INT8ARRAYOID, LauncherActiveRuns(), false);
	Exec(psprintf("UPDATE %s SET status = 'failed', ended_at = pg_catalog.clock_timestamp(), "
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
	SlotState	state;
	pid_t		pid;

	LWLockAcquire(WorkerState->lock, LW_SHARED);
	state = WorkerState->slots[i].state;
	LWLockRelease(WorkerState->lock);
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
	for (int i = 0; i < WorkerState->n_slots; i++)
	{
		WorkerSlot	s;

		CHECK_FOR_INTERRUPTS();
		if (!LauncherSlotEnded(i))
			continue;
		LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
		s = WorkerState->slots[i];
		memset(&WorkerState->slots[i], 0, sizeof(WorkerSlot));
		LWLockRelease(WorkerState->lock);
		if (launcher_handles[i] != NULL)
			pfree(launcher_handles[i]);
		launcher_handles[i] = NULL;
		if (s.finished)
			continue;
		s.message[WORKER_MESSAGE_LEN - 1] = '\0';
		RunEnd(s.run_id, s.cancel_requested ? "cancelled" : "failed",
			   s.cancel_requested ? "cancelled by recgan_cancel" :
			   s.message[0] ? s.message :
			   "the training worker exited before recording an end; see the server log",
			   s.epoch, s.loss);
	}
}

/* A due schedule and what to do with it. */
typedef struct DueSchedule
{
	char	   *model;
	const char *status;			/* "queued" or "skipped" */
	char	   *message;		/* why skipped */
	int64		changes;		/* source change count now */
	bool		changes_null;
} DueSchedule;

/* Decide whether a due schedule (row of the due query) trains now. */
static void
LauncherDecide(int row, DueSchedule *d)
{
	bool		busy_null,
				min_null,
				base_null;
	int64		busy = ResultInt8(row, 2, &busy_null);
	int64		min_new_rows = ResultInt8(row, 3, &min_null);
	int64		base = ResultInt8(row, 4, &base_null);

	d->model = ResultText(row, 1, CurrentMemoryContext);
	d->changes = ResultInt8(row, 5, &d->changes_null);
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
							  d->changes - base, ResultText(row, 6, CurrentMemoryContext),
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

	Exec(psprintf("SELECT s.model, "
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

		ParamText(&p, due[i].model);
		ParamText(&p, due[i].status);
		ParamText(&p, due[i].message);
		ParamAdd(&p, INT8OID, Int64GetDatum(due[i].changes), due[i].changes_null);
		Exec(psprintf("WITH run AS (INSERT INTO %s (model, owner, kind, status, ended_at, message, "
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

	Exec(psprintf("SELECT pg_catalog.date_part('epoch', pg_catalog.min(next_run_at) "
				  "- pg_catalog.clock_timestamp()) FROM %s",
				  RecganCatalogTable("recgan_schedules")),
		 NULL, SPI_OK_SELECT);
	seconds = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										   &isnull));
	if (isnull || seconds * 1000.0 >= max_ms)
		return max_ms;
	return Max(10, (long) ceil(seconds * 1000.0));
}

/* Slot index running run_id, or -1. */
static int
LauncherSlotOf(int64 run_id)
{
	int			found = -1;

	LWLockAcquire(WorkerState->lock, LW_SHARED);
	for (int i = 0; i < WorkerState->n_slots && found < 0; i++)
		if (WorkerState->slots[i].state != SLOT_FREE && WorkerState->slots[i].run_id == run_id)
			found = i;
	LWLockRelease(WorkerState->lock);
	return found;
}

/* Claim a free slot for run_id, or return -1. */
static int
LauncherClaimSlot(int64 run_id, Oid owner)
{
	int			found = -1;

	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < WorkerState->n_slots && found < 0; i++)
		if (WorkerState->slots[i].state == SLOT_FREE)
		{
			WorkerSlot *slot = &WorkerState->slots[i];

			memset(slot, 0, sizeof(WorkerSlot));
			slot->state = SLOT_STARTING;
			slot->run_id = run_id;
			slot->database = MyDatabaseId;
			slot->owner = owner;
			slot->loss = NAN;
			found = i;
		}
	LWLockRelease(WorkerState->lock);
	return found;
}

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
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	memset(&WorkerState->slots[i], 0, sizeof(WorkerSlot));
	LWLockRelease(WorkerState->lock);
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

	Exec(psprintf("SELECT run_id, owner FROM %s WHERE status = 'queued' ORDER BY run_id LIMIT %d",
				  RecganCatalogTable("recgan_run_history"), MAX_QUEUED_PER_PASS),
		 NULL, SPI_OK_SELECT);
	n = (int) SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	owners = palloc(sizeof(char *) * (n + 1));
	for (int r = 0; r < n; r++)
	{
		bool		isnull;

		ids[r] = ResultInt8(r, 1, &isnull);
		owners[r] = ResultText(r, 2, CurrentMemoryContext);
	}

	for (int r = 0; r < n; r++)
	{
		Oid			owner;
		OwnerProblem problem;
		int			slot;

		CHECK_FOR_INTERRUPTS();
		if (LauncherSlotOf(ids[r]) >= 0)
			continue;
		owner = get_role_oid(owners[r], true);
		if (!OidIsValid(owner))
		{
			RunEnd(ids[r], "failed", psprintf("role \"%s\" does not exist", owners[r]), 0, NAN);
			continue;
		}
		problem = OwnerCheck(owner);
		if (problem != OWNER_OK)
		{
			RunEnd(ids[r], "failed", OwnerProblemText(problem, owners[r]), 0, NAN);
			continue;
		}
		slot = LauncherClaimSlot(ids[r], owner);
		if (slot < 0 || !LauncherStartWorker(slot, ids[r]))
			break;
	}
}

/* One pass: reap, queue due schedules, start queued runs; return the sleep in ms. */
static long
LauncherIteration(bool *first)
{
	long		sleep_ms = recgan_naptime * 1000L;
	bool		installed;

	if (RecoveryInProgress())
		return sleep_ms;		/* never train on a standby */

	TxBegin();
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
	TxCommit();
	if (installed)
	{
		TxBegin();
		LauncherStartQueued();
		TxCommit();
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
											  sizeof(BackgroundWorkerHandle *) * WorkerState->n_slots);
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	WorkerState->launcher_latch = MyLatch;
	LWLockRelease(WorkerState->lock);
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
 * Worker
 * ---------------------------------------------------------------- */

/* Publish a finished epoch (RecganTrainProgressHook). */
static void
WorkerProgress(const struct EpochReport *report)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	MySlot->epoch = report->epoch;
	MySlot->loss = report->loss;
	LWLockRelease(WorkerState->lock);
}

/* Keep the worker's last error in its slot, for the launcher. */
static void
WorkerLogHook(ErrorData *edata)
{
	if (MySlot != NULL && edata->elevel >= ERROR && edata->message != NULL)
		strlcpy(MySlot->message, edata->message, WORKER_MESSAGE_LEN);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* Mark the slot exited, whatever the reason; the launcher takes it from there. */
static void
WorkerOnExit(int code, Datum arg)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	MySlot->state = SLOT_EXITED;
	MySlot->pid = 0;
	LWLockRelease(WorkerState->lock);
}

/* Claim the run (queued -> running) and read its job into cxt; false if it is gone. */
static bool
WorkerClaim(int64 run_id, MemoryContext cxt, JobSpec *job)
{
	Params		p = {0};
	CatalogAccess ca;
	bool		found;
	int			epochs;

	TxBegin();
	CatalogBegin(&ca);
	ParamInt8(&p, run_id);
	ParamAdd(&p, INT4OID, Int32GetDatum(MyProcPid), false);
	Exec(psprintf("UPDATE %s SET status = 'running', started_at = pg_catalog.now(), pid = $2 "
				  "WHERE run_id = $1 AND status = 'queued' "
				  "RETURNING " JOB_COLUMNS ", kind, owner, source_changes",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_UPDATE_RETURNING);
	found = SPI_processed == 1;
	if (found)
	{
		job->source = ResultText(0, 1, cxt);
		job->model = ResultText(0, 2, cxt);
		job->algorithm = ResultText(0, 3, cxt);
		job->options = ResultText(0, 4, cxt);
		job->user_col = ResultText(0, 5, cxt);
		job->item_col = ResultText(0, 6, cxt);
		job->rating_col = ResultText(0, 7, cxt);
		job->threshold = ResultText(0, 8, cxt);
		job->kind = ResultText(0, 9, cxt);
		job->owner = ResultText(0, 10, cxt);
		job->source_changes = ResultText(0, 11, cxt);
		epochs = JobEpochs(job);
		LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
		MySlot->epochs = epochs;
		LWLockRelease(WorkerState->lock);
		p.n = 0;
		ParamInt8(&p, run_id);
		ParamAdd(&p, INT4OID, Int32GetDatum(epochs), false);
		Exec(psprintf("UPDATE %s SET epochs = $2 WHERE run_id = $1",
					  RecganCatalogTable("recgan_run_history")),
			 &p, SPI_OK_UPDATE);
	}
	CatalogEnd(&ca);
	TxCommit();
	return found;
}

/* Record success; for a scheduled run, remember the source's change count. */
static void
WorkerRecordSuccess(int64 run_id, const JobSpec *job)
{
	Params		p = {0};
	int32		epoch;
	double		loss;

	LWLockAcquire(WorkerState->lock, LW_SHARED);
	epoch = MySlot->epoch;
	loss = MySlot->loss;
	LWLockRelease(WorkerState->lock);

	ParamInt8(&p, run_id);
	ParamAdd(&p, INT4OID, Int32GetDatum(epoch), epoch < 1);
	ParamAdd(&p, FLOAT8OID, Float8GetDatum(loss), isnan(loss));
	Exec(psprintf("UPDATE %s r SET status = 'succeeded', ended_at = pg_catalog.clock_timestamp(), "
				  "epoch = $2, loss = $3, message = NULL, "
				  "metrics = (SELECT m.metrics FROM %s m WHERE m.name = r.model) "
				  "WHERE r.run_id = $1",
				  RecganCatalogTable("recgan_run_history"), RecganCatalogTable("recgan_models")),
		 &p, SPI_OK_UPDATE);
	if (strcmp(job->kind, "scheduled") != 0 || job->source_changes == NULL)
		return;
	p.n = 0;
	ParamText(&p, job->model);
	ParamText(&p, job->owner);
	ParamText(&p, job->source_changes);
	Exec(psprintf("UPDATE %s SET source_changes = $3::pg_catalog.int8 "
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
	bool		cancel;

	TxBegin();
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("recgan run " INT64_FORMAT ": training model %s", run_id, job->model));
	ParamJob(&p, job);
	RecganTrainProgressHook = WorkerProgress;
	Exec(psprintf("SELECT pg_catalog.count(*) FROM %s(" JOB_VALUES ")",
				  RecganCatalogTable("recgan_train")),
		 &p, SPI_OK_SELECT);
	RecganTrainProgressHook = NULL;

	CatalogBegin(&ca);
	WorkerRecordSuccess(run_id, job);
	CatalogEnd(&ca);

	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	cancel = MySlot->cancel_requested;
	MySlot->finishing = !cancel;
	LWLockRelease(WorkerState->lock);
	if (cancel)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling run " INT64_FORMAT " by recgan_cancel", run_id)));
	TxCommit();
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

	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	requested = MySlot->cancel_requested;
	MySlot->finishing = true;
	epoch = MySlot->epoch;
	loss = MySlot->loss;
	LWLockRelease(WorkerState->lock);
	QueryCancelPending = false;
	status = (requested || edata->sqlerrcode == ERRCODE_QUERY_CANCELED) ? "cancelled" : "failed";
	message = requested ? "cancelled by recgan_cancel" : edata->message;

	TxBegin();
	CatalogBegin(&ca);
	RunEnd(run_id, status, message, epoch, loss);
	CatalogEnd(&ca);
	TxCommit();
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
	if (WorkerState == NULL || i < 0 || i >= WorkerState->n_slots)
		elog(FATAL, "recgan worker started without a slot. Please report a bug.");

	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	if (WorkerState->slots[i].state != SLOT_STARTING)
	{
		LWLockRelease(WorkerState->lock);
		elog(FATAL, "recgan worker slot %d is not starting. Please report a bug.", i);
	}
	MySlot = &WorkerState->slots[i];
	MySlot->state = SLOT_RUNNING;
	MySlot->pid = MyProcPid;
	run_id = MySlot->run_id;
	database = MySlot->database;
	owner = MySlot->owner;
	LWLockRelease(WorkerState->lock);
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

	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	MySlot->finished = true;
	LWLockRelease(WorkerState->lock);
	pgstat_report_activity(STATE_IDLE, NULL);
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

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = WorkerShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = WorkerShmemStartup;

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
