-- Scheduling and asynchronous training: the SQL API without workers.
-- Every call of recgan_schedule and recgan_train_async below fails before it
-- looks for the launcher, and the rows row-level security is tested on are
-- inserted directly (never due, in a database no launcher serves), so the
-- output is the same whether or not recgan is preloaded.  Workers, runs and
-- schedules that really run are tested in test/t/03*_worker*.pl.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS recgan;
SET client_min_messages = notice;

-- SQLSTATE and message of a statement's error, or 'ok'.
CREATE FUNCTION worker_error(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE TABLE wr (user_id int, item_id int, rating real);
INSERT INTO wr VALUES (1, 1, 5), (1, 2, 4), (2, 1, 5);
CREATE VIEW wv AS SELECT * FROM wr;
CREATE ROLE regress_recgan_alice LOGIN;
CREATE ROLE regress_recgan_bob LOGIN;
CREATE ROLE regress_recgan_team NOLOGIN;
GRANT regress_recgan_team TO regress_recgan_alice;
GRANT SELECT ON wr TO regress_recgan_alice;

-- Bad arguments, each with its SQLSTATE.
SELECT worker_error($$SELECT recgan_schedule(NULL, '1 hour', 'wr')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', NULL)$$);
SELECT worker_error($$SELECT recgan_schedule('', '1 hour', 'wr')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'no_such_table')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', 'no_such_algorithm')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', 'ease', '{"lamda": 1}')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', user_col => NULL)$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', threshold => 'infinity')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '0 seconds', 'wr')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '-1 day', 'wr')$$);
SELECT worker_error($$SELECT recgan_schedule('m', NULL, 'wr')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', min_new_rows => -1)$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', min_new_rows => NULL)$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wv', min_new_rows => 10)$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', owner => 'regress_recgan_nobody')$$);
SELECT worker_error($$SELECT recgan_train_async(NULL)$$);
SELECT worker_error($$SELECT recgan_train_async('wr', '')$$);
SELECT worker_error($$SELECT recgan_train_async('wr', 'm', 'ease', '[1]')$$);
SELECT worker_error($$SELECT recgan_train_async('wr; DROP TABLE wr', 'm')$$);

-- Superuser-owned jobs are refused (recgan.allow_superuser_jobs is off).
-- (The superuser running the tests is shown as SUPERUSER.)
SHOW recgan.allow_superuser_jobs;
SELECT replace(worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr')$$), current_user, 'SUPERUSER');
SELECT replace(worker_error($$SELECT recgan_train_async('wr', 'm')$$), current_user, 'SUPERUSER');

-- A role schedules for itself or for a role it is a member of, and that
-- role must be able to log in: a job runs in a session of its owner.
SET ROLE regress_recgan_alice;
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', owner => 'regress_recgan_bob')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', owner => 'regress_recgan_team')$$);
SELECT worker_error($$SELECT recgan_schedule('m', '1 hour', 'wr', owner => 'regress_recgan_nobody')$$);
RESET ROLE;

-- Row-level security.  Rows made directly by the superuser, never due.
INSERT INTO recgan_schedules (model, owner, every, source, algorithm, user_col, item_col, next_run_at)
VALUES ('ma', 'regress_recgan_alice', '1 hour', 'public.wr', 'ease', 'user_id', 'item_id', 'infinity'),
	   ('mb', 'regress_recgan_bob', '1 hour', 'public.wr', 'ease', 'user_id', 'item_id', 'infinity');
INSERT INTO recgan_run_history (model, owner, kind, status, source, algorithm, user_col, item_col)
VALUES ('ma', 'regress_recgan_alice', 'async', 'succeeded', 'public.wr', 'ease', 'user_id', 'item_id'),
	   ('ma', 'regress_recgan_alice', 'async', 'queued', 'public.wr', 'ease', 'user_id', 'item_id'),
	   ('mb', 'regress_recgan_bob', 'async', 'queued', 'public.wr', 'ease', 'user_id', 'item_id');
SELECT run_id AS bob_run FROM recgan_run_history WHERE model = 'mb' \gset

SET ROLE regress_recgan_alice;
SELECT model, owner, every FROM recgan_schedules ORDER BY model;
SELECT model, owner, kind, status FROM recgan_runs ORDER BY run_id;
SELECT count(*) FROM recgan_run_history WHERE owner <> current_user;
-- Other owners' schedules and runs do not exist for alice.
SELECT worker_error($$SELECT recgan_unschedule('mb')$$);
SELECT recgan_unschedule('mb', if_exists => true);
SELECT regexp_replace(worker_error(format('SELECT recgan_cancel(%s)', :bob_run)), '[0-9]+', 'N', 'g');
-- Tables are written only through the functions (and deleted by owners).
SELECT worker_error($$UPDATE recgan_schedules SET every = '1 minute'$$);
SELECT worker_error($$INSERT INTO recgan_run_history (model, owner, kind, source, algorithm, user_col, item_col)
	VALUES ('x', current_user, 'async', 'public.wr', 'ease', 'user_id', 'item_id')$$);
SELECT worker_error($$UPDATE recgan_run_history SET status = 'succeeded'$$);
-- Cancel: a queued run ends at once; an ended run is left as it is.
SELECT recgan_cancel(run_id) FROM recgan_runs WHERE status = 'queued';
SELECT recgan_cancel(run_id) FROM recgan_runs WHERE status = 'succeeded';
SELECT status, message, ended_at IS NOT NULL AS ended FROM recgan_runs ORDER BY run_id;
-- Owners delete their own ended runs and their schedules.
DELETE FROM recgan_run_history;
SELECT recgan_unschedule('ma');
SELECT count(*) FROM recgan_schedules;
-- No run is going on, so there is no live progress.
SELECT count(*) FROM recgan_run_progress();
RESET ROLE;

-- Bob's rows are untouched; the superuser sees them.
SELECT model, owner FROM recgan_schedules ORDER BY model;
SELECT model, owner, status FROM recgan_runs ORDER BY run_id;

DELETE FROM recgan_schedules;
DELETE FROM recgan_run_history;
DROP VIEW wv;
DROP TABLE wr;
DROP FUNCTION worker_error(text);
DROP ROLE regress_recgan_alice, regress_recgan_bob, regress_recgan_team;
DROP EXTENSION recgan;
