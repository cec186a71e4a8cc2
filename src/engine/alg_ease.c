/*
 * ease.c
 *	  EASE: embarrassingly shallow autoencoder (Steck, WWW 2019), closed form,
 *	  dense or restricted to each item's most co-occurring items.
 *
 * Legend: U users, I items, nb column block, K neighbours kept per item.
 *
 * Dense (neighbors = 0, the default):
 *
 *   G = X^T X + lambda * Id        (M, M), float32, M items with positives
 *   P = G^-1                       (M, M), float32, by Cholesky
 *   B[i][j] = -P[i][j] / P[j][j],  B[j][j] = 0, zero for items without positives
 *   score(u, j) = sum over items i of u's history of B[i][j]
 *
 * With fewer users with positives (V) than items with positives (M), and
 * M > EASE_BLOCK, P comes from the (V, V) system instead (Woodbury, SolveThroughUsers):
 * B[i][j] = Q[i][j] / (1 - Q[j][j]), Q = X^T (X X^T + lambda I)^-1 X,
 * V^3 instead of M^3 (ML-100K u1: V = 942, M = 1408).
 *
 * The Cholesky factorisation and the inverse are blocked (panels of
 * EASE_BLOCK columns through LAPACK spotrf and BLAS strsm/ssyrk) so that a
 * cancel request is honoured between panels even for large catalogues.
 * Only the lower triangle is computed (G and P are symmetric): the inverse
 * costs M^3 / 3 multiply-adds after the factorisation's M^3 / 6.
 *
 * Sparse (neighbors = K > 0): column j of dense B is the ridge regression
 * of x_j on the other columns, B[-j, j] = (G[-j,-j] + lambda I)^-1 G[-j, j].
 * The sparse model restricts it to S_j, the K items a != j of largest
 * co-occurrence G[j][a] (ties by index; items that never co-occur with j
 * come last, by index), and solves
 *
 *   (G[S,S] + lambda I) b = G[S, j]          (K, K), float64, Cholesky
 *
 * per item, so B has K non-zeros per column.  G is built sparsely (CSR of
 * X^T X, memory 8 bytes per non-zero); G[S,S] is gathered by scattering
 * the rows of the K candidates through a position map, a cost of the sum
 * of their row lengths per item (Gowalla, 41k items, K 300: G has 4.2e7
 * non-zeros, 323 MB; the scatter reads 3.8e10 entries in all, 9.3e5 per
 * item, against 1.8e11 multiply-adds of the factorisations).  The
 * factorisation is our own loop (EaseCholeskySolve, K^3/3 multiply-adds),
 * not LAPACK's: the items are split over recgan.threads (parallel.h) and
 * each item's solve is independent and serial, so the weights are
 * bit-identical at any thread count.  With K = I - 1 the weights are
 * dense EASE's (to rounding; test_ease).
 *
 * Tensors, dense, payload version 2 (stored after 0.2.0; B = S diag(scale)
 *          off the diagonal, S symmetric, over the m items with positives
 *          in the stored positives, ascending; half the bytes of B):
 *          0 = (1) the payload version, 2, int32 stored bitwise;
 *          1 = (m (m + 1) / 2) S's upper triangle packed by rows, row c
 *              holding S[c][c..m-1] (S = P, or Q through the users);
 *          2 = (m) scale (-1 / P[c][c], or 1 / (1 - Q[c][c])).
 *          Prepare rebuilds B (WeightsExpand: the same bits as version 1
 *          stored, the same float products) and frees tensors 1 and 2.
 *        dense, payload version 1 (the first release, still read; the
 *          tuner's trial models): 0 = B, (I, I) float32, row-major.
 * Tensors, sparse: 0 = (I, K) candidate indexes of each target item j,
 *          int32 stored bitwise, -1 = none (only when I - 1 < K cannot
 *          fill the list, i.e. never for K <= I - 1, or I = 1);
 *          1 = (I, K) their weights B[S_j[k]][j], float32.
 *          Serving transposes them to rows (source item -> targets).
 * Options: lambda, neighbors (0 = dense; added after the first release,
 * so a dense model stores only lambda: ModelOps.n_original_options).
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "model.h"
#include "nn.h"
#include "parallel.h"
#include "topk.h"
#include "tune.h"

#define EASE_BLOCK 256
#define EASE_INVERSE_BLOCK 128

/* Payload version of a dense model stored now (version 1: B itself). */
#define EASE_DENSE_PAYLOAD 2

/* LAPACK (Fortran ABI, with the hidden length of the character argument) */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda,
					int *info, size_t uplo_len);

enum
{
	OPT_LAMBDA,
	OPT_NEIGHBORS
};

static const OptionSpec ease_options[] = {
	{"lambda", OPT_REAL, 200, 1e-6, 1e12, NULL, "L2 regularisation of the item-item weights"},
	{"neighbors", OPT_INT, 0, 0, 100000, NULL,
	"0: dense EASE; K > 0: each item regressed on its K most co-occurring items (sparse)"},
};

/*
 * Items per parallel_run between two interrupt checks: at most
 * EASE_SPARSE_CHUNK, fewer when each costs more than EASE_SPARSE_WORK / it
 * (about a second of solves), never fewer than the threads.
 */
#define EASE_SPARSE_CHUNK 512
#define EASE_SPARSE_WORK 1e9

/* Factor g (n x n, column-major, lower) in place: g = L L^T, blocked. */
static RgStatus
CholeskyBlocked(float *g, int n, RgError *err)
{
	for (int k = 0; k < n; k += EASE_BLOCK)
	{
		int			b = RG_MIN(EASE_BLOCK, n - k);
		int			rest = n - k - b;
		int			info = 0;

		RG_TRY(rg_check_interrupts(err));
		spotrf_("L", &b, g + (size_t) k * n + k, &n, &info, 1);
		if (info != 0)
		{
			rg_fail(err, RG_DATA_EXCEPTION,
					"EASE Gram matrix is not positive definite (LAPACK info %d)", info);
			return rg_hint(err, "Increase the \"lambda\" option.");
		}
		if (rest == 0)
			break;
		/* L21 = A21 L11^-T */
		cblas_strsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
					rest, b, 1.0f, g + (size_t) k * n + k, n, g + (size_t) k * n + k + b, n);
		/* A22 -= L21 L21^T */
		cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, rest, b,
					-1.0f, g + (size_t) k * n + k + b, n, 1.0f, g + (size_t) (k + b) * n + k + b, n);
	}
	return RG_OK;
}

