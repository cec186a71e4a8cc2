/*
 * options.c
 *	  Algorithms by name, and their options from jsonb, for the SQL functions.
 *
 * Options arrive as a jsonb object.  Each algorithm declares the keys it
 * accepts in an OptionSpec table; an unknown key, a value of the wrong type or
 * out of range is an error naming the key, never silently ignored.
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "options.h"

/* Comma-separated names of all algorithms, for hints. */
static char *
AlgorithmNames(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < model_registry_size; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", model_registry[i]->name);
	return buf.data;
}

/* Look up an algorithm by name; error if unknown. */
const ModelOps *
ModelOpsByName(const char *name)
{
	const ModelOps *ops = model_ops_by_name(name);

	if (ops != NULL)
		return ops;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown algorithm \"%s\"", name),
			 errhint("Available algorithms: %s.", AlgorithmNames())));
	return NULL;				/* keep compiler quiet */
}

/* Comma-separated option keys of an algorithm, for hints. */
static char *
OptionNames(const ModelOps *ops)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < ops->n_options; i++)
		appendStringInfo(&buf, "%s, ", ops->options[i].key);
	appendStringInfoString(&buf, "seed");
	return buf.data;
}

/* Convert a jsonb numeric to double, rejecting non-finite values. */
static double
JsonbNumericToDouble(JsonbValue *v, const char *key)
{
	double		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													   NumericGetDatum(v->val.numeric)));

	if (!isfinite(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a finite number", key)));
	return d;
}

/* Parse one option value according to its spec. */
double
ModelParseOptionValue(const OptionSpec *spec, JsonbValue *v)
{
	double		d;

	switch (spec->type)
	{
		case OPT_BOOL:
			if (v->type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be a boolean", spec->key)));
			return v->val.boolean ? 1.0 : 0.0;
		case OPT_ENUM:
			{
				char	   *s;
				char	   *choices;
				char	   *tok;
				int			pos = 0;

				if (v->type != jbvString)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"%s\" must be a string", spec->key)));
				s = pnstrdup(v->val.string.val, v->val.string.len);
				choices = pstrdup(spec->choices);
				for (tok = strtok(choices, "|"); tok; tok = strtok(NULL, "|"), pos++)
					if (strcmp(tok, s) == 0)
						return pos;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for option \"%s\"", s, spec->key),
						 errhint("Valid values: %s.", spec->choices)));
			}
			break;
		case OPT_INT:
		case OPT_REAL:
			if (v->type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be a number", spec->key)));
			d = JsonbNumericToDouble(v, spec->key);
			if (spec->type == OPT_INT && d != floor(d))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be an integer", spec->key)));
			if (d < spec->min || d > spec->max)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must be between %g and %g", spec->key,
								spec->min, spec->max),
						 errdetail("Got %g.", d)));
			return d;
	}
	elog(ERROR, "unknown option type %d. Please report a bug.", (int) spec->type);
	return 0;
}

/* Resolve a jsonb options object against the algorithm's spec. */
void
ModelParseOptions(const ModelOps *ops, Jsonb *options, double *values, uint64 *seed)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	for (int i = 0; i < ops->n_options; i++)
		values[i] = ops->options[i].defval;
	*seed = RECGAN_DEFAULT_SEED;
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object"),
				 errhint("For example: '{\"lambda\": 200}'.")));

	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		int			i;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);

		if (strcmp(key, "seed") == 0)
		{
			static const OptionSpec seed_spec = {"seed", OPT_INT, 0, 0, 9007199254740991.0, NULL, NULL};

			*seed = (uint64) ModelParseOptionValue(&seed_spec, &v);
			continue;
		}
		if (strcmp(key, "tune") == 0)
			continue;			/* the search: TuneParse (tune.c) */
		if (strcmp(key, "deploy") == 0 || strcmp(key, "keep_versions") == 0)
			continue;			/* versions: VersionsParseOptions (versions.c) */
		for (i = 0; i < ops->n_options; i++)
			if (strcmp(ops->options[i].key, key) == 0)
				break;
		if (i == ops->n_options)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for algorithm \"%s\"", key, ops->name),
					 errhint("Valid options: %s.", OptionNames(ops))));
		values[i] = ModelParseOptionValue(&ops->options[i], &v);
	}
}

/* Append value of option spec as a JSON value. */
void
ModelAppendOptionValue(StringInfo buf, const OptionSpec *spec, double value)
{
	switch (spec->type)
	{
		case OPT_BOOL:
			appendStringInfoString(buf, value != 0 ? "true" : "false");
			break;
		case OPT_ENUM:
			{
				char	   *choices = pstrdup(spec->choices);
				char	   *tok = strtok(choices, "|");

				for (int pos = 0; tok && pos < (int) value; pos++)
					tok = strtok(NULL, "|");
				escape_json(buf, tok ? tok : "");
			}
			break;
		case OPT_INT:
			appendStringInfo(buf, "%.0f", value);
			break;
		case OPT_REAL:
			appendStringInfo(buf, "%.17g", value);
			break;
	}
}

/* Render resolved options, defaults included, as a jsonb object. */
Jsonb *
ModelOptionsToJsonb(const ModelOps *ops, const double *values, uint64 seed)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < ops->n_options; i++)
	{
		const OptionSpec *spec = &ops->options[i];

		appendStringInfo(&buf, "%s", i ? ", " : "");
		escape_json(&buf, spec->key);
		appendStringInfoString(&buf, ": ");
		ModelAppendOptionValue(&buf, spec, values[i]);
	}
	appendStringInfo(&buf, "%s\"seed\": " UINT64_FORMAT "}", ops->n_options ? ", " : "", seed);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
