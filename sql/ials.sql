-- iALS: options, determinism, learning, fold-in, similar items.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;

-- two taste groups of 12 users and 10 items each, plus a few cross-group likes
CREATE TABLE ia AS
SELECT u AS user_id, i AS item_id, 5 AS rating
FROM generate_series(1, 24) u, generate_series(1, 20) i
WHERE ((u <= 12) = (i <= 10) AND (u * 3 + i) % 4 <> 0) OR (u * 7 + i * 5) % 31 = 0;

SELECT count(*) > 1 AS several_epochs,
	bool_and(loss > 0) AS positive_losses
FROM recgan_train('ia', 'ia', 'ials', '{"factors": 8, "epochs": 10, "patience": 0, "validation_fraction": 0}');
SELECT options FROM recgan_models WHERE name = 'ia';
SELECT header->'tensors' AS tensors FROM recgan_model_info('ia');

-- the loss decreases over the epochs
SELECT bool_and(loss <= prev + 1e-9) AS loss_never_rises
FROM (SELECT loss, lag(loss) OVER (ORDER BY epoch) AS prev
	  FROM recgan_train('ia', 'ia2', 'ials', '{"factors": 8, "epochs": 10, "patience": 0, "validation_fraction": 0}')) t
WHERE prev IS NOT NULL;

-- same seed, same bytes; another seed, other bytes
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'ia') =
	   (SELECT md5(model) FROM recgan_models WHERE name = 'ia2') AS same_seed_same_model;
SELECT count(*) FROM recgan_train('ia', 'ia3', 'ials', '{"factors": 8, "epochs": 10, "patience": 0, "validation_fraction": 0, "seed": 7}');
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'ia') <>
	   (SELECT md5(model) FROM recgan_models WHERE name = 'ia3') AS other_seed_other_model;

-- it learned the groups: a group-1 user gets group-1 items, a group-2 user group-2 items
SELECT bool_and(item_id <= 10) AS group1_items FROM recgan_recommend(1, 3, 'ia');
SELECT bool_and(item_id > 10) AS group2_items FROM recgan_recommend(20, 3, 'ia');
-- fold-in solves a new user's factors from their history
SELECT bool_and(item_id > 10) AS foldin_group2 FROM recgan_recommend_items(ARRAY[11, 12, 13], 3, 'ia');
-- similar items by factor cosine stay in the group
SELECT bool_and(item_id <= 10) AS similar_group1 FROM recgan_similar_items(2, 3, 'ia');

-- validation and early stopping by default; refit rows follow with NULL validation
SELECT count(*) FILTER (WHERE validation IS NOT NULL) > 0 AS validated,
	count(*) FILTER (WHERE validation IS NULL) > 0 AS refit
FROM recgan_train('ia', 'ia4', 'ials', '{"factors": 8, "epochs": 6}');

-- bad options
SELECT * FROM recgan_train('ia', 'bad', 'ials', '{"factors": 0}');
SELECT * FROM recgan_train('ia', 'bad', 'ials', '{"alpha": -1}');
SELECT * FROM recgan_train('ia', 'bad', 'ials', '{"lambda": "x"}');
SELECT * FROM recgan_train('ia', 'bad', 'ials', '{"epochs": 0}');
SELECT * FROM recgan_train('ia', 'bad', 'ials', '{"factor": 8}');
SELECT count(*) AS no_bad_model FROM recgan_models WHERE name = 'bad';
