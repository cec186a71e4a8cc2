# Crash and restart (issue 14): kill -9 of a backend in the middle of
# recgan_train, kill -9 of a job worker in the middle of its training (both
# make the postmaster reinitialise the cluster: crash recovery), and an
# immediate shutdown with both going on, then a start.  After each: every
# stored model reads back byte-identical (md5 of the bytea, and it still
# decodes and serves), no run is left "running", the interrupted run is
# failed with "server restarted", the launcher is back and a scheduled job
# runs again.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WorkerNode;

my $node = worker_node('crash', conf => "restart_after_crash = on\n");

# The models that must survive: one of each kind of tensor layout.
$node->safe_psql('postgres', q{
	SELECT count(*) FROM recgan_train('ratings', 'm', 'ease');
	SELECT count(*) FROM recgan_train('ratings', 'pop', 'popularity');
	SELECT count(*) FROM recgan_train('ratings', 'knn', 'itemknn');
	SELECT count(*) FROM recgan_train('ratings', 'ials', 'ials', '{"epochs": 2, "factors": 8}');
	SELECT count(*) FROM recgan_train('ratings', 'cfgan', 'cfgan', '{"epochs": 2, "hidden_g": 16, "hidden_d": 8}');
});
my $models_q = q{
	SELECT string_agg(name || ' ' || md5(model), ', ' ORDER BY name) FROM recgan_models
	WHERE name IN ('m', 'pop', 'knn', 'ials', 'cfgan')};
my $models = $node->safe_psql('postgres', $models_q);
like($models, qr/^cfgan \w{32}, ials \w{32}, knn \w{32}, m \w{32}, pop \w{32}$/, 'five models stored');

# A schedule that keeps running (a popularity model every second).
$node->safe_psql('postgres',
	q{SELECT recgan_schedule('sched', '1 second', 'ratings', 'popularity', owner => 'alice')});
my $sched_runs_q =
  q{SELECT count(*) FROM recgan_runs WHERE model = 'sched' AND status = 'succeeded'};
ok($node->poll_query_until('postgres', "SELECT ($sched_runs_q) >= 1"), 'the schedule runs');

# A training that runs for minutes (replacing model m), and its query.
my $long_sql = q{SELECT count(*) FROM recgan_train('ratings', 'm', 'cfgan', '{"epochs": 100000, "patience": 0}')};
my $long_async = q{SELECT recgan_train_async('ratings', 'm', 'cfgan', '{"epochs": 100000, "patience": 0}')};

# Start the long training in a psql of its own; return its harness and pid.
sub start_training
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-d', $node->connstr('postgres') . ' application_name=crash_train',
			'-c', $long_sql
		],
		'>', \$out, '2>', \$err);
	my $active = q{FROM pg_stat_activity WHERE application_name = 'crash_train' AND state = 'active'};
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 $active AND now() - query_start > interval '1 second'")
	  or die "the training did not start";
	my $pid = $node->safe_psql('postgres', "SELECT pid $active");
	return ($h, $pid);
}

# Start the long training as an async run; return its run id and worker pid.
sub start_run
{
	my $run = as_role($node, 'alice', $long_async);
	wait_run($node, $run, "status = 'running' AND epoch >= 1") or die "run $run did not start";
	return ($run, run_field($node, $run, 'pid'));
}

# What must hold after the server came back.
sub check_after
{
	my ($what, $run) = @_;
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'), "$what: the server accepts connections");
	is($node->safe_psql('postgres', $models_q), $models, "$what: every model is byte-identical");
	is($node->safe_psql('postgres', q{
			SELECT string_agg(r.name || ':' || r.n, ' ' ORDER BY r.name)
			FROM (SELECT name, (SELECT count(*) FROM recgan_recommend_all(3, name)) AS n
				  FROM recgan_models WHERE name IN ('m', 'pop', 'knn', 'ials', 'cfgan')) r}),
		'cfgan:900 ials:900 knn:900 m:900 pop:900', "$what: and every model decodes and serves");
	if (defined $run)
	{
		ok(wait_run($node, $run, "status = 'failed'"), "$what: the interrupted run is failed");
		is(run_field($node, $run, 'message'), 'server restarted', "$what: 'server restarted'");
	}
	ok( $node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recgan launcher'"),
		"$what: the launcher is back");
	my $before = $node->safe_psql('postgres', $sched_runs_q);
	ok($node->poll_query_until('postgres', "SELECT ($sched_runs_q) > $before"),
		"$what: the scheduled job runs again");
	is($node->safe_psql('postgres', q{
			SELECT count(*) FROM recgan_run_history h
			WHERE h.status = 'running'
			  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = h.pid)}),
		'0', "$what: no run is left running without its worker");
}

# ---- kill -9 of a backend in recgan_train
my ($h, $pid) = start_training();
is(kill('KILL', $pid), 1, 'kill -9 of the training backend');
$h->finish;
ok($node->wait_for_log(qr/server process \(PID $pid\) was terminated by signal 9/),
	'the postmaster saw the crash');
check_after('backend killed');

# ---- kill -9 of a job worker
my $run;
($run, $pid) = start_run();
is(kill('KILL', $pid), 1, 'kill -9 of the job worker');
ok($node->wait_for_log(qr/background worker "recgan worker" \(PID $pid\) was terminated by signal 9/),
	'the postmaster saw the worker crash');
check_after('worker killed', $run);

# ---- immediate shutdown with a backend and a worker training
($h, $pid) = start_training();
($run, $pid) = start_run();
$node->stop('immediate');
$h->finish;
$node->start;
check_after('immediate shutdown', $run);

$node->stop;
done_testing();
