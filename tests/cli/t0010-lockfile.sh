# Kilnfile.lock: sorted, one line per output, stable across builds; status
# --check notices when the workspace no longer matches it.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "zeta" { cmd = "echo z > {out}/z; echo y > {out}/y", outputs = { "z", "y" } }
command "alpha" { cmd = "echo a > {out}/a", outputs = { "a" } }
K
ok kiln build
grep -v '^#' Kilnfile.lock > body
[ "$(sed -n 1p body)" = "kiln-lock 1" ] || fail "no version line"
tail -n +2 body | sort -c || fail "lock lines are not sorted"
grep -qE '^alpha out a [0-9a-f]{32} 2$' Kilnfile.lock || fail "no output line for alpha"
grep -qE '^zeta out y [0-9a-f]{32} 2$' Kilnfile.lock || fail "no output line for zeta/y"
grep -qE '^zeta key [0-9a-f]{32}$' Kilnfile.lock || fail "no key line"
cp Kilnfile.lock first
ok kiln clean
ok kiln build
cmp -s first Kilnfile.lock || fail "the lock file changed on a restore"
# Another workspace building the same gets the same lock file.
mkdir ../other && cp Kilnfile ../other/ && (cd ../other && kiln build >/dev/null) && cmp -s first ../other/Kilnfile.lock || fail "lock differs between workspaces"
# An edited lock file is caught; the next build rewrites it.
sed -i 's/^alpha key .*/alpha key 00000000000000000000000000000000/' Kilnfile.lock
fails 1 kiln status --check
has "Kilnfile.lock differs from the workspace"
ok kiln build
cmp -s first Kilnfile.lock || fail "build did not rewrite the lock file"
ok kiln status --check
rm Kilnfile.lock
fails 1 kiln status --check
has "missing"
