# Models stored in chunks (recgan_model_chunks, above recgan.model_chunk_size)
# train, are served, survive pg_dump/pg_restore and are served on a streaming
# standby, with the same recommendations everywhere; so do their versions
# (restored with their chunks, deployed on the primary and served so on the
# standby).
#
# By default a small iALS model is cut into 64 kB chunks (seconds).  With
# RECGAN_BIG_MODEL=1 (make bigmodelcheck) it is a model over 1 GB at the
# default chunk size: iALS with 256 factors on 1.2M items (about 1.3 GB;
# several minutes, ~8 GB of disk, ~6 GB of memory).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $big = ($ENV{RECGAN_BIG_MODEL} // '') eq '1';
my ($items, $users, $factors, $chunk) =
  $big ? (1_200_000, 20_000, 256, '256MB') : (3_000, 400, 64, '64kB');

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'recgan'
recgan.model_chunk_size = '$chunk'
recgan.cache_mb = 8192
recgan.max_train_memory = 16384
recgan.threads = 2
max_wal_size = 4GB
});
$primary->start;

# every item rated by two users, users in 10 taste groups
$primary->safe_psql('postgres', qq{
	CREATE EXTENSION recgan;
	CREATE TABLE r AS
		SELECT 1 + (i % $users) AS user_id, i AS item_id, 5 AS rating
		FROM generate_series(1::bigint, $items) i
		UNION
		SELECT 1 + ((i % 10) + 10 * ((i * 7919) % ($users / 10))) % $users, i, 5
		FROM generate_series(1::bigint, $items) i;
});
my $t0 = time;
$primary->safe_psql('postgres', qq{
	SELECT count(*) FROM recgan_train('r', 'big', 'ials',
		'{"factors": $factors, "epochs": 2, "validation_fraction": 0}')});
note sprintf('trained in %d s', time - $t0);

my $info = $primary->safe_psql('postgres', q{
	SELECT size_bytes, header->>'chunks', header->>'chunk_size'
	FROM recgan_model_info('big')});
my ($size, $nchunks, $chunk_size) = split /\|/, $info;
note "model: $size bytes in $nchunks chunks of $chunk_size";
ok($nchunks > 1, "the model is stored in $nchunks chunks");
ok($size > 1024 * 1024 * 1024, 'the model is over 1 GB') if $big;
is($primary->safe_psql('postgres', q{
	SELECT count(*) || ' ' || sum(octet_length(data)) FROM recgan_model_chunks WHERE name = 'big'}),
	"$nchunks $size", 'the chunk rows hold every byte');

my $recs = q{SELECT string_agg(u || ':' || item_id || ':' || score, ',' ORDER BY u, rank)
	FROM (SELECT 7 AS u, * FROM recgan_recommend(7, 10, 'big')
		  UNION ALL SELECT 11, * FROM recgan_recommend(11, 10, 'big')) r};
my $fold = q{SELECT string_agg(item_id || ':' || score, ',' ORDER BY rank)
	FROM recgan_recommend_items(ARRAY[1, 2, 3], 10, 'big')};
my $want = $primary->safe_psql('postgres', $recs);
my $want_fold = $primary->safe_psql('postgres', $fold);
like($want, qr/^\d+:\d+:[-0-9.e]+(,\d+:\d+:[-0-9.e]+){19}$/, 'served: 10 items for each of two users');
like($want_fold, qr/^\d+:[-0-9.e]+(,\d+:[-0-9.e]+){9}$/, 'served: fold-in');

# a second session decodes it once and then serves it from its cache
my $s = $primary->background_psql('postgres');
is($s->query_safe($recs), $want, 'another session serves the same');
is($s->query_safe($recs), $want, 'and again');
is($s->query_safe(q{SELECT recgan_cache_stats()->>'misses'}), '1', 'decoded once, then cached');
$s->quit;

# a second model with two chunked versions, the older one deployed: every
# version and its chunks must survive the dump
$primary->safe_psql('postgres', q{
	SELECT count(*) FROM recgan_train('r', 'ver', 'ials',
		'{"factors": 16, "epochs": 1, "validation_fraction": 0}');
	SELECT count(*) FROM recgan_train('r', 'ver', 'ials',
		'{"factors": 16, "epochs": 2, "validation_fraction": 0}');
});
my $ver_recs = q{SELECT string_agg(item_id || ':' || score, ',' ORDER BY rank)
	FROM recgan_recommend(7, 10, 'ver')};
