/*
 * engine_host.h
 *	  The engine's host in a PostgreSQL backend (engine_host.c): memory from
 *	  palloc, interrupts from CHECK_FOR_INTERRUPTS, notices through ereport,
 *	  and engine errors turned into ereport with their SQLSTATE.
 */
#ifndef RECGAN_ENGINE_HOST_H
#define RECGAN_ENGINE_HOST_H

#include "engine.h"

/* Install the backend host (rg_host); called by _PG_init. */
extern void EngineHostInit(void);

/* Raise err as an ERROR with its SQLSTATE; returns only for RG_OK. */
extern void EngineRaise(const RgError *err);

/*
 * Run an engine call that returns an RgStatus, raising its error; the call
 * may use `engine_err`, an RgError in scope.
 */
#define ENGINE_CALL(call) \
	do { \
		RgError		engine_err; \
		if ((call) != RG_OK) \
			EngineRaise(&engine_err); \
	} while (0)

#endif							/* RECGAN_ENGINE_HOST_H */
