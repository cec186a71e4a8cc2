#!/usr/bin/env bash
# side_by_side.sh: recgan's training speed beside the reference implementations
# of ../shared/peers, measured in one run on one machine (issue 16).
#
#   make bench-side-by-side            (or bash test/bench/side_by_side.sh)
#   ROUNDS=3 MODELS="ease gmf" bash test/bench/side_by_side.sh
#
# Environment: RECGAN_ML100K (default ../shared/data/ml-100k beside the
# clone), RECGAN_PEERS (default ../shared/peers), ROUNDS (default 2), MODELS
# (default: pop itemknn ease ials bpr gmf lightgcn cfgan), RECGAN_BENCH_SERVER=1
# (use the running server of PGHOST/PGPORT instead of a throwaway cluster).
#
# Data: ML-100K protocol A (u1.base / u1.test, positives rating >= 4) on both
# sides.  For each model and round: the reference (/usr/bin/python3, one
# thread: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1, torch.set_num_threads(1)),
# then recgan (recgan.threads = 1), alternating, with the same epochs and
# hyperparameters (the SCHEDULE, REF_ARGS and RECGAN_OPTS tables below; no
# validation holdout, no early stopping).  The reference's seconds are its own
# train_s (its training loop only, from the JSON it writes); recgan's are the
# whole recgan_train call as the client sees it (reading the table, training,
# encoding and storing the model).  The ratio of a round is reference seconds
# over recgan seconds; the table shows every round, the median ratio and
# NDCG@10 on u1.test of the last round of each side (each side with its own
# evaluator: the same schedule should land near the same accuracy).
#
# Also, in the same run (after each round's CFGAN, so under the same load): the
# one-thread sgemm rate (test/bench/sgemm_probe.c:
# a 2048^3 square, and CFGAN's own GEMM shapes for this data), and CFGAN's
# achieved GFLOP/s, its dense FLOPs over the whole recgan_train call.  FLOPs of
# a CFGAN epoch (2 per multiply-add), E entities of width C (item-based: E
# items, the 1,408 of u1_base with a rating >= 4, the entities CFGAN trains;
# C users, the model's: every user of u1_base), H = 400 generator and K = 125
# discriminator hidden units:
#   D passes, per entity: the generator output 2HC, once (the generator does
#                       not change during the D passes; gan.h), then per pass
#                       D on the fake vector 2CK, D's weight gradient on the
#                       fake 2CK
#   G step, per entity: generator output 2HC, D on the fake 2CK, gradient at
#                       the fake 2CK, output-layer weight gradient 2HC and
#                       gradient at the hidden layer 2HC
#   epoch = E C (2H + steps_d 4K + steps_g (6H + 4K)), steps_d 2, steps_g 4.
# The binary first layers (an addition per positive and unit) are not counted;
# neither is the work outside those GEMMs, so the figure is a lower bound.
# The probe also times the engine's Adam step per parameter (the generator's
# in the fused G step's pieces, the discriminator's in one call) and prints
# "floor": an epoch of nothing but those GEMMs at the epoch rate and the
# epoch's Adam steps; the table shows the ratio CFGAN would reach at it.
# Prints markdown and writes it to test/bench/out/side_by_side.md.

set -u
. "$(dirname "$0")/../cluster.sh"

RECGAN_EXTRA_PACKAGES="$RECGAN_EXTRA_PACKAGES python3-torch python3-scipy python3-numpy"
ML100K=${RECGAN_ML100K:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/ml-100k}
PEERS=${RECGAN_PEERS:-$(cd "$RECGAN_SRC/.." && pwd)/shared/peers}
ROUNDS=${ROUNDS:-2}
read -r -a MODELS <<<"${MODELS:-pop itemknn ease ials bpr gmf lightgcn cfgan}"
[ -f "$ML100K/u1.base" ] || die "MovieLens 100K not found at $ML100K (set RECGAN_ML100K)"
[ -f "$PEERS/common.py" ] || die "reference implementations not found at $PEERS (set RECGAN_PEERS)"

