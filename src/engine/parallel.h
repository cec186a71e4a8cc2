/*
 * parallel.h
 *	  Fork-join over a few threads for the engine's memory-bound loops (the
 *	  graph products, Adam over a whole table).  Pure C11 + POSIX threads: no
 *	  server headers, no allocation.
 *
 * The threads only compute: they never call PostgreSQL, allocate, or take
 * signals (every signal is blocked in them, so cancellation and
 * termination are delivered to the backend's own thread, which checks for
 * interrupts between kernels).  parallel_run returns only when every part
 * is done, so no thread outlives the kernel that started it.
 *
 * Every parallel kernel splits its output so that each element is computed
 * by exactly one part, in the serial order: results are bit-identical for
 * any thread count.
 */
#ifndef RECGAN_PARALLEL_H
#define RECGAN_PARALLEL_H

#include <stdint.h>

#define PARALLEL_MAX_THREADS 64

/* The work of part `part` of `n_parts`. */
typedef void (*ParallelFn) (void *arg, int part, int n_parts);

/* Threads the kernels may use (clamped to 1 .. PARALLEL_MAX_THREADS); 1 = serial. */
void		parallel_set_threads(int n);
int			parallel_threads(void);

/*
 * Regions doing less work than this (elementwise operations: multiply-adds,
 * element updates) run on the caller alone: starting a thread costs tens
 * of microseconds.
 */
#define PARALLEL_MIN_WORK (1 << 17)

/*
 * Run fn(arg, p, n) for p = 0 .. n - 1 and return when all have finished:
 * n is the thread count, or 1 when work (the region's elementwise
 * operations) is below PARALLEL_MIN_WORK.  The caller runs part 0; a part
 * whose thread cannot be started runs on the caller after its own.
 */
void		parallel_run(ParallelFn fn, void *arg, double work);

/*
 * Define `static void name(void *arg, int part, int n_parts)`, a ParallelFn
 * calling name_clones, a RECGAN_VECTOR_CLONES (nn.h) part.  parallel_run
 * takes a part's address, and the address of a static set of clones
 * crashes llvm-lto 14 when PGXS installs the JIT bitcode: the plain
 * wrapper's address is taken instead.
 */
#define PARALLEL_CLONED_PART(name) \
	static void \
	name(void *arg, int part, int n_parts) \
	{ \
		name##_clones(arg, part, n_parts); \
	}

/* [*begin, *end): part `part` of n_parts near-equal pieces of [0, len), cut at multiples of align. */
void		parallel_range(int64_t len, int part, int n_parts, int64_t align,
						   int64_t *begin, int64_t *end);

#endif							/* RECGAN_PARALLEL_H */