/*
 * Write the lower triangle of P = (L L^T)^-1 (n x n, column-major) into p,
 * panel by panel: columns j..j+b of P from row j down solve L Y = E and
 * L^T X = Y on the trailing block only (E's rows above j are zero, and the
 * rows of X from j down depend only on the rows of Y from j down), n^3 / 3
 * multiply-adds in all.  Entries above the diagonal block are not written.
 * Panels of EASE_INVERSE_BLOCK columns: narrower panels solve fewer zeros
 * above their diagonal block (one-thread harness, ML-100K u1's 942 x 942
 * system through the users: 128 columns 23.7 ms, 256 columns 26.3 ms,
 * minimum of 5 runs, three alternations).
 */
static RgStatus
InverseFromCholesky(const float *l, float *p, int n, RgError *err)
{
	for (int j = 0; j < n; j += EASE_INVERSE_BLOCK)
	{
		int			b = RG_MIN(EASE_INVERSE_BLOCK, n - j);
		float	   *panel = p + (size_t) j * n + j;	/* P[j.., j..j+b] */

		RG_TRY(rg_check_interrupts(err));
		for (int c = 0; c < b; c++)
		{
			memset(panel + (size_t) c * n, 0, sizeof(float) * (n - j));
			panel[(size_t) c * n + c] = 1.0f;
		}
		cblas_strsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
					n - j, b, 1.0f, l + (size_t) j * n + j, n, panel, n);
		cblas_strsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
					n - j, b, 1.0f, l + (size_t) j * n + j, n, panel, n);
	}
	return RG_OK;
}

/* Copy the lower triangle of a (n x n) to the upper, in tiles (a full symmetric matrix). */
static void
SymmetrizeLower(float *a, int n)
{
	const int	t = 64;

	for (int c0 = 0; c0 < n; c0 += t)
		for (int r0 = c0; r0 < n; r0 += t)
			for (int c = c0; c < RG_MIN(c0 + t, n); c++)
				for (int r = RG_MAX(r0, c + 1); r < RG_MIN(r0 + t, n); r++)
					a[(size_t) r * n + c] = a[(size_t) c * n + r];
}

/*
 * G = X^T X + lambda I (m x m, float32, lower triangle, column-major) over
 * the m items with positives (active[i]: item i's index among them, or -1),
 * xt being X transposed.  Column by column: column a of G from row a down
 * counts, over the rows r of X holding item a, the entries of row r from a
 * on (cursor[r]: where a sits in row r, as the columns ascend), in an int32
 * row that stays in cache (integer increments, several times faster than
 * float ones in place), then converted.  The counts are exact in float32
 * (below 2^24).  g (m x m) is the caller's, zeroed here.
 */
static RgStatus
GramMatrix(const Csr *x, const Csr *xt, const int32_t *active, int m, double lambda,
		   float *g, RgError *err)
{
	int32_t		n = xt->n_rows;	/* columns of X */
	int64_t    *cursor = rg_alloc_array(int64_t, RG_MAX(x->n_rows, 1));	/* (rows of X) */
	int32_t    *count = rg_alloc0_array(int32_t, RG_MAX(n, 1));	/* (columns of X) */

	memset(g, 0, sizeof(float) * (size_t) m * m);
	memcpy(cursor, x->indptr, sizeof(int64_t) * x->n_rows);
	for (int32_t a = 0; a < n; a++)
	{
		float	   *col;

		if (CsrRowLen(xt, a) == 0)
			continue;
		if ((a & 255) == 0)
			RG_TRY(rg_check_interrupts(err));
		for (int64_t p = xt->indptr[a]; p < xt->indptr[a + 1]; p++)
		{
			int32_t		r = xt->indices[p];
			int64_t		end = x->indptr[r + 1];

			/* row r from column a on: its columns ascend */
			for (int64_t q = cursor[r]++; q < end; q++)
				count[x->indices[q]]++;
		}
		col = g + (size_t) active[a] * m;
		for (int32_t c = a; c < n; c++)
		{
			if (active[c] >= 0)
				col[active[c]] = (float) count[c];
			count[c] = 0;
		}
	}
	for (int i = 0; i < m; i++)
		g[(size_t) i * m + i] += (float) lambda;
	rg_free(cursor);
	rg_free(count);
	return RG_OK;
}

/* Offset of row c in a packed upper triangle of order m (rows of m, m - 1, ... entries). */
static inline size_t
PackedRow(size_t c, size_t m)
{
	return c * m - c * (c - 1) / 2;
}

/*
 * B (n x n, float32, row-major) into b from the packed upper triangle s of
 * a symmetric (m x m) S (row c holds S[c][c..m-1]) over the m items with
 * positives (item_of[c]: the item of active index c):
 * B[item_of[r]][item_of[c]] = S[r][c] * scale[c], zero on the diagonal and
 * in the rows and columns of items without positives.  Tiles of EXPAND_TILE
 * rows of s, so that the column writes of a tile stay in cache.
 */
#define EXPAND_TILE 32
static void
WeightsExpand(const float *s, const float *scale, int m, const int32_t *item_of, int n,
			  float *b)
{
	memset(b, 0, sizeof(float) * (size_t) n * n);
	for (int c0 = 0; c0 < m; c0 += EXPAND_TILE)
		for (int r0 = c0; r0 < m; r0 += EXPAND_TILE)
			for (int c = c0; c < RG_MIN(c0 + EXPAND_TILE, m); c++)
			{
				const float *sc = s + PackedRow(c, m) - c;	/* sc[r] = S[c][r], r >= c */
				float	   *brow = b + (size_t) item_of[c] * n; /* row of item c */

				for (int r = RG_MAX(r0, c + 1); r < RG_MIN(r0 + EXPAND_TILE, m); r++)
				{
					brow[item_of[r]] = sc[r] * scale[r];
					b[(size_t) item_of[r] * n + item_of[c]] = sc[r] * scale[c];
				}
			}
}

