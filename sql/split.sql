-- recgan_split: per-user random holdout, leave-one-out, temporal cut.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- Errors as "SQLSTATE: message", so the codes are pinned too.
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- 6 users: 10, 5 (item 2 rated twice), 1, 2, 3 (same ts) and 4 items, a row
-- with a NULL user, and an extra text column that must be kept.
CREATE TABLE sp_src (user_id int, item_id int, rating real, ts bigint, note text);
INSERT INTO sp_src
SELECT 1, i, 1 + i % 5, 1000 + i, 'u1 i' || i FROM generate_series(1, 10) i;
INSERT INTO sp_src VALUES
	(2, 1, 5, 200, 'a'), (2, 2, 4, 201, 'b'), (2, 2, 3, 300, 'b again'), (2, 3, 1, 202, 'c'),
	(2, 4, 2, 203, 'd'), (2, 5, 5, 150, 'e'),
	(3, 7, 5, 500, 'single'),
	(4, 8, 5, 600, 'x'), (4, 9, 5, 601, 'y'),
	(5, 3, 5, 700, 'tie'), (5, 4, 5, 700, 'tie'), (5, 5, 5, 700, 'tie'),
	(6, 1, 5, 10, 'p'), (6, 2, 5, 20, 'q'), (6, 3, 5, NULL, 'no time'), (6, 4, 5, 30, 'r'),
	(NULL, 1, 5, 5000, 'no user');

-- A view of where each source row went, compared by every column.
CREATE FUNCTION pg_temp.sides(train regclass, test regclass)
RETURNS TABLE(user_id int, item_id int, ts bigint, note text, side text)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT user_id, item_id, ts, note, ''train'' FROM %s UNION ALL '
		'SELECT user_id, item_id, ts, note, ''test'' FROM %s', train, test);
END $$;

-- random, 20%: round(0.2 * n_u) test items per user, at most n_u - 1.
SELECT * FROM recgan_split('sp_src', 'r_train', 'r_test');
SELECT user_id, count(*) AS test_rows, count(DISTINCT item_id) AS test_items
FROM r_test GROUP BY user_id ORDER BY user_id;
-- Every source row lands in exactly one table, all columns kept.
SELECT (SELECT count(*) FROM sp_src) AS source_rows,
	(SELECT count(*) FROM pg_temp.sides('r_train', 'r_test')) AS split_rows,
	(SELECT count(*) FROM (SELECT user_id, item_id, ts, note FROM sp_src
						   EXCEPT ALL SELECT user_id, item_id, ts, note
						   FROM pg_temp.sides('r_train', 'r_test')) x) AS missing;
SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
WHERE attrelid = 'r_test'::regclass AND attnum > 0 ORDER BY attnum;
-- Both ratings of (2, 2) stay together; no (user, item) is on both sides.
SELECT count(*) AS pairs_on_both_sides
FROM (SELECT DISTINCT user_id, item_id FROM r_train) a
JOIN (SELECT DISTINCT user_id, item_id FROM r_test) b USING (user_id, item_id);
-- The test items are those first in the order of
-- hashint8extended(item, hashint8extended(user, seed)).
SELECT bool_and(t.item_id = ANY (x.first)) AS hash_order
FROM r_test t
JOIN (SELECT user_id, (array_agg(item_id ORDER BY hashint8extended(item_id, hashint8extended(user_id, 42)),
						item_id))[1:2] AS first
	  FROM (SELECT DISTINCT user_id, item_id FROM sp_src) d GROUP BY user_id) x USING (user_id);

-- Deterministic: the same seed gives the same rows; another seed other ones.
SELECT * FROM recgan_split('sp_src', 'r2_train', 'r2_test', seed => 42);
SELECT count(*) AS differences FROM (
	(SELECT * FROM pg_temp.sides('r_train', 'r_test') EXCEPT ALL SELECT * FROM pg_temp.sides('r2_train', 'r2_test'))
	UNION ALL
	(SELECT * FROM pg_temp.sides('r2_train', 'r2_test') EXCEPT ALL SELECT * FROM pg_temp.sides('r_train', 'r_test'))) d;
CREATE TABLE sp_big AS
SELECT u AS user_id, i AS item_id, i AS ts FROM generate_series(1, 50) u, generate_series(1, 20) i;
SELECT * FROM recgan_split('sp_big', 'b1_train', 'b1_test', test_fraction => 0.25, seed => 1);
SELECT * FROM recgan_split('sp_big', 'b2_train', 'b2_test', test_fraction => 0.25, seed => 2);
-- Every user has the same 20 items, yet each holds out different ones.
SELECT (SELECT count(*) FROM (TABLE b1_test EXCEPT TABLE b2_test) x) > 0 AS seeds_differ,
	(SELECT bool_and(n = 5) FROM (SELECT count(*) AS n FROM b1_test GROUP BY user_id) x) AS five_each,
	(SELECT max(n) FROM (SELECT count(*) AS n FROM b1_test GROUP BY item_id) x) < 30 AS spread_over_items;

