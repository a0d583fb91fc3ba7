# kiln-serve answers what is not a request it can take with the JSON error
# its API documents, never libmicrohttpd's HTML: a negative Content-Length,
# a malformed request or header line, an unknown HTTP version, a missing
# Host, a Transfer-Encoding it cannot read, both lengths at once; a body
# with a NUL byte; inputs whose outputs are not finite. A body slower than
# --body-timeout gets a 408; past --max-connections a connection is
# closed at once. The server answers /healthz after all of it.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build iris_softmax
"$build/kiln-serve" --model kiln-out/iris_softmax --host 127.0.0.1 --port 0 --threads 2 \
	--body-timeout 2 --max-connections 30 2>serve.log &
pid=$!
at_exit "kill $pid 2>/dev/null"
for i in $(seq 100); do
	port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' serve.log)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat serve.log; fail "kiln-serve did not start"; }

ok /usr/bin/python3 - "$port" <<'P'
import json, socket, sys, time
port = int(sys.argv[1])
def raw(data, wait=5):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.settimeout(wait)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out
def check(data, code, text):
    out = raw(data)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % code), (data[:80], out[:300])
    assert b"Content-Type: application/json" in head, (data[:80], out[:300])
    assert b"<html" not in out.lower(), out
    j = json.loads(body)
    assert j["code"] == code and text in j["error"], (data[:80], j)
P_ = b"POST /v1/models/iris_softmax:predict HTTP/1.1\r\nHost: x\r\n"
good = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
check(P_ + b"Content-Length: -5\r\n\r\n" + good, 400, "Content-Length '-5' is not a number of bytes")
check(P_ + b"Content-Length: 12abc\r\n\r\n" + good, 400, "Content-Length '12abc'")
check(P_ + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\n" + good, 400, "two Content-Length headers")
check(P_ + b"Content-Length: 36\r\nTransfer-Encoding: chunked\r\n\r\n" + good, 400, "both Content-Length and Transfer-Encoding")
check(P_ + b"Transfer-Encoding: gzip\r\n\r\n" + good, 400, "Transfer-Encoding 'gzip' is not supported")
check(b"GARBAGE\r\n\r\n", 400, "malformed request line")
check(b"GET /healthz HTTP/7.1\r\nHost: x\r\n\r\n", 505, "HTTP version 'HTTP/7.1' is not supported")
check(b"GET /healthz HTTP/1.1\r\n\r\n", 400, "needs one Host header")
check(b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "malformed header line 'no colon here'")
check(b"GET /healthz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obsolete line folding")
check(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431, "request headers over 16384 bytes")
# A body, then a NUL and garbage: refused, with where.
b2 = good + b"\0garbage"
check(P_ + b"Content-Length: %d\r\n\r\n" % len(b2) + b2, 400, "NUL byte at offset %d" % len(good))
# Outputs that are not finite: a 400 that says so, not 200 with nulls.
big = b'{"instances": [[3e38, 3e38, 3e38, 3e38]]}'
check(P_ + b"Content-Length: %d\r\n\r\n" % len(big) + big, 400, "instance 0: the model's output is not a finite number")
# The same request, well-formed, answers.
out = raw(P_ + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(good) + good)
assert out.startswith(b"HTTP/1.1 200 ") and b'"class":"setosa"' in out, out
# Kept alive: the gate hands the connection on, and later requests go straight through.
import http.client
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
for i in range(3):
    c.request("POST", "/v1/models/iris_softmax:predict", body=good)
    r = c.getresponse()
    assert r.status == 200 and b"setosa" in r.read(), i
c.close()
# A body slower than --body-timeout 2: a 408 after about 2 s, though bytes keep coming.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(P_ + b"Content-Length: 100\r\n\r\n")
t0 = time.monotonic()
got = b""
s.settimeout(0.3)
while time.monotonic() - t0 < 6:
    try:
        s.send(b" ")
        d = s.recv(4096)
        if not d:
            break
        got += d
    except socket.timeout:
        continue
    except OSError:
        break
took = time.monotonic() - t0
assert b"408 Request Timeout" in got and b"request body not received within 2 s" in got, got
assert 1.5 < took < 4, took
# --max-connections 30: the 31st connection is closed at once.
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", port))
extra.settimeout(2)
assert extra.recv(100) == b"", "a connection over --max-connections was kept"
for h in held:
    h.close()
time.sleep(0.5)
out = raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert out.endswith(b'{"status":"ok"}'), out
P
kill -0 $pid || fail "kiln-serve died"
kill $pid
wait $pid || { cat serve.log; fail "kiln-serve did not stop with status 0 on SIGTERM"; }
