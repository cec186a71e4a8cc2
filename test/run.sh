#!/usr/bin/env bash
# run.sh: the whole recgan test suite, from a clean clone, in one command.
#
#   bash test/run.sh            (as root, or as a user with sudo for installing)
#
# Installs missing Debian packages, builds and installs recgan, starts a
# throwaway cluster (private unix socket, recgan preloaded), and runs:
#   1. engine unit tests          make unitcheck        (test/unit, no server)
#      the same under ASan + UBSan make sanitizecheck
#      the model decoder fuzzed   make fuzz             (60 s, FUZZ_SECONDS; skipped without clang)
#   2. regression tests           make installcheck     (sql/ + expected/, then the
#                                                         isolation tests of test/isolation)
#   3. TAP tests                  make tapcheck      (test/t/*.pl)
#   4. the demo page in Chromium  make webcheck      (test/web; skipped without the browser)
# Public datasets are used when their variables point at them:
#   RECGAN_ML100K, RECGAN_CFGAN_ML100K, RECGAN_CFGAN_CIAO, RECGAN_GOWALLA, RECGAN_YELP2018
# Exits non-zero if anything failed; always stops the cluster it started.

set -u
# shellcheck source=SCRIPTDIR/cluster.sh
. "$(dirname "$0")/cluster.sh"

trap 'exit 130' INT TERM
RECGAN_EXTRA_PACKAGES=$RECGAN_WEB_PACKAGES	# the browser test's (installed when missing)
RECGAN_EXTRA_PACKAGES="$RECGAN_EXTRA_PACKAGES $RECGAN_FUZZ_PACKAGES"	# the fuzzer's clang (make fuzz)
recgan_setup

for v in RECGAN_ML100K RECGAN_CFGAN_ML100K RECGAN_CFGAN_CIAO RECGAN_GOWALLA RECGAN_YELP2018; do
	if [ -n "${!v:-}" ]; then
		p=$(recgan_readable "${!v}")
		if [ -n "$p" ]; then
			export "$v=$p"
			echo "$v=$p"
		else
			echo "$v=${!v} does not exist: tests that need it are skipped"
			unset "$v"
		fi
	fi
done

recgan_cluster_start

declare -A RESULT
PASSED=0
FAILED=0

# Add the "N passed, M failed" counts of suite $1 to the totals; a suite that
# failed without a countable failure (build error, crash) counts one failure.
count() {
	local passed=${2:-0} failed=${3:-0}
	[ "${RESULT[$1]}" = ok ] || [ "$failed" -gt 0 ] || failed=1
	PASSED=$((PASSED + passed))
	FAILED=$((FAILED + failed))
}

say "unit tests (test/unit)"
if as_pg make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" unitcheck 2>&1 | tee "$TMP_ROOT/unit.log"; then
	RESULT[unit]=ok
else
	RESULT[unit]=FAILED
fi
read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$TMP_ROOT/unit.log" |
	awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }')
count unit "${p:-0}" "${f:-0}"

# ---- reliability (issue 14): the engine under ASan + UBSan, and the fuzzer
say "engine unit tests under ASan + UBSan (make sanitizecheck)"
if as_pg make -C "$TMP_ROOT/src" -s -j2 PG_CONFIG="$PG_CONFIG" sanitizecheck 2>&1 | tee "$TMP_ROOT/sanitize.log"; then
	RESULT[sanitize]=ok
else
	RESULT[sanitize]=FAILED
fi
read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$TMP_ROOT/sanitize.log" |
	awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }')
count sanitize "${p:-0}" "${f:-0}"

say "fuzzing the model decoder and serving for ${FUZZ_SECONDS:-60} s (make fuzz)"
if command -v clang >/dev/null 2>&1; then
	if as_pg make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" FUZZ_SECONDS="${FUZZ_SECONDS:-60}" \
		fuzz 2>&1 | tee "$TMP_ROOT/fuzz.log"; then
		RESULT[fuzz]=ok
		count fuzz 1 0
	else
		RESULT[fuzz]=FAILED
		count fuzz 0 1
	fi
else
	echo "skipped: clang is missing (Debian's $RECGAN_FUZZ_PACKAGES)"
fi
# ---- end of reliability steps

say "regression tests (sql/, expected/)"
if as_pg make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" installcheck 2>&1 | tee "$TMP_ROOT/regress.log"; then
	RESULT[regress]=ok
else
	RESULT[regress]=FAILED
	[ -f "$TMP_ROOT/src/regression.diffs" ] && cat "$TMP_ROOT/src/regression.diffs"
fi
count regress "$(grep -c '\.\.\. ok' "$TMP_ROOT/regress.log")" "$(grep -c '\.\.\. FAILED' "$TMP_ROOT/regress.log")"

say "TAP tests (test/t)"
if as_pg make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" PROVE_FLAGS="--timer" \
	tapcheck 2>&1 | tee "$TMP_ROOT/tap.log"; then
	RESULT[tap]=ok
else
	RESULT[tap]=FAILED
	for log in "$TMP_ROOT"/src/tmp_check/log/regress_log_*; do
		[ -f "$log" ] || continue
		echo "---- tail of $log"
		tail -n 60 "$log"
	done
fi
tap_total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$TMP_ROOT/tap.log")
tap_failed=$(grep -o 'Failed [0-9]*/' "$TMP_ROOT/tap.log" | awk -F'[ /]' '{ s += $2 } END { print s + 0 }')
count tap "$(( ${tap_total:-0} > tap_failed ? ${tap_total:-0} - tap_failed : 0 ))" "$tap_failed"

say "browser test of the demo page (test/web)"
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] &&
	/usr/bin/python3 -c 'import selenium, psycopg2' 2>/dev/null; then
	# with MovieLens 100K when given: the test likes three Star Wars films
	if as_pg env RECGAN_BENCH_SERVER=1 ML100K="${RECGAN_ML100K:-}" make -C "$TMP_ROOT/src" -s \
		PG_CONFIG="$PG_CONFIG" webcheck 2>&1 | tee "$TMP_ROOT/web.log"; then
		RESULT[web]=ok
	else
		RESULT[web]=FAILED
	fi
	p="" f=""
	read -r p f < <(sed -n 's/^webcheck: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$TMP_ROOT/web.log")
	count web "${p:-0}" "${f:-0}"
else
	echo "skipped: needs Debian's $RECGAN_WEB_PACKAGES"
fi

say "summary"
status=0
for suite in unit ${RESULT[sanitize]:+sanitize} ${RESULT[fuzz]:+fuzz} regress tap ${RESULT[web]:+web}; do
	printf '%-8s %s\n' "$suite" "${RESULT[$suite]}"
	[ "${RESULT[$suite]}" = ok ] || status=1
done
echo "all: $PASSED passed, $FAILED failed"
exit $status
