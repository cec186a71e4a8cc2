/*
 * options.h
 *	  Algorithms by name and their options from jsonb (options.c).
 *
 * Options arrive as a jsonb object.  Each algorithm declares the keys it
 * accepts in an OptionSpec table (src/engine/model.h); an unknown key, a
 * value of the wrong type or out of range is an error naming the key.
 */
#ifndef RECGAN_OPTIONS_H
#define RECGAN_OPTIONS_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "registry.h"

/* The algorithm of this name; INVALID_PARAMETER_VALUE listing them if none. */
extern const ModelOps *ModelOpsByName(const char *name);

/*
 * Resolve user options against an algorithm's spec; ereport on bad input.
 * Every algorithm also accepts "seed" (default RECGAN_DEFAULT_SEED),
 * "tune" (skipped here: TuneParse in tune.h reads it), "deploy" and
 * "keep_versions" (skipped here: VersionsParseOptions in versions.h).
 */
extern void ModelParseOptions(const ModelOps *ops, Jsonb *options,
							  double *values, uint64 *seed);

/* One option value of spec from jsonb; ereport when of the wrong type or range. */
extern double ModelParseOptionValue(const OptionSpec *spec, JsonbValue *v);

/* Append an option value as JSON (a number, boolean or the enum's name). */
extern void ModelAppendOptionValue(StringInfo buf, const OptionSpec *spec, double value);

/* The resolved options (defaults included, seed last) as jsonb. */
extern Jsonb *ModelOptionsToJsonb(const ModelOps *ops, const double *values,
								  uint64 seed);

#endif							/* RECGAN_OPTIONS_H */
