# Sandbox: nothing of the host's network shows through /proc. A listener on
# the host's loopback must not appear in any /proc/*/net/tcp the step can
# read (pid 1, the sandbox's init, included), nor the host's interfaces in
# /proc/*/net/dev; and the mount points in /proc/self/mountinfo are the
# sandbox's own, not the workspace's host path.
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
hexport=$(printf '%04X' "$port")
# The host can see its own listener: the check below would find it.
grep -q ":$hexport " /proc/net/tcp || fail "the host's /proc/net/tcp does not show port $port ($hexport)"
# An interface the host has besides lo, if any.
hostif=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); if ($1 != "lo") { print $1; exit } }' /proc/net/dev)

scenario() {
	cat > Kilnfile <<'K'
command "net" { cmd = "cat /proc/[0-9]*/net/tcp /proc/[0-9]*/net/tcp6 /proc/net/tcp > {out}/tcp; cat /proc/[0-9]*/net/dev /proc/net/dev > {out}/dev; ls -d /proc/[0-9]* > {out}/pids; cat /proc/self/mountinfo > {out}/mountinfo", outputs = { "tcp", "dev", "pids", "mountinfo" } }
K
	ok kb build net
	# pid 1 is among those read.
	grep -qx /proc/1 kiln-out/net/pids || fail "the step cannot see /proc/1 ($who)"
	grep -q local_address kiln-out/net/tcp || fail "the step read no /proc/*/net/tcp ($who)"
	if grep -q ":$hexport " kiln-out/net/tcp; then
		fail "the host's listener on port $port shows in the step's /proc/*/net/tcp ($who)"
	fi
	if [ -n "$hostif" ] && grep -q "^ *$hostif:" kiln-out/net/dev; then
		fail "the host's interface $hostif shows in the step's /proc/*/net/dev ($who)"
	fi
	# Only the private loopback.
	[ "$(awk -F: 'NR > 2 && $1 !~ /Inter|face/ { gsub(/ /, "", $1); print $1 }' kiln-out/net/dev | sort -u)" = lo ] ||
		fail "the step sees interfaces besides its loopback ($who): $(cat kiln-out/net/dev)"
	# Mount points (field 5) are the sandbox's view: /workspace, never the host path.
	ws=$(pwd -P)
	awk '{ print $5 }' kiln-out/net/mountinfo > points
	grep -qx /workspace/.kiln/tmp/net/out points || fail "no output folder at /workspace in mountinfo ($who)"
	if grep -qF "$ws" points; then
		fail "the workspace's host path $ws is a mount point in the step's mountinfo ($who)"
	fi
	# With network = true the step has the host's network, as declared.
	cat > Kilnfile <<'K'
command "hostnet" { cmd = "cat /proc/net/tcp > {out}/tcp", outputs = { "tcp" }, network = true }
K
	ok kb build hostnet
	grep -q ":$hexport " kiln-out/hostnet/tcp || fail "network = true does not show the host's network ($who)"
}
each_user scenario
