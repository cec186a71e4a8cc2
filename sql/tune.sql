-- The "tune" option: hyperparameter search inside recgan_train.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;
SET client_min_messages = notice;
\set VERBOSITY terse

-- Two taste groups of 30 users and 20 items each, 8 positives per user, a
-- few cross-group likes: enough for a validation holdout.
CREATE TABLE tr AS
SELECT u AS user_id, ((u * 7 + k * 3) % 20) + 20 * (u % 2) + 1 AS item_id, 5 AS rating
FROM generate_series(1, 60) u, generate_series(1, 8) k
UNION
SELECT u, ((u * 5) % 40) + 1, 5 FROM generate_series(1, 60, 7) u;

-- EASE over lambda: a NOTICE per trial, then the stored model is trained on
-- all positives with the best lambda (its options column shows it).
SELECT epoch FROM recgan_train('tr', 'te', 'ease',
	'{"tune": {"space": {"lambda": [0.5, 5, 50, 500]}}}', rating_col => NULL);
SELECT options, metrics->'tune'->'best' AS best, metrics->'tune'->>'metric' AS metric,
	metrics->'tune'->>'grid' AS grid, metrics->'tune'->>'stopped_by_time' AS stopped
FROM recgan_model_info('te');

-- The trial record: options, validation NDCG, seconds of every trial.
SELECT (t->>'trial')::int AS trial, t->'options' AS options,
	round((t->>'validation')::numeric, 4) AS validation, (t->>'seconds')::float8 >= 0 AS timed
FROM recgan_models m, jsonb_array_elements(m.metrics->'tune'->'trials') t
WHERE m.name = 'te' ORDER BY trial;

-- The best trial is the one of highest validation value, and the stored
-- lambda is its lambda.
SELECT (SELECT t->'options' FROM jsonb_array_elements(m.metrics->'tune'->'trials') t
		ORDER BY (t->>'validation')::float8 DESC, (t->>'trial')::int LIMIT 1)
	= m.metrics->'tune'->'best' AS best_is_max,
	(m.options->>'lambda')::float8 = (m.metrics->'tune'->'best'->>'lambda')::float8 AS stored_best
FROM recgan_models m WHERE m.name = 'te';

-- Reproducible for a seed: the same trials in the same order with the
-- same values (seconds aside); another seed draws another holdout.
CREATE FUNCTION pg_temp.trials(model_name text) RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_agg(t - 'seconds' ORDER BY (t->>'trial')::int)
	FROM recgan_models m, jsonb_array_elements(m.metrics->'tune'->'trials') t
	WHERE m.name = model_name $$;
SET client_min_messages = warning;
SELECT count(*) FROM recgan_train('tr', 'te2', 'ease',
	'{"tune": {"space": {"lambda": [0.5, 5, 50, 500]}}}', rating_col => NULL);
SELECT count(*) FROM recgan_train('tr', 'te3', 'ease',
	'{"seed": 7, "tune": {"space": {"lambda": [0.5, 5, 50, 500]}}}', rating_col => NULL);
RESET client_min_messages;
SELECT pg_temp.trials('te') = pg_temp.trials('te2') AS same_seed_same_trials,
	pg_temp.trials('te') <> pg_temp.trials('te3') AS other_seed_differs;

-- "tune": true searches the algorithm's default space less the options the
-- call sets; "trials" samples that many grid points (ItemKNN: 5 x 3).
SELECT count(*) FROM recgan_train('tr', 'tk', 'itemknn',
	'{"normalize": false, "tune": {"trials": 3}}', rating_col => NULL);
SELECT metrics->'tune'->>'grid' AS grid, jsonb_array_length(metrics->'tune'->'trials') AS trials,
	(SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(metrics->'tune'->'best') k) AS searched,
	options->>'normalize' AS normalize
FROM recgan_models WHERE name = 'tk';
SELECT count(*) FROM recgan_train('tr', 'tk2', 'itemknn',
	'{"neighbors": 10, "tune": true}', rating_col => NULL);
SELECT metrics->'tune'->'best' ? 'neighbors' AS searched_neighbors, options->>'neighbors' AS neighbors,
	metrics->'tune'->>'grid' AS grid
FROM recgan_models WHERE name = 'tk2';

-- An iterative model: each trial runs its own early-stopped loop on the
-- same holdout and records its best epoch; the stored model is trained as
-- without tuning (validated run, then refit) with the winner.
SELECT count(*) > 0 AS trained FROM recgan_train('tr', 'ti', 'ials',
	'{"factors": 4, "epochs": 6, "solver": "cholesky", "tune": {"space": {"lambda": [0.1, 10], "alpha": [1, 10]}}}',
	rating_col => NULL);
SELECT (t->>'trial')::int AS trial, t->'options' AS options, (t->>'best_epoch')::int BETWEEN 1 AND 6 AS has_epoch,
	round((t->>'validation')::numeric, 4) AS validation
FROM recgan_models m, jsonb_array_elements(m.metrics->'tune'->'trials') t
WHERE m.name = 'ti' ORDER BY trial;
SELECT options->>'refit' AS refit, metrics ? 'best_epoch' AS validated FROM recgan_models WHERE name = 'ti';

