-- GF-CF: options, determinism, recommend, fold-in, similar items, bad options.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;

-- two taste groups of 15 users and 10 items each, plus a few cross-group likes
CREATE TABLE gf AS
SELECT u AS user_id, i AS item_id, 5 AS rating
FROM generate_series(1, 30) u, generate_series(1, 20) i
WHERE ((u <= 15) = (i <= 10) AND (u * 3 + i) % 4 <> 0) OR (u * 7 + i * 5) % 31 = 0;

-- closed form: one row, epoch 1; the resolved options are stored
SELECT epoch, loss IS NULL AS no_loss, validation IS NULL AS no_validation
FROM recgan_train('gf', 'gf', 'gfcf', '{"factors": 8}');
SELECT options FROM recgan_models WHERE name = 'gf';
SELECT header->'tensors' AS tensors FROM recgan_model_info('gf');

-- same seed, same bytes; another seed, other bytes
SELECT count(*) FROM recgan_train('gf', 'gf2', 'gfcf', '{"factors": 8}');
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'gf') =
	   (SELECT md5(model) FROM recgan_models WHERE name = 'gf2') AS same_seed_same_model;
SELECT count(*) FROM recgan_train('gf', 'gf3', 'gfcf', '{"factors": 8, "seed": 7}');
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'gf') <>
	   (SELECT md5(model) FROM recgan_models WHERE name = 'gf3') AS other_seed_other_model;
-- at 2 threads too (recgan's sparse products give the same bits at any
-- thread count, OpenBLAS's QR and eigensolver only for one count)
SET recgan.threads = 2;
SELECT count(*) FROM recgan_train('gf', 'gf4', 'gfcf', '{"factors": 8}');
SELECT count(*) FROM recgan_train('gf', 'gf5', 'gfcf', '{"factors": 8}');
RESET recgan.threads;
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'gf4') =
	   (SELECT md5(model) FROM recgan_models WHERE name = 'gf5') AS same_seed_same_model_two_threads;

-- factors beyond the catalogue keep min(factors, users, items) = 20 vectors
SELECT count(*) FROM recgan_train('gf', 'gf_wide', 'gfcf', '{"factors": 4096}');
SELECT header->'tensors' AS tensors FROM recgan_model_info('gf_wide');

-- it learned the groups: a group-1 user gets group-1 items, a group-2 user group-2 items
SELECT bool_and(item_id <= 10) AS group1_items FROM recgan_recommend(1, 3, 'gf');
SELECT bool_and(item_id > 10) AS group2_items FROM recgan_recommend(20, 3, 'gf');
SELECT count(*) AS rows, count(DISTINCT user_id) AS users FROM recgan_recommend_all(3, 'gf');
-- fold-in scores a history exactly as the known user with that history
SELECT bool_and(r.item_id = f.item_id AND round(r.score::numeric, 4) = round(f.score::numeric, 4))
	AS foldin_equals_known_user
FROM recgan_recommend(1, 5, 'gf') r
JOIN recgan_recommend_items((SELECT array_agg(item_id) FROM gf WHERE user_id = 1), 5, 'gf') f
	USING (rank);
SELECT bool_and(item_id > 10) AS foldin_group2 FROM recgan_recommend_items(ARRAY[11, 12, 13], 3, 'gf');
-- similar items: the scores of a one-item history, in the item's group
SELECT bool_and(item_id <= 10) AS similar_group1 FROM recgan_similar_items(2, 3, 'gf');
SELECT bool_and(s.item_id = f.item_id) AS similar_is_one_item_history
FROM recgan_similar_items(15, 4, 'gf') s
JOIN recgan_recommend_items(ARRAY[15], 4, 'gf') f USING (rank);
-- alpha 0 is the linear filter alone
SELECT count(*) FROM recgan_train('gf', 'gf_linear', 'gfcf', '{"factors": 8, "alpha": 0}');
SELECT bool_and(item_id > 10) AS linear_group2 FROM recgan_recommend(20, 3, 'gf_linear');
-- on a held-out split it ranks the held-out items above popularity does
SELECT split, rows FROM recgan_split('gf', 'gf_tr', 'gf_te', 'random', 0.2) ORDER BY split;
SELECT count(*) FROM recgan_train('gf_tr', 'gf_tr', 'gfcf', '{"factors": 8}');
SELECT count(*) FROM recgan_train('gf_tr', 'gf_pop', 'popularity');
SELECT g.metric, round(g.value::numeric, 3) AS gfcf, round(p.value::numeric, 3) AS popularity,
	g.value > p.value AS gfcf_better
FROM recgan_evaluate('gf_tr', 'gf_te', '{5}') g
JOIN recgan_evaluate('gf_pop', 'gf_te', '{5}') p USING (metric, k)
WHERE metric IN ('recall', 'ndcg') ORDER BY metric;

-- bad options: SQLSTATE and message
CREATE FUNCTION gf_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT o, gf_try(format($$SELECT * FROM recgan_train('gf', 'bad', 'gfcf', %L)$$, o))
FROM unnest(ARRAY['{"factors": 0}', '{"factors": 4097}', '{"factors": 2.5}', '{"alpha": -0.1}',
				  '{"alpha": 1000001}', '{"alpha": "x"}', '{"power_iters": -1}',
				  '{"power_iters": 101}', '{"oversample": -1}', '{"oversample": 4097}',
				  '{"factor": 8}', '{"lambda": 1}']) o;
SELECT count(*) AS no_bad_model FROM recgan_models WHERE name = 'bad';
DROP FUNCTION gf_try(text);
DROP TABLE gf, gf_tr, gf_te;
DELETE FROM recgan_models
WHERE name IN ('gf', 'gf2', 'gf3', 'gf4', 'gf5', 'gf_wide', 'gf_linear', 'gf_tr', 'gf_pop');
