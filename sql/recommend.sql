-- recgan_recommend / _items / _all, model management, corrupted models.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
RESET client_min_messages;

CREATE TABLE rr (user_id int, item_id int, rating int);
-- users 1..4; item popularity: 100 (4), 101 (3), 102 (2), 103 (2), 104 (1)
INSERT INTO rr VALUES
	(1, 100, 5), (1, 101, 5),
	(2, 100, 5), (2, 102, 5), (2, 103, 5),
	(3, 100, 5), (3, 101, 5), (3, 104, 5),
	(4, 100, 5), (4, 101, 5), (4, 102, 5), (4, 103, 5);
SELECT count(*) FROM recgan_train('rr', 'default', 'popularity');

-- Both call forms; the default model; training positives excluded.
SELECT recgan_recommend(1, 2);
SELECT * FROM recgan_recommend(1, 10);
SELECT * FROM recgan_recommend(1, 10, exclude_seen => false);
-- Unknown users get the cold-start answer (popularity), ties by item id.
SELECT * FROM recgan_recommend(999, 3);
-- NULL user: no rows (STRICT).
SELECT count(*) FROM recgan_recommend(NULL, 3);

-- Fold-in: a new user given by liked items.
SELECT count(*) FROM recgan_train('rr', 'ease', 'ease', '{"lambda": 1}');
SELECT item_id, rank FROM recgan_recommend_items(ARRAY[100, 101], 3, 'ease');
SELECT item_id, rank FROM recgan_recommend_items(ARRAY[101, 100, 101, 55555], 3, 'ease');
SELECT item_id, rank FROM recgan_recommend_items('{}', 2, 'ease');
SELECT * FROM recgan_recommend_items(ARRAY[100, NULL], 2, 'ease');
SELECT * FROM recgan_recommend_items(ARRAY[[100], [101]], 2, 'ease');

-- All users at once agrees with one user at a time.
SELECT user_id, item_id, rank FROM recgan_recommend_all(2, 'ease') ORDER BY user_id, rank;
SELECT bool_and(a.item_id = b.item_id AND a.score = b.score) AS same
FROM recgan_recommend_all(3, 'ease') a
JOIN LATERAL recgan_recommend(a.user_id, 3, 'ease') b ON b.rank = a.rank;

-- recgan_recommend_ids: the same item ids in rank order, as one array, for
-- known and unknown users, every k, and every filter.
SELECT count(*) AS calls,
	   count(*) FILTER (WHERE recgan_recommend_ids(u, k, m, s, e, c) IS DISTINCT FROM
		   (SELECT coalesce(array_agg(r.item_id ORDER BY r.rank), '{}')
			FROM recgan_recommend(u, k, m, s, e, c) r)) AS different
FROM generate_series(1, 5) u, generate_series(1, 6) k, unnest(ARRAY['default', 'ease']) m,
	 unnest(ARRAY[true, false]) s,
	 (VALUES (NULL::int8[]), ('{100}'), ('{101, 999}')) e(e),
	 (VALUES (NULL::int8[]), ('{102, 103, 104}')) c(c);
SELECT recgan_recommend_ids(1, 3, 'ease') AS ids,
	   recgan_recommend_ids(NULL, 3, 'ease') AS null_user;
SELECT recgan_recommend_ids(1, 0, 'ease');
SELECT recgan_recommend_ids(1, 3, NULL);
SELECT recgan_recommend_ids(1, 3, 'ease', NULL);
SELECT recgan_recommend_ids(1, 3, 'no_such_model');

-- Bad arguments.
SELECT * FROM recgan_recommend(1, 0);
SELECT * FROM recgan_recommend(1, -3);
SELECT * FROM recgan_recommend_all(0);
SELECT * FROM recgan_recommend_items(ARRAY[1], 0, 'ease');
SELECT * FROM recgan_recommend(1, 5, 'no_such_model');
SELECT * FROM recgan_recommend(1, 5, $$'; DROP TABLE rr; --$$);

-- Model management.
\set SHOW_CONTEXT never
SELECT name, algorithm, n_users, n_items, n_interactions, size_bytes > 192 AS sized,
	header->>'n_positives' AS positives, header->'tensors' AS tensors
FROM recgan_model_info('ease');
SELECT * FROM recgan_model_info('nope');
SELECT recgan_drop_model('nope');
SELECT recgan_drop_model('nope', if_exists => true);
SELECT count(*) FROM recgan_train('rr', 'tmp', 'popularity');
SELECT recgan_drop_model('tmp');
SELECT count(*) FROM recgan_models WHERE name = 'tmp';

-- Corrupted model bytes: a clear DATA_CORRUPTED error, never a crash.
\set SHOW_CONTEXT never
CREATE TABLE saved AS SELECT model FROM recgan_models WHERE name = 'ease';
-- one flipped byte in the payload
UPDATE recgan_models SET model = set_byte(model, 300, get_byte(model, 300) # 1) WHERE name = 'ease';
SELECT * FROM recgan_recommend(1, 3, 'ease');
-- truncated
UPDATE recgan_models SET model = substring((SELECT model FROM saved) FROM 1 FOR 250) WHERE name = 'ease';
SELECT * FROM recgan_recommend(1, 3, 'ease');
-- shorter than the header
UPDATE recgan_models SET model = '\x0102' WHERE name = 'ease';
SELECT * FROM recgan_recommend(1, 3, 'ease');
-- not a recgan model
UPDATE recgan_models SET model = decode(repeat('ab', 400), 'hex') WHERE name = 'ease';
SELECT * FROM recgan_model_info('ease');
-- a flipped header byte (the number of users)
UPDATE recgan_models SET model = set_byte((SELECT model FROM saved), 24, 99) WHERE name = 'ease';
SELECT * FROM recgan_recommend_all(3, 'ease');
-- every single-byte flip of the header and the first payload bytes errors cleanly
DO $$
DECLARE
	good bytea := (SELECT model FROM saved);
	bad bytea;
	failures int := 0;
BEGIN
	FOR i IN 0 .. 400 LOOP
		bad := set_byte(good, i, get_byte(good, i) # 128);
		BEGIN
			PERFORM recgan_model_header(bad);
		EXCEPTION WHEN data_corrupted THEN
			failures := failures + 1;
		END;
	END LOOP;
	RAISE NOTICE 'corrupted variants rejected: % of 401', failures;
END $$;
-- the intact bytes still work
UPDATE recgan_models SET model = (SELECT model FROM saved) WHERE name = 'ease';
SELECT item_id, rank FROM recgan_recommend(1, 3, 'ease');
