# Serving: the per-backend model cache follows retrains made in other
# sessions and ignores rolled-back ones, without probing the catalog while
# nothing changed; a streaming standby serves the same recommendations as the
# primary, also without probes, the new model after a retrain, and the
# deployed version after recgan_deploy and recgan_rollback on the primary;
# live histories on the standby read the replayed source.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'recgan'");
$primary->start;

$primary->safe_psql('postgres', q{
	CREATE EXTENSION recgan;
	CREATE TABLE r AS
		SELECT u AS user_id, i AS item_id, 5 AS rating
		FROM generate_series(1, 60) u, generate_series(1, 40) i
		WHERE (u * 7 + i * 13) % 5 < 2 OR (u % 4 = i % 4 AND i < 20);
	SELECT count(*) FROM recgan_train('r', 'm', 'itemknn', '{"neighbors": 5}');
});

my $recs = q{SELECT string_agg(item_id::text, ',' ORDER BY rank)
	FROM recgan_recommend(3, 10, 'm')};
my $knn5 = $primary->safe_psql('postgres', $recs);

# Whether a call of $recs in this session was served without a catalog probe
# (the fast path); retried, since an autovacuum ANALYZE of recgan_models (an
# invalidation) or, on a standby, a call made while a WAL record is being
# replayed costs one probe.
sub served_without_probe
{
	my ($session) = @_;
	my $probes = q{SELECT recgan_cache_stats()->>'probes'};
	for my $try (1 .. 5)
	{
		my $before = $session->query_safe($probes);
		$session->query_safe($recs);
		return 1 if $session->query_safe($probes) eq $before;
	}
	return 0;
}

# ---- cache invalidation across sessions
my $a = $primary->background_psql('postgres');
is($a->query_safe($recs), $knn5, 'session A serves the model (and caches it)');
is($a->query_safe(q{SELECT (recgan_cache_stats()->>'misses')::int}), '1', 'one decode so far');
is($a->query_safe($recs), $knn5, 'second call');
is($a->query_safe(q{SELECT (recgan_cache_stats()->>'misses')::int}), '1', 'served from the cache');
ok(served_without_probe($a), 'a cached model is served without a catalog probe');

# a retrain in another session, not yet committed, is not seen; after rollback still not
my $b = $primary->background_psql('postgres');
$b->query_safe('BEGIN');
$b->query_safe(q{SELECT count(*) FROM recgan_train('r', 'm', 'popularity')});
is($a->query_safe($recs), $knn5, 'uncommitted retrain in session B is not served');
$b->query_safe('ROLLBACK');
is($a->query_safe($recs), $knn5, 'rolled-back retrain is not served');
ok(served_without_probe($a), 'nothing committed: still no probe');

# a committed retrain is picked up by the next call in session A
$b->query_safe(q{SELECT count(*) FROM recgan_train('r', 'm', 'ease', '{"lambda": 5}')});
my $ease = $primary->safe_psql('postgres', $recs);
isnt($ease, $knn5, 'the retrained model recommends differently');
is($a->query_safe($recs), $ease, 'session A serves the retrained model at once');
is($a->query_safe(q{SELECT recgan_cache_stats()->'models'}), '["m"]',
	'the stale entry was replaced, not kept beside');
$a->quit;
$b->quit;

# ---- a streaming standby serves the same recommendations
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is($standby->safe_psql('postgres', $recs), $ease, 'standby serves the primary\'s recommendations');
is($standby->safe_psql('postgres',
	q{SELECT string_agg(item_id::text, ',' ORDER BY rank) FROM recgan_similar_items(5, 5, 'm')}),
	$primary->safe_psql('postgres',
	q{SELECT string_agg(item_id::text, ',' ORDER BY rank) FROM recgan_similar_items(5, 5, 'm')}),
	'standby serves similar items');

# keep one standby session open across the retrain, so its cache must notice
my $s = $standby->background_psql('postgres');
is($s->query_safe($recs), $ease, 'standby session caches the model');
ok(served_without_probe($s), 'the standby serves a cached model without a catalog probe');
$primary->safe_psql('postgres',
	q{SELECT count(*) FROM recgan_train('r', 'm', 'itemknn', '{"neighbors": 5}')});
$primary->wait_for_catchup($standby);
is($s->query_safe($recs), $knn5, 'after replay the standby session serves the new model');

# live histories on the standby read the replicated source, as the primary does
my $live = q{SELECT string_agg(item_id::text, ',' ORDER BY rank)
	FROM recgan_recommend(3, 10, 'm', live_history => true)};
is($s->query_safe($live), $knn5, 'standby: live, unchanged source: the frozen answer (itemknn)');
$primary->safe_psql('postgres', q{INSERT INTO r SELECT 3, i, 5 FROM generate_series(1, 40) i WHERE i % 7 = 0});
$primary->wait_for_catchup($standby);
my $live_primary = $primary->safe_psql('postgres', $live);
isnt($live_primary, $knn5, 'primary: user 3\'s new rows change the live answer');
is($s->query_safe($live), $live_primary, 'standby: the replayed rows change the live answer alike');
is($s->query_safe($recs), $knn5, 'standby: the frozen answer is unchanged');

my ($ret, $out, $err) = $standby->psql('postgres',
	q{SELECT count(*) FROM recgan_train('r', 'm2', 'popularity')});
isnt($ret, 0, 'training on the standby fails');
like($err, qr/read-only transaction/, '... with the read-only error');

# versions: deploying and rolling back on the primary, the standby session
# serves the deployed version after replay
is($primary->safe_psql('postgres',
	q{SELECT string_agg(version || ':' || algorithm || ':' || deployed, ',' ORDER BY version)
	  FROM recgan_model_versions WHERE name = 'm'}),
	'1:itemknn:false,2:ease:false,3:itemknn:true',
	'three versions (the rolled-back training made none), the newest deployed');
$primary->safe_psql('postgres', q{SELECT recgan_deploy('m', 2)});
$primary->wait_for_catchup($standby);
is($s->query_safe($recs), $ease, 'after recgan_deploy the standby session serves version 2');
$primary->safe_psql('postgres', q{SELECT recgan_rollback('m')});
$primary->wait_for_catchup($standby);
is($s->query_safe($recs), $knn5, 'after recgan_rollback it serves version 3 again');
is($standby->safe_psql('postgres', q{SELECT version FROM recgan_model_info('m')}), '3',
	'recgan_model_info on the standby shows the deployed version');
$s->quit;

$standby->stop;
$primary->stop;
done_testing();
