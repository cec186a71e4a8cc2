# On a streaming standby the launcher does not run, so no job runs there,
# even with due schedules and queued runs in its (replicated) tables; the
# run history can still be read.  After promotion the launcher starts and
# runs them.  The primary does not preload recgan, so that nothing but the
# standby could run these jobs.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WorkerNode;

my $primary = worker_node('primary', preload => 0, init => { allows_streaming => 1 });

# A due schedule and a queued run, made directly: recgan_schedule and
# recgan_train_async need a launcher on the primary.
$primary->safe_psql('postgres', q{
	INSERT INTO recgan_schedules (model, owner, every, source, algorithm, user_col, item_col)
	VALUES ('sched', 'alice', '1 second', 'public.ratings', 'popularity', 'user_id', 'item_id');
	INSERT INTO recgan_run_history (model, owner, kind, source, algorithm, user_col, item_col)
	VALUES ('queued', 'alice', 'async', 'public.ratings', 'popularity', 'user_id', 'item_id');
});

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->append_conf('postgresql.conf',
	"shared_preload_libraries = 'recgan'\nrecgan.naptime = 1\n");
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is($standby->safe_psql('postgres', 'SHOW shared_preload_libraries'), 'recgan', 'standby preloads recgan');

# Give a launcher, were there one, several naptimes to act.
sleep(3);
$primary->wait_for_catchup($standby);
is( $standby->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('recgan launcher', 'recgan worker')}),
	'0', 'no recgan launcher or worker on the standby');
ok(!$standby->log_contains('recgan launcher started'), 'the launcher never started on the standby');
is($primary->safe_psql('postgres', q{SELECT string_agg(model || ':' || status, ',') FROM recgan_runs}),
	'queued:queued', 'the queued run was not run, and the schedule not either');
is($primary->safe_psql('postgres', q{SELECT count(*) FROM recgan_models}), '0', 'no model was trained');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM recgan_runs}), '1',
	'the run history can be read on the standby');
my ($rc, $out, $err) = $standby->psql('postgres',
	q{SELECT recgan_train_async('ratings', 'm', 'popularity')}, extra_params => [ '-U', 'alice' ]);
like($err, qr/read-only transaction/, 'recgan_train_async is refused on the standby');

# Promoted, it runs them.
$standby->promote;
ok( $standby->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'recgan launcher'}),
	'the launcher starts on promotion');
ok( $standby->poll_query_until('postgres', q{
		SELECT count(DISTINCT model) = 2 FROM recgan_runs WHERE status = 'succeeded'}),
	'the queued run and the schedule run after promotion');
is($standby->safe_psql('postgres', q{SELECT string_agg(name, ',' ORDER BY name) FROM recgan_models}),
	'queued,sched', 'both models are stored');

$standby->stop;
$primary->stop;
done_testing();
