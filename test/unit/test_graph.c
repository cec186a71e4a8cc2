/*
 * test_graph.c
 *	  Unit tests of LightGCN's graph kernels (graph.c), run without a server
 *	  by `make unitcheck`: the normalised adjacency against its definition,
 *	  the sparse-dense products against the naive twin, the propagation
 *	  against dense powers of Â, and the gradient of the BPR loss through
 *	  the propagation against finite differences.  Exit status 0 only when
 *	  every check passed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "optim.h"
#include "parallel.h"
#include "rng.h"
#include "unit.h"

enum
{
	TU = 4, TI = 5, TN = TU + TI, TF = 3, TB = 6
};

/* A tiny bipartite graph: user u likes the items listed on its row. */
static const int64_t ui_indptr[TU + 1] = {0, 3, 5, 6, 9};
static const int32_t ui_indices[9] = {0, 1, 3, 1, 2, 4, 0, 2, 3};

static int64_t indptr[TN + 1];
static int32_t indices[18];
static float values[18];
static GraphAdj adj = {0, indptr, indices, values};

/* Build the adjacency once. */
static void
build(void)
{
	int64_t		cursor[TI];

	graph_build_adjacency(&adj, ui_indptr, ui_indices, TU, TI, cursor);
}

/* Â as a dense (N, N) matrix from its definition D^-1/2 A D^-1/2. */
static void
dense_adjacency(double *a)
{
	double		deg[TN] = {0};

	memset(a, 0, sizeof(double) * TN * TN);
	for (int u = 0; u < TU; u++)
		for (int64_t p = ui_indptr[u]; p < ui_indptr[u + 1]; p++)
		{
			a[u * TN + TU + ui_indices[p]] = 1;
			a[(TU + ui_indices[p]) * TN + u] = 1;
		}
	for (int r = 0; r < TN; r++)
		for (int c = 0; c < TN; c++)
			deg[r] += a[r * TN + c];
	for (int r = 0; r < TN; r++)
		for (int c = 0; c < TN; c++)
			if (a[r * TN + c] != 0)
				a[r * TN + c] = 1.0 / sqrt(deg[r] * deg[c]);
}

/* The CSR equals the dense definition, rows ascending, 2 P non-zeros. */
static void
test_adjacency(void)
{
	double		a[TN * TN],
				got[TN * TN] = {0};
	int			sorted = 1;

	dense_adjacency(a);
	CHECK(adj.n == TN && indptr[TN] == 18, "n %d, nnz %lld", adj.n, (long long) indptr[TN]);
	for (int r = 0; r < TN; r++)
		for (int64_t p = indptr[r]; p < indptr[r + 1]; p++)
		{
			got[r * TN + indices[p]] = values[p];
			if (p > indptr[r] && indices[p] <= indices[p - 1])
				sorted = 0;
		}
	CHECK(sorted, "neighbours ascending within each row");
	for (int e = 0; e < TN * TN; e++)
		CHECK_CLOSE(got[e], a[e], 1e-6, "adjacency entry");
}

/* spmm, spmm_rows and spmm_push against the naive twin. */
static void
test_spmm(void)
{
	float		x[TN * TF],
				y[TN * TF],
				ref[TN * TF],
				sparse[TN * TF] = {0};
	int32_t		rows[3] = {6, 1, 3};
	Rng			rng;

	rng_seed(&rng, 7);
	fill_normal(x, TN * TF, 1.0, &rng);
	graph_spmm(y, &adj, x, TF);
	graph_spmm_ref(ref, &adj, x, TF);
	CHECK(max_abs_diff(y, ref, TN * TF) < 1e-6, "spmm vs reference");

	memset(y, 0, sizeof(y));
	graph_spmm_rows(y, &adj, x, TF, rows, 3);
	for (int k = 0; k < 3; k++)
		CHECK(max_abs_diff(y + rows[k] * TF, ref + rows[k] * TF, TF) < 1e-6, "spmm_rows row %d", rows[k]);
	CHECK(y[0] == 0.0f, "spmm_rows leaves other rows alone");

	for (int k = 0; k < 3; k++)
		memcpy(sparse + rows[k] * TF, x + rows[k] * TF, sizeof(float) * TF);
	graph_spmm_ref(ref, &adj, sparse, TF);
	graph_spmm_push(y, &adj, sparse, TF, rows, 3);
	CHECK(max_abs_diff(y, ref, TN * TF) < 1e-6, "spmm_push vs reference");
}

