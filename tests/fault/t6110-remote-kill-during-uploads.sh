# kill -9 while uploads run beside the steps, through a slow (200 ms) link:
# the server never holds an entry whose blobs are not all there, and the
# next build and kiln push complete the uploads.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
port=$(free_port)
/usr/bin/python3 "$top/tests/cli/shim.py" "$port" "$remote" 200 "$scratch/shim.log" &
shim_pid=$!
at_exit "kill $shim_pid 2>/dev/null"
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
{
	for i in $(seq 1 12); do
		echo "command \"t$i\" { cmd = \"seq $i 9000 > {out}/a; seq 1 $i > {out}/b; sleep 0.2\", outputs = { \"a\", \"b\" } }"
	done
} > Kilnfile
"$KILN_BIN" build -j2 --remote "http://127.0.0.1:$port" > "$scratch/build.log" 2>&1 &
kpid=$!
# Wait for the first blob upload, then kill kiln in the middle of them.
for i in $(seq 200); do grep -q '^PUT /cas' "$scratch/shim.log" 2>/dev/null && break; sleep 0.05; done
grep -q '^PUT /cas' "$scratch/shim.log" || fail "no upload started: $(cat "$scratch/build.log")"
sleep 0.3
kill -9 $kpid
wait $kpid 2>/dev/null || true
# Every entry on the server names only blobs the server has (plain or compressed).
check() {
	/usr/bin/python3 - "$scratch/srv/data" <<'P'
import os, sys
d = sys.argv[1]
n = 0
for f in os.listdir(os.path.join(d, "ac")) if os.path.isdir(os.path.join(d, "ac")) else []:
    for line in open(os.path.join(d, "ac", f)).read().splitlines()[1:]:
        if line.startswith("file "):
            digest = line.split(" ")[2]
            assert os.path.exists(os.path.join(d, "cas", digest)) or os.path.exists(os.path.join(d, "cas-zstd", digest)), (f, digest)
    n += 1
print(n)
P
}
entries=$(check) || fail "an entry on the server names a blob the server lacks"
[ "$entries" -lt 12 ] || fail "kiln finished every upload before it was killed; the test did not test anything"
# The next build runs what the kill stopped (and uploads it); kiln push sends what was built but not sent.
ok kiln build --remote "$remote"
entries=$(check) || fail "an entry on the server names a blob the server lacks after the second build"
ok kiln push --remote "$remote"
entries=$(check) || fail "an entry on the server names a blob the server lacks after kiln push"
[ "$entries" -eq 12 ] || fail "expected all 12 entries on the server after kiln push, found $entries"
