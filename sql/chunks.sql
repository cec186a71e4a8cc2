-- Models stored in chunks (above recgan.model_chunk_size): same answers as a
-- one-row model, transactional writes, corruption detected, dropped with it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;

-- 300 items, 200 users: a dense EASE model of about 380 kB
CREATE TABLE ck AS
SELECT u AS user_id, i AS item_id, 5 AS rating
FROM generate_series(1, 200) u, generate_series(1, 300) i
WHERE (u * 7 + i * 13) % 11 < 2 OR (u + i) % 37 = 0;

SELECT count(*) FROM recgan_train('ck', 'ck_one', 'ease', '{"lambda": 10}');
SET recgan.model_chunk_size = '64kB';
SELECT count(*) FROM recgan_train('ck', 'ck_chunked', 'ease', '{"lambda": 10}');
RESET recgan.model_chunk_size;

-- the one-row model holds the model, the chunked one a manifest and its chunks
SELECT name, size_bytes > 65536 AS big, header ? 'chunks' AS chunked,
	header->>'chunks' AS chunks, header->>'chunk_size' AS chunk_size
FROM recgan_model_info('ck_one')
UNION ALL
SELECT name, size_bytes > 65536, header ? 'chunks', header->>'chunks', header->>'chunk_size'
FROM recgan_model_info('ck_chunked');
SELECT (SELECT size_bytes FROM recgan_model_info('ck_one')) =
	(SELECT size_bytes FROM recgan_model_info('ck_chunked')) AS same_size;
SELECT name, count(*) AS chunks, sum(octet_length(data)) AS bytes,
	min(seq) AS first, max(seq) AS last
FROM recgan_model_chunks GROUP BY name;

-- the same recommendations, similar items and fold-in, every user
SELECT count(*) AS differing FROM (
	(SELECT * FROM recgan_recommend_all(10, 'ck_one')
	 EXCEPT SELECT * FROM recgan_recommend_all(10, 'ck_chunked'))
	UNION ALL
	(SELECT * FROM recgan_recommend_all(10, 'ck_chunked')
	 EXCEPT SELECT * FROM recgan_recommend_all(10, 'ck_one'))) d;
SELECT count(*) AS rows FROM recgan_recommend_all(10, 'ck_chunked');
SELECT a.item_id = b.item_id AND a.score = b.score AS same, count(*)
FROM recgan_similar_items(5, 5, 'ck_one') a
	JOIN recgan_similar_items(5, 5, 'ck_chunked') b USING (rank)
GROUP BY 1;
SELECT a.item_id = b.item_id AND a.score = b.score AS same, count(*)
FROM recgan_recommend_items(ARRAY[1, 2, 3], 5, 'ck_one') a
	JOIN recgan_recommend_items(ARRAY[1, 2, 3], 5, 'ck_chunked') b USING (rank)
GROUP BY 1;

