# kiln verify rebuilds without the cache, elsewhere, and catches steps whose
# bytes are not reproducible: one that writes the time, one that writes a
# random number. Exit 0 identical, 1 differing, 2 error; --json; --deep;
# --against cache.
. "$(dirname "$0")/lib.sh"
mkdir data
seq 1 100 > data/n
cat > Kilnfile <<'K'
command "sum" { inputs = { n = "data/n" }, cmd = "awk '{s+=$1} END {print s}' {in.n} > {out}/sum", outputs = { "sum" } }
command "report" { inputs = { s = ":sum" }, cmd = "echo total $(cat {in.s}/sum) > {out}/r.txt", outputs = { "r.txt" } }
K
# Before anything is built there is nothing to compare with.
fails 2 kiln verify
has "'sum' is not built"
ok kiln build
ran 2
ok kiln verify
has "rebuilt 2 targets"
has "all 2 outputs of 2 targets identical to Kilnfile.lock"
ok kiln verify --against cache
has "identical to the cache"
# The rebuild ran elsewhere, without this workspace's cache: nothing of it is left here but the log.
[ -f .kiln/verify/build.log ] || fail "no rebuild log kept"
ok kiln verify --json
/usr/bin/python3 - "$out" <<'P' || fail "bad --json output"
import json, sys
d = json.loads(sys.argv[1])
assert d["result"] == "identical" and d["differences"] == [], d
assert {t["name"] for t in d["targets"]} == {"sum", "report"}, d
assert d["environment"]["workspace"] and d["environment"]["TZ"], d
P

# A step that writes the time and one that writes a random number.
cat >> Kilnfile <<'K'
command "stamp" { cmd = "date +%s.%N > {out}/when; echo fixed > {out}/fixed", outputs = { "when", "fixed" } }
command "dice" { cmd = "echo $RANDOM$RANDOM > {out}/roll", shell = "/bin/bash", outputs = { "roll" } }
command "uses_stamp" { inputs = { s = ":stamp" }, cmd = "cat {in.s}/when {in.s}/fixed > {out}/both", outputs = { "both" } }
K
ok kiln build
ran 3
fails 1 kiln verify
has "DIFFERS stamp when"
has "DIFFERS dice roll"
has "DIFFERS uses_stamp both"
hasnt "DIFFERS stamp fixed"
hasnt "DIFFERS sum"
lockdig=$(awk '$1 == "stamp" && $2 == "out" && $3 == "when" { print $4 }' Kilnfile.lock)
has "$lockdig"
matches "Kilnfile.lock: +[0-9]+ bytes  $lockdig"
matches "rebuilt: +[0-9]+ bytes  [0-9a-f]{32}"
has "kept at:       .kiln/verify/stamp/when"
[ -f .kiln/verify/stamp/when ] || fail "the rebuilt file was not kept"
cmp -s .kiln/verify/stamp/when kiln-out/stamp/when && fail "the kept file is the workspace's, not the rebuild's"
if command -v diffoscope >/dev/null; then
	has "diffoscope:    .kiln/verify/stamp/when.diffoscope.txt"
	[ -s .kiln/verify/stamp/when.diffoscope.txt ] || fail "empty diffoscope report"
fi
has "3 of 6 outputs differ; 2 of 5 targets identical"
hasnt "action key"

# Without --deep, a named target's dependencies are restored, not rebuilt:
# uses_stamp gets the same stamp and is identical; with --deep it is not.
ok kiln verify uses_stamp
has "rebuilt 1 target"
has "all 1 outputs of 1 targets identical"
fails 1 kiln verify --deep uses_stamp
has "DIFFERS stamp when"
has "DIFFERS uses_stamp both"
hasnt "dice"
ok kiln verify sum report
fails 1 kiln verify --against cache dice

fails 1 kiln verify --json dice
/usr/bin/python3 - "$out" <<'P' || fail "bad --json report of a difference"
import json, sys
d = json.loads(sys.argv[1])
assert d["result"] == "differs", d
(x,) = d["differences"]
assert x["target"] == "dice" and x["path"] == "roll", x
assert x["expected"]["digest"] != x["rebuilt"]["digest"], x
assert x["expected"]["size"] > 0 and x["rebuilt"]["size"] > 0, x
assert x["kept"] == ".kiln/verify/dice/roll", x
P

# A lock that does not record the current build is an error, not a difference.
cp Kilnfile.lock lock.saved
sed -i 's/^sum key .*/sum key 00000000000000000000000000000000/' Kilnfile.lock
fails 2 kiln verify sum
has "Kilnfile.lock does not record the current build of 'sum'"
fails 2 kiln verify --json sum
/usr/bin/python3 - "$(printf '%s\n' "$out" | sed -n '/^{/,/^}/p')" <<'P' || fail "bad --json report of an error"
import json, sys
d = json.loads(sys.argv[1])
assert d["result"] == "error" and "does not record the current build of 'sum'" in d["message"], d
P
rm Kilnfile.lock
fails 2 kiln verify sum
has "cannot read Kilnfile.lock"
mv lock.saved Kilnfile.lock
fails 2 kiln verify --against sideways
fails 2 kiln verify nosuch
