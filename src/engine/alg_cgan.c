/*
 * alg_cgan.c
 *	  The embedding-based conditional GAN recommender of the seed project,
 *	  with a generator that learns.
 *
 * Legend: U users, I items, E generator user embedding, Z noise, H
 * generator hidden units, F discriminator embedding, K discriminator
 * hidden units, Bu users in a batch, B pairs in a batch, S samples per
 * user (REINFORCE), Q queries.
 *
 *	 generator		G(u, z) = W2 relu(W1 [e_u, z] + b1) + b2	(I) logits; z ~ N(0, s^2)^Z
 *	 discriminator	D(u, v) = v2 . leaky_relu(V1 [d_u, v] + c1, 0.2) + c2, v an item
 *					embedding f_i (F), or a mix of them
 *
 * The seed drew the generator's item with a multinomial sample and fed its
 * index to the discriminator, so no gradient reached the generator: its
 * weights stayed at their initial values and its recommendations were
 * random.  Here the generator gets a real gradient (generator_gradient):
 *
 *	- 'reinforce' (IRGAN, Wang et al., SIGIR 2017): S items j ~ softmax(G(u,
 *	  z)) per user, reward r = sigmoid(D(u, f_j)), baseline the mean reward of
 *	  the user's S samples; the policy gradient of -(r - b) log p(j) flows
 *	  into the logits (ncfnet.h reinforce_backward).
 *	- 'gumbel' (Jang et al., ICLR 2017): y = softmax((G(u, z) + g) / tau), g
 *	  Gumbel noise, and the discriminator sees the soft item embedding y F;
 *	  the generator minimises softplus(-D(u, y F)) (the non-saturating GAN
 *	  loss) through the frozen discriminator, y and the softmax.
 *
 * An epoch is one discriminator pass and g_steps generator passes.  The
 * discriminator pass takes every fitted positive (u, i) as real and one
 * negative per positive as fake: with probability generated_fraction an
 * item drawn from the generator's distribution over the user's
 * non-positives, else a uniform non-positive; BCE, Adam.  A generator pass
 * takes every user once, in batches.
 *
 * Maximum-likelihood warm start (mle_epochs, default 40): before the
 * adversarial epochs each run fits the generator alone to the positives by
 * the multinomial likelihood, -(1/n_u) sum_{i in I_u} log softmax(G(u,
 * z))_i per user, with Adam at lr_mle.  It is not validated; the shared
 * loop validates and early-stops the adversarial epochs that follow, so
 * the stored model is the warm start moved by at least one adversarial
 * epoch.  g_steps 0 keeps the generator fixed during the adversarial phase
 * (the warm start alone; with mle_epochs 0 as well, the seed's untrained
 * generator).
 *
 * Defaults beyond the seed's architecture (mle_epochs 40, reg 3e-4, the
 * rest as listed) were chosen on a validation split carved from
 * MovieLens-100K u1.base (recgan_split(..., 'random', 0.2, 7): fit on 80 %,
 * NDCG@10 on the other 20 %, seeds 42-44), never on u1.test.  There the
 * warm start alone scores 0.188 and the adversarial epochs lift it to
 * 0.198; without weight decay the generator overfits its warm start (longer
 * warm starts got worse) and the adversarial phase adds almost nothing.
 *
 * Scoring: the mean of the generator's logits over score_samples noise
 * vectors, drawn from an Rng seeded with the model's seed, so a model
 * always gives the same scores; mean logits = W2 mean_s(hidden_s) + b2,
 * one sgemm per block.  Fold-in: not supported (the generator is
 * conditioned on a trained user embedding): recgan_recommend_items raises
 * FEATURE_NOT_SUPPORTED.  Similar items: cosine of the rows of W2.
 *
 * Tensors (the generator only): 0 = Eg (U, E), 1 = W1 (H, E + Z), 2 = b1
 * (H), 3 = W2 (I, H), 4 = b2 (I).
 */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "model.h"
#include "trainloop.h"
#include "ncfnet.h"
#include "optim.h"

enum
{
	/* needed to score: stored in the model header, so first */
	OPT_EMBED,
	OPT_NOISE,
	OPT_NOISE_STD,
	OPT_HIDDEN_G,
	OPT_SCORE_SAMPLES,
	/* training only */
	OPT_EMBED_D,
	OPT_HIDDEN_D,
	OPT_GRADIENT,
	OPT_TEMPERATURE,
	OPT_SAMPLES,
	OPT_GENERATED,
	OPT_LR_G,
	OPT_LR_D,
	OPT_LR_MLE,
	OPT_MLE_EPOCHS,
	OPT_G_STEPS,
	OPT_BATCH_USERS,
	OPT_BATCH_D,
	OPT_REG,
	OPT_LOOP					/* RECGAN_LOOP_OPTIONS */
};

#define GRADIENT_REINFORCE 0
#define GRADIENT_GUMBEL 1
#define LEAK 0.2f

