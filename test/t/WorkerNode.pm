# Shared by the 03x_worker*.pl TAP tests: a node with recgan preloaded and
# its launcher serving "postgres" (recgan.naptime = 1 s), login roles alice
# and bob that may write models, a ratings table alice may read, and helpers
# to run SQL as a role and to wait for a run.
package WorkerNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use Test::More;

our @EXPORT = qw(worker_node worker_setup as_role wait_run run_field);

# A started node; %opt: init => {...} for init(), conf => extra postgresql.conf
# lines, preload => 0 to leave recgan out of shared_preload_libraries.
sub worker_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(%{ $opt{init} // {} });
	$node->append_conf('postgresql.conf',
		(($opt{preload} // 1) ? "shared_preload_libraries = 'recgan'\n" : '')
		  . "recgan.naptime = 1\n"
		  . ($opt{conf} // ''));
	$node->start;
	worker_setup($node);
	return $node;
}

# The extension, roles and ratings (300 users x 20 items over 300 items).
sub worker_setup
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION recgan;
		CREATE ROLE alice LOGIN;
		CREATE ROLE bob LOGIN;
		GRANT SELECT, INSERT, UPDATE ON recgan_models TO alice, bob;
		GRANT SELECT, INSERT, UPDATE, DELETE ON recgan_model_archive TO alice, bob;
		CREATE TABLE ratings AS
			SELECT u AS user_id, (u * 7 + k * 13) % 300 AS item_id, 5::real AS rating
			FROM generate_series(1, 300) u, generate_series(1, 20) k;
		GRANT SELECT ON ratings TO alice;
	});
}

# Run SQL in a session logged in as role.
sub as_role
{
	my ($node, $role, $sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role ]);
}

# Wait until a boolean expression over the run's recgan_runs row holds.
sub wait_run
{
	my ($node, $run, $cond) = @_;
	return $node->poll_query_until('postgres',
		"SELECT coalesce(bool_or($cond), false) FROM recgan_runs WHERE run_id = $run");
}

# One column of a run, as the superuser sees it.
sub run_field
{
	my ($node, $run, $col) = @_;
	return $node->safe_psql('postgres', "SELECT $col FROM recgan_runs WHERE run_id = $run");
}

1;
