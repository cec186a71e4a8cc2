-- recgan_train: sources, ids, thresholds, options, and every bad input.
CREATE EXTENSION IF NOT EXISTS recgan;
SET client_min_messages = notice;

-- A small ratings table with sparse, negative and > 2^31 ids.
CREATE TABLE r (user_id bigint, item_id bigint, rating real, ts bigint);
INSERT INTO r VALUES
	(-5, 10, 5, 1), (-5, 20, 4, 2), (-5, 30, 1, 3),
	(7, 10, 5, 1), (7, 3000000000, 5, 2), (7, 20, 2, 3),
	(3000000001, 10, 4, 1), (3000000001, 40, 5, 2),
	(9, 20, 5, 1), (9, 10, 5, 2), (9, 10, 5, 3),		-- a duplicate pair counts once
	(NULL, 10, 5, 1), (11, NULL, 5, 1);				-- skipped with a NOTICE

SELECT epoch, loss IS NULL AS no_loss, seconds >= 0 AS timed
FROM recgan_train('r', 'pop', 'popularity');
SELECT name, algorithm, source, options, n_users, n_items, n_interactions, metrics, owner = current_user AS owned
FROM recgan_models WHERE name = 'pop';

-- Ties in score are broken by ascending item id; k beyond the catalogue returns what exists.
SELECT * FROM recgan_recommend(-5, 10, 'pop', exclude_seen => false);
SELECT recgan_recommend(3000000001, 10, 'pop');

-- threshold NULL and rating_col NULL: every row is a positive.
SELECT count(*) FROM recgan_train('r', 'all1', 'popularity', threshold => NULL);
SELECT count(*) FROM recgan_train('r', 'all2', 'popularity', rating_col => NULL);
SELECT name, n_interactions, (recgan_model_header(model)->>'threshold') AS threshold
FROM recgan_models WHERE name IN ('pop', 'all1', 'all2') ORDER BY name;

-- Integer id columns of any width, views, materialized views, quoted and qualified names.
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Rates ""x""" ("User" int, "Item" smallint, "Stars" numeric);
INSERT INTO "My Schema"."Rates ""x""" VALUES (1, 1, 5), (1, 2, 4), (2, 1, 4), (2, 3, 5);
SELECT count(*) FROM recgan_train('"My Schema"."Rates ""x"""', 'quoted', 'popularity',
	user_col => 'User', item_col => 'Item', rating_col => 'Stars');
SELECT source, n_users, n_items, n_interactions FROM recgan_models WHERE name = 'quoted';
CREATE VIEW rv AS SELECT * FROM r WHERE rating >= 2;
CREATE MATERIALIZED VIEW rmv AS SELECT * FROM r;
SELECT count(*) FROM recgan_train('rv', 'view', 'popularity');
SELECT count(*) FROM recgan_train('rmv', 'matview', 'popularity');
SET search_path = "My Schema", public;
SELECT count(*) FROM recgan_train('"Rates ""x"""', 'via_path', 'popularity',
	user_col => 'User', item_col => 'Item', rating_col => 'Stars');
RESET search_path;

-- EASE and ItemKNN train and recommend; the resolved options are stored with defaults.
SELECT count(*) FROM recgan_train('r', 'ease', 'ease', '{"lambda": 0.5}');
SELECT options FROM recgan_models WHERE name = 'ease';
SELECT item_id, rank FROM recgan_recommend(3000000001, 3, 'ease');
SELECT count(*) FROM recgan_train('r', 'knn', 'itemknn', '{"neighbors": 2}');
SELECT options FROM recgan_models WHERE name = 'knn';
SELECT item_id, rank FROM recgan_recommend(3000000001, 3, 'knn');

-- Retraining replaces the row in place.
SELECT count(*) FROM recgan_train('r', 'pop', 'popularity', threshold => 5);
SELECT n_interactions FROM recgan_models WHERE name = 'pop';

