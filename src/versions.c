/*
 * versions.c
 *	  Every successful training stores a new version of its model.
 *
 * recgan_models holds the deployed version of each model (the row serving
 * reads), recgan_model_archive the others (sql/recgan--0.1.0--0.2.0.sql).
 * Storing a version, all in the training's transaction and with the caller's
 * privileges:
 *
 *	 1. A transaction-level advisory lock on (RECGAN_VERSION_LOCK, hash of the
 *		name) serializes trainings of one name, also its first one (no row to
 *		lock yet); then the deployed row, if any, is locked FOR UPDATE.
 *	 2. The number is last_version + 1 (1 + the archive's highest for a new
 *		name), so numbers are never given twice while the model exists.
 *	 3. The bytes are encoded (chunks written under (name, version)).
 *	 4. Deployed (a new name; strategy most_recent; best_score and the new
 *		validation metric is not below the deployed one's, or one of them has
 *		none): the old deployed row goes to the archive and the model row is
 *		updated in place.  Not deployed: the version goes to the archive and
 *		the model row only counts it (last_version).
 *	 5. Pruning: archived versions beyond keep - 1, oldest first, are deleted
 *		(their chunks go with them: the archive's delete trigger).
 *
 * A failed or cancelled training never gets here, and an error in here rolls
 * back with the transaction: versions and the deployed model stay as they
 * were.  On a 0.1.0 catalog (library upgraded, ALTER EXTENSION UPDATE not yet
 * run) the model row is inserted or replaced as 0.1.0 did.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/params.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "catalog.h"
#include "options.h"
#include "util.h"
#include "versions.h"

/* First key of the advisory lock a training of a name takes ("RGMV"). */
#define RECGAN_VERSION_LOCK 0x52474D56

/* The parameters every store statement gets ($1 .. $15). */
#define STORE_NARGS 15

VersionOutcome RecganLastStore;

/* "deploy" and "keep_versions" of a training's options; ereport when bad. */
void
VersionsParseOptions(Jsonb *options, VersionPolicy *policy)
{
	static const OptionSpec deploy_spec = {"deploy", OPT_ENUM, 0, 0, 0,
	"most_recent|best_score", NULL};
	static const OptionSpec keep_spec = {"keep_versions", OPT_INT, RECGAN_KEEP_VERSIONS, 1, 1000,
	NULL, NULL};
	JsonbValue *v;

	policy->deploy = VERSION_DEPLOY_MOST_RECENT;
	policy->keep = RECGAN_KEEP_VERSIONS;
	if (options == NULL || !JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options))
		return;					/* ModelParseOptions reports a non-object */
	v = getKeyJsonValueFromContainer(&options->root, "deploy", 6, NULL);
	if (v != NULL)
		policy->deploy = (VersionDeploy) ModelParseOptionValue(&deploy_spec, v);
	v = getKeyJsonValueFromContainer(&options->root, "keep_versions", 13, NULL);
	if (v != NULL)
		policy->keep = (int) ModelParseOptionValue(&keep_spec, v);
}

/*
 * Run one store statement with the shared parameters; expect rc.  The
 * parameters are not marked constant (SPI_execute_with_args would): the
 * planner would fold them into the plan, copying the model's bytes ($10)
 * once more before the row is formed.
 */
static void
StoreExec(const char *sql, Datum *values, const char *nulls, int expect)
{
	static const Oid types[STORE_NARGS] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT4OID, INT4OID,
	INT8OID, FLOAT8OID, JSONBOID, BYTEAOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID};
	ParamListInfo params = makeParamList(STORE_NARGS);
	SPIPlanPtr	plan = SPI_prepare(sql, STORE_NARGS, (Oid *) types);
	int			rc;

	if (plan == NULL)
		elog(ERROR, "preparing a store statement failed: %s. Please report a bug.",
			 SPI_result_code_string(SPI_result));
	for (int i = 0; i < STORE_NARGS; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls[i] == 'n';
		params->params[i].pflags = 0;
		params->params[i].ptype = types[i];
	}
	rc = SPI_execute_plan_with_paramlist(plan, params, false, 0);
	SPI_freeplan(plan);
	if (rc != expect)
		elog(ERROR, "storing the model version failed: %s. Please report a bug.",
			 SPI_result_code_string(rc));
}

/* The columns a version row has in both tables, in one order. */
#define VERSION_COLUMNS "name, algorithm, source, options, n_users, n_items, n_interactions, " \
	"trained_at, train_seconds, metrics, owner, model, version, user_col, item_col, rating_col"
