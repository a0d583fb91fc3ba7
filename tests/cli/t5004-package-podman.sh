# container: `podman load` takes image.tar, and `podman run` of the image
# serves the same predictions as `kiln serve` gives for the model. Podman
# keeps its storage in the scratch folder (vfs driver: no mounts to undo)
# and runs with runc and explicit nofile/nproc limits, as this machine
# needs; the container is stopped by its id, the server by its pid.
. "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || fail "podman is not installed (bootstrap.sh installs it)"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<'K'
container "iris_image" { model = ":iris_softmax", name = "kiln-test/iris", tag = "1" }
K
ok kiln build
pm() { podman --root "$scratch/podman/root" --runroot "$scratch/podman/run" --storage-driver vfs "$@"; }
at_exit "podman --root '$scratch/podman/root' --runroot '$scratch/podman/run' --storage-driver vfs rm -af -t 0 >/dev/null 2>&1"
ok pm load -i kiln-out/iris_image/image.tar
has "localhost/kiln-test/iris:1"
ok pm image inspect --format '{{.Digest}} {{.Config.Entrypoint}}' localhost/kiln-test/iris:1
has "/bin/kiln-serve"

cport=$(free_port)
ok pm run -d --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
	-p "127.0.0.1:$cport:8080" localhost/kiln-test/iris:1
cid=$(printf '%s\n' "$out" | tail -1)
sport=$(free_port)
# kiln serve takes the container target and serves its model under the target's name.
"$KILN_BIN" serve iris_image --port "$sport" >serve.log 2>&1 &
spid=$!
at_exit "kill $spid 2>/dev/null"
wait_up() {
	local i
	for i in $(seq 150); do
		curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	pm logs "$cid" >&2 || true
	cat serve.log >&2
	fail "no server on port $1"
}
wait_up "$cport"
wait_up "$sport"
body='{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5],
  {"sepal_length": 6.3, "sepal_width": 2.8, "petal_length": 5.1, "petal_width": 1.5}]}'
a=$(curl -sf -X POST "http://127.0.0.1:$cport/v1/models/iris:predict" -d "$body") || fail "container predict failed"
b=$(curl -sf -X POST "http://127.0.0.1:$sport/v1/models/iris_image:predict" -d "$body") || fail "kiln serve predict failed"
[ "$a" = "$b" ] || fail "the container and kiln serve disagree:
$a
$b"
out=$a
has '"class":"setosa"'
# The server runs as nobody, not root.
ok pm top "$cid" user
has "65534"
ok curl -sf "http://127.0.0.1:$cport/v1/models/iris"
has "\"model_digest\":\"sha256:$(sha256sum kiln-out/iris_softmax/model.safetensors | cut -c1-64)\""
# podman stop sends SIGTERM to kiln-serve (pid 1 in the container): it exits 0.
ok pm stop -t 10 "$cid"
ok pm inspect --format '{{.State.ExitCode}}' "$cid"
[ "$(printf '%s\n' "$out" | tail -1)" = 0 ] || fail "kiln-serve in the container exited $out on SIGTERM"
