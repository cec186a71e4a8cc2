/*
 * engine.c
 *	  The host table, allocation through it, and error reports.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

RgHost		rg_host;

/*
 * The malloc host's scopes: every block carries a header linking it into the
 * list of the scope it was allocated in, so that a scope frees its blocks at
 * once.  Headers are 16 bytes, so blocks stay 16-byte aligned.
 */
typedef struct MallocBlock
{
	struct MallocBlock *prev;
	struct MallocBlock *next;
} MallocBlock;

typedef struct MallocScope
{
	struct MallocScope *parent;
	MallocBlock head;			/* circular list of the scope's blocks */
} MallocScope;

static MallocScope root_scope = {NULL, {&root_scope.head, &root_scope.head}};
static MallocScope *current_scope = &root_scope;

/* malloc in scope s, or stop: a test or driver ends on exhaustion. */
static void *
MallocIn(MallocScope *s, size_t size)
{
	MallocBlock *b = malloc(sizeof(MallocBlock) + size);

	if (b == NULL)
	{
		fprintf(stderr, "recgan engine: out of memory (%zu bytes)\n", size);
		abort();
	}
	b->next = s->head.next;
	b->prev = &s->head;
	s->head.next->prev = b;
	s->head.next = b;
	return b + 1;
}

/* malloc in the current scope. */
static void *
MallocAlloc(size_t size)
{
	return MallocIn(current_scope, size);
}

/* malloc in the scope around the current one. */
static void *
MallocAllocOuter(size_t size)
{
	return MallocIn(current_scope->parent ? current_scope->parent : current_scope, size);
}

/* Unlink and free one block. */
static void
MallocFree(void *ptr)
{
	MallocBlock *b = (MallocBlock *) ptr - 1;

	b->prev->next = b->next;
	b->next->prev = b->prev;
	free(b);
}

/* Open a scope under the current one. */
static void *
MallocScopePush(void)
{
	MallocScope *s = malloc(sizeof(MallocScope));

	if (s == NULL)
		abort();
	s->parent = current_scope;
	s->head.next = s->head.prev = &s->head;
	current_scope = s;
	return s;
}

/* Free every block of the scope and return to its parent. */
static void
MallocScopePop(void *scope)
{
	MallocScope *s = scope;

	while (s->head.next != &s->head)
		MallocFree(s->head.next + 1);
	current_scope = s->parent;
	free(s);
}

/* Never interrupted. */
static bool
NeverInterrupted(void)
{
	return false;
}

/* Use malloc / free, no interrupts, no notices, no memory limit. */
void
rg_host_malloc(void)
{
	rg_host.alloc = MallocAlloc;
	rg_host.free = MallocFree;
	rg_host.alloc_outer = MallocAllocOuter;
	rg_host.scope_push = MallocScopePush;
	rg_host.scope_pop = MallocScopePop;
	rg_host.interrupted = NeverInterrupted;
	rg_host.notice = NULL;
	rg_host.max_train_mb = NULL;
}

/* Allocate through the host. */
void *
rg_alloc(size_t size)
{
	return rg_host.alloc(size);
}

/* Allocate zeroed memory through the host. */
void *
rg_alloc0(size_t size)
{
	void	   *p = rg_host.alloc(size);

	memset(p, 0, size);
	return p;
}

/* Free through the host; NULL is fine. */
void
rg_free(void *ptr)
{
	if (ptr != NULL)
		rg_host.free(ptr);
}

/* Allocate size bytes at a 64-byte boundary (engine.h); freed with the scope. */
void *
rg_alloc_lines(size_t size)
{
	uintptr_t	p = (uintptr_t) rg_alloc(size + 63);

	return (void *) ((p + 63) & ~(uintptr_t) 63);
}

/* rg_alloc_lines, zeroed. */
void *
rg_alloc_lines0(size_t size)
{
	void	   *p = rg_alloc_lines(size);

	memset(p, 0, size);
	return p;
}

/* Allocate in the scope around the current one. */
void *
rg_alloc_outer(size_t size)
{
	return rg_host.alloc_outer(size);
}

/* Open an allocation scope. */
void *
rg_scope_push(void)
{
	return rg_host.scope_push();
}

/* Free everything allocated in scope and leave it. */
void
rg_scope_pop(void *scope)
{
	rg_host.scope_pop(scope);
}

/* Fill err's message. */
RgStatus
rg_fail(RgError *err, RgStatus code, const char *fmt,...)
{
	va_list		ap;

	err->code = code;
	err->detail[0] = err->hint[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

/* Fill err's detail. */
RgStatus
rg_detail(RgError *err, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return err->code;
}

/* Fill err's hint. */
RgStatus
rg_hint(RgError *err, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
	return err->code;
}

/* Ask the host whether to stop. */
RgStatus
rg_check_interrupts(RgError *err)
{
	if (rg_host.interrupted != NULL && rg_host.interrupted())
		return rg_fail(err, RG_CANCELED, "canceling training due to an interrupt");
	return RG_OK;
}

/* Whether bytes, in *mb, exceed the host's training memory limit, *limit (MB). */
static bool
over_memory_limit(double bytes, double *mb, double *limit)
{
	*mb = bytes / (1024.0 * 1024.0);
	*limit = rg_host.max_train_mb ? rg_host.max_train_mb() : INFINITY;
	return *mb > *limit;
}

/* Refuse an estimate above the host's training memory limit. */
RgStatus
rg_check_memory(RgError *err, double bytes, const char *what)
{
	double		mb,
				limit;

	if (over_memory_limit(bytes, &mb, &limit))
	{
		rg_fail(err, RG_PROGRAM_LIMIT,
				"training %s needs an estimated %.0f MB, more than recgan.max_train_memory (%.0f MB)",
				what, mb, limit);
		return rg_hint(err, "Raise recgan.max_train_memory, or train on fewer items.");
	}
	return RG_OK;
}

/*
 * Refuse to rebuild, from fewer stored bytes, weights above the same limit
 * (a stored model was within it when it was trained).
 */
RgStatus
rg_check_decode_memory(RgError *err, double bytes, const char *what)
{
	double		mb,
				limit;

	if (over_memory_limit(bytes, &mb, &limit))
	{
		rg_fail(err, RG_PROGRAM_LIMIT,
				"serving this %s model needs %.0f MB for its weights, more than recgan.max_train_memory (%.0f MB)",
				what, mb, limit);
		return rg_hint(err, "Raise recgan.max_train_memory, or retrain the model.");
	}
	return RG_OK;
}

/* Send a progress message to the host, if it takes them. */
void
rg_notice(const char *fmt,...)
{
	char		buf[512];
	va_list		ap;

	if (rg_host.notice == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rg_host.notice(buf);
}

/* Seconds on the monotonic clock. */
double
rg_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}
