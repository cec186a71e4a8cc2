/*
 * tune.c
 *	  Hyperparameter search inside training: trials over a grid of option
 *	  values, scored on the validation holdout early stopping uses.
 *
 * Legend: U users, I items, G grid points, T trials.
 *
 * Grid.  The searched options and their values span G grid points (mixed
 * radix, the first option slowest).  With a trial budget T < G, T points
 * are drawn uniformly without replacement; the trials run in an order
 * shuffled by the same stream (the model's seed xor "tune"), so a time
 * budget cuts a uniform sample rather than one corner of the grid.  For a
 * seed and a trial budget the trials and their results are reproducible;
 * a time budget stops before a trial would start after max_seconds (at
 * least one trial always runs), so where it stops depends on the machine.
 *
 * Scoring.  Every trial is scored with the same holdout and metric as the
 * training loop (trainloop.c): the split of the training positives drawn
 * from the model's seed, validation NDCG@k.
 *  - Iterative models (those with the loop's options) train through their
 *    own loop with refit off: the trial's value is its best epoch's
 *    validation NDCG (early stopping as configured), on the holdout the
 *    loop draws from the seed and its validation_fraction.
 *  - Closed-form models (EASE, ItemKNN, GF-CF, popularity) are fitted on
 *    the holdout's fit positives (TUNE_VALIDATION_FRACTION, the loop's
 *    default) and scored at TUNE_VALIDATION_K, the loop's default cutoff.
 *  - Dense EASE searching lambda alone computes X^T X of the fit once and
 *    solves each lambda from it (ease_dense_solve copies its active block): bit-identical to
 *    training each trial from scratch, without the Gram of each.  Not when
 *    the fit has fewer users than items with positives: training solves
 *    through the users then (ease_dense_through_users), and so does each trial.
 *
 * The best trial is the first with the highest validation value; its
 * options go back to the caller, who trains the stored model on all
 * training positives with them.  Each trial's memory lives in a scope
 * freed at its end; a cancel or an error inside a trial ends the search
 * with that error.
 */
#include <math.h>
#include <string.h>

#include "registry.h"
#include "rng.h"
#include "trainloop.h"
#include "tune.h"

/* A default search space: up to three options of one algorithm. */
typedef struct TuneDefault
{
	const char *algorithm;
	const char *key;
	int			n_values;
	double		values[8];
} TuneDefault;

/*
 * The documented default spaces (README "Hyperparameter search").  iALS
 * leaves factors out: a trial's cost grows with factors squared and the
 * regularisers decide most of the quality (README: the measured table).
 */
static const TuneDefault tune_defaults[] = {
	{"ease", "lambda", 7, {25, 50, 100, 200, 400, 800, 1600}},
	{"itemknn", "neighbors", 5, {50, 100, 200, 400, 800}},
	{"itemknn", "shrink", 3, {0, 10, 100}},
	{"gfcf", "alpha", 3, {0.1, 0.3, 1}},
	{"gfcf", "factors", 3, {128, 256, 512}},
	{"ials", "alpha", 3, {1, 3, 10}},
	{"ials", "lambda", 5, {3, 10, 30, 100, 300}},
	{"bpr", "lr", 3, {5e-4, 2e-3, 8e-3}},
	{"bpr", "reg", 3, {2e-3, 2e-2, 2e-1}},
	{"lightgcn", "lr", 3, {3e-3, 1e-2, 3e-2}},
	{"lightgcn", "reg", 3, {1e-5, 1e-4, 1e-3}},
	{"gmf", "lr", 3, {2.5e-4, 5e-4, 1e-3}},
	{"gmf", "reg", 3, {0, 1e-6, 1e-5}},
	{"neumf", "lr", 3, {5e-4, 1e-3, 2e-3}},
	{"neumf", "reg", 3, {0, 1e-5, 1e-4}},
	{"sgan", "lr", 3, {3e-3, 1e-2, 3e-2}},
	{"sgan", "dropout", 3, {0.3, 0.5, 0.7}},
	{"cfgan", "lr_g", 3, {3e-5, 1e-4, 3e-4}},
	{"cfgan", "zr_weight", 3, {0.01, 0.03, 0.1}},
	{"cgan", "lr_g", 3, {3e-5, 1e-4, 3e-4}},
	{"cgan", "reg", 3, {1e-4, 3e-4, 1e-3}},
};

/* Index of option key in ops's table, or -1. */
static int
OptionIndex(const ModelOps *ops, const char *key)
{
	for (int i = 0; i < ops->n_options; i++)
		if (strcmp(ops->options[i].key, key) == 0)
			return i;
	return -1;
}

/* Grid points of spec. */
int64_t
tune_grid_size(const TuneSpec *spec)
{
	int64_t		g = 1;

	for (int p = 0; p < spec->n_params; p++)
	{
		g *= spec->params[p].n_values;
		if (g > TUNE_MAX_GRID)
			return TUNE_MAX_GRID + 1;
	}
	return g;
}