/*
 * The packed upper triangle of P = G^-1 into *s_out and -1 / P[c][c] into
 * *scale_out (WeightsExpand's S and scale: B[r][c] = -P[r][c] / P[c][c]),
 * from g = X^T X + lambda I over the m items with positives, whose
 * memory becomes *s_out (its first m (m + 1) / 2 floats).  An item without positives has a Gram row of lambda on the
 * diagonal only, so its row and column of P are 1/lambda e_i and its row
 * and column of B are zero: P is computed over the m active items, in
 * float32 (G's eigenvalues lie in [lambda, lambda + |X|^2], a mild
 * condition for float32 at the lambdas EASE uses).
 */
static RgStatus
SolveActive(float *g, int m, float **s_out, float **scale_out, RgError *err)
{
	float	   *p;				/* (m, m) inverse, lower triangle, column-major */
	float	   *s = g;			/* (m (m + 1) / 2), once g is no longer read */
	float	   *scale = rg_alloc_array(float, RG_MAX(m, 1));	/* (m) -1 / P[c][c] */

	RG_TRY(CholeskyBlocked(g, m, err));
	p = rg_alloc_array(float, (size_t) RG_MAX(m, 1) * RG_MAX(m, 1));
	RG_TRY(InverseFromCholesky(g, p, m, err));
	/* column c of the lower triangle is row c of the upper one */
	for (int c = 0; c < m; c++)
	{
		memcpy(s + PackedRow(c, m), p + (size_t) c * m + c, sizeof(float) * (m - c));
		scale[c] = -1.0f / p[(size_t) c * m + c];
	}
	rg_free(p);
	*s_out = s;
	*scale_out = scale;
	return RG_OK;
}

/*
 * Dense B through the users, for fewer users with positives (V) than items
 * with positives (M): by Woodbury's identity, with X (V, M) over them,
 *
 *   P = (X^T X + lambda I)^-1 = (I - Q) / lambda,   Q = X^T Z X,
 *   Z = (X X^T + lambda I)^-1                          (V, V), float32
 *
 * so B[i][j] = -P[i][j] / P[j][j] = Q[i][j] / (1 - Q[j][j]) (i != j), and
 * the cubic work is V^3 (Cholesky and inverse of the (V, V) system) instead
 * of M^3.  Q is formed sparsely, X being binary (rows_sum_ld): X^T Z
 * (M, V) by adding the Z rows of each item's users (V per positive),
 * transposed to W = Z X (V, M); then row c of Q from column c on is the sum
 * of the W rows of item c's users (at most M per positive), written straight
 * into the packed upper triangle *s_out (WeightsExpand's S; scale[c] =
 * 1 / (1 - Q[c][c])).  Two buffers of (V, M) floats hold it all in turn
 * (M > V): the Gram and its factor, then Y, then Q in the first; Z, then W
 * in the second; a fresh backend pays a page fault per 4 kB of new memory.
 * 1 - Q[j][j] = lambda P[j][j] is
 * at least lambda / (lambda + |users of j|) (a diagonal entry of an
 * inverse is at least the inverse of the diagonal entry), so the
 * subtraction keeps float32 precision at EASE's lambdas.
 */
static RgStatus
SolveThroughUsers(const Csr *x, int m, const int32_t *item_of, double lambda,
				  float **s_out, float **scale_out, RgError *err)
{
	Csr			xt;				/* (I, U) users of each item */
	int32_t    *user_of = rg_alloc_array(int32_t, RG_MAX(x->n_rows, 1));	/* (U) active index or -1 */
	int			v = 0;
	size_t		words;
	float	   *one;			/* K, Y, then Q */
	float	   *two;			/* Z, then W */
	float	   *k;				/* (V, V) X X^T + lambda I, then its Cholesky factor */
	float	   *z;				/* (V, V) its inverse */
	float	   *y;				/* (M, V) X^T Z */
	float	   *w;				/* (V, M) Z X */
	float	   *q;				/* (M (M + 1) / 2) X^T Z X, packed upper triangle */
	float	   *scale;			/* (M) 1 / (1 - Q[c][c]) */

	for (int32_t u = 0; u < x->n_rows; u++)
		user_of[u] = CsrRowLen(x, u) > 0 ? v++ : -1;
	words = RG_MAX(RG_MAX((size_t) v * v, (size_t) m * v), RG_MAX(PackedRow(m, m), 1));
	one = rg_alloc_array(float, words);
	two = rg_alloc_array(float, words);
	csr_transpose(x, &xt);
	k = one;
	RG_TRY(GramMatrix(&xt, x, user_of, v, lambda, k, err));
	RG_TRY(CholeskyBlocked(k, v, err));
	z = two;
	RG_TRY(InverseFromCholesky(k, z, v, err));
	SymmetrizeLower(z, v);

	/* Y = X^T Z: row c is the sum of the Z rows of item c's users */
	for (int64_t e = 0; e < CsrNnz(&xt); e++)
		xt.indices[e] = user_of[xt.indices[e]];
	y = one;
	for (int c = 0; c < m; c++)
	{
		if ((c & 255) == 0)
			RG_TRY(rg_check_interrupts(err));
		rows_sum_ld(y + (size_t) c * v, z, v, CsrRow(&xt, item_of[c]), CsrRowLen(&xt, item_of[c]), v);
	}
	w = two;
	for (int c0 = 0; c0 < m; c0 += 64)
		for (int t0 = 0; t0 < v; t0 += 64)
			for (int c = c0; c < RG_MIN(c0 + 64, m); c++)
				for (int t = t0; t < RG_MIN(t0 + 64, v); t++)
					w[(size_t) t * m + c] = y[(size_t) c * v + t];

	/* Q[c][c..] = the sum of the W rows of item c's users, from column c on */
	q = one;
	scale = rg_alloc_array(float, RG_MAX(m, 1));
	for (int c = 0; c < m; c++)
	{
		float	   *qrow = q + PackedRow(c, m);	/* Q[c][c..m-1] */

		if ((c & 255) == 0)
			RG_TRY(rg_check_interrupts(err));
		rows_sum_ld(qrow, w + c, m, CsrRow(&xt, item_of[c]), CsrRowLen(&xt, item_of[c]), m - c);
		if (!(qrow[0] < 1.0f))
		{
			rg_fail(err, RG_DATA_EXCEPTION,
					"EASE Gram matrix is not positive definite (item %d)", item_of[c]);
			return rg_hint(err, "Increase the \"lambda\" option.");
		}
		scale[c] = 1.0f / (1.0f - qrow[0]);
	}
	rg_free(two);
	rg_free(user_of);
	rg_free(xt.indptr);
	rg_free(xt.indices);
	*s_out = q;
	*scale_out = scale;
	return RG_OK;
}

