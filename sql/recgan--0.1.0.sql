/* recgan--0.1.0.sql: recommenders trained and served inside PostgreSQL */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION recgan" to load this file. \quit

--
-- Catalog of trained models.  One row per model name; the model itself is the
-- bytea described in src/model_format.c.  Registered with
-- pg_extension_config_dump so that pg_dump / pg_restore keep trained models.
--
CREATE TABLE recgan_models (
	name			pg_catalog.text PRIMARY KEY,
	algorithm		pg_catalog.text NOT NULL,
	source			pg_catalog.text,
	options			pg_catalog.jsonb NOT NULL DEFAULT '{}',
	n_users			pg_catalog.int4,
	n_items			pg_catalog.int4,
	n_interactions	pg_catalog.int8,
	trained_at		pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
	train_seconds	pg_catalog.float8,
	metrics			pg_catalog.jsonb,
	owner			pg_catalog.name NOT NULL DEFAULT CURRENT_USER,
	model			pg_catalog.bytea NOT NULL
);

COMMENT ON TABLE recgan_models IS
	'trained recgan models: one row per model name, the model itself in the bytea column';

-- Weights are float32 noise to pglz: store them uncompressed (faster writes and reads).
ALTER TABLE recgan_models ALTER COLUMN model SET STORAGE EXTERNAL;

SELECT pg_catalog.pg_extension_config_dump('recgan_models', '');

-- Models larger than recgan.model_chunk_size: their bytes in order, the
-- recgan_models row holding a manifest (src/catalog.c).  Written and deleted
-- with the model row, in the same transaction, as the table's owner: roles
-- need privileges on recgan_models only.
CREATE TABLE recgan_model_chunks (
	name			pg_catalog.text NOT NULL,
	seq				pg_catalog.int4 NOT NULL,
	data			pg_catalog.bytea NOT NULL,
	PRIMARY KEY (name, seq)
);

COMMENT ON TABLE recgan_model_chunks IS
	'the bytes of models stored in chunks (above recgan.model_chunk_size), in seq order';

ALTER TABLE recgan_model_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

SELECT pg_catalog.pg_extension_config_dump('recgan_model_chunks', '');

CREATE FUNCTION recgan_models_deleted()
RETURNS trigger
AS 'MODULE_PATHNAME', 'recgan_models_deleted'
LANGUAGE C;

COMMENT ON FUNCTION recgan_models_deleted() IS
	'row trigger on recgan_models: a deleted chunked model takes its chunks with it';

CREATE TRIGGER recgan_models_deleted
	AFTER DELETE ON recgan_models
	FOR EACH ROW EXECUTE FUNCTION recgan_models_deleted();

-- Every write to recgan_models sends an invalidation message, so that serving
-- backends skip their catalog probe while nothing changed (src/cache_inval.c).
-- ENABLE ALWAYS: it fires under session_replication_role = replica too.
CREATE FUNCTION recgan_models_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'recgan_models_changed'
LANGUAGE C;

COMMENT ON FUNCTION recgan_models_changed() IS
	'statement trigger on recgan_models: tells serving backends that stored models changed';

CREATE TRIGGER recgan_models_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON recgan_models
	FOR EACH STATEMENT EXECUTE FUNCTION recgan_models_changed();
ALTER TABLE recgan_models ENABLE ALWAYS TRIGGER recgan_models_changed;

CREATE FUNCTION recgan_version()
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'recgan_version'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_version() IS
	'recgan library version and the linked OpenBLAS configuration';

--
-- Training
--
CREATE FUNCTION recgan_train(
	source		pg_catalog.text,
	model		pg_catalog.text DEFAULT 'default',
	algorithm	pg_catalog.text DEFAULT 'cfgan',
	options		pg_catalog.jsonb DEFAULT '{}',
	user_col	pg_catalog.text DEFAULT 'user_id',
	item_col	pg_catalog.text DEFAULT 'item_id',
	rating_col	pg_catalog.text DEFAULT 'rating',
	threshold	pg_catalog.float8 DEFAULT 4)
