# Kilnfile.lock patched on the same graph (core/lock.c lock_patch) when its
# writing fails: a full disk, a failing rename, memory running out in the
# middle of the text. The build says so and fails; the lock on disk is the
# old one, whole; the next build writes the lock a full rewrite makes (the
# records since the failed lock are patched in again), and each later
# one-change rebuild too.
. "$(dirname "$0")/../cli/lib.sh"
"$KILN_BIN" --version | grep -q 'failure injection' ||
	skip "$KILN_BIN has no failure injection (the sanitizer build has it: make SAN=1)"
mkdir src
for i in 1 2 3 4 5 6; do echo "source $i" > src/$i.txt; done
for i in 1 2 3 4 5 6; do
	echo "command \"t$i\" { inputs = { s = \"src/$i.txt\" }, cmd = \"cat {in.s} > {out}/o\", params = { n = $i }, outputs = { \"o\" } }"
done > Kilnfile
# check_full WHAT: the lock is the full rewrite's.
check_full() {
	cp Kilnfile.lock patched
	ok kiln status --check
	rm Kilnfile.lock
	ok kiln build
	has "nothing to do"
	cmp -s patched Kilnfile.lock || { diff patched Kilnfile.lock >&2 || true; fail "$1: the lock is not the full rewrite's"; }
}
ok kiln build
ran 6
ok kiln build
# fault SPEC WHAT N: a rebuild of tN whose lock writing fails as SPEC says.
fault() {
	cp Kilnfile.lock before
	echo changed >> "src/$3.txt"
	KILN_FAULT=$1 KILN_FAULT_LOG=$scratch/log fails "$4" kiln build
	grep -q "^fail ${1%%:*} [0-9]* lock:" "$scratch/log" || fail "$2: no lock call failed: $(cat "$scratch/log")"
	[ "$4" = 1 ] && has "cannot write Kilnfile.lock"
	cmp -s before Kilnfile.lock || fail "$2: the lock on disk changed although its writing failed"
	ls Kilnfile.lock.tmp.* 2>/dev/null && fail "$2: a temporary lock is left"
	rm -f "$scratch/log"
	# The old lock, now stale: status says so (a death also leaves the step's record unlocked).
	[ "$4" = 1 ] && { fails 1 kiln status --check; has "Kilnfile.lock differs"; }
	# The next build: the lock record is the old lock's, the records since are patched in.
	ok kiln build
	check_full "$2"
	echo again >> "src/$3.txt"
	ok kiln build
	ran 1
	check_full "$2, then one more change"
}
fault write:1@lock "a full disk" 3 1
fault rename:1@lock "a failing rename" 1 1
# Memory: each allocation the lock module makes in a one-change rebuild (counted on one), the
# patch's pieces and their iovec among them; kiln dies of it, at the step's params or while writing the lock.
echo counted >> src/5.txt
KILN_FAULT=alloc:0@lock KILN_FAULT_LOG=$scratch/count ok kiln build
n=$(grep -c '^call alloc [0-9]* lock:' "$scratch/count")
[ "$n" -gt 0 ] || fail "no allocation counted in lock: $(cat "$scratch/count")"
check_full "counted"
for what in 'pc->v = xreallocarray' 'struct iovec \*v = xreallocarray'; do
	grep -q "^call alloc [0-9]* lock:$(grep -n "$what" "$top/core/lock.c" | cut -d: -f1)$" "$scratch/count" ||
		fail "the patch's allocation ($what) was not counted: $(cat "$scratch/count")"
done
for k in $(seq 1 "$n"); do
	fault "alloc:$k@lock" "allocation $k of $n failed" $((k % 6 + 1)) 2
done