/* The default space of ops, without the options the user set. */
void
tune_default_space(const ModelOps *ops, const bool *given, TuneSpec *spec)
{
	spec->n_params = 0;
	for (size_t d = 0; d < RG_LENGTHOF(tune_defaults); d++)
	{
		const TuneDefault *def = &tune_defaults[d];
		int			option = OptionIndex(ops, def->key);
		TuneParam  *p;

		if (strcmp(def->algorithm, ops->name) != 0 || option < 0 || given[option])
			continue;
		p = &spec->params[spec->n_params++];
		p->option = option;
		p->n_values = def->n_values;
		memcpy(p->values, def->values, sizeof(double) * def->n_values);
	}
}

/* The options of grid point g: base with the searched values set. */
static void
GridPoint(const TuneSpec *spec, int64_t g, const double *base, int n_options, double *opt)
{
	memcpy(opt, base, sizeof(double) * n_options);
	for (int p = spec->n_params - 1; p >= 0; p--)
	{
		const TuneParam *param = &spec->params[p];

		opt[param->option] = param->values[g % param->n_values];
		g /= param->n_values;
	}
}

/* The grid points to try, in the order to try them (see the file comment). */
static int32_t *
TrialOrder(const TuneSpec *spec, uint64_t seed, int *n_trials)
{
	int32_t		grid = (int32_t) tune_grid_size(spec);
	int32_t		n = RG_MIN(grid, spec->max_trials);
	int32_t    *order = rg_alloc_array(int32_t, RG_MAX(n, 1));
	Rng			rng;

	rng_seed(&rng, seed ^ 0x74756e6574756e65ULL);	/* "tunetune": its own stream */
	if (n < grid)
		rng_sample_sorted(&rng, grid, n, order);
	else
		for (int32_t t = 0; t < n; t++)
			order[t] = t;
	for (int32_t t = n - 1; t > 0; t--)
	{
		int32_t		s = (int32_t) (rng_next(&rng) % (uint64_t) (t + 1));
		int32_t		tmp = order[t];

		order[t] = order[s];
		order[s] = tmp;
	}
	*n_trials = n;
	return order;
}

/* What a trial of an iterative model reports: its best validation epoch. */
typedef struct TrialEpochs
{
	double		best;
	int			best_epoch;
} TrialEpochs;

/* Keep the best validation of a trial's epochs. */
static void
TrialEpoch(void *arg, const EpochReport *r)
{
	TrialEpochs *te = arg;

	if (!isnan(r->validation) && (isnan(te->best) || r->validation > te->best))
	{
		te->best = r->validation;
		te->best_epoch = r->epoch;
	}
}

/* Ignore the epoch report of a closed-form fit. */
static void
NoEpoch(void *arg, const EpochReport *r)
{
	(void) arg;
	(void) r;
}

/* State shared by the trials of one search. */
typedef struct Search
{
	const TrainInput *in;
	const Model *model;
	const TuneSpec *spec;
	int			refit_option;	/* iterative models: index of "refit"; else -1 */
	Holdout		h;				/* closed-form models */
	HoldoutScorer scorer;
	float	   *gram;			/* dense EASE searching lambda: X^T X of the fit */
	RgError    *err;
} Search;

/* A model for one trial: the template's dimensions and ids, no tensors. */
static void
TrialModel(const Search *s, const double *opt, const Csr *pos, Model *m)
{
	*m = *s->model;
	m->n_hyper = model_n_hyper(m->ops, opt);
	memcpy(m->hyper, opt, sizeof(double) * m->n_hyper);
	m->pos = *pos;
	m->n_tensors = 0;
	m->serving = NULL;
	model_compute_popularity(m);
}

/* One trial of an iterative model: its own loop, refit off. */
static RgStatus
IterativeTrial(Search *s, double *opt, TuneTrial *t)
{
	TrainInput	tin = *s->in;
	TrialEpochs te = {NAN, 0};
	Model		m;

	opt[s->refit_option] = 0;
	tin.opt = opt;
	TrialModel(s, opt, s->in->pos, &m);
	RG_TRY(m.ops->train(&tin, &m, TrialEpoch, &te, s->err));
	t->validation = te.best;
	t->best_epoch = te.best_epoch;
	t->k = (int) opt[OptionIndex(m.ops, "validation_k")];
	return RG_OK;
}

