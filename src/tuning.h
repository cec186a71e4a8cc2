/*
 * tuning.h
 *	  The "tune" option of recgan_train (tuning.c): the search space and
 *	  budget from jsonb, the trials through the engine (engine/tune.c), their
 *	  NOTICEs and their record for the model's metrics.
 */
#ifndef RECGAN_TUNING_H
#define RECGAN_TUNING_H

#include "utils/jsonb.h"

#include "tune.h"

/*
 * The search options asks for, into spec: false when there is none (no
 * "tune" key, or "tune": false).  ereport INVALID_PARAMETER_VALUE on a bad
 * space or budget.  opt are the resolved options.
 */
extern bool TuneParse(const ModelOps *ops, Jsonb *options, const double *opt, TuneSpec *spec);

/*
 * Run the search for model on in (NOTICE per trial) and write the winner's
 * options into best_opt; returns the trial record, a JSON object for the
 * model's metrics under "tune".
 */
extern char *TuneRun(const TrainInput *in, const Model *model, const TuneSpec *spec,
					 double *best_opt);

#endif							/* RECGAN_TUNING_H */
