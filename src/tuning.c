/*
 * tuning.c
 *	  The "tune" option of recgan_train: hyperparameter search inside training.
 *
 *	  "tune": true                       the algorithm's default space
 *	  "tune": {"space": {"lambda": [100, 400]}, "trials": 8, "time_budget": "60 s"}
 *
 * The space maps option keys of the algorithm to arrays of candidate
 * values (each checked like the option itself); without "space" the
 * default space is searched, less the options the call sets.  "trials"
 * caps the trials (a seeded sample of the grid; default
 * TUNE_DEFAULT_TRIALS), "time_budget" (seconds, or an interval string)
 * starts no trial after that long.  The engine (engine/tune.c) runs the
 * trials; here they become NOTICEs and the record stored in the model's
 * metrics, and the caller trains the stored model with the winner.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "engine_host.h"
#include "options.h"
#include "tuning.h"

/* Keys an explicit space may not search: the holdout and the refit. */
static const char *const tune_fixed_keys[] = {"validation_fraction", "validation_k", "refit"};

/* ereport a bad "tune" value: INVALID_PARAMETER_VALUE with the example hint. */
static void
TuneInvalid(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s", msg),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("For example: '{\"tune\": {\"space\": {\"lambda\": [100, 400]}, \"trials\": 8, \"time_budget\": \"60 s\"}}', or '{\"tune\": true}' for the default space.")));
}

/* The jsonb value of key in object options, or NULL. */
static JsonbValue *
JsonbKey(JsonbContainer *object, const char *key)
{
	return getKeyJsonValueFromContainer(object, key, strlen(key), NULL);
}

/* Index of option key of ops, or -1. */
static int
OptionIndexOf(const ModelOps *ops, const char *key)
{
	for (int i = 0; i < ops->n_options; i++)
		if (strcmp(ops->options[i].key, key) == 0)
			return i;
	return -1;
}

/* The "trials" budget: an integer from 1 to TUNE_MAX_TRIALS. */
static int
ParseTrials(JsonbValue *v)
{
	static const OptionSpec spec = {"trials", OPT_INT, 0, 1, TUNE_MAX_TRIALS, NULL, NULL};

	return (int) ModelParseOptionValue(&spec, v);
}

/* The "time_budget": seconds as a number, or an interval string; > 0. */
static double
ParseTimeBudget(JsonbValue *v)
{
	double		seconds;

	if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);
		Datum		iv = DirectFunctionCall3(interval_in, CStringGetDatum(s),
											 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

		seconds = DatumGetFloat8(DirectFunctionCall2(interval_part,
													 CStringGetTextDatum("epoch"), iv));
	}
	else if (v->type == jbvNumeric)
		seconds = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													 NumericGetDatum(v->val.numeric)));
	else
		TuneInvalid("option \"time_budget\" of \"tune\" must be a number of seconds or an interval string", NULL);
	if (!(seconds > 0) || !isfinite(seconds))
		TuneInvalid("option \"time_budget\" of \"tune\" must be positive",
					psprintf("Got %g seconds.", seconds));
	return seconds;
}

/* One "space" entry: key of ops and its array of candidate values. */
static void
ParseParam(const ModelOps *ops, Jsonb *options, const char *key, JsonbValue *arr,
		   TuneParam *p)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	p->option = OptionIndexOf(ops, key);
	if (p->option < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"tune\" space: unknown option \"%s\" for algorithm \"%s\"", key, ops->name)));
	for (size_t f = 0; f < lengthof(tune_fixed_keys); f++)
		if (strcmp(key, tune_fixed_keys[f]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"tune\" cannot search option \"%s\"", key),
					 errdetail("Every trial is scored on the same validation holdout.")));
	if (JsonbKey(&options->root, key) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" is both set and searched by \"tune\"", key),
				 errhint("Remove one of them.")));
	if (arr->type != jbvBinary || !JsonContainerIsArray(arr->val.binary.data) ||
		JsonContainerSize(arr->val.binary.data) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"tune\" space of \"%s\" must be a non-empty array of values", key)));
	if (JsonContainerSize(arr->val.binary.data) > TUNE_MAX_VALUES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"tune\" space of \"%s\" has more than %d values", key, TUNE_MAX_VALUES)));
	p->n_values = 0;
	it = JsonbIteratorInit(arr->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			p->values[p->n_values++] = ModelParseOptionValue(&ops->options[p->option], &v);
}

