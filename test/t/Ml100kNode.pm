# Shared by the TAP tests on MovieLens 100K: skip unless RECGAN_ML100K names
# a directory with u1.base and u1.test, a started node with recgan preloaded
# and created, the u1 split loaded by data/load_ml100k.sql, and the check
# that a model trained with default options on u1.base (threshold 4) validated
# its epochs, refitted, and reaches a quality floor on u1.test.
package Ml100kNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(ml100k_node ml100k_load_u1 ml100k_check_floor);

# ($node, $dir): a started node with the extension, or skip the whole test.
sub ml100k_node
{
	my ($name) = @_;

	plan skip_all => 'RECGAN_ML100K is not set (directory of the MovieLens 100K files)'
	  unless $ENV{RECGAN_ML100K};
	my $dir = $ENV{RECGAN_ML100K};
	plan skip_all => "$dir/u1.base or $dir/u1.test is not readable"
	  unless -r "$dir/u1.base" && -r "$dir/u1.test";

	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recgan'");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION recgan');
	return ($node, $dir);
}

# u1.base and u1.test into u1_base and u1_test, one test each.
sub ml100k_load_u1
{
	my ($node, $dir) = @_;

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
}

# Train model $alg with algorithm $alg and default options on u1_base; three tests.
sub ml100k_check_floor
{
	my ($node, $alg, $floor) = @_;
	my $train = $node->safe_psql('postgres', qq{
		SET recgan.threads = 1;
		SELECT count(*) FILTER (WHERE validation IS NOT NULL), count(*) FILTER (WHERE validation IS NULL),
			round(sum(seconds)::numeric, 1)
		FROM recgan_train('u1_base', '$alg', '$alg', '{}', threshold => 4)});
	my ($validated, $refit, $seconds) = split /\|/, $train;
	note("$alg: $validated validated epochs, $refit refit epochs, $seconds s");
	cmp_ok($validated, '>', 1, "$alg validated more than one epoch");
	cmp_ok($refit, '>=', 1, "$alg refitted on all of u1.base");
	my $ndcg = $node->safe_psql('postgres',
		"SELECT value FROM recgan_evaluate('$alg', 'u1_test', '{10}') WHERE metric = 'ndcg'");
	cmp_ok($ndcg, '>=', $floor, "$alg ndcg\@10 = $ndcg >= $floor");
}

1;
