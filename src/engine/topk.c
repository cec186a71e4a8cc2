/*
 * topk.c
 *	  Bounded min-heap selection of the k best scores, O(n log k).
 */
#include "topk.h"

#include <math.h>

/* True when candidate a ranks strictly below candidate b. */
static inline int
worse(const float *scores, int32_t a, int32_t b)
{
	return scores[a] < scores[b] || (scores[a] == scores[b] && a > b);
}

/* Restore the heap property (worst at the root) below position i. */
static void
sift_down(const float *scores, int32_t *heap, int32_t size, int32_t i)
{
	for (;;)
	{
		int32_t		l = 2 * i + 1,
					r = l + 1,
					m = i,
					t;

		if (l < size && worse(scores, heap[l], heap[m]))
			m = l;
		if (r < size && worse(scores, heap[r], heap[m]))
			m = r;
		if (m == i)
			return;
		t = heap[i];

		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
}

/* Move the entry at position i up while it is worse than its parent. */
static void
sift_up(const float *scores, int32_t *heap, int32_t i)
{
	while (i > 0)
	{
		int32_t		p = (i - 1) / 2,
					t;

		if (!worse(scores, heap[i], heap[p]))
			return;
		t = heap[i];

		heap[i] = heap[p];
		heap[p] = t;
		i = p;
	}
}

/* Select the k best eligible scores into out, best first. */
int32_t
topk_select(const float *scores, int32_t n, int32_t k, int32_t *heap, int32_t *out)
{
	int32_t		size = 0;

	if (k <= 0)
		return 0;
	for (int32_t j = 0; j < n; j++)
	{
		float		s = scores[j];

		if (isnan(s) || s == -INFINITY)
			continue;
		if (size < k)
		{
			heap[size] = j;
			sift_up(scores, heap, size++);
		}
		else if (worse(scores, heap[0], j))
		{
			heap[0] = j;
			sift_down(scores, heap, size, 0);
		}
	}
	/* pop worst-first into the tail of out */
	for (int32_t i = size - 1; i >= 0; i--)
	{
		out[i] = heap[0];
		heap[0] = heap[i];
		sift_down(scores, heap, i, 0);
	}
	return size;
}
