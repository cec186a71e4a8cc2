-- recgan_evaluate: metrics checked by hand on a tiny popularity model.
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

-- Training positives (rating >= 4), items 1..6:
--   user 1: 1 2      (3 rated 2)
--   user 2: 1 3      (6 rated 3)
--   user 3: 1 2 4
--   user 4: none     (5 rated 1): known to the model, never evaluated
-- Popularity: item 1 = 3, 2 = 2, 3 = 1, 4 = 1, 5 = 0, 6 = 0; the ranking
-- is 1 2 3 4 5 6 (ties by item id), minus each user's training positives:
--   user 1: 3 4 5 6    user 2: 2 4 5 6    user 3: 3 5 6
CREATE TABLE ev_train (user_id int, item_id int, rating real);
INSERT INTO ev_train VALUES
	(1, 1, 5), (1, 2, 5), (1, 3, 2),
	(2, 1, 4), (2, 3, 5), (2, 6, 3),
	(3, 1, 5), (3, 2, 4), (3, 4, 5),
	(4, 5, 1);
SELECT count(*) AS epochs FROM recgan_train('ev_train', 'ev_pop', 'popularity');

-- Test positives T_u:
--   user 1: 3 5 7    (7 is unknown to the model; 1 is a training positive,
--                     dropped; 6 rated 2 is not a positive)
--   user 2: 2
--   user 3: 6        (ranked 3rd of a list of only 3)
--   user 4: 2        (no training positive: not evaluated)
--   user 9: 1        (unknown user: not evaluated)
-- Hits: user 1 at ranks 1 and 3, user 2 at rank 1, user 3 at rank 3.
--   precision@1 = (1 + 1 + 0) / 3 = 0.6667    @3 = (2/3 + 1/3 + 1/3) / 3 = 0.4444
--   precision@5 = (2/5 + 1/5 + 1/5) / 3 = 0.2667
--   recall@1 = (1/3 + 1 + 0) / 3 = 0.4444     @3 = @5 = (2/3 + 1 + 1) / 3 = 0.8889
--   ndcg@3: user 1 (1 + 1/2) / (1 + 1/log2(3) + 1/2) = 0.7039, user 2 1,
--           user 3 (1/2) / 1 = 0.5: mean 0.7346
--   map@3: user 1 (1/1 + 2/3) / 3 = 0.5556, user 2 1, user 3 (1/3) / 1:
--          mean 0.6296
--   mrr@3 = (1 + 1 + 1/3) / 3 = 0.7778
--   coverage@1 = |{3, 2}| / 6 = 0.3333        @3 = @5 = |{2 3 4 5 6}| / 6 = 0.8333
-- k is sorted and deduplicated.
CREATE TABLE ev_test (user_id int, item_id int, rating real);
INSERT INTO ev_test VALUES
	(1, 3, 5), (1, 5, 4), (1, 7, 5), (1, 6, 2), (1, 1, 5),
	(2, 2, 4), (3, 6, 5), (4, 2, 5), (9, 1, 5);
SELECT metric, k, round(value::numeric, 4) AS value, users
FROM recgan_evaluate('ev_pop', 'ev_test', '{5,1,3,3}');

-- Default cut-offs 5, 10, 20; beyond the end of every list nothing changes.
SELECT metric, array_agg(k ORDER BY k) AS k, array_agg(round(value::numeric, 4) ORDER BY k) AS value
FROM recgan_evaluate('ev_pop', 'ev_test') GROUP BY metric ORDER BY metric;

-- Duplicate test rows count once; rows with a NULL id are skipped.
INSERT INTO ev_test VALUES (2, 2, 5), (NULL, 2, 5), (3, NULL, 5);
SELECT metric, k, round(value::numeric, 4) AS value, users
FROM recgan_evaluate('ev_pop', 'ev_test', '{3}') WHERE metric IN ('precision', 'recall');
DELETE FROM ev_test WHERE user_id IS NULL OR item_id IS NULL;

-- threshold NULL uses the model's (4); others select other test positives:
-- with 5, user 1 has 3 and 7 (5 was rated 4); NaN takes every row.
SELECT threshold, users, round(value::numeric, 4) AS recall_at_3
FROM unnest(ARRAY[NULL, 4, 5, 'NaN']::float8[]) AS threshold,
	 recgan_evaluate('ev_pop', 'ev_test', '{3}', threshold => threshold)
WHERE metric = 'recall';
-- rating_col NULL: every test row is a positive (user 1 also has 6).
SELECT users, round(value::numeric, 4) AS recall_at_3
FROM recgan_evaluate('ev_pop', 'ev_test', '{3}', rating_col => NULL) WHERE metric = 'recall';
-- A model trained without ratings has no threshold: every test row is a
-- positive, and user 4 (trained on item 5) is evaluated too.
SELECT count(*) AS epochs FROM recgan_train('ev_train', 'ev_all', 'popularity', rating_col => NULL);
SELECT users, round(value::numeric, 4) AS recall_at_3
FROM recgan_evaluate('ev_all', 'ev_test', '{3}') WHERE metric = 'recall';

