#!/usr/bin/env bash
# soak.sh: serving under load while the served model is retrained (issue 14).
#
#   bash test/bench/soak.sh                  (5 minutes; DURATION=60 for one)
#   CLIENTS=8 RETRAIN_EVERY=3 CACHE_MB=4 bash test/bench/soak.sh
#
# In a throwaway cluster (or, with RECGAN_BENCH_SERVER=1, the server of
# PGHOST/PGPORT): synthetic ratings (3000 users x 30 of 800 items), an iALS
# model "soak".  For DURATION seconds, pgbench runs CLIENTS clients (default
# 8) that each ask recgan_recommend(u, 10, 'soak') for a random user u of
# 200 probe users and record the answer (a md5 of its item list) and their
# backend's recgan_cache_stats() bytes; meanwhile one session retrains
# "soak" every RETRAIN_EVERY seconds (default 3) with a new seed, and after
# each commit records the answer of every probe user under that version.
# A sampler reads each client backend's private memory (RssAnon of
# /proc/PID/status) every 5 seconds.
#
# Prints: transactions and errors (pgbench failures, aborted clients and
# failed retrainings: must be 0), answers that match no committed version
# (must be 0), the versions committed, each client's cache bytes against
# recgan.cache_mb, and the backends' RssAnon at the start and the end.
# Exits non-zero when an error or an unmatched answer was seen.

set -u
. "$(dirname "$0")/../cluster.sh"

DURATION=${DURATION:-300}
CLIENTS=${CLIENTS:-8}
RETRAIN_EVERY=${RETRAIN_EVERY:-3}
CACHE_MB=${CACHE_MB:-4}
PROBES=200

recgan_bench_start soak
PGBIN=${PGBIN:-$("$PG_CONFIG" --bindir)}
if [ -n "$TMP_ROOT" ]; then
	out="$TMP_ROOT/soak"
	as_pg mkdir -p "$out"
else
	out=$(mktemp -d "${TMPDIR:-/tmp}/recgan_soak.XXXXXX")
	chmod 755 "$out"
	[ "$(id -u)" -eq 0 ] && chown "$RECGAN_TEST_USER" "$out"
	echo "output in $out"
fi

say "data and first model"
recgan_psql -q <<EOF
CREATE TABLE soak_ratings AS
	SELECT u::int8 AS user_id, ((u * 37 + k * k * 11 + k * 5) % 800)::int8 AS item_id, 5::real AS rating
	FROM generate_series(1, 3000) u, generate_series(1, 30) k;
CREATE UNLOGGED TABLE soak_answers (u int8, sig text, cache_bytes int8, at timestamptz DEFAULT clock_timestamp());
CREATE TABLE soak_expected (version int, u int8, sig text);
CREATE TABLE soak_versions (version int PRIMARY KEY, model_md5 text, committed_at timestamptz);
ALTER DATABASE soak SET recgan.cache_mb = $CACHE_MB;
CREATE FUNCTION soak_retrain(v int) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM count(*) FROM recgan_train('soak_ratings', 'soak', 'ials',
		pg_catalog.jsonb_build_object('epochs', 2, 'factors', 32, 'seed', v));
	INSERT INTO soak_versions SELECT v, md5(model), now() FROM recgan_models WHERE name = 'soak';
END
\$\$;
CREATE FUNCTION soak_record(v int) RETURNS void LANGUAGE sql AS \$\$
	INSERT INTO soak_expected
	SELECT v, u, (SELECT md5(string_agg(item_id::text, ',' ORDER BY rank))
				  FROM recgan_recommend(u, 10, 'soak'))
	FROM generate_series(1, $PROBES) u;
\$\$;
SELECT soak_retrain(0);
SELECT soak_record(0);
EOF

cat >"$out/client.sql" <<EOF
\set u random(1, $PROBES)
INSERT INTO soak_answers (u, sig, cache_bytes)
SELECT :u, (SELECT md5(string_agg(item_id::text, ',' ORDER BY rank)) FROM recgan_recommend(:u, 10, 'soak')),
	(recgan_cache_stats()->>'bytes')::int8;
EOF
[ "$(id -u)" -eq 0 ] && chown "$RECGAN_TEST_USER" "$out/client.sql"

