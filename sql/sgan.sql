-- SGAN, the sparse GAN recommender: options, training through the shared
-- loop with both priors and without one, the discriminator really training
-- (adv_weight 0 is the discriminator-free twin), reproducibility, fold-in,
-- similar items, cancel, divergence, the memory limit, corrupted tensors.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;
SET client_min_messages = warning;

-- Two taste groups: odd users like odd items, even users even items; one
-- in five of those pairs is left out, to be recommended.
CREATE TABLE sr (user_id int, item_id int, rating int);
INSERT INTO sr
SELECT u, i, 5 FROM generate_series(1, 60) u, generate_series(1, 40) i
WHERE u % 2 = i % 2 AND (u * 7 + i * 3) % 5 <> 0;

-- Small networks: what the tests below train.
CREATE TABLE so (name text PRIMARY KEY, o jsonb);
INSERT INTO so VALUES ('small', '{"hidden": 16, "d_hidden": 8, "batch": 16, "lr": 0.01,
	"d_lr": 0.01, "d_negatives": 10, "epochs": 8, "validation_fraction": 0}');

-- Bad options: each names the option, and nothing is stored.
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"hidden": 0}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"dropout": 1}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"prior": "dense"}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"prior_topk": 0}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"adv_weight": -1}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"lr": 0}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"value": "tanh"}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"validation_users": -1}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"batch": 1.5}');
SELECT * FROM recgan_train('sr', 'bad', 'sgan', '{"hidden_g": 10}');
SELECT count(*) FROM recgan_models WHERE name = 'bad';

-- Every prior trains: one row per epoch with finite generator and
-- discriminator losses; the tensors of each prior (W1, b1, W2, b2, a, then
-- EASE (I, I), or the GF-CF neighbours' values and indexes (I, T)).
SELECT p, count(*) AS epochs, bool_and(loss > 0) AS g_loss, bool_and(aux_loss > 0) AS d_loss
FROM so, (VALUES ('none'), ('ease'), ('gfcf')) v(p),
	LATERAL recgan_train('sr', 's_' || p, 'sgan', o || jsonb_build_object('prior', p, 'prior_topk', 12))
WHERE name = 'small' GROUP BY p ORDER BY p;
SELECT name, n_items, recgan_model_header(model)->'tensors' AS tensors
FROM recgan_models WHERE name LIKE 's\_%' ORDER BY name;
-- "auto" resolves to EASE on a small catalogue; the stored options keep "auto"
SELECT count(*) FROM so, recgan_train('sr', 's_auto', 'sgan', o) WHERE name = 'small';
SELECT options->>'prior' AS asked, recgan_model_header(model)->'tensors' AS tensors
FROM recgan_models WHERE name = 's_auto';

-- They learn the groups: every user's top 3 unseen items are of its parity,
-- and seen positives are never recommended.
SELECT m, bool_and(r.item_id % 2 = u % 2) AS same_parity, count(*) AS recommendations
FROM (VALUES ('s_none'), ('s_ease'), ('s_gfcf')) v(m), generate_series(1, 60) u,
	recgan_recommend(u, 3, m) r
GROUP BY m ORDER BY m;
SELECT count(*) AS seen_recommended
FROM recgan_recommend_all(5, 's_gfcf') r JOIN sr USING (user_id, item_id);

-- Fold-in of a new user from liked items, and similar items.
SELECT m, bool_and(item_id % 2 = 1) AS odd, count(*) AS n
FROM (VALUES ('s_none'), ('s_gfcf')) v(m), recgan_recommend_items(ARRAY[1, 3, 5, 7, 9, 11], 4, m)
GROUP BY m ORDER BY m;
SELECT count(*) FILTER (WHERE item_id % 2 = 0) AS even, count(*) AS n
FROM recgan_similar_items(4, 5, 's_none');

-- The discriminator trains and changes the generator: the twin (adv_weight
-- 0) reports no discriminator loss and stores other weights.
SELECT count(*) AS epochs, bool_and(aux_loss IS NULL) AS no_d_loss
FROM so, recgan_train('sr', 's_twin', 'sgan', o || '{"prior": "none", "adv_weight": 0}') WHERE name = 'small';
SELECT md5(a.model) <> md5(b.model) AS adversary_changes_the_model
FROM recgan_models a, recgan_models b WHERE a.name = 's_none' AND b.name = 's_twin';
-- The hard-negative miner (value "miner") trains too and changes the generator.
SELECT count(*) AS epochs, bool_and(aux_loss > 0) AS d_loss
FROM so, recgan_train('sr', 's_miner', 'sgan', o || '{"prior": "none", "value": "miner"}') WHERE name = 'small';
SELECT md5(a.model) <> md5(b.model) AS miner_changes_the_model
FROM recgan_models a, recgan_models b WHERE a.name = 's_miner' AND b.name = 's_twin';

-- The same seed gives the same model bytes; another seed other bytes; also
-- at two threads.
SELECT count(*) FROM so, recgan_train('sr', 's_again', 'sgan', o || '{"prior": "gfcf", "prior_topk": 12}')
WHERE name = 'small';
SELECT count(*) FROM so, recgan_train('sr', 's_seed7', 'sgan', o || '{"prior": "gfcf", "prior_topk": 12, "seed": 7}')
WHERE name = 'small';
SELECT a.name, md5(a.model) = md5(b.model) AS same_bytes
FROM recgan_models a, recgan_models b
WHERE b.name = 's_gfcf' AND a.name IN ('s_again', 's_seed7') ORDER BY a.name;
SET recgan.threads = 2;
SELECT count(*) FROM so, recgan_train('sr', 's_t2a', 'sgan', o || '{"prior": "gfcf", "prior_topk": 12}') WHERE name = 'small';
SELECT count(*) FROM so, recgan_train('sr', 's_t2b', 'sgan', o || '{"prior": "gfcf", "prior_topk": 12}') WHERE name = 'small';
RESET recgan.threads;
SELECT md5(a.model) = md5(b.model) AS deterministic_two_threads
FROM recgan_models a, recgan_models b WHERE a.name = 's_t2a' AND b.name = 's_t2b';

-- Validation on a holdout with early stopping and refit, also on a sample
-- of validation users.
SELECT count(*) FILTER (WHERE validation IS NOT NULL) > 0 AS validated,
	count(*) FILTER (WHERE validation IS NULL) > 0 AS refitted,
	bool_and(validation IS NULL OR validation BETWEEN 0 AND 1) AS ndcg_in_range
FROM so, recgan_train('sr', 's_val', 'sgan',
	o || '{"epochs": 30, "patience": 3, "validation_fraction": 0.2, "validation_users": 10}')
WHERE name = 'small';

-- A cancelled training leaves the previous model intact.
CREATE TABLE sbefore AS SELECT md5(model) AS h FROM recgan_models WHERE name = 's_ease';
SET statement_timeout = '300ms';
SELECT count(*) FROM so, recgan_train('sr', 's_ease', 'sgan', o || '{"epochs": 100000}') WHERE name = 'small';
RESET statement_timeout;
SELECT md5(model) = (SELECT h FROM sbefore) AS unchanged FROM recgan_models WHERE name = 's_ease';

-- The memory limit is checked before training.
SET recgan.max_train_memory = 1;
SELECT count(*) FROM recgan_train('sr', 's_big', 'sgan', '{"hidden": 100000}');
RESET recgan.max_train_memory;
