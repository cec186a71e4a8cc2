/*
 * engine_host.c
 *	  The engine's host (engine.h) in a backend.
 *
 * Memory comes from palloc in the current memory context (huge allocations
 * allowed), so whatever the engine allocated during a call that errors out
 * or is cancelled is freed with the caller's context.  An engine scope is a
 * child context, deleted when the scope is popped.  The interrupt check is
 * CHECK_FOR_INTERRUPTS(): on a pending cancel it does not return but
 * unwinds to the backend's error handler, which is safe because the engine
 * holds nothing but palloc'd memory and never calls the host from its
 * worker threads.  The training memory limit is recgan.max_train_memory,
 * read at every check.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "engine_host.h"
#include "guc.h"

/* An engine scope: its context and the one it was opened from. */
typedef struct HostScope
{
	MemoryContext cxt;
	MemoryContext old;
} HostScope;

/* palloc in the current context, huge allowed. */
static void *
HostAlloc(size_t size)
{
	return palloc_extended(Max(size, 1), MCXT_ALLOC_HUGE);
}

/* pfree. */
static void
HostFree(void *ptr)
{
	pfree(ptr);
}

/* palloc in the parent of the current context (the scope's caller). */
static void *
HostAllocOuter(size_t size)
{
	MemoryContext parent = CurrentMemoryContext->parent;

	return MemoryContextAllocExtended(parent ? parent : CurrentMemoryContext, Max(size, 1),
									  MCXT_ALLOC_HUGE);
}

/* Open a child context and switch to it. */
static void *
HostScopePush(void)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "recgan engine scope",
											  ALLOCSET_DEFAULT_SIZES);
	HostScope  *scope = MemoryContextAlloc(cxt, sizeof(HostScope));

	scope->cxt = cxt;
	scope->old = MemoryContextSwitchTo(cxt);
	return scope;
}

/* Switch back and delete the scope's context. */
static void
HostScopePop(void *handle)
{
	HostScope  *scope = handle;
	MemoryContext cxt = scope->cxt;

	MemoryContextSwitchTo(scope->old);
	MemoryContextDelete(cxt);
}

/* CHECK_FOR_INTERRUPTS: raises on a pending cancel, else "go on". */
static bool
HostInterrupted(void)
{
	CHECK_FOR_INTERRUPTS();
	return false;
}

/* recgan.max_train_memory, in MB. */
static double
HostMaxTrainMb(void)
{
	return recgan_max_train_memory;
}

/* A progress NOTICE. */
static void
HostNotice(const char *message)
{
	ereport(NOTICE, (errmsg("%s", message)));
}

/* Install the backend host. */
void
EngineHostInit(void)
{
	rg_host.alloc = HostAlloc;
	rg_host.free = HostFree;
	rg_host.alloc_outer = HostAllocOuter;
	rg_host.scope_push = HostScopePush;
	rg_host.scope_pop = HostScopePop;
	rg_host.interrupted = HostInterrupted;
	rg_host.notice = HostNotice;
	rg_host.max_train_mb = HostMaxTrainMb;
}

/* The SQLSTATE of an engine status. */
static int
StatusSqlstate(RgStatus code)
{
	switch (code)
	{
		case RG_INVALID_PARAMETER:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case RG_DATA_CORRUPTED:
			return ERRCODE_DATA_CORRUPTED;
		case RG_DATA_EXCEPTION:
			return ERRCODE_DATA_EXCEPTION;
		case RG_PROGRAM_LIMIT:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case RG_FEATURE_NOT_SUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case RG_CANCELED:
			return ERRCODE_QUERY_CANCELED;
		case RG_OK:
		case RG_INTERNAL:
			break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

/* ereport an engine error with its SQLSTATE. */
void
EngineRaise(const RgError *err)
{
	if (err->code == RG_OK)
		return;
	ereport(ERROR,
			(errcode(StatusSqlstate(err->code)),
			 errmsg_internal("%s", err->message),
			 err->detail[0] ? errdetail_internal("%s", err->detail) : 0,
			 err->hint[0] ? errhint("%s", err->hint) : 0));
}
