# The breast_cancer example: logistic regression, accuracy >= 0.95, and the
# binary metrics (ROC-AUC, log loss, confusion matrix) in metrics.json.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/breast_cancer/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build
ran 4
ok kiln metrics
acc=$(printf '%s\n' "$out" | awk '$1 == "bc_test" && $2 == "accuracy" { print $3 }')
auc=$(printf '%s\n' "$out" | awk '$1 == "bc_test" && $2 == "roc_auc" { print $3 }')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' || fail "breast_cancer accuracy '$acc' < 0.95"
awk -v a="$auc" 'BEGIN { exit !(a >= 0.98) }' || fail "breast_cancer ROC-AUC '$auc' < 0.98"
ok /usr/bin/python3 - <<'P'
import json
m = json.load(open("kiln-out/bc_test/metrics.json"))["metrics"]
c = m["confusion"]
assert len(c) == 2 and sum(map(sum, c)) == m["rows"] == 113, c
assert set(m["per_class"]) == {"benign", "malignant"}
assert 0 < m["log_loss"] < 0.2, m["log_loss"]
assert json.load(open("kiln-out/bc_logistic/model.json"))["outputs"] == 1
P
# The report of the dataset rule lists every column.
ok /usr/bin/python3 -c 'import json; r = json.load(open("kiln-out/breast_cancer/report.json")); assert r["rows"] == 569 and len(r["columns"]) == 31 and r["violation_count"] == 0'
