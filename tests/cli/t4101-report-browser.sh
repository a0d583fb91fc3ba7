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
git init -q . && git config user.email t@example.com && git config user.name t
cat >>Kilnfile <<'K'
features "amount_feat" {
  data = ":loans", label = "loan_amount", task = "regression", onehot = { "group" },
  split = { test = 0.2, seed = 1 },
}
model "amount_ridge" { features = ":amount_feat", algorithm = "ridge" }
test "amount_test" { model = ":amount_ridge", features = ":amount_feat" }
K
fails 1 kiln build -k
git add -A && git commit -qm one
# A second revision of Kilnfile.lock: another model, other metrics.
sed -i 's/l2 = 1e-4,/l2 = 0.05,/' Kilnfile
fails 1 kiln build -k
git add -A && git commit -qm two
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
  {"section": "fairness", "target": "loans_eval", "charts": ["Metrics per group"]},
  {"section": "revisions", "target": "Kilnfile.lock", "charts": ["accuracy across revisions"]}
 ]}
J
ok node "$top/tests/report/check.cjs" kiln-out/report.html expect.json "$outdir/loans.png"
printf '%s\n' "$out"
has "report: 10 items"
[ -s "$outdir/loans.png" ] || fail "no screenshot"

# A sweep: six variants, a select, the run history as a sortable table.
mkdir ../sweep && cd ../sweep
cp -r "$top/examples/sweep/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build -j2
ok kiln build -S 'digits_final.min={ accuracy = 0.5 }'
ok kiln report
cat >expect.json <<'J'
{"sections": ["data", "training", "tests", "experiments"],
 "items": [
  {"section": "experiments", "target": "digits_best", "status": "chosen", "charts": ["Candidates by accuracy"]},
  {"section": "experiments", "target": "digits_val", "charts": ["accuracy against lr", "accuracy against l2"]},
  {"section": "experiments", "target": "kiln exp show"},
  {"section": "tests", "target": "digits_final", "status": "passed", "charts": ["Gates", "ROC curve"]}
 ],
 "sort": [{"target": "kiln exp show", "column": "accuracy"}]}
J
ok node "$top/tests/report/check.cjs" kiln-out/report.html expect.json "$outdir/sweep.png"
printf '%s\n' "$out"
