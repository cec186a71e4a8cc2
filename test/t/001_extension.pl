# A cluster with recgan in shared_preload_libraries starts, the extension
# works, and trained models survive pg_dump + pg_restore into a new database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recgan'");
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'recgan', 'recgan is preloaded');

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION recgan');
my $extversion = $node->safe_psql('src', q{SELECT extversion FROM pg_extension WHERE extname = 'recgan'});
like($node->safe_psql('src', 'SELECT recgan_version()'),
	qr/^recgan \Q$extversion\E \(OpenBLAS/, "recgan_version() reports the catalog's version ($extversion) and OpenBLAS");

# A model row with non-trivial bytes, options and metrics.
$node->safe_psql('src', q{
	INSERT INTO recgan_models (name, algorithm, source, options, n_users, n_items,
		n_interactions, train_seconds, metrics, model)
	VALUES ('m1', 'ease', 'public.ratings', '{"lambda": 200}', 943, 1682, 100000,
		1.5, '{"ndcg@10": 0.43}', decode(repeat('00ff7f80', 5000), 'hex'))});
my $before = $node->safe_psql('src',
	'SELECT md5(model), options, metrics, owner FROM recgan_models');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ],
	'pg_dump of a database with a trained model');

$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into a new database');

is($node->safe_psql('dst', 'SELECT md5(model), options, metrics, owner FROM recgan_models'),
	$before, 'the model row survives dump and restore byte for byte');
is($node->safe_psql('dst', 'SELECT count(*) FROM recgan_models'), '1',
	'exactly one model row after restore');

# The library also loads on demand in a cluster that does not preload it.
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
like($node->safe_psql('dst', 'SELECT recgan_version()'),
	qr/^recgan \Q$extversion\E/, 'recgan loads on demand without preloading');
is($node->safe_psql('dst', 'SELECT recgan_version() IS NOT NULL; SHOW recgan.threads'), "t\n1",
	'GUC defined when loaded on demand');

$node->stop;
done_testing();
