#!/usr/bin/env bash
# models.sh: every model of issue 5 (and references) on ML-100K u1, 3 seeds.
#
#   bash test/bench/models.sh              (RECGAN_ML100K=/path/to/ml-100k, or
#                                           ../shared/data/ml-100k beside the clone)
#
# For each algorithm of ALGORITHMS (with its options from OPTIONS; default
# options unless listed) and each seed of SEEDS: train on u1.base
# (threshold 4; iterative models choose their epochs on a validation
# holdout inside recgan_train and refit), then evaluate on u1.test.
# Reports training seconds, epochs run (validated + refit), NDCG@10 as mean
# +- sd over the seeds, P@10 and R@10 (means).  recgan.threads = 1.
# Environment: ALGORITHMS="bpr lightgcn", SEEDS="1 2 3", RECGAN_BENCH_SERVER=1
# (use the running server of PGHOST/PGPORT instead of a throwaway cluster),
# FIXED_EPOCHS="gmf=25 bpr=400" (train the listed algorithms for exactly that
# many epochs, no validation holdout, no early stopping: the speed
# comparison with reference implementations; `make bench-speed`).
# Prints markdown and writes it to test/bench/out/models.md (models_fixed.md
# with FIXED_EPOCHS).  "wall s" is the whole recgan_train call (reading the
# table, training, storing the model); "train s" sums its per-epoch rows.
#
# To add a model: append its name to ALGORITHMS and, if it needs options
# other than its defaults, an OPTIONS[name] entry.  A labelled row of an
# algorithm with other options (cgan_warm: cgan with the generator fixed
# after its warm start) names its algorithm in ALGORITHM_OF[label].

set -u
. "$(dirname "$0")/../cluster.sh"

ML100K=${RECGAN_ML100K:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/ml-100k}
read -r -a ALGORITHMS <<<"${ALGORITHMS:-popularity itemknn ease ials bpr lightgcn gmf neumf cgan cgan_warm}"
read -r -a SEEDS <<<"${SEEDS:-1 2 3}"
declare -A OPTIONS=(
	[ease]='{"lambda": 200}'
	[cgan_warm]='{"g_steps": 0}'
)
declare -A ALGORITHM_OF=(
	[cgan_warm]=cgan
)
declare -A FIXED=()
for pair in ${FIXED_EPOCHS:-}; do
	FIXED[${pair%%=*}]=${pair#*=}
done
[ -f "$ML100K/u1.base" ] || die "MovieLens 100K not found at $ML100K (set RECGAN_ML100K)"

recgan_bench_start bench_models ML100K
for f in u1.base u1.test; do
	recgan_psql -q -v dir="$ML100K" -v file=$f -v ratings="${f/./_}" -v with_items=off \
		-f "$LOADER_DIR/load_ml100k.sql" >/dev/null
done
recgan_psql -q -c "CREATE TABLE bench_runs (algorithm text, seed int, train_s float8, epochs int,
	ndcg float8, prec float8, recall float8, wall_s float8)"

# the options of a row: OPTIONS, plus the fixed schedule under FIXED_EPOCHS
options_of() {
	local opts=${OPTIONS[$1]:-'{}'}
	if [ -n "${FIXED[$1]:-}" ]; then
		opts=$(recgan_psql -Atq -c "SELECT '$opts'::jsonb || '{\"epochs\": ${FIXED[$1]}, \"patience\": 0, \"validation_fraction\": 0}'")
	fi
	echo "$opts"
}

for alg in "${ALGORITHMS[@]}"; do
	opts=$(options_of "$alg")
	for seed in "${SEEDS[@]}"; do
		say "$alg seed $seed $opts"
		recgan_psql -q <<SQL
SET recgan.threads = 1;
SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE t AS SELECT * FROM recgan_train('u1_base', 'm', '${ALGORITHM_OF[$alg]:-$alg}',
	'$opts'::jsonb || '{"seed": $seed}', threshold => 4);
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS wall \gset
CREATE TEMP TABLE e AS SELECT metric, value FROM recgan_evaluate('m', 'u1_test', '{10}');
INSERT INTO bench_runs SELECT '$alg', $seed, (SELECT sum(seconds) FROM t), (SELECT count(*) FROM t),
	(SELECT value FROM e WHERE metric = 'ndcg'), (SELECT value FROM e WHERE metric = 'precision'),
	(SELECT value FROM e WHERE metric = 'recall'), :wall;
SQL
	done
done

mkdir -p "$RECGAN_SRC/test/bench/out"
out="$RECGAN_SRC/test/bench/out/models${FIXED_EPOCHS:+_fixed}.md"
{
	if [ -n "${FIXED_EPOCHS:-}" ]; then
		echo "ML-100K u1 (threshold 4), seeds ${SEEDS[*]}, fixed epochs ($FIXED_EPOCHS), no validation holdout."
	else
		echo "ML-100K u1 (threshold 4), seeds ${SEEDS[*]}, default options unless noted; epochs = validated + refit."
	fi
	echo
	echo "| algorithm | options | wall s (mean) | train s (mean) | epochs (mean) | NDCG@10 (mean ± sd) | P@10 | R@10 | per-seed NDCG@10 |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for alg in "${ALGORITHMS[@]}"; do
		opts=$(options_of "$alg")
		recgan_psql -Atq -F ' | ' -c "SELECT '| $alg', '$opts', round(avg(wall_s)::numeric, 2), round(avg(train_s)::numeric, 2),
			round(avg(epochs)::numeric, 1),
			round(avg(ndcg)::numeric, 4) || ' ± ' || round(coalesce(stddev_samp(ndcg), 0)::numeric, 4),
			round(avg(prec)::numeric, 4), round(avg(recall)::numeric, 4),
			string_agg(round(ndcg::numeric, 4)::text, ', ' ORDER BY seed) || ' |'
			FROM bench_runs WHERE algorithm = '$alg'"
	done
	echo
	echo "Machine: $(nproc) cores, $(recgan_psql -Atq -c 'SELECT recgan_version()')"
} | tee "$out"