static const OptionSpec cgan_options[] = {
	{"embed_dim", OPT_INT, 64, 1, 4096, NULL, "generator user embedding width"},
	{"noise_dim", OPT_INT, 32, 0, 4096, NULL, "N(0, 1) noise inputs of the generator"},
	{"noise_std", OPT_REAL, 0.1, 0, 100, NULL, "standard deviation of the noise"},
	{"hidden_g", OPT_INT, 256, 1, 100000, NULL, "generator hidden units (ReLU)"},
	{"score_samples", OPT_INT, 5, 1, 1000, NULL, "noise samples averaged when scoring"},
	{"embed_dim_d", OPT_INT, 64, 1, 4096, NULL, "discriminator user and item embedding width"},
	{"hidden_d", OPT_INT, 256, 1, 100000, NULL, "discriminator hidden units (LeakyReLU 0.2)"},
	{"generator_gradient", OPT_ENUM, GRADIENT_REINFORCE, 0, 0, "reinforce|gumbel",
	"how the discriminator's verdict reaches the generator"},
	{"temperature", OPT_REAL, 0.5, 1e-3, 100, NULL, "Gumbel-softmax temperature"},
	{"samples", OPT_INT, 16, 1, 10000, NULL, "items sampled per user for REINFORCE"},
	{"generated_fraction", OPT_REAL, 0.5, 0, 1, NULL,
	"share of the discriminator's negatives drawn from the generator (the rest uniform)"},
	{"lr_g", OPT_REAL, 1e-4, 1e-12, 10, NULL, "generator Adam learning rate (adversarial)"},
	{"lr_d", OPT_REAL, 1e-3, 1e-12, 10, NULL, "discriminator Adam learning rate"},
	{"lr_mle", OPT_REAL, 1e-3, 1e-12, 10, NULL, "generator Adam learning rate of the warm start"},
	{"mle_epochs", OPT_INT, 40, 0, 100000, NULL,
	"maximum-likelihood epochs of the generator before the adversarial ones (0: none)"},
	{"g_steps", OPT_INT, 1, 0, 1000, NULL,
	"generator passes per adversarial epoch (0: the generator stays fixed)"},
	{"batch_users", OPT_INT, 64, 1, 100000, NULL, "users per generator step"},
	{"batch_d", OPT_INT, 256, 1, 1000000, NULL, "pairs per discriminator step"},
	{"reg", OPT_REAL, 3e-4, 0, 1e6, NULL, "L2 weight decay of both networks"},
	RECGAN_LOOP_OPTIONS(50, 3),
};

/* Network dimensions. */
typedef struct CganDims
{
	int			n_users;		/* U */
	int			n_items;		/* I */
	int			E;
	int			Z;
	int			H;
	int			F;
	int			K;
} CganDims;

/* Generator weights (or gradients), pointers into an arena block. */
typedef struct CganG
{
	float	   *E;				/* (U, E) */
	float	   *W1;				/* (H, E + Z) */
	float	   *b1;				/* (H) */
	float	   *W2;				/* (I, H) */
	float	   *b2;				/* (I) */
} CganG;

/* Discriminator weights (or gradients). */
typedef struct CganD
{
	float	   *E;				/* (U, F) */
	float	   *F;				/* (I, F) */
	float	   *V1;				/* (K, 2F) */
	float	   *c1;				/* (K) */
	float	   *v2;				/* (K) as (1, K) */
	float	   *c2;				/* (1) */
} CganD;

/* Training state of one run. */
typedef struct CganState
{
	Model	   *model;
	CganDims	d;
	const Csr  *fit;
	const double *opt;
	ParamSpec	gspec[5];
	ParamSpec	dspec[6];
	ParamArena	ga;
	ParamArena	da;
	CganG		g,
				gg;				/* weights, gradients */
	CganD		dd,
				dg;
	AdamState	adam_g;
	AdamState	adam_d;
	AdamConfig	cfg_g;
	AdamConfig	cfg_d;
	int			Bu;
	int			B;
	int			S;
	/* generator batch buffers */
	int32_t	   *users;			/* (U) a permutation */
	float	   *gx;				/* (Bu, E + Z) */
	float	   *gh;				/* (Bu, H) */
	float	   *logits;			/* (Bu, I) */
	float	   *probs;			/* (Bu, I) */
	float	   *dlogits;		/* (Bu, I) */
	float	   *dgh;			/* (Bu, H) */
	float	   *dgx;			/* (Bu, E + Z) */
	/* discriminator batch buffers */
	int32_t	   *pu;				/* (P) pairs of a user batch */
	int32_t	   *pi;				/* (P) */
	float	   *pt;				/* (P) */
	int32_t	   *order;			/* (P) */
	int64_t		max_pairs;		/* P */
	int32_t	   *bu;				/* (max(B, Bu S)) */
	int32_t	   *bi;
	float	   *bt;
	float	   *dx;				/* (max(B, Bu S), 2F) */
	float	   *da1;			/* (max(B, Bu S), K) */
	float	   *ds;				/* (max(B, Bu S)) */
	float	   *dda;			/* (max(B, Bu S), K) */
	float	   *ddx;			/* (max(B, Bu S), 2F) */
	float	   *soft;			/* (Bu, F) */
	float	   *adv;			/* (Bu, S) */
	int32_t	   *samples;		/* (Bu, S) */
	Rng			rng;
} CganState;

