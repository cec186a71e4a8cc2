/*
 * ncfnet.h
 *	  Neural collaborative filtering (He, Liao, Zhang, Nie, Hu and Chua,
 *	  "Neural Collaborative Filtering", WWW 2017) as engine functions: the
 *	  forward and backward pass of one batch of (user, item) pairs through
 *	  GMF, the MLP tower, or both fused (NeuMF); and the two generator
 *	  gradients of the embedding-based conditional GAN (cgan.c): the
 *	  Gumbel-softmax relaxation and the REINFORCE estimator.  Pure C11 +
 *	  cblas, no server headers, no allocation; the conventions of nn.h hold
 *	  (parameter gradients accumulate).
 *
 * Legend: B batch pairs, U users, I items, G GMF factors, M MLP embedding
 * width per side, L1 L2 L3 tower widths, O = G + L3 output inputs, K
 * samples per row.
 *
 *	 GMF	 g = p_u * q_i												(G)
 *	 MLP	 a1 = relu(W1 [m_u, n_i] + b1), a2 = relu(W2 a1 + b2),
 *			 a3 = relu(W3 a2 + b3)										(L3)
 *	 output	 z = h . [g, a3] + b										a logit
 *
 * GMF alone is M = 0 (h has G entries).  A branch can be switched off for
 * one pass (the pretraining of NeuMF): its part of [g, a3] is then zero and
 * it gets no gradient.
 */
#ifndef RECGAN_NCFNET_H
#define RECGAN_NCFNET_H

#include <stddef.h>
#include <stdint.h>

#include "nn.h"
#include "optim.h"

typedef struct NcfDims
{
	int			n_users;		/* U */
	int			n_items;		/* I */
	int			G;				/* GMF factors */
	int			M;				/* MLP embedding width per side; 0 = GMF only */
	int			L1;
	int			L2;
	int			L3;
} NcfDims;

/* Branch flags of one pass. */
#define NCF_GMF 1
#define NCF_MLP 2

/* Parameters (or their gradients): pointers into an arena block. */
typedef struct NcfParams
{
	float	   *P;				/* (U, G) GMF user embeddings */
	float	   *Q;				/* (I, G) GMF item embeddings */
	float	   *Pm;				/* (U, M) MLP user embeddings */
	float	   *Qm;				/* (I, M) MLP item embeddings */
	float	   *W1;				/* (L1, 2M) */
	float	   *b1;				/* (L1) */
	float	   *W2;				/* (L2, L1) */
	float	   *b2;				/* (L2) */
	float	   *W3;				/* (L3, L2) */
	float	   *b3;				/* (L3) */
	float	   *h;				/* (O) output weights */
	float	   *b;				/* (1) output bias */
} NcfParams;

/* Activations of one batch, kept for the backward pass (ncf_cache_floats). */
typedef struct NcfCache
{
	float	   *p;				/* (B, G) */
	float	   *q;				/* (B, G) */
	float	   *x0;				/* (B, 2M) */
	float	   *a1;				/* (B, L1) */
	float	   *a2;				/* (B, L2) */
	float	   *a3;				/* (B, L3) */
	float	   *cat;			/* (B, O) [g, a3] */
	float	   *dcat;			/* (B, O) scratch of the backward pass */
	float	   *d1;				/* (B, W) scratch, W = max(G, 2M, L1) */
	float	   *d2;				/* (B, W) scratch */
} NcfCache;

/* Number of parameter tensors: 4 for GMF, 12 for NeuMF. */
int			ncf_param_specs(ParamSpec *specs, const NcfDims *d);

/* Point p's fields at the tensors of an arena block laid out by ncf_param_specs. */
void		ncf_params_point(NcfParams *p, const ParamArena *arena, float *block,
							 const NcfDims *d);

/* Floats ncf_cache_init needs for batches of up to B pairs. */
int64_t		ncf_cache_floats(const NcfDims *d, int B);

/* Lay the cache over mem (ncf_cache_floats(d, B) floats). */
void		ncf_cache_init(NcfCache *c, float *mem, const NcfDims *d, int B);

/* z (B) = logits of the pairs (users[b], items[b]) through the branches. */
void		ncf_forward(float *z, NcfCache *c, const NcfParams *p, const NcfDims *d,
						const int32_t *users, const int32_t *items, int B, int branches);

/* From dz (B): accumulate every parameter gradient of the same pass into g. */
void		ncf_backward(NcfParams *g, NcfCache *c, const float *dz, const NcfParams *p,
						 const NcfDims *d, const int32_t *users, const int32_t *items,
						 int B, int branches);

/*
 * ---- Generator gradients of cgan.c
 *
 * Gumbel-softmax: y (B, I) = softmax((logits + gumbel) / tau) per row,
 * gumbel (B, I) = -log(-log(u)), u ~ U(0, 1) drawn by the caller.
 */
void		gumbel_softmax_forward(float *y, const float *logits, const float *gumbel,
								   float tau, int B, int n_items);

/* Write dlogits (B, I) = J^T dy for the y of the forward pass. */
void		gumbel_softmax_backward(float *dlogits, const float *dy, const float *y,
									float tau, int B, int n_items);

/*
 * REINFORCE with a baseline: for rows with softmax probabilities p (B, I),
 * K sampled items per row samples (B, K) and their advantages adv (B, K)
 * (reward minus baseline), write the gradient of the surrogate loss
 *	 -(scale) sum_r sum_k adv_rk log p_r[samples_rk]
 * with respect to the logits: dlogits_r = -scale sum_k adv_rk (e_{s_rk} - p_r).
 */
void		reinforce_backward(float *dlogits, const float *p, const int32_t *samples,
							   const float *adv, float scale, int B, int K, int n_items);

/* p (B, I) = softmax of the rows of logits (B, I), stable. */
void		softmax_rows(float *p, const float *logits, int B, int n_items);

#endif							/* RECGAN_NCFNET_H */
