# Scheduled training in background workers: a 2-second schedule retrains,
# min_new_rows skips until enough rows changed, a job reads only what its
# owner may read, schedules are private to their owner, scheduling for
# another role needs membership, superuser jobs are refused unless allowed,
# jobs run only in recgan.database, and a best_score schedule stores a worse
# model undeployed, saying so in the run's message.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WorkerNode;

my $node = worker_node('schedule');
my ($rc, $out, $err, $run);
$node->safe_psql('postgres', q{
	CREATE TABLE secret AS SELECT * FROM ratings;
});
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recgan launcher'"),
	'the launcher runs');

# ---- a 2-second schedule retrains at least twice
my $due = as_role($node, 'alice',
	q{SELECT recgan_schedule('every2', '2 seconds', 'ratings', 'itemknn') <= now()});
is($due, 't', 'recgan_schedule returns the first due time: now');
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) >= 1 FROM recgan_runs WHERE model = 'every2' AND status = 'succeeded'}),
	'first scheduled run succeeded');
my $first = $node->safe_psql('postgres', q{SELECT trained_at FROM recgan_models WHERE name = 'every2'});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) >= 2 FROM recgan_runs WHERE model = 'every2' AND status = 'succeeded'}),
	'second scheduled run succeeded');
is( $node->safe_psql('postgres',
		"SELECT trained_at > '$first' FROM recgan_models WHERE name = 'every2'"),
	't', 'trained_at advanced');
is( $node->safe_psql('postgres', q{
		SELECT pg_catalog.min(b.queued_at - a.queued_at) >= interval '1.5 seconds'
		FROM recgan_runs a JOIN recgan_runs b ON b.run_id > a.run_id AND b.model = a.model
		WHERE a.model = 'every2'}),
	't', 'runs are queued 2 seconds apart');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(DISTINCT kind || '/' || owner || '/' || algorithm, ',')
		FROM recgan_runs WHERE model = 'every2' AND status = 'succeeded'}),
	'scheduled/alice/itemknn', 'runs are scheduled, owned by alice, with the schedule\'s algorithm');
is(as_role($node, 'alice', q{SELECT recgan_unschedule('every2')}), 't', 'unschedule');
my $n_runs = $node->safe_psql('postgres', q{SELECT count(*) FROM recgan_runs WHERE model = 'every2'});
sleep(3);
is($node->safe_psql('postgres', q{SELECT count(*) FROM recgan_runs WHERE model = 'every2'}),
	$n_runs, 'no run after unschedule');

# ---- min_new_rows: skipped while too few rows changed, trained after enough
as_role($node, 'alice',
	q{SELECT recgan_schedule('fresh', '1 second', 'ratings', 'popularity', min_new_rows => 100)});
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) >= 1 FROM recgan_runs
		WHERE model = 'fresh' AND status = 'skipped'
		  AND message = '0 rows of public.ratings changed since the last training, fewer than min_new_rows (100)'}),
	'nothing changed: the run is skipped, and the skip recorded with its reason');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM recgan_runs WHERE model = 'fresh' AND status = 'succeeded'}),
	'1', 'trained once (the first run has no previous count)');
$node->safe_psql('postgres',
	q{INSERT INTO ratings SELECT 1000 + i, i, 5 FROM generate_series(1, 30) i});
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) >= 1 FROM recgan_runs
		WHERE model = 'fresh' AND status = 'skipped' AND message LIKE '30 rows of %'}),
	'30 inserted rows: still skipped, and counted');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM recgan_runs WHERE model = 'fresh' AND status = 'succeeded'}),
	'1', 'no retraining for 30 rows');
# 50 more inserts, 80 updates, 10 deletes: 170 changed rows, in one transaction
# so that the data and the statistics change together.
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO ratings SELECT 1030 + i, i, 5 FROM generate_series(1, 50) i;
	UPDATE ratings SET rating = 4 WHERE user_id > 1000;
	DELETE FROM ratings WHERE user_id > 1070;
	COMMIT;
});
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) = 2 FROM recgan_runs WHERE model = 'fresh' AND status = 'succeeded'}),
	'170 changed rows >= min_new_rows: retrained');
is( $node->safe_psql('postgres', q{
		SELECT n_users FROM recgan_models WHERE name = 'fresh'}),
	'370', 'the retrained model has the new users');
is( $node->safe_psql('postgres',
		q{SELECT source_changes > 0 FROM recgan_schedules WHERE model = 'fresh'}),
	't', 'the change count of the last training is kept on the schedule');
as_role($node, 'alice', q{SELECT recgan_unschedule('fresh')});