/*
 * Widths that take the kernels' register-blocked path (64 columns at a
 * time) and its remainder: spmm and spmm_accumulate give the naive twin's
 * bits (same summation order), and accumulate adds scale y to its sum.
 */
static void
test_spmm_wide(void)
{
	static const int widths[] = {1, 64, 130};

	for (int k = 0; k < 3; k++)
	{
		int			F = widths[k];
		size_t		n = (size_t) TN * F;
		float	   *x = malloc(sizeof(float) * n),
				   *y = malloc(sizeof(float) * n),
				   *ref = malloc(sizeof(float) * n),
				   *sum = malloc(sizeof(float) * n),
				   *base = malloc(sizeof(float) * n);
		double		worst = 0.0;
		Rng			rng;

		rng_seed(&rng, 100 + F);
		fill_normal(x, (int) n, 1.0, &rng);
		fill_normal(base, (int) n, 1.0, &rng);
		graph_spmm_ref(ref, &adj, x, F);
		graph_spmm(y, &adj, x, F);
		CHECK(max_abs_diff(y, ref, (int) n) < 1e-6, "spmm vs reference at F = %d", F);
		memcpy(sum, base, sizeof(float) * n);
		memset(y, 0, sizeof(float) * n);
		graph_spmm_accumulate(y, sum, 0.25f, &adj, x, F);
		CHECK(max_abs_diff(y, ref, (int) n) < 1e-6, "spmm_accumulate product at F = %d", F);
		for (size_t e = 0; e < n; e++)
			worst = fmax(worst, fabs(sum[e] - (base[e] + 0.25 * ref[e])));
		CHECK(worst < 1e-6, "spmm_accumulate sum at F = %d: %g", F, worst);
		free(x);
		free(y);
		free(ref);
		free(sum);
		free(base);
	}
}

/* Propagation against (1/(K+1)) sum_k Â^k E0 with dense powers. */
static void
test_forward(void)
{
	double		a[TN * TN],
				layer[TN * TF],
				next[TN * TF],
				mean[TN * TF];
	float		e0[TN * TF],
				out[TN * TF],
				rows_out[2 * TF],
				scratch[2 * TN * TF];
	int32_t		rows[2] = {8, 2},
				slot[TN];
	Rng			rng;

	for (int r = 0; r < TN; r++)
		slot[r] = r == 8 ? 0 : r == 2 ? 1 : -1;
	rng_seed(&rng, 11);
	fill_normal(e0, TN * TF, 1.0, &rng);
	dense_adjacency(a);
	for (int K = 0; K <= 3; K++)
	{
		for (int e = 0; e < TN * TF; e++)
			layer[e] = mean[e] = e0[e];
		for (int k = 1; k <= K; k++)
		{
			for (int r = 0; r < TN; r++)
				for (int f = 0; f < TF; f++)
				{
					next[r * TF + f] = 0;
					for (int c = 0; c < TN; c++)
						next[r * TF + f] += a[r * TN + c] * layer[c * TF + f];
				}
			for (int e = 0; e < TN * TF; e++)
				mean[e] += (layer[e] = next[e]);
		}
		lightgcn_forward(out, &adj, e0, K, TF, scratch);
		for (int e = 0; e < TN * TF; e++)
			CHECK_CLOSE(out[e], mean[e] / (K + 1), 1e-5, "lightgcn_forward");
		lightgcn_forward_rows(rows_out, &adj, e0, K, TF, rows, slot, 2, scratch);
		for (int k = 0; k < 2; k++)
			CHECK(max_abs_diff(rows_out + k * TF, out + rows[k] * TF, TF) < 1e-6,
				  "forward_rows K=%d row %d", K, rows[k]);
	}
}

/*
 * lightgcn_forward_rows at widths that take the products' register-blocked
 * path and its remainder (the listed rows are added to out inside the
 * products): the rows of lightgcn_forward, bit for bit (the same sums in the
 * same order), at K = 1 to 3.
 */
