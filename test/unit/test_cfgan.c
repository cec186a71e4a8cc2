/*
 * test_cfgan.c
 *	  Unit tests of CFGAN's engine (gan.c), run without a server by `make
 *	  unitcheck`: both batch steps against a dense double-precision
 *	  reference written from the equations in gan.h (loss values, and every
 *	  parameter gradient against finite differences of that reference), the
 *	  trainer's memory layout, sampling, schedule and determinism, and a tiny
 *	  training run that must learn clustered preferences.
 *
 * Legend: E entities, B batch rows, C vector width, Z noise, H generator
 * hidden units, K discriminator hidden units.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gan.h"
#include "nn.h"
#include "parallel.h"
#include "rng.h"
#include "unit.h"

enum
{
	TE = 5, TB = 4, TC = 7, TZ = 2, TH = 5, TK = 4
};

#define lengthof(a) (sizeof(a) / sizeof((a)[0]))

static const CfganDims tdims = {TC, TZ, TH, TK};

/* A batch problem: parameters, gradients, data, scratch. */
typedef struct StepCtx
{
	float		gp[(TC + TZ) * TH + TH + TC * TH + TC]; /* generator params */
	float		gg[(TC + TZ) * TH + TH + TC * TH + TC]; /* generator grads */
	float		dp[2 * TC * TK + 2 * TK + 1];	/* discriminator params */
	float		dg[2 * TC * TK + 2 * TK + 1];	/* discriminator grads */
	CfganG		G,
				dG;
	CfganD		D,
				dD;
	int64_t		indptr[TE + 1];
	int32_t		indices[TE * TC];
	int32_t		rows[TB];
	float		noise[TB * TZ];
	float		mask[TB * TC];
	float		zr[TB * TC];
	float		cache_mem[TB * (2 * TC + 2 * TH + 5 * TK + 6)];
	CfganCache	cache;
	CfganBatch	batch;
	double		zr_weight;
} StepCtx;

