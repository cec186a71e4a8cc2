/*
 * worker_shmem.c
 *	  The shared state of the background workers: its request and startup
 *	  hooks, and every read or write of it under its lock.
 *
 * Shared memory (only when preloaded) holds one WorkerSlot per
 * recgan.max_workers: the run, the worker's pid, the last epoch and loss
 * (published by RecganTrainProgressHook, read by recgan_run_progress and the
 * recgan_runs view), the cancel flag and the worker's last error.
 *
 * The launcher claims, finds and frees slots; the SQL API signals and reads
 * them; a job worker writes only its own slot (MySlot).  No other file
 * touches WorkerState or its lock.
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "guc.h"
#include "worker_int.h"

typedef struct WorkerShared
{
	LWLock	   *lock;			/* protects everything below */
	Latch	   *launcher_latch; /* NULL while no launcher runs */
	int			n_slots;		/* recgan.max_workers at startup */
	WorkerSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} WorkerShared;

static WorkerShared *WorkerState = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static WorkerSlot *MySlot = NULL;	/* in a worker: its slot */

/* ----------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------- */

/* Bytes of the shared state for recgan.max_workers slots. */
static Size
WorkerShmemSize(void)
{
	return add_size(offsetof(WorkerShared, slots),
					mul_size(recgan_max_workers, sizeof(WorkerSlot)));
}

/* Ask for the shared state and its lock (postmaster, while preloading). */
static void
WorkerShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(WorkerShmemSize());
	RequestNamedLWLockTranche("recgan", 1);
}

/* Create or attach the shared state. */
static void
WorkerShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	WorkerState = ShmemInitStruct("recgan workers", WorkerShmemSize(), &found);
	if (!found)
	{
		memset(WorkerState, 0, WorkerShmemSize());
		WorkerState->lock = &(GetNamedLWLockTranche("recgan"))->lock;
		WorkerState->n_slots = recgan_max_workers;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Install the shared-memory hooks (WorkerInit, while preloading). */
void
WorkerShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = WorkerShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = WorkerShmemStartup;
}

/* Whether this process has the shared state (false unless preloaded). */
bool
WorkerShmemAttached(void)
{
	return WorkerState != NULL;
}

/* Number of slots (recgan.max_workers at startup). */
int
WorkerSlotCount(void)
{
	return WorkerState->n_slots;
}

/* ----------------------------------------------------------------
 * The slot table: launcher and SQL API
 * ---------------------------------------------------------------- */

/* Publish the launcher's latch, or NULL when it exits. */
void
WorkerSlotSetLauncherLatch(Latch *latch)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	WorkerState->launcher_latch = latch;
	LWLockRelease(WorkerState->lock);
}

/* Set the launcher's latch, if shared memory exists and a launcher runs. */
void
WorkerSlotWakeLauncher(void)
{
	Latch	   *latch;

	if (WorkerState == NULL)
		return;
	latch = WorkerState->launcher_latch;
	if (latch != NULL)
		SetLatch(latch);
}

/* Claim a free slot for run_id, or return -1. */
int
WorkerSlotClaim(int64 run_id, Oid owner)
{
	int			found = -1;

	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < WorkerState->n_slots && found < 0; i++)
		if (WorkerState->slots[i].state == SLOT_FREE)
		{
			WorkerSlot *slot = &WorkerState->slots[i];

			memset(slot, 0, sizeof(WorkerSlot));
			slot->state = SLOT_STARTING;
			slot->run_id = run_id;
			slot->database = MyDatabaseId;
			slot->owner = owner;
			slot->loss = NAN;
			found = i;
		}
	LWLockRelease(WorkerState->lock);
	return found;
}

/* Slot index running run_id, or -1. */
int
WorkerSlotOfRun(int64 run_id)
{
	int			found = -1;

	LWLockAcquire(WorkerState->lock, LW_SHARED);
	for (int i = 0; i < WorkerState->n_slots && found < 0; i++)
		if (WorkerState->slots[i].state != SLOT_FREE && WorkerState->slots[i].run_id == run_id)
			found = i;
	LWLockRelease(WorkerState->lock);
	return found;
}

/* State of slot i. */
SlotState
WorkerSlotStateOf(int i)
{
	SlotState	state;

	LWLockAcquire(WorkerState->lock, LW_SHARED);
	state = WorkerState->slots[i].state;
	LWLockRelease(WorkerState->lock);
	return state;
}

/* Copy slot i into *copy and free it, in one step. */
void
WorkerSlotTake(int i, WorkerSlot *copy)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	*copy = WorkerState->slots[i];
	memset(&WorkerState->slots[i], 0, sizeof(WorkerSlot));
	LWLockRelease(WorkerState->lock);
}

/* Free slot i. */
void
WorkerSlotRelease(int i)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	memset(&WorkerState->slots[i], 0, sizeof(WorkerSlot));
	LWLockRelease(WorkerState->lock);
}

