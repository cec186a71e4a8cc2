/*
 * sgan.c
 *	  SGAN training engine: the closed-form priors, the generator and
 *	  discriminator passes of one batch, the alternating epoch, scoring.
 *	  See sgan.h for the model.
 *
 * Legend (as sgan.h): U users, I items, H generator hidden, K
 * discriminator hidden, B batch rows, S shared samples of a batch, Sd of
 * them shown to the discriminator, Q positives of the batch, T prior
 * neighbours per item.
 *
 * Costs are proportional to the data: the input layers cost nnz * width,
 * the outputs are evaluated on the batch's positives (row dots, Q H) and
 * on the S shared samples (GEMMs, B S H), and Adam touches only the rows
 * a batch used (lazy row Adam).  Scoring alone is dense (GEMM, I H per user).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#undef I						/* complex.h, through OpenBLAS's cblas.h */

#include "nn.h"
#include "optim.h"
#include "parallel.h"
#include "rng.h"
#include "sgan.h"
#include "topk.h"

/* LAPACK (Fortran ABI, with the hidden length of the character argument) */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);

#define LRELU_SLOPE 0.2f
#define SGAN_MAX_BUFFERS 64
#define SGAN_MAX_FOLDS 8

enum
{
	G_W1, G_B1, G_W2, G_B2, G_A, G_N
};
enum
{
	D_V1C, D_V1V, D_C1, D_V2, D_C2, D_N
};

struct Sgan
{
	SganOptions o;
	SganAllocator al;
	void	   *buffers[SGAN_MAX_BUFFERS];	/* everything allocated, for sgan_free */
	int			n_buffers;
	const int64_t *indptr;		/* (U + 1) training positives */
	const int32_t *indices;		/* (P) */
	int32_t		U,
				I;
	int			H,
				K,
				S,				/* samples per batch, <= I */
				Sd,
				full;			/* S == I: the samples are the whole catalogue */
	Rng			rng;			/* batches: order, dropout, samples */
	Rng			rng_d;			/* the latent prior's samples (value = latent) */
	int32_t    *active;			/* (U) users with positives */
	int32_t		n_active;
	int32_t    *order;			/* (U) an epoch's order */

	ParamSpec	gspec[G_N],
				dspec[D_N];
	ParamArena	ga,				/* generator: params, grads, m, v */
				da;				/* discriminator */
	SganWeights w;				/* generator params (+ prior) */
	SganWeights fw[SGAN_MAX_FOLDS];	/* cross-fitted priors: fold f's users see fw[f] */
	int64_t    *iptr;			/* (I + 1) item -> users, GF-CF only */
	int32_t    *iusers;			/* (P) */
	float	   *g[G_N];			/* generator grads */
	float	   *d[D_N];			/* discriminator params */
	float	   *dg[D_N];		/* their grads */
	int64_t		t_g,
				t_d;			/* Adam steps */

	/* the batch */
	int			B;
	int64_t		Qmax;			/* positives of the B longest rows */
	int32_t    *rows;			/* (B) users */
	int64_t    *qoff;			/* (B + 1) start of each row's positives in the Q arrays */
	int64_t    *in_ptr;			/* (B + 1) kept-by-dropout input */
	int32_t    *in_idx;			/* (Q) */
	int32_t    *tgt;			/* (Q) the targets of each row (qoff) */
	int32_t    *samp;			/* (S) shared samples, ascending */
	char	   *excl;			/* (B, S) 1: the sample is the row's positive */
	float	   *h;				/* (B, H) */
	float	   *dh;				/* (B, H) */
	float	   *W2s;			/* (S, H) W2 rows of the samples (unused when full) */
	float	   *dW2s;			/* (S, H) */
	float	   *zs;				/* (B, S) logits on the samples */
	float	   *ps;				/* (B, S) their softmax probabilities (per item) */
	float	   *dzs;			/* (B, S) */
	float	   *prs;			/* (B, S) prior on the samples */
	float	   *zq;				/* (Q) logits on the positives */
	float	   *pq;				/* (Q) */
	float	   *dzq;			/* (Q) */
	float	   *prq;			/* (Q) prior on the positives */
	float	   *wr;				/* (B) sample weight (I - n) / (S - excluded) */
	float	   *dense;			/* (I) scratch, kept zero */
	/* the discriminator's view */
	float	   *vq;				/* (Q) fake values on the positives */
	float	   *vs;				/* (B, Sd) fake values on the first Sd samples */
	float	   *dvq;			/* (Q) */
	float	   *dvs;			/* (B, Sd) */
	float	   *cond;			/* (B, K) condition embedding */
	float	   *ar,
			   *af;				/* (B, K) real / fake pre-activations, then their grads */
	float	   *hr,
			   *hf;				/* (B, K) activations */
	float	   *V1s;			/* (Sd, K) V1v rows of the samples */
	float	   *dV1s;			/* (Sd, K) */
	float	   *outr,
			   *outf;			/* (B) logits of D */
	double	   *dout;			/* (2 B) their loss gradients */
	/* the miner (value = miner): D scores items; real = dropped positives, fake = G's top */
	int32_t    *fidx;			/* (B, Sd) the fakes: sample coordinates, best first */
	float	   *fq;				/* (B, Sd) G's softmax restricted to the fakes */
	int32_t    *nf;				/* (B) fakes of each row */
	char	   *drop;			/* (Q) 1: the target was dropped from the input (a real) */
	float	   *tmp;			/* (S) scratch scores */
	int32_t    *heap;			/* (Sd) */
	/* the adversarial autoencoder (value = latent) */
	float	   *zreal;			/* (B, H) prior samples tanh(e) */
	float	   *dhadv;			/* (B, H) the G term's gradient on h */
	/* rows touched by a step, for lazy Adam */
	int32_t    *list_in;		/* (I) */
	int32_t    *list_out;		/* (I) */
	char	   *mark;			/* (I) kept zero */
	int32_t		n_in,
				n_out;
	int			fwd_valid;		/* h, z, v match the current generator and batch */
	double		nll;			/* the batch's summed NLL, when fwd_valid */
};

/* ---- Memory */

/* Allocate n zeroed bytes from the caller's allocator and remember them. */
static void *
take(Sgan *s, size_t n)
{
	void	   *p;

	if (s->n_buffers == SGAN_MAX_BUFFERS)
		return NULL;
	p = s->al.alloc(s->al.arg, n ? n : 8);
	if (p != NULL)
		s->buffers[s->n_buffers++] = p;
	return p;
}

/* Fill o with the defaults. */
void
sgan_default_options(SganOptions *o)
{
	o->hidden = 600;
	o->dropout = 0.5;
	o->target_dropped = 0;
	o->negatives = 1000000;
	o->batch = 128;
	o->lr = 1e-2;
	o->weight_decay = 0.0;
	o->prior = SGAN_PRIOR_EASE;
	o->prior_lambda = 200.0;
	o->prior_topk = 200;
	o->prior_scale = 20.0;
	o->prior_folds = 0;
	o->joint = 0;
	o->adv_weight = 0.1;
	o->d_hidden = 128;
	o->d_negatives = 100;
	o->d_lr = 1e-3;
	o->value = SGAN_VALUE_SOFTMAX;
}

/* The sample counts S and Sd the options give for I items. */
static void
sample_counts(const SganOptions *o, int32_t I, int *S, int *Sd)
{
	*S = o->negatives >= I || o->negatives < 1 ? I : o->negatives;
	*Sd = o->d_negatives < 0 ? 0 : (o->d_negatives > *S ? *S : o->d_negatives);
}

/*
 * Positives of the B longest rows: a bound on a batch's Q.  B passes of
 * "longest row not yet taken" would cost U B; a threshold search on the
 * row lengths costs U log(max length) instead: find the largest t with at
 * least B rows of length >= t, then sum.
 */
static int64_t
longest_rows(const int64_t *indptr, int32_t U, int B)
{
	int64_t		lo = 0,
				hi = 0,
				sum = 0,
				count = 0;

	for (int32_t u = 0; u < U; u++)
		hi = indptr[u + 1] - indptr[u] > hi ? indptr[u + 1] - indptr[u] : hi;
	while (lo < hi)				/* largest t in [0, hi] with >= B rows of length >= t */
	{
		int64_t		t = (lo + hi + 1) / 2,
					n = 0;

		for (int32_t u = 0; u < U; u++)
			n += indptr[u + 1] - indptr[u] >= t;
		if (n >= B)
			lo = t;
		else
			hi = t - 1;
	}
	/* rows longer than lo all count; rows of length lo fill up to B */
	for (int32_t u = 0; u < U; u++)
		if (indptr[u + 1] - indptr[u] > lo)
		{
			sum += indptr[u + 1] - indptr[u];
			count++;
		}
	return sum + (B > count ? (int64_t) (B - count) * lo : 0);
}