# ---- best_score: a scheduled retrain worse than the deployed version is
# stored but not deployed, and the run's message says so; a better async
# one is deployed.  (iALS keeps a validation holdout by default.)
as_role($node, 'alice', q{
	SELECT count(*) FROM recgan_train('ratings', 'best', 'ials', '{"factors": 8, "epochs": 5}')});
my $served = q{SELECT string_agg(item_id::text, ',' ORDER BY rank) FROM recgan_recommend(3, 10, 'best')};
my $v1_recs = $node->safe_psql('postgres', $served);
as_role($node, 'alice', q{SELECT recgan_schedule('best', '1 hour', 'ratings', 'ials',
	'{"factors": 1, "epochs": 1, "deploy": "best_score"}')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM recgan_runs WHERE model = 'best' AND status = 'succeeded'}),
	'the scheduled best_score run succeeded');
my $best_message = $node->safe_psql('postgres', q{SELECT message FROM recgan_runs WHERE model = 'best'});
note "the run's message: $best_message";
like($best_message,
	qr/^version 2 not deployed: validation [0-9.e-]+ is worse than deployed version 1's [0-9.e-]+$/,
	'its message: version 2 was not deployed, and why');
is($node->safe_psql('postgres', q{
		SELECT string_agg(version || ':' || deployed || ':' || owner, ',' ORDER BY version)
		FROM recgan_model_versions WHERE name = 'best'}),
	'1:true:alice,2:false:alice', 'version 2 is stored undeployed, version 1 stays deployed');
is($node->safe_psql('postgres', $served), $v1_recs, 'version 1 is still served');
is($node->safe_psql('postgres', q{
		SELECT r.metrics = v.metrics FROM recgan_runs r, recgan_model_versions v
		WHERE r.model = 'best' AND v.name = 'best' AND v.version = 2}),
	't', 'the run records the metrics of the version it stored');
as_role($node, 'alice', q{SELECT recgan_unschedule('best')});
$run = as_role($node, 'alice', q{SELECT recgan_train_async('ratings', 'best', 'ials',
	'{"factors": 16, "epochs": 8, "deploy": "best_score"}')});
ok(wait_run($node, $run, "status = 'succeeded'"), 'a better async best_score run succeeded');
$best_message = run_field($node, $run, 'message');
note "the run's message: $best_message";
like($best_message,
	qr/^version 3 deployed: validation [0-9.e-]+ is not worse than version 1's [0-9.e-]+$/,
	'its message: version 3 was deployed');
is($node->safe_psql('postgres', q{SELECT version FROM recgan_models WHERE name = 'best'}), '3',
	'version 3 is deployed');
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT recgan_schedule('best', '1 hour', 'ratings', 'ials', '{"deploy": "best"}')},
	extra_params => [ '-U', 'alice' ]);
like($err, qr/invalid value "best" for option "deploy"/, 'a bad deploy strategy is refused at schedule time');

# ---- a job reads only what its owner may read
$run = as_role($node, 'alice', q{SELECT recgan_train_async('secret', 'stolen', 'popularity')});
ok(wait_run($node, $run, "status = 'failed'"), 'async job on an unreadable table failed');
is(run_field($node, $run, 'message'), 'permission denied for table secret',
	'the permission error is in recgan_runs.message');
as_role($node, 'alice', q{SELECT recgan_schedule('stolen2', '1 hour', 'secret', 'popularity')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM recgan_runs WHERE model = 'stolen2' AND status = 'failed'
		  AND message = 'permission denied for table secret'}),
	'scheduled job on an unreadable table failed with the permission error');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM recgan_models WHERE name IN ('stolen', 'stolen2')}),
	'0', 'no model was written');

# ---- schedules are private; scheduling for another role needs membership
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT recgan_schedule('hers', '1 hour', 'ratings', owner => 'alice')},
	extra_params => [ '-U', 'bob' ]);
isnt($rc, 0, 'bob cannot schedule for alice');
like($err, qr/permission denied to run jobs as role "alice"/, '... with a clear error');
as_role($node, 'bob', q{SELECT recgan_schedule('his', '1 hour', 'ratings', 'popularity')});
is(as_role($node, 'bob', q{SELECT string_agg(model, ',' ORDER BY model) FROM recgan_schedules}),
	'his', 'bob sees only his schedule');
is(as_role($node, 'alice', q{SELECT string_agg(model, ',' ORDER BY model) FROM recgan_schedules}),
	'stolen2', 'alice sees only hers');