-- Bad inputs: each a clear error, and the previous model stays and still recommends.
SELECT * FROM recgan_train('no_such_table', 'pop', 'popularity');
SELECT * FROM recgan_train('r', 'pop', 'popularity', user_col => 'nope');
SELECT * FROM recgan_train('r', 'pop', 'popularity', user_col => 'rating');
SELECT * FROM recgan_train('r', 'pop', 'popularity', rating_col => 'user_id', threshold => 1e12);
CREATE TABLE text_ids (user_id text, item_id int, rating int);
SELECT * FROM recgan_train('text_ids', 'pop', 'popularity');
CREATE TABLE empty (user_id int, item_id int, rating int);
SELECT * FROM recgan_train('empty', 'pop', 'popularity');
SELECT * FROM recgan_train('r', 'pop', 'popularity', threshold => 6);
SELECT * FROM recgan_train('r', 'pop', 'no_such_algorithm');
SELECT * FROM recgan_train('r', 'pop', 'ease', '{"lamda": 1}');
SELECT * FROM recgan_train('r', 'pop', 'ease', '{"lambda": -1}');
SELECT * FROM recgan_train('r', 'pop', 'ease', '{"lambda": "big"}');
SELECT * FROM recgan_train('r', 'pop', 'itemknn', '{"neighbors": 2.5}');
SELECT * FROM recgan_train('r', 'pop', 'ease', '[1, 2]');
SELECT * FROM recgan_train('r', 'pop', 'popularity', threshold => 'NaN');
SELECT * FROM recgan_train('r', '', 'popularity');
SELECT * FROM recgan_train(NULL, 'pop', 'popularity');
SELECT * FROM recgan_train('r; DROP TABLE r', 'pop', 'popularity');
SELECT * FROM recgan_train('r', 'pop', 'popularity', user_col => 'user_id" FROM r; DROP TABLE r; --');
SELECT * FROM recgan_train('pg_class', 'pop', 'popularity');
SELECT * FROM recgan_train('pg_catalog.pg_type_oid_index', 'pop', 'popularity');
SELECT n_interactions FROM recgan_models WHERE name = 'pop';
SELECT item_id, rank FROM recgan_recommend(-5, 2, 'pop', false);
SELECT count(*) AS r_still_there FROM r;

