-- Live histories: live_history reads the user's positives from the model's
-- source at call time (INSERT and DELETE count at once, without retraining),
-- as the caller (privileges and row-level security apply).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;
SET recgan.threads = 1;

-- two taste groups: users 1-4 like items 1-4, users 5-8 like items 5-8;
-- item 9 liked by all; ratings below 4 (item 10) are not positives
CREATE TABLE lv (user_id int, item_id int, rating int);
INSERT INTO lv
SELECT u, i, CASE WHEN i = 10 THEN 2 ELSE 5 END
FROM generate_series(1, 8) u, generate_series(1, 10) i
WHERE i >= 9 OR ((u <= 4) = (i <= 4) AND i <= 8 AND (u + i) % 4 <> 0);
CREATE INDEX ON lv (user_id);
SELECT count(*) FROM recgan_train('lv', 'lv_ease', 'ease', '{"lambda": 1}');
SELECT count(*) FROM recgan_train('lv', 'lv_knn', 'itemknn');
SELECT count(*) FROM recgan_train('lv', 'lv_ials', 'ials', '{"factors": 4, "epochs": 5, "patience": 0, "validation_fraction": 0}');
SELECT count(*) FROM recgan_train('lv', 'lv_gmf', 'gmf',
	'{"factors": 2, "epochs": 2, "patience": 0, "validation_fraction": 0}');
SELECT name, user_col, item_col, rating_col FROM recgan_models WHERE name LIKE 'lv%' ORDER BY name;

-- one answer as text: item:score pairs in rank order (scores exact)
CREATE FUNCTION lv_answer(u int8, m text, live bool, k int DEFAULT 5) RETURNS text
LANGUAGE sql AS $$
	SELECT string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
	FROM recgan_recommend(u, k, m, live_history => live) $$;

-- option off is today's answer, byte for byte, for every user; with the
-- training history unchanged, live folds it in: the same answer for the item
-- models (their scores depend only on the history), not for ials (a folded-in
-- user factor is not the trained one)
SELECT m, bool_and(recgan_recommend_off_is_default) AS off_is_default,
	   bool_and(live_is_same) AS live_is_same
FROM (SELECT m,
			 (SELECT string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
			  FROM recgan_recommend(u, 5, m)) IS NOT DISTINCT FROM lv_answer(u, m, false)
				AS recgan_recommend_off_is_default,
			 lv_answer(u, m, false) = lv_answer(u, m, true) AS live_is_same
	  FROM unnest(ARRAY['lv_ease', 'lv_knn', 'lv_ials']) m, generate_series(1, 8) u) t
GROUP BY m ORDER BY m;

-- user 1 likes items 5 and 6 now: the live answer changes without
-- retraining (5 and 6 are seen, their group comes up); the frozen one does not
SELECT lv_answer(1, 'lv_ease', false) AS before \gset
SELECT item_id, rank FROM recgan_recommend(1, 4, 'lv_ease', live_history => true);
INSERT INTO lv VALUES (1, 5, 5), (1, 6, 4);
SELECT item_id, rank FROM recgan_recommend(1, 4, 'lv_ease', live_history => true);
SELECT lv_answer(1, 'lv_ease', false) = :'before' AS frozen_unchanged;
SELECT lv_answer(1, 'lv_ease', true) <> :'before' AS live_changed;
-- the live answer is the fold-in of the user's current positives
SELECT lv_answer(1, 'lv_ease', true) = (SELECT string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
	FROM recgan_recommend_items(ARRAY[1, 2, 4, 5, 6, 9], 5, 'lv_ease')) AS live_is_fold_in;
