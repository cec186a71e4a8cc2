/*
 * worker_tables.c
 *	  What the launcher, the job workers and the SQL API share to read and
 *	  write recgan_schedules and recgan_run_history: SPI statements with $n
 *	  parameters, transactions, acting as the catalog owner, checking a job
 *	  and its owner, and ending a run.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "guc.h"
#include "options.h"
#include "tuning.h"
#include "util.h"
#include "versions.h"
#include "worker_int.h"

/* ----------------------------------------------------------------
 * SPI statements
 * ---------------------------------------------------------------- */

/* Append a parameter; isnull makes it SQL NULL. */
void
WorkerParamAdd(Params *p, Oid type, Datum value, bool isnull)
{
	if (p->n >= MAX_PARAMS)
		elog(ERROR, "too many SPI parameters. Please report a bug.");
	p->types[p->n] = type;
	p->values[p->n] = value;
	p->nulls[p->n] = isnull ? 'n' : ' ';
	p->n++;
}

/* Append a text parameter; NULL pointer is SQL NULL. */
void
WorkerParamText(Params *p, const char *s)
{
	WorkerParamAdd(p, TEXTOID, s ? CStringGetTextDatum(s) : (Datum) 0, s == NULL);
}

/* Append an int8 parameter. */
void
WorkerParamInt8(Params *p, int64 v)
{
	WorkerParamAdd(p, INT8OID, Int64GetDatum(v), false);
}

/* Append the eight JOB_VALUES parameters of a job. */
void
WorkerParamJob(Params *p, const JobSpec *job)
{
	WorkerParamText(p, job->source);
	WorkerParamText(p, job->model);
	WorkerParamText(p, job->algorithm);
	WorkerParamText(p, job->options);
	WorkerParamText(p, job->user_col);
	WorkerParamText(p, job->item_col);
	WorkerParamText(p, job->rating_col);
	WorkerParamText(p, job->threshold);
}

/* Run one statement; elog unless SPI returns expected. */
void
WorkerExec(const char *sql, Params *p, int expected)
{
	int			rc = SPI_execute_with_args(sql, p ? p->n : 0, p ? p->types : NULL,
										   p ? p->values : NULL, p ? p->nulls : NULL,
										   false, 0);

	if (rc != expected)
		elog(ERROR, "unexpected SPI result %s for \"%s\". Please report a bug.",
			 SPI_result_code_string(rc), sql);
}

/* Column col (1-based) of result row as a string in cxt, or NULL. */
char *
WorkerResultText(int row, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/* Column col (1-based) of result row as int8; *isnull tells SQL NULL. */
int64
WorkerResultInt8(int row, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/* ----------------------------------------------------------------
 * Transactions and identity
 * ---------------------------------------------------------------- */

/* Start a transaction with SPI and a snapshot. */
void
WorkerTxBegin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/* Commit what TxBegin started. */
void
WorkerTxCommit(void)
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
void
WorkerCatalogBegin(CatalogAccess *a)
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
void
WorkerCatalogEnd(CatalogAccess *a)
{
	AtEOXact_GUC(false, a->guc_level);
	SetUserIdAndSecContext(a->user, a->sec_context);
}

/* ----------------------------------------------------------------
 * Jobs, owners, run rows
 * ---------------------------------------------------------------- */

/* Check algorithm and options; return how many epochs a run reports. */
int
WorkerJobEpochs(const JobSpec *job)
{
	const ModelOps *ops = ModelOpsByName(job->algorithm);
	Jsonb	   *options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															 CStringGetDatum(job->options)));
	double	   *opt = palloc0(sizeof(double) * (ops->n_options + 1));
	uint64		seed;
	TuneSpec	tune;
	VersionPolicy policy;

	ModelParseOptions(ops, options, opt, &seed);
	(void) TuneParse(ops, options, opt, &tune);	/* a bad search fails here, at queue time */
	VersionsParseOptions(options, &policy);	/* so do bad "deploy", "keep_versions" */
	for (int i = 0; i < ops->n_options; i++)
		if (strcmp(ops->options[i].key, "epochs") == 0)
			return (int) opt[i];
	return 1;					/* closed-form models report epoch 1 once */
}

/* Whether a role may own jobs now. */
OwnerProblem
WorkerOwnerCheck(Oid owner)
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
char *
WorkerOwnerProblemText(OwnerProblem problem, const char *name)
{
	if (problem == OWNER_SUPERUSER)
		return psprintf("jobs owned by superuser \"%s\" are refused while recgan.allow_superuser_jobs is off",
						name);
	return psprintf("role \"%s\" cannot log in, and a job runs in a session of its owner", name);
}

/*
 * End a queued or running run: status, message, and the last epoch and loss
 * when known (epoch < 1: keep the row's).
 */
void
WorkerRunEnd(int64 run_id, const char *status, const char *message, int32 epoch, double loss)
{
	Params		p = {0};

	WorkerParamInt8(&p, run_id);
	WorkerParamText(&p, status);
	WorkerParamText(&p, message);
	WorkerParamAdd(&p, INT4OID, Int32GetDatum(epoch), epoch < 1);
	WorkerParamAdd(&p, FLOAT8OID, Float8GetDatum(loss), epoch < 1 || isnan(loss));
	WorkerExec(psprintf("UPDATE %s SET status = $2, message = $3, ended_at = pg_catalog.clock_timestamp(), "
				  "epoch = COALESCE($4, epoch), loss = CASE WHEN $4 IS NULL THEN loss ELSE $5 END "
				  "WHERE run_id = $1 AND status IN ('queued', 'running')",
				  RecganCatalogTable("recgan_run_history")),
		 &p, SPI_OK_UPDATE);
}