RETURNS TABLE (epoch pg_catalog.int4, loss pg_catalog.float8, aux_loss pg_catalog.float8,
			   validation pg_catalog.float8, seconds pg_catalog.float8)
AS 'MODULE_PATHNAME', 'recgan_train'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION recgan_train(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.jsonb,
	pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.float8) IS
	'train a model on a ratings table, view or materialized view and store it in recgan_models; one row per epoch';

--
-- Recommending
--
CREATE FUNCTION recgan_recommend(
	user_id			pg_catalog.int8,
	k				pg_catalog.int4 DEFAULT 10,
	model			pg_catalog.text DEFAULT 'default',
	exclude_seen	pg_catalog.bool DEFAULT true,
	exclude			pg_catalog.int8[] DEFAULT NULL,
	candidates		pg_catalog.int8[] DEFAULT NULL)
RETURNS TABLE (item_id pg_catalog.int8, score pg_catalog.float4, rank pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_recommend'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_recommend(pg_catalog.int8, pg_catalog.int4, pg_catalog.text, pg_catalog.bool,
	pg_catalog.int8[], pg_catalog.int8[]) IS
	'top-k items for a user, best first, training positives and exclude skipped, only candidates when given; unknown users get the most popular items';

CREATE FUNCTION recgan_recommend_items(
	items		pg_catalog.int8[],
	k			pg_catalog.int4 DEFAULT 10,
	model		pg_catalog.text DEFAULT 'default',
	exclude		pg_catalog.int8[] DEFAULT NULL,
	candidates	pg_catalog.int8[] DEFAULT NULL)
RETURNS TABLE (item_id pg_catalog.int8, score pg_catalog.float4, rank pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_recommend_items'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_recommend_items(pg_catalog.int8[], pg_catalog.int4, pg_catalog.text,
	pg_catalog.int8[], pg_catalog.int8[]) IS
	'top-k items for a user known only by a list of liked items (fold-in, no retraining)';

CREATE FUNCTION recgan_recommend_all(
	k			pg_catalog.int4 DEFAULT 10,
	model		pg_catalog.text DEFAULT 'default',
	exclude		pg_catalog.int8[] DEFAULT NULL,
	candidates	pg_catalog.int8[] DEFAULT NULL)
