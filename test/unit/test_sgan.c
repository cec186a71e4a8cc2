/*
 * test_sgan.c
 *	  Finite-difference checks of SGAN's generator and discriminator
 *	  gradients (sgan.c) on a small random dataset, for each prior, value
 *	  transform (softmax, sigmoid, the hard-negative miner, the latent
 *	  adversarial autoencoder) and sampling mode.  Exit status 1 on any mismatch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sgan.h"

enum
{
	U = 40, I = 60
};

/* calloc allocator */
static void *
sys_alloc(void *arg, size_t n)
{
	(void) arg;
	return calloc(1, n);
}

static void
sys_free(void *arg, void *p)
{
	(void) arg;
	free(p);
}

/*
 * Finite-difference steps of the generator and the discriminator.  The
 * latent discriminator's leaky ReLUs see dense codes (B K pre-activations
 * near 0), so its checks take 10x smaller steps not to cross a kink.
 */
static double step_g = 1e-2,
			step_d = 1e-3;

/* Loss of block `which` (0 generator, 1 discriminator) without gradients. */
static double
loss(Sgan *s, int which)
{
	return which == 0 ? sgan_g_loss(s, 0) : sgan_d_loss(s, 0);
}

/* Compare 60 random coordinates of one block's gradient with central differences. */
static int
check(Sgan *s, int which, const char *what)
{
	int64_t		n;
	float	   *g,
			   *p = sgan_params(s, which, &n, &g);
	float	   *grad = malloc(sizeof(float) * (size_t) n);
	Rng			r;
	int			bad = 0,
				checked = 0;
	double		worst = 0;

	memset(g, 0, sizeof(float) * (size_t) n);
	if (which == 0)
		sgan_g_loss(s, 1);
	else
		sgan_d_loss(s, 1);
	memcpy(grad, g, sizeof(float) * (size_t) n);
	memset(g, 0, sizeof(float) * (size_t) n);
	rng_seed(&r, 7);
	for (int t = 0; t < 4000 && checked < 60; t++)
	{
		int64_t		k = (int64_t) rng_below(&r, (uint64_t) n);
		float		old = p[k];
		double		h = which == 0 ? step_g : step_d,
					lp,
					lm,
					fd,
					err;

		if (grad[k] == 0.0f && t % 10 != 0)
			continue;
		p[k] = old + (float) h;
		lp = loss(s, which);
		p[k] = old - (float) h;
		lm = loss(s, which);
		p[k] = old;
		fd = (lp - lm) / (2 * h);
		err = fabs(fd - grad[k]) / fmax(1e-3, fabs(fd) + fabs(grad[k]));
		worst = fmax(worst, err);
		if (err > 0.05)
		{
			if (bad < 5)
				printf("  %s: param %ld analytic %.6g numeric %.6g\n", what, (long) k, grad[k], fd);
			bad++;
		}
		checked++;
	}
	printf("%s %s: %d/%d coordinates, worst relative error %.3g\n", bad ? "FAIL" : "ok  ", what,
		   checked - bad, checked, worst);
	free(grad);
	return bad ? 1 : 0;
}

int
main(void)
{
	int64_t		indptr[U + 1] = {0};
	int32_t		indices[U * I];
	int32_t		users[16];
	Rng			r;
	SganAllocator al = {sys_alloc, sys_free, NULL};
	int			fails = 0,
				checks = 0;

	rng_seed(&r, 1);
	for (int u = 0; u < U; u++)
	{
		indptr[u + 1] = indptr[u];
		for (int i = 0; i < I; i++)
			if (rng_uniform(&r) < 0.15 + 0.2 * (i % 3 == u % 3))
				indices[indptr[u + 1]++] = i;
	}
	for (int b = 0; b < 16; b++)
		users[b] = 2 * b + 1;
	for (int config = 0; config < 12; config++)
	{
		SganOptions o;
		Sgan	   *s;
		char		what[128];

		sgan_default_options(&o);
		o.hidden = 16;
		o.d_hidden = 8;
		o.batch = 16;
		o.adv_weight = 0.7;
		o.prior = config % 3;
		o.prior_topk = 10;
		o.prior_lambda = 5;
		o.prior_scale = 2.0;
		o.joint = 1;	/* the prior inside the trained logits: its path is checked too */
		o.value = config / 3;
		o.negatives = config % 2 ? 25 : 1000;
		o.d_negatives = 12;
		/*
		 * The miner's fakes are a top-Sd selection, piecewise constant in the
		 * weights: with the full softmax show it every non-positive, so that
		 * no finite difference crosses a change of the selection.
		 */
		if (o.value == SGAN_VALUE_MINER && o.negatives >= I)
			o.d_negatives = I;
		step_g = o.value == SGAN_VALUE_LATENT ? 1e-3 : 1e-2;
		step_d = o.value == SGAN_VALUE_LATENT ? 1e-4 : 1e-3;
		s = sgan_init(&o, indptr, indices, U, I, 3, &al);
		if (s == NULL)
		{
			printf("FAIL init\n");
			return 1;
		}
		/* a few epochs so that the weights are not at their initial values */
		for (int e = 0; e < 3; e++)
		{
			double		gl,
						dl;

			sgan_epoch(s, &gl, &dl, NULL, NULL);
		}
		sgan_sample_batch(s, users, 16);
		snprintf(what, sizeof(what), "prior %d value %d negatives %d generator", o.prior,
				 o.value, o.negatives);
		fails += check(s, 0, what);
		checks++;
		snprintf(what, sizeof(what), "prior %d value %d negatives %d discriminator", o.prior,
				 o.value, o.negatives);
		fails += check(s, 1, what);
		checks++;
		sgan_free(s);
	}
	printf("%s\n", fails ? "FAILED" : "all gradient checks passed");
	printf("%d passed, %d failed\n", checks - fails, fails);
	return fails ? 1 : 0;
}
