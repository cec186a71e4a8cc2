-- lib/split_fields.sql: split the lines of recgan_load_lines into fields, into
-- the temporary table recgan_load_fields (lineno, line, f text[]), skipping
-- blank lines, and stop at the first malformed line with an error naming the
-- file, the line number, the line and what is wrong with it.  Included with \ir
-- by the data/load_*.sql loaders after lib/read_lines.sql; not meant to be run
-- on its own.
--
-- Input variables:
--   source   the file, for messages (set by lib/read_lines.sql)
--   split    how fields are separated:
--              blanks             runs of spaces and tabs (ends trimmed)
--              csv                commas, with RFC 4180 double quotes
--              id::title::genres  '::', but only the first and the last
--                                 (a title may contain '::')
--              anything else      that literal string ('|', '::' ...)
--            a CR before the line end is dropped in every case
--   header   optional: line 1 must be exactly this (a leading UTF-8 byte order
--            mark aside) and is skipped; unset again here
--   fast     a regex that well-formed lines match, checked first for speed (a
--            line that fails it is examined field by field, and may be fine);
--            mind that psql's \set turns \t and \r inside quotes into a tab
--            and a CR, and \\ into \
--   spec     text[] literal of 'name:kind' per field (see recgan_fields_problem
--            in lib/common.sql)
--   layout   the expected layout, for the wrong-field-count message

\if :{?header}
SELECT pg_catalog.count(pg_temp.recgan_load_fail(:'source', lineno, line,
		pg_catalog.format('expected the header %s', :'header'))) AS ok
	FROM recgan_load_lines
	WHERE lineno = 1
		AND pg_catalog.rtrim(pg_catalog.ltrim(line, U&'\FEFF'), E'\r') <> :'header' \gset
\set first_line 2
\unset header
\else
\set first_line 1
\endif

DROP TABLE IF EXISTS pg_temp.recgan_load_fields;
CREATE TEMP TABLE recgan_load_fields ON COMMIT DROP AS
	SELECT lineno, line, CASE :'split'
			WHEN 'blanks' THEN pg_catalog.regexp_split_to_array(
				pg_catalog.btrim(line, E' \t\r'), E'[\t ]+')
			WHEN 'csv' THEN CASE WHEN pg_catalog.strpos(line, '"') > 0
				THEN pg_temp.recgan_csv_fields(pg_catalog.rtrim(line, E'\r'))
				ELSE pg_catalog.string_to_array(pg_catalog.rtrim(line, E'\r'), ',') END
			WHEN 'id::title::genres' THEN COALESCE(
				pg_catalog.regexp_match(pg_catalog.rtrim(line, E'\r'), '^(.*?)::(.*)::(.*)$'),
				pg_catalog.string_to_array(pg_catalog.rtrim(line, E'\r'), '::'))
			ELSE pg_catalog.string_to_array(pg_catalog.rtrim(line, E'\r'), :'split')
		END AS f
	FROM recgan_load_lines
	WHERE lineno >= :first_line AND line !~ '^[[:space:]]*$';

SELECT pg_catalog.count(pg_temp.recgan_load_fail(:'source', lineno, line, why)) AS ok
	FROM (SELECT lineno, line, why
		FROM (SELECT lineno, line,
				pg_temp.recgan_fields_problem(f, :'spec'::text[], :'layout') AS why
			FROM recgan_load_fields
			WHERE line !~ :'fast') checked
		WHERE why IS NOT NULL
		ORDER BY lineno LIMIT 1) bad \gset
