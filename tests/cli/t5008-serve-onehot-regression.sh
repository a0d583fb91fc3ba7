# kiln-serve with a one-hot column (loans: logistic regression, group A/B)
# and with a regression (ridge on the same data): predictions match numpy's forward pass of model.json's transform and the weights;
# categories must be strings, numbers must be numbers.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/loans/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<'K'
features "amount_feat" {
  data = ":loans", label = "loan_amount", task = "regression", onehot = { "group" },
  split = { test = 0.2, seed = 1 },
}
model "amount_ridge" { features = ":amount_feat", algorithm = "ridge" }
K
ok kiln build loans_lr amount_ridge
start() { serve_model "kiln-out/$1" "$1.log" --threads 2; }
start loans_lr
lport=$port
start amount_ridge
rport=$port
ok curl -sf "http://127.0.0.1:$lport/v1/models/loans_lr"
has '{"name":"group","type":"string","values":["A","B"]}'
has '"classes":["0","1"]'

ok /usr/bin/python3 - "$lport" "$rport" <<'P'
import csv, json, struct, sys, urllib.request, urllib.error
import numpy as np
lport, rport = sys.argv[1:]
rows = list(csv.DictReader(open("data/loans.csv")))[:200]
def post(port, name, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{name}:predict",
                                 data=json.dumps(body).encode())
    try:
        return 200, json.load(urllib.request.urlopen(req))
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
def load(d):
    m = json.load(open(d + "/model.json"))
    b = open(d + "/model.safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    t = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4").reshape(v["shape"]) for k, v in h.items()}
    return m, t
def features(m, r):
    x = []
    for c in m["transform"]["columns"]:
        v = r[c["source"]]
        x.append(float(v == c["value"]) if c["kind"] == "onehot" else (float(v) - c["center"]) / c["scale"])
    return x
def raw(m, r):
    out = {}
    for c in m["transform"]["columns"]:
        s = c["source"]
        out[s] = r[s] if c["kind"] == "onehot" else float(r[s])
    return out

# Logistic with a one-hot group.
m, t = load("kiln-out/loans_lr")
X = np.array([features(m, r) for r in rows], np.float32)
p1 = 1 / (1 + np.exp(-(X @ t["layer0.weight"] + t["layer0.bias"])[:, 0]))
code, res = post(lport, "loans_lr", {"instances": [raw(m, r) for r in rows]})
assert code == 200, res
for i, p in enumerate(res["predictions"]):
    assert p["class"] == ("1" if p1[i] > 0.5 else "0"), (i, p, p1[i])
    assert abs(p["probabilities"]["1"] - p1[i]) < 1e-5, (i, p, p1[i])
    assert abs(p["probabilities"]["0"] + p["probabilities"]["1"] - 1) < 1e-5
# As lists, in the order GET /v1/models lists the inputs.
meta = json.load(urllib.request.urlopen(f"http://127.0.0.1:{lport}/v1/models/loans_lr"))
order = [c["name"] for c in meta["inputs"]]
code, res2 = post(lport, "loans_lr", {"instances": [[raw(m, r)[c] for c in order] for r in rows]})
assert code == 200 and res2 == res, res2
# A category as a number, a number as a string: 400, with the column named.
bad = raw(m, rows[0]); bad["group"] = 1
code, e = post(lport, "loans_lr", {"instances": [bad]})
assert code == 400 and "column 'group' takes a string" in e["error"], (code, e)
bad = raw(m, rows[0]); bad["income"] = "lots"
code, e = post(lport, "loans_lr", {"instances": [bad]})
assert code == 400 and "column 'income' takes a number" in e["error"], (code, e)

# Ridge regression: the values themselves. The train plugin keeps no
# transform for a regression (model.json says "transform": null), so this
# model takes its 7 inputs already transformed, and refuses column names.
m, t = load("kiln-out/amount_ridge")
assert m["task"] == "regression"
tr = json.load(open("kiln-out/amount_feat/transform.json"))
X = np.array([features({"transform": tr}, r) for r in rows], np.float32)
y = (X @ t["layer0.weight"] + t["layer0.bias"])[:, 0]
code, res = post(rport, "amount_ridge", {"instances": X.tolist()})
assert code == 200, res
got = np.array(res["predictions"], np.float64)
assert np.allclose(got, y, rtol=1e-5, atol=1e-2), (got[:5], y[:5])
code, e = post(rport, "amount_ridge", {"instances": [raw({"transform": tr}, rows[0])]})
assert code == 400 and "no column names" in e["error"], (code, e)
P
