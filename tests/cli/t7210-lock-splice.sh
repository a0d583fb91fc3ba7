# Kilnfile.lock after a rebuild: the sections of targets not rebuilt are
# copied from the lock kiln last wrote (core/lock.c), and the result is
# byte for byte the lock a full rewrite makes, whatever changed between:
# one source, the graph (a target added, one removed and one back, a side
# effect, which the lock leaves out), many targets at once; with metrics,
# params and names that are prefixes of one another (t1, t10, t100: a
# section is found by its whole name).
. "$(dirname "$0")/lib.sh"
mkdir src
for i in 1 10 11 100 2 20 b; do echo "source $i" > src/$i.txt; done
targets() {
	for i in "$@"; do
		echo "command \"t$i\" { inputs = { s = \"src/$i.txt\" }, cmd = \"cat {in.s} > {out}/o; echo '{\\\"n\\\": 1.5}' > {out}/m.json\", metrics = \"m.json\", params = { who = \"t$i\", deep = { x = 1 } }, outputs = { \"o\" } }"
	done
}
many() {
	for i in $(seq 0 79); do
		echo "command \"m$i\" { inputs = { s = \"src/common.txt\" }, cmd = \"cat {in.s} > {out}/o; echo $i >> {out}/o\", outputs = { \"o\" } }"
	done
}
effect() {
	echo 'command "fx" { inputs = { s = ":t1" }, cmd = "cat {in.s}/o > {out}/sent", outputs = { "sent" }, effect = true }'
}
echo common > src/common.txt
{ targets 1 10 11 2 20 b; many; effect; } > Kilnfile
# check_full WHAT: the lock the last build wrote is the full rewrite's (status --check
# compares it with the text made anew; a build without the lock writes that text).
check_full() {
	cp Kilnfile.lock spliced
	ok kiln status --check
	rm Kilnfile.lock
	ok kiln build
	has "nothing to do"
	cmp -s spliced Kilnfile.lock || { diff spliced Kilnfile.lock >&2 || true; fail "$1: the spliced lock is not the full rewrite's"; }
}
ok kiln build
grep -q '^fx ' Kilnfile.lock && fail "a side effect is in the lock"
grep -q '^t10 metric n 1.5$' Kilnfile.lock || fail "no metric line"
grep -q '^t10 param deep.x 1$' Kilnfile.lock || fail "no param line"
cp Kilnfile.lock before
echo "changed" >> src/10.txt
ok kiln build
ran 1
check_full "one source changed"
[ "$(diff before Kilnfile.lock | grep -c '^[<>]')" = 4 ] || fail "more than t10's key and output lines changed"
echo "changed" >> src/1.txt
ok kiln build
ran 1
check_full "the first target's source changed, a side effect in the graph"
# The side effect goes: the sections are then spliced in their order, the graph not sorted.
{ targets 1 10 11 2 20 b; many; } > Kilnfile
echo "changed" >> src/11.txt
ok kiln build
ran 1
check_full "the side effect gone"
echo "changed" >> src/b.txt
ok kiln build
check_full "the last target's source changed"
# The graph changes: t100 added (between t10 and t11), t2 removed.
{ targets 1 10 100 11 20 b; many; } > Kilnfile
echo "changed" >> src/20.txt
ok kiln build
grep -q '^t2 ' Kilnfile.lock && fail "a removed target stays in the lock"
grep -q '^t100 key ' Kilnfile.lock || fail "the new target is not in the lock"
check_full "a target added and one removed"
# t2 back: its record is older than the lock, but the lock has no section of it to copy.
{ targets 1 10 100 11 2 20 b; many; } > Kilnfile
ok kiln build
has "nothing to do"
grep -q '^t2 key ' Kilnfile.lock || fail "a target back in the graph is not in the lock"
check_full "a target back in the graph"
# Many targets rebuilt at once (the state file is then read whole for their lines).
echo "common changed" >> src/common.txt
ok kiln build
ran 80
check_full "80 targets rebuilt"
# Nothing changed: the lock stays as it is.
cp Kilnfile.lock same
ok kiln build
has "nothing to do"
cmp -s same Kilnfile.lock || fail "a no-op build changed the lock"
