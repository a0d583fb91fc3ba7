# The user's umask changes neither what a step can read nor what it writes.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/a; mkdir {out}/d; echo x > {out}/d/x", outputs = { "a", "d" } }
command "b" { inputs = { a = ":a" }, cmd = "cat {in.a}/a {in.a}/d/x > {out}/b", outputs = { "b" } }
K
(umask 077 && kiln build >out.log 2>&1) || { cat out.log; fail "build under umask 077"; }
same kiln-out/b/b "a
x"
[ "$(stat -c %a kiln-out/a/d)" = 755 ] || fail "an output folder took the umask: $(stat -c %a kiln-out/a/d)"
[ "$(stat -c %a kiln-out/a/a)" = 644 ] || fail "an output file took the umask"
cp Kilnfile.lock first
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
(umask 002 && kiln build >/dev/null 2>&1) || fail "build under umask 002"
cmp -s first Kilnfile.lock || fail "the lock file depends on the umask"
