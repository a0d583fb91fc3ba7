# Sandbox: no network unless the target declares it. A server on the host's
# loopback cannot be reached and host names do not resolve; with
# network = true the same connection works (so the refusal is the sandbox's).
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

port=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1 &
server=$!
at_exit "kill $server"
for i in $(seq 50); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
	sleep 0.1
done

scenario() {
	use_hostile
	cat > Kilnfile <<K
command "connect" { inputs = { h = "bin/hostile" }, cmd = "{in.h} connect $port", outputs = { "o" } }
command "vsock" { inputs = { h = "bin/hostile" }, cmd = "{in.h} vsock", outputs = { "o" } }
command "resolve" { inputs = { h = "bin/hostile" }, cmd = "{in.h} resolve localhost.kiln-test.invalid; {in.h} resolve example.com", outputs = { "o" } }
command "python" { cmd = "python3 -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:$port/\", timeout=5)'", outputs = { "o" } }
command "allowed" { inputs = { h = "bin/hostile" }, cmd = "{in.h} connect $port > {out}/o", outputs = { "o" }, network = true }
command "local" { cmd = "python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); c = socket.create_connection(s.getsockname()); print(\"loopback ok\")' > {out}/o", outputs = { "o" } }
K
	fails 1 kb build connect
	has "connect: refused (Connection refused)"
	hasnt ALLOWED
	# vsock is outside network namespaces; in a VM it reaches the host.
	fails 1 kb build vsock
	has "vsock: refused (Operation not permitted)"
	has "kiln: sandbox: refused socket() by 'hostile'"
	fails 1 kb build resolve
	has "resolve: refused ("
	hasnt ALLOWED
	fails 1 kb build python
	has "Connection refused"
	# The step's own loopback works: it is a private one.
	ok kb build local
	same kiln-out/local/o "loopback ok"
	# Declared network: the same connection goes through.
	fails 0 kb build allowed
	same kiln-out/allowed/o "connect: ALLOWED"
}
each_user scenario
