-- BPR-MF and LightGCN: options, determinism, learning, fold-in, similar items.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;
SET recgan.threads = 1;

-- two taste groups of 12 users and 10 items each, plus a few cross-group likes
CREATE TABLE bl AS
SELECT u AS user_id, i AS item_id, 5 AS rating
FROM generate_series(1, 24) u, generate_series(1, 20) i
WHERE ((u <= 12) = (i <= 10) AND (u * 3 + i) % 4 <> 0) OR (u * 7 + i * 5) % 31 = 0;

-- ---- bpr
SELECT count(*) AS epochs, bool_and(loss > 0) AS positive_losses,
	(array_agg(loss ORDER BY epoch))[1] > (array_agg(loss ORDER BY epoch DESC))[1] AS loss_decreased
FROM recgan_train('bl', 'b1', 'bpr', '{"factors": 8, "batch": 32, "lr": 0.05, "epochs": 30, "patience": 0, "validation_fraction": 0}');
SELECT options FROM recgan_models WHERE name = 'b1';
SELECT header->'tensors' AS tensors FROM recgan_model_info('b1');
SELECT count(*) FROM recgan_train('bl', 'b2', 'bpr', '{"factors": 8, "batch": 32, "lr": 0.05, "epochs": 30, "patience": 0, "validation_fraction": 0}');
SELECT count(*) FROM recgan_train('bl', 'b3', 'bpr', '{"factors": 8, "batch": 32, "lr": 0.05, "epochs": 30, "patience": 0, "validation_fraction": 0, "seed": 7}');
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'b1') =
	   (SELECT md5(model) FROM recgan_models WHERE name = 'b2') AS same_seed_same_model,
	   (SELECT md5(model) FROM recgan_models WHERE name = 'b1') <>
	   (SELECT md5(model) FROM recgan_models WHERE name = 'b3') AS other_seed_other_model;
-- it learned the groups: most top-3 items come from the user's own group
-- (about 2.5 unseen own-group items per user, so 0.83 at most; random 0.17)
SELECT avg(((user_id <= 12) = (item_id <= 10))::int) > 0.6 AS mostly_own_group
FROM recgan_recommend_all(3, 'b1');
-- fold-in: the mean item vector of the history
SELECT bool_and(item_id > 10) AS foldin_group2 FROM recgan_recommend_items(ARRAY[11, 12, 13], 3, 'b1');
SELECT bool_and(item_id <= 10) AS similar_group1 FROM recgan_similar_items(2, 3, 'b1');
-- without the item bias: two tensors
SELECT count(*) FROM recgan_train('bl', 'b4', 'bpr', '{"factors": 8, "item_bias": false, "epochs": 2, "validation_fraction": 0}');
SELECT jsonb_array_length(header->'tensors') AS tensors FROM recgan_model_info('b4');
-- validation and early stopping by default; refit rows follow with NULL validation
SELECT count(*) FILTER (WHERE validation IS NOT NULL) > 0 AS validated,
	count(*) FILTER (WHERE validation IS NULL) > 0 AS refit
FROM recgan_train('bl', 'b5', 'bpr', '{"factors": 8, "batch": 32, "epochs": 6}');

-- ---- lightgcn
SELECT count(*) AS epochs, bool_and(loss > 0) AS positive_losses,
	(array_agg(loss ORDER BY epoch))[1] > (array_agg(loss ORDER BY epoch DESC))[1] AS loss_decreased
FROM recgan_train('bl', 'g1', 'lightgcn', '{"factors": 8, "batch": 32, "lr": 0.05, "epochs": 30, "patience": 0, "validation_fraction": 0}');
SELECT options FROM recgan_models WHERE name = 'g1';
SELECT header->'tensors' AS tensors FROM recgan_model_info('g1');
SELECT count(*) FROM recgan_train('bl', 'g2', 'lightgcn', '{"factors": 8, "batch": 32, "lr": 0.05, "epochs": 30, "patience": 0, "validation_fraction": 0}');
SELECT count(*) FROM recgan_train('bl', 'g3', 'lightgcn', '{"factors": 8, "batch": 32, "lr": 0.05, "epochs": 30, "patience": 0, "validation_fraction": 0, "seed": 7}');
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'g1') =
	   (SELECT md5(model) FROM recgan_models WHERE name = 'g2') AS same_seed_same_model,
	   (SELECT md5(model) FROM recgan_models WHERE name = 'g1') <>
	   (SELECT md5(model) FROM recgan_models WHERE name = 'g3') AS other_seed_other_model;
