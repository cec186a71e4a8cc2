/*
 * cache_inval.c
 *	  When the model cache may skip its catalog probe: invalidation messages
 *	  for every write to recgan_models, and the check the cache asks before
 *	  serving a model without looking at the catalog.
 *
 * Every statement that writes recgan_models (INSERT, UPDATE, DELETE,
 * TRUNCATE, by recgan or by hand, also under session_replication_role =
 * replica: the trigger is ENABLE ALWAYS) fires recgan_models_changed, which
 * queues a relcache invalidation of the table.  PostgreSQL delivers it to the
 * writing backend at its next CommandCounterIncrement (and again, undoing,
 * if the (sub)transaction aborts), and to every other backend, on a standby
 * too (the commit record carries it), when the writer commits; a backend
 * reads the queue in AcceptInvalidationMessages.  The relcache callback here
 * only notes that something arrived.
 *
 * CacheCatalogStable(relid, &gen) says whether the rows of recgan_models
 * visible to the current snapshot are exactly those seen by any earlier
 * lookup made under the same generation gen (so a cached answer from then
 * may be served without a probe).  It holds when
 *
 *	 1. no writer is between its commit and its invalidation message.  A
 *		committed transaction becomes visible (ProcArrayEndTransaction) a
 *		moment before it sends its messages (AtEOXact_Inval).  On a primary a
 *		writer counts itself in shared memory from XACT_EVENT_PRE_COMMIT
 *		until its resource owner's AFTER_LOCKS release, which follows its
 *		messages; on a standby the startup process replays a commit record
 *		(visibility, then messages) between publishing replayEndRecPtr and
 *		lastReplayedEndRecPtr, so the two must be equal.  Without shared
 *		memory (recgan not preloaded) this cannot be known: never stable.
 *	 2. every message sent so far has been read (AcceptInvalidationMessages
 *		after 1); a new one starts a new generation and records the next
 *		transaction id, the horizon, which exceeds the id of every writer
 *		whose message has been read.
 *	 3. the snapshot's xmin is at or past the horizon: it sees every
 *		committed writer below it.  An old snapshot (a repeatable read
 *		transaction that began before a retrain) or one of a transaction that
 *		itself wrote recgan_models (its own id is below the horizon and still
 *		running) fails this, and the cache probes with that snapshot.
 *
 * Under 1-3 the writers the snapshot sees are exactly the committed writers
 * whose messages were read by this generation, so every snapshot passing
 * the check in one generation sees the same rows.
 *
 * A generation also ends at any message about recgan_models itself (GRANT,
 * REVOKE, row security, DROP) and at any change of roles, so whether a user
 * may read the table directly, decided once in a generation, holds for the
 * rest of it.
 *
 * Prepared transactions are refused after writing recgan_models: COMMIT
 * PREPARED runs in whatever backend issues it, without the callbacks that
 * close point 1.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "cache.h"

/* Shared state: writers of recgan_models between pre-commit and their messages. */
typedef struct CacheShared
{
	pg_atomic_uint32 committing;
} CacheShared;

static CacheShared *cache_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Oid	watched_relid = InvalidOid; /* recgan_models of this database */
static bool inval_pending = true;	/* a message arrived since the generation began */
static uint64 generation = 0;
static TransactionId horizon = InvalidTransactionId;

static bool models_written = false; /* this transaction wrote recgan_models */
static bool counted = false;	/* and counts itself in committing */

/* Note a relcache message for recgan_models (or a reset of every entry). */
static void
CacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == watched_relid)
		inval_pending = true;
}

/*
 * Note a change of roles (attributes, membership): it may change who may
 * read recgan_models directly, a decision ModelLoadSource keeps for a
 * generation (GRANT, REVOKE and row security on the table itself arrive as
 * relcache messages of it).
 */
static void
CacheRoleCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	inval_pending = true;
}

/* Count this transaction among the committing writers; refuse PREPARE. */
static void
CacheXactCallback(XactEvent event, void *arg)
{
	if (!models_written)
		return;
	if (event == XACT_EVENT_PRE_COMMIT && cache_shared != NULL && !counted)
	{
		pg_atomic_fetch_add_u32(&cache_shared->committing, 1);
		counted = true;
	}
	else if (event == XACT_EVENT_PRE_PREPARE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot prepare a transaction that has changed recgan_models"),
				 errdetail("Serving backends learn of changes to stored models when the transaction that made them commits.")));
}

/* After the messages of a top-level commit or abort: stop counting. */
static void
CacheReleaseCallback(ResourceReleasePhase phase, bool isCommit, bool isTopLevel, void *arg)
{
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel)
		return;
	if (counted)
		pg_atomic_fetch_sub_u32(&cache_shared->committing, 1);
	counted = false;
	models_written = false;
}

PG_FUNCTION_INFO_V1(recgan_models_changed);

/* Statement trigger on recgan_models: queue a relcache invalidation of it. */
Datum
recgan_models_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("recgan_models_changed must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	models_written = true;
	return PointerGetDatum(NULL);
}

/* Whether no writer of recgan_models is between its commit and its messages. */
static bool
CacheNoWriterInFlight(void)
{
	if (RecoveryInProgress())
	{
		XLogRecPtr	replaying = GetCurrentReplayRecPtr(NULL);

		return GetXLogReplayRecPtr(NULL) >= replaying;
	}
	return cache_shared != NULL && pg_atomic_read_u32(&cache_shared->committing) == 0;
}

/*
 * Whether the rows of recgan_models (relid) the current snapshot sees are
 * those of every other stable snapshot of generation *gen (file comment).
 */
bool
CacheCatalogStable(Oid relid, uint64 *gen)
{
	Snapshot	snapshot;

	if (relid != watched_relid)
	{
		watched_relid = relid;
		inval_pending = true;
	}
	if (!CacheNoWriterInFlight())
		return false;
	pg_memory_barrier();
	AcceptInvalidationMessages();
	if (inval_pending)
	{
		inval_pending = false;
		generation++;
		horizon = XidFromFullTransactionId(ReadNextFullTransactionId());
	}
	snapshot = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	if (!TransactionIdFollowsOrEquals(snapshot->xmin, horizon))
		return false;
	*gen = generation;
	return true;
}

/* Ask for the shared counter (postmaster, while preloading). */
static void
CacheShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sizeof(CacheShared));
}

/* Create or attach the shared counter. */
static void
CacheShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cache_shared = ShmemInitStruct("recgan model cache", sizeof(CacheShared), &found);
	if (!found)
		pg_atomic_init_u32(&cache_shared->committing, 0);
	LWLockRelease(AddinShmemInitLock);
}

/* Register the callbacks, and the shared counter when preloading (_PG_init). */
void
CacheInit(void)
{
	CacheRegisterRelcacheCallback(CacheRelcacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, CacheRoleCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, CacheRoleCallback, (Datum) 0);
	RegisterXactCallback(CacheXactCallback, NULL);
	RegisterResourceReleaseCallback(CacheReleaseCallback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = CacheShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = CacheShmemStartup;
}
