#!/usr/bin/env bash
# scale.sh: GF-CF (gfcf) and sparse EASE (ease with "neighbors") on the
# large catalogues, and on ML-100K beside dense EASE.
#
#   bash test/bench/scale.sh     (RECGAN_GOWALLA, RECGAN_YELP2018, RECGAN_ML100K,
#                                 or ../shared/data/{gowalla,yelp2018,ml-100k}
#                                 beside the clone)
#
# In a throwaway cluster (test/cluster.sh), for each dataset: loads the
# split (LightGCN's train.txt / test.txt for Gowalla and Yelp2018 with
# data/load_lightgcn.sql, every listed pair a positive; ML-100K u1.base /
# u1.test with threshold 4), trains gfcf and sparse EASE (ease with
# EASE_OPTIONS_<dataset>) with recgan.threads = THREADS in a
# fresh session and reports the whole recgan_train time (clock_timestamp()
# around it, inside the server), the peak resident memory of that backend
# (VmHWM from /proc/<pid>/status, read before the session ends), the model
# size and recall / NDCG @20 (@10 for ML-100K) from recgan_evaluate on the
# test file.  On ML-100K, EASE is trained and evaluated the same way.
#
# ml20m is synthetic data of MovieLens-20M's shape (data/synthetic.sql
# mode=sampled: 138,493 users, 26,744 items, about 20M ratings, long-tailed
# popularity and activity; ML20M_USERS / ML20M_PER_USER scale it down):
# iALS (64 factors, 15 iterations, no validation holdout) trains on the whole
# table, then recgan_recommend_all(10) streams every user's top 10 into
# COPY ... TO '/dev/null' in a fresh session; each step reports its seconds and its
# backend's VmHWM (the generation's seconds are reported apart).
#
# Hyperparameters are chosen with MODE=validation, never on the test files:
# then each dataset's train file is split again by recgan_split('random',
# 0.1 of each user's items, seed 7) into fit / validation, every option set
# of CONFIGS_<dataset> (or CONFIGS) for gfcf, and of EASE_CONFIGS_<dataset>
# (or EASE_CONFIGS) for ease, is trained on fit and scored on the
# validation part (on ML-100K beside dense EASE), and the test files are
# not read at all.
#
# Environment:
#   DATASETS   subset of "gowalla yelp2018 ml100k ml20m" (default: the first
#              three; ml20m writes ~2 GB and takes minutes to generate)
#   MODE       test (default) | validation
#   THREADS    recgan.threads (default 2)
#   OPTIONS_gowalla, OPTIONS_yelp2018, OPTIONS_ml100k   gfcf options of the
#              test runs (default '{}': the algorithm's defaults)
#   CONFIGS    ';'-separated gfcf option sets of MODE=validation
#   ALGS       subset of "gfcf ease" (default: both; ease = sparse EASE)
#   EASE_OPTIONS_gowalla, EASE_OPTIONS_yelp2018, EASE_OPTIONS_ml100k   ease
#              options of the test runs (default '{"neighbors": 500}', the
#              recommended density, chosen on ML-100K's validation holdout)
#   EASE_CONFIGS ';'-separated ease option sets of MODE=validation
#              (default: the same)
#   RECGAN_BENCH_SERVER=1   use the running server of PGHOST/PGPORT
# Prints markdown and writes it to test/bench/out/scale.md
# (scale_validation.md with MODE=validation).

set -u
. "$(dirname "$0")/../cluster.sh"

SHARED=$(cd "$RECGAN_SRC/.." && pwd)/shared/data
GOWALLA=${RECGAN_GOWALLA:-$SHARED/gowalla}
YELP2018=${RECGAN_YELP2018:-$SHARED/yelp2018}
ML100K=${RECGAN_ML100K:-$SHARED/ml-100k}
DATASETS=${DATASETS:-gowalla yelp2018 ml100k}
MODE=${MODE:-test}
THREADS=${THREADS:-2}
CONFIGS=${CONFIGS:-'{}'}
ALGS=${ALGS:-gfcf ease}
EASE_DEFAULT='{"neighbors": 500}'
EASE_CONFIGS=${EASE_CONFIGS:-$EASE_DEFAULT}
[ "$MODE" = test ] || [ "$MODE" = validation ] || die "MODE must be test or validation"

recgan_bench_start bench_scale GOWALLA YELP2018 ML100K

