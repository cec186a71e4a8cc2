/*
 * test_ease.c
 *	  Unit tests of EASE (alg_ease.c), run without a server by `make
 *	  unitcheck`: dense EASE through the users (fewer users than items) and
 *	  through the items against a naive double twin; with K = I - 1 the
 *	  sparse weights are dense EASE's; with a small K they match a naive dense twin (candidates by a
 *	  full sort, the system solved by Gaussian elimination); scoring, fold-in
 *	  and similar items against the weights; the same bits at any thread
 *	  count; validation of decoded indexes; the stored hyperparameter count;
 *	  dense payload version 2 serving the bits of version 1.
 *	  Exit status 0 only when every check passed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "model.h"
#include "parallel.h"
#include "registry.h"
#include "rng.h"
#include "tune.h"
#include "unit.h"

enum
{
	NU = 80, NI = 30
};

/* A random binary (U x I) matrix; item i's density falls with i (a popularity skew). */
static void
random_csr(Csr *csr, int32_t nu, int32_t ni, uint64_t seed)
{
	int32_t    *rows = malloc(sizeof(int32_t) * nu * ni);
	int32_t    *cols = malloc(sizeof(int32_t) * nu * ni);
	int64_t		n = 0;
	Rng			rng;

	rng_seed(&rng, seed);
	for (int32_t u = 0; u < nu; u++)
		for (int32_t i = 0; i < ni; i++)
			if (rng_uniform(&rng) < 0.5 / (1 + 0.1 * i) || i == u % ni)
			{
				rows[n] = u;
				cols[n] = i;
				n++;
			}
	csr_from_pairs(csr, nu, ni, rows, cols, n);
	free(rows);
	free(cols);
}

/* Train ease with lambda and neighbors on csr into m. */
static RgStatus
train(Model *m, const Csr *csr, double lambda, double neighbors)
{
	double		opt[2] = {lambda, neighbors};

	return unit_train(m, "ease", csr, opt, 42);
}

/* B (I, I) of a trained dense model: prepare's expansion of the stored payload (version 2). */
static const float *
dense_b(Model *m)
{
	if (m->serving == NULL)
		m->ops->prepare(m);
	return m->serving;
}

/* Dense G = X^T X (I, I) in double. */
static double *
dense_gram(const Csr *csr)
{
	int32_t		ni = csr->n_cols;
	double	   *g = calloc((size_t) ni * ni, sizeof(double));

	for (int32_t u = 0; u < csr->n_rows; u++)
		for (int64_t p = csr->indptr[u]; p < csr->indptr[u + 1]; p++)
			for (int64_t q = csr->indptr[u]; q < csr->indptr[u + 1]; q++)
				g[(size_t) csr->indices[p] * ni + csr->indices[q]] += 1;
	return g;
}

/* Solve a x = b (n, n) by Gaussian elimination with partial pivoting; a and b are overwritten. */
static void
naive_solve(double *a, double *b, int n)
{
	for (int c = 0; c < n; c++)
	{
		int			piv = c;

		for (int r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[piv * n + c]))
				piv = r;
		for (int k = 0; k < n; k++)
		{
			double		t = a[c * n + k];

			a[c * n + k] = a[piv * n + k];
			a[piv * n + k] = t;
		}
		{
			double		t = b[c];

			b[c] = b[piv];
			b[piv] = t;
		}
		for (int r = c + 1; r < n; r++)
		{
			double		f = a[r * n + c] / a[c * n + c];

			for (int k = c; k < n; k++)
				a[r * n + k] -= f * a[c * n + k];
			b[r] -= f * b[c];
		}
	}
	for (int r = n - 1; r >= 0; r--)
	{
		for (int k = r + 1; k < n; k++)
			b[r] -= a[r * n + k] * b[k];
		b[r] /= a[r * n + r];
	}
}

/*
 * The naive twin: for each item j, its K candidates by a full selection
 * (largest G[j][a], ties by index) into idx (I, K), and the ridge weights
 * into w (I, K), double.
 */
