/*
 * util.h
 *	  Helpers shared by the backend-side files of recgan (util.c).
 *
 * The engine (src/engine/) never includes this header: it is pure C plus
 * BLAS and is unit-tested without a server.
 */
#ifndef RECGAN_UTIL_H
#define RECGAN_UTIL_H

#define RECGAN_VERSION_STR "0.2.0"

#include "portability/instr_time.h"

/* Apply recgan.threads to OpenBLAS and the engine; call before heavy work. */
extern void RecganThreadsSetup(void);

/* Quoted, schema-qualified name of one of the extension's tables. */
extern char *RecganCatalogTable(const char *table);

/* Whether an extension table has a column (added columns exist after UPDATE). */
extern bool RecganCatalogHasColumn(const char *table, const char *column);

/* Seconds since start. */
extern double RecganElapsed(instr_time start);

#endif							/* RECGAN_UTIL_H */