SELECT avg(((user_id <= 12) = (item_id <= 10))::int) > 0.6 AS mostly_own_group
FROM recgan_recommend_all(3, 'g1');
-- fold-in: one-hop propagation of the history's final item embeddings
SELECT bool_and(item_id > 10) AS foldin_group2 FROM recgan_recommend_items(ARRAY[11, 12, 13], 3, 'g1');
SELECT bool_and(item_id <= 10) AS foldin_group1 FROM recgan_recommend_items(ARRAY[1, 2, 3, 4], 3, 'g1');
SELECT bool_and(item_id <= 10) AS similar_group1 FROM recgan_similar_items(2, 3, 'g1');
SELECT count(*) FILTER (WHERE validation IS NOT NULL) > 0 AS validated,
	count(*) FILTER (WHERE validation IS NULL) > 0 AS refit
FROM recgan_train('bl', 'g5', 'lightgcn', '{"factors": 8, "batch": 32, "epochs": 6}');
-- lr_decay shrinks the learning rate after every epoch: another model than g1's
SELECT count(*) FROM recgan_train('bl', 'g6', 'lightgcn', '{"factors": 8, "batch": 32, "lr": 0.05, "lr_decay": 0.9, "epochs": 30, "patience": 0, "validation_fraction": 0}');
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 'g1') <>
	   (SELECT md5(model) FROM recgan_models WHERE name = 'g6') AS decay_changes_model;
-- recgan.threads splits the graph products, the batch passes and Adam once
-- the graph is large enough (600 users x 30 items, 256 factors): the same
-- model bytes at 1 and 2 threads
CREATE TABLE graph_big AS
SELECT u AS user_id, (u * 7 + k * 13) % 400 + 1 AS item_id, 5 AS rating
FROM generate_series(1, 600) u, generate_series(1, 30) k;
SELECT count(*) FROM recgan_train('graph_big', 't1', 'lightgcn', '{"factors": 256, "batch": 8192, "epochs": 3, "patience": 0, "validation_fraction": 0}');
SET recgan.threads = 2;
SELECT count(*) FROM recgan_train('graph_big', 't2', 'lightgcn', '{"factors": 256, "batch": 8192, "epochs": 3, "patience": 0, "validation_fraction": 0}');
SET recgan.threads = 1;
SELECT (SELECT md5(model) FROM recgan_models WHERE name = 't1') =
	   (SELECT md5(model) FROM recgan_models WHERE name = 't2') AS same_model_at_2_threads;
-- cancelled between two threaded kernels: an error, t2 left as it was
SELECT md5(model) AS t2_md5 FROM recgan_models WHERE name = 't2' \gset
SET recgan.threads = 2;
SET statement_timeout = '300ms';
SELECT count(*) FROM recgan_train('graph_big', 't2', 'lightgcn', '{"factors": 256, "batch": 8192, "epochs": 100000, "patience": 0, "validation_fraction": 0}');
RESET statement_timeout;
SET recgan.threads = 1;
SELECT md5(model) = :'t2_md5' AS t2_intact FROM recgan_models WHERE name = 't2';

-- ---- bad options, and no model written on error
SELECT * FROM recgan_train('bl', 'bad', 'bpr', '{"factors": 0}');
SELECT * FROM recgan_train('bl', 'bad', 'bpr', '{"lr": 0}');
SELECT * FROM recgan_train('bl', 'bad', 'bpr', '{"batch": "x"}');
SELECT * FROM recgan_train('bl', 'bad', 'bpr', '{"item_bias": 2}');
SELECT * FROM recgan_train('bl', 'bad', 'bpr', '{"factor": 8}');
SELECT * FROM recgan_train('bl', 'bad', 'lightgcn', '{"layers": 11}');
SELECT * FROM recgan_train('bl', 'bad', 'lightgcn', '{"reg": -1}');
SELECT * FROM recgan_train('bl', 'bad', 'lightgcn', '{"epochs": 0}');
SELECT * FROM recgan_train('bl', 'bad', 'lightgcn', '{"layer": 2}');
SELECT * FROM recgan_train('bl', 'bad', 'lightgcn', '{"lr_decay": 0.4}');
SET recgan.max_train_memory = 1;
SELECT * FROM recgan_train('bl', 'bad', 'lightgcn', '{"factors": 4096}');
RESET recgan.max_train_memory;
SELECT count(*) AS no_bad_model FROM recgan_models WHERE name = 'bad';
SELECT count(*) FILTER (WHERE recgan_drop_model(name)) AS dropped FROM recgan_models
WHERE name IN ('b1', 'b2', 'b3', 'b4', 'b5', 'g1', 'g2', 'g3', 'g5');
DROP TABLE bl;
