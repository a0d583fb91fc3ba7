# The report in a real browser: Debian's chromium, headless, with the
# network denied, opens the report of examples/loans (a failing fairness
# gate, a regression) and of a sweep; every chart renders with marks, the
# failed gate is drawn red, nothing is requested from the network, no
# console error. Screenshots are kept in $KILN_TEST_OUT.
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/chromium ] || fail "no /usr/bin/chromium (bootstrap.sh installs it)"
[ -d "$top/report/node_modules/playwright-core" ] || fail "no playwright-core in report/node_modules (bootstrap.sh runs npm ci)"
outdir=${KILN_TEST_OUT:-$scratch/out}
mkdir -p "$outdir"
export KILN_TOP=$top

cp -r "$top/examples/loans/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<'K'
features "amount_feat" {
  data = ":loans", label = "loan_amount", task = "regression", onehot = { "group" },
  split = { test = 0.2, seed = 1 },
}
model "amount_ridge" { features = ":amount_feat", algorithm = "ridge" }
test "amount_test" { model = ":amount_ridge", features = ":amount_feat" }
K
fails 1 kiln build -k
ok kiln report
cat >expect.json <<'J'
{"sections": ["data", "training", "tests", "fairness", "revisions"],
 "items": [
  {"section": "data", "target": "loans", "status": "passed", "charts": ["income", "group"]},
  {"section": "training", "target": "loans_lr", "charts": ["Loss per epoch"]},
  {"section": "tests", "target": "loans_eval", "status": "passed",
   "charts": ["Confusion matrix", "ROC curve", "Precision-recall curve", "Calibration"]},
  {"section": "tests", "target": "amount_test", "status": "passed", "charts": ["Predicted against true", "Residuals"]},
  {"section": "tests", "target": "loans_gate", "status": "failed", "charts": ["Gates", "ROC curve"]},
  {"section": "fairness", "target": "loans_gate", "status": "failed", "charts": ["Metrics per group", "Differences between groups"]},
  {"section": "fairness", "target": "loans_eval", "charts": ["Metrics per group"]}
 ]}
J
ok node "$top/tests/report/check.cjs" kiln-out/report.html expect.json "$outdir/loans.png"
printf '%s\n' "$out"
has "report: 8 items"
[ -s "$outdir/loans.png" ] || fail "no screenshot"