/* Logistic function and softplus in double. */
static double
sig(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

static double
softplus(double x)
{
	return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

/* Dense 0/1 condition of batch row r. */
static void
dense_row(const StepCtx *c, int r, double *x)
{
	int32_t		e = c->rows[r];

	for (int i = 0; i < TC; i++)
		x[i] = 0.0;
	for (int64_t p = c->indptr[e]; p < c->indptr[e + 1]; p++)
		x[c->indices[p]] = 1.0;
}

/* Reference generator output g (C) for batch row r, from the equations. */
static void
ref_generator(const StepCtx *c, int r, double *g)
{
	double		x[TC],
				h[TH];

	dense_row(c, r, x);
	for (int j = 0; j < TH; j++)
	{
		double		a = c->G.b1[j];

		for (int i = 0; i < TC; i++)
			a += x[i] * c->G.W1[i * TH + j];
		for (int z = 0; z < TZ; z++)
			a += (double) c->noise[r * TZ + z] * c->G.W1[(TC + z) * TH + j];
		h[j] = sig(a);
	}
	for (int o = 0; o < TC; o++)
	{
		double		s = c->G.b2[o];

		for (int j = 0; j < TH; j++)
			s += h[j] * c->G.W2[o * TH + j];
		g[o] = s;
	}
}

/* Reference discriminator logit D(x, v). */
static double
ref_discriminator(const StepCtx *c, const double *x, const double *v)
{
	double		out = c->D.c2[0];

	for (int k = 0; k < TK; k++)
	{
		double		a = c->D.c1[k];

		for (int i = 0; i < TC; i++)
			a += x[i] * c->D.V1[i * TK + k] + v[i] * c->D.V1[(TC + i) * TK + k];
		out += sig(a) * c->D.v2[k];
	}
	return out;
}

/* Reference condition x, generator output g and fake f = g * mask of row r. */
static void
ref_row(const StepCtx *c, int r, double *x, double *g, double *f)
{
	dense_row(c, r, x);
	ref_generator(c, r, g);
	for (int i = 0; i < TC; i++)
		f[i] = g[i] * c->mask[r * TC + i];
}

/* Reference D loss: mean BCE(D(x, x), 1) + mean BCE(D(x, g * mask), 0). */
static double
ref_d_loss(void *arg)
{
	StepCtx    *c = arg;
	double		x[TC],
				g[TC],
				f[TC],
				sum = 0.0;

	for (int r = 0; r < TB; r++)
	{
		ref_row(c, r, x, g, f);
		sum += softplus(-ref_discriminator(c, x, x)) + softplus(ref_discriminator(c, x, f));
	}
	return sum / TB;
}

/* Reference G loss: mean BCE(D(x, g * mask), 1) + w (1/B) sum zr g^2. */
static double
ref_g_loss(void *arg)
{
	StepCtx    *c = arg;
	double		x[TC],
				g[TC],
				f[TC],
				adv = 0.0,
				zr = 0.0;

	for (int r = 0; r < TB; r++)
	{
		ref_row(c, r, x, g, f);
		for (int i = 0; i < TC; i++)
			zr += c->zr[r * TC + i] * g[i] * g[i];
		adv += softplus(-ref_discriminator(c, x, f));
	}
	return adv / TB + c->zr_weight * zr / TB;
}

/* Random parameters, a CSR with an empty row, a repeated batch row, masks. */
static void
step_setup(StepCtx *c, uint64_t seed)
{
	static const int32_t rows[TB] = {3, 0, 4, 0};
	Rng			rng;
	int64_t		nnz = 0;

	memset(c, 0, sizeof(*c));
	rng_seed(&rng, seed);
	fill_normal(c->gp, lengthof(c->gp), 0.6, &rng);
	fill_normal(c->dp, lengthof(c->dp), 0.6, &rng);
	cfgan_g_point(&c->G, c->gp, &tdims);
	cfgan_g_point(&c->dG, c->gg, &tdims);
	cfgan_d_point(&c->D, c->dp, &tdims);
	cfgan_d_point(&c->dD, c->dg, &tdims);
	for (int e = 0; e < TE; e++)
	{
		c->indptr[e] = nnz;
		for (int i = 0; e != 2 && i < TC; i++)
			if (rng_uniform(&rng) < 0.4)
				c->indices[nnz++] = i;
	}
	c->indptr[TE] = nnz;
	memcpy(c->rows, rows, sizeof(rows));
	fill_normal(c->noise, TB * TZ, 1.0, &rng);
	for (int r = 0; r < TB; r++)
		for (int i = 0; i < TC; i++)
		{
			double		u = rng_uniform(&rng);

			c->mask[r * TC + i] = u < 0.5 ? 1.0f : 0.0f;
			c->zr[r * TC + i] = u > 0.6 ? 1.0f : 0.0f;
		}
	for (int r = 0; r < TB; r++)
		for (int64_t p = c->indptr[rows[r]]; p < c->indptr[rows[r] + 1]; p++)
		{
			c->mask[r * TC + c->indices[p]] = 1.0f;
			c->zr[r * TC + c->indices[p]] = 0.0f;
		}
	cfgan_cache_init(&c->cache, c->cache_mem, &tdims, TB);
	c->batch = (CfganBatch) {TB, c->indptr, c->indices, c->rows, c->noise, c->mask, c->zr, NULL};
	c->zr_weight = 0.5;
}

/* Fast D step loss (its gradient goes to a throwaway buffer). */
static double
fast_d_loss(StepCtx *c)
{
	memset(c->dg, 0, sizeof(c->dg));
	return cfgan_d_step(&c->dD, &c->cache, &c->batch, &c->G, &c->D, &tdims);
}

/* Fast G step loss. */
static double
fast_g_loss(StepCtx *c)
{
	memset(c->gg, 0, sizeof(c->gg));
	return cfgan_g_step(&c->dG, NULL, &c->cache, &c->batch, &c->G, &c->D, &tdims,
						c->zr_weight);
}

/* Both steps give the reference losses and the reference generator output. */
static void
test_steps_match_reference(void)
{
	static StepCtx c;
	double		g[TC],
				err = 0.0;

	step_setup(&c, 3);
	CHECK_CLOSE(fast_d_loss(&c), ref_d_loss(&c), 1e-5, "D step loss vs reference");
	CHECK_CLOSE(fast_g_loss(&c), ref_g_loss(&c), 1e-5, "G step loss vs reference");
	for (int r = 0; r < TB; r++)
	{
		ref_generator(&c, r, g);
		for (int i = 0; i < TC; i++)
			err = fmax(err, fabs(g[i] - c.cache.g[r * TC + i]));
	}
	CHECK(err < 1e-5, "generator output differs from the reference by %g", err);

	/* without noise, the hidden layer alone equals the forward's */
	{
		float		h[TB * TH];

		c.batch.noise = NULL;
		cfgan_generator_forward(&c.cache, &c.batch, &c.G, &tdims);
		cfgan_generator_hidden(h, c.indptr, c.indices, c.rows, TB, &c.G, &tdims);
		CHECK(memcmp(h, c.cache.h, sizeof(h)) == 0, "cfgan_generator_hidden differs");
	}
}

/* Every D parameter's gradient against finite differences of the reference. */
static void
test_d_gradient(void)
{
	static StepCtx c;
	float		analytic[sizeof(c.dg) / sizeof(float)];
	int64_t		n = (int64_t) (sizeof(c.dg) / sizeof(float));

	step_setup(&c, 5);
	fast_d_loss(&c);
	memcpy(analytic, c.dg, sizeof(analytic));
	CHECK(n == cfgan_d_count(&tdims), "D count %lld", (long long) cfgan_d_count(&tdims));
	grad_check("cfgan D step (65 params)", ref_d_loss, &c, c.dp, analytic, n, 1e-3f);
}

/* Every G parameter's gradient (noise rows and ZR term included). */
static void
test_g_gradient(void)
{
	static StepCtx c;
	float		analytic[sizeof(c.gg) / sizeof(float)];
	int64_t		n = (int64_t) (sizeof(c.gg) / sizeof(float));
	double		zr;

	step_setup(&c, 7);
	fast_g_loss(&c);
	memcpy(analytic, c.gg, sizeof(analytic));
	CHECK(n == cfgan_g_count(&tdims), "G count %lld", (long long) cfgan_g_count(&tdims));
	grad_check("cfgan G step (92 params)", ref_g_loss, &c, c.gp, analytic, n, 1e-3f);

	/* the ZR term alone: zr_weight 0 leaves the adversarial part */
	c.zr_weight = 0.0;
	memset(c.gg, 0, sizeof(c.gg));
	cfgan_g_step(&c.dG, &zr, &c.cache, &c.batch, &c.G, &c.D, &tdims, 0.0);
	CHECK(zr > 0.0, "ZR term is %g", zr);
	grad_check("cfgan G step, zr_weight 0", ref_g_loss, &c, c.gp, c.gg, n, 1e-3f);
}

/* Parameter gradients accumulate; a step reads its parameters only. */
static void
test_accumulate(void)
{
	static StepCtx c;
	float		once[sizeof(c.dg) / sizeof(float)],
				before[sizeof(c.dp) / sizeof(float)];
	double		err = 0.0;

	step_setup(&c, 9);
	memcpy(before, c.dp, sizeof(before));
	fast_d_loss(&c);
	memcpy(once, c.dg, sizeof(once));
	cfgan_d_step(&c.dD, &c.cache, &c.batch, &c.G, &c.D, &tdims);
	for (size_t i = 0; i < lengthof(once); i++)
		err = fmax(err, fabs((double) c.dg[i] - 2.0 * once[i]));
	CHECK(err < 1e-6, "second D step did not add the same gradient (%g)", err);
	fast_g_loss(&c);
	CHECK(memcmp(before, c.dp, sizeof(before)) == 0, "a step changed the discriminator");
}

/* ---- Trainer */

/* A clustered data set: entity e likes items of its cluster with prob. 0.6. */
typedef struct Clustered
{
	int32_t		E,
				C;
	int64_t    *indptr;
	int32_t    *indices;
	int32_t    *held;			/* (E) a held-out liked item, -1 if none */
} Clustered;

/* Generate E entities over C items in `clusters` clusters. */
static void
make_clustered(Clustered *d, int32_t E, int32_t C, int clusters, uint64_t seed)
{
	Rng			rng;
	int64_t		nnz = 0;

	rng_seed(&rng, seed);
	d->E = E;
	d->C = C;
	d->indptr = malloc(sizeof(int64_t) * (E + 1));
	d->indices = malloc(sizeof(int32_t) * (size_t) E * C);
	d->held = malloc(sizeof(int32_t) * E);
	for (int32_t e = 0; e < E; e++)
	{
		int			k = e % clusters;

		d->indptr[e] = nnz;
		d->held[e] = -1;
		for (int32_t i = 0; i < C; i++)
		{
			int			in = i % clusters == k;

			if (rng_uniform(&rng) >= (in ? 0.6 : 0.03))
				continue;
			if (in && d->held[e] < 0 && rng_uniform(&rng) < 0.5)
				d->held[e] = i; /* held out: not a training positive */
			else
				d->indices[nnz++] = i;
		}
	}
	d->indptr[E] = nnz;
}

static void
free_clustered(Clustered *d)
{
	free(d->indptr);
	free(d->indices);
	free(d->held);
}

/* The reference code's ML-100K settings, scaled to a toy. */
static CfganConfig
toy_config(int32_t C)
{
	CfganConfig cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.dims = (CfganDims) {C, 0, 16, 8};
	cfg.batch_g = 8;
	cfg.batch_d = 16;
	cfg.steps_g = 4;
	cfg.steps_d = 2;
	cfg.zr_ratio = 70;
	cfg.pm_ratio = 70;
	cfg.zr_weight = 0.03;
	cfg.adam_g = (AdamConfig) {1e-3, 0.9, 0.999, 1e-8, 1e-3, 0.0};
	cfg.adam_d = (AdamConfig) {1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0};
	return cfg;
}

/*
 * The trainer's two shortcuts against the plain path, one epoch each from
 * the same seed: the fused G update (Adam applied as W2's tiles and W1's
 * rows form) gives the bits of cfgan_g_step then adam_update_zero, with C
 * below and above the 48-row tile; the D passes' precomputed fakes give the
 * numbers of a generator forward per D batch up to the GEMM's rounding (a
 * row's bits depend on its place in the product); neither is used with
 * noise; the fakes only while E C is at most 4 floats per parameter.
 */
static void
test_trainer_paths(void)
{
	const int32_t widths[] = {30, 130};

	for (size_t w = 0; w < lengthof(widths); w++)
	{
		Clustered	data;
		CfganConfig cfg;
		CfganTrainer t[3];
		CfganEpochStats st[3];
		size_t		bytes;
		void	   *mem[3];
		int64_t		n;

		make_clustered(&data, 57, widths[w], 3, 29 + w);
		cfg = toy_config(data.C);
		bytes = cfgan_trainer_bytes(&cfg, data.E);
		for (int k = 0; k < 3; k++)
		{
			mem[k] = malloc(bytes);
			CHECK(cfgan_trainer_init(&t[k], &cfg, data.E, data.indptr, data.indices, 11,
									 mem[k], bytes) == 0, "trainer init %d", k);
		}
		CHECK(t[0].fused_g_update && t[0].fakes != NULL, "C %d: shortcuts off", data.C);
		t[1].fused_g_update = false;	/* cfgan_g_step, then Adam */
		t[2].fakes = NULL;			/* a generator forward per D batch */
		for (int k = 0; k < 3; k++)
			cfgan_train_epoch(&t[k], &st[k], NULL, NULL);
		n = t[0].g_arena.n;
		CHECK(memcmp(t[0].g_arena.params, t[1].g_arena.params, sizeof(float) * n) == 0 &&
			  memcmp(t[0].g_adam.m, t[1].g_adam.m, sizeof(float) * n) == 0 &&
			  memcmp(t[0].g_adam.v, t[1].g_adam.v, sizeof(float) * n) == 0 &&
			  memcmp(t[0].d_arena.params, t[1].d_arena.params,
					 sizeof(float) * t[0].d_arena.n) == 0,
			  "C %d: the fused G update differs from the plain one (max %g)", data.C,
			  max_abs_diff(t[0].g_arena.params, t[1].g_arena.params, n));
		CHECK(st[0].g_loss == st[1].g_loss && st[0].d_loss == st[1].d_loss &&
			  st[0].flops == st[1].flops, "C %d: fused epoch stats differ", data.C);
		/* on two threads: the same bits again */
		CHECK(cfgan_trainer_init(&t[1], &cfg, data.E, data.indptr, data.indices, 11,
								 mem[1], bytes) == 0, "trainer init again");
		parallel_set_threads(2);
		cfgan_train_epoch(&t[1], &st[1], NULL, NULL);
		parallel_set_threads(1);
		CHECK(t[1].fused_g_update &&
			  memcmp(t[0].g_arena.params, t[1].g_arena.params, sizeof(float) * n) == 0 &&
			  st[0].g_loss == st[1].g_loss,
			  "C %d: two threads differ from the fused update on one", data.C);
		CHECK(max_abs_diff(t[0].g_arena.params, t[2].g_arena.params, n) < 1e-5 &&
			  max_abs_diff(t[0].d_arena.params, t[2].d_arena.params, t[0].d_arena.n) < 1e-5 &&
			  fabs(st[0].d_loss - st[2].d_loss) < 1e-5,
			  "C %d: precomputed fakes change training: G %g, D %g, D loss %g vs %g", data.C,
			  max_abs_diff(t[0].g_arena.params, t[2].g_arena.params, n),
			  max_abs_diff(t[0].d_arena.params, t[2].d_arena.params, t[0].d_arena.n),
			  st[0].d_loss, st[2].d_loss);
		/* the fakes save the generator's products in all but the first D pass */
		CHECK(fabs(st[2].flops - st[0].flops -
				   (cfg.steps_d - 1) * 2.0 * data.E * cfg.dims.H * data.C) < 1.0,
			  "C %d: flops %g with fakes, %g without", data.C, st[0].flops, st[2].flops);
		for (int k = 0; k < 3; k++)
			free(mem[k]);
		free_clustered(&data);
	}

	/* noise: neither shortcut; E C above 4 floats per parameter: no fakes */
	{
		Clustered	data;
		CfganConfig cfg;
		CfganTrainer tn;
		void	   *mem;
		size_t		bytes;

		make_clustered(&data, 260, 30, 3, 31);
		cfg = toy_config(data.C);
		CHECK((double) data.E * data.C > 4.0 * (cfgan_g_count(&cfg.dims) + cfgan_d_count(&cfg.dims)),
			  "the case is not above the fakes' limit");
		bytes = cfgan_trainer_bytes(&cfg, data.E);
		mem = malloc(bytes);
		CHECK(cfgan_trainer_init(&tn, &cfg, data.E, data.indptr, data.indices, 3, mem, bytes) == 0 &&
			  tn.fakes == NULL && tn.fused_g_update, "E %d: fakes above the limit", data.E);
		free(mem);
		cfg.dims.Z = 2;
		bytes = cfgan_trainer_bytes(&cfg, 57);
		mem = malloc(bytes);
		CHECK(cfgan_trainer_init(&tn, &cfg, 57, data.indptr, data.indices, 3, mem, bytes) == 0 &&
			  tn.fakes == NULL && !tn.fused_g_update, "noise: a shortcut is on");
		free(mem);
		free_clustered(&data);
	}
}

/* Set the option called key of algorithm ops in opt. */
static void
set_option(const ModelOps *ops, double *opt, const char *key, double value)
{
	for (int i = 0; i < ops->n_options; i++)
		if (strcmp(ops->options[i].key, key) == 0)
		{
			opt[i] = value;
			return;
		}
	CHECK(false, "no option %s", key);
}

/*
 * Item mode trains only the items with a purchase (alg_cfgan.c): on the
 * same users, a catalogue with three items nobody liked gives the generator
 * of the catalogue without them, bit for bit (its weights are over users;
 * the trainer sees the same entities in the same order).
 */
static void
test_alg_skips_empty_items(void)
{
	enum
	{
		NU = 40, NI = 30
	};
	const ModelOps *ops = model_ops_by_name("cfgan");
	double		opt[RECGAN_MAX_OPTIONS];
	int64_t		indptr[2][NU + 1];
	int32_t		indices[2][NU * NI];
	Csr			csr[2];
	Model		m[2];
	Rng			rng;

	rng_seed(&rng, 19);
	indptr[0][0] = indptr[1][0] = 0;
	for (int u = 0; u < NU; u++)
	{
		int64_t		n0 = indptr[0][u],
					n1 = indptr[1][u];

		for (int i = 0, kept = 0; i < NI; i++)
		{
			bool		empty = i == 5 || i == 17 || i == NI - 1;

			if (!empty && rng_uniform(&rng) < 0.25)
			{
				indices[0][n0++] = i;
				indices[1][n1++] = kept;
			}
			kept += !empty;
		}
		indptr[0][u + 1] = n0;
		indptr[1][u + 1] = n1;
	}
	for (int k = 0; k < 2; k++)
	{
		csr[k] = (Csr) {NU, k == 0 ? NI : NI - 3, indptr[k], indices[k]};
		for (int i = 0; i < ops->n_options; i++)
			opt[i] = ops->options[i].defval;
		set_option(ops, opt, "hidden_g", 8);
		set_option(ops, opt, "hidden_d", 4);
		set_option(ops, opt, "batch_g", 4);
		set_option(ops, opt, "batch_d", 8);
		set_option(ops, opt, "epochs", 3);
		set_option(ops, opt, "patience", 0);
		set_option(ops, opt, "validation_fraction", 0);
		CHECK(unit_train(&m[k], "cfgan", &csr[k], opt, 7) == RG_OK, "train %d", k);
	}
	CHECK(m[0].n_tensors == 4 && m[1].n_tensors == 4, "tensors");
	for (int t = 0; t < 4; t++)
		CHECK(m[0].tensors[t].len == m[1].tensors[t].len &&
			  memcmp(m[0].tensors[t].data, m[1].tensors[t].data,
					 sizeof(float) * m[0].tensors[t].len) == 0,
			  "tensor %d differs with the empty items (max %g)", t,
			  max_abs_diff(m[0].tensors[t].data, m[1].tensors[t].data,
						   RG_MIN(m[0].tensors[t].len, m[1].tensors[t].len)));
}

/* Count hook calls. */
static void
count_batches(void *arg, double loss)
{
	int		   *n = arg;

	(*n)++;
	CHECK(isfinite(loss), "batch loss %g", loss);
}

/* Layout, init bounds, sample counts, the batch schedule, determinism. */
static void
test_trainer_schedule(void)
{
	Clustered	data;
	CfganConfig cfg;
	CfganTrainer t1,
				t2;
	CfganEpochStats st;
	size_t		bytes;
	void	   *m1,
			   *m2;
	int			batches = 0,
				bad_bits = 0;
	float		bound;

	make_clustered(&data, 21, 30, 3, 17);
	cfg = toy_config(data.C);
	bytes = cfgan_trainer_bytes(&cfg, data.E);
	CHECK(bytes > 0, "trainer bytes");
	m1 = malloc(bytes);
	m2 = malloc(bytes);
	CHECK(cfgan_trainer_init(&t1, &cfg, data.E, data.indptr, data.indices, 5, m1, bytes - 1) == -1,
		  "init accepts too little memory");
	CHECK(cfgan_trainer_init(&t1, &cfg, data.E, data.indptr, data.indices, 5, m1, bytes) == 0,
		  "trainer init");
	CHECK(cfgan_trainer_init(&t2, &cfg, data.E, data.indptr, data.indices, 5, m2, bytes) == 0,
		  "trainer init 2");
	bound = sqrtf(6.0f / (data.C + 16));
	for (int64_t i = 0; i < (int64_t) data.C * 16; i++)
		bad_bits += fabsf(t1.G.W1[i]) > bound;
	for (int i = 0; i < 16; i++)
		bad_bits += fabsf(t1.G.b1[i]) > 0.01f;
	CHECK(bad_bits == 0, "%d initial weights out of their bounds", bad_bits);

	cfgan_train_epoch(&t1, &st, count_batches, &batches);
	/* 2 D passes of ceil(21 / 16) = 2 batches, 4 G passes of ceil(21 / 8) = 3 */
	CHECK(batches == 2 * 2 + 4 * 3, "epoch ran %d batches", batches);
	CHECK(t1.g_adam.step == 12 && t1.d_adam.step == 4, "Adam steps %lld G, %lld D",
		  (long long) t1.g_adam.step, (long long) t1.d_adam.step);
	CHECK(isfinite(st.g_loss) && isfinite(st.d_loss) && st.flops > 0, "epoch stats");

	/* samples: floor(0.7 n) unobserved entries each, never a purchase */
	bad_bits = 0;
	for (int32_t e = 0; e < data.E; e++)
	{
		int32_t		n_un = data.C - (int32_t) (data.indptr[e + 1] - data.indptr[e]);
		int			zr = 0,
					pm = 0;

		for (int32_t i = 0; i < data.C; i++)
		{
			zr += (t1.zr_bits[e] >> i) & 1;
			pm += (t1.pm_bits[e] >> i) & 1;
		}
		bad_bits += zr != (int) floor(0.7 * n_un) || pm != (int) floor(0.7 * n_un);
		for (int64_t p = data.indptr[e]; p < data.indptr[e + 1]; p++)
			bad_bits += (int) (((t1.zr_bits[e] | t1.pm_bits[e]) >> data.indices[p]) & 1);
	}
	CHECK(bad_bits == 0, "%d entities with wrong ZR / PM samples", bad_bits);

	/* the same seed gives the same weights, bit for bit */
	cfgan_train_epoch(&t2, &st, NULL, NULL);
	CHECK(memcmp(t1.g_arena.params, t2.g_arena.params,
				 sizeof(float) * t1.g_arena.n) == 0, "same seed, different generator");
	CHECK(cfgan_trainer_init(&t2, &cfg, data.E, data.indptr, data.indices, 6, m2, bytes) == 0,
		  "trainer init 3");
	cfgan_train_epoch(&t2, &st, NULL, NULL);
	CHECK(memcmp(t1.g_arena.params, t2.g_arena.params,
				 sizeof(float) * t1.g_arena.n) != 0, "another seed, same generator");
	free(m1);
	free(m2);
	free_clustered(&data);
}

/*
 * Cluster AUC: over every entity, the fraction of (in-cluster, out-of-cluster)
 * pairs of its non-purchased items that the generator orders correctly
 * (0.5 for a random scorer, 1 for one that learnt the clusters).
 */
static double
cluster_auc(CfganTrainer *t, const Clustered *data, int clusters)
{
	const CfganDims *d = &t->cfg.dims;
	float	   *h = malloc(sizeof(float) * (size_t) data->E * d->H);
	float	   *g = malloc(sizeof(float) * (size_t) data->E * d->C);
	double		good = 0.0,
				pairs = 0.0;

	cfgan_generator_hidden(h, data->indptr, data->indices, NULL, data->E, &t->G, d);
	linear_forward(g, h, t->G.W2, t->G.b2, data->E, d->H, d->C);
	for (int32_t e = 0; e < data->E; e++)
	{
		float	   *row = g + (int64_t) e * d->C;

		for (int64_t p = data->indptr[e]; p < data->indptr[e + 1]; p++)
			row[data->indices[p]] = NAN;
		for (int32_t i = 0; i < d->C; i++)
			for (int32_t j = 0; j < d->C; j++)
				if (i % clusters == e % clusters && j % clusters != e % clusters &&
					!isnan(row[i]) && !isnan(row[j]))
				{
					good += row[i] > row[j] ? 1.0 : row[i] == row[j] ? 0.5 : 0.0;
					pairs += 1.0;
				}
	}
	free(h);
	free(g);
	return good / pairs;
}

/*
 * A toy training learns: 90 entities in 3 clusters over 60 items (each
 * likes ~60 % of its cluster's items and ~3 % of the others); after 60
 * epochs the generator ranks the unseen items of an entity's own cluster
 * above the others.
 */
static void
test_trainer_learns(void)
{
	Clustered	data;
	CfganConfig cfg;
	CfganTrainer t;
	CfganEpochStats st;
	size_t		bytes;
	void	   *mem;
	double		before,
				after;

	make_clustered(&data, 90, 60, 3, 23);
	cfg = toy_config(data.C);
	bytes = cfgan_trainer_bytes(&cfg, data.E);
	mem = malloc(bytes);
	CHECK(cfgan_trainer_init(&t, &cfg, data.E, data.indptr, data.indices, 42, mem, bytes) == 0,
		  "trainer init");
	before = cluster_auc(&t, &data, 3);
	for (int epoch = 0; epoch < 60; epoch++)
		cfgan_train_epoch(&t, &st, NULL, NULL);
	after = cluster_auc(&t, &data, 3);
	printf("     toy CFGAN cluster AUC %.3f -> %.3f after 60 epochs (G loss %.3f, D loss %.3f)\n",
		   before, after, st.g_loss, st.d_loss);
	CHECK(after >= 0.9, "toy CFGAN cluster AUC only %.3f", after);
	free(mem);
	free_clustered(&data);
}

int
main(void)
{
	rg_host_malloc();
	RUN(test_steps_match_reference);
	RUN(test_d_gradient);
	RUN(test_g_gradient);
	RUN(test_accumulate);
	RUN(test_trainer_schedule);
	RUN(test_trainer_paths);
	RUN(test_alg_skips_empty_items);
	RUN(test_trainer_learns);
	return unit_summary();
}
