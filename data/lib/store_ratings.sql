-- lib/store_ratings.sql: replace the table :"ratings" with the rows of the
-- temporary table recgan_load_ratings (lineno, pos, user_id, item_id, rating,
-- ts), kept in file order.  Included with \ir by the data/load_*.sql loaders
-- inside their transaction, so a failure anywhere leaves any previous table of
-- that name as it was.  Not meant to be run on its own.
--
-- Input variables: ratings (table name), source (the file, for messages),
-- what (a few words naming the format, for the table comment).

SELECT pg_catalog.count(pg_temp.recgan_fail(pg_catalog.format('file "%s" holds no ratings',
		:'source'))) AS ok
	WHERE NOT EXISTS (SELECT FROM recgan_load_ratings) \gset

DROP TABLE IF EXISTS :"ratings";
CREATE TABLE :"ratings" (
	user_id	bigint NOT NULL,
	item_id	bigint NOT NULL,
	rating	real NOT NULL,
	ts		bigint
);
INSERT INTO :"ratings" (user_id, item_id, rating, ts)
	SELECT user_id, item_id, rating, ts FROM recgan_load_ratings ORDER BY lineno, pos;
SELECT pg_catalog.format('%s ratings loaded from %s', :'what', :'source') AS table_comment \gset
COMMENT ON TABLE :"ratings" IS :'table_comment';
ANALYZE :"ratings";

SELECT pg_catalog.count(*) AS n_ratings, pg_catalog.count(DISTINCT user_id) AS n_users,
	pg_catalog.count(DISTINCT item_id) AS n_items FROM :"ratings" \gset
\set report_ratings :ratings ': ' :n_ratings ' ratings, ' :n_users ' users, ' :n_items ' items, from ' :source