/* One trial of a closed-form model: fit on the holdout's fit positives, score. */
static RgStatus
ClosedTrial(Search *s, double *opt, TuneTrial *t)
{
	TrainInput	tin = *s->in;
	Model		m;

	tin.opt = opt;
	tin.pos = &s->h.fit;
	TrialModel(s, opt, &s->h.fit, &m);
	if (s->gram != NULL)
	{
		int			n = m.n_items;
		float	   *b;

		RG_TRY(ease_dense_solve(s->gram, n, opt[s->spec->params[0].option], &b, s->err));
		m.n_tensors = 1;
		m.tensors[0] = (Tensor) {(int64_t) n * n, b};
	}
	else
		RG_TRY(m.ops->train(&tin, &m, NoEpoch, NULL, s->err));
	if (m.ops->prepare != NULL)
		m.ops->prepare(&m);
	t->k = TUNE_VALIDATION_K;
	t->best_epoch = 0;
	return holdout_ndcg(&s->h, &s->scorer, &m, &t->validation, s->err);
}

/* Whether the search is dense EASE over lambda alone (the Gram shortcut). */
static bool
EaseLambdaOnly(const Search *s)
{
	const ModelOps *ops = s->model->ops;

	return ops == &ease_ops && s->in->opt[OptionIndex(ops, "neighbors")] == 0 &&
		s->spec->n_params == 1 && s->spec->params[0].option == OptionIndex(ops, "lambda") &&
		!ease_dense_through_users(&s->h.fit);
}

/* Closed-form models: the holdout, its scorer, the EASE Gram. */
static RgStatus
ClosedSetup(Search *s)
{
	const Model *model = s->model;
	Rng			rng;
	int			block;

	rng_seed(&rng, s->in->seed);
	holdout_split(&s->h, s->in->pos, TUNE_VALIDATION_FRACTION, &rng);
	if (s->h.n_val_users == 0)
	{
		rg_fail(s->err, RG_INVALID_PARAMETER, "too few positives to tune %s",
				model->ops->name);
		return rg_detail(s->err, "No user has two training positives, so the validation holdout is empty.");
	}
	block = RG_MIN(holdout_block(model->n_users, model->n_items), s->h.n_val_users);
	if (EaseLambdaOnly(s))
	{
		double		n = model->n_items;

		/* the Gram, its active copy, the inverse and B (float32 each) */
		if (rg_check_memory(s->err, n * n * (4 + 4 + 4 + 4) + block * n * 4.0, "ease tuning") != RG_OK)
			return rg_hint(s->err, "Set the \"neighbors\" option of ease for a sparse model, or raise recgan.max_train_memory.");
		RG_TRY(ease_gram(&s->h.fit, model->n_items, &s->gram, s->err));
	}
	holdout_scorer_init(&s->scorer, model->n_items, block, TUNE_VALIDATION_K);
	return RG_OK;
}

/* Run the trials (see the file comment). */
RgStatus
tune_run(const TrainInput *in, const Model *model, const TuneSpec *spec,
		 TrialCallback report, void *report_arg, double *best_opt,
		 bool *stopped_by_time, RgError *err)
{
	const ModelOps *ops = model->ops;
	void	   *scope = rg_scope_push();
	Search		s = {.in = in, .model = model, .spec = spec,
	.refit_option = OptionIndex(ops, "refit"), .err = err};
	double	   *opt = rg_alloc_array(double, RECGAN_MAX_OPTIONS);
	double		start = rg_now();
	double		best = -INFINITY;
	int			best_trial = 0;
	int			n_trials;
	int32_t    *order = TrialOrder(spec, in->seed, &n_trials);
	RgStatus	status = RG_OK;

	*stopped_by_time = false;
	memcpy(best_opt, in->opt, sizeof(double) * ops->n_options);
	if (s.refit_option < 0)
		status = ClosedSetup(&s);
	for (int t = 0; t < n_trials && status == RG_OK; t++)
	{
		TuneTrial	trial = {.number = t + 1, .planned = n_trials, .opt = opt};
		double		t0 = rg_now();
		void	   *trial_scope;

		if (t > 0 && spec->max_seconds > 0 && t0 - start >= spec->max_seconds)
		{
			*stopped_by_time = true;
			break;
		}
		GridPoint(spec, order[t], in->opt, ops->n_options, opt);
		trial_scope = rg_scope_push();
		status = s.refit_option >= 0 ? IterativeTrial(&s, opt, &trial) : ClosedTrial(&s, opt, &trial);
		rg_scope_pop(trial_scope);
		if (status != RG_OK)
			break;
		if (s.refit_option >= 0)
			opt[s.refit_option] = in->opt[s.refit_option];
		trial.seconds = rg_now() - t0;
		if (!isnan(trial.validation) && trial.validation > best)
		{
			best = trial.validation;
			best_trial = t + 1;
			memcpy(best_opt, opt, sizeof(double) * ops->n_options);
		}
		trial.best = best_trial;
		trial.best_validation = best;
		report(report_arg, &trial);
	}
	rg_scope_pop(scope);
	if (status == RG_OK && best_trial == 0)
	{
		rg_fail(err, RG_DATA_EXCEPTION, "no %s trial gave a validation value", ops->name);
		return rg_hint(err, "Give the model a validation holdout (the \"validation_fraction\" option).");
	}
	return status;
}
