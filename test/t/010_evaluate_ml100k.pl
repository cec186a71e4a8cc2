# recgan_evaluate on MovieLens 100K, split u1 (u1.base / u1.test), threshold 4:
# popularity must reproduce the reference values of the protocol documented
# in src/evaluate.c, and EASE and ItemKNN must reach their quality floors.
#
#   RECGAN_ML100K=/path/to/ml-100k make tapcheck PROVE_TESTS=test/t/010_evaluate_ml100k.pl
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Ml100kNode;

my ($node, $dir) = ml100k_node('ml100k');

# Load a ratings file into (user_id, item_id, rating, ts): with the project's
# loader when it is there, else with a plain \copy of the tab-separated file.
sub load_ratings
{
	my ($table, $file) = @_;
	if (-f 'data/load_ml100k.sql')
	{
		$node->command_ok(
			[
				'psql', '-X', '-q', '-d', $node->connstr('postgres'),
				'-v', "dir=$dir", '-v', "file=$file", '-v', "ratings=$table",
				'-v', 'with_items=off', '-f', 'data/load_ml100k.sql'
			],
			"load $file with data/load_ml100k.sql");
	}
	else
	{
		$node->safe_psql('postgres', qq{
			CREATE TABLE $table (user_id bigint, item_id bigint, rating real, ts bigint);
			\\copy $table FROM '$dir/$file'});
	}
	is($node->safe_psql('postgres', "SELECT count(*) FROM $table"),
		$file eq 'u1.base' ? '80000' : '20000', "$file has the expected rows");
}
load_ratings('u1_base', 'u1.base');
load_ratings('u1_test', 'u1.test');

my %options = (popularity => '{}', itemknn => '{}', ease => '{"lambda": 200}');
for my $alg (sort keys %options)
{
	$node->safe_psql('postgres',
		"SELECT count(*) FROM recgan_train('u1_base', '$alg', '$alg', '$options{$alg}', threshold => 4)");
}

# All metrics of a model as {"metric@k" => value}; every row is noted.
sub evaluate
{
	my ($model, $extra) = @_;
	my %m;
	my $out = $node->safe_psql('postgres',
		"SELECT metric, k, value, users FROM recgan_evaluate('$model', 'u1_test'$extra)");
	for my $line (split /\n/, $out)
	{
		my ($metric, $k, $value, $users) = split /\|/, $line;
		$m{"$metric\@$k"} = $value;
		$m{users} = $users;
		note(sprintf('%-10s %-12s %8.4f  (%d users)', $model . ($extra ? ' sampled' : ''),
				"$metric\@$k", $value, $users));
	}
	return \%m;
}

my $pop = evaluate('popularity', '');
my %reference = ('precision@10' => 0.2050, 'recall@10' => 0.1072,
	'hitrate@10' => 0.7763, 'ndcg@10' => 0.2403);
for my $metric (sort keys %reference)
{
	cmp_ok(abs($pop->{$metric} - $reference{$metric}), '<=', 0.0005,
		"popularity $metric = $pop->{$metric}, reference $reference{$metric}");
}
is($pop->{users}, 456, 'u1: 456 users have training and test positives');

my $ease = evaluate('ease', '');
cmp_ok($ease->{'ndcg@10'}, '>=', 0.425, "EASE ndcg\@10 = $ease->{'ndcg@10'} >= 0.425");
my $knn = evaluate('itemknn', '');
cmp_ok($knn->{'ndcg@10'}, '>=', 0.37, "ItemKNN ndcg\@10 = $knn->{'ndcg@10'} >= 0.37");

# The sampled protocol (100 negatives) is printed for comparison with papers
# that use it; it must at least order the three models like the full ranking.
my %sampled = map { $_ => evaluate($_, ', sampled => 100') } qw(popularity itemknn ease);
cmp_ok($sampled{ease}{'ndcg@10'}, '>', $sampled{popularity}{'ndcg@10'},
	'sampled ndcg@10: EASE above popularity');
cmp_ok($sampled{itemknn}{'ndcg@10'}, '>', $sampled{popularity}{'ndcg@10'},
	'sampled ndcg@10: ItemKNN above popularity');

$node->stop;
done_testing();
