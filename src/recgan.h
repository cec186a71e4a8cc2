/*
 * recgan.h
 *	  Declarations shared by the backend-side files of recgan.
 *
 * The engine files (rng.c, nn.c, ...) never include this header: they are
 * pure C plus cblas and are unit-tested without a server.
 */
#ifndef RECGAN_H
#define RECGAN_H

#define RECGAN_VERSION_STR "0.1.0"

#include "portability/instr_time.h"

/* GUC variables, defined in recgan.c */
extern int	recgan_threads;
extern int	recgan_max_train_memory;	/* MB */
extern char *recgan_database;	/* database served by the launcher */
extern int	recgan_max_workers; /* concurrent training workers */
extern int	recgan_naptime;		/* s, longest launcher sleep */
extern bool recgan_allow_superuser_jobs;

/*
 * Called by recgan_train after each epoch, when set: a background worker
 * uses it to publish live progress.  It must not throw.  Defined in worker.c.
 */
struct EpochReport;
typedef void (*RecganTrainProgressHookType) (const struct EpochReport *report);
extern PGDLLIMPORT RecganTrainProgressHookType RecganTrainProgressHook;
extern int	recgan_cache_mb;

/* Apply recgan.threads to OpenBLAS and the engine; call before heavy work. */
extern void RecganThreadsSetup(void);

/* Refuse, with both figures in MB, an estimate above recgan.max_train_memory. */
extern void RecganCheckTrainMemory(double bytes, const char *what);

/* Quoted, schema-qualified name of one of the extension's tables. */
extern char *RecganCatalogTable(const char *table);

/* Seconds since start. */
extern double RecganElapsed(instr_time start);

#endif							/* RECGAN_H */
