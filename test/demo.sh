#!/usr/bin/env bash
# demo.sh: recgan end to end in a throwaway cluster, in one command.
#
#   bash test/demo.sh                             synthetic data (data/synthetic.sql)
#   ML100K=/path/to/ml-100k bash test/demo.sh     MovieLens 100K (data/load_ml100k.sql)
#   KEEP=1 bash test/demo.sh                      leave the cluster running afterwards
#   bash test/demo.sh --web                       the new-user web page on 127.0.0.1:8765
#                                                 (WEB_PORT=...), until Ctrl-C (test/web/)
#
# Installs missing Debian packages, builds and installs recgan, starts a
# throwaway cluster (private unix socket; as root, the server runs as the
# unprivileged user recgan_test), creates the database recgan_demo with the
# extension, loads the data into ratings / items, prints what was loaded,
# splits it, trains popularity, EASE and CFGAN (with its progress),
# recommends with titles (also for a new user given liked items) and prints
# the models' metrics side by side.  With --web it trains what the page
# serves instead (the default algorithm as 'default', 'ease', 'ials'), sets up
# the page's read-only role (test/web/setup.sql) and serves the page
# (test/web/server.py) until Ctrl-C.
# Each step is a demo_* function, run in order at the bottom.
# Without KEEP=1 the cluster is stopped and its directory removed on exit.

set -u
# shellcheck source=SCRIPTDIR/cluster.sh
. "$(dirname "$0")/cluster.sh"

DEMO_DB=recgan_demo
DATASET=""
WEB=0
WEB_PORT=${WEB_PORT:-8765}
for arg in "$@"; do
	case $arg in
	--web) WEB=1 RECGAN_EXTRA_PACKAGES="python3-psycopg2" ;;
	*) die "unknown argument $arg (bash test/demo.sh [--web])" ;;
	esac
done
# Say now, not after training, that the page's port is taken.
if [ "$WEB" = 1 ] && (exec 3<>"/dev/tcp/127.0.0.1/$WEB_PORT") 2>/dev/null; then
	die "127.0.0.1:$WEB_PORT is in use (WEB_PORT=... picks another port)"
fi

trap 'exit 130' INT TERM

# psql on the demo database, as the cluster's user, stopping on the first error.
demo_psql() {
	recgan_psql -d "$DEMO_DB" "$@"
}