static void
test_forward_rows_wide(void)
{
	static const int widths[] = {64, 130};
	int32_t		rows[3] = {8, 2, 5},
				slot[TN];

	for (int r = 0; r < TN; r++)
		slot[r] = -1;
	for (int k = 0; k < 3; k++)
		slot[rows[k]] = k;
	for (int wi = 0; wi < 2; wi++)
	{
		int			F = widths[wi];
		size_t		n = (size_t) TN * F;
		float	   *e0 = malloc(sizeof(float) * n),
				   *out = malloc(sizeof(float) * n),
				   *rows_out = malloc(sizeof(float) * 3 * F),
				   *scratch = malloc(sizeof(float) * 2 * n);
		Rng			rng;

		rng_seed(&rng, 300 + F);
		fill_normal(e0, (int) n, 1.0, &rng);
		for (int K = 1; K <= 3; K++)
		{
			lightgcn_forward(out, &adj, e0, K, F, scratch);
			lightgcn_forward_rows(rows_out, &adj, e0, K, F, rows, slot, 3, scratch);
			for (int k = 0; k < 3; k++)
				CHECK(memcmp(rows_out + k * F, out + rows[k] * F, sizeof(float) * F) == 0,
					  "forward_rows F=%d K=%d row %d: lightgcn_forward's bits", F, K, rows[k]);
		}
		free(e0);
		free(out);
		free(rows_out);
		free(scratch);
	}
}

/* Context of the loss for finite differences. */
typedef struct LossCtx
{
	float		e0[TN * TF];
	int			K;
	LightgcnWork w;
} LossCtx;

static const int32_t users[TB] = {0, 1, 0, 3, 2, 3};
static const int32_t pos[TB] = {1, 2, 3, 0, 4, 2};
static const int32_t neg[TB] = {2, 0, 4, 1, 0, 4};

/* L of the batch above. */
static double
loss_scalar(void *arg)
{
	LossCtx    *c = arg;

	return lightgcn_bpr_loss(NULL, &c->w, &adj, c->e0, TU, c->K, TF, users, pos, neg, TB, 0.3);
}

/*
 * lightgcn_backward against (1/(K+1)) sum_k Â^k dE by naive products, with
 * dE on one node (its first product pushed from that row) and on every node
 * (pulled: a push would visit every non-zero).
 */
static void
test_backward_paths(void)
{
	static const int32_t one[1] = {6};
	int32_t		all[TN];
	float		dE[TN * TF] = {0},
				de0[TN * TF],
				layer[TN * TF],
				next[TN * TF],
				want[TN * TF],
				scratch[2 * TN * TF];
	Rng			rng;

	for (int n = 0; n < TN; n++)
		all[n] = n;
	rng_seed(&rng, 17);
	for (int full = 0; full <= 1; full++)
	{
		const int32_t *rows = full ? all : one;
		int32_t		n_rows = full ? TN : 1;

		memset(dE, 0, sizeof(dE));
		for (int k = 0; k < n_rows; k++)
			fill_normal(dE + rows[k] * TF, TF, 1.0, &rng);
		memcpy(layer, dE, sizeof(dE));
		for (int e = 0; e < TN * TF; e++)
			want[e] = 0.25f * dE[e];
		for (int k = 1; k <= 3; k++)
		{
			graph_spmm_ref(next, &adj, layer, TF);
			for (int e = 0; e < TN * TF; e++)
				want[e] += 0.25f * next[e];
			memcpy(layer, next, sizeof(next));
		}
		memset(de0, 0, sizeof(de0));
		lightgcn_backward(de0, &adj, dE, rows, n_rows, 3, TF, scratch);
		CHECK(max_abs_diff(de0, want, TN * TF) < 1e-5, "backward, dE on %s: %g",
			  full ? "every node (pull)" : "one node (push)", max_abs_diff(de0, want, TN * TF));
	}
}

/* dL/dE0 through the propagation against finite differences, K = 0..3. */
static void
test_loss_gradient(void)
{
	static LossCtx c;
	static int32_t slot[TN],
				rows[3 * TB],
				inc_ptr[3 * TB + 1],
				inc[3 * TB];
	static float emb[3 * TB * TF],
				norm[3 * TB],
				dE[TN * TF],
				scratch[2 * TN * TF],
				sp[TB],
				sn[TB],
				dp[TB],
				dn[TB];
	float		de0[TN * TF];
	Rng			rng;

	c.w = (LightgcnWork) {slot, rows, inc_ptr, inc, emb, norm, dE, scratch, sp, sn, dp, dn};
	for (int n = 0; n < TN; n++)
		slot[n] = -1;
	rng_seed(&rng, 13);
	fill_normal(c.e0, TN * TF, 0.7, &rng);
	for (c.K = 0; c.K <= 3; c.K++)
	{
		char		what[32];
		double		l1,
					l2;

		memset(de0, 0, sizeof(de0));
		l1 = lightgcn_bpr_loss(de0, &c.w, &adj, c.e0, TU, c.K, TF, users, pos, neg, TB, 0.3);
		l2 = loss_scalar(&c);
		CHECK(l1 == l2, "loss with and without the gradient: %g vs %g", l1, l2);
		snprintf(what, sizeof(what), "lightgcn bpr K=%d", c.K);
		grad_check(what, loss_scalar, &c, c.e0, de0, TN * TF, 1e-2f);
		for (int n = 0; n < TN; n++)
			CHECK(slot[n] == -1, "slot map restored");
		CHECK(max_abs_diff(dE, (float[TN * TF]) {0}, TN * TF) == 0, "dE left zero");
	}
}

