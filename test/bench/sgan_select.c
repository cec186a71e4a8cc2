/*
 * sgan_select.c
 *	  Choose SGAN's design and defaults on a validation holdout carved from
 *	  a training file, with EASE and popularity on the same holdout; run a
 *	  test file only when asked (mode "test").
 *
 *	  make test/bench/sgan_select      (against src/engine/ alone)
 *	  sgan_select FORMAT TRAIN TEST MODE METHOD [key=value ...]
 *
 * FORMAT: ml (tab "user item rating ts", positive when rating >= 4), cfgan
 * (space "user item rating", every row positive), lgcn (LightGCN "user
 * item item ...").  MODE: val (hold out `holdout` of every training
 * positive, Bernoulli with seed 42; TEST is not read) or test (fit on all of
 * TRAIN, evaluate on TEST).  METHOD: sgan, ease, pop.
 *
 * The catalogue is every item of TRAIN (any rating).  Evaluated users have
 * a fitted positive and a held-out positive; each ranks every catalogue
 * item but its fitted positives; held-out positives outside the catalogue
 * count in |T_u| only.  Prints P@k, R@k, NDCG@k for k = 10, 20, means over
 * the seeds (seeds=1,2,3) every `every` epochs, and the seconds.
 *
 * Keys: every epochs seeds holdout threads lambda(EASE) and the SganOptions
 * fields (hidden dropout negatives batch lr wd prior plambda topk pscale adv
 * dhidden dneg dlr value; value 2 = miner, 3 = latent).  pscales=a,b,...
 * also evaluates other prior scales; gammas=g,... (value 2) adds g times the
 * trained miner's D(u, i) to the scores, or with rerank=M only to the
 * blend's top M unseen items (a re-ranker; the stored model has no D).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#undef I

#include "parallel.h"
#include "rng.h"
#include "sgan.h"
#include "topk.h"

extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);

#define MAX_EVALS 512

typedef struct Csr
{
	int64_t    *ptr;			/* (U + 1) */
	int32_t    *idx;			/* ascending per row */
	int32_t    *extra;			/* (U) held-out positives outside the catalogue, or NULL */
} Csr;

