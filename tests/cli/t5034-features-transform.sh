# features { transform = ":train_feat" }: new data gets the training
# features' fitted columns, one-hot vocabularies, classes and scaling (the
# matrix is checked against transform.json by hand here), every row a test
# row; a new category, a missing column and an unknown class are errors
# naming them; a field the transform decides is refused; and `test`
# refuses, naming both, a model and features whose transforms differ (the
# silent wrong accuracy of refitted features).
. "$(dirname "$0")/lib.sh"
mkdir data
/usr/bin/python3 - <<'P'
import random
random.seed(7)
cols = "size,weight,color,kind"
def rows(n, shift):
    out = []
    for i in range(n):
        k = random.choice(["a", "b"])
        base = 1.0 if k == "a" else 3.0
        color = random.choice(["red", "blue"]) if k == "a" else random.choice(["blue", "grey"])
        out.append("%.3f,%.3f,%s,%s" % (base + random.gauss(0, 0.5) + shift, 10 * base + random.gauss(0, 2), color, k))
    return out
open("data/train.csv", "w").write(cols + "\n" + "\n".join(rows(200, 0)) + "\n")
open("data/fresh.csv", "w").write(cols + "\n" + "\n".join(rows(60, 0.8)) + "\n")
P
cat >Kilnfile <<'K'
features "train_feat" { data = "data/train.csv", label = "kind", onehot = { "color" }, scale = "standard" }
model "lr" { features = ":train_feat", algorithm = "logistic" }
features "fresh_feat" { data = "data/fresh.csv", transform = ":train_feat" }
test "fresh_test" { model = ":lr", features = ":fresh_feat" }
K
ok kiln build
cmp kiln-out/train_feat/transform.json kiln-out/fresh_feat/transform.json || fail "the applied transform.json is not the training one"
[ ! -e kiln-out/fresh_feat/X_train.npy ] || fail "a transform applied has no training part"
# The matrix is the training scaling applied to the fresh rows, column by column.
ok /usr/bin/python3 - <<'P'
import csv, json, numpy as np
t = json.load(open("kiln-out/train_feat/transform.json"))
rows = list(csv.DictReader(open("data/fresh.csv")))
X = np.load("kiln-out/fresh_feat/X_test.npy")
y = np.load("kiln-out/fresh_feat/y_test.npy")
assert X.shape == (len(rows), len(t["columns"])), X.shape
for j, c in enumerate(t["columns"]):
    for i, r in enumerate(rows):
        v = r[c["source"]]
        want = float(v == c["value"]) if c["kind"] == "onehot" else (float(v) - c["center"]) / c["scale"]
        assert abs(X[i, j] - want) < 1e-5, (i, j, X[i, j], want)
assert list(y) == [t["classes"].index(r["kind"]) for r in rows]
P
ok kiln metrics fresh_test
has "accuracy"

# Refitted features: test refuses them, naming the model and the features.
cat >>Kilnfile <<'K'
features "fresh_refit" { data = "data/fresh.csv", label = "kind", onehot = { "color" }, scale = "standard" }
test "refit_test" { model = ":lr", features = ":fresh_refit" }
K
fails 1 kiln build refit_test
has "the model 'lr' and the features 'fresh_refit' were made with different transforms"
has "input column 1 ('size')"
has 'transform = ":TRAINING_FEATURES"'

# A category the training data never had.
sed -i '2s/,red,/,green,/; 2s/,blue,/,green,/; 2s/,grey,/,green,/' data/fresh.csv
fails 1 kiln build fresh_feat
has "data/fresh.csv: column 'color' row 1: category 'green' was not seen when 'train_feat' was fitted"
# An unknown class.
sed -i '2s/,green,\(.*\)$/,red,c/' data/fresh.csv
fails 1 kiln build fresh_feat
has "label column 'kind' row 1: class 'c' is not one of the 2 that 'train_feat' was fitted on"
# A missing column.
cut -d, -f1,3,4 data/train.csv >data/fresh.csv
fails 1 kiln build fresh_feat
has "data/fresh.csv: missing column 'weight', which the transform of 'train_feat' needs"
# What the transform decides cannot be set as well.
echo 'features "bad" { data = "data/fresh.csv", transform = ":train_feat", scale = "minmax" }' >>Kilnfile
fails 2 kiln build
has "features 'bad': field 'scale': the transform's is used (transform = \":train_feat\")"