-- a row below the training threshold (rating 3 < 4) is not a positive
SELECT lv_answer(1, 'lv_ease', true) AS with_new \gset
INSERT INTO lv VALUES (1, 7, 3);
SELECT lv_answer(1, 'lv_ease', true) = :'with_new' AS low_rating_ignored;
-- exclude_seen => false keeps the live positives in the answer
SELECT count(*) FILTER (WHERE item_id IN (5, 6)) AS seen_kept
FROM recgan_recommend(1, 10, 'lv_ease', exclude_seen => false, live_history => true);
-- filters apply as without the option
SELECT item_id, rank FROM recgan_recommend(1, 3, 'lv_ease', exclude => ARRAY[7],
	candidates => ARRAY[3, 7, 8], live_history => true);

-- DELETE: the removed positives stop counting (and are no longer excluded)
DELETE FROM lv WHERE user_id = 1 AND item_id IN (5, 6);
SELECT lv_answer(1, 'lv_ease', true) = :'before' AS back_to_before;
DELETE FROM lv WHERE user_id = 2;
SELECT lv_answer(2, 'lv_ease', true) = lv_answer(12345, 'lv_ease', false) AS no_history_is_cold_start;

-- a user the model never saw, with rows in the source: fold-in when live,
-- popularity (cold start) otherwise; items the model does not know are ignored
INSERT INTO lv VALUES (100, 5, 5), (100, 6, 5), (100, 77, 5);
SELECT item_id, rank FROM recgan_recommend(100, 3, 'lv_ease', live_history => true);
SELECT lv_answer(100, 'lv_ease', false) = lv_answer(12345, 'lv_ease', false) AS frozen_is_cold_start;
SELECT item_id, rank FROM recgan_recommend(100, 3, 'lv_ials', live_history => true);
SELECT item_id, rank FROM recgan_recommend(100, 3, 'lv_knn', live_history => true);

-- explain with a live history: the new user's items, exact parts of the score
SELECT history_item_id, rank FROM recgan_explain(100, 7, 'lv_ease', live_history => true);
SELECT abs(sum(e.contribution) - (SELECT score FROM recgan_recommend(100, 10, 'lv_ease', live_history => true)
								  WHERE item_id = 7)) < 1e-5 AS explain_sums_to_score
FROM recgan_explain(100, 7, 'lv_ease', live_history => true) e;
SELECT count(*) AS frozen_explain_user_1 FROM recgan_explain(1, 3, 'lv_ease');
SELECT count(*) AS live_explain_user_1 FROM recgan_explain(1, 3, 'lv_ease', live_history => true);
SELECT * FROM recgan_explain(100, 7, 'lv_ease');	-- not live: unknown user

-- recgan_recommend_all with live histories: one scan of the source; for
-- every user of the model the same rows as recgan_recommend live (user 2 has
-- no rows left: the cold-start answer); off, the frozen answer
CREATE FUNCTION lv_all_answer(m text, live bool) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(user_id || '/' || item_id || ':' || score::text, ' ' ORDER BY user_id, rank)
	FROM recgan_recommend_all(5, m, live_history => live) $$;
SELECT m, lv_all_answer(m, true) = (SELECT string_agg(u || '/' || item_id || ':' || score::text, ' ' ORDER BY u, rank)
		FROM generate_series(1, 8) u, recgan_recommend(u, 5, m, live_history => true)) AS all_is_each_live,
	   lv_all_answer(m, false) = (SELECT string_agg(user_id || '/' || item_id || ':' || score::text, ' ' ORDER BY user_id, rank)
		FROM recgan_recommend_all(5, m)) AS off_is_default,
	   lv_all_answer(m, true) <> lv_all_answer(m, false) AS live_differs
FROM unnest(ARRAY['lv_ease', 'lv_knn', 'lv_ials']) m ORDER BY m;
SELECT user_id, item_id, rank FROM recgan_recommend_all(2, 'lv_ease', candidates => ARRAY[5, 6, 7],
	live_history => true) WHERE user_id IN (1, 2) ORDER BY user_id, rank;

-- errors below as SQLSTATE: message
CREATE FUNCTION lv_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n int8;
BEGIN
	EXECUTE 'SELECT count(*) FROM (' || q || ') AS t' INTO n;
	RETURN 'ok (' || n || ' rows)';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- the live query may run the caller's code: here a view whose function