/* Dimensions from the options. */
static CganDims
CganModelDims(const Model *model, const double *opt)
{
	CganDims	d;

	d.n_users = model->n_users;
	d.n_items = model->n_items;
	d.E = (int) opt[OPT_EMBED];
	d.Z = (int) opt[OPT_NOISE];
	d.H = (int) opt[OPT_HIDDEN_G];
	d.F = opt == model->hyper ? 0 : (int) opt[OPT_EMBED_D];
	d.K = opt == model->hyper ? 0 : (int) opt[OPT_HIDDEN_D];
	return d;
}

/* The generator's size table. */
static void
CganGSpecs(ParamSpec *s, const CganDims *d)
{
	s[0] = (ParamSpec) {"Eg", d->n_users, d->E};
	s[1] = (ParamSpec) {"W1", d->H, d->E + d->Z};
	s[2] = (ParamSpec) {"b1", d->H, 1};
	s[3] = (ParamSpec) {"W2", d->n_items, d->H};
	s[4] = (ParamSpec) {"b2", d->n_items, 1};
}

/* ---- Generator */

/* logits (Bu, I) of the users, with fresh noise drawn into gx. */
static void
GForward(CganState *st, const CganG *g, const int32_t *users, int Bu)
{
	const CganDims *d = &st->d;
	int			in = d->E + d->Z;

	for (int r = 0; r < Bu; r++)
	{
		float	   *x = st->gx + (size_t) r * in;

		memcpy(x, g->E + (size_t) users[r] * d->E, sizeof(float) * d->E);
		for (int k = 0; k < d->Z; k++)
			x[d->E + k] = (float) (st->opt[OPT_NOISE_STD] * rng_normal(&st->rng));
	}
	linear_forward(st->gh, st->gx, g->W1, g->b1, Bu, in, d->H);
	relu_forward(st->gh, st->gh, (int64_t) Bu * d->H);
	linear_forward(st->logits, st->gh, g->W2, g->b2, Bu, d->H, d->n_items);
}

/* From st->dlogits: accumulate the generator's gradients, then take an Adam step. */
static void
GBackwardStep(CganState *st, const int32_t *users, int Bu, const AdamConfig *cfg)
{
	const CganDims *d = &st->d;
	int			in = d->E + d->Z;

	linear_backward(st->dgh, st->gg.W2, st->gg.b2, st->dlogits, st->gh, st->g.W2, Bu, d->H,
					d->n_items);
	relu_backward(st->dgh, st->dgh, st->gh, (int64_t) Bu * d->H);
	linear_backward(st->dgx, st->gg.W1, st->gg.b1, st->dgh, st->gx, st->g.W1, Bu, in, d->H);
	for (int r = 0; r < Bu; r++)
		for (int k = 0; k < d->E; k++)
			st->gg.E[(size_t) users[r] * d->E + k] += st->dgx[(size_t) r * in + k];
	adam_update(st->ga.params, &st->adam_g, st->ga.grads, cfg);
	param_arena_zero_grad(&st->ga);
}

/* ---- Discriminator */

/* s (n) = D(u, v) for rows x = [d_u, v] already in st->dx. */
static void
DForwardX(CganState *st, int n)
{
	const CganDims *d = &st->d;

	linear_forward(st->da1, st->dx, st->dd.V1, st->dd.c1, n, 2 * d->F, d->K);
	leaky_relu_forward(st->da1, st->da1, LEAK, (int64_t) n * d->K);
	linear_forward(st->ds, st->da1, st->dd.v2, st->dd.c2, n, d->K, 1);
}

/* Fill st->dx with [d_u, f_i] for pairs (users, items). */
static void
DGather(CganState *st, const int32_t *users, const int32_t *items, int n)
{
	int			F = st->d.F;

	for (int r = 0; r < n; r++)
	{
		memcpy(st->dx + (size_t) r * 2 * F, st->dd.E + (size_t) users[r] * F, sizeof(float) * F);
		memcpy(st->dx + (size_t) r * 2 * F + F, st->dd.F + (size_t) items[r] * F, sizeof(float) * F);
	}
}

/*
 * Backward of D from ds into st->ddx (the input gradient); the parameter
 * gradients accumulate unless frozen.
 */
static void
DBackward(CganState *st, const float *ds, int n, bool frozen)
{
	const CganDims *d = &st->d;
	CganD	   *g = frozen ? NULL : &st->dg;

	linear_backward(st->dda, g ? g->v2 : NULL, g ? g->c2 : NULL, ds, st->da1, st->dd.v2, n,
					d->K, 1);
	leaky_relu_backward(st->dda, st->dda, st->da1, LEAK, (int64_t) n * d->K);
	linear_backward(st->ddx, g ? g->V1 : NULL, g ? g->c1 : NULL, st->dda, st->dx, st->dd.V1, n,
					2 * d->F, d->K);
}

