#!/usr/bin/env bash
# fault-inject.sh — failure injection over a small pipeline, in the manner
# of SQLite's tests: for each scenario and each kind of call, run kiln once
# with its Nth call of that kind made to fail (KILN_FAULT, core/fault.h),
# N = 1, 2, … until a run makes fewer than N such calls. After each run that
# failed a call, kiln must have exited cleanly (no crash, no sanitizer
# report; an error that names the cause when it exits non-zero), `kiln fsck`
# must find nothing bad, left no temporary file behind, and the next plain
# build must succeed with the Kilnfile.lock and outputs of a clean build.
#
#   tools/fault-inject.sh [SCENARIO…]    (default: all of them)
#
# Scenarios: fresh (empty workspace and cache), restore (everything in the
# cache), incremental (one source changed), push (upload to an empty remote
# cache, nginx), pull (fetch everything from the remote cache), fsck (a
# damaged blob to quarantine), gc (trim the cache to a few bytes).
#
#   KILN_BUILD=DIR     a build with failure injection (default build-san/)
#   FAULT_KINDS="…"    what to fail (default: write write+ rename fsync, and
#                      alloc@M for M in state cache lock graphcache remote transfer
#                      libcurl); "+" keeps failing from the Nth call on (a
#                      full disk), "@M" counts only the calls of module M
#   FAULT_MAX=K        try at most about K values of N per scenario and kind,
#                      evenly spread over the calls a run makes (counted
#                      first), and the one past the last (default: every N)
#   FAULT_POINTS=FILE  write the points covered there ("KIND MODULE:LINE")
#
# Prints each problem found and, at the end, the injection points covered:
# the distinct call sites (module:line) where a failure was injected, by
# kind and module (with FAULT_MAX, also those the counting runs reached).
# Exits 1 if anything was wrong.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export KILN_BUILD=${KILN_BUILD:-$top/build-san}
. "$top/tests/cli/lib.sh"
set +e
"$KILN_BIN" --version | grep -q 'failure injection' ||
	{ echo "skip: $KILN_BIN was built without failure injection (make SAN=1 or make FAULT=1)"; exit 0; }

kinds=${FAULT_KINDS:-"write write+ rename fsync alloc@state alloc@cache alloc@lock alloc@graphcache alloc@remote alloc@transfer alloc@libcurl"}
max=${FAULT_MAX:-0}
scenarios=${*:-"fresh restore incremental push pull fsck gc"}
points=$scratch/points
log=$scratch/fault.log
: >"$points"
: >"$points.reached"
runs=0
problems=0

cat >Kilnfile <<'K'
command "a" {
  inputs = { f = "data/in.txt" },
  cmd = "tr a-z A-Z < {in.f} > {out}/a; mkdir {out}/d; echo x > {out}/d/x; echo y > {out}/d/y",
  outputs = { "a", "d" },
}
command "b" { inputs = { a = ":a" }, cmd = "cat {in.a}/a {in.a}/d/x > {out}/b", outputs = { "b" } }
command "c" { inputs = { a = ":a", b = ":b" }, cmd = "cat {in.b}/b {in.a}/d/y > {out}/c", outputs = { "c" } }
K
mkdir -p data
cp Kilnfile "$scratch/Kilnfile"

# snap NAME / unsnap NAME: save or bring back the workspace's and the cache's state.
snap() {
	rm -rf "$scratch/snap.$1"
	mkdir -p "$scratch/snap.$1"
	cp -a . "$scratch/snap.$1/ws"
	[ ! -d "$KILN_CACHE_DIR" ] || cp -a "$KILN_CACHE_DIR" "$scratch/snap.$1/cache"
}
unsnap() {
	chmod -R u+w . "$KILN_CACHE_DIR" 2>/dev/null
	find . -mindepth 1 -delete
	rm -rf "$KILN_CACHE_DIR"
	cp -a "$scratch/snap.$1/ws/." .
	[ ! -d "$scratch/snap.$1/cache" ] || cp -a "$scratch/snap.$1/cache" "$KILN_CACHE_DIR"
}

