# kiln add follows no link: a link inside a tracked folder, or the tracked
# path itself as a link, is refused by name, and no pointer is written. Blobs
# go into the cache read-only and whole, with nothing left in its tmp/.
. "$(dirname "$0")/lib.sh"
mkdir -p imgs/a imgs/b outside
for i in 1 2 3; do echo "img $i" > imgs/a/$i.bin; echo "other $i" > imgs/b/$i.bin; done
echo secret > outside/s
echo 'command "c" { inputs = { d = "imgs" }, cmd = "ls {in.d} > {out}/n", outputs = { "n" } }' > Kilnfile
ln -s ../../outside/s imgs/a/link.bin
fails 1 kiln add imgs
has "imgs/a/link.bin is a symbolic link"
has "follows no link"
[ ! -e imgs.kiln ] || fail "a pointer was written for a refused folder"
# A link to a folder inside the tracked one is refused the same way.
rm imgs/a/link.bin
ln -s ../b imgs/a/sub
fails 1 kiln add imgs
has "imgs/a/sub is a symbolic link"
rm imgs/a/sub
# The tracked path itself as a link.
ln -s imgs lnk
fails 1 kiln add lnk
has "lnk is a symbolic link"
[ ! -e lnk.kiln ] || fail "a pointer was written for a link"
# Without links it is stored: every blob 0444, the same bytes, tmp/ empty.
ok kiln add imgs
has "added imgs: 6 files"
n=0
for f in imgs/a/*.bin imgs/b/*.bin; do
	d=$(find "$KILN_CACHE_DIR/cas" -type f -exec cmp -s {} "$f" \; -print | head -1)
	[ -n "$d" ] || fail "no blob holds $f"
	[ "$(stat -c %a "$d")" = 444 ] || fail "blob $d is $(stat -c %a "$d"), not 444"
	n=$((n + 1))
done
[ "$n" = 6 ] || fail "checked $n blobs"
[ -z "$(ls -A "$KILN_CACHE_DIR/tmp" 2>/dev/null)" ] || { ls -la "$KILN_CACHE_DIR/tmp"; fail "files left in the cache's tmp/"; }
# A second add over the same data stores nothing new and says unchanged.
before=$(find "$KILN_CACHE_DIR/cas" -type f | wc -l)
ok kiln add imgs
has "unchanged imgs"
[ "$(find "$KILN_CACHE_DIR/cas" -type f | wc -l)" = "$before" ] || fail "blobs stored again"
