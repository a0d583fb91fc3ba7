# A failing step: its exit status, the last lines of its log and the log's
# path; nothing of it is recorded; -k finishes independent targets.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "bad" { cmd = "echo line one; echo 'line two' >&2; exit 3", outputs = { "o" } }
command "after_bad" { inputs = { b = ":bad" }, cmd = "touch {out}/o", outputs = { "o" } }
command "good" { cmd = "sleep 0.3; echo ok > {out}/o", outputs = { "o" } }
command "lazy" { cmd = "echo not the declared one > {out}/other", outputs = { "o", "p/q" } }
K
fails 1 kiln build -j1 bad
has "Kilnfile:1: target 'bad' failed: the command exited with status 3"
has "| line one"
has "| line two"
has "log: .kiln/logs/bad.log"
[ ! -e kiln-out/bad ] || fail "a failed target left outputs"
fails 1 kiln build -k
has "1 not built (a dependency failed)"
same kiln-out/good/o ok
[ ! -e kiln-out/after_bad ] || fail "a target whose dependency failed was built"
fails 1 kiln build lazy
has "target 'lazy' failed: it did not write the declared output 'o'"
[ ! -e kiln-out/lazy ] || fail "a target missing an output left outputs"
ok kiln status
has "bad                      stale: never built"
# Fixing the command makes it build, and nothing stale is left from the failure.
sed -i 's/exit 3/touch {out}\/o/' Kilnfile
sed -i 's/echo not the declared one > {out}\/other/touch {out}\/o; mkdir {out}\/p; touch {out}\/p\/q {out}\/junk/' Kilnfile
ok kiln build
[ -e kiln-out/lazy/p/q ] || fail "nested output missing"
[ ! -e kiln-out/lazy/junk ] || fail "an undeclared output was kept"
ok kiln build
has "nothing to do"
