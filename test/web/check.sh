#!/usr/bin/env bash
# check.sh: the demo page's browser test, run by `make webcheck`.
#
#   make webcheck                             build, install, throwaway cluster, test
#   RECGAN_BENCH_SERVER=1 make webcheck       on the running server of PGHOST/PGPORT
#                                             (recgan installed; what test/run.sh does)
#   WEBCHECK_OUT=dir make webcheck            screenshot and server log there
#                                             (default: test/web/out)
#   ML100K=/path/to/ml-100k make webcheck     MovieLens 100K: likes three Star Wars films
#
# Creates the database recgan_webcheck, generates a small synthetic set
# (data/synthetic.sql: 300 users, 200 items) or loads ML100K, splits it
# 80/20, trains small models (the default algorithm as 'default', 'ease',
# 'ials'), runs test/web/setup.sql (the page's read-only role) and
# test/web/webcheck.py, which starts the page and drives it in headless
# Chromium (Debian's chromium, chromium-driver, python3-selenium,
# python3-psycopg2: a throwaway run installs them when missing).  As root,
# the page and the browser run as the cluster's unprivileged user.

set -u
# shellcheck source=SCRIPTDIR/../cluster.sh
. "$(dirname "$0")/../cluster.sh"

WEB_DB=recgan_webcheck
OUT=${WEBCHECK_OUT:-$RECGAN_SRC/test/web/out}
RECGAN_EXTRA_PACKAGES=$RECGAN_WEB_PACKAGES

trap 'exit 130' INT TERM
ML100K=${ML100K:-}
recgan_bench_start "$WEB_DB" ML100K
WEB_DIR=${LOADER_DIR%/data}/test/web

if [ -n "$ML100K" ]; then
	say "webcheck: MovieLens 100K and small models in $WEB_DB"
	[ -f "$ML100K/u.data" ] || die "ML100K=$ML100K holds no u.data"
	recgan_psql -q -v dir="$ML100K" -f "$LOADER_DIR/load_ml100k.sql" >/dev/null ||
		die "loading MovieLens 100K failed"
else
	say "webcheck: small synthetic data and models in $WEB_DB"
	recgan_psql -q -v users=300 -v items=200 -v per_user=30 -f "$LOADER_DIR/synthetic.sql" ||
		die "generating the synthetic data failed"
fi
recgan_psql -q -v ON_ERROR_STOP=1 <<-'SQL' || die "training failed"
	\pset footer off
	SET client_min_messages = warning;
	SELECT split, "rows" FROM recgan_split('ratings', 'ratings_train', 'ratings_test', 'random', 0.2, 42);
	SELECT 'default' AS model, count(*) AS epochs, round(sum(seconds)::numeric, 2) AS seconds
	FROM recgan_train('ratings_train', options => '{"epochs": 5}');
	SELECT 'ease' AS model, round(seconds::numeric, 2) AS seconds
	FROM recgan_train('ratings_train', 'ease', 'ease', '{"lambda": 50}');
	SELECT 'ials' AS model, count(*) AS epochs, round(sum(seconds)::numeric, 2) AS seconds
	FROM recgan_train('ratings_train', 'ials', 'ials', '{"epochs": 5, "factors": 16}');
SQL
recgan_psql -f "$WEB_DIR/setup.sql" || die "test/web/setup.sql failed"

say "webcheck: the page in headless Chromium (screenshot in $OUT)"
mkdir -p "$OUT" || die "cannot create $OUT"
if [ -n "$TMP_ROOT" ]; then
	[ "$(id -u)" -eq 0 ] && chown "$RECGAN_TEST_USER" "$OUT"
	as_pg /usr/bin/python3 "$WEB_DIR/webcheck.py" --db "$WEB_DB" --out "$OUT"
else
	/usr/bin/python3 "$WEB_DIR/webcheck.py" --db "$WEB_DB" --out "$OUT"
fi