# load <dataset> <train table> <test table>
load() {
	case $1 in
	gowalla | yelp2018)
		local dir
		[ "$1" = gowalla ] && dir=$GOWALLA || dir=$YELP2018
		[ -f "$dir/train.txt" ] || die "$1 not found at $dir"
		recgan_psql -q -v file="$dir/train.txt" -v ratings="$2" -f "$LOADER_DIR/load_lightgcn.sql" >/dev/null
		[ "$MODE" = test ] &&
			recgan_psql -q -v file="$dir/test.txt" -v ratings="$3" -f "$LOADER_DIR/load_lightgcn.sql" >/dev/null
		;;
	ml20m)
		local t0
		t0=$(date +%s.%N)
		recgan_psql -q -v mode=sampled -v users="${ML20M_USERS:-138493}" -v items=26744 \
			-v per_user="${ML20M_PER_USER:-160}" -v groups=20 -v seed=42 -v ratings="$2" \
			-v items_table=ml20m_items -f "$LOADER_DIR/synthetic.sql" | sed 's/^/    /'
		echo "    generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
		;;
	ml100k)
		[ -f "$ML100K/u1.base" ] || die "ML-100K not found at $ML100K"
		recgan_psql -q -v dir="$ML100K" -v file=u1.base -v ratings="$2" -v with_items=off \
			-f "$LOADER_DIR/load_ml100k.sql" >/dev/null
		[ "$MODE" = test ] &&
			recgan_psql -q -v dir="$ML100K" -v file=u1.test -v ratings="$3" -v with_items=off \
				-f "$LOADER_DIR/load_ml100k.sql" >/dev/null
		;;
	esac
	return 0
}

# run <dataset> <algorithm> <options> <train table> <eval table> <k> <threshold>:
# one row of bench_results
run() {
	local ds=$1 alg=$2 opts=$3 train=$4 eval=$5 k=$6 thr=$7
	say "$ds: $alg $opts on $train, evaluated on $eval"
	recgan_psql -q -v ds="$ds" -v alg="$alg" -v opts="$opts" -v train="$train" -v eval="$eval" \
		-v thr="$thr" -v THREADS="$THREADS" <<-'SQL' || die "$ds $alg failed"
		SET recgan.threads = :THREADS;
		SET client_min_messages = warning;
		SELECT pg_backend_pid() AS pid, clock_timestamp() AS t0 \gset
		SELECT count(*) AS n FROM recgan_train(:'train', 'scale', :'alg', :'opts', threshold => :thr) \gset
		SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS train_s \gset
		\set hwm `awk '/^VmHWM/ { print $2 }' /proc/:pid/status`
		INSERT INTO bench_results (dataset, algorithm, options, split, train_s, vmhwm_mb, model_mb)
			SELECT :'ds', :'alg', :'opts', :'eval', :train_s, :hwm / 1024.0,
				octet_length(model) / 1048576.0 FROM recgan_models WHERE name = 'scale';
	SQL
	recgan_psql -q -v eval="$eval" -v k="$k" -v thr="$thr" -v THREADS="$THREADS" <<-'SQL' ||
		SET recgan.threads = :THREADS;
		SELECT clock_timestamp() AS t0 \gset
		CREATE TEMP TABLE m AS SELECT metric, value
			FROM recgan_evaluate('scale', :'eval', ARRAY[:k], threshold => :thr);
		UPDATE bench_results SET k = :k,
			recall = (SELECT value FROM m WHERE metric = 'recall'),
			ndcg = (SELECT value FROM m WHERE metric = 'ndcg'),
			eval_s = extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)
		WHERE n = (SELECT max(n) FROM bench_results);
	SQL
		die "$ds $alg evaluation failed"
}

# run_ml20m <train table>: iALS on the whole table, then recommend_all
run_ml20m() {
	local opts='{"factors": 64, "epochs": 15, "validation_fraction": 0}'
	say "ml20m: ials $opts on $1"
	recgan_psql -q -v train="$1" -v opts="$opts" -v THREADS="$THREADS" <<-'SQL' || die "ml20m ials failed"
		SET recgan.threads = :THREADS;
		SET client_min_messages = warning;
		SELECT pg_backend_pid() AS pid, clock_timestamp() AS t0 \gset
		SELECT count(*) AS n FROM recgan_train(:'train', 'scale', 'ials', :'opts') \gset
		SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS train_s \gset
		\set hwm `awk '/^VmHWM/ { print $2 }' /proc/:pid/status`
		INSERT INTO bench_results (dataset, algorithm, options, split, train_s, vmhwm_mb, model_mb)
			SELECT 'ml20m', 'ials', :'opts', :'train', :train_s, :hwm / 1024.0,
				octet_length(model) / 1048576.0 FROM recgan_models WHERE name = 'scale';
	SQL
	say "ml20m: recgan_recommend_all(10) streamed to /dev/null"
	recgan_psql -q -v THREADS="$THREADS" <<-'SQL' || die "ml20m recommend_all failed"
		SET recgan.threads = :THREADS;
		SELECT pg_backend_pid() AS pid, clock_timestamp() AS t0 \gset
		\copy (SELECT * FROM recgan_recommend_all(10, 'scale')) TO '/dev/null'
		SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS all_s \gset
		\set hwm `awk '/^VmHWM/ { print $2 }' /proc/:pid/status`
		SELECT count(*) AS users FROM (SELECT DISTINCT user_id FROM ml20m_train) u \gset
		INSERT INTO bench_results (dataset, algorithm, options, split, train_s, vmhwm_mb, k)
			VALUES ('ml20m', 'recommend_all', :'users' || ' users', '', :all_s, :hwm / 1024.0, 10);
	SQL
}

