/*
 * guc.h
 *	  The recgan.* configuration parameters (guc.c).
 */
#ifndef RECGAN_GUC_H
#define RECGAN_GUC_H

extern int	recgan_threads;
extern int	recgan_max_train_memory;	/* MB */
extern char *recgan_database;	/* database served by the launcher */
extern int	recgan_max_workers; /* concurrent training workers */
extern int	recgan_naptime;		/* s, longest launcher sleep */
extern bool recgan_allow_superuser_jobs;
extern int	recgan_cache_mb;
extern int	recgan_model_chunk_size;	/* kB */

/* Define every GUC; called first by _PG_init. */
extern void GucInit(void);

#endif							/* RECGAN_GUC_H */
