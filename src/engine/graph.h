/*
 * graph.h
 *	  LightGCN's graph kernels: the symmetric-normalised adjacency of the
 *	  bipartite user-item graph, sparse-dense products over it, and the
 *	  propagation (mean of layers 0..K) with its backward pass.  Pure C11: no
 *	  server headers, no allocation; every buffer is owned by the caller.
 *
 * Legend: U users, I items, N = U + I graph nodes (users first, then items,
 * item i is node U + i), P positives (user-item edges), F embedding width,
 * K propagation layers.  Dense tensors are float32, row-major (N, F).
 */
#ifndef RECGAN_GRAPH_H
#define RECGAN_GRAPH_H

#include <stdint.h>

/* Â = D^-1/2 A D^-1/2 as a CSR over the N nodes; 2 P non-zeros. */
typedef struct GraphAdj
{
	int32_t		n;				/* N */
	int64_t    *indptr;			/* (N + 1) */
	int32_t    *indices;		/* (2 P) neighbour nodes, ascending per row */
	float	   *values;			/* (2 P) 1 / sqrt(deg(r) deg(c)) */
} GraphAdj;

/*
 * Fill adj (its arrays sized by the caller: N + 1, 2 P, 2 P) from the U x I
 * positives (ui_indptr (U + 1), ui_indices (P), item indexes ascending per
 * user).  cursor (I) is scratch.
 */
void		graph_build_adjacency(GraphAdj *adj, const int64_t *ui_indptr,
								  const int32_t *ui_indices, int32_t U, int32_t I,
								  int64_t *cursor);

/* y (N, F) = Â x (N, F), pulled row by row (each output row written once). */
void		graph_spmm(float *y, const GraphAdj *adj, const float *x, int F);

/* graph_spmm, and sum (N, F) += scale y in the same pass; y NULL: not stored. */
void		graph_spmm_accumulate(float *y, float *sum, float scale, const GraphAdj *adj,
								  const float *x, int F);

/* y[r] = (Â x)[r] for the n_rows rows listed in rows only; other rows untouched. */
void		graph_spmm_rows(float *y, const GraphAdj *adj, const float *x, int F,
							const int32_t *rows, int32_t n_rows);

/*
 * y (N, F) = Â x when x is zero outside the n_rows rows listed (distinct):
 * each listed row is pushed to its neighbours (Â is symmetric), so the cost
 * is their degrees, not 2 P.
 */
void		graph_spmm_push(float *y, const GraphAdj *adj, const float *x, int F,
							const int32_t *rows, int32_t n_rows);

/* Naive twin of graph_spmm (double accumulators): the reference. */
void		graph_spmm_ref(float *y, const GraphAdj *adj, const float *x, int F);

/*
 * LightGCN propagation, E = (1 / (K + 1)) sum_{k=0..K} Â^k E0, evaluated
 * only at the n_rows distinct rows listed (out (n_rows, F), row r of out is
 * node rows[r]; slot (N) is each node's position in rows, -1 for the
 * others): the layers 1..K-1 are full products, the last layer only at the
 * listed rows.  scratch is 2 (N, F).  K = 0 gives E0's rows.
 */
void		lightgcn_forward_rows(float *out, const GraphAdj *adj, const float *e0,
								  int K, int F, const int32_t *rows, const int32_t *slot,
								  int32_t n_rows, float *scratch);

/* The same propagation at every node: out (N, F); scratch is 2 (N, F). */
void		lightgcn_forward(float *out, const GraphAdj *adj, const float *e0,
							 int K, int F, float *scratch);

/*
 * Backward of lightgcn_forward: ADD (1 / (K + 1)) sum_k Â^k dE to de0
 * (N, F) (Â is symmetric, so Â^T = Â), where dE (N, F) is zero outside the
 * n_rows distinct rows listed.  The first product is pushed from those rows;
 * the others are full.  scratch is 2 (N, F).
 */
void		lightgcn_backward(float *de0, const GraphAdj *adj, const float *dE,
							  const int32_t *rows, int32_t n_rows, int K, int F,
							  float *scratch);

/*
 * ---- LightGCN's BPR loss on a batch of B triples (user u, positive item i,
 * negative item j), on the propagated embeddings, with L2 on the layer-0
 * embeddings of the batch as in the paper's code:
 *
 *	 L = (1/B) sum_b softplus(e_j . e_u - e_i . e_u)
 *		 + reg (1/2) (1/B) sum_b (|e0_u|^2 + |e0_i|^2 + |e0_j|^2)
 *
 * Scratch owned by the caller; sizes for B triples and N nodes.
 */
typedef struct LightgcnWork
{
	int32_t    *slot;			/* (N) -1, or the node's position in rows; kept -1 */
	int32_t    *rows;			/* (3 B) distinct nodes of the batch */
	int32_t    *inc_ptr;		/* (3 B + 1) start of each row's incidences in inc */
	int32_t    *inc;			/* (3 B) 3 b + role (0 user, 1 pos, 2 neg), by row, b ascending */
	float	   *emb;			/* (3 B, F) their propagated embeddings */
	float	   *norm;			/* (3 B) squared norms of their layer-0 rows */
	float	   *dE;				/* (N, F) zero outside the batch's rows; kept zero */
	float	   *scratch;		/* (2 N, F) */
	float	   *sp;				/* (B) positive scores */
	float	   *sn;				/* (B) negative scores */
	float	   *dp;				/* (B) their gradient weights */
	float	   *dn;				/* (B) */
} LightgcnWork;

/*
 * Returns L; unless de0 is NULL, ADDS dL/dE0 to de0 (N, F).  users are user
 * indexes (nodes 0..U-1), pos and neg item indexes (nodes U + i).  Node
 * count N = adj->n.
 */
double		lightgcn_bpr_loss(float *de0, LightgcnWork *w, const GraphAdj *adj,
							  const float *e0, int32_t U, int K, int F,
							  const int32_t *users, const int32_t *pos,
							  const int32_t *neg, int B, double reg);

#endif							/* RECGAN_GRAPH_H */