-- a retrain that rolls back leaves the chunked model and its chunks (inside
-- it, the old version's chunks stay too: it is archived, not deleted)
BEGIN;
SELECT count(*) FROM recgan_train('ck', 'ck_chunked', 'popularity');
SELECT count(*) AS chunks_inside FROM recgan_model_chunks WHERE name = 'ck_chunked';
ROLLBACK;
SELECT count(*) AS chunks_after FROM recgan_model_chunks WHERE name = 'ck_chunked';
SELECT algorithm FROM recgan_model_info('ck_chunked');

-- a cancelled chunked retrain of the one-row model leaves it whole
SET recgan.model_chunk_size = '64kB';
BEGIN;
SELECT count(*) FROM recgan_train('ck', 'ck_one', 'ease', '{"lambda": 20}');
SELECT count(*) AS chunks_inside FROM recgan_model_chunks WHERE name = 'ck_one';
ROLLBACK;
RESET recgan.model_chunk_size;
SELECT count(*) AS chunks_after FROM recgan_model_chunks WHERE name = 'ck_one';

-- corruption is caught when the model is decoded (a new session with the
-- cache off, so every call decodes)
\c
SET recgan.cache_mb = 0;
BEGIN;
UPDATE recgan_model_chunks SET data = set_byte(data, 100, get_byte(data, 100) # 1)
WHERE name = 'ck_chunked' AND seq = 2;
SELECT count(*) FROM recgan_recommend(1, 5, 'ck_chunked');
ROLLBACK;
BEGIN;
DELETE FROM recgan_model_chunks WHERE name = 'ck_chunked' AND seq = 3;
SELECT count(*) FROM recgan_recommend(1, 5, 'ck_chunked');
ROLLBACK;
BEGIN;
UPDATE recgan_model_chunks SET data = substr(data, 1, 1000) WHERE name = 'ck_chunked' AND seq = 0;
SELECT count(*) FROM recgan_recommend(1, 5, 'ck_chunked');
ROLLBACK;
BEGIN;
UPDATE recgan_models SET model = set_byte(model, 12, 99) WHERE name = 'ck_chunked';
SELECT count(*) FROM recgan_recommend(1, 5, 'ck_chunked');
ROLLBACK;
SELECT count(*) FROM recgan_recommend(1, 5, 'ck_chunked');
RESET recgan.cache_mb;

-- a retrain below the chunk size stores one row; the chunks stay with the
-- archived version they belong to (sql/versions.sql)
SELECT count(*) FROM recgan_train('ck', 'ck_chunked', 'popularity');
SELECT count(*) AS chunks FROM recgan_model_chunks WHERE name = 'ck_chunked';

-- dropping a chunked model drops its chunks
SET recgan.model_chunk_size = '64kB';
SELECT count(*) FROM recgan_train('ck', 'ck_chunked', 'ease', '{"lambda": 10}');
RESET recgan.model_chunk_size;
SELECT count(*) > 1 AS chunked FROM recgan_model_chunks WHERE name = 'ck_chunked';
SELECT recgan_drop_model('ck_chunked');
SELECT count(*) AS chunks FROM recgan_model_chunks;

-- a role with privileges on recgan_models and recgan_model_archive only
-- trains, serves and drops a chunked model (chunks are read and written as
-- their owner), and cannot read the chunks table itself
CREATE ROLE ck_trainer;
GRANT SELECT, INSERT, UPDATE, DELETE ON recgan_models, recgan_model_archive TO ck_trainer;
GRANT SELECT ON ck TO ck_trainer;
SET ROLE ck_trainer;
SET recgan.model_chunk_size = '64kB';
SELECT count(*) FROM recgan_train('ck', 'ck_role', 'ease', '{"lambda": 10}');
RESET recgan.model_chunk_size;
SELECT count(*) FROM recgan_recommend(1, 5, 'ck_role');
SELECT count(*) FROM recgan_model_chunks;
RESET ROLE;
SELECT count(*) AS chunks FROM recgan_model_chunks WHERE name = 'ck_role';
SET ROLE ck_trainer;
SELECT recgan_drop_model('ck_role');
RESET ROLE;
SELECT count(*) AS chunks FROM recgan_model_chunks WHERE name = 'ck_role';

-- a plain DELETE of a chunked model's row takes its chunks too
SET recgan.model_chunk_size = '64kB';
SELECT count(*) FROM recgan_train('ck', 'ck_del', 'ease', '{"lambda": 10}');
RESET recgan.model_chunk_size;
SELECT count(*) > 1 AS chunked FROM recgan_model_chunks WHERE name = 'ck_del';
DELETE FROM recgan_models WHERE name = 'ck_del';
SELECT count(*) AS chunks FROM recgan_model_chunks WHERE name = 'ck_del';
REVOKE ALL ON recgan_models, recgan_model_archive FROM ck_trainer;
DROP OWNED BY ck_trainer;
DROP ROLE ck_trainer;

-- the triggers' functions are not callable directly
SELECT recgan_models_deleted();
SELECT recgan_models_changed();

-- the chunk size's bounds
SET recgan.model_chunk_size = '32kB';
SET recgan.model_chunk_size = '1GB';

SELECT recgan_drop_model('ck_one');
DROP TABLE ck;
