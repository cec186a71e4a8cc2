-- Serving: business filters, similar items, NULL arguments, the model cache.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;

CREATE TABLE sv (user_id int, item_id int, rating int);
-- two taste groups: users 1-4 like items 1-4, users 5-8 like items 5-8; item 9 liked by all
INSERT INTO sv
SELECT u, i, 5 FROM generate_series(1, 4) u, generate_series(1, 4) i WHERE (u + i) % 4 <> 0
UNION ALL
SELECT u, i, 5 FROM generate_series(5, 8) u, generate_series(5, 8) i WHERE (u + i) % 4 <> 0
UNION ALL
SELECT u, 9, 5 FROM generate_series(1, 8) u;
SELECT count(*) FROM recgan_train('sv', 'sv_ease', 'ease', '{"lambda": 1}');
SELECT count(*) FROM recgan_train('sv', 'sv_knn', 'itemknn');
SELECT count(*) FROM recgan_train('sv', 'sv_pop', 'popularity');

-- exclude and candidates, for one user, a new user and everyone
SELECT item_id, rank FROM recgan_recommend(1, 3, 'sv_ease');
SELECT item_id, rank FROM recgan_recommend(1, 3, 'sv_ease', exclude => ARRAY[3]);
SELECT item_id, rank FROM recgan_recommend(1, 3, 'sv_ease', candidates => ARRAY[5, 6, 7]);
SELECT item_id, rank FROM recgan_recommend(1, 3, 'sv_ease', candidates => ARRAY[5, 6, 7], exclude => ARRAY[5]);
SELECT item_id, rank FROM recgan_recommend(1, 3, 'sv_ease', candidates => ARRAY[1, 2, 999]);  -- seen and unknown: nothing
SELECT item_id, rank FROM recgan_recommend(999, 3, 'sv_ease', candidates => ARRAY[5, 9]);      -- cold start, filtered
SELECT item_id, rank FROM recgan_recommend_items(ARRAY[1, 2], 3, 'sv_ease', exclude => ARRAY[3]);
SELECT item_id, rank FROM recgan_recommend_items(ARRAY[1, 2], 3, 'sv_ease', candidates => '{}');
SELECT user_id, item_id, rank FROM recgan_recommend_all(1, 'sv_ease', candidates => ARRAY[3, 7])
ORDER BY user_id;

-- bad filter arguments
SELECT * FROM recgan_recommend(1, 3, 'sv_ease', exclude => ARRAY[1, NULL]);
SELECT * FROM recgan_recommend(1, 3, 'sv_ease', candidates => ARRAY[NULL::int8]);
SELECT * FROM recgan_recommend(1, 3, 'sv_ease', candidates => ARRAY[[1, 2], [3, 4]]);
SELECT * FROM recgan_recommend_all(1, 'sv_ease', exclude => ARRAY[NULL::int8]);
SELECT * FROM recgan_recommend(1, NULL, 'sv_ease');
SELECT * FROM recgan_recommend(1, 3, NULL);
SELECT * FROM recgan_recommend(1, 3, 'sv_ease', NULL);
SELECT * FROM recgan_recommend_items(NULL, 3, 'sv_ease');
SELECT count(*) AS no_user_no_rows FROM recgan_recommend(NULL, 3, 'sv_ease');

-- similar items: models with item representations, and one without
SELECT item_id, rank FROM recgan_similar_items(1, 3, 'sv_ease');
SELECT item_id, rank FROM recgan_similar_items(5, 3, 'sv_knn');
SELECT count(*) AS unknown_item FROM recgan_similar_items(12345, 3, 'sv_knn');
SELECT count(*) AS null_item FROM recgan_similar_items(NULL, 3, 'sv_knn');
SELECT * FROM recgan_similar_items(1, 3, 'sv_pop');
SELECT * FROM recgan_similar_items(1, 0, 'sv_ease');
SELECT * FROM recgan_similar_items(1, 3, 'nope');

-- the cache: a second call is a hit; a retrain in this session is picked up
SELECT count(*) FROM recgan_recommend(1, 3, 'sv_knn');
SELECT (recgan_cache_stats()->>'hits')::int AS hits_before \gset
SELECT count(*) FROM recgan_recommend(2, 3, 'sv_knn');
SELECT (recgan_cache_stats()->>'hits')::int - :hits_before AS new_hits;
SELECT count(*) FROM recgan_train('sv', 'sv_knn', 'itemknn', '{"neighbors": 1}');
SELECT count(*) AS one_neighbor FROM recgan_similar_items(5, 3, 'sv_knn');
-- a retrain rolled back is not served
BEGIN;
SELECT count(*) FROM recgan_train('sv', 'sv_knn', 'itemknn', '{"neighbors": 3}');
SELECT count(*) AS three_neighbors FROM recgan_similar_items(5, 3, 'sv_knn');
ROLLBACK;
SELECT count(*) AS one_neighbor_again FROM recgan_similar_items(5, 3, 'sv_knn');
-- The fast path: while recgan_models is unchanged, a cached model is served
-- without a catalog probe (autovacuum off for the table: an ANALYZE of it
-- would send an invalidation and cost one probe).
ALTER TABLE recgan_models SET (autovacuum_enabled = false);
SELECT count(*) FROM recgan_recommend(1, 3, 'sv_ease');
SELECT (recgan_cache_stats()->>'probes')::int AS probes_before \gset
SELECT count(*) FROM recgan_recommend(2, 3, 'sv_ease');
SELECT count(*) FROM recgan_similar_items(1, 3, 'sv_ease');
SELECT (recgan_cache_stats()->>'probes')::int - :probes_before AS new_probes;
-- any write to recgan_models is seen by the next statement, also by hand
-- (the scores of an EASE and an ItemKNN model differ) ...
SELECT (SELECT array_agg(score ORDER BY rank) FROM recgan_recommend(1, 3, 'sv_ease')) =
	   (SELECT array_agg(score ORDER BY rank) FROM recgan_recommend(1, 3, 'sv_knn')) AS same_before;
