# deploy: a private registry over TLS, with a CA made here, and htpasswd
# authentication. Without the CA named the push fails on the certificate;
# with `ca =` it goes through. The credentials come from where podman,
# skopeo and docker keep them ($REGISTRY_AUTH_FILE, then
# $XDG_RUNTIME_DIR/containers/auth.json, then $DOCKER_CONFIG/config.json),
# the environment's KILN_REGISTRY_* winning; a wrong password names the
# file it came from. No password reaches an output, a log or a key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
start_tls_registry "$scratch/tls" auth
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
mkdir certs && cp "$scratch/tls/ca.pem" certs/
cat >>Kilnfile <<K
container "iris_image" { model = ":iris_softmax", name = "iris", tag = "1" }
deploy "prod" { image = ":iris_image", registry = "https://127.0.0.1:$reg_port/team/iris", manifests = "deploy" }
K
unset KILN_REGISTRY_USER KILN_REGISTRY_PASSWORD KILN_REGISTRY_TOKEN REGISTRY_AUTH_FILE DOCKER_CONFIG || true
export XDG_RUNTIME_DIR=$scratch/run HOME=$scratch/home
mkdir -p "$XDG_RUNTIME_DIR/containers" "$HOME"
fails 1 kiln deploy prod
has "registry https://127.0.0.1:$reg_port: API check (GET /v2/): SSL certificate problem"
sed -i 's|manifests = "deploy" }|manifests = "deploy", ca = "certs/ca.pem" }|' Kilnfile
fails 1 kiln deploy prod
has "registry https://127.0.0.1:$reg_port wants credentials"
has "or log in with podman, skopeo or docker"

auth() { printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$1" "$(printf '%s' "$2" | base64 -w0)"; }
# docker's file, keyed by URL as docker login writes it: a wrong password names the file.
mkdir -p "$scratch/docker"
auth "https://127.0.0.1:$reg_port/v1/" kiln:wr0ng >"$scratch/docker/config.json"
DOCKER_CONFIG=$scratch/docker fails 1 kiln deploy prod
has "refused the credentials in $scratch/docker/config.json (HTTP 401)"
hasnt "wr0ng"
# podman's file comes before docker's, and its per-repository entry before the host's.
printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}, "127.0.0.1:%s/team/iris": {"auth": "%s"}}}\n' \
	"$reg_port" "$(printf bad:bad | base64 -w0)" "$reg_port" "$(printf kiln:s3cret | base64 -w0)" \
	>"$XDG_RUNTIME_DIR/containers/auth.json"
DOCKER_CONFIG=$scratch/docker ok kiln deploy prod
has "deployed prod"
key1=$(tail -1 .kiln/deployments/log | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
digest=$(json_get kiln-out/iris_image/image.json digest)
mkdir "$scratch/skopeo-certs" && cp "$scratch/tls/ca.pem" "$scratch/skopeo-certs/ca.crt"
ok skopeo inspect --cert-dir "$scratch/skopeo-certs" --creds kiln:s3cret "docker://127.0.0.1:$reg_port/team/iris:1"
has "\"Digest\": \"$digest\""
# $REGISTRY_AUTH_FILE comes first: its wrong password is the one used.
auth "127.0.0.1:$reg_port" kiln:0ther >"$scratch/regauth.json"
REGISTRY_AUTH_FILE=$scratch/regauth.json fails 1 kiln deploy prod
has "refused the credentials in $scratch/regauth.json"
# The variables win over every file; other credentials, the same key.
REGISTRY_AUTH_FILE=$scratch/regauth.json KILN_REGISTRY_USER=kiln KILN_REGISTRY_PASSWORD=s3cret ok kiln deploy prod
key2=$(tail -1 .kiln/deployments/log | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
[ "$key1" = "$key2" ] || fail "the credentials changed the deploy's key ($key1, $key2)"
# A file that is not an auth file is named.
echo '{"auths": {"127.0.0.1:'"$reg_port"'": {"auth": "!!"}}}' >"$scratch/regauth.json"
REGISTRY_AUTH_FILE=$scratch/regauth.json fails 1 kiln deploy prod
has "$scratch/regauth.json: auths entry '127.0.0.1:$reg_port': \"auth\" is not base64 of user:password"
if grep -rq -e s3cret -e 0ther -e "$(printf kiln:s3cret | base64 -w0)" kiln-out .kiln Kilnfile.lock deploy "$KILN_CACHE_DIR" 2>/dev/null; then
	fail "a password was written somewhere"
fi
