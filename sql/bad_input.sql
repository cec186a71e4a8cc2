-- Bad input matrix: every SQL function with NULLs, empty and NULL-holding
-- arrays, extreme k and ids, non-finite ratings, odd id types, degenerate
-- tables, options at and past their bounds, hostile names and every kind of
-- relation.  Each case prints "ok (n rows)" or its SQLSTATE and message: an
-- error is always a clear one, never a crash (issue 14).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
SET client_min_messages = notice;

-- Run a query, every column of every row evaluated (an aggregate over the
-- whole row); 'ok (n rows)' or SQLSTATE: message (detail), each cut at 100
-- characters.
CREATE FUNCTION bi_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n int8;
	detail text;
BEGIN
	EXECUTE 'SELECT count(md5(bi_q::text)) FROM (' || q || ') AS bi_q' INTO n;
	RETURN 'ok (' || n || ' rows)';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ': ' || left(SQLERRM, 100)
		|| CASE WHEN detail <> '' THEN ' (' || left(detail, 100) || ')' ELSE '' END;
END
$$;

CREATE TABLE bi_cases (n serial, q text NOT NULL);
CREATE FUNCTION bi_run() RETURNS TABLE (n int, q text, outcome text) LANGUAGE sql AS $$
	SELECT n, q, bi_try(q) FROM bi_cases ORDER BY n
$$;

-- The data: 30 users x 5 items of 12, and degenerate variants.
CREATE TABLE bi AS
	SELECT u::int8 AS user_id, ((u * 5 + k * 7) % 12)::int8 AS item_id, 5::float8 AS rating
	FROM generate_series(1, 30) u, generate_series(1, 5) k;
-- each user's held-out item is one it did not train on
CREATE TABLE bi_eval AS SELECT u::int8 AS user_id, ((u * 5) % 12)::int8 AS item_id, 5::float8 AS rating
	FROM generate_series(1, 30) u;
CREATE TABLE bi_one_row AS SELECT 1::int8 AS user_id, 1::int8 AS item_id, 5::float8 AS rating;
CREATE TABLE bi_one_user AS SELECT 1::int8 AS user_id, i::int8 AS item_id, 5::float8 AS rating
	FROM generate_series(1, 8) i;
CREATE TABLE bi_one_item AS SELECT u::int8 AS user_id, 1::int8 AS item_id, 5::float8 AS rating
	FROM generate_series(1, 8) u;
CREATE TABLE bi_empty (user_id int8, item_id int8, rating float8);
CREATE TABLE bi_nulls AS SELECT NULL::int8 AS user_id, NULL::int8 AS item_id, 5::float8 AS rating
	FROM generate_series(1, 3);
CREATE TABLE bi_extreme (user_id int8, item_id int8, rating float8);
INSERT INTO bi_extreme VALUES (-9223372036854775808, -9223372036854775808, 5),
	(-9223372036854775808, 9223372036854775807, 5), (9223372036854775807, 0, 5),
	(0, 9223372036854775807, 5), (0, 0, 5);
CREATE TABLE bi_nonfinite (user_id int8, item_id int8, rating float8);
INSERT INTO bi_nonfinite VALUES (1, 1, 'NaN'), (1, 2, 'Infinity'), (2, 1, '-Infinity'),
	(2, 2, 5), (3, 1, 5), (3, 3, 'NaN');
