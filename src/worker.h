/*
 * worker.h
 *	  Background training: the launcher, per-run workers and their shared
 *	  memory (worker_*.c; worker_int.h is what those files share).
 */
#ifndef RECGAN_WORKER_H
#define RECGAN_WORKER_H

/*
 * Register the launcher and the shared-memory hooks; does nothing unless
 * recgan is being loaded through shared_preload_libraries.  Call from
 * _PG_init after the GUCs are defined.
 */
extern void WorkerInit(void);

#endif							/* RECGAN_WORKER_H */
