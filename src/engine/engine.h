/*
 * engine.h
 *	  What the engine needs from its host, and how it reports errors.
 *
 * The engine (everything under src/engine/) is pure C11 + BLAS/LAPACK +
 * POSIX threads: it never includes a server header, never calls palloc or
 * ereport.  Its only contact with the program that runs it is the host
 * table below, set once before the first engine call:
 *
 *	- memory: rg_alloc / rg_alloc0 / rg_free.  The host's allocator never
 *	  returns NULL (it raises or aborts instead).  Scopes: rg_scope_push()
 *	  opens a scope that later allocations belong to, rg_scope_pop() frees
 *	  everything allocated in it at once (the backend: a child memory
 *	  context, deleted); rg_alloc_outer() allocates in the scope around the
 *	  current one, for a result that outlives the scope.  The PostgreSQL backend
 *	  (src/engine_host.c) allocates with palloc in the current memory
 *	  context, so a training that is cancelled or fails frees everything
 *	  when the caller's context is deleted; unit tests and drivers use
 *	  malloc (rg_host_malloc).
 *	- interrupts: rg_check_interrupts() at every batch and every outer loop.
 *	  The backend's check is CHECK_FOR_INTERRUPTS(), which does not return
 *	  when a cancel is pending (it unwinds to the backend's error handler);
 *	  that is safe because the engine holds nothing but allocator memory.
 *	  Other hosts return true and the engine returns RG_CANCELED.
 *	- progress: rg_notice() for the progress messages of long trainings.
 *	- limits: the training memory limit, in MB.
 *
 * Engine worker threads (parallel.h) never call the host: they only
 * compute, and every host call happens on the calling thread.
 *
 * Errors.  An engine function that can fail returns an RgStatus and, when
 * it is not RG_OK, has filled the caller's RgError with a message (lower
 * case, no final period), and optionally a detail and a hint (full
 * sentences), the way the backend's ereport wants them; the backend maps
 * the status to a SQLSTATE (src/engine_host.c, EngineRaise).
 */
#ifndef RECGAN_ENGINE_H
#define RECGAN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RG_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RG_LENGTHOF(array) (sizeof(array) / sizeof((array)[0]))

/* What went wrong; the backend maps each to a SQLSTATE. */
typedef enum RgStatus
{
	RG_OK = 0,
	RG_INVALID_PARAMETER,		/* a bad option or argument */
	RG_DATA_CORRUPTED,			/* model bytes fail a check */
	RG_DATA_EXCEPTION,			/* training diverged, a matrix is singular */
	RG_PROGRAM_LIMIT,			/* an estimate exceeds a configured limit */
	RG_FEATURE_NOT_SUPPORTED,
	RG_CANCELED,				/* the host asked to stop */
	RG_INTERNAL					/* a broken invariant: a bug */
} RgStatus;

/* An error's text, as ereport takes it; empty strings are left out. */
typedef struct RgError
{
	RgStatus	code;
	char		message[256];
	char		detail[512];
	char		hint[256];
} RgError;

/* The host's services (see the file comment). */
typedef struct RgHost
{
	void	   *(*alloc) (size_t size); /* never NULL; size 0 is fine */
	void		(*free) (void *ptr);
	void	   *(*alloc_outer) (size_t size);	/* in the enclosing scope */
	void	   *(*scope_push) (void);	/* returns the scope's handle */
	void		(*scope_pop) (void *scope); /* frees the scope's memory */
	bool		(*interrupted) (void);	/* true: stop (may not return) */
	void		(*notice) (const char *message);	/* NULL: no progress messages */
	double		(*max_train_mb) (void);	/* rg_check_memory's limit; NULL: none */
} RgHost;

extern RgHost rg_host;

/* A host on malloc / free with no interrupts and no notices (tests, drivers). */
extern void rg_host_malloc(void);

/* Allocate size bytes through the host; rg_alloc0 zeroes them. */
extern void *rg_alloc(size_t size);
extern void *rg_alloc0(size_t size);
extern void rg_free(void *ptr);
extern void *rg_alloc_outer(size_t size);

/*
 * size bytes starting on a 64-byte boundary (a cache line), zeroed by
 * rg_alloc_lines0.  For the large float tables of the vector kernels: the
 * backend's palloc returns addresses 8 bytes past a 16-byte boundary, so
 * every 16-byte load of a row is misaligned and one in four straddles two
 * cache lines (LightGCN's training ran 12 % slower so on ML-100K).  The
 * memory goes with its scope: never pass the pointer to rg_free.
 */
extern void *rg_alloc_lines(size_t size);
extern void *rg_alloc_lines0(size_t size);

/* Open a scope; rg_scope_pop(scope) frees everything allocated in it. */
extern void *rg_scope_push(void);
extern void rg_scope_pop(void *scope);

#define rg_alloc_array(type, n) ((type *) rg_alloc(sizeof(type) * (size_t) (n)))
#define rg_alloc0_array(type, n) ((type *) rg_alloc0(sizeof(type) * (size_t) (n)))

/* Fill err with code and a printf-style message; returns code. */
extern RgStatus rg_fail(RgError *err, RgStatus code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Add a detail / hint sentence to err; return err->code. */
extern RgStatus rg_detail(RgError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern RgStatus rg_hint(RgError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* RG_CANCELED (with a message in err) when the host asks to stop. */
extern RgStatus rg_check_interrupts(RgError *err);

/*
 * RG_PROGRAM_LIMIT, naming both figures in MB, when bytes exceed the host's
 * training memory limit; what names the algorithm.
 */
extern RgStatus rg_check_memory(RgError *err, double bytes, const char *what);
extern RgStatus rg_check_decode_memory(RgError *err, double bytes, const char *what);

/* A progress message through the host, printf-style. */
extern void rg_notice(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* Seconds on the monotonic clock. */
extern double rg_now(void);

/* Propagate a non-OK status to the caller. */
#define RG_TRY(expr) \
	do { \
		RgStatus rg_try_status_ = (expr); \
		if (rg_try_status_ != RG_OK) \
			return rg_try_status_; \
	} while (0)

#endif							/* RECGAN_ENGINE_H */
