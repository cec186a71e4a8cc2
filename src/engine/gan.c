/*
 * gan.c
 *	  CFGAN batch steps: generator and discriminator forward, losses and
 *	  backward passes (the math is in gan.h).
 *
 * Legend: B batch rows, C vector width, Z noise width, H generator hidden
 * units, K discriminator hidden units.  Dense products go through
 * cblas_sgemm (linear_forward / linear_backward of nn.c, or a direct call
 * where a weight is stored input-major); the binary inputs go through the
 * sparse layer of nn.c.  test/unit/test_cfgan.c holds both steps to finite
 * differences and to a dense naive-loop reference.
 */
#include "gan.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn.h"

/* Carve n floats off *mem. */
static float *
take(float **mem, size_t n)
{
	float	   *p = *mem;

	*mem += n;
	return p;
}

/* Floats of a cache for up to B rows. */
size_t
cfgan_cache_floats(const CfganDims *d, int B)
{
	return (size_t) B * (2 * (size_t) d->C + 2 * (size_t) d->H + 5 * (size_t) d->K + 6);
}

/* Lay the cache's arrays over mem. */
void
cfgan_cache_init(CfganCache *c, float *mem, const CfganDims *d, int B)
{
	size_t		b = (size_t) B;

	c->h = take(&mem, b * d->H);
	c->dh = take(&mem, b * d->H);
	c->g = take(&mem, b * d->C);
	c->fake = take(&mem, b * d->C);
	c->cond = take(&mem, b * d->K);
	c->hr = take(&mem, b * d->K);
	c->hf = take(&mem, b * d->K);
	c->dhf = take(&mem, b * d->K);
	c->dsum = take(&mem, b * d->K);
	c->zreal = take(&mem, b);
	c->zfake = take(&mem, b);
	c->dzreal = take(&mem, b);
	c->dzfake = take(&mem, b);
	c->ones = take(&mem, b);
	c->zeros = take(&mem, b);
	for (int r = 0; r < B; r++)
	{
		c->ones[r] = 1.0f;
		c->zeros[r] = 0.0f;
	}
}

/* Floats of W1, b1, W2, b2. */
int64_t
cfgan_g_count(const CfganDims *d)
{
	return ((int64_t) d->C + d->Z) * d->H + d->H + (int64_t) d->C * d->H + d->C;
}

/* Floats of V1, c1, v2, c2. */
int64_t
cfgan_d_count(const CfganDims *d)
{
	return 2 * (int64_t) d->C * d->K + 2 * (int64_t) d->K + 1;
}

/* Point G's fields at consecutive tensors of block. */
void
cfgan_g_point(CfganG *G, float *block, const CfganDims *d)
{
	G->W1 = block;
	G->b1 = G->W1 + ((int64_t) d->C + d->Z) * d->H;
	G->W2 = G->b1 + d->H;
	G->b2 = G->W2 + (int64_t) d->C * d->H;
}

/* Point D's fields at consecutive tensors of block. */
void
cfgan_d_point(CfganD *D, float *block, const CfganDims *d)
{
	D->V1 = block;
	D->c1 = D->V1 + 2 * (int64_t) d->C * d->K;
	D->v2 = D->c1 + d->K;
	D->c2 = D->v2 + d->K;
}

/* h = sigmoid(x W1[:C] + b1): the hidden layer without noise. */
void
cfgan_generator_hidden(float *h, const int64_t *indptr, const int32_t *indices,
					   const int32_t *rows, int B, const CfganG *G, const CfganDims *d)
{
	sparse_linear_forward(h, indptr, indices, rows, G->W1, G->b1, B, d->H);
	sigmoid_forward(h, h, (int64_t) B * d->H);
}