# The states the scenarios start from, and what a clean build gives.
echo "old text" >data/in.txt
snap empty.old
echo "hello world" >data/in.txt
rm -rf .kiln kiln-out Kilnfile.lock "$KILN_CACHE_DIR"
snap empty
"$KILN_BIN" build >/dev/null 2>&1 || fail "the pipeline does not build"
cp Kilnfile.lock "$scratch/ref.lock"
cp -a kiln-out "$scratch/ref.out"
rm -rf .kiln kiln-out Kilnfile.lock
snap restore
damaged=$(awk '$1 == "a" && $2 == "out" && $3 == "a" { d = $4 } END { print substr(d, 1, 2) "/" d }' "$scratch/ref.lock")
[ -f "$KILN_CACHE_DIR/cas/$damaged" ] || fail "no blob cas/$damaged for the fsck scenario"

remote=
case " $scenarios " in *" push "* | *" pull "*)
	if command -v nginx >/dev/null; then
		. "$top/tests/cli/nginx.sh"
		start_nginx "$scratch/srv"
		unsnap empty
		"$KILN_BIN" build --remote "$remote" >/dev/null 2>&1 || fail "the pipeline does not build with the remote"
		cp -a "$scratch/srv/data" "$scratch/srv.full"
	else
		echo "skip: no nginx, so no push and pull scenarios"
		scenarios=$(echo " $scenarios " | sed 's/ push / /; s/ pull / /')
	fi
	;;
esac

# start SCENARIO: set the workspace, the cache and the server up for it; sets args
# (the command to fail a call of), want (its exit status when nothing fails) and next
# (the command that must then give a clean build's results).
start() {
	args=(build) want=0 next=(build)
	case $1 in
	fresh) unsnap empty ;;
	restore) unsnap restore ;;
	incremental)
		# Built here, not copied: Kilnfile.lock must be the very file (inode) the state remembers.
		unsnap empty.old
		"$KILN_BIN" build >/dev/null 2>&1 || fail "the pipeline does not build"
		echo "hello world" >data/in.txt
		;;
	push | pull)
		unsnap empty
		rm -rf "$scratch/srv/data"
		if [ "$1" = push ]; then mkdir -m 777 "$scratch/srv/data"; else cp -a "$scratch/srv.full" "$scratch/srv/data"; fi
		args=(build --remote "$remote") next=("${args[@]}")
		;;
	fsck)
		unsnap restore
		chmod u+w "$KILN_CACHE_DIR/cas/$damaged"
		echo garbage >>"$KILN_CACHE_DIR/cas/$damaged"
		args=(fsck) want=1
		;;
	gc) unsnap restore; args=(gc --max-size 10) ;;
	esac
}

# problem WHAT: report one thing found wrong after the current run.
problem() {
	problems=$((problems + 1))
	echo "PROBLEM [$scen $spec]: $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | tail -15 | sed 's/^/    | /'
}

# insane OUTPUT RC: does a run's output or status show a crash or a sanitizer report?
insane() {
	[ "$2" -ge 128 ] && return 0
	printf '%s\n' "$1" | grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|SUMMARY:'
}

# check_after: what must hold after a run that failed a call.
check_after() {
	local o rc=0 lit
	if [ "${spec%%:*}" != alloc ]; then
		lit=$( (find . "$KILN_CACHE_DIR" -name '*.tmp.*'; find "$KILN_CACHE_DIR/tmp" -mindepth 1) 2>/dev/null)
		[ -z "$lit" ] || problem "temporary files left behind" "$lit"
	fi
	# A failed fsck may have left the damaged blob for the next one to find.
	[ "$scen" != fsck ] || "$KILN_BIN" fsck >/dev/null 2>&1
	o=$("$KILN_BIN" fsck 2>&1) || rc=$?
	{ [ $rc -eq 0 ] && printf '%s\n' "$o" | grep -q ', 0 bad'; } || problem "kiln fsck: exit $rc" "$o"
	rc=0
	o=$("$KILN_BIN" "${next[@]}" 2>&1) || rc=$?
	[ $rc -eq 0 ] || { problem "the next build failed: exit $rc" "$o"; return; }
	! insane "$o" 0 || problem "the next build: sanitizer report" "$o"
	! printf '%s\n' "$o" | grep -q 'warning:' || problem "the next build warns" "$o"
	cmp -s Kilnfile.lock "$scratch/ref.lock" || problem "Kilnfile.lock differs from a clean build's" "$(diff Kilnfile.lock "$scratch/ref.lock")"
	diff -r kiln-out "$scratch/ref.out" >/dev/null 2>&1 || problem "kiln-out differs from a clean build's" "$(diff -r kiln-out "$scratch/ref.out" 2>&1)"
	o=$("$KILN_BIN" "${next[@]}" 2>&1)
	printf '%s\n' "$o" | grep -q 'nothing to do' || problem "a third build is not a no-op" "$o"
	[ "$scen" = push ] && check_server
}