UPDATE recgan_models SET model = (SELECT model FROM recgan_models WHERE name = 'sv_knn')
WHERE name = 'sv_ease';
SELECT (SELECT array_agg(score ORDER BY rank) FROM recgan_recommend(1, 3, 'sv_ease')) =
	   (SELECT array_agg(score ORDER BY rank) FROM recgan_recommend(1, 3, 'sv_knn')) AS serves_the_update;
SELECT count(*) FROM recgan_train('sv', 'sv_ease', 'ease', '{"lambda": 1}');
SELECT item_id, rank, round(score::numeric, 3) AS score FROM recgan_recommend(1, 3, 'sv_ease');
-- ... and under session_replication_role = replica (the trigger is ALWAYS)
SELECT count(*) FROM recgan_train('sv', 'sv_tmp', 'popularity');
SELECT count(*) FROM recgan_recommend(1, 3, 'sv_tmp');
SET session_replication_role = replica;
DELETE FROM recgan_models WHERE name = 'sv_tmp';
RESET session_replication_role;
SELECT * FROM recgan_recommend(1, 3, 'sv_tmp');
-- own uncommitted writes are served inside the transaction, a rolled back
-- savepoint's are not
BEGIN;
SELECT array_agg(round(score::numeric, 3) ORDER BY rank) AS knn FROM recgan_recommend(1, 3, 'sv_knn');
SAVEPOINT s;
SELECT count(*) FROM recgan_train('sv', 'sv_knn', 'popularity');
SELECT array_agg(round(score::numeric, 3) ORDER BY rank) AS popularity FROM recgan_recommend(1, 3, 'sv_knn');
ROLLBACK TO SAVEPOINT s;
SELECT array_agg(round(score::numeric, 3) ORDER BY rank) AS knn_again FROM recgan_recommend(1, 3, 'sv_knn');
SELECT count(*) FROM recgan_train('sv', 'sv_knn', 'popularity');
SELECT array_agg(round(score::numeric, 3) ORDER BY rank) AS popularity FROM recgan_recommend(1, 3, 'sv_knn');
ROLLBACK;
SELECT array_agg(round(score::numeric, 3) ORDER BY rank) AS knn_after_rollback FROM recgan_recommend(1, 3, 'sv_knn');
-- a transaction that changed recgan_models cannot be prepared (other
-- backends would not learn of its commit in time)
BEGIN;
SELECT recgan_drop_model('sv_pop');
PREPARE TRANSACTION 'regress_recgan_models';
SELECT count(*) AS still_there FROM recgan_recommend(1, 3, 'sv_pop');
ALTER TABLE recgan_models RESET (autovacuum_enabled);
-- with the cache disabled every call decodes, with the same answers
SET recgan.cache_mb = 0;
SELECT item_id, rank FROM recgan_recommend(1, 3, 'sv_ease');
RESET recgan.cache_mb;
-- dropping a model is seen at once
SELECT recgan_drop_model('sv_pop');
SELECT * FROM recgan_recommend(1, 3, 'sv_pop');

-- privileges and row-level security apply to every call, cached or not
CREATE ROLE regress_recgan_reader;
GRANT USAGE ON SCHEMA public TO regress_recgan_reader;
SELECT count(*) FROM recgan_recommend(1, 3, 'sv_ease');   -- cached by the owner
SET ROLE regress_recgan_reader;
SELECT * FROM recgan_recommend(1, 3, 'sv_ease');
RESET ROLE;
GRANT SELECT ON recgan_models TO regress_recgan_reader;
SET ROLE regress_recgan_reader;
SELECT count(*) AS granted FROM recgan_recommend(1, 3, 'sv_ease');
RESET ROLE;
ALTER TABLE recgan_models ENABLE ROW LEVEL SECURITY;
CREATE POLICY regress_hide_ease ON recgan_models FOR SELECT TO regress_recgan_reader
	USING (name <> 'sv_ease');
