-- load_ml20m.sql: load MovieLens 20M (GroupLens, ml-20m.zip; also ML-25M and
-- ml-latest, which share the format), the CSV files, into two tables.
--
--   psql -v dir=/path/to/ml-20m -f data/load_ml20m.sql
--
-- Variables (psql -v name=value):
--   dir          directory holding the files                     (default: .)
--   file         ratings file (an absolute path is used as is)   (default: ratings.csv)
--   items_file   titles file                                      (default: movies.csv)
--   ratings      ratings table to create or replace               (default: ratings)
--   items_table  items table to create or replace                 (default: items)
--   with_items   also load :items_file into :items_table          (default: on)
--   encoding     encoding of the files                            (default: UTF8)
--
-- Formats: UTF-8 CSV with a header line.  ratings.csv:
-- "userId,movieId,rating,timestamp" (half stars 0.5..5, Unix seconds);
-- movies.csv: "movieId,title,genres", titles double-quoted when they contain a
-- comma or a quote (a quote inside doubled), genres '|'-joined.  The header
-- must be exactly as shown (a missing header would silently cost a rating).
-- Lines are split here rather than by COPY so that a malformed one is reported
-- with the file name; a quoted field may not span lines (none does in these
-- datasets).
--
-- Creates (replacing tables of those names, in the first schema of search_path):
--   :ratings      (user_id bigint, item_id bigint, rating real, ts bigint)
--   :items_table  (item_id bigint primary key, title text, genres text)
--                 genres as in the file; NULL for '(no genres listed)' or empty
-- All in one transaction: a missing file or a malformed line (its number and
-- text are in the error) leaves no new table and any old one untouched.
-- Expected for ML-20M (GroupLens' figures; only fixtures are loaded in the tests):
-- 20000263 ratings by 138493 users of 26744 items, and 27278 titled items.

\set ON_ERROR_STOP on
\set QUIET on
\if :{?file} \else \set file ratings.csv \endif
\if :{?items_file} \else \set items_file movies.csv \endif
\if :{?with_items} \else \set with_items on \endif
\if :{?encoding} \else \set encoding UTF8 \endif

BEGIN;
\ir lib/common.sql

-- Ratings: userId,movieId,rating,timestamp after the header.
\set in :file
\ir lib/read_lines.sql
\set split csv
\set header 'userId,movieId,rating,timestamp'
\set fast '^[0-9]{1,18},[0-9]{1,18},[0-9]{1,18}(\\.[0-9]{1,18})?,[0-9]{1,18}\r?$'
\set spec '{"user id:int", "item id:int", "rating:number", "timestamp:int"}'
\set layout '4 comma-separated fields (userId, movieId, rating, timestamp)'
\ir lib/split_fields.sql
\ir lib/ratings_from_fields.sql
\set what 'MovieLens (CSV)'
\ir lib/store_ratings.sql

\if :with_items
-- Items: movieId,title,genres after the header.
\set in :items_file
\ir lib/read_lines.sql
\set split csv
\set header 'movieId,title,genres'
\set fast '^[0-9]{1,18},([^,"]*|"([^"]|"")*"),[^,"]*\r?$'
\set spec '{"item id:int", "title:text", "genres:text"}'
\set layout '3 comma-separated fields (movieId, title, genres)'
\ir lib/split_fields.sql

CREATE TEMP TABLE recgan_load_items ON COMMIT DROP AS
	SELECT lineno, line, f[1]::bigint AS item_id, NULLIF(f[2], '') AS title,
		NULLIF(NULLIF(f[3], ''), '(no genres listed)') AS genres
	FROM recgan_load_fields;
\set what 'MovieLens (CSV)'
\ir lib/store_items.sql
\endif

COMMIT;
\ir lib/report.sql
