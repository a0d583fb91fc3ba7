# deploy: a push is an action, not a build. A plain kiln build of a Kilnfile
# with a deploy target pushes nothing (the registry's log shows no PUT);
# kiln verify passes and refuses to run a side effect named to it; kiln
# deploy pushes; a changed image under the same fixed tag is refused
# (nothing moves) until --force; a tag derived from the content never has
# to move; a command marked effect = true behaves the same.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
REG_LOG=info start_registry
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<K
container "iris_image" { model = ":iris_softmax", metrics = ":iris_test", name = "iris", tag = "1" }
deploy "iris_prod" {
  image = ":iris_image", registry = "127.0.0.1:$reg_port/iris",
  manifests = "deploy/", after = { ":iris_test" },
}
command "notify" { cmd = "echo sent > {out}/out.txt", outputs = { "out.txt" }, inputs = { m = ":iris_image" }, effect = true }
K
ok kiln build
hasnt "iris_prod"
hasnt "notify"
[ "$(reg_puts)" = 0 ] || fail "a plain build sent $(reg_puts) PUTs: $(grep PUT "$reg_data.log")"
[ "$(blob_files)" = 0 ] || fail "a plain build stored blobs in the registry"
[ ! -e kiln-out/iris_prod ] && [ ! -e kiln-out/notify ] || fail "a plain build ran a side effect"
ok kiln status --check
ok kiln verify
has "identical"
[ "$(reg_puts)" = 0 ] || fail "kiln verify pushed"
fails 2 kiln verify iris_prod
has "'iris_prod' is a side effect"
has "kiln verify never runs it"
ok kiln build -n iris_prod
has "would run iris_prod: a side effect"

# Named, it runs: kiln deploy (and kiln build NAME) push.
ok kiln deploy iris_prod
has "deployed iris_prod"
d1=$(json_get kiln-out/iris_image/image.json digest)
[ "$(reg_puts)" -ge 4 ] || fail "kiln deploy sent $(reg_puts) PUTs"
grep -q 'iris_prod' Kilnfile.lock && fail "a side effect was written into Kilnfile.lock"
ok kiln build notify
same kiln-out/notify/out.txt sent
ok kiln build notify
has "1 ran"

# One row changed: a new image under the same fixed tag is refused, nothing moves.
sed -i '2s/^5\.1/5.2/' data/iris.csv
puts=$(reg_puts)
fails 1 kiln deploy iris_prod
d2=$(json_get kiln-out/iris_image/image.json digest)
[ "$d2" != "$d1" ] || fail "a data change should give a new image"
has "tag '1' of iris already points at $d1, not at this image ($d2); nothing was moved"
has "kiln deploy --force moves it"
grep -q "@$d1" deploy/deployment.yaml || fail "a refused deploy changed the manifests"
ok skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$reg_port/iris:1"
[ "sha256:$(printf '%s' "$out" | sha256sum | cut -c1-64)" = "$d1" ] || fail "the tag moved"
# KILN_DEPLOY_FORCE from the environment is not --force.
KILN_DEPLOY_FORCE=1 fails 1 kiln deploy iris_prod
has "already points at"
ok kiln deploy --force iris_prod
has "deployed iris_prod"
grep -q "@$d2" deploy/deployment.yaml || fail "--force did not deploy the new image"
ok skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$reg_port/iris:1"
[ "sha256:$(printf '%s' "$out" | sha256sum | cut -c1-64)" = "$d2" ] || fail "--force did not move the tag"

# Reverting the data: the tag points at the new image, so the old one is refused too.
sed -i '2s/^5\.2/5.1/' data/iris.csv
fails 1 kiln deploy iris_prod
has "already points at $d2"

# A tag derived from the content: each image its own tag, nothing to move.
sed -i 's|manifests = "deploy/", after|tag = "{version}-{digest12}", manifests = "deploy/", after|' Kilnfile
ok kiln deploy iris_prod
t1="1-$(printf '%s' "${d1#sha256:}" | cut -c1-12)"
[ "$(json_get kiln-out/iris_prod/push.json tag)" = "$t1" ] || fail "expected tag $t1: $(cat kiln-out/iris_prod/push.json)"
ok skopeo inspect --tls-verify=false "docker://127.0.0.1:$reg_port/iris:$t1"
has "\"Digest\": \"$d1\""
sed -i 's|tag = "{version}-{digest12}"|tag = "{nope}"|' Kilnfile
fails 2 kiln deploy iris_prod
has "field 'tag'"
