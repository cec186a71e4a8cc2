/*
 * topk.h
 *	  Partial selection of the k best scores, never a full sort.
 *
 * Order: higher score first; equal scores by ascending index (so by
 * ascending raw id, since index order is id order).  Scores that are
 * -INFINITY or NaN are skipped: callers exclude an item by setting its score
 * to -INFINITY.  Pure C: no server headers.
 */
#ifndef RECGAN_TOPK_H
#define RECGAN_TOPK_H

#include <stdint.h>

/*
 * Write the indexes of the best min(k, eligible) of scores[0..n) to out,
 * best first; return how many were written.  heap must hold k entries.
 */
int32_t		topk_select(const float *scores, int32_t n, int32_t k,
						int32_t *heap, int32_t *out);

/*
 * The same answer as topk_select, for large k: a quickselect over a copy of
 * the eligible scores (scratch must hold n floats) finds the k-th best score,
 * one pass collects the k best, and only those are ordered: O(n + k log k)
 * expected, where the heap's replacements cost O(n log k).
 */
int32_t		topk_select_scratch(const float *scores, int32_t n, int32_t k, float *scratch,
								int32_t *heap, int32_t *out);

#endif							/* RECGAN_TOPK_H */