/*
 * Whether dense EASE solves through the users (SolveThroughUsers): fewer
 * users than items with positives, and more of those items than one panel
 * (EASE_BLOCK): below that either solve takes well under a millisecond, and
 * small models keep the bits of the item-side solve.
 */
bool
ease_dense_through_users(const Csr *x)
{
	int64_t		users = 0;
	int64_t		items = 0;
	uint8_t    *seen = rg_alloc0_array(uint8_t, RG_MAX(x->n_cols, 1));

	for (int32_t u = 0; u < x->n_rows; u++)
		users += CsrRowLen(x, u) > 0;
	for (int64_t e = 0; e < CsrNnz(x); e++)
		if (!seen[x->indices[e]])
		{
			seen[x->indices[e]] = 1;
			items++;
		}
	rg_free(seen);
	return users < items && items > EASE_BLOCK;
}

/* X^T X (n x n, float32, lower triangle, column-major, no regularisation) of x into *out. */
RgStatus
ease_gram(const Csr *x, int n, float **out, RgError *err)
{
	int32_t    *all = rg_alloc_array(int32_t, RG_MAX(n, 1));
	Csr			xt;

	for (int i = 0; i < n; i++)
		all[i] = i;
	csr_transpose(x, &xt);
	*out = rg_alloc_array(float, (size_t) RG_MAX(n, 1) * RG_MAX(n, 1));
	RG_TRY(GramMatrix(x, &xt, all, n, 0.0, *out, err));
	rg_free(xt.indptr);
	rg_free(xt.indices);
	rg_free(all);
	return RG_OK;
}

/*
 * B (n x n) into *b_out for one lambda from xtx = ease_gram's X^T X, which
 * is left as it was: the tuner (tune.c) solves many lambdas from one Gram.
 * The same bits as a DenseTrain model decoded on the same positives: the
 * active items are those with a positive diagonal, and lambda is added as
 * GramMatrix adds it.
 */
RgStatus
ease_dense_solve(const float *xtx, int n, double lambda, float **b_out, RgError *err)
{
	int32_t    *item_of = rg_alloc_array(int32_t, RG_MAX(n, 1));
	int			m = 0;
	float	   *g;
	float	   *s;
	float	   *scale;

	for (int i = 0; i < n; i++)
		if (xtx[(size_t) i * n + i] > 0)
			item_of[m++] = i;
	g = rg_alloc0_array(float, (size_t) RG_MAX(m, 1) * RG_MAX(m, 1));
	for (int c = 0; c < m; c++)
	{
		const float *col = xtx + (size_t) item_of[c] * n;

		for (int r = c; r < m; r++)
			g[(size_t) c * m + r] = col[item_of[r]];
		g[(size_t) c * m + c] += (float) lambda;
	}
	RG_TRY(SolveActive(g, m, &s, &scale, err));
	*b_out = rg_alloc_array(float, (size_t) n * n);
	WeightsExpand(s, scale, m, item_of, n, *b_out);
	rg_free(s);
	rg_free(scale);
	rg_free(item_of);
	return RG_OK;
}

/* The active items of positives pos: their number m, and item_of (m) if wanted (the items with positives, ascending). */
static int
DenseActive(const Csr *pos, int32_t **item_of_out)
{
	int			n = pos->n_cols;
	int			m = 0;
	uint8_t    *seen = rg_alloc0_array(uint8_t, RG_MAX(n, 1));

	for (int64_t e = 0; e < CsrNnz(pos); e++)
		seen[pos->indices[e]] = 1;
	if (item_of_out != NULL)
		*item_of_out = rg_alloc_array(int32_t, RG_MAX(n, 1));
	for (int i = 0; i < n; i++)
		if (seen[i])
		{
			if (item_of_out != NULL)
				(*item_of_out)[m] = i;
			m++;
		}
	rg_free(seen);
	return m;
}

/*
 * Fit dense B in closed form (SolveThroughUsers or SolveActive, the smaller
 * system) and store it as payload version 2 (see the file comment): the
 * packed triangle of the symmetric S and the column scale, half the bytes
 * of B, which WeightsExpand rebuilds when the model is prepared.
 */
static RgStatus
DenseTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	int			n = model->n_items;
	int32_t    *item_of;		/* (m) item of each active index */
	int			m = DenseActive(in->pos, &item_of);
	float	   *s = NULL;		/* (m (m + 1) / 2) packed S */
	float	   *scale = NULL;	/* (m) */
	int32_t    *version = rg_alloc(sizeof(int32_t));
	double		start = rg_now();
	EpochReport r = {1, NAN, NAN, NAN, 0};

	/* dense in items squared: beyond the limit, point at the sparse model */
	if (rg_check_memory(err, (double) n * n * (8 + 8 + 4), "ease") != RG_OK)
		return rg_hint(err, "Set the \"neighbors\" option of ease for a sparse model, train algorithm gfcf, or raise recgan.max_train_memory.");

	if (ease_dense_through_users(in->pos))
		RG_TRY(SolveThroughUsers(in->pos, m, item_of, model->hyper[OPT_LAMBDA], &s, &scale, err));
	else
	{
		int32_t    *active = rg_alloc_array(int32_t, RG_MAX(n, 1));	/* (I) index among active, or -1 */
		float	   *g;			/* (m, m) Gram, then its Cholesky factor */
		Csr			xt;

		for (int i = 0; i < n; i++)
			active[i] = -1;
		for (int c = 0; c < m; c++)
			active[item_of[c]] = c;
		csr_transpose(in->pos, &xt);
		g = rg_alloc_array(float, (size_t) RG_MAX(m, 1) * RG_MAX(m, 1));
		RG_TRY(GramMatrix(in->pos, &xt, active, m, model->hyper[OPT_LAMBDA], g, err));
		rg_free(xt.indptr);
		rg_free(xt.indices);
		rg_free(active);
		RG_TRY(SolveActive(g, m, &s, &scale, err));
	}
	rg_free(item_of);

	*version = EASE_DENSE_PAYLOAD;
	model->n_tensors = 3;
	model->tensors[0] = (Tensor) {1, (float *) version};
	model->tensors[1] = (Tensor) {(int64_t) PackedRow(m, m), s};
	model->tensors[2] = (Tensor) {m, scale};
	r.seconds = rg_now() - start;
	report(arg, &r);
	return RG_OK;
}