# Build, install, start the cluster, create the database and the extension.
demo_setup() {
	recgan_setup
	recgan_cluster_start
	say "creating database $DEMO_DB with the recgan extension"
	recgan_create_db "$DEMO_DB"
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

# ---- train: hold out 20% of each user's ratings, fit popularity and EASE.
demo_train() {
	say "splitting ratings 80/20 per user, training popularity, EASE and CFGAN (positives: rating >= 4)"
	demo_psql -q <<-'SQL' || die "training failed"
		\pset footer off
		SELECT * FROM recgan_split('ratings', 'ratings_train', 'ratings_test', 'random', 0.2, 42);
		SELECT 'popularity' AS model, seconds FROM recgan_train('ratings_train', 'popularity', 'popularity');
		SELECT 'ease' AS model, seconds FROM recgan_train('ratings_train', 'ease', 'ease', '{"lambda": 200}');
		\echo 'CFGAN (the default algorithm): epochs chosen on a validation holdout, then a refit; progress below'
		SET client_min_messages = notice;
		SELECT count(*) AS epochs, round(sum(seconds)::numeric, 1) AS seconds,
			round(max(validation)::numeric, 4) AS "best validation ndcg@20"
		FROM recgan_train('ratings_train', 'cfgan');
		SELECT i.name, i.algorithm, i.n_users, i.n_items, i.n_interactions AS positives,
			pg_size_pretty(i.size_bytes) AS size, round(i.train_seconds::numeric, 3) AS train_s
		FROM recgan_models m, LATERAL recgan_model_info(m.name) i
		ORDER BY i.name;
	SQL
}

# ---- recommend: top-10 with titles for a few users, and for a new user.
demo_recommend() {
	say "EASE: top-5 unseen items for three users"
	demo_psql -q <<-'SQL' || die "recommending failed"
		\pset footer off
		SELECT u.user_id AS "user", r.rank, r.item_id AS item, i.title, round(r.score::numeric, 3) AS score
		FROM (SELECT DISTINCT user_id FROM ratings_train ORDER BY user_id LIMIT 3) u,
			LATERAL recgan_recommend(u.user_id, 5, 'ease') r
			LEFT JOIN items i ON i.item_id = r.item_id
		ORDER BY u.user_id, r.rank;
	SQL
	say "EASE: a new user who liked three items, without retraining (fold-in)"
	demo_psql -q <<-'SQL' || die "fold-in failed"
		\pset footer off
		WITH liked AS (
			SELECT item_id, title FROM items
			WHERE title ILIKE '%Star Wars%' OR title ILIKE '%Empire Strikes%' OR title ILIKE '%Return of the Jedi%'
				OR title LIKE 'Item % (group 1)'
			ORDER BY item_id LIMIT 3)
		SELECT string_agg(title, '; ' ORDER BY item_id) AS "liked" FROM liked;
		SELECT r.rank, r.item_id AS item, i.title
		FROM recgan_recommend_items((SELECT array_agg(item_id) FROM (
				SELECT item_id FROM items
				WHERE title ILIKE '%Star Wars%' OR title ILIKE '%Empire Strikes%' OR title ILIKE '%Return of the Jedi%'
					OR title LIKE 'Item % (group 1)'
				ORDER BY item_id LIMIT 3) l), 10, 'ease') r
			LEFT JOIN items i ON i.item_id = r.item_id
		ORDER BY r.rank;
	SQL
}

# ---- evaluate: metrics of both models on the held-out ratings.
demo_evaluate() {
	say "metrics on the held-out 20% (full ranking, training items excluded)"
	demo_psql -q <<-'SQL' || die "evaluating failed"
		\pset footer off
		SELECT e.metric, e.k,
			round(max(e.value) FILTER (WHERE m = 'popularity')::numeric, 4) AS popularity,
			round(max(e.value) FILTER (WHERE m = 'ease')::numeric, 4) AS ease,
			round(max(e.value) FILTER (WHERE m = 'cfgan')::numeric, 4) AS cfgan,
			max(e.users) AS users
		FROM unnest(ARRAY['popularity', 'ease', 'cfgan']) AS m,
			LATERAL recgan_evaluate(m, 'ratings_test', '{10,20}') e
		GROUP BY e.metric, e.k
		ORDER BY array_position(ARRAY['precision','recall','ndcg','hitrate','map','mrr','coverage'], e.metric), e.k;
	SQL
}

# ---- web: the models the page serves, on the same 80/20 split.
demo_web_train() {
	say "splitting ratings 80/20 per user, training the page's models: EASE, iALS and the default algorithm"
	demo_psql -q <<-'SQL' || die "training failed"
		\pset footer off
		SELECT * FROM recgan_split('ratings', 'ratings_train', 'ratings_test', 'random', 0.2, 42);
		SELECT 'ease' AS model, round(seconds::numeric, 2) AS seconds
		FROM recgan_train('ratings_train', 'ease', 'ease', '{"lambda": 200}');
		SELECT 'ials' AS model, count(*) AS epochs, round(sum(seconds)::numeric, 1) AS seconds
		FROM recgan_train('ratings_train', 'ials', 'ials');
		\echo 'the default algorithm, as recgan_train(source) trains it (model ''default''); progress below'
		SET client_min_messages = notice;
		SELECT count(*) AS epochs, round(sum(seconds)::numeric, 1) AS seconds,
			round(max(validation)::numeric, 4) AS "best validation ndcg@20"
		FROM recgan_train('ratings_train');
		SELECT i.name, i.algorithm, i.n_users, i.n_items, i.n_interactions AS positives,
			pg_size_pretty(i.size_bytes) AS size, round(i.train_seconds::numeric, 3) AS train_s
		FROM recgan_models m, LATERAL recgan_model_info(m.name) i
		ORDER BY i.name;
	SQL
}

# ---- web: the page's role, then the page itself until Ctrl-C.
demo_web() {
	local web="$TMP_ROOT/src/test/web"
	say "the page's read-only role recgan_web (test/web/setup.sql)"
	demo_psql -v models=default,ease,ials -v test_source=ratings_test -f "$web/setup.sql" ||
		die "test/web/setup.sql failed"
	say "serving the page on http://127.0.0.1:$WEB_PORT/ as recgan_web (Ctrl-C stops it)"
	# Ctrl-C stops the page, then the demo finishes as usual (KEEP=1 holds).
	trap ':' INT
	as_pg /usr/bin/python3 "$web/server.py" --db "$DEMO_DB" --port "$WEB_PORT"
	trap 'exit 130' INT TERM
}

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
if [ "$WEB" = 1 ]; then
	demo_web_train
	demo_web
else
	demo_train
	demo_recommend
	demo_evaluate
fi
demo_finish
