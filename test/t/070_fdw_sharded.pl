# A sharded source: the coordinator's partitioned ratings table has two
# partitions that are postgres_fdw foreign tables on two other clusters.
# recgan reads it through the same SPI query as a local table, so training
# must give the same model bytes as on a local copy of the rows (every
# algorithm, fixed seed, one thread), evaluation the same metrics, and
# serving the same answers; a test table that is itself a foreign table
# evaluates the same too.  A shard that goes away is a clear error that
# keeps the previous model.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The synthetic ratings (seeded; the same on every node), split by a
# deterministic hash into train and test; shard k keeps its users' train rows.
my $split = q{
	CREATE TABLE train AS SELECT user_id, item_id, rating FROM ratings
		WHERE (user_id * 31 + item_id * 17) % 5 <> 0;
	CREATE TABLE test AS SELECT user_id, item_id, rating FROM ratings
		WHERE (user_id * 31 + item_id * 17) % 5 = 0;
};

sub node_with_data
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->command_ok(
		[
			'psql', '-X', '-q', '-d', $node->connstr('postgres'),
			'-v', 'users=300', '-v', 'items=200', '-v', 'per_user=25', '-v', 'seed=7',
			'-f', 'data/synthetic.sql'
		],
		"$name: synthetic ratings");
	$node->safe_psql('postgres', $split);
	return $node;
}

my $coord = node_with_data('coordinator');
$coord->stop;
$coord->append_conf('postgresql.conf', "shared_preload_libraries = 'recgan'");
$coord->start;
my @shards = (node_with_data('shard1'), node_with_data('shard2'));
# shard 1 holds users 1..150, shard 2 users 151..300
$shards[0]->safe_psql('postgres', 'DELETE FROM train WHERE user_id > 150');
$shards[1]->safe_psql('postgres', 'DELETE FROM train WHERE user_id <= 150');

my $servers = '';
for my $k (1, 2)
{
	my $s = $shards[ $k - 1 ];
	$servers .= sprintf(q{
		CREATE SERVER shard%d FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '%s', port '%d', dbname 'postgres');
		CREATE USER MAPPING FOR CURRENT_USER SERVER shard%d;
	}, $k, $s->host, $s->port, $k);
}
$coord->safe_psql('postgres', qq{
	CREATE EXTENSION recgan;
	CREATE EXTENSION postgres_fdw;
	$servers
	CREATE TABLE sharded (user_id bigint, item_id bigint, rating real) PARTITION BY RANGE (user_id);
	CREATE FOREIGN TABLE sharded_1 PARTITION OF sharded FOR VALUES FROM (MINVALUE) TO (151)
		SERVER shard1 OPTIONS (table_name 'train');
	CREATE FOREIGN TABLE sharded_2 PARTITION OF sharded FOR VALUES FROM (151) TO (MAXVALUE)
		SERVER shard2 OPTIONS (table_name 'train');
	CREATE FOREIGN TABLE remote_test (user_id bigint, item_id bigint, rating real)
		SERVER shard1 OPTIONS (table_name 'test');
});
is($coord->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM sharded) || \' \' || (SELECT count(*) FROM train)'),
	$coord->safe_psql('postgres', 'SELECT count(*) || \' \' || count(*) FROM train'),
	'the sharded table holds the local copy\'s rows');
is($coord->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT * FROM sharded EXCEPT ALL SELECT * FROM train) d}),
	'0', 'and the same rows');

my %algorithms = (
	popularity => '{}',
	itemknn => '{}',
	ease => '{}',
	ials => '{"epochs": 5, "validation_fraction": 0}',
	bpr => '{"epochs": 5, "validation_fraction": 0}',
	lightgcn => '{"epochs": 3, "validation_fraction": 0}',
	gmf => '{"epochs": 2, "validation_fraction": 0}',
	cfgan => '{"epochs": 3, "validation_fraction": 0}',
	sgan => '{"epochs": 2, "validation_fraction": 0}',
);
for my $alg (sort keys %algorithms)
{
	my $opt = $algorithms{$alg};
	my $md5 = q{SELECT md5(model) FROM recgan_models WHERE name = '%s'};
	$coord->safe_psql('postgres', qq{
		SET recgan.threads = 1;
		SELECT count(*) FROM recgan_train('sharded', 'fdw_$alg', '$alg', '$opt', threshold => 3);
		SELECT count(*) FROM recgan_train('train', 'local_$alg', '$alg', '$opt', threshold => 3);
	});
	my $fdw_md5 = $coord->safe_psql('postgres', sprintf($md5, "fdw_$alg"));
	like($fdw_md5, qr/^[0-9a-f]{32}$/, "$alg: trained through postgres_fdw");
	is($fdw_md5, $coord->safe_psql('postgres', sprintf($md5, "local_$alg")),
		"$alg: the model is byte-identical to the one trained on the local copy");
	my $eval = q{SELECT string_agg(metric || '@' || k || '=' || round(value::numeric, 6), ' ' ORDER BY metric, k)
		FROM recgan_evaluate('%s', '%s', '{10}')};
	my $local = $coord->safe_psql('postgres', sprintf($eval, "local_$alg", 'test'));
	is($coord->safe_psql('postgres', sprintf($eval, "fdw_$alg", 'test')), $local,
		"$alg: the same metrics on the local test table");
	isnt($local, '', "$alg: metrics are there");
	is($coord->safe_psql('postgres', qq{
			SELECT count(*) || ' ' || (SELECT count(*) FROM recgan_recommend(7, 10, 'fdw_$alg') r
				JOIN recgan_recommend(7, 10, 'local_$alg') l USING (item_id, score, rank))
			FROM recgan_recommend(7, 10, 'fdw_$alg')}),
		'10 10', "$alg: the same 10 recommendations with the same scores");
}

# A foreign test table: evaluated like the local one (shard 1 holds every test row).
is($coord->safe_psql('postgres',
		q{SELECT string_agg(metric || '=' || round(value::numeric, 6), ' ' ORDER BY metric, k)
		  FROM recgan_evaluate('fdw_ease', 'remote_test', '{10}')}),
	$coord->safe_psql('postgres',
		q{SELECT string_agg(metric || '=' || round(value::numeric, 6), ' ' ORDER BY metric, k)
		  FROM recgan_evaluate('fdw_ease', 'test', '{10}')}),
	'a foreign test table evaluates like a local one');

# A shard that is down: a clear error, and the previous model stays.
my $before = $coord->safe_psql('postgres', q{SELECT md5(model) FROM recgan_models WHERE name = 'fdw_ease'});
$shards[1]->stop;
my ($rc, $out, $err) = $coord->psql('postgres',
	q{SELECT count(*) FROM recgan_train('sharded', 'fdw_ease', 'ease')});
isnt($rc, 0, 'training from a sharded table with a shard down fails');
like($err, qr/could not connect to server "shard2"|connection to server .* failed/,
	'with postgres_fdw\'s connection error: ' . (split /\n/, $err)[0]);
is($coord->safe_psql('postgres', q{SELECT md5(model) FROM recgan_models WHERE name = 'fdw_ease'}),
	$before, 'the previous model is intact');
is($coord->safe_psql('postgres', q{SELECT count(*) FROM recgan_recommend(7, 10, 'fdw_ease')}),
	'10', 'and still serves');

$shards[0]->stop;
$coord->stop;
done_testing();
