/*
 * worker_sql.c
 *	  The SQL API of background training: recgan_schedule,
 *	  recgan_unschedule, recgan_train_async, recgan_cancel and
 *	  recgan_run_progress, with the checks of their arguments and owners and
 *	  the wake-up of the launcher when they commit.
 *
 * A job owned by a superuser is refused unless recgan.allow_superuser_jobs.
 * recgan_schedule refuses min_new_rows > 0 on views, materialized views and
 * foreign tables: the launcher counts changes from cumulative statistics
 * they do not have (see worker_launcher.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "util.h"
#include "worker_int.h"

static bool wake_launcher_at_commit = false;
static bool xact_callback_registered = false;

/* ----------------------------------------------------------------
 * Arguments, owners, availability
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
	(void) WorkerJobEpochs(job);
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
	problem = WorkerOwnerCheck(owner);
	if (problem == OWNER_SUPERUSER)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s", WorkerOwnerProblemText(problem, name)),
				 errhint("Run jobs as a role with only the privileges training needs, or set recgan.allow_superuser_jobs.")));
	if (problem == OWNER_NOLOGIN)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s", WorkerOwnerProblemText(problem, name)),
				 errhint("Give the role LOGIN, or run the job as a member of it that can log in.")));
	return owner;
}

/* Error out unless the launcher serves this database. */
static void
WorkerCheckAvailable(void)
{
	char	   *db;

	if (!WorkerShmemAttached())
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
	if (event == XACT_EVENT_COMMIT && wake_launcher_at_commit)
		WorkerSlotWakeLauncher();
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

/* ----------------------------------------------------------------
 * SQL API
 * ---------------------------------------------------------------- */

/* Check recgan_schedule's every (arg 1) and min_new_rows (arg 9); return min_new_rows. */
static int64
ScheduleCheckArgs(FunctionCallInfo fcinfo, Oid relid, const char *source)
{
	Interval	zero = {0};
	int64		min_new_rows;

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
				 errmsg("min_new_rows needs a table or partitioned table, and %s is not one", source),
				 errdetail("Changed rows are counted from the cumulative statistics of the source, which views, materialized views and foreign tables do not have."),
				 errhint("Schedule the underlying table, or use min_new_rows => 0.")));
	return min_new_rows;
}

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

	JobFromArgs(fcinfo, 0, 2, 3, &job, &relid);
	min_new_rows = ScheduleCheckArgs(fcinfo, relid, job.source);
	owner_name = PG_ARGISNULL(10) ? GetUserNameFromId(GetUserId(), false)
		: pstrdup(NameStr(*PG_GETARG_NAME(10)));
	(void) JobOwner(owner_name);
	WorkerCheckAvailable();

	WorkerParamJob(&p, &job);
	WorkerParamText(&p, owner_name);
	WorkerParamAdd(&p, INTERVALOID, PG_GETARG_DATUM(1), false);
	WorkerParamInt8(&p, min_new_rows);

	SPI_connect();
	WorkerCatalogBegin(&ca);
	WorkerExec(psprintf("INSERT INTO %s AS s (" JOB_COLUMNS ", owner, every, min_new_rows, next_run_at) "
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
	WorkerCatalogEnd(&ca);
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

	WorkerParamText(&p, model);
	SPI_connect();
	/* As the caller: row-level security decides which schedules it may see. */
	WorkerExec(psprintf("DELETE FROM %s WHERE model OPERATOR(pg_catalog.=) $1",
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

	WorkerParamJob(&p, &job);
	WorkerParamText(&p, job.owner);

	SPI_connect();
	WorkerCatalogBegin(&ca);
	WorkerExec(psprintf("INSERT INTO %s (" JOB_COLUMNS ", owner, kind) "
				  "VALUES (" JOB_VALUES ", $9, 'async') RETURNING run_id",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_INSERT_RETURNING);
	run_id = WorkerResultInt8(0, 1, &isnull);
	WorkerCatalogEnd(&ca);
	SPI_finish();
	WakeLauncherAtCommit();
	PG_RETURN_INT64(run_id);
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

	WorkerParamInt8(&p, run_id);
	SPI_connect();
	/* As the caller: row-level security hides other owners' runs. */
	WorkerExec(psprintf("SELECT 1 FROM %s WHERE run_id OPERATOR(pg_catalog.=) $1",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run " INT64_FORMAT " does not exist", run_id)));
	WorkerCatalogBegin(&ca);
	WorkerExec(psprintf("UPDATE %s SET status = 'cancelled', ended_at = pg_catalog.clock_timestamp(), "
				  "message = 'cancelled by recgan_cancel before it started' "
				  "WHERE run_id = $1 AND status = 'queued'",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_UPDATE);
	WorkerCatalogEnd(&ca);
	done = SPI_processed == 1 || WorkerSlotSignalCancel(run_id);
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
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	if (!WorkerShmemAttached())
		return (Datum) 0;
	n = WorkerSlotCopyRunning(all, me, &copy);

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