/* One discriminator step on n pairs with targets; returns the BCE. */
static double
DStep(CganState *st, int n)
{
	int			F = st->d.F;
	double		loss;

	DGather(st, st->bu, st->bi, n);
	DForwardX(st, n);
	loss = bce_logits_loss(st->ds, st->ds, st->bt, NULL, n);
	DBackward(st, st->ds, n, false);
	for (int r = 0; r < n; r++)
		for (int k = 0; k < F; k++)
		{
			st->dg.E[(size_t) st->bu[r] * F + k] += st->ddx[(size_t) r * 2 * F + k];
			st->dg.F[(size_t) st->bi[r] * F + k] += st->ddx[(size_t) r * 2 * F + F + k];
		}
	adam_update(st->da.params, &st->adam_d, st->da.grads, &st->cfg_d);
	param_arena_zero_grad(&st->da);
	return loss;
}

/* An item from probability row p (I) restricted to non-positives: inverse CDF. */
static int32_t
SampleFrom(Rng *rng, const float *p, int n_items, const int32_t *pos, int32_t n_pos)
{
	double		total = 0.0,
				target,
				acc = 0.0;
	int32_t		h = 0,
				last = -1;

	for (int32_t j = 0; j < n_items; j++)
		total += p[j];
	for (int32_t k = 0; k < n_pos; k++)
		total -= p[pos[k]];
	target = rng_uniform(rng) * total;
	for (int32_t j = 0; j < n_items; j++)
	{
		if (h < n_pos && pos[h] == j)
		{
			h++;
			continue;
		}
		acc += p[j];
		last = j;
		if (acc > target)
			return j;
	}
	return last;
}

/*
 * The discriminator's pairs of users st->users[u0..u0+Bu) into pu, pi, pt:
 * each positive, then one negative (see the file comment); returns their count.
 */
static int64_t
DUserPairs(CganState *st, int u0, int Bu)
{
	const Csr  *fit = st->fit;
	int64_t		np = 0;
	double		gen = st->opt[OPT_GENERATED];

	GForward(st, &st->g, st->users + u0, Bu);
	softmax_rows(st->probs, st->logits, Bu, st->d.n_items);
	for (int r = 0; r < Bu; r++)
	{
		int32_t		u = st->users[u0 + r];
		const int32_t *row = CsrRow(fit, u);
		int32_t		n = CsrRowLen(fit, u);

		for (int32_t p = 0; p < n && n < st->d.n_items; p++)
		{
			st->pu[np] = u;
			st->pi[np] = row[p];
			st->pt[np++] = 1.0f;
			st->pu[np] = u;
			st->pi[np] = rng_uniform(&st->rng) < gen ?
				SampleFrom(&st->rng, st->probs + (size_t) r * st->d.n_items, st->d.n_items, row, n) :
				sample_negative(&st->rng, st->d.n_items, row, n);
			st->pt[np++] = 0.0f;
		}
	}
	return np;
}

/* The discriminator's pass (see the file comment); *mean gets its mean BCE. */
static RgStatus
DPass(CganState *st, TrainLoop *loop, double *mean)
{
	double		total = 0.0;
	int64_t		count = 0;

	sample_permutation(st->users, st->d.n_users, &st->rng);
	for (int u0 = 0; u0 < st->d.n_users; u0 += st->Bu)
	{
		int			Bu = RG_MIN(st->Bu, st->d.n_users - u0);
		int64_t		np = DUserPairs(st, u0, Bu);

		sample_permutation(st->order, np, &st->rng);
		for (int64_t s0 = 0; s0 < np; s0 += st->B)
		{
			int			n = (int) RG_MIN((int64_t) st->B, np - s0);
			double		loss;

			for (int b = 0; b < n; b++)
			{
				st->bu[b] = st->pu[st->order[s0 + b]];
				st->bi[b] = st->pi[st->order[s0 + b]];
				st->bt[b] = st->pt[st->order[s0 + b]];
			}
			loss = DStep(st, n);
			total += loss * n;
			count += n;
			RG_TRY(train_loop_batch(loop, loss));
		}
	}
	*mean = total / RG_MAX(count, 1);
	return RG_OK;
}

/* REINFORCE generator step for Bu users (logits computed); returns the mean reward. */
static double
GReinforce(CganState *st, const int32_t *users, int Bu)
{
	int			S = st->S,
				n_items = st->d.n_items;
	double		mean = 0.0;

	softmax_rows(st->probs, st->logits, Bu, n_items);
	for (int r = 0; r < Bu; r++)
		for (int k = 0; k < S; k++)
		{
			st->bu[r * S + k] = users[r];
			st->samples[r * S + k] = SampleFrom(&st->rng, st->probs + (size_t) r * n_items,
												n_items, NULL, 0);
		}
	DGather(st, st->bu, st->samples, Bu * S);
	DForwardX(st, Bu * S);
	for (int r = 0; r < Bu; r++)
	{
		double		base = 0.0;

		for (int k = 0; k < S; k++)
		{
			st->adv[r * S + k] = 1.0f / (1.0f + expf(-st->ds[r * S + k]));
			base += st->adv[r * S + k];
		}
		base /= S;
		mean += base;
		for (int k = 0; k < S; k++)
			st->adv[r * S + k] -= (float) base;
	}
	reinforce_backward(st->dlogits, st->probs, st->samples, st->adv, 1.0f / (Bu * S), Bu, S,
					   n_items);
	return mean / Bu;
}

