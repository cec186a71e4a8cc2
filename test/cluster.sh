# cluster.sh: shared by test/run.sh and test/demo.sh (source it, do not run it).
#
# Installs what is missing (Debian packages), builds and installs recgan, and
# runs a throwaway PostgreSQL 15 cluster in a temporary directory that listens
# only on a private unix socket.  PostgreSQL refuses to run as root, so when
# invoked as root the server and every test run as an unprivileged OS user
# ($RECGAN_TEST_USER, created if missing).  recgan_cleanup stops the server and
# removes the directory; callers install it as an EXIT trap.

set -o pipefail

RECGAN_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
RECGAN_TEST_USER=${RECGAN_TEST_USER:-recgan_test}
RECGAN_PACKAGES="postgresql-15 postgresql-server-dev-15 libopenblas-dev libipc-run-perl build-essential pkg-config"
# The demo page (test/web) and its browser test; callers that need them put
# them in RECGAN_EXTRA_PACKAGES (test/run.sh, make webcheck, demo.sh --web).
RECGAN_WEB_PACKAGES="python3-psycopg2 chromium chromium-driver python3-selenium"
RECGAN_EXTRA_PACKAGES=${RECGAN_EXTRA_PACKAGES:-}
# The fuzzer's compiler and libFuzzer (make fuzz; test/run.sh adds them).
RECGAN_FUZZ_PACKAGES="clang libclang-rt-14-dev"

TMP_ROOT=""
PGBIN=""
PG_STARTED=0

say() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly, or through sudo when we are not root).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) for: $*"
	fi
}

# Run a command as the unprivileged user that owns the cluster.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$RECGAN_TEST_USER" -- env HOME="$TMP_ROOT" "$@"
	else
		"$@"
	fi
}

# Install the Debian packages recgan needs to build and test, if any is missing
# (in CI always: apt-get is idempotent, and a green run must not depend on
# what an earlier session left installed).
recgan_ensure_packages() {
	local missing="" p
	for p in $RECGAN_PACKAGES $RECGAN_EXTRA_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ "${CI:-}" = true ] && missing=" $RECGAN_PACKAGES $RECGAN_EXTRA_PACKAGES"
	if [ -n "$missing" ]; then
		say "installing Debian packages:$missing"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		# shellcheck disable=SC2086
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
	fi
	[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found (PostgreSQL 15 server headers missing?)"
	PGBIN=$("$PG_CONFIG" --bindir)
}

# Create the temporary directory and, under root, the unprivileged user.
recgan_make_tmp() {
	TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/recgan.XXXXXX")
	chmod 755 "$TMP_ROOT"
	if [ "$(id -u)" -eq 0 ]; then
		if ! id "$RECGAN_TEST_USER" >/dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin "$RECGAN_TEST_USER" ||
				die "cannot create user $RECGAN_TEST_USER"
		fi
		chown "$RECGAN_TEST_USER" "$TMP_ROOT"
	fi
}

# Copy the source tree to $TMP_ROOT/src (owned by the test user), build there,
# and install as root.  The clone itself is left untouched.
recgan_build_install() {
	say "building recgan"
	mkdir -p "$TMP_ROOT/src"
	(cd "$RECGAN_SRC" && tar --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=./results --exclude=./tmp_check --exclude=./test/bench/out --exclude=./test/web/out \
		--exclude=./test/fuzz/corpus --exclude=./test/fuzz/artifacts --exclude=./test/fuzz/fuzz_model \
		--exclude=./test/fuzz/make_corpus --exclude=./test/unit/san --exclude=./output_iso \
		--exclude='./test/unit/test_*[!.][!c]' -cf - .) |
		(cd "$TMP_ROOT/src" && tar -xf -)
	[ "$(id -u)" -eq 0 ] && chown -R "$RECGAN_TEST_USER" "$TMP_ROOT/src"
	as_pg make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" all || die "build failed"
	as_root make -C "$TMP_ROOT/src" -s PG_CONFIG="$PG_CONFIG" install >/dev/null || die "install failed"
}

