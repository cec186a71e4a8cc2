#!/usr/bin/env bash
# cfgan_bench.sh: CFGAN training speed and accuracy on the CFGAN authors'
# ML-100K split.
#
#   bash test/bench/cfgan_bench.sh   (RECGAN_CFGAN_ML100K=/path/to/cfgan-ml100k,
#                                     or ../shared/data/cfgan-ml100k beside the clone)
#
# In a throwaway cluster (test/cluster.sh), after loading ML100K.train / .test:
#   1. sgemm: this machine's single-thread sgemm rate, from a standalone C
#      loop over OpenBLAS (2048 x 2048 x 2048, best of 5 calls).
#   2. speed: EPOCHS epochs (default 10) of CFGAN with the paper's settings
#      and no validation, user- and item-based, with 1 and 2 BLAS threads:
#      the best and the median seconds per epoch (server-side, recgan_train's
#      seconds column, first epoch left out; on a shared machine the best is
#      the one other processes did not slow down), the dense FLOPs of an
#      epoch counted from the layer shapes, and the achieved rate (at the
#      best epoch) against the sgemm rate.  An epoch
#      is steps_d = 2 D passes and steps_g = 4 G passes; the reference code
#      counts G passes as its epochs, so a quarter epoch is also shown.
#   3. accuracy: the default CFGAN (epochs by early stopping on a 10 %
#      validation holdout of the training split, then refit) for each of
#      SEEDS (default "1 2 3"), and EASE on the same split; P/R/NDCG/MRR @5
#      and @20 on ML100K.test (every rating a positive), CFGAN averaged.
# Prints markdown and writes it to test/bench/out/cfgan.md.  The accuracy
# part trains for a few minutes per seed; SEEDS="" skips it.
#
# FLOPs of an epoch (2 per multiply-add, noise off), E entities of width C
# (E C = users x items in both modes: on this split every user and item has
# a positive, so CFGAN trains them all), H = 400, K = 125 hidden units:
#   D passes, per entity: generator output 2HC, once (the generator is frozen
#                       during the D passes: gan.h), then per pass D on the
#                       fake vector 2CK and its weight gradient 2CK
#   G step, per entity: generator output 2HC, D on the fake 2CK, gradient at
#                       the fake 2CK, output-layer weight gradient 2HC and
#                       input gradient 2HC
#   epoch = E C (2H + steps_d 4K + steps_g (6H + 4K))
# The binary first layers cost one addition per positive and unit (about
# 0.4 G additions an epoch here) and are not counted.

set -u
. "$(dirname "$0")/../cluster.sh"

DATA=${RECGAN_CFGAN_ML100K:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/cfgan-ml100k}
EPOCHS=${EPOCHS:-10}
SEEDS=${SEEDS-1 2 3}
[ -f "$DATA/ML100K.train" ] || die "CFGAN ML-100K split not found at $DATA (set RECGAN_CFGAN_ML100K)"

recgan_setup
DATA=$(recgan_readable "$DATA")

say "single-thread sgemm rate"
cat >"$TMP_ROOT/sgemm.c" <<'EOF'
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(void)
{
	const int	n = 2048;
	float	   *a = malloc(sizeof(float) * n * n),
			   *b = malloc(sizeof(float) * n * n),
			   *c = malloc(sizeof(float) * n * n);
	double		best = 0.0;

	openblas_set_num_threads(1);
	for (long i = 0; i < (long) n * n; i++)
	{
		a[i] = (float) (i % 7) / 7.0f;
		b[i] = (float) (i % 5) / 5.0f;
	}
	for (int rep = 0; rep < 5; rep++)
	{
		struct timespec t0, t1;
		double		s;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
		if (2.0 * n * n * n / s / 1e9 > best)
			best = 2.0 * n * n * n / s / 1e9;
	}
	printf("%.1f\n", best);
	return 0;
}
EOF
gcc -O2 -o "$TMP_ROOT/sgemm" "$TMP_ROOT/sgemm.c" $(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas) ||
	die "cannot build the sgemm loop"
SGEMM=$("$TMP_ROOT/sgemm")
echo "sgemm 2048^3, one thread: $SGEMM GFLOP/s"

recgan_cluster_start
recgan_create_db bench
for f in train test; do
	recgan_psql -q -v dir="$DATA" -v file="ML100K.$f" -v ratings="cf_$f" \
		-f "$TMP_ROOT/src/data/load_cfgan.sql" >/dev/null || die "loading ML100K.$f failed"
done

say "speed: $EPOCHS epochs per mode and thread count"
recgan_psql -q <<SQL
CREATE TABLE speed (mode text, threads int, epoch int, seconds float8);
DO \$\$
DECLARE
	m text;
	t int;
BEGIN
	FOREACH m IN ARRAY ARRAY['user', 'item'] LOOP
		FOREACH t IN ARRAY ARRAY[1, 2] LOOP
			PERFORM pg_catalog.set_config('recgan.threads', t::text, true);
			INSERT INTO speed SELECT m, t, epoch, seconds
			FROM recgan_train('cf_train', 'speed_' || m, 'cfgan',
				pg_catalog.jsonb_build_object('mode', m, 'epochs', $EPOCHS, 'validation_fraction', 0),
				threshold => NULL);
		END LOOP;
	END LOOP;
END \$\$;
SQL

