/*
 * train.c
 *	  recgan_train: read a ratings relation, train a model, store it.
 *
 * Everything happens in the caller's transaction: the new version of the
 * model is stored (versions.c) only after training succeeded, so an error or
 * a cancel at any point leaves the versions of that name and the deployed
 * one untouched.  All training
 * memory lives in a "recgan train" context deleted at the end.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "dataset.h"
#include "engine_host.h"
#include "options.h"
#include "tuning.h"
#include "util.h"
#include "train.h"
#include "versions.h"

RecganTrainProgressHookType RecganTrainProgressHook = NULL;

/* Where epoch reports go: the SRF's tuplestore. */
typedef struct TrainOutput
{
	ReturnSetInfo *rsinfo;
	double		total_seconds;
	double		best_validation;	/* NaN until an epoch reports one */
	int32		best_epoch;
} TrainOutput;

/* Float8 datum, or NULL for NaN (not applicable). */
static void
SetMaybeNull(Datum *values, bool *nulls, int i, double v)
{
	nulls[i] = isnan(v);
	values[i] = Float8GetDatum(v);
}

/* Append one epoch row to the output. */
static void
EmitEpoch(void *arg, const EpochReport *r)
{
	TrainOutput *out = arg;
	Datum		values[5];
	bool		nulls[5] = {false};

	values[0] = Int32GetDatum(r->epoch);
	SetMaybeNull(values, nulls, 1, r->loss);
	SetMaybeNull(values, nulls, 2, r->aux_loss);
	SetMaybeNull(values, nulls, 3, r->validation);
	values[4] = Float8GetDatum(r->seconds);
	out->total_seconds += r->seconds;
	if (!isnan(r->validation) &&
		(isnan(out->best_validation) || r->validation > out->best_validation))
	{
		out->best_validation = r->validation;
		out->best_epoch = r->epoch;
	}
	if (RecganTrainProgressHook)
		RecganTrainProgressHook(r);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
}

/* Text argument that must not be NULL. */
static char *
RequiredText(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/*
 * Training statistics stored in the metrics column (+ the best validation
 * epoch, + the search's trial record when tuned).
 */
static Jsonb *
TrainStats(const Dataset *ds, const TrainOutput *out, const char *tune_record)
{
	char	   *json = psprintf("{\"rows\": " INT64_FORMAT ", \"positives\": " INT64_FORMAT
								", \"null_ids_skipped\": " INT64_FORMAT "%s%s%s}",
								ds->n_rows, CsrNnz(&ds->pos), ds->n_null_ids,
								isnan(out->best_validation) ? "" :
								psprintf(", \"best_epoch\": %d, \"validation\": %.6f",
										 out->best_epoch, out->best_validation),
								tune_record ? ", \"tune\": " : "",
								tune_record ? tune_record : "");

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/* The source columns and threshold of recgan_train's arguments 4 to 7. */
static void
SourceSpec(FunctionCallInfo fcinfo, const char *source, DatasetSpec *spec)
{
	spec->source = source;
	spec->user_col = RequiredText(fcinfo, 4, "user_col");
	spec->item_col = RequiredText(fcinfo, 5, "item_col");
	spec->rating_col = PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6));
	spec->threshold = PG_ARGISNULL(7) ? NAN : PG_GETARG_FLOAT8(7);
	if (!PG_ARGISNULL(7) && !isfinite(spec->threshold))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold must be a finite number or NULL")));
	if (spec->rating_col == NULL)
		spec->threshold = NAN;
}

/* A model of ops over the dataset, before training: ids, positives, options. */
static Model *
NewModel(const ModelOps *ops, const Dataset *ds, const double *opt, uint64 seed,
		 double threshold)
{
	Model	   *model = palloc0(sizeof(Model));

	model->algorithm = ops->algorithm;
	model->ops = ops;
	model->n_users = ds->n_users;
	model->n_items = ds->n_items;
	model->seed = seed;
	model->threshold = threshold;
	model->n_hyper = model_n_hyper(ops, opt);
	memcpy(model->hyper, opt, sizeof(double) * model->n_hyper);
	model->user_ids = ds->user_ids;
	model->item_ids = ds->item_ids;
	model->pos = ds->pos;
	model_compute_popularity(model);
	return model;
}

PG_FUNCTION_INFO_V1(recgan_train);

/* Train a model on a ratings relation and store it; one row per epoch. */
Datum
recgan_train(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *source = RequiredText(fcinfo, 0, "source");
	char	   *name = RequiredText(fcinfo, 1, "model");
	char	   *algorithm = RequiredText(fcinfo, 2, "algorithm");
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	DatasetSpec spec;
	const ModelOps *ops;
	double		opt[RECGAN_MAX_OPTIONS];
	uint64		seed;
	MemoryContext train_cxt,
				old_cxt;
	Dataset    *ds;
	Model	   *model;
	TrainInput	in;
	TrainOutput out;
	TuneSpec	tune;
	VersionPolicy policy;
	VersionRow	row;
	bool		tuning;
	char	   *tune_record = NULL;
	double		tune_seconds = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	ops = ModelOpsByName(algorithm);
	if (ops->n_options > RECGAN_MAX_OPTIONS)
		elog(ERROR, "algorithm %s has too many options. Please report a bug.", ops->name);
	ModelParseOptions(ops, options, opt, &seed);
	tuning = TuneParse(ops, options, opt, &tune);
	VersionsParseOptions(options, &policy);

	SourceSpec(fcinfo, source, &spec);

	train_cxt = AllocSetContextCreate(CurrentMemoryContext, "recgan train",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(train_cxt);

	ds = DatasetLoad(&spec);
	model = NewModel(ops, ds, opt, seed, spec.threshold);

	in.pos = &ds->pos;
	in.opt = opt;
	in.seed = seed;
	out.rsinfo = rsinfo;
	out.total_seconds = 0;
	out.best_validation = NAN;
	out.best_epoch = 0;
	RecganThreadsSetup();
	if (tuning)
	{
		double		t0 = rg_now();
		double		best[RECGAN_MAX_OPTIONS];

		/* the search; then the stored model is trained with its winner */
		tune_record = TuneRun(&in, model, &tune, best);
		tune_seconds = rg_now() - t0;
		memcpy(opt, best, sizeof(double) * ops->n_options);
		model = NewModel(ops, ds, opt, seed, spec.threshold);
	}
	ENGINE_CALL(ops->train(&in, model, EmitEpoch, &out, &engine_err));

	row.name = name;
	row.algorithm = ops->name;
	row.source = ds->source_name;
	row.options = ModelOptionsToJsonb(ops, opt, seed);
	row.n_users = ds->n_users;
	row.n_items = ds->n_items;
	row.n_interactions = CsrNnz(&ds->pos);
	row.train_seconds = tune_seconds + out.total_seconds;
	row.metrics = TrainStats(ds, &out, tune_record);
	row.validation = out.best_validation;
	row.user_col = spec.user_col;
	row.item_col = spec.item_col;
	row.rating_col = spec.rating_col;
	VersionsStore(&row, &policy, model);

	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(train_cxt);
	return (Datum) 0;
}