/* Call fn(arg, key, value) for each key of a jsonb object. */
static void
ForEachKey(JsonbContainer *object, void (*fn) (void *arg, const char *key, JsonbValue *v),
		   void *arg)
{
	JsonbIterator *it = JsonbIteratorInit(object);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		fn(arg, key, &v);
	}
}

/* What the key callbacks fill. */
typedef struct TuneParseState
{
	const ModelOps *ops;
	Jsonb	   *options;
	TuneSpec   *spec;
	bool		have_space;
} TuneParseState;

/* One key of "space": an option and its values. */
static void
SpaceKey(void *arg, const char *key, JsonbValue *v)
{
	TuneParseState *ps = arg;

	if (ps->spec->n_params == TUNE_MAX_PARAMS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"tune\" searches at most %d options", TUNE_MAX_PARAMS)));
	ParseParam(ps->ops, ps->options, key, v, &ps->spec->params[ps->spec->n_params++]);
}

/* One key of the "tune" object. */
static void
TuneKey(void *arg, const char *key, JsonbValue *v)
{
	TuneParseState *ps = arg;

	if (strcmp(key, "trials") == 0)
		ps->spec->max_trials = ParseTrials(v);
	else if (strcmp(key, "time_budget") == 0)
		ps->spec->max_seconds = ParseTimeBudget(v);
	else if (strcmp(key, "space") == 0)
	{
		if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
			TuneInvalid("\"space\" of \"tune\" must be an object of option arrays", NULL);
		ForEachKey(v->val.binary.data, SpaceKey, ps);
		ps->have_space = true;
	}
	else
		TuneInvalid(psprintf("unknown key \"%s\" in \"tune\"", key),
					"Valid keys: space, trials, time_budget.");
}

/* The search options asks for; false when none. */
bool
TuneParse(const ModelOps *ops, Jsonb *options, const double *opt, TuneSpec *spec)
{
	JsonbValue *tune = options ? JsonbKey(&options->root, "tune") : NULL;
	int			fraction = OptionIndexOf(ops, "validation_fraction");

	memset(spec, 0, sizeof(TuneSpec));
	spec->max_trials = TUNE_DEFAULT_TRIALS;
	if (tune == NULL || (tune->type == jbvBool && !tune->val.boolean))
		return false;
	if (tune->type == jbvBool)
		spec->n_params = -1;
	else if (tune->type == jbvBinary && JsonContainerIsObject(tune->val.binary.data))
	{
		TuneParseState ps = {ops, options, spec, false};

		ForEachKey(tune->val.binary.data, TuneKey, &ps);
		if (!ps.have_space)
			spec->n_params = -1;	/* the default space, below */
	}
	else
		TuneInvalid("option \"tune\" must be a boolean or an object", NULL);

	if (spec->n_params < 0)
	{
		bool		given[RECGAN_MAX_OPTIONS];

		for (int i = 0; i < ops->n_options; i++)
			given[i] = JsonbKey(&options->root, ops->options[i].key) != NULL;
		tune_default_space(ops, given, spec);
	}
	if (spec->n_params == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nothing to tune for algorithm \"%s\"", ops->name),
				 errdetail("The default search space is empty or every option in it is set."),
				 errhint("Give the options to search: '{\"tune\": {\"space\": {\"option\": [value, ...]}}}'.")));
	if (tune_grid_size(spec) > TUNE_MAX_GRID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"tune\" space has more than %d grid points", TUNE_MAX_GRID),
				 errhint("Search fewer values; \"trials\" samples the grid.")));
	if (fraction >= 0 && opt[fraction] == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"tune\" needs a validation holdout"),
				 errdetail("Option \"validation_fraction\" is 0."),
				 errhint("Leave \"validation_fraction\" at its default (0.1) or set it above 0.")));
	return true;
}

