-- lib/ratings_from_fields.sql: the temporary table recgan_load_ratings from
-- recgan_load_fields checked by lib/split_fields.sql, for the formats with one
-- rating a line: user, item, rating and, when there is a fourth field, the
-- timestamp (else ts is NULL).  Included with \ir by the data/load_*.sql
-- loaders; not meant to be run on its own.

CREATE TEMP TABLE recgan_load_ratings ON COMMIT DROP AS
	SELECT lineno, 1 AS pos, f[1]::bigint AS user_id, f[2]::bigint AS item_id,
		f[3]::real AS rating, f[4]::bigint AS ts
	FROM recgan_load_fields;