/*
 * Payload version 1, one (I, I) tensor B (the first release; the tuner's
 * trial models too), or 2: (1) the version, (m (m + 1) / 2) the packed S,
 * (m) the scale, m the items with positives in the stored positives.
 */
static RgStatus
DenseValidate(const Model *model, RgError *err)
{
	int64_t		v1[1] = {(int64_t) model->n_items * model->n_items};
	int			m;
	int64_t		v2[3];

	if (model->n_tensors == 1)
		return model_check_tensors(model, 1, v1, err);
	if (model->n_tensors != 3)
		return model_corrupted(err, "A dense ease model has 1 tensor (payload version 1) or 3 (version %d), this one %d.",
							   EASE_DENSE_PAYLOAD, model->n_tensors);
	/* B is rebuilt at I x I floats from fewer bytes: bounded like training memory */
	RG_TRY(rg_check_decode_memory(err, (double) model->n_items * model->n_items * sizeof(float),
								  "ease"));
	m = DenseActive(&model->pos, NULL);
	v2[0] = 1;
	v2[1] = (int64_t) PackedRow(m, m);
	v2[2] = m;
	RG_TRY(model_check_tensors(model, 3, v2, err));
	if (*(const int32_t *) model->tensors[0].data != EASE_DENSE_PAYLOAD)
		return model_corrupted(err, "Dense ease payload version %d is not supported (this build reads 1 and %d).",
							   *(const int32_t *) model->tensors[0].data, EASE_DENSE_PAYLOAD);
	return RG_OK;
}

/* B (I, I) of a version 2 model, rebuilt from its packed S and scale. */
static float *
DenseExpand(const Model *model)
{
	int32_t    *item_of;
	int			m = DenseActive(&model->pos, &item_of);
	float	   *b = rg_alloc_array(float, (size_t) model->n_items * model->n_items);

	WeightsExpand(model->tensors[1].data, model->tensors[2].data, m, item_of, model->n_items, b);
	rg_free(item_of);
	return b;
}

/* B (I, I): version 1's tensor, the prepared expansion, or NULL (build one). */
static const float *
DenseWeights(const Model *model)
{
	if (model->n_tensors == 1)
		return model->tensors[0].data;
	return model->serving;
}

/* Sum the B rows of each history item (sparse X times dense B). */
static void
DenseScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int32_t		n = model->n_items;
	const float *b = DenseWeights(model);
	float	   *own = b ? NULL : DenseExpand(model);

	for (int q = 0; q < nq; q++)
		rows_sum(scores + (size_t) q * n, own ? own : b, queries[q].items,
				 queries[q].n_items, n);
	if (own)
		rg_free(own);
}

/* Items most predicted by item i: row i of B. */
static void
DenseSimilar(const Model *model, int32_t item, float *scores)
{
	const float *b = DenseWeights(model);
	float	   *own = b ? NULL : DenseExpand(model);

	memcpy(scores, (own ? own : b) + (size_t) item * model->n_items,
		   (size_t) model->n_items * sizeof(float));
	if (own)
		rg_free(own);
}


/* ---- Sparse EASE ---- */

/* K of a sparse model: neighbors, at most I - 1, at least 1; 0 = dense. */
static int32_t
SparseK(const Model *model)
{
	if (model->hyper[OPT_NEIGHBORS] == 0)
		return 0;
	return (int32_t) RG_MAX(1, RG_MIN(model->hyper[OPT_NEIGHBORS], (double) model->n_items - 1));
}

/* x . y over n doubles, four partial sums (a fixed order: same bits on every run). */
static inline double
Dot(const double *x, const double *y, int n)
{
	double		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		s0 += x[i] * y[i];
		s1 += x[i + 1] * y[i + 1];
		s2 += x[i + 2] * y[i + 2];
		s3 += x[i + 3] * y[i + 3];
	}
	for (; i < n; i++)
		s0 += x[i] * y[i];
	return (s0 + s1) + (s2 + s3);
}

/*
 * Row i of L from column `from` on, the columns before it done (a is
 * row-major, lower): returns nonzero when a is not positive definite there.
 */
static int
CholeskyRow(double *a, int n, int i, int from)
{
	double	   *li = a + (size_t) i * n;
	double		d;

	for (int j = from; j < i; j++)
		li[j] = (li[j] - Dot(li, a + (size_t) j * n, j)) / a[(size_t) j * n + j];
	d = li[i] - Dot(li, li, i);
	if (!(d > 0))
		return 1;
	li[i] = sqrt(d);
	return 0;
}

/*
 * Factor a = L L^T in place (n, n), row-major, lower triangle: left-looking,
 * four rows against two finished rows at a time, so each finished row is
 * read once per four rows (the triangle of K = 500 is 1 MB, beyond L2).
 * Returns 0, or the 1-based row where a is not positive definite.
 */
