# Kilnfile.lock after a rebuild of the same graph (.kiln/graph unchanged):
# the old lock is patched, each section of a record made since found by a
# binary search and replaced, or put in its sorted place when the target
# had no record when the lock was written (it failed then) — first, in
# the middle and last; names that are prefixes of one another (t1, t10,
# t100); many at once (the state file read whole); a side effect in the
# graph. Each time the lock is byte for byte the one a full rewrite makes.
. "$(dirname "$0")/lib.sh"
mkdir src
for i in 1 10 100 2 b; do echo "source $i" > src/$i.txt; done
for i in a0 t15 z9; do echo bad > src/$i.txt; done
echo common > src/common.txt
{
	for i in 1 10 100 2 b; do
		echo "command \"t$i\" { inputs = { s = \"src/$i.txt\" }, cmd = \"cat {in.s} > {out}/o; echo '{\\\"n\\\": 2.5}' > {out}/m.json\", metrics = \"m.json\", params = { who = \"t$i\" }, outputs = { \"o\" } }"
	done
	# Fail until their source says ok: no record, so no section, in the first lock.
	for i in a0 t15 z9; do
		echo "command \"$i\" { inputs = { s = \"src/$i.txt\" }, cmd = \"grep -q ok {in.s} && cat {in.s} > {out}/o\", outputs = { \"o\" } }"
	done
	for i in $(seq 0 69); do
		echo "command \"m$i\" { inputs = { s = \"src/common.txt\" }, cmd = \"cat {in.s} > {out}/o; echo $i >> {out}/o\", outputs = { \"o\" } }"
	done
	echo 'command "fx" { inputs = { s = ":t1" }, cmd = "cat {in.s}/o > {out}/sent", outputs = { "sent" }, effect = true }'
} > Kilnfile
# check_full WHAT: the lock the last build wrote is the full rewrite's.
check_full() {
	cp Kilnfile.lock patched
	ok kiln status --check
	rm Kilnfile.lock
	ok kiln build
	has "nothing to do"
	cmp -s patched Kilnfile.lock || { diff patched Kilnfile.lock >&2 || true; fail "$1: the patched lock is not the full rewrite's"; }
}
fails 1 kiln build -k
has "3 failed"
for i in a0 t15 z9; do grep -q "^$i " Kilnfile.lock && fail "$i failed but is in the lock"; done
graph=$(stat -c %Y.%i .kiln/graph)
# The three fixed at once: inserted before every section, between t10's and t2's, after every one.
for i in a0 t15 z9; do echo ok > src/$i.txt; done
ok kiln build
ran 3
[ "$(stat -c %Y.%i .kiln/graph)" = "$graph" ] || fail "the graph was evaluated again: the test does not reach the patch"
[ "$(sed -n 3p Kilnfile.lock | cut -d' ' -f1)" = a0 ] || fail "a0 is not the lock's first section"
[ "$(tail -1 Kilnfile.lock | cut -d' ' -f1)" = z9 ] || fail "z9 is not the lock's last section"
grep -A1 '^t10 param' Kilnfile.lock | grep -q '^t100 ' || fail "t100 does not follow t10"
check_full "three targets recorded for the first time"
cp Kilnfile.lock before
echo changed >> src/10.txt
ok kiln build
ran 1
check_full "t10 changed (t1 and t100 around it)"
[ "$(diff before Kilnfile.lock | grep -c '^[<>]')" = 4 ] || fail "more than t10's key and output lines changed"
echo changed >> src/1.txt
echo changed >> src/b.txt
ok kiln build
ran 2
check_full "the first and the last artifact's sources changed"
echo "common changed" >> src/common.txt
ok kiln build
ran 70
check_full "70 targets rebuilt"
[ "$(stat -c %Y.%i .kiln/graph)" = "$graph" ] || fail "the graph was evaluated again"
