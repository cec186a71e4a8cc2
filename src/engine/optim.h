/*
 * optim.h
 *	  Optimisers of the training engine: Adam (with torch's coupled L2 weight
 *	  decay and AdamW's decoupled one) and plain SGD.  Pure C11: no
 *	  server headers, no allocation; the moment buffers belong to the caller
 *	  (normally the m and v blocks of a ParamArena, see nn.h).
 *
 * Legend: n parameters updated by one call.
 */
#ifndef RECGAN_OPTIM_H
#define RECGAN_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

typedef struct AdamConfig
{
	double		lr;				/* learning rate */
	double		beta1;			/* first-moment decay, e.g. 0.9 */
	double		beta2;			/* second-moment decay, e.g. 0.999 */
	double		eps;			/* added to sqrt(v_hat), e.g. 1e-8 */
	double		weight_decay;	/* L2-coupled: g += wd p (torch Adam); 0 = off */
	double		decoupled_weight_decay;	/* AdamW: p -= lr wd p; 0 = off */
} AdamConfig;

/* Optimiser state of one parameter block. */
typedef struct AdamState
{
	float	   *m;				/* (n) first moment */
	float	   *v;				/* (n) second moment */
	int64_t		n;
	int64_t		step;			/* updates done so far; bias correction uses step */
} AdamState;

/* Attach zeroed moments m (n), v (n) to the state and reset its step to 0. */
void		adam_init(AdamState *state, float *m, float *v, int64_t n);

/*
 * One Adam step on params (n) from grads (n); increments state->step to t
 * first, then, per element (torch.optim.Adam / AdamW semantics):
 *	 g = grad + weight_decay * p
 *	 p = p - lr * decoupled_weight_decay * p
 *	 m = beta1 m + (1 - beta1) g;	v = beta2 v + (1 - beta2) g^2
 *	 p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
 * Step constants in double, elementwise arithmetic and storage in float.
 */
void		adam_update(float *params, AdamState *state, const float *grads,
						const AdamConfig *config);

/*
 * adam_update, then grads (n) = 0, in the same pass: for a trainer whose
 * gradients must start at zero every step (it saves a separate zeroing pass).
 */
void		adam_update_zero(float *params, AdamState *state, float *grads,
							 const AdamConfig *config);

/*
 * One Adam step applied in pieces, for a trainer that updates parameters as
 * their gradients are formed: adam_step_begin advances the state's step and
 * folds that step's constants into *step; adam_step_apply then updates n
 * parameters with them (params, m, v and grads at the same offset into the
 * state's arrays; grads zeroed when zero).  The update is elementwise, so
 * applying every parameter once, in any pieces and order, gives the bits of
 * one adam_update (adam_update_zero).
 */
typedef struct AdamStep
{
	float		c[9];			/* optim.c's adam_constants */
} AdamStep;

void		adam_step_begin(AdamState *state, const AdamConfig *config, AdamStep *step);
void		adam_step_apply(const AdamStep *step, float *params, float *m, float *v,
							float *grads, int64_t n, bool zero);

/*
 * Lazy Adam on the rows of one (N, width) table: rows[0..n_rows) (distinct)
 * take the step t update of adam_update from their gradients, whose rows
 * are then zeroed; the other rows and their moments are left alone
 * (torch.optim.SparseAdam).  params, grads, m and v are (N, width).
 */
void		adam_rows_update(float *params, float *grads, float *m, float *v,
							 const int32_t *rows, int n_rows, int width, int64_t t,
							 const AdamConfig *config);

/* p = p - lr * (grad + weight_decay * p) over n elements. */
void		sgd_update(float *params, const float *grads, double lr,
					   double weight_decay, int64_t n);

#endif							/* RECGAN_OPTIM_H */