static int
CholeskyFactor(double *a, int n)
{
	int			i0 = 0;

	for (; i0 + 4 <= n; i0 += 4)
	{
		double	   *r0 = a + (size_t) i0 * n,
				   *r1 = r0 + n,
				   *r2 = r1 + n,
				   *r3 = r2 + n;

		for (int j = 0; j < i0; j += 2)
		{
			const double *la = a + (size_t) j * n,
					   *lb = la + n;
			double		a0 = 0,
						a1 = 0,
						a2 = 0,
						a3 = 0,
						b0 = 0,
						b1 = 0,
						b2 = 0,
						b3 = 0;

			for (int k = 0; k < j; k++)
			{
				double		ya = la[k],
							yb = lb[k];

				a0 += r0[k] * ya;
				b0 += r0[k] * yb;
				a1 += r1[k] * ya;
				b1 += r1[k] * yb;
				a2 += r2[k] * ya;
				b2 += r2[k] * yb;
				a3 += r3[k] * ya;
				b3 += r3[k] * yb;
			}
			r0[j] = (r0[j] - a0) / la[j];
			r1[j] = (r1[j] - a1) / la[j];
			r2[j] = (r2[j] - a2) / la[j];
			r3[j] = (r3[j] - a3) / la[j];
			r0[j + 1] = (r0[j + 1] - (b0 + r0[j] * lb[j])) / lb[j + 1];
			r1[j + 1] = (r1[j + 1] - (b1 + r1[j] * lb[j])) / lb[j + 1];
			r2[j + 1] = (r2[j + 1] - (b2 + r2[j] * lb[j])) / lb[j + 1];
			r3[j + 1] = (r3[j + 1] - (b3 + r3[j] * lb[j])) / lb[j + 1];
		}
		for (int i = i0; i < i0 + 4; i++)
			if (CholeskyRow(a, n, i, i0) != 0)
				return i + 1;
	}
	for (; i0 < n; i0++)
		if (CholeskyRow(a, n, i0, 0) != 0)
			return i0 + 1;
	return 0;
}

/*
 * Solve a x = b in place, a (n, n) symmetric positive definite, row-major,
 * its lower triangle read and overwritten by L (a = L L^T), b by x.
 * Returns 0, or the 1-based row where a is not positive definite.
 */
static int
CholeskySolve(double *a, double *b, int n)
{
	int			info = CholeskyFactor(a, n);

	if (info != 0)
		return info;
	/* L y = b */
	for (int i = 0; i < n; i++)
		b[i] = (b[i] - Dot(a + (size_t) i * n, b, i)) / a[(size_t) i * n + i];
	/* L^T x = y, row i of L subtracted once x_i is known */
	for (int i = n - 1; i >= 0; i--)
	{
		const double *li = a + (size_t) i * n;

		b[i] /= li[i];
		for (int k = 0; k < i; k++)
			b[k] -= li[k] * b[i];
	}
	return 0;
}

/* G = X^T X as CSR (I x I) with float counts; row i lists every item sharing a user with i, i included. */
typedef struct SparseGram
{
	Csr			g;				/* (I x I) pattern, columns in discovery order */
	float	   *val;			/* (nnz) co-occurrence counts */
} SparseGram;

/* Arguments of the parallel parts of a training (one chunk of items). */
typedef struct SparseJob
{
	const Csr  *x;				/* (U x I) */
	const Csr  *xt;				/* (I x U) */
	SparseGram *gram;
	double		lambda;
	int32_t		n_items;
	int32_t		k;
	int32_t		i0,
				i1;				/* the chunk [i0, i1) */
	int			pass;			/* Gram: 0 counts a row, 1 fills it */
	/* per part */
	int32_t    *mark;			/* (parts, I) last row that touched an item */
	float	   *acc;			/* (parts, I) zero between items */
	int32_t    *pos;			/* (parts, I) candidate position, -1 between items */
	int32_t    *heap;			/* (parts, K) */
	int32_t    *top;			/* (parts, K) */
	double	   *a;				/* (parts, K, K) */
	double	   *rhs;			/* (parts, K) */
	int32_t    *failed;			/* (parts) first item whose system failed, or -1 */
	/* outputs */
	int32_t    *idx;			/* (I, K) */
	float	   *w;				/* (I, K) */
} SparseJob;

/* Row i of G: pass 0 writes its length to indptr[i + 1], pass 1 its entries. */
static void
GramRow(SparseJob *jb, int32_t i, int32_t *mark, float *acc)
{
	const Csr  *x = jb->x;
	const Csr  *xt = jb->xt;
	Csr		   *g = &jb->gram->g;
	int64_t		n = 0;
	int64_t		base = jb->pass ? g->indptr[i] : 0;

	for (int64_t p = xt->indptr[i]; p < xt->indptr[i + 1]; p++)
	{
		int32_t		u = xt->indices[p];

		for (int64_t q = x->indptr[u]; q < x->indptr[u + 1]; q++)
		{
			int32_t		a = x->indices[q];

			if (mark[a] != i)
			{
				mark[a] = i;
				if (jb->pass)
					g->indices[base + n] = a;
				n++;
			}
			if (jb->pass)
				acc[a] += 1.0f;
		}
	}
	if (!jb->pass)
	{
		g->indptr[i + 1] = n;
		return;
	}
	for (int64_t p = base; p < base + n; p++)
	{
		jb->gram->val[p] = acc[g->indices[p]];
		acc[g->indices[p]] = 0.0f;
	}
}

/* The rows of G of one part of the chunk (items interleaved over the parts). */
static void
gram_part(void *arg, int part, int n_parts)
{
	SparseJob  *jb = arg;
	size_t		off = (size_t) part * jb->n_items;

	for (int32_t i = jb->i0 + part; i < jb->i1; i += n_parts)
		GramRow(jb, i, jb->mark + off, jb->acc + off);
}

/*
 * Column j of B: its K candidates by co-occurrence into idx (K), and the
 * solution of (G[S,S] + lambda I) b = G[S, j] into w (K).  acc and pos are
 * zero / -1 on entry and on return.  Returns 0 or Cholesky's failure.
 */
