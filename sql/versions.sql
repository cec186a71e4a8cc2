-- Model versions: every training stores a new version; recgan_deploy and
-- recgan_rollback choose the one served; best_score promotion; pruning;
-- chunked versions; dropping; row-level security; bad inputs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
SET client_min_messages = notice;

-- Two taste groups of 30 users and 20 items each (as tune.sql): enough for a
-- validation holdout.
CREATE TABLE vr AS
SELECT u AS user_id, ((u * 7 + k * 3) % 20) + 20 * (u % 2) + 1 AS item_id, 5 AS rating
FROM generate_series(1, 60) u, generate_series(1, 8) k
UNION
SELECT u, ((u * 5) % 40) + 1, 5 FROM generate_series(1, 60, 7) u;

-- The versions of a list, for reading the output.
CREATE FUNCTION vr_versions(model_name text)
RETURNS TABLE (version int, deployed bool, algorithm text, ever_deployed bool, size_ok bool)
LANGUAGE sql AS $$
	SELECT v.version, v.deployed, v.algorithm, v.deployed_at IS NOT NULL,
		   v.size_bytes = octet_length(coalesce(m.model, a.model))
	FROM recgan_model_versions v
		LEFT JOIN recgan_models m ON m.name = v.name AND m.version = v.version
		LEFT JOIN recgan_model_archive a ON a.name = v.name AND a.version = v.version
	WHERE v.name = model_name ORDER BY v.version
$$;

-- A statement's outcome: 'ok' or SQLSTATE: message (hint).
CREATE FUNCTION vr_try(q text, OUT outcome text) LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE q;
	outcome := 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	outcome := SQLSTATE || ': ' || SQLERRM || coalesce(' (' || nullif(hint, '') || ')', '');
END
$$;

-- Three trainings of one name: versions 1, 2, 3; the newest is deployed.
SELECT count(*) FROM recgan_train('vr', 'vm', 'popularity', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vm', 'ease', '{"lambda": 10}', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vm', 'itemknn', rating_col => NULL);
SELECT * FROM vr_versions('vm');
SELECT version, algorithm, last_version FROM recgan_models WHERE name = 'vm';
SELECT version, algorithm FROM recgan_model_info('vm');
-- every model's bytes are stored once: each version in exactly one table
SELECT (SELECT count(*) FROM recgan_models WHERE name = 'vm') AS deployed_rows,
	(SELECT count(*) FROM recgan_model_archive WHERE name = 'vm') AS archived_rows;

