-- CFGAN: options, a small deterministic training in both modes, the shared
-- train loop (validation, early stopping, refit), reproducibility, fold-in,
-- cancel, divergence and the memory limit.
CREATE EXTENSION IF NOT EXISTS recgan;
SET client_min_messages = notice;

-- Two taste groups: odd users like odd items, even users even items; one
-- in five of those pairs is left out, to be recommended.
CREATE TABLE cr (user_id int, item_id int, rating int);
INSERT INTO cr
SELECT u, i, 5 FROM generate_series(1, 40) u, generate_series(1, 30) i
WHERE u % 2 = i % 2 AND (u * 7 + i * 3) % 5 <> 0;
-- a few cross-group ratings below the default threshold
INSERT INTO cr SELECT u, u % 30 + 1, 2 FROM generate_series(1, 40, 3) u;

-- Small networks, fast Adam: what the tests below train.
CREATE TABLE opts (name text PRIMARY KEY, o jsonb);
INSERT INTO opts VALUES ('small', '{"hidden_g": 24, "hidden_d": 8, "lr_g": 0.003, "lr_d": 0.003,
	"batch_g": 8, "batch_d": 16, "epochs": 40, "validation_fraction": 0}');

-- Bad options: each names the option, and nothing is stored.
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"lr_g": -0.001}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"lr_d": 0}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"hidden_g": 0}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"hidden_d": 0}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"hidden": 10}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"mode": "users"}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"mode": 1}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"epochs": 0}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"batch_g": 2.5}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"zr_ratio": 101}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"reg_g": -1}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"validation_fraction": 1}');
SELECT * FROM recgan_train('cr', 'bad', 'cfgan', '{"refit": "yes"}');
SELECT count(*) FROM recgan_models WHERE name = 'bad';

-- CFGAN is the default algorithm; the stored options resolve every default.
SELECT count(*) FROM recgan_train('cr', 'dflt', options => '{"epochs": 1, "hidden_g": 4, "hidden_d": 2}');
SELECT algorithm FROM recgan_models WHERE name = 'dflt';
SELECT key, value FROM recgan_models, jsonb_each(options) WHERE name = 'dflt' ORDER BY key;

-- Item-based (the default mode) and user-based: one row per epoch, finite
-- losses, no validation column without a holdout; the generator's four
-- tensors (W1 (C + Z) x H, b1, W2 C x H, b2 with C = users, resp. items).
SELECT count(*) AS epochs, bool_and(loss > 0 AND aux_loss > 0) AS finite,
	bool_and(validation IS NULL) AS no_validation, bool_and(seconds >= 0) AS timed
FROM opts, recgan_train('cr', 'item', 'cfgan', o) WHERE name = 'small';
SELECT count(*) AS epochs FROM opts,
	recgan_train('cr', 'user', 'cfgan', o || '{"mode": "user", "noise_dim": 3, "epochs": 80}') WHERE name = 'small';
SELECT name, n_users, n_items, recgan_model_header(model)->'tensors' AS tensors
FROM recgan_models WHERE name IN ('item', 'user') ORDER BY name;

-- Both learn the groups: every user's top 3 unseen items are of its parity.
SELECT m, bool_and(r.item_id % 2 = u % 2) AS same_parity, count(*) AS recommendations
FROM (VALUES ('item'), ('user')) v(m), generate_series(1, 40) u,
	recgan_recommend(u, 3, m) r
GROUP BY m ORDER BY m;
-- and the positives a user had are never recommended
SELECT count(*) AS seen_recommended
FROM recgan_recommend_all(5, 'item') r JOIN cr USING (user_id, item_id) WHERE cr.rating >= 4;

-- Fold-in of a new user from liked items: through the generator (user mode)
-- or through item similarities of the generator outputs (item mode).
SELECT m, bool_and(item_id % 2 = 1) AS odd, count(*) AS n
FROM (VALUES ('item'), ('user')) v(m), recgan_recommend_items(ARRAY[1, 3, 5, 7, 9, 11], 4, m)
GROUP BY m ORDER BY m;

-- Similar items: the fold-in scores of a history of one item (a single item
-- is a weak condition for the user-based generator, but mostly right).
SELECT m, count(*) FILTER (WHERE item_id % 2 = 0) AS even, count(*) AS n
FROM (VALUES ('item'), ('user')) v(m), recgan_similar_items(4, 5, m)
GROUP BY m ORDER BY m;

