# deploy: a registry with token authentication (docker-registry's `auth:
# token:`, as Docker Hub, GHCR, GitLab and Harbor do): GET /v2/ answers 401
# with `WWW-Authenticate: Bearer realm,service`; kiln fetches a token for
# repository:REPO:pull,push from the realm (a token server here, signing
# JWTs with a key made in the test) and pushes with it, asking once per push
# (the token is kept for its lifetime). A wrong password, an expired token
# and a scope the server will not grant each fail naming the registry and
# what it said.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
tok=$scratch/token
mkdir -p "$tok"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tok/key.pem" -out "$tok/cert.pem" -days 2 \
	-subj /CN=kiln-token-signer >/dev/null 2>&1 || fail "openssl could not make the signing key"
echo ok >"$tok/mode"
/usr/bin/python3 "$top/tests/cli/tokenserver.py" "$tok/key.pem" "$tok/cert.pem" "$tok/port" "$tok/log" "$tok/mode" \
	>"$tok/out" 2>&1 &
tpid=$!
at_exit "kill $tpid 2>/dev/null; wait $tpid 2>/dev/null"
for i in $(seq 100); do [ -s "$tok/port" ] && break; sleep 0.1; done
[ -s "$tok/port" ] || { cat "$tok/out" >&2; fail "the token server did not start"; }
realm="http://127.0.0.1:$(cat "$tok/port")/token"
REG_EXTRA="auth:
  token:
    realm: $realm
    service: kiln-registry
    issuer: kiln-test-issuer
    rootcertbundle: $tok/cert.pem" start_registry
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<K
container "iris_image" { model = ":iris_softmax", name = "iris", tag = "1" }
deploy "prod" { image = ":iris_image", registry = "127.0.0.1:$reg_port/iris", manifests = "deploy" }
K
unset KILN_REGISTRY_USER KILN_REGISTRY_PASSWORD KILN_REGISTRY_TOKEN REGISTRY_AUTH_FILE DOCKER_CONFIG || true
export HOME=$scratch/home XDG_RUNTIME_DIR=$scratch/run

fails 1 kiln deploy prod
has "token server $realm (for registry http://127.0.0.1:$reg_port) refused the credentials (none were given): HTTP 401: authentication required"
KILN_REGISTRY_USER=kiln KILN_REGISTRY_PASSWORD=wrong fails 1 kiln deploy prod
has "token server $realm (for registry http://127.0.0.1:$reg_port) refused the credentials in KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD: HTTP 401: wrong password for kiln"

: >"$tok/log"
KILN_REGISTRY_USER=kiln KILN_REGISTRY_PASSWORD=s3cret ok kiln deploy prod
has "deployed prod"
same "$tok/log" "kiln repository:iris:pull,push"
digest=$(json_get kiln-out/iris_image/image.json digest)
[ "$(json_get kiln-out/prod/push.json blobs_sent)" = 3 ] ||
	fail "expected 3 blobs sent: $(cat kiln-out/prod/push.json)"
ok skopeo inspect --raw --tls-verify=false --creds kiln:s3cret "docker://127.0.0.1:$reg_port/iris:1"
[ "sha256:$(printf '%s' "$out" | sha256sum | cut -c1-64)" = "$digest" ] || fail "the registry's manifest is not ours"

# A token that has run out: fetched anew once, refused again, reported.
echo expired >"$tok/mode"
KILN_REGISTRY_USER=kiln KILN_REGISTRY_PASSWORD=s3cret fails 1 kiln deploy prod
has "registry http://127.0.0.1:$reg_port refused the token from $realm for scope 'repository:iris:pull,push' (API check (GET /v2/)): HTTP 401: UNAUTHORIZED"
has "invalid_token"
echo ok >"$tok/mode"

# A scope the server will not grant: reader may pull, not push.
sed -i 's/tag = "1"/tag = "2"/' Kilnfile
KILN_REGISTRY_USER=reader KILN_REGISTRY_PASSWORD=r3ad fails 1 kiln deploy prod
has "registry http://127.0.0.1:$reg_port refused the token from $realm for scope 'repository:iris:pull,push'"
has "insufficient_scope"
if grep -rq -e s3cret -e r3ad kiln-out .kiln Kilnfile.lock "$KILN_CACHE_DIR" 2>/dev/null; then
	fail "a password was written somewhere"
fi
