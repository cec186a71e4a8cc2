# recgan: recommenders trained inside PostgreSQL.  Built with PGXS.
#
#   make && make install          build and install into $(PG_CONFIG)'s server
#   make installcheck             pg_regress against a running server (PGHOST/PGPORT)
#   make tapcheck                 TAP tests in test/t (each starts its own clusters)
#   make unitcheck                engine unit tests in test/unit, no server needed
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

DATA = sql/recgan--0.1.0.sql

REGRESS = basic train recommend serving evaluate split worker cfgan bpr_lightgcn ials ncf_cgan
REGRESS_OPTS = --inputdir=$(srcdir)

# TAP tests run by `make tapcheck` (not folded into installcheck).
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config

BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS := $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/engine $(BLAS_CFLAGS)
# -Wextra, less unused-parameter: PG_FUNCTION_ARGS and server headers trip it.
PG_CFLAGS = -Wextra -Wno-unused-parameter
SHLIB_LINK = $(BLAS_LIBS) -lm -pthread

EXTRA_CLEAN = $(patsubst %.c,%,$(wildcard test/unit/test_*.c)) results regression.diffs regression.out tmp_check test/bench/lightgcn_select

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

# Benchmarks (need the public datasets; see test/bench/*.sh headers).
.PHONY: bench bench-speed
bench: bench-speed
	bash test/bench/baselines.sh
	bash test/bench/serving.sh
	bash test/bench/models.sh
	bash test/bench/lightgcn_gowalla.sh
	bash test/bench/cfgan_bench.sh

# The epoch counts of the reference implementations the README compares with.
bench-speed:
	FIXED_EPOCHS="gmf=25 bpr=400 lightgcn=375 ials=15" ALGORITHMS="ials bpr lightgcn gmf" \
		SEEDS=1 bash test/bench/models.sh