SET ROLE regress_recgan_reader;
SELECT * FROM recgan_recommend(1, 3, 'sv_ease');
SELECT count(*) AS visible FROM recgan_recommend(1, 3, 'sv_knn');
RESET ROLE;
-- the owner's cached (fast path) entry is not served to the reader, whether
-- the reader comes in by SET ROLE or by a SECURITY DEFINER function
SELECT count(*) AS owner_served FROM recgan_recommend(1, 3, 'sv_ease');
SELECT count(*) AS owner_served_again FROM recgan_recommend(1, 3, 'sv_ease');
CREATE FUNCTION regress_reader_recommend(m text) RETURNS bigint LANGUAGE sql SECURITY DEFINER
	AS $$ SELECT count(*) FROM public.recgan_recommend(1, 3, m) $$;
ALTER FUNCTION regress_reader_recommend(text) OWNER TO regress_recgan_reader;
SELECT regress_reader_recommend('sv_ease');
SELECT regress_reader_recommend('sv_knn') AS reader_sees_knn;
SELECT count(*) AS owner_served_after FROM recgan_recommend(1, 3, 'sv_ease');
SET ROLE regress_recgan_reader;
SELECT * FROM recgan_recommend(1, 3, 'sv_ease');
RESET ROLE;
DROP FUNCTION regress_reader_recommend(text);
DROP POLICY regress_hide_ease ON recgan_models;
ALTER TABLE recgan_models DISABLE ROW LEVEL SECURITY;
-- a user's direct access to the catalog is decided once and kept until the
-- table's privileges or the roles change: a REVOKE counts at once, also a
-- lost membership, also inside one transaction
SET ROLE regress_recgan_reader;
SELECT cardinality(recgan_recommend_ids(1, 3, 'sv_ease')) AS reader_served;
SELECT cardinality(recgan_recommend_ids(1, 3, 'sv_ease')) AS reader_served_again;
RESET ROLE;
REVOKE SELECT ON recgan_models FROM regress_recgan_reader;
SET ROLE regress_recgan_reader;
SELECT recgan_recommend_ids(1, 3, 'sv_ease');
RESET ROLE;
CREATE ROLE regress_recgan_readers;
GRANT SELECT ON recgan_models TO regress_recgan_readers;
GRANT regress_recgan_readers TO regress_recgan_reader;
SET ROLE regress_recgan_reader;
SELECT cardinality(recgan_recommend_ids(1, 3, 'sv_ease')) AS member_served;
SELECT cardinality(recgan_recommend_ids(1, 3, 'sv_ease')) AS member_served_again;
RESET ROLE;
REVOKE regress_recgan_readers FROM regress_recgan_reader;
SET ROLE regress_recgan_reader;
SELECT recgan_recommend_ids(1, 3, 'sv_ease');
RESET ROLE;
BEGIN;
GRANT regress_recgan_readers TO regress_recgan_reader;
SET LOCAL ROLE regress_recgan_reader;
SELECT cardinality(recgan_recommend_ids(1, 3, 'sv_ease')) AS member_served_in_xact;
RESET ROLE;
REVOKE regress_recgan_readers FROM regress_recgan_reader;
SET LOCAL ROLE regress_recgan_reader;
SELECT recgan_recommend_ids(1, 3, 'sv_ease');
ROLLBACK;
REVOKE SELECT ON recgan_models FROM regress_recgan_readers;
DROP ROLE regress_recgan_readers;
REVOKE USAGE ON SCHEMA public FROM regress_recgan_reader;
DROP ROLE regress_recgan_reader;

-- the hot path of recgan_recommend and recgan_recommend_ids (the memoized
-- answer of the model served last) agrees with the general path (an empty
-- exclude list takes it, with the same answer): sparse user ids (binary
-- search), users the model does not know, k below, at and above the memo's
-- 100 items, first and repeated calls, ids, scores and ranks
CREATE TABLE sv_big AS
	SELECT u * 3 AS user_id, i AS item_id, 5 AS rating
	FROM generate_series(1, 120) u, generate_series(1, 260) i
	WHERE (u * 7 + i * 13) % 11 < 3;
SELECT count(*) FROM recgan_train('sv_big', 'sv_big_ease', 'ease', '{"lambda": 10}');
SELECT count(*) AS calls,
	   count(*) FILTER (WHERE first IS DISTINCT FROM expected OR again IS DISTINCT FROM expected
						OR rows IS DISTINCT FROM expected_rows) AS different
FROM (SELECT recgan_recommend_ids(u, k, 'sv_big_ease') AS first,
			 recgan_recommend_ids(u, k, 'sv_big_ease') AS again,
			 (SELECT array_agg(r ORDER BY r.rank) FROM recgan_recommend(u, k, 'sv_big_ease') r) AS rows,
			 (SELECT array_agg(r ORDER BY r.rank)
			  FROM recgan_recommend(u, k, 'sv_big_ease', exclude => '{}') r) AS expected_rows,
			 (SELECT coalesce(array_agg(item_id ORDER BY rank), '{}')
			  FROM recgan_recommend(u, k, 'sv_big_ease', exclude => '{}')) AS expected
	  FROM generate_series(0, 365) u, unnest(ARRAY[1, 10, 100, 101, 150, 300]) k) t;
SELECT recgan_drop_model('sv_big_ease');
DROP TABLE sv_big;
