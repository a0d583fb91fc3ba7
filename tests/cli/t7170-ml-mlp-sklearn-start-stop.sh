# The MLP starts and stops as scikit-learn's MLPClassifier: weights and
# biases drawn from U(-b, b), b = sqrt(6 / (in + out)); without validation
# it stops after more than `patience` epochs whose training loss is not
# `tol` below the best (n_iter_no_change); with every default left alone it
# scores as MLPClassifier() on breast_cancer's split; threads keep the bytes.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/breast_cancer/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >> Kilnfile <<'K'
model "mlp_default" { features = ":bc_feat", algorithm = "mlp" }
test "mlp_default_test" { model = ":mlp_default", features = ":bc_feat" }
-- An lr too small to move anything: the model is its initial draw.
model "mlp_start" { features = ":bc_feat", algorithm = "mlp", hidden = { 50 }, epochs = 1, lr = 1e-12 }
-- No epoch can fall 1000 below the best: the 1st sets it, 2 to 4 stall, the 4th stops.
model "mlp_stop" { features = ":bc_feat", algorithm = "mlp", hidden = { 8 }, epochs = 50, tol = 1000, patience = 2 }
K
ok kiln build mlp_default_test mlp_start mlp_stop
ok /usr/bin/python3 - <<'P'
import json, struct
acc = json.load(open("kiln-out/mlp_default_test/metrics.json"))["metrics"]["accuracy"]
assert acc >= 0.98, acc   # scikit-learn's MLPClassifier() scores 0.9823 on this split
raw = open("kiln-out/mlp_start/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
def tensor(name):
    a, b = head[name]["data_offsets"]
    return struct.unpack("<%df" % ((b - a) // 4), raw[8 + n + a:8 + n + b])
for name, fan in (("layer0", 30 + 50), ("layer1", 50 + 2)):
    bound = (6 / fan) ** 0.5
    for part in ("weight", "bias"):
        v = tensor(name + "." + part)
        assert max(abs(x) for x in v) <= bound * (1 + 1e-6), (name, part, max(v), bound)
        # Drawn, not zero: the largest of n uniform draws is near the bound.
        assert max(abs(x) for x in v) > bound / 2, (name, part, v[:4], bound)
h = json.load(open("kiln-out/mlp_stop/history.json"))
assert len(h["epochs"]) == 4, [e["loss"] for e in h["epochs"]]
assert h["best_epoch"] == 4, h["best_epoch"]
P
one=$(sha256sum < kiln-out/mlp_default/model.safetensors)
sed -i 's/^model "mlp_default" { features = ":bc_feat", algorithm = "mlp" }/model "mlp_default" { features = ":bc_feat", algorithm = "mlp", threads = 2 }/' Kilnfile
ok kiln build mlp_default
[ "$(sha256sum < kiln-out/mlp_default/model.safetensors)" = "$one" ] || fail "2 threads fitted other bytes"
