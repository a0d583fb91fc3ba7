# examples/iris_deploy end to end: the image builds offline, then with a
# registry on a free port (the example's 5000 swapped for it) kiln deploy
# pushes and writes deploy/, and the pushed manifest is the built image's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cp -r "$top/examples/iris_deploy/." .
rm -rf kiln-out .kiln Kilnfile.lock deploy
ok kiln build iris_image
ran 5
[ -f kiln-out/iris_image/image.tar ] || fail "no image.tar"
start_registry
sed -i "s/127.0.0.1:5000/127.0.0.1:$reg_port/" Kilnfile
ok kiln deploy iris_prod
digest=$(json_get kiln-out/iris_image/image.json digest)
grep -q "image: 127.0.0.1:$reg_port/iris@$digest" deploy/deployment.yaml || fail "deploy/ not pinned to $digest"
ok skopeo inspect --tls-verify=false "docker://127.0.0.1:$reg_port/iris:1"
has "\"Digest\": \"$digest\""
has '"dev.kiln.metric.accuracy"'