# The schedule, the reference's command line, and recgan's algorithm and options
# of each model.  CFGAN's reference counts G passes as epochs: 80 = 20 recgan
# epochs of 4 G passes.  iALS: both sides solve each row exactly.
declare -A SCHEDULE=(
	[pop]="-" [itemknn]="k 100" [ease]="lambda 200" [ials]="15 iterations"
	[bpr]="100 epochs" [gmf]="25 epochs" [lightgcn]="40 epochs" [cfgan]="20 epochs (80 G passes), item-based"
)
declare -A REF_ARGS=(
	[pop]="pop.py"
	[itemknn]="itemknn.py --ks 100"
	[ease]="ease.py --lams 200"
	[ials]="ials.py --alphas 3 --regs 30 --iters 15 --factors 64 --seeds 1"
	[bpr]="bpr.py --epochs 100 --eval-every 100 --reg 1e-2 --dim 64 --batch 1024 --lr 1e-3 --seeds 1"
	[gmf]="gmf.py --epochs 25 --eval-every 25 --dim 64 --neg 4 --batch 1024 --lr 1e-3 --seeds 1"
	[lightgcn]="lightgcn.py --epochs 40 --eval-every 40 --dim 64 --layers 3 --batch 2048 --lr 1e-3 --reg 1e-4 --seeds 1"
	[cfgan]="cfgan.py --mode item --gout linear --epochs 80 --eval-every 80 --seeds 1"
)
declare -A ALGORITHM=([pop]=popularity)
declare -A RECGAN_OPTS=(
	[pop]='{}'
	[itemknn]='{"neighbors": 100, "shrink": 0, "normalize": false}'
	[ease]='{"lambda": 200}'
	[ials]='{"factors": 64, "alpha": 3, "lambda": 30, "solver": "cholesky", "epochs": 15}'
	[bpr]='{"factors": 64, "lr": 0.001, "reg": 0.01, "batch": 1024, "item_bias": false, "init_std": 0.1, "epochs": 100}'
	[gmf]='{"factors": 64, "lr": 0.001, "batch_size": 1024, "negatives": 4, "reg": 0, "init_std": 0.01, "epochs": 25}'
	[lightgcn]='{"factors": 64, "layers": 3, "lr": 0.001, "reg": 0.0001, "batch": 2048, "init_std": 0.1, "epochs": 40}'
	[cfgan]='{"mode": "item", "epochs": 20}'
)
# iterative models: a fixed schedule, no holdout, no early stopping
FIXED='{"seed": 1, "patience": 0, "validation_fraction": 0}'
ITERATIVE=" ials bpr gmf lightgcn cfgan "

for m in "${MODELS[@]}"; do
	[ -n "${REF_ARGS[$m]:-}" ] || die "unknown model $m (known: ${!REF_ARGS[*]})"
done

recgan_bench_start bench_side_by_side ML100K
/usr/bin/python3 -c 'import torch, scipy, numpy' ||
	die "/usr/bin/python3 lacks torch, scipy or numpy (apt-get install -y $RECGAN_EXTRA_PACKAGES)"

WORK=${TMP_ROOT:-}
[ -n "$WORK" ] || { WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; }
mkdir -p "$WORK/peers_data" "$WORK/peers_results"
ln -sfn "$ML100K" "$WORK/peers_data/ml-100k"

for f in u1.base u1.test; do
	recgan_psql -q -v dir="$ML100K" -v file=$f -v ratings="${f/./_}" -v with_items=off \
		-f "$LOADER_DIR/load_ml100k.sql" >/dev/null
done
recgan_psql -q -c "CREATE TABLE sbs (model text, round int, side text, seconds float8, ndcg float8,
	train_s float8)"

