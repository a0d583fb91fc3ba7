# A multipart upload to S3 whose part keeps failing (500, after its
# retries) is aborted (AbortMultipartUpload: DELETE ?uploadId=; the test
# server answers it 405, which is said), no object and no entry appear, the build still succeeds here with one warning, and
# a later build with a working server uploads it whole.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/s3.sh"
start_s3 "$scratch/s3" kiln-cache
# proxy PATTERN [once]: start the proxy in front of the S3 server; sets $port, logs to $scratch/proxy.log.
proxy() {
	port=$(free_port)
	/usr/bin/python3 "$top/tests/fault/s3proxy.py" "$port" "$s3_endpoint" "$@" > "$scratch/proxy.log" 2>&1 &
	at_exit "kill $! 2>/dev/null"
	for i in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.05
	done
	fail "the proxy did not start"
}
proxy "partNumber=3&"
url=s3://kiln-cache/ab
export KILN_S3_MULTIPART_MIN=1M KILN_S3_PART_SIZE=256K
cat > Kilnfile <<'K'
command "big" { cmd = "head -c 1500000 /dev/urandom > {out}/noise", outputs = { "noise" } }
K
AWS_ENDPOINT_URL=http://127.0.0.1:$port ok kiln build --remote "$url"
ran 1
has "could not upload the outputs of 'big'"
has "partNumber=3&uploadId="
has "HTTP 500 (InternalError: refused by the test's proxy)"
# The test server has no AbortMultipartUpload (405): that is said beside the failure.
has "AbortMultipartUpload failed too"
[ -s kiln-out/big/noise ] || fail "the build did not make its output"
grep -q '^POST /kiln-cache/ab/cas-zstd/[0-9a-f]*?uploads=' "$scratch/proxy.log" || fail "no CreateMultipartUpload: $(cat "$scratch/proxy.log")"
grep -q '^PUT .*partNumber=3&' "$scratch/proxy.log" || fail "part 3 was not tried"
grep -q '^DELETE /kiln-cache/ab/cas-zstd/[0-9a-f]*?uploadId=' "$scratch/proxy.log" ||
	fail "the failed upload was not aborted: $(cat "$scratch/proxy.log")"
grep '^POST' "$scratch/proxy.log" | grep -q 'uploadId=' && fail "the upload was completed: $(cat "$scratch/proxy.log")"
s3curl "$s3_endpoint/kiln-cache?list-type=2&prefix=ab%2F" > "$scratch/list.xml"
grep -q '<KeyCount>0</KeyCount>' "$scratch/list.xml" || fail "an object or entry appeared: $(cat "$scratch/list.xml")"

# A CompleteMultipartUpload refused once is sent again, with its list of parts: the upload completes.
proxy "?uploadId=" once
AWS_ENDPOINT_URL=http://127.0.0.1:$port ok kiln push --remote "$url"
has "pushed 1 targets"
hasnt "warning"
[ "$(grep -c '^POST .*?uploadId=' "$scratch/proxy.log")" -eq 2 ] || fail "expected the completion twice: $(cat "$scratch/proxy.log")"
s3curl "$s3_endpoint/kiln-cache?list-type=2&prefix=ab%2F" > "$scratch/list.xml"
grep -q '<Key>ab/ac/' "$scratch/list.xml" && grep -q '<Key>ab/cas-zstd/' "$scratch/list.xml" ||
	fail "the push did not upload: $(cat "$scratch/list.xml")"