say "soak: $CLIENTS clients for $DURATION s, retraining every $RETRAIN_EVERY s, recgan.cache_mb = $CACHE_MB"
as_pg "$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$out/client.sql" soak \
	>"$out/pgbench.log" 2>&1 &
bench=$!

# The retrainer: one committed version after the other, each recorded.
(
	v=1 failed=0
	end=$(($(date +%s) + DURATION))
	while [ "$(date +%s)" -lt "$end" ]; do
		sleep "$RETRAIN_EVERY"
		if recgan_psql -q -c "SELECT soak_retrain($v)" >/dev/null 2>>"$out/retrain.err" &&
			recgan_psql -q -c "SELECT soak_record($v)" >/dev/null 2>>"$out/retrain.err"; then
			v=$((v + 1))
		else
			failed=$((failed + 1))
		fi
	done
	echo "$failed" >"$out/retrain.failed"
) &
retrainer=$!

# The sampler: RssAnon (kB) of each client backend every 5 s.
(
	while kill -0 "$bench" 2>/dev/null; do
		for pid in $(recgan_psql -Atq -c \
			"SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = 'soak'" 2>/dev/null); do
			kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
			[ -n "$kb" ] && echo "$(date +%s) $pid $kb"
		done
		sleep 5
	done
) >"$out/rss.log" &
sampler=$!

wait "$bench"
bench_status=$?
wait "$retrainer"
wait "$sampler"

say "results"
cat "$out/pgbench.log" | grep -E '^(number of (transactions|failed)|latency average|tps|pgbench:|client [0-9]+ aborted)' || true
aborted=$(grep -c 'aborted' "$out/pgbench.log")
pg_failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out/pgbench.log")
retrain_failed=$(cat "$out/retrain.failed" 2>/dev/null || echo 1)
errors=$((aborted + ${pg_failed:-0} + retrain_failed + (bench_status != 0)))
[ -s "$out/retrain.err" ] && { echo "retraining errors:"; head -5 "$out/retrain.err"; }

recgan_psql -q -P footer=off <<'EOF'
SELECT count(*) AS answers,
	   count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM soak_expected e WHERE e.u = a.u AND e.sig = a.sig))
		   AS unmatched_answers,
	   count(*) FILTER (WHERE sig IS NULL) AS empty_answers,
	   (SELECT count(*) FROM soak_versions) AS versions_committed,
	   (SELECT count(DISTINCT model_md5) FROM soak_versions) AS distinct_models,
	   (SELECT count(DISTINCT sig) FROM soak_expected) AS distinct_expected_answers,
	   count(DISTINCT sig) AS distinct_answers_seen
FROM soak_answers a;
SELECT pg_size_pretty(max(cache_bytes)) AS max_cache_bytes_of_a_client,
	   current_setting('recgan.cache_mb') AS cache_mb,
	   max(cache_bytes) <= pg_catalog.pg_size_bytes(current_setting('recgan.cache_mb'))
		   AS within_cache_mb
FROM soak_answers;
EOF
unmatched=$(recgan_psql -Atq -c "SELECT count(*) FROM soak_answers a WHERE sig IS NULL OR NOT EXISTS
	(SELECT 1 FROM soak_expected e WHERE e.u = a.u AND e.sig = a.sig)")

# RssAnon per backend: the first sample after 20 s of warm-up, the last one.
awk -v warm=20 '
	NR == 1 { t0 = $1 }
	{ if ($1 - t0 >= warm && !($2 in first)) first[$2] = $3; last[$2] = $3 }
	END {
		n = 0; for (p in first) { n++; g = last[p] - first[p]; if (g > maxg) maxg = g;
			if (last[p] > maxl) maxl = last[p]; s0 += first[p]; s1 += last[p] }
		if (n == 0) { print "RssAnon: no samples"; exit }
		printf "client backends sampled: %d; RssAnon after warm-up: mean %.1f MB, at the end: mean %.1f MB, max %.1f MB; largest growth %.1f MB\n",
			n, s0 / n / 1024, s1 / n / 1024, maxl / 1024, maxg / 1024
	}' "$out/rss.log"

echo "soak: errors $errors, unmatched answers $unmatched"
[ "$errors" -eq 0 ] && [ "$unmatched" = 0 ]