/* Bytes sgan_init will allocate (training state + weights), a close estimate. */
size_t
sgan_sizes(const SganOptions *o, int32_t U, int32_t I, int64_t P)
{
	int			S,
				Sd,
				H = o->hidden,
				K = o->d_hidden,
				B = o->batch;
	double		n = 0.0,
				Q = (double) (P < (int64_t) B * 4096 ? P : (int64_t) B * 4096);

	sample_counts(o, I, &S, &Sd);
	n += 4.0 * 4 * ((double) I * H * 2 + H + I + 1);	/* generator arena */
	if (o->adv_weight > 0)
		n += 4.0 * 4 * ((double) I * K * 2 + 2 * K + 1);
	if (o->prior == SGAN_PRIOR_EASE)
		n += 4.0 * I * I * (1 + (o->prior_folds > 1 ? o->prior_folds : 0)) + 8.0 * I * I;
	else if (o->prior == SGAN_PRIOR_GFCF)
		n += 8.0 * I * o->prior_topk * (1 + (o->prior_folds > 1 ? o->prior_folds : 0)) +
			4.0 * P + 16.0 * I + 4.0 * I * parallel_threads();
	n += 8.0 * U + 4.0 * B * (4.0 * H + 5.0 * S) + 2.0 * S * H * 4 + B * S;
	n += 4.0 * Q * 9 + 4.0 * B * (6.0 * K + Sd * 2) + 8.0 * Sd * K + 13.0 * I;
	if (o->adv_weight > 0 && o->value == SGAN_VALUE_MINER)
		n += 8.0 * B * Sd + 4.0 * B + Q + 4.0 * S + 4.0 * Sd + 4.0 * 4 * I;
	if (o->adv_weight > 0 && o->value == SGAN_VALUE_LATENT)
		n += 8.0 * B * H;		/* its (H, K) and (1, 1) tables are counted as (I, K) above */
	return (size_t) n;
}

/* ---- Priors */

/* The cross-fitting fold of user u (of F), the same for every seed. */
static int
fold_of(int32_t u, int F)
{
	uint64_t	x = (uint64_t) u * 0x9E3779B97F4A7C15ull;

	x ^= x >> 31;
	return F > 1 ? (int) (x % (uint64_t) F) : 0;
}

/*
 * EASE weights b (I, I) from the training rows of the users outside fold
 * (fold -1: every user); -1 when the Gram is not positive definite.
 * g is (I, I) double scratch.
 */
static int
build_ease(Sgan *s, float *b, int fold, double *g)
{
	int			n = s->I,
				info = 0;

	memset(g, 0, sizeof(double) * (size_t) n * n);
	for (int32_t u = 0; u < s->U; u++)
	{
		if (fold >= 0 && fold_of(u, s->o.prior_folds) == fold)
			continue;
		for (int64_t p = s->indptr[u]; p < s->indptr[u + 1]; p++)
			for (int64_t q = s->indptr[u]; q < s->indptr[u + 1]; q++)
				g[(size_t) s->indices[p] * n + s->indices[q]] += 1.0;
	}
	for (int i = 0; i < n; i++)
		g[(size_t) i * n + i] += s->o.prior_lambda;
	dpotrf_("L", &n, g, &n, &info, 1);
	if (info == 0)
		dpotri_("L", &n, g, &n, &info, 1);
	if (info != 0)
		return -1;
	/* column-major lower = row-major upper: P[i][j] (i <= j) is g[i * n + j] */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
		{
			double		pij = i <= j ? g[(size_t) i * n + j] : g[(size_t) j * n + i];

			b[(size_t) i * n + j] = i == j ? 0.0f : (float) (-pij / g[(size_t) j * n + j]);
		}
	return 0;
}

/* Arguments of the GF-CF neighbour parts. */
typedef struct GfcfJob
{
	Sgan	   *s;
	SganWeights *dst;			/* nb_idx, nb_val to fill */
	int			fold;			/* users of this fold left out; -1 none */
	const float *deg;			/* (I) item degrees over the users kept */
	const int64_t *iptr;		/* (I + 1) item -> users */
	const int32_t *iusers;		/* (P) */
	float	   *acc;			/* (parts, I) scratch */
	int32_t    *heap;			/* (parts, T) */
} GfcfJob;

/* Neighbours of the items of one part: top T of S_i. = sum_u R_ui R_uj / (d_u sqrt(d_i d_j)). */
static void
gfcf_part(void *arg, int part, int n_parts)
{
	GfcfJob    *j = arg;
	Sgan	   *s = j->s;
	int			T = s->w.T;
	int32_t		I = s->I;
	float	   *acc = j->acc + (size_t) part * I;
	int32_t    *heap = j->heap + (size_t) part * T;
	int64_t		i0,
				i1;

	parallel_range(I, part, n_parts, 1, &i0, &i1);
	for (int64_t i = i0; i < i1; i++)
	{
		int32_t    *idx = j->dst->nb_idx + (size_t) i * T;
		float	   *val = j->dst->nb_val + (size_t) i * T;
		double		di = j->deg[i];
		int32_t		got;

		for (int64_t p = j->iptr[i]; p < j->iptr[i + 1]; p++)
		{
			int32_t		u = j->iusers[p];
			float		inv = (float) (1.0 / (double) (s->indptr[u + 1] - s->indptr[u]));

			if (j->fold >= 0 && fold_of(u, s->o.prior_folds) == j->fold)
				continue;
			for (int64_t q = s->indptr[u]; q < s->indptr[u + 1]; q++)
				acc[s->indices[q]] += inv;
		}
		for (int32_t c = 0; c < I; c++)
			if (acc[c] != 0.0f)
				acc[c] = (float) (acc[c] / sqrt(di * (double) j->deg[c]));
			else
				acc[c] = -INFINITY;
		acc[i] = -INFINITY;
		got = topk_select(acc, I, T, heap, idx);
		for (int32_t k = 0; k < got; k++)
			val[k] = acc[idx[k]];
		for (int32_t k = got; k < T; k++)
		{
			idx[k] = (int32_t) i;	/* padding: weight 0 */
			val[k] = 0.0f;
		}
		for (int32_t c = 0; c < I; c++)
			acc[c] = 0.0f;
	}
}

/* Item -> users CSR of the training positives (iptr (I + 1), iusers (P)). */
static int
build_item_users(Sgan *s)
{
	int32_t		I = s->I;
	int64_t		P = s->indptr[s->U];
	int64_t    *cur = take(s, sizeof(int64_t) * ((size_t) I + 1));

	s->iptr = take(s, sizeof(int64_t) * ((size_t) I + 1));
	s->iusers = take(s, sizeof(int32_t) * (size_t) (P + 1));
	if (!s->iptr || !s->iusers || !cur)
		return -1;
	for (int64_t p = 0; p < P; p++)
		s->iptr[s->indices[p] + 1]++;
	for (int32_t i = 0; i < I; i++)
		s->iptr[i + 1] += s->iptr[i];
	memcpy(cur, s->iptr, sizeof(int64_t) * (size_t) I);
	for (int32_t u = 0; u < s->U; u++)
		for (int64_t p = s->indptr[u]; p < s->indptr[u + 1]; p++)
			s->iusers[cur[s->indices[p]]++] = u;
	return 0;
}

/*
 * Sparse GF-CF linear filter into dst: top T neighbours per item of
 * R~^T R~ over the users outside fold (-1: all), diagonal dropped.
 * acc (threads, I), heap (threads, T), deg (I) scratch.
 */
static void
build_gfcf(Sgan *s, SganWeights *dst, int fold, float *acc, int32_t *heap, float *deg)
{
	GfcfJob		j = {s, dst, fold, deg, s->iptr, s->iusers, acc, heap};

	for (int32_t i = 0; i < s->I; i++)
	{
		deg[i] = 0.0f;
		for (int64_t p = s->iptr[i]; p < s->iptr[i + 1]; p++)
			deg[i] += fold < 0 || fold_of(s->iusers[p], s->o.prior_folds) != fold;
	}
	parallel_run(gfcf_part, &j, 1e12);
}

