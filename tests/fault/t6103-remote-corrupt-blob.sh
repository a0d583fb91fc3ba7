# A blob corrupted on the server's disk is caught when it is downloaded:
# dropped, reported, and only its target is built here; the others come
# from the remote. The local cache never holds the bad bytes.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cat > Kilnfile <<'K'
command "a" { cmd = "seq 1 1000 > {out}/a", outputs = { "a" } }
command "b" { inputs = { a = ":a" }, cmd = "wc -l < {in.a}/a > {out}/b; echo unique-to-b >> {out}/b", outputs = { "b" } }
K
ok kiln build --remote "$remote"
ran 2
blob=$(/usr/bin/python3 - "$KILN_CACHE_DIR" <<'P'
import os, sys
# b's output: the blob whose bytes end in unique-to-b.
for root, _, files in os.walk(os.path.join(sys.argv[1], "cas")):
    for f in files:
        if open(os.path.join(root, f), "rb").read().endswith(b"unique-to-b\n"):
            print(f)
P
)
[ -n "$blob" ] || fail "cannot find b's blob"
srvblob=$scratch/srv/data/cas/$blob
[ -f "$srvblob" ] || fail "b's blob is not on the server"
# Same length, one byte changed: only the hash can tell.
printf 'X' | dd of="$srvblob" bs=1 seek=0 conv=notrunc 2>/dev/null
mkdir ../clone
cp Kilnfile ../clone/
cd ../clone
export KILN_CACHE_DIR=$scratch/cache2
ok kiln build --remote "$remote"
ran 1
has "1 restored from the cache"
has "blob cas/$blob"
has "does not match its digest"
has "1 bad blobs dropped"
same kiln-out/b/b "1000
unique-to-b"
local_blob=$KILN_CACHE_DIR/cas/$(echo "$blob" | cut -c1-2)/$blob
if [ -e "$local_blob" ]; then cmp -s "$local_blob" ../ws/kiln-out/b/b || fail "the bad blob reached the local cache"; fi
ok kiln fsck
has "0 bad"
# The server keeps the bad blob (the first writer's entry stays): each fresh
# build checks it again, drops it and builds b here, and never fails.
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
ok kiln build --remote "$remote"
same kiln-out/b/b "1000
unique-to-b"