/* A random graph big enough for the kernels to split (U x I, deg positives per user). */
typedef struct BigGraph
{
	int32_t		U,
				I;
	int64_t    *ui_ptr,
			   *cursor;
	int32_t    *ui_idx;
	GraphAdj	adj;
} BigGraph;

/* Build it: each user likes deg distinct items, ascending. */
static void
big_graph(BigGraph *g, int32_t U, int32_t I, int deg, Rng *rng)
{
	int64_t		P = (int64_t) U * deg;

	g->U = U;
	g->I = I;
	g->ui_ptr = malloc(sizeof(int64_t) * (U + 1));
	g->ui_idx = malloc(sizeof(int32_t) * P);
	g->cursor = malloc(sizeof(int64_t) * I);
	for (int32_t u = 0; u <= U; u++)
		g->ui_ptr[u] = (int64_t) u * deg;
	for (int32_t u = 0; u < U; u++)
		rng_sample_sorted(rng, I, deg, g->ui_idx + g->ui_ptr[u]);
	g->adj.indptr = malloc(sizeof(int64_t) * (U + I + 1));
	g->adj.indices = malloc(sizeof(int32_t) * 2 * P);
	g->adj.values = malloc(sizeof(float) * 2 * P);
	graph_build_adjacency(&g->adj, g->ui_ptr, g->ui_idx, U, I, g->cursor);
}

/* Free what big_graph allocated (LeakSanitizer in make sanitizecheck). */
static void
big_graph_free(BigGraph *g)
{
	free(g->ui_ptr);
	free(g->ui_idx);
	free(g->cursor);
	free(g->adj.indptr);
	free(g->adj.indices);
	free(g->adj.values);
}

/* One run of every split kernel at a thread count; results in out (6 tensors). */
static void
kernels_at(int threads, BigGraph *g, const float *x, const int32_t *users, const int32_t *pos,
		   const int32_t *neg, int B, float **out)
{
	int			F = 64;
	int32_t		N = g->U + g->I;
	size_t		nf = (size_t) N * F;
	float	   *scratch = malloc(sizeof(float) * 2 * nf),
			   *m = calloc(nf, sizeof(float)),
			   *v = calloc(nf, sizeof(float));
	int32_t		rows[3] = {5, N - 1, 17};
	LightgcnWork w = {malloc(sizeof(int32_t) * N), malloc(sizeof(int32_t) * 3 * B),
		malloc(sizeof(int32_t) * (3 * B + 1)), malloc(sizeof(int32_t) * 3 * B),
		malloc(sizeof(float) * 3 * B * F), malloc(sizeof(float) * 3 * B),
		calloc(nf, sizeof(float)), malloc(sizeof(float) * 2 * nf), malloc(sizeof(float) * B),
	malloc(sizeof(float) * B), malloc(sizeof(float) * B), malloc(sizeof(float) * B)};
	AdamState st;
	AdamConfig cfg = {0.01, 0.9, 0.999, 1e-8, 0, 0};

	parallel_set_threads(threads);
	memset(w.slot, -1, sizeof(int32_t) * N);
	graph_spmm(out[0], &g->adj, x, F);
	memcpy(out[1], x, sizeof(float) * nf);
	graph_spmm_accumulate(out[2], out[1], 0.5f, &g->adj, x, F);
	memset(out[3], 0, sizeof(float) * nf);
	graph_spmm_rows(out[3], &g->adj, x, F, rows, 3);
	memset(out[4], 0, sizeof(float) * nf);
	out[5][0] = (float) lightgcn_bpr_loss(out[4], &w, &g->adj, x, g->U, 3, F, users, pos, neg,
										  B, 1e-3);
	lightgcn_forward(out[5] + 1, &g->adj, x, 3, F, scratch);
	/* one Adam step on the gradient, in place of it */
	adam_init(&st, m, v, (int64_t) nf);
	memcpy(out[4] + nf, x, sizeof(float) * nf);
	adam_update(out[4] + nf, &st, out[4], &cfg);
	parallel_set_threads(1);
	free(scratch);
	free(m);
	free(v);
	free(w.slot);
	free(w.rows);
	free(w.inc_ptr);
	free(w.inc);
	free(w.emb);
	free(w.norm);
	free(w.dE);
	free(w.scratch);
	free(w.sp);
	free(w.sn);
	free(w.dp);
	free(w.dn);
}