/* h = sigmoid(x W1[:C] + z W1[C:] + b1), g = h W2^T + b2. */
void
cfgan_generator_forward(CfganCache *c, const CfganBatch *bt, const CfganG *G,
						const CfganDims *d)
{
	int			B = bt->B;

	if (d->Z > 0 && bt->noise != NULL)
	{
		sparse_linear_forward(c->h, bt->indptr, bt->indices, bt->rows, G->W1, G->b1,
							  B, d->H);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d->H, d->Z,
					1.0f, bt->noise, d->Z, G->W1 + (int64_t) d->C * d->H, d->H,
					1.0f, c->h, d->H);
		sigmoid_forward(c->h, c->h, (int64_t) B * d->H);
	}
	else
		cfgan_generator_hidden(c->h, bt->indptr, bt->indices, bt->rows, B, G, d);
	linear_forward(c->g, c->h, G->W2, G->b2, B, d->H, d->C);
}

/* fake = g * mask. */
static void
apply_mask(float *fake, const float *g, const float *mask, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		fake[i] = g[i] * mask[i];
}

/* cond (B, K) = x V1[:C]: the condition's share of D's first layer, no bias. */
static void
d_condition(CfganCache *c, const CfganBatch *bt, const CfganD *D, const CfganDims *d)
{
	sparse_linear_forward(c->cond, bt->indptr, bt->indices, bt->rows, D->V1, NULL,
						  bt->B, d->K);
}

/* hf = sigmoid(cond + fake V1[C:] + c1), zfake = hf v2 + c2. */
static void
d_forward_fake(CfganCache *c, const CfganD *D, const CfganDims *d, int B)
{
	int64_t		n = (int64_t) B * d->K;

	for (int r = 0; r < B; r++)
		for (int k = 0; k < d->K; k++)
			c->hf[(int64_t) r * d->K + k] = c->cond[(int64_t) r * d->K + k] + D->c1[k];
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, d->K, d->C,
				1.0f, c->fake, d->C, D->V1 + (int64_t) d->C * d->K, d->K,
				1.0f, c->hf, d->K);
	sigmoid_forward(c->hf, c->hf, n);
	linear_forward(c->zfake, c->hf, D->v2, D->c2, B, d->K, 1);
}

/* hr = sigmoid(cond + x V1[C:] + c1), zreal = hr v2 + c2 (the real vector is x). */
static void
d_forward_real(CfganCache *c, const CfganBatch *bt, const CfganD *D, const CfganDims *d)
{
	int64_t		n = (int64_t) bt->B * d->K;

	sparse_linear_forward(c->hr, bt->indptr, bt->indices, bt->rows,
						  D->V1 + (int64_t) d->C * d->K, D->c1, bt->B, d->K);
	for (int64_t i = 0; i < n; i++)
		c->hr[i] += c->cond[i];
	sigmoid_forward(c->hr, c->hr, n);
	linear_forward(c->zreal, c->hr, D->v2, D->c2, bt->B, d->K, 1);
}

/* D loss on real (target 1) and fake (target 0), gradients into dD. */
double
cfgan_d_step(CfganD *dD, CfganCache *c, const CfganBatch *bt, const CfganG *G,
			 const CfganD *D, const CfganDims *d)
{
	int			B = bt->B;
	int64_t		n = (int64_t) B * d->K;
	double		loss;

	if (bt->fakes != NULL)
		for (int r = 0; r < B; r++)
			memcpy(c->fake + (int64_t) r * d->C,
				   bt->fakes + (int64_t) (bt->rows != NULL ? bt->rows[r] : r) * d->C,
				   sizeof(float) * d->C);
	else
	{
		cfgan_generator_forward(c, bt, G, d);
		apply_mask(c->fake, c->g, bt->mask, (int64_t) B * d->C);
	}
	d_condition(c, bt, D, d);
	d_forward_real(c, bt, D, d);
	d_forward_fake(c, D, d, B);

	loss = bce_logits_loss(c->dzreal, c->zreal, c->ones, NULL, B) +
		bce_logits_loss(c->dzfake, c->zfake, c->zeros, NULL, B);

	/* output layer; hr and dhf then hold the gradients at the first layer */
	linear_backward(c->dsum, dD->v2, dD->c2, c->dzreal, c->hr, D->v2, B, d->K, 1);
	sigmoid_backward(c->hr, c->dsum, c->hr, n);
	linear_backward(c->dsum, dD->v2, dD->c2, c->dzfake, c->hf, D->v2, B, d->K, 1);
	sigmoid_backward(c->dhf, c->dsum, c->hf, n);

	/* first layer: vector rows from real (sparse) and fake (dense) */
	sparse_linear_backward(dD->V1 + (int64_t) d->C * d->K, NULL, c->hr,
						   bt->indptr, bt->indices, bt->rows, B, d->K);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d->C, d->K, B,
				1.0f, c->fake, d->C, c->dhf, d->K, 1.0f,
				dD->V1 + (int64_t) d->C * d->K, d->K);
	/* condition rows and bias from both */
	for (int64_t i = 0; i < n; i++)
		c->dsum[i] = c->hr[i] + c->dhf[i];
	sparse_linear_backward(dD->V1, dD->c1, c->dsum, bt->indptr, bt->indices,
						   bt->rows, B, d->K);
	return loss;
}

