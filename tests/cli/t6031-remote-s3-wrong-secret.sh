# An S3 remote with a wrong secret key (or an unknown key id): one clear
# warning naming the bucket and S3's error code, not one per object; the
# build still runs every step here and succeeds; nothing reaches the bucket.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/s3.sh"
start_s3 "$scratch/s3" kiln-cache
url=s3://kiln-cache/p
cat > Kilnfile <<'K'
command "a" { cmd = "seq 1 5000 > {out}/a", outputs = { "a" } }
command "b" { cmd = "echo b > {out}/b", outputs = { "b" } }
command "c" { inputs = { a = ":a", b = ":b" }, cmd = "cat {in.a}/a {in.b}/b > {out}/c", outputs = { "c" } }
K
AWS_SECRET_ACCESS_KEY=not-the-secret ok kiln build --remote "$url"
ran 3
has "remote cache $url: giving up on it for this run (S3 bucket 'kiln-cache' refuses the request: SignatureDoesNotMatch"
has "credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
[ "$(printf '%s\n' "$out" | grep -c 'warning')" -eq 1 ] || fail "expected exactly one warning, got: $out"
[ -s kiln-out/c/c ] || fail "the build did not make c"
s3curl "$s3_endpoint/kiln-cache?list-type=2" > "$scratch/list.xml"
grep -q '<KeyCount>0</KeyCount>' "$scratch/list.xml" || fail "objects reached the bucket: $(cat "$scratch/list.xml")"

# push says it the same way, once, and fails.
AWS_SECRET_ACCESS_KEY=not-the-secret fails 1 kiln push --remote "$url"
has "S3 bucket 'kiln-cache' refuses the request: SignatureDoesNotMatch"
[ "$(printf '%s\n' "$out" | grep -c 'SignatureDoesNotMatch')" -eq 1 ] || fail "expected the error once, got: $out"

# An unknown access key id: S3's InvalidAccessKeyId, named.
rm -rf kiln-out
KILN_CACHE_DIR=$scratch/c2 AWS_ACCESS_KEY_ID=NOBODY ok kiln build --remote "$url"
ran 3
has "S3 bucket 'kiln-cache' refuses the request: InvalidAccessKeyId"
# A bucket that does not exist: NoSuchBucket, named.
rm -rf kiln-out
KILN_CACHE_DIR=$scratch/c3 ok kiln build --remote s3://no-such-bucket/p
ran 3
has "S3 bucket 'no-such-bucket' refuses the request: NoSuchBucket"
# With the right secret the same outputs go up.
KILN_CACHE_DIR=$scratch/c3 ok kiln push --remote "$url"
has "pushed 3 targets and 0 tracked sources to $url: 3 blobs"
hasnt "warning"
