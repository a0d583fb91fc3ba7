# Shared helpers for kiln's CLI, fault and sandbox tests. Source it first:
#
#	. "$(dirname "$0")/../cli/lib.sh"
#
# It makes a scratch folder, cds into it, points kiln at a private cache, and
# removes the folder when the script ends. Every helper fails the script
# with a message that says what was expected.
set -eu
top=${KILN_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${KILN_BUILD:-$top/build}
KILN_BIN=$build/kiln
[ -x "$KILN_BIN" ] || { echo "no kiln binary at $KILN_BIN (run make)"; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/kiln-test.XXXXXX")
chmod 755 "$scratch"
cleanup_hooks=()
cleanup() {
	local h
	for h in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do eval "$h" || true; done
	chmod -R u+w "$scratch" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT
# at_exit CMD: run CMD when the script ends (servers to stop, by pid).
at_exit() { cleanup_hooks+=("$1"); }
export KILN_CACHE_DIR=$scratch/cache
unset KILN_REMOTE KILN_PLUGIN_PATH || true
cd "$scratch"
mkdir -p ws
cd ws

# kiln ARGS: run kiln (under valgrind when KILN_VALGRIND=1).
kiln() {
	if [ "${KILN_VALGRIND:-0}" = 1 ]; then
		valgrind -q --error-exitcode=99 --leak-check=no "$KILN_BIN" "$@"
	else
		"$KILN_BIN" "$@"
	fi
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# ok CMD…: CMD must exit 0; its output goes to $out (stdout+stderr).
ok() {
	local rc=0
	out=$("$@" 2>&1) || rc=$?
	[ $rc -eq 0 ] || { printf '%s\n' "$out" >&2; fail "expected success from: $*; exit $rc"; }
	return 0
}

# fails CODE CMD…: CMD must exit with CODE; output in $out.
fails() {
	local want=$1 rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	[ $rc -eq "$want" ] || { printf '%s\n' "$out" >&2; fail "expected exit $want from: $*; got $rc"; }
	return 0
}

# has TEXT: $out must contain TEXT (fixed string).
has() {
	printf '%s\n' "$out" | grep -qF -- "$1" || { printf '%s\n' "$out" >&2; fail "expected output to contain: $1"; }
}

# hasnt TEXT: $out must not contain TEXT.
hasnt() {
	if printf '%s\n' "$out" | grep -qF -- "$1"; then printf '%s\n' "$out" >&2; fail "output must not contain: $1"; fi
}

# matches REGEX: $out must match the extended regular expression.
matches() {
	printf '%s\n' "$out" | grep -qE -- "$1" || { printf '%s\n' "$out" >&2; fail "expected output to match: $1"; }
}

# same FILE TEXT: FILE must hold exactly TEXT (plus the final newline).
same() {
	[ -f "$1" ] || fail "missing file $1"
	local got
	got=$(cat "$1")
	[ "$got" = "$2" ] || fail "$1: expected '$2', got '$got'"
}

# ran N: the last kiln build's output says it ran N steps.
ran() {
	printf '%s\n' "$out" | grep -qE "(^|[^0-9])$1 (ran|run)" ||
		{ printf '%s\n' "$out" >&2; fail "expected $1 steps to run"; }
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# copy_data NAME…: copy the project's test data files into ./data.
copy_data() {
	mkdir -p data
	local n
	for n in "$@"; do cp "$top/tests/data/$n" data/; done
}

# skip WHY: this test cannot run here (tests/run.sh counts it as skipped).
skip() { echo "$*"; exit 77; }

# kill_once_uploaded N: run `kiln build --remote "$remote"` in the
# background (output in build.out) and kill -9 it once the test's own
# `uploaded` function prints N or more (a checkpoint's progress on the
# server); then let an upload nginx had wholly received land. Sets $at to
# what `uploaded` prints after.
kill_once_uploaded() {
	local pid i e
	"$KILN_BIN" build --remote "$remote" > build.out 2>&1 &
	pid=$!
	for i in $(seq 1200); do
		e=$(uploaded)
		[ -n "$e" ] && [ "$e" -ge "$1" ] && break
		kill -0 $pid 2>/dev/null || fail "the build ended before a checkpoint was uploaded: $(cat build.out)"
		sleep 0.05
	done
	kill -9 $pid
	wait $pid 2>/dev/null || true
	sleep 0.3
	at=$(uploaded)
}

# serve_model MODEL LOG [ARG…]: start kiln-serve on MODEL (a built model
# folder) at an ephemeral port, stderr to LOG, stopped when the script ends;
# waits until it prints its address. Sets $port and $pid.
serve_model() {
	local model=$1 log=$2 i
	shift 2
	: >"$log"	# exists before the child opens it, so the poll below can read it
	"$build/kiln-serve" --model "$model" --host 127.0.0.1 --port 0 "$@" 2>"$log" &
	pid=$!
	at_exit "kill $pid 2>/dev/null"
	port=
	for i in $(seq 100); do
		port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$log")
		[ -n "$port" ] && return 0
		kill -0 $pid 2>/dev/null || { cat "$log" >&2; fail "kiln-serve $model exited"; }
		sleep 0.1
	done
	cat "$log" >&2
	fail "kiln-serve $model did not print its address"
}

# serve_target TARGET: start `kiln serve TARGET` on a free port (the binary,
# so $pid is its own), stopped when the script ends; waits for /healthz.
# Sets $port and $pid; its output goes to serve.log.
serve_target() {
	port=$(free_port)
	"$KILN_BIN" serve "$1" --port "$port" >serve.log 2>&1 &
	pid=$!
	at_exit "kill $pid 2>/dev/null"
	local i
	for i in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
		kill -0 $pid 2>/dev/null || { cat serve.log; fail "kiln serve $1 exited"; }
		sleep 0.1
	done
	cat serve.log
	fail "kiln serve $1 did not answer /healthz"
}