-- leave_one_out: each user's latest item (ties to the highest item id; a
-- NULL time is never latest), users with one item stay in train.
SELECT * FROM recgan_split('sp_src', 'l_train', 'l_test', 'leave_one_out');
SELECT user_id, item_id, ts, note FROM l_test ORDER BY user_id, ts;
SELECT count(*) AS later_in_train
FROM l_train r JOIN (SELECT user_id, max(ts) AS ts FROM l_test GROUP BY user_id) t USING (user_id)
WHERE r.ts > t.ts;

-- temporal: a global cut at the time of the round(0.25 * 25)-th latest of
-- the 25 rows with ids and a time.
SELECT * FROM recgan_split('sp_src', 't_train', 't_test', 'temporal', 0.25);
SELECT user_id, item_id, ts FROM t_test ORDER BY ts, user_id, item_id;
SELECT (SELECT max(ts) FROM t_train WHERE user_id IS NOT NULL) < (SELECT min(ts) FROM t_test) AS cut_in_time,
	(SELECT count(*) FROM t_train WHERE ts IS NULL OR user_id IS NULL) AS nulls_in_train;

-- Ties at the cut go to test: 220 of 1000 asked, the cut time 16 has 50 rows.
SELECT * FROM recgan_split('sp_big', 'tb_train', 'tb_test', 'temporal', 0.22);
SELECT min(ts), max(ts) FROM tb_test;

-- Quoted, mixed-case and schema-qualified names.
CREATE SCHEMA "Split Schema";
CREATE TABLE "Split Schema"."Ratings Src" ("User" int, "Item" int, "When" bigint);
INSERT INTO "Split Schema"."Ratings Src"
SELECT u, i, i FROM generate_series(1, 3) u, generate_series(1, 4) i;
SELECT * FROM recgan_split('"Split Schema"."Ratings Src"', '"Split Schema"."Train Set"',
	'"Test Set"', 'leave_one_out', user_col => 'User', item_col => 'Item', time_col => 'When');
SELECT "User", "Item" FROM "Test Set" ORDER BY 1;
SELECT count(*) AS train_rows FROM "Split Schema"."Train Set";
-- An unquoted target name is folded to lower case, as in CREATE TABLE.
SELECT * FROM recgan_split('"Split Schema"."Ratings Src"', 'Split_Train', '"Split Schema".split_test',
	user_col => 'User', item_col => 'Item', time_col => 'When');
SELECT to_regclass('split_train') IS NOT NULL AS lower_case,
	to_regclass('"Split Schema".split_test') IS NOT NULL AS in_schema;

-- Errors.
SELECT * FROM recgan_split('sp_src', 'x_train', 'x_test', 'kfold');
SELECT * FROM recgan_split('sp_src', 'r_train', 'x_test');
SELECT pg_temp.err(q) FROM (VALUES
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', test_fraction => 0)$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', test_fraction => 1)$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', test_fraction => -0.5)$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', test_fraction => 'NaN')$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', test_fraction => NULL)$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', seed => NULL)$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', 'LEAVE_ONE_OUT')$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', 'temporal', time_col => NULL)$$),
	($$SELECT recgan_split('sp_src', 'r_train', 'r_test')$$),
	($$SELECT recgan_split('sp_src', 'x_same', 'x_same')$$),
	($$SELECT recgan_split('sp_src', 'x_same', 'public.x_same')$$),
	($$SELECT recgan_split('no_such_table', 'x_train', 'x_test')$$),
	($$SELECT recgan_split('no_schema.sp_src', 'x_train', 'x_test')$$),
	($$SELECT recgan_split('sp_src', 'no_schema.x_train', 'x_test')$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', user_col => 'uid')$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', item_col => 'Item_Id')$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', 'leave_one_out', time_col => 'time')$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', item_col => 'note')$$),
	($$SELECT recgan_split('sp_src', 'a.b.c', 'x_test')$$),
	-- injection-shaped names are names, never SQL
	($$SELECT recgan_split('sp_src; DROP TABLE sp_src', 'x_train', 'x_test')$$),
	($$SELECT recgan_split('sp_src', 'x_train; DROP TABLE sp_src', 'x_test')$$),
	($$SELECT recgan_split('sp_src', 'x_train', 'x_test', user_col => 'user_id) FROM sp_src; DROP TABLE sp_src; --')$$),
	($$SELECT recgan_split('sp_src', '"x_train; DROP TABLE sp_src"', 'x_odd_test', seed => 7)$$)
) v(q);
-- The last one succeeded: a table with that odd name, and sp_src intact.
SELECT to_regclass('"x_train; DROP TABLE sp_src"') IS NOT NULL AS odd_name_created,
	(SELECT count(*) FROM sp_src) AS source_rows;
SELECT count(*) AS leftovers FROM pg_class WHERE relname IN ('x_train', 'x_test', 'x_same');

SET client_min_messages = warning;
DROP SCHEMA "Split Schema" CASCADE;
RESET client_min_messages;
DROP TABLE sp_src, sp_big, r_train, r_test, r2_train, r2_test, b1_train, b1_test, b2_train,
	b2_test, l_train, l_test, t_train, t_test, tb_train, tb_test, "Test Set", split_train, x_odd_test,
	"x_train; DROP TABLE sp_src";
DROP EXTENSION recgan;
