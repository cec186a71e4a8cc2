-- load_cfgan.sql: load one file of the CFGAN splits (Chae et al., CIKM 2018:
-- ML100K.train / .test, Ciao.train / .test ... as published with the authors'
-- code) into a ratings table.
--
--   psql -v file=/path/to/ML100K.train -f data/load_cfgan.sql
--   psql -v dir=/path/to/cfgan-ml100k -v file=ML100K.test -v ratings=test \
--        -f data/load_cfgan.sql
--
-- Variables (psql -v name=value):
--   file         the split file, required (absolute, or relative to dir)
--   dir          directory of file when it is relative            (default: .)
--   ratings      ratings table to create or replace               (default: ratings)
--   encoding     encoding of the file                             (default: UTF8)
--
-- Format: "user item rating" a line, separated by single spaces (any run of
-- spaces or tabs is accepted), CRLF line ends (LF works too, but not a mix),
-- 0-based ids, ratings as floats (1.0 .. 5.0).  There are no timestamps (ts is
-- NULL) and no titles (no items table).
--
-- Creates (replacing a table of that name, in the first schema of search_path):
--   :ratings      (user_id bigint, item_id bigint, rating real, ts bigint)
-- All in one transaction: a missing file or a malformed line (its number and
-- text are in the error) leaves no new table and any old one untouched.
-- ML100K.train gives 80000 ratings, 943 users, 1653 items.

\set ON_ERROR_STOP on
\set QUIET on
\if :{?encoding} \else \set encoding UTF8 \endif

BEGIN;
\ir lib/common.sql

\if :{?file} \else
SELECT pg_catalog.count(pg_temp.recgan_fail('load_cfgan.sql needs the file to load',
		'Pass it with -v file=/path/to/ML100K.train.')) AS ok \gset
\endif

-- Ratings: user item rating.
\set in :file
\ir lib/read_lines.sql
\set split blanks
\set fast '^[0-9]{1,18} [0-9]{1,18} [0-9]{1,18}(\\.[0-9]{1,18})?\r?$'
\set spec '{"user id:int", "item id:int", "rating:number"}'
\set layout '3 space-separated fields (user, item, rating)'
\ir lib/split_fields.sql
\ir lib/ratings_from_fields.sql
\set what 'CFGAN split'
\ir lib/store_ratings.sql

COMMIT;
\ir lib/report.sql
