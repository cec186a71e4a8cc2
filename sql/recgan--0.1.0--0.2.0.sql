/* recgan--0.1.0--0.2.0.sql: upgrade from 0.1.0 to 0.2.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION recgan UPDATE TO '0.2.0'" to load this file. \quit

-- sql/recgan--0.1.0.sql is frozen: every object added after 0.1.0 is created
-- here, and CREATE EXTENSION recgan (default_version 0.2.0) runs the 0.1.0
-- script and then this one.  The C entry points the 0.1.0 script declares keep
-- their argument lists in the library; a function whose signature changes gets
-- a new C symbol, so a 0.1.0 catalog running against the 0.2.0 library (between
-- the package upgrade and ALTER EXTENSION UPDATE) never calls a function with
-- arguments it was not declared with.

-- Versions: every successful training stores a numbered version of its model;
-- recgan_models keeps the deployed one (so serving, its cache, triggers, RLS,
-- standbys and dumps work as before), recgan_model_archive the others.
--
-- A model's versions are numbered 1, 2, ... in training order; while the model
-- exists a number is never given twice (recgan_models.last_version counts
-- them).  recgan_deploy and recgan_rollback move rows between the two tables
-- with the caller's privileges; the bytes of a version are stored once, in the
-- row that holds it (chunked versions: rows (name, version, seq) of
-- recgan_model_chunks, which never move).  Deleting a model's recgan_models
-- row deletes all its versions and their chunks (row triggers, as the tables'
-- owner).  Existing models become version 1.
ALTER TABLE recgan_models
	ADD COLUMN version pg_catalog.int4 NOT NULL DEFAULT 1
		CHECK (version OPERATOR(pg_catalog.>=) 1),
	ADD COLUMN last_version pg_catalog.int4 NOT NULL DEFAULT 1,
	ADD COLUMN deployed_at pg_catalog.timestamptz,
	ADD CHECK (last_version OPERATOR(pg_catalog.>=) version);
UPDATE recgan_models SET deployed_at = trained_at;

COMMENT ON TABLE recgan_models IS
	'trained recgan models: one row per model name, its deployed version (the others are in recgan_model_archive), the model itself in the bytea column';
COMMENT ON FUNCTION recgan_train(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.jsonb,
	pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.float8) IS
	'train a model on a ratings table, view or materialized view and store it as a new version (options deploy, keep_versions); one row per epoch';
COMMENT ON FUNCTION recgan_drop_model(pg_catalog.text, pg_catalog.bool) IS
	'delete a stored model, every version of it; true if it existed';
COMMENT ON COLUMN recgan_models.version IS
	'the deployed version of the model (see recgan_model_versions)';
COMMENT ON COLUMN recgan_models.last_version IS
	'the highest version number given to this model so far';
COMMENT ON COLUMN recgan_models.deployed_at IS
	'when this version was last deployed (by training, recgan_deploy or recgan_rollback)';

CREATE TABLE recgan_model_archive (
	name			pg_catalog.text NOT NULL,
	version			pg_catalog.int4 NOT NULL CHECK (version OPERATOR(pg_catalog.>=) 1),
	algorithm		pg_catalog.text NOT NULL,
	source			pg_catalog.text,
	options			pg_catalog.jsonb NOT NULL DEFAULT '{}',
	n_users			pg_catalog.int4,
	n_items			pg_catalog.int4,
	n_interactions	pg_catalog.int8,
	trained_at		pg_catalog.timestamptz NOT NULL,
	train_seconds	pg_catalog.float8,
	metrics			pg_catalog.jsonb,
	owner			pg_catalog.name NOT NULL DEFAULT CURRENT_USER,
	model			pg_catalog.bytea NOT NULL,
	deployed_at		pg_catalog.timestamptz,
	PRIMARY KEY (name, version)
);

COMMENT ON TABLE recgan_model_archive IS
	'the versions of recgan models that are not deployed (the deployed one is the recgan_models row)';
COMMENT ON COLUMN recgan_model_archive.deployed_at IS
	'when this version was last deployed; NULL if it never was (recgan_rollback goes back to the latest)';

ALTER TABLE recgan_model_archive ALTER COLUMN model SET STORAGE EXTERNAL;
SELECT pg_catalog.pg_extension_config_dump('recgan_model_archive', '');

-- Chunks belong to one version: the key gets the version (existing ones: 1).
ALTER TABLE recgan_model_chunks ADD COLUMN version pg_catalog.int4 NOT NULL DEFAULT 1;
ALTER TABLE recgan_model_chunks DROP CONSTRAINT recgan_model_chunks_pkey,
	ADD PRIMARY KEY (name, version, seq);

-- Roles that could train, serve or drop models before keep doing so: the
-- archive gets the grants, row-level security and policies recgan_models has.
DO $copy$
DECLARE
	g record;
BEGIN
	FOR g IN
		SELECT a.grantee, a.privilege_type, a.is_grantable
		FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
		WHERE c.oid OPERATOR(pg_catalog.=) '@extschema@.recgan_models'::pg_catalog.regclass
			AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
	LOOP
		EXECUTE pg_catalog.format('GRANT %s ON @extschema@.recgan_model_archive TO %s%s',
			g.privilege_type,
			CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
				ELSE g.grantee::pg_catalog.regrole::pg_catalog.text END,
			CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
	END LOOP;
	FOR g IN
		SELECT p.policyname, p.permissive, p.roles, p.cmd, p.qual, p.with_check
		FROM pg_catalog.pg_policies p, pg_catalog.pg_class c
		WHERE c.oid OPERATOR(pg_catalog.=) '@extschema@.recgan_models'::pg_catalog.regclass
			AND p.schemaname OPERATOR(pg_catalog.=) c.relnamespace::pg_catalog.regnamespace::pg_catalog.name
			AND p.tablename OPERATOR(pg_catalog.=) c.relname
	LOOP
		EXECUTE pg_catalog.format('CREATE POLICY %I ON @extschema@.recgan_model_archive AS %s FOR %s TO %s%s%s',
			g.policyname, g.permissive, g.cmd,
			(SELECT pg_catalog.string_agg(CASE WHEN r OPERATOR(pg_catalog.=) 'public' THEN 'PUBLIC'
				ELSE pg_catalog.quote_ident(r) END, ', ') FROM pg_catalog.unnest(g.roles) r),
			CASE WHEN g.qual IS NULL THEN '' ELSE ' USING (' OPERATOR(pg_catalog.||) g.qual OPERATOR(pg_catalog.||) ')' END,
			CASE WHEN g.with_check IS NULL THEN ''
				ELSE ' WITH CHECK (' OPERATOR(pg_catalog.||) g.with_check OPERATOR(pg_catalog.||) ')' END);
	END LOOP;
	IF (SELECT c.relrowsecurity FROM pg_catalog.pg_class c
		WHERE c.oid OPERATOR(pg_catalog.=) '@extschema@.recgan_models'::pg_catalog.regclass) THEN
		ALTER TABLE @extschema@.recgan_model_archive ENABLE ROW LEVEL SECURITY;
	END IF;
END
$copy$;

CREATE FUNCTION recgan_model_archive_deleted()
RETURNS trigger
AS 'MODULE_PATHNAME', 'recgan_model_archive_deleted'
LANGUAGE C;

COMMENT ON FUNCTION recgan_model_archive_deleted() IS
	'row trigger on recgan_model_archive: a deleted version takes its chunks with it, unless it is the deployed one';

CREATE TRIGGER recgan_model_archive_deleted
	AFTER DELETE ON recgan_model_archive
	FOR EACH ROW EXECUTE FUNCTION recgan_model_archive_deleted();

CREATE FUNCTION recgan_model_size(model pg_catalog.bytea)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'recgan_model_size'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_model_size(pg_catalog.bytea) IS
	'bytes of a stored model value: its length, or for a chunked model the size its manifest gives (nothing is read but the first bytes)';

CREATE VIEW recgan_model_versions WITH (security_invoker = true) AS
	SELECT m.name, m.version, true AS deployed, m.deployed_at, m.trained_at, m.algorithm,
		   m.source, m.options, m.n_users, m.n_items, m.n_interactions, m.train_seconds,
		   m.metrics, m.owner, @extschema@.recgan_model_size(m.model) AS size_bytes
	FROM @extschema@.recgan_models m
	UNION ALL
	SELECT a.name, a.version, false, a.deployed_at, a.trained_at, a.algorithm,
		   a.source, a.options, a.n_users, a.n_items, a.n_interactions, a.train_seconds,
		   a.metrics, a.owner, @extschema@.recgan_model_size(a.model)
	FROM @extschema@.recgan_model_archive a;

COMMENT ON VIEW recgan_model_versions IS
	'every stored version of every model you may read, deployed or not, with its size in bytes';
GRANT SELECT ON recgan_model_versions TO PUBLIC;

CREATE FUNCTION recgan_deploy(model pg_catalog.text, version pg_catalog.int4)
RETURNS pg_catalog.int4
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $deploy$
DECLARE
	current_version pg_catalog.int4;
BEGIN
	IF recgan_deploy.model IS NULL OR recgan_deploy.version IS NULL THEN
		RAISE EXCEPTION 'recgan_deploy arguments must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF recgan_deploy.version < 1 THEN
		RAISE EXCEPTION 'version must be a positive integer, got %', recgan_deploy.version
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Versions are numbered from 1; see recgan_model_versions.';
	END IF;
	SELECT m.version INTO current_version FROM @extschema@.recgan_models m
	WHERE m.name OPERATOR(pg_catalog.=) recgan_deploy.model FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', recgan_deploy.model
			USING ERRCODE = 'undefined_object';
	END IF;
	IF current_version OPERATOR(pg_catalog.=) recgan_deploy.version THEN
		RAISE NOTICE 'version % of model "%" is already deployed', recgan_deploy.version,
			recgan_deploy.model;
		RETURN current_version;
	END IF;
	PERFORM FROM @extschema@.recgan_model_archive a
	WHERE a.name OPERATOR(pg_catalog.=) recgan_deploy.model
		AND a.version OPERATOR(pg_catalog.=) recgan_deploy.version FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'version % of model "%" does not exist', recgan_deploy.version,
			recgan_deploy.model
			USING ERRCODE = 'undefined_object',
				HINT = 'recgan_model_versions lists the stored versions; the oldest undeployed ones are pruned as the training option keep_versions says.';
	END IF;

	-- The deployed row goes to the archive, the chosen one takes its place
	-- (an UPDATE: the model row never disappears), then leaves the archive.
	INSERT INTO @extschema@.recgan_model_archive AS a (name, version, algorithm, source, options,
		n_users, n_items, n_interactions, trained_at, train_seconds, metrics, owner, model,
		deployed_at, user_col, item_col, rating_col)
	SELECT m.name, m.version, m.algorithm, m.source, m.options, m.n_users, m.n_items,
		   m.n_interactions, m.trained_at, m.train_seconds, m.metrics, m.owner, m.model,
		   m.deployed_at, m.user_col, m.item_col, m.rating_col
	FROM @extschema@.recgan_models m WHERE m.name OPERATOR(pg_catalog.=) recgan_deploy.model;
	UPDATE @extschema@.recgan_models m
	SET (algorithm, source, options, n_users, n_items, n_interactions, trained_at,
		 train_seconds, metrics, owner, model, version, deployed_at, user_col, item_col,
		 rating_col) =
		(SELECT a.algorithm, a.source, a.options, a.n_users, a.n_items, a.n_interactions,
				a.trained_at, a.train_seconds, a.metrics, a.owner, a.model, a.version,
				pg_catalog.clock_timestamp(), a.user_col, a.item_col, a.rating_col
		 FROM @extschema@.recgan_model_archive a
		 WHERE a.name OPERATOR(pg_catalog.=) recgan_deploy.model
			AND a.version OPERATOR(pg_catalog.=) recgan_deploy.version)
	WHERE m.name OPERATOR(pg_catalog.=) recgan_deploy.model;
	DELETE FROM @extschema@.recgan_model_archive a
	WHERE a.name OPERATOR(pg_catalog.=) recgan_deploy.model
		AND a.version OPERATOR(pg_catalog.=) recgan_deploy.version;
	RETURN recgan_deploy.version;
END
$deploy$;

COMMENT ON FUNCTION recgan_deploy(pg_catalog.text, pg_catalog.int4) IS
	'serve a stored version of a model from now on (with your privileges on recgan_models and recgan_model_archive); returns it';

CREATE FUNCTION recgan_rollback(model pg_catalog.text)
RETURNS pg_catalog.int4
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $rollback$
DECLARE
	previous pg_catalog.int4;
BEGIN
	IF recgan_rollback.model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM FROM @extschema@.recgan_models m
	WHERE m.name OPERATOR(pg_catalog.=) recgan_rollback.model FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', recgan_rollback.model
			USING ERRCODE = 'undefined_object';
	END IF;
	SELECT a.version INTO previous FROM @extschema@.recgan_model_archive a
	WHERE a.name OPERATOR(pg_catalog.=) recgan_rollback.model AND a.deployed_at IS NOT NULL
	ORDER BY a.deployed_at DESC, a.version DESC LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no previously deployed version', recgan_rollback.model
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'recgan_deploy(model, version) deploys any stored version; see recgan_model_versions.';
	END IF;
	RETURN @extschema@.recgan_deploy(recgan_rollback.model, previous);
END
$rollback$;

COMMENT ON FUNCTION recgan_rollback(pg_catalog.text) IS
	'deploy again the version that was deployed before the current one (twice in a row: back where you started); returns it';

-- recgan_model_info: the deployed version number as a last column.
DROP FUNCTION recgan_model_info(pg_catalog.text);
CREATE FUNCTION recgan_model_info(model pg_catalog.text)
RETURNS TABLE (name pg_catalog.text, algorithm pg_catalog.text, source pg_catalog.text,
			   options pg_catalog.jsonb, n_users pg_catalog.int4, n_items pg_catalog.int4,
			   n_interactions pg_catalog.int8, trained_at pg_catalog.timestamptz,
			   train_seconds pg_catalog.float8, metrics pg_catalog.jsonb, owner pg_catalog.name,
			   size_bytes pg_catalog.int8, header pg_catalog.jsonb, version pg_catalog.int4)
LANGUAGE plpgsql STRICT STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $info$
BEGIN
	RETURN QUERY
		SELECT m.name, m.algorithm, m.source, m.options, m.n_users, m.n_items,
			   m.n_interactions, m.trained_at, m.train_seconds, m.metrics, m.owner,
			   CASE WHEN h.header OPERATOR(pg_catalog.?) 'chunks'
				   THEN (h.header OPERATOR(pg_catalog.->>) 'size_bytes')::pg_catalog.int8
				   ELSE pg_catalog.octet_length(m.model)::pg_catalog.int8 END,
			   h.header, m.version
		FROM @extschema@.recgan_models m,
			LATERAL (SELECT @extschema@.recgan_model_header(m.model) AS header) h
		WHERE m.name OPERATOR(pg_catalog.=) recgan_model_info.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', recgan_model_info.model
			USING ERRCODE = 'undefined_object';
	END IF;
END
$info$;

COMMENT ON FUNCTION recgan_model_info(pg_catalog.text) IS
	'catalog row of a model (its deployed version) plus its validated header (checksum checked)';

-- Live histories: the source's columns are recorded with each model (NULL for
-- models trained before 0.2.0), and recgan_recommend, recgan_recommend_all and
-- recgan_explain take live_history, reading users' current positives from the
-- source.
ALTER TABLE recgan_models
	ADD COLUMN user_col pg_catalog.text,
	ADD COLUMN item_col pg_catalog.text,
	ADD COLUMN rating_col pg_catalog.text;

COMMENT ON COLUMN recgan_models.user_col IS
	'user id column of the source at training (NULL: trained before recgan 0.2.0)';
COMMENT ON COLUMN recgan_models.item_col IS
	'item id column of the source at training (NULL: trained before recgan 0.2.0)';
COMMENT ON COLUMN recgan_models.rating_col IS
	'rating column of the source at training (NULL: every row was a positive, or trained before 0.2.0)';

-- Archived versions keep them too (recgan_deploy moves them with the version).
ALTER TABLE recgan_model_archive
	ADD COLUMN user_col pg_catalog.text,
	ADD COLUMN item_col pg_catalog.text,
	ADD COLUMN rating_col pg_catalog.text;

DROP FUNCTION recgan_recommend(pg_catalog.int8, pg_catalog.int4, pg_catalog.text, pg_catalog.bool,
	pg_catalog.int8[], pg_catalog.int8[]);

-- recgan_recommend's row type, named: the executor takes a named composite's
-- descriptor from the type cache, while a RETURNS TABLE function's is built
-- from pg_proc's argument arrays at every call (ExecInitFunctionScan).
CREATE TYPE recgan_recommendation AS (
	item_id		pg_catalog.int8,
	score		pg_catalog.float4,
	rank		pg_catalog.int4);

COMMENT ON TYPE recgan_recommendation IS
	'a row of recgan_recommend: an item, its score and its rank (1 = best)';

CREATE FUNCTION recgan_recommend(
	user_id			pg_catalog.int8,
	k				pg_catalog.int4 DEFAULT 10,
	model			pg_catalog.text DEFAULT 'default',
	exclude_seen	pg_catalog.bool DEFAULT true,
	exclude			pg_catalog.int8[] DEFAULT NULL,
	candidates		pg_catalog.int8[] DEFAULT NULL,
	live_history	pg_catalog.bool DEFAULT false)
RETURNS SETOF recgan_recommendation
AS 'MODULE_PATHNAME', 'recgan_recommend'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_recommend(pg_catalog.int8, pg_catalog.int4, pg_catalog.text, pg_catalog.bool,
	pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool) IS
	'top-k items for a user, best first, training positives and exclude skipped, only candidates when given; unknown users get the most popular items; live_history: the user''s current positives in the model''s source instead';

DROP FUNCTION recgan_recommend_all(pg_catalog.int4, pg_catalog.text, pg_catalog.int8[], pg_catalog.int8[]);

CREATE FUNCTION recgan_recommend_all(
	k				pg_catalog.int4 DEFAULT 10,
	model			pg_catalog.text DEFAULT 'default',
	exclude			pg_catalog.int8[] DEFAULT NULL,
	candidates		pg_catalog.int8[] DEFAULT NULL,
	live_history	pg_catalog.bool DEFAULT false)
RETURNS TABLE (user_id pg_catalog.int8, item_id pg_catalog.int8, score pg_catalog.float4,
			   rank pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_recommend_all'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_recommend_all(pg_catalog.int4, pg_catalog.text, pg_catalog.int8[], pg_catalog.int8[],
	pg_catalog.bool) IS
	'top-k unseen items for every user the model was trained on, scored in blocks; live_history: from their current positives in the model''s source, read by one scan';

DROP FUNCTION recgan_explain(pg_catalog.int8, pg_catalog.int8, pg_catalog.text, pg_catalog.int4);

CREATE FUNCTION recgan_explain(
	user_id			pg_catalog.int8,
	item_id			pg_catalog.int8,
	model			pg_catalog.text DEFAULT 'default',
	k				pg_catalog.int4 DEFAULT 10,
	live_history	pg_catalog.bool DEFAULT false)
RETURNS TABLE (history_item_id pg_catalog.int8, contribution pg_catalog.float4, rank pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_explain'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_explain(pg_catalog.int8, pg_catalog.int8, pg_catalog.text, pg_catalog.int4,
	pg_catalog.bool) IS
	'the k items of a known user''s training history that contributed most to an item''s score: exact parts of the score for ease, itemknn and gfcf (they sum to it), similarity to the item for factor and neural models; live_history: of the user''s current positives in the model''s source';

-- Serving: recgan_recommend's item ids as one array, from a scalar function
-- (no function scan, no tuplestore): the cheapest call for a hot path.
CREATE FUNCTION recgan_recommend_ids(
	user_id			pg_catalog.int8,
	k				pg_catalog.int4 DEFAULT 10,
	model			pg_catalog.text DEFAULT 'default',
	exclude_seen	pg_catalog.bool DEFAULT true,
	exclude			pg_catalog.int8[] DEFAULT NULL,
	candidates		pg_catalog.int8[] DEFAULT NULL,
	live_history	pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.int8[]
AS 'MODULE_PATHNAME', 'recgan_recommend_ids'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_recommend_ids(pg_catalog.int8, pg_catalog.int4, pg_catalog.text, pg_catalog.bool,
	pg_catalog.int8[], pg_catalog.int8[], pg_catalog.bool) IS
	'the item ids recgan_recommend returns, in rank order, as one array (NULL for a NULL user): a scalar call, cheaper than the set-returning one';
