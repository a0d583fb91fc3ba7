# Sandbox: kiln lends each running step a user and network namespace that it
# keeps for the next one (netns.h), rather than the step making its own.
# Steps one after another share one; a step that left TCP connections
# behind (TIME_WAIT) leaves the next a fresh namespace, with nothing of
# them; two steps running at once have different ones, and one cannot
# reach the other's loopback server.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	port=$(free_port)
	# A server that accepts once and closes first: its side of the connection waits in TIME_WAIT.
	cat > leave_tw.py <<'P'
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept(); a.close(); c.recv(1); c.close()
for i in range(100):
    tw = int(open('/proc/net/sockstat').read().split('\n')[1].split()[6])
    if tw: break
    time.sleep(0.01)
print(tw)
P
	cat > tw.py <<'P'
print(open('/proc/net/sockstat').read().split('\n')[1].split()[6])
P
	cat > listen.py <<P
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(); s.settimeout(4)
try:
    s.accept(); print('reached')
except OSError:
    print('alone')
P
	cat > connect.py <<P
import socket, time
for i in range(30):
    try:
        socket.create_connection(('127.0.0.1', $port), 1); print('connected'); break
    except OSError:
        time.sleep(0.1)
else:
    print('refused')
P
	cat > Kilnfile <<'K'
command "a" { cmd = "readlink /proc/self/ns/net > {out}/o; id -u >> {out}/o", outputs = { "o" } }
command "b" { inputs = { a = ":a" }, cmd = "readlink /proc/self/ns/net > {out}/o; id -u >> {out}/o", outputs = { "o" } }
command "tw" { inputs = { b = ":b", s = "leave_tw.py" }, cmd = "readlink /proc/self/ns/net > {out}/ns; python3 {in.s} > {out}/tw", outputs = { "ns", "tw" } }
command "after" { inputs = { t = ":tw", s = "tw.py" }, cmd = "readlink /proc/self/ns/net > {out}/ns; python3 {in.s} > {out}/tw", outputs = { "ns", "tw" } }
command "listen" { inputs = { s = "listen.py" }, cmd = "readlink /proc/self/ns/net > {out}/ns; python3 {in.s} > {out}/o", outputs = { "ns", "o" } }
command "connect" { inputs = { s = "connect.py" }, cmd = "readlink /proc/self/ns/net > {out}/ns; python3 {in.s} > {out}/o", outputs = { "ns", "o" } }
K
	ok kb build -j1 after
	ran 4
	ns_a=$(head -1 kiln-out/a/o)
	case $ns_a in net:\[*\]) ;; *) fail "step a saw no network namespace: $ns_a" ;; esac
	same kiln-out/b/o "$(cat kiln-out/a/o)"
	[ "$(sed -n 2p kiln-out/a/o)" = 1000 ] || fail "the step's uid is not 1000 in a lent namespace: $(cat kiln-out/a/o)"
	same kiln-out/tw/ns "$ns_a"
	[ "$(cat kiln-out/tw/tw)" -ge 1 ] || fail "step tw left no TIME_WAIT socket ($(cat kiln-out/tw/tw))"
	# The connection tw left behind is not the next step's: it gets a namespace of its own.
	same kiln-out/after/tw 0
	[ "$(cat kiln-out/after/ns)" != "$ns_a" ] || fail "step after ran in the namespace tw left a connection in"
	# At once: two namespaces, and no way from one loopback to the other.
	ok kb build -j2 listen connect
	ran 2
	[ "$(cat kiln-out/listen/ns)" != "$(cat kiln-out/connect/ns)" ] ||
		fail "two steps running at once shared a network namespace"
	same kiln-out/listen/o alone
	same kiln-out/connect/o refused
}
each_user scenario
