# The data/ scripts: the synthetic generator is deterministic and has the
# structure it promises, and the five loaders read well-formed files right and
# refuse malformed or missing ones without leaving or destroying a table.
#
#   make tapcheck PROVE_TESTS=test/t/002_loaders.pl     (or bash test/run.sh)
#
# Real datasets are loaded too when these point at them (else skipped):
#   RECGAN_ML100K=/path/to/ml-100k   RECGAN_CFGAN_ML100K=/path/to/cfgan-ml100k
#   RECGAN_GOWALLA=/path/to/gowalla
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# TESTDIR is the source (build) root under make tapcheck; else find it from here.
my $root = $ENV{TESTDIR} // File::Spec->rel2abs(dirname(__FILE__) . '/../..');
my $data = "$root/data";
BAIL_OUT("no data/synthetic.sql under $root") unless -f "$data/synthetic.sql";

my $node = PostgreSQL::Test::Cluster->new('loaders');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE loaders');

my $tmp = PostgreSQL::Test::Utils::tempdir('fixtures');

# Run data/$script with psql -v name=value for each pair; return exit code,
# stdout, stderr.
sub run_script
{
	my ($script, @vars) = @_;
	my @cmd = ($node->installed_command('psql'), '-X', '-d', $node->connstr('loaders'));
	while (my ($name, $value) = splice(@vars, 0, 2))
	{
		push @cmd, '-v', "$name=$value";
	}
	push @cmd, '-f', "$data/$script";
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

# Run a query in the test database, return its output (bytes: UTF-8 undecoded).
sub query
{
	return $node->safe_psql('loaders', shift);
}

# Write bytes (no encoding layer: Latin-1 stays Latin-1) to $tmp/$name.
sub write_fixture
{
	my ($name, $bytes) = @_;
	my $path = "$tmp/$name";
	open(my $fh, '>:raw', $path) or die "cannot write $path: $!";
	print $fh $bytes;
	close($fh);
	return $path;
}

# Does a table of that name exist?
sub table_exists
{
	my $name = shift;
	return query("SELECT pg_catalog.to_regclass('$name') IS NOT NULL") eq 't';
}

# Load $script with @vars, expecting success; return the loader's report.
sub load_ok
{
	my ($script, $name, @vars) = @_;
	my ($rc, $out, $err) = run_script($script, @vars);
	is($rc, 0, "$script: $name") or diag($err);
	return $out;
}

# ---- synthetic.sql

load_ok('synthetic.sql', 'default sizes');
is(query('SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id) FROM ratings'),
	'24000|600|400', 'synthetic: 600 users x 40 ratings over 400 items');
is(query('SELECT count(*), count(title), count(DISTINCT genres) FROM items'),
	'400|400|8', 'synthetic: 400 titled items in 8 genres (the groups)');
is(query('SELECT count(*) FROM (SELECT user_id FROM ratings GROUP BY 1 HAVING count(*) <> 40) x'),
	'0', 'synthetic: every user has exactly per_user ratings');
is(query('SELECT count(*) - count(DISTINCT (user_id, item_id)) FROM ratings'),
	'0', 'synthetic: no duplicated (user, item) pair');
is(query('SELECT count(*) FROM ratings WHERE rating NOT IN (1, 2, 3, 4, 5)'),
	'0', 'synthetic: ratings are whole stars 1..5');
is(query(q{SELECT count(*) FROM (SELECT ts <= pg_catalog.lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS back
		FROM ratings) x WHERE back}),
	'0', 'synthetic: timestamps strictly increase along each user');
is(query("SELECT title, genres FROM items WHERE item_id = 17"),
	'Item 17 (group 1)|group 1', 'synthetic: item title and genre name the group');

# md5 of the ratings and of the items table, each in a fixed order.
sub fingerprint
{
	my ($ratings, $items) = @_;
	return query(qq{SELECT (SELECT md5(string_agg(format('%s,%s,%s,%s', user_id, item_id, rating, ts),
			';' ORDER BY user_id, item_id)) FROM $ratings) || ' ' ||
		(SELECT md5(string_agg(format('%s,%s,%s', item_id, title, genres), ';' ORDER BY item_id))
			FROM $items)});
}

my $first = fingerprint('ratings', 'items');
load_ok('synthetic.sql', 'second run');
is(fingerprint('ratings', 'items'), $first, 'synthetic: a second run gives identical tables');
# Pinned: the generator uses only hashint8extended, IEEE-exact float8 and
# numeric arithmetic, so these hold on any machine.  A deliberate change to the
# generator changes them; update them then, and say so in the commit.
is($first, '0152b4085e6eadb69723f96613c16173 f0e16d5fb3885090d37923a047b1d0fb',
	'synthetic: default tables are byte-identical to the pinned fingerprint');
load_ok('synthetic.sql', 'another seed', seed => 43, ratings => 'syn43', items_table => 'syn43_items');
isnt((split / /, fingerprint('syn43', 'syn43_items'))[0], (split / /, $first)[0],
	'synthetic: another seed gives other ratings');

# Planted structure: user u is in group 1 + (u-1) % 8, item i in 1 + (i-1) % 8.
my ($in_mean, $off_mean, $in_share) = split /\|/, query(q{
	SELECT avg(rating) FILTER (WHERE ingroup), avg(rating) FILTER (WHERE NOT ingroup),
		avg(ingroup::int)
	FROM (SELECT rating, (user_id - 1) % 8 = (item_id - 1) % 8 AS ingroup FROM ratings) r});
cmp_ok($in_mean - $off_mean, '>=', 1.0, "synthetic: in-group mean $in_mean well above off-group $off_mean");
cmp_ok($in_share, '>=', 0.65, "synthetic: users rate mostly in their group ($in_share)");
my $top_share = query(q{
	SELECT sum(n) FILTER (WHERE decile = 1)::float8 / sum(n)
	FROM (SELECT n, ntile(10) OVER (ORDER BY n DESC, item_id) AS decile
		FROM (SELECT item_id, count(*) AS n FROM ratings GROUP BY 1) c) d});
cmp_ok($top_share, '>=', 0.25, "synthetic: the top 10% of items hold a long-tail share ($top_share)");

load_ok('synthetic.sql', 'custom sizes and names', users => 50, items => 30, groups => 3,
	per_user => 12, seed => 7, ratings => 'syn', items_table => 'syn_items');
is(query('SELECT count(*), count(DISTINCT user_id), max(item_id) FROM syn')
	  . ' ' . query('SELECT count(*) FROM syn_items'),
	'600|50|30 30', 'synthetic: -v sizes and table names are honoured');

{
	my ($rc, $out, $err) = run_script('synthetic.sql', items => 30, per_user => 31);
	isnt($rc, 0, 'synthetic: per_user > items fails');
	like($err, qr/per_user must not exceed -v items/, 'synthetic: ... saying why');
	(undef, undef, $err) = run_script('synthetic.sql', users => 'lots');
	like($err, qr/-v users must be a whole number .*'lots'/, 'synthetic: non-numeric size refused');
	is(fingerprint('ratings', 'items'), $first,
		'synthetic: failed runs leave the previous tables intact');
}

# ---- well-formed fixtures, one per format

my $ml100k = "$tmp/ml100k";
mkdir $ml100k;
write_fixture('ml100k/u.data', "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t242\t1\t878887116\n");
write_fixture('ml100k/u1.base', "196\t242\t3\t881250949\n");
write_fixture('ml100k/u.item',
	"242|Caf\xe9 Society (1995)|01-Jan-1995||http://x|0|1|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
	  . "302|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
load_ok('load_ml100k.sql', 'fixture', dir => $ml100k, ratings => 'r100k', items_table => 'i100k');
is(query('SELECT count(*), count(DISTINCT user_id), sum(rating), max(ts) FROM r100k'),
	'3|3|7|891717742', 'ml100k: ratings and timestamps');
is(query("SELECT title, genres FROM i100k ORDER BY item_id"),
	"Caf\xc3\xa9 Society (1995)|Action|Comedy\nunknown|unknown",
	'ml100k: Latin-1 title decoded, genre flags named');
load_ok('load_ml100k.sql', 'split file', dir => $ml100k, file => 'u1.base', ratings => 'r100k_base',
	with_items => 'off', items_table => 'i100k_none');
ok(query('SELECT count(*) FROM r100k_base') eq '1' && !table_exists('i100k_none'),
	'ml100k: -v file picks a split, with_items=off skips the items');

my $ml1m = "$tmp/ml1m";
mkdir $ml1m;
write_fixture('ml1m/ratings.dat', "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n");
write_fixture('ml1m/movies.dat', "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
	  . "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
	  . "3::Am\xe9lie: Le Fabuleux Destin (2001)::Comedy|Romance\n");
load_ok('load_ml1m.sql', 'fixture', dir => $ml1m, ratings => 'r1m', items_table => 'i1m');
is(query('SELECT count(*), sum(rating), min(ts) FROM r1m'), '3|12|978298413', 'ml1m: ratings');
is(query('SELECT count(*), string_agg(title, $$;$$ ORDER BY item_id) FROM i1m WHERE item_id = 3'),
	"1|Am\xc3\xa9lie: Le Fabuleux Destin (2001)", "ml1m: Latin-1 title with ':' kept whole");
is(query("SELECT genres FROM i1m WHERE item_id = 661"), "Animation|Children's|Musical", 'ml1m: genres');

my $ml10m = "$tmp/ml10m";
mkdir $ml10m;
write_fixture('ml10m/ratings.dat', "1::122::4.5::838985046\n");
write_fixture('ml10m/movies.dat', "122::Am\xc3\xa9lie (2001)::(no genres listed)\n");
load_ok('load_ml1m.sql', 'UTF-8 (ML-10M)', dir => $ml10m, encoding => 'UTF8', ratings => 'r10m',
	items_table => 'i10m');
is(query('SELECT rating FROM r10m') . ' ' . query('SELECT title, genres IS NULL FROM i10m'),
	"4.5 Am\xc3\xa9lie (2001)|t", 'ml10m: half stars, UTF-8 title, no genres is NULL');

my $ml20m = "$tmp/ml20m";
mkdir $ml20m;
write_fixture('ml20m/ratings.csv', "userId,movieId,rating,timestamp\r\n1,2,3.5,1112486027\r\n"
	  . "1,11,4.0,1112484676\r\n7,2,0.5,1112484819\r\n");
write_fixture('ml20m/movies.csv', "movieId,title,genres\n2,Jumanji (1995),Adventure|Children|Fantasy\n"
	  . "11,\"American President, The (1995)\",Comedy|Drama|Romance\n"
	  . "12,\"Dr. \"\"Strange\"\", Love (1964)\",Comedy|War\n");
load_ok('load_ml20m.sql', 'fixture', dir => $ml20m, ratings => 'r20m', items_table => 'i20m');
is(query('SELECT count(*), sum(rating), count(DISTINCT user_id) FROM r20m'), '3|8|2',
	'ml20m: header skipped, CRLF, half stars');
is(query('SELECT title FROM i20m ORDER BY item_id'),
	"Jumanji (1995)\nAmerican President, The (1995)\nDr. \"Strange\", Love (1964)",
	'ml20m: quoted titles with commas and doubled quotes');

# A directory with a quote and a space in its name.
my $cfgan = "$tmp/cfgan o'dir";
mkdir $cfgan;
write_fixture("cfgan o'dir/X.train", "0 0 3.0\r\n0 5 4.5\r\n1 5 1.0\r\n");
load_ok('load_cfgan.sql', "fixture in a directory named with a quote", file => "$cfgan/X.train",
	ratings => 'rcf');
is(query('SELECT count(*), sum(rating), count(ts), min(user_id) FROM rcf'), '3|8.5|0|0',
	'cfgan: CRLF, 0-based ids, ts NULL');

write_fixture('lightgcn.txt', "0 0 1 2\n1 2\n2\n3 4 4 5 \n");
load_ok('load_lightgcn.sql', 'fixture', file => "$tmp/lightgcn.txt", ratings => 'rlg');
is(query('SELECT count(*), count(DISTINCT user_id), min(rating), max(rating), count(ts) FROM rlg'),
	'6|3|1|1|0', 'lightgcn: one row per listed pair, rating 1, ts NULL, repeats once');
is(query("SELECT string_agg(item_id::text, ' ' ORDER BY item_id) FROM rlg WHERE user_id = 3"),
	'4 5', 'lightgcn: a repeated pair is kept once');

# ---- missing and malformed files: an error naming file and line, no table

query('CREATE TABLE keep (user_id bigint, item_id bigint, rating real, ts bigint);
	INSERT INTO keep VALUES (42, 42, 4.2, 42)');

# Expect $script with @vars to fail with stderr matching $re, keep intact and
# no table 'fresh' created.
sub load_fails
{
	my ($script, $name, $re, @vars) = @_;
	my ($rc, $out, $err) = run_script($script, @vars);
	isnt($rc, 0, "$script: $name fails");
	like($err, $re, "$script: $name: the error says where");
	is(query('SELECT count(*), sum(user_id) FROM keep') . (table_exists('fresh') ? ' fresh' : ''),
		'1|42', "$script: $name: previous table intact, no new table");
}

load_fails('load_ml100k.sql', 'missing directory', qr{\Q$tmp\E/nowhere/u\.data: No such file},
	dir => "$tmp/nowhere", ratings => 'keep', items_table => 'fresh');
load_fails('load_lightgcn.sql', 'missing file', qr{\Q$tmp\E/train\.txt: No such file},
	dir => $tmp, ratings => 'keep');

write_fixture('fields.data', "1\t2\t3\t4\n5\t6\t7\t8\n9\t10\n");
load_fails('load_ml100k.sql', 'a line with 2 fields',
	qr{malformed line 3 of file "\Q$tmp\E/fields\.data": expected 4 tab-separated fields .*found 2 fields\n.*Line 3 is: '9\t10'},
	dir => $tmp, file => 'fields.data', ratings => 'keep', items_table => 'fresh');

write_fixture('id.dat', "1::2::3::4\nu7::2::3::4\n");
load_fails('load_ml1m.sql', 'a non-integer id',
	qr{malformed line 2 of file "\Q$tmp\E/id\.dat": user id 'u7' is not an integer\n.*Line 2 is: 'u7::2::3::4'},
	dir => $tmp, file => 'id.dat', ratings => 'keep', items_table => 'fresh');

write_fixture('rating.train', "0 0 3.0\r\n0 1 4.0\r\n1 1 4,5\r\n");
load_fails('load_cfgan.sql', 'a CRLF file with a bad rating',
	qr{malformed line 3 of file "\Q$tmp\E/rating\.train": rating '4,5' is not a number\n.*Line 3 is: '1 1 4,5'},
	file => "$tmp/rating.train", ratings => 'keep');

write_fixture('item.txt', "0 1 2\n1 2 x3 4\n");
load_fails('load_lightgcn.sql', 'a non-integer item',
	qr{malformed line 2 of file "\Q$tmp\E/item\.txt": item id 'x3' is not an integer},
	file => "$tmp/item.txt", ratings => 'keep');

write_fixture('quotes.csv', "movieId,title,genres\n1,\"Open, quote (1999),Drama\n");
load_fails('load_ml20m.sql', 'unpaired CSV quotes in the items file',
	qr{malformed line 2 of file "\Q$tmp\E/quotes\.csv": double quotes do not pair up},
	dir => $ml20m, items_file => "$tmp/quotes.csv", ratings => 'keep', items_table => 'fresh');

write_fixture('noheader.csv', "1,2,3.5,1112486027\n");
load_fails('load_ml20m.sql', 'a CSV file without its header',
	qr{malformed line 1 of file "\Q$tmp\E/noheader\.csv": expected the header userId,movieId,rating,timestamp},
	file => "$tmp/noheader.csv", ratings => 'keep', items_table => 'fresh');

write_fixture('dup.item', "1|A||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
	  . "1|B||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
load_fails('load_ml100k.sql', 'a repeated item id',
	qr{malformed line 2 of file "\Q$tmp\E/dup\.item": item id 1 already appears on line 1},
	dir => $ml100k, items_file => "$tmp/dup.item", ratings => 'keep', items_table => 'fresh');

write_fixture('empty.train', "");
load_fails('load_cfgan.sql', 'an empty file', qr{file "\Q$tmp\E/empty\.train" holds no ratings},
	file => "$tmp/empty.train", ratings => 'keep');

# A path with a line break must not smuggle a second psql command through \copy.
my $marker = "$tmp/smuggled";
load_fails('load_cfgan.sql', 'a path with a line break', qr{contains a line break},
	file => "$tmp/x\n\\! touch $marker", ratings => 'keep');
ok(!-e $marker, 'load_cfgan.sql: nothing after the line break ran');

# ---- the real datasets, when present

SKIP:
{
	skip 'RECGAN_ML100K not set', 5 unless $ENV{RECGAN_ML100K};
	load_ok('load_ml100k.sql', 'MovieLens 100K', dir => $ENV{RECGAN_ML100K}, ratings => 'ml',
		items_table => 'ml_items');
	is(query('SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id) FROM ml'),
		'100000|943|1682', 'ml-100k: 100000 ratings, 943 users, 1682 items');
	is(query(q{SELECT count(*), count(*) FILTER (WHERE title <> '') FROM ml_items}),
		'1682|1682', 'ml-100k: 1682 items, all titled');
	load_ok('load_ml100k.sql', 'MovieLens 100K u1.base', dir => $ENV{RECGAN_ML100K},
		file => 'u1.base', ratings => 'ml_u1', with_items => 'off');
	is(query('SELECT count(*) FROM ml_u1'), '80000', 'ml-100k: u1.base holds 80000 ratings');
}

SKIP:
{
	skip 'RECGAN_CFGAN_ML100K not set', 2 unless $ENV{RECGAN_CFGAN_ML100K};
	load_ok('load_cfgan.sql', 'CFGAN ML100K.train', dir => $ENV{RECGAN_CFGAN_ML100K},
		file => 'ML100K.train', ratings => 'cf_train');
	is(query('SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id) FROM cf_train'),
		'80000|943|1653', 'cfgan ML100K.train: 80000 ratings, 943 users, 1653 items');
}

SKIP:
{
	skip 'RECGAN_GOWALLA not set', 3 unless $ENV{RECGAN_GOWALLA};
	load_ok('load_lightgcn.sql', 'gowalla train.txt', dir => $ENV{RECGAN_GOWALLA},
		ratings => 'gowalla');
	my ($pairs, $users, $items) =
	  split /\|/, query('SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id) FROM gowalla');
	is("$pairs|$users", '810128|29858', 'gowalla train.txt: 810128 pairs of 29858 users');
	cmp_ok($items, '<=', 40981, "gowalla train.txt: $items items, at most 40981");
}

$node->stop;
done_testing();
