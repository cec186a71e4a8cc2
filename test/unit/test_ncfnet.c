/*
 * test_ncfnet.c
 *	  Unit tests of the NCF and CGAN engine passes (ncfnet.c), run without a
 *	  server by `make unitcheck`: GMF's forward pass against its definition;
 *	  every parameter gradient of GMF and NeuMF (both branches, and each
 *	  branch alone as in NeuMF's pretraining) against central finite
 *	  differences on a tiny batch with repeated users and items; the
 *	  Gumbel-softmax backward against finite differences; the REINFORCE
 *	  estimator's expectation against the exact policy gradient.  Exit
 *	  status 0 only when every check passed.
 *
 * Tolerances: gradients, GRAD_TOL (1e-3) of the largest entry of each
 * tensor (unit.h), eps 1e-3, ReLU inputs kept 0.02 from the kink; forward and exact identities 1e-5; the Monte
 * Carlo REINFORCE mean, 0.01 absolute with 400000 samples (its standard
 * error there is below 1e-3).
 *
 * Legend: U users, I items, B batch pairs, K samples.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ncfnet.h"
#include "rng.h"
#include "unit.h"

enum
{
	TU = 4, TI = 5, TB = 7, TK = 400000
};

/* Repeated users and items, so the scatter of embedding gradients adds up. */
static const int32_t users[TB] = {0, 1, 1, 3, 2, 0, 3};
static const int32_t items[TB] = {4, 0, 2, 2, 1, 4, 3};

/* A network, its gradients, a cache and the random projection of z. */
typedef struct Net
{
	NcfDims		d;
	ParamSpec	specs[12];
	int			n_specs;
	ParamArena	arena;
	NcfParams	p,
				g;
	NcfCache	c;
	float	   *cache_mem;
	float		z[TB];
	float		r[TB];			/* loss = sum_b r_b z_b, so dz = r */
	int			branches;
} Net;

/* Allocate and randomly initialise a network of dimensions d. */
static void
net_init(Net *n, NcfDims d, int branches, uint64_t seed)
{
	Rng			rng;
	size_t		bytes;

	memset(n, 0, sizeof(*n));
	n->d = d;
	n->branches = branches;
	n->n_specs = ncf_param_specs(n->specs, &d);
	bytes = param_arena_bytes(n->specs, n->n_specs, PARAM_ARENA_GRADS);
	param_arena_init(&n->arena, n->specs, n->n_specs, PARAM_ARENA_GRADS, malloc(bytes), bytes);
	ncf_params_point(&n->p, &n->arena, n->arena.params, &d);
	ncf_params_point(&n->g, &n->arena, n->arena.grads, &d);
	n->cache_mem = malloc(sizeof(float) * ncf_cache_floats(&d, TB));
	ncf_cache_init(&n->c, n->cache_mem, &d, TB);
	rng_seed(&rng, seed);
	fill_normal(n->arena.params, n->arena.n, 0.5, &rng);
	fill_normal(n->r, TB, 1.0, &rng);
}

/* Free what net_init allocated. */
static void
net_free(Net *n)
{
	free(n->arena.params);
	free(n->cache_mem);
}

/* The scalar sum_b r_b z_b of a forward pass. */
static double
net_loss(void *ctx)
{
	Net		   *n = ctx;

	ncf_forward(n->z, &n->c, &n->p, &n->d, users, items, TB, n->branches);
	return project(n->z, n->r, TB);
}

/*
 * Smallest |ReLU input| of the tower over the batch, by naive loops: finite
 * differences across a kink are meaningless, so the networks of the
 * gradient checks are drawn until every ReLU input is at least 0.02 away
 * from 0 (a step of eps = 1e-3 in one parameter moves them far less).
 */
static double
tower_margin(const Net *n)
{
	const NcfDims *d = &n->d;
	double		margin = INFINITY;

	for (int b = 0; b < TB && d->M > 0; b++)
	{
		double		x[64],
					y[64];
		int			w = 2 * d->M;
		const float *W[] = {n->p.W1, n->p.W2, n->p.W3},
				   *c[] = {n->p.b1, n->p.b2, n->p.b3};
		int			out[] = {d->L1, d->L2, d->L3};

		for (int k = 0; k < d->M; k++)
		{
			x[k] = n->p.Pm[users[b] * d->M + k];
			x[d->M + k] = n->p.Qm[items[b] * d->M + k];
		}
		for (int l = 0; l < 3; l++)
		{
			for (int o = 0; o < out[l]; o++)
			{
				y[o] = c[l][o];
				for (int k = 0; k < w; k++)
					y[o] += (double) W[l][o * w + k] * x[k];
				margin = fmin(margin, fabs(y[o]));
			}
			for (int o = 0; o < out[l]; o++)
				x[o] = fmax(y[o], 0.0);
			w = out[l];
		}
	}
	return margin;
}

