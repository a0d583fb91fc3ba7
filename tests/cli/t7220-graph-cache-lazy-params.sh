# A cached graph keeps each target's params encoded (several targets with
# the same params share one block) and decodes them only for a step that
# runs: that step sees the params the Kilnfile gave it, and a target's key
# is the same whether the graph was evaluated or read back. A file of the
# format before is evaluated again, not misread.
. "$(dirname "$0")/lib.sh"
mkdir src
for i in 1 2 3; do echo "s$i" > src/$i.txt; done
cat > Kilnfile <<'K'
local cmd = "echo {param.word} {param.deep.n} $(cat {in.s}) > {out}/o"
command "a" { inputs = { s = "src/1.txt" }, cmd = cmd, params = { word = "same", deep = { n = 1.5 }, list = { 1, "x" } }, outputs = { "o" } }
command "b" { inputs = { s = "src/2.txt", up = ":a" }, cmd = cmd, params = { word = "same", deep = { n = 1.5 }, list = { 1, "x" } }, outputs = { "o" } }
command "c" { inputs = { s = "src/3.txt", up = ":a" }, cmd = cmd, params = { word = "other", deep = { n = 2 }, list = { true, false } }, outputs = { "o" } }
K
ok kiln build
ran 3
same kiln-out/a/o "same 1.5 s1"
same kiln-out/b/o "same 1.5 s2"
same kiln-out/c/o "other 2 s3"
[ -s .kiln/graph ] || fail "no .kiln/graph"
before=$(stat -c %Y.%y .kiln/graph)
# The graph is read back; b runs, with params decoded from it now.
echo s2x > src/2.txt
echo s3x > src/3.txt
ok kiln build
ran 2
[ "$(stat -c %Y.%y .kiln/graph)" = "$before" ] || fail ".kiln/graph was not reused"
same kiln-out/b/o "same 1.5 s2x"
same kiln-out/c/o "other 2 s3x"
# Evaluated again, the keys are those the cached graph gave: nothing to do.
rm .kiln/graph
ok kiln build
has "nothing to do"
[ -s .kiln/graph ] || fail "no .kiln/graph after evaluating"
ok kiln build
has "nothing to do"
# A param changed in the Kilnfile is seen (the cache is rebuilt): a and b have it, c depends on a.
sed -i 's/word = "same"/word = "new"/g' Kilnfile
ok kiln build
ran 3
same kiln-out/a/o "new 1.5 s1"
same kiln-out/b/o "new 1.5 s2x"
same kiln-out/c/o "other 2 s3x"
# A .kiln/graph of the format before (version 9), its checksum right, is not
# read as this one: the Kilnfile is evaluated again and the file rewritten.
python3 - <<'P'
import subprocess
b = bytearray(open(".kiln/graph", "rb").read())
b[8:12] = (9).to_bytes(4, "little")
open("body.tmp", "wb").write(b[:-8])
h = subprocess.check_output(["xxhsum", "-H3", "body.tmp"]).split()[-1].decode()
open(".kiln/graph", "wb").write(bytes(b[:-8]) + bytes.fromhex(h)[::-1])
P
rm body.tmp
old=$(od -An -tu4 -j8 -N4 .kiln/graph | tr -d ' ')
[ "$old" = 9 ] || fail "the test did not write version 9 (got $old)"
ok kiln build
has "nothing to do"
[ "$(od -An -tu4 -j8 -N4 .kiln/graph | tr -d ' ')" = 10 ] || fail ".kiln/graph of version 9 was not rewritten"
