/*
 * util.c
 *	  Helpers every backend file shares: threads, catalog table names,
 *	  elapsed time.
 */
#include "postgres.h"

#include <cblas.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "guc.h"
#include "parallel.h"
#include "util.h"

/* Give OpenBLAS and the engine's split kernels (parallel.h) recgan.threads threads. */
void
RecganThreadsSetup(void)
{
	if (openblas_get_num_threads() != recgan_threads)
		openblas_set_num_threads(recgan_threads);
	parallel_set_threads(recgan_threads);
}

/* Schema of an installed extension (get_extension_schema is static in PG 15). */
static Oid
ExtensionSchema(Oid ext)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/* Qualify an extension table with the schema recgan was installed in. */
char *
RecganCatalogTable(const char *table)
{
	Oid			ext = get_extension_oid("recgan", true);
	Oid			nsp = OidIsValid(ext) ? ExtensionSchema(ext) : InvalidOid;

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"recgan\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION recgan.")));
	return quote_qualified_identifier(get_namespace_name(nsp), table);
}

/*
 * Whether one of the extension's tables has this column: columns added by an
 * upgrade script are missing until ALTER EXTENSION recgan UPDATE has run.
 */
bool
RecganCatalogHasColumn(const char *table, const char *column)
{
	Oid			ext = get_extension_oid("recgan", true);
	Oid			nsp = OidIsValid(ext) ? ExtensionSchema(ext) : InvalidOid;
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(table, nsp) : InvalidOid;

	return OidIsValid(relid) && get_attnum(relid, column) > 0;
}

/* Seconds elapsed since start. */
double
RecganElapsed(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