/* Whether a (n) is all zeros. */
static int
all_zero(const float *a, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (a[i] != 0.0f)
			return 0;
	return 1;
}

/* Analytic gradients by one backward pass, then each tensor against finite differences. */
static void
check_net_gradients(Net *n, const char *label)
{
	char		what[64];

	net_loss(n);
	memset(n->arena.grads, 0, sizeof(float) * n->arena.n);
	ncf_backward(&n->g, &n->c, n->r, &n->p, &n->d, users, items, TB, n->branches);
	for (int t = 0; t < n->n_specs; t++)
	{
		int64_t		off = param_arena_offset(&n->arena, t);
		int64_t		len = n->specs[t].rows * n->specs[t].cols;

		snprintf(what, sizeof(what), "%s %s", label, n->specs[t].name);
		grad_check(what, net_loss, n, n->arena.params + off, n->arena.grads + off, len, 1e-3f);
	}
}

/* GMF: z_b = h . (p_u * q_i) + b, computed by hand. */
static void
test_gmf_forward(void)
{
	Net			n;
	double		err = 0.0;

	net_init(&n, (NcfDims) {TU, TI, 3, 0, 0, 0, 0}, NCF_GMF, 1);
	net_loss(&n);
	for (int b = 0; b < TB; b++)
	{
		double		ref = n.p.b[0];

		for (int k = 0; k < 3; k++)
			ref += (double) n.p.h[k] * n.p.P[users[b] * 3 + k] * n.p.Q[items[b] * 3 + k];
		err = fmax(err, fabs(ref - n.z[b]));
	}
	CHECK(err < 1e-5, "gmf forward differs from its definition by %g", err);
	net_free(&n);
}

/* GMF gradients (P, Q, h, b). */
static void
test_gmf_backward(void)
{
	Net			n;

	net_init(&n, (NcfDims) {TU, TI, 3, 0, 0, 0, 0}, NCF_GMF, 2);
	check_net_gradients(&n, "gmf");
	net_free(&n);
}

/* NeuMF gradients: both branches, then each alone (pretraining passes). */
static void
test_neumf_backward(void)
{
	static const int branch[] = {NCF_GMF | NCF_MLP, NCF_GMF, NCF_MLP};
	static const char *label[] = {"neumf", "neumf gmf-only", "neumf mlp-only"};

	for (int k = 0; k < 3; k++)
	{
		Net			n;
		uint64_t	seed = 100 * k;

		net_init(&n, (NcfDims) {TU, TI, 3, 4, 6, 5, 3}, branch[k], seed);
		while (tower_margin(&n) < 0.02)
		{
			net_free(&n);
			net_init(&n, (NcfDims) {TU, TI, 3, 4, 6, 5, 3}, branch[k], ++seed);
		}
		check_net_gradients(&n, label[k]);
		/* a branch switched off gets no gradient */
		if (branch[k] == NCF_GMF)
			CHECK(all_zero(n.g.Pm, n.g.h - n.g.Pm), "mlp gradient in a gmf-only pass");
		if (branch[k] == NCF_MLP)
			CHECK(all_zero(n.g.P, n.g.Pm - n.g.P), "gmf gradient in an mlp-only pass");
		net_free(&n);
	}
}

/* Gumbel-softmax: context of its finite-difference check. */
typedef struct GumbelCtx
{
	float		logits[2 * TI];
	float		gumbel[2 * TI];
	float		y[2 * TI];
	float		r[2 * TI];
	float		tau;
} GumbelCtx;

/* sum r . y for y = softmax((logits + gumbel) / tau). */
static double
gumbel_loss(void *ctx)
{
	GumbelCtx  *g = ctx;

	gumbel_softmax_forward(g->y, g->logits, g->gumbel, g->tau, 2, TI);
	return project(g->y, g->r, 2 * TI);
}

