/*
 * gan.h
 *	  CFGAN's generator and discriminator (Chae et al., "CFGAN: A Generic
 *	  Collaborative Filtering Framework based on Generative Adversarial
 *	  Networks", CIKM 2018) as engine functions: the forward pass, losses and
 *	  backward pass of one batch of the discriminator's step and of the
 *	  generator's step.  Pure C11 + cblas, no server headers, no allocation; the
 *	  conventions of nn.h hold (parameter gradients accumulate).
 *
 * Legend: B batch rows (entities: users in user-based mode, items in
 * item-based mode), C vector width (items, resp. users), Z noise width, H
 * generator hidden units, K discriminator hidden units.
 *
 * An entity's condition x (C) is its binary purchase vector, given as a CSR
 * row; the real vector is x itself.  With z (Z) optional noise:
 *
 *	 generator		g = sigmoid([x, z] W1 + b1) W2^T + b2			(C), linear output
 *	 discriminator	D(x, v) = sigmoid([x, v] V1 + c1) . v2 + c2		a logit
 *	 fake			f = g * mask,  mask = x with the partial-masking (PM) samples set to 1
 *	 D loss			BCE(D(x, x), 1) + BCE(D(x, f), 0)				(means over the batch)
 *	 G loss			BCE(D(x, f), 1) + zr_weight * (1/B) sum_r sum_c zr_rc g_rc^2
 *
 * where zr marks the zero-reconstruction (ZR) samples.  The L2 penalties
 * of the reference code, reg * sum(w^2) / 2 over weights and biases, are
 * not part of these losses: their gradient reg * w is Adam's coupled weight
 * decay (optim.h), which the caller passes instead.
 *
 * The first layers take binary sparse inputs (the condition and the real
 * vector), so their weights are stored input-major (nn.h
 * sparse_linear_forward) and cost nnz * width; the fake vector is dense and
 * goes through cblas_sgemm, as do the generator's output layer and every
 * gradient of a dense input.
 */
#ifndef RECGAN_GAN_H
#define RECGAN_GAN_H

#include <stddef.h>
#include <stdint.h>

#include "nn.h"
#include "optim.h"
#include "rng.h"

typedef struct CfganDims
{
	int			C;				/* vector width */
	int			Z;				/* noise width, 0 = no noise */
	int			H;				/* generator hidden units */
	int			K;				/* discriminator hidden units */
} CfganDims;

/* Generator parameters (or their gradients): pointers into an arena block. */
typedef struct CfganG
{
	float	   *W1;				/* (C + Z, H) input-major: condition rows, then noise rows */
	float	   *b1;				/* (H) */
	float	   *W2;				/* (C, H) as torch.nn.Linear (OUT, IN) */
	float	   *b2;				/* (C) */
} CfganG;

/* Discriminator parameters (or their gradients). */
typedef struct CfganD
{
	float	   *V1;				/* (2C, K) input-major: condition rows, then vector rows */
	float	   *c1;				/* (K) */
	float	   *v2;				/* (K) = the (1, K) output weight */
	float	   *c2;				/* (1) */
} CfganD;

/* One batch: B rows of the entities' purchase CSR, with their masks. */
typedef struct CfganBatch
{
	int			B;
	const int64_t *indptr;		/* purchase CSR of all entities */
	const int32_t *indices;
	const int32_t *rows;		/* (B) entity of each batch row */
	const float *noise;			/* (B, Z), or NULL: zero noise */
	const float *mask;			/* (B, C): 1 on purchases and PM samples */
	const float *zr;			/* (B, C): 1 on ZR samples (G step only) */
	const float *fakes;			/* (E, C) every entity's g * mask, or NULL (D step only) */
} CfganBatch;