static void
naive_sparse(const Csr *csr, double lambda, int k, int32_t *idx, double *w)
{
	int32_t		ni = csr->n_cols;
	double	   *g = dense_gram(csr);
	double	   *a = malloc(sizeof(double) * k * k);
	int		   *used = malloc(sizeof(int) * ni);

	for (int32_t j = 0; j < ni; j++)
	{
		memset(used, 0, sizeof(int) * ni);
		used[j] = 1;
		for (int p = 0; p < k; p++)
		{
			int32_t		best = -1;

			for (int32_t c = 0; c < ni; c++)
				if (!used[c] && (best < 0 || g[(size_t) j * ni + c] > g[(size_t) j * ni + best]))
					best = c;
			used[best] = 1;
			idx[(size_t) j * k + p] = best;
		}
		for (int p = 0; p < k; p++)
		{
			for (int q = 0; q < k; q++)
				a[p * k + q] = g[(size_t) idx[j * k + p] * ni + idx[j * k + q]] + (p == q ? lambda : 0);
			w[(size_t) j * k + p] = g[(size_t) idx[j * k + p] * ni + j];
		}
		naive_solve(a, w + (size_t) j * k, k);
	}
	free(used);
	free(a);
	free(g);
}

/* K = I - 1: the sparse weights are dense EASE's B[a][j]. */
static void
test_full_neighbours_equal_dense(void)
{
	Csr			csr;
	Model		dense,
				sparse;
	double		maxb = 0,
				maxdiff = 0;

	random_csr(&csr, NU, NI, 1);
	CHECK(train(&dense, &csr, 10, 0) == RG_OK, "dense trains");
	CHECK(train(&sparse, &csr, 10, NI - 1) == RG_OK, "sparse trains");
	CHECK(dense.n_tensors == 3 && dense.n_hyper == 1, "dense: 3 tensors (payload version 2), stores lambda only");
	CHECK(sparse.n_tensors == 2 && sparse.n_hyper == 2, "sparse: 2 tensors, stores neighbors");
	CHECK(sparse.tensors[0].len == (int64_t) NI * (NI - 1), "sparse (I, I - 1)");
	for (int32_t j = 0; j < NI; j++)
	{
		const int32_t *idx = (const int32_t *) sparse.tensors[0].data + (size_t) j * (NI - 1);
		const float *w = sparse.tensors[1].data + (size_t) j * (NI - 1);
		int			seen[NI] = {0};

		for (int p = 0; p < NI - 1; p++)
		{
			double		b = dense_b(&dense)[(size_t) idx[p] * NI + j];

			seen[idx[p]]++;
			maxb = fmax(maxb, fabs(b));
			maxdiff = fmax(maxdiff, fabs(b - w[p]));
		}
		seen[j]++;
		for (int32_t a = 0; a < NI; a++)
			CHECK(seen[a] == 1, "item %d: candidate %d listed once", j, a);
	}
	CHECK(maxdiff <= 1e-5 * fmax(1, maxb), "K = I - 1 vs dense: max diff %g, max |B| %g",
		  maxdiff, maxb);
}

/*
 * B of dense EASE in double, naively: P = (X^T X + lambda I)^-1 by
 * Gauss-Jordan elimination with partial pivoting on [G | I],
 * B[i][j] = -P[i][j] / P[j][j], B[j][j] = 0.
 */
static double *
naive_dense(const Csr *csr, double lambda)
{
	int32_t		ni = csr->n_cols;
	double	   *g = dense_gram(csr);
	double	   *p = calloc((size_t) ni * ni, sizeof(double));	/* becomes G^-1 */
	double	   *b = malloc(sizeof(double) * ni * ni);

	for (int32_t i = 0; i < ni; i++)
	{
		g[(size_t) i * ni + i] += lambda;
		p[(size_t) i * ni + i] = 1;
	}
	for (int32_t c = 0; c < ni; c++)
	{
		int32_t		piv = c;
		double		d;

		for (int32_t r = c + 1; r < ni; r++)
			if (fabs(g[(size_t) r * ni + c]) > fabs(g[(size_t) piv * ni + c]))
				piv = r;
		for (int32_t k = 0; k < ni; k++)
		{
			double		t = g[(size_t) c * ni + k];

			g[(size_t) c * ni + k] = g[(size_t) piv * ni + k];
			g[(size_t) piv * ni + k] = t;
			t = p[(size_t) c * ni + k];
			p[(size_t) c * ni + k] = p[(size_t) piv * ni + k];
			p[(size_t) piv * ni + k] = t;
		}
		d = g[(size_t) c * ni + c];
		for (int32_t k = 0; k < ni; k++)
		{
			g[(size_t) c * ni + k] /= d;
			p[(size_t) c * ni + k] /= d;
		}
		for (int32_t r = 0; r < ni; r++)
		{
			double		f = g[(size_t) r * ni + c];

			if (r == c || f == 0)
				continue;
			for (int32_t k = 0; k < ni; k++)
			{
				g[(size_t) r * ni + k] -= f * g[(size_t) c * ni + k];
				p[(size_t) r * ni + k] -= f * p[(size_t) c * ni + k];
			}
		}
	}
	for (int32_t i = 0; i < ni; i++)
		for (int32_t j = 0; j < ni; j++)
			b[(size_t) i * ni + j] = i == j ? 0 : -p[(size_t) i * ni + j] / p[(size_t) j * ni + j];
	free(g);
	free(p);
	return b;
}

