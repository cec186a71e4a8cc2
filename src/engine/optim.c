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

#include "nn.h"					/* RECGAN_VECTOR_CLONES */
#include "parallel.h"

#include <math.h>
#include <stdbool.h>
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
 * The elementwise Adam update of n parameters (see adam_update), with the
 * constants c = {beta1, 1 - beta1, beta2, 1 - beta2, weight_decay, decay,
 * step, 1 / sqrt(bc2), eps}; zero is a constant at each call site.
 */
static inline void
adam_elements(float *restrict p, float *restrict m, float *restrict v,
			  float *restrict g, int64_t n, const float *restrict c, bool zero)
{
	float		b1 = c[0],
				one_b1 = c[1],
				b2 = c[2],
				one_b2 = c[3],
				wd = c[4],
				decay = c[5],
				step = c[6],
				inv_sqrt_bc2 = c[7],
				eps = c[8];

	for (int64_t i = 0; i < n; i++)
	{
		float		gi = g[i] + wd * p[i],
					mi = b1 * m[i] + one_b1 * gi,
					vi = b2 * v[i] + one_b2 * gi * gi;

		m[i] = mi;
		v[i] = vi;
		p[i] = p[i] * decay - step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
		if (zero)
			g[i] = 0.0f;
	}
}

/*
 * The constants c of adam_elements for step `step` (bias corrections
 * included).  The per-step constants are folded in double; the
 * elementwise arithmetic is float32, as in torch, so that the loop
 * vectorises: lr (m / bc1) / (sqrt(v / bc2) + eps) is computed as
 * (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps).
 */
static void
adam_constants(float *c, const AdamConfig *config, int64_t step)
{
	double		bc1 = 1.0 - pow(config->beta1, (double) step),
				bc2 = 1.0 - pow(config->beta2, (double) step);

	c[0] = (float) config->beta1;
	c[1] = (float) (1.0 - config->beta1);
	c[2] = (float) config->beta2;
	c[3] = (float) (1.0 - config->beta2);
	c[4] = (float) config->weight_decay;
	c[5] = (float) (1.0 - config->lr * config->decoupled_weight_decay);
	c[6] = (float) (config->lr / bc1);
	c[7] = (float) (1.0 / sqrt(bc2));
	c[8] = (float) config->eps;
}

/* One Adam step split over threads (parallel.h): elementwise, so any split gives the same bits. */
typedef struct AdamJob
{
	float	   *p,
			   *m,
			   *v,
			   *g;				/* (n) each */
	int64_t		n;
	const float *c;				/* adam_constants */
	bool		zero;
} AdamJob;

/* The elements of one part, cut at multiples of 16 floats (whole cache lines). */
RECGAN_VECTOR_CLONES static void
adam_part_clones(void *arg, int part, int n_parts)
{
	const AdamJob *j = arg;
	int64_t		b,
				e;

	parallel_range(j->n, part, n_parts, 16, &b, &e);
	if (j->zero)
		adam_elements(j->p + b, j->m + b, j->v + b, j->g + b, e - b, j->c, true);
	else
		adam_elements(j->p + b, j->m + b, j->v + b, j->g + b, e - b, j->c, false);
}
PARALLEL_CLONED_PART(adam_part)

/* Advance the state's step and fold its constants (optim.h). */
void
adam_step_begin(AdamState *state, const AdamConfig *config, AdamStep *step)
{
	state->step++;
	adam_constants(step->c, config, state->step);
}

/* The step's update of n parameters (optim.h). */
void
adam_step_apply(const AdamStep *step, float *params, float *m, float *v, float *grads,
				int64_t n, bool zero)
{
	AdamJob		job = {params, m, v, grads, n, step->c, zero};

	parallel_run(adam_part, &job, (double) n);
}

/* One Adam step over the state's n parameters (see adam_constants). */
static void
adam_step(float *params, AdamState *state, float *grads, const AdamConfig *config,
		  bool zero)
{
	AdamStep	step;

	adam_step_begin(state, config, &step);
	adam_step_apply(&step, params, state->m, state->v, grads, state->n, zero);
}

/* One Adam step (optim.h). */
void
adam_update(float *params, AdamState *state, const float *grads,
			const AdamConfig *config)
{
	/* zero is false: grads is only read */
	adam_step(params, state, (float *) grads, config, false);
}

/* One Adam step, zeroing the gradients as they are used. */
void
adam_update_zero(float *params, AdamState *state, float *grads,
				 const AdamConfig *config)
{
	adam_step(params, state, grads, config, true);
}

/* Lazy Adam: step t on the listed rows only, zeroing their gradients. */
RECGAN_VECTOR_CLONES void
adam_rows_update(float *params, float *grads, float *m, float *v, const int32_t *rows,
				 int n_rows, int width, int64_t t, const AdamConfig *config)
{
	float		c[9];

	adam_constants(c, config, t);
	for (int r = 0; r < n_rows; r++)
	{
		size_t		off = (size_t) rows[r] * width;

		adam_elements(params + off, m + off, v + off, grads + off, width, c, true);
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
