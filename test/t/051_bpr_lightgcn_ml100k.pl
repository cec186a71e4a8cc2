# BPR-MF and LightGCN on MovieLens 100K, split u1 (threshold 4), one seed,
# default options: epochs are chosen on a validation holdout carved from
# u1.base inside recgan_train, never on u1.test.  Quality floors of issue 5:
# bpr ndcg@10 >= 0.39, lightgcn ndcg@10 >= 0.40.
#
#   RECGAN_ML100K=/path/to/ml-100k make tapcheck PROVE_TESTS=test/t/051_bpr_lightgcn_ml100k.pl
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Ml100kNode;

my ($node, $dir) = ml100k_node('bpr_lightgcn');
ml100k_load_u1($node, $dir);

my %floor = (bpr => 0.39, lightgcn => 0.40);
ml100k_check_floor($node, $_, $floor{$_}) for sort keys %floor;

# fold-in of a known user's own history ranks like (not necessarily equal to)
# the known user: most of the top 10 agree
for my $alg (sort keys %floor)
{
	my $overlap = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM recgan_recommend(1, 10, '$alg') a
		JOIN recgan_recommend_items((SELECT array_agg(item_id) FROM u1_base WHERE user_id = 1 AND rating >= 4),
			10, '$alg') b USING (item_id)});
	cmp_ok($overlap, '>=', 3, "$alg fold-in of user 1's history shares $overlap of 10 with user 1");
}

$node->stop;
done_testing();
