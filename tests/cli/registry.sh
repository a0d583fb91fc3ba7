# Helpers for the deploy tests: a real docker-registry (Debian's
# distribution 2.8) on a free loopback port, its storage in the scratch
# folder, stopped by pid when the script ends. Source after lib.sh.
#
#	start_registry [readonly|auth]   sets $reg_port, $reg_pid, $reg_data;
#	                                 auth: htpasswd user kiln, password s3cret
#	REG_LOG=info start_registry      the log ($reg_data.log) has a line per request
#	REG_EXTRA=YAML start_registry    more top-level config (tls, token auth)
command -v docker-registry >/dev/null || fail "docker-registry is not installed (bootstrap.sh installs it)"

start_registry() {
	local ro=false i auth=
	[ "${1:-}" = readonly ] && ro=true
	reg_port=$(free_port)
	reg_data=$scratch/registry-$reg_port
	mkdir -p "$reg_data"
	if [ "${1:-}" = auth ]; then
		command -v htpasswd >/dev/null || fail "htpasswd is not installed (apache2-utils; bootstrap.sh installs it)"
		htpasswd -Bbn kiln s3cret >"$reg_data.htpasswd"
		auth="auth: { htpasswd: { realm: kiln-test, path: $reg_data.htpasswd } }"
	fi
	cat >"$reg_data.yml" <<Y
version: 0.1
log:
  level: ${REG_LOG:-error}
storage:
  filesystem:
    rootdirectory: $reg_data
  maintenance:
    readonly:
      enabled: $ro
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$reg_port
${REG_TLS:-}
$auth
${REG_EXTRA:-}
Y
	docker-registry serve "$reg_data.yml" >"$reg_data.log" 2>&1 &
	reg_pid=$!
	at_exit "kill $reg_pid 2>/dev/null; wait $reg_pid 2>/dev/null"
	for i in $(seq 100); do
		curl -s -o /dev/null ${REG_CURL:-} "${REG_SCHEME:-http}://127.0.0.1:$reg_port/v2/" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$reg_data.log" >&2
	fail "docker-registry did not start on port $reg_port"
}

# reg_puts: how many PUT requests the registry's log shows (REG_LOG=info).
reg_puts() {
	grep -c 'http.request.method=PUT' "$reg_data.log" || true
}

# blob_files: how many blobs the registry stores (each once: content-addressed).
blob_files() {
	find "$reg_data" -path '*/blobs/sha256/*/data' -type f 2>/dev/null | wc -l
}

# json_get FILE KEY: a top-level value of a JSON file.
json_get() {
	/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# make_tls DIR: a CA (DIR/ca.pem) made here, and a server certificate for
# 127.0.0.1 signed by it (DIR/server.pem, DIR/server.key).
make_tls() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/ca.key" -out "$1/ca.pem" -days 2 \
		-subj /CN=kiln-test-ca >/dev/null 2>&1 || fail "openssl could not make a CA"
	openssl req -newkey rsa:2048 -nodes -keyout "$1/server.key" -out "$1/server.csr" \
		-subj /CN=127.0.0.1 >/dev/null 2>&1 || fail "openssl could not make a request"
	printf 'subjectAltName=IP:127.0.0.1\n' >"$1/ext"
	openssl x509 -req -in "$1/server.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial \
		-days 2 -extfile "$1/ext" -out "$1/server.pem" >/dev/null 2>&1 || fail "openssl could not sign"
}

# start_tls_registry DIR [auth]: start_registry over TLS with make_tls DIR's certificate.
start_tls_registry() {
	make_tls "$1"
	REG_TLS="  tls: { certificate: $1/server.pem, key: $1/server.key }" REG_SCHEME=https \
		REG_CURL="--cacert $1/ca.pem" start_registry "${2:-}"
}
