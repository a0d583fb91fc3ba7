# features' split.validation: X_val.npy and y_val.npy, taken out of the
# training rows (the test rows are those of the same split without it;
# scaling is fitted on the training rows only); a test reports
# the validation metrics too, and a select ranks on them.
. "$(dirname "$0")/lib.sh"
mkdir data
cp "$top/examples/iris/data/iris.csv" data/
cat > Kilnfile <<'K'
dataset "iris" { source = "data/iris.csv" }
-- No scaling, which the training rows would fit: X_test compares as it is.
features "plain" { data = ":iris", label = "species", scale = "none", split = { test = 0.2, seed = 42 } }
features "f" { data = ":iris", label = "species", scale = "none", split = { test = 0.2, validation = 0.2, seed = 42 } }
model "a" { features = ":f", algorithm = "softmax", epochs = 2, lr = 0.01 }
model "b" { features = ":f", algorithm = "softmax", epochs = 60, lr = 0.05 }
test "ta" { model = ":a", features = ":f" }
test "tb" { model = ":b", features = ":f" }
select "best" { candidates = { { model = ":a", test = ":ta" }, { model = ":b", test = ":tb" } }, by = "f1_macro" }
K
ok kiln build -j2
ls kiln-out/f/X_val.npy kiln-out/f/y_val.npy >/dev/null || fail "no validation files"
[ ! -e kiln-out/plain/X_val.npy ] || fail "a split without validation wrote X_val.npy"
cmp kiln-out/f/X_test.npy kiln-out/plain/X_test.npy || fail "a validation split changed the test rows"
cmp kiln-out/f/y_test.npy kiln-out/plain/y_test.npy || fail "a validation split changed the test labels"
ok kiln metrics
matches "f +validation_rows +30"
matches "f +train_rows +90"
matches "ta +validation.accuracy +"
ok /usr/bin/python3 - <<'P'
import json
import numpy as np
xv, yv = np.load("kiln-out/f/X_val.npy"), np.load("kiln-out/f/y_val.npy")
xt, xp = np.load("kiln-out/f/X_train.npy"), np.load("kiln-out/plain/X_train.npy")
assert xv.shape == (30, 4) and xv.dtype == np.float32 and yv.shape == (30,) and yv.dtype == np.int64
assert xt.shape[0] + xv.shape[0] == xp.shape[0] == 120, (xt.shape, xp.shape)
assert sorted(np.bincount(yv)) == [10, 10, 10], np.bincount(yv)   # stratified
t = json.load(open("kiln-out/f/transform.json"))["split"]
assert t["validation"] == 0.200000003 and t["validation_rows"] == 30 and t["train_rows"] == 90, t
p = json.load(open("kiln-out/plain/transform.json"))["split"]
assert "validation" not in p and "validation_rows" not in p, p
m = json.load(open("kiln-out/tb/metrics.json"))
assert set(m["validation"]) >= {"accuracy", "f1_macro", "log_loss"} and m["validation"]["f1_macro"] > 0.5, m
s = json.load(open("kiln-out/best/selection.json"))
assert s["ranked_on"] == "validation", s
for c in s["candidates"]:
    assert c["value"] == c["validation_value"] and "test_value" in c, c
assert s["winner"]["model"] == ":b", s
P
# A test on features without a validation split has no validation metrics.
cat >> Kilnfile <<'K'
model "c" { features = ":plain", algorithm = "softmax", epochs = 5 }
test "tc" { model = ":c", features = ":plain" }
K
ok kiln build tc
grep -q '"validation"' kiln-out/tc/metrics.json && fail "validation metrics without a validation split"
# Mistakes.
bad() { printf 'dataset "iris" { source = "data/iris.csv" }\n%s\n' "$1" > Kilnfile; fails 2 kiln build; has "$2"; }
bad 'features "f" { data = ":iris", label = "species", split = { test = 0.5, validation = 0.5 } }' \
	"features 'f': field 'split': test and validation shares add up to 1; at most 0.9"
bad 'features "f" { data = ":iris", label = "species", split = { validation = 0 } }' \
	"features 'f': field 'split.validation': expected a fraction in [0.01, 0.9], got 0"
