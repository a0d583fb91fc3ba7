# kiln verify copies only what the graph declares: a step that reads a file
# it did not declare (possible with --sandbox off) fails to rebuild, and
# verify says so with exit 2 and keeps the rebuild's log.
. "$(dirname "$0")/lib.sh"
echo secret > undeclared.txt
echo ok > declared.txt
cat > Kilnfile <<'K'
command "sneaky" { inputs = { d = "declared.txt" }, cmd = "cat {in.d} undeclared.txt > {out}/x", outputs = { "x" } }
K
ok kiln build --sandbox off
ran 1
fails 2 kiln verify --sandbox off
has "the rebuild in"
has "failed"
has ".kiln/verify/build.log"
grep -q "undeclared.txt" .kiln/verify/build.log || fail "the log does not name the missing file"
# Declared, it verifies.
cat > Kilnfile <<'K'
command "sneaky" { inputs = { d = "declared.txt", u = "undeclared.txt" }, cmd = "cat {in.d} {in.u} > {out}/x", outputs = { "x" } }
K
ok kiln build --sandbox off
ok kiln verify --sandbox off
has "identical"
