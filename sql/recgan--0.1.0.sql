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

SELECT pg_catalog.pg_extension_config_dump('recgan_models', '');

CREATE FUNCTION recgan_version()
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'recgan_version'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION recgan_version() IS
	'recgan library version and the linked OpenBLAS configuration';
