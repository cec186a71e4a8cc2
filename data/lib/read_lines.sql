-- lib/read_lines.sql: read one text file, line by line, into the temporary
-- table recgan_load_lines (lineno bigint, line text).  Included with \ir by the
-- data/load_*.sql loaders after lib/common.sql; not meant to be run on its own.
--
-- Input variables:
--   dir, in    the file: :in itself when absolute, else :dir/:in
--   encoding   the file's encoding (any name PostgreSQL knows: UTF8, LATIN1 ...)
-- Output variable:
--   source     the path that was read, for error messages
--
-- Lines are read raw: COPY's CSV mode with a delimiter and a quote character
-- (0x01, 0x02) that text files do not contain, so no backslash, quote or
-- delimiter is interpreted.  LF and CRLF line ends are both accepted (COPY
-- takes the style of the first line and refuses a file that mixes them); an
-- empty line reads as '' (FORCE_NOT_NULL).  COPY assigns the identity column
-- in file order, which gives the line numbers.
--
-- psql does not expand variables inside \copy, so the command is built with
-- \set and executed as :copy_cmd.  The path goes in as a '...' literal with
-- quotes doubled (what \copy's own parser undoes); a path with a line break is
-- refused, since the rest of it would otherwise reach psql as a new command.

SELECT pg_temp.recgan_path(:'dir', :'in') AS source,
	pg_temp.recgan_copy_literal(pg_temp.recgan_path(:'dir', :'in')) AS path_literal,
	pg_temp.recgan_copy_literal(:'encoding') AS encoding_literal \gset

SELECT pg_catalog.count(pg_temp.recgan_fail(pg_catalog.format('file name %s contains a line break',
		pg_catalog.quote_literal(:'source')), 'Rename the file or link to it from a simpler path.')) AS ok
	WHERE pg_catalog.strpos(:'source', pg_catalog.chr(10)) > 0
		OR pg_catalog.strpos(:'source', pg_catalog.chr(13)) > 0 \gset

SELECT pg_catalog.count(pg_temp.recgan_fail(pg_catalog.format('unknown encoding %s for file "%s"',
		pg_catalog.quote_literal(:'encoding'), :'source'),
		'Pass an encoding PostgreSQL knows, e.g. -v encoding=UTF8 or -v encoding=LATIN1.')) AS ok
	WHERE pg_catalog.pg_char_to_encoding(:'encoding') < 0 \gset

DROP TABLE IF EXISTS pg_temp.recgan_load_lines;
CREATE TEMP TABLE recgan_load_lines (
	lineno	bigint GENERATED ALWAYS AS IDENTITY,
	line	text
) ON COMMIT DROP;

\set copy_cmd '\\copy pg_temp.recgan_load_lines (line) FROM ' :path_literal ' WITH (FORMAT csv, DELIMITER E''\\x01'', QUOTE E''\\x02'', FORCE_NOT_NULL (line), ENCODING ' :encoding_literal ')'
-- COPY's own errors (bad encoding, mixed line ends) give the line number only
-- in their CONTEXT line, which lib/common.sql otherwise hides.
\set SHOW_CONTEXT errors
:copy_cmd
\set SHOW_CONTEXT never