-- retrains the served model and serves it, evicting the cached copy the
-- outer call holds; the outer call loads the model again
CREATE FUNCTION lv_meddle() RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('lv.meddle', true) = 'on' THEN
		PERFORM set_config('lv.meddle', 'off', false);
		PERFORM count(*) FROM recgan_train('lv_view', 'lv_v', 'ease', '{"lambda": 2}');
		PERFORM count(*) FROM recgan_recommend(1, 3, 'lv_v');
	END IF;
	RETURN true;
END $$;
CREATE VIEW lv_view AS SELECT * FROM lv WHERE lv_meddle();
SELECT count(*) FROM recgan_train('lv_view', 'lv_v', 'ease', '{"lambda": 1}');
SELECT count(*) FROM recgan_recommend(1, 3, 'lv_v');
SELECT (recgan_cache_stats()->>'misses')::int AS misses_before,
	   (recgan_cache_stats()->>'hits')::int AS hits_before \gset
SET lv.meddle = on;
SELECT item_id, rank FROM recgan_recommend(1, 3, 'lv_v', live_history => true);
-- loads: the outer call's first (a hit), the nested call's (a miss: the new
-- version), the outer call's again after the eviction (a miss: the version its
-- statement's snapshot sees, the old one; without the second load the call
-- scored with freed memory and answered 3, 8, 7)
SELECT (recgan_cache_stats()->>'hits')::int - :hits_before AS hits,
	   (recgan_cache_stats()->>'misses')::int - :misses_before AS misses,
	   current_setting('lv.meddle') AS meddled;
SELECT options->>'lambda' AS lv_v_retrained_by_the_view FROM recgan_models WHERE name = 'lv_v';
RESET lv.meddle;

-- row-level security on the source: the caller's live history is what the
-- caller may see; without SELECT on the source, an error
CREATE ROLE regress_live_reader;
GRANT SELECT ON recgan_models TO regress_live_reader;
SET ROLE regress_live_reader;
SELECT lv_try($$SELECT * FROM recgan_recommend(100, 3, 'lv_ease', live_history => true)$$);
RESET ROLE;
GRANT SELECT ON lv TO regress_live_reader;
ALTER TABLE lv ENABLE ROW LEVEL SECURITY;
CREATE POLICY lv_low_items ON lv FOR SELECT TO regress_live_reader USING (item_id <= 5);
SET ROLE regress_live_reader;
SELECT lv_answer(100, 'lv_ease', true) = (SELECT string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
	FROM recgan_recommend_items(ARRAY[5], 5, 'lv_ease')) AS reader_sees_item_5_only;
SELECT count(*) AS reader_sees_nothing_of_user_1 FROM recgan_explain(1, 3, 'lv_ease', live_history => true)
WHERE history_item_id > 5;
SELECT (SELECT string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
		FROM recgan_recommend_all(5, 'lv_ease', live_history => true) WHERE user_id = 1)
	 = (SELECT string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
		FROM recgan_recommend_items(ARRAY[1, 2, 4], 5, 'lv_ease')) AS reader_all_sees_items_up_to_5;
RESET ROLE;
SELECT count(*) AS owner_sees_item_9_of_user_1 FROM recgan_explain(1, 3, 'lv_ease', live_history => true)
WHERE history_item_id > 5;
SELECT lv_answer(100, 'lv_ease', true) = (SELECT string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
	FROM recgan_recommend_items(ARRAY[5, 6], 5, 'lv_ease')) AS owner_sees_items_5_and_6;
-- column privileges: the reader may read the user and rating columns only
DROP POLICY lv_low_items ON lv;
ALTER TABLE lv DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON lv FROM regress_live_reader;
GRANT SELECT (user_id, rating) ON lv TO regress_live_reader;
SET ROLE regress_live_reader;
SELECT lv_try($$SELECT * FROM recgan_recommend(100, 3, 'lv_ease', live_history => true)$$);
RESET ROLE;
REVOKE ALL ON lv FROM regress_live_reader;
REVOKE ALL ON recgan_models FROM regress_live_reader;
DROP ROLE regress_live_reader;