/*
 * ZR term and the gradient at g: writes dg = dfake * mask + w 2 zr g / B
 * over dfake in place; returns (1/B) sum zr g^2 (double accumulator).
 */
static double
g_output_grad(float *dfake, const float *g, const float *mask, const float *zr,
			  double w, int B, int C)
{
	double		sum = 0.0;
	float		scale = (float) (2.0 * w / B);
	int64_t		n = (int64_t) B * C;

	for (int64_t i = 0; i < n; i++)
	{
		float		gi = g[i];

		sum += (double) zr[i] * gi * gi;
		dfake[i] = dfake[i] * mask[i] + scale * zr[i] * gi;
	}
	return sum / B;
}

/*
 * The G step up to the generator's output: forward, D's verdict, the loss
 * (returned, *zr_loss its unweighted ZR term) and its gradient at g, left in
 * c->fake; c->h keeps the hidden layer.
 */
static double
g_step_output(double *zr_loss, CfganCache *c, const CfganBatch *bt, const CfganG *G,
			  const CfganD *D, const CfganDims *d, double zr_weight)
{
	int			B = bt->B;
	double		adv,
				zr;

	cfgan_generator_forward(c, bt, G, d);
	apply_mask(c->fake, c->g, bt->mask, (int64_t) B * d->C);
	d_condition(c, bt, D, d);
	d_forward_fake(c, D, d, B);
	adv = bce_logits_loss(c->dzfake, c->zfake, c->ones, NULL, B);

	/* back through D (frozen) to the fake vector */
	linear_backward(c->dsum, NULL, NULL, c->dzfake, c->hf, D->v2, B, d->K, 1);
	sigmoid_backward(c->dhf, c->dsum, c->hf, (int64_t) B * d->K);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, d->C, d->K,
				1.0f, c->dhf, d->K, D->V1 + (int64_t) d->C * d->K, d->K,
				0.0f, c->fake, d->C);
	zr = g_output_grad(c->fake, c->g, bt->mask, bt->zr, zr_weight, B, d->C);
	if (zr_loss != NULL)
		*zr_loss = zr;
	return adv + zr_weight * zr;
}

/* G loss: fool D, plus zr_weight times the ZR term; gradients into dG. */
double
cfgan_g_step(CfganG *dG, double *zr_loss, CfganCache *c, const CfganBatch *bt,
			 const CfganG *G, const CfganD *D, const CfganDims *d, double zr_weight)
{
	int			B = bt->B;
	double		loss = g_step_output(zr_loss, c, bt, G, D, d, zr_weight);

	/* back through G */
	linear_backward(c->dh, dG->W2, dG->b2, c->fake, c->h, G->W2, B, d->H, d->C);
	sigmoid_backward(c->dh, c->dh, c->h, (int64_t) B * d->H);
	sparse_linear_backward(dG->W1, dG->b1, c->dh, bt->indptr, bt->indices,
						   bt->rows, B, d->H);
	if (d->Z > 0 && bt->noise != NULL)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d->Z, d->H, B,
					1.0f, bt->noise, d->Z, c->dh, d->H, 1.0f,
					dG->W1 + (int64_t) d->C * d->H, d->H);
	return loss;
}

/* Generator output layer and noise rows (2BHC + 2BZH), forward. */
static double
generator_flops(const CfganDims *d, int B)
{
	return 2.0 * B * d->H * d->C + 2.0 * B * d->Z * d->H;
}