/* Gumbel-softmax generator step for Bu users (logits computed); returns the G loss. */
static double
GGumbel(CganState *st, const int32_t *users, int Bu)
{
	const CganDims *d = &st->d;
	int			F = d->F,
				n_items = d->n_items;
	float		tau = (float) st->opt[OPT_TEMPERATURE];
	double		loss = 0.0;

	/* Gumbel noise into dlogits, then y into probs */
	for (size_t s = 0; s < (size_t) Bu * n_items; s++)
		st->dlogits[s] = (float) -log(-log(RG_MAX(rng_uniform(&st->rng), 1e-300)));
	gumbel_softmax_forward(st->probs, st->logits, st->dlogits, tau, Bu, n_items);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Bu, F, n_items, 1.0f, st->probs,
				n_items, st->dd.F, F, 0.0f, st->soft, F);
	for (int r = 0; r < Bu; r++)
	{
		memcpy(st->dx + (size_t) r * 2 * F, st->dd.E + (size_t) users[r] * F, sizeof(float) * F);
		memcpy(st->dx + (size_t) r * 2 * F + F, st->soft + (size_t) r * F, sizeof(float) * F);
	}
	DForwardX(st, Bu);
	/* non-saturating loss softplus(-s): the BCE of s against 1 */
	for (int r = 0; r < Bu; r++)
		st->bt[r] = 1.0f;
	loss = bce_logits_loss(st->ds, st->ds, st->bt, NULL, Bu);
	DBackward(st, st->ds, Bu, true);
	for (int r = 0; r < Bu; r++)
		memcpy(st->soft + (size_t) r * F, st->ddx + (size_t) r * 2 * F + F, sizeof(float) * F);
	/* dy (Bu, I) = dsoft F^T, into dgh's place would be too small: use dlogits as dy */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Bu, n_items, F, 1.0f, st->soft, F,
				st->dd.F, F, 0.0f, st->dlogits, n_items);
	gumbel_softmax_backward(st->dlogits, st->dlogits, st->probs, tau, Bu, n_items);
	return loss;
}

/* One adversarial generator pass over all users; *mean gets the mean G objective. */
static RgStatus
GPass(CganState *st, TrainLoop *loop, double *mean)
{
	double		total = 0.0;
	bool		gumbel = st->opt[OPT_GRADIENT] == GRADIENT_GUMBEL;

	sample_permutation(st->users, st->d.n_users, &st->rng);
	for (int u0 = 0; u0 < st->d.n_users; u0 += st->Bu)
	{
		int			Bu = RG_MIN(st->Bu, st->d.n_users - u0);
		const int32_t *users = st->users + u0;
		double		v;

		GForward(st, &st->g, users, Bu);
		v = gumbel ? GGumbel(st, users, Bu) : GReinforce(st, users, Bu);
		GBackwardStep(st, users, Bu, &st->cfg_g);
		total += v * Bu;
		RG_TRY(train_loop_batch(loop, v));
	}
	*mean = total / RG_MAX(st->d.n_users, 1);
	return RG_OK;
}

/* One maximum-likelihood pass of the generator; *mean gets the mean NLL per positive. */
static RgStatus
MlePass(CganState *st, TrainLoop *loop, const AdamConfig *cfg, double *mean)
{
	int			n_items = st->d.n_items;
	double		total = 0.0;

	sample_permutation(st->users, st->d.n_users, &st->rng);
	for (int u0 = 0; u0 < st->d.n_users; u0 += st->Bu)
	{
		int			Bu = RG_MIN(st->Bu, st->d.n_users - u0);
		const int32_t *users = st->users + u0;
		double		loss = 0.0;
		int			counted = 0;

		GForward(st, &st->g, users, Bu);
		softmax_rows(st->probs, st->logits, Bu, n_items);
		for (int r = 0; r < Bu; r++)
		{
			const int32_t *row = CsrRow(st->fit, users[r]);
			int32_t		n = CsrRowLen(st->fit, users[r]);
			float	   *dl = st->dlogits + (size_t) r * n_items;
			const float *p = st->probs + (size_t) r * n_items;

			for (int j = 0; j < n_items; j++)
				dl[j] = n > 0 ? p[j] / Bu : 0.0f;
			for (int32_t k = 0; k < n; k++)
			{
				dl[row[k]] -= 1.0f / ((float) n * Bu);
				loss -= log(RG_MAX(p[row[k]], 1e-30)) / n;
			}
			counted += n > 0;
		}
		GBackwardStep(st, users, Bu, cfg);
		loss /= RG_MAX(counted, 1);
		total += loss * Bu;
		RG_TRY(train_loop_batch(loop, loss));
	}
	*mean = total / RG_MAX(st->d.n_users, 1);
	return RG_OK;
}