/* Max |a - b| over (n, n) float weights against double ones, and max |b| into *maxb. */
static double
max_diff(const float *a, const double *b, int32_t n, double *maxb)
{
	double		d = 0;

	*maxb = 0;
	for (size_t p = 0; p < (size_t) n * n; p++)
	{
		d = fmax(d, fabs(a[p] - b[p]));
		*maxb = fmax(*maxb, fabs(b[p]));
	}
	return d;
}

/*
 * Fewer users than items (and more items than one panel): dense EASE solves
 * through the users (Woodbury); its B matches the naive double twin and the
 * item-side solve (the tuner's ease_dense_solve), with an empty user row and
 * two items without positives (their rows and columns of B zero).
 */
static void
test_dense_through_users(void)
{
	static const double lambdas[] = {0.5, 10, 200};
	enum
	{
		NUW = 100, NIW = 300
	};
	Csr			base,
				csr,
				other;
	int32_t    *rows = malloc(sizeof(int32_t) * NUW * NIW);
	int32_t    *cols = malloc(sizeof(int32_t) * NUW * NIW);
	int64_t		n = 0;

	/* users 1..NUW, items 1..NIW of I = NIW + 2: user 0, items 0 and NIW + 1 empty */
	random_csr(&base, NUW, NIW, 5);
	for (int32_t u = 0; u < NUW; u++)
		for (int64_t p = base.indptr[u]; p < base.indptr[u + 1]; p++)
		{
			rows[n] = u + 1;
			cols[n] = base.indices[p] + 1;
			n++;
		}
	csr_from_pairs(&csr, NUW + 1, NIW + 2, rows, cols, n);
	CHECK(ease_dense_through_users(&csr), "%d users, %d items: through the users", NUW, NIW);
	random_csr(&other, 4 * NUW, NIW, 5);
	CHECK(!ease_dense_through_users(&other), "%d users, %d items: through the items", 4 * NUW, NIW);
	random_csr(&other, NUW / 10, NIW / 10, 5);
	CHECK(!ease_dense_through_users(&other), "%d users, %d items (one panel): through the items",
		  NUW / 10, NIW / 10);
	for (int l = 0; l < 3; l++)
	{
		Model		m;
		float	   *gram;
		float	   *item_side;
		double	   *naive = naive_dense(&csr, lambdas[l]);
		double		maxb,
					d;
		RgError		err;
		const float *b;

		CHECK(train(&m, &csr, lambdas[l], 0) == RG_OK, "lambda %g: trains", lambdas[l]);
		b = dense_b(&m);
		d = max_diff(b, naive, NIW + 2, &maxb);
		CHECK(d <= 1e-5 * fmax(1, maxb), "lambda %g: through the users vs naive double: max diff %g, max |B| %g",
			  lambdas[l], d, maxb);
		CHECK(ease_gram(&csr, NIW + 2, &gram, &err) == RG_OK &&
			  ease_dense_solve(gram, NIW + 2, lambdas[l], &item_side, &err) == RG_OK,
			  "lambda %g: item-side solve", lambdas[l]);
		d = max_diff(item_side, naive, NIW + 2, &maxb);
		CHECK(d <= 1e-5 * fmax(1, maxb), "lambda %g: item side vs naive double: max diff %g",
			  lambdas[l], d);
		for (int32_t i = 0; i < NIW + 2; i++)
		{
			bool		empty = i == 0 || i == NIW + 1;
			bool		zero = true;

			for (int32_t j = 0; j < NIW + 2 && empty; j++)
				zero = zero && b[(size_t) i * (NIW + 2) + j] == 0 && b[(size_t) j * (NIW + 2) + i] == 0;
			CHECK(zero, "lambda %g: item %d without positives has a zero row and column", lambdas[l], i);
		}
		free(naive);
	}
	free(rows);
	free(cols);
}

