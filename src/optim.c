/*
 * optim.c
 *	  Adam / AdamW and SGD updates over a flat parameter block.
 *
 * Reference: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic
 * Optimization", ICLR 2015; I. Loshchilov, F. Hutter, "Decoupled Weight
 * Decay Regularization", ICLR 2019.  The update follows torch.optim.Adam and
 * torch.optim.AdamW, so hyperparameters mean what they mean there.
 */
#include "optim.h"

#include <math.h>
#include <string.h>

/* Attach zeroed moments and reset the step counter. */
void
adam_init(AdamState *state, float *m, float *v, int64_t n)
{
	state->m = m;
	state->v = v;
	state->n = n;
	state->step = 0;
	if (n > 0)
	{
		memset(m, 0, sizeof(float) * (size_t) n);
		memset(v, 0, sizeof(float) * (size_t) n);
	}
}

/* One bias-corrected Adam step over the state's n parameters. */
void
adam_update(float *params, AdamState *state, const float *grads,
			const AdamConfig *config)
{
	double		lr = config->lr,
				b1 = config->beta1,
				b2 = config->beta2,
				eps = config->eps,
				wd = config->weight_decay,
				decay = 1.0 - config->lr * config->decoupled_weight_decay,
				bc1,
				bc2;
	float	   *m = state->m,
			   *v = state->v;

	state->step++;
	bc1 = 1.0 - pow(b1, (double) state->step);
	bc2 = 1.0 - pow(b2, (double) state->step);
	for (int64_t i = 0; i < state->n; i++)
	{
		double		p = params[i],
					g = grads[i] + wd * p,
					mi = b1 * m[i] + (1.0 - b1) * g,
					vi = b2 * v[i] + (1.0 - b2) * g * g;

		p *= decay;
		p -= lr * (mi / bc1) / (sqrt(vi / bc2) + eps);
		m[i] = (float) mi;
		v[i] = (float) vi;
		params[i] = (float) p;
	}
}

/* Plain gradient descent with optional coupled L2 weight decay. */
void
sgd_update(float *params, const float *grads, double lr, double weight_decay,
		   int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		params[i] = (float) (params[i] - lr * (grads[i] + weight_decay * params[i]));
}
