# recgan_evaluate against an independent evaluator written here in Perl from
# the metric definitions (src/evaluate.c, header comment), sharing no code
# with it: the Perl side ranks nothing itself, it reads the lists of
# recgan_recommend_all(20, model), the test table and the training table.
# Every metric at 5, 10 and 20 must agree to 1e-9.
#
# Always runs on a deterministic synthetic data set split by recgan_split;
# also on MovieLens 100K u1 when RECGAN_ML100K names its directory.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @KS = (5, 10, 20);
my @METRICS = qw(precision recall ndcg hitrate map mrr coverage);

my $node = PostgreSQL::Test::Cluster->new('indep');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'recgan'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION recgan');

# Rows of a query as arrays of fields.
sub rows
{
	my ($sql) = @_;
	return map { [ split /\|/, $_, -1 ] } grep { $_ ne '' }
	  split /\n/, $node->safe_psql('postgres', $sql);
}

# The metrics of a model computed here: {"metric@k" => value, users => n}.
sub perl_metrics
{
	my ($model, $train, $test, $threshold) = @_;
	my (%train_pos, %test_pos, %list);

	$train_pos{ $_->[0] }{ $_->[1] } = 1
	  for rows("SELECT user_id, item_id FROM $train WHERE rating >= $threshold"
		  . ' AND user_id IS NOT NULL AND item_id IS NOT NULL');
	for my $r (rows("SELECT user_id, item_id FROM $test WHERE rating >= $threshold"
		  . ' AND user_id IS NOT NULL AND item_id IS NOT NULL'))
	{
		my ($u, $i) = @$r;
		$test_pos{$u}{$i} = 1 unless exists $train_pos{$u} && $train_pos{$u}{$i};
	}
	$list{ $_->[0] }[ $_->[2] - 1 ] = $_->[1]
	  for rows("SELECT user_id, item_id, rank FROM recgan_recommend_all(20, '$model')");
	my ($n_items) = map { $_->[0] } rows("SELECT n_items FROM recgan_models WHERE name = '$model'");

	my @users = sort { $a <=> $b } grep { $train_pos{$_} && %{ $test_pos{$_} } } keys %test_pos;
	my %m = (users => scalar @users);
	for my $k (@KS)
	{
		my %sum;
		my %seen;
		for my $u (@users)
		{
			my $rel = $test_pos{$u};
			my $n_rel = scalar keys %$rel;
			my @top = grep { defined } @{ $list{$u} || [] }[ 0 .. $k - 1 ];
			my ($hits, $dcg, $ap, $rr) = (0, 0, 0, 0);
			for my $r (1 .. @top)
			{
				my $item = $top[ $r - 1 ];
				$seen{$item} = 1;
				next unless $rel->{$item};
				$hits++;
				$dcg += 1 / (log($r + 1) / log(2));
				$ap += $hits / $r;
				$rr = 1 / $r if $rr == 0;
			}
			my $ideal = $k < $n_rel ? $k : $n_rel;
			my $idcg = 0;
			$idcg += 1 / (log($_ + 1) / log(2)) for 1 .. $ideal;
			$sum{precision} += $hits / $k;
			$sum{recall} += $hits / $n_rel;
			$sum{ndcg} += $dcg / $idcg;
			$sum{hitrate} += $hits > 0 ? 1 : 0;
			$sum{map} += $ap / $ideal;
			$sum{mrr} += $rr;
		}
		$m{"$_\@$k"} = $sum{$_} / @users for grep { $_ ne 'coverage' } @METRICS;
		$m{"coverage\@$k"} = (scalar keys %seen) / $n_items;
	}
	return \%m;
}

# Compare recgan_evaluate with the Perl metrics of the same model.
sub compare
{
	my ($label, $model, $train, $test, $threshold) = @_;
	my $perl = perl_metrics($model, $train, $test, $threshold);
	my (%sql, %users);
	for my $r (rows("SELECT metric, k, value, users FROM recgan_evaluate('$model', '$test', "
		  . "'{" . join(',', @KS) . "}', threshold => $threshold)"))
	{
		$sql{"$r->[0]\@$r->[1]"} = $r->[2];
		$users{ $r->[3] } = 1;
	}
	cmp_ok($perl->{users}, '>', 0, "$label: $perl->{users} users evaluated");
	is(join(',', sort keys %users), $perl->{users}, "$label: users column agrees");
	for my $metric (@METRICS)
	{
		for my $k (@KS)
		{
			my $key = "$metric\@$k";
			ok(defined $sql{$key}, "$label: recgan_evaluate returns $key") or next;
			cmp_ok(abs($sql{$key} - $perl->{$key}), '<=', 1e-9,
				sprintf('%s: %-12s C %.12f, Perl %.12f', $label, $key, $sql{$key}, $perl->{$key}));
		}
	}
}

