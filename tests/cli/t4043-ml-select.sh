# select: the best candidate by a test metric. A candidate whose test fails
# is left out (the build goes on and succeeds) and selection.json says so;
# ties go to the earlier candidate; goal = "min"; no candidate left fails
# the select, naming each; its output is a model for test and kiln serve.
. "$(dirname "$0")/lib.sh"
mkdir data
cp "$top/examples/iris/data/iris.csv" data/
cat > common.lua <<'K'
dataset "iris" { source = "data/iris.csv" }
features "f" { data = ":iris", label = "species", split = { test = 0.2, seed = 42 } }
model "weak" { features = ":f", algorithm = "softmax", epochs = 1, lr = 0.001 }
model "strong" { features = ":f", algorithm = "softmax", epochs = 60, lr = 0.05 }
model "twin" { features = ":f", algorithm = "softmax", epochs = 60, lr = 0.05 }
test "t_weak" { model = ":weak", features = ":f" }
test "t_twin" { model = ":twin", features = ":f" }
K
# 1. The best candidate's test fails its gate: the next best is chosen.
cat > Kilnfile <<'K'
include "common.lua"
test "t_strong" { model = ":strong", features = ":f", min = { accuracy = 1.5 } }
select "best" {
  candidates = { { model = ":weak", test = ":t_weak" }, { model = ":strong", test = ":t_strong" } },
  by = "accuracy", goal = "max",
}
K
ok kiln build -j2 best
has "target 't_strong' failed: test failed: accuracy"
has "left out: 'best' takes it as a soft input and runs without it"
ok /usr/bin/python3 - <<'P'
import json
s = json.load(open("kiln-out/best/selection.json"))
assert s["by"] == "accuracy" and s["goal"] == "max" and s["ranked_on"] == "test", s
c = s["candidates"]
assert [x["model"] for x in c] == [":weak", ":strong"], c
assert c[1]["left_out"] == "its test failed or did not run" and c[1]["value"] is None, c
assert c[0]["value"] > 0 and "left_out" not in c[0], c
assert s["winner"]["model"] == ":weak" and s["winner"]["position"] == 1, s
P
cmp kiln-out/best/model.safetensors kiln-out/weak/model.safetensors || fail "best is not weak's model"
cmp kiln-out/best/model.json kiln-out/weak/model.json || fail "best's model.json is not weak's"
ok kiln metrics
matches "best +candidate +1"

# 2. Both pass: the strong one wins; the twin (the same model, later) ties
# and loses to the earlier candidate; with goal = "min" on log loss too.
cat > Kilnfile <<'K'
include "common.lua"
test "t_strong" { model = ":strong", features = ":f" }
select "best" {
  candidates = { { model = ":weak", test = ":t_weak" }, { model = ":strong", test = ":t_strong" },
    { model = ":twin", test = ":t_twin" } },
  by = "accuracy",
}
select "least_loss" {
  candidates = { { model = ":twin", test = ":t_twin" }, { model = ":weak", test = ":t_weak" },
    { model = ":strong", test = ":t_strong" } },
  by = "log_loss", goal = "min",
}
test "final" { model = ":best", features = ":f", min = { accuracy = 0.9 } }
K
ok kiln build -j2
ok /usr/bin/python3 - <<'P'
import json
s = json.load(open("kiln-out/best/selection.json"))
v = [x["value"] for x in s["candidates"]]
assert v[1] == v[2] and v[1] > v[0], v
assert s["winner"]["model"] == ":strong" and s["winner"]["position"] == 2, s
m = json.load(open("kiln-out/least_loss/selection.json"))
v = [x["value"] for x in m["candidates"]]
assert m["goal"] == "min" and v[0] == v[2] and v[0] < v[1], v
assert m["winner"]["model"] == ":twin" and m["winner"]["position"] == 1, m
P
grep -q "^\* 2 strong (t_strong): accuracy" .kiln/logs/best.log || fail "best's log: $(cat .kiln/logs/best.log)"
[ -f kiln-out/final/metrics.json ] || fail "a test of the select's output did not run"

# kiln serve takes a select: it serves the chosen model.
serve_target best
ok curl -sf "http://127.0.0.1:$port/v1/models/best"
has "sha256:$(sha256sum kiln-out/strong/model.safetensors | cut -c1-64)"
kill $pid
wait $pid 2>/dev/null || true

# 3. Every candidate fails: the select fails and says why for each.
cat > Kilnfile <<'K'
include "common.lua"
test "t_strong" { model = ":strong", features = ":f", min = { accuracy = 1.5 } }
test "t_weak2" { model = ":weak", features = ":f", min = { accuracy = 1.5 } }
select "best" {
  candidates = { { model = ":weak", test = ":t_weak2" }, { model = ":strong", test = ":t_strong" } },
  by = "accuracy",
}
K
fails 1 kiln build -j2 best
has "target 'best' failed: no candidate passed, nothing to choose: 1 (weak, t_weak2): its test failed or did not run; 2 (strong, t_strong): its test failed or did not run"

# 4. Mistakes: a metric the tests do not have, and the rule's checks.
cat > Kilnfile <<'K'
include "common.lua"
select "best" { candidates = { { model = ":weak", test = ":t_weak" } }, by = "acuracy" }
K
fails 1 kiln build best
has "target 'best' failed: test 't_weak': its metrics.json has no metric 'acuracy' to choose by"
bad() { printf 'include "common.lua"\n%s\n' "$1" > Kilnfile; fails 2 kiln build; has "$2"; }
bad 'select "b" { candidates = { { model = ":weak", test = ":t_weak" } }, by = "accuracy", goal = "mid" }' \
	"Kilnfile:2: select 'b': field 'goal': expected \"max\" or \"min\", got \"mid\""
bad 'select "b" { candidates = {}, by = "accuracy" }' "select 'b': field 'candidates': expected a non-empty list"
bad 'select "b" { candidates = { { model = ":weak" } }, by = "accuracy" }' "select 'b': field 'candidates[1].test' is required"
bad 'select "b" { candidates = { { model = "weak", test = ":t_weak" } }, by = "accuracy" }' \
	"select 'b': field 'candidates[1].model': expected a \":model\" target"
bad 'select "b" { candidates = { { model = ":weak", test = ":t_weak" } } }' "select 'b': field 'by' is required"
