/*
 * lightgcn_select.c
 *	  Choose LightGCN's schedule (batch, lr, epochs) for a LightGCN-format
 *	  dataset on a validation holdout of its train.txt, never its test.txt.
 *
 *	  make test/bench/lightgcn_select
 *	  test/bench/lightgcn_select DIR BATCH LR EPOCHS [EVERY [HOLDOUT [REG [SAMPLING [DECAY]]]]]
 *
 * recgan_train's lightgcn (src/engine/alg_lightgcn.c) validates after every epoch;
 * on Gowalla that scoring costs 2-3 s an epoch, as much as the epoch.  This
 * driver runs the same engine kernels (graph.c: lightgcn_bpr_loss, Adam) on
 * the same sampling (nn.c: sample_bpr_triples, every positive once per
 * epoch in a random order, one uniform negative each) and scores the
 * holdout only every EVERY epochs.  HOLDOUT (default 0.1) of the pairs of train.txt, drawn with seed
 * 42, are held out; the rest is trained on.  Prints recall@20 and NDCG@20
 * on the holdout (training positives excluded from the ranking) with the
 * training seconds so far.  3 layers, 64 factors, init N(0, 0.1^2), reg
 * 1e-4 unless REG is given.  SAMPLING "user" draws each epoch's P triples
 * as the paper's code does instead (a uniform user with positives, then
 * one of their positives).  DECAY (default 1) multiplies the learning rate
 * after every epoch.  One BLAS thread: OPENBLAS_NUM_THREADS=1; THREADS (default
 * 1) threads for the graph products and Adam (the same results).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#undef I						/* complex.h, through OpenBLAS's cblas.h */

#include "graph.h"
#include "nn.h"
#include "optim.h"
#include "parallel.h"
#include "rng.h"
#include "topk.h"

enum
{
	F = 64, K = 3, TOP = 20
};

/* Rows of users, columns of items, ascending within a row. */
typedef struct Csr
{
	int64_t    *ptr;			/* (U + 1) */
	int32_t    *idx;			/* (P) */
} Csr;

/* Pairs read from a file: users[p] likes items[p]. */
typedef struct Pairs
{
	int32_t    *users;
	int32_t    *items;
	int64_t		n;
} Pairs;

/* Seconds on the monotonic clock. */
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

/* Read "user item item ..." lines; grow *U and *I to cover every id. */
static Pairs
read_pairs(const char *path, int32_t *U, int32_t *I)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	int64_t		room = 1 << 20;
	Pairs		pr = {xmalloc(4 * room), xmalloc(4 * room), 0};

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
		for (s = e;; s = e)
		{
			long		it = strtol(s, &e, 10);

			if (e == s)
				break;
			if (pr.n == room)
			{
				room *= 2;
				pr.users = realloc(pr.users, 4 * room);
				pr.items = realloc(pr.items, 4 * room);
			}
			pr.users[pr.n] = (int32_t) u;
			pr.items[pr.n++] = (int32_t) it;
			*U = u + 1 > *U ? (int32_t) u + 1 : *U;
			*I = it + 1 > *I ? (int32_t) it + 1 : *I;
		}
	}
	free(line);
	fclose(f);
	return pr;
}

static int
cmp_int32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* The CSR of the pairs p with keep[p] == want (keep NULL: all pairs). */
static Csr
build_csr(const Pairs *pr, int32_t U, const char *keep, char want)
{
	Csr			c = {xmalloc(8 * ((size_t) U + 1)), NULL};
	int64_t    *cursor = xmalloc(8 * (size_t) U);

	for (int64_t p = 0; p < pr->n; p++)
		if (keep == NULL || keep[p] == want)
			c.ptr[pr->users[p] + 1]++;
	for (int32_t u = 0; u < U; u++)
		c.ptr[u + 1] += c.ptr[u];
	c.idx = xmalloc(4 * (size_t) c.ptr[U]);
	memcpy(cursor, c.ptr, 8 * (size_t) U);
	for (int64_t p = 0; p < pr->n; p++)
		if (keep == NULL || keep[p] == want)
			c.idx[cursor[pr->users[p]]++] = pr->items[p];
	for (int32_t u = 0; u < U; u++)
		qsort(c.idx + c.ptr[u], c.ptr[u + 1] - c.ptr[u], 4, cmp_int32);
	free(cursor);
	return c;
}

