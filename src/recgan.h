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

/* GUC variables, defined in recgan.c */
extern int	recgan_blas_threads;

/* Apply recgan.blas_threads to OpenBLAS; call before any BLAS-heavy work. */
extern void RecganBlasSetup(void);

#endif							/* RECGAN_H */
