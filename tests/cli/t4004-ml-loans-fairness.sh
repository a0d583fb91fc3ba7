# The loans example: the fairness gate fails by default on the biased
# labels, naming each measure, its value and its limit; the unlimited
# evaluation still builds; the fix of the README makes the gate pass.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/loans/." .
rm -rf kiln-out .kiln Kilnfile.lock
fails 1 kiln build -k
has "target 'loans_gate' failed: test failed:"
matches "demographic parity difference 0\.[0-9]+ is above the maximum 0\.1"
matches "equal opportunity difference 0\.[0-9]+ is above the maximum 0\.1"
[ ! -e kiln-out/loans_gate ] || fail "the failed gate left outputs"
[ -e kiln-out/loans_eval/metrics.json ] || fail "loans_eval was not built"
ok /usr/bin/python3 -c 'import json; t = json.load(open("kiln-out/loans_feat/transform.json")); assert t["onehot"] == {"group": ["A", "B"]} and t["groups"] == ["A", "B"], t'
ok kiln metrics
dp=$(printf '%s\n' "$out" | awk '$1 == "loans_eval" && $2 == "demographic_parity_diff" { print $3 }')
awk -v a="$dp" 'BEGIN { exit !(a > 0.15) }' || fail "expected a large demographic parity difference, got '$dp'"
# The fix: the group is no longer a feature, and the rows are reweighed.
sed -i -e '/onehot = { "group" }/d' -e 's/-- reweigh = true,.*/reweigh = true,/' Kilnfile
ok kiln build
[ -e kiln-out/loans_feat/w_train.npy ] || fail "reweigh did not write w_train.npy"
ok kiln metrics
dp=$(printf '%s\n' "$out" | awk '$1 == "loans_gate" && $2 == "demographic_parity_diff" { print $3 }')
acc=$(printf '%s\n' "$out" | awk '$1 == "loans_gate" && $2 == "accuracy" { print $3 }')
awk -v a="$dp" 'BEGIN { exit !(a <= 0.10) }' || fail "demographic parity difference '$dp' after the fix"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.70) }' || fail "accuracy '$acc' after the fix"