/* The prior of the model and, with prior_folds > 1, one per fold for training. */
static int
build_priors(Sgan *s)
{
	int32_t		I = s->I;
	int			F = s->o.prior_folds > 1 ? s->o.prior_folds : 0,
				T = s->w.T;

	if (s->o.prior == SGAN_PRIOR_EASE)
	{
		double	   *g = take(s, sizeof(double) * (size_t) I * I);

		if (g == NULL || (s->w.ease = take(s, 4 * (size_t) I * I)) == NULL ||
			build_ease(s, s->w.ease, -1, g) != 0)
			return -1;
		for (int f = 0; f < F; f++)
		{
			s->fw[f] = s->w;
			if ((s->fw[f].ease = take(s, 4 * (size_t) I * I)) == NULL ||
				build_ease(s, s->fw[f].ease, f, g) != 0)
				return -1;
		}
	}
	else if (s->o.prior == SGAN_PRIOR_GFCF)
	{
		int			parts = parallel_threads();
		float	   *acc = take(s, sizeof(float) * (size_t) I * parts),
				   *deg = take(s, sizeof(float) * (size_t) I);
		int32_t    *heap = take(s, sizeof(int32_t) * (size_t) T * parts);

		if (!acc || !deg || !heap || build_item_users(s) != 0)
			return -1;
		for (int f = -1; f < F; f++)
		{
			SganWeights *dst = f < 0 ? &s->w : &s->fw[f];

			if (f >= 0)
				s->fw[f] = s->w;
			if ((dst->nb_idx = take(s, 4 * (size_t) I * T)) == NULL ||
				(dst->nb_val = take(s, 4 * (size_t) I * T)) == NULL)
				return -1;
			build_gfcf(s, dst, f, acc, heap, deg);
		}
	}
	return 0;
}

/* out (I) = x Bp for the history idx[0..n): the prior's scores (dense EASE or sparse). */
static void
prior_row(const SganWeights *w, const int32_t *idx, int64_t n, float *out)
{
	if (w->prior == SGAN_PRIOR_EASE)
		rows_sum(out, w->ease, idx, (int) n, w->I);
	else if (w->prior == SGAN_PRIOR_GFCF)
	{
		memset(out, 0, sizeof(float) * (size_t) w->I);
		for (int64_t p = 0; p < n; p++)
		{
			const int32_t *ni = w->nb_idx + (size_t) idx[p] * w->T;
			const float *nv = w->nb_val + (size_t) idx[p] * w->T;

			for (int k = 0; k < w->T; k++)
				out[ni[k]] += nv[k];
		}
	}
	else
		memset(out, 0, sizeof(float) * (size_t) w->I);
}

/* ---- Initialisation */

/* Lay out the generator's and discriminator's arenas and initialise them. */
static int
init_networks(Sgan *s, uint64_t seed)
{
	int32_t		I = s->I;
	int			H = s->H,
				K = s->K;
	Rng			rg,
				rd;
	size_t		nb;
	void	   *mem;
	float	  **gp[G_N] = {&s->w.W1, &s->w.b1, &s->w.W2, &s->w.b2, &s->w.a};
	float	  **gg[G_N] = {&s->g[0], &s->g[1], &s->g[2], &s->g[3], &s->g[4]};
	float	  **dp[D_N] = {&s->d[0], &s->d[1], &s->d[2], &s->d[3], &s->d[4]};
	float	  **dgp[D_N] = {&s->dg[0], &s->dg[1], &s->dg[2], &s->dg[3], &s->dg[4]};

	s->gspec[G_W1] = (ParamSpec) {"W1", I, H};
	s->gspec[G_B1] = (ParamSpec) {"b1", H, 1};
	s->gspec[G_W2] = (ParamSpec) {"W2", I, H};
	s->gspec[G_B2] = (ParamSpec) {"b2", I, 1};
	s->gspec[G_A] = (ParamSpec) {"a", 1, 1};
	nb = param_arena_bytes(s->gspec, G_N, PARAM_ARENA_ADAM);
	if (nb == 0 || (mem = take(s, nb)) == NULL ||
		param_arena_init(&s->ga, s->gspec, G_N, PARAM_ARENA_ADAM, mem, nb) != 0)
		return -1;
	param_arena_point(&s->ga, s->ga.params, gp);
	param_arena_point(&s->ga, s->ga.grads, gg);
	rng_seed(&rg, seed * 2 + 1);
	init_xavier_normal(s->w.W1, I, H, &rg);
	init_xavier_normal(s->w.W2, H, I, &rg);
	init_normal(s->w.b1, 0.001f, H, &rg);
	s->w.a[0] = (float) (s->o.prior == SGAN_PRIOR_NONE ? 0.0 : s->o.prior_scale);

	if (s->o.adv_weight <= 0.0)
		return 0;
	s->dspec[D_V1C] = s->o.value == SGAN_VALUE_LATENT ? (ParamSpec) {"Wa", H, K} :
		(ParamSpec) {"V1c", I, K};
	s->dspec[D_V1V] = s->o.value == SGAN_VALUE_LATENT ? (ParamSpec) {"unused", 1, 1} :
		(ParamSpec) {"V1v", I, K};
	s->dspec[D_C1] = (ParamSpec) {"c1", K, 1};
	s->dspec[D_V2] = s->o.value == SGAN_VALUE_MINER ? (ParamSpec) {"db", I, 1} :
		(ParamSpec) {"v2", K, 1};
	s->dspec[D_C2] = (ParamSpec) {"c2", 1, 1};
	nb = param_arena_bytes(s->dspec, D_N, PARAM_ARENA_ADAM);
	if (nb == 0 || (mem = take(s, nb)) == NULL ||
		param_arena_init(&s->da, s->dspec, D_N, PARAM_ARENA_ADAM, mem, nb) != 0)
		return -1;
	param_arena_point(&s->da, s->da.params, dp);
	param_arena_point(&s->da, s->da.grads, dgp);
	rng_seed(&rd, seed * 2 + 2);
	if (s->o.value == SGAN_VALUE_LATENT)
		init_xavier_normal(s->d[D_V1C], H, K, &rd);
	else
	{
		init_normal(s->d[D_V1C], s->o.value == SGAN_VALUE_MINER ? 0.1f : 0.01f, (int64_t) I * K, &rd);
		init_normal(s->d[D_V1V], 0.1f, (int64_t) I * K, &rd);
	}
	if (s->o.value != SGAN_VALUE_MINER)
		init_xavier_normal(s->d[D_V2], K, 1, &rd);
	return 0;
}

/* Allocate the batch scratch. */
static int
init_batch(Sgan *s)
{
	int			B = s->B,
				H = s->H,
				K = s->K,
				S = s->S,
				Sd = s->Sd;
	int64_t		Q = s->Qmax;

	s->rows = take(s, 4 * (size_t) B);
	s->qoff = take(s, 8 * ((size_t) B + 1));
	s->in_ptr = take(s, 8 * ((size_t) B + 1));
	s->in_idx = take(s, 4 * (size_t) (Q + 1));
	s->tgt = take(s, 4 * (size_t) (Q + 1));
	s->samp = take(s, 4 * (size_t) S);
	s->excl = take(s, (size_t) B * S);
	s->h = take(s, 4 * (size_t) B * H);
	s->dh = take(s, 4 * (size_t) B * H);
	s->W2s = s->full ? NULL : take(s, 4 * (size_t) S * H);
	s->dW2s = s->full ? NULL : take(s, 4 * (size_t) S * H);
	s->zs = take(s, 4 * (size_t) B * S);
	s->ps = take(s, 4 * (size_t) B * S);
	s->dzs = take(s, 4 * (size_t) B * S);
	s->prs = take(s, 4 * (size_t) B * S);
	s->zq = take(s, 4 * (size_t) (Q + 1));
	s->pq = take(s, 4 * (size_t) (Q + 1));
	s->dzq = take(s, 4 * (size_t) (Q + 1));
	s->prq = take(s, 4 * (size_t) (Q + 1));
	s->vq = take(s, 4 * (size_t) (Q + 1));
	s->dvq = take(s, 4 * (size_t) (Q + 1));
	s->wr = take(s, 4 * (size_t) B);
	s->dense = take(s, 4 * (size_t) s->I);
	s->list_in = take(s, 4 * (size_t) s->I);
	s->list_out = take(s, 4 * (size_t) s->I);
	s->mark = take(s, (size_t) s->I);
	s->active = take(s, 4 * (size_t) s->U);
	s->order = take(s, 4 * (size_t) s->U);
	if (s->o.adv_weight > 0.0)
	{
		s->vs = take(s, 4 * ((size_t) B * Sd + 1));
		s->dvs = take(s, 4 * ((size_t) B * Sd + 1));
		s->cond = take(s, 4 * (size_t) B * K);
		s->ar = take(s, 4 * (size_t) B * K);
		s->af = take(s, 4 * (size_t) B * K);
		s->hr = take(s, 4 * (size_t) B * K);
		s->hf = take(s, 4 * (size_t) B * K);
		s->V1s = take(s, 4 * ((size_t) Sd * K + 1));
		s->dV1s = take(s, 4 * ((size_t) Sd * K + 1));
		s->outr = take(s, 4 * (size_t) B);
		s->outf = take(s, 4 * (size_t) B);
		s->dout = take(s, sizeof(double) * 2 * (size_t) B);
		if (!s->outf || !s->dout)
			return -1;
	}
	if (s->o.adv_weight > 0.0 && s->o.value == SGAN_VALUE_LATENT)
	{
		s->zreal = take(s, 4 * 2 * (size_t) B * H);
		if (s->zreal == NULL)
			return -1;
		s->dhadv = s->zreal + (size_t) B * H;
	}
	if (s->o.adv_weight > 0.0 && s->o.value == SGAN_VALUE_MINER)
	{
		/* one block, to stay within SGAN_MAX_BUFFERS */
		size_t		n4 = 2 * (size_t) B * Sd + B + S + Sd + 4;
		char	   *m = take(s, 4 * n4 + (size_t) Q + 1);

		if (m == NULL)
			return -1;
		s->fidx = (int32_t *) m;
		s->fq = (float *) (s->fidx + (size_t) B * Sd);
		s->nf = (int32_t *) (s->fq + (size_t) B * Sd);
		s->tmp = (float *) (s->nf + B);
		s->heap = (int32_t *) (s->tmp + S);
		s->drop = (char *) (s->heap + Sd + 4);
	}
	return s->order == NULL ? -1 : 0;
}

