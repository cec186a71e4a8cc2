-- load_lightgcn.sql: load one file of the NGCF / LightGCN datasets (gowalla,
-- yelp2018, amazon-book: train.txt or test.txt as published with LightGCN)
-- into a ratings table.
--
--   psql -v file=/path/to/gowalla/train.txt -f data/load_lightgcn.sql
--   psql -v dir=/path/to/gowalla -v file=test.txt -v ratings=test \
--        -f data/load_lightgcn.sql
--
-- Variables (psql -v name=value):
--   file         the file (absolute, or relative to dir)         (default: train.txt)
--   dir          directory of file when it is relative            (default: .)
--   ratings      ratings table to create or replace               (default: ratings)
--   encoding     encoding of the file                             (default: UTF8)
--
-- Format: one line per user, "user item item ...", space separated, 0-based
-- ids; a line may hold a user and no items (that user then has no row).  The
-- data is implicit feedback: every listed (user, item) pair becomes one row
-- with rating 1.0 (not NULL, so the table works unchanged wherever explicit
-- ratings do), ts NULL.  A pair listed twice is kept once.  There are no
-- titles (no items table).
--
-- Creates (replacing a table of that name, in the first schema of search_path):
--   :ratings      (user_id bigint, item_id bigint, rating real, ts bigint)
--                 rows in file order: by line, then by position on the line
-- All in one transaction: a missing file or a malformed line (its number and
-- text are in the error) leaves no new table and any old one untouched.
-- gowalla train.txt gives 810128 rows, 29858 users, 40981 items.

\set ON_ERROR_STOP on
\set QUIET on
\if :{?file} \else \set file train.txt \endif
\if :{?encoding} \else \set encoding UTF8 \endif

BEGIN;
\ir lib/common.sql

-- Lines: user item item ...; one row per distinct pair, in file order.
\set in :file
\ir lib/read_lines.sql
\set split blanks
\set fast '^[0-9]{1,18}( [0-9]{1,18})* ?\r?$'
\set spec '{"user id:int", "item id:int*"}'
\set layout 'a user id and then item ids, separated by spaces'
\ir lib/split_fields.sql

CREATE TEMP TABLE recgan_load_ratings ON COMMIT DROP AS
	SELECT DISTINCT ON (user_id, item_id) lineno, pos, user_id, item_id,
		1.0::real AS rating, NULL::bigint AS ts
	FROM (SELECT p.lineno, i.pos, p.f[1]::bigint AS user_id, i.item::bigint AS item_id
		FROM recgan_load_fields p,
			pg_catalog.unnest(p.f[2:]) WITH ORDINALITY AS i(item, pos)) pairs
	ORDER BY user_id, item_id, lineno, pos;
\set what 'LightGCN (user item item ...)'
\ir lib/store_ratings.sql

COMMIT;
\ir lib/report.sql