-- A model name shaped like SQL injection is just a name.
SELECT count(*) FROM recgan_train('r', $$x'); DROP TABLE r; --$$, 'popularity');
SELECT name FROM recgan_models WHERE name LIKE 'x%';

-- Cancelled training (statement_timeout) leaves the previous model intact.
CREATE TABLE big AS
	SELECT u AS user_id, (u * 7919 + i * 104729) % 3000 AS item_id, 5 AS rating
	FROM generate_series(1, 3000) u, generate_series(1, 60) i;
SET statement_timeout = '50ms';
\set SHOW_CONTEXT never
SELECT * FROM recgan_train('big', 'ease', 'ease');   -- reading or training: no context either way
\set SHOW_CONTEXT errors
-- Also in the middle of the sparse models' work (sparse EASE's per-item
-- solves, GF-CF's subspace iterations), well after the table is read.
SET statement_timeout = '2s';
SELECT * FROM recgan_train('big', 'ease', 'ease', '{"neighbors": 2999}');
SELECT * FROM recgan_train('big', 'ease', 'gfcf', '{"factors": 1000, "power_iters": 100}');
RESET statement_timeout;
SELECT n_users, n_items, options FROM recgan_models WHERE name = 'ease';
SELECT item_id, rank FROM recgan_recommend(3000000001, 3, 'ease');

-- Memory estimate above recgan.max_train_memory is refused before allocating.
SET recgan.max_train_memory = '10MB';
SELECT * FROM recgan_train('big', 'ease', 'ease');
RESET recgan.max_train_memory;

-- The SQLSTATE of every bad input above.
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;
SET client_min_messages = warning;
SELECT q AS call, pg_temp.sqlstate_of('SELECT * FROM recgan_train(' || q || ')') AS sqlstate
FROM (VALUES
	($$'no_such_table', 'pop', 'popularity'$$),
	($$'r', 'pop', 'popularity', user_col => 'nope'$$),
	($$'text_ids', 'pop', 'popularity'$$),
	($$'empty', 'pop', 'popularity'$$),
	($$'r', 'pop', 'popularity', threshold => 6$$),
	($$'r', 'pop', 'no_such_algorithm'$$),
	($$'r', 'pop', 'ease', '{"lamda": 1}'$$),
	($$'r', 'pop', 'ease', '{"lambda": -1}'$$),
	($$'r', 'pop', 'ease', '[1, 2]'$$),
	($$NULL, 'pop', 'popularity'$$),
	($$'r; DROP TABLE r', 'pop', 'popularity'$$),
	($$'pg_catalog.pg_type_oid_index', 'pop', 'popularity'$$)) AS t(q);
SELECT pg_temp.sqlstate_of($$SET recgan.max_train_memory = '10MB'; SELECT * FROM recgan_train('big', 'ease', 'ease')$$) AS memory_limit;
RESET recgan.max_train_memory;
RESET client_min_messages;

-- Sparse EASE ("neighbors" K > 0): each item regressed on its K most
-- co-occurring items.  Two taste groups of 20 users and 15 items each,
-- plus a few cross-group likes.
CREATE TABLE sp AS
SELECT u AS user_id, i AS item_id, 5 AS rating
FROM generate_series(1, 40) u, generate_series(1, 30) i
WHERE ((u <= 20) = (i <= 15) AND (u * 3 + i) % 4 <> 0) OR (u * 7 + i * 5) % 31 = 0;
SELECT epoch, loss IS NULL AS no_loss FROM recgan_train('sp', 'sp', 'ease', '{"neighbors": 8}');
SELECT options FROM recgan_models WHERE name = 'sp';
SELECT header->'tensors' AS tensors FROM recgan_model_info('sp');
-- it learned the groups
SELECT bool_and(item_id <= 15) AS group1_items FROM recgan_recommend(1, 3, 'sp');
SELECT bool_and(item_id > 15) AS group2_items FROM recgan_recommend(30, 3, 'sp');
SELECT count(*) AS rows, count(DISTINCT user_id) AS users FROM recgan_recommend_all(3, 'sp');
-- fold-in scores a history exactly as the known user with that history
SELECT bool_and(r.item_id = f.item_id AND r.score = f.score) AS foldin_equals_known_user
FROM recgan_recommend(1, 5, 'sp') r
JOIN recgan_recommend_items((SELECT array_agg(item_id) FROM sp WHERE user_id = 1), 5, 'sp') f
	USING (rank);
-- similar items: row i of B (the items i predicts), within its group
SELECT bool_and(item_id <= 15) AS similar_group1 FROM recgan_similar_items(2, 3, 'sp');
SELECT bool_and(item_id > 15) AS similar_group2 FROM recgan_similar_items(20, 3, 'sp');
-- the same bytes twice, and at 2 threads
SELECT count(*) FROM recgan_train('sp', 'sp2', 'ease', '{"neighbors": 8}');
SET recgan.threads = 2;
SELECT count(*) FROM recgan_train('sp', 'sp3', 'ease', '{"neighbors": 8}');
RESET recgan.threads;
SELECT count(DISTINCT md5(model)) AS distinct_models FROM recgan_models WHERE name IN ('sp', 'sp2', 'sp3');
-- neighbors 0 is dense EASE, the same bytes as without the option
SELECT count(*) FROM recgan_train('sp', 'sp_dense', 'ease');
SELECT count(*) FROM recgan_train('sp', 'sp_dense0', 'ease', '{"neighbors": 0}');
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'sp_dense') =
	   (SELECT md5(model) FROM recgan_models WHERE name = 'sp_dense0') AS zero_is_dense;
SELECT header->'tensors' AS tensors FROM recgan_model_info('sp_dense');
-- K beyond the catalogue keeps I - 1 = 29 candidates: the dense model's top scores
-- (dense EASE is float32, sparse float64: the items of tied scores may swap)
SELECT count(*) FROM recgan_train('sp', 'sp_full', 'ease', '{"neighbors": 100000}');
SELECT header->'tensors' AS tensors FROM recgan_model_info('sp_full');
SELECT count(*) FILTER (WHERE abs(s.score - d.score) <= 1e-4 * greatest(1, abs(d.score))) AS same_scores,
	count(*) AS of
FROM recgan_recommend_all(5, 'sp_full') s JOIN recgan_recommend_all(5, 'sp_dense') d
	USING (user_id, rank);
-- a dense model over the memory limit names the sparse option; the sparse model fits
SET recgan.max_train_memory = '1MB';
CREATE TABLE sp_wide AS
SELECT u AS user_id, (u * 13 + i * 17) % 400 AS item_id, 5 AS rating
FROM generate_series(1, 200) u, generate_series(1, 10) i;
SELECT * FROM recgan_train('sp_wide', 'sp_wide', 'ease');
SELECT count(*) FROM recgan_train('sp_wide', 'sp_wide', 'ease', '{"neighbors": 20}');
RESET recgan.max_train_memory;
