-- load_ml1m.sql: load MovieLens 1M or 10M (GroupLens, ml-1m.zip, ml-10m.zip),
-- the '::'-separated formats, into two tables.
--
--   psql -v dir=/path/to/ml-1m -f data/load_ml1m.sql
--   psql -v dir=/path/to/ml-10M100K -v encoding=UTF8 -f data/load_ml1m.sql
--
-- Variables (psql -v name=value):
--   dir          directory holding the files                     (default: .)
--   file         ratings file (an absolute path is used as is)   (default: ratings.dat)
--   items_file   titles file                                      (default: movies.dat)
--   ratings      ratings table to create or replace               (default: ratings)
--   items_table  items table to create or replace                 (default: items)
--   with_items   also load :items_file into :items_table          (default: on)
--   encoding     encoding of the files: LATIN1 for ML-1M, UTF8 for ML-10M
--                                                                 (default: LATIN1)
--
-- Formats: ratings.dat has "user::item::rating::timestamp" a line (ML-1M
-- ratings are whole stars 1..5, ML-10M half stars 0.5..5; timestamps in Unix
-- seconds).  movies.dat has "item::title::genres", genres '|'-joined.  '::' is
-- a two-character separator, which COPY cannot split on, so whole lines are
-- read and split here; a title containing '::' keeps it (the id ends at the
-- first '::', the genres start after the last).
--
-- Creates (replacing tables of those names, in the first schema of search_path):
--   :ratings      (user_id bigint, item_id bigint, rating real, ts bigint)
--   :items_table  (item_id bigint primary key, title text, genres text)
--                 genres as in the file; NULL for '(no genres listed)' or empty
-- All in one transaction: a missing file or a malformed line (its number and
-- text are in the error) leaves no new table and any old one untouched.
-- Expected for ML-1M (GroupLens' figures; only fixtures are loaded in the tests):
-- 1000209 ratings by 6040 users of 3706 items, and 3883 titled items.

\set ON_ERROR_STOP on
\set QUIET on
\if :{?file} \else \set file ratings.dat \endif
\if :{?items_file} \else \set items_file movies.dat \endif
\if :{?with_items} \else \set with_items on \endif
\if :{?encoding} \else \set encoding LATIN1 \endif

BEGIN;
\ir lib/common.sql

-- Ratings: user::item::rating::timestamp.
\set in :file
\ir lib/read_lines.sql
\set split '::'
\set fast '^[0-9]{1,18}::[0-9]{1,18}::[0-9]{1,18}(\\.[0-9]{1,18})?::[0-9]{1,18}\r?$'
\set spec '{"user id:int", "item id:int", "rating:number", "timestamp:int"}'
\set layout '4 ''::''-separated fields (user, item, rating, timestamp)'
\ir lib/split_fields.sql
\ir lib/ratings_from_fields.sql
\set what 'MovieLens (::)'
\ir lib/store_ratings.sql

\if :with_items
-- Items: item::title::genres.
\set in :items_file
\ir lib/read_lines.sql
\set split 'id::title::genres'
\set fast '^[0-9]{1,18}::.*::[^:]*\r?$'
\set spec '{"item id:int", "title:text", "genres:text"}'
\set layout '3 ''::''-separated fields (id, title, genres)'
\ir lib/split_fields.sql

CREATE TEMP TABLE recgan_load_items ON COMMIT DROP AS
	SELECT lineno, line, f[1]::bigint AS item_id, NULLIF(f[2], '') AS title,
		NULLIF(NULLIF(f[3], ''), '(no genres listed)') AS genres
	FROM recgan_load_fields;
\set what 'MovieLens (::)'
\ir lib/store_items.sql
\endif

COMMIT;
\ir lib/report.sql