typedef struct Pairs
{
	int64_t    *u,
			   *i;				/* raw ids */
	char	   *pos;
	int64_t		n,
				cap;
} Pairs;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Allocate or die. */
static void *
xmalloc(size_t n)
{
	void	   *p = calloc(1, n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

/* The malloc allocator of the engine. */
static void *
sys_alloc(void *arg, size_t n)
{
	size_t	   *used = arg;
	void	   *p = calloc(1, n);

	*used += n;
	return p;
}

static void
sys_free(void *arg, void *p)
{
	(void) arg;
	free(p);
}

/* Append one pair. */
static void
add_pair(Pairs *pr, int64_t u, int64_t i, char pos)
{
	if (pr->n == pr->cap)
	{
		pr->cap = pr->cap ? 2 * pr->cap : 1 << 16;
		pr->u = realloc(pr->u, 8 * pr->cap);
		pr->i = realloc(pr->i, 8 * pr->cap);
		pr->pos = realloc(pr->pos, pr->cap);
	}
	pr->u[pr->n] = u;
	pr->i[pr->n] = i;
	pr->pos[pr->n++] = pos;
}

/* Read a file of the given format into pairs. */
static Pairs
read_file(const char *fmt, const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	Pairs		pr = {0};

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	while (getline(&line, &cap, f) > 0)
	{
		char	   *s = line,
				   *e;
		long		u = strtol(s, &e, 10);

		if (e == s)
			continue;
		if (strcmp(fmt, "lgcn") == 0)
			for (s = e;; s = e)
			{
				long		it = strtol(s, &e, 10);

				if (e == s)
					break;
				add_pair(&pr, u, it, 1);
			}
		else
		{
			long		it = strtol(e, &s, 10);
			double		r = strtod(s, &e);

			add_pair(&pr, u, it, strcmp(fmt, "ml") == 0 ? r >= 4.0 : 1);
		}
	}
	free(line);
	fclose(f);
	return pr;
}

static int
cmp_i32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* Sorted distinct ids of v[0..n). */
static int64_t *
distinct(const int64_t *v, int64_t n, int32_t *count)
{
	int64_t    *d = xmalloc(8 * (size_t) (n + 1));
	int32_t		k = 0;

	memcpy(d, v, 8 * (size_t) n);
	qsort(d, n, 8, cmp_i64);
	for (int64_t p = 0; p < n; p++)
		if (k == 0 || d[k - 1] != d[p])
			d[k++] = d[p];
	*count = k;
	return d;
}

/* Index of id in the sorted ids, or -1. */
static int32_t
find(const int64_t *ids, int32_t n, int64_t id)
{
	int64_t    *p = bsearch(&id, ids, n, 8, cmp_i64);

	return p ? (int32_t) (p - ids) : -1;
}

/* CSR of the positive pairs with sel[p] == want (sel NULL: all), deduplicated. */
static Csr
build_csr(const Pairs *pr, const int64_t *uids, int32_t U, const int64_t *iids, int32_t I,
		  const char *sel, char want)
{
	Csr			c = {xmalloc(8 * ((size_t) U + 1)), NULL, xmalloc(4 * (size_t) U)};
	int64_t    *cur = xmalloc(8 * ((size_t) U + 1));
	int32_t    *ui = xmalloc(4 * (size_t) pr->n + 4),
			   *ii = xmalloc(4 * (size_t) pr->n + 4);

	for (int64_t p = 0; p < pr->n; p++)
	{
		ui[p] = -1;
		if (!pr->pos[p] || (sel && sel[p] != want))
			continue;
		ui[p] = find(uids, U, pr->u[p]);
		ii[p] = find(iids, I, pr->i[p]);
		if (ui[p] < 0)
			continue;
		if (ii[p] < 0)
		{
			c.extra[ui[p]]++;
			ui[p] = -1;
			continue;
		}
		c.ptr[ui[p] + 1]++;
	}
	for (int32_t u = 0; u < U; u++)
		c.ptr[u + 1] += c.ptr[u];
	c.idx = xmalloc(4 * (size_t) c.ptr[U] + 4);
	memcpy(cur, c.ptr, 8 * (size_t) U);
	for (int64_t p = 0; p < pr->n; p++)
		if (ui[p] >= 0)
			c.idx[cur[ui[p]]++] = ii[p];
	/* sort and deduplicate each row in place */
	{
		int64_t		w = 0;

		for (int32_t u = 0; u < U; u++)
		{
			int64_t		b = c.ptr[u],
						e = c.ptr[u + 1];

			qsort(c.idx + b, e - b, 4, cmp_i32);
			c.ptr[u] = w;
			for (int64_t p = b; p < e; p++)
				if (p == b || c.idx[p] != c.idx[p - 1])
					c.idx[w++] = c.idx[p];
		}
		c.ptr[U] = w;
	}
	free(cur);
	free(ui);
	free(ii);
	return c;
}

/* Row u of the CSR contains i. */
static int
contains(const Csr *c, int32_t u, int32_t i)
{
	return bsearch(&i, c->idx + c->ptr[u], c->ptr[u + 1] - c->ptr[u], 4, cmp_i32) != NULL;
}

/* Metrics: 0 P@10, 1 R@10, 2 NDCG@10, 3 P@20, 4 R@20, 5 NDCG@20. */
typedef void (*ScoreFn) (void *arg, const int32_t *users, int nq, float *scores);

/* Mean metrics of a scorer over the evaluated users. */
static void
evaluate(ScoreFn fn, void *arg, int32_t U, int32_t I, const Csr *fit, const Csr *held,
		 double m[6])
{
	enum
	{
		BU = 256
	};
	float	   *S = xmalloc(4 * (size_t) BU * I);
	int32_t    *users = xmalloc(4 * (size_t) U),
				heap[20],
				top[20];
	int32_t		n = 0;
	double		acc[6] = {0};

	for (int32_t u = 0; u < U; u++)
	{
		int64_t		nh = held->ptr[u + 1] - held->ptr[u];
		int			nk = 0;

		for (int64_t p = held->ptr[u]; p < held->ptr[u + 1]; p++)
			nk += !contains(fit, u, held->idx[p]);
		if (fit->ptr[u + 1] > fit->ptr[u] && (nk > 0 || (held->extra && held->extra[u] > 0)))
			users[n++] = u;
		(void) nh;
	}
	for (int32_t b0 = 0; b0 < n; b0 += BU)
	{
		int			nq = n - b0 < BU ? n - b0 : BU;

		fn(arg, users + b0, nq, S);
		for (int q = 0; q < nq; q++)
		{
			int32_t		u = users[b0 + q];
			float	   *s = S + (size_t) q * I;
			int			T = 0,
						k;
			double		hits = 0,
						dcg = 0;

			for (int64_t p = fit->ptr[u]; p < fit->ptr[u + 1]; p++)
				s[fit->idx[p]] = -INFINITY;
			for (int64_t p = held->ptr[u]; p < held->ptr[u + 1]; p++)
				T += !contains(fit, u, held->idx[p]);
			T += held->extra ? held->extra[u] : 0;
			k = topk_select(s, I, 20, heap, top);
			for (int kk = 10; kk <= 20; kk += 10)
			{
				double		idcg = 0;

				hits = dcg = 0;
				for (int r = 0; r < k && r < kk; r++)
					if (contains(held, u, top[r]))
					{
						hits += 1;
						dcg += 1.0 / log2(r + 2.0);
					}
				for (int j = 0; j < kk && j < T; j++)
					idcg += 1.0 / log2(j + 2.0);
				acc[kk == 10 ? 0 : 3] += hits / kk;
				acc[kk == 10 ? 1 : 4] += hits / T;
				acc[kk == 10 ? 2 : 5] += dcg / idcg;
			}
		}
	}
	for (int j = 0; j < 6; j++)
		m[j] = acc[j] / n;
	free(S);
	free(users);
}

/* ---- Baselines */

typedef struct Dense
{
	const float *W;				/* (I, I) or NULL */
	const float *pop;			/* (I) or NULL */
	const Csr  *fit;
	int32_t		I;
} Dense;

/* Scores of the item-item (sum of rows) or popularity baselines. */
static void
dense_score(void *arg, const int32_t *users, int nq, float *scores)
{
	Dense	   *d = arg;

	for (int q = 0; q < nq; q++)
	{
		float	   *row = scores + (size_t) q * d->I;
		int32_t		u = users[q];

		if (d->pop)
			memcpy(row, d->pop, 4 * (size_t) d->I);
		else
		{
			memset(row, 0, 4 * (size_t) d->I);
			for (int64_t p = d->fit->ptr[u]; p < d->fit->ptr[u + 1]; p++)
			{
				const float *w = d->W + (size_t) d->fit->idx[p] * d->I;

				for (int32_t i = 0; i < d->I; i++)
					row[i] += w[i];
			}
		}
	}
}

/* EASE weights (I, I) with L2 lambda. */
static float *
ease_fit(const Csr *fit, int32_t U, int32_t I, double lambda)
{
	int			n = I,
				info = 0;
	double	   *g = xmalloc(8 * (size_t) n * n);
	float	   *b = xmalloc(4 * (size_t) n * n);

	for (int32_t u = 0; u < U; u++)
		for (int64_t p = fit->ptr[u]; p < fit->ptr[u + 1]; p++)
			for (int64_t q = fit->ptr[u]; q < fit->ptr[u + 1]; q++)
				g[(size_t) fit->idx[p] * n + fit->idx[q]] += 1.0;
	for (int i = 0; i < n; i++)
		g[(size_t) i * n + i] += lambda;
	dpotrf_("L", &n, g, &n, &info, 1);
	dpotri_("L", &n, g, &n, &info, 1);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
		{
			double		pij = i <= j ? g[(size_t) i * n + j] : g[(size_t) j * n + i];

			b[(size_t) i * n + j] = i == j ? 0.0f : (float) (-pij / g[(size_t) j * n + j]);
		}
	free(g);
	return b;
}

/* ---- SGAN scoring */

typedef struct SganArg
{
	const SganWeights *w;
	const Csr  *fit;
	float	   *work;
	const Sgan *s;				/* for the miner's score, with gamma != 0 */
	float		gamma;
	float	   *dwork;			/* (256, K) */
	int			rerank;			/* > 0: the miner re-ranks only the top `rerank` of the blend */
	float	   *dsc;			/* (256, I) */
	int32_t		I;
} SganArg;

static void
sgan_score_users(void *arg, const int32_t *users, int nq, float *scores)
{
	SganArg    *a = arg;
	const int32_t *hist[256];
	int32_t		len[256];

	for (int q = 0; q < nq; q++)
	{
		hist[q] = a->fit->idx + a->fit->ptr[users[q]];
		len[q] = (int32_t) (a->fit->ptr[users[q] + 1] - a->fit->ptr[users[q]]);
	}
	sgan_score(a->w, hist, len, nq, scores, a->work);
	if (a->gamma != 0.0f && a->rerank <= 0)
		sgan_miner_add(a->s, hist, len, nq, a->gamma, scores, a->dwork);
	else if (a->gamma != 0.0f)
	{
		int32_t		heap[1024],
					top[1024];

		memset(a->dsc, 0, 4 * (size_t) nq * a->I);
		sgan_miner_add(a->s, hist, len, nq, a->gamma, a->dsc, a->dwork);
		for (int q = 0; q < nq; q++)
		{
			float	   *row = scores + (size_t) q * a->I,
					   *d = a->dsc + (size_t) q * a->I;
			int32_t		got;

			for (int32_t p = 0; p < len[q]; p++)
				row[hist[q][p]] = -INFINITY;
			got = topk_select(row, a->I, a->rerank, heap, top);
			for (int32_t i = 0; i < a->I; i++)
				row[i] -= 1e6f;
			for (int32_t k = 0; k < got; k++)
				row[top[k]] += 1e6f + d[top[k]];
		}
	}
}

/* Set an option from key=value; returns 0 if the key is unknown. */
static int
set_option(SganOptions *o, const char *k, const char *v)
{
	double		x = atof(v);

#define OPT(name, field) if (strcmp(k, name) == 0) { o->field = x; return 1; }
	OPT("hidden", hidden);
	OPT("dropout", dropout);
	OPT("negatives", negatives);
	OPT("batch", batch);
	OPT("lr", lr);
	OPT("wd", weight_decay);
	OPT("prior", prior);
	OPT("plambda", prior_lambda);
	OPT("topk", prior_topk);
	OPT("pscale", prior_scale);
	OPT("pfolds", prior_folds);
	OPT("tdrop", target_dropped);
	OPT("joint", joint);
	OPT("adv", adv_weight);
	OPT("dhidden", d_hidden);
	OPT("dneg", d_negatives);
	OPT("dlr", d_lr);
	OPT("value", value);
#undef OPT
	return 0;
}

int
main(int argc, char **argv)
{
	const char *fmt,
			   *mode,
			   *method;
	Pairs		tr,
				te = {0};
	int64_t    *uids,
			   *iids;
	int32_t		U,
				I;
	Csr			fit,
				held;
	SganOptions o;
	int			epochs = 50,
				every = 5,
				seeds[16] = {1, 2, 3},
				n_seeds = 3;
	double		ps[8],
				gs[8];
	int			n_ps = 0,
				n_gs = 0,
				rerank = 0;
	static double gsum[8][MAX_EVALS][6];
	static double psum[8][MAX_EVALS][6];
	double		holdout = 0.2,
				lambda = 200.0;

	if (argc < 6)
	{
		fprintf(stderr, "usage: %s FORMAT TRAIN TEST MODE METHOD [key=value ...]\n", argv[0]);
		return 2;
	}
	fmt = argv[1];
	mode = argv[4];
	method = argv[5];
	setvbuf(stdout, NULL, _IOLBF, 0);
	sgan_default_options(&o);
	parallel_set_threads(1);
	for (int a = 6; a < argc; a++)
	{
		char	   *eq = strchr(argv[a], '=');

		if (eq == NULL)
			return 2;
		*eq = 0;
		if (strcmp(argv[a], "epochs") == 0)
			epochs = atoi(eq + 1);
		else if (strcmp(argv[a], "every") == 0)
			every = atoi(eq + 1);
		else if (strcmp(argv[a], "holdout") == 0)
			holdout = atof(eq + 1);
		else if (strcmp(argv[a], "lambda") == 0)
			lambda = atof(eq + 1);
		else if (strcmp(argv[a], "threads") == 0)
			parallel_set_threads(atoi(eq + 1));
		else if (strcmp(argv[a], "pscales") == 0)
		{
			char	   *s = eq + 1;

			for (n_ps = 0; *s && n_ps < 8; n_ps++)
			{
				ps[n_ps] = strtod(s, &s);
				if (*s == ',')
					s++;
			}
		}
		else if (strcmp(argv[a], "rerank") == 0)
			rerank = atoi(eq + 1);
		else if (strcmp(argv[a], "gammas") == 0)
		{
			char	   *s = eq + 1;

			for (n_gs = 0; *s && n_gs < 8; n_gs++)
			{
				gs[n_gs] = strtod(s, &s);
				if (*s == ',')
					s++;
			}
		}
		else if (strcmp(argv[a], "seeds") == 0)
		{
			char	   *s = eq + 1;

			for (n_seeds = 0; *s && n_seeds < 16; n_seeds++)
			{
				seeds[n_seeds] = (int) strtol(s, &s, 10);
				if (*s == ',')
					s++;
			}
		}
		else if (!set_option(&o, argv[a], eq + 1))
		{
			fprintf(stderr, "unknown key %s\n", argv[a]);
			return 2;
		}
	}

	tr = read_file(fmt, argv[2]);
	uids = distinct(tr.u, tr.n, &U);
	iids = distinct(tr.i, tr.n, &I);
	if (strcmp(mode, "test") == 0)
	{
		te = read_file(fmt, argv[3]);
		fit = build_csr(&tr, uids, U, iids, I, NULL, 0);
		held = build_csr(&te, uids, U, iids, I, NULL, 0);
		printf("TEST RUN: fit on %s, evaluate on %s\n", argv[2], argv[3]);
	}
	else
	{
		char	   *sel = xmalloc((size_t) tr.n);
		Rng			r;

		rng_seed(&r, 42);
		for (int64_t p = 0; p < tr.n; p++)
			sel[p] = rng_uniform(&r) < holdout;
		fit = build_csr(&tr, uids, U, iids, I, sel, 0);
		held = build_csr(&tr, uids, U, iids, I, sel, 1);
		free(held.extra);
		held.extra = NULL;
	}
	printf("%s %s: %d users, %d items, %ld fitted, %ld held out\n", fmt, mode, U, I,
		   (long) fit.ptr[U], (long) held.ptr[U]);

	if (strcmp(method, "ease") == 0 || strcmp(method, "pop") == 0)
	{
		Dense		d = {NULL, NULL, &fit, I};
		double		m[6],
					t0 = now();
		float	   *pop = NULL;

		if (method[0] == 'e')
			d.W = ease_fit(&fit, U, I, lambda);
		else
		{
			pop = xmalloc(4 * (size_t) I);
			for (int64_t p = 0; p < fit.ptr[U]; p++)
				pop[fit.idx[p]] += 1.0f;
			d.pop = pop;
		}
		evaluate(dense_score, &d, U, I, &fit, &held, m);
		printf("%s lambda %g: P@10 %.4f R@10 %.4f NDCG@10 %.4f | P@20 %.4f R@20 %.4f NDCG@20 %.4f  (%.1f s)\n",
			   method, lambda, m[0], m[1], m[2], m[3], m[4], m[5], now() - t0);
		return 0;
	}

	{
		static double sum[MAX_EVALS][6];
		int			n_eval = 0;
		double		ttrain = 0;

		printf("options: tdrop %d hidden %d dropout %g negatives %d batch %d lr %g wd %g prior %d plambda %g "
			   "topk %d pscale %g pfolds %d adv %g dhidden %d dneg %d dlr %g value %d; epochs %d\n",
			   o.target_dropped, o.hidden, o.dropout, o.negatives, o.batch, o.lr, o.weight_decay, o.prior,
			   o.prior_lambda, o.prior_topk, o.prior_scale, o.prior_folds, o.adv_weight, o.d_hidden,
			   o.d_negatives, o.d_lr, o.value, epochs);
		for (int si = 0; si < n_seeds; si++)
		{
			size_t		used = 0;
			SganAllocator al = {sys_alloc, sys_free, &used};
			double		t0 = now();
			Sgan	   *s = sgan_init(&o, fit.ptr, fit.idx, U, I, (uint64_t) seeds[si], &al);
			SganArg		sa;
			int			e_i = 0;

			if (s == NULL)
			{
				fprintf(stderr, "sgan_init failed\n");
				return 1;
			}
			sa = (SganArg) {sgan_weights(s), &fit, xmalloc(4 * 256 * (size_t) o.hidden), s, 0.0f,
				xmalloc(4 * 256 * (size_t) o.d_hidden), rerank, xmalloc(4 * 256 * (size_t) I), I};
			printf("seed %d: init %.2f s, allocated %.1f MB (estimate %.1f MB)\n", seeds[si],
				   now() - t0, used / 1048576.0, sgan_sizes(&o, U, I, fit.ptr[U]) / 1048576.0);
			ttrain += now() - t0;
			for (int e = 1; e <= epochs; e++)
			{
				double		gl,
							dl,
							t1 = now();
				int			rc = sgan_epoch(s, &gl, &dl, NULL, NULL);

				ttrain += now() - t1;
				if (rc != 0)
				{
					printf("epoch %d: rc %d (diverged)\n", e, rc);
					break;
				}
				if (e % every == 0 || e == epochs)
				{
					double		m[6];

					for (int k = 0; k < n_ps; k++)
					{
						double		mk[6];

						((SganWeights *) sa.w)->a[0] = (float) ps[k];
						evaluate(sgan_score_users, &sa, U, I, &fit, &held, mk);
						printf("    pscale %g: P@20 %.4f R@20 %.4f NDCG@10 %.4f NDCG@20 %.4f\n",
							   ps[k], mk[3], mk[4], mk[2], mk[5]);
						for (int j = 0; j < 6; j++)
							psum[k][e_i][j] += mk[j];
					}
					((SganWeights *) sa.w)->a[0] = (float) o.prior_scale;
					for (int k = 0; k < n_gs; k++)
					{
						double		mk[6];

						sa.gamma = (float) gs[k];
						evaluate(sgan_score_users, &sa, U, I, &fit, &held, mk);
						printf("    gamma %g: P@20 %.4f R@20 %.4f NDCG@10 %.4f NDCG@20 %.4f\n",
							   gs[k], mk[3], mk[4], mk[2], mk[5]);
						for (int j = 0; j < 6; j++)
							gsum[k][e_i][j] += mk[j];
					}
					sa.gamma = 0.0f;
					evaluate(sgan_score_users, &sa, U, I, &fit, &held, m);
					printf("  seed %d epoch %3d g %.4f d %.4f a %.3f | P@20 %.4f R@20 %.4f "
						   "NDCG@10 %.4f NDCG@20 %.4f (%.1f s)\n", seeds[si], e, gl, dl,
						   sa.w->a[0], m[3], m[4], m[2], m[5], now() - t1);
					fflush(stdout);
					for (int j = 0; j < 6; j++)
						sum[e_i][j] += m[j];
					e_i++;
				}
			}
			n_eval = e_i;
			free(sa.work);
			free(sa.dwork);
			free(sa.dsc);
			sgan_free(s);
		}
		for (int k = 0; k < n_eval; k++)
		{
			int			e = (k + 1) * every > epochs ? epochs : (k + 1) * every;

			printf("MEAN epoch %3d: P@20 %.4f R@20 %.4f NDCG@10 %.4f NDCG@20 %.4f\n", e,
				   sum[k][3] / n_seeds, sum[k][4] / n_seeds, sum[k][2] / n_seeds,
				   sum[k][5] / n_seeds);
			for (int j = 0; j < n_gs; j++)
				printf("MEANG %g epoch %3d: P@20 %.4f R@20 %.4f NDCG@10 %.4f NDCG@20 %.4f\n",
					   gs[j], e, gsum[j][k][3] / n_seeds, gsum[j][k][4] / n_seeds,
					   gsum[j][k][2] / n_seeds, gsum[j][k][5] / n_seeds);
			for (int j = 0; j < n_ps; j++)
				printf("MEANPS %g epoch %3d: P@20 %.4f R@20 %.4f NDCG@10 %.4f NDCG@20 %.4f\n",
					   ps[j], e, psum[j][k][3] / n_seeds, psum[j][k][4] / n_seeds,
					   psum[j][k][2] / n_seeds, psum[j][k][5] / n_seeds);
		}
		printf("train seconds per seed %.2f\n", ttrain / n_seeds);
	}
	return 0;
}