/* Build the prior and initialise the networks; NULL on failure. */
Sgan *
sgan_init(const SganOptions *o, const int64_t *indptr, const int32_t *indices,
		  int32_t U, int32_t I, uint64_t seed, const SganAllocator *alloc)
{
	Sgan	   *s = alloc->alloc(alloc->arg, sizeof(Sgan));
	int			ok;

	if (s == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->o = *o;
	s->al = *alloc;
	s->indptr = indptr;
	s->indices = indices;
	s->U = U;
	s->I = I;
	s->H = o->hidden;
	s->K = o->d_hidden;
	s->B = o->batch;
	sample_counts(o, I, &s->S, &s->Sd);
	s->full = s->S == I;
	s->Qmax = longest_rows(indptr, U, s->B);
	s->w.I = I;
	s->w.H = s->H;
	s->w.prior = o->prior;
	if (o->prior_folds > SGAN_MAX_FOLDS)
		s->o.prior_folds = SGAN_MAX_FOLDS;
	s->w.T = o->prior == SGAN_PRIOR_GFCF ? (o->prior_topk < I - 1 ? o->prior_topk : I - 1) : 0;
	rng_seed(&s->rng, seed);
	rng_seed(&s->rng_d, seed * 2 + 3);
	ok = init_networks(s, seed) == 0 && init_batch(s) == 0;
	ok = ok && build_priors(s) == 0;
	if (!ok)
	{
		sgan_free(s);
		return NULL;
	}
	for (int32_t u = 0; u < U; u++)
		if (indptr[u + 1] > indptr[u])
			s->active[s->n_active++] = u;
	return s;
}

/* Free everything sgan_init allocated. */
void
sgan_free(Sgan *s)
{
	if (s == NULL)
		return;
	for (int b = 0; b < s->n_buffers; b++)
		s->al.free(s->al.arg, s->buffers[b]);
	s->al.free(s->al.arg, s);
}

/* ---- The batch */

/* Rows, dropout, shared samples, and the prior on the batch's coordinates. */
void
sgan_sample_batch(Sgan *s, const int32_t *users, int B)
{
	int			S = s->S;
	double		keep = 1.0 - s->o.dropout;
	float		pscale = (float) (1.0 / keep);

	s->B = B;
	s->qoff[0] = 0;
	s->in_ptr[0] = 0;
	for (int r = 0; r < B; r++)
	{
		int32_t		u = users[r];

		s->rows[r] = u;
		s->qoff[r + 1] = s->qoff[r];
		s->in_ptr[r + 1] = s->in_ptr[r];
		for (int64_t p = s->indptr[u]; p < s->indptr[u + 1]; p++)
		{
			int			kept = rng_uniform(&s->rng) < keep;

			if (kept)
				s->in_idx[s->in_ptr[r + 1]++] = s->indices[p];
			/* targets: every positive, or (target_dropped) the dropped ones only */
			if (!kept || !s->o.target_dropped)
				s->tgt[s->qoff[r + 1]++] = s->indices[p];
		}
	}
	if (s->o.adv_weight > 0.0 && s->o.value == SGAN_VALUE_LATENT)
		for (size_t k = 0; k < (size_t) B * s->H; k++)
			s->zreal[k] = (float) tanh(rng_normal(&s->rng_d));
	if (s->full)
		for (int c = 0; c < S; c++)
			s->samp[c] = c;
	else
		rng_sample_sorted(&s->rng, s->I, S, s->samp);
	for (int r = 0; r < B; r++)
	{
		int32_t		u = s->rows[r];
		const int32_t *pos = s->indices + s->indptr[u],
				   *tgt = s->tgt + s->qoff[r];
		int64_t		n = s->indptr[u + 1] - s->indptr[u],
					a = 0,
					ex = 0;
		char	   *e = s->excl + (size_t) r * S;
		float	   *pr = s->prs + (size_t) r * S;

		/* merge the ascending samples with the ascending positives */
		for (int c = 0; c < S; c++)
		{
			while (a < n && pos[a] < s->samp[c])
				a++;
			e[c] = a < n && pos[a] == s->samp[c];
			ex += e[c];
		}
		s->wr[r] = (float) ((double) (s->I - n) / (double) (S - ex > 0 ? S - ex : 1));
		/* the prior sees the kept input too, scaled as the hidden layer's */
		if (!s->o.joint && !(s->o.adv_weight > 0.0 && s->o.value == SGAN_VALUE_MINER))
			continue;
		prior_row(s->o.prior_folds > 1 ? &s->fw[fold_of(u, s->o.prior_folds)] : &s->w,
				  s->in_idx + s->in_ptr[r], s->in_ptr[r + 1] - s->in_ptr[r], s->dense);
		for (int c = 0; c < S; c++)
			pr[c] = s->dense[s->samp[c]] * pscale;
		for (int64_t p = 0; p < s->qoff[r + 1] - s->qoff[r]; p++)
			s->prq[s->qoff[r] + p] = s->dense[tgt[p]] * pscale;
	}
	s->fwd_valid = 0;
}

/* h (B, H) = tanh(b1 + xd W1 / ((1 - dropout) sqrt n)) over the kept inputs. */
static void
hidden_forward(Sgan *s)
{
	int			H = s->H;

	for (int r = 0; r < s->B; r++)
	{
		int32_t		u = s->rows[r];
		float	   *h = s->h + (size_t) r * H;
		float		sc = (float) (1.0 / ((1.0 - s->o.dropout) *
										 sqrt((double) (s->indptr[u + 1] - s->indptr[u]))));

		rows_sum(h, s->w.W1, s->in_idx + s->in_ptr[r], (int) (s->in_ptr[r + 1] - s->in_ptr[r]), H);
		for (int k = 0; k < H; k++)
			h[k] = tanhf(h[k] * sc + s->w.b1[k]);
	}
}

/* Logits zs (B, S), zq (Q), their sampled-softmax probabilities ps, pq; returns sum of -log-likelihoods. */
static double
logits_forward(Sgan *s)
{
	int			H = s->H,
				S = s->S,
				B = s->B;
	const float *W2s = s->full ? s->w.W2 : s->W2s;
	float		a = s->o.joint ? s->w.a[0] : 0.0f;
	double		nll = 0.0;

	if (!s->full)
		for (int c = 0; c < S; c++)
			memcpy(s->W2s + (size_t) c * H, s->w.W2 + (size_t) s->samp[c] * H, 4 * (size_t) H);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, S, H, 1.0f, s->h, H,
				W2s, H, 0.0f, s->zs, S);
	for (int r = 0; r < B; r++)
	{
		const int32_t *pos = s->tgt + s->qoff[r];
		int64_t		n = s->qoff[r + 1] - s->qoff[r];
		float	   *z = s->zs + (size_t) r * S,
				   *ps = s->ps + (size_t) r * S,
				   *pr = s->prs + (size_t) r * S;
		const char *e = s->excl + (size_t) r * S;
		float	   *zq = s->zq + s->qoff[r],
				   *pq = s->pq + s->qoff[r];
		const float *h = s->h + (size_t) r * H;
		double		m = -INFINITY,
					sum = 0.0,
					logz;

		for (int c = 0; c < S; c++)
		{
			z[c] += s->w.b2[s->samp[c]] + a * pr[c];
			if (!e[c] && z[c] > m)
				m = z[c];
		}
		for (int64_t p = 0; p < n; p++)
		{
			zq[p] = dot_lanes(h, s->w.W2 + (size_t) pos[p] * H, H) + s->w.b2[pos[p]] +
				a * s->prq[s->qoff[r] + p];
			if (zq[p] > m)
				m = zq[p];
		}
		for (int c = 0; c < S; c++)
			if (!e[c])
				sum += s->wr[r] * exp(z[c] - m);
		for (int64_t p = 0; p < n; p++)
			sum += exp(zq[p] - m);
		logz = m + log(sum);
		for (int c = 0; c < S; c++)
			ps[c] = e[c] ? 0.0f : (float) exp(z[c] - logz);
		for (int64_t p = 0; p < n; p++)
		{
			pq[p] = (float) exp(zq[p] - logz);
			nll += logz - zq[p];
		}
	}
	return nll;
}

