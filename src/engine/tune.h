/*
 * tune.h
 *	  Hyperparameter search inside training (tune.c): trials over a grid of
 *	  option values, each scored on the training loop's validation holdout,
 *	  the best one's options returned for the final training.
 */
#ifndef RECGAN_TUNE_H
#define RECGAN_TUNE_H

#include "model.h"

#define TUNE_MAX_PARAMS 8		/* options searched at once */
#define TUNE_MAX_VALUES 64		/* values per option */
#define TUNE_MAX_GRID 100000	/* grid points (product of the value counts) */
#define TUNE_MAX_TRIALS 10000
#define TUNE_DEFAULT_TRIALS 16	/* trials when the budget gives none */

/* The holdout of closed-form models: the training loop's defaults. */
#define TUNE_VALIDATION_FRACTION 0.1
#define TUNE_VALIDATION_K 20

/* One searched option and its candidate values. */
typedef struct TuneParam
{
	int			option;			/* index in the algorithm's OptionSpec table */
	int			n_values;
	double		values[TUNE_MAX_VALUES];
} TuneParam;

/* A search: the grid and the budget. */
typedef struct TuneSpec
{
	int			n_params;
	TuneParam	params[TUNE_MAX_PARAMS];
	int			max_trials;		/* trials at most: a seeded sample of the grid */
	double		max_seconds;	/* no trial starts after this many seconds; 0: none */
} TuneSpec;

/* One finished trial. */
typedef struct TuneTrial
{
	int			number;			/* from 1, in the order run */
	int			planned;		/* trials planned (before a time budget stops them) */
	const double *opt;			/* the trial's resolved options */
	double		validation;		/* validation NDCG@k */
	int			k;
	int			best_epoch;		/* iterative models: epochs of the best validation */
	double		seconds;
	int			best;			/* the best trial so far (this one included) */
	double		best_validation;
} TuneTrial;

typedef void (*TrialCallback) (void *arg, const TuneTrial *trial);

/* Grid points of spec (product of the value counts). */
extern int64_t tune_grid_size(const TuneSpec *spec);

/*
 * The documented default search space of an algorithm into spec
 * (n_params 0 when it has none); options whose given[] is true (set by the
 * user) are left out.
 */
extern void tune_default_space(const ModelOps *ops, const bool *given, TuneSpec *spec);

/*
 * Run the trials of spec for model (its ops, dimensions and positives
 * in->pos; in->opt the options outside the grid), report each, and write
 * the best trial's options into best_opt (ops->n_options values).
 * *stopped_by_time is set when the time budget ended the search early.
 */
extern RgStatus tune_run(const TrainInput *in, const Model *model, const TuneSpec *spec,
						 TrialCallback report, void *report_arg, double *best_opt,
						 bool *stopped_by_time, RgError *err);

/* Dense EASE (alg_ease.c) for the tuner: X^T X once, then B per lambda. */
extern RgStatus ease_gram(const Csr *x, int n, float **out, RgError *err);
extern RgStatus ease_dense_solve(const float *xtx, int n, double lambda, float **b_out,
								 RgError *err);
extern bool ease_dense_through_users(const Csr *x);

#endif							/* RECGAN_TUNE_H */
