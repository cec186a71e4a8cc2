-- lib/store_items.sql: replace the table :"items_table" with the rows of the
-- temporary table recgan_load_items (lineno, line, item_id, title, genres).
-- Included with \ir by the data/load_*.sql loaders that read titles, inside
-- their transaction.  Not meant to be run on its own.
--
-- Input variables: items_table (table name), source (the file, for messages),
-- what (a few words naming the format, for the table comment).

-- A repeated item id is a malformed line too: name both lines.
SELECT pg_catalog.count(pg_temp.recgan_load_fail(:'source', lineno, line,
		pg_catalog.format('item id %s already appears on line %s', item_id, first))) AS ok
	FROM (SELECT lineno, line, item_id, first
		FROM (SELECT lineno, line, item_id,
				pg_catalog.min(lineno) OVER (PARTITION BY item_id) AS first
			FROM recgan_load_items) d
		WHERE lineno > first ORDER BY lineno LIMIT 1) dup \gset

SELECT pg_catalog.count(pg_temp.recgan_fail(pg_catalog.format('file "%s" holds no items',
		:'source'))) AS ok
	WHERE NOT EXISTS (SELECT FROM recgan_load_items) \gset

DROP TABLE IF EXISTS :"items_table";
CREATE TABLE :"items_table" (
	item_id	bigint PRIMARY KEY,
	title	text,
	genres	text
);
INSERT INTO :"items_table" (item_id, title, genres)
	SELECT item_id, title, genres FROM recgan_load_items ORDER BY lineno;
SELECT pg_catalog.format('%s items loaded from %s', :'what', :'source') AS table_comment \gset
COMMENT ON TABLE :"items_table" IS :'table_comment';
ANALYZE :"items_table";

SELECT pg_catalog.count(*) AS n_titled FROM :"items_table" \gset
\set report_items :items_table ': ' :n_titled ' items, from ' :source