/* The generator unless given its fakes, D's dense fake input (2BCK), forward. */
static double
forward_flops(const CfganDims *d, int B, int with_generator)
{
	return (with_generator ? generator_flops(d, B) : 0.0) + 2.0 * B * d->C * d->K;
}

/* Forward, plus the gradient of V1's vector rows from the fake (2BCK). */
double
cfgan_d_step_flops(const CfganDims *d, int B, int with_generator)
{
	return forward_flops(d, B, with_generator) + 2.0 * B * d->C * d->K;
}

/* Forward, plus dfake (2BKC), dW2 and dh (4BCH), and the noise rows. */
double
cfgan_g_step_flops(const CfganDims *d, int B)
{
	return forward_flops(d, B, 1) + 2.0 * B * d->K * d->C + 4.0 * B * d->C * d->H +
		2.0 * B * d->Z * d->H;
}

/* ---- Training */

#define ALIGN_BYTES 64

/*
 * Rows of W2 whose gradient is formed, then applied, per product in
 * g_step_fused: a multiple of 48, so that every row falls in the same
 * register block of the sgemm kernels (OpenBLAS's Haswell/Zen sgemm handles
 * rows in blocks of 24, SkylakeX's of 16) as in the untiled product, and
 * gets the same bits.
 */
#define W2_TILE_ROWS 48

