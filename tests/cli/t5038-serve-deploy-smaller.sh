# The smaller points of the deployment loop: `kiln serve` of a container
# target answers under that target's name, as docs/serve.md says; a model
# trained by a Python step (examples/python) is served, taking raw columns
# through the transform it keeps; the image's labels carry the fairness
# measures too (docs/deploy.md: numeric metrics become labels). (kiln-serve
# by hand on 127.0.0.1: t5035; deployment history any colleague can roll
# back, through GitOps: t5033.)
. "$(dirname "$0")/lib.sh"
# serve_up TARGET: kiln serve TARGET on a free port; sets $port, $pid.
serve_up() {
	port=$(free_port)
	"$KILN_BIN" serve "$1" --port "$port" >serve.log 2>&1 &
	pid=$!
	at_exit "kill $pid 2>/dev/null"
	for i in $(seq 300); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
		kill -0 $pid 2>/dev/null || { cat serve.log; fail "kiln serve exited"; }
		sleep 0.1
	done
	fail "kiln serve $1 did not start"
}
predict() { curl -s -X POST "http://127.0.0.1:$port/v1/models/$1:predict" -d "$2"; }

mkdir iris && cd iris
cp -r "$top/examples/iris_deploy/." .
rm -rf kiln-out .kiln Kilnfile.lock
serve_up iris_image
out=$(predict iris_image '{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
has '"class":"setosa"'
out=$(predict iris_model '{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
has "unknown model 'iris_model'; this server has 'iris_image'"
kill $pid; wait $pid 2>/dev/null || true
cd ..

if /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
	mkdir python && cd python
	cp -r "$top/examples/python/." .
	rm -rf kiln-out .kiln Kilnfile.lock
	serve_up iris_sklearn
	ok /usr/bin/python3 - "$port" <<'P'
import csv, json, sys, urllib.request
rows = list(csv.DictReader(open("data/iris.csv")))
cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
body = {"instances": [{c: float(r[c]) for c in cols} for r in rows]}
res = json.load(urllib.request.urlopen(urllib.request.Request(
    f"http://127.0.0.1:{sys.argv[1]}/v1/models/iris_sklearn:predict", data=json.dumps(body).encode())))
hits = sum(p["class"] == r["species"] for p, r in zip(res["predictions"], rows))
assert hits / len(rows) > 0.9, hits   # raw columns, scaled by the transform the script kept
P
	kill $pid; wait $pid 2>/dev/null || true
	cd ..
else
	echo "no scikit-learn for /usr/bin/python3: the Python model is not served here"
fi
mkdir notmodel && cd notmodel
cp -r "$top/examples/iris/." .
echo 'command "notes" { cmd = "echo hi > {out}/n.txt", outputs = { "n.txt" } }' >>Kilnfile
fails 2 kiln serve notes
has "'notes' is a 'exec' target; kiln serve takes a model (train), select or container target, or one whose outputs are model.safetensors and model.json"
cd ..

# Fairness measures as labels: loans with its README's fix, packaged with its gate's metrics.
mkdir loans && cd loans
cp -r "$top/examples/loans/." .
rm -rf kiln-out .kiln Kilnfile.lock
sed -i -e '/onehot = { "group" }/d' -e 's/-- reweigh = true,.*/reweigh = true,/' Kilnfile
echo 'container "loans_image" { model = ":loans_lr", metrics = ":loans_gate", name = "loans", tag = "1" }' >>Kilnfile
ok kiln build loans_image
ok /usr/bin/python3 - <<'P'
import json
idx = json.load(open("kiln-out/loans_image/oci/index.json"))
d = idx["manifests"][0]["digest"].split(":")[1]
man = json.load(open("kiln-out/loans_image/oci/blobs/sha256/" + d))
cfg = json.load(open("kiln-out/loans_image/oci/blobs/sha256/" + man["config"]["digest"].split(":")[1]))
labels = cfg["config"]["Labels"]
m = json.load(open("kiln-out/loans_gate/metrics.json"))
for k in ("demographic_parity_diff", "equal_opportunity_diff"):
    assert float(labels["dev.kiln.metric." + k]) == round(m["fairness"][k], 6) or \
        abs(float(labels["dev.kiln.metric." + k]) - m["fairness"][k]) < 1e-5, (k, labels)
assert abs(float(labels["dev.kiln.metric.accuracy_gap"]) - m["fairness"]["max_gap"]["accuracy"]) < 1e-5, labels
assert "dev.kiln.metric.accuracy" in labels, labels
P
