# Two machines (workspaces with their own caches) build the same graph at
# the same time against one remote: both upload the same blobs and entries
# at once. Both builds succeed, every file on the server is whole, and a
# third machine builds everything from the remote with nothing to run.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cat > Kilnfile <<'K'
command "big" { cmd = "head -c 20000000 /dev/zero | tr '\\0' x > {out}/big; seq 1 5000 > {out}/small", outputs = { "big", "small" } }
command "many" { inputs = { b = ":big" }, cmd = "mkdir {out}/d; for i in $(seq 200); do echo $i > {out}/d/$i; done; wc -c < {in.b}/big > {out}/n", outputs = { "d", "n" } }
K
for w in a b c; do mkdir "../$w" && cp Kilnfile "../$w/"; done
(cd ../a && KILN_CACHE_DIR=$scratch/ca "$KILN_BIN" build --remote "$remote" > ../a.log 2>&1) &
pa=$!
(cd ../b && KILN_CACHE_DIR=$scratch/cb "$KILN_BIN" build --remote "$remote" > ../b.log 2>&1) &
pb=$!
wait $pa || { cat ../a.log; fail "the first concurrent build failed"; }
wait $pb || { cat ../b.log; fail "the second concurrent build failed"; }
grep -q warning ../a.log ../b.log && { cat ../a.log ../b.log; fail "a concurrent build warned"; } || true
# Every blob on the server is what its name says (decompressed, for a cas-zstd/ copy); every entry parses.
/usr/bin/python3 - "$scratch/srv/data" <<'P' || fail "a file on the server is damaged"
import os, subprocess, sys
d = sys.argv[1]
for f in os.listdir(os.path.join(d, "ac")):
    t = open(os.path.join(d, "ac", f)).read()
    assert t.startswith("kiln-action 1\n"), f
    for line in t.splitlines()[1:]:
        if line.startswith("file "):
            _, mode, digest, size, path = line.split(" ", 4)
            p = os.path.join(d, "cas", digest)
            z = os.path.join(d, "cas-zstd", digest)
            if os.path.exists(z):  # a compressed copy: its bytes after decompression
                n = len(subprocess.run(["zstd", "-dc", z], capture_output=True, check=True).stdout)
            else:
                n = os.path.getsize(p)
            assert n == int(size), (p, size)
P
cd ../c
export KILN_CACHE_DIR=$scratch/cc
ok kiln build --remote "$remote"
ran 0
has "2 restored from the cache"
ok kiln fsck
has "0 bad"
diff -r ../a/kiln-out kiln-out || fail "the third machine's outputs differ"