/* Mean recall@TOP and NDCG@TOP of E's scores over the users with held-out items. */
static void
score_holdout(const float *E, int32_t U, int32_t I, const Csr *fit, const Csr *held,
			  double *recall, double *ndcg)
{
	enum
	{
		BU = 256
	};
	float	   *S = xmalloc(sizeof(float) * BU * (size_t) I);	/* (BU, I) */
	int32_t		heap[TOP],
				top[TOP];
	double		sr = 0.0,
				sn = 0.0;
	int64_t		users = 0;

	for (int32_t u0 = 0; u0 < U; u0 += BU)
	{
		int			nb = U - u0 < BU ? U - u0 : BU;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, I, F, 1.0f,
					E + (int64_t) u0 * F, F, E + (int64_t) U * F, F, 0.0f, S, I);
		for (int b = 0; b < nb; b++)
		{
			int32_t		u = u0 + b;
			int64_t		n_held = held->ptr[u + 1] - held->ptr[u];
			float	   *s = S + (int64_t) b * I;
			double		hits = 0.0,
						dcg = 0.0,
						idcg = 0.0;
			int			k;

			if (n_held == 0)
				continue;
			for (int64_t p = fit->ptr[u]; p < fit->ptr[u + 1]; p++)
				s[fit->idx[p]] = -INFINITY;
			k = topk_select(s, I, TOP, heap, top);
			for (int r = 0; r < k; r++)
				if (bsearch(&top[r], held->idx + held->ptr[u], n_held, 4, cmp_int32))
				{
					hits += 1.0;
					dcg += 1.0 / log2(r + 2.0);
				}
			for (int r = 0; r < TOP && r < n_held; r++)
				idcg += 1.0 / log2(r + 2.0);
			sr += hits / n_held;
			sn += dcg / idcg;
			users++;
		}
	}
	*recall = sr / users;
	*ndcg = sn / users;
	free(S);
}