# Synthetic ratings in syn (user_id, item_id, rating, ts): from the project's
# generator when it is there, else from a small one here with the same kind
# of structure (a long-tailed popularity, five taste clusters: user u rates
# items with item % 5 = u % 5 four or five, others one or two).  Both are
# pure functions of hashint8extended, so every run sees the same rows.
if (-f 'data/synthetic.sql')
{
	$node->command_ok(
		[
			'psql', '-X', '-q', '-d', $node->connstr('postgres'),
			'-v', 'users=300', '-v', 'items=400', '-v', 'seed=11',
			'-v', 'ratings=syn', '-v', 'items_table=syn_items',
			'-f', 'data/synthetic.sql'
		],
		'synthetic ratings from data/synthetic.sql');
}
else
{
	$node->safe_psql('postgres', q{
		CREATE TABLE syn AS
		SELECT u AS user_id, i AS item_id,
			(CASE WHEN u % 5 = i % 5 THEN 4 ELSE 1 END
			 + pg_catalog.abs(pg_catalog.hashint8extended(u * 100000 + i, 11)) % 2)::real AS rating,
			pg_catalog.abs(pg_catalog.hashint8extended(u * 100000 + i, 13)) % 1000000 AS ts
		FROM generate_series(1, 300) u, generate_series(1, 400) i
		WHERE pg_catalog.abs(pg_catalog.hashint8extended(u * 100000 + i, 7)) % 10000
			< 150 + 30000 / (i + 10) + CASE WHEN u % 5 = i % 5 THEN 1500 ELSE 0 END});
}
$node->safe_psql('postgres', q{
	SELECT * FROM recgan_split('syn', 'syn_train', 'syn_test', test_fraction => 0.25, seed => 3);
	-- Test rows the protocol must handle: an unknown user, an unknown item
	-- (relevant, never hit), and a training positive repeated (dropped).
	INSERT INTO syn_test VALUES (99999, 1, 5, 0), (1, 99999, 5, 0);
	INSERT INTO syn_test SELECT * FROM syn_train WHERE user_id = 2 AND rating >= 4
		ORDER BY item_id LIMIT 3;
});
note('synthetic: ' . $node->safe_psql('postgres',
	q{SELECT count(*) || ' rows, ' || count(DISTINCT user_id) || ' users, '
	  || count(DISTINCT item_id) || ' items, ' || count(*) FILTER (WHERE rating >= 4)
	  || ' positives' FROM syn}));

my %options = (popularity => '{}', itemknn => '{}', ease => '{"lambda": 50}');
for my $alg (sort keys %options)
{
	$node->safe_psql('postgres',
		"SELECT count(*) FROM recgan_train('syn_train', 'syn_$alg', '$alg', '$options{$alg}', threshold => 4)");
	compare("synthetic $alg", "syn_$alg", 'syn_train', 'syn_test', 4);
}

SKIP:
{
	my $dir = $ENV{RECGAN_ML100K};
	skip 'RECGAN_ML100K is not set', 1 unless $dir && -r "$dir/u1.base" && -r "$dir/u1.test";
	for my $part (qw(base test))
	{
		$node->safe_psql('postgres', qq{
			CREATE TABLE u1_$part (user_id bigint, item_id bigint, rating real, ts bigint);
			\\copy u1_$part FROM '$dir/u1.$part'});
	}
	$node->safe_psql('postgres', q{
		SELECT count(*) FROM recgan_train('u1_base', 'ml_popularity', 'popularity', threshold => 4);
		SELECT count(*) FROM recgan_train('u1_base', 'ml_ease', 'ease', '{"lambda": 200}', threshold => 4);
	});
	compare("ml-100k u1 $_", "ml_$_", 'u1_base', 'u1_test', 4) for qw(popularity ease);
}

$node->stop;
done_testing();
