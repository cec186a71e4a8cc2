# recgan: recommenders trained inside PostgreSQL.  Built with PGXS.
#
#   make && make install          build and install into $(PG_CONFIG)'s server
#   make installcheck             pg_regress against a running server (PGHOST/PGPORT)
#   make tapcheck                 TAP tests in test/t (each starts its own clusters)
#   make unitcheck                engine unit tests in test/unit, no server needed
#   make webcheck                 the demo page (test/web) driven in headless Chromium
#   bash test/run.sh              everything above in a throwaway cluster (what CI runs)

EXTENSION = recgan
MODULE_big = recgan

# Layers (src/README.md): src/engine/ is the pure engine (C11 + BLAS/LAPACK
# + pthreads, no postgres.h), unit-tested and fuzzed without a server;
# src/*.c is the backend glue.
ENGINE_SRCS = $(sort $(wildcard src/engine/*.c))
ENGINE_OBJS = $(ENGINE_SRCS:.c=.o)
BACKEND_OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# Engine kernels are elementwise loops (Adam, the sparse layer, masks): -O3
# lets GCC vectorise them and -fno-math-errno lets sqrtf vectorise.  Neither
# changes IEEE results (this is not -ffast-math: no reassociation).  PGXS
# compiles with -fwrapv, which PostgreSQL's own code needs; the engine does
# not include postgres.h, never relies on signed overflow (its unit tests are
# built without -fwrapv), and -fno-wrapv lets GCC analyse its int-indexed
# loops: a Gowalla LightGCN epoch takes 15 s instead of 18 s (5 epochs).
$(ENGINE_OBJS): CFLAGS += -O3 -fno-math-errno -fno-wrapv

OBJS = $(BACKEND_OBJS) $(ENGINE_OBJS)

DATA = sql/recgan--0.1.0.sql sql/recgan--0.1.0--0.2.0.sql

REGRESS = basic train recommend serving chunks explain evaluate split worker cfgan sgan gfcf bpr_lightgcn ials ncf_cgan bad_input tune versions live
REGRESS_OPTS = --inputdir=$(srcdir)

# Isolation tests (pg_isolation_regress; run by installcheck after REGRESS):
# specs in test/isolation/specs, expected output in test/isolation/expected.
ISOLATION = retrain_recommend train_train drop_recommend schedule_cancel deploy_train
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation --outputdir=output_iso --load-extension=recgan

# TAP tests run by `make tapcheck` (not folded into installcheck).
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config

BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS := $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/engine $(BLAS_CFLAGS)
# -Wextra, less unused-parameter: PG_FUNCTION_ARGS and server headers trip it.
PG_CFLAGS = -Wextra -Wno-unused-parameter
SHLIB_LINK = $(BLAS_LIBS) -lm -pthread

EXTRA_CLEAN = $(patsubst %.c,%,$(wildcard test/unit/test_*.c)) results regression.diffs regression.out tmp_check test/bench/lightgcn_select test/bench/sgan_select test/fuzz/fuzz_model test/fuzz/make_corpus test/fuzz/corpus test/fuzz/artifacts test/unit/san output_iso

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header
# changes (a struct layout mismatch between objects would crash the backend).
$(BACKEND_OBJS): $(wildcard src/*.h src/engine/*.h)
$(ENGINE_OBJS): $(wildcard src/engine/*.h)

# Engine unit tests: each test/unit/test_*.c is linked with the engine sources
# alone, without PostgreSQL (no server include path: -Isrc/engine only).
UNIT_CFLAGS = -std=c11 -O2 -g -Wall -Wextra -Werror -I$(srcdir)/src/engine $(BLAS_CFLAGS)
UNIT_TESTS = $(patsubst %.c,%,$(wildcard test/unit/test_*.c))

test/unit/test_%: test/unit/test_%.c test/unit/unit.h $(ENGINE_SRCS) $(wildcard src/engine/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(ENGINE_SRCS) $(BLAS_LIBS) -lm -pthread

# SGAN design and schedule selection on validation holdouts (test/bench/sgan_select.c).
test/bench/sgan_select: test/bench/sgan_select.c $(ENGINE_SRCS) $(wildcard src/engine/*.h)
	$(CC) $(UNIT_CFLAGS) -O3 -fno-math-errno -o $@ $< $(ENGINE_SRCS) $(BLAS_LIBS) -lm -pthread

# LightGCN schedule selection on a validation holdout (test/bench/lightgcn_select.c).
test/bench/lightgcn_select: test/bench/lightgcn_select.c $(ENGINE_SRCS) $(wildcard src/engine/*.h)
	$(CC) $(UNIT_CFLAGS) -O3 -fno-math-errno -o $@ $< $(ENGINE_SRCS) $(BLAS_LIBS) -lm -pthread

# The engine must not see the server: no PostgreSQL header, no palloc or
# ereport (src/README.md).
.PHONY: layoutcheck
layoutcheck:
	@if grep -lE 'postgres\.h|#include *["<](utils|executor|access|catalog|storage|nodes)/|\b(palloc|pfree|ereport|elog)\(' src/engine/*; then \
		echo "layoutcheck: the files above use the server"; exit 1; fi
	@echo "layoutcheck: src/engine/ uses no server header or API"

.PHONY: unitcheck
unitcheck: layoutcheck $(UNIT_TESTS)
	@status=0; for t in $(UNIT_TESTS); do \
		echo "== $$t"; OPENBLAS_NUM_THREADS=1 ./$$t || status=1; \
	done; exit $$status

.PHONY: tapcheck
tapcheck:
	$(prove_installcheck)

# A model over 1 GB stored in chunks: trained, served, dumped and restored,
# served on a standby (test/t/075_chunked_models.pl at full size; minutes,
# ~8 GB of disk).  The suite runs the same test with a small model.
.PHONY: bigmodelcheck
bigmodelcheck:
	RECGAN_BIG_MODEL=1 $(MAKE) tapcheck PROVE_TESTS=test/t/075_chunked_models.pl

# The demo page (test/web) in headless Chromium: a throwaway cluster, or with
# RECGAN_BENCH_SERVER=1 the server of PGHOST/PGPORT (test/run.sh); the
# screenshot goes to test/web/out/.
.PHONY: webcheck
webcheck:
	bash test/web/check.sh

EXTRA_CLEAN += test/web/out

# Benchmarks (need the public datasets; see test/bench/*.sh headers).
.PHONY: bench bench-speed bench-side-by-side
bench: bench-speed
	bash test/bench/baselines.sh
	bash test/bench/serving.sh
	bash test/bench/models.sh
	bash test/bench/lightgcn_gowalla.sh
	bash test/bench/cfgan_bench.sh

# The "tune" option against its grid scored on the test set (issue 19; long:
# DATASETS="ml100k ciao" leaves Yelp2018 out).
.PHONY: bench-tune
bench-tune:
	bash test/bench/tune.sh

# The epoch counts of the reference implementations the README compares with.
bench-speed:
	FIXED_EPOCHS="gmf=25 bpr=400 lightgcn=375 ials=15" ALGORITHMS="ials bpr lightgcn gmf" \
		SEEDS=1 bash test/bench/models.sh

# Training speed beside the reference implementations of ../shared/peers, in
# one run (issue 16; ROUNDS=2 MODELS="ease gmf ..." to choose).
bench-side-by-side:
	bash test/bench/side_by_side.sh

# ---- Reliability (issue 14; README "How recgan is tested") -----------------
#   make fuzz [FUZZ_SECONDS=60]   libFuzzer on the model decoder and serving
#   make sanitizecheck            engine unit tests under ASan + UBSan
#   make valgrindcheck            regression suite with the server under valgrind
#   (isolation tests: ISOLATION above, run by make installcheck after REGRESS)

# Fuzzer (test/fuzz/fuzz_model.c): clang's libFuzzer with ASan + UBSan, the
# engine alone.  The seed corpus is regenerated on every run by make_corpus
# (a small model of every algorithm, synthetic data) into test/fuzz/corpus/,
# where libFuzzer also keeps what it finds (not committed); inputs that
# crashed are written to test/fuzz/artifacts/ (copy each, once fixed, to
# test/fuzz/cases/, which test_fuzz_cases replays in unitcheck).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined,float-cast-overflow \
	-fno-sanitize-recover=all -I$(srcdir)/src/engine $(BLAS_CFLAGS)
SANITIZE_FLAGS = -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

test/fuzz/fuzz_model: test/fuzz/fuzz_model.c $(ENGINE_SRCS) $(wildcard src/engine/*.h)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(ENGINE_SRCS) $(BLAS_LIBS) -lm -pthread

test/fuzz/make_corpus: test/fuzz/make_corpus.c $(ENGINE_SRCS) $(wildcard src/engine/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(ENGINE_SRCS) $(BLAS_LIBS) -lm -pthread

test/unit/test_fuzz_cases: test/fuzz/fuzz_model.c

.PHONY: fuzz
fuzz: test/fuzz/fuzz_model test/fuzz/make_corpus
	@mkdir -p test/fuzz/corpus test/fuzz/artifacts
	OPENBLAS_NUM_THREADS=1 ./test/fuzz/make_corpus test/fuzz/corpus
	@echo "fuzz: $(FUZZ_SECONDS) s, log in test/fuzz/artifacts/fuzz.log"; \
	OPENBLAS_NUM_THREADS=1 ./test/fuzz/fuzz_model -max_total_time=$(FUZZ_SECONDS) \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=test/fuzz/artifacts/ test/fuzz/corpus test/fuzz/cases \
		>test/fuzz/artifacts/fuzz.log 2>&1; \
	status=$$?; \
	grep -E '^(INFO: seed corpus|#[0-9]+ +(INITED|DONE)|Done [0-9]+ runs|stat::|==[0-9]+==|SUMMARY|.*runtime error|.*Test unit written)' \
		test/fuzz/artifacts/fuzz.log; \
	echo "fuzz: corpus $$(ls test/fuzz/corpus | wc -l) files, $$(du -sk test/fuzz/corpus | cut -f1) KB; crashes $$(ls test/fuzz/artifacts | grep -c '^crash-'), timeouts $$(ls test/fuzz/artifacts | grep -c '^timeout-'); exit status $$status"; \
	exit $$status

# Engine unit tests built and run under ASan + UBSan (any report aborts);
# the engine is compiled once for all of them.
SAN_TESTS = $(patsubst test/unit/%,test/unit/san/%,$(UNIT_TESTS))
SAN_ENGINE_OBJS = $(patsubst src/engine/%.c,test/unit/san/engine/%.o,$(ENGINE_SRCS))

test/unit/san/engine/%.o: src/engine/%.c $(wildcard src/engine/*.h)
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) $(SANITIZE_FLAGS) -c -o $@ $<

test/unit/san/test_%: test/unit/test_%.c test/unit/unit.h test/fuzz/fuzz_model.c $(SAN_ENGINE_OBJS)
	$(CC) $(UNIT_CFLAGS) $(SANITIZE_FLAGS) -o $@ $< $(SAN_ENGINE_OBJS) $(BLAS_LIBS) -lm -pthread

.PHONY: sanitizecheck
sanitizecheck: $(SAN_TESTS)
	@status=0; for t in $(SAN_TESTS); do \
		echo "== $$t (ASan + UBSan)"; \
		OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1 ./$$t || status=1; \
	done; exit $$status

# The regression suite with the server under valgrind, in a throwaway
# cluster (not in CI: about an hour; VALGRIND_REGRESS="basic train" for a subset).
.PHONY: valgrindcheck
valgrindcheck:
	bash test/valgrind/valgrindcheck.sh
