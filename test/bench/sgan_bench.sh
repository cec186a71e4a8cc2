#!/usr/bin/env bash
# sgan_bench.sh: the GAN recommender (sgan) against its discriminator-free
# twin, popularity, EASE and iALS, on the splits of issue 12.
#
#   bash test/bench/sgan_bench.sh
#
# Data (environment, or ../shared/data/... beside the clone):
#   RECGAN_ML100K        ml-100k: u1.base / u1.test, positives rating >= 4
#   RECGAN_CFGAN_ML100K  cfgan-ml100k: ML100K.train / .test, every rating positive
#   RECGAN_GOWALLA       gowalla: train.txt / test.txt (LightGCN split)
# PARTS (default "ml100k cfgan gowalla") picks the parts; SEEDS (default
# "1 2 3") the seeds of the 3-seed means; GOWALLA_SEEDS (default "1").
#
# Each row is one whole recgan_train call with default options (validation
# holdout, early stopping, refit: what a user gets), "wall s" its seconds,
# then recgan_evaluate on the test split.  "sgan" is the default model,
# "sgan_twin" the same generator trained with adv_weight 0 (the ablation:
# no discriminator).  recgan.threads = 1 on the small splits, 2 on Gowalla.
# On Gowalla the training footprint is the estimate recgan_train checks
# against recgan.max_train_memory (read from the refusal at a 1 MB limit)
# and the backend's peak resident memory (VmHWM) after training.
# Prints markdown and writes it to test/bench/out/sgan.md.

set -u
. "$(dirname "$0")/../cluster.sh"

SHARED=$(cd "$RECGAN_SRC/.." && pwd)/shared/data
ML100K=${RECGAN_ML100K:-$SHARED/ml-100k}
CFGAN=${RECGAN_CFGAN_ML100K:-$SHARED/cfgan-ml100k}
GOWALLA=${RECGAN_GOWALLA:-$SHARED/gowalla}
read -r -a PARTS <<<"${PARTS:-ml100k cfgan gowalla}"
read -r -a SEEDS <<<"${SEEDS:-1 2 3}"
read -r -a GOWALLA_SEEDS <<<"${GOWALLA_SEEDS:-1}"

recgan_bench_start bench_sgan ML100K CFGAN GOWALLA
recgan_psql -q -c "CREATE TABLE runs (part text, model text, seed int, wall_s float8, epochs int,
	metric text, k int, value float8)"

# run PART LABEL ALGORITHM OPTIONS SEED THREADS TRAIN TEST THRESHOLD K...
run() {
	local part=$1 label=$2 alg=$3 opts=$4 seed=$5 threads=$6 train=$7 test=$8 thr=$9
	shift 9
	say "$part: $label seed $seed ($alg $opts, $threads threads)"
	recgan_psql -q <<SQL
SET recgan.threads = $threads;
SET client_min_messages = warning;
SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE t AS SELECT * FROM recgan_train('$train', 'm', '$alg',
	'$opts'::jsonb || '{"seed": $seed}', threshold => $thr);
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS wall \gset
INSERT INTO runs SELECT '$part', '$label', $seed, :wall, (SELECT count(*) FROM t), 'vmhwm_kb', 0,
	substring(pg_catalog.pg_read_file('/proc/self/status') FROM 'VmHWM:\s+([0-9]+)')::float8;
INSERT INTO runs SELECT '$part', '$label', $seed, :wall, (SELECT count(*) FROM t), metric, k, value
	FROM recgan_evaluate('m', '$test', '{$(IFS=,; echo "$*")}');
SQL
}

# every model of a small split: sgan and its twin over SEEDS, references once
small_part() {
	local part=$1 train=$2 test=$3 thr=$4 k=$5
	for seed in "${SEEDS[@]}"; do
		run "$part" sgan sgan '{}' "$seed" 1 "$train" "$test" "$thr" "$k"
		run "$part" sgan_twin sgan '{"adv_weight": 0}' "$seed" 1 "$train" "$test" "$thr" "$k"
	done
	run "$part" popularity popularity '{}' 1 1 "$train" "$test" "$thr" "$k"
	run "$part" ease ease '{"lambda": 200}' 1 1 "$train" "$test" "$thr" "$k"
	for seed in "${SEEDS[@]}"; do
		run "$part" ials ials '{}' "$seed" 1 "$train" "$test" "$thr" "$k"
	done
}

