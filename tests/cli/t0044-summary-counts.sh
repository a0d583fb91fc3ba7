# The build summary's counts add up to the number of targets: ran, restored,
# up to date, failed, not built (a dependency failed) and not started (the
# build stopped at the first failure).
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "bad" { cmd = "exit 1", outputs = { "x" } }
command "dep" { inputs = { b = ":bad" }, cmd = "true", outputs = { "x" } }
command "dep2" { inputs = { b = ":dep" }, cmd = "true", outputs = { "x" } }
for i = 1, 5 do command("slow" .. i) { cmd = "sleep 0.2; echo " .. i .. " > {out}/x", outputs = { "x" } } end
command "fine" { cmd = "echo > {out}/x", outputs = { "x" } }
K
# sum OUT: the counts of the summary line, added up, and the total it names.
sum() {
	printf '%s\n' "$out" | grep '^kiln: [0-9]* targets:' | tail -1 |
		python3 -c 'import re,sys; l=sys.stdin.read(); t=int(re.search(r"(\d+) targets:", l).group(1)); n=[int(x) for x in re.findall(r"(?:^|,) (\d+) ", l.split("targets:", 1)[1])]; print(t, sum(n))'
}
fails 1 kiln build -j1 bad slow1 slow2 slow3 slow4 slow5 dep2
has ", 1 failed"
has ", 2 not built (a dependency failed)"
has "not started (the build stopped at the first failure; -k goes on)"
set -- $(sum)
[ "$1" = 8 ] && [ "$2" = 8 ] || fail "the counts add up to $2, not $1: $out"
# A failed step is not also counted as ran.
matches "^kiln: 8 targets: 0 ran, "
fails 1 kiln build -j2 -k
has "1 failed, 2 not built"
hasnt "not started"
set -- $(sum)
[ "$1" = 9 ] && [ "$2" = 9 ] || fail "the counts add up to $2, not $1: $out"
fails 1 kiln build -k
set -- $(sum)
[ "$1" = 9 ] && [ "$2" = 9 ] || fail "the counts add up to $2, not $1: $out"
matches "0 ran, 0 restored from the cache, 6 up to date, 1 failed, 2 not built"