/*
 * Miner: the fakes fidx (B, Sd) = the best Sd non-positive samples by the
 * blended score z + a prior, their softmax fq restricted to them, and the
 * flags drop (Q) of the targets the dropout removed (the reals).
 */
static void
miner_fakes(Sgan *s)
{
	int			S = s->S,
				Sd = s->Sd;
	float		a = s->o.joint ? 0.0f : s->w.a[0];	/* joint: z holds the prior already */

	for (int r = 0; r < s->B; r++)
	{
		const float *z = s->zs + (size_t) r * S,
				   *pr = s->prs + (size_t) r * S;
		const char *e = s->excl + (size_t) r * S;
		int32_t    *f = s->fidx + (size_t) r * Sd;
		float	   *q = s->fq + (size_t) r * Sd;
		const int32_t *tgt = s->tgt + s->qoff[r],
				   *in = s->in_idx + s->in_ptr[r];
		int64_t		nt = s->qoff[r + 1] - s->qoff[r],
					ni = s->in_ptr[r + 1] - s->in_ptr[r],
					k = 0;
		double		m = -INFINITY,
					sum = 0.0;

		for (int c = 0; c < S; c++)
			s->tmp[c] = e[c] ? -INFINITY : z[c] + a * pr[c];
		s->nf[r] = topk_select(s->tmp, S, Sd, s->heap, f);
		for (int j = 0; j < s->nf[r]; j++)
			m = s->tmp[f[j]] > m ? s->tmp[f[j]] : m;
		for (int j = 0; j < s->nf[r]; j++)
			sum += exp(s->tmp[f[j]] - m);
		for (int j = 0; j < s->nf[r]; j++)
			q[j] = (float) (exp(s->tmp[f[j]] - m) / sum);
		/* both ascending: merge the targets with the kept input */
		for (int64_t t = 0; t < nt; t++)
		{
			while (k < ni && in[k] < tgt[t])
				k++;
			s->drop[s->qoff[r] + t] = !(k < ni && in[k] == tgt[t]);
		}
	}
}

/* The discriminator's fake values vq (Q), vs (B, Sd) from the generator's outputs. */
static void
values_forward(Sgan *s)
{
	int			S = s->S,
				Sd = s->Sd;

	if (s->o.value == SGAN_VALUE_MINER)
	{
		miner_fakes(s);
		return;
	}
	if (s->o.value == SGAN_VALUE_LATENT)
		return;					/* D reads h itself */

	for (int r = 0; r < s->B; r++)
	{
		float		n = (float) (s->qoff[r + 1] - s->qoff[r]);
		const char *e = s->excl + (size_t) r * S;

		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			s->vq[q] = s->o.value == SGAN_VALUE_SOFTMAX ? n * s->pq[q] :
				1.0f / (1.0f + expf(-s->zq[q]));
		for (int c = 0; c < Sd; c++)
			s->vs[(size_t) r * Sd + c] = e[c] ? 0.0f :
				s->o.value == SGAN_VALUE_SOFTMAX ? n * s->ps[(size_t) r * S + c] :
				1.0f / (1.0f + expf(-s->zs[(size_t) r * S + c]));
	}
}

/* The generator's forward pass on the sampled batch; returns the batch's summed NLL. */
static double
g_forward(Sgan *s)
{
	double		nll;

	hidden_forward(s);
	nll = logits_forward(s);
	if (s->o.adv_weight > 0.0)
		values_forward(s);
	s->fwd_valid = 1;
	s->nll = nll;
	return nll;
}

/* ---- Discriminator */

/* ar (B, K) = c1 + condition + real values; af the same with the fake values; V1s gathered. */
static void
d_preact(Sgan *s)
{
	int			K = s->K,
				Sd = s->Sd,
				B = s->B;
	const float *V1c = s->d[D_V1C],
			   *V1v = s->d[D_V1V];

	for (int c = 0; c < Sd; c++)
		memcpy(s->V1s + (size_t) c * K, V1v + (size_t) s->samp[c] * K, 4 * (size_t) K);
	for (int r = 0; r < B; r++)
	{
		const int32_t *pos = s->tgt + s->qoff[r];
		float	   *ar = s->ar + (size_t) r * K,
				   *af = s->af + (size_t) r * K;

		rows_sum(ar, V1c, s->in_idx + s->in_ptr[r], (int) (s->in_ptr[r + 1] - s->in_ptr[r]), K);
		for (int k = 0; k < K; k++)
			af[k] = ar[k] += s->d[D_C1][k];
		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
		{
			const float *v = V1v + (size_t) pos[q - s->qoff[r]] * K;

			for (int k = 0; k < K; k++)
			{
				ar[k] += v[k];
				af[k] += s->vq[q] * v[k];
			}
		}
	}
	if (Sd > 0)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, K, Sd, 1.0f, s->vs, Sd,
					s->V1s, K, 1.0f, s->af, K);
}

/* out (B) = v2 . lrelu(pre) + c2, keeping the activations act (B, K). */
static void
d_head(Sgan *s, const float *pre, float *act, float *out)
{
	int			K = s->K;

	for (int r = 0; r < s->B; r++)
	{
		double		o = s->d[D_C2][0];

		for (int k = 0; k < K; k++)
		{
			float		x = pre[(size_t) r * K + k];

			act[(size_t) r * K + k] = x > 0 ? x : LRELU_SLOPE * x;
			o += (double) s->d[D_V2][k] * act[(size_t) r * K + k];
		}
		out[r] = (float) o;
	}
}

