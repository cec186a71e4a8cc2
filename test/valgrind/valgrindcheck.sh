#!/usr/bin/env bash
# valgrindcheck.sh: the regression suite with the server under valgrind
# (memcheck), in a throwaway cluster; run by `make valgrindcheck`.
#
#   bash test/valgrind/valgrindcheck.sh              (as root, or with sudo for installing)
#   VALGRIND_REGRESS="basic train" bash test/valgrind/valgrindcheck.sh
#
# The postmaster runs under valgrind; every backend and background worker is
# a fork of it, so each is checked, with one log per process
# ($TMP_ROOT/valgrind/*.log, kept with RECGAN_KEEP_TMP=1).  At the end it
# prints the number of invalid reads and writes, of other memcheck errors,
# and of definite leaks with a recgan frame in their stack; it fails when
# there is any invalid read or write, or any definite leak in recgan.
#
# Limits: Debian's server is built without USE_VALGRIND, so memcheck sees
# palloc blocks, not palloc chunks: an overrun inside a memory context
# block is not seen (the engine's malloc-free unit tests under ASan cover
# the engine: make sanitizecheck).  suppressions.supp holds only the
# PostgreSQL false positives met here, each documented.
set -u
. "$(dirname "$0")/../cluster.sh"

VALGRIND_REGRESS=${VALGRIND_REGRESS:-}
RECGAN_EXTRA_PACKAGES="valgrind"
trap 'exit 130' INT TERM
recgan_setup

say "starting a throwaway cluster under valgrind in $TMP_ROOT"
export PGHOST="$TMP_ROOT/sock" PGPORT=5432 PGDATABASE=postgres
export PGUSER
PGUSER=$(as_pg id -un)
as_pg mkdir -p "$PGHOST" "$TMP_ROOT/valgrind"
as_pg "$PGBIN/initdb" -D "$TMP_ROOT/pgdata" -A trust -E UTF8 --locale=C --no-sync \
	>"$TMP_ROOT/initdb.log" 2>&1 || { cat "$TMP_ROOT/initdb.log"; die "initdb failed"; }
cat >>"$TMP_ROOT/pgdata/postgresql.conf" <<-EOF2
	listen_addresses = ''
	unix_socket_directories = '$PGHOST'
	port = $PGPORT
	shared_preload_libraries = 'recgan'
	fsync = off
	max_connections = 20
	log_min_messages = warning
	# valgrind is 20-50 times slower: no timeouts on its account
	statement_timeout = 0
	authentication_timeout = 600
EOF2
cp "$RECGAN_SRC/test/valgrind/suppressions.supp" "$TMP_ROOT/valgrind.supp"
chmod 644 "$TMP_ROOT/valgrind.supp"
# OPENBLAS_CORETYPE: a kernel set valgrind decodes (no AVX-512).
as_pg env OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 \
	valgrind --quiet --tool=memcheck --trace-children=no --track-origins=no \
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--num-callers=30 --suppressions="$TMP_ROOT/valgrind.supp" \
	--log-file="$TMP_ROOT/valgrind/%p.log" \
	"$PGBIN/postgres" -D "$TMP_ROOT/pgdata" >"$TMP_ROOT/server.log" 2>&1 &
PG_STARTED=1
for _ in $(seq 1 300); do
	"$PGBIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" && break
	sleep 1
done
"$PGBIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" || { cat "$TMP_ROOT/server.log"; die "server did not start"; }

say "regression tests under valgrind${VALGRIND_REGRESS:+: $VALGRIND_REGRESS}"
start=$(date +%s)
args=(ISOLATION=)
[ -n "$VALGRIND_REGRESS" ] && args+=(REGRESS="$VALGRIND_REGRESS")
as_pg make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" "${args[@]}" installcheck 2>&1 |
	tee "$TMP_ROOT/regress.log"
regress_status=${PIPESTATUS[0]}
# Trainings slowed down 20-50 times by valgrind pass the 10-second mark of
# recgan's progress NOTICEs, which the expected output (at full speed) does
# not have: differences made only of those lines are not failures.
if [ "$regress_status" -ne 0 ] && [ -f "$TMP_ROOT/src/regression.diffs" ] &&
	! grep -E '^[-+]' "$TMP_ROOT/src/regression.diffs" | grep -vE '^(\+\+\+|---) ' |
		grep -vqE '^\+NOTICE:  [a-z]+ (epoch [0-9]+ of [0-9]+: .*\([0-9]+ s\)|trained [0-9]+ epochs in [0-9]+ s)$'; then
	echo "the differences are only progress NOTICEs of trainings slowed by valgrind:" \
		"$(grep -c '^+NOTICE' "$TMP_ROOT/src/regression.diffs") lines"
	regress_status=0
fi
if [ -z "$VALGRIND_REGRESS" ]; then
	say "isolation tests under valgrind"
	as_pg make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" REGRESS= installcheck 2>&1 |
		tee -a "$TMP_ROOT/regress.log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || regress_status=1
fi
echo "regression under valgrind: $(( $(date +%s) - start )) s"

# A fast shutdown lets every backend and the postmaster exit normally, so
# valgrind writes each process's leak summary.
as_pg "$PGBIN/pg_ctl" -D "$TMP_ROOT/pgdata" -m fast -w -t 600 stop >/dev/null
PG_STARTED=0

say "valgrind summary"
logs=("$TMP_ROOT"/valgrind/*.log)
invalid=$(cat "${logs[@]}" | grep -cE '^==[0-9]+== Invalid (read|write)')
other=$(cat "${logs[@]}" | grep -E '^==[0-9]+== [A-Z]' |
	grep -vcE 'Invalid (read|write)|definitely lost|HEAP SUMMARY|LEAK SUMMARY|ERROR SUMMARY|For lists|For counts|Rerun with|in use at exit|total heap usage|All heap blocks')
# definite-leak records whose stack names recgan (its .so or its sources)
recgan_leaks=$(awk '/definitely lost in loss record/ { rec = 1; hit = 0; next }
	rec && /^==[0-9]+== *$/ { if (hit) n++; rec = 0; next }
	rec && /recgan/ { hit = 1 }
	END { print n + 0 }' "${logs[@]}")
all_leaks=$(cat "${logs[@]}" | grep -c 'definitely lost in loss record')
echo "processes checked: ${#logs[@]}"
echo "invalid reads/writes: $invalid"
echo "other memcheck errors (uninitialised values, bad frees, ...): $other"
echo "definite leaks: $all_leaks, in recgan frames: $recgan_leaks"
status=0
[ "$regress_status" -eq 0 ] || { echo "regression tests FAILED under valgrind"; status=1; }
[ "$invalid" -eq 0 ] && [ "$recgan_leaks" -eq 0 ] || status=1
if [ "$status" -ne 0 ] || [ "$other" -ne 0 ]; then
	grep -lE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Mismatched|Syscall)|definitely lost in loss' \
		"${logs[@]}" | head -5 | while read -r f; do echo "---- $f"; head -80 "$f"; done
fi
exit $status
