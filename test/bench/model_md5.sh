#!/usr/bin/env bash
# model_md5.sh: one model of every algorithm, trained with a fixed seed and
# short schedules on MovieLens-100K u1.base, printed as md5 sums of the model
# bytes and of its recommend_all(10) output.  Run it before and after a
# refactoring that must not change behaviour: the two lists must be equal.
#
#   bash test/bench/model_md5.sh        (RECGAN_ML100K=/path/to/ml-100k, or
#                                        ../shared/data/ml-100k beside the clone)
# THREADS (default 1) sets recgan.threads.

set -u
. "$(dirname "$0")/../cluster.sh"

ML100K=${RECGAN_ML100K:-$(cd "$RECGAN_SRC/.." && pwd)/shared/data/ml-100k}
THREADS=${THREADS:-1}
[ -f "$ML100K/u1.base" ] || die "MovieLens 100K not found at $ML100K (set RECGAN_ML100K)"

recgan_bench_start md5 ML100K
recgan_psql -q -v dir="$ML100K" -v file=u1.base -v ratings=u1_base -v with_items=off \
	-f "$LOADER_DIR/load_ml100k.sql" >/dev/null

# algorithm and the options of its short schedule
MODELS=(
	'popularity {}'
	'itemknn {}'
	'ease {}'
	'gfcf {}'
	'ials {"epochs": 3}'
	'ials {"epochs": 2, "solver": "cholesky"}'
	'bpr {"epochs": 3}'
	'lightgcn {"epochs": 2}'
	'gmf {"epochs": 2}'
	'neumf {"epochs": 2, "pretrain_epochs": 1}'
	'cgan {"epochs": 2, "mle_epochs": 2}'
	'cfgan {"epochs": 2}'
	'cfgan {"epochs": 2, "mode": "user"}'
)
for m in "${MODELS[@]}"; do
	alg=${m%% *}
	opts=${m#* }
	recgan_psql -q -c "SET recgan.threads = $THREADS" -c "SET client_min_messages = warning" \
		-c "SELECT count(*) FROM recgan_train('u1_base', 'm', '$alg', '$opts')" >/dev/null ||
		die "training $alg failed"
	recgan_psql -qAt -c "SELECT '$alg $opts', md5(model) FROM recgan_models WHERE name = 'm'" \
		-c "SELECT md5(string_agg(user_id || ':' || item_id || ':' || round(score::numeric, 4), ',' ORDER BY user_id, rank)) FROM recgan_recommend_all(10, 'm')"
done
