-- Extension lifecycle: create, version, catalog, GUCs, drop.
CREATE EXTENSION recgan;

-- The library loads and links OpenBLAS.
SELECT recgan_version() LIKE 'recgan 0.2.0 (OpenBLAS %, 1 thread)' AS links_openblas;

-- CREATE EXTENSION installs 0.2.0: the frozen 0.1.0 script, then the update.
SELECT extversion FROM pg_extension WHERE extname = 'recgan';

-- The catalog table exists with the documented columns, in order.
SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull
FROM pg_attribute
WHERE attrelid = 'recgan_models'::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum;

SELECT count(*) AS models FROM recgan_models;

-- It is registered for pg_dump.
SELECT c.relname
FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY AS cfg(oid, n)
JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'recgan'
ORDER BY cfg.n;

-- owner defaults to the current user; model is required.
INSERT INTO recgan_models (name, algorithm, model) VALUES ('m1', 'popularity', '\x00');
SELECT name, owner = current_user AS owned, options FROM recgan_models;
\set VERBOSITY terse
INSERT INTO recgan_models (name, algorithm) VALUES ('m2', 'popularity');
\set VERBOSITY default

-- GUCs: defined, bounded, prefix reserved.
SHOW recgan.threads;
SET recgan.threads = 2;
SELECT recgan_version() LIKE '%, 2 threads)' AS two_threads;
SET recgan.threads = 0;
RESET recgan.threads;
SET recgan.no_such_setting = 1;

-- DROP EXTENSION removes every object it created.
DROP EXTENSION recgan;
SELECT count(*) AS leftovers FROM pg_class WHERE relname LIKE 'recgan%';
SELECT count(*) AS leftovers FROM pg_proc WHERE proname LIKE 'recgan%';
