# examples/retrain end to end, the scheduled job (retrain.sh) against a real
# docker-registry: a plain build and kiln verify never retrain; a steady
# feedback batch keeps the champion and retrains nothing; a batch that
# drifts fails the champion's check, so the challenger is trained on the
# extended set, passes its gate, beats the champion on the same held-out
# feedback rows, and kiln deploy rolls it out; the feedback is then folded
# into the training set and the new champion is the model deployed. A
# challenger that fails its gate is not rolled out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
start_registry
cp -r "$top/examples/retrain/." .
rm -rf kiln-out .kiln Kilnfile.lock deploy
sed -i "s|127.0.0.1:5000/sensor|127.0.0.1:$reg_port/sensor|" Kilnfile
export KILN=$KILN_BIN

ok kiln build
hasnt "challenger"
hasnt "accuracy_fell"
ok kiln verify
has "identical"

# A steady month: accuracy holds, nothing is retrained or pushed.
cp batches/steady.csv feedback/2026-02.csv
ok ./retrain.sh
has "accuracy holds on the feedback; nothing retrained"
[ ! -e kiln-out/challenger ] && [ ! -e kiln-out/extended ] || fail "a steady batch retrained"
[ "$(blob_files)" = 0 ] || fail "a steady batch pushed an image"
# By hand, kiln deploy refuses too: the trigger says accuracy holds.
fails 1 kiln deploy prod
has "is not below 0.85: it holds, nothing to retrain"
[ "$(blob_files)" = 0 ] || fail "kiln deploy pushed while accuracy holds"

# A month that drifts: the champion falls below 0.85 on it.
cp batches/drift.csv feedback/2026-03.csv
ok ./retrain.sh
has "accuracy fell; retraining"
has "deployed prod"
has "rolled out"
ok /usr/bin/python3 - <<'P'
import json
c = json.load(open("kiln-out/challenge/metrics.json"))
assert c["accuracy_all"] > c["champion_accuracy_all"], c
assert c["rows"] == 75, c   # the fourth row of the latest batch
P
digest=$(json_get kiln-out/image/image.json digest)
grep -q "@$digest" deploy/deployment.yaml || fail "the manifests do not run the challenger's image"
tag=$(json_get kiln-out/prod/push.json tag)
ok skopeo inspect --tls-verify=false "docker://127.0.0.1:$reg_port/sensor:$tag"
has "\"Digest\": \"$digest\""
[ ! -e feedback/2026-03.csv ] && [ -e feedback/done/2026-03.csv ] || fail "the feedback was not folded in"
# The new champion is the model that was rolled out, and it holds on the next steady batch.
ok kiln build champion
cmp kiln-out/champion/model.safetensors kiln-out/challenger/model.safetensors ||
	fail "the new champion is not the model rolled out"
ok ./retrain.sh
has "no new feedback"
cp batches/steady.csv feedback/2026-04.csv
# Labels swapped: the champion fails its check, but the challenger trained on them fails too.
sed -i '2,$s/,ok$/,OK/; 2,$s/,fault$/,ok/; 2,$s/,OK$/,fault/' feedback/2026-04.csv
fails 1 ./retrain.sh
has "accuracy fell; retraining"
has "'prod' was not deployed"
grep -q "@$digest" deploy/deployment.yaml || fail "a losing challenger changed the manifests"

# The CI schedule runs this job.
ok /usr/bin/python3 - "$top/examples/ci/github-actions-retrain.yml" <<'P'
import sys, yaml
w = yaml.safe_load(open(sys.argv[1]))
assert w[True]["schedule"][0]["cron"], w   # YAML reads the key "on" as True
runs = [s.get("run", "") for s in w["jobs"]["retrain"]["steps"]]
assert "./retrain.sh" in runs, runs
P
