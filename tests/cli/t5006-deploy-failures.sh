# deploy: what goes wrong. A registry that is down or refuses the push: a
# clear error, and the manifests folder is left as it was. A failing test
# gate: nothing is pushed. A push cut off halfway: the next run completes
# it and sends no blob twice. A manifests folder that cannot be written:
# refused before anything is pushed. Bad rule input: an image that is not a
# container's, registry URLs that are not valid, gates that are not targets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cp Kilnfile Kilnfile.base
with() {
	cp Kilnfile.base Kilnfile
	cat >>Kilnfile <<K
container "iris_image" { model = ":iris_softmax", name = "iris", tag = "1" }
$1
K
}
mkdir deploy
echo "# what GitOps has now" >deploy/deployment.yaml
before=$(cat deploy/deployment.yaml)
unchanged() {
	[ "$(cat deploy/deployment.yaml)" = "$before" ] || fail "manifests changed: $(cat deploy/deployment.yaml)"
	[ ! -e deploy/service.yaml ] || fail "a service.yaml appeared"
}

# Down: nothing listens on the port.
down=$(free_port)
with "deploy \"prod\" { image = \":iris_image\", registry = \"127.0.0.1:$down/iris\", manifests = \"deploy\" }"
fails 1 kiln deploy prod
has "registry http://127.0.0.1:$down"
matches "(Couldn't connect|Failed to connect|Connection refused)"
has "'prod' was not deployed; $PWD/deploy is unchanged"
unchanged

# Refusing: a read-only registry answers the upload with an error.
start_registry readonly
with "deploy \"prod\" { image = \":iris_image\", registry = \"127.0.0.1:$reg_port/iris\", manifests = \"deploy\" }"
fails 1 kiln deploy prod
has "registry http://127.0.0.1:$reg_port refused"
matches "HTTP (405|503)"
unchanged
kill $reg_pid; wait $reg_pid 2>/dev/null || true

# A failing gate: the test's limit cannot hold, so the deploy never runs.
start_registry
cat >Kilnfile.gate <<K
test "strict_gate" { model = ":iris_softmax", features = ":iris_feat", max = { accuracy = 0.5 } }
deploy "prod" { image = ":iris_image", registry = "127.0.0.1:$reg_port/iris", manifests = "deploy", after = { ":iris_test", ":strict_gate" } }
K
with "$(cat Kilnfile.gate)"
fails 1 kiln deploy prod
has "strict_gate"
unchanged
[ "$(blob_files)" = 0 ] || fail "a failing gate still pushed $(blob_files) blobs"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$reg_port/v2/iris/tags/list")
[ "$code" = 404 ] || fail "the registry knows repository iris after a failed gate (HTTP $code)"

# Interrupted: a proxy cuts the connection 1 MB into the upload (inside the
# big runtime layer, after the config and the model layer), once.
proxy_port=$(free_port)
cat >proxy.py <<'P'
import asyncio, sys
listen, target, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
state = {"cut": False}
async def pipe(r, w, count):
    try:
        while data := await r.read(65536):
            if count is not None and not state["cut"]:
                count[0] += len(data)
                if count[0] > limit:
                    state["cut"] = True
                    print("cut", flush=True)
                    w.transport.abort()
                    raise ConnectionError
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    sr, sw = await asyncio.open_connection("127.0.0.1", target)
    count = [0]
    await asyncio.gather(pipe(cr, sw, count), pipe(sr, cw, None))
    cw.close()
async def main():
    s = await asyncio.start_server(handle, "127.0.0.1", listen)
    print("ready", flush=True)
    async with s:
        await s.serve_forever()