/* Small K: candidates and weights of the naive twin. */
static void
test_small_k_naive_twin(void)
{
	const int	k = 6;
	Csr			csr;
	Model		m;
	int32_t    *idx = malloc(sizeof(int32_t) * NI * k);
	double	   *w = malloc(sizeof(double) * NI * k);
	int			same = 1;
	double		maxdiff = 0,
				maxw = 0;

	random_csr(&csr, NU, NI, 2);
	CHECK(train(&m, &csr, 5, k) == RG_OK, "sparse trains");
	naive_sparse(&csr, 5, k, idx, w);
	for (int p = 0; p < NI * k; p++)
	{
		same &= ((const int32_t *) m.tensors[0].data)[p] == idx[p];
		maxw = fmax(maxw, fabs(w[p]));
		maxdiff = fmax(maxdiff, fabs(w[p] - m.tensors[1].data[p]));
	}
	CHECK(same, "candidates of every item as the naive twin's");
	CHECK(maxdiff <= 1e-5 * fmax(1, maxw), "weights vs naive twin: max diff %g", maxdiff);
	free(idx);
	free(w);
}

/* Scores, fold-in and similar items from the stored columns, with and without prepare. */
static void
test_score_and_similar(void)
{
	const int	k = 8;
	Csr			csr;
	Model		m;
	const int32_t hist[3] = {1, 4, 17};
	ScoreQuery	q = {-1, hist, 3};
	float		got[NI],
				prepared[NI],
				sim[NI];
	double		want[NI] = {0};
	int			ok = 1;

	random_csr(&csr, NU, NI, 3);
	CHECK(train(&m, &csr, 10, k) == RG_OK, "sparse trains");
	for (int32_t j = 0; j < NI; j++)
		for (int p = 0; p < k; p++)
		{
			int32_t		a = ((const int32_t *) m.tensors[0].data)[j * k + p];

			if (a == 1 || a == 4 || a == 17)
				want[j] += m.tensors[1].data[j * k + p];
		}
	m.ops->score(&m, &q, 1, got);
	m.ops->prepare(&m);
	CHECK(m.serving != NULL, "prepare builds the rows");
	m.ops->score(&m, &q, 1, prepared);
	for (int32_t j = 0; j < NI; j++)
	{
		CHECK_CLOSE(got[j], want[j], 1e-6, "fold-in score");
		ok &= memcmp(&got[j], &prepared[j], sizeof(float)) == 0;
	}
	CHECK(ok, "prepared and unprepared scores identical");
	m.ops->similar(&m, 4, sim);
	for (int32_t j = 0; j < NI; j++)
	{
		float		b = -INFINITY;

		for (int p = 0; p < k; p++)
			if (((const int32_t *) m.tensors[0].data)[j * k + p] == 4)
				b = m.tensors[1].data[j * k + p];
		ok &= memcmp(&b, &sim[j], sizeof(float)) == 0;
	}
	CHECK(ok, "similar items of 4: row 4 of B, -inf elsewhere");
}

/* The same bits at 1 and 3 threads. */
static void
test_threads(void)
{
	Csr			csr;
	Model		a,
				b;

	random_csr(&csr, 300, 1200, 4);
	parallel_set_threads(1);
	CHECK(train(&a, &csr, 20, 50) == RG_OK, "1 thread");
	parallel_set_threads(3);
	CHECK(train(&b, &csr, 20, 50) == RG_OK, "3 threads");
	parallel_set_threads(1);
	CHECK(memcmp(a.tensors[0].data, b.tensors[0].data, 4 * a.tensors[0].len) == 0 &&
		  memcmp(a.tensors[1].data, b.tensors[1].data, 4 * a.tensors[1].len) == 0,
		  "tensors identical across thread counts");
}

/* validate refuses indexes out of range or pointing at the item itself; K clamps. */
static void
test_validate(void)
{
	Csr			csr;
	Model		m;
	RgError		err;
	int32_t    *idx;

	random_csr(&csr, NU, NI, 5);
	CHECK(train(&m, &csr, 10, 1000) == RG_OK, "neighbors above I - 1 trains");
	CHECK(m.tensors[0].len == (int64_t) NI * (NI - 1), "K clamped to I - 1");
	CHECK(m.ops->validate(&m, &err) == RG_OK, "trained model validates");
	idx = (int32_t *) m.tensors[0].data;
	idx[5] = NI;
	CHECK(m.ops->validate(&m, &err) == RG_DATA_CORRUPTED, "index I refused");
	idx[5] = -2;
	CHECK(m.ops->validate(&m, &err) == RG_DATA_CORRUPTED, "index -2 refused");
	idx[5] = 0;
	CHECK(m.ops->validate(&m, &err) == RG_DATA_CORRUPTED, "item 0 as its own candidate refused");
	idx[5] = -1;
	CHECK(m.ops->validate(&m, &err) == RG_OK, "-1 (none) accepted");
	m.tensors[1].len--;
	CHECK(m.ops->validate(&m, &err) == RG_DATA_CORRUPTED, "short weight tensor refused");
}