-- The same seed gives the same model bytes; another seed other bytes.
SELECT count(*) FROM opts, recgan_train('cr', 'item_again', 'cfgan', o) WHERE name = 'small';
SELECT count(*) FROM opts, recgan_train('cr', 'item_seed7', 'cfgan', o || '{"seed": 7}') WHERE name = 'small';
SELECT a.name, md5(a.model) = md5(b.model) AS same_bytes
FROM recgan_models a, recgan_models b
WHERE b.name = 'item' AND a.name IN ('item_again', 'item_seed7') ORDER BY a.name;
-- also with two BLAS threads (results may differ from one thread, but the
-- run is deterministic)
SET recgan.threads = 2;
SELECT count(*) FROM opts, recgan_train('cr', 'threads_a', 'cfgan', o || '{"mode": "user"}') WHERE name = 'small';
SELECT count(*) FROM opts, recgan_train('cr', 'threads_b', 'cfgan', o || '{"mode": "user"}') WHERE name = 'small';
RESET recgan.threads;
SELECT md5(a.model) = md5(b.model) AS deterministic_two_threads
FROM recgan_models a, recgan_models b WHERE a.name = 'threads_a' AND b.name = 'threads_b';

-- Validation: a per-user holdout, NDCG@k after every epoch; with patience 3
-- the loop stops 3 epochs after the best and, with refit, trains again on
-- all positives for that many epochs (rows numbered from 1, validation NULL).
CREATE TABLE v AS
SELECT row_number() OVER () AS n, * FROM opts,
	recgan_train('cr', 'val', 'cfgan', o || '{"epochs": 300, "patience": 3, "validation_fraction": 0.2}')
WHERE name = 'small';
SELECT count(*) FILTER (WHERE validation IS NOT NULL) < 300 AS stopped_early,
	bool_and(validation BETWEEN 0 AND 1) AS ndcg_in_range,
	count(*) FILTER (WHERE validation IS NULL) =
		(SELECT epoch FROM v WHERE validation IS NOT NULL ORDER BY validation DESC, epoch LIMIT 1)
		AS refit_epochs_are_best_epoch,
	max(epoch) FILTER (WHERE validation IS NOT NULL) -
		(SELECT epoch FROM v WHERE validation IS NOT NULL ORDER BY validation DESC, epoch LIMIT 1)
		AS epochs_after_best
FROM v;
SELECT (metrics->>'best_epoch')::int = (SELECT epoch FROM v WHERE validation IS NOT NULL
		ORDER BY validation DESC, epoch LIMIT 1) AS best_epoch_stored,
	n_interactions = (SELECT count(*) FROM cr WHERE rating >= 4) AS all_positives_stored
FROM recgan_models WHERE name = 'val';
-- without refit: only the validated epochs
SELECT count(*) FILTER (WHERE validation IS NULL) AS refit_rows
FROM opts, recgan_train('cr', 'val_norefit', 'cfgan',
	o || '{"epochs": 300, "patience": 3, "validation_fraction": 0.2, "refit": false}')
WHERE name = 'small';

-- A cancelled training leaves the previous model intact.
CREATE TABLE before AS SELECT md5(model) AS h FROM recgan_models WHERE name = 'item';
SET statement_timeout = '300ms';
SELECT count(*) FROM opts, recgan_train('cr', 'item', 'cfgan', o || '{"epochs": 100000}') WHERE name = 'small';
RESET statement_timeout;
SELECT md5(model) = (SELECT h FROM before) AS unchanged FROM recgan_models WHERE name = 'item';

-- A diverging training stops with DATA_EXCEPTION naming the epoch.
\set VERBOSITY default
SELECT count(*) FROM opts, recgan_train('cr', 'item', 'cfgan', o || '{"lr_g": 1e30, "lr_d": 1e30}') WHERE name = 'small';
SELECT md5(model) = (SELECT h FROM before) AS unchanged FROM recgan_models WHERE name = 'item';

-- The training footprint is estimated first and refused above the limit.
SET recgan.max_train_memory = '1MB';
SELECT count(*) FROM recgan_train('cr', 'big', 'cfgan', '{"hidden_g": 20000, "epochs": 1}');
RESET recgan.max_train_memory;

DROP TABLE cr, opts, v, before;
SELECT count(*) FILTER (WHERE recgan_drop_model(name)) AS dropped FROM recgan_models
WHERE name IN ('dflt', 'item', 'user', 'item_again', 'item_seed7', 'threads_a', 'threads_b',
	'val', 'val_norefit');