/* Reserve n elements of size elem at *off (64-byte aligned); false on overflow. */
static int
reserve(size_t *off, size_t n, size_t elem, size_t *start)
{
	size_t		at = (*off + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;

	*start = 0;
	if (at < *off || (elem != 0 && n > (SIZE_MAX - at) / elem))
		return 0;
	*start = at;
	*off = at + n * elem;
	return 1;
}

/* Largest batch of either network, at most E, at least 1. */
static int
batch_max(const CfganConfig *cfg, int32_t E)
{
	int			b = cfg->batch_g > cfg->batch_d ? cfg->batch_g : cfg->batch_d;

	if (b > E)
		b = E;
	return b < 1 ? 1 : b;
}

/* Region offsets of the trainer's memory; 0 when invalid or overflowing. */
typedef struct TrainerLayout
{
	size_t		g_arena,
				d_arena,
				cache,
				mask,
				zr,
				noise,
				pm_bits,
				zr_bits,
				perm,
				picked,
				fakes,
				tile,
				unit_start,
				unit_rows,
				total;
} TrainerLayout;

/* Whether the D passes read precomputed fakes (gan.h): no noise, E C <= 4 parameters. */
static int
caches_fakes(const CfganConfig *cfg, int32_t E)
{
	const CfganDims *d = &cfg->dims;

	return d->Z == 0 &&
		(double) E * d->C <= 4.0 * ((double) cfgan_g_count(d) + (double) cfgan_d_count(d));
}

/* Compute the layout of the trainer's memory. */
static size_t
trainer_layout(const CfganConfig *cfg, int32_t E, TrainerLayout *l)
{
	const CfganDims *d = &cfg->dims;
	size_t		off = 0,
				bm,
				words;
	int			ok = 1;

	memset(l, 0, sizeof(*l));
	if (d->C < 1 || d->Z < 0 || d->H < 1 || d->K < 1 || E < 1 ||
		cfg->batch_g < 1 || cfg->batch_d < 1 || cfg->steps_g < 0 || cfg->steps_d < 0 ||
		cfgan_g_count(d) <= 0 || cfgan_d_count(d) <= 0)
		return 0;
	bm = (size_t) batch_max(cfg, E);
	words = ((size_t) d->C + 63) / 64;
	ok &= reserve(&off, 4 * (size_t) cfgan_g_count(d), sizeof(float), &l->g_arena);
	ok &= reserve(&off, 4 * (size_t) cfgan_d_count(d), sizeof(float), &l->d_arena);
	ok &= reserve(&off, cfgan_cache_floats(d, (int) bm), sizeof(float), &l->cache);
	ok &= reserve(&off, bm * d->C, sizeof(float), &l->mask);
	ok &= reserve(&off, bm * d->C, sizeof(float), &l->zr);
	ok &= reserve(&off, bm * d->Z, sizeof(float), &l->noise);
	ok &= reserve(&off, (size_t) E * words, sizeof(uint64_t), &l->pm_bits);
	ok &= reserve(&off, (size_t) E * words, sizeof(uint64_t), &l->zr_bits);
	ok &= reserve(&off, (size_t) E, sizeof(int32_t), &l->perm);
	ok &= reserve(&off, (size_t) d->C, sizeof(int32_t), &l->picked);
	if (caches_fakes(cfg, E))
		ok &= reserve(&off, (size_t) E * d->C, sizeof(float), &l->fakes);
	if (d->Z == 0)
	{
		/* g_step_fused: a W2 tile (or a W1 row), the batch's purchases by unit */
		ok &= reserve(&off, (size_t) W2_TILE_ROWS * d->H, sizeof(float), &l->tile);
		ok &= reserve(&off, (size_t) d->C + 2, sizeof(int64_t), &l->unit_start);
		ok &= reserve(&off, bm * d->C, sizeof(int32_t), &l->unit_rows);
	}
	l->total = off;
	return ok ? off : 0;
}

/* Bytes the trainer needs. */
size_t
cfgan_trainer_bytes(const CfganConfig *cfg, int32_t E)
{
	TrainerLayout l;

	return trainer_layout(cfg, E, &l);
}

/* Lay out the trainer, seed it and initialise both networks. */
int
cfgan_trainer_init(CfganTrainer *t, const CfganConfig *cfg, int32_t E,
				   const int64_t *indptr, const int32_t *indices, uint64_t seed,
				   void *mem, size_t bytes)
{
	const CfganDims *d = &cfg->dims;
	TrainerLayout l;
	char	   *base = mem;

	if (trainer_layout(cfg, E, &l) == 0 || mem == NULL || bytes < l.total)
		return -1;
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	t->E = E;
	t->indptr = indptr;
	t->indices = indices;
	t->g_spec[0] = (ParamSpec) {"generator", cfgan_g_count(d), 1};
	t->d_spec[0] = (ParamSpec) {"discriminator", cfgan_d_count(d), 1};
	if (param_arena_init(&t->g_arena, t->g_spec, 1, PARAM_ARENA_ADAM, base + l.g_arena,
						 4 * sizeof(float) * (size_t) cfgan_g_count(d)) != 0 ||
		param_arena_init(&t->d_arena, t->d_spec, 1, PARAM_ARENA_ADAM, base + l.d_arena,
						 4 * sizeof(float) * (size_t) cfgan_d_count(d)) != 0)
		return -1;
	cfgan_g_point(&t->G, t->g_arena.params, d);
	cfgan_g_point(&t->dG, t->g_arena.grads, d);
	cfgan_d_point(&t->D, t->d_arena.params, d);
	cfgan_d_point(&t->dD, t->d_arena.grads, d);
	adam_init(&t->g_adam, t->g_arena.m, t->g_arena.v, t->g_arena.n);
	adam_init(&t->d_adam, t->d_arena.m, t->d_arena.v, t->d_arena.n);
	cfgan_cache_init(&t->cache, (float *) (base + l.cache), d, batch_max(cfg, E));
	t->mask = (float *) (base + l.mask);
	t->zr = (float *) (base + l.zr);
	t->noise = d->Z > 0 ? (float *) (base + l.noise) : NULL;
	t->pm_bits = (uint64_t *) (base + l.pm_bits);
	t->zr_bits = (uint64_t *) (base + l.zr_bits);
	t->perm = (int32_t *) (base + l.perm);
	t->picked = (int32_t *) (base + l.picked);
	t->fakes = caches_fakes(cfg, E) ? (float *) (base + l.fakes) : NULL;
	t->fused_g_update = d->Z == 0;
	if (t->fused_g_update)
	{
		t->tile = (float *) (base + l.tile);
		memset(t->tile, 0, sizeof(float) * W2_TILE_ROWS * (size_t) d->H);
		t->unit_start = (int64_t *) (base + l.unit_start);
		t->unit_rows = (int32_t *) (base + l.unit_rows);
	}

	rng_seed(&t->rng, seed);
	init_xavier_uniform(t->G.W1, d->C + d->Z, d->H, &t->rng);
	init_uniform(t->G.b1, -0.01f, 0.01f, d->H, &t->rng);
	init_xavier_uniform(t->G.W2, d->H, d->C, &t->rng);
	init_uniform(t->G.b2, -0.01f, 0.01f, d->C, &t->rng);
	init_xavier_uniform(t->D.V1, 2 * d->C, d->K, &t->rng);
	init_uniform(t->D.c1, -0.01f, 0.01f, d->K, &t->rng);
	init_xavier_uniform(t->D.v2, d->K, 1, &t->rng);
	init_uniform(t->D.c2, -0.01f, 0.01f, 1, &t->rng);
	return 0;
}

/* Words of one entity's sample bitset. */
static size_t
bit_words(const CfganTrainer *t)
{
	return ((size_t) t->cfg.dims.C + 63) / 64;
}

/* Draw floor(n * ratio / 100) of entity e's n unobserved entries into bits. */
static void
draw_samples(CfganTrainer *t, int32_t e, double ratio, uint64_t *bits)
{
	int32_t		C = t->cfg.dims.C;
	const int32_t *row = t->indices + t->indptr[e];
	int32_t		n_pos = (int32_t) (t->indptr[e + 1] - t->indptr[e]);
	int32_t		n_un = C - n_pos;
	int32_t		k = (int32_t) floor((double) n_un * ratio / 100.0);

	memset(bits, 0, bit_words(t) * sizeof(uint64_t));
	if (k > n_un)
		k = n_un;
	if (k <= 0 || sample_negatives(&t->rng, C, row, n_pos, k, t->picked) != k)
		return;
	for (int32_t i = 0; i < k; i++)
		bits[t->picked[i] >> 6] |= UINT64_C(1) << (t->picked[i] & 63);
}

/* Expand entity bits into a dense 0/1 row (C), 32 bits a step (vector shifts). */
RECGAN_VECTOR_CLONES static void
expand_bits(float *restrict out, const uint64_t *restrict bits, int32_t C)
{
	int32_t		c = 0;

	for (; c + 32 <= C; c += 32)
	{
		uint32_t	x = (uint32_t) (bits[c >> 6] >> (c & 32));

		for (int b = 0; b < 32; b++)
			out[c + b] = (float) ((x >> b) & 1u);
	}
	for (; c < C; c++)
		out[c] = (float) ((bits[c >> 6] >> (c & 63)) & 1);
}

/* Masks (purchases + PM, and ZR when zr) and noise of a batch. */
static void
fill_batch(CfganTrainer *t, CfganBatch *bt, const int32_t *rows, int B, int with_zr)
{
	int32_t		C = t->cfg.dims.C;
	size_t		w = bit_words(t);

	for (int r = 0; r < B; r++)
	{
		int32_t		e = rows[r];
		float	   *mask = t->mask + (int64_t) r * C;

		expand_bits(mask, t->pm_bits + e * w, C);
		for (int64_t p = t->indptr[e]; p < t->indptr[e + 1]; p++)
			mask[t->indices[p]] = 1.0f;
		if (with_zr)
			expand_bits(t->zr + (int64_t) r * C, t->zr_bits + e * w, C);
	}
	for (int64_t i = 0; t->noise != NULL && i < (int64_t) B * t->cfg.dims.Z; i++)
		t->noise[i] = (float) rng_normal(&t->rng);
	bt->B = B;
	bt->indptr = t->indptr;
	bt->indices = t->indices;
	bt->rows = rows;
	bt->noise = t->noise;
	bt->mask = t->mask;
	bt->zr = t->zr;
	bt->fakes = with_zr ? NULL : t->fakes;
}

/*
 * The fake vectors of every entity for the D passes (t->fakes): the
 * generator forward and the mask of fill_batch, batch_d entities at a time.
 */
static void
fill_fakes(CfganTrainer *t)
{
	const CfganDims *d = &t->cfg.dims;
	int			bs = batch_max(&t->cfg, t->E);

	for (int32_t start = 0; start < t->E; start += bs)
	{
		int			B = t->E - start < bs ? t->E - start : bs;
		CfganBatch	bt;

		for (int r = 0; r < B; r++)
			t->perm[r] = start + r;
		fill_batch(t, &bt, t->perm, B, 0);
		cfgan_generator_forward(&t->cache, &bt, &t->G, d);
		apply_mask(t->fakes + (int64_t) start * d->C, t->cache.g, bt.mask, (int64_t) B * d->C);
	}
}

/*
 * The batch's purchases by input unit, the transpose of its CSR rows: unit
 * j's batch rows are unit_rows[unit_start[j] .. unit_start[j + 1]), in
 * batch order (unit_start has C + 2 entries: counts go two ahead, so that
 * the fill leaves each entry at its unit's end).
 */
static void
batch_by_unit(CfganTrainer *t, const CfganBatch *bt)
{
	int32_t		C = t->cfg.dims.C;
	int64_t    *start = t->unit_start;

	memset(start, 0, sizeof(int64_t) * ((size_t) C + 2));
	for (int r = 0; r < bt->B; r++)
		for (int64_t p = t->indptr[bt->rows[r]]; p < t->indptr[bt->rows[r] + 1]; p++)
			start[t->indices[p] + 2]++;
	for (int32_t j = 0; j < C; j++)
		start[j + 2] += start[j + 1];
	for (int r = 0; r < bt->B; r++)
		for (int64_t p = t->indptr[bt->rows[r]]; p < t->indptr[bt->rows[r] + 1]; p++)
			t->unit_rows[start[t->indices[p] + 1]++] = r;
}

/* g (H) += the rows of dh (B, H) listed in rows[0..n), in that order (onto zeros: a W1 gradient row). */
RECGAN_VECTOR_CLONES static void
add_rows_in_order(float *restrict g, const float *restrict dh, const int32_t *rows,
				  int64_t n, int H)
{
	for (int64_t p = 0; p < n; p++)
	{
		const float *restrict x = dh + (int64_t) rows[p] * H;

		for (int h = 0; h < H; h++)
			g[h] += x[h];
	}
}

/*
 * The trainer's G step without noise (gan.h): cfgan_g_step's loss and
 * gradients with the generator's Adam step fused in, so that the gradients
 * of W2 and W1 (95 % of the generator) never go through memory: W2's are
 * formed W2_TILE_ROWS rows at a time (dW2 = dg^T h, after dh, which needs
 * W2 before its update) and each tile is applied at once; W1's row of input
 * unit j is the sum of dh over the batch rows that purchased j, added in
 * batch order onto zeros as sparse_linear_backward does, applied at once;
 * the biases go through the arena's gradients.  The same bits as
 * cfgan_g_step then adam_update_zero (test_cfgan checks it).  The tile is
 * all zeros between uses (zeroed at init, and by each update as it reads
 * it), so the products accumulate onto it and the W1 rows start from it.
 */
static double
g_step_fused(CfganTrainer *t, const CfganBatch *bt, double *zr_loss)
{
	const CfganDims *d = &t->cfg.dims;
	CfganCache *c = &t->cache;
	const CfganG *G = &t->G;
	const CfganG *dG = &t->dG;
	float	   *params = t->g_arena.params;
	float	   *m = t->g_adam.m;
	float	   *v = t->g_adam.v;
	float	   *g = t->tile;
	int			B = bt->B,
				H = d->H;
	int64_t		off;
	AdamStep	step;
	double		loss = g_step_output(zr_loss, c, bt, G, &t->D, d, t->cfg.zr_weight);

	linear_backward(c->dh, NULL, dG->b2, c->fake, c->h, G->W2, B, H, d->C);
	sigmoid_backward(c->dh, c->dh, c->h, (int64_t) B * H);
	add_column_sums(dG->b1, c->dh, B, H);
	adam_step_begin(&t->g_adam, &t->cfg.adam_g, &step);
	for (int32_t u0 = 0; u0 < d->C; u0 += W2_TILE_ROWS)
	{
		int			n = d->C - u0 < W2_TILE_ROWS ? d->C - u0 : W2_TILE_ROWS;

		off = (G->W2 - params) + (int64_t) u0 * H;
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, H, B,
					1.0f, c->fake + u0, d->C, c->h, H, 1.0f, g, H);
		adam_step_apply(&step, params + off, m + off, v + off, g, (int64_t) n * H, true);
	}
	batch_by_unit(t, bt);
	for (int32_t j = 0; j < d->C; j++)
	{
		add_rows_in_order(g, c->dh, t->unit_rows + t->unit_start[j],
						  t->unit_start[j + 1] - t->unit_start[j], H);
		off = (G->W1 - params) + (int64_t) j * H;
		adam_step_apply(&step, params + off, m + off, v + off, g, H, true);
	}
	off = G->b1 - params;
	adam_step_apply(&step, params + off, m + off, v + off, dG->b1, H, true);
	off = G->b2 - params;
	adam_step_apply(&step, params + off, m + off, v + off, dG->b2, d->C, true);
	return loss;
}

