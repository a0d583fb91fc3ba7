# logistic and softmax fit by L-BFGS to convergence unless told otherwise,
# with l2 = 1/n (scikit-learn's C = 1): the log says so, model.json records
# it, threads do not change the bytes; a field only Adam takes means Adam,
# and is refused with solver = "lbfgs".
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/breast_cancer/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build
grep -q "L-BFGS: [0-9]* iterations, converged (l2 0.00219298)" .kiln/logs/bc_logistic.log ||
	fail "not L-BFGS with l2 = 1/456: $(cat .kiln/logs/bc_logistic.log)"
ok /usr/bin/python3 - <<'P'
import json
m = json.load(open("kiln-out/bc_logistic/model.json"))
hp = m["hyperparameters"]
assert hp["solver"] == "lbfgs" and abs(hp["l2"] - 1 / 456) < 1e-9 and hp["max_iterations"] == 1000, hp
acc = json.load(open("kiln-out/bc_test/metrics.json"))["metrics"]["accuracy"]
assert acc >= 0.98, acc   # scikit-learn's LogisticRegression() scores 0.9823 on this split
P
one=$(sha256sum < kiln-out/bc_logistic/model.safetensors)
sed -i 's/  algorithm = "logistic",/  algorithm = "logistic", threads = 2,/' Kilnfile
ok kiln build bc_logistic
[ "$(sha256sum < kiln-out/bc_logistic/model.safetensors)" = "$one" ] || fail "2 threads fitted other bytes"

kilnfile_error() {
	sed -i '/^model "bc_logistic"/,/^}/d' Kilnfile
	printf 'model "bc_logistic" { features = ":bc_feat", %s }\n' "$1" >> Kilnfile
	fails 2 kiln build bc_logistic
	has "$2"
}
kilnfile_error 'algorithm = "logistic", solver = "lbfgs", lr = 0.1' "field 'lr': the lbfgs solver runs on all rows to convergence; lr is Adam's"
kilnfile_error 'algorithm = "logistic", solver = "lbfgs", validation = 0.2' "field 'validation': the lbfgs solver runs on all rows to convergence; validation is Adam's"
kilnfile_error 'algorithm = "mlp", solver = "lbfgs"' "field 'solver': only algorithms \"logistic\" and \"softmax\" have a choice of solver"
kilnfile_error 'algorithm = "logistic", solver = "sgd"' "field 'solver': expected \"lbfgs\" or \"adam\", got \"sgd\""
# Adam as before, when asked for, or when its step size is given.
for s in 'solver = "adam", ' ''; do
	sed -i '/^model "bc_logistic"/,$d' Kilnfile
	printf 'model "bc_logistic" { features = ":bc_feat", algorithm = "logistic", %slr = 0.05, epochs = 20 }\n' "$s" >> Kilnfile
	ok kiln build bc_logistic
	grep -q "L-BFGS" .kiln/logs/bc_logistic.log && fail "adam meant ($s), L-BFGS ran"
	ok /usr/bin/python3 -c 'import json; h = json.load(open("kiln-out/bc_logistic/history.json")); assert len(h["epochs"]) == 20, len(h["epochs"])
m = json.load(open("kiln-out/bc_logistic/model.json")); assert abs(m["hyperparameters"]["l2"] - 1e-4) < 1e-9, m["hyperparameters"]'
done
