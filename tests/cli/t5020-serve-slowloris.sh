# kiln-serve under a slowloris attack: a thousand connections from one
# address, each sending a header line every half second, never finishing.
# /healthz from another address still answers at once; the attacker gets
# --max-per-address connections, the rest are closed at once; the ones let
# in get a 408 in JSON at --header-timeout although they keep sending.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build iris_softmax
"$build/kiln-serve" --model kiln-out/iris_softmax --host 127.0.0.1 --port 0 --threads 2 \
	--max-per-address 40 --header-timeout 3 2>serve.log &
pid=$!
at_exit "kill $pid 2>/dev/null"
for i in $(seq 100); do
	port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' serve.log)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat serve.log; fail "kiln-serve did not start"; }

ok /usr/bin/python3 - "$port" <<'P'
import resource, select, socket, sys, time, urllib.request
port = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 1000
if soft < want + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want + 64), hard))
    soft = min(hard, want + 64)
n = min(want, soft - 64)
assert n >= 300, f"only {soft} file descriptors: too few to prove the point"

def health():
    t = time.monotonic()
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
    assert body == b'{"status":"ok"}', body
    return time.monotonic() - t

# The attacker: from 127.0.0.2, so /healthz (from 127.0.0.1) is another client.
socks = []
t0 = time.monotonic()
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /v1/models/iris_softmax:predict HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
print(f"{n} slow connections opened in {time.monotonic() - t0:.2f}s")
alive, got, closed_at = set(socks), {}, {}
def poll(wait):
    r, _, _ = select.select(list(alive), [], [], wait)
    for s in r:
        try:
            d = s.recv(4096)
        except ConnectionResetError:
            d = b""
        got[s] = got.get(s, b"") + d
        if not d:
            alive.discard(s)
            closed_at[s] = time.monotonic() - t0
worst = 0
for tick in range(12):          # 6 s: twice the header deadline
    for s in list(alive):
        try:
            s.send(b"X-Slow: %d\r\n" % tick)
        except OSError:
            alive.discard(s)
            closed_at.setdefault(s, time.monotonic() - t0)
    worst = max(worst, health())
    poll(0.5)
poll(0.5)
admitted = [s for s in socks if got.get(s)]
print(f"healthz worst {worst * 1000:.0f} ms; {len(admitted)} admitted; "
      f"{len(alive)} still open; {len(socks) - len(admitted)} refused")
assert worst < 1.0, f"/healthz took {worst:.2f}s under attack"
assert not alive, f"{len(alive)} slow connections still open after 6 s"
assert 0 < len(admitted) <= 40, len(admitted)
for s in admitted:
    assert b"408 Request Timeout" in got[s] and \
        b'"error":"request headers not received within 3 s","code":408' in got[s], got[s]
    assert 2.5 < closed_at[s] < 5, closed_at[s]
# Closed at once, before the deadline: refused by the per-address limit.
refused = [s for s in socks if not got.get(s)]
assert all(closed_at[s] < 2.5 for s in refused), sorted(closed_at[s] for s in refused)[-3:]
P
printf '%s\n' "$out"
kill -0 $pid || fail "kiln-serve died"