if [ -n "$SEEDS" ]; then
	say "accuracy: default CFGAN, seeds $SEEDS; EASE"
	for seed in $SEEDS; do
		recgan_psql -q -c "CREATE TABLE IF NOT EXISTS acc_runs (model text, seed int, rows int, seconds float8)"
		recgan_psql -q -c "INSERT INTO acc_runs SELECT 'cfgan_$seed', $seed, count(*), sum(seconds)
			FROM recgan_train('cf_train', 'cfgan_$seed', 'cfgan', '{\"seed\": $seed}', threshold => NULL)"
		echo "seed $seed: $(recgan_psql -Atq -c "SELECT metrics FROM recgan_models WHERE name = 'cfgan_$seed'")"
	done
	recgan_psql -q -c "INSERT INTO acc_runs SELECT 'ease', NULL, count(*), sum(seconds)
		FROM recgan_train('cf_train', 'ease', 'ease', threshold => NULL)"
fi

mkdir -p "$RECGAN_SRC/test/bench/out"
out="$RECGAN_SRC/test/bench/out/cfgan.md"
{
	echo "CFGAN on the CFGAN authors' ML-100K split (ML100K.train: 80,000 ratings, 943 users, 1,653 items;"
	echo "ML100K.test: 19,963 ratings; every rating a positive).  Single-thread sgemm (2048^3): $SGEMM GFLOP/s."
	echo
	echo "Speed: seconds per epoch, best and median of epochs 2..$EPOCHS (no validation; an epoch = 2 D passes + 4 G"
	echo "passes; \"per G pass\" = a quarter of the best epoch, the reference code's unit); dense GFLOP per epoch from the"
	echo "layer shapes, and the rate at the best epoch."
	echo
	recgan_psql -q -P footer=off -P format=aligned -v sgemm="$SGEMM" <<'SQL' | sed -e '/^$/d' -e 's/^/    /'
WITH s AS (
	SELECT mode, threads, min(seconds) AS sec,
		percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median
	FROM speed WHERE epoch > 1 GROUP BY mode, threads),
f AS (
	SELECT 943.0 * 1653 * (2 * 400 + 2 * (4 * 125) + 4 * (6 * 400 + 4 * 125)) / 1e9 AS gflop)
SELECT mode, threads AS blas_threads, round(sec::numeric, 3) AS s_per_epoch,
	round(median::numeric, 3) AS median_s,
	round((sec / 4)::numeric, 3) AS s_per_g_pass,
	round(gflop::numeric, 2) AS gflop_per_epoch, round((gflop / sec)::numeric, 1) AS gflop_s,
	round((100 * gflop / sec / :sgemm)::numeric, 0) || ' %' AS of_1_thread_sgemm
FROM s, f ORDER BY mode DESC, threads;
SQL
	if [ -n "$SEEDS" ]; then
		echo
		echo "Accuracy @5 and @20 on ML100K.test (CFGAN: defaults, epochs by early stopping on a 10 % validation"
		echo "holdout of the training split, then a refit on all of it; the paper reports P@20 0.294, NDCG@20 0.433,"
		echo "the reference code re-run by Perez Maurera et al. (ECIR 2022) P@20 0.285, NDCG@20 0.421)."
		echo
		recgan_psql -q -P footer=off -P format=aligned <<'SQL' | sed -e '/^$/d' -e 's/^/    /'
CREATE TEMP TABLE acc AS
SELECT r.model, r.seed, r.rows, r.seconds, (m.metrics->>'best_epoch')::int AS best_epoch,
	e.metric || '@' || e.k AS mk, e.value
FROM acc_runs r JOIN recgan_models m ON m.name = r.model,
	recgan_evaluate(r.model, 'cf_test', '{5,20}') e
WHERE e.metric IN ('precision', 'recall', 'ndcg', 'mrr');
WITH per AS (
	SELECT model, seed, best_epoch, seconds,
		max(value) FILTER (WHERE mk = 'precision@5') AS p5, max(value) FILTER (WHERE mk = 'recall@5') AS r5,
		max(value) FILTER (WHERE mk = 'ndcg@5') AS n5, max(value) FILTER (WHERE mk = 'mrr@5') AS m5,
		max(value) FILTER (WHERE mk = 'precision@20') AS p20, max(value) FILTER (WHERE mk = 'recall@20') AS r20,
		max(value) FILTER (WHERE mk = 'ndcg@20') AS n20, max(value) FILTER (WHERE mk = 'mrr@20') AS m20
	FROM acc GROUP BY model, seed, best_epoch, seconds),
lines AS (
	SELECT 1 AS o, CASE WHEN model = 'ease' THEN 'EASE (lambda 200)' ELSE 'CFGAN seed ' || seed END AS model,
		best_epoch, seconds, p5, r5, n5, m5, p20, r20, n20, m20 FROM per
	UNION ALL
	SELECT 0, 'CFGAN mean of ' || count(*) || ' seeds', round(avg(best_epoch)), avg(seconds),
		avg(p5), avg(r5), avg(n5), avg(m5), avg(p20), avg(r20), avg(n20), avg(m20)
	FROM per WHERE model <> 'ease')
SELECT model, best_epoch, round(seconds::numeric) AS train_s,
	round(p5::numeric, 4) AS "P@5", round(r5::numeric, 4) AS "R@5", round(n5::numeric, 4) AS "NDCG@5",
	round(m5::numeric, 4) AS "MRR@5", round(p20::numeric, 4) AS "P@20", round(r20::numeric, 4) AS "R@20",
	round(n20::numeric, 4) AS "NDCG@20", round(m20::numeric, 4) AS "MRR@20"
FROM lines ORDER BY o, model;
SQL
	fi
	echo
	echo "Machine: $(nproc) cores, $(recgan_psql -Atq -c 'SELECT recgan_version()')"
} | tee "$out"