int
main(int argc, char **argv)
{
	const char *dir;
	int			B,
				epochs,
				every;
	double		lr,
				holdout,
				reg;
	char		path[4096];
	int32_t		U = 0,
				I = 0;
	Pairs		pr;
	char	   *keep;
	Csr			fit,
				held;
	int64_t		P,
				nf;
	int32_t		N;
	GraphAdj	adj;
	float	   *e0,
			   *g,
			   *final;
	AdamState	opt;
	AdamConfig	adam;
	LightgcnWork w;
	int32_t    *user_of,
			   *order,
			   *tu,
			   *ti,
			   *tj;
	Rng			rng;
	double		trained = 0.0;
	int			by_user;
	double		decay;
	int32_t    *active,
				n_active = 0;

	if (argc < 5)
	{
		fprintf(stderr, "usage: %s DIR BATCH LR EPOCHS [EVERY [HOLDOUT [REG [SAMPLING [DECAY]]]]]\n",
				argv[0]);
		return 2;
	}
	dir = argv[1];
	B = atoi(argv[2]);
	lr = atof(argv[3]);
	epochs = atoi(argv[4]);
	every = argc > 5 ? atoi(argv[5]) : 10;
	holdout = argc > 6 ? atof(argv[6]) : 0.1;
	reg = argc > 7 ? atof(argv[7]) : 1e-4;
	by_user = argc > 8 && strcmp(argv[8], "user") == 0;
	decay = argc > 9 ? atof(argv[9]) : 1.0;
	parallel_set_threads(getenv("THREADS") ? atoi(getenv("THREADS")) : 1);
	if (B < 1 || epochs < 1 || every < 1 || holdout <= 0.0 || holdout >= 1.0)
	{
		fprintf(stderr, "bad arguments\n");
		return 2;
	}

	snprintf(path, sizeof(path), "%s/train.txt", dir);
	pr = read_pairs(path, &U, &I);
	rng_seed(&rng, 42);
	keep = xmalloc((size_t) pr.n);
	for (int64_t p = 0; p < pr.n; p++)
		keep[p] = rng_uniform(&rng) >= holdout;
	fit = build_csr(&pr, U, keep, 1);
	held = build_csr(&pr, U, keep, 0);
	P = fit.ptr[U];
	N = U + I;
	nf = (int64_t) N * F;
	printf("%d users, %d items, %ld fitted, %ld held out; batch %d, lr %g, reg %g, %s sampling, "
		   "lr decay %g\n", U, I, (long) P, (long) held.ptr[U], B, lr, reg,
		   by_user ? "user" : "positive", decay);

	adj.indptr = xmalloc(8 * ((size_t) N + 1));
	adj.indices = xmalloc(8 * (size_t) P);
	adj.values = xmalloc(8 * (size_t) P);
	graph_build_adjacency(&adj, fit.ptr, fit.idx, U, I, xmalloc(8 * (size_t) I));
	e0 = xmalloc(4 * nf);
	g = xmalloc(4 * nf);
	final = xmalloc(4 * nf);
	adam_init(&opt, xmalloc(4 * nf), xmalloc(4 * nf), nf);
	adam = (AdamConfig) {lr, 0.9, 0.999, 1e-8, 0, 0};
	w = (LightgcnWork) {xmalloc(4 * (size_t) N), xmalloc(12 * (size_t) B),
		xmalloc(12 * (size_t) B + 4), xmalloc(12 * (size_t) B), xmalloc(12 * (size_t) B * F),
		xmalloc(12 * (size_t) B), xmalloc(4 * nf), xmalloc(8 * nf), xmalloc(4 * (size_t) B),
	xmalloc(4 * (size_t) B), xmalloc(4 * (size_t) B), xmalloc(4 * (size_t) B)};
	memset(w.slot, -1, 4 * (size_t) N);
	user_of = xmalloc(4 * (size_t) P);
	order = xmalloc(4 * (size_t) P);
	tu = xmalloc(4 * (size_t) B);
	ti = xmalloc(4 * (size_t) B);
	tj = xmalloc(4 * (size_t) B);
	for (int32_t u = 0; u < U; u++)
		for (int64_t p = fit.ptr[u]; p < fit.ptr[u + 1]; p++)
			user_of[p] = u;
	active = xmalloc(4 * (size_t) U);
	for (int32_t u = 0; u < U; u++)
		if (fit.ptr[u + 1] > fit.ptr[u])
			active[n_active++] = u;
	init_normal(e0, 0.1f, nf, &rng);

	for (int epoch = 1; epoch <= epochs; epoch++)
	{
		double		t0 = now(),
					sum = 0.0;

		sample_permutation(order, P, &rng);
		for (int64_t p0 = 0; p0 < P; p0 += B)
		{
			int			nb = P - p0 < B ? (int) (P - p0) : B;

			if (by_user)
				for (int b = 0; b < nb; b++)
				{
					int32_t		u = active[rng_below(&rng, n_active)],
								p = (int32_t) (fit.ptr[u] +
											   rng_below(&rng, fit.ptr[u + 1] - fit.ptr[u]));

					sample_bpr_triples(&rng, fit.ptr, fit.idx, I, user_of, &p, 1,
									   tu + b, ti + b, tj + b);
				}
			else
				sample_bpr_triples(&rng, fit.ptr, fit.idx, I, user_of, order + p0, nb,
								   tu, ti, tj);
			sum += nb * lightgcn_bpr_loss(g, &w, &adj, e0, U, K, F, tu, ti, tj, nb, reg);
			adam_update_zero(e0, &opt, g, &adam);
		}
		adam.lr *= decay;
		trained += now() - t0;
		if (epoch % every == 0 || epoch == epochs)
		{
			double		recall,
						ndcg;

			lightgcn_forward(final, &adj, e0, K, F, w.scratch);
			score_holdout(final, U, I, &fit, &held, &recall, &ndcg);
			printf("epoch %4d  loss %.4f  recall@20 %.4f  NDCG@20 %.4f  trained %.0f s\n",
				   epoch, sum / P, recall, ndcg, trained);
			fflush(stdout);
		}
	}
	return 0;
}