-- Sampled protocol.  With sampled => 100 every candidate is drawn (items
-- neither training nor test positives of the user): four test pairs with
-- known items, ranks (1, 3) 1, (1, 5) 2 (below 4), (2, 2) 1, (3, 6) 3
-- (below 3 and 5):
--   hitrate@1 = 2/4, ndcg@1 = 2/4, hitrate@3 = 1,
--   ndcg@3 = (1 + 1/log2(3) + 1 + 1/2) / 4 = 0.7827
SELECT metric, k, round(value::numeric, 4) AS value, users
FROM recgan_evaluate('ev_pop', 'ev_test', '{1,3}', sampled => 100);
-- With fewer draws the result depends on the seed, and only on it.
SELECT (SELECT array_agg(value ORDER BY metric, k) FROM recgan_evaluate('ev_pop', 'ev_test', '{1,2}', sampled => 1, seed => 7))
	= (SELECT array_agg(value ORDER BY metric, k) FROM recgan_evaluate('ev_pop', 'ev_test', '{1,2}', sampled => 1, seed => 7))
	AS same_seed_same_values;

-- Names are resolved like regclass: schema-qualified and quoted names work.
CREATE SCHEMA "Eval Schema";
CREATE TABLE "Eval Schema"."Test Set" ("User" bigint, "Item" smallint, "Stars" numeric);
INSERT INTO "Eval Schema"."Test Set" SELECT user_id, item_id, rating FROM ev_test;
SELECT metric, round(value::numeric, 4) AS value, users
FROM recgan_evaluate('ev_pop', '"Eval Schema"."Test Set"', '{3}', user_col => 'User',
	item_col => 'Item', rating_col => 'Stars')
WHERE metric = 'ndcg';

-- Errors.
SELECT * FROM recgan_evaluate('no_such_model', 'ev_test');
SELECT * FROM recgan_evaluate('ev_pop', 'ev_test', '{0,5}');
CREATE TABLE ev_strangers (user_id int, item_id int, rating real);
INSERT INTO ev_strangers VALUES (9, 1, 5), (4, 2, 5), (1, 1, 5);
SELECT * FROM recgan_evaluate('ev_pop', 'ev_strangers');
SELECT pg_temp.err(q) FROM (VALUES
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', '{}')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', '{5,NULL}')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', '{-1}')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', NULL)$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', sampled => 0)$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', seed => NULL)$$),
	($$SELECT recgan_evaluate(NULL, 'ev_test')$$),
	($$SELECT recgan_evaluate('ev_pop', NULL)$$),
	($$SELECT recgan_evaluate('EV_POP', 'ev_test')$$),
	($$SELECT recgan_evaluate('ev_pop', 'no_such_table')$$),
	($$SELECT recgan_evaluate('ev_pop', 'no_schema.ev_test')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', user_col => 'uid')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', rating_col => 'stars')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', item_col => 'rating')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', threshold => 99)$$),
	-- injection-shaped names are names, never SQL
	($$SELECT recgan_evaluate('ev_pop', 'ev_test; DROP TABLE ev_train')$$),
	($$SELECT recgan_evaluate('ev_pop', 'ev_test', item_col => 'item_id FROM ev_test; DROP TABLE ev_train; --')$$),
	($$SELECT recgan_evaluate('ev_pop''; DROP TABLE ev_train; --', 'ev_test')$$)
) v(q);
SELECT count(*) AS train_rows_intact FROM ev_train;

-- the test source may run the caller's code: a view whose function retrains
-- the evaluated model (as itemknn) and serves it while the test rows are
-- read; the evaluation loads the model again and scores the popularity
-- version its statement's snapshot sees, as without the view
CREATE FUNCTION ev_meddle() RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('ev.meddle', true) = 'on' THEN
		PERFORM set_config('ev.meddle', 'off', false);
		PERFORM count(*) FROM recgan_train('ev_train', 'ev_pop', 'itemknn');
		PERFORM count(*) FROM recgan_recommend(1, 3, 'ev_pop');
	END IF;
	RETURN true;
END $$;
CREATE VIEW ev_meddle_test AS SELECT * FROM ev_test WHERE ev_meddle();
SELECT array_agg(metric || k || ':' || round(value::numeric, 4) ORDER BY metric, k) AS popularity
FROM recgan_evaluate('ev_pop', 'ev_test') \gset
SET ev.meddle = on;
SELECT array_agg(metric || k || ':' || round(value::numeric, 4) ORDER BY metric, k) = :'popularity'
	AS same_as_popularity
FROM recgan_evaluate('ev_pop', 'ev_meddle_test');
SELECT current_setting('ev.meddle') AS meddled, algorithm FROM recgan_models WHERE name = 'ev_pop';
RESET ev.meddle;
DROP VIEW ev_meddle_test;
DROP FUNCTION ev_meddle();

SET client_min_messages = warning;
DROP SCHEMA "Eval Schema" CASCADE;
RESET client_min_messages;
DROP TABLE ev_train, ev_test, ev_strangers;
DROP EXTENSION recgan;
