/*
 * csr.c
 *	  Sparse binary matrices: building, transposing, id lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "engine.h"

/* Dense index of id in the sorted array ids[0..n), or -1. */
int32_t
ids_find(const int64_t *ids, int32_t n, int64_t id)
{
	int32_t		lo = 0,
				hi = n - 1;

	/* dense ids (1..n, a serial key) are found at once */
	if (n > 0 && id >= ids[0])
	{
		uint64_t	guess = (uint64_t) id - (uint64_t) ids[0];	/* no overflow */

		if (guess < (uint64_t) n && ids[guess] == id)
			return (int32_t) guess;
	}
	while (lo <= hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (ids[mid] < id)
			lo = mid + 1;
		else if (ids[mid] > id)
			hi = mid - 1;
		else
			return mid;
	}
	return -1;
}

/* qsort comparator for int32_t. */
static int
compare_int32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a;
	int32_t		y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* Build a deduplicated CSR with ascending columns from (row, col) pairs. */
void
csr_from_pairs(Csr *csr, int32_t n_rows, int32_t n_cols,
			 const int32_t *rows, const int32_t *cols, int64_t n)
{
	int64_t	   *fill = rg_alloc0_array(int64_t, (size_t) n_rows + 1);
	int32_t	   *indices = rg_alloc_array(int32_t, RG_MAX(n, 1));
	int64_t		nnz = 0;

	csr->n_rows = n_rows;
	csr->n_cols = n_cols;
	csr->indptr = rg_alloc0_array(int64_t, (size_t) n_rows + 1);

	/* counting sort by row */
	for (int64_t p = 0; p < n; p++)
		csr->indptr[rows[p] + 1]++;
	for (int32_t r = 0; r < n_rows; r++)
		csr->indptr[r + 1] += csr->indptr[r];
	memcpy(fill, csr->indptr, ((size_t) n_rows + 1) * sizeof(int64_t));
	for (int64_t p = 0; p < n; p++)
		indices[fill[rows[p]]++] = cols[p];

	/* sort each row and drop duplicates, compacting in place */
	for (int32_t r = 0; r < n_rows; r++)
	{
		int64_t		start = csr->indptr[r],
					end = csr->indptr[r + 1];

		qsort(indices + start, end - start, sizeof(int32_t), compare_int32);
		csr->indptr[r] = nnz;
		for (int64_t p = start; p < end; p++)
			if (p == start || indices[p] != indices[p - 1])
				indices[nnz++] = indices[p];
	}
	csr->indptr[n_rows] = nnz;
	csr->indices = indices;
	rg_free(fill);
}

/* Transpose a CSR: out has in->n_cols rows. */
void
csr_transpose(const Csr *in, Csr *out)
{
	int64_t		nnz = CsrNnz(in);
	int64_t	   *fill;

	out->n_rows = in->n_cols;
	out->n_cols = in->n_rows;
	out->indptr = rg_alloc0_array(int64_t, (size_t) out->n_rows + 1);
	out->indices = rg_alloc_array(int32_t, RG_MAX(nnz, 1));
	for (int64_t p = 0; p < nnz; p++)
		out->indptr[in->indices[p] + 1]++;
	for (int32_t r = 0; r < out->n_rows; r++)
		out->indptr[r + 1] += out->indptr[r];
	fill = rg_alloc_array(int64_t, (size_t) out->n_rows + 1);
	memcpy(fill, out->indptr, ((size_t) out->n_rows + 1) * sizeof(int64_t));
	/* rows of in are visited in order, so each out row comes out ascending */
	for (int32_t r = 0; r < in->n_rows; r++)
		for (int64_t p = in->indptr[r]; p < in->indptr[r + 1]; p++)
			out->indices[fill[in->indices[p]]++] = r;
	rg_free(fill);
}
