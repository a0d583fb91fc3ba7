# Outputs are restored from the local cache: after kiln-out/ is removed, and
# in a second clone that shares the cache, nothing runs. Blobs are read-only.
. "$(dirname "$0")/lib.sh"
mkdir data
seq 1 1000 > data/n
cat > Kilnfile <<'K'
command "sum" { inputs = { n = "data/n" }, cmd = "awk '{s+=$1} END {print s}' {in.n} > {out}/sum; mkdir {out}/d; echo x > {out}/d/x; chmod +x {out}/d/x", outputs = { "sum", "d" } }
command "twice" { inputs = { s = ":sum" }, cmd = "echo $(( $(cat {in.s}/sum) * 2 )) > {out}/t", outputs = { "t" } }
K
ok kiln build
ran 2
ok kiln clean
[ ! -e kiln-out ] || fail "clean left kiln-out"
ok kiln build
has "0 ran, 2 restored from the cache"
same kiln-out/twice/t 1001000
same kiln-out/sum/d/x x
[ -x kiln-out/sum/d/x ] || fail "the executable bit was not restored"
# A second clone of the repository, same cache: nothing runs.
mkdir ../clone
cp -r Kilnfile data ../clone/
cd ../clone
ok kiln build
has "0 ran, 2 restored from the cache"
same kiln-out/twice/t 1001000
# Cache blobs are read-only; restored outputs are the user's own copies.
find "$KILN_CACHE_DIR/cas" -type f | while read -r f; do
	[ "$(stat -c %a "$f")" = 444 ] || fail "blob $f is not read-only"
done
echo edited >> kiln-out/twice/t
cd ../ws
rm -rf kiln-out
ok kiln build
same kiln-out/twice/t 1001000
# Hardlinks for small files only when asked.
rm -rf kiln-out
ok kiln build --link hardlink
[ "$(stat -c %h kiln-out/twice/t)" -ge 2 ] || fail "--link hardlink did not hardlink"
rm -rf kiln-out
ok kiln build
[ "$(stat -c %h kiln-out/twice/t)" -eq 1 ] || fail "default restore must not hardlink a small file"
fails 2 kiln build --link sideways
has "--link: expected auto, copy or hardlink"
