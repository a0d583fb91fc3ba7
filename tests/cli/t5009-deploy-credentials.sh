# deploy: credentials come from the environment. A registry with htpasswd
# authentication refuses a push without them or with a wrong password
# (saying which variables to set), and takes it with
# KILN_REGISTRY_USER/KILN_REGISTRY_PASSWORD; the values reach the step only
# because the rule declares them, and never appear in the outputs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
start_registry auth
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >>Kilnfile <<K
container "iris_image" { model = ":iris_softmax", name = "iris", tag = "1" }
deploy "prod" { image = ":iris_image", registry = "127.0.0.1:$reg_port/iris", manifests = "deploy" }
K
unset KILN_REGISTRY_USER KILN_REGISTRY_PASSWORD KILN_REGISTRY_TOKEN
fails 1 kiln deploy prod
has "wants credentials: set KILN_REGISTRY_TOKEN, or KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD"
[ ! -e deploy ] || fail "a failed first deploy left a deploy/ folder behind"
KILN_REGISTRY_USER=kiln KILN_REGISTRY_PASSWORD=wrong fails 1 kiln deploy prod
has "refused the credentials in KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD (HTTP 401)"
KILN_REGISTRY_TOKEN=nonsense fails 1 kiln deploy prod
has "refused the credentials in KILN_REGISTRY_TOKEN"
KILN_REGISTRY_USER=kiln KILN_REGISTRY_PASSWORD=s3cret ok kiln deploy prod
has "deployed prod"
digest=$(json_get kiln-out/iris_image/image.json digest)
ok skopeo inspect --tls-verify=false --creds kiln:s3cret "docker://127.0.0.1:$reg_port/iris:1"
has "\"Digest\": \"$digest\""
if grep -rq s3cret kiln-out .kiln Kilnfile.lock deploy 2>/dev/null; then fail "the password was written somewhere"; fi
