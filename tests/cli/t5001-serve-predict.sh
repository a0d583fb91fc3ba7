# kiln serve: a built iris model answers predictions that match numpy's
# forward pass of the same weights and transform, in both request shapes;
# metadata, health and Prometheus metrics; SIGTERM stops it with status 0.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
serve_target iris_softmax
ok curl -sf "http://127.0.0.1:$port/healthz"
has '"status":"ok"'
ok curl -sf "http://127.0.0.1:$port/v1/models/iris_softmax"
has '"classes":["setosa","versicolor","virginica"]'
has '"kind":"softmax"'
matches '"model_digest":"sha256:[0-9a-f]{64}"'
want=$(sha256sum kiln-out/iris_softmax/model.safetensors | cut -c1-64)
has "sha256:$want"

# The first 20 rows of the data, raw, as lists and as objects; numpy applies
# model.json's transform and the safetensors weights and compares.
ok /usr/bin/python3 - "$port" <<'P'
import csv, json, struct, sys, urllib.request
import numpy as np
port = sys.argv[1]
rows = list(csv.DictReader(open("data/iris.csv")))[::7][:20]
cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
def post(body):
    r = urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models/iris_softmax:predict",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}))
    return json.load(r)["predictions"]
lists = post({"instances": [[float(r[c]) for c in cols] for r in rows]})
objs = post({"instances": [{c: float(r[c]) for c in cols} for r in rows]})
assert lists == objs, (lists[:2], objs[:2])
m = json.load(open("kiln-out/iris_softmax/model.json"))
b = open("kiln-out/iris_softmax/model.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
t = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], "<f4").reshape(v["shape"]) for k, v in h.items()}
X = np.array([[(float(r[c["source"]]) - c["center"]) / c["scale"] for c in m["transform"]["columns"]] for r in rows], np.float32)
z = X @ t["layer0.weight"] + t["layer0.bias"]
p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
classes = m["classes"]
for i, pred in enumerate(lists):
    assert pred["class"] == classes[p[i].argmax()], (i, pred, p[i])
    assert pred["label"] == int(p[i].argmax())
    got = np.array([pred["probabilities"][c] for c in classes])
    assert np.allclose(got, p[i], atol=1e-5), (i, got, p[i])
right = sum(pred["class"] == r["species"] for pred, r in zip(lists, rows))
assert right >= 14, right   # a sanity check; the exact check is above
P

# Bad requests: a 4xx with a JSON error each, and the server goes on.
bad() {
	local code=$1 text=$2
	shift 2
	out=$(curl -s -w '\n%{http_code}' "$@")
	[ "$(printf '%s\n' "$out" | tail -1)" = "$code" ] || fail "expected HTTP $code for $*: $out"
	has "\"error\":"
	has "$text"
}
u="http://127.0.0.1:$port/v1/models/iris_softmax:predict"
bad 400 "malformed JSON" -X POST "$u" -d '{"instances": [[1,2'
bad 400 "expected an object" -X POST "$u" -d '[1, 2]'
bad 400 "expected 4 features, got 3" -X POST "$u" -d '{"instances": [[1,2,3]]}'
bad 400 "takes a number, got a string" -X POST "$u" -d '{"instances": [[1,"x",3,4]]}'
bad 400 "unknown column 'petal_colour'" -X POST "$u" -d '{"instances": [{"petal_colour": 1}]}'
bad 400 "missing column 'petal_width'" -X POST "$u" \
	-d '{"instances": [{"sepal_length":5,"sepal_width":3,"petal_length":1}]}'
bad 400 'is empty' -X POST "$u" -d '{"instances": []}'
bad 400 "out of range" -X POST "$u" -d '{"instances": [[1e300,1,1,1]]}'
head -c 1100000 /dev/zero | tr '\0' ' ' >big.json
bad 413 "over the limit" -X POST "$u" --data-binary @big.json
# Without a length to refuse up front (chunked), the body is read and dropped.
bad 413 "over the limit" -H 'Transfer-Encoding: chunked' -X POST "$u" --data-binary @big.json
bad 404 "unknown model 'roses'" -X POST "http://127.0.0.1:$port/v1/models/roses:predict" -d '{}'
bad 404 "no such route" "http://127.0.0.1:$port/v2/anything"
bad 405 "use POST" "$u"
ok curl -sf -X POST "$u" -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
has '"class":"setosa"'

# Metrics count what happened: 2+1 good predicts, 13 errors above.
ok curl -sf "http://127.0.0.1:$port/metrics"
has '# TYPE kiln_serve_request_duration_seconds histogram'
has 'kiln_serve_requests_total{code="400"} 8'
has 'kiln_serve_requests_total{code="404"} 2'
has 'kiln_serve_requests_total{code="413"} 2'
has 'kiln_serve_errors_total 13'
has 'kiln_serve_predictions_total 41'
matches 'kiln_serve_request_duration_seconds_bucket\{le="\+Inf"\} [0-9]+'

kill -TERM $pid
rc=0
wait $pid || rc=$?
[ $rc -eq 0 ] || { cat serve.log; fail "kiln-serve exited $rc on SIGTERM"; }
out=$(cat serve.log)
has "SIGTERM, stopping"

# Not a model, not a target: refused before anything is served.
fails 2 kiln serve iris_test
has "'iris_test' is a 'test' target"
fails 2 kiln serve nothing_here
has "no target 'nothing_here'"
fails 2 kiln serve iris_softmax --port 99999
has "--port"
