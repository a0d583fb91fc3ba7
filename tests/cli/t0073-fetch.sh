# fetch against a real HTTP server on loopback: the right digest keeps the
# file, a wrong one fails naming both digests and keeps nothing, a dropped
# connection is resumed with a range request, a redirect is followed, a 404
# is a clear error, and a server that is down on the second build costs
# nothing: the file comes from the cache.
. "$(dirname "$0")/lib.sh"
mkdir -p "$scratch/www"
seq 1 200000 | awk '{ print $1 "," $1 * 3 }' | sed '1i id,v' > "$scratch/www/t.csv"
sha=$(sha256sum "$scratch/www/t.csv" | cut -d' ' -f1)
start_httpd() {
	rm -f "$scratch/port"
	python3 "$top/tests/cli/httpd.py" "$scratch/www" "$scratch/port" &
	httpd_pid=$!
	at_exit "kill $httpd_pid 2>/dev/null"
	for i in $(seq 100); do [ -s "$scratch/port" ] && break; sleep 0.05; done
	[ -s "$scratch/port" ] || fail "the test server did not start"
	url=http://127.0.0.1:$(cat "$scratch/port")
}
start_httpd
cat > Kilnfile <<K
fetch "raw" { url = "$url/t.csv", sha256 = "$sha" }
fetch "dropped" { url = "$url/drop/t.csv", sha256 = "$sha", file = "d.csv" }
fetch "again" { url = "$url/drop/norange/t.csv", sha256 = "$sha", file = "a.csv" }
fetch "moved" { url = "$url/redirect/t.csv", sha256 = "$sha" }
fetch "missing" { url = "$url/nope.csv", sha256 = "$sha" }
fetch "wrong" { url = "$url/t.csv", sha256 = "$(printf '0%.0s' $(seq 64))" }
dataset "checked" { source = ":raw", schema = { id = { type = "int" }, v = { type = "int" } } }
K
ok kiln build raw checked
ran 2
cmp kiln-out/raw/t.csv "$scratch/www/t.csv" || fail "fetched bytes differ"
has "2 ran"
# Dropped half way: resumed with a range request, verified.
ok kiln build dropped
cmp kiln-out/dropped/d.csv "$scratch/www/t.csv" || fail "resumed download differs"
grep -q "resuming with a range request" .kiln/logs/dropped.log || fail "no resume: $(cat .kiln/logs/dropped.log)"
grep -q "GET /drop/t.csv range=bytes=" "$scratch/requests.log" || fail "no Range request: $(cat "$scratch/requests.log")"
# A server that ignores ranges: read again from the start.
ok kiln build again
cmp kiln-out/again/a.csv "$scratch/www/t.csv" || fail "download after a server ignored the range differs"
grep -q "does not resume" .kiln/logs/again.log || fail "no restart: $(cat .kiln/logs/again.log)"
ok kiln build moved
cmp kiln-out/moved/t.csv "$scratch/www/t.csv" || fail "redirected download differs"
fails 1 kiln build missing
has "$url/nope.csv: the server answered HTTP 404"
[ ! -e kiln-out/missing/nope.csv ] || fail "a 404 left a file"
fails 1 kiln build wrong
has "the download has sha256 $sha, but the Kilnfile pins 0000000000000000000000000000000000000000000000000000000000000000; nothing was kept"
has "kiln fetch --update wrong"
[ ! -e kiln-out/wrong/t.csv ] || fail "a wrong digest kept the file"
[ -z "$(ls .kiln/tmp/wrong/out 2>/dev/null)" ] || fail "a wrong digest left bytes behind"
# kiln fetch --update: the pinned URL serves the same bytes, then others.
ok kiln fetch --update raw
has "raw: $url/t.csv serves the pinned bytes (sha256 $sha)"
fails 1 kiln fetch --update wrong
has "wrong: $url/t.csv now serves sha256 $sha"
has "change Kilnfile:6 to: sha256 = \"$sha\""
fails 2 kiln fetch --update checked
has "checked is not a fetch target"
fails 2 kiln fetch
has "usage: kiln fetch --update"
# kiln status --remote-sources: HEAD, a download only when the validators moved.
ok kiln status --remote-sources raw
has "raw: $url/t.csv serves the pinned bytes (downloaded and checked)"
: > "$scratch/requests.log"
ok kiln status --remote-sources raw
has "raw: $url/t.csv serves the pinned bytes (its ETag and Last-Modified are unchanged)"
grep -q "^GET /t.csv" "$scratch/requests.log" && fail "downloaded although the validators were unchanged"
grep -q "^HEAD /t.csv" "$scratch/requests.log" || fail "no HEAD: $(cat "$scratch/requests.log")"
cp "$scratch/www/t.csv" "$scratch/t.orig"
echo "200001,600003" >> "$scratch/www/t.csv"
fails 1 kiln status --check --remote-sources raw
has "raw: $url/t.csv serves other bytes now (sha256 "
has "kiln fetch --update raw prints the line to change"
mv "$scratch/t.orig" "$scratch/www/t.csv"
# The server goes down: a clean workspace and a second one sharing the
# cache build without the network.
kill $httpd_pid; wait $httpd_pid 2>/dev/null || true
ok kiln clean
ok kiln build raw checked
has "2 restored from the cache"
mkdir ../ws2
cp Kilnfile ../ws2/
cd ../ws2
ok kiln build raw
has "1 restored from the cache"
cmp kiln-out/raw/t.csv "$scratch/www/t.csv" || fail "cached bytes differ"
# Bad declarations fail at the Kilnfile.
echo "fetch \"x\" { url = \"ftp://h/x\", sha256 = \"$sha\" }" > Kilnfile
fails 2 kiln build
has "field 'url': expected an http://, https:// or file:/// URL"
echo 'fetch "x" { url = "http://h/x.csv" }' > Kilnfile
fails 2 kiln build
has "give one digest"
echo 'fetch "x" { url = "http://h/x.csv", sha256 = "AB" }' > Kilnfile
fails 2 kiln build
has "field 'sha256': expected 64 lower-case hex digits"
# file:// URLs and xxh3.
if command -v xxh128sum >/dev/null; then
	x=$(xxh128sum "$scratch/www/t.csv" | cut -d' ' -f1)
	echo "fetch \"local\" { url = \"file://$scratch/www/t.csv\", xxh3 = \"$x\" }" > Kilnfile
	ok kiln build
	cmp kiln-out/local/t.csv "$scratch/www/t.csv" || fail "file:// download differs"
fi
