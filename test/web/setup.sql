-- setup.sql: the demo page's database side (test/web/server.py), run by a
-- superuser in the demo database after the models are trained.
--
--   psql -v test_source=ratings_test -v models=default,ease,ials -f test/web/setup.sql
--
-- Variables (psql -v name=value):
--   models       served model names, in the page's order   (default: default,ease,ials)
--   test_source  the held-out ratings recgan_evaluate reads (default: ratings_test)
--
-- Two roles:
--   recgan_web        LOGIN: the page connects as it.  It may read the items
--                     table (search, titles) and execute the four functions of
--                     schema web, nothing else: no SELECT on recgan_models, the
--                     ratings or the splits.  Transactions are read-only by default.
--   recgan_web_owner  NOLOGIN: owns those functions (SECURITY DEFINER) and
--                     holds the grants they need: SELECT on recgan_models
--                     (the model cache reads the catalog row with the current
--                     user's privileges) and on the test split (recgan_evaluate
--                     reads it with the current user's privileges).
-- Why not GRANT SELECT ON recgan_models TO recgan_web: a model holds its
-- training positives (who liked what), and every model of the database would
-- be readable by the page.  The functions serve only the models listed in
-- web.served_models, evaluate only on their fixed test split, and bound k and
-- the number of liked items; the page cannot name another table or model.
--
-- Idempotent: roles are created when missing, schema web is replaced.

\set ON_ERROR_STOP on
\set QUIET on
\if :{?models} \else \set models default,ease,ials \endif
\if :{?test_source} \else \set test_source ratings_test \endif

SET client_min_messages = warning;
BEGIN;

DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'recgan_web') THEN
		CREATE ROLE recgan_web LOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'recgan_web_owner') THEN
		CREATE ROLE recgan_web_owner NOLOGIN;
	END IF;
END
$roles$;
ALTER ROLE recgan_web SET default_transaction_read_only = on;

DROP SCHEMA IF EXISTS web CASCADE;
CREATE SCHEMA web;
REVOKE ALL ON SCHEMA web FROM PUBLIC;
GRANT USAGE ON SCHEMA web TO recgan_web, recgan_web_owner;

-- The models the page serves, in its order, and the split each is evaluated on.
CREATE TABLE web.served_models (
	position	int PRIMARY KEY,
	name		text NOT NULL UNIQUE,
	test_source	text NOT NULL
);
INSERT INTO web.served_models
SELECT m.ord, m.name, format('%I.%I', n.nspname, c.relname)
FROM unnest(string_to_array(:'models', ',')) WITH ORDINALITY AS m(name, ord),
	pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = (:'test_source')::regclass;
GRANT SELECT ON web.served_models TO recgan_web_owner;

-- Raise unless model is served and k and the number of items are in range.
CREATE FUNCTION web.check_request(model text, k int, n_items int)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $check$
BEGIN
	IF k IS NULL OR k < 1 OR k > 100 THEN
		RAISE EXCEPTION 'k must be between 1 and 100' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF n_items > 100 THEN
		RAISE EXCEPTION 'at most 100 liked items' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT FROM web.served_models s WHERE s.name = model) THEN
		RAISE EXCEPTION 'model "%" is not served by this page', model USING ERRCODE = 'undefined_object';
	END IF;
END
$check$;

-- The served models, in order, with what recgan_model_info says of each.
CREATE FUNCTION web.models()
RETURNS TABLE (name text, algorithm text, n_users int, n_items int,
			   n_interactions bigint, trained_at timestamptz, train_seconds float8)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $models$
	SELECT s.name, i.algorithm, i.n_users, i.n_items, i.n_interactions, i.trained_at, i.train_seconds
	FROM web.served_models s, LATERAL public.recgan_model_info(s.name) i
	ORDER BY s.position
$models$;

-- recgan_recommend_items for a served model.
CREATE FUNCTION web.recgan_recommend_items(items bigint[], k int, model text)
RETURNS TABLE (item_id bigint, score real, rank int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $rec$
BEGIN
	PERFORM web.check_request(model, k, cardinality(items));
	RETURN QUERY SELECT r.item_id, r.score, r.rank FROM public.recgan_recommend_items(items, k, model) r;
END
$rec$;

-- recgan_similar_items for a served model.
CREATE FUNCTION web.recgan_similar_items(item bigint, k int, model text)
RETURNS TABLE (item_id bigint, score real, rank int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $sim$
BEGIN
	PERFORM web.check_request(model, k, 1);
	RETURN QUERY SELECT r.item_id, r.score, r.rank
		FROM public.recgan_similar_items(item, k, model) r;
END
$sim$;

-- recgan_evaluate of a served model on its test split, at one cutoff k.
CREATE FUNCTION web.recgan_evaluate(model text, cutoffs int[])
RETURNS TABLE (metric text, k int, value float8, users int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $eval$
BEGIN
	IF cardinality(cutoffs) IS DISTINCT FROM 1 THEN
		RAISE EXCEPTION 'one cutoff k, please' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM web.check_request(model, cutoffs[1], 1);
	RETURN QUERY SELECT e.metric, e.k, e.value, e.users
		FROM public.recgan_evaluate(model,
			(SELECT s.test_source FROM web.served_models s WHERE s.name = model), cutoffs) e;
END
$eval$;

ALTER FUNCTION web.models() OWNER TO recgan_web_owner;
ALTER FUNCTION web.recgan_recommend_items(bigint[], int, text) OWNER TO recgan_web_owner;
ALTER FUNCTION web.recgan_similar_items(bigint, int, text) OWNER TO recgan_web_owner;
ALTER FUNCTION web.recgan_evaluate(text, int[]) OWNER TO recgan_web_owner;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA web FROM PUBLIC;
GRANT EXECUTE ON FUNCTION web.check_request(text, int, int) TO recgan_web_owner;
GRANT EXECUTE ON FUNCTION web.models(), web.recgan_recommend_items(bigint[], int, text),
	web.recgan_similar_items(bigint, int, text), web.recgan_evaluate(text, int[]) TO recgan_web;

-- What the definer reads; the page itself reads only the items.
GRANT SELECT ON recgan_models TO recgan_web_owner;
GRANT SELECT ON TABLE :"test_source" TO recgan_web_owner;
GRANT SELECT ON items TO recgan_web;

COMMIT;
