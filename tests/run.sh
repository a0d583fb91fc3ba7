#!/usr/bin/env bash
# Runs every test: the C unit tests, then the CLI and fault scripts, two at a
# time. Each script runs in its own scratch folder. The last line is
# "N passed, N failed".
#
#   tests/run.sh [PATTERN…]     only scripts whose name contains a PATTERN
#   KILN_BUILD=DIR              the build to test (default: build/)
#   KILN_TEST_JOBS=N            scripts run at once (default: 2)
#   KILN_VALGRIND=1             run kiln under valgrind (slow)
#
# A script that exits 77 was skipped (what it needs, a GPU say, is not
# here): it says why on its last line and is counted as skipped.
# Scripts may keep files for a person to look at (screenshots) in
# $KILN_TEST_OUT (tests/out/<script>/), which is left after the run.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export KILN_BUILD=${KILN_BUILD:-$top/build}
# Under the sanitizer build, a plugin that crashes must still die of its
# signal (the tests check kiln says so), and kiln's own SIGBUS handler for
# mapped files must get its signal: ASan is told not to catch them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0}
export KILN_TOP=$top
jobs=${KILN_TEST_JOBS:-2}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

passed=0
failed=0
skipped=0
failures=()

# Unit tests: cmocka prints a summary per binary; count its tests.
if [ $# -eq 0 ]; then
	for t in "$KILN_BUILD"/tests/unit/*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		out=$("$t" 2>&1)
		rc=$?
		p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$f" -gt 0 ]; then
			printf '%s\n' "$out" | tail -30
			failures+=("unit/$name")
			echo "FAIL unit/$name ($f failed)"
		else
			echo "ok   unit/$name ($p tests)"
		fi
	done
fi

# CLI and fault scripts.
scripts=()
for s in "$top"/tests/cli/t*.sh "$top"/tests/fault/t*.sh; do
	[ -f "$s" ] || continue
	if [ $# -gt 0 ]; then
		keep=0
		for pat in "$@"; do case "$(basename "$s")" in *"$pat"*) keep=1 ;; esac; done
		[ $keep -eq 1 ] || continue
	fi
	scripts+=("$s")
done

run_one() {
	s=$1
	name=$(basename "$(dirname "$s")")/$(basename "$s" .sh)
	log=$results/$(basename "$s" .sh).log
	start=$(date +%s)
	export KILN_TEST_OUT=$KILN_TOP/tests/out/$(basename "$s" .sh)
	timeout -k 10 300 bash "$s" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ $rc -eq 77 ]; then
		echo "skip $name: $(tail -1 "$log")"
		touch "$results/$(basename "$s" .sh).skip"
	elif [ $rc -eq 0 ]; then
		echo "ok   $name (${secs}s)"
		touch "$results/$(basename "$s" .sh).pass"
	else
		[ $rc -eq 124 ] && echo "(timed out)" >>"$log"
		echo "FAIL $name (exit $rc, ${secs}s)"
		tail -25 "$log" | sed 's/^/     | /'
		touch "$results/$(basename "$s" .sh).fail"
	fi
}
export -f run_one
export results

if [ ${#scripts[@]} -gt 0 ]; then
	printf '%s\0' "${scripts[@]}" | xargs -0 -n1 -P"$jobs" bash -c 'run_one "$0"'
fi
for s in "${scripts[@]}"; do
	b=$(basename "$s" .sh)
	if [ -e "$results/$b.pass" ]; then
		passed=$((passed + 1))
	elif [ -e "$results/$b.skip" ]; then
		skipped=$((skipped + 1))
	else
		failed=$((failed + 1))
		failures+=("$b")
	fi
done

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "failed: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