static int
SparseColumn(const SparseJob *jb, int32_t j, float *acc, int32_t *pos, int32_t *heap,
			 int32_t *top, double *a, double *rhs, int32_t *idx, float *w)
{
	const Csr  *g = &jb->gram->g;
	const float *gv = jb->gram->val;
	int32_t		k = jb->k;
	int32_t		got;
	int			info;

	for (int64_t p = g->indptr[j]; p < g->indptr[j + 1]; p++)
		acc[g->indices[p]] = gv[p];
	acc[j] = -INFINITY;
	got = topk_select(acc, jb->n_items, k, heap, top);
	for (int32_t p = 0; p < got; p++)
	{
		pos[top[p]] = p;
		rhs[p] = acc[top[p]];
	}
	for (int64_t p = g->indptr[j]; p < g->indptr[j + 1]; p++)
		acc[g->indices[p]] = 0.0f;
	acc[j] = 0.0f;

	/* G[S,S] + lambda I: scatter the candidates' rows through pos */
	memset(a, 0, sizeof(double) * got * got);
	for (int32_t p = 0; p < got; p++)
	{
		int32_t		c = top[p];
		double	   *row = a + (size_t) p * got;

		for (int64_t q = g->indptr[c]; q < g->indptr[c + 1]; q++)
		{
			int32_t		t = pos[g->indices[q]];

			if (t >= 0)
				row[t] = gv[q];
		}
		row[p] += jb->lambda;
	}
	for (int32_t p = 0; p < got; p++)
		pos[top[p]] = -1;

	info = CholeskySolve(a, rhs, got);
	for (int32_t p = 0; p < k; p++)
	{
		idx[p] = p < got ? top[p] : -1;
		w[p] = p < got ? (float) rhs[p] : 0.0f;
	}
	return info;
}

/* The columns of one part of the chunk (items interleaved over the parts). */
static void
column_part(void *arg, int part, int n_parts)
{
	SparseJob  *jb = arg;
	size_t		off = (size_t) part * jb->n_items;
	size_t		k = jb->k;

	for (int32_t j = jb->i0 + part; j < jb->i1; j += n_parts)
		if (SparseColumn(jb, j, jb->acc + off, jb->pos + off, jb->heap + part * k,
						 jb->top + part * k, jb->a + part * k * k, jb->rhs + part * k,
						 jb->idx + j * k, jb->w + j * k) != 0 && jb->failed[part] < 0)
			jb->failed[part] = j;
}

/* Run fn over the items in chunks, checking for interrupts between them. */
static RgStatus
SparseChunks(SparseJob *jb, ParallelFn fn, double work_per_item, RgError *err)
{
	int32_t		chunk = (int32_t) RG_MAX(parallel_threads(),
										 RG_MIN(EASE_SPARSE_CHUNK, EASE_SPARSE_WORK / work_per_item));

	for (int32_t i = 0; i < jb->n_items; i += chunk)
	{
		RG_TRY(rg_check_interrupts(err));
		jb->i0 = i;
		jb->i1 = RG_MIN(jb->n_items, i + chunk);
		parallel_run(fn, jb, work_per_item * (jb->i1 - jb->i0));
	}
	return RG_OK;
}

/* Build G = X^T X sparsely: count each row, check memory, fill. */
static RgStatus
SparseGramBuild(SparseJob *jb, double other_bytes, RgError *err)
{
	Csr		   *g = &jb->gram->g;
	int32_t		n = jb->n_items;
	double		work = (double) CsrNnz(jb->x) * CsrNnz(jb->x) / RG_MAX(1, jb->x->n_rows) + 1;

	g->n_rows = g->n_cols = n;
	g->indptr = rg_alloc0_array(int64_t, (size_t) n + 1);
	for (size_t p = 0; p < (size_t) parallel_threads() * n; p++)
		jb->mark[p] = -1;
	jb->pass = 0;
	RG_TRY(SparseChunks(jb, gram_part, work / n, err));
	for (int32_t i = 0; i < n; i++)
		g->indptr[i + 1] += g->indptr[i];
	RG_TRY(rg_check_memory(err, other_bytes + (double) CsrNnz(g) * 8, "ease"));
	g->indices = rg_alloc_array(int32_t, CsrNnz(g));
	jb->gram->val = rg_alloc_array(float, CsrNnz(g));
	for (size_t p = 0; p < (size_t) parallel_threads() * n; p++)
		jb->mark[p] = -1;
	jb->pass = 1;
	return SparseChunks(jb, gram_part, work / n, err);
}

/* Fit each column of B on its K candidates. */
static RgStatus
SparseTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	int32_t		n = model->n_items;
	int32_t		k = SparseK(model);
	size_t		parts = parallel_threads();
	double		start = rg_now();
	double		bytes;
	void	   *scope;
	Csr			xt;
	SparseGram	gram;
	SparseJob	jb = {0};
	EpochReport r = {1, NAN, NAN, NAN, 0};

	/* everything but G, whose size is known once its rows are counted */
	bytes = (double) n * k * 8 + (double) CsrNnz(in->pos) * 4 + (double) n * 16 +
		(double) parts * ((double) n * 12 + (double) k * k * 8 + (double) k * 16);
	RG_TRY(rg_check_memory(err, bytes, "ease"));
	jb.idx = rg_alloc_array(int32_t, (size_t) n * k);
	jb.w = rg_alloc_array(float, (size_t) n * k);

	scope = rg_scope_push();
	csr_transpose(in->pos, &xt);
	jb.x = in->pos;
	jb.xt = &xt;
	jb.gram = &gram;
	jb.lambda = model->hyper[OPT_LAMBDA];
	jb.n_items = n;
	jb.k = k;
	jb.mark = rg_alloc_array(int32_t, parts * n);
	jb.acc = rg_alloc0_array(float, parts * n);
	RG_TRY(SparseGramBuild(&jb, bytes, err));
	rg_free(jb.mark);

	jb.pos = rg_alloc_array(int32_t, parts * n);
	for (size_t p = 0; p < parts * n; p++)
		jb.pos[p] = -1;
	jb.heap = rg_alloc_array(int32_t, parts * k);
	jb.top = rg_alloc_array(int32_t, parts * k);
	jb.a = rg_alloc_array(double, parts * k * k);
	jb.rhs = rg_alloc_array(double, parts * k);
	jb.failed = rg_alloc_array(int32_t, parts);
	for (size_t p = 0; p < parts; p++)
		jb.failed[p] = -1;
	/* per item: top-K selection, the scatter (~K rows of G), K^3/3 for Cholesky */
	RG_TRY(SparseChunks(&jb, column_part, (double) k * k * k / 3 + n, err));
	for (size_t p = 0; p < parts; p++)
		if (jb.failed[p] >= 0)
		{
			rg_fail(err, RG_DATA_EXCEPTION,
					"EASE system of item %d is not positive definite", jb.failed[p]);
			return rg_hint(err, "Increase the \"lambda\" option.");
		}
	rg_scope_pop(scope);

	model->n_tensors = 2;
	model->tensors[0].len = (int64_t) n * k;
	model->tensors[0].data = (float *) jb.idx;
	model->tensors[1].len = (int64_t) n * k;
	model->tensors[1].data = jb.w;
	r.seconds = rg_now() - start;
	report(arg, &r);
	return RG_OK;
}

