#!/usr/bin/env bash
# baselines.sh: the ML-100K benchmark of the non-neural pipeline.
#
#   bash test/bench/baselines.sh            (RECGAN_ML100K=/path/to/ml-100k, or
#                                            ../shared/data/ml-100k beside the clone)
#
# In a throwaway cluster (test/cluster.sh): loads u1.base / u1.test, then for
# popularity, itemknn and ease reports load + train time, model size,
# recgan_recommend_all(10) time and the u1.test metrics @10 (threshold 4).
# Each timing is the median of RUNS runs (default 3) measured inside the
# server with clock_timestamp(), so psql start-up is not counted.
# Prints a markdown table and writes it to test/bench/out/baselines.md.

set -u
. "$(dirname "$0")/../cluster.sh"

ML100K=${RECGAN_ML100K:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/ml-100k}
RUNS=${RUNS:-3}
[ -f "$ML100K/u1.base" ] || die "MovieLens 100K not found at $ML100K (set RECGAN_ML100K)"

recgan_setup
ML100K=$(recgan_readable "$ML100K")
recgan_cluster_start
recgan_create_db bench

say "loading u1.base / u1.test"
t0=$(date +%s.%N)
recgan_psql -q -v dir="$ML100K" -v file=u1.base -v ratings=u1_base -v with_items=off \
	-f "$TMP_ROOT/src/data/load_ml100k.sql" >/dev/null
t1=$(date +%s.%N)
recgan_psql -q -v dir="$ML100K" -v file=u1.test -v ratings=u1_test -v with_items=off \
	-f "$TMP_ROOT/src/data/load_ml100k.sql" >/dev/null
load_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')

say "training and scoring ($RUNS runs each)"
recgan_psql -q <<SQL
CREATE TABLE bench_runs (algorithm text, run int, train_s float8, recommend_all_s float8);
DO \$\$
DECLARE
	alg text;
	t timestamptz;
	tr float8;
	ra float8;
	n bigint;
BEGIN
	FOREACH alg IN ARRAY ARRAY['popularity', 'itemknn', 'ease'] LOOP
		FOR run IN 1 .. $RUNS LOOP
			t := clock_timestamp();
			PERFORM count(*) FROM recgan_train('u1_base', alg, alg);
			tr := extract(epoch FROM clock_timestamp() - t);
			t := clock_timestamp();
			SELECT count(*) INTO n FROM recgan_recommend_all(10, alg);
			ra := extract(epoch FROM clock_timestamp() - t);
			INSERT INTO bench_runs VALUES (alg, run, tr, ra);
		END LOOP;
	END LOOP;
END \$\$;
SQL

mkdir -p "$RECGAN_SRC/test/bench/out"
out="$RECGAN_SRC/test/bench/out/baselines.md"
{
	echo "ML-100K u1 (80,000 train / 20,000 test ratings, positives: rating >= 4), median of $RUNS runs."
	echo "Load: ${load_s} s for u1.base (psql loader, one transaction)."
	echo
	recgan_psql -q -P footer=off -P format=aligned <<'SQL' | sed -e '/^$/d' -e 's/^/    /'
SELECT r.algorithm,
	round((percentile_cont(0.5) WITHIN GROUP (ORDER BY r.train_s))::numeric, 3) AS train_s,
	pg_size_pretty(max(pg_catalog.octet_length(m.model))::bigint) AS model_size,
	round((percentile_cont(0.5) WITHIN GROUP (ORDER BY r.recommend_all_s))::numeric, 3) AS recommend_all_10_s,
	(SELECT round(value::numeric, 4) FROM recgan_evaluate(r.algorithm, 'u1_test', '{10}') WHERE metric = 'precision') AS "P@10",
	(SELECT round(value::numeric, 4) FROM recgan_evaluate(r.algorithm, 'u1_test', '{10}') WHERE metric = 'recall') AS "R@10",
	(SELECT round(value::numeric, 4) FROM recgan_evaluate(r.algorithm, 'u1_test', '{10}') WHERE metric = 'ndcg') AS "NDCG@10",
	(SELECT round(value::numeric, 4) FROM recgan_evaluate(r.algorithm, 'u1_test', '{10}') WHERE metric = 'hitrate') AS "HR@10"
FROM bench_runs r JOIN recgan_models m ON m.name = r.algorithm
GROUP BY r.algorithm
ORDER BY array_position(ARRAY['popularity', 'itemknn', 'ease'], r.algorithm);
SQL
	echo
	echo "Machine: $(nproc) cores, $(recgan_psql -Atq -c 'SELECT recgan_version()')"
} | tee "$out"
