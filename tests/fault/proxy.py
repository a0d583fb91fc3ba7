"""A misbehaving HTTP proxy for kiln's remote cache fault tests.

    proxy.py PORT UPSTREAM MODE

forwards GET, HEAD and PUT to UPSTREAM (http://host:port) on 127.0.0.1:PORT,
misbehaving on the way back according to MODE:

    flaky     every other request answers 500 (retries get through)
    500       every request answers 500
    truncate  blob bodies stop half way, the connection closed
    garbage   blob bodies are replaced by as many random bytes
    slow      blob bodies are sent one byte every 50 ms
    pass      no misbehaviour
"""
import http.client, http.server, os, sys, threading, time, urllib.parse

port, upstream, mode = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2]), sys.argv[3]
count = 0
lock = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        global count
        with lock:
            count += 1
            n = count
        body = None
        if self.command == "PUT":
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if mode == "500" or (mode == "flaky" and n % 2):
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        c = http.client.HTTPConnection(upstream.hostname, upstream.port)
        c.request(self.command, self.path, body=body,
                  headers={k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-length")})
        r = c.getresponse()
        data = r.read()
        blob = self.command == "GET" and ("/cas/" in self.path or "/cas-zstd/" in self.path) and r.status == 200
        self.send_response(r.status)
        length = r.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", length or "0")
        if blob and mode == "truncate":
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if blob and mode == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if blob and mode == "garbage":
            data = os.urandom(len(data))
        if blob and mode == "slow":
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = forward


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hangs up on a slow or cut body is the point, not an error


Server(("127.0.0.1", port), Proxy).serve_forever()
