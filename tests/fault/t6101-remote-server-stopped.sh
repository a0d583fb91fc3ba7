# The remote cache's server is stopped in the middle of a build, or was
# never there: the build slows down, warns once, and ends with the right
# outputs.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cat > Kilnfile <<'K'
command "a" { cmd = "sleep 1; echo a > {out}/a", outputs = { "a" } }
command "b" { inputs = { a = ":a" }, cmd = "sleep 1; cat {in.a}/a > {out}/b; echo b >> {out}/b", outputs = { "b" } }
command "c" { inputs = { b = ":b" }, cmd = "sleep 1; cat {in.b}/b > {out}/c; echo c >> {out}/c", outputs = { "c" } }
K
# Stop nginx (by its pid) while b runs: once a's entry is on the server
# (a loaded machine may take longer than a's one second), and b has begun.
(for i in $(seq 300); do
	[ -n "$(ls "$scratch/srv/data/ac" 2>/dev/null)" ] && [ -e .kiln/logs/b.log ] && break
	sleep 0.05
done; kill "$nginx_pid") &
stopper=$!
ok kiln build -j1 --remote "$remote"
wait $stopper || true
ran 3
has "giving up on it"
same kiln-out/c/c "a
b
c"
# a was uploaded before the server went away; its entry and blob are whole.
[ -f "$scratch/srv/data/ac/$(ls "$scratch/srv/data/ac" | head -1)" ] || fail "a's entry did not reach the server"
# Nothing listens on the port now: a clean build still works, quickly.
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
start=$(date +%s)
ok kiln build --remote "$remote"
ran 3
has "giving up on it"
[ "$(printf '%s\n' "$out" | grep -c "giving up")" -eq 1 ] || fail "expected one warning about the remote"
[ $(($(date +%s) - start)) -lt 20 ] || fail "a dead remote slowed the build by more than 20s"
same kiln-out/c/c "a
b
c"
# An unresolvable host is the same.
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
ok kiln build --remote http://kiln-remote-cache.invalid/
ran 3
