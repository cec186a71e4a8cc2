-- recgan_explain: which items of a user's history made an item's score.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;
SET recgan.threads = 1;

-- 80 users x 8 positives of 30 items, in overlapping groups
CREATE TABLE ex AS
	SELECT u::int8 AS user_id, ((u % 7) * 3 + (u * k * 5) % 11 + k)::int8 % 30 AS item_id,
		   5::float8 AS rating
	FROM generate_series(1, 80) u, generate_series(1, 8) k
	GROUP BY 1, 2;
SELECT count(*) > 0 AS trained FROM recgan_train('ex', 'ex_ease', 'ease', '{"lambda": 10}');
SELECT count(*) > 0 AS trained FROM recgan_train('ex', 'ex_sparse', 'ease', '{"lambda": 10, "neighbors": 5}');
SELECT count(*) > 0 AS trained FROM recgan_train('ex', 'ex_knn', 'itemknn', '{"neighbors": 6}');
SELECT count(*) > 0 AS trained FROM recgan_train('ex', 'ex_gfcf', 'gfcf', '{"factors": 4}');
SELECT count(*) > 0 AS trained FROM recgan_train('ex', 'ex_ials', 'ials', '{"factors": 4, "epochs": 3}');

-- Item-based models: the contributions of the whole history add up to the
-- score recgan_recommend ranks by (top 5 of 20 users, every exact model),
-- and only history items contribute.
SELECT r.m AS model, count(*) AS explained,
	   bool_and(abs(e.total - r.score) <= 1e-4 * greatest(1, abs(r.score))) AS sums_to_score,
	   bool_and(e.from_history) AS only_history
FROM (SELECT m, u, item_id, score
	  FROM unnest(ARRAY['ex_ease', 'ex_sparse', 'ex_knn', 'ex_gfcf']) m,
		   generate_series(1, 20) u,
		   LATERAL recgan_recommend(u, 5, m)) r,
	 LATERAL (SELECT coalesce(sum(x.contribution), 0) AS total,
					 coalesce(bool_and(EXISTS (SELECT 1 FROM ex
											   WHERE ex.user_id = r.u
												 AND ex.item_id = x.history_item_id)), true) AS from_history
			  FROM recgan_explain(r.u, r.item_id, r.m, 1000) x) e
GROUP BY r.m ORDER BY r.m;

-- one explanation, best first: an ItemKNN (or EASE) contribution is the
-- weight of the explained item in the history item's row, what
-- recgan_similar_items gives for the history item
SELECT item_id AS explained FROM recgan_recommend(1, 1, 'ex_knn') \gset
SELECT history_item_id, round(contribution::numeric, 4) AS contribution, rank
FROM recgan_explain(1, :explained, 'ex_knn', 3);
SELECT m AS model, bool_and(abs(x.contribution - s.score) < 1e-6) AS equals_row_weight, count(*) AS n
FROM unnest(ARRAY['ex_knn', 'ex_ease']) m,
	 LATERAL recgan_explain(1, :explained, m, 1000) x,
	 LATERAL recgan_similar_items(x.history_item_id, 1000, m) s
WHERE s.item_id = :explained
GROUP BY m ORDER BY m;

-- k limits the rows; ranks are 1..k by contribution, descending
SELECT count(*) AS rows, bool_and(rank BETWEEN 1 AND 2) AS ranks
FROM recgan_explain(1, :explained, 'ex_ease', 2);
SELECT bool_and(c_prev >= contribution) AS descending
FROM (SELECT contribution, lag(contribution) OVER (ORDER BY rank) AS c_prev
	  FROM recgan_explain(1, :explained, 'ex_ease', 1000)) t
WHERE c_prev IS NOT NULL;

-- a factor model: the history ranked by the model's similarity to the item
SELECT bool_and(abs(x.contribution - s.score) < 1e-6) AS equals_similarity,
	   count(*) = (SELECT count(*) FROM ex WHERE user_id = 1) AS whole_history
FROM recgan_explain(1, :explained, 'ex_ials', 1000) x
JOIN recgan_similar_items(:explained, 1000, 'ex_ials') s ON s.item_id = x.history_item_id;

-- explaining an item of the history itself is allowed (its score is not
-- served, but it is defined)
SELECT count(*) > 0 AS explained_seen
FROM recgan_explain(1, (SELECT min(item_id) FROM ex WHERE user_id = 1), 'ex_ease');

-- bad inputs (their SQLSTATEs are in bad_input)
SELECT * FROM recgan_explain(1, :explained, 'ex_nope');
SELECT * FROM recgan_explain(12345, :explained, 'ex_knn');
SELECT * FROM recgan_explain(1, 12345, 'ex_knn');
SELECT * FROM recgan_explain(1, :explained, 'ex_knn', 0);
SELECT count(*) AS null_user FROM recgan_explain(NULL, :explained, 'ex_knn');

SELECT recgan_drop_model(m) FROM unnest(ARRAY['ex_ease', 'ex_sparse', 'ex_knn', 'ex_gfcf', 'ex_ials']) m;
DROP TABLE ex;