/*
 * A searched value as JSON: reals with 15 significant digits (0.1, not the
 * 17 that round-trip every double), the rest as in the options column.
 */
static void
AppendSearchedValue(StringInfo buf, const OptionSpec *o, double value)
{
	if (o->type == OPT_REAL)
		appendStringInfo(buf, "%.15g", value);
	else
		ModelAppendOptionValue(buf, o, value);
}

/* The searched options of a trial as "key value, key value". */
static char *
TrialOptionsText(const ModelOps *ops, const TuneSpec *spec, const double *opt)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int p = 0; p < spec->n_params; p++)
	{
		const OptionSpec *o = &ops->options[spec->params[p].option];

		appendStringInfo(&buf, "%s%s ", p ? ", " : "", o->key);
		AppendSearchedValue(&buf, o, opt[spec->params[p].option]);
	}
	return buf.data;
}

/* The searched options of a trial as a JSON object. */
static void
AppendTrialOptions(StringInfo buf, const ModelOps *ops, const TuneSpec *spec, const double *opt)
{
	appendStringInfoChar(buf, '{');
	for (int p = 0; p < spec->n_params; p++)
	{
		const OptionSpec *o = &ops->options[spec->params[p].option];

		appendStringInfoString(buf, p ? ", " : "");
		escape_json(buf, o->key);
		appendStringInfoString(buf, ": ");
		AppendSearchedValue(buf, o, opt[spec->params[p].option]);
	}
	appendStringInfoChar(buf, '}');
}

/* What the trial callback needs. */
typedef struct TuneLog
{
	const ModelOps *ops;
	const TuneSpec *spec;
	StringInfoData trials;		/* the JSON array's elements */
	int			k;
	double		seconds;
} TuneLog;

/* NOTICE a finished trial and add it to the record. */
static void
TrialDone(void *arg, const TuneTrial *t)
{
	TuneLog    *log = arg;

	ereport(NOTICE,
			(errmsg("%s tuning, trial %d of %d (%s): validation ndcg@%d %.4f, best %.4f (trial %d)",
					log->ops->name, t->number, t->planned,
					TrialOptionsText(log->ops, log->spec, t->opt), t->k, t->validation,
					t->best_validation, t->best),
			 errdetail("%.2f s for this trial.", t->seconds)));
	appendStringInfo(&log->trials, "%s{\"trial\": %d, \"options\": ", t->number > 1 ? ", " : "",
					 t->number);
	AppendTrialOptions(&log->trials, log->ops, log->spec, t->opt);
	appendStringInfo(&log->trials, ", \"validation\": %.6f, \"seconds\": %.3f", t->validation,
					 t->seconds);
	if (t->best_epoch > 0)
		appendStringInfo(&log->trials, ", \"best_epoch\": %d", t->best_epoch);
	appendStringInfoChar(&log->trials, '}');
	log->k = t->k;
	log->seconds += t->seconds;
}

/* Run the search (see tuning.h). */
char *
TuneRun(const TrainInput *in, const Model *model, const TuneSpec *spec, double *best_opt)
{
	TuneLog		log = {.ops = model->ops, .spec = spec};
	bool		stopped;
	StringInfoData rec;

	initStringInfo(&log.trials);
	ENGINE_CALL(tune_run(in, model, spec, TrialDone, &log, best_opt, &stopped, &engine_err));
	ereport(NOTICE,
			(errmsg("%s tuning: best %s; training on all positives with it",
					model->ops->name, TrialOptionsText(model->ops, spec, best_opt)),
			 errdetail("%.1f s of trials%s.", log.seconds,
					   stopped ? ", stopped by the time budget" : "")));
	initStringInfo(&rec);
	appendStringInfo(&rec, "{\"metric\": \"ndcg@%d\", \"grid\": " INT64_FORMAT
					 ", \"stopped_by_time\": %s, \"seconds\": %.3f, \"best\": ",
					 log.k, tune_grid_size(spec), stopped ? "true" : "false", log.seconds);
	AppendTrialOptions(&rec, model->ops, spec, best_opt);
	appendStringInfo(&rec, ", \"trials\": [%s]}", log.trials.data);
	return rec.data;
}
