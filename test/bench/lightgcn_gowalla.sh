#!/usr/bin/env bash
# lightgcn_gowalla.sh: LightGCN on the LightGCN paper's Gowalla split.
#
#   bash test/bench/lightgcn_gowalla.sh     (RECGAN_GOWALLA=/path/to/gowalla, or
#                                            ../shared/data/gowalla beside the clone)
#
# Loads train.txt / test.txt (data/load_lightgcn.sql: every listed pair is a
# positive, so threshold NULL), trains lightgcn with the paper's settings
# (3 layers, 64 dimensions, Adam lr 1e-3, batch 2048, reg 1e-4, no
# validation holdout: the paper trains a fixed number of epochs), then
# reports recall@20 / NDCG@20 on test.txt (paper: 0.1830 / 0.1554), the
# training time and recgan_recommend_all(10) time.  Environment:
#   EPOCHS   epochs to train (default 12: about 30 minutes on a 2-core machine;
#            the paper trains about 1000)
#   LR, BATCH, LAYERS, REG, FACTORS   override the paper's settings
#   RECGAN_BENCH_SERVER=1   use the running server of PGHOST/PGPORT (recgan
#            installed) instead of building and starting a throwaway cluster
# Prints markdown and writes it to test/bench/out/lightgcn_gowalla.md.

set -u
. "$(dirname "$0")/../cluster.sh"

GOWALLA=${RECGAN_GOWALLA:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/gowalla}
EPOCHS=${EPOCHS:-12}
LR=${LR:-0.001}
BATCH=${BATCH:-2048}
LAYERS=${LAYERS:-3}
REG=${REG:-0.0001}
FACTORS=${FACTORS:-64}
[ -f "$GOWALLA/train.txt" ] || die "Gowalla not found at $GOWALLA (set RECGAN_GOWALLA)"

if [ "${RECGAN_BENCH_SERVER:-}" = 1 ]; then
	recgan_psql() { psql -X -v ON_ERROR_STOP=1 "$@"; }
	export PGDATABASE=${PGDATABASE:-postgres}
	LOADER_DIR="$RECGAN_SRC/data"
else
	recgan_setup
	GOWALLA=$(recgan_readable "$GOWALLA")
	recgan_cluster_start
	LOADER_DIR="$TMP_ROOT/src/data"
fi
recgan_create_db bench_gowalla

say "loading Gowalla train.txt / test.txt"
recgan_psql -q -v file="$GOWALLA/train.txt" -v ratings=gw_train -f "$LOADER_DIR/load_lightgcn.sql" >/dev/null
recgan_psql -q -v file="$GOWALLA/test.txt" -v ratings=gw_test -f "$LOADER_DIR/load_lightgcn.sql" >/dev/null

options="{\"factors\": $FACTORS, \"layers\": $LAYERS, \"lr\": $LR, \"batch\": $BATCH, \"reg\": $REG, \"epochs\": $EPOCHS, \"patience\": 0, \"validation_fraction\": 0}"
say "training lightgcn $options"
recgan_psql -q <<SQL
SET recgan.blas_threads = 1;
CREATE TABLE bench_epochs AS
	SELECT * FROM recgan_train('gw_train', 'lightgcn', 'lightgcn', '$options', threshold => NULL);
CREATE TABLE bench_times (what text, seconds float8);
DO \$\$
DECLARE
	t timestamptz := clock_timestamp();
	n bigint;
BEGIN
	SELECT count(*) INTO n FROM recgan_recommend_all(10, 'lightgcn');
	INSERT INTO bench_times VALUES ('recommend_all', extract(epoch FROM clock_timestamp() - t));
	t := clock_timestamp();
	CREATE TABLE bench_metrics AS
		SELECT metric, value, users FROM recgan_evaluate('lightgcn', 'gw_test', '{20}', threshold => NULL);
	INSERT INTO bench_times VALUES ('evaluate', extract(epoch FROM clock_timestamp() - t));
END \$\$;
SQL

mkdir -p "$RECGAN_SRC/test/bench/out"
out="$RECGAN_SRC/test/bench/out/lightgcn_gowalla.md"
{
	echo "LightGCN on Gowalla (LightGCN paper split: train.txt / test.txt), options $options."
	echo
	recgan_psql -q -P footer=off -P format=aligned <<'SQL' | sed -e '/^$/d' -e 's/^/    /'
SELECT (SELECT count(*) FROM bench_epochs) AS epochs,
	round((SELECT sum(seconds) FROM bench_epochs)::numeric, 1) AS train_s,
	round((SELECT avg(seconds) FROM bench_epochs)::numeric, 1) AS s_per_epoch,
	round((SELECT loss FROM bench_epochs ORDER BY epoch DESC LIMIT 1)::numeric, 4) AS last_loss,
	(SELECT round(value::numeric, 4) FROM bench_metrics WHERE metric = 'recall') AS "recall@20",
	(SELECT round(value::numeric, 4) FROM bench_metrics WHERE metric = 'ndcg') AS "NDCG@20",
	(SELECT max(users) FROM bench_metrics) AS users,
	round((SELECT seconds FROM bench_times WHERE what = 'recommend_all')::numeric, 1) AS recommend_all_10_s;
SQL
	echo
	echo "Paper (1000 epochs): recall@20 0.1830, NDCG@20 0.1554; target >= 0.175 / 0.148 in under 30 minutes."
	echo "Machine: $(nproc) cores, $(recgan_psql -Atq -c 'SELECT recgan_version()')"
} | tee "$out"
