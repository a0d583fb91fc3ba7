# The lock sections kiln copies into a new Kilnfile.lock come only from the
# lock it wrote itself, unchanged (its stat and its text's digest, kept in
# the state): an edited section, a truncated lock, an older lock put back
# (a checkout of a committed one) or a symlink never leak into the new
# lock, which is still exactly the full rewrite's.
. "$(dirname "$0")/lib.sh"
mkdir src
for i in 1 2 3; do echo "source $i" > src/$i.txt; done
for i in 1 2 3; do
	echo "command \"t$i\" { inputs = { s = \"src/$i.txt\" }, cmd = \"cat {in.s} > {out}/o\", outputs = { \"o\" } }"
done > Kilnfile
# full WHAT: the lock is the full rewrite's, and no line of the tampered one is left.
full() {
	cp Kilnfile.lock spliced
	ok kiln status --check
	rm Kilnfile.lock
	ok kiln build
	cmp -s spliced Kilnfile.lock || { diff spliced Kilnfile.lock >&2 || true; fail "$1: the new lock is not the full rewrite's"; }
	grep -q 00000000000000000000000000000000 Kilnfile.lock && fail "$1: a forged line is in the new lock"
	return 0
}
ok kiln build
cp Kilnfile.lock old
# A section of a target that is not rebuilt, edited.
sed -i 's/^t1 out o [0-9a-f]*/t1 out o 00000000000000000000000000000000/' Kilnfile.lock
grep -q '^t1 out o 0000' Kilnfile.lock || fail "the test's edit did not take"
echo changed >> src/2.txt
ok kiln build
ran 1
full "an edited section"
# The same edit in place, the size and mtime kept: only the ctime tells.
cp Kilnfile.lock good
sed 's/^t1 out o [0-9a-f]*/t1 out o 00000000000000000000000000000000/' good > forged
[ "$(stat -c %s forged)" = "$(stat -c %s good)" ] || fail "the forged lock's size differs"
cat forged > Kilnfile.lock
touch -r good Kilnfile.lock
echo changed >> src/3.txt
ok kiln build
ran 1
full "an edit keeping size and mtime"
# Truncated in the middle of a line.
head -c 200 Kilnfile.lock > cut && cat cut > Kilnfile.lock
echo again >> src/2.txt
ok kiln build
ran 1
full "a truncated lock"
# An older lock of this workspace put back: its t2 section is a real one, but stale.
cp Kilnfile.lock now
cp old Kilnfile.lock
echo more >> src/3.txt
ok kiln build
ran 1
full "an older lock put back"
grep "^t2 " now > t2.now
grep "^t2 " Kilnfile.lock | cmp -s - t2.now || fail "t2's section is not its current one"
# A symlink: refused, neither read nor replaced; the build after it is removed writes the full text.
cp Kilnfile.lock ../target
rm Kilnfile.lock && ln -s ../target Kilnfile.lock
echo link >> src/1.txt
fails 2 kiln build
has "Kilnfile.lock is a symbolic link"
[ -L Kilnfile.lock ] || fail "the symlink was replaced"
cmp -s Kilnfile.lock ../target || fail "the symlink's target was written"
rm Kilnfile.lock
ok kiln build
full "after a symlink"
