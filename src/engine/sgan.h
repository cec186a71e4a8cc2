/*
 * sgan.h
 *	  SGAN: a sparse adversarial autoencoder recommender.  A Mult-DAE style
 *	  generator (input dropout, sparse input layer, tanh hidden layer,
 *	  multinomial likelihood) on top of a fixed closed-form item-item prior,
 *	  regularised by a conditional discriminator that is trained alternately
 *	  to tell a user's real purchase values from the generated ones on the
 *	  coordinates a step samples (CFGAN's partial masking).  Pure C11 +
 *	  cblas + LAPACK (dpotrf_/dpotri_ for the EASE prior); no server headers;
 *	  every buffer comes from the caller's allocator.
 *
 * Legend: U users, I items, P training positives, H generator hidden
 * units, K discriminator hidden units, B batch rows (users), S shared
 * sampled items of a batch (the negatives of the likelihood), Sd <= S of
 * them shown to the discriminator, Q nnz of a batch (its positives), T
 * neighbours kept per item by the sparse prior.
 *
 * For a user u with positives x (I), n = |x|, and the kept-by-dropout
 * input xd (each positive kept with probability 1 - dropout):
 *
 *	 prior		p = x Bp								(I)  Bp: EASE (I, I) or sparse top-T GF-CF
 *	 hidden		h = tanh(xd / ((1 - dropout) sqrt n) W1 + b1)	(H)
 *	 residual	r = h W2^T + b2							(I)  evaluated on x's items + S samples only
 *	 logits		z = r (joint = 0, the default) or a p(xd / (1 - dropout)) + r (joint = 1)
 *	 likelihood	L = -sum_{t} log softmax(z)_t			sampled softmax (log-Q weights) unless S >= I;
 *				targets t: every positive, or the dropped ones (target_dropped)
 *	 values		v = n softmax(z) on the coordinates (or sigmoid(z), options)
 *	 discrim.	D(xd, v) = v2 . lrelu(c1 + sum_{i in xd} V1c[i] + sum_c v_c V1v[c]) + c2
 *				coordinates c: the targets and the first Sd samples; real v = 1 on targets, 0 else
 *	 D loss		softplus(-D(xd, real)) + softplus(D(xd, v))
 *	 G loss		L + adv_weight softplus(-D(xd, v))		(means over the batch's users)
 *	 score		a p(x) + r(x) over the whole catalogue, no dropout (a = prior_scale
 *				when joint = 0: a product of experts of the prior and the network)
 *
 * value = miner replaces the value discriminator by a learned hard-negative
 * miner.  Per user, the fakes F are the top Sd sampled non-positives by the
 * blended score f = z + a p(xd / (1 - dropout)) (the ranking the user
 * would see), the reals the user's positives the dropout removed:
 *
 *	 condition	c = tanh(c1 + sum_{i in xd} V1c[i] / sqrt |xd|)		(K)
 *	 discrim.	D(u, i) = c . V1v[i] + db[i] + c2
 *	 D loss		mean_{reals} softplus(-D) + mean_{F} softplus(D)
 *	 G term		sum_{c in F} q_c softplus(-D(u, c)), q = softmax of f over F
 *				(G moves its top mass onto the fakes D finds plausible)
 *
 * value = latent makes it an adversarial autoencoder: D sees the hidden
 * code h (H) only, real samples are tanh(e), e ~ N(0, I) (a separate
 * stream, so the batches equal the twin's):
 *
 *	 discrim.	D(h) = v2 . lrelu(h Wa + c1) + c2		Wa (H, K) in V1c's slot
 *	 D loss		softplus(-D(tanh e)) + softplus(D(h));  G term softplus(-D(h))
 *
 * adv_weight = 0 gives the discriminator-free twin (the discriminator is
 * then neither trained nor evaluated).  Scoring is a blocked GEMM.
 *
 * Findings behind the defaults (test/bench/sgan_notes.md): training the
 * residual through the prior (joint = 1) overfits the training users and
 * falls below the prior alone; the adversarial term is, so far, neutral,
 * the miner included (its D is not saturated, loss ~1.2, but G's ranking
 * does not improve); batch 128 at lr 1e-2 for 20 epochs matches batch 32
 * at 3e-3 for 30 on the validation holdouts at half the cost.
 */
#ifndef RECGAN_SGAN_H
#define RECGAN_SGAN_H

#include <stddef.h>
#include <stdint.h>

#include "nn.h"
#include "optim.h"
#include "rng.h"

/* The caller's memory: the backend passes palloc wrappers, the drivers malloc. */
typedef struct SganAllocator
{
	void	   *(*alloc) (void *arg, size_t n);	/* zeroed, aligned for double; NULL on failure */
	void		(*free) (void *arg, void *p);
	void	   *arg;
} SganAllocator;

typedef enum SganPrior
{
	SGAN_PRIOR_NONE = 0,		/* a plain Mult-DAE generator */
	SGAN_PRIOR_EASE = 1,		/* dense EASE (I, I): small catalogues */
	SGAN_PRIOR_GFCF = 2			/* sparse GF-CF linear filter, top T per item */
} SganPrior;

