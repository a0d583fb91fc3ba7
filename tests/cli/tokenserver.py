#!/usr/bin/python3
"""A token server for the deploy tests: docker-registry's `auth: token:`.

    tokenserver.py KEY CERT PORTFILE LOG MODEFILE

Listens on a free loopback port (written to PORTFILE) and answers
GET /token?service=S&scope=repository:NAME:ACTIONS with a JWT signed by KEY
(RS256, through `openssl dgst`) whose x5c header carries CERT, the
registry's rootcertbundle. Users: kiln/s3cret may push and pull; reader/r3ad
may only pull. MODEFILE holds "ok" or "expired" (tokens already past their
exp). Each request appends "user scope" to LOG.
"""
import base64, http.server, json, subprocess, sys, time, urllib.parse

KEY, CERT, PORTFILE, LOG, MODEFILE = sys.argv[1:6]
USERS = {"kiln": "s3cret", "reader": "r3ad"}
der = subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"], check=True, capture_output=True).stdout


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(claims):
    head = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    data = b64(json.dumps(head).encode()) + "." + b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=data.encode(),
                         check=True, capture_output=True).stdout
    return data + "." + b64(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        auth = self.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if USERS.get(user) != pw:
                with open(LOG, "a") as f:
                    f.write("%s refused\n" % user)
                return self.answer(401, {"details": "wrong password for %s" % user})
        scopes = q.get("scope", [])
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (user, " ".join(scopes)))
        if url.path != "/token" or not user:
            return self.answer(401, {"details": "authentication required"})
        access = []
        for s in scopes:
            typ, name, actions = s.rsplit(":", 2)
            acts = actions.split(",")
            if user == "reader":
                acts = [a for a in acts if a == "pull"]
            access.append({"type": typ, "name": name, "actions": acts})
        now = int(time.time())
        mode = open(MODEFILE).read().strip()
        exp = now - 3600 if mode == "expired" else now + 300
        claims = {"iss": "kiln-test-issuer", "sub": user, "aud": q.get("service", [""])[0],
                  "exp": exp, "nbf": exp - 600, "iat": exp - 600, "jti": str(time.time_ns()),
                  "access": access}
        self.answer(200, {"token": sign(claims), "expires_in": 300})

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
