"""A latency shim for kiln's remote cache tests and bench/remote.sh.

    shim.py PORT UPSTREAM DELAY_MS LOG

forwards every request to UPSTREAM (http://host:port) from 127.0.0.1:PORT
after holding it DELAY_MS milliseconds, as a far server's round trip would,
and appends a line per request to LOG: "METHOD PATH STATUS START END"
(seconds since the epoch), so a test can count requests and see how many
were in flight at once. One thread per connection; each keeps its own
connection to the upstream.
"""
import http.client, http.server, sys, threading, time, urllib.parse

port, upstream, delay, logpath = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2]), int(sys.argv[3]) / 1000.0, sys.argv[4]
log = open(logpath, "a", buffering=1)
lock = threading.Lock()
local = threading.local()


def conn():
    if getattr(local, "c", None) is None:
        local.c = http.client.HTTPConnection(upstream.hostname, upstream.port)
    return local.c


class Shim(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        start = time.time()
        body = None
        if "Content-Length" in self.headers:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(delay)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "expect")}
        for attempt in range(2):
            try:
                c = conn()
                c.request(self.command, self.path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                local.c = None  # the upstream closed a kept-alive connection: once more on a new one
                if attempt:
                    raise
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                self.send_header(k, v)
        self.send_header("Content-Length", r.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        with lock:
            log.write("%s %s %d %.6f %.6f\n" % (self.command, self.path, r.status, start, time.time()))

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PROPFIND = forward


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass


Server(("127.0.0.1", port), Shim).serve_forever()
