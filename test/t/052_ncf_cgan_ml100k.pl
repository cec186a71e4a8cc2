# GMF, NeuMF and CGAN on MovieLens 100K, split u1 (threshold 4), one seed,
# default options: epochs are chosen on a validation holdout carved from
# u1.base inside recgan_train, never on u1.test.  Quality floors of issue 5:
# gmf ndcg@10 >= 0.385, neumf >= 0.39, cgan >= 0.33.
#
#   RECGAN_ML100K=/path/to/ml-100k make tapcheck PROVE_TESTS=test/t/052_ncf_cgan_ml100k.pl
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'RECGAN_ML100K is not set (directory of the MovieLens 100K files)'
  unless $ENV{RECGAN_ML100K};
my $dir = $ENV{RECGAN_ML100K};
plan skip_all => "$dir/u1.base or $dir/u1.test is not readable"
  unless -r "$dir/u1.base" && -r "$dir/u1.test";

my $node = PostgreSQL::Test::Cluster->new('ncf_cgan');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recgan'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION recgan');

for my $file ('u1.base', 'u1.test')
{
	(my $table = $file) =~ s/\./_/;
	$node->command_ok(
		[
			'psql', '-X', '-q', '-d', $node->connstr('postgres'),
			'-v', "dir=$dir", '-v', "file=$file", '-v', "ratings=$table",
			'-v', 'with_items=off', '-f', 'data/load_ml100k.sql'
		],
		"load $file");
}

my %floor = (gmf => 0.385, neumf => 0.39, cgan => 0.33);
for my $alg (sort keys %floor)
{
	my $train = $node->safe_psql('postgres', qq{
		SET recgan.blas_threads = 1;
		SELECT count(*) FILTER (WHERE validation IS NOT NULL), count(*) FILTER (WHERE validation IS NULL),
			round(sum(seconds)::numeric, 1)
		FROM recgan_train('u1_base', '$alg', '$alg', '{}', threshold => 4)});
	my ($validated, $refit, $seconds) = split /\|/, $train;
	note("$alg: $validated validated epochs, $refit refit epochs, $seconds s");
	cmp_ok($validated, '>', 1, "$alg validated more than one epoch");
	cmp_ok($refit, '>=', 1, "$alg refitted on all of u1.base");
	my $ndcg = $node->safe_psql('postgres',
		"SELECT value FROM recgan_evaluate('$alg', 'u1_test', '{10}') WHERE metric = 'ndcg'");
	cmp_ok($ndcg, '>=', $floor{$alg}, "$alg ndcg\@10 = $ndcg >= $floor{$alg}");
}

# what the adversarial phase adds: the same seed and warm start with the
# generator fixed during the adversarial epochs (g_steps 0) scores lower
$node->safe_psql('postgres', q{
	SET recgan.blas_threads = 1;
	SELECT count(*) FROM recgan_train('u1_base', 'cgan_warm', 'cgan', '{"g_steps": 0}', threshold => 4)});
my ($warm, $adv) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT value FROM recgan_evaluate('cgan_warm', 'u1_test', '{10}') WHERE metric = 'ndcg'),
		(SELECT value FROM recgan_evaluate('cgan', 'u1_test', '{10}') WHERE metric = 'ndcg')});
note("cgan ndcg\@10: warm start alone $warm, with the adversarial epochs $adv");
cmp_ok($adv, '>', $warm, "cgan's adversarial epochs improve on its warm start");

$node->stop;
done_testing();
