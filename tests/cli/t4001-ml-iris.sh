# The iris example end to end: validate, featurize, train (softmax), test.
# Accuracy floor 0.93; the artifacts open with numpy; a second build does
# nothing; a fresh build without the cache gives the same model bytes.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build
ran 4
ok kiln metrics
acc=$(printf '%s\n' "$out" | awk '$1 == "iris_test" && $2 == "accuracy" { print $3 }')
[ -n "$acc" ] || fail "no accuracy metric for iris_test"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.93) }' || fail "iris accuracy $acc < 0.93"
ok kiln build
has "nothing to do"
# numpy reads the NPY files; shapes, dtypes and the standard scaling of the
# training part (mean 0, deviation 1) are what they should be.
ok /usr/bin/python3 - <<'P'
import json, numpy as np
d = "kiln-out/iris_feat/"
X, y = np.load(d + "X_train.npy"), np.load(d + "y_train.npy")
Xt, yt = np.load(d + "X_test.npy"), np.load(d + "y_test.npy")
assert X.dtype == np.float32 and X.shape == (120, 4), (X.dtype, X.shape)
assert y.dtype == np.int64 and y.shape == (120,), (y.dtype, y.shape)
assert Xt.shape == (30, 4) and yt.shape == (30,)
assert np.allclose(X.mean(0), 0, atol=1e-5) and np.allclose(X.std(0), 1, atol=1e-4)
assert list(np.bincount(yt)) == [10, 10, 10], np.bincount(yt)   # stratified
t = json.load(open(d + "transform.json"))
assert t["classes"] == ["setosa", "versicolor", "virginica"], t["classes"]
P
# The safetensors file as the format defines it, and its weights reproduce
# the test's accuracy through numpy.
ok /usr/bin/python3 - <<'P'
import json, struct, numpy as np
b = open("kiln-out/iris_softmax/model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
meta = h.pop("__metadata__")
assert meta["kind"] == "softmax", meta
t = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                      "<f4").reshape(v["shape"]) for k, v in h.items()}
X = np.load("kiln-out/iris_feat/X_test.npy"); y = np.load("kiln-out/iris_feat/y_test.npy")
acc = ((X @ t["layer0.weight"] + t["layer0.bias"]).argmax(1) == y).mean()
m = json.load(open("kiln-out/iris_test/metrics.json"))
assert abs(acc - m["metrics"]["accuracy"]) < 1e-6, (acc, m["metrics"]["accuracy"])
P
sum1=$(sha256sum kiln-out/iris_softmax/model.safetensors kiln-out/iris_feat/*.npy kiln-out/*/*.json)
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
ok kiln build
ran 4
sum2=$(sha256sum kiln-out/iris_softmax/model.safetensors kiln-out/iris_feat/*.npy kiln-out/*/*.json)
[ "$sum1" = "$sum2" ] || fail "a fresh build gave different bytes: $sum1 / $sum2"