# Make a data file or directory readable by the test user; copy it if not.
# Prints the path to use.
recgan_readable() {
	local path=$1
	if [ -z "$path" ] || [ ! -e "$path" ]; then
		echo ""
	elif as_pg test -r "$path" -a -x "$(dirname "$path")"; then
		(cd "$path" 2>/dev/null && pwd) || echo "$path"
	else
		local copy
		copy="$TMP_ROOT/data/$(basename "$path")"
		mkdir -p "$TMP_ROOT/data"
		cp -r "$path" "$copy"
		[ "$(id -u)" -eq 0 ] && chown -R "$RECGAN_TEST_USER" "$TMP_ROOT/data"
		echo "$copy"
	fi
}

# initdb and start a cluster with recgan preloaded, on a private socket only.
recgan_cluster_start() {
	say "starting a throwaway cluster in $TMP_ROOT"
	export PGHOST="$TMP_ROOT/sock" PGPORT=5432 PGDATABASE=postgres
	export PGUSER
	PGUSER=$(as_pg id -un)
	as_pg mkdir -p "$PGHOST"
	as_pg "$PGBIN/initdb" -D "$TMP_ROOT/pgdata" -A trust -E UTF8 --locale=C --no-sync \
		>"$TMP_ROOT/initdb.log" 2>&1 || { cat "$TMP_ROOT/initdb.log"; die "initdb failed"; }
	cat >>"$TMP_ROOT/pgdata/postgresql.conf" <<-EOF
		listen_addresses = ''
		unix_socket_directories = '$PGHOST'
		port = $PGPORT
		shared_preload_libraries = 'recgan'
		fsync = off
		max_connections = 40
		log_min_messages = warning
	EOF
	as_pg "$PGBIN/pg_ctl" -D "$TMP_ROOT/pgdata" -l "$TMP_ROOT/server.log" -w -t 60 start >/dev/null ||
		{ cat "$TMP_ROOT/server.log"; die "server did not start"; }
	PG_STARTED=1
}

# Stop what we started and remove the temporary directory (EXIT trap).
recgan_cleanup() {
	local rc=$?
	if [ "$PG_STARTED" = 1 ]; then
		as_pg "$PGBIN/pg_ctl" -D "$TMP_ROOT/pgdata" -m immediate -w stop >/dev/null 2>&1
		PG_STARTED=0
	fi
	if [ -n "$TMP_ROOT" ] && [ -d "$TMP_ROOT" ] && [ -z "${RECGAN_KEEP_TMP:-}" ]; then
		rm -rf "$TMP_ROOT"
	fi
	exit $rc
}

# psql as the test user against the throwaway cluster, stopping on the first error.
recgan_psql() {
	as_pg "$PGBIN/psql" -X -v ON_ERROR_STOP=1 "$@"
}

# Install what is missing, build and install recgan in a new temporary
# directory, and clean it all up on exit (the suite, the demo and the
# benchmarks all start so).
recgan_setup() {
	trap recgan_cleanup EXIT
	recgan_ensure_packages
	recgan_make_tmp
	recgan_build_install
}

# (Re)create database $1 with the extension and make it the default for psql.
recgan_create_db() {
	recgan_psql -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" \
		-c "CREATE DATABASE $1" || die "CREATE DATABASE $1 failed"
	export PGDATABASE=$1
	recgan_psql -q -c "CREATE EXTENSION recgan" || die "CREATE EXTENSION recgan failed"
}

# The benchmarks' start: create database $1 on a throwaway cluster (built and
# installed here) or, with RECGAN_BENCH_SERVER=1, on the running server of
# PGHOST/PGPORT (recgan installed).  The variables named by $2... hold dataset
# paths and are rewritten to copies the cluster's user can read.  Sets
# LOADER_DIR to the data/ loaders the server can read.
recgan_bench_start() {
	local db=$1 var
	shift
	if [ "${RECGAN_BENCH_SERVER:-}" = 1 ]; then
		recgan_psql() { psql -X -v ON_ERROR_STOP=1 "$@"; }
		export PGDATABASE=${PGDATABASE:-postgres}
		LOADER_DIR="$RECGAN_SRC/data"
	else
		recgan_setup
		for var in "$@"; do
			printf -v "$var" '%s' "$(recgan_readable "${!var}")"
		done
		recgan_cluster_start
		LOADER_DIR="$TMP_ROOT/src/data"
	fi
	recgan_create_db "$db"
}