# Run the reference of model $1 (round $2); record its train_s and NDCG@10.
run_reference() {
	local m=$1 r=$2 json line
	rm -f "$WORK/peers_results/"*.json
	# shellcheck disable=SC2086
	(cd "$PEERS" && OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		ML_DATA="$WORK/peers_data" PEERS_RESULTS="$WORK/peers_results" \
		/usr/bin/python3 ${REF_ARGS[$m]} >"$WORK/ref_$m.log" 2>&1) ||
		{ tail -20 "$WORK/ref_$m.log"; die "reference $m failed"; }
	json=$(ls "$WORK/peers_results/"*.json)
	line=$(/usr/bin/python3 -c 'import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
print(run["train_s"], run["metrics"]["NDCG@10"])' "$json")
	recgan_psql -q -c "INSERT INTO sbs VALUES ('$m', $r, 'reference', ${line% *}, ${line#* }, ${line% *})"
}

# Train model $1 in recgan (round $2) and evaluate it on u1.test.  Each
# round trains a new model name, dropped afterwards: like the reference,
# recgan starts from nothing (a retrain of an existing name would also move
# its previous version to recgan_model_archive, a copy of the model's bytes
# that belongs to versioning, not to training).
run_recgan() {
	local m=$1 r=$2 opts=${RECGAN_OPTS[$1]} check=""
	case "$ITERATIVE" in *" $m "*) opts="$opts'::jsonb || '$FIXED" ;; esac
	# the CFGAN FLOP count's C is the model's users
	[ "$m" = cfgan ] && check="DO \$\$ BEGIN
	IF (SELECT n_users <> $C FROM recgan_models WHERE name = 'sbs_${m}_$r') THEN
		RAISE EXCEPTION 'the CFGAN model''s users are not C = $C';
	END IF; END \$\$;"
	recgan_psql -q <<SQL || die "recgan $m failed"
SET client_min_messages = warning;
SET recgan.threads = 1;
SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE t AS SELECT * FROM recgan_train('u1_base', 'sbs_${m}_$r', '${ALGORITHM[$m]:-$m}',
	'$opts'::jsonb, threshold => 4);
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS wall \gset
INSERT INTO sbs SELECT '$m', $r, 'recgan', :wall,
	(SELECT value FROM recgan_evaluate('sbs_${m}_$r', 'u1_test', '{10}') WHERE metric = 'ndcg'),
	(SELECT sum(seconds) FROM t);
$check
SELECT recgan_drop_model('sbs_${m}_$r') \g /dev/null
SQL
}

# the sgemm probe, at CFGAN's shapes for this data; run right after each
# round's CFGAN training, so that the rate it is compared with was measured
# under the same load.  E is the items CFGAN trains, those with a positive
# (rating >= 4); C the model's users: every user of u1_base, rows below the
# threshold included (recgan_train indexes them all, the threshold only
# decides which rows are positives; run_recgan checks C against the model)
gcc -O3 -fno-math-errno -I "$RECGAN_SRC/src/engine" -o "$WORK/sgemm_probe" "$RECGAN_SRC/test/bench/sgemm_probe.c" \
	"$RECGAN_SRC/src/engine/optim.c" "$RECGAN_SRC/src/engine/parallel.c" \
	$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas) -lm -pthread || die "cannot build sgemm_probe"
read -r E C < <(recgan_psql -Atq -F ' ' -c "SELECT count(DISTINCT item_id) FILTER (WHERE rating >= 4),
	count(DISTINCT user_id) FROM u1_base")
recgan_psql -q -c "CREATE TABLE probe (round int, square float8, epoch float8, floor_s float8)"
probe() {
	local r=$1
	say "round $r: one-thread sgemm rate"
	"$WORK/sgemm_probe" "$E" "$C" | tee "$WORK/sgemm_$r.txt"
	recgan_psql -q -c "INSERT INTO probe VALUES ($r, $(awk '/^square/ {print $NF}' "$WORK/sgemm_$r.txt"),
		$(awk '/^epoch/ {print $NF}' "$WORK/sgemm_$r.txt"), $(awk '/^floor/ {print $NF}' "$WORK/sgemm_$r.txt"))"
}

for r in $(seq 1 "$ROUNDS"); do
	for m in "${MODELS[@]}"; do
		say "round $r: $m"
		run_reference "$m" "$r"
		run_recgan "$m" "$r"
		recgan_psql -Atq -c "SELECT side || ' ' || round(seconds::numeric, 3) || ' s, NDCG@10 '
			|| round(ndcg::numeric, 4) FROM sbs WHERE model = '$m' AND round = $r ORDER BY side"
		[ "$m" = cfgan ] && probe "$r"
	done
done
[[ " ${MODELS[*]} " == *" cfgan "* ]] || probe 1