/*
 * The kernels split over threads (parallel.h) give the same bits at 1, 2
 * and 3 threads on a graph big enough to be split (3 does not divide the
 * rows evenly): products, a layer-sum, listed rows, a whole BPR gradient
 * with its forward, and an Adam step over the table.
 */
static void
test_threads(void)
{
	static const char *names[6] = {"spmm", "accumulate sum", "accumulate product",
	"spmm_rows", "bpr gradient + adam", "loss + forward"};
	enum
	{
		B = 2048
	};
	BigGraph	g;
	Rng			rng;
	int32_t		N,
				users[B],
				pos[B],
				neg[B];
	size_t		nf;
	float	   *x,
			   *want[6],
			   *got[6];

	rng_seed(&rng, 23);
	big_graph(&g, 3000, 2000, 20, &rng);
	N = g.U + g.I;
	nf = (size_t) N * 64;
	x = malloc(sizeof(float) * nf);
	fill_normal(x, (int) nf, 0.1, &rng);
	for (int b = 0; b < B; b++)
	{
		users[b] = (int32_t) rng_below(&rng, g.U);
		pos[b] = g.ui_idx[g.ui_ptr[users[b]] + rng_below(&rng, 20)];
		neg[b] = (int32_t) rng_below(&rng, g.I);
	}
	for (int t = 0; t < 6; t++)
	{
		want[t] = malloc(sizeof(float) * 2 * (nf + 1));
		got[t] = malloc(sizeof(float) * 2 * (nf + 1));
	}
	kernels_at(1, &g, x, users, pos, neg, B, want);
	CHECK(parallel_threads() == 1, "thread count restored");
	for (int threads = 2; threads <= 3; threads++)
	{
		kernels_at(threads, &g, x, users, pos, neg, B, got);
		for (int t = 0; t < 6; t++)
		{
			size_t		n = t == 4 ? 2 * nf : t == 5 ? nf + 1 : nf;

			CHECK(memcmp(got[t], want[t], sizeof(float) * n) == 0,
				  "%s at %d threads: same bits as 1 thread", names[t], threads);
		}
	}
	for (int t = 0; t < 6; t++)
	{
		size_t		nonzero = 0;

		for (size_t e = 0; e < nf; e++)
			nonzero += want[t][e] != 0.0f;
		CHECK(nonzero > 0, "%s not all zero", names[t]);
	}
	for (int t = 0; t < 6; t++)
	{
		free(want[t]);
		free(got[t]);
	}
	free(x);
	big_graph_free(&g);
}

/* parallel_range tiles [0, len) in order, cut at multiples of align. */
static void
test_parallel_range(void)
{
	static const int64_t lens[] = {0, 1, 15, 16, 17, 1000, 123457};

	for (int k = 0; k < 7; k++)
		for (int n = 1; n <= 5; n++)
		{
			int64_t		at = 0;
			int			ok = 1;

			for (int p = 0; p < n; p++)
			{
				int64_t		b,
							e;

				parallel_range(lens[k], p, n, 16, &b, &e);
				ok &= b == at && e >= b && (e == lens[k] || e % 16 == 0);
				at = e;
			}
			CHECK(ok && at == lens[k], "parallel_range(%lld) in %d parts", (long long) lens[k], n);
		}
}

int
main(void)
{
	build();
	RUN(test_adjacency);
	RUN(test_spmm);
	RUN(test_spmm_wide);
	RUN(test_forward);
	RUN(test_forward_rows_wide);
	RUN(test_backward_paths);
	RUN(test_loss_gradient);
	RUN(test_threads);
	RUN(test_parallel_range);
	return unit_summary();
}
