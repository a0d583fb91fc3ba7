# zstd on the wire: blobs of 4 KiB and more are uploaded compressed under
# cas-zstd/<digest> (the digest of the uncompressed bytes), small ones
# plain under cas/; a reader checks the digest after decompression; a
# server filled by a kiln without compression (plain copies only) still
# serves; a damaged compressed copy is dropped and its target built here.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cat > Kilnfile <<'K'
command "csv" { cmd = "for i in $(seq 1 20000); do echo $i,$((i * 7 % 13)),x$((i % 5)); done > {out}/t.csv; echo hi > {out}/small", outputs = { "t.csv", "small" } }
command "n" { inputs = { c = ":csv" }, cmd = "wc -l < {in.c}/t.csv > {out}/n", outputs = { "n" } }
K
ok kiln build --remote "$remote"
ran 2
srv=$scratch/srv/data
big=$(xxh128sum kiln-out/csv/t.csv | cut -d' ' -f1)
[ -f "$srv/cas-zstd/$big" ] || fail "the large blob is not under cas-zstd/: $(ls "$srv"/*)"
[ ! -e "$srv/cas/$big" ] || fail "the large blob was sent plain as well"
[ "$(zstd -dc "$srv/cas-zstd/$big" | xxh128sum | cut -d' ' -f1)" = "$big" ] ||
	fail "cas-zstd/$big does not decompress to its digest"
raw=$(stat -c %s kiln-out/csv/t.csv)
z=$(stat -c %s "$srv/cas-zstd/$big")
[ "$z" -lt $((raw / 3)) ] || fail "the compressed copy ($z bytes) is not much smaller than the blob ($raw)"
small=$(xxh128sum kiln-out/csv/small | cut -d' ' -f1)
[ -f "$srv/cas/$small" ] || fail "the small blob is not plain under cas/"

# A clone downloads the compressed copy: fewer bytes on the wire than the blob.
mkdir ../clone
cp Kilnfile ../clone/
cd ../clone
export KILN_CACHE_DIR=$scratch/cache2
ok kiln build --remote "$remote"
ran 0
has "fetched 2 targets"
cmp kiln-out/csv/t.csv ../ws/kiln-out/csv/t.csv || fail "the decompressed blob differs"
ok kiln fsck
has "0 bad"

# A server with plain copies only (filled with KILN_REMOTE_ZSTD_MIN=off): still served.
start_nginx "$scratch/srv2"
cd ../ws
KILN_REMOTE_ZSTD_MIN=off ok kiln push --remote "$remote"
[ -f "$scratch/srv2/data/cas/$big" ] && [ ! -e "$scratch/srv2/data/cas-zstd" ] || fail "KILN_REMOTE_ZSTD_MIN=off compressed"
mkdir ../plain
cp Kilnfile ../plain/
cd ../plain
export KILN_CACHE_DIR=$scratch/cache3
ok kiln build --remote "$remote"
ran 0
has "fetched 2 targets"
hasnt "warning"

# A compressed copy that decompresses to other bytes: dropped, named, built here.
printf 'a,b,c\n' | zstd -q -c > "$scratch/bad.zst"
cp "$scratch/bad.zst" "$srv/cas-zstd/$big"
mkdir ../bad
cp Kilnfile ../bad/
cd ../bad
export KILN_CACHE_DIR=$scratch/cache4
first_remote=http://127.0.0.1:$(grep -o 'listen 127.0.0.1:[0-9]*' "$scratch/srv/nginx.conf" | cut -d: -f2)
ok kiln build --remote "$first_remote"
ran 1
has "blob cas-zstd/$big does not match its digest"
cmp kiln-out/csv/t.csv ../ws/kiln-out/csv/t.csv || fail "the rebuilt blob differs"
ok kiln fsck
has "0 bad"
