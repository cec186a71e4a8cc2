-- load_ml100k.sql: load MovieLens 100K (GroupLens, ml-100k.zip) into two tables.
--
--   psql -v dir=/path/to/ml-100k -f data/load_ml100k.sql
--   psql -v dir=/path/to/ml-100k -v file=u1.base -v ratings=train -v with_items=off \
--        -f data/load_ml100k.sql
--
-- Variables (psql -v name=value):
--   dir          directory holding the files                     (default: .)
--   file         ratings file: u.data, or a split such as u1.base, u1.test,
--                ua.base ... (an absolute path is used as is)     (default: u.data)
--   items_file   titles file                                      (default: u.item)
--   ratings      ratings table to create or replace               (default: ratings)
--   items_table  items table to create or replace                 (default: items)
--   with_items   also load :items_file into :items_table          (default: on)
--   encoding     encoding of the files                            (default: LATIN1)
--
-- Formats: the ratings file has one rating a line, "user item rating timestamp"
-- separated by tabs (ids from 1, ratings 1..5, timestamps in Unix seconds).
-- u.item is Latin-1, '|'-separated: id, title, release date, video release
-- date, IMDb URL, then 19 0/1 genre flags in the order of u.genre, which is
-- fixed for this dataset and spelled out below.
--
-- Creates (replacing tables of those names, in the first schema of search_path):
--   :ratings      (user_id bigint, item_id bigint, rating real, ts bigint)
--   :items_table  (item_id bigint primary key, title text, genres text)
--                 genres '|'-joined, e.g. 'Animation|Children''s|Comedy'; NULL
--                 when no flag is set
-- All in one transaction: a missing file or a malformed line (its number and
-- text are in the error) leaves no new table and any old one untouched.
-- Loading the full ml-100k directory gives 100000 ratings and 1682 items.

\set ON_ERROR_STOP on
\set QUIET on
\if :{?file} \else \set file u.data \endif
\if :{?items_file} \else \set items_file u.item \endif
\if :{?with_items} \else \set with_items on \endif
\if :{?encoding} \else \set encoding LATIN1 \endif

BEGIN;
\ir lib/common.sql

-- Ratings: user \t item \t rating \t timestamp (any run of blanks is accepted).
\set in :file
\ir lib/read_lines.sql
\set split blanks
\set fast '^[0-9]{1,18}\t[0-9]{1,18}\t[0-9]{1,18}(\\.[0-9]{1,18})?\t[0-9]{1,18}\r?$'
\set spec '{"user id:int", "item id:int", "rating:number", "timestamp:int"}'
\set layout '4 tab-separated fields (user, item, rating, timestamp)'
\ir lib/split_fields.sql
\ir lib/ratings_from_fields.sql
\set what 'MovieLens 100K'
\ir lib/store_ratings.sql

\if :with_items
-- Items: id|title|release date|video release date|IMDb URL|19 genre flags, the
-- flags in the order of u.genre.
\set genre_names '{unknown,Action,Adventure,Animation,Children''s,Comedy,Crime,Documentary,Drama,Fantasy,Film-Noir,Horror,Musical,Mystery,Romance,Sci-Fi,Thriller,War,Western}'
\set in :items_file
\ir lib/read_lines.sql
\set split '|'
\set fast '^[0-9]{1,18}(\\|[^|]*){4}(\\|[01]){19}\r?$'
SELECT ARRAY['item id:int', 'title:text', 'release date:text', 'video release date:text',
		'IMDb URL:text'] || ARRAY(SELECT g || ' flag:flag'
			FROM pg_catalog.unnest(:'genre_names'::text[]) AS g) AS spec \gset
\set layout '24 ''|''-separated fields (id, title, 2 dates, URL, 19 genre flags)'
\ir lib/split_fields.sql

CREATE TEMP TABLE recgan_load_items ON COMMIT DROP AS
	SELECT lineno, line, f[1]::bigint AS item_id, NULLIF(f[2], '') AS title,
		(SELECT pg_catalog.string_agg(g.name, '|' ORDER BY g.i)
			FROM pg_catalog.unnest(:'genre_names'::text[]) WITH ORDINALITY AS g(name, i)
			WHERE f[5 + g.i] = '1') AS genres
	FROM recgan_load_fields;
\set what 'MovieLens 100K'
\ir lib/store_items.sql
\endif

COMMIT;
\ir lib/report.sql