/* softplus(x), stably. */
static double
softplus(double x)
{
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* sigmoid(x) */
static double
sigm(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

/* Turn dout (B) into the pre-activation grads dpre (B, K) in place of pre; add head grads unless NULL. */
static void
d_head_backward(Sgan *s, float *pre, const float *act, const double *dout, int params)
{
	int			K = s->K;

	for (int r = 0; r < s->B; r++)
	{
		float		g = (float) dout[r];

		if (params)
			s->dg[D_C2][0] += g;
		for (int k = 0; k < K; k++)
		{
			float	   *x = pre + (size_t) r * K + k;

			if (params)
				s->dg[D_V2][k] += g * act[(size_t) r * K + k];
			*x = g * s->d[D_V2][k] * (*x > 0 ? 1.0f : LRELU_SLOPE);
		}
	}
}

/* Mark item i in list (for lazy Adam); the mark array stays zero between steps. */
static inline void
touch(Sgan *s, int32_t *list, int32_t *n, int32_t i)
{
	if (!s->mark[i])
	{
		s->mark[i] = 1;
		list[(*n)++] = i;
	}
}

/* Clear the marks of list. */
static void
untouch(Sgan *s, const int32_t *list, int32_t n)
{
	for (int32_t k = 0; k < n; k++)
		s->mark[list[k]] = 0;
}

/*
 * Back through a tanh layer of width K fed by row r's kept inputs: dy (K)
 * becomes the gradient before tanh (y its output), is added to the bias
 * gradient gb (K) and, times sc, to the touched input rows of gw (rows, K).
 */
static void
tanh_input_backward(Sgan *s, int r, float sc, const float *y, float *dy, int K,
					float *gb, float *gw)
{
	for (int k = 0; k < K; k++)
	{
		dy[k] *= 1.0f - y[k] * y[k];
		gb[k] += dy[k];
	}
	for (int64_t p = s->in_ptr[r]; p < s->in_ptr[r + 1]; p++)
	{
		float	   *g = gw + (size_t) s->in_idx[p] * K;

		touch(s, s->list_in, &s->n_in, s->in_idx[p]);
		for (int k = 0; k < K; k++)
			g[k] += sc * dy[k];
	}
}

/*
 * Miner D: condition hr (B, K) = tanh(c1 + sum_{xd} V1c / sqrt |xd|), logits
 * vq on the dropped targets (0 elsewhere) and vs (B, Sd) on the fakes.
 */
static void
miner_forward(Sgan *s)
{
	int			K = s->K,
				Sd = s->Sd;
	const float *V1v = s->d[D_V1V],
			   *db = s->d[D_V2];

	for (int r = 0; r < s->B; r++)
	{
		float	   *c = s->hr + (size_t) r * K;
		int64_t		ni = s->in_ptr[r + 1] - s->in_ptr[r];
		float		sc = ni > 0 ? (float) (1.0 / sqrt((double) ni)) : 0.0f;
		const int32_t *tgt = s->tgt + s->qoff[r],
				   *f = s->fidx + (size_t) r * Sd;

		rows_sum(c, s->d[D_V1C], s->in_idx + s->in_ptr[r], (int) ni, K);
		for (int k = 0; k < K; k++)
			c[k] = tanhf(c[k] * sc + s->d[D_C1][k]);
		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
		{
			int32_t		i = tgt[q - s->qoff[r]];

			s->vq[q] = s->drop[q] ?
				dot_lanes(c, V1v + (size_t) i * K, K) + db[i] + s->d[D_C2][0] : 0.0f;
		}
		for (int j = 0; j < s->nf[r]; j++)
		{
			int32_t		i = s->samp[f[j]];

			s->vs[(size_t) r * Sd + j] = dot_lanes(c, V1v + (size_t) i * K, K) + db[i] +
				s->d[D_C2][0];
		}
	}
}

/* Add the gradient g of D's logit on item i of row r (condition c, its grad dc (K)). */
static void
miner_logit_backward(Sgan *s, int32_t i, float g, const float *c, float *dc)
{
	int			K = s->K;
	float	   *gv = s->dg[D_V1V] + (size_t) i * K;
	const float *v = s->d[D_V1V] + (size_t) i * K;

	touch(s, s->list_out, &s->n_out, i);
	for (int k = 0; k < K; k++)
	{
		gv[k] += g * c[k];
		dc[k] += g * v[k];
	}
	s->dg[D_V2][i] += g;
	s->dg[D_C2][0] += g;
}

/* The miner's loss on the batch (mean over users); with grad, its parameter gradients. */
static double
miner_d_loss(Sgan *s, int grad)
{
	int			K = s->K,
				Sd = s->Sd,
				B = s->B;
	double		loss = 0.0;

	miner_forward(s);
	for (int r = 0; r < B; r++)
	{
		int64_t		nr = 0;

		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			nr += s->drop[q];
		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			if (s->drop[q])
			{
				loss += softplus(-s->vq[q]) / nr;
				s->dvq[q] = (float) (-sigm(-s->vq[q]) / ((double) nr * B));
			}
		for (int j = 0; j < s->nf[r]; j++)
		{
			float		x = s->vs[(size_t) r * Sd + j];

			loss += softplus(x) / s->nf[r];
			s->dvs[(size_t) r * Sd + j] = (float) (sigm(x) / ((double) s->nf[r] * B));
		}
	}
	if (!grad)
		return loss / B;
	s->n_in = s->n_out = 0;
	for (int r = 0; r < B; r++)
	{
		const float *c = s->hr + (size_t) r * K;
		float	   *dc = s->af + (size_t) r * K;
		const int32_t *tgt = s->tgt + s->qoff[r],
				   *f = s->fidx + (size_t) r * Sd;
		int64_t		ni = s->in_ptr[r + 1] - s->in_ptr[r];
		float		sc = ni > 0 ? (float) (1.0 / sqrt((double) ni)) : 0.0f;

		memset(dc, 0, sizeof(float) * (size_t) K);
		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			if (s->drop[q])
				miner_logit_backward(s, tgt[q - s->qoff[r]], s->dvq[q], c, dc);
		for (int j = 0; j < s->nf[r]; j++)
			miner_logit_backward(s, s->samp[f[j]], s->dvs[(size_t) r * Sd + j], c, dc);
		tanh_input_backward(s, r, sc, c, dc, K, s->dg[D_C1], s->dg[D_V1C]);
	}
	return loss / B;
}

/*
 * The miner's term for G: mean over users of sum_{F} q softplus(-D); with
 * grad, its logit gradients times w in dvs (B, Sd), added by miner_backward.
 */
static double
miner_adv_for_g(Sgan *s, int grad, double w)
{
	int			Sd = s->Sd,
				B = s->B;
	double		loss = 0.0;

	miner_forward(s);
	for (int r = 0; r < B; r++)
	{
		const float *q = s->fq + (size_t) r * Sd,
				   *x = s->vs + (size_t) r * Sd;
		double		lr = 0.0;

		for (int j = 0; j < s->nf[r]; j++)
			lr += q[j] * softplus(-x[j]);
		loss += lr;
		if (grad)
			for (int j = 0; j < s->nf[r]; j++)
				s->dvs[(size_t) r * Sd + j] = (float) (w / B * q[j] * (softplus(-x[j]) - lr));
	}
	return loss / B;
}

/* Add the miner term's logit gradients (dvs) to dzs at the fakes' coordinates. */
static void
miner_backward(Sgan *s)
{
	int			S = s->S,
				Sd = s->Sd;

	for (int r = 0; r < s->B; r++)
		for (int j = 0; j < s->nf[r]; j++)
			s->dzs[(size_t) r * S + s->fidx[(size_t) r * Sd + j]] += s->dvs[(size_t) r * Sd + j];
}

/* Latent D: pre (B, K) = z Wa + c1 for codes z (B, H); act, out (B) by d_head. */
static void
latent_forward(Sgan *s, const float *z, float *pre, float *act, float *out)
{
	int			K = s->K,
				H = s->H,
				B = s->B;

	for (int r = 0; r < B; r++)
		memcpy(pre + (size_t) r * K, s->d[D_C1], 4 * (size_t) K);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, K, H, 1.0f, z, H,
				s->d[D_V1C], K, 1.0f, pre, K);
	d_head(s, pre, act, out);
}

/* Latent D's loss: the prior's samples real, the codes h fake; with grad, its gradients. */
static double
latent_d_loss(Sgan *s, int grad)
{
	int			K = s->K,
				H = s->H,
				B = s->B;
	double		loss = 0.0,
			   *dr = s->dout,
			   *df = s->dout + B;

	latent_forward(s, s->zreal, s->ar, s->hr, s->outr);
	latent_forward(s, s->h, s->af, s->hf, s->outf);
	for (int r = 0; r < B; r++)
	{
		loss += softplus(-s->outr[r]) + softplus(s->outf[r]);
		dr[r] = -sigm(-s->outr[r]) / B;
		df[r] = sigm(s->outf[r]) / B;
	}
	if (!grad)
		return loss / B;
	d_head_backward(s, s->ar, s->hr, dr, 1);
	d_head_backward(s, s->af, s->hf, df, 1);
	/* dWa (H, K) += zreal^T dar + h^T daf; dc1 += column sums */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, K, B, 1.0f, s->zreal, H,
				s->ar, K, 1.0f, s->dg[D_V1C], K);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, K, B, 1.0f, s->h, H,
				s->af, K, 1.0f, s->dg[D_V1C], K);
	for (int r = 0; r < B; r++)
		for (int k = 0; k < K; k++)
			s->dg[D_C1][k] += s->ar[(size_t) r * K + k] + s->af[(size_t) r * K + k];
	s->n_in = s->n_out = 0;
	return loss / B;
}

/* Latent G term: mean softplus(-D(h)); with grad, dhadv (B, H) = w d/dh. */
static double
latent_adv_for_g(Sgan *s, int grad, double w)
{
	int			K = s->K,
				H = s->H,
				B = s->B;
	double		loss = 0.0,
			   *df = s->dout;

	latent_forward(s, s->h, s->af, s->hf, s->outf);
	for (int r = 0; r < B; r++)
	{
		loss += softplus(-s->outf[r]);
		df[r] = -w * sigm(-s->outf[r]) / B;
	}
	if (!grad)
		return loss / B;
	d_head_backward(s, s->af, s->hf, df, 0);
	/* dhadv (B, H) = daf (B, K) Wa^T */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, K, 1.0f, s->af, K,
				s->d[D_V1C], K, 0.0f, s->dhadv, H);
	return loss / B;
}

/* The discriminator's loss on the batch (mean); with grad, its parameter gradients. */
static double
d_loss_batch(Sgan *s, int grad)
{
	int			K = s->K,
				Sd = s->Sd,
				B = s->B;
	double		loss = 0.0,
			   *dr = s->dout,
			   *df = s->dout + B;

	if (s->o.value == SGAN_VALUE_MINER)
		return miner_d_loss(s, grad);
	if (s->o.value == SGAN_VALUE_LATENT)
		return latent_d_loss(s, grad);
	d_preact(s);
	d_head(s, s->ar, s->hr, s->outr);
	d_head(s, s->af, s->hf, s->outf);
	for (int r = 0; r < B; r++)
	{
		loss += softplus(-s->outr[r]) + softplus(s->outf[r]);
		dr[r] = -sigm(-s->outr[r]) / B;
		df[r] = sigm(s->outf[r]) / B;
	}
	if (!grad)
		return loss / B;
	d_head_backward(s, s->ar, s->hr, dr, 1);
	d_head_backward(s, s->af, s->hf, df, 1);
	s->n_in = s->n_out = 0;
	for (int r = 0; r < B; r++)
	{
		const int32_t *pos = s->tgt + s->qoff[r];
		const float *ar = s->ar + (size_t) r * K,
				   *af = s->af + (size_t) r * K;

		for (int k = 0; k < K; k++)
			s->dg[D_C1][k] += ar[k] + af[k];
		for (int64_t p = s->in_ptr[r]; p < s->in_ptr[r + 1]; p++)
		{
			float	   *g = s->dg[D_V1C] + (size_t) s->in_idx[p] * K;

			touch(s, s->list_in, &s->n_in, s->in_idx[p]);
			for (int k = 0; k < K; k++)
				g[k] += ar[k] + af[k];
		}
		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
		{
			float	   *g = s->dg[D_V1V] + (size_t) pos[q - s->qoff[r]] * K;

			touch(s, s->list_out, &s->n_out, pos[q - s->qoff[r]]);
			for (int k = 0; k < K; k++)
				g[k] += ar[k] + s->vq[q] * af[k];
		}
	}
	if (Sd > 0)
	{
		/* dV1s (Sd, K) = vs^T (Sd, B) af (B, K), then scattered */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Sd, K, B, 1.0f, s->vs, Sd,
					s->af, K, 0.0f, s->dV1s, K);
		for (int c = 0; c < Sd; c++)
		{
			float	   *g = s->dg[D_V1V] + (size_t) s->samp[c] * K;

			touch(s, s->list_out, &s->n_out, s->samp[c]);
			for (int k = 0; k < K; k++)
				g[k] += s->dV1s[(size_t) c * K + k];
		}
	}
	return loss / B;
}

