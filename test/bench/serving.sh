#!/usr/bin/env bash
# serving.sh: recommendation throughput against a trivial query, with pgbench.
#
#   bash test/bench/serving.sh          (RECGAN_ML100K=/path/to/ml-100k, or
#                                        ../shared/data/ml-100k beside the clone)
#
# In a throwaway cluster: trains models on MovieLens 100K u1.base, then runs,
# in one run, pgbench (2 clients, 2 threads, DURATION seconds each, default
# 15) with prepared statements (-M prepared) and with the simple protocol
# (-M simple: every call parsed and planned) on:
#   select1     SELECT 1
#   <model>     SELECT * FROM recgan_recommend(:uid, 10, '<model>'), uid random in 1..943
#   <model>_ids SELECT recgan_recommend_ids(:uid, 10, '<model>'): the same items as
#               one array, from a scalar function (no function scan, no tuplestore)
# for every served model (ease, and cfgan when that algorithm exists), and
# reports TPS, the ratio to SELECT 1 under the same protocol, and p50/p99
# latency from pgbench's per-transaction log (gaps between a client's
# completion stamps).  Then the latency (mean, p99) of the EASE model with
# live_history => true (the user's positives read from u1_base, 80,000 rows,
# at each call), prepared statements, without and with an index on the user
# column.  Also times recgan_recommend_all(10).
# Prints a markdown table and writes it to test/bench/out/serving.md.

set -u
. "$(dirname "$0")/../cluster.sh"

ML100K=${RECGAN_ML100K:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/ml-100k}
DURATION=${DURATION:-15}
[ -f "$ML100K/u1.base" ] || die "MovieLens 100K not found at $ML100K (set RECGAN_ML100K)"

recgan_setup
ML100K=$(recgan_readable "$ML100K")
recgan_cluster_start
recgan_create_db bench
recgan_psql -q -v dir="$ML100K" -v file=u1.base -v ratings=u1_base -v with_items=off \
	-f "$TMP_ROOT/src/data/load_ml100k.sql" >/dev/null

# SERVING_MODELS=ease skips CFGAN, whose training takes most of the run on a
# loaded machine.
MODELS="ease"
recgan_psql -q -c "SELECT count(*) FROM recgan_train('u1_base', 'ease', 'ease')" >/dev/null
if [ "${SERVING_MODELS:-ease cfgan}" = ease ]; then
	echo "(SERVING_MODELS=ease: serving ease only)"
elif recgan_psql -q -c "SELECT count(*) FROM recgan_train('u1_base', 'cfgan', 'cfgan')" >/dev/null 2>&1; then
	MODELS="$MODELS cfgan"
else
	echo "(no cfgan algorithm in this build: serving ease only)"
fi

bench_dir="$TMP_ROOT/pgbench"
as_pg mkdir -p "$bench_dir"
as_pg sh -c "echo 'SELECT 1;' > $bench_dir/select1.sql"
for m in $MODELS; do
	as_pg sh -c "printf '%s\n' '\\set uid random(1, 943)' \"SELECT * FROM recgan_recommend(:uid, 10, '$m');\" > $bench_dir/$m.sql"
	as_pg sh -c "printf '%s\n' '\\set uid random(1, 943)' \"SELECT recgan_recommend_ids(:uid, 10, '$m');\" > $bench_dir/${m}_ids.sql"
done

# Run one pgbench script under protocol $2; print "tps p50_ms p99_ms mean_ms".
run_pgbench() {
	local name=$1 mode=$2 out
	rm -f "$bench_dir"/log_"$name".*
	out=$(cd "$bench_dir" && as_pg "$PGBIN/pgbench" -n -M "$mode" -c 2 -j 2 -T "$DURATION" \
		-l --log-prefix="$bench_dir/log_$name" -f "$bench_dir/$name.sql" bench 2>&1) ||
		die "pgbench $name failed: $out"
	local tps
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | tail -1)
	# pgbench 15 logs 0 us latency for very short transactions, so take each
	# transaction's latency as the gap between a client's consecutive
	# completion stamps (clients run back to back, without think time).
	cat "$bench_dir"/log_"$name".* |
		awk '{ t = $5 * 1000000 + $6; if ($1 in prev) print t - prev[$1]; prev[$1] = t }' | sort -n |
		awk -v tps="$tps" '{ v[NR] = $1; sum += $1 } END {
			p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1];
			p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1];
			printf "%s %.3f %.3f %.3f\n", tps, p50 / 1000, p99 / 1000, sum / NR / 1000 }'
}