/* Encode m into a new buffer of *len bytes. */
static unsigned char *
encode(const Model *m, size_t *len)
{
	RgError		err;
	unsigned char *buf = NULL;

	if (model_encoded_size(m, len, &err) == RG_OK)
	{
		buf = malloc(*len);
		if (model_encode(m, buf, *len, &err) != RG_OK)
		{
			free(buf);
			buf = NULL;
		}
	}
	CHECK(buf != NULL, "encode");
	return buf;
}

/* Decode (and prepare) len bytes at buf; NULL (and a failed check) if refused. */
static Model *
decode(const unsigned char *buf, size_t len, bool prepare, const char *what)
{
	RgError		err;
	Model	   *d = NULL;

	CHECK(model_decode(buf, len, &d, &err) == RG_OK, "%s decodes", what);
	if (d != NULL && prepare)
		d->ops->prepare(d);
	return d;
}

/* A memory limit of 1 kB. */
static double
tiny_limit_mb(void)
{
	return 0.001;
}

/*
 * Payload version 2 (packed S and scale) against version 1 (B itself, the
 * first release's format, which a stored model may still have): a model of
 * each format with the same B, encoded and decoded, scores every user and
 * gives every item's similar items with the same bits, also unprepared
 * (an expansion per call); version 2 stores (m (m + 1) / 2 + m + 1) words
 * instead of I^2, and once prepared keeps B only.  Through the items
 * (NU > NI) and through the users (100 users, 300 items, two items without
 * positives).  A wrong version word or tensor length is refused.
 */