asyncio.run(main())
P
/usr/bin/python3 proxy.py "$proxy_port" "$reg_port" 1000000 >proxy.log 2>&1 &
proxy_pid=$!
at_exit "kill $proxy_pid 2>/dev/null"
for i in $(seq 50); do grep -q ready proxy.log && break; sleep 0.1; done
with "deploy \"prod\" { image = \":iris_image\", registry = \"127.0.0.1:$proxy_port/iris\", manifests = \"deploy\" }"
fails 1 kiln deploy prod
has "registry http://127.0.0.1:$proxy_port"
grep -q cut proxy.log || fail "the proxy did not cut the push"
unchanged
[ "$(blob_files)" = 2 ] || fail "after the cut the registry should hold the 2 small blobs, not $(blob_files)"
ok kiln deploy prod
has "deployed prod"
[ "$(json_get kiln-out/prod/push.json blobs_skipped)" = 2 ] || fail "the restart sent blobs again: $(cat kiln-out/prod/push.json)"
[ "$(json_get kiln-out/prod/push.json blobs_sent)" = 1 ] || fail "the restart did not send the missing blob"
[ "$(blob_files)" = 4 ] || fail "the registry holds $(blob_files) blobs; expected 4 (config, 2 layers, manifest)"
digest=$(json_get kiln-out/iris_image/image.json digest)
ok skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$reg_port/iris:1"
[ "sha256:$(printf '%s' "$out" | sha256sum | cut -c1-64)" = "$digest" ] || fail "the registry's manifest is not ours"
grep -q "@$digest" deploy/deployment.yaml || fail "manifests not written after the restart"

# Not writable: refused before the build, so nothing is pushed.
rm -rf "$reg_data"/docker
ln -s /proc/1/fdinfo ro_deploy
with "deploy \"prod2\" { image = \":iris_image\", registry = \"127.0.0.1:$reg_port/iris2\", manifests = \"ro_deploy\" }"
fails 1 kiln deploy prod2
has "manifests folder $PWD/ro_deploy is not writable"
has "nothing was pushed"
[ "$(blob_files)" = 0 ] || fail "a push happened although the manifests could not be written"
echo "not a folder" >plain_file
with "deploy \"prod2\" { image = \":iris_image\", registry = \"127.0.0.1:$reg_port/iris2\", manifests = \"plain_file\" }"
fails 1 kiln deploy prod2
has "plain_file"

# Bad input.
with "deploy \"prod3\" { image = \":iris_softmax\", registry = \"127.0.0.1:$reg_port/iris\", manifests = \"deploy\" }"
fails 1 kiln deploy prod3
has "input 'image' is not a container target's output"
unchanged_digest=$(grep -o '@sha256:[0-9a-f]*' deploy/deployment.yaml)
for bad in '"127.0.0.1:5000"' '"ftp://127.0.0.1:5000/iris"' '"127.0.0.1:99999/iris"' \
	'"127.0.0.1:5000/Iris"' '"reg istry:5000/iris"' '"127.0.0.1:5000/iris/"' '"/iris"' '5000'; do
	with "deploy \"prod3\" { image = \":iris_image\", registry = $bad, manifests = \"deploy\" }"
	fails 2 kiln deploy prod3
	has "deploy 'prod3': field 'registry': expected a registry and repository"
done
with "deploy \"prod3\" { image = \":iris_image\", registry = \"127.0.0.1:5000/iris\", manifests = \"deploy\", after = { \"iris_test\" } }"
fails 2 kiln deploy prod3
has "field 'after'"
with "deploy \"prod3\" { image = \":iris_image\", registry = \"127.0.0.1:5000/iris\", manifests = \"../out\" }"
fails 2 kiln deploy prod3
has "field 'manifests'"
with "deploy \"prod3\" { image = \":iris_image\", registry = \"127.0.0.1:5000/iris\", manifests = \"deploy\", tag = \"-bad\" }"
fails 2 kiln deploy prod3
has "field 'tag'"
[ "$(grep -o '@sha256:[0-9a-f]*' deploy/deployment.yaml)" = "$unchanged_digest" ] || fail "bad input changed the manifests"