is(as_role($node, 'bob', q{SELECT count(*) FROM recgan_runs WHERE owner <> 'bob'}),
	'0', 'bob sees none of alice\'s runs');
($rc, $out, $err) = $node->psql('postgres', q{SELECT recgan_unschedule('stolen2')},
	extra_params => [ '-U', 'bob' ]);
like($err, qr/model "stolen2" has no schedule/, 'bob cannot unschedule alice\'s schedule');
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT recgan_schedule('stolen2', '1 hour', 'ratings', 'popularity')},
	extra_params => [ '-U', 'bob' ]);
like($err, qr/model "stolen2" is already scheduled by another role/,
	'nor replace it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recgan_schedules}), '2',
	'the superuser sees every schedule');
$node->safe_psql('postgres', 'GRANT alice TO bob');
as_role($node, 'bob',
	q{SELECT recgan_schedule('for_alice', '1 hour', 'ratings', 'popularity', owner => 'alice')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM recgan_runs WHERE model = 'for_alice' AND status = 'succeeded'
		  AND owner = 'alice'}),
	'a member schedules for the role, and the job runs as that role');
is($node->safe_psql('postgres', q{SELECT owner FROM recgan_models WHERE name = 'for_alice'}),
	'alice', 'the model is written by alice');

# ---- superuser jobs are refused unless recgan.allow_superuser_jobs
($rc, $out, $err) = $node->psql('postgres', q{SELECT recgan_train_async('ratings', 'su', 'popularity')});
like($err, qr/jobs owned by superuser ".*" are refused while recgan\.allow_superuser_jobs is off/,
	'a superuser job is refused');
$node->safe_psql('postgres',
	'ALTER SYSTEM SET recgan.allow_superuser_jobs = on; SELECT pg_reload_conf()');
$node->poll_query_until('postgres', q{SELECT current_setting('recgan.allow_superuser_jobs') = 'on'});
$run = $node->safe_psql('postgres', q{SELECT recgan_train_async('ratings', 'su', 'popularity')});
ok(wait_run($node, $run, "status = 'succeeded'"), 'allowed with recgan.allow_superuser_jobs = on');
$node->safe_psql('postgres',
	'ALTER SYSTEM RESET recgan.allow_superuser_jobs; SELECT pg_reload_conf()');

# ---- jobs run only in recgan.database
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION recgan; CREATE TABLE r (user_id int, item_id int, rating int)');
($rc, $out, $err) = $node->psql('other',
	q{SELECT recgan_train_async('r', 'm', 'popularity')}, extra_params => [ '-U', 'alice' ]);
like($err, qr/recgan background jobs run only in database "postgres"/,
	'recgan_train_async in another database is refused');

# ---- a queued run whose owner may no longer log in fails at launch
$node->safe_psql('postgres', q{
	ALTER ROLE bob NOLOGIN;
	INSERT INTO recgan_run_history (model, owner, kind, source, algorithm, user_col, item_col)
	VALUES ('nologin', 'bob', 'async', 'public.ratings', 'popularity', 'user_id', 'item_id');
});
ok( $node->poll_query_until('postgres', q{
		SELECT count(*) = 1 FROM recgan_runs WHERE model = 'nologin' AND status = 'failed'
		AND message = 'role "bob" cannot log in, and a job runs in a session of its owner'}),
	'a run whose owner cannot log in fails with the reason');

# ---- pg_dump keeps schedules and ended runs, not queued or running ones
# (A 'running' row with no worker: the launcher only looks at such rows
# when it starts, so it stays put while we dump.)
$node->safe_psql('postgres', q{
	INSERT INTO recgan_run_history (model, owner, kind, status, source, algorithm, user_col, item_col)
	VALUES ('never', 'alice', 'async', 'running', 'public.ratings', 'popularity', 'user_id', 'item_id');
});
my $dump = $node->basedir . '/worker.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
my $count = q{SELECT (SELECT count(*) FROM recgan_schedules) || ' '
	|| (SELECT count(*) FROM recgan_run_history WHERE status NOT IN ('queued', 'running'))};
is($node->safe_psql('restored', $count), $node->safe_psql('postgres', $count),
	'schedules and ended runs survive dump and restore');
is($node->safe_psql('restored', q{SELECT count(*) FROM recgan_run_history WHERE status IN ('queued', 'running')}),
	'0', 'queued and running runs are not dumped');
is($node->safe_psql('restored', q{SELECT nextval('recgan_run_id_seq') > max(run_id) FROM recgan_run_history}),
	't', 'the run id sequence is restored past the restored runs');

$node->stop;
done_testing();