/* The adversarial term (mean softplus(-D(fake))) and, with grad, dvq (Q), dvs (B, Sd) scaled by w. */
static double
d_adv_for_g(Sgan *s, int grad, double w)
{
	int			K = s->K,
				Sd = s->Sd,
				B = s->B;
	double		loss = 0.0,
			   *df = s->dout;

	if (s->o.value == SGAN_VALUE_MINER)
		return miner_adv_for_g(s, grad, w);
	if (s->o.value == SGAN_VALUE_LATENT)
		return latent_adv_for_g(s, grad, w);
	d_preact(s);
	d_head(s, s->af, s->hf, s->outf);
	for (int r = 0; r < B; r++)
	{
		loss += softplus(-s->outf[r]);
		df[r] = -w * sigm(-s->outf[r]) / B;
	}
	if (!grad)
		return loss / B;
	d_head_backward(s, s->af, s->hf, df, 0);
	for (int r = 0; r < B; r++)
	{
		const int32_t *pos = s->tgt + s->qoff[r];

		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			s->dvq[q] = dot_lanes(s->af + (size_t) r * K,
								  s->d[D_V1V] + (size_t) pos[q - s->qoff[r]] * K, K);
	}
	if (Sd > 0)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, Sd, K, 1.0f, s->af, K,
					s->V1s, K, 0.0f, s->dvs, Sd);
	return loss / B;
}

/* ---- Generator backward */

/* Add the value gradients dvq, dvs to the logit gradients dzq, dzs. */
static void
values_backward(Sgan *s)
{
	int			S = s->S,
				Sd = s->Sd;

	for (int r = 0; r < s->B; r++)
	{
		float		n = (float) (s->qoff[r + 1] - s->qoff[r]);
		const char *e = s->excl + (size_t) r * S;
		float	   *dzs = s->dzs + (size_t) r * S;
		const float *ps = s->ps + (size_t) r * S,
				   *dvs = s->dvs + (size_t) r * Sd;
		double		dot = 0.0;

		if (s->o.value == SGAN_VALUE_SIGMOID)
		{
			for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
				s->dzq[q] += s->dvq[q] * s->vq[q] * (1.0f - s->vq[q]);
			for (int c = 0; c < Sd; c++)
				if (!e[c])
				{
					float		v = s->vs[(size_t) r * Sd + c];

					dzs[c] += dvs[c] * v * (1.0f - v);
				}
			continue;
		}
		/* v_c = n p_c: dz_j = n p_j dv_j - n w_j p_j sum_c dv_c p_c */
		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			dot += (double) s->dvq[q] * s->pq[q];
		for (int c = 0; c < Sd; c++)
			if (!e[c])
				dot += (double) dvs[c] * ps[c];
		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			s->dzq[q] += (float) (n * s->pq[q] * (s->dvq[q] - dot));
		for (int c = 0; c < S; c++)
			if (!e[c])
				dzs[c] += (float) (n * ps[c] * ((c < Sd ? dvs[c] : 0.0f) - s->wr[r] * dot));
	}
}

/* Likelihood gradients: dzq = (n pq - 1) / B, dzs = n w ps / B. */
static void
nll_backward(Sgan *s)
{
	int			S = s->S;

	for (int r = 0; r < s->B; r++)
	{
		float		n = (float) (s->qoff[r + 1] - s->qoff[r]);
		float		inv = 1.0f / s->B;

		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
			s->dzq[q] = (n * s->pq[q] - 1.0f) * inv;
		for (int c = 0; c < S; c++)
			s->dzs[(size_t) r * S + c] = n * s->wr[r] * s->ps[(size_t) r * S + c] * inv;
	}
}

/* Backward from dzq, dzs through the output layer and the hidden layer into the grads. */
static void
g_backward(Sgan *s)
{
	int			H = s->H,
				S = s->S,
				B = s->B;
	const float *W2s = s->full ? s->w.W2 : s->W2s;
	double		da = 0.0;

	/* dh (B, H) = dzs W2s;  dW2s (S, H) = dzs^T h */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, H, S, 1.0f, s->dzs, S,
				W2s, H, 0.0f, s->dh, H);
	if (s->o.adv_weight > 0.0 && s->o.value == SGAN_VALUE_LATENT)
		for (size_t k = 0; k < (size_t) B * H; k++)
			s->dh[k] += s->dhadv[k];	/* the adversarial autoencoder's term */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, H, B, 1.0f, s->dzs, S,
				s->h, H, s->full ? 1.0f : 0.0f, s->full ? s->g[G_W2] : s->dW2s, H);
	s->n_in = s->n_out = 0;
	for (int c = 0; c < S; c++)
	{
		int32_t		i = s->samp[c];
		double		db = 0.0;

		touch(s, s->list_out, &s->n_out, i);
		if (!s->full)
			for (int k = 0; k < H; k++)
				s->g[G_W2][(size_t) i * H + k] += s->dW2s[(size_t) c * H + k];
		for (int r = 0; r < B; r++)
		{
			db += s->dzs[(size_t) r * S + c];
			da += (double) s->dzs[(size_t) r * S + c] * s->prs[(size_t) r * S + c];
		}
		s->g[G_B2][i] += (float) db;
	}
	for (int r = 0; r < B; r++)
	{
		int32_t		u = s->rows[r];
		const int32_t *pos = s->tgt + s->qoff[r];
		float	   *dh = s->dh + (size_t) r * H;
		const float *h = s->h + (size_t) r * H;
		float		sc = (float) (1.0 / ((1.0 - s->o.dropout) *
										 sqrt((double) (s->indptr[u + 1] - s->indptr[u]))));

		for (int64_t q = s->qoff[r]; q < s->qoff[r + 1]; q++)
		{
			int32_t		i = pos[q - s->qoff[r]];
			float		g = s->dzq[q];
			float	   *w2 = s->w.W2 + (size_t) i * H,
					   *gw2 = s->g[G_W2] + (size_t) i * H;

			touch(s, s->list_out, &s->n_out, i);
			for (int k = 0; k < H; k++)
			{
				dh[k] += g * w2[k];
				gw2[k] += g * h[k];
			}
			s->g[G_B2][i] += g;
			da += (double) g * s->prq[q];
		}
		/* through tanh; then into b1 and the kept input rows of W1 */
		tanh_input_backward(s, r, sc, h, dh, H, s->g[G_B1], s->g[G_W1]);
	}
	if (s->w.prior != SGAN_PRIOR_NONE && s->o.joint)
		s->g[G_A][0] += (float) da;
}

/* The generator's batch loss (mean NLL + adv_weight * adversarial); with grad, its gradients. */
static double
g_loss_batch(Sgan *s, int grad, double *adv)
{
	double		nll = s->fwd_valid ? s->nll : g_forward(s),
				a = 0.0;

	if (s->o.adv_weight > 0.0)
		a = d_adv_for_g(s, grad, s->o.adv_weight);
	if (adv)
		*adv = a;
	if (grad)
	{
		nll_backward(s);
		if (s->o.adv_weight > 0.0 && s->o.value == SGAN_VALUE_MINER)
			miner_backward(s);
		else if (s->o.adv_weight > 0.0 && s->o.value != SGAN_VALUE_LATENT)
			values_backward(s);
		g_backward(s);
	}
	return nll / s->B + s->o.adv_weight * a;
}

/* ---- Updates */

/* Lazy Adam on the touched rows of a table at offset off of arena ar. */
static void
adam_table(ParamArena *ar, int spec, const int32_t *rows, int n, int64_t t, const AdamConfig *c)
{
	int64_t		off = param_arena_offset(ar, spec);
	int			width = (int) ar->specs[spec].cols;

	adam_rows_update(ar->params + off, ar->grads + off, ar->m + off, ar->v + off,
					 rows, n, width, t, c);
}

