# container: the package plugin's OCI layout and image.tar are accepted by
# skopeo (oci:, oci-archive:, docker-archive:) and umoci; the image holds
# kiln-serve, its libraries and the model's bytes, with fixed owners and
# times; two builds in different folders, at different times, with
# different umasks and no shared cache give the same digest and bytes.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<'K'
container "iris_image" { model = ":iris_softmax", metrics = ":iris_test", name = "kiln/iris", tag = "1.0" }
K
ok kiln build
d=kiln-out/iris_image
[ -f $d/image.tar ] && [ -f $d/image.json ] && [ -f $d/oci/index.json ] || fail "missing outputs: $(ls -R $d)"
digest=$(/usr/bin/python3 -c 'import json; print(json.load(open("kiln-out/iris_image/image.json"))["digest"])')
case $digest in sha256:????????????????????????????????????????????????????????????????) ;; *) fail "bad digest '$digest'";; esac

ok skopeo inspect "oci:$d/oci:1.0"
has "\"Digest\": \"$digest\""
has '"dev.kiln.metric.accuracy"'
has '"dev.kiln.model.digest": "sha256:'"$(sha256sum kiln-out/iris_softmax/model.safetensors | cut -c1-64)"
has '"org.opencontainers.image.version": "1.0"'
ok skopeo inspect "oci-archive:$d/image.tar"
has "\"Digest\": \"$digest\""
ok skopeo inspect --config "docker-archive:$d/image.tar"
has '"Entrypoint": ['
has '"/bin/kiln-serve"'
has '"8080/tcp"'

# The blobs are what their names say, and the manifest lists them.
ok /usr/bin/python3 - "$d" <<'P'
import hashlib, json, os, sys, tarfile
d = sys.argv[1]
blobs = os.path.join(d, "oci/blobs/sha256")
for n in os.listdir(blobs):
    assert hashlib.sha256(open(os.path.join(blobs, n), "rb").read()).hexdigest() == n, n
idx = json.load(open(os.path.join(d, "oci/index.json")))
info = json.load(open(os.path.join(d, "image.json")))
assert idx["manifests"][0]["digest"] == info["digest"]
man = json.load(open(os.path.join(blobs, info["digest"][7:])))
assert [l["digest"] for l in man["layers"]] == [l["digest"] for l in info["layers"]]
# Every tar (the layers and image.tar): sorted, root-owned, one fixed time, no pax records.
def check(t, what):
    names = [m.name for m in t.getmembers()]
    assert names == sorted(names), (what, names[:5])
    for m in t.getmembers():
        assert (m.uid, m.gid, m.mtime) == (0, 0, 315532800), (what, m.name, m.uid, m.gid, m.mtime)
        assert not m.pax_headers, (what, m.name, m.pax_headers)
    return names
for l in man["layers"]:
    names = check(tarfile.open(os.path.join(blobs, l["digest"][7:])), l["digest"])
names = check(tarfile.open(os.path.join(d, "image.tar")), "image.tar")
assert "manifest.json" in names and "index.json" in names and "oci-layout" in names, names
dm = json.load(tarfile.open(os.path.join(d, "image.tar")).extractfile("manifest.json"))
assert dm[0]["RepoTags"] == ["kiln/iris:1.0"], dm
P

# umoci unpacks it: kiln-serve, the interpreter, libraries found from its
# ELF headers (libmicrohttpd, jansson, OpenBLAS, libc), the model's bytes.
ok umoci unpack --rootless --image "$d/oci:1.0" bundle
r=bundle/rootfs
[ -x $r/bin/kiln-serve ] || fail "no bin/kiln-serve in the image"
[ -f $r/lib64/ld-linux-x86-64.so.2 ] || fail "no ELF interpreter in the image"
for l in libc.so.6 libmicrohttpd.so.12 libjansson.so.4 libopenblas.so.0 libcrypto.so.3; do
	[ -f $r/usr/lib/kiln/$l ] || fail "no $l in the image: $(ls $r/usr/lib/kiln)"
done
cmp $r/model/model.safetensors kiln-out/iris_softmax/model.safetensors || fail "model bytes differ"
cmp $r/model/model.json kiln-out/iris_softmax/model.json || fail "model.json differs"
# Every library ldd lists for the server is in the image, under its soname.
for l in $(ldd $r/bin/kiln-serve | awk '$2 == "=>" { print $1 }'); do
	[ -f $r/usr/lib/kiln/$l ] || fail "ldd lists $l, which the image lacks"
done

# Reproducible: another folder, later, another umask (002; 077 trips the sandbox, which is not this test's subject), a fresh cache.
sleep 1.1
mkdir "$scratch/other"
cp -r "$top/examples/iris/." "$scratch/other/"
cp Kilnfile "$scratch/other/Kilnfile"
( cd "$scratch/other" && rm -rf kiln-out .kiln Kilnfile.lock && umask 002 &&
  KILN_CACHE_DIR=$scratch/cache2 TZ=Asia/Tokyo "$KILN_BIN" build -q ) || fail "second build failed"
digest2=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$scratch/other/$d/image.json")
[ "$digest" = "$digest2" ] || fail "two builds gave different digests: $digest / $digest2"
cmp $d/image.tar "$scratch/other/$d/image.tar" || fail "two builds gave different image.tar bytes"
(cd $d/oci && find . -type f | sort | xargs sha256sum) >a.sum
(cd "$scratch/other/$d/oci" && find . -type f | sort | xargs sha256sum) >b.sum
cmp a.sum b.sum || fail "the OCI layouts differ"