/* Activations and scratch of one batch, each sized for the largest B. */
typedef struct CfganCache
{
	float	   *h;				/* (B, H) generator hidden */
	float	   *g;				/* (B, C) generator output */
	float	   *fake;			/* (B, C) g * mask; then its gradient */
	float	   *cond;			/* (B, K) condition part of D's first layer */
	float	   *hr;				/* (B, K) D hidden on real; then its gradient */
	float	   *hf;				/* (B, K) D hidden on fake */
	float	   *dhf;			/* (B, K) gradient at hf, then at D's first layer */
	float	   *dsum;			/* (B, K) scratch */
	float	   *zreal;			/* (B) D logits on real */
	float	   *zfake;			/* (B) D logits on fake */
	float	   *dzreal;			/* (B) */
	float	   *dzfake;			/* (B) */
	float	   *dh;				/* (B, H) gradient at the generator hidden */
	float	   *ones;			/* (B) BCE targets 1 */
	float	   *zeros;			/* (B) BCE targets 0 */
} CfganCache;

/* Floats of a cache for batches of up to B rows. */
size_t		cfgan_cache_floats(const CfganDims *d, int B);

/* Lay a cache over mem (cfgan_cache_floats floats). */
void		cfgan_cache_init(CfganCache *cache, float *mem, const CfganDims *d, int B);

/* Number of floats in the generator's, resp. discriminator's parameters. */
int64_t		cfgan_g_count(const CfganDims *d);
int64_t		cfgan_d_count(const CfganDims *d);

/* Point the fields at consecutive tensors of block (W1, b1, W2, b2 order). */
void		cfgan_g_point(CfganG *G, float *block, const CfganDims *d);
void		cfgan_d_point(CfganD *D, float *block, const CfganDims *d);

/*
 * Generator hidden layer alone, h (B, H) = sigmoid(x W1[:C] + b1), zero
 * noise, for the B CSR rows given by rows (NULL: rows 0..B-1): scoring.
 */
void		cfgan_generator_hidden(float *h, const int64_t *indptr,
								   const int32_t *indices, const int32_t *rows,
								   int B, const CfganG *G, const CfganDims *d);

/*
 * Generator forward: h (B, H) and g (B, C) of cache from the batch's
 * conditions and noise.  Scoring calls it with any batch of CSR rows
 * (masks unused).
 */
void		cfgan_generator_forward(CfganCache *cache, const CfganBatch *batch,
									const CfganG *G, const CfganDims *d);

/*
 * The discriminator's step on one batch: generator forward (or, when
 * batch->fakes is set, its rows of the precomputed fake vectors), D on the
 * real and the fake vectors; returns the D loss and adds its gradient to dD.
 */
double		cfgan_d_step(CfganD *dD, CfganCache *cache, const CfganBatch *batch,
						 const CfganG *G, const CfganD *D, const CfganDims *d);

/*
 * The generator's step on one batch: generator forward, D on the fake
 * vectors; returns the G loss (zr_weight included) and adds its gradient
 * to dG.  *zr_loss gets the unweighted ZR term unless NULL.
 */
double		cfgan_g_step(CfganG *dG, double *zr_loss, CfganCache *cache,
						 const CfganBatch *batch, const CfganG *G,
						 const CfganD *D, const CfganDims *d, double zr_weight);

/*
 * FLOPs of the dense matrix products of one D step, resp. G step, on a
 * batch of B rows (2 per multiply-add; the sparse first layers, which cost
 * nnz * width additions, are not counted): for the benchmark.
 */
double		cfgan_d_step_flops(const CfganDims *d, int B, int with_generator);
double		cfgan_g_step_flops(const CfganDims *d, int B);

/*
 * ---- Training: the reference code's schedule.  One epoch draws, for every
 * entity, zr_ratio % of its unobserved entries as ZR samples and pm_ratio %
 * as PM samples (uniformly, without replacement: floor(n * ratio / 100) of
 * n), then makes steps_d passes of D steps over all entities, then steps_g
 * passes of G steps, each pass in a fresh random order, in batches of
 * batch_d, resp. batch_g (the last batch of a pass is smaller).  Each step
 * runs cfgan_d_step or cfgan_g_step, calls the batch hook with the batch
 * loss, and applies Adam, which also zeroes the gradients it used.  The ZR and PM
 * samples are independent draws, as the paper describes (the reference code
 * reseeds NumPy from the clock before each draw, so there the two sets of an
 * entity mostly coincide).
 *
 * The generator does not change during the D passes, so without noise the
 * trainer computes every entity's fake vector (generator output times the
 * epoch's mask) once before them and the D steps read it (the same numbers
 * as a generator forward per D batch, steps_d times fewer products), when
 * those E x C floats are no more than the 4 floats per parameter of the two
 * networks' arenas (so that the cache at most doubles the trainer's memory);
 * otherwise each D step runs the generator.  Without noise, a G step also
 * applies the generator's Adam step as the gradients of W2 and W1 are formed
 * (fused_g_update; the same bits as cfgan_g_step then the update, with less
 * memory traffic; each piece of the update is split over recgan.threads as
 * its size warrants); the unit tests turn it off to compare.
 */

