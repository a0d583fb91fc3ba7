# A folder input's walk reuses a folder's recorded, sorted names while the
# folder's own stat is unchanged: a file changed in place, added, removed,
# renamed or replaced by a folder is still noticed, and the names survive
# a rewrite of the state.
. "$(dirname "$0")/lib.sh"
mkdir -p d/s
echo 1 > d/s/a
echo 2 > d/s/b
echo 3 > d/top
cat > Kilnfile <<'K'
command "l" { inputs = { d = "d" }, cmd = "o=$(pwd)/{out}; cd {in.d} && find . -type f | sort | xargs head > $o/l", outputs = { "l" } }
K
# Past the folders' tick, so that the next walk records them.
sleep 0.1
ok kiln build
ok kiln build
has "up to date"
sleep 0.1
ok kiln status --check
# The state holds each folder's names now.
grep -q "d/s" .kiln/state || { echo "no folder record in .kiln/state"; exit 1; }
# Changed in place: same size, the folder's mtime does not move.
m=$(stat -c %Y.%y d/s)
echo 9 > d/s/a
[ "$(stat -c %Y.%y d/s)" = "$m" ] || { echo "the folder's mtime moved"; exit 1; }
fails 1 kiln status --check
has "stale"
ok kiln build
has "l"
grep -q '^9$' kiln-out/l/l || { cat kiln-out/l/l; echo "in-place change not seen"; exit 1; }
sleep 0.1; ok kiln build; sleep 0.1
# Added.
echo 4 > d/s/c
fails 1 kiln status --check
ok kiln build
grep -q '==> ./s/c <==' kiln-out/l/l || { cat kiln-out/l/l; echo "added file not seen"; exit 1; }
sleep 0.1; ok kiln build; sleep 0.1
# Renamed.
mv d/s/c d/s/e
fails 1 kiln status --check
ok kiln build
grep -q '==> ./s/e <==' kiln-out/l/l && ! grep -q '==> ./s/c <==' kiln-out/l/l ||
	{ cat kiln-out/l/l; echo "rename not seen"; exit 1; }
sleep 0.1; ok kiln build; sleep 0.1
# A file replaced by a folder of the same name.
rm d/s/b && mkdir d/s/b && echo 5 > d/s/b/x
fails 1 kiln status --check
ok kiln build
grep -q '==> ./s/b/x <==' kiln-out/l/l || { cat kiln-out/l/l; echo "file -> folder not seen"; exit 1; }
sleep 0.1; ok kiln build; sleep 0.1
# Removed.
rm d/top
fails 1 kiln status --check
ok kiln build
! grep -q 'top' kiln-out/l/l || { cat kiln-out/l/l; echo "removal not seen"; exit 1; }
sleep 0.1; ok kiln build; sleep 0.1
ok kiln status --check