say "pgbench: 2 clients, ${DURATION}s per script and protocol"
rows=""
for mode in prepared simple; do
	read -r base_tps base_p50 base_p99 _ < <(run_pgbench select1 "$mode")
	rows="$rows${rows:+
}| $mode | SELECT 1 | $(printf '%.0f' "$base_tps") | 100 % | $base_p50 | $base_p99 |"
	for m in $MODELS; do
		for script in "$m" "${m}_ids"; do
			read -r tps p50 p99 _ < <(run_pgbench "$script" "$mode")
			ratio=$(awk -v a="$tps" -v b="$base_tps" 'BEGIN { printf "%.0f", 100 * a / b }')
			case $script in
				*_ids) call="recgan_recommend_ids(:uid, 10, '$m')" ;;
				*) call="recgan_recommend(:uid, 10, '$m')" ;;
			esac
			rows="$rows
| $mode | $call | $(printf '%.0f' "$tps") | $ratio % | $p50 | $p99 |"
		done
	done
done

# Live histories: the same EASE model, each call reading the user's rows of
# u1_base (80,000 rows) first by a sequential scan, then through an index.
as_pg sh -c "printf '%s\n' '\\set uid random(1, 943)' \"SELECT * FROM recgan_recommend(:uid, 10, 'ease', live_history => true);\" > $bench_dir/live.sql"
say "live histories: ${DURATION}s each, prepared, without and with an index on user_id"
read -r _ _ live_seq_p99 live_seq_mean < <(run_pgbench live prepared)
recgan_psql -q -c "CREATE INDEX u1_base_user ON u1_base (user_id)" -c "ANALYZE u1_base" >/dev/null
read -r _ _ live_idx_p99 live_idx_mean < <(run_pgbench live prepared)
recgan_psql -q -c "DROP INDEX u1_base_user" >/dev/null

all_s=$(recgan_psql -Atq <<'SQL'
SELECT count(*) FROM recgan_recommend_all(10, 'ease');  -- warm the cache
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM recgan_recommend_all(10, 'ease') \g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 3);
SQL
)
all_s=$(echo "$all_s" | tail -1)

# recommend_all on Gowalla (29,858 users x 40,981 items) with a 64-dimensional
# iALS model, when the LightGCN-format split is available.
GOWALLA=${RECGAN_GOWALLA:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/gowalla}
gowalla_line="Gowalla: not run (set RECGAN_GOWALLA to the LightGCN split)."
if [ -f "$GOWALLA/train.txt" ]; then
	say "Gowalla: 64-dimensional iALS, recgan_recommend_all(10)"
	GOWALLA=$(recgan_readable "$GOWALLA")
	recgan_psql -q -v file="$GOWALLA/train.txt" -v ratings=gw_train \
		-f "$TMP_ROOT/src/data/load_lightgcn.sql" >/dev/null || die "loading Gowalla failed"
	gw=$(recgan_psql -Atq <<'SQL'
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM recgan_train('gw_train', 'gw_ials', 'ials', '{"factors": 64}', threshold => NULL) \g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1) AS train_s \gset
SELECT count(*) FROM recgan_recommend(1, 10, 'gw_ials') \g /dev/null
SELECT clock_timestamp() AS t1 \gset
SELECT count(*) AS rows FROM recgan_recommend_all(10, 'gw_ials') \gset
SELECT :'train_s' || ' ' || :'rows' || ' ' || round(extract(epoch FROM clock_timestamp() - :'t1')::numeric, 2);
SQL
)
	read -r gw_train gw_rows gw_all <<<"$(echo "$gw" | tail -1)"
	gowalla_line="Gowalla (29,858 users x 40,981 items), 64-dimensional iALS (trained in ${gw_train} s): recgan_recommend_all(10) ${gw_all} s for ${gw_rows} rows (model cached)."
fi

mkdir -p "$RECGAN_SRC/test/bench/out"
out="$RECGAN_SRC/test/bench/out/serving.md"
{
	echo "pgbench, 2 clients / 2 threads, ${DURATION} s per script and protocol, one run; MovieLens 100K u1.base models."
	echo
	echo "| protocol | script | TPS | vs SELECT 1 | p50 ms | p99 ms |"
	echo "| --- | --- | --- | --- | --- | --- |"
	echo "$rows"
	echo
	echo "recgan_recommend(:uid, 10, 'ease', live_history => true), prepared, user's rows read from u1_base (80,000 rows) at each call:"
	echo
	echo "| u1_base | mean ms | p99 ms |"
	echo "| --- | --- | --- |"
	echo "| no index on user_id (sequential scan) | $live_seq_mean | $live_seq_p99 |"
	echo "| btree index on user_id | $live_idx_mean | $live_idx_p99 |"
	echo
	echo "recgan_recommend_all(10, 'ease'), 943 users: ${all_s} s (model cached)."
	echo "$gowalla_line"
	echo
	echo "Machine: $(nproc) cores, $(recgan_psql -Atq -c 'SELECT recgan_version()')"
} | tee "$out"