/* Dimensions, batch sizes and the most pairs a user batch can give. */
static void
CganShape(CganState *st, Model *model, const double *opt, const Csr *fit)
{
	CganDims   *d = &st->d;
	int64_t		max_n = 0;

	st->model = model;
	st->fit = fit;
	st->opt = opt;
	*d = CganModelDims(model, opt);
	st->Bu = RG_MIN((int) opt[OPT_BATCH_USERS], RG_MAX(d->n_users, 1));
	st->B = (int) opt[OPT_BATCH_D];
	st->S = (int) opt[OPT_SAMPLES];
	for (int32_t u = 0; u < fit->n_rows; u++)
		max_n = RG_MAX(max_n, CsrRowLen(fit, u));
	st->max_pairs = 2 * (int64_t) st->Bu * max_n;
}

/* Rows of the discriminator's batch buffers: max(B, Bu S). */
static int
CganRows(const CganState *st)
{
	return RG_MAX(st->B, st->Bu * st->S);
}

/* Size tables of both networks; refuse what cannot be allocated or exceeds the limit. */
static RgStatus
CganCheckSize(CganState *st, TrainLoop *loop, size_t *gbytes, size_t *dbytes)
{
	const CganDims *d = &st->d;
	int			rows = CganRows(st);
	double		buf;

	CganGSpecs(st->gspec, d);
	st->dspec[0] = (ParamSpec) {"Ed", d->n_users, d->F};
	st->dspec[1] = (ParamSpec) {"Fd", d->n_items, d->F};
	st->dspec[2] = (ParamSpec) {"V1", d->K, 2 * d->F};
	st->dspec[3] = (ParamSpec) {"c1", d->K, 1};
	st->dspec[4] = (ParamSpec) {"v2", 1, d->K};
	st->dspec[5] = (ParamSpec) {"c2", 1, 1};
	*gbytes = param_arena_bytes(st->gspec, 5, PARAM_ARENA_ADAM);
	*dbytes = param_arena_bytes(st->dspec, 6, PARAM_ARENA_ADAM);
	if (*gbytes == 0 || *dbytes == 0)
		return rg_fail(train_loop_error(loop), RG_PROGRAM_LIMIT, "cgan networks are too large");
	buf = 4.0 * ((double) st->Bu * (2.0 * (d->E + d->Z) + 2.0 * d->H + 3.0 * d->n_items + d->F + 2.0 * st->S) +
				 (double) st->max_pairs * 4 + (double) rows * (3 + 4.0 * d->F + 2.0 * d->K + 1) +
				 d->n_users);
	return train_loop_check_memory(loop, (double) *gbytes + *dbytes + buf, (double) *gbytes / 16);
}

/* Both networks' arenas, named pointers into them, Adam states and configurations. */
static void
CganAllocNetworks(CganState *st, size_t gbytes, size_t dbytes, const double *opt)
{
	float	  **gp[] = {&st->g.E, &st->g.W1, &st->g.b1, &st->g.W2, &st->g.b2};
	float	  **gg[] = {&st->gg.E, &st->gg.W1, &st->gg.b1, &st->gg.W2, &st->gg.b2};
	float	  **dp[] = {&st->dd.E, &st->dd.F, &st->dd.V1, &st->dd.c1, &st->dd.v2, &st->dd.c2};
	float	  **dg[] = {&st->dg.E, &st->dg.F, &st->dg.V1, &st->dg.c1, &st->dg.v2, &st->dg.c2};

	param_arena_init(&st->ga, st->gspec, 5, PARAM_ARENA_ADAM,
					 rg_alloc(gbytes), gbytes);
	param_arena_init(&st->da, st->dspec, 6, PARAM_ARENA_ADAM,
					 rg_alloc(dbytes), dbytes);
	param_arena_point(&st->ga, st->ga.params, gp);
	param_arena_point(&st->ga, st->ga.grads, gg);
	param_arena_point(&st->da, st->da.params, dp);
	param_arena_point(&st->da, st->da.grads, dg);
	adam_init(&st->adam_g, st->ga.m, st->ga.v, st->ga.n);
	adam_init(&st->adam_d, st->da.m, st->da.v, st->da.n);
	st->cfg_g = (AdamConfig) {opt[OPT_LR_G], 0.9, 0.999, 1e-8, opt[OPT_REG], 0.0};
	st->cfg_d = (AdamConfig) {opt[OPT_LR_D], 0.9, 0.999, 1e-8, opt[OPT_REG], 0.0};
}

