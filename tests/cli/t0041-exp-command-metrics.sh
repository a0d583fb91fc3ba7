# A command's params (in the key, {param.NAME}, $KILN_PARAMS) and its
# metrics file, whose numbers become the target's metrics: in kiln metrics,
# Kilnfile.lock and the run history, as a test target's are.
. "$(dirname "$0")/lib.sh"
cat > Kilnfile <<'K'
command "train" {
  cmd = [[cp "$KILN_PARAMS" {out}/params.json
          echo '{"accuracy": {param.lr}, "loss": {"train": 0.5, "val": {param.net.depth}}, "name": "x", "ok": true, "curve": [1, 2]}' > {out}/scores.json]],
  params = { lr = 0.25, net = { depth = 3 }, tag = "a b" },
  metrics = "scores.json",
  outputs = { "params.json" },
}
K
ok kiln build
python3 - <<'P' || fail "KILN_PARAMS does not hold the step's params"
import json
p = json.load(open("kiln-out/train/params.json"))
assert p == {"lr": 0.25, "net": {"depth": 3}, "tag": "a b"}, p
P
[ -f kiln-out/train/scores.json ] || fail "the metrics file is not kept as an output"
ok kiln metrics
matches "^train +accuracy +0.25$"
matches "^train +loss.train +0.5$"
matches "^train +loss.val +3$"
hasnt "curve"
hasnt " ok "
ok kiln metrics --json train
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d=={"train":{"accuracy":0.25,"loss.train":0.5,"loss.val":3.0}}, d' "$out" ||
	fail "metrics --json: $out"
grep -qx 'train metric accuracy 0.25' Kilnfile.lock || fail "no metric line in Kilnfile.lock"
grep -qx 'train param lr 0.25' Kilnfile.lock || fail "no param line in Kilnfile.lock"
grep -qx 'train param net.depth 3' Kilnfile.lock || fail "no nested param line in Kilnfile.lock"
grep -qx 'train param tag "a b"' Kilnfile.lock || fail "no string param line in Kilnfile.lock"
ok kiln status --check
# A param is part of the key.
sed -i 's/lr = 0.25/lr = 0.5/' Kilnfile
ok kiln why train
has "param 'lr' changed"
ok kiln build
ran 1
ok kiln metrics train
matches "^train +accuracy +0.5$"
ok kiln exp show
matches "accuracy"
# Errors: a param the command does not have, a reserved name, no metrics file, not an object.
cat > Kilnfile <<'K'
command "a" { cmd = "echo {param.nope} > {out}/x", params = { lr = 1 }, outputs = { "x" } }
K
fails 2 kiln build
has "cmd uses {param.nope}, but the target has no such param"
cat > Kilnfile <<'K'
command "a" { cmd = "true", params = { cmd = 1 }, outputs = { "x" } }
K
fails 2 kiln build
has "command 'a': field 'params': 'cmd' is the command's own field, not a param"
cat > Kilnfile <<'K'
command "a" { cmd = "true", metrics = "m.json" }
K
fails 1 kiln build
has "metrics file 'm.json'"
has "(the command must write it)"
cat > Kilnfile <<'K'
command "a" { cmd = "echo '[1]' > {out}/m.json", metrics = "m.json" }
K
fails 1 kiln build
has "metrics file 'm.json': expected a JSON object"
cat > Kilnfile <<'K'
command "a" { cmd = "true", metrics = 3, outputs = { "x" } }
K
fails 2 kiln build
has "command 'a': field 'metrics': expected the name of an output file"
