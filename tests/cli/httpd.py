#!/usr/bin/env python3
"""A small HTTP server for kiln's fetch tests, on 127.0.0.1.

    httpd.py DIR PORTFILE

serves DIR's files with Range support (206), and writes its port to
PORTFILE once listening. Paths:
    /NAME            the file
    /drop/NAME       the first request for NAME gets half the bytes, then
                     the connection is cut; later ones are served whole
                     (or from the requested range)
    /redirect/NAME   302 to /NAME
    /norange/NAME    the file, ignoring any Range header
The prefixes combine: /drop/norange/NAME.
Files are served with an ETag (from mtime and size) and Last-Modified.
Every request line is appended to DIR/../requests.log.
"""
import http.server
import os
import sys

root, portfile = sys.argv[1], sys.argv[2]
dropped = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        with open(os.path.join(root, "..", "requests.log"), "a") as f:
            f.write("%s %s range=%s\n" % (self.command, self.path, self.headers.get("Range")))

    def do_HEAD(self):
        self.serve(head=True)

    def do_GET(self):
        self.serve(head=False)

    def serve(self, head):
        path = self.path.split("?")[0]
        modes = set()
        for m in ("drop", "redirect", "norange"):
            if path.startswith("/%s/" % m):
                modes.add(m)
                path = path[len(m) + 1:]
        if "redirect" in modes:
            self.send_response(302)
            self.send_header("Location", path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        name = os.path.join(root, path.lstrip("/"))
        if not os.path.isfile(name):
            self.send_error(404)
            return
        data = open(name, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng and "norange" not in modes and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        st = os.stat(name)
        self.send_header("ETag", '"%x-%x"' % (st.st_mtime_ns, st.st_size))
        self.send_header("Last-Modified", self.date_time_string(int(st.st_mtime)))
        self.end_headers()
        if head:
            return
        if "drop" in modes and self.path not in dropped:
            dropped.add(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