RETURNS TABLE (user_id pg_catalog.int8, item_id pg_catalog.int8, score pg_catalog.float4,
			   rank pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_recommend_all'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_recommend_all(pg_catalog.int4, pg_catalog.text, pg_catalog.int8[], pg_catalog.int8[]) IS
	'top-k unseen items for every user the model was trained on, scored in blocks';

CREATE FUNCTION recgan_similar_items(
	item_id	pg_catalog.int8,
	k		pg_catalog.int4 DEFAULT 10,
	model	pg_catalog.text DEFAULT 'default')
RETURNS TABLE (item_id pg_catalog.int8, score pg_catalog.float4, rank pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_similar_items'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_similar_items(pg_catalog.int8, pg_catalog.int4, pg_catalog.text) IS
	'the k items most similar to an item (EASE weights, ItemKNN cosine, ...); an error for models without item representations';

CREATE FUNCTION recgan_explain(
	user_id	pg_catalog.int8,
	item_id	pg_catalog.int8,
	model	pg_catalog.text DEFAULT 'default',
	k		pg_catalog.int4 DEFAULT 10)
RETURNS TABLE (history_item_id pg_catalog.int8, contribution pg_catalog.float4, rank pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_explain'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_explain(pg_catalog.int8, pg_catalog.int8, pg_catalog.text, pg_catalog.int4) IS
	'the k items of a known user''s training history that contributed most to an item''s score: exact parts of the score for ease, itemknn and gfcf (they sum to it), similarity to the item for factor and neural models';

CREATE FUNCTION recgan_cache_stats()
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'recgan_cache_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_cache_stats() IS
	'this backend''s model cache: hits, misses, bytes, cached model names (most recent first)';

--
-- Managing models
--
CREATE FUNCTION recgan_model_header(model pg_catalog.bytea)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'recgan_model_header'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_model_header(pg_catalog.bytea) IS
	'validate a model value (lengths, checksum, indexes) and describe its header';

CREATE FUNCTION recgan_model_info(model pg_catalog.text)
RETURNS TABLE (name pg_catalog.text, algorithm pg_catalog.text, source pg_catalog.text,
			   options pg_catalog.jsonb, n_users pg_catalog.int4, n_items pg_catalog.int4,
			   n_interactions pg_catalog.int8, trained_at pg_catalog.timestamptz,
			   train_seconds pg_catalog.float8, metrics pg_catalog.jsonb, owner pg_catalog.name,
			   size_bytes pg_catalog.int8, header pg_catalog.jsonb)
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
			   h.header
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
	'catalog row of a model plus its validated header (checksum checked)';

CREATE FUNCTION recgan_drop_model(model pg_catalog.text, if_exists pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.bool
LANGUAGE plpgsql STRICT VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $drop$
BEGIN
	DELETE FROM @extschema@.recgan_models m
	WHERE m.name OPERATOR(pg_catalog.=) recgan_drop_model.model;
	IF FOUND THEN
		RETURN true;
	END IF;
	IF if_exists THEN
		RAISE NOTICE 'model "%" does not exist, skipping', recgan_drop_model.model;
		RETURN false;
	END IF;
	RAISE EXCEPTION 'model "%" does not exist', recgan_drop_model.model
		USING ERRCODE = 'undefined_object';
END
$drop$;

COMMENT ON FUNCTION recgan_drop_model(pg_catalog.text, pg_catalog.bool) IS
	'delete a stored model; true if it existed';

-- Evaluation and splits

CREATE FUNCTION recgan_evaluate(
	model pg_catalog.text,
	test_source pg_catalog.text,
	k pg_catalog.int4[] DEFAULT '{5,10,20}',
	user_col pg_catalog.text DEFAULT 'user_id',
	item_col pg_catalog.text DEFAULT 'item_id',
	rating_col pg_catalog.text DEFAULT 'rating',
	threshold pg_catalog.float8 DEFAULT NULL,
	sampled pg_catalog.int4 DEFAULT NULL,
	seed pg_catalog.int8 DEFAULT 42)
RETURNS TABLE(metric pg_catalog.text, k pg_catalog.int4, value pg_catalog.float8, users pg_catalog.int4)
AS 'MODULE_PATHNAME', 'recgan_evaluate'
LANGUAGE C STABLE PARALLEL RESTRICTED;

COMMENT ON FUNCTION recgan_evaluate(pg_catalog.text, pg_catalog.text, pg_catalog.int4[],
	pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.float8, pg_catalog.int4,
	pg_catalog.int8) IS
	'top-k metrics (precision, recall, ndcg, hitrate, map, mrr, coverage) of a trained model on a test table, full ranking or, with sampled => N, the sampled protocol of He et al. 2017';

--
-- recgan_split: write a train and a test table from a ratings relation.
--
-- Methods ('random' and 'leave_one_out' work per user; rows of one (user,
-- item) pair always land on the same side, so a pair never leaks from test
-- into train):
--   random         each user's distinct items are ordered by
--                  hashint8extended(item, hashint8extended(user, seed)), then
--                  item; the first round(test_fraction * n_u) go to test, at
--                  most n_u - 1, so every user keeps a training item and users
--                  with a single item stay in train.  The user is part of the
--                  hash so that each user gets a different order: a hash of
--                  the item alone would hold out the same items for everyone.
--   leave_one_out  each user's latest item (highest time_col, ties to the
--                  highest item id) goes to test, when the user has at least
--                  two distinct items.
--   temporal       global cut: with n rows of non-NULL time_col, the rows at
--                  or after the time of the round(test_fraction * n)-th
--                  latest row go to test (ties at the cut go to test too).
-- Rows with a NULL user, item or time stay in train.  The assignment is made
-- in a single statement, so each source row lands in exactly one table.  The
-- result is deterministic for a seed; 'random' depends only on ids and seed.
-- Target tables get every column of the source (no constraints or indexes)
-- and must not exist yet.  Runs with the caller's privileges.
--
CREATE FUNCTION recgan_split(
	source pg_catalog.text,
	train_table pg_catalog.text,
	test_table pg_catalog.text,
	method pg_catalog.text DEFAULT 'random',
	test_fraction pg_catalog.float8 DEFAULT 0.2,
	seed pg_catalog.int8 DEFAULT 42,
	user_col pg_catalog.text DEFAULT 'user_id',
	item_col pg_catalog.text DEFAULT 'item_id',
	time_col pg_catalog.text DEFAULT 'ts')
RETURNS TABLE(split pg_catalog.text, "rows" pg_catalog.int8, users pg_catalog.int8)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $split$
DECLARE
	src pg_catalog.regclass;
	col pg_catalog.text;
	col_type pg_catalog.regtype;
	targets pg_catalog.text[] := '{}';
	target pg_catalog.text;
	parts pg_catalog.text[];
	schema_name pg_catalog.text;
	base pg_catalog.text;
	flagged pg_catalog.text;
	n_test pg_catalog.text;
	n pg_catalog.int4;
BEGIN
	IF source IS NULL OR train_table IS NULL OR test_table IS NULL OR method IS NULL
		OR test_fraction IS NULL OR seed IS NULL OR user_col IS NULL OR item_col IS NULL
		OR (time_col IS NULL AND method IN ('leave_one_out', 'temporal')) THEN
		RAISE EXCEPTION 'recgan_split arguments must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF method NOT IN ('random', 'leave_one_out', 'temporal') THEN
		RAISE EXCEPTION 'unknown split method "%"', method
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Use random, leave_one_out or temporal.';
	END IF;
	IF NOT (test_fraction > 0 AND test_fraction < 1) THEN
		RAISE EXCEPTION 'test_fraction must be between 0 and 1 (exclusive), got %', test_fraction
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	src := source::pg_catalog.regclass;
	FOREACH col IN ARRAY ARRAY[user_col, item_col]
		|| CASE WHEN method = 'random' THEN '{}'::pg_catalog.text[] ELSE ARRAY[time_col] END
	LOOP
		SELECT a.atttypid INTO col_type FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = src AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" does not exist in "%"', col, source
				USING ERRCODE = 'undefined_column';
		END IF;
		IF col IN (user_col, item_col)
			AND col_type NOT IN ('pg_catalog.int2'::pg_catalog.regtype,
								 'pg_catalog.int4'::pg_catalog.regtype,
								 'pg_catalog.int8'::pg_catalog.regtype) THEN
			RAISE EXCEPTION 'column "%" of "%" has type %', col, source, col_type
				USING ERRCODE = 'datatype_mismatch',
					DETAIL = 'User and item ids must be of an integer type (smallint, integer or bigint).';
		END IF;
	END LOOP;

	-- Resolve each target to schema.table, as CREATE TABLE would.
	FOREACH target IN ARRAY ARRAY[train_table, test_table]
	LOOP
		parts := pg_catalog.parse_ident(target);
		IF pg_catalog.array_length(parts, 1) = 1 THEN
			schema_name := pg_catalog.current_schema();
			IF schema_name IS NULL THEN
				RAISE EXCEPTION 'no schema has been selected to create "%" in', target
					USING ERRCODE = 'invalid_schema_name';
			END IF;
			parts := ARRAY[schema_name] || parts;
		ELSIF pg_catalog.array_length(parts, 1) <> 2 THEN
			RAISE EXCEPTION 'invalid table name "%"', target
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Use table or schema.table.';
		END IF;
		target := pg_catalog.format('%I.%I', parts[1], parts[2]);
		IF pg_catalog.to_regclass(target) IS NOT NULL THEN
			RAISE EXCEPTION 'relation % already exists', target
				USING ERRCODE = 'duplicate_table',
					HINT = 'Drop it or choose another name.';
		END IF;
		targets := targets || target;
	END LOOP;
	IF targets[1] = targets[2] THEN
		RAISE EXCEPTION 'train_table and test_table must differ'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- b: every source row r with its ids and time; a: b with is_test.
	base := pg_catalog.format(
		'SELECT s AS r, s.%I::pg_catalog.int8 AS u, s.%I::pg_catalog.int8 AS i, %s AS t FROM %s s',
		user_col, item_col,
		CASE WHEN method = 'random' THEN 'NULL' ELSE pg_catalog.format('s.%I', time_col) END,
		src);
	-- n_test: a template, how many of %s go to test (rounded half away from zero).
	n_test := 'pg_catalog.round((' || test_fraction || ' * %s)::pg_catalog.numeric)';
	IF method = 'random' THEN
		flagged := pg_catalog.format($q$
			SELECT r, n > 1 AND k <= LEAST(%s, n - 1)
			FROM (SELECT r, k, pg_catalog.max(k) OVER (PARTITION BY u) AS n
				  FROM (SELECT r, u, pg_catalog.dense_rank() OVER (PARTITION BY u
							ORDER BY pg_catalog.hashint8extended(i, pg_catalog.hashint8extended(u, %s)), i) AS k
						FROM b WHERE u IS NOT NULL AND i IS NOT NULL) x) y$q$,
			pg_catalog.format(n_test, 'n'), seed);
	ELSIF method = 'leave_one_out' THEN
		flagged := $q$
			SELECT r, pg_catalog.max(d) OVER (PARTITION BY u) > 1 AND i = last_i
					  AND last_t IS NOT NULL
			FROM (SELECT r, u, i, pg_catalog.dense_rank() OVER (PARTITION BY u ORDER BY i) AS d,
						 pg_catalog.first_value(i) OVER w AS last_i,
						 pg_catalog.first_value(t) OVER w AS last_t
				  FROM b WHERE u IS NOT NULL AND i IS NOT NULL
				  WINDOW w AS (PARTITION BY u ORDER BY t DESC NULLS LAST, i DESC)) x$q$;
	ELSE
		flagged := pg_catalog.format($q$
			SELECT r, t >= (SELECT pg_catalog.min(z.t)
							FROM (SELECT t, pg_catalog.row_number() OVER (ORDER BY t) AS rn,
										 pg_catalog.count(*) OVER () AS n
								  FROM b WHERE u IS NOT NULL AND i IS NOT NULL
									AND t IS NOT NULL) z
							WHERE z.rn > z.n - %s)
			FROM b WHERE u IS NOT NULL AND i IS NOT NULL$q$,
			pg_catalog.format(n_test, 'z.n'));
	END IF;

	EXECUTE pg_catalog.format('CREATE TABLE %s AS SELECT * FROM %s WITH NO DATA', targets[1], src);
	EXECUTE pg_catalog.format('CREATE TABLE %s AS SELECT * FROM %s WITH NO DATA', targets[2], src);
	EXECUTE pg_catalog.format($q$
		WITH b AS MATERIALIZED (%s),
			 a(r, is_test) AS MATERIALIZED (%s
				UNION ALL SELECT r, false FROM b WHERE u IS NULL OR i IS NULL),
			 test AS (INSERT INTO %s SELECT (a.r).* FROM a WHERE a.is_test IS TRUE)
		INSERT INTO %s SELECT (a.r).* FROM a WHERE a.is_test IS NOT TRUE$q$,
		base, flagged, targets[2], targets[1]);

	FOR n IN 1..2
	LOOP
		split := (ARRAY['train', 'test'])[n];
		EXECUTE pg_catalog.format('SELECT pg_catalog.count(*), pg_catalog.count(DISTINCT %I) FROM %s',
								  user_col, targets[n])
			INTO "rows", users;
		RETURN NEXT;
	END LOOP;
END
$split$;

COMMENT ON FUNCTION recgan_split(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text,
	pg_catalog.float8, pg_catalog.int8, pg_catalog.text, pg_catalog.text, pg_catalog.text) IS
	'split a ratings relation into new train and test tables: per-user random holdout, leave-one-out by time, or a global temporal cut; deterministic for a seed';

--
-- Scheduling and asynchronous training
--
-- Jobs run in background workers started by a launcher (src/worker.c) that
-- exists only when recgan is in shared_preload_libraries, and that serves the
-- one database named by recgan.database.  Each job runs in its own worker
-- connected as the job's owner role, so it reads what that role may read.
--
-- Both tables are protected by row-level security: a role sees (and may
-- delete) only the rows it owns; superusers see everything.  They are
-- written only by the functions below and by the workers, which do their
-- bookkeeping as the bootstrap superuser with a pinned search_path.
--
CREATE TABLE recgan_schedules (
	model			pg_catalog.text PRIMARY KEY,
	owner			pg_catalog.name NOT NULL,
	every			pg_catalog.interval NOT NULL
		CHECK (every OPERATOR(pg_catalog.>) '0'::pg_catalog.interval),
	source			pg_catalog.text NOT NULL,
	algorithm		pg_catalog.text NOT NULL,
	options			pg_catalog.jsonb NOT NULL DEFAULT '{}',
	user_col		pg_catalog.text NOT NULL,
	item_col		pg_catalog.text NOT NULL,
	rating_col		pg_catalog.text,
	threshold		pg_catalog.float8,
	min_new_rows	pg_catalog.int8 NOT NULL DEFAULT 0
		CHECK (min_new_rows OPERATOR(pg_catalog.>=) 0),
	next_run_at		pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
	last_run_id		pg_catalog.int8,
	source_changes	pg_catalog.int8,
	created_at		pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);

COMMENT ON TABLE recgan_schedules IS
	'recgan training schedules: one per model, run every interval as the owner role by the recgan launcher';
COMMENT ON COLUMN recgan_schedules.source IS
	'schema-qualified name of the ratings relation, resolved when the schedule was made';
COMMENT ON COLUMN recgan_schedules.source_changes IS
	'inserted + updated + deleted rows of the source (cumulative statistics) when the model was last trained by this schedule';

ALTER TABLE recgan_schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY recgan_schedules_select ON recgan_schedules FOR SELECT
	USING (owner OPERATOR(pg_catalog.=) CURRENT_USER);
CREATE POLICY recgan_schedules_delete ON recgan_schedules FOR DELETE
	USING (owner OPERATOR(pg_catalog.=) CURRENT_USER);
GRANT SELECT, DELETE ON recgan_schedules TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('recgan_schedules', '');

CREATE SEQUENCE recgan_run_id_seq;
COMMENT ON SEQUENCE recgan_run_id_seq IS 'run ids of recgan_run_history';
SELECT pg_catalog.pg_extension_config_dump('recgan_run_id_seq', '');

CREATE TABLE recgan_run_history (
	run_id			pg_catalog.int8 PRIMARY KEY
		DEFAULT pg_catalog.nextval('recgan_run_id_seq'::pg_catalog.regclass),
	model			pg_catalog.text NOT NULL,
	owner			pg_catalog.name NOT NULL,
	kind			pg_catalog.text NOT NULL CHECK (kind IN ('scheduled', 'async')),
	status			pg_catalog.text NOT NULL DEFAULT 'queued'
		CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
	queued_at		pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
	started_at		pg_catalog.timestamptz,
	ended_at		pg_catalog.timestamptz,
	pid				pg_catalog.int4,
	epoch			pg_catalog.int4,
	epochs			pg_catalog.int4,
	loss			pg_catalog.float8,
	message			pg_catalog.text,
	metrics			pg_catalog.jsonb,
	source			pg_catalog.text NOT NULL,
	algorithm		pg_catalog.text NOT NULL,
	options			pg_catalog.jsonb NOT NULL DEFAULT '{}',
	user_col		pg_catalog.text NOT NULL,
	item_col		pg_catalog.text NOT NULL,
	rating_col		pg_catalog.text,
	threshold		pg_catalog.float8,
	source_changes	pg_catalog.int8
);

CREATE INDEX recgan_run_history_active ON recgan_run_history (run_id)
	WHERE status IN ('queued', 'running');

COMMENT ON TABLE recgan_run_history IS
	'every recgan background training run (scheduled or async); read it through the recgan_runs view for live progress';

ALTER TABLE recgan_run_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY recgan_run_history_select ON recgan_run_history FOR SELECT
	USING (owner OPERATOR(pg_catalog.=) CURRENT_USER);
CREATE POLICY recgan_run_history_delete ON recgan_run_history FOR DELETE
	USING (owner OPERATOR(pg_catalog.=) CURRENT_USER AND status NOT IN ('queued', 'running'));
GRANT SELECT, DELETE ON recgan_run_history TO PUBLIC;
-- Queued and running runs belong to the cluster they were started in: a
-- restored copy must not start them again.
SELECT pg_catalog.pg_extension_config_dump('recgan_run_history',
	'WHERE status NOT IN (''queued'', ''running'')');

CREATE FUNCTION recgan_run_progress()
RETURNS TABLE (run_id pg_catalog.int8, pid pg_catalog.int4, epoch pg_catalog.int4,
			   epochs pg_catalog.int4, loss pg_catalog.float8)
AS 'MODULE_PATHNAME', 'recgan_run_progress'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_run_progress() IS
	'live epoch and loss of the runs going on now, from shared memory (your own runs; all for superusers)';

CREATE VIEW recgan_runs WITH (security_invoker = true) AS
	SELECT h.run_id, h.model, h.owner, h.kind, h.status, h.queued_at, h.started_at, h.ended_at,
		   COALESCE(p.epoch, h.epoch) AS epoch, COALESCE(p.epochs, h.epochs) AS epochs,
		   COALESCE(p.loss, h.loss) AS loss, h.message, h.metrics,
		   COALESCE(p.pid, h.pid) AS pid, h.source, h.algorithm, h.options
	FROM recgan_run_history h
		LEFT JOIN recgan_run_progress() p ON p.run_id OPERATOR(pg_catalog.=) h.run_id;

COMMENT ON VIEW recgan_runs IS
	'recgan background runs with live epoch and loss while they run: SELECT * FROM recgan_runs is the progress view';
GRANT SELECT ON recgan_runs TO PUBLIC;

CREATE FUNCTION recgan_schedule(
	model			pg_catalog.text,
	every			pg_catalog.interval,
	source			pg_catalog.text,
	algorithm		pg_catalog.text DEFAULT 'cfgan',
	options			pg_catalog.jsonb DEFAULT '{}',
	user_col		pg_catalog.text DEFAULT 'user_id',
	item_col		pg_catalog.text DEFAULT 'item_id',
	rating_col		pg_catalog.text DEFAULT 'rating',
	threshold		pg_catalog.float8 DEFAULT 4,
	min_new_rows	pg_catalog.int8 DEFAULT 0,
	owner			pg_catalog.name DEFAULT CURRENT_USER)
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'recgan_schedule'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION recgan_schedule(pg_catalog.text, pg_catalog.interval, pg_catalog.text,
	pg_catalog.text, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.text,
	pg_catalog.float8, pg_catalog.int8, pg_catalog.name) IS
	'train a model now and then every interval in a background worker, as the owner role, skipping when fewer than min_new_rows rows changed; replaces the owner''s previous schedule of that model; returns the first due time';

CREATE FUNCTION recgan_unschedule(model pg_catalog.text, if_exists pg_catalog.bool DEFAULT false)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'recgan_unschedule'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION recgan_unschedule(pg_catalog.text, pg_catalog.bool) IS
	'delete your schedule of a model (a run going on is not stopped); true if it existed';

CREATE FUNCTION recgan_train_async(
	source		pg_catalog.text,
	model		pg_catalog.text DEFAULT 'default',
	algorithm	pg_catalog.text DEFAULT 'cfgan',
	options		pg_catalog.jsonb DEFAULT '{}',
	user_col	pg_catalog.text DEFAULT 'user_id',
	item_col	pg_catalog.text DEFAULT 'item_id',
	rating_col	pg_catalog.text DEFAULT 'rating',
	threshold	pg_catalog.float8 DEFAULT 4)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'recgan_train_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION recgan_train_async(pg_catalog.text, pg_catalog.text, pg_catalog.text,
	pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.float8) IS
	'queue a recgan_train in a background worker running as you, starting when this transaction commits; returns the run id at once (see recgan_runs)';

CREATE FUNCTION recgan_cancel(run_id pg_catalog.int8)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'recgan_cancel'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION recgan_cancel(pg_catalog.int8) IS
	'cancel one of your queued or running runs (the previous model stays); false if it had already ended';
