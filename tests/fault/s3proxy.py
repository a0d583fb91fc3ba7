"""A proxy in front of the S3 test server that refuses some requests.

    s3proxy.py PORT UPSTREAM PATTERN [once]

forwards every request (any method, every header, the body) to UPSTREAM
(http://host:port) as it came, so that Signature V4 still matches, except
that a request whose path and query contain PATTERN is answered 500 (an
S3 InternalError) without reaching the server; with `once`, only the first
such request. Each request's method and path are logged on stdout.
"""
import http.client, http.server, sys, urllib.parse

port, upstream, pattern = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2]), sys.argv[3]
once = sys.argv[4:] == ["once"]
refused = 0


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        global refused
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        print(self.command, self.path, flush=True)
        if pattern in self.path and not (once and refused):
            refused += 1
            data = b"<Error><Code>InternalError</Code><Message>refused by the test's proxy</Message></Error>"
            self.send_response(500)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        c = http.client.HTTPConnection(upstream.hostname, upstream.port)
        c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            c.putheader(k, v)
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = forward


http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
