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
