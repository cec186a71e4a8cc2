# GMF, NeuMF and CGAN on MovieLens 100K, split u1 (threshold 4), one seed,
# default options: epochs are chosen on a validation holdout carved from
# u1.base inside recgan_train, never on u1.test.  Quality floors of issue 5:
# gmf ndcg@10 >= 0.385, neumf >= 0.39, cgan >= 0.33.
#
#   RECGAN_ML100K=/path/to/ml-100k make tapcheck PROVE_TESTS=test/t/052_ncf_cgan_ml100k.pl
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Ml100kNode;

my ($node, $dir) = ml100k_node('ncf_cgan');
ml100k_load_u1($node, $dir);

my %floor = (gmf => 0.385, neumf => 0.39, cgan => 0.33);
ml100k_check_floor($node, $_, $floor{$_}) for sort keys %floor;

# what the adversarial phase adds: the same seed and warm start with the
# generator fixed during the adversarial epochs (g_steps 0) scores lower
$node->safe_psql('postgres', q{
	SET recgan.threads = 1;
	SELECT count(*) FROM recgan_train('u1_base', 'cgan_warm', 'cgan', '{"g_steps": 0}', threshold => 4)});
my ($warm, $adv) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT value FROM recgan_evaluate('cgan_warm', 'u1_test', '{10}') WHERE metric = 'ndcg'),
		(SELECT value FROM recgan_evaluate('cgan', 'u1_test', '{10}') WHERE metric = 'ndcg')});
note("cgan ndcg\@10: warm start alone $warm, with the adversarial epochs $adv");
cmp_ok($adv, '>', $warm, "cgan's adversarial epochs improve on its warm start");

$node->stop;
done_testing();
