# kiln gc trims the cache to a size, least recently used first, and drops the
# entries whose blobs it removed; the next build runs only what it lost.
. "$(dirname "$0")/lib.sh"
for i in 1 2 3 4; do
	printf 'command "t%d" { cmd = "echo %d > {out}/o; head -c 100000 /dev/urandom >> {out}/o", outputs = { "o" } }\n' $i $i
done > Kilnfile
ok kiln build
touch -d '2001-01-01' "$KILN_CACHE_DIR"/cas/*/*
# t4 was used most recently.
rm -rf kiln-out/t4
ok kiln build
has "1 restored"
ok kiln gc --max-size 150k
matches "removed 3 blobs"
[ "$(find "$KILN_CACHE_DIR/cas" -type f | wc -l)" -eq 1 ] || fail "gc kept the wrong number of blobs"
[ "$(find "$KILN_CACHE_DIR/ac" -type f | wc -l)" -eq 1 ] || fail "gc kept entries whose blobs are gone"
rm -rf kiln-out
ok kiln build
has "3 ran, 1 restored"
fails 2 kiln gc
fails 2 kiln gc --max-size lots
has "--max-size: expected a size"
ok kiln gc --max-size 0
[ -z "$(find "$KILN_CACHE_DIR/cas" -type f)" ] || fail "gc --max-size 0 left blobs"
