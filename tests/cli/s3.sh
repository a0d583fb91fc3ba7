# An S3-API server (tests/s3: s3rver, which checks Signature V4) as the remote
# cache for kiln's S3 tests. Source it after lib.sh (it uses at_exit and
# fail; the server picks its own free port).
#
#	start_s3 DIR BUCKET
#
# serves DIR/data with one bucket BUCKET on a free loopback port (the server
# picks it: port 0) and sets $s3_endpoint to its URL and $s3_pid; exports
# AWS_ENDPOINT_URL and the server's credentials (S3RVER / S3RVER) and
# clears the other AWS_ variables, so that kiln signs as a client of it
# would. The server is stopped by its pid when the script ends.
#
#	s3curl ARGS...
#
# curl signed like kiln (for a test to put or delete an object behind kiln's back).
start_s3() {
	local dir=$1 bucket=$2 i
	command -v node >/dev/null || fail "node is not installed (bootstrap.sh installs nodejs)"
	[ -d "$top/tests/s3/node_modules/@20minutes/s3rver" ] ||
		fail "the S3 test server is not installed: run ./bootstrap.sh (it runs npm ci in tests/s3/)"
	mkdir -p "$dir/data"
	: >"$dir/log"	# there before the child opens it, so the poll below can read it
	node "$top/tests/s3/server.js" -d "$dir/data" -a 127.0.0.1 -p 0 --no-vhost-buckets \
		--configure-bucket "$bucket" >"$dir/log" 2>&1 &
	s3_pid=$!
	at_exit "kill $s3_pid 2>/dev/null; wait $s3_pid 2>/dev/null"
	for i in $(seq 600); do
		s3_port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/log")
		[ -n "$s3_port" ] && break
		kill -0 $s3_pid 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$s3_port" ] || fail "the S3 server did not start: $(cat "$dir/log")"
	s3_endpoint=http://127.0.0.1:$s3_port
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL_S3 || true
	export AWS_ENDPOINT_URL=$s3_endpoint AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	export AWS_SHARED_CREDENTIALS_FILE=$scratch/no-aws-credentials
}

s3curl() {
	curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
