#!/usr/bin/env bash
# demo.sh: recgan end to end in a throwaway cluster, in one command.
#
#   bash test/demo.sh                             synthetic data (data/synthetic.sql)
#   ML100K=/path/to/ml-100k bash test/demo.sh     MovieLens 100K (data/load_ml100k.sql)
#   KEEP=1 bash test/demo.sh                      leave the cluster running afterwards
#
# Installs missing Debian packages, builds and installs recgan, starts a
# throwaway cluster (private unix socket; as root, the server runs as the
# unprivileged user recgan_test), creates the database recgan_demo with the
# extension, loads the data into ratings / items and prints what was loaded.
# Each step is a demo_* function, run in order at the bottom; the later steps
# (train, recommend with titles, evaluate) have their places marked there.
# Without KEEP=1 the cluster is stopped and its directory removed on exit.

set -u
# shellcheck source=SCRIPTDIR/cluster.sh
. "$(dirname "$0")/cluster.sh"

DEMO_DB=recgan_demo
DATASET=""

trap recgan_cleanup EXIT
trap 'exit 130' INT TERM

# psql on the demo database, as the cluster's user, stopping on the first error.
demo_psql() {
	recgan_psql -d "$DEMO_DB" "$@"
}

# Build, install, start the cluster, create the database and the extension.
demo_setup() {
	recgan_ensure_packages
	recgan_make_tmp
	recgan_build_install
	recgan_cluster_start
	say "creating database $DEMO_DB with the recgan extension"
	recgan_psql -q -d postgres -c "CREATE DATABASE $DEMO_DB" || die "CREATE DATABASE failed"
	demo_psql -q -c 'CREATE EXTENSION recgan' || die "CREATE EXTENSION failed"
	demo_psql -At -c 'SELECT recgan_version()'
}

# Load MovieLens 100K when ML100K is set, else generate the synthetic set.
# The scripts run from the build copy, which the cluster's user can read.
demo_load() {
	local data="$TMP_ROOT/src/data" dir
	if [ -n "${ML100K:-}" ]; then
		dir=$(recgan_readable "$ML100K")
		[ -n "$dir" ] || die "ML100K=$ML100K does not exist"
		[ -f "$dir/u.data" ] || die "ML100K=$ML100K holds no u.data (want the unzipped ml-100k directory)"
		DATASET="MovieLens 100K"
		say "loading $DATASET from $ML100K (data/load_ml100k.sql)"
		demo_psql -v dir="$dir" -f "$data/load_ml100k.sql" || die "loading $DATASET failed"
	else
		DATASET="synthetic (data/synthetic.sql)"
		say "generating the synthetic dataset: 600 users in 8 taste groups, 400 items"
		echo "(set ML100K=/path/to/ml-100k to use MovieLens 100K instead)"
		demo_psql -f "$data/synthetic.sql" || die "generating the synthetic data failed"
	fi
}

# What was loaded: sizes, density, rating distribution, the most rated items.
demo_summary() {
	say "the data: $DATASET"
	demo_psql -q <<-'SQL' || die "summary failed"
		\pset footer off
		SELECT count(*) AS ratings,
			count(DISTINCT user_id) AS users,
			count(DISTINCT item_id) AS items,
			(SELECT count(*) FROM items) AS catalogue,
			round(100.0 * count(*) / (count(DISTINCT user_id) * count(DISTINCT item_id)), 2)
				AS "density %",
			round(count(*)::numeric / count(DISTINCT user_id), 1) AS "per user",
			to_char(to_timestamp(min(ts)) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS "first",
			to_char(to_timestamp(max(ts)) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS "last"
		FROM ratings;

		\echo 'Rating distribution'
		SELECT rating, count(*) AS n,
			round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS "%",
			repeat('#', (50.0 * count(*) / max(count(*)) OVER ())::int) AS histogram
		FROM ratings GROUP BY rating ORDER BY rating;

		\echo 'Top 10 most rated items'
		SELECT row_number() OVER (ORDER BY count(*) DESC, r.item_id) AS "#",
			r.item_id AS item, i.title, count(*) AS ratings,
			round(avg(r.rating)::numeric, 2) AS "mean rating", i.genres
		FROM ratings r LEFT JOIN items i USING (item_id)
		GROUP BY r.item_id, i.title, i.genres
		ORDER BY count(*) DESC, r.item_id LIMIT 10;
	SQL
}

# ---- train: (next) fit a model on ratings and store it in recgan_models.

# ---- recommend: (next) top-10 items with titles for a few users.

# ---- evaluate: (next) hold out ratings, report precision / recall / NDCG.

# Stop and clean up, or with KEEP=1 leave the cluster running and say how to
# reach and stop it.
demo_finish() {
	if [ -z "${KEEP:-}" ] || [ "${KEEP}" = 0 ]; then
		say "done (KEEP=1 leaves the cluster running)"
		return
	fi
	local pgctl="$PGBIN/pg_ctl -D $TMP_ROOT/pgdata stop"
	[ "$(id -u)" -eq 0 ] && pgctl="runuser -u $RECGAN_TEST_USER -- $pgctl"
	say "the cluster keeps running (KEEP=1)"
	echo "  connect:  $PGBIN/psql -h $PGHOST -p $PGPORT -U $PGUSER $DEMO_DB"
	echo "  stop:     $pgctl && rm -rf $TMP_ROOT"
	PG_STARTED=0
	RECGAN_KEEP_TMP=1
}

demo_setup
demo_load
demo_summary
# demo_train
# demo_recommend
# demo_evaluate
demo_finish