/* Adam on a whole small tensor (one row of its full length). */
static void
adam_vector(ParamArena *ar, int spec, int64_t t, const AdamConfig *c)
{
	int64_t		off = param_arena_offset(ar, spec);
	int32_t		zero = 0;

	adam_rows_update(ar->params + off, ar->grads + off, ar->m + off, ar->v + off,
					 &zero, 1, (int) (ar->specs[spec].rows * ar->specs[spec].cols), t, c);
}

/* One Adam step of the generator on the rows its batch touched. */
static void
g_update(Sgan *s)
{
	AdamConfig	c = {s->o.lr, 0.9, 0.999, 1e-8, s->o.weight_decay, 0.0};
	AdamConfig	c0 = {s->o.lr, 0.9, 0.999, 1e-8, 0.0, 0.0};

	s->t_g++;
	adam_table(&s->ga, G_W1, s->list_in, s->n_in, s->t_g, &c);
	adam_table(&s->ga, G_W2, s->list_out, s->n_out, s->t_g, &c);
	adam_table(&s->ga, G_B2, s->list_out, s->n_out, s->t_g, &c0);
	adam_vector(&s->ga, G_B1, s->t_g, &c0);
	adam_vector(&s->ga, G_A, s->t_g, &c0);
	untouch(s, s->list_in, s->n_in);
	untouch(s, s->list_out, s->n_out);
	s->fwd_valid = 0;
}

/* One Adam step of the discriminator on the rows its batch touched. */
static void
d_update(Sgan *s)
{
	AdamConfig	c = {s->o.d_lr, 0.9, 0.999, 1e-8, 0.0, 0.0};

	s->t_d++;
	if (s->o.value == SGAN_VALUE_LATENT)
		adam_vector(&s->da, D_V1C, s->t_d, &c);	/* Wa (H, K), dense */
	else
		adam_table(&s->da, D_V1C, s->list_in, s->n_in, s->t_d, &c);
	untouch(s, s->list_in, s->n_in);
	adam_table(&s->da, D_V1V, s->list_out, s->n_out, s->t_d, &c);
	if (s->o.value == SGAN_VALUE_MINER)
		adam_table(&s->da, D_V2, s->list_out, s->n_out, s->t_d, &c);	/* db (I) */
	else
		adam_vector(&s->da, D_V2, s->t_d, &c);
	untouch(s, s->list_out, s->n_out);
	adam_vector(&s->da, D_C1, s->t_d, &c);
	adam_vector(&s->da, D_C2, s->t_d, &c);
}

/* One epoch: per batch a discriminator step on the current fakes, then a generator step. */
int
sgan_epoch(Sgan *s, double *g_loss, double *d_loss, int (*interrupt) (void *), void *arg)
{
	double		gsum = 0.0,
				dsum = 0.0;
	int32_t		n = s->n_active;
	int			B = s->o.batch;

	memcpy(s->order, s->active, 4 * (size_t) n);
	rng_shuffle(&s->rng, s->order, n);
	for (int32_t b0 = 0; b0 < n; b0 += B)
	{
		int			nb = n - b0 < B ? n - b0 : B;
		double		gl,
					dl = 0.0;

		sgan_sample_batch(s, s->order + b0, nb);
		if (s->o.adv_weight > 0.0)
		{
			g_forward(s);
			dl = d_loss_batch(s, 1);
			d_update(s);
		}
		gl = g_loss_batch(s, 1, NULL);
		if (!isfinite(gl) || !isfinite(dl))
			return -1;
		g_update(s);
		gsum += gl * nb;
		dsum += dl * nb;
		if (interrupt && interrupt(arg))
			return 1;
	}
	*g_loss = gsum / (n > 0 ? n : 1);
	*d_loss = dsum / (n > 0 ? n : 1);
	return 0;
}

/* ---- Unit-test entry points */

/* The generator's loss on the sampled batch; with grad, its gradients (added to the zeroed block). */
double
sgan_g_loss(Sgan *s, int grad)
{
	double		l;

	s->fwd_valid = 0;
	l = g_loss_batch(s, grad, NULL);
	if (grad)
	{
		untouch(s, s->list_in, s->n_in);
		untouch(s, s->list_out, s->n_out);
	}
	return l;
}

/* The discriminator's loss on the sampled batch against the current generator. */
double
sgan_d_loss(Sgan *s, int grad)
{
	double		l;

	g_forward(s);
	l = d_loss_batch(s, grad);
	if (grad)
	{
		untouch(s, s->list_in, s->n_in);
		untouch(s, s->list_out, s->n_out);
	}
	return l;
}

/* Parameter and gradient blocks: 0 = generator, 1 = discriminator. */
float *
sgan_params(Sgan *s, int which, int64_t *n, float **grads)
{
	ParamArena *a = which == 0 ? &s->ga : &s->da;

	*n = a->n;
	*grads = a->grads;
	return a->params;
}

/* ---- Model */

/* The generator weights of the state. */
const SganWeights *
sgan_weights(const Sgan *s)
{
	return &s->w;
}

/* The tensors to store; the GF-CF neighbour indexes are stored as their bits in floats. */
int
sgan_tensors(const SganWeights *w, SganTensor *out)
{
	int			n = 0;

	out[n++] = (SganTensor) {"W1", w->W1, (int64_t) w->I * w->H};
	out[n++] = (SganTensor) {"b1", w->b1, w->H};
	out[n++] = (SganTensor) {"W2", w->W2, (int64_t) w->I * w->H};
	out[n++] = (SganTensor) {"b2", w->b2, w->I};
	out[n++] = (SganTensor) {"a", w->a, 1};
	if (w->prior == SGAN_PRIOR_EASE)
		out[n++] = (SganTensor) {"ease", w->ease, (int64_t) w->I * w->I};
	else if (w->prior == SGAN_PRIOR_GFCF)
	{
		out[n++] = (SganTensor) {"nb_val", w->nb_val, (int64_t) w->I * w->T};
		out[n++] = (SganTensor) {"nb_idx", (float *) w->nb_idx, (int64_t) w->I * w->T};
	}
	return n;
}

/* scores (nq, I) = a prior + tanh(b1 + x W1 / sqrt n) W2^T + b2 for each history; work (nq, H). */
void
sgan_score(const SganWeights *w, const int32_t *const *hist, const int32_t *len,
		   int nq, float *scores, float *work)
{
	int			H = w->H;
	int32_t		I = w->I;

	for (int q = 0; q < nq; q++)
	{
		float	   *h = work + (size_t) q * H;
		float		sc = len[q] > 0 ? (float) (1.0 / sqrt((double) len[q])) : 0.0f;

		rows_sum(h, w->W1, hist[q], len[q], H);
		for (int k = 0; k < H; k++)
			h[k] = tanhf(h[k] * sc + w->b1[k]);
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, I, H, 1.0f, work, H,
				w->W2, H, 0.0f, scores, I);
	for (int q = 0; q < nq; q++)
	{
		float	   *row = scores + (size_t) q * I;

		for (int32_t i = 0; i < I; i++)
			row[i] += w->b2[i];
		if (w->prior != SGAN_PRIOR_NONE)
		{
			float		a = w->a[0];

			if (w->prior == SGAN_PRIOR_EASE)
				for (int32_t p = 0; p < len[q]; p++)
				{
					const float *e = w->ease + (size_t) hist[q][p] * I;

					for (int32_t i = 0; i < I; i++)
						row[i] += a * e[i];
				}
			else
				for (int32_t p = 0; p < len[q]; p++)
				{
					const int32_t *ni = w->nb_idx + (size_t) hist[q][p] * w->T;
					const float *nv = w->nb_val + (size_t) hist[q][p] * w->T;

					for (int k = 0; k < w->T; k++)
						row[ni[k]] += a * nv[k];
				}
		}
	}
}

/* Experimental: scores (nq, I) += gamma (c . V1v[i] + db[i]) of the miner D; work (nq, K). */
void
sgan_miner_add(const Sgan *s, const int32_t *const *hist, const int32_t *len, int nq,
			   float gamma, float *scores, float *work)
{
	int			K = s->K;
	int32_t		I = s->I;

	if (s->o.value != SGAN_VALUE_MINER || s->o.adv_weight <= 0.0)
		return;
	for (int q = 0; q < nq; q++)
	{
		float	   *c = work + (size_t) q * K;
		float		sc = len[q] > 0 ? (float) (1.0 / sqrt((double) len[q])) : 0.0f;

		rows_sum(c, s->d[D_V1C], hist[q], len[q], K);
		for (int k = 0; k < K; k++)
			c[k] = tanhf(c[k] * sc + s->d[D_C1][k]);
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, I, K, gamma, work, K,
				s->d[D_V1V], K, 1.0f, scores, I);
	for (int q = 0; q < nq; q++)
		for (int32_t i = 0; i < I; i++)
			scores[(size_t) q * I + i] += gamma * s->d[D_V2][i];
}