/* The generator's and the discriminator's batch buffers (sizes in CganState). */
static void
CganAllocBuffers(CganState *st)
{
	const CganDims *d = &st->d;
	int			rows = CganRows(st);

	st->users = rg_alloc_array(int32_t, RG_MAX(d->n_users, 1));
	for (int32_t u = 0; u < d->n_users; u++)
		st->users[u] = u;
	st->gx = rg_alloc_array(float, (size_t) st->Bu * (d->E + d->Z));
	st->dgx = rg_alloc_array(float, (size_t) st->Bu * (d->E + d->Z));
	st->gh = rg_alloc_array(float, (size_t) st->Bu * d->H);
	st->dgh = rg_alloc_array(float, (size_t) st->Bu * d->H);
	st->logits = rg_alloc(sizeof(float) * st->Bu * d->n_items);
	st->probs = rg_alloc(sizeof(float) * st->Bu * d->n_items);
	st->dlogits = rg_alloc(sizeof(float) * st->Bu * d->n_items);
	st->soft = rg_alloc_array(float, (size_t) st->Bu * d->F);
	st->adv = rg_alloc_array(float, (size_t) st->Bu * st->S);
	st->samples = rg_alloc_array(int32_t, (size_t) st->Bu * st->S);
	st->pu = rg_alloc(sizeof(int32_t) * RG_MAX(st->max_pairs, 1));
	st->pi = rg_alloc(sizeof(int32_t) * RG_MAX(st->max_pairs, 1));
	st->pt = rg_alloc(sizeof(float) * RG_MAX(st->max_pairs, 1));
	st->order = rg_alloc(sizeof(int32_t) * RG_MAX(st->max_pairs, 1));
	st->bu = rg_alloc_array(int32_t, rows);
	st->bi = rg_alloc_array(int32_t, rows);
	st->bt = rg_alloc_array(float, rows);
	st->ds = rg_alloc_array(float, rows);
	st->dx = rg_alloc(sizeof(float) * rows * 2 * d->F);
	st->ddx = rg_alloc(sizeof(float) * rows * 2 * d->F);
	st->da1 = rg_alloc(sizeof(float) * rows * d->K);
	st->dda = rg_alloc(sizeof(float) * rows * d->K);
}

/* Random initial weights of both networks from seed. */
static void
CganInit(CganState *st, uint64_t seed)
{
	const CganDims *d = &st->d;

	rng_seed(&st->rng, seed);
	init_normal(st->g.E, 0.1f, (int64_t) d->n_users * d->E, &st->rng);
	init_xavier_uniform(st->g.W1, d->E + d->Z, d->H, &st->rng);
	init_xavier_uniform(st->g.W2, d->H, d->n_items, &st->rng);
	init_normal(st->dd.E, 0.1f, (int64_t) d->n_users * d->F, &st->rng);
	init_normal(st->dd.F, 0.1f, (int64_t) d->n_items * d->F, &st->rng);
	init_xavier_uniform(st->dd.V1, 2 * d->F, d->K, &st->rng);
	init_xavier_uniform(st->dd.v2, d->K, 1, &st->rng);
}

/* The maximum-likelihood warm start (see the file comment), then fresh generator moments. */
static RgStatus
CganWarmStart(CganState *st, TrainLoop *loop, const double *opt)
{
	AdamConfig	cfg_mle = st->cfg_g;
	double		mean;

	cfg_mle.lr = opt[OPT_LR_MLE];
	for (int e = 0; e < (int) opt[OPT_MLE_EPOCHS]; e++)
		RG_TRY(MlePass(st, loop, &cfg_mle, &mean));
	/* fresh moments for the adversarial phase */
	memset(st->ga.m, 0, sizeof(float) * st->ga.n);
	memset(st->ga.v, 0, sizeof(float) * st->ga.n);
	adam_init(&st->adam_g, st->ga.m, st->ga.v, st->ga.n);
	return RG_OK;
}

/* Estimate, allocate and initialise both networks; run the warm start. */
static RgStatus
CganBegin(TrainLoop *loop, Model *model, const double *opt, const Csr *fit, uint64_t seed,
		  void **state)
{
	CganState  *st = rg_alloc0(sizeof(CganState));
	size_t		gbytes,
				dbytes;

	CganShape(st, model, opt, fit);
	RG_TRY(CganCheckSize(st, loop, &gbytes, &dbytes));
	CganAllocNetworks(st, gbytes, dbytes, opt);
	CganAllocBuffers(st);
	CganInit(st, seed);

	model->n_tensors = 5;
	for (int t = 0; t < 5; t++)
	{
		model->tensors[t].len = st->gspec[t].rows * st->gspec[t].cols;
		model->tensors[t].data = st->ga.params + param_arena_offset(&st->ga, t);
	}
	if (opt[OPT_MLE_EPOCHS] > 0)
		RG_TRY(CganWarmStart(st, loop, opt));
	*state = st;
	return RG_OK;
}

/* One adversarial epoch: a discriminator pass, then g_steps generator passes. */
static RgStatus
CganEpoch(void *state, TrainLoop *loop, double *loss, double *aux_loss)
{
	CganState  *st = state;
	int			steps = (int) st->opt[OPT_G_STEPS];

	RG_TRY(DPass(st, loop, loss));
	*aux_loss = NAN;
	for (int s = 0; s < steps; s++)
		RG_TRY(GPass(st, loop, aux_loss));
	return RG_OK;
}