my $ver2 = $primary->safe_psql('postgres', $ver_recs);
$primary->safe_psql('postgres', q{SELECT recgan_deploy('ver', 1)});
my $ver1 = $primary->safe_psql('postgres', $ver_recs);
isnt($ver1, $ver2, 'the two versions of "ver" answer differently');
my $versions = q{SELECT string_agg(name || ':' || version || ':' || deployed || ':' || size_bytes
		|| ':' || trained_at, ',' ORDER BY name, version) FROM recgan_model_versions};
my $ver_chunks = q{SELECT string_agg(version || ':' || n, ',' ORDER BY version)
	FROM (SELECT version, count(*) AS n FROM recgan_model_chunks WHERE name = 'ver' GROUP BY version) c};
like($primary->safe_psql('postgres', $ver_chunks), qr/^1:\d+,2:\d+$/,
	'both versions of "ver" are stored in chunks') unless $big;

# ---- pg_dump / pg_restore
my $dump = $primary->basedir . '/big.dump';
$primary->command_ok([ 'pg_dump', '-Fc', '-Z', '0', '-d', $primary->connstr('postgres'), '-f', $dump ],
	'pg_dump of a database with a chunked model');
$primary->safe_psql('postgres', 'CREATE DATABASE dst');
$primary->command_ok([ 'pg_restore', '-d', $primary->connstr('dst'), $dump ],
	'pg_restore into a new database');
is($primary->safe_psql('dst', $recs), $want, 'the restored model serves the same recommendations');
is($primary->safe_psql('dst', $fold), $want_fold, 'and the same fold-in');
is($primary->safe_psql('dst', $versions), $primary->safe_psql('postgres', $versions),
	'every version is restored, with the same one deployed');
is($primary->safe_psql('dst', $ver_chunks), $primary->safe_psql('postgres', $ver_chunks),
	'with its chunks');
is($primary->safe_psql('dst', $ver_recs), $ver1, 'the restored deployed version serves');
$primary->safe_psql('dst', q{SELECT recgan_deploy('ver', 2)});
is($primary->safe_psql('dst', $ver_recs), $ver2, 'the restored archived version deploys and serves');
is($primary->safe_psql('dst', q{SELECT last_version FROM recgan_models WHERE name = 'ver'}), '2',
	'the version count is restored');
$primary->safe_psql('postgres', 'DROP DATABASE dst');
unlink $dump;

# ---- a streaming standby
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $recs), $want, 'the standby serves the same recommendations');

# a retrain on the primary (still chunked) is replayed and served
$primary->safe_psql('postgres', qq{
	SELECT count(*) FROM recgan_train('r', 'big', 'ials',
		'{"factors": $factors, "epochs": 1, "validation_fraction": 0}')});
my $want2 = $primary->safe_psql('postgres', $recs);
isnt($want2, $want, 'the retrained model answers differently');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $recs), $want2, 'the standby serves the retrained model');
is($standby->safe_psql('postgres', q{
	SELECT string_agg(version || ':' || n, ',' ORDER BY version)
	FROM (SELECT version, count(*) AS n FROM recgan_model_chunks WHERE name = 'big' GROUP BY version) c}),
	"1:$nchunks,2:$nchunks", 'the new version has chunks of its own, the archived one keeps its');

# deploying the archived version on the primary: the standby serves it; a
# rollback: the standby serves the retrained one again
$primary->safe_psql('postgres', q{SELECT recgan_deploy('big', 1)});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $recs), $want, 'after recgan_deploy the standby serves version 1');
$primary->safe_psql('postgres', q{SELECT recgan_rollback('big')});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $recs), $want2, 'after recgan_rollback it serves version 2 again');
my ($ret, $out, $err) = $standby->psql('postgres', q{SELECT recgan_deploy('big', 1)});
like($err, qr/read-only transaction/, 'recgan_deploy is refused on the standby');

$standby->stop;
$primary->stop;
done_testing();