-- models without fold-in refuse the option; bad inputs
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'lv_gmf', live_history => true)$$);
SELECT lv_try($$SELECT * FROM recgan_explain(1, 3, 'lv_gmf', live_history => true)$$);
SELECT lv_try($$SELECT * FROM recgan_recommend_all(3, 'lv_gmf', live_history => true)$$);
SELECT lv_try($$SELECT * FROM recgan_recommend_all(3, 'lv_ease', live_history => NULL)$$);
SELECT count(*) AS gmf_off_ok FROM recgan_recommend(1, 3, 'lv_gmf');
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'lv_ease', live_history => NULL)$$);
SELECT lv_try($$SELECT * FROM recgan_explain(1, 3, 'lv_ease', live_history => NULL)$$);
SELECT count(*) AS null_user_no_rows FROM recgan_recommend(NULL, 3, 'lv_ease', live_history => true);
SELECT lv_try($$SELECT * FROM recgan_explain(100, 12345, 'lv_ease', live_history => true)$$);
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'nope', live_history => true)$$);
-- the source's columns changed since training
ALTER TABLE lv RENAME COLUMN item_id TO item;
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'lv_ease', live_history => true)$$);
ALTER TABLE lv RENAME COLUMN item TO item_id;
SELECT count(*) AS renamed_back FROM recgan_recommend(1, 3, 'lv_ease', live_history => true);
-- the source renamed away (an error), then a new table under its name: read
ALTER TABLE lv RENAME TO lv_saved;
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'lv_ease', live_history => true)$$);
CREATE TABLE lv (user_id int8, item_id int8, rating float8);
INSERT INTO lv VALUES (1, 5, 4.5);
SELECT item_id, rank FROM recgan_recommend(1, 2, 'lv_ease', live_history => true);
DROP TABLE lv;
ALTER TABLE lv_saved RENAME TO lv;
-- names from a hand-edited catalog row stay names, never SQL
UPDATE recgan_models SET source = 'lv; DROP TABLE lv' WHERE name = 'lv_ease';
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'lv_ease', live_history => true)$$);
UPDATE recgan_models SET source = 'public.lv', user_col = 'user_id OR true' WHERE name = 'lv_ease';
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'lv_ease', live_history => true)$$);
UPDATE recgan_models SET user_col = 'user_id' WHERE name = 'lv_ease';
SELECT count(*) AS lv_rows_still_there FROM lv;
-- a model trained before 0.2.0 records no columns
UPDATE recgan_models SET user_col = NULL WHERE name = 'lv_knn';
SELECT lv_try($$SELECT * FROM recgan_recommend(1, 3, 'lv_knn', live_history => true)$$);
SELECT lv_try($$SELECT * FROM recgan_recommend_all(3, 'lv_knn', live_history => true)$$);
SELECT count(*) AS knn_off_ok FROM recgan_recommend(1, 3, 'lv_knn');

-- a model trained with threshold NULL: every row is a positive, also live
SELECT count(*) FROM recgan_train('lv', 'lv_all', 'ease', '{"lambda": 1}', rating_col => NULL);
SELECT rating_col IS NULL AS no_rating_col FROM recgan_models WHERE name = 'lv_all';
SELECT m, count(*) FILTER (WHERE item_id = 7) AS item_7_recommended
FROM unnest(ARRAY['lv_ease', 'lv_all']) m, recgan_recommend(1, 10, m, live_history => true)
GROUP BY m ORDER BY m;

SELECT recgan_drop_model(name) FROM recgan_models WHERE name LIKE 'lv%' ORDER BY name;
DROP FUNCTION lv_answer(int8, text, bool, int);
DROP FUNCTION lv_try(text);
DROP FUNCTION lv_all_answer(text, bool);
DROP VIEW lv_view;
DROP FUNCTION lv_meddle();
DROP TABLE lv;