typedef enum SganValue
{
	SGAN_VALUE_SOFTMAX = 0,		/* v_c = n softmax(z)_c */
	SGAN_VALUE_SIGMOID = 1,		/* v_c = sigmoid(z_c) */
	SGAN_VALUE_MINER = 2,		/* D(u, i) scores items: real = dropped positives, fake = G's top */
	SGAN_VALUE_LATENT = 3		/* adversarial autoencoder: D(h) tells the code from a prior's samples */
} SganValue;

typedef struct SganOptions
{
	int			hidden;			/* H, generator hidden units (600) */
	double		dropout;		/* input dropout (0.5) */
	int			target_dropped;	/* 1: predict only the dropped positives; 0: all */
	int			negatives;		/* S, sampled items per batch; >= I: full softmax */
	int			batch;			/* B users per batch */
	double		lr;				/* generator Adam learning rate */
	double		weight_decay;	/* coupled L2 on the generator rows touched */
	int			prior;			/* SganPrior */
	double		prior_lambda;	/* EASE L2 */
	int			prior_topk;		/* T, GF-CF neighbours kept per item */
	double		prior_scale;	/* a: fixed (joint = 0) or its initial value (joint = 1) */
	int			joint;			/* 1: the prior is inside the trained logits; 0: added at scoring */
	int			prior_folds;	/* > 1: train against cross-fitted priors (2..8) */
	double		adv_weight;		/* 0: discriminator-free twin */
	int			d_hidden;		/* K */
	int			d_negatives;	/* Sd, sampled items the discriminator sees */
	double		d_lr;			/* discriminator Adam learning rate */
	int			value;			/* SganValue */
} SganOptions;

/* Generator weights, the stored model (pointers into one block). */
typedef struct SganWeights
{
	int32_t		I;
	int			H;
	int			prior;			/* SganPrior */
	int			T;				/* GF-CF neighbours per item */
	float	   *W1;				/* (I, H) input-major */
	float	   *b1;				/* (H) */
	float	   *W2;				/* (I, H) output rows */
	float	   *b2;				/* (I) */
	float	   *a;				/* (1) prior scale */
	float	   *ease;			/* (I, I) EASE weights, or NULL */
	float	   *nb_val;			/* (I, T) GF-CF weights, or NULL */
	int32_t    *nb_idx;			/* (I, T) their items */
} SganWeights;

/* One stored tensor of the model: a flat float array. */
typedef struct SganTensor
{
	const char *name;
	float	   *data;
	int64_t		len;
} SganTensor;

#define SGAN_MAX_TENSORS 8

typedef struct Sgan Sgan;		/* training state, opaque */

/* Fill o with the defaults. */
void		sgan_default_options(SganOptions *o);

/* Bytes sgan_init will allocate for U users, I items, P positives (training state + weights). */
size_t		sgan_sizes(const SganOptions *o, int32_t U, int32_t I, int64_t P);

/*
 * Build the prior and initialise the networks from the U x I training CSR
 * (indptr (U + 1), indices ascending per row); the CSR must outlive the
 * state.  Returns NULL when an allocation fails or the EASE Gram is not
 * positive definite.
 */
Sgan	   *sgan_init(const SganOptions *o, const int64_t *indptr, const int32_t *indices,
					  int32_t U, int32_t I, uint64_t seed, const SganAllocator *alloc);

/*
 * One epoch (every user with positives once, in a random order).  Writes
 * the mean generator and discriminator losses; calls interrupt(arg) after
 * each batch and returns 1 as soon as it returns non-zero, -1 when a loss
 * is not finite, 0 otherwise.
 */
int			sgan_epoch(Sgan *s, double *g_loss, double *d_loss,
					   int (*interrupt) (void *), void *arg);

/* The generator weights of the state (live: they change with each epoch). */
const SganWeights *sgan_weights(const Sgan *s);

/* The tensors to store (name, data, length); returns their count. */
int			sgan_tensors(const SganWeights *w, SganTensor *out);

/*
 * scores (nq, I) = z for each query, a history hist[q][0..len[q]) of item
 * indexes (fold-in: no user parameters).  work is (nq, H) floats.
 */
void		sgan_score(const SganWeights *w, const int32_t *const *hist, const int32_t *len,
					   int nq, float *scores, float *work);

/* Free everything sgan_init allocated. */
void		sgan_free(Sgan *s);

/* Experimental (driver): scores (nq, I) += gamma D(u, i) of the miner; work (nq, K). */
void		sgan_miner_add(const Sgan *s, const int32_t *const *hist, const int32_t *len, int nq,
						   float gamma, float *scores, float *work);

/*
 * ---- For the unit test: one batch's losses on the batch already sampled
 * by sgan_sample_batch, with the gradients of the generator (g_grad) or
 * the discriminator (d_grad) left in the state's gradient blocks.
 */
void		sgan_sample_batch(Sgan *s, const int32_t *users, int B);
double		sgan_g_loss(Sgan *s, int grad);
double		sgan_d_loss(Sgan *s, int grad);
/* Parameter and gradient blocks: which 0 = generator, 1 = discriminator. */
float	   *sgan_params(Sgan *s, int which, int64_t *n, float **grads);

#endif							/* RECGAN_SGAN_H */
