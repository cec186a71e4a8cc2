# Upgrade in place: a cluster created at extension version 0.1.0 (the frozen
# sql/recgan--0.1.0.sql) trains models of every algorithm, stores one in
# chunks and schedules a retraining; ALTER EXTENSION recgan UPDATE then
# brings it to the default version, and afterwards the models trained before
# serve byte-identical recommendations (recommend, fold-in, similar items, in
# a session opened before the update and in new ones), the stored bytes are
# unchanged, the schedule keeps running, and the upgraded catalog has exactly
# the objects of a fresh CREATE EXTENSION.
#
# The library is the one built from this tree, as after a package upgrade:
# a 0.1.0 catalog must work with it until ALTER EXTENSION UPDATE runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'recgan'\nrecgan.naptime = 1\n");
$node->start;

my $default_version = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'recgan'});
isnt($default_version, '0.1.0', "the default version is newer than 0.1.0 ($default_version)");

$node->safe_psql('postgres', q{
	CREATE EXTENSION recgan VERSION '0.1.0';
	CREATE TABLE ratings AS
		SELECT u AS user_id, (u * 7 + k * 13) % 300 AS item_id, (1 + (u + k) % 5)::real AS rating
		FROM generate_series(1, 300) u, generate_series(1, 20) k;
});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recgan'}),
	'0.1.0', 'installed at 0.1.0');

# One model per algorithm, small schedules (threshold 0: every row is a positive).
my %models = (
	pop => [ 'popularity', '{}' ],
	knn => [ 'itemknn', '{"neighbors": 20}' ],
	ease => [ 'ease', '{"lambda": 50}' ],
	sease => [ 'ease', '{"lambda": 50, "neighbors": 20}' ],
	gfcf => [ 'gfcf', '{}' ],
	ials => [ 'ials', '{"factors": 8, "epochs": 3}' ],
	bpr => [ 'bpr', '{"factors": 8, "epochs": 2}' ],
	gmf => [ 'gmf', '{"factors": 8, "epochs": 2}' ],
	neumf => [ 'neumf', '{"factors": 8, "epochs": 2}' ],
	lightgcn => [ 'lightgcn', '{"factors": 8, "epochs": 2}' ],
	cfgan => [ 'cfgan', '{"epochs": 2, "hidden_g": 16, "hidden_d": 16}' ],
	sgan => [ 'sgan', '{"epochs": 2, "hidden": 16}' ],
	cgan => [ 'cgan', '{"epochs": 1}' ],);
for my $m (sort keys %models)
{
	my ($alg, $opt) = @{ $models{$m} };
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT count(*) FROM recgan_train('ratings', '$m', '$alg', '$opt', threshold => 0)");
	is($ret, 0, "0.1.0 catalog: $m ($alg) trains") or diag($err);
}
# One model stored in chunks (its bytes in recgan_model_chunks).
$node->safe_psql('postgres', q{
	SET recgan.model_chunk_size = '64kB';
	SELECT count(*) FROM recgan_train('ratings', 'chunked', 'ease', '{"lambda": 50}', threshold => 0);
});
is($node->safe_psql('postgres', q{SELECT count(*) > 1 FROM recgan_model_chunks WHERE name = 'chunked'}),
	't', 'the chunked model has several chunks');

# Everything a model serves, as text: float4 output is exact, so equal text is
# equal bytes.  Fold-in and similar items only for the models that offer them
# (the others refuse with an error, checked by the regression suite).
my @names = ((sort keys %models), 'chunked');
my (@serve, $ret, $out, $err);
for my $m (@names)
{
	push @serve, qq{SELECT '$m', string_agg(u || ':' || item_id || ':' || score::text, ' ' ORDER BY u, rank)
		FROM generate_series(1, 300, 37) u, recgan_recommend(u, 5, '$m')};
	my %more = (
		items => qq{SELECT '$m items', string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
			FROM recgan_recommend_items(ARRAY[1, 14, 27, 40], 5, '$m')},
		similar => qq{SELECT '$m similar', string_agg(item_id || ':' || score::text, ' ' ORDER BY rank)
			FROM recgan_similar_items(13, 5, '$m')});
	for my $what (sort keys %more)
	{
		($ret, $out, $err) = $node->psql('postgres', $more{$what});
		push @serve, $more{$what} if $ret == 0;
	}
}
cmp_ok(scalar(@serve), '>', 30, scalar(@serve) . ' queries cover the models\' recommend, fold-in and similar items');
sub served
{
	my ($run) = @_;
	return join("\n", map { $run->($_) } @serve);
}
my $bytes_sql = q{SELECT string_agg(name || ':' || md5(model) || ':' || trained_at, ' ' ORDER BY name)
	FROM recgan_models WHERE name <> 'sched'};
