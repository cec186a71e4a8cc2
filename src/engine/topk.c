/*
 * topk.c
 *	  Bounded min-heap selection of the k best scores, O(n log k), and for
 *	  large k a quickselect of the k-th best score first.
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

/* Empty a heap of size entries (worst at the root) into out, best first. */
static void
heap_drain(const float *scores, int32_t *heap, int32_t size, int32_t *out)
{
	for (int32_t i = size - 1; i >= 0; i--)
	{
		out[i] = heap[0];
		heap[0] = heap[i];
		sift_down(scores, heap, i, 0);
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
	heap_drain(scores, heap, size, out);
	return size;
}

/*
 * Ascending quickselect: *v = the t-th smallest of a[0..m) (a is permuted);
 * false after 64 partitions (an input that defeats the median of three).
 */
static int
select_ascending(float *a, int32_t m, int32_t t, float *v)
{
	int32_t		lo = 0,
				hi = m - 1;

	for (int rounds = 0; lo < hi; rounds++)
	{
		int32_t		mid = lo + (hi - lo) / 2;
		float		x = a[lo],
					y = a[mid],
					z = a[hi];
		float		pivot = (x < y) ? ((y < z) ? y : (x < z ? z : x)) : ((x < z) ? x : (y < z ? z : y));
		int32_t		i = lo,
					j = hi;

		/* Hoare partition: a[lo..j] <= pivot <= a[i..hi] */
		while (i <= j)
		{
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j)
			{
				float		tmp = a[i];

				a[i++] = a[j];
				a[j--] = tmp;
			}
		}
		if (t <= j)
			hi = j;
		else if (t >= i)
			lo = i;
		else
			break;				/* between the parts: equal to the pivot */
		if (rounds == 64)
			return 0;
	}
	*v = a[t];
	return 1;
}

/* topk_select through a quickselect of the k-th best score (topk.h). */
int32_t
topk_select_scratch(const float *scores, int32_t n, int32_t k, float *scratch,
					int32_t *heap, int32_t *out)
{
	int32_t		m = 0,
				got = 0;
	float		kth;

	if (k <= 0)
		return 0;
	for (int32_t j = 0; j < n; j++)
		if (!isnan(scores[j]) && scores[j] != -INFINITY)
			scratch[m++] = scores[j];
	if (m <= k || !select_ascending(scratch, m, m - k, &kth))
		return topk_select(scores, n, k, heap, out);
	/* the k best: every score above the k-th, then equal ones by index */
	for (int32_t j = 0; j < n; j++)
		if (scores[j] > kth)
			heap[got++] = j;
	for (int32_t j = 0; j < n && got < k; j++)
		if (scores[j] == kth)
			heap[got++] = j;
	/* order them: a heap of the k (worst at the root), popped worst-first */
	for (int32_t i = k / 2 - 1; i >= 0; i--)
		sift_down(scores, heap, k, i);
	heap_drain(scores, heap, k, out);
	return k;
}
