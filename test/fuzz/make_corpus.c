/*
 * make_corpus.c
 *	  Seed corpus of the model fuzzer (fuzz_model.c): one small trained model
 *	  of every algorithm in the registry (plus the variants with other
 *	  tensor layouts), encoded with format.c, one file each in the directory
 *	  given as argument.  The data are synthetic (a fixed pseudo-random
 *	  user x item matrix), never a licensed dataset, and the options are
 *	  shrunk so that each model is a few KB: the fuzzer then spends its
 *	  executions on the structure, not on big tensors.
 *
 *	  make_corpus DIR        (built and run by `make fuzz`)
 *
 * An algorithm added to the registry gets its seed here without an edit;
 * the variants name their algorithm and are skipped when it is missing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "registry.h"
#include "rng.h"

#define U 24					/* users */
#define I 16					/* items */

/* Smaller values for the options that size or slow a model. */
static const struct
{
	const char *key;
	double		value;
}			small[] = {
	{"epochs", 2}, {"patience", 0}, {"validation_fraction", 0},
	{"factors", 4}, {"mlp_factors", 2}, {"hidden_g", 6}, {"hidden_d", 5},
	{"embed_dim", 4}, {"embed_dim_d", 3}, {"noise_dim", 2}, {"mle_epochs", 1},
	{"pretrain_epochs", 1}, {"neighbors", 5}, {"samples", 4}, {"score_samples", 2},
	{"batch", 32}, {"batch_size", 32}, {"batch_users", 8}, {"batch_g", 8},
	{"batch_d", 16}, {"cg_steps", 2}, {"hidden", 6}, {"d_hidden", 4}, {"prior_topk", 5},
	{"d_negatives", 4}, {"validation_users", 0},
};

/* A variant: an algorithm with one option set to another value. */
static const struct
{
	const char *alg;
	const char *key;
	double		value;
	const char *suffix;
}			variants[] = {
	{"cfgan", "mode", 0, "user"},		/* user-based CFGAN: other tensors */
	{"cfgan", "noise_dim", 0, "nonoise"},
	{"ials", "solver", 1, "cholesky"},
	{"ease", "neighbors", 0, "dense"},	/* "ease" itself is sparse (neighbors 5) */
	{"lightgcn", "layers", 0, "layers0"},
	{"itemknn", "normalize", 0, "raw"},
	{"bpr", "item_bias", 0, "nobias"},
	{"cgan", "generator_gradient", 1, "gumbel"},
	{"sgan", "prior", 1, "noprior"},
	{"sgan", "prior", 2, "ease"},
	{"sgan", "prior", 3, "gfcf"},
	{"sgan", "value", 1, "sigmoid"},
};

/* The synthetic positives: about a third of the matrix, every user and item used. */
static void
SyntheticCsr(Csr *csr)
{
	int32_t		rows[U * I],
				cols[U * I];
	int64_t		n = 0;
	uint64_t	state = 12345;

	for (int32_t u = 0; u < U; u++)
		for (int32_t i = 0; i < I; i++)
		{
			state = state * 6364136223846793005ULL + 1442695040888963407ULL;
			if ((state >> 33) % 3 == 0 || i == u % I || (u == 0 && i % 2 == 0))
			{
				rows[n] = u;
				cols[n] = i;
				n++;
			}
		}
	csr_from_pairs(csr, U, I, rows, cols, n);
}

/* The options of ops: defaults, shrunk, one optionally overridden. */
static void
Options(const ModelOps *ops, double *opt, const char *key, double value)
{
	for (int o = 0; o < ops->n_options; o++)
	{
		const OptionSpec *s = &ops->options[o];

		opt[o] = s->defval;
		for (size_t k = 0; k < RG_LENGTHOF(small); k++)
			if (strcmp(s->key, small[k].key) == 0 &&
				(s->type == OPT_ENUM || s->type == OPT_BOOL ||
				 (small[k].value >= s->min && small[k].value <= s->max)))
				opt[o] = small[k].value;
		if (key != NULL && strcmp(s->key, key) == 0)
			opt[o] = value;
	}
}

/* Epoch reports are not needed here. */
static void
IgnoreEpoch(void *arg, const EpochReport *report)
{
	(void) arg;
	(void) report;
}

/* Train ops on csr with opt and write the encoded model to dir/name. */
static int
WriteModel(const ModelOps *ops, const Csr *csr, const double *opt, const char *dir,
		   const char *name)
{
	static int64_t user_ids[U],
				item_ids[I];
	Model		model;
	TrainInput	in;
	RgError		err;
	size_t		size;
	void	   *buf;
	char		path[4096];
	FILE	   *f;
	void	   *scope = rg_scope_push();

	for (int u = 0; u < U; u++)
		user_ids[u] = (u == 0) ? INT64_MIN : (u == U - 1) ? INT64_MAX : 1000 + 7 * u;
	for (int i = 0; i < I; i++)
		item_ids[i] = -50 + 11 * i;
	memset(&model, 0, sizeof(model));
	model.algorithm = ops->algorithm;
	model.ops = ops;
	model.n_users = U;
	model.n_items = I;
	model.seed = 42;
	model.threshold = NAN;
	model.n_hyper = model_n_hyper(ops, opt);
	memcpy(model.hyper, opt, sizeof(double) * model.n_hyper);
	model.user_ids = user_ids;
	model.item_ids = item_ids;
	model.pos = *csr;
	model_compute_popularity(&model);
	in.pos = csr;
	in.opt = opt;
	in.seed = 42;
	if (ops->train(&in, &model, IgnoreEpoch, NULL, &err) != RG_OK ||
		model_encoded_size(&model, &size, &err) != RG_OK ||
		model_encode(&model, (buf = rg_alloc(size)), size, &err) != RG_OK)
	{
		fprintf(stderr, "make_corpus: %s: %s (%s)\n", name, err.message, err.detail);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
	{
		perror(path);
		return 1;
	}
	printf("%-24s %6zu bytes\n", name, size);
	rg_scope_pop(scope);
	return 0;
}

int
main(int argc, char **argv)
{
	Csr			csr;
	double		opt[RECGAN_MAX_OPTIONS];
	int			status = 0;

	if (argc != 2)
	{
		fprintf(stderr, "usage: make_corpus DIR\n");
		return 2;
	}
	rg_host_malloc();
	SyntheticCsr(&csr);
	for (int a = 0; a < model_registry_size; a++)
	{
		const ModelOps *ops = model_registry[a];

		Options(ops, opt, NULL, 0);
		status |= WriteModel(ops, &csr, opt, argv[1], ops->name);
	}
	for (size_t v = 0; v < RG_LENGTHOF(variants); v++)
	{
		const ModelOps *ops = model_ops_by_name(variants[v].alg);
		char		name[128];

		if (ops == NULL)
			continue;
		snprintf(name, sizeof(name), "%s_%s", variants[v].alg, variants[v].suffix);
		Options(ops, opt, variants[v].key, variants[v].value);
		status |= WriteModel(ops, &csr, opt, argv[1], name);
	}
	return status;
}