-- References to compare what is served with.
SELECT count(*) FROM recgan_train('vr', 'vm_pop', 'popularity', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vm_knn', 'itemknn', rating_col => NULL);
CREATE FUNCTION vr_serves(model_name text, reference text) RETURNS bool LANGUAGE sql AS $$
	SELECT NOT EXISTS (
		(SELECT * FROM recgan_recommend_all(5, model_name)
		 EXCEPT SELECT * FROM recgan_recommend_all(5, reference))
		UNION ALL
		(SELECT * FROM recgan_recommend_all(5, reference)
		 EXCEPT SELECT * FROM recgan_recommend_all(5, model_name)))
$$;

-- deploy: version 1 is served from now on, in this session (whose cache
-- holds version 3) too
SELECT vr_serves('vm', 'vm_knn') AS serves_v3;
SELECT recgan_deploy('vm', 1);
SELECT vr_serves('vm', 'vm_pop') AS serves_v1;
SELECT * FROM vr_versions('vm');
SELECT version, algorithm, last_version FROM recgan_models WHERE name = 'vm';
-- deploying the deployed version changes nothing
SELECT recgan_deploy('vm', 1);
-- rollback goes back to the version deployed before (3); twice in a row is
-- back where it started
SELECT recgan_rollback('vm');
SELECT vr_serves('vm', 'vm_knn') AS serves_v3;
SELECT recgan_rollback('vm');
SELECT version, algorithm FROM recgan_model_info('vm');
SELECT recgan_deploy('vm', 2);
SELECT recgan_rollback('vm');
SELECT * FROM vr_versions('vm');
-- in a transaction that rolls back, a deploy is undone
BEGIN;
SELECT recgan_deploy('vm', 3);
SELECT version FROM recgan_models WHERE name = 'vm';
ROLLBACK;
SELECT version FROM recgan_models WHERE name = 'vm';
-- a new training continues the numbering and is deployed (most_recent)
SELECT count(*) FROM recgan_train('vr', 'vm', 'popularity', rating_col => NULL);
SELECT * FROM vr_versions('vm');

-- a model trained once has nothing to roll back to
SELECT count(*) FROM recgan_train('vr', 'vm_once', 'popularity', rating_col => NULL);
SELECT vr_try($$SELECT recgan_rollback('vm_once')$$);

-- best_score: iALS with a validation holdout (the default 0.1 of each
-- user's positives); a crippled retrain (1 factor, 1 epoch) is stored but
-- not deployed, a better one is deployed
\set VERBOSITY terse
SELECT count(*) FROM recgan_train('vr', 'vb', 'ials', '{"factors": 8, "epochs": 5}', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vb', 'ials',
	'{"factors": 1, "epochs": 1, "deploy": "best_score"}', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vb', 'ials',
	'{"factors": 16, "epochs": 8, "deploy": "best_score"}', rating_col => NULL);
\set VERBOSITY default
SELECT v.version, v.deployed, (v.metrics->>'validation')::float8 >
	(SELECT (w.metrics->>'validation')::float8 FROM recgan_model_versions w
	 WHERE w.name = 'vb' AND w.version = 1) AS better_than_v1
FROM recgan_model_versions v WHERE v.name = 'vb' ORDER BY v.version;
SELECT version, options->>'factors' AS factors FROM recgan_models WHERE name = 'vb';
-- the refused version can still be deployed by hand
SELECT recgan_deploy('vb', 2);
SELECT recgan_rollback('vb');
-- no validation metric on one side: deployed without comparison, saying why
SELECT count(*) FROM recgan_train('vr', 'vb', 'ease', '{"deploy": "best_score"}', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vb', 'ials', '{"factors": 1, "epochs": 1, "deploy": "best_score"}',
	rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vb', 'ials',
	'{"factors": 1, "epochs": 1, "validation_fraction": 0, "deploy": "best_score"}', rating_col => NULL);
SELECT version, algorithm, deployed FROM recgan_model_versions WHERE name = 'vb' ORDER BY version;

-- pruning: at most keep_versions versions (default 5, the deployed one
-- included) are kept; the undeployed ones of lowest number go first (above:
-- version 1 went when version 6 was stored); the deployed one never goes
SELECT recgan_deploy('vb', 2);
SELECT count(*) FROM recgan_train('vr', 'vb', 'popularity', '{"keep_versions": 2}', rating_col => NULL);
SELECT version, algorithm, deployed FROM recgan_model_versions WHERE name = 'vb' ORDER BY version;
-- keep_versions 1: only the deployed version; a refused one is not kept
SELECT count(*) FROM recgan_train('vr', 'vb', 'ials',
	'{"factors": 8, "epochs": 5}', rating_col => NULL);
\set VERBOSITY terse
SELECT count(*) FROM recgan_train('vr', 'vb', 'ials',
	'{"factors": 1, "epochs": 1, "deploy": "best_score", "keep_versions": 1}', rating_col => NULL);
\set VERBOSITY default
SELECT version, algorithm, deployed FROM recgan_model_versions WHERE name = 'vb' ORDER BY version;
-- numbers are never given twice
SELECT count(*) FROM recgan_train('vr', 'vb', 'popularity', rating_col => NULL);
SELECT version, deployed FROM recgan_model_versions WHERE name = 'vb' ORDER BY version;

-- a training that fails or is cancelled leaves versions and the deployed
-- model as they were
CREATE TEMP TABLE vr_before AS
	SELECT name, version, deployed, trained_at FROM recgan_model_versions;
SELECT vr_try($$SELECT * FROM recgan_train('vr', 'vm', 'ials', '{"factors": 0}', rating_col => NULL)$$);
SET statement_timeout = '200ms';
SELECT count(*) FROM recgan_train('vr', 'vm', 'bpr', '{"epochs": 100000, "patience": 0}',
	rating_col => NULL);
RESET statement_timeout;
BEGIN;
SELECT count(*) FROM recgan_train('vr', 'vm', 'popularity', rating_col => NULL);
ROLLBACK;
SELECT count(*) AS changed FROM (
	(SELECT name, version, deployed, trained_at FROM recgan_model_versions EXCEPT SELECT * FROM vr_before)
	UNION ALL
	(SELECT * FROM vr_before EXCEPT SELECT name, version, deployed, trained_at FROM recgan_model_versions)) d;
SELECT vr_serves('vm', 'vm_pop') AS still_serves_v4;

-- chunked versions: each version's chunks are its own; deploying an old
-- chunked version serves it; pruning and dropping take their chunks
CREATE TABLE vr_ck AS
SELECT u AS user_id, (u * 13 + k * 7) % 300 + 1 AS item_id, 5 AS rating
FROM generate_series(1, 200) u, generate_series(1, 60) k;
SELECT count(*) FROM recgan_train('vr_ck', 'vc_ref', 'ease', '{"lambda": 10}');
SET recgan.model_chunk_size = '64kB';
SELECT count(*) FROM recgan_train('vr_ck', 'vc', 'ease', '{"lambda": 10}');
SELECT count(*) FROM recgan_train('vr_ck', 'vc', 'ease', '{"lambda": 500}');
RESET recgan.model_chunk_size;
SELECT count(*) FROM recgan_train('vr_ck', 'vc', 'popularity');
SELECT version, count(*) AS chunks, sum(octet_length(data)) AS bytes
FROM recgan_model_chunks WHERE name = 'vc' GROUP BY version ORDER BY version;
SELECT v.version, v.deployed, v.size_bytes = r.size_bytes AS same_size_as_ref
FROM recgan_model_versions v, recgan_model_versions r
WHERE v.name = 'vc' AND r.name = 'vc_ref' ORDER BY v.version;
SELECT recgan_deploy('vc', 1);
SELECT vr_serves('vc', 'vc_ref') AS serves_chunked_v1;
SELECT header->>'chunks' AS chunks, header->>'model_version' AS chunks_of_version,
	header->>'manifest_version' AS manifest FROM recgan_model_info('vc');
SELECT recgan_deploy('vc', 2);
SELECT vr_serves('vc', 'vc_ref') AS serves_v1_after_deploying_v2;
SELECT recgan_rollback('vc');
SELECT vr_serves('vc', 'vc_ref') AS serves_v1_after_rollback;
-- version 4 deployed, keep_versions 3: version 1 (the undeployed one of
-- lowest number) is pruned, and its chunks with it
SELECT count(*) FROM recgan_train('vr_ck', 'vc', 'popularity', '{"deploy": "best_score", "keep_versions": 3}');
SELECT version, deployed FROM recgan_model_versions WHERE name = 'vc' ORDER BY version;
SELECT version, count(*) AS chunks FROM recgan_model_chunks WHERE name = 'vc' GROUP BY version ORDER BY version;
-- dropping a model drops every version and every chunk
SELECT recgan_drop_model('vc');
SELECT (SELECT count(*) FROM recgan_model_versions WHERE name = 'vc') AS versions,
	(SELECT count(*) FROM recgan_model_chunks WHERE name = 'vc') AS chunks;
-- so does a plain DELETE of the deployed row
SELECT count(*) FROM recgan_train('vr', 'vm_once', 'ease', rating_col => NULL);
SELECT count(*) AS versions FROM recgan_model_versions WHERE name = 'vm_once';
DELETE FROM recgan_models WHERE name = 'vm_once';
SELECT count(*) AS versions FROM recgan_model_versions WHERE name = 'vm_once';

-- row-level security: each role sees, deploys and rolls back only the
-- versions its policies let it see
CREATE ROLE vr_alice;
CREATE ROLE vr_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON recgan_models, recgan_model_archive TO vr_alice, vr_bob;
GRANT SELECT ON vr TO vr_alice, vr_bob;
ALTER TABLE recgan_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE recgan_model_archive ENABLE ROW LEVEL SECURITY;
CREATE POLICY vr_own ON recgan_models TO vr_alice, vr_bob
	USING (owner = current_user) WITH CHECK (owner = current_user);
CREATE POLICY vr_own ON recgan_model_archive TO vr_alice, vr_bob
	USING (owner = current_user) WITH CHECK (owner = current_user);
SET ROLE vr_alice;
SELECT count(*) FROM recgan_train('vr', 'va', 'popularity', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'va', 'itemknn', rating_col => NULL);
RESET ROLE;
SET ROLE vr_bob;
SELECT count(*) FROM recgan_train('vr', 'vo', 'popularity', rating_col => NULL);
SELECT count(*) FROM recgan_train('vr', 'vo', 'itemknn', rating_col => NULL);
SELECT name, version, deployed, owner FROM recgan_model_versions ORDER BY name, version;
SELECT vr_try($$SELECT recgan_deploy('va', 1)$$);
SELECT vr_try($$SELECT recgan_rollback('va')$$);
SELECT recgan_rollback('vo');
RESET ROLE;
SET ROLE vr_alice;
SELECT name, version, deployed, owner FROM recgan_model_versions ORDER BY name, version;
SELECT vr_try($$SELECT recgan_deploy('vo', 2)$$);
SELECT recgan_deploy('va', 1);
SELECT recgan_drop_model('va');
RESET ROLE;
SELECT name, version, deployed, owner FROM recgan_model_versions
WHERE name IN ('va', 'vo') ORDER BY name, version;
-- without privileges on the archive a role cannot make a second version
REVOKE ALL ON recgan_model_archive FROM vr_bob;
SET ROLE vr_bob;
SELECT vr_try($$SELECT * FROM recgan_train('vr', 'vo', 'popularity', rating_col => NULL)$$);
SELECT vr_try($$SELECT recgan_rollback('vo')$$);
RESET ROLE;
SELECT version FROM recgan_models WHERE name = 'vo';
DROP POLICY vr_own ON recgan_models;
DROP POLICY vr_own ON recgan_model_archive;
ALTER TABLE recgan_models DISABLE ROW LEVEL SECURITY;
ALTER TABLE recgan_model_archive DISABLE ROW LEVEL SECURITY;
SELECT recgan_drop_model('vo');
REVOKE ALL ON recgan_models, recgan_model_archive, vr FROM vr_alice, vr_bob;
DROP ROLE vr_alice;
DROP ROLE vr_bob;

-- bad inputs, each with its SQLSTATE
SELECT q, vr_try(q) FROM (VALUES
	($$SELECT recgan_deploy(NULL, 1)$$),
	($$SELECT recgan_deploy('vm', NULL)$$),
	($$SELECT recgan_deploy('no_such_model', 1)$$),
	($$SELECT recgan_deploy('vm', 99)$$),
	($$SELECT recgan_deploy('vm', 0)$$),
	($$SELECT recgan_deploy('vm', -2)$$),
	($$SELECT recgan_deploy('''; DROP TABLE vr; --', 1)$$),
	($$SELECT recgan_rollback(NULL)$$),
	($$SELECT recgan_rollback('no_such_model')$$),
	($$SELECT recgan_model_archive_deleted()$$),
	($$SELECT * FROM recgan_train('vr', 'vm', 'popularity', '{"deploy": "best"}', rating_col => NULL)$$),
	($$SELECT * FROM recgan_train('vr', 'vm', 'popularity', '{"deploy": 1}', rating_col => NULL)$$),
	($$SELECT * FROM recgan_train('vr', 'vm', 'popularity', '{"deploy": null}', rating_col => NULL)$$),
	($$SELECT * FROM recgan_train('vr', 'vm', 'popularity', '{"keep_versions": 0}', rating_col => NULL)$$),
	($$SELECT * FROM recgan_train('vr', 'vm', 'popularity', '{"keep_versions": 1001}', rating_col => NULL)$$),
	($$SELECT * FROM recgan_train('vr', 'vm', 'popularity', '{"keep_versions": 2.5}', rating_col => NULL)$$),
	($$SELECT * FROM recgan_train('vr', 'vm', 'popularity', '{"keep_versions": "5"}', rating_col => NULL)$$)
) AS c(q);
SELECT version FROM recgan_models WHERE name = 'vm';
SELECT recgan_model_size(NULL) AS null_size, recgan_model_size('\x00') AS one_byte;

-- A version keeps its source's columns: deploying an older one keeps
-- live histories working (they read user_col, item_col, rating_col).
SELECT count(*) FROM recgan_train('vr', 'vlive', 'ease', '{"lambda": 10}', threshold => 4);
SELECT count(*) FROM recgan_train('vr', 'vlive', 'itemknn', threshold => 4);
SELECT recgan_deploy('vlive', 1);
SELECT version, algorithm, user_col, item_col, rating_col FROM recgan_models WHERE name = 'vlive';
SELECT version, algorithm, user_col, item_col, rating_col FROM recgan_model_archive WHERE name = 'vlive';
SELECT (SELECT array_agg(item_id ORDER BY rank) FROM recgan_recommend(3, 5, 'vlive', live_history => true))
	 = (SELECT array_agg(item_id ORDER BY rank) FROM recgan_recommend(3, 5, 'vlive')) AS live_same_as_frozen;
SELECT recgan_drop_model('vlive');

SELECT count(*) FILTER (WHERE recgan_drop_model(name)) AS dropped FROM recgan_models
WHERE name IN ('vm', 'vm_pop', 'vm_knn', 'vm_once', 'vb', 'vc_ref');
SELECT count(*) AS left_over FROM recgan_model_archive
WHERE name IN ('va', 'vb', 'vc', 'vc_ref', 'vlive', 'vm', 'vm_knn', 'vm_once', 'vm_pop', 'vo');
DROP TABLE vr, vr_ck;
DROP FUNCTION vr_versions(text), vr_try(text), vr_serves(text, text);