/* Those columns of a new version: $1 .. $11, $13 .. $15 (trained now, by the caller). */
#define NEW_VERSION_VALUES "$1, $2, $3, $4, $5, $6, $7, pg_catalog.now(), $8, $9, CURRENT_USER, $10, $11, " \
	"$13, $14, $15"

/* Insert or replace the model row as a 0.1.0 catalog wants it. */
static void
StoreUnversioned(Datum *values, const char *nulls)
{
	StoreExec(psprintf("INSERT INTO %s AS m (name, algorithm, source, options, n_users, n_items, "
					   "n_interactions, trained_at, train_seconds, metrics, owner, model) "
					   "VALUES ($1, $2, $3, $4, $5, $6, $7, pg_catalog.now(), $8, $9, CURRENT_USER, $10) "
					   "ON CONFLICT (name) DO UPDATE SET algorithm = EXCLUDED.algorithm, "
					   "source = EXCLUDED.source, options = EXCLUDED.options, n_users = EXCLUDED.n_users, "
					   "n_items = EXCLUDED.n_items, n_interactions = EXCLUDED.n_interactions, "
					   "trained_at = EXCLUDED.trained_at, train_seconds = EXCLUDED.train_seconds, "
					   "metrics = EXCLUDED.metrics, owner = EXCLUDED.owner, model = EXCLUDED.model",
					   RecganCatalogTable("recgan_models")),
			  values, nulls, SPI_OK_INSERT);
}

