# Two workspaces with separate local caches share one S3 remote cache
# (s3://BUCKET/PREFIX against a real S3-API server on loopback that checks
# every request's Signature V4): the first builds and uploads, the second
# restores every target with nothing rebuilt, and the objects are laid out
# under the prefix as on an HTTP remote (ac/<key>, cas/<digest>, cas-zstd/).
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/s3.sh"
start_s3 "$scratch/s3" kiln-cache
url=s3://kiln-cache/team/ml
cat > Kilnfile <<'K'
command "a" { cmd = "seq 1 5000 > {out}/a; echo small > {out}/s", outputs = { "a", "s" } }
command "b" { inputs = { a = ":a" }, cmd = "wc -l < {in.a}/a > {out}/b", outputs = { "b" } }
K
ok kiln build --remote "$url"
ran 2
has "remote cache $url: fetched 0 targets"
has "uploaded 2 targets"
hasnt "warning"
# The layout under the prefix, listed by the server itself.
s3curl "$s3_endpoint/kiln-cache?list-type=2&prefix=team%2Fml%2F" > "$scratch/list.xml"
[ "$(grep -o '<Key>team/ml/ac/[0-9a-f]\{32\}</Key>' "$scratch/list.xml" | wc -l)" -eq 2 ] ||
	fail "expected 2 entries under team/ml/ac/: $(cat "$scratch/list.xml")"
grep -q '<Key>team/ml/cas-zstd/[0-9a-f]\{32\}</Key>' "$scratch/list.xml" || fail "expected a compressed blob under cas-zstd/"
grep -q '<Key>team/ml/cas/[0-9a-f]\{32\}</Key>' "$scratch/list.xml" || fail "expected a plain blob under cas/"
key=$(grep -o '<Key>team/ml/ac/[0-9a-f]*</Key>' "$scratch/list.xml" | head -1 | sed 's/<[^>]*>//g')
s3curl "$s3_endpoint/kiln-cache/$key" | head -1 | grep -qx "kiln-action 1" || fail "$key is not an action entry"

# The second workspace: the remote from the Kilnfile, credentials from ~/.aws/credentials' profile.
mkdir ../ws2
cp Kilnfile ../ws2/
cd ../ws2
{ echo "kiln.config { remote = \"$url\" }"; cat Kilnfile; } > K && mv K Kilnfile
mkdir -p "$scratch/home/.aws"
printf '[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n# the team cache\n[ci]\naws_access_key_id = S3RVER\n  aws_secret_access_key=S3RVER  \n' \
	> "$scratch/home/.aws/credentials"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE
export KILN_CACHE_DIR=$scratch/cache2
HOME=$scratch/home AWS_PROFILE=ci ok kiln build
ran 0
has "0 ran, 2 restored from the cache"
has "fetched 2 targets"
hasnt "warning"
diff -r ../ws/kiln-out kiln-out || fail "the outputs differ"
cmp ../ws/Kilnfile.lock Kilnfile.lock || fail "the lock files differ"
ok kiln fsck
has "0 bad"

# Without credentials: an error that names the variables and the file it looked at.
KILN_CACHE_DIR=$scratch/cache3 HOME=$scratch/nohome fails 2 kiln build
has "no AWS credentials"
has "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
has "$scratch/nohome/.aws/credentials cannot be read"
# A profile the file lacks is named too.
KILN_CACHE_DIR=$scratch/cache3 HOME=$scratch/home AWS_PROFILE=nope fails 2 kiln build
has "$scratch/home/.aws/credentials has no [nope]"
# A URL that is not s3://BUCKET/PREFIX is refused with the form expected.
fails 2 kiln build --remote "s3://Bad_Bucket/x"
has "expected s3://BUCKET/PREFIX"
