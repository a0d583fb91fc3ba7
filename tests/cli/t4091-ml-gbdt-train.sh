# gbdt training: softmax on digits (one tree per class per round) with early
# stopping on a hold-out of the training rows; early stopping on the
# features' X_val.npy when they have one (featurize's split.validation, or
# a folder's); a regression by squared error.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/digits/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >> Kilnfile <<'K'
model "digits_gbdt" { features = ":digits_feat", algorithm = "gbdt", trees = 300, depth = 4, lr = 0.3, validation = 0.2, patience = 5, threads = 2 }
test "digits_gbdt_test" { model = ":digits_gbdt", features = ":digits_feat", min = { accuracy = 0.94 } }
K
ok kiln build digits_gbdt_test
grep -q "early stopping on a hold-out of the training rows" .kiln/logs/digits_gbdt.log ||
	fail "no early stopping: $(cat .kiln/logs/digits_gbdt.log)"
ok /usr/bin/python3 - <<'P'
import json
h = json.load(open("kiln-out/digits_gbdt/history.json"))
m = json.load(open("kiln-out/digits_gbdt/model.json"))
n, best = len(h["epochs"]), h["best_epoch"]
assert h["val_metric"] == "log_loss" and n < 300 and best + 5 == n, (n, best)
vals = [e["val"] for e in h["epochs"]]
assert min(vals) == vals[best - 1], (min(vals), vals[best - 1])
assert m["kind"] == "gbdt" and m["trees"] == 10 * best, (m["trees"], best)
assert m["hyperparameters"]["depth"] == 4 and m["outputs"] == 10, m
assert m["train_rows"] == 1438, m["train_rows"]   # the hold-out included, as for the others
P

# featurize's validation split (split.validation) stops the training.
cat >> Kilnfile <<'K'
features "digits_val" { data = ":digits", label = "digit", split = { test = 0.2, validation = 0.2, seed = 42, stratify = true } }
model "digits_gbdt_v" { features = ":digits_val", algorithm = "gbdt", trees = 300, depth = 3, lr = 0.5, patience = 3 }
K
ok kiln build digits_gbdt_v
grep -q "early stopping on X_val.npy" .kiln/logs/digits_gbdt_v.log ||
	fail "featurize's X_val.npy not used: $(cat .kiln/logs/digits_gbdt_v.log)"
ok /usr/bin/python3 -c 'import json; h = json.load(open("kiln-out/digits_gbdt_v/history.json")); assert len(h["epochs"]) < 300 and h["best_epoch"] + 3 == len(h["epochs"]), h["best_epoch"]'

# A features folder with a validation split: it is what stops the training.
ok /usr/bin/python3 - <<'P'
import numpy as np, os
r = np.random.default_rng(3)
os.makedirs("vfeat")
def make(n, noise):
    X = r.uniform(-1, 1, (n, 5)).astype("<f4")
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype("<i8")
    flip = r.uniform(size=n) < noise
    y[flip] = 1 - y[flip]
    return X, y
for part, n, noise in (("train", 2000, 0.25), ("val", 500, 0.25), ("test", 500, 0)):
    X, y = make(n, noise)
    np.save(f"vfeat/X_{part}.npy", X)
    np.save(f"vfeat/y_{part}.npy", y)
# A regression: a step and a slope.
os.makedirs("rfeat")
for part, n in (("train", 2000), ("test", 500)):
    X = r.uniform(-1, 1, (n, 4)).astype("<f4")
    np.save(f"rfeat/X_{part}.npy", X)
    np.save(f"rfeat/y_{part}.npy", (np.where(X[:, 2] > 0.25, 3, -1) + X[:, 3]).astype("<f4"))
P
cat > Kilnfile <<'K'
model "xor" { features = "vfeat", algorithm = "gbdt", trees = 400, depth = 6, lr = 0.3, min_child_weight = 0, patience = 8 }
test "xor_test" { model = ":xor", features = "vfeat", min = { accuracy = 0.9 } }
model "reg" { features = "rfeat", algorithm = "gbdt", trees = 80, depth = 3, lr = 0.3 }
test "reg_test" { model = ":reg", features = "rfeat", max = { rmse = 0.15 } }
K
ok kiln build
grep -q "early stopping on X_val.npy" .kiln/logs/xor.log || fail "X_val.npy not used: $(cat .kiln/logs/xor.log)"
ok /usr/bin/python3 - <<'P'
import json
h = json.load(open("kiln-out/xor/history.json"))
assert len(h["epochs"]) < 400 and h["best_epoch"] + 8 == len(h["epochs"]), (len(h["epochs"]), h["best_epoch"])
r = json.load(open("kiln-out/reg/model.json"))
assert r["task"] == "regression" and r["outputs"] == 1 and r["trees"] == 80, r
assert json.load(open("kiln-out/reg/history.json"))["val_metric"] == "mse"
P
# A validation split that does not match the training one is refused.
/usr/bin/python3 -c 'import numpy as np; np.save("vfeat/X_val.npy", np.zeros((5, 3), "<f4"))'
fails 1 kiln build xor
has "vfeat/X_val.npy: expected a float32 matrix of 5 columns"