mkdir -p "$RECGAN_SRC/test/bench/out"
out="$RECGAN_SRC/test/bench/out/side_by_side.md"
{
	echo "Side by side, $(date -u '+%Y-%m-%d %H:%M UTC'), HEAD $(git -C "$RECGAN_SRC" rev-parse --short HEAD 2>/dev/null || echo '?'):"
	echo "ML-100K u1 (rating >= 4), one thread both sides, rounds: $ROUNDS, alternating reference / recgan."
	echo "reference s = its train_s (training loop only); recgan s = the whole recgan_train call."
	echo "ratio = reference s / recgan s per round; NDCG@10 on u1.test, last round."
	echo
	echo "| model | schedule | reference s per round | recgan s per round | median ratio | NDCG@10 reference | NDCG@10 recgan |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	for m in "${MODELS[@]}"; do
		recgan_psql -Atq -F ' | ' <<SQL
WITH p AS (
	SELECT f.round, f.seconds AS fs, g.seconds AS gs, f.ndcg AS fn, g.ndcg AS gn
	FROM sbs f JOIN sbs g USING (model, round)
	WHERE model = '$m' AND f.side = 'reference' AND g.side = 'recgan')
SELECT '| $m', '${SCHEDULE[$m]}',
	string_agg(round(fs::numeric, 3)::text, ', ' ORDER BY round),
	string_agg(round(gs::numeric, 3)::text, ', ' ORDER BY round),
	round((percentile_cont(0.5) WITHIN GROUP (ORDER BY fs / gs))::numeric, 2) || 'x',
	round((array_agg(fn ORDER BY round DESC))[1]::numeric, 4),
	round((array_agg(gn ORDER BY round DESC))[1]::numeric, 4) || ' |'
FROM p;
SQL
	done
	echo
	for f in "$WORK"/sgemm_*.txt; do
		r=${f##*_}
		echo "One-thread sgemm after round ${r%.txt} (test/bench/sgemm_probe.c, GFLOP/s; M x N x K for E = $E items, C = $C users):"
		echo
		sed 's/^/    /' "$f"
		echo
	done
	if [[ " ${MODELS[*]} " == *" cfgan "* ]]; then
		echo "CFGAN achieved rate: its dense GEMM FLOPs (E C (2H + 2 (4K) + 4 (6H + 4K)) per epoch, 20 epochs)"
		echo "over the whole recgan_train call and over the sum of its epochs' seconds, against the sgemm"
		echo "probe run right after it (2048^3 square, and CFGAN's own shapes in an epoch's proportions):"
		echo
		recgan_psql -q -P footer=off <<SQL | sed -e '/^$/d' -e 's/^/    /'
WITH f AS (SELECT $E::float8 * $C * (2 * 400 + 2 * (4 * 125) + 4 * (6 * 400 + 4 * 125)) * 20 / 1e9 AS gflop)
SELECT round, round(gflop::numeric, 1) AS gflop, round(seconds::numeric, 2) AS call_s,
	round((gflop / seconds)::numeric, 1) AS gflop_s_call,
	round(square::numeric, 1) AS sgemm_square, round(epoch::numeric, 1) AS sgemm_shapes,
	round((100 * gflop / seconds / square)::numeric) || ' %' AS call_of_square,
	round((100 * gflop / seconds / epoch)::numeric) || ' %' AS call_of_shapes,
	round((gflop / train_s)::numeric, 1) AS gflop_s_epochs,
	round((100 * gflop / train_s / square)::numeric) || ' %' AS epochs_of_square,
	round((20 * floor_s)::numeric, 2) AS floor_s,
	round((ref_seconds / (20 * floor_s))::numeric, 2) || 'x' AS ratio_at_floor
FROM sbs JOIN probe USING (round)
	JOIN (SELECT round, seconds AS ref_seconds FROM sbs WHERE model = 'cfgan' AND side = 'reference') ref USING (round), f
WHERE model = 'cfgan' AND side = 'recgan' ORDER BY round;
SQL
		echo
		echo "floor_s: 20 epochs of nothing but the probe's GEMMs (at its epoch rate) and the two networks'"
		echo "Adam steps (at its rates); ratio_at_floor: the reference's seconds over it, the most a"
		echo "one-thread CFGAN with these GEMMs and updates could show in that round."
		echo
	fi
	echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(recgan_psql -Atq -c 'SELECT recgan_version()')"
} | tee "$out"
