-- lib/common.sql: helpers shared by the data/load_*.sql loaders and
-- data/synthetic.sql.  Included with \ir right after the script's BEGIN, so
-- everything here belongs to the loader's transaction.  Not meant to be run on
-- its own.
--
-- Hides the CONTEXT lines of errors (the messages say where) and notices.
-- Sets defaults for the variables every loader accepts:
--   dir          directory of the data files          (default: .)
--   ratings      name of the ratings table to replace (default: ratings)
--   items_table  name of the items table to replace   (default: items)
-- and defines, in pg_temp (called as pg_temp.name, never found by search_path):
--   recgan_fail(msg, hint)                    raise an error
--   recgan_load_fail(path, lineno, line, why) raise "malformed line N of file F"
--        (both declared boolean, never return: a check is written as
--         SELECT pg_catalog.count(pg_temp.recgan_fail(...)) AS ok FROM ... WHERE bad \gset
--         which prints nothing, and raises on the first offending row)
--   recgan_is_int8(text)                      a decimal integer that fits bigint?
--   recgan_is_number(text)                    a finite decimal number?
--   recgan_fields_problem(f, spec, layout)    what is wrong with the fields f of a
--        line, or NULL: spec lists 'name:kind' per field, kind int, number, flag
--        (0 or 1) or text, and a last kind ending in '*' repeats (zero or more
--        times); layout describes the line for the wrong-count message.  Slow
--        (PL/pgSQL): loaders call it only on lines that fail a fast regex.
--   recgan_csv_fields(line)                   the fields of one CSV line (RFC 4180
--        quoting, "" for a quote inside quotes), or NULL if its quotes do not
--        pair up; a quoted field may not span lines
--   recgan_path(dir, file)                    file if absolute, else dir/file
--   recgan_copy_literal(text)                 '...' with quotes doubled, for \copy

\set ON_ERROR_STOP on
\set SHOW_CONTEXT never
SET LOCAL client_min_messages = warning;
\if :{?dir} \else \set dir . \endif
\if :{?ratings} \else \set ratings ratings \endif
\if :{?items_table} \else \set items_table items \endif

CREATE OR REPLACE FUNCTION pg_temp.recgan_fail(msg text, hint text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF hint IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = msg;
	END IF;
	RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value', MESSAGE = msg, HINT = hint;
END $$;

CREATE OR REPLACE FUNCTION pg_temp.recgan_load_fail(path text, lineno bigint, line text, why text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'bad_copy_file_format',
		MESSAGE = pg_catalog.format('malformed line %s of file "%s": %s', lineno, path, why),
		DETAIL = pg_catalog.format('Line %s is: %s', lineno,
			CASE WHEN pg_catalog.length(line) > 200
				THEN pg_catalog.quote_literal(pg_catalog.left(line, 200)) || '...'
				ELSE pg_catalog.quote_literal(line) END);
END $$;

CREATE OR REPLACE FUNCTION pg_temp.recgan_is_int8(s text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN s ~ '^[+-]?[0-9]{1,30}$'
		THEN s::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
		ELSE false END
$$;

CREATE OR REPLACE FUNCTION pg_temp.recgan_is_number(s text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN s ~ '^[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})([eE][+-]?[0-9]{1,2})?$'
		THEN pg_catalog.abs(s::numeric) < 1e30
		ELSE false END
$$;

CREATE OR REPLACE FUNCTION pg_temp.recgan_fields_problem(f text[], spec text[], layout text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	n		integer := pg_catalog.cardinality(spec);
	nf		integer := pg_catalog.cardinality(f);
	rep		boolean := spec[n] LIKE '%*';
	name	text;
	kind	text;
BEGIN
	IF f IS NULL THEN
		RETURN 'double quotes do not pair up (a quoted field must end in a quote, followed by a comma or the end of the line)';
	END IF;
	IF (rep AND nf < n - 1) OR (NOT rep AND nf <> n) THEN
		RETURN pg_catalog.format('expected %s, found %s field%s', layout, nf,
			CASE WHEN nf = 1 THEN '' ELSE 's' END);
	END IF;
	FOR i IN 1 .. nf LOOP
		name := pg_catalog.split_part(spec[LEAST(i, n)], ':', 1);
		kind := pg_catalog.rtrim(pg_catalog.split_part(spec[LEAST(i, n)], ':', 2), '*');
		IF kind = 'int' AND NOT pg_temp.recgan_is_int8(f[i]) THEN
			RETURN pg_catalog.format('%s %s is not an integer', name, pg_catalog.quote_literal(f[i]));
		ELSIF kind = 'number' AND NOT pg_temp.recgan_is_number(f[i]) THEN
			RETURN pg_catalog.format('%s %s is not a number', name, pg_catalog.quote_literal(f[i]));
		ELSIF kind = 'flag' AND f[i] NOT IN ('0', '1') THEN
			RETURN pg_catalog.format('%s %s is not 0 or 1', name, pg_catalog.quote_literal(f[i]));
		END IF;
	END LOOP;
	RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION pg_temp.recgan_csv_fields(line text)
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN line ~ '^("([^"]|"")*"|[^,"]*)(,("([^"]|"")*"|[^,"]*))*$'
		THEN ARRAY(SELECT CASE WHEN m[1] LIKE '"%'
				THEN pg_catalog.replace(pg_catalog.substr(m[1], 2, pg_catalog.length(m[1]) - 2),
					'""', '"')
				ELSE m[1] END
			FROM pg_catalog.regexp_matches(',' || line, ',("(?:[^"]|"")*"|[^,"]*)', 'g') AS m)
		END
$$;

CREATE OR REPLACE FUNCTION pg_temp.recgan_path(dir text, file text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN pg_catalog.left(file, 1) IN ('/', '~') THEN file
		ELSE pg_catalog.rtrim(dir, '/') || '/' || file END
$$;

CREATE OR REPLACE FUNCTION pg_temp.recgan_copy_literal(s text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT '''' || pg_catalog.replace(s, '''', '''''') || ''''
$$;

SELECT pg_catalog.count(pg_temp.recgan_fail('ratings and items_table name the same table',
		'Pass different names with -v ratings=... -v items_table=...')) AS ok
	WHERE :'ratings' = :'items_table' \gset