/* Two (I, K) tensors; every candidate -1 or another item in range. */
static RgStatus
SparseValidate(const Model *model, RgError *err)
{
	return model_check_neighbors(model, SparseK(model), err);
}

/* B by rows (source item -> the targets whose candidates include it), for scoring. */
typedef struct SparseRows
{
	int64_t    *indptr;			/* (I + 1) */
	int32_t    *target;			/* (I K) */
	float	   *w;				/* (I K) */
} SparseRows;

/* Transpose the stored columns of B into rows; targets ascend within a row. */
static SparseRows *
SparseRowsBuild(const Model *model)
{
	int32_t		n = model->n_items;
	int64_t		k = SparseK(model);
	const int32_t *idx = (const int32_t *) model->tensors[0].data;
	const float *w = model->tensors[1].data;
	SparseRows *r = rg_alloc(sizeof(SparseRows));
	int64_t    *next = rg_alloc_array(int64_t, n);

	r->indptr = rg_alloc0_array(int64_t, (size_t) n + 1);
	for (int64_t p = 0; p < n * k; p++)
		if (idx[p] >= 0)
			r->indptr[idx[p] + 1]++;
	for (int32_t i = 0; i < n; i++)
		r->indptr[i + 1] += r->indptr[i];
	r->target = rg_alloc_array(int32_t, r->indptr[n] + 1);
	r->w = rg_alloc_array(float, r->indptr[n] + 1);
	memcpy(next, r->indptr, sizeof(int64_t) * n);
	for (int64_t p = 0; p < n * k; p++)
		if (idx[p] >= 0)
		{
			int64_t		at = next[idx[p]]++;

			r->target[at] = (int32_t) (p / k);
			r->w[at] = w[p];
		}
	rg_free(next);
	return r;
}

/* Free a transpose built outside prepare. */
static void
SparseRowsFree(SparseRows *r)
{
	rg_free(r->indptr);
	rg_free(r->target);
	rg_free(r->w);
	rg_free(r);
}

/* Sum the B rows of each history item, sparsely. */
static void
SparseScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	int32_t		n = model->n_items;
	SparseRows *r = model->serving ? model->serving : SparseRowsBuild(model);

	memset(scores, 0, sizeof(float) * (size_t) nq * n);
	for (int q = 0; q < nq; q++)
	{
		float	   *row = scores + (size_t) q * n;

		for (int32_t h = 0; h < queries[q].n_items; h++)
		{
			int32_t		i = queries[q].items[h];

			for (int64_t p = r->indptr[i]; p < r->indptr[i + 1]; p++)
				row[r->target[p]] += r->w[p];
		}
	}
	if (r != model->serving)
		SparseRowsFree(r);
}

/* Items most predicted by item i: its row of B; items it does not predict -inf. */
static void
SparseSimilar(const Model *model, int32_t item, float *scores)
{
	SparseRows *r = model->serving ? model->serving : SparseRowsBuild(model);

	for (int32_t j = 0; j < model->n_items; j++)
		scores[j] = -INFINITY;
	for (int64_t p = r->indptr[item]; p < r->indptr[item + 1]; p++)
		scores[r->target[p]] = r->w[p];
	if (r != model->serving)
		SparseRowsFree(r);
}

/* ---- Dispatch on the neighbors option ---- */

/* Dense or sparse training. */
static RgStatus
EaseTrain(const TrainInput *in, Model *model, EpochCallback report, void *arg, RgError *err)
{
	if (SparseK(model) > 0)
		return SparseTrain(in, model, report, arg, err);
	return DenseTrain(in, model, report, arg, err);
}

/* Check the tensors of either form. */
static RgStatus
EaseValidate(const Model *model, RgError *err)
{
	return SparseK(model) > 0 ? SparseValidate(model, err) : DenseValidate(model, err);
}

/*
 * A sparse model's rows, or a version 2 dense model's B, once per decode;
 * B replaces the packed S and scale, freed here, so that a decoded model
 * holds as much memory as a version 1 model (the model cache counts it).
 */
static void
EasePrepare(Model *model)
{
	if (SparseK(model) > 0)
		model->serving = SparseRowsBuild(model);
	else if (model->n_tensors != 1 && model->serving == NULL)
	{
		model->serving = DenseExpand(model);
		for (int t = 1; t < 3; t++)
		{
			rg_free(model->tensors[t].data);
			model->tensors[t] = (Tensor) {0, NULL};
		}
	}
}

/* Score with either form. */
static void
EaseScore(const Model *model, const ScoreQuery *queries, int nq, float *scores)
{
	if (SparseK(model) > 0)
		SparseScore(model, queries, nq, scores);
	else
		DenseScore(model, queries, nq, scores);
}

/* Similar items with either form. */
static void
EaseSimilar(const Model *model, int32_t item, float *scores)
{
	if (SparseK(model) > 0)
		SparseSimilar(model, item, scores);
	else
		DenseSimilar(model, item, scores);
}

const ModelOps ease_ops = {
	.name = "ease",
	.algorithm = RECGAN_ALG_EASE,
	.options = ease_options,
	.n_options = RG_LENGTHOF(ease_options),
	.n_original_options = 1,
	.train = EaseTrain,
	.validate = EaseValidate,
	.score = EaseScore,
	.prepare = EasePrepare,
	.similar = EaseSimilar,
	.additive = true,
};
