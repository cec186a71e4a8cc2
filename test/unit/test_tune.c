/*
 * test_tune.c
 *	  Unit tests of the hyperparameter search (tune.c), run without a server
 *	  by `make unitcheck`: dense EASE's one-Gram shortcut gives exactly the
 *	  validation values of training each lambda from scratch on the same
 *	  holdout; the best trial's options come back; the trial order and values
 *	  are reproducible for a seed and a trial budget samples the grid; a time
 *	  budget stops after the first trial; an iterative model's trials record
 *	  their best epoch and leave refit as it was.
 *	  Exit status 0 only when every check passed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "registry.h"
#include "rng.h"
#include "trainloop.h"
#include "tune.h"
#include "unit.h"

enum
{
	NU = 120, NI = 40, MAX_TRIALS = 16
};

/* What the trial callback saw. */
typedef struct Seen
{
	int			n;
	double		validation[MAX_TRIALS];
	double		value[MAX_TRIALS];	/* the first searched option's value */
	int			best_epoch[MAX_TRIALS];
	int			option;
} Seen;

/* Record a trial. */
static void
SeeTrial(void *arg, const TuneTrial *t)
{
	Seen	   *s = arg;

	s->validation[s->n] = t->validation;
	s->value[s->n] = t->opt[s->option];
	s->best_epoch[s->n] = t->best_epoch;
	s->n++;
}

/* A random binary (U x I) matrix with a popularity skew. */
static void
random_csr(Csr *csr, uint64_t seed)
{
	int32_t    *rows = malloc(sizeof(int32_t) * NU * NI);
	int32_t    *cols = malloc(sizeof(int32_t) * NU * NI);
	int64_t		n = 0;
	Rng			rng;

	rng_seed(&rng, seed);
	for (int32_t u = 0; u < NU; u++)
		for (int32_t i = 0; i < NI; i++)
			if (rng_uniform(&rng) < 0.4 / (1 + 0.05 * i) || i == u % NI || (i + u) % 7 == 0)
			{
				rows[n] = u;
				cols[n] = i;
				n++;
			}
	csr_from_pairs(csr, NU, NI, rows, cols, n);
	free(rows);
	free(cols);
}

/* A model template of algorithm name on csr with its default options in opt. */
static void
template(Model *m, const char *name, const Csr *csr, double *opt)
{
	const ModelOps *ops = model_ops_by_name(name);

	for (int i = 0; i < ops->n_options; i++)
		opt[i] = ops->options[i].defval;
	unit_model(m, name, csr, opt, 42);
}

/* A one-option space. */
static void
space1(TuneSpec *spec, int option, const double *values, int n)
{
	memset(spec, 0, sizeof(*spec));
	spec->n_params = 1;
	spec->params[0].option = option;
	spec->params[0].n_values = n;
	memcpy(spec->params[0].values, values, sizeof(double) * n);
	spec->max_trials = MAX_TRIALS;
}

/* A search of one algorithm on a random matrix. */
typedef struct Fixture
{
	Csr			csr;
	Model		m;
	double		opt[RECGAN_MAX_OPTIONS];	/* the options outside the grid */
	double		best[RECGAN_MAX_OPTIONS];	/* the winner's */
	TuneSpec	spec;
	bool		stopped;
	RgError		err;
} Fixture;

/* Set up fx for algorithm name on a random matrix drawn from seed. */
static void
fixture(Fixture *fx, const char *name, uint64_t seed)
{
	random_csr(&fx->csr, seed);
	template(&fx->m, name, &fx->csr, fx->opt);
}

/* Run fx's search, its trials into seen. */
static RgStatus
search(Fixture *fx, Seen *seen)
{
	TrainInput	in = {&fx->csr, fx->opt, 42};

	return tune_run(&in, &fx->m, &fx->spec, SeeTrial, seen, fx->best, &fx->stopped, &fx->err);
}

/* The validation NDCG of dense EASE trained from scratch on the tuner's holdout. */
static double
ease_from_scratch(const Csr *csr, double lambda)
{
	Holdout		h;
	HoldoutScorer s;
	Rng			rng;
	Model		m;
	double		opt[RECGAN_MAX_OPTIONS];
	TrainInput	in;
	RgError		err;
	double		ndcg = NAN;

	rng_seed(&rng, 42);
	holdout_split(&h, csr, TUNE_VALIDATION_FRACTION, &rng);
	template(&m, "ease", &h.fit, opt);
	opt[0] = m.hyper[0] = lambda;
	in = (TrainInput) {&h.fit, opt, 42};
	model_compute_popularity(&m);
	if (m.ops->train(&in, &m, unit_ignore_epoch, NULL, &err) != RG_OK)
		return NAN;
	holdout_scorer_init(&s, NI, h.n_val_users, TUNE_VALIDATION_K);
	if (holdout_ndcg(&h, &s, &m, &ndcg, &err) != RG_OK)
		return NAN;
	return ndcg;
}