static void
test_payload_versions(void)
{
	Csr			sets[2];
	int32_t    *rows = malloc(sizeof(int32_t) * 100 * 300);
	int32_t    *cols = malloc(sizeof(int32_t) * 100 * 300);
	int64_t		n = 0;
	Csr			base;

	random_csr(&sets[0], NU, NI, 3);
	/* items 1..300 of 302: items 0 and 301 without positives */
	random_csr(&base, 100, 300, 7);
	for (int32_t u = 0; u < 100; u++)
		for (int64_t p = base.indptr[u]; p < base.indptr[u + 1]; p++)
		{
			rows[n] = u;
			cols[n] = base.indices[p] + 1;
			n++;
		}
	csr_from_pairs(&sets[1], 100, 302, rows, cols, n);
	for (int d = 0; d < 2; d++)
	{
		Model		v2,
					v1;
		int32_t		ni = sets[d].n_cols;
		int32_t		m = 0;
		size_t		len1,
					len2;
		unsigned char *buf1,
				   *buf2;
		Model	   *d1,
				   *d2,
				   *d3;
		float	   *s1 = malloc(sizeof(float) * ni),
				   *s2 = malloc(sizeof(float) * ni);
		bool		same = true;
		RgError		err;

		int64_t    *ids = malloc(sizeof(int64_t) * (sets[d].n_rows + ni));

		for (int32_t i = 0; i < sets[d].n_rows + ni; i++)
			ids[i] = 10 * i + 1;
		CHECK(train(&v2, &sets[d], 50, 0) == RG_OK, "set %d: trains", d);
		v2.user_ids = ids;
		v2.item_ids = ids + sets[d].n_rows;
		CHECK(d == 0 ? !ease_dense_through_users(&sets[d]) : ease_dense_through_users(&sets[d]),
			  "set %d: solved through the %s", d, d == 0 ? "items" : "users");
		CHECK(v2.n_tensors == 3 && v2.tensors[0].len == 1 &&
			  *(const int32_t *) v2.tensors[0].data == 2, "set %d: payload version 2", d);
		uint8_t    *seen = calloc(ni, 1);

		for (int64_t p = 0; p < CsrNnz(&sets[d]); p++)
			seen[sets[d].indices[p]] = 1;
		for (int32_t i = 0; i < ni; i++)
			m += seen[i];
		free(seen);
		CHECK(v2.tensors[1].len == (int64_t) m * (m + 1) / 2 && v2.tensors[2].len == m,
			  "set %d: %d active items: packed triangle and scale", d, m);
		buf2 = encode(&v2, &len2);
		v1 = v2;
		v1.n_tensors = 1;
		v1.tensors[0] = (Tensor) {(int64_t) ni * ni, (float *) dense_b(&v2)};
		v1.serving = NULL;
		CHECK(v1.ops->validate(&v1, &err) == RG_OK, "set %d: version 1 validates", d);
		buf1 = encode(&v1, &len1);
		/* the words of the tensors, and two more tensor lengths (8 bytes each) */
		CHECK(len1 - len2 == 4 * ((size_t) ni * ni - (size_t) m * (m + 1) / 2 - m - 1) - 16,
			  "set %d: version 2 is %zu bytes, version 1 %zu", d, len2, len1);
		d1 = decode(buf1, len1, true, "version 1");
		d2 = decode(buf2, len2, true, "version 2");
		d3 = decode(buf2, len2, false, "version 2, unprepared");
		if (d1 == NULL || d2 == NULL || d3 == NULL)
			continue;
		CHECK(d1->n_tensors == 1 && d1->serving == NULL && d2->serving != NULL,
			  "set %d: version 1 serves its tensor, version 2 its expansion", d);
		CHECK(d2->tensors[1].data == NULL && d2->tensors[1].len == 0 &&
			  d2->tensors[2].data == NULL && d2->tensors[2].len == 0,
			  "set %d: prepared version 2 keeps B only", d);
		for (int32_t u = 0; u < sets[d].n_rows; u++)
		{
			ScoreQuery	q;

			model_user_query(d1, u, &q);
			d1->ops->score(d1, &q, 1, s1);
			model_user_query(d2, u, &q);
			d2->ops->score(d2, &q, 1, s2);
			same &= memcmp(s1, s2, sizeof(float) * ni) == 0;
			/* unprepared: the same scores from an expansion made for the call */
			model_user_query(d3, u, &q);
			d3->ops->score(d3, &q, 1, s1);
			same &= memcmp(s1, s2, sizeof(float) * ni) == 0;
		}
		for (int32_t i = 0; i < ni; i++)
		{
			d1->ops->similar(d1, i, s1);
			d2->ops->similar(d2, i, s2);
			same &= memcmp(s1, s2, sizeof(float) * ni) == 0;
			d3->ops->similar(d3, i, s1);
			same &= memcmp(s1, s2, sizeof(float) * ni) == 0;
		}
		CHECK(same, "set %d: every user's scores and every item's similar items identical", d);

		*(int32_t *) d3->tensors[0].data = 3;
		CHECK(d3->ops->validate(d3, &err) == RG_DATA_CORRUPTED, "set %d: version 3 refused", d);
		*(int32_t *) d3->tensors[0].data = 2;
		CHECK(d3->ops->validate(d3, &err) == RG_OK, "set %d: version 2 accepted", d);
		d3->tensors[2].len--;
		CHECK(d3->ops->validate(d3, &err) == RG_DATA_CORRUPTED, "set %d: short scale refused", d);
		d3->tensors[2].len++;
		d3->tensors[1].len++;
		CHECK(d3->ops->validate(d3, &err) == RG_DATA_CORRUPTED, "set %d: long triangle refused", d);
		d3->tensors[1].len--;
		{
			double		(*saved) (void) = rg_host.max_train_mb;

			/* B's I x I floats are more than the limit: refused before any is allocated */
			rg_host.max_train_mb = tiny_limit_mb;
			CHECK(d3->ops->validate(d3, &err) == RG_PROGRAM_LIMIT &&
				  d1->ops->validate(d1, &err) == RG_OK,
				  "set %d: version 2 above the memory limit refused, version 1 (its bytes stored) not", d);
			rg_host.max_train_mb = saved;
		}
		free(buf1);
		free(buf2);
		free(s1);
		free(s2);
		free(ids);
	}
	free(rows);
	free(cols);
}

int
main(void)
{
	rg_host_malloc();
	RUN(test_full_neighbours_equal_dense);
	RUN(test_dense_through_users);
	RUN(test_small_k_naive_twin);
	RUN(test_score_and_similar);
	RUN(test_threads);
	RUN(test_validate);
	RUN(test_payload_versions);
	return unit_summary();
}
