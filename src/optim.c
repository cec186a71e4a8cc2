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

/*
 * One bias-corrected Adam step over the state's n parameters.  The per-step
 * constants are folded in double; the elementwise arithmetic is float32, as
 * in torch, so that the loop vectorises: lr (m / bc1) / (sqrt(v / bc2) + eps)
 * is computed as (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps).
 */
void
adam_update(float *params, AdamState *state, const float *grads,
			const AdamConfig *config)
{
	float	   *restrict p = params;
	float	   *restrict m = state->m;
	float	   *restrict v = state->v;
	const float *restrict g = grads;
	int64_t		n = state->n;	/* a local: state->n could alias the arrays */
	double		bc1,
				bc2;
	float		b1 = (float) config->beta1,
				b2 = (float) config->beta2,
				one_b1 = (float) (1.0 - config->beta1),
				one_b2 = (float) (1.0 - config->beta2),
				wd = (float) config->weight_decay,
				decay = (float) (1.0 - config->lr * config->decoupled_weight_decay),
				eps = (float) config->eps,
				step,
				inv_sqrt_bc2;

	state->step++;
	bc1 = 1.0 - pow(config->beta1, (double) state->step);
	bc2 = 1.0 - pow(config->beta2, (double) state->step);
	step = (float) (config->lr / bc1);
	inv_sqrt_bc2 = (float) (1.0 / sqrt(bc2));
	for (int64_t i = 0; i < n; i++)
	{
		float		gi = g[i] + wd * p[i],
					mi = b1 * m[i] + one_b1 * gi,
					vi = b2 * v[i] + one_b2 * gi * gi;

		m[i] = mi;
		v[i] = vi;
		p[i] = p[i] * decay - step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
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