/* The Gram shortcut equals training from scratch; the best comes back. */
static void
test_ease_gram_shortcut(void)
{
	static const double lambdas[] = {0.5, 5, 50, 500};
	Fixture		fx;
	Seen		seen = {0};
	double		top = -1;

	fixture(&fx, "ease", 3);
	space1(&fx.spec, 0, lambdas, 4);
	CHECK(search(&fx, &seen) == RG_OK, "tune runs");
	CHECK(seen.n == 4 && !fx.stopped, "every lambda tried (%d)", seen.n);
	for (int t = 0; t < seen.n; t++)
	{
		double		scratch = ease_from_scratch(&fx.csr, seen.value[t]);

		CHECK(seen.validation[t] == scratch, "lambda %g: shortcut %.17g, from scratch %.17g",
			  seen.value[t], seen.validation[t], scratch);
		top = fmax(top, seen.validation[t]);
	}
	for (int t = 0; t < seen.n; t++)
		if (seen.validation[t] == top)
		{
			CHECK(fx.best[0] == seen.value[t], "best lambda %g is the first of the top value (%g)",
				  fx.best[0], seen.value[t]);
			break;
		}
	CHECK(fx.best[1] == 0, "neighbors untouched");
}

/* Same seed, same trials; a trial budget samples distinct grid points. */
static void
test_reproducible_sample(void)
{
	static const double values[] = {5, 10, 20, 40, 80, 160};
	Fixture		fx;
	Seen		a = {0},
				b = {0};

	fixture(&fx, "itemknn", 4);
	space1(&fx.spec, 0, values, 6);
	fx.spec.max_trials = 3;
	CHECK(search(&fx, &a) == RG_OK, "first run");
	CHECK(search(&fx, &b) == RG_OK, "second run");
	CHECK(a.n == 3 && b.n == 3, "3 trials of 6 (%d, %d)", a.n, b.n);
	for (int t = 0; t < 3; t++)
		CHECK(a.value[t] == b.value[t] && a.validation[t] == b.validation[t],
			  "trial %d the same", t + 1);
	CHECK(a.value[0] != a.value[1] && a.value[0] != a.value[2] && a.value[1] != a.value[2],
		  "distinct grid points");

	fx.spec.max_trials = MAX_TRIALS;
	fx.spec.max_seconds = 1e-9;
	memset(&a, 0, sizeof(a));
	CHECK(search(&fx, &a) == RG_OK, "timed run");
	CHECK(a.n == 1 && fx.stopped, "a time budget stops after the first trial (%d)", a.n);
}

/* An iterative model: best epochs recorded, refit as given. */
static void
test_iterative(void)
{
	static const double lambdas[] = {0.1, 10};
	Fixture		fx;
	Seen		seen = {.option = 2};
	int			refit = -1,
				epochs = -1;

	fixture(&fx, "ials", 5);
	for (int i = 0; i < fx.m.ops->n_options; i++)
	{
		if (strcmp(fx.m.ops->options[i].key, "refit") == 0)
			refit = i;
		if (strcmp(fx.m.ops->options[i].key, "epochs") == 0)
			epochs = i;
	}
	fx.opt[0] = 4;				/* factors */
	fx.opt[epochs] = 5;
	space1(&fx.spec, 2, lambdas, 2);	/* lambda */
	CHECK(search(&fx, &seen) == RG_OK, "ials tunes");
	CHECK(seen.n == 2, "two trials");
	for (int t = 0; t < seen.n; t++)
		CHECK(seen.best_epoch[t] >= 1 && seen.best_epoch[t] <= 5 && isfinite(seen.validation[t]),
			  "trial %d: best epoch %d, validation %g", t + 1, seen.best_epoch[t], seen.validation[t]);
	CHECK(fx.best[refit] == 1 && fx.opt[refit] == 1, "refit left on");
	CHECK(fx.best[2] == 0.1 || fx.best[2] == 10, "best lambda from the space");
}

int
main(void)
{
	rg_host_malloc();
	RUN(test_ease_gram_shortcut);
	RUN(test_reproducible_sample);
	RUN(test_iterative);
	return unit_summary();
}
