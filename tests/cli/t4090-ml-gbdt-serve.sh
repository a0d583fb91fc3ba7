# gbdt on breast_cancer: the trees that kiln serve loads from
# model.safetensors give, over HTTP, the test step's predictions (its
# accuracy, confusion matrix and log loss) and the probabilities numpy
# computes by walking the saved trees; the same bytes on 1 and 3 threads;
# the container rule packages the model.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/breast_cancer/data" .
cat > Kilnfile <<'K'
features "bc_raw" {
  data = "data/breast_cancer.csv",
  label = "diagnosis",
  scale = "none",
  split = { test = 0.2, seed = 42, stratify = true },
}
model "bc_gbdt" { features = ":bc_raw", algorithm = "gbdt", trees = 60, depth = 4, lr = 0.2, threads = 2 }
test "bc_gbdt_test" { model = ":bc_gbdt", features = ":bc_raw", min = { accuracy = 0.93 } }
container "bc_image" { model = ":bc_gbdt", metrics = ":bc_gbdt_test", name = "kiln/bc", tag = "1.0" }
K
ok kiln build bc_gbdt_test
grep -q "trained .* 60 trees (best round 60 of 60)" .kiln/logs/bc_gbdt.log ||
	fail "no trees in the log: $(cat .kiln/logs/bc_gbdt.log)"
port=$(free_port)
"$KILN_BIN" serve bc_gbdt --port "$port" >serve.log 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null"
for i in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	kill -0 $pid 2>/dev/null || { cat serve.log; fail "kiln serve exited"; }
	sleep 0.1
done
ok curl -sf "http://127.0.0.1:$port/v1/models/bc_gbdt"
has '"kind":"gbdt"'
has '"classes":["benign","malignant"]'

ok /usr/bin/python3 - "$port" <<'P'
import json, math, struct, sys, urllib.request
import numpy as np
port = sys.argv[1]
X = np.load("kiln-out/bc_raw/X_test.npy")
y = np.load("kiln-out/bc_raw/y_test.npy")
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/bc_gbdt:predict",
    data=json.dumps({"instances": X.tolist()}).encode(), headers={"Content-Type": "application/json"})
preds = json.load(urllib.request.urlopen(req))["predictions"]
classes = json.load(open("kiln-out/bc_gbdt/model.json"))["classes"]
p1 = np.array([p["probabilities"]["malignant"] for p in preds], np.float64)
lab = np.array([p["label"] for p in preds])
assert all(classes[p["label"]] == p["class"] for p in preds)

# The saved trees walked by numpy: base plus one leaf per tree, then a sigmoid.
b = open("kiln-out/bc_gbdt/model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); meta = h.pop("__metadata__")
assert meta["kind"] == "gbdt" and meta["inputs"] == str(X.shape[1]), meta
t = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
     {"F32": "<f4", "I64": "<i8"}[v["dtype"]]).reshape(v["shape"]) for k, v in h.items()}
nodes, splits, roots = t["gbdt.nodes"], t["gbdt.splits"], t["gbdt.roots"]
assert len(roots) == 60, len(roots)
def leaf(r, x):
    i = r
    while nodes[i, 0] >= 0:
        i = nodes[i, 1] if x[nodes[i, 0]] <= splits[i, 0] else nodes[i, 2]
    return float(splits[i, 1])
z = np.array([float(t["gbdt.base"][0]) + sum(leaf(r, x) for r in roots) for x in X])
want = 1 / (1 + np.exp(-z.astype(np.float32)))
assert np.allclose(p1, want, atol=2e-6), np.abs(p1 - want).max()

# The test step's metrics, from the served predictions.
m = json.load(open("kiln-out/bc_gbdt_test/metrics.json"))["metrics"]
acc = (lab == y).mean()
assert abs(acc - m["accuracy"]) < 1e-6, (acc, m["accuracy"])
conf = [[int(((y == a) & (lab == c)).sum()) for c in range(2)] for a in range(2)]
assert conf == m["confusion"], (conf, m["confusion"])
pc = np.clip(np.where(y == 1, p1, 1 - p1), 1e-15, 1)
ll = -np.log(pc).mean()
assert abs(ll - m["log_loss"]) < 1e-5, (ll, m["log_loss"])
P
kill -TERM $pid
wait $pid || true

# 1 and 3 threads: the same trees, byte for byte.
two=$(sha256sum < kiln-out/bc_gbdt/model.safetensors)
for n in 1 3; do
	sed -i "s/threads = [0-9] }/threads = $n }/" Kilnfile
	ok kiln build bc_gbdt
	ran 1
	[ "$(sha256sum < kiln-out/bc_gbdt/model.safetensors)" = "$two" ] ||
		fail "$n threads grew other trees than 2 threads"
done

# The container rule takes a gbdt model as it takes the others.
ok kiln build bc_image
[ -f kiln-out/bc_image/image.tar ] || fail "no image: $(ls kiln-out/bc_image)"