-- A time budget starts no trial after it has passed (at least one runs).
SELECT count(*) FROM recgan_train('tr', 'tb', 'ease',
	'{"tune": {"space": {"lambda": [0.5, 5, 50, 500]}, "time_budget": 1e-9}}', rating_col => NULL);
SELECT jsonb_array_length(metrics->'tune'->'trials') AS trials,
	metrics->'tune'->>'stopped_by_time' AS stopped_by_time
FROM recgan_models WHERE name = 'tb';
SELECT count(*) FROM recgan_train('tr', 'tb', 'ease',
	'{"tune": {"space": {"lambda": [0.5, 5]}, "time_budget": "1 hour"}}', rating_col => NULL);
SELECT jsonb_array_length(metrics->'tune'->'trials') AS trials,
	metrics->'tune'->>'stopped_by_time' AS stopped_by_time
FROM recgan_models WHERE name = 'tb';

-- Bad search spaces and budgets, with their SQLSTATE.
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
SET client_min_messages = warning;
SELECT a AS algorithm, o AS options,
	pg_temp.sqlstate_of(format('SELECT * FROM recgan_train(%L, %L, %L, %L, rating_col => NULL)',
							   'tr', 'bad', a, o)) AS error
FROM (VALUES
	('ease', '{"tune": 5}'),
	('ease', '{"tune": "yes"}'),
	('ease', '{"tune": {"spaces": {"lambda": [1]}}}'),
	('ease', '{"tune": {"space": [1, 2]}}'),
	('ease', '{"tune": {"space": {}}}'),
	('ease', '{"tune": {"space": {"lamda": [1, 2]}}}'),
	('ease', '{"tune": {"space": {"lambda": []}}}'),
	('ease', '{"tune": {"space": {"lambda": 100}}}'),
	('ease', '{"tune": {"space": {"lambda": [100, -1]}}}'),
	('ease', '{"tune": {"space": {"lambda": [100, "x"]}}}'),
	('ease', '{"lambda": 100, "tune": {"space": {"lambda": [1, 2]}}}'),
	('ease', '{"lambda": 100, "tune": true}'),
	('ease', '{"tune": {"space": {"seed": [1, 2]}}}'),
	('ials', '{"tune": {"space": {"validation_fraction": [0.1, 0.2]}}}'),
	('ials', '{"validation_fraction": 0, "tune": true}'),
	('ials', '{"tune": {"space": {"solver": ["cg", "lu"]}}}'),
	('popularity', '{"tune": true}'),
	('ease', '{"tune": {"trials": 0}}'),
	('ease', '{"tune": {"trials": 2.5}}'),
	('ease', '{"tune": {"trials": "8"}}'),
	('ease', '{"tune": {"time_budget": -1}}'),
	('ease', '{"tune": {"time_budget": 0}}'),
	('ease', '{"tune": {"time_budget": "-5 s"}}'),
	('ease', '{"tune": {"time_budget": "soon"}}'),
	('ease', '{"tune": {"time_budget": true}}'),
	('itemknn', '{"tune": {"space": {"neighbors": [1,2,3,4,5,6,7,8,9,10], "shrink": [1,2,3,4,5,6,7,8,9,10], "normalize": [true, false], "ease": 1}}}'),
	('itemknn', '{"tune": {"space": {"neighbors": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65]}}}'),
	('ials', '{"tune": {"space": {"factors": [1,2,3,4,5,6,7,8,9,10], "alpha": [1,2,3,4,5,6,7,8,9,10], "lambda": [1,2,3,4,5,6,7,8,9,10], "cg_steps": [1,2,3,4,5,6,7,8,9,10], "epochs": [1,2,3,4,5,6,7,8,9,10], "init_std": [0.1, 0.2]}}}')
	) AS t(a, o);
-- A background run checks the search when it is queued, a schedule when it is made.
SELECT pg_temp.sqlstate_of($$SELECT recgan_train_async('tr', 'bad', 'ease', '{"tune": {"trials": 0}}')$$) AS async;
SELECT pg_temp.sqlstate_of($$SELECT recgan_schedule('bad', '1 hour', 'tr', 'ease', '{"tune": {"space": {"lamda": [1]}}}')$$) AS schedule;
RESET client_min_messages;
SELECT count(*) AS no_bad_model FROM recgan_models WHERE name = 'bad';

-- A cancel during the search (statement_timeout in a trial of dense EASE
-- on 3,000 items, after the table is read) keeps the previous model.
CREATE TABLE tbig AS
	SELECT u AS user_id, (u * 7919 + i * 104729) % 3000 AS item_id, 5 AS rating
	FROM generate_series(1, 3000) u, generate_series(1, 60) i;
SELECT options, metrics->'tune'->'best' AS best FROM recgan_models WHERE name = 'te';
SET client_min_messages = warning;
SET statement_timeout = '2s';
SELECT * FROM recgan_train('tbig', 'te', 'ease',
	'{"tune": {"space": {"lambda": [1, 10, 100, 1000, 10000]}}}', rating_col => NULL);
RESET statement_timeout;
RESET client_min_messages;
SELECT options, metrics->'tune'->'best' AS best, n_items FROM recgan_models WHERE name = 'te';
SELECT count(*) AS recommendations FROM recgan_recommend(1, 5, 'te');