CREATE TABLE bi_text (user_id text, item_id text, rating float8);
INSERT INTO bi_text VALUES ('a', 'x', 5), ('b', 'y', 5);
CREATE TABLE bi_float (user_id float8, item_id numeric, rating float8);
INSERT INTO bi_float VALUES (1.5, 1, 5), (2, 2.5, 5);
CREATE TABLE bi_int2 (user_id int2, item_id int4, rating int4);
INSERT INTO bi_int2 SELECT user_id, item_id, rating FROM bi;
CREATE TABLE bi_text_rating (user_id int8, item_id int8, rating text);
INSERT INTO bi_text_rating VALUES (1, 1, 'five');
CREATE VIEW bi_view AS SELECT * FROM bi WHERE user_id > 2;
CREATE TABLE bi_part (user_id int8, item_id int8, rating float8) PARTITION BY RANGE (user_id);
CREATE TABLE bi_part_lo PARTITION OF bi_part FOR VALUES FROM (MINVALUE) TO (15);
CREATE TABLE bi_part_hi PARTITION OF bi_part FOR VALUES FROM (15) TO (MAXVALUE);
INSERT INTO bi_part SELECT * FROM bi;
CREATE TEMP TABLE bi_temp AS SELECT * FROM bi;
CREATE SCHEMA "bi schema";
CREATE TABLE "bi schema"."Bi ""Quoted"" Table" AS SELECT * FROM bi;
CREATE TABLE "bi; DROP TABLE bi; --" AS SELECT * FROM bi;
-- a foreign table whose server cannot be reached: its read error is the answer
CREATE SERVER bi_nowhere FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '/nonexistent/socket/dir', port '1', dbname 'none');
CREATE USER MAPPING FOR CURRENT_USER SERVER bi_nowhere;
CREATE FOREIGN TABLE bi_foreign (user_id int8, item_id int8, rating float8) SERVER bi_nowhere;

-- Models the serving cases use (and those of earlier tests, left alone).
CREATE TEMP TABLE bi_before AS SELECT name FROM recgan_models;
SELECT count(*) > 0 AS trained FROM recgan_train('bi', 'bi_pop', 'popularity');
SELECT count(*) > 0 AS trained FROM recgan_train('bi', 'bi_ease', 'ease');
SELECT count(*) > 0 AS trained FROM recgan_train('bi', 'bi_cgan', 'cgan',
	'{"epochs": 1, "mle_epochs": 1, "embed_dim": 2, "embed_dim_d": 2, "hidden_g": 4, "hidden_d": 4, "noise_dim": 1}');