static const IterativeOps cgan_iterative = {
	.begin = CganBegin,
	.epoch = CganEpoch,
	.diverged_hint = "Lower \"lr_g\", \"lr_d\" or \"lr_mle\".",
};

/* Train through the shared loop. */
static RgStatus
CganTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	return train_loop_run(in, model, &cgan_iterative, OPT_LOOP, report, arg, err);
}

/* Five generator tensors. */
static RgStatus
CganValidate(const Model *model, RgError *err)
{
	CganDims	d = CganModelDims(model, model->hyper);
	ParamSpec	s[5];
	int64_t		expected[5];

	CganGSpecs(s, &d);
	for (int t = 0; t < 5; t++)
		expected[t] = s[t].rows * s[t].cols;
	return model_check_tensors(model, 5, expected, err);
}

/*
 * scores (Q, I) = W2 mean_s(hidden(u, z_s)) + b2, z_s from the model's seed.
 * A fold-in query (user < 0) has no user embedding: the host must refuse it
 * before scoring (FEATURE_NOT_SUPPORTED, "cgan models cannot recommend for a
 * list of items", detail "The generator is conditioned on the embedding of a
 * user it was trained on.", hint "Use recgan_recommend for a known user, or
 * an algorithm with fold-in such as ials or ease."); its row here is all zeros.
 */
static void
CganScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	CganDims	d = CganModelDims(model, model->hyper);
	int			S = (int) model->hyper[OPT_SCORE_SAMPLES],
				in = d.E + d.Z;
	const float *E = model->tensors[0].data,
			   *W1 = model->tensors[1].data,
			   *b1 = model->tensors[2].data,
			   *W2 = model->tensors[3].data,
			   *b2 = model->tensors[4].data;
	float	   *x = rg_alloc_array(float, (size_t) nq * S * in);	/* (Q S, E + Z) */
	float	   *h = rg_alloc_array(float, (size_t) nq * S * d.H);	/* (Q S, H) */
	float	   *hm = rg_alloc0_array(float, (size_t) nq * d.H); /* (Q, H) */
	float	   *z = rg_alloc_array(float, (size_t) S * RG_MAX(d.Z, 1));
	Rng			rng;

	rng_seed(&rng, model->seed ^ UINT64_C(0x63676e73636f7265));
	for (int s = 0; s < S * d.Z; s++)
		z[s] = (float) (model->hyper[OPT_NOISE_STD] * rng_normal(&rng));
	for (int q = 0; q < nq; q++)
	{
		for (int s = 0; s < S; s++)
		{
			float	   *xr = x + ((size_t) q * S + s) * in;

			if (queries[q].user < 0)
				memset(xr, 0, sizeof(float) * d.E);
			else
				memcpy(xr, E + (size_t) queries[q].user * d.E, sizeof(float) * d.E);
			memcpy(xr + d.E, z + (size_t) s * d.Z, sizeof(float) * d.Z);
		}
	}
	linear_forward(h, x, W1, b1, nq * S, in, d.H);
	relu_forward(h, h, (int64_t) nq * S * d.H);
	for (int q = 0; q < nq; q++)
		for (int s = 0; s < S; s++)
			for (int k = 0; k < d.H; k++)
				hm[(size_t) q * d.H + k] += h[((size_t) q * S + s) * d.H + k] / S;
	linear_forward(scores, hm, W2, b2, nq, d.H, d.n_items);
	for (int q = 0; q < nq; q++)
		if (queries[q].user < 0)
			memset(scores + (size_t) q * d.n_items, 0, sizeof(float) * d.n_items);
	rg_free(x);
	rg_free(h);
	rg_free(hm);
	rg_free(z);
}

/* Cosine of the generator's output rows (W2). */
static void
CganSimilar(const Model *model, int32_t item, float *scores)
{
	int			H = (int) model->hyper[OPT_HIDDEN_G];
	const float *W2 = model->tensors[3].data;
	const float *wi = W2 + (size_t) item * H;
	double		ni = 0;

	for (int k = 0; k < H; k++)
		ni += (double) wi[k] * wi[k];
	for (int32_t j = 0; j < model->n_items; j++)
	{
		const float *wj = W2 + (size_t) j * H;
		double		dot = 0,
					nj = 0;

		for (int k = 0; k < H; k++)
		{
			dot += (double) wi[k] * wj[k];
			nj += (double) wj[k] * wj[k];
		}
		scores[j] = (ni > 0 && nj > 0) ? (float) (dot / sqrt(ni * nj)) : 0.0f;
	}
}

const ModelOps cgan_ops = {
	.name = "cgan",
	.algorithm = RECGAN_ALG_CGAN,
	.options = cgan_options,
	.n_options = RG_LENGTHOF(cgan_options),
	.no_fold_in = "The generator is conditioned on the embedding of a user it was trained on.",
	.train = CganTrain,
	.validate = CganValidate,
	.score = CganScore,
	.similar = CganSimilar,
};