/* `passes` passes over the entities in shuffled batches: D steps or G steps. */
static void
run_passes(CfganTrainer *t, int generator, CfganEpochStats *st,
		   CfganBatchHook hook, void *arg)
{
	const CfganConfig *cfg = &t->cfg;
	int			passes = generator ? cfg->steps_g : cfg->steps_d;
	int			bs = generator ? cfg->batch_g : cfg->batch_d;
	double		sum = 0.0,
				zr_sum = 0.0;
	int64_t		n = 0;

	bool		fused = generator && t->fused_g_update;

	if (!generator && t->fakes != NULL && passes > 0)
	{
		fill_fakes(t);
		st->flops += generator_flops(&cfg->dims, t->E);
	}
	for (int s = 0; s < passes; s++)
	{
		sample_permutation(t->perm, t->E, &t->rng);
		for (int32_t start = 0; start < t->E; start += bs)
		{
			int			B = t->E - start < bs ? t->E - start : bs;
			CfganBatch	bt;
			double		loss,
						zr = 0.0;

			fill_batch(t, &bt, t->perm + start, B, generator);
			/* gradients start at zero: the arena is zeroed, then Adam zeroes them */
			if (fused)
				loss = g_step_fused(t, &bt, &zr);	/* Adam included */
			else if (generator)
				loss = cfgan_g_step(&t->dG, &zr, &t->cache, &bt, &t->G, &t->D,
									&cfg->dims, cfg->zr_weight);
			else
				loss = cfgan_d_step(&t->dD, &t->cache, &bt, &t->G, &t->D, &cfg->dims);
			st->flops += generator ? cfgan_g_step_flops(&cfg->dims, B) :
				cfgan_d_step_flops(&cfg->dims, B, bt.fakes == NULL);
			if (hook != NULL)
				hook(arg, loss);
			if (!generator)
				adam_update_zero(t->d_arena.params, &t->d_adam, t->d_arena.grads, &cfg->adam_d);
			else if (!fused)
				adam_update_zero(t->g_arena.params, &t->g_adam, t->g_arena.grads, &cfg->adam_g);
			sum += loss;
			zr_sum += zr;
			n++;
		}
	}
	if (generator)
	{
		st->g_loss = (n > 0 ? sum / n : 0.0) +
			l2_penalty(NULL, t->g_arena.params, cfg->adam_g.weight_decay, t->g_arena.n);
		st->zr_loss = n > 0 ? zr_sum / n : 0.0;
	}
	else
		st->d_loss = (n > 0 ? sum / n : 0.0) +
			l2_penalty(NULL, t->d_arena.params, cfg->adam_d.weight_decay, t->d_arena.n);
}

/* Draw the epoch's ZR and PM samples, then the D passes and the G passes. */
void
cfgan_train_epoch(CfganTrainer *t, CfganEpochStats *stats, CfganBatchHook hook,
				  void *hook_arg)
{
	size_t		w = bit_words(t);

	memset(stats, 0, sizeof(*stats));
	for (int32_t e = 0; e < t->E; e++)
	{
		draw_samples(t, e, t->cfg.zr_ratio, t->zr_bits + e * w);
		draw_samples(t, e, t->cfg.pm_ratio, t->pm_bits + e * w);
	}
	run_passes(t, 0, stats, hook, hook_arg);
	run_passes(t, 1, stats, hook, hook_arg);
}