/* Runs of the slots in use, as int8 datums into ids (WorkerSlotCount() long); return how many. */
int
WorkerSlotActiveRunIds(Datum *ids)
{
	int			n = 0;

	LWLockAcquire(WorkerState->lock, LW_SHARED);
	for (int i = 0; i < WorkerState->n_slots; i++)
		if (WorkerState->slots[i].state != SLOT_FREE)
			ids[n++] = Int64GetDatum(WorkerState->slots[i].run_id);
	LWLockRelease(WorkerState->lock);
	return n;
}

/* SIGINT the worker of a running run; false if none is running it. */
bool
WorkerSlotSignalCancel(int64 run_id)
{
	bool		sent = false;

	if (WorkerState == NULL)
		return false;
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < WorkerState->n_slots; i++)
	{
		WorkerSlot *slot = &WorkerState->slots[i];

		if (slot->state == SLOT_RUNNING && slot->run_id == run_id &&
			slot->pid != 0 && !slot->finishing)
		{
			slot->cancel_requested = true;
			sent = kill(slot->pid, SIGINT) == 0;
			break;
		}
	}
	LWLockRelease(WorkerState->lock);
	return sent;
}

/*
 * Copy the running slots (all, or only those of owner) into a palloc'd
 * *copy; return how many.
 */
int
WorkerSlotCopyRunning(bool all, Oid owner, WorkerSlot **copy)
{
	int			n = 0;

	*copy = palloc(sizeof(WorkerSlot) * WorkerState->n_slots);
	LWLockAcquire(WorkerState->lock, LW_SHARED);
	for (int i = 0; i < WorkerState->n_slots; i++)
		if (WorkerState->slots[i].state == SLOT_RUNNING &&
			(all || WorkerState->slots[i].owner == owner))
			(*copy)[n++] = WorkerState->slots[i];
	LWLockRelease(WorkerState->lock);
	return n;
}

/* ----------------------------------------------------------------
 * A job worker's own slot
 * ---------------------------------------------------------------- */

/*
 * Take slot i as the calling worker's (starting -> running) and read its
 * run; false, with nothing changed, unless the slot is starting.
 */
bool
WorkerSlotAttach(int i, int64 *run_id, Oid *database, Oid *owner)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	if (WorkerState->slots[i].state != SLOT_STARTING)
	{
		LWLockRelease(WorkerState->lock);
		return false;
	}
	MySlot = &WorkerState->slots[i];
	MySlot->state = SLOT_RUNNING;
	MySlot->pid = MyProcPid;
	*run_id = MySlot->run_id;
	*database = MySlot->database;
	*owner = MySlot->owner;
	LWLockRelease(WorkerState->lock);
	return true;
}

/* Mark the worker's slot exited. */
void
WorkerSlotMarkExited(void)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	MySlot->state = SLOT_EXITED;
	MySlot->pid = 0;
	LWLockRelease(WorkerState->lock);
}

/* Mark the worker's run as ended and committed. */
void
WorkerSlotMarkFinished(void)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	MySlot->finished = true;
	LWLockRelease(WorkerState->lock);
}

/*
 * Keep an error message in the worker's slot, for the launcher.  Called from
 * emit_log_hook: takes no lock, and does nothing before the slot is taken.
 */
void
WorkerSlotKeepMessage(const char *message)
{
	if (MySlot != NULL)
		strlcpy(MySlot->message, message, WORKER_MESSAGE_LEN);
}

/* Publish how many epochs the worker's run reports. */
void
WorkerSlotSetEpochs(int32 epochs)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	MySlot->epochs = epochs;
	LWLockRelease(WorkerState->lock);
}

/* Publish the worker's last finished epoch and its loss. */
void
WorkerSlotSetProgress(int32 epoch, double loss)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	MySlot->epoch = epoch;
	MySlot->loss = loss;
	LWLockRelease(WorkerState->lock);
}

/* Read back the worker's last published epoch and loss. */
void
WorkerSlotGetProgress(int32 *epoch, double *loss)
{
	LWLockAcquire(WorkerState->lock, LW_SHARED);
	*epoch = MySlot->epoch;
	*loss = MySlot->loss;
	LWLockRelease(WorkerState->lock);
}

/*
 * Before committing a success: unless a cancel was requested, mark the slot
 * finishing so that recgan_cancel sends no more signals.  Return whether a
 * cancel was requested.
 */
bool
WorkerSlotFinishUnlessCancelled(void)
{
	bool		cancel;

	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	cancel = MySlot->cancel_requested;
	MySlot->finishing = !cancel;
	LWLockRelease(WorkerState->lock);
	return cancel;
}

/*
 * After an error: mark the slot finishing, and read whether a cancel was
 * requested and the last epoch and loss.
 */
void
WorkerSlotFinishAfterError(bool *cancel_requested, int32 *epoch, double *loss)
{
	LWLockAcquire(WorkerState->lock, LW_EXCLUSIVE);
	*cancel_requested = MySlot->cancel_requested;
	MySlot->finishing = true;
	*epoch = MySlot->epoch;
	*loss = MySlot->loss;
	LWLockRelease(WorkerState->lock);
}
