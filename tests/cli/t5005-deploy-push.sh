# deploy: kiln deploy pushes the image to a real docker-registry, skopeo
# pulls it back with the same digest and bytes, the manifests are pinned to
# that digest; a second image sends only the blobs the registry lacks; the
# history in .kiln/deployments drives --rollback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
start_registry
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<K
container "iris_image" { model = ":iris_softmax", metrics = ":iris_test", name = "iris", tag = "1" }
deploy "iris_prod" {
  image = ":iris_image", registry = "127.0.0.1:$reg_port/kiln/iris",
  manifests = "deploy/", after = { ":iris_test" }, replicas = 2,
}
K
ok kiln deploy iris_prod
has "deployed iris_prod"
digest=$(json_get kiln-out/iris_image/image.json digest)
has "127.0.0.1:$reg_port/kiln/iris@$digest"
out=$(cat deploy/deployment.yaml)
has "image: 127.0.0.1:$reg_port/kiln/iris@$digest"
has "kind: Deployment"
has "replicas: 2"
has "containerPort: 8080"
out=$(cat deploy/service.yaml)
has "kind: Service"
has "targetPort: http"
[ "$(json_get kiln-out/iris_prod/push.json blobs_sent)" = 3 ] || fail "expected 3 blobs sent: $(cat kiln-out/iris_prod/push.json)"
# The manifests parse as YAML and say what they should.
ok /usr/bin/python3 - <<'P'
import yaml
d = yaml.safe_load(open("deploy/deployment.yaml"))
s = yaml.safe_load(open("deploy/service.yaml"))
c = d["spec"]["template"]["spec"]["containers"][0]
assert "@sha256:" in c["image"], c
assert d["spec"]["selector"]["matchLabels"] == d["spec"]["template"]["metadata"]["labels"]
assert s["spec"]["selector"] == d["spec"]["selector"]["matchLabels"]
assert d["metadata"]["name"] == "iris" and s["metadata"]["name"] == "iris"
P

# Pull it back: the registry's manifest is ours, byte for byte, and so is every blob.
ok skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$reg_port/kiln/iris:1"
[ "sha256:$(printf '%s' "$out" | sha256sum | cut -c1-64)" = "$digest" ] || fail "the registry's manifest is not ours"
ok skopeo inspect --tls-verify=false "docker://127.0.0.1:$reg_port/kiln/iris:1"
has "\"Digest\": \"$digest\""
has '"dev.kiln.metric.accuracy"'
ok skopeo copy --src-tls-verify=false "docker://127.0.0.1:$reg_port/kiln/iris@$digest" dir:pulled
for f in kiln-out/iris_image/oci/blobs/sha256/*; do
	h=$(basename "$f")
	[ "$h" = "${digest#sha256:}" ] && continue
	cmp "$f" "pulled/$h" || fail "pulled blob $h differs from ours"
done
cmp pulled/manifest.json "kiln-out/iris_image/oci/blobs/sha256/${digest#sha256:}" || fail "pulled manifest differs"

# Nothing changed: a deploy is an action, so its step runs again, finds every
# blob and the tag in place and sends nothing; the history grows by one line
# pointing at the same digest.
ok kiln deploy iris_prod
has "1 ran, 0 restored from the cache, 5 up to date"
[ "$(json_get kiln-out/iris_prod/push.json blobs_sent)" = 0 ] || fail "expected 0 blobs sent: $(cat kiln-out/iris_prod/push.json)"
[ "$(grep -c '"action":"deploy"' .kiln/deployments/log)" = 2 ] || fail "expected 2 deploy lines: $(cat .kiln/deployments/log)"

# A new tag: a new config, the same layers, which the registry has.
sed -i 's/name = "iris", tag = "1"/name = "iris", tag = "2"/' Kilnfile
ok kiln deploy iris_prod
digest2=$(json_get kiln-out/iris_image/image.json digest)
[ "$digest2" != "$digest" ] || fail "a new tag should give a new image digest"
[ "$(json_get kiln-out/iris_prod/push.json blobs_sent)" = 1 ] || fail "expected 1 blob sent: $(cat kiln-out/iris_prod/push.json)"
[ "$(json_get kiln-out/iris_prod/push.json blobs_skipped)" = 2 ] || fail "expected 2 blobs skipped"
[ "$(blob_files)" = 6 ] || fail "the registry holds $(blob_files) blobs; expected 6 (3 + config + 2 manifests)"
grep -q "image: 127.0.0.1:$reg_port/kiln/iris@$digest2" deploy/deployment.yaml || fail "manifests not updated"
# The history: when, which digest, which key.
ok /usr/bin/python3 - "$digest" "$digest2" <<'P'
import json, re, sys
lines = [json.loads(l) for l in open(".kiln/deployments/log")]
assert [l["digest"] for l in lines] == [sys.argv[1], sys.argv[1], sys.argv[2]], lines
for l in lines:
    assert l["action"] == "deploy" and l["target"] == "iris_prod"
    assert re.fullmatch(r"[0-9a-f]{32}", l["key"]), l
    assert re.fullmatch(r"[0-9a-f]{32}", l["image_key"]), l
    assert re.fullmatch(r"[0-9a-f]{32}", l["model_key"]) and l["model"] == "iris_softmax", l
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", l["time"]), l
# The last line's keys are the ones Kilnfile.lock has; the deploy, an action, is not in it.
lock = dict(l.split()[0::2] for l in open("Kilnfile.lock") if " key " in l)
assert "iris_prod" not in lock and lines[-1]["image_key"] == lock["iris_image"], (lines[-1], lock)
assert lines[-1]["model_key"] == lock["iris_softmax"], (lines[-1], lock)
P

# Rollback: the first digest's manifests come back; then there is nothing older.
ok kiln deploy --rollback iris_prod
has "rolled iris_prod back from $digest2 to $digest"
grep -q "image: 127.0.0.1:$reg_port/kiln/iris@$digest" deploy/deployment.yaml || fail "rollback did not restore the digest"
fails 1 kiln deploy --rollback iris_prod
has "no earlier deployment of 'iris_prod'"
grep -q "@$digest" deploy/deployment.yaml || fail "a refused rollback changed the manifests"
fails 2 kiln deploy iris_image
has "'iris_image' is a 'package' target"
