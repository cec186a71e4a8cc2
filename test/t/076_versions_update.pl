# Versions across ALTER EXTENSION recgan UPDATE from 0.1.0: a 0.1.0 catalog
# running this library trains and serves as 0.1.0 did (one row per model,
# chunks replaced); the update makes every model its version 1 (chunked ones
# too, still served byte for byte), gives recgan_model_archive the grants,
# policies and row-level security of recgan_models, and from then on
# retrains make versions that deploy and drop as in sql/versions.sql.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('update');
$node->init;
$node->append_conf('postgresql.conf', "recgan.model_chunk_size = '64kB'\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION recgan VERSION '0.1.0';
	CREATE ROLE trainer;
	GRANT SELECT, INSERT, UPDATE, DELETE ON recgan_models TO trainer;
	ALTER TABLE recgan_models ENABLE ROW LEVEL SECURITY;
	CREATE POLICY own ON recgan_models TO trainer USING (owner = current_user);
	CREATE TABLE r AS
		SELECT u AS user_id, (u * 13 + k * 7) % 300 + 1 AS item_id, 5 AS rating
		FROM generate_series(1, 200) u, generate_series(1, 60) k;
	GRANT SELECT ON r TO trainer;
});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recgan'}),
	'0.1.0', 'installed at 0.1.0');

# on the 0.1.0 catalog: a retrain of a chunked model replaces it and its chunks
$node->safe_psql('postgres', q{
	SELECT count(*) FROM recgan_train('r', 'c', 'ease', '{"lambda": 50}');
	SELECT count(*) FROM recgan_train('r', 'c', 'ease', '{"lambda": 10}');
	SELECT count(*) FROM recgan_train('r', 'p', 'popularity');
});
my $chunks = q{SELECT count(*) FROM recgan_model_chunks WHERE name = 'c'};
my $n_chunks = $node->safe_psql('postgres', $chunks);
cmp_ok($n_chunks, '>', 1, "the 0.1.0 catalog stores model c in $n_chunks chunks");
is($node->safe_psql('postgres', q{SELECT count(*) FROM recgan_models}), '2', 'one row per model');
my $recs = q{SELECT string_agg(m || ':' || item_id || ':' || score, ',' ORDER BY m, rank)
	FROM (SELECT 'c' AS m, * FROM recgan_recommend(3, 10, 'c')
		  UNION ALL SELECT 'p', * FROM recgan_recommend(3, 10, 'p')) x};
my $before = $node->safe_psql('postgres', $recs);

$node->safe_psql('postgres', 'ALTER EXTENSION recgan UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recgan'}),
	'0.2.0', 'updated to 0.2.0');
is($node->safe_psql('postgres', q{
		SELECT string_agg(name || ':' || version || ':' || deployed, ',' ORDER BY name)
		FROM recgan_model_versions}),
	'c:1:true,p:1:true', 'every model is its version 1, deployed');
is($node->safe_psql('postgres', q{
		SELECT string_agg(DISTINCT version::text, ',') FROM recgan_model_chunks WHERE name = 'c'}),
	'1', 'its chunks belong to version 1');
is($node->safe_psql('postgres', $recs), $before, 'both models serve the same as before the update');
is($node->safe_psql('postgres', q{SELECT header->>'manifest_version' FROM recgan_model_info('c')}),
	'1', 'the chunked model keeps its 0.1.0 manifest');
is($node->safe_psql('postgres', q{
		SELECT has_table_privilege('trainer', 'recgan_model_archive', 'SELECT, INSERT, UPDATE, DELETE')
			AND (SELECT relrowsecurity FROM pg_class WHERE oid = 'recgan_model_archive'::regclass)
			AND (SELECT pg_get_expr(polqual, polrelid) FROM pg_policy
				 WHERE polrelid = 'recgan_model_archive'::regclass AND polname = 'own')
				= '(owner = CURRENT_USER)'}),
	't', 'the archive has the grants, row-level security and policy of recgan_models');

# a role retrains the chunked model: version 2; deploying 1 serves the old one
$node->safe_psql('postgres', q{
	SET ROLE trainer;
	SELECT count(*) FROM recgan_train('r', 't', 'popularity');
	SELECT count(*) FROM recgan_train('r', 't', 'ease');
});
is($node->safe_psql('postgres', q{
		SET ROLE trainer;
		SELECT string_agg(name || ':' || version || ':' || deployed, ',' ORDER BY name, version)
		FROM recgan_model_versions}),
	't:1:false,t:2:true', 'the role sees only its own versions through the copied policy');
$node->safe_psql('postgres', q{SELECT count(*) FROM recgan_train('r', 'c', 'ease', '{"lambda": 500}')});
is($node->safe_psql('postgres', q{
		SELECT string_agg(version || ':' || n, ',' ORDER BY version)
		FROM (SELECT version, count(*) AS n FROM recgan_model_chunks WHERE name = 'c' GROUP BY version) v}),
	"1:$n_chunks,2:$n_chunks", 'the retrain made version 2 with chunks of its own');
isnt($node->safe_psql('postgres', $recs), $before, 'version 2 answers differently');
$node->safe_psql('postgres', q{SELECT recgan_deploy('c', 1)});
is($node->safe_psql('postgres', $recs), $before, 'version 1 deployed again serves as before the update');
is($node->safe_psql('postgres', q{SELECT recgan_rollback('c')}), '2', 'rollback goes back to version 2');
$node->safe_psql('postgres', q{SELECT recgan_drop_model('c')});
is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM recgan_model_chunks WHERE name = 'c') || ' '
			|| (SELECT count(*) FROM recgan_model_archive WHERE name = 'c')}),
	'0 0', 'dropping it drops both versions and every chunk');

$node->stop;
done_testing();
