# The isolation specs that need a job really running in a background worker
# (test/isolation/worker: schedule, unschedule and cancel against a running
# job, cancel vs finish), run by pg_isolation_regress against a node whose
# launcher serves the database of the test.  The specs of test/isolation
# proper run in make installcheck.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WorkerNode;

# pg_isolation_regress and isolationtester come with PGXS.
my $pgxs = `pg_config --pgxs`;
chomp $pgxs;
my $regress = dirname(dirname($pgxs)) . '/test/isolation/pg_isolation_regress';
plan skip_all => "pg_isolation_regress not found at $regress" unless -x $regress;

my $node = worker_node('iso');
my $specs = 'test/isolation/worker';
my $out = "${PostgreSQL::Test::Utils::tmp_check}/isolation_worker";
my @schedule = map { s{.*/|\.spec$}{}gr } glob("$specs/specs/*.spec");
ok(@schedule > 0, 'worker isolation specs found: ' . join(' ', @schedule));

my ($stdout, $stderr);
my $ok = IPC::Run::run(
	[
		$regress, '--use-existing', '--dbname=postgres',
		'--host=' . $node->host, '--port=' . $node->port,
		"--inputdir=$specs", "--outputdir=$out", @schedule
	],
	'>' => \$stdout, '2>' => \$stderr);
note($stdout);
ok($ok, 'pg_isolation_regress: ' . join(' ', grep { /^(test|ok|not ok)|tests passed|failed/ } split /\n/, $stdout));
if (!$ok && -f "$out/regression.diffs")
{
	diag(slurp_file("$out/regression.diffs"));
}

# Nothing is left running, and the launcher is still there.
is($node->safe_psql('postgres',
		"SELECT count(*) FROM recgan_run_history WHERE status IN ('queued', 'running')"),
	'0', 'no run is left queued or running');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'recgan launcher'"),
	'1', 'the launcher runs');

$node->stop;
done_testing();