my $chunks_sql = q{SELECT string_agg(name || seq || ':' || md5(data), ' ' ORDER BY name, seq)
	FROM recgan_model_chunks};

my $session = $node->background_psql('postgres');
my $before = served(sub { $session->query_safe($_[0]) });
like($before, qr/^ials\|\d+:\d+:[-0-9.e]+ /m, 'the 0.1.0 catalog serves recommendations');
my $bytes_before = $node->safe_psql('postgres', $bytes_sql);
my $chunks_before = $node->safe_psql('postgres', $chunks_sql);

# A schedule created under 0.1.0 by a role with privileges on recgan_models
# (granted by the administrator, as the README says) runs before the update.
$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	GRANT SELECT, INSERT, UPDATE, DELETE ON recgan_models TO alice;
	GRANT SELECT ON ratings TO alice;
});
$node->safe_psql('postgres',
	q{SELECT recgan_schedule('sched', '1 second', 'ratings', 'popularity', threshold => 0)},
	extra_params => [ '-U', 'alice' ]);
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) >= 1 FROM recgan_runs WHERE model = 'sched' AND status = 'succeeded'}),
	'the 0.1.0 schedule runs');

# ---- the update
$node->safe_psql('postgres', 'ALTER EXTENSION recgan UPDATE');
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'recgan'}),
	$default_version, "updated to $default_version");

is($node->safe_psql('postgres', $bytes_sql), $bytes_before, 'stored models are byte-identical');
is($node->safe_psql('postgres', $chunks_sql), $chunks_before, 'stored chunks are byte-identical');
is(served(sub { $session->query_safe($_[0]) }), $before,
	'a session opened before the update serves the same recommendations');
is(served(sub { $node->safe_psql('postgres', $_[0]) }), $before,
	'new sessions serve the same recommendations');
$session->quit;

my $last = $node->safe_psql('postgres', q{SELECT max(run_id) FROM recgan_runs WHERE model = 'sched'});
ok( $node->poll_query_until('postgres',
		"SELECT count(*) >= 2 FROM recgan_runs WHERE model = 'sched' AND status = 'succeeded' AND run_id > $last"),
	'the schedule keeps running after the update');
is($node->safe_psql('postgres', q{SELECT recgan_unschedule('sched')}, extra_params => [ '-U', 'alice' ]),
	't', 'and can be removed');

# Retraining a model trained under 0.1.0 works, and a new one as well.
$node->safe_psql('postgres',
	q{SELECT count(*) FROM recgan_train('ratings', 'ease', 'ease', '{"lambda": 50}', threshold => 0)});
is($node->safe_psql('postgres', q{SELECT md5(model) FROM recgan_models WHERE name = 'ease'}),
	($bytes_before =~ /\bease:([0-9a-f]+):/)[0], 'retraining with the same options stores the same bytes');
$node->safe_psql('postgres',
	q{SELECT count(*) FROM recgan_train('ratings', 'fresh', 'ials', '{"factors": 8, "epochs": 3}', threshold => 0)});
is($node->safe_psql('postgres', q{SELECT count(*) FROM recgan_recommend(1, 5, 'fresh')}),
	'5', 'a model trained after the update serves');

# The upgraded catalog has the objects of a fresh installation.
my $objects = q{SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\n' ORDER BY 1)
	FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'recgan')};
my $columns = q{SELECT string_agg(attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod)
		|| CASE WHEN attnotnull THEN ' not null' ELSE '' END, E'\n' ORDER BY attrelid::regclass::text, attnum)
	FROM pg_attribute a JOIN pg_depend d ON d.objid = a.attrelid AND d.classid = 'pg_class'::regclass
	WHERE d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'recgan')
	  AND attnum > 0 AND NOT attisdropped};
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION recgan');
is($node->safe_psql('postgres', $objects), $node->safe_psql('fresh', $objects),
	'the upgraded extension has the same member objects as a fresh one');
is($node->safe_psql('postgres', $columns), $node->safe_psql('fresh', $columns),
	'... and its tables the same columns');

# No downgrade path exists.
($ret, $out, $err) = $node->psql('postgres', q{ALTER EXTENSION recgan UPDATE TO '0.1.0'});
like($err, qr/no update path/, 'there is no downgrade script');

$node->stop;
done_testing();
