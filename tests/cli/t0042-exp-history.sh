# The run history: a record per build that ran or restored a target with
# metrics; kiln exp show (table, --json, --csv, --sort), exp diff, exp gc;
# a record torn by a killed build is dropped on read and cut off on append.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "data" { cmd = "seq 10 > {out}/d", outputs = { "d" } }
for i, lr in ipairs({ 0.1, 0.2 }) do
  command("m" .. i) {
    inputs = { d = ":data" },
    cmd = [[echo '{"acc": {param.acc}, "loss": {param.lr}}' > {out}/m.json]],
    params = { lr = lr, acc = 1 - lr, seed = 7 },
    metrics = "m.json",
  }
end
K
ok kiln exp show
has "no runs recorded yet"
ok kiln build
[ -f .kiln/history ] || fail "no .kiln/history after a build with metrics"
ok kiln build
has "nothing to do"
ok kiln exp show
[ "$(printf '%s\n' "$out" | wc -l)" = 3 ] || fail "an up-to-date build added a run: $out"
# Run 2: one target changed by an override.
ok kiln build -S m1.params.acc=0.95
ok kiln exp show
matches "^RUN +TARGET +COMMIT +acc +lr +acc +loss$"
matches "^2 +m1 +- +0.95 +0.1 +0.95 +0.1$"
hasnt "seed"
ok kiln exp show --all m2
matches "seed"
hasnt " m1 "
ok kiln exp show --json
printf '%s\n' "$out" > show.json
python3 - <<'P' || fail "exp show --json is not what it should be"
import json
rows = json.load(open("show.json"))
assert [(r["run"], r["target"]) for r in rows] == [(1, "m1"), (1, "m2"), (2, "m1")], rows
for r in rows:
    assert isinstance(r["params"], dict) and isinstance(r["metrics"], dict), r
    assert r["status"] == "ran" and len(r["key"]) == 32, r
assert rows[2]["params"]["acc"] == 0.95 and rows[2]["metrics"]["acc"] == 0.95, rows[2]
assert rows[2]["overrides"] == ["m1.params.acc=0.95"], rows[2]
assert "git" not in rows[0], rows[0]
P
ok kiln exp show --sort=-acc
[ "$(printf '%s\n' "$out" | sed -n 2p | awk '{print $1, $2}')" = "2 m1" ] || fail "--sort -acc: $out"
ok kiln exp show --sort acc
[ "$(printf '%s\n' "$out" | sed -n 2p | awk '{print $1, $2}')" = "1 m2" ] || fail "--sort acc: $out"
ok kiln exp show --csv
printf '%s\n' "$out" > show.csv
python3 -c 'import csv; r=list(csv.reader(open("show.csv"))); assert r[0][:3]==["RUN","TARGET","COMMIT"] and len(r)==4, r' ||
	fail "exp show --csv: $out"
ok kiln exp diff 1 2
has "m1                   param  acc                      0.9 -> 0.95 (+0.05)"
has "m1                   metric acc                      0.9 -> 0.95 (+0.05)"
has "m2                   target only in the first run"
hasnt "m2                   param"
ok kiln exp diff --json 1 2
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["a"]==1 and d["b"]==2 and len(d["changes"])==3, d' "$out" ||
	fail "exp diff --json: $out"
fails 2 kiln exp diff 1 9
has "no run 9"
fails 2 kiln exp diff 1 x
has "'x' is not a run id"
# Restoring counts too: back to the Kilnfile's values (run 3).
ok kiln build
ok kiln exp show --json
python3 -c 'import json,sys; r=json.loads(sys.argv[1])[-1]; assert r["run"]==3 and r["status"]=="restored", r' "$out" ||
	fail "a restore was not recorded: $out"
# A killed build: its record is torn off the end.
size=$(stat -c %s .kiln/history)
ok kiln build -S m2.params.acc=0.5
truncate -s $(( $(stat -c %s .kiln/history) - 7 )) .kiln/history
ok kiln exp show
has "bytes of a torn or damaged record at its end were left out"
hasnt "0.5  "
[ "$(printf '%s\n' "$out" | grep -c '^[0-9]')" = 4 ] || fail "expected the 4 sound rows: $out"
# The next build cuts the torn record off and appends after the last sound one.
ok kiln build -S m2.params.acc=0.6
ok kiln exp show m2
hasnt "torn"
matches "^4 +m2 .* 0.6"
[ "$(stat -c %s .kiln/history)" -gt "$size" ] || fail "history did not grow"
# gc keeps the last N; ids go on counting.
ok kiln exp gc --keep 2
has "removed 2 runs"
ok kiln exp show --json
python3 -c 'import json,sys; assert sorted({r["run"] for r in json.loads(sys.argv[1])})==[3,4]' "$out" || fail "gc: $out"
ok kiln build
ok kiln exp show --json
python3 -c 'import json,sys; assert json.loads(sys.argv[1])[-1]["run"]==5' "$out" || fail "ids after gc: $out"
fails 2 kiln exp gc --keep x
# A history that is a link is refused.
mv .kiln/history real
ln -s ../real .kiln/history
fails 2 kiln exp show
