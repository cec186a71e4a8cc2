/*
 * parallel.c
 *	  Fork-join for the engine kernels (see parallel.h).
 *
 * A kernel's parallel region lasts milliseconds (a graph product over
 * Gowalla) and a thread starts in tens of microseconds, so threads are
 * started per region and joined at its end: no pool outlives a call, and
 * nothing is left running if the backend errors out between regions.
 */
#define _POSIX_C_SOURCE 200809L

#include "parallel.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

static int	n_threads = 1;

/* One part handed to a thread. */
typedef struct ParallelPart
{
	ParallelFn	fn;
	void	   *arg;
	int			part;
	int			n_parts;
} ParallelPart;

/* Set the thread count. */
void
parallel_set_threads(int n)
{
	n_threads = n < 1 ? 1 : n > PARALLEL_MAX_THREADS ? PARALLEL_MAX_THREADS : n;
}

/* The thread count. */
int
parallel_threads(void)
{
	return n_threads;
}

/* Thread body: run one part. */
static void *
parallel_main(void *p)
{
	ParallelPart *part = p;

	part->fn(part->arg, part->part, part->n_parts);
	return NULL;
}

/* Run the parts on n_threads threads, the caller's included, if work warrants it. */
void
parallel_run(ParallelFn fn, void *arg, double work)
{
	int			n = work >= PARALLEL_MIN_WORK ? n_threads : 1;
	ParallelPart parts[PARALLEL_MAX_THREADS];
	pthread_t	threads[PARALLEL_MAX_THREADS];
	bool		started[PARALLEL_MAX_THREADS];
	sigset_t	all,
				old;

	if (n <= 1)
	{
		fn(arg, 0, 1);
		return;
	}
	/* threads inherit the signal mask: start them with every signal blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int p = 1; p < n; p++)
	{
		parts[p] = (ParallelPart) {fn, arg, p, n};
		started[p] = pthread_create(&threads[p], NULL, parallel_main, &parts[p]) == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fn(arg, 0, n);
	for (int p = 1; p < n; p++)
	{
		if (started[p])
			pthread_join(threads[p], NULL);
		else
			fn(arg, p, n);
	}
}

/* Near-equal pieces of [0, len) cut at multiples of align. */
void
parallel_range(int64_t len, int part, int n_parts, int64_t align, int64_t *begin,
			   int64_t *end)
{
	int64_t		units = (len + align - 1) / align;

	*begin = units * part / n_parts * align;
	*end = units * (part + 1) / n_parts * align;
	if (*begin > len)
		*begin = len;
	if (*end > len)
		*end = len;
}