for part in "${PARTS[@]}"; do
	case $part in
		ml100k)
			[ -f "$ML100K/u1.base" ] || die "MovieLens 100K not found at $ML100K"
			for f in u1.base u1.test; do
				recgan_psql -q -v dir="$ML100K" -v file=$f -v ratings="${f/./_}" -v with_items=off \
					-f "$LOADER_DIR/load_ml100k.sql" >/dev/null
			done
			small_part ml100k u1_base u1_test 4 10
			;;
		cfgan)
			[ -f "$CFGAN/ML100K.train" ] || die "CFGAN split not found at $CFGAN"
			for f in train test; do
				recgan_psql -q -v dir="$CFGAN" -v file="ML100K.$f" -v ratings="cf_$f" \
					-f "$LOADER_DIR/load_cfgan.sql" >/dev/null
			done
			small_part cfgan cf_train cf_test NULL 20
			;;
		gowalla)
			[ -f "$GOWALLA/train.txt" ] || die "Gowalla not found at $GOWALLA"
			for f in train test; do
				recgan_psql -q -v dir="$GOWALLA" -v file="$f.txt" -v ratings="gw_$f" \
					-f "$LOADER_DIR/load_lightgcn.sql" >/dev/null
			done
			est=$(recgan_psql -Atq -c "SET recgan.max_train_memory = 1" \
				-c "SELECT count(*) FROM recgan_train('gw_train', 'm', 'sgan', threshold => NULL)" 2>&1 |
				sed -n 's/.*needs an estimated \([0-9]*\) MB.*/\1/p')
			for seed in "${GOWALLA_SEEDS[@]}"; do
				run gowalla sgan sgan '{}' "$seed" 2 gw_train gw_test NULL 20
			done
			;;
		*) die "unknown part $part" ;;
	esac
done

mkdir -p "$RECGAN_SRC/test/bench/out"
out="$RECGAN_SRC/test/bench/out/sgan.md"
{
	echo "sgan (defaults) against its discriminator-free twin (adv_weight 0) and the references;"
	echo "whole recgan_train calls with default options, metrics from recgan_evaluate on the test split."
	echo
	recgan_psql -q -P footer=off -P format=aligned <<'SQL' | sed -e '/^$/d' -e 's/^/    /'
WITH per AS (
	SELECT part, model, seed, max(wall_s) AS wall, max(epochs) AS epochs,
		max(value) FILTER (WHERE metric = 'ndcg') AS ndcg,
		max(value) FILTER (WHERE metric = 'precision') AS prec,
		max(value) FILTER (WHERE metric = 'recall') AS rec, max(k) AS k
	FROM runs WHERE metric <> 'vmhwm_kb' GROUP BY part, model, seed)
SELECT part, model, count(*) AS seeds, k, round(avg(ndcg)::numeric, 4) AS ndcg,
	round(coalesce(stddev_samp(ndcg), 0)::numeric, 4) AS ndcg_sd,
	round(avg(prec)::numeric, 4) AS "precision", round(avg(rec)::numeric, 4) AS recall,
	round(avg(epochs)) AS epoch_rows, round(avg(wall)::numeric, 1) AS wall_s
FROM per GROUP BY part, model, k ORDER BY part, ndcg DESC;
SQL
	echo
	recgan_psql -q -P footer=off -P format=aligned <<'SQL' | sed -e '/^$/d' -e 's/^/    /'
WITH m AS (
	SELECT part, model, avg(value) AS ndcg FROM runs WHERE metric = 'ndcg'
	GROUP BY part, model)
SELECT a.part, round(a.ndcg::numeric, 4) AS sgan, round(b.ndcg::numeric, 4) AS twin,
	round((100 * (a.ndcg / b.ndcg - 1))::numeric, 2) || ' %' AS adversarial_gain
FROM m a JOIN m b ON a.part = b.part AND a.model = 'sgan' AND b.model = 'sgan_twin';
SQL
	if [ -n "${est:-}" ]; then
		echo
		echo "Gowalla training footprint: estimated $est MB (checked before training); backend peak resident" \
			"memory after training and evaluating: $(recgan_psql -Atq -c "SELECT round(max(value) / 1024) FROM runs
				WHERE part = 'gowalla' AND metric = 'vmhwm_kb'") MB."
	fi
	echo
	echo "Machine: $(nproc) cores, $(recgan_psql -Atq -c 'SELECT recgan_version()'), $(date -u +%F), HEAD $(git -C "$RECGAN_SRC" rev-parse --short HEAD 2>/dev/null)"
} | tee "$out"
