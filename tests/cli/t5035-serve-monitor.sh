# kiln-serve keeps watch: predictions per class and each input column's
# drift (PSI of the requests against the training rows' distribution that
# transform.json records) on /metrics; a prediction log of JSON lines, off
# by default, sampled, renamed to FILE.1 at its size limit. Run by hand it
# listens on 127.0.0.1 only.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build iris_softmax
ok /usr/bin/python3 -c '
import json; d = json.load(open("kiln-out/iris_feat/transform.json"))["distribution"]
assert set(d) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}, d
for c in d.values():
    assert c["kind"] == "numeric" and len(c["train"]) == len(c["edges"]) + 1 and abs(sum(c["train"]) - 1) < 1e-6, c
m = json.load(open("kiln-out/iris_softmax/model.json"))["transform"]["distribution"]
assert m == d'

# serve ENV...: kiln-serve on a free port with the environment given; sets $port, $pid.
serve() {
	port=$(free_port)
	env "$@" "$build/kiln-serve" --model kiln-out/iris_softmax --port "$port" >serve.log 2>&1 &
	pid=$!
	at_exit "kill $pid 2>/dev/null"
	for i in $(seq 100); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
		kill -0 $pid 2>/dev/null || { cat serve.log; fail "kiln-serve exited"; }
		sleep 0.1
	done
	fail "kiln-serve did not start"
}
stop() { kill $pid; wait $pid || true; }
# post SHIFT N: N rows of iris.csv, sepal_length shifted by SHIFT, as objects.
post() {
	/usr/bin/python3 - "$port" "$1" "$2" <<'P'
import csv, json, sys, urllib.request
port, shift, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open("data/iris.csv")))
cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
inst = [{c: float(r[c]) + (shift if c == "sepal_length" else 0) for c in cols} for r in rows[:n]]
for i in range(0, len(inst), 10):
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/iris_softmax:predict",
        data=json.dumps({"instances": inst[i:i + 10]}).encode())).read()
P
}
metric() { curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# Off by default; by hand on 127.0.0.1.
serve
out=$(cat serve.log)
has "on http://127.0.0.1:$port/"
hexport=$(printf '%04X' "$port")
grep -q "0100007F:$hexport 00000000:0000 0A" /proc/net/tcp || fail "kiln-serve does not listen on 127.0.0.1 only: $(grep ":$hexport " /proc/net/tcp)"
post 0 150
ok curl -sf "http://127.0.0.1:$port/metrics"
has 'kiln_serve_predictions_by_class_total{class="setosa"}'
has '# TYPE kiln_serve_feature_drift_psi gauge'
[ "$(metric 'kiln_serve_feature_observations_total{feature="sepal_length"}')" = 150 ] || fail "150 values of sepal_length should be counted"
total=0
for c in setosa versicolor virginica; do total=$((total + $(metric "kiln_serve_predictions_by_class_total{class=\"$c\"}"))); done
[ "$total" = 150 ] || fail "the per-class counts add up to $total, not 150"
# The data it was trained on: no drift to speak of.
ok /usr/bin/python3 -c "import sys; v = float('$(metric 'kiln_serve_feature_drift_psi{feature="sepal_length"}')'); sys.exit(0 if v < 0.1 else 1)"
stop
[ -z "$(ls | grep -i predictions)" ] || fail "a prediction log was written without being asked for"

# Drift: sepal_length moved by 2 cm, the other columns as they were.
serve
post 2 150
psi=$(metric 'kiln_serve_feature_drift_psi{feature="sepal_length"}')
other=$(metric 'kiln_serve_feature_drift_psi{feature="petal_width"}')
ok /usr/bin/python3 -c "import sys; sys.exit(0 if $psi > 1 and $other < 0.1 else 1)"
stop

# The log: every instance (sample 1), JSON lines with time, model, digest, input, output; rotated.
serve KILN_SERVE_PREDICTION_LOG="$PWD/pred.jsonl" KILN_SERVE_LOG_MAX_BYTES=8192
post 0 150
stop
[ -f pred.jsonl.1 ] || fail "the log was not rotated at 8192 bytes"
[ "$(stat -c %s pred.jsonl.1)" -le 8192 ] || fail "pred.jsonl.1 is over its limit"
ok /usr/bin/python3 - "$(sha256sum kiln-out/iris_softmax/model.safetensors | cut -c1-64)" <<'P'
import json, re, sys
lines = [json.loads(l) for f in ("pred.jsonl.1", "pred.jsonl") for l in open(f)]
assert 30 < len(lines) < 150, len(lines)  # older files than .1 are dropped
for l in lines:
    assert set(l) == {"time", "model", "digest", "input", "output"}, l
    assert l["model"] == "iris_softmax" and l["digest"] == "sha256:" + sys.argv[1], l
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", l["time"]), l
    assert set(l["input"]) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}
    assert l["output"]["class"] in ("setosa", "versicolor", "virginica"), l
P
# Sampled: a share of 0 logs nothing; a bad share is refused.
rm -f pred.jsonl pred.jsonl.1
serve KILN_SERVE_PREDICTION_LOG="$PWD/pred.jsonl" KILN_SERVE_LOG_SAMPLE=0
post 0 50
stop
[ ! -s pred.jsonl ] || fail "a sample of 0 logged predictions"
KILN_SERVE_LOG_SAMPLE=2 fails 2 "$build/kiln-serve" --model kiln-out/iris_softmax --port 0
has "KILN_SERVE_LOG_SAMPLE: expected a share from 0 to 1, got '2'"
KILN_SERVE_PREDICTION_LOG=/nonexistent/dir/p.jsonl fails 2 "$build/kiln-serve" --model kiln-out/iris_softmax --port 0
has "cannot open /nonexistent/dir/p.jsonl"
