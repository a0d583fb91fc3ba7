# A features folder (NPY files and a transform.json that names the classes
# but no label, as bench/train.sh and bench/gbdt.sh write): a model trained
# on it is scored by test on it; the same folder with another label is
# refused, naming what differs.
. "$(dirname "$0")/lib.sh"
mkdir feat
ok /usr/bin/python3 - <<'P'
import json
import numpy as np
r = np.random.default_rng(0)
X = r.normal(size=(200, 3)).astype("<f4")
y = (X[:, 0] + X[:, 1] > 0).astype("<i8")
for part, rows in (("train", slice(0, 150)), ("test", slice(150, 200))):
    np.save("feat/X_%s.npy" % part, X[rows])
    np.save("feat/y_%s.npy" % part, y[rows])
json.dump({"classes": ["a", "b"]}, open("feat/transform.json", "w"))
P
cat > Kilnfile <<'K'
model "m" { features = "feat", algorithm = "logistic" }
test "t" { model = ":m", features = "feat", min = { accuracy = 0.9 } }
K
ok kiln build t
cp -r feat other
/usr/bin/python3 -c 'import json; json.dump({"classes": ["a", "b"], "label": "z"}, open("other/transform.json", "w"))'
cat >> Kilnfile <<'K'
test "t2" { model = ":m", features = "other" }
K
fails 1 kiln build t2
has "the model 'm' and the features 'other' were made with different transforms (their label differ)"