recgan_psql -q -c "CREATE TABLE bench_results (dataset text, algorithm text, options text,
	split text, train_s float8, vmhwm_mb float8, model_mb float8, k int, recall float8,
	ndcg float8, eval_s float8, n serial)"
for ds in $DATASETS; do
	case $ds in
	gowalla | yelp2018) k=20 thr=NULL ;;
	ml100k) k=10 thr=4 ;;
	ml20m)
		say "generating ml20m"
		load ml20m ml20m_train
		run_ml20m ml20m_train
		continue
		;;
	*) die "unknown dataset $ds" ;;
	esac
	say "loading $ds"
	load "$ds" "${ds}_train" "${ds}_test"
	if [ "$MODE" = validation ]; then
		recgan_psql -q -c "SELECT * FROM recgan_split('${ds}_train', '${ds}_fit', '${ds}_val', 'random', 0.1, 7)" >/dev/null
		cfgs_var="CONFIGS_$ds"
		IFS=';' read -r -a cfgs <<<"${!cfgs_var:-$CONFIGS}"
		if [[ " $ALGS " == *" gfcf "* ]]; then
			for c in "${cfgs[@]}"; do
				run "$ds" gfcf "$c" "${ds}_fit" "${ds}_val" "$k" "$thr"
			done
		fi
		if [[ " $ALGS " == *" ease "* ]]; then
			cfgs_var="EASE_CONFIGS_$ds"
			IFS=';' read -r -a cfgs <<<"${!cfgs_var:-$EASE_CONFIGS}"
			for c in "${cfgs[@]}"; do
				run "$ds" ease "$c" "${ds}_fit" "${ds}_val" "$k" "$thr"
			done
		fi
		[ "$ds" = ml100k ] && run "$ds" ease '{}' "${ds}_fit" "${ds}_val" "$k" "$thr"
	else
		opts_var="OPTIONS_$ds"
		opts=${!opts_var:-}
		[[ " $ALGS " == *" gfcf "* ]] &&
			run "$ds" gfcf "${opts:-"{}"}" "${ds}_train" "${ds}_test" "$k" "$thr"
		opts_var="EASE_OPTIONS_$ds"
		opts=${!opts_var:-}
		[[ " $ALGS " == *" ease "* ]] &&
			run "$ds" ease "${opts:-$EASE_DEFAULT}" "${ds}_train" "${ds}_test" "$k" "$thr"
		[ "$ds" = ml100k ] && run "$ds" ease '{}' "${ds}_train" "${ds}_test" "$k" "$thr"
	fi
done

mkdir -p "$RECGAN_SRC/test/bench/out"
[ "$MODE" = validation ] && out=scale_validation.md || out=scale.md
{
	if [ "$MODE" = validation ]; then
		echo "gfcf and sparse ease option sets on validation holdouts (0.1 of each user's train items, recgan_split seed 7); test files not read."
	else
		echo "Test files (ml20m: the whole synthetic table); recgan.threads $THREADS; train_s is the whole recgan_train call (recommend_all: the whole streamed call), peak_mb that backend's VmHWM."
	fi
	echo
	recgan_psql -q -P footer=off -P format=aligned -v THREADS="$THREADS" <<-'SQL' | sed -e '/^$/d' -e 's/^/    /'
		SELECT dataset, algorithm, options, split, round(train_s::numeric, 1) AS train_s,
			round(vmhwm_mb::numeric) AS peak_mb, round(model_mb::numeric, 1) AS model_mb,
			k, round(recall::numeric, 4) AS recall, round(ndcg::numeric, 4) AS ndcg,
			round(eval_s::numeric, 1) AS eval_s
		FROM bench_results ORDER BY n;
	SQL
	echo
	echo "Machine: $(nproc) cores, $(recgan_psql -Atq -c 'SELECT recgan_version()')"
} | tee "$RECGAN_SRC/test/bench/out/$out"
