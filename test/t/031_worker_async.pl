# Asynchronous training in background workers: recgan_train_async returns
# at once and its epoch and loss advance live in recgan_runs; recgan_cancel
# ends it as cancelled with the previous model intact; pg_terminate_backend
# on the worker and a server restart during a run mark it failed; the
# launcher comes back after it dies; a run waits, queued, with a WARNING
# naming max_worker_processes when no worker slot is free; without
# preloading, recgan_train_async fails clearly and training still works.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use WorkerNode;

my $node = worker_node('async');

# A long training with real epochs: CFGAN, 1000 epochs of about 50 ms here
# (it is always cancelled or killed long before it ends).  slow_few: a view
# that sleeps 10 ms a row, for a run of a few seconds without BLAS.
$node->safe_psql('postgres', q{
	CREATE FUNCTION slow(x int) RETURNS int LANGUAGE sql AS 'SELECT pg_sleep(0.01); SELECT x';
	CREATE VIEW slow_few AS SELECT slow(user_id) AS user_id, item_id, rating
		FROM ratings WHERE item_id < 10;
	GRANT SELECT ON slow_few TO alice;
});
my $long = q{recgan_train_async('ratings', 'm', 'cfgan', '{"epochs": 1000, "patience": 0}')};

# The previous model, trained synchronously by alice.
as_role($node, 'alice', q{SELECT count(*) FROM recgan_train('ratings', 'm', 'ease')});
my $model_q = q{SELECT algorithm || ' ' || md5(model) || ' ' || trained_at FROM recgan_models WHERE name = 'm'};
my $previous = $node->safe_psql('postgres', $model_q);

# ---- returns at once; progress advances; cancel keeps the previous model
my $t0 = time();
my $run = as_role($node, 'alice', "SELECT $long");
my $elapsed = time() - $t0;
cmp_ok($elapsed, '<', 2, 'recgan_train_async returns at once');
like(run_field($node, $run, 'status'), qr/^(queued|running)$/, 'the run is queued or running');
ok(wait_run($node, $run, "status = 'running'"), 'the run is running');
is(run_field($node, $run, 'pid = (SELECT pid FROM pg_stat_activity WHERE backend_type = \'recgan worker\')'),
	't', 'recgan_runs.pid is the worker\'s');
is($node->safe_psql('postgres',
		"SELECT usename FROM pg_stat_activity WHERE application_name = 'recgan run $run'"),
	'alice', 'the worker is connected as alice');
ok(wait_run($node, $run, 'epoch >= 2'), 'epochs are reported while it runs');
my $e1 = run_field($node, $run, 'epoch');
is(run_field($node, $run, 'epochs = 1000 AND loss IS NOT NULL'), 't', 'with the total and the loss');
ok(wait_run($node, $run, "epoch > $e1 AND status = 'running'"), 'the epoch advances');
is(as_role($node, 'alice', "SELECT count(*) FROM recgan_run_progress() WHERE run_id = $run"),
	'1', 'live progress comes from shared memory');
is(as_role($node, 'bob', "SELECT count(*) FROM recgan_runs WHERE run_id = $run"), '0',
	'bob does not see alice\'s run');
my ($rc, $out, $err) = $node->psql('postgres', "SELECT recgan_cancel($run)",
	extra_params => [ '-U', 'bob' ]);
like($err, qr/run $run does not exist/, 'nor can he cancel it');
is(as_role($node, 'alice', "SELECT recgan_cancel($run)"), 't', 'recgan_cancel');
ok(wait_run($node, $run, "status = 'cancelled'"), 'the run ends as cancelled');
is(run_field($node, $run, 'message'), 'cancelled by recgan_cancel', 'with a message');
is(run_field($node, $run, 'ended_at IS NOT NULL'), 't', 'and an end time');
is($node->safe_psql('postgres', $model_q), $previous, 'the previous model is intact');

# ---- pg_terminate_backend on the worker marks the run failed
$run = as_role($node, 'alice', "SELECT $long");
ok(wait_run($node, $run, "status = 'running'"), 'second run is running');
is($node->safe_psql('postgres', "SELECT pg_terminate_backend(pid) FROM recgan_runs WHERE run_id = $run"),
	't', 'worker terminated');
ok(wait_run($node, $run, "status = 'failed'"), 'the launcher marks the run failed');
like(run_field($node, $run, 'message'), qr/terminating background worker .* due to administrator command/,
	'with the worker\'s last error');
is($node->safe_psql('postgres', $model_q), $previous, 'the previous model is intact');

# ---- a server restart during a run marks it failed ('server restarted')
$run = as_role($node, 'alice', "SELECT $long");
ok(wait_run($node, $run, "status = 'running'"), 'third run is running');
$node->restart;
ok(wait_run($node, $run, "status = 'failed'"), 'after a restart the run is failed');
is(run_field($node, $run, 'message'), 'server restarted', 'with message "server restarted"');
is($node->safe_psql('postgres', $model_q), $previous, 'the previous model is intact');

# ---- the launcher comes back after it dies; a run outlives the launcher
my $launcher_q = q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'recgan launcher'};
$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($launcher_q) l");
my $launcher = $node->safe_psql('postgres', $launcher_q);
$run = as_role($node, 'alice', q{SELECT recgan_train_async('slow_few', 'short', 'popularity')});
ok(wait_run($node, $run, "status = 'running'"), 'a run is going on');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM ($launcher_q) l WHERE pid <> $launcher"),
	'a new launcher started');
ok(wait_run($node, $run, "status = 'succeeded'"), 'the run ended well without its launcher');
is($node->safe_psql('postgres', q{SELECT count(*) FROM recgan_models WHERE name = 'short'}),
	'1', 'and stored its model');

# ---- no free worker slot: the run stays queued, with a WARNING
$node->append_conf('postgresql.conf',
	"max_worker_processes = 1\nmax_logical_replication_workers = 0\n");
$node->restart;
my $log_offset = -s $node->logfile;
$run = as_role($node, 'alice', q{SELECT recgan_train_async('ratings', 'later', 'popularity')});
ok( $node->wait_for_log(
		qr/WARNING:  recgan could not start a worker for run $run: no background worker slot is free/,
		$log_offset),
	'WARNING when no background worker slot is free');
like(slurp_file($node->logfile, $log_offset), qr/HINT:  Raise max_worker_processes \(now 1\)/,
	'the hint names max_worker_processes');
is(run_field($node, $run, 'status'), 'queued', 'the run stays queued');
$node->append_conf('postgresql.conf', "max_worker_processes = 8\n");
$node->restart;
ok(wait_run($node, $run, "status = 'succeeded'"), 'it runs once a slot is free');

# ---- without preloading: a clear error, and training keeps working
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$node->restart;
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT recgan_train_async('ratings', 'm2', 'popularity')}, extra_params => [ '-U', 'alice' ]);
like($err, qr/ERROR:  recgan background workers are not available/, 'recgan_train_async fails');
like($err, qr/HINT:  Add recgan to shared_preload_libraries/, 'with a hint');
is(as_role($node, 'alice', q{SELECT count(*) FROM recgan_train('ratings', 'm2', 'popularity')}),
	'1', 'recgan_train still works');
is(as_role($node, 'alice', q{SELECT count(*) FROM recgan_recommend(1, 5, 'm2')}),
	'5', 'and recgan_recommend');
is(as_role($node, 'alice', q{SELECT count(*) > 0 FROM recgan_runs}), 't',
	'and the run history can be read');

$node->stop;
done_testing();