-- The cases (not echoed: each is printed with its outcome below).
\set ECHO none
-- recgan_train: NULL in every argument, then names, relations, data.
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_train(NULL, 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi', NULL, 'popularity')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', NULL)$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', NULL)$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', '{}', NULL)$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', '{}', 'user_id', NULL)$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', '{}', 'user_id', 'item_id', NULL)$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', '{}', 'user_id', 'item_id', 'rating', NULL)$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', threshold => 'NaN')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', threshold => 'Infinity')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', threshold => '-Infinity')$$),
($$SELECT * FROM recgan_train('bi', '', 'popularity')$$),
($$SELECT * FROM recgan_train('', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', '')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'no_such_algorithm')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'POPULARITY')$$),
($$SELECT * FROM recgan_train('bi', 'it''s a "model"', 'popularity')$$),
($$SELECT * FROM recgan_train('bi', 'modèle ✓ 模型', 'popularity')$$),
($$SELECT * FROM recgan_train('bi', repeat('m', 100), 'popularity')$$),
($$SELECT * FROM recgan_train('bi', '''; DROP TABLE bi; --', 'popularity')$$),
($$SELECT * FROM recgan_train('no_such_table', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi; DROP TABLE bi; --', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('"bi; DROP TABLE bi; --"', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('public.bi', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('no_schema.bi', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('"bi schema"."Bi ""Quoted"" Table"', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi schema.Bi Table', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train(repeat('x', 70), 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_view', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_part', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_part_lo', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_temp', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_foreign', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('recgan_models', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('pg_class', 'bi_m', 'popularity', user_col => 'oid', item_col => 'relnamespace', rating_col => NULL)$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', user_col => 'no_such_col')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', item_col => 'user_id')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', user_col => 'user_id; DROP TABLE bi')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'popularity', rating_col => 'item_id', threshold => 0)$$),
($$SELECT * FROM recgan_train('bi_empty', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_nulls', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_extreme', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_nonfinite', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_nonfinite', 'bi_m', 'popularity', rating_col => NULL)$$),
($$SELECT * FROM recgan_train('bi_text', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_float', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_int2', 'bi_m', 'popularity')$$),
($$SELECT * FROM recgan_train('bi_text_rating', 'bi_m', 'popularity')$$);

-- Degenerate tables with every algorithm (smallest settings).
INSERT INTO bi_cases (q)
SELECT format($$SELECT * FROM recgan_train(%L, 'bi_m', %L, %L)$$, t, a, o)
FROM unnest(ARRAY['bi_one_row', 'bi_one_user', 'bi_one_item']) t,
	(VALUES ('popularity', '{}'), ('itemknn', '{}'), ('ease', '{}'),
			('ials', '{"epochs": 1, "factors": 2}'),
			('bpr', '{"epochs": 1, "factors": 2}'),
			('lightgcn', '{"epochs": 1, "factors": 2}'),
			('gmf', '{"epochs": 1, "factors": 2}'),
			('neumf', '{"epochs": 1, "factors": 2, "mlp_factors": 1, "pretrain_epochs": 0}'),
			('cgan', '{"epochs": 1, "mle_epochs": 1, "embed_dim": 2, "embed_dim_d": 2, "hidden_g": 2, "hidden_d": 2}'),
			('cfgan', '{"epochs": 1, "hidden_g": 2, "hidden_d": 2}'),
			('cfgan', '{"epochs": 1, "hidden_g": 2, "hidden_d": 2, "mode": "user"}')) AS alg(a, o)
ORDER BY t, a, o;

-- Options: shapes and types.
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '[]')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '1')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', 'null')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"no_such_option": 1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": "abc"}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": null}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": [1]}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": {"a": 1}}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": true}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": "NaN"}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": 1e400}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'itemknn', '{"neighbors": 2.5}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'itemknn', '{"neighbors": "7"}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'itemknn', '{"normalize": 2}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'itemknn', '{"normalize": "yes"}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'cfgan', '{"mode": "both"}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'cfgan', '{"mode": 1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"seed": -1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"seed": 18446744073709551615}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"seed": 18446744073709551616}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"seed": 1.5}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": 1, "lambda": 2}')$$);

-- Options one past each bound (refused before reading the source), and the
-- cheap bounds themselves (trained).
INSERT INTO bi_cases (q)
SELECT format($$SELECT * FROM recgan_train('bi', 'bi_m', %L, %L)$$, a, jsonb_build_object(k, v))
FROM (VALUES
	('ease', 'lambda', 1e-6 / 2), ('ease', 'lambda', 1e12 * 2),
	('itemknn', 'neighbors', 0), ('itemknn', 'neighbors', 100001),
	('itemknn', 'shrink', -1e-9), ('itemknn', 'shrink', 1e9 + 1),
	('ials', 'factors', 0), ('ials', 'factors', 4097), ('ials', 'alpha', -1),
	('ials', 'lambda', 1e9 + 1), ('ials', 'cg_steps', 0), ('ials', 'cg_steps', 1001),
	('ials', 'init_std', 10.5), ('ials', 'epochs', 0), ('ials', 'epochs', 100001),
	('ials', 'patience', -1), ('ials', 'validation_fraction', 0.91),
	('ials', 'validation_k', 0), ('ials', 'validation_k', 10001), ('ials', 'refit', 2),
	('bpr', 'lr', 1e-7), ('bpr', 'lr', 10.5), ('bpr', 'batch', 0), ('bpr', 'batch', 1000001),
	('bpr', 'negatives', 0), ('bpr', 'negatives', 1001), ('bpr', 'reg', -1),
	('lightgcn', 'layers', -1), ('lightgcn', 'layers', 11), ('lightgcn', 'lr_decay', 0.49),
	('lightgcn', 'lr_decay', 1.01),
	('gmf', 'factors', 0), ('gmf', 'lr', 1e-10), ('gmf', 'batch_size', 0),
	('neumf', 'mlp_factors', 0), ('neumf', 'mlp_factors', 1025),
	('neumf', 'pretrain_epochs', -1), ('neumf', 'pretrain_epochs', 10001),
	('cgan', 'embed_dim', 0), ('cgan', 'noise_dim', -1), ('cgan', 'noise_dim', 4097),
	('cgan', 'score_samples', 0), ('cgan', 'score_samples', 1001),
	('cgan', 'temperature', 1e-4), ('cgan', 'generated_fraction', 1.01),
	('cgan', 'mle_epochs', -1), ('cgan', 'g_steps', 1001),
	('cfgan', 'hidden_g', 0), ('cfgan', 'hidden_d', 100001), ('cfgan', 'noise_dim', -1),
	('cfgan', 'lr_g', 1e-13), ('cfgan', 'lr_d', 1e31), ('cfgan', 'steps_g', 0),
	('cfgan', 'steps_d', 1001), ('cfgan', 'zr_ratio', 100.5), ('cfgan', 'pm_ratio', -0.5),
	('cfgan', 'zr_weight', -1), ('cfgan', 'batch_g', 0)) AS o(a, k, v);
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": 1e-6}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"lambda": 1e12}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'itemknn', '{"neighbors": 1, "shrink": 0}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'itemknn', '{"neighbors": 100000, "shrink": 1e9}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ials', '{"epochs": 1, "factors": 1, "cg_steps": 1, "alpha": 0, "lambda": 0, "init_std": 0}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ials', '{"epochs": 1, "factors": 2, "validation_fraction": 0.9, "validation_k": 10000, "patience": 0, "refit": false}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'bpr', '{"epochs": 1, "factors": 1, "batch": 1, "negatives": 1, "lr": 1e-6}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'bpr', '{"epochs": 1, "factors": 2, "batch": 1000000, "lr": 10}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'lightgcn', '{"epochs": 1, "factors": 2, "layers": 0, "lr_decay": 0.5}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'lightgcn', '{"epochs": 1, "factors": 2, "layers": 10, "lr_decay": 1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'neumf', '{"epochs": 1, "factors": 1, "mlp_factors": 1, "pretrain_epochs": 0, "batch_size": 1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'cgan', '{"epochs": 1, "mle_epochs": 0, "g_steps": 0, "noise_dim": 0, "embed_dim": 1, "embed_dim_d": 1, "hidden_g": 1, "hidden_d": 1, "score_samples": 1, "samples": 1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'cfgan', '{"epochs": 1, "hidden_g": 1, "hidden_d": 1, "zr_ratio": 0, "pm_ratio": 100, "steps_g": 1, "steps_d": 1, "batch_g": 1, "batch_d": 1}')$$);

-- recgan_recommend
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_recommend(NULL, 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend(1, NULL, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend(1, 5, NULL)$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', NULL)$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', true, NULL, NULL)$$),
($$SELECT * FROM recgan_recommend(1, 0, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend(1, -1, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend(1, 2147483647, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend(1, 2147483647, 'bi_ease', exclude_seen => false)$$),
($$SELECT * FROM recgan_recommend(-9223372036854775808, 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend(9223372036854775807, 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', exclude => '{}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', exclude => '{NULL}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', exclude => '{1,NULL,2}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', exclude => '{{1,2},{3,4}}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', exclude => '{-9223372036854775808,9223372036854775807,1,1}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', candidates => '{}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', candidates => '{NULL}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', candidates => '{999,-9223372036854775808}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', candidates => '{3,3,3,4}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'bi_ease', exclude => '{3}', candidates => '{3}')$$),
($$SELECT * FROM recgan_recommend(1, 5, 'no_such_model')$$),
($$SELECT * FROM recgan_recommend(1, 5, '')$$),
($$SELECT * FROM recgan_recommend(1, 5, '''; DROP TABLE bi; --')$$),
($$SELECT * FROM recgan_recommend(1, 5, repeat('é', 100))$$);

-- recgan_recommend_items (fold-in)
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_recommend_items(NULL, 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1,2}', NULL, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1,2}', 5, NULL)$$),
($$SELECT * FROM recgan_recommend_items('{}', 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{NULL}', 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1,NULL}', 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{{1},{2}}', 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{999,-1}', 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{-9223372036854775808,9223372036854775807}', 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{3,3,1,1}', 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1}', 0, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1}', -1, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1}', 2147483647, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1}', 5, 'bi_ease', '{NULL}')$$),
($$SELECT * FROM recgan_recommend_items('{1}', 5, 'bi_ease', NULL, '{}')$$),
($$SELECT * FROM recgan_recommend_items(array_fill(1::int8, ARRAY[100000]), 5, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_items('{1,2}', 5, 'bi_cgan')$$);

-- recgan_recommend_all
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_recommend_all(NULL, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_all(3, NULL)$$),
($$SELECT * FROM recgan_recommend_all(0, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_all(-1, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_all(2147483647, 'bi_ease')$$),
($$SELECT * FROM recgan_recommend_all(3, 'bi_ease', '{NULL}')$$),
($$SELECT * FROM recgan_recommend_all(3, 'bi_ease', NULL, '{}')$$),
($$SELECT * FROM recgan_recommend_all(3, 'bi_ease', NULL, '{NULL}')$$),
($$SELECT * FROM recgan_recommend_all(3, 'bi_cgan')$$),
($$SELECT * FROM recgan_recommend_all(3, 'no_such_model')$$);

-- recgan_similar_items
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_similar_items(NULL, 5, 'bi_ease')$$),
($$SELECT * FROM recgan_similar_items(1, NULL, 'bi_ease')$$),
($$SELECT * FROM recgan_similar_items(1, 5, NULL)$$),
($$SELECT * FROM recgan_similar_items(1, 0, 'bi_ease')$$),
($$SELECT * FROM recgan_similar_items(1, -1, 'bi_ease')$$),
($$SELECT * FROM recgan_similar_items(1, 2147483647, 'bi_ease')$$),
($$SELECT * FROM recgan_similar_items(999, 5, 'bi_ease')$$),
($$SELECT * FROM recgan_similar_items(-9223372036854775808, 5, 'bi_ease')$$),
($$SELECT * FROM recgan_similar_items(1, 5, 'bi_pop')$$),
($$SELECT * FROM recgan_similar_items(1, 5, 'bi_cgan')$$),
($$SELECT * FROM recgan_similar_items(1, 5, 'no_such_model')$$);

-- Model management
INSERT INTO bi_cases (q) VALUES
($$SELECT recgan_model_header(NULL)$$),
($$SELECT recgan_model_header('')$$),
($$SELECT recgan_model_header('\x00')$$),
($$SELECT recgan_model_header(decode(repeat('00', 192), 'hex'))$$),
($$SELECT recgan_model_header(decode(repeat('ff', 1000), 'hex'))$$),
($$SELECT recgan_model_header(substr(model, 1, 191)) FROM recgan_models WHERE name = 'bi_ease'$$),
($$SELECT recgan_model_header(substr(model, 1, octet_length(model) - 1)) FROM recgan_models WHERE name = 'bi_ease'$$),
($$SELECT recgan_model_header(model || '\x00'::bytea) FROM recgan_models WHERE name = 'bi_ease'$$),
($$SELECT recgan_model_header(set_byte(model, 300, get_byte(model, 300) # 1)) FROM recgan_models WHERE name = 'bi_ease'$$),
($$SELECT * FROM recgan_model_info(NULL)$$),
($$SELECT * FROM recgan_model_info('no_such_model')$$),
($$SELECT * FROM recgan_model_info('''; DROP TABLE bi; --')$$),
($$SELECT recgan_drop_model(NULL)$$),
($$SELECT recgan_drop_model('bi_ease', NULL)$$),
($$SELECT recgan_drop_model('no_such_model')$$),
($$SELECT recgan_drop_model('no_such_model', true)$$),
($$SELECT recgan_cache_stats()$$);

-- recgan_evaluate
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_evaluate(NULL, 'bi_eval')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', NULL)$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', NULL)$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{}')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{NULL}')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{0}')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{-1}')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{2147483647}')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{{1},{2}}')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{5}', user_col => NULL)$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{5}', threshold => 'NaN')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{5}', sampled => 0)$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{5}', sampled => -1)$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{5}', sampled => 2147483647)$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_eval', '{5}', sampled => 3, seed => NULL)$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_empty')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_extreme')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_text')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi_foreign')$$),
($$SELECT * FROM recgan_evaluate('bi_ease', 'bi; DROP TABLE bi; --')$$),
($$SELECT * FROM recgan_evaluate('bi_cgan', 'bi_eval', '{5}')$$);

-- recgan_split
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_split(NULL, 'bi_tr', 'bi_te')$$),
($$SELECT * FROM recgan_split('bi', NULL, 'bi_te')$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', NULL)$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', NULL)$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', 'no_such_method')$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', 'random', NULL)$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', 'random', -0.1)$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', 'random', 1.5)$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', 'random', 'NaN')$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', 'random', 0.2, NULL)$$),
($$SELECT * FROM recgan_split('bi', 'bi_same', 'bi_same')$$),
($$SELECT * FROM recgan_split('bi', 'bi', 'bi_te')$$),
($$SELECT * FROM recgan_split('bi', '"bi_tr; DROP TABLE bi; --"', 'bi_te')$$),
($$SELECT * FROM recgan_split('bi', 'bi_tr', 'bi_te', 'temporal')$$),
($$SELECT * FROM recgan_split('bi_foreign', 'bi_tr2', 'bi_te2')$$),
($$SELECT * FROM recgan_split('bi_empty', 'bi_tr3', 'bi_te3')$$);

-- Scheduling and runs (argument checks come before the launcher's)
INSERT INTO bi_cases (q) VALUES
($$SELECT recgan_schedule(NULL, '1 hour', 'bi')$$),
($$SELECT recgan_schedule('bi_s', NULL, 'bi')$$),
($$SELECT recgan_schedule('bi_s', '1 hour', NULL)$$),
($$SELECT recgan_schedule('bi_s', '0', 'bi')$$),
($$SELECT recgan_schedule('bi_s', '-1 hour', 'bi')$$),
($$SELECT recgan_schedule('bi_s', '1 hour', 'bi', min_new_rows => -1)$$),
($$SELECT recgan_schedule('bi_s', '1 hour', 'bi', 'no_such_algorithm')$$),
($$SELECT recgan_schedule('bi_s', '1 hour', 'bi', 'ease', '{"lambda": -1}')$$),
($$SELECT recgan_schedule('bi_s', '1 hour', 'no_such_table')$$),
($$SELECT recgan_schedule('bi_s', '1 hour', 'bi', owner => 'no_such_role')$$),
($$SELECT recgan_unschedule(NULL)$$),
($$SELECT recgan_unschedule('no_such_model')$$),
($$SELECT recgan_train_async(NULL)$$),
($$SELECT recgan_train_async('bi', NULL)$$),
($$SELECT recgan_train_async('bi', 'bi_a', 'no_such_algorithm')$$),
($$SELECT recgan_train_async('no_such_table', 'bi_a', 'ease')$$),
($$SELECT recgan_cancel(NULL)$$),
($$SELECT recgan_cancel(-9223372036854775808)$$),
($$SELECT recgan_cancel(9223372036854775807)$$),
($$SELECT * FROM recgan_run_progress()$$);

-- gfcf (appended, so the case numbers above stay): degenerate tables,
-- options one past each bound, and the bounds themselves (trained).
INSERT INTO bi_cases (q)
SELECT format($$SELECT * FROM recgan_train(%L, 'bi_m', 'gfcf')$$, t)
FROM unnest(ARRAY['bi_one_row', 'bi_one_user', 'bi_one_item']) t;
INSERT INTO bi_cases (q)
SELECT format($$SELECT * FROM recgan_train('bi', 'bi_m', 'gfcf', %L)$$, jsonb_build_object(k, v))
FROM (VALUES
	('factors', 0), ('factors', 4097), ('alpha', -1e-9), ('alpha', 1e6 + 1),
	('power_iters', -1), ('power_iters', 101), ('oversample', -1), ('oversample', 4097)) AS o(k, v);
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_train('bi', 'bi_m', 'gfcf', '{"factors": 1, "alpha": 0, "power_iters": 0, "oversample": 0}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'gfcf', '{"factors": 4096, "alpha": 1e6, "power_iters": 100, "oversample": 4096}')$$);
-- sparse EASE: neighbors must be an integer in [0, 100000]; the extremes train
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": -1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": 100001}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": 2.5}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": "7"}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": null}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": 1e400}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": 1}')$$),
($$SELECT * FROM recgan_train('bi', 'bi_m', 'ease', '{"neighbors": 100000, "lambda": 1e-6}')$$),
($$SELECT * FROM recgan_train('bi_one_item', 'bi_m', 'ease', '{"neighbors": 5}')$$);
-- recgan_explain (appended, so the case numbers above stay)
INSERT INTO bi_cases (q) VALUES
($$SELECT * FROM recgan_explain(1, 1, 'bi_ease')$$),
($$SELECT * FROM recgan_explain(NULL, 1, 'bi_ease')$$),
($$SELECT * FROM recgan_explain(1, NULL, 'bi_ease')$$),
($$SELECT * FROM recgan_explain(1, 1, NULL)$$),
($$SELECT * FROM recgan_explain(1, 1, 'bi_ease', NULL)$$),
($$SELECT * FROM recgan_explain(1, 1, 'bi_ease', 0)$$),
($$SELECT * FROM recgan_explain(1, 1, 'bi_ease', -1)$$),
($$SELECT * FROM recgan_explain(1, 1, 'bi_ease', 2147483647)$$),
($$SELECT * FROM recgan_explain(999, 1, 'bi_ease')$$),
($$SELECT * FROM recgan_explain(-9223372036854775808, 1, 'bi_ease')$$),
($$SELECT * FROM recgan_explain(1, 999, 'bi_ease')$$),
($$SELECT * FROM recgan_explain(1, 1, 'bi_pop')$$),
($$SELECT * FROM recgan_explain(1, 1, 'bi_cgan')$$),
($$SELECT * FROM recgan_explain(1, 1, 'no_such_model')$$);
-- recgan_recommend_ids (appended, so the case numbers above stay)
INSERT INTO bi_cases (q) VALUES
($$SELECT recgan_recommend_ids(1, 5, 'bi_ease')$$),
($$SELECT recgan_recommend_ids(NULL, 5, 'bi_ease')$$),
($$SELECT recgan_recommend_ids(1, NULL, 'bi_ease')$$),
($$SELECT recgan_recommend_ids(1, 5, NULL)$$),
($$SELECT recgan_recommend_ids(1, 5, 'bi_ease', NULL)$$),
($$SELECT recgan_recommend_ids(1, 5, 'bi_ease', live_history => NULL)$$),
($$SELECT recgan_recommend_ids(1, 0, 'bi_ease')$$),
($$SELECT recgan_recommend_ids(1, -1, 'bi_ease')$$),
($$SELECT recgan_recommend_ids(1, 2147483647, 'bi_ease')$$),
($$SELECT recgan_recommend_ids(-9223372036854775808, 5, 'bi_ease')$$),
($$SELECT recgan_recommend_ids(1, 5, 'bi_ease', exclude => '{NULL}')$$),
($$SELECT recgan_recommend_ids(1, 5, 'bi_ease', exclude => '{{1,2},{3,4}}')$$),
($$SELECT recgan_recommend_ids(1, 5, 'bi_ease', candidates => '{}')$$),
($$SELECT recgan_recommend_ids(1, 5, 'bi_ease', candidates => '{NULL}')$$),
($$SELECT recgan_recommend_ids(1, 5, 'bi_cgan', live_history => true)$$),
($$SELECT recgan_recommend_ids(1, 5, 'no_such_model')$$),
($$SELECT recgan_recommend_ids(1, 5, '''; DROP TABLE bi; --')$$);

\set ECHO all
SELECT count(*) >= 80 AS at_least_80_cases FROM bi_cases;
\pset format unaligned
\pset tuples_only on
SELECT n || ' | ' || q || E'\n    -> ' || outcome FROM bi_run();
\pset tuples_only off
\pset format aligned

-- Nothing above broke the data or the catalog; the models it stored:
SELECT count(*) AS bi_rows FROM bi;
SELECT name, algorithm, source FROM recgan_models
WHERE name NOT IN (SELECT name FROM bi_before) ORDER BY name COLLATE "C";
SELECT count(*) AS schedules FROM recgan_schedules WHERE model LIKE 'bi\_%';

DELETE FROM recgan_models WHERE name NOT IN (SELECT name FROM bi_before);
DROP TABLE bi_cases, bi, bi_one_row, bi_one_user, bi_one_item, bi_empty, bi_nulls, bi_extreme,
	bi_nonfinite, bi_text, bi_float, bi_int2, bi_text_rating, bi_part, bi_eval, "bi; DROP TABLE bi; --",
	bi_before CASCADE;
DROP TABLE IF EXISTS bi_tr, bi_te, bi_tr2, bi_te2, bi_tr3, bi_te3, "bi_tr; DROP TABLE bi; --";
DROP SCHEMA "bi schema" CASCADE;
DROP FOREIGN TABLE bi_foreign;
DROP USER MAPPING FOR CURRENT_USER SERVER bi_nowhere;
DROP SERVER bi_nowhere;
DROP FUNCTION bi_run(), bi_try(text);
