# kiln verify copies only what the graph declares: a step that reads a file
# it did not declare (possible with --sandbox off) fails to rebuild, and
# verify says so with exit 2 and keeps the rebuild's log. And the rebuild
# runs at another path, which a step outside the sandbox can see.
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

# The rebuild runs at another path: a step that writes its working folder is
# caught when nothing hides the path from it (the sandbox off); in the
# sandbox every step runs in /workspace, and the same step verifies.
cat > Kilnfile <<'K'
command "where" { cmd = "pwd > {out}/p", outputs = { "p" } }
K
ok kiln build --sandbox off
fails 1 kiln verify --sandbox off
has "DIFFERS where p"
grep -q elsewhere .kiln/verify/where/p || fail "the kept file does not hold the rebuild's path"
# (The key does not say whether a step ran in the sandbox: start afresh.)
rm -rf kiln-out .kiln Kilnfile.lock "$KILN_CACHE_DIR"
ok kiln build
ok kiln verify
has "identical"
