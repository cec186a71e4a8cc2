/*
 * csr.h
 *	  Compressed sparse rows of a binary user x item matrix, and sorted id
 *	  maps.  Engine: no server headers.
 *
 * Legend: U users (rows), I items (columns), N non-zeros.
 * Raw ids are arbitrary int64 values; they map to dense indexes by their
 * position in a sorted id array, so index order equals id order.
 */
#ifndef RECGAN_CSR_H
#define RECGAN_CSR_H

#include <stdint.h>

typedef struct Csr
{
	int32_t		n_rows;
	int32_t		n_cols;
	int64_t    *indptr;			/* (n_rows + 1) row starts */
	int32_t    *indices;		/* (nnz) column indexes, ascending per row */
} Csr;

#define CsrNnz(csr) ((csr)->indptr[(csr)->n_rows])
#define CsrRowLen(csr, r) ((int32_t) ((csr)->indptr[(r) + 1] - (csr)->indptr[(r)]))
#define CsrRow(csr, r) ((csr)->indices + (csr)->indptr[(r)])

/* Build a CSR from n (row, col) pairs; duplicates are removed. */
extern void csr_from_pairs(Csr *csr, int32_t n_rows, int32_t n_cols,
						   const int32_t *rows, const int32_t *cols, int64_t n);

/* Transpose a CSR (rows become columns). */
extern void csr_transpose(const Csr *in, Csr *out);

/* Dense index of a raw id in a sorted id array of n, or -1. */
extern int32_t ids_find(const int64_t *ids, int32_t n, int64_t id);

#endif							/* RECGAN_CSR_H */