typedef struct CfganConfig
{
	CfganDims	dims;
	int			batch_g;
	int			batch_d;
	int			steps_g;		/* G passes per epoch */
	int			steps_d;		/* D passes per epoch */
	double		zr_ratio;		/* percent of the unobserved entries */
	double		pm_ratio;
	double		zr_weight;
	AdamConfig	adam_g;			/* weight_decay = the G L2 coefficient */
	AdamConfig	adam_d;
} CfganConfig;

/* Called after every batch with its loss (the backend checks interrupts there). */
typedef void (*CfganBatchHook) (void *arg, double loss);

typedef struct CfganEpochStats
{
	double		g_loss;			/* mean G batch loss, + reg_g L2 at the epoch's end */
	double		zr_loss;		/* mean unweighted ZR term */
	double		d_loss;			/* mean D batch loss, + reg_d L2 at the epoch's end */
	double		flops;			/* dense matrix-product FLOPs of the epoch */
} CfganEpochStats;

typedef struct CfganTrainer
{
	CfganConfig cfg;
	int32_t		E;				/* entities */
	const int64_t *indptr;		/* (E + 1) purchase CSR, (E x C) */
	const int32_t *indices;
	ParamArena	g_arena;		/* params, grads, Adam moments */
	ParamArena	d_arena;
	ParamSpec	g_spec[1];		/* each network is one flat tensor to the arena */
	ParamSpec	d_spec[1];
	CfganG		G,
				dG;
	CfganD		D,
				dD;
	AdamState	g_adam;
	AdamState	d_adam;
	CfganCache	cache;
	float	   *mask;			/* (Bmax, C) */
	float	   *zr;				/* (Bmax, C) */
	float	   *noise;			/* (Bmax, Z) or NULL */
	uint64_t   *pm_bits;		/* (E, W) PM samples, W = ceil(C / 64) words */
	uint64_t   *zr_bits;		/* (E, W) ZR samples */
	int32_t    *perm;			/* (E) pass order */
	int32_t    *picked;			/* (C) sampling scratch */
	float	   *fakes;			/* (E, C) fake vectors of the D passes, or NULL */
	bool		fused_g_update; /* G steps apply Adam as gradients form (no noise) */
	float	   *tile;			/* (48, H) gradient tile of the fused update */
	int64_t    *unit_start;		/* (C + 2) the batch's purchases by input unit */
	int32_t    *unit_rows;		/* (Bmax, C) */
	Rng			rng;
} CfganTrainer;

/*
 * Bytes of training memory for E entities (arenas, cache, masks, samples);
 * 0 when the configuration is invalid or the size overflows.
 */
size_t		cfgan_trainer_bytes(const CfganConfig *cfg, int32_t E);

/*
 * Lay the trainer over mem (cfgan_trainer_bytes), seed its Rng and
 * initialise the weights as the reference code does: W ~ U(+-sqrt(6 /
 * (in + out))), b ~ U(+-0.01).  indptr / indices must outlive the trainer.
 * Returns 0, or -1 when bytes is too small or the config invalid.
 */
int			cfgan_trainer_init(CfganTrainer *t, const CfganConfig *cfg, int32_t E,
							   const int64_t *indptr, const int32_t *indices,
							   uint64_t seed, void *mem, size_t bytes);

/* One epoch (see above); hook may be NULL. */
void		cfgan_train_epoch(CfganTrainer *t, CfganEpochStats *stats,
							  CfganBatchHook hook, void *hook_arg);

#endif							/* RECGAN_GAN_H */