/* The deployed row of name, locked: false if there is none (visible). */
static bool
StoreLockDeployed(Datum *values, const char *nulls, int32 *version, int32 *last,
				  double *validation)
{
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	StoreExec(psprintf("SELECT pg_catalog.pg_advisory_xact_lock(%d, pg_catalog.hashtext($1))",
					   RECGAN_VERSION_LOCK),
			  values, nulls, SPI_OK_SELECT);
	StoreExec(psprintf("SELECT version, last_version, "
					   "CASE WHEN pg_catalog.jsonb_typeof(metrics OPERATOR(pg_catalog.->) 'validation') "
					   "OPERATOR(pg_catalog.=) 'number' "
					   "THEN (metrics OPERATOR(pg_catalog.->>) 'validation')::pg_catalog.float8 END "
					   "FROM %s WHERE name = $1 FOR UPDATE",
					   RecganCatalogTable("recgan_models")),
			  values, nulls, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		StoreExec(psprintf("SELECT COALESCE(pg_catalog.max(version), 0) FROM %s WHERE name = $1",
						   RecganCatalogTable("recgan_model_archive")),
				  values, nulls, SPI_OK_SELECT);
		*last = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
		*version = 0;
		*validation = NAN;
		return false;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	*version = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	*last = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	*validation = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	if (isnull)
		*validation = NAN;
	return true;
}

/*
 * Whether best_score deploys the new version (validation new_v) over the
 * deployed one (old, validation old_v): not when new_v is below old_v; when
 * either is missing, yes, without a comparison.  The reason goes to
 * RecganLastStore.message (the run's message) and a NOTICE (its detail).
 */
static bool
StoreBestScore(const char *name, int32 version, double new_v, int32 old, double old_v)
{
	char	   *msg = RecganLastStore.message;
	Size		len = sizeof(RecganLastStore.message);
	bool		deploy = !(new_v < old_v);	/* NaN on either side: deploy */
	const char *what = !deploy ? "not deployed" :
		(isnan(new_v) || isnan(old_v)) ? "deployed without comparison" : "deployed";
	char	   *reason;

	if (isnan(new_v))
		snprintf(msg, len, "version %d %s: it has no validation metric", version, what);
	else if (isnan(old_v))
		snprintf(msg, len, "version %d %s: deployed version %d has no validation metric",
				 version, what, old);
	else
		snprintf(msg, len, "version %d %s: validation %.6g is %s version %d's %.6g",
				 version, what, new_v, deploy ? "not worse than" : "worse than deployed",
				 old, old_v);
	reason = pstrdup(strchr(msg, ':') + 2);
	reason[0] = pg_toupper((unsigned char) reason[0]);
	ereport(NOTICE,
			(errmsg("version %d of model \"%s\" is %s (deploy strategy best_score)",
					version, name, what),
			 errdetail("%s.", reason),
			 deploy ? 0 : errhint("recgan_deploy('%s', %d) deploys it anyway.", name, version)));
	return deploy;
}

/*
 * Delete the archived versions of name beyond keep - 1, oldest first.  The
 * DELETE runs only when there is something to prune, so that a role needs
 * DELETE on the archive only when its keep_versions makes it prune.
 */
static void
StorePrune(Datum *values, const char *nulls)
{
	const char *archive = RecganCatalogTable("recgan_model_archive");
	bool		isnull;

	StoreExec(psprintf("SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) $12 FROM %s WHERE name = $1", archive),
			  values, nulls, SPI_OK_SELECT);
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		return;
	StoreExec(psprintf("DELETE FROM %s a WHERE a.name = $1 AND a.version IN "
					   "(SELECT b.version FROM %s b WHERE b.name = $1 "
					   "ORDER BY b.version DESC OFFSET $12)",
					   archive, archive),
			  values, nulls, SPI_OK_DELETE);
}

/* Store model as the next version of row->name (see the file comment). */
void
VersionsStore(const VersionRow *row, const VersionPolicy *policy, const Model *model)
{
	const char *models = RecganCatalogTable("recgan_models");
	const char *archive = RecganCatalogTable("recgan_model_archive");
	Datum		values[STORE_NARGS];
	char		nulls[STORE_NARGS];
	int32		old,
				last;
	double		old_validation;
	bool		exists,
				deploy;

	memset(&RecganLastStore, 0, sizeof(RecganLastStore));
	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(row->name);
	values[1] = CStringGetTextDatum(row->algorithm);
	values[2] = CStringGetTextDatum(row->source);
	values[3] = JsonbPGetDatum(row->options);
	values[4] = Int32GetDatum(row->n_users);
	values[5] = Int32GetDatum(row->n_items);
	values[6] = Int64GetDatum(row->n_interactions);
	values[7] = Float8GetDatum(row->train_seconds);
	values[8] = JsonbPGetDatum(row->metrics);
	values[11] = Int32GetDatum(policy->keep - 1);
	values[12] = CStringGetTextDatum(row->user_col);
	values[13] = CStringGetTextDatum(row->item_col);
	values[14] = row->rating_col ? CStringGetTextDatum(row->rating_col) : (Datum) 0;
	nulls[14] = row->rating_col ? ' ' : 'n';

	SPI_connect();
	if (!CatalogHasVersions())
	{
		values[9] = PointerGetDatum(ModelEncodeStored(model, row->name, 0));
		values[10] = Int32GetDatum(0);
		StoreUnversioned(values, nulls);
		RecganLastStore.deployed = true;
		SPI_finish();
		return;
	}

	exists = StoreLockDeployed(values, nulls, &old, &last, &old_validation);
	RecganLastStore.version = last + 1;
	values[9] = PointerGetDatum(ModelEncodeStored(model, row->name, last + 1));
	values[10] = Int32GetDatum(last + 1);
	deploy = !exists || policy->deploy == VERSION_DEPLOY_MOST_RECENT ||
		StoreBestScore(row->name, last + 1, row->validation, old, old_validation);

	if (!exists)
		StoreExec(psprintf("INSERT INTO %s (" VERSION_COLUMNS ", last_version, deployed_at) "
						   "VALUES (" NEW_VERSION_VALUES ", $11, pg_catalog.clock_timestamp())",
						   models),
				  values, nulls, SPI_OK_INSERT);
	else if (deploy)
	{
		StoreExec(psprintf("INSERT INTO %s (" VERSION_COLUMNS ", deployed_at) "
						   "SELECT " VERSION_COLUMNS ", deployed_at FROM %s WHERE name = $1",
						   archive, models),
				  values, nulls, SPI_OK_INSERT);
		StoreExec(psprintf("UPDATE %s SET (" VERSION_COLUMNS ", last_version, deployed_at) = "
						   "(" NEW_VERSION_VALUES ", $11, pg_catalog.clock_timestamp()) "
						   "WHERE name = $1",
						   models),
				  values, nulls, SPI_OK_UPDATE);
	}
	else
	{
		StoreExec(psprintf("INSERT INTO %s (" VERSION_COLUMNS ") VALUES (" NEW_VERSION_VALUES ")",
						   archive),
				  values, nulls, SPI_OK_INSERT);
		StoreExec(psprintf("UPDATE %s SET last_version = $11 WHERE name = $1", models),
				  values, nulls, SPI_OK_UPDATE);
	}
	RecganLastStore.deployed = deploy;
	StorePrune(values, nulls);
	SPI_finish();
}