/* Rows of y sum to 1; dlogits against finite differences at two temperatures. */
static void
test_gumbel_backward(void)
{
	static const float taus[] = {1.0f, 0.5f};
	GumbelCtx	g;
	Rng			rng;
	float		dlogits[2 * TI];

	rng_seed(&rng, 11);
	fill_normal(g.logits, 2 * TI, 1.0, &rng);
	fill_normal(g.r, 2 * TI, 1.0, &rng);
	for (int j = 0; j < 2 * TI; j++)
		g.gumbel[j] = (float) -log(-log(rng_uniform(&rng)));
	for (int t = 0; t < 2; t++)
	{
		double		s0 = 0.0,
					s1 = 0.0;

		g.tau = taus[t];
		gumbel_loss(&g);
		for (int j = 0; j < TI; j++)
		{
			s0 += g.y[j];
			s1 += g.y[TI + j];
		}
		CHECK(fabs(s0 - 1.0) < 1e-5 && fabs(s1 - 1.0) < 1e-5, "rows sum to %g, %g", s0, s1);
		gumbel_softmax_backward(dlogits, g.r, g.y, g.tau, 2, TI);
		grad_check(t == 0 ? "gumbel tau 1" : "gumbel tau 0.5", gumbel_loss, &g, g.logits,
				   dlogits, 2 * TI, 1e-3f);
	}
}

/* softmax_rows is stable for large logits. */
static void
test_softmax_stable(void)
{
	float		logits[TI] = {1000.0f, 999.0f, -1000.0f, 0.0f, 1000.0f};
	float		p[TI];
	double		e = exp(-1.0),
				want = 1.0 / (2.0 + e);

	softmax_rows(p, logits, 1, TI);
	CHECK_CLOSE(p[0], want, 1e-5, "softmax of 1000");
	CHECK_CLOSE(p[1], e * want, 1e-5, "softmax of 999");
	CHECK(p[2] == 0.0f && isfinite(p[3]), "softmax of -1000 underflows to 0");
}

/*
 * REINFORCE: for rewards R (I), the gradient of E_{j ~ softmax(l)} R_j with
 * respect to l is p_j (R_j - p . R); reinforce_backward writes the gradient
 * of the surrogate loss, so its expectation is the negative of that.
 * Exactly: samples = every item once, adv_j = p_j (R_j - b) and scale 1 is
 * the expectation written out (b cancels); by Monte Carlo: TK draws from p,
 * adv = R - b for a fixed baseline b, scale 1 / TK.
 */
static void
test_reinforce_expectation(void)
{
	float		logits[TI] = {0.3f, -1.0f, 1.2f, 0.0f, -0.4f};
	float		R[TI] = {0.9f, 0.1f, 0.4f, 0.7f, 0.2f};
	float		p[TI],
				d[TI],
				adv_all[TI];
	int32_t		all[TI];
	int32_t    *samples = malloc(sizeof(int32_t) * TK);
	float	   *adv = malloc(sizeof(float) * TK);
	double		pr = 0.0,
				want[TI];
	const float b = 0.5f;
	Rng			rng;

	softmax_rows(p, logits, 1, TI);
	for (int j = 0; j < TI; j++)
		pr += (double) p[j] * R[j];
	for (int j = 0; j < TI; j++)
	{
		want[j] = -(double) p[j] * (R[j] - pr);
		all[j] = j;
		adv_all[j] = p[j] * (R[j] - b);
	}
	reinforce_backward(d, p, all, adv_all, 1.0f, 1, TI, TI);
	for (int j = 0; j < TI; j++)
		CHECK(fabs(d[j] - want[j]) < 1e-5, "exact expectation, item %d: %g vs %g", j, d[j], want[j]);

	rng_seed(&rng, 13);
	for (int k = 0; k < TK; k++)
	{
		double		u = rng_uniform(&rng),
					acc = 0.0;
		int			j = 0;

		while (j < TI - 1 && (acc += p[j]) <= u)
			j++;
		samples[k] = j;
		adv[k] = R[j] - b;
	}
	reinforce_backward(d, p, samples, adv, 1.0f / TK, 1, TK, TI);
	for (int j = 0; j < TI; j++)
		CHECK(fabs(d[j] - want[j]) < 0.01, "Monte Carlo mean, item %d: %g vs %g", j, d[j], want[j]);
	printf("     reinforce Monte Carlo (K %d) max |err| %.2e\n", TK,
		   fmax(fmax(fabs(d[0] - want[0]), fabs(d[1] - want[1])),
				fmax(fabs(d[2] - want[2]), fmax(fabs(d[3] - want[3]), fabs(d[4] - want[4])))));
	free(samples);
	free(adv);
}

int
main(void)
{
	RUN(test_gmf_forward);
	RUN(test_gmf_backward);
	RUN(test_neumf_backward);
	RUN(test_gumbel_backward);
	RUN(test_softmax_stable);
	RUN(test_reinforce_expectation);
	return unit_summary();
}
