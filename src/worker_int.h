/*
 * worker_int.h
 *	  What the worker_*.c files share among themselves: scheduled and
 *	  asynchronous training in background workers.  Other backend files
 *	  include worker.h only.
 *
 *	  worker_shmem.c     the shared state: one WorkerSlot per run going on,
 *	                     the launcher's latch; every access to its lock
 *	  worker_tables.c    SPI statements, transactions and the catalog
 *	                     identity; job checks and ending a run
 *	  worker_sql.c       the SQL API (recgan_schedule, recgan_unschedule,
 *	                     recgan_train_async, recgan_cancel,
 *	                     recgan_run_progress)
 *	  worker_launcher.c  WorkerInit and the launcher: schedules, queued runs,
 *	                     starting workers, reaping them
 *	  worker_job.c       the dynamic worker of one run
 *
 * A run is one row of recgan_run_history.  Its life:
 *
 *   queued     inserted by recgan_train_async, or by the launcher for a due
 *              schedule (a due schedule that must not train inserts a
 *              "skipped" row instead: its previous run has not finished, or
 *              fewer than min_new_rows rows changed)
 *   running    the worker claimed it (UPDATE ... WHERE status = 'queued')
 *   succeeded  the worker trained and stored the model and committed this
 *              status in the same transaction
 *   failed     the training raised an error (its message is kept), or the
 *              worker died before recording an end (the launcher notices
 *              its slot, marks the run, and keeps the last error the worker
 *              logged, e.g. "terminating background worker ... due to
 *              administrator command"), or the server restarted while it ran
 *              (the launcher's first pass: 'server restarted')
 *   cancelled  recgan_cancel on a queued run, or on a running one: the
 *              worker gets SIGINT, its training transaction rolls back
 *              (the previous model stays) and it records the cancel
 */
#ifndef RECGAN_WORKER_INT_H
#define RECGAN_WORKER_INT_H

#include "postgres.h"

#include "fmgr.h"
#include "storage/latch.h"

#define WORKER_MESSAGE_LEN 256
#define MAX_PARAMS 16

/* Where a slot's worker is in its life. */
typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_STARTING,				/* registered by the launcher, not yet running */
	SLOT_RUNNING,				/* the worker process is running */
	SLOT_EXITED					/* the worker process has exited */
} SlotState;

/* One run going on, in shared memory. */
typedef struct WorkerSlot
{
	SlotState	state;
	int64		run_id;
	Oid			database;
	Oid			owner;
	pid_t		pid;
	bool		cancel_requested;	/* recgan_cancel sent SIGINT */
	bool		finishing;		/* committing its end: send no more signals */
	bool		finished;		/* the run's end is committed */
	int32		epoch;			/* last finished epoch, 0 before the first */
	int32		epochs;
	double		loss;			/* NaN when not applicable */
	char		message[WORKER_MESSAGE_LEN];	/* last error the worker logged */
} WorkerSlot;

/* The recgan_train arguments of a job, as text (NULL for SQL NULL). */
typedef struct JobSpec
{
	char	   *model;
	char	   *source;			/* quoted, schema-qualified */
	char	   *algorithm;
	char	   *options;		/* jsonb */
	char	   *user_col;
	char	   *item_col;
	char	   *rating_col;
	char	   *threshold;		/* float8 */
	char	   *kind;			/* "scheduled" or "async" */
	char	   *owner;
	char	   *source_changes; /* int8: the change count when queued */
} JobSpec;

/* Parameters of one SPI statement. */
typedef struct Params
{
	int			n;
	Oid			types[MAX_PARAMS];
	Datum		values[MAX_PARAMS];
	char		nulls[MAX_PARAMS];
} Params;

/* Identity saved while acting as the catalog owner. */
typedef struct CatalogAccess
{
	Oid			user;
	int			sec_context;
	int			guc_level;
} CatalogAccess;

/* Why a role may not own a job. */
typedef enum OwnerProblem
{
	OWNER_OK,
	OWNER_SUPERUSER,
	OWNER_NOLOGIN
} OwnerProblem;

/*
 * The recgan_train arguments of a job, in recgan_train's order: as columns of
 * the schedule and run tables, and as the parameters ParamJob appends first.
 */
#define JOB_COLUMNS "source, model, algorithm, options, user_col, item_col, rating_col, threshold"
#define JOB_VALUES "$1, $2, $3, $4::pg_catalog.jsonb, $5, $6, $7, $8::pg_catalog.float8"

/* Background worker entry points, named in their BackgroundWorker entries. */
PGDLLEXPORT void recgan_launcher_main(Datum main_arg);
PGDLLEXPORT void recgan_worker_main(Datum main_arg);

/* worker_shmem.c: the shared state */
extern void WorkerShmemInit(void);
extern bool WorkerShmemAttached(void);
extern int	WorkerSlotCount(void);

/* worker_shmem.c: the slot table, for the launcher and the SQL API */
extern void WorkerSlotSetLauncherLatch(Latch *latch);
extern void WorkerSlotWakeLauncher(void);
extern int	WorkerSlotClaim(int64 run_id, Oid owner);
extern int	WorkerSlotOfRun(int64 run_id);
extern SlotState WorkerSlotStateOf(int i);
extern void WorkerSlotTake(int i, WorkerSlot *copy);
extern void WorkerSlotRelease(int i);
extern int	WorkerSlotActiveRunIds(Datum *ids);
extern bool WorkerSlotSignalCancel(int64 run_id);
extern int	WorkerSlotCopyRunning(bool all, Oid owner, WorkerSlot **copy);

/* worker_shmem.c: the calling worker's own slot */
extern bool WorkerSlotAttach(int i, int64 *run_id, Oid *database, Oid *owner);
extern void WorkerSlotMarkExited(void);
extern void WorkerSlotMarkFinished(void);
extern void WorkerSlotKeepMessage(const char *message);
extern void WorkerSlotSetEpochs(int32 epochs);
extern void WorkerSlotSetProgress(int32 epoch, double loss);
extern void WorkerSlotGetProgress(int32 *epoch, double *loss);
extern bool WorkerSlotFinishUnlessCancelled(void);
extern void WorkerSlotFinishAfterError(bool *cancel_requested, int32 *epoch, double *loss);

/* worker_tables.c: SPI statements */
extern void WorkerParamAdd(Params *p, Oid type, Datum value, bool isnull);
extern void WorkerParamText(Params *p, const char *s);
extern void WorkerParamInt8(Params *p, int64 v);
extern void WorkerParamJob(Params *p, const JobSpec *job);
extern void WorkerExec(const char *sql, Params *p, int expected);
extern char *WorkerResultText(int row, int col, MemoryContext cxt);
extern int64 WorkerResultInt8(int row, int col, bool *isnull);

/* worker_tables.c: transactions and identity */
extern void WorkerTxBegin(void);
extern void WorkerTxCommit(void);
extern void WorkerCatalogBegin(CatalogAccess *a);
extern void WorkerCatalogEnd(CatalogAccess *a);

/* worker_tables.c: jobs and runs */
extern int	WorkerJobEpochs(const JobSpec *job);
extern OwnerProblem WorkerOwnerCheck(Oid owner);
extern char *WorkerOwnerProblemText(OwnerProblem problem, const char *name);
extern void WorkerRunEnd(int64 run_id, const char *status, const char *message,
				   int32 epoch, double loss);

#endif							/* RECGAN_WORKER_INT_H */