# check_server: after a push, a new workspace with an empty cache gets the right outputs from it.
check_server() {
	local o rc=0
	rm -rf "$scratch/ws2" "$scratch/cache2"
	mkdir -p "$scratch/ws2/data"
	cp "$scratch/Kilnfile" "$scratch/ws2/"
	cp data/in.txt "$scratch/ws2/data/"
	o=$(cd "$scratch/ws2" && KILN_CACHE_DIR=$scratch/cache2 "$KILN_BIN" build --remote "$remote" 2>&1) || rc=$?
	[ $rc -eq 0 ] || { problem "a build from the pushed remote failed: exit $rc" "$o"; return; }
	! printf '%s\n' "$o" | grep -q 'warning:' || problem "a build from the pushed remote warns" "$o"
	diff -r "$scratch/ws2/kiln-out" "$scratch/ref.out" >/dev/null 2>&1 || problem "outputs from the pushed remote differ"
}

# one: run kiln with KILN_FAULT=$spec in scenario $scen; sets fired (0: the Nth call never came).
one() {
	local rc=0 asan=$ASAN_OPTIONS
	start "$scen"
	: >"$log"
	# Out of memory kiln dies, as it must; what it had allocated is not a leak.
	[ "${spec%%:*}" != alloc ] || asan=$asan:detect_leaks=0
	out=$(ASAN_OPTIONS=$asan KILN_FAULT=$spec KILN_FAULT_LOG=$log "$KILN_BIN" "${args[@]}" 2>&1) || rc=$?
	runs=$((runs + 1))
	fired=$(grep -c '^fail ' "$log")
	awk '$1 == "fail" { print $2, $4 }' "$log" >>"$points"
	if [ "$fired" -eq 0 ]; then
		[ $rc -eq "$want" ] || problem "exit $rc with nothing injected (expected $want)" "$out"
		calls=$(awk '$1 == "calls" { print $3 }' "$log")
		awk '$1 == "call" { print $2, $4 }' "$log" >>"$points.reached"
		return
	fi
	if insane "$out" $rc; then
		problem "crashed or a sanitizer report (exit $rc)" "$out"
	elif [ $rc -ne 0 ] && [ $rc -ne "$want" ] && ! printf '%s\n' "$out" | grep -qE 'No space left on device|Input/output error|out of memory'; then
		problem "exit $rc without naming the cause" "$out"
	fi
	check_after
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-}
for scen in $scenarios; do
	for kind in $kinds; do
		base=${kind%%[+@]*}
		step=1
		if [ "$max" -gt 0 ]; then
			# Count the calls first (N=0 fails none), then spread the tries over them.
			spec=$base:0${kind#"$base"}
			one
			step=$(((calls + max - 1) / max))
			[ "$step" -ge 1 ] || step=1
		fi
		n=1 tried=0
		while :; do
			spec=$base:$n${kind#"$base"}
			one
			[ "$fired" -gt 0 ] || break
			tried=$((tried + 1))
			n=$((n + step))
		done
		echo "$scen $kind: $tried runs failed a call (N = 1 … $((n - step)), every ${step})"
	done
done

# table FILE: the distinct points of FILE by kind and module.
table() {
	sort -u "$1" | awk '{ split($2, m, ":"); print $1, m[1] }' | sort | uniq -c |
		awk '{ n[$2] = n[$2] sprintf(" %s %d", $3, $1); t[$2] += $1; all += $1 }
		END { for (k in n) printf "  %-7s %3d:%s\n", k, t[k], n[k]; printf "  total   %3d\n", all }' | sort
}
echo
echo "injection points covered (distinct call sites where a failure was injected):"
table "$points"
if [ "$max" -gt 0 ]; then
	echo "call sites the counting runs reached:"
	table "$points.reached"
fi
[ -z "${FAULT_POINTS:-}" ] || sort -u "$points" >"$FAULT_POINTS"
echo "$runs runs, $problems problems"
[ "$problems" -eq 0 ]
