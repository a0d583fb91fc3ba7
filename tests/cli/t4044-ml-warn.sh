# test's warn table: a crossed warning limit is printed in the build's
# output and listed in metrics.json, and the test still passes. A failed
# gate writes its metrics.json into its log (its metrics are still sent to
# kiln before it fails, as a passing test sends them).
. "$(dirname "$0")/lib.sh"
mkdir data
cp "$top/examples/iris/data/iris.csv" data/
cat > Kilnfile <<'K'
dataset "iris" { source = "data/iris.csv" }
features "f" { data = ":iris", label = "species" }
model "m" { features = ":f", algorithm = "softmax", epochs = 40, lr = 0.05 }
test "t" { model = ":m", features = ":f", min = { accuracy = 0.5 },
  warn = { min = { accuracy = 1.5 }, max = { log_loss = 100 } } }
K
ok kiln build
has "kiln: warning: Kilnfile:4: target 't': accuracy "
has "is below the warning minimum 1.5"
hasnt "log_loss"
ok /usr/bin/python3 - <<'P'
import json
m = json.load(open("kiln-out/t/metrics.json"))
assert m["passed"] is True, m
assert m["warnings"].startswith("accuracy ") and "warning minimum 1.5" in m["warnings"], m
kinds = {(c["kind"], c["metric"]): c["passed"] for c in m["checks"]}
assert kinds == {("min", "accuracy"): True, ("warn_min", "accuracy"): False, ("warn_max", "log_loss"): True}, kinds
P
grep -q "is below the warning minimum 1.5" .kiln/logs/t.log || fail "the warning is not in the log"
# Without warn limits metrics.json has no "warnings".
sed -i 's/,$//; /warn = /d' Kilnfile
sed -i 's/min = { accuracy = 0.5 }/min = { accuracy = 0.5 } }/' Kilnfile
ok kiln build
hasnt "warning"
grep -q '"warnings"' kiln-out/t/metrics.json && fail "metrics.json has warnings without warn limits"
# A failed gate: its metrics.json is in the log.
sed -i 's/min = { accuracy = 0.5 }/min = { accuracy = 1.5 }/' Kilnfile
fails 1 kiln build
has "target 't' failed: test failed: accuracy"
grep -q "its metrics.json, which is not kept as an output" .kiln/logs/t.log || fail "no metrics.json in the log: $(cat .kiln/logs/t.log)"
grep -q '"passed": false' .kiln/logs/t.log || fail "the logged metrics.json does not say it failed"
grep -qE '"accuracy": [0-9.]+,' .kiln/logs/t.log || fail "the logged metrics.json lacks the accuracy"
# Mistakes.
bad() { sed -i '/^test /d' Kilnfile; printf '%s\n' "$1" >> Kilnfile; fails 2 kiln build; has "$2"; }
bad 'test "t" { model = ":m", features = ":f", warn = { min = { acc = 1 } } }' "test 't': unknown field 'warn.min.acc'"
bad 'test "t" { model = ":m", features = ":f", warn = { below = {} } }' "test 't': unknown field 'warn.below'"
bad 'test "t" { model = ":m", features = ":f", warn = 3 }' "test 't': field 'warn': expected a table"
