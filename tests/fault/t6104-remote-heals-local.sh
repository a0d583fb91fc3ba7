# A blob damaged in the local cache is quarantined when a restore finds it
# out; with a remote cache the build then fetches a sound copy instead of
# running the step again.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cat > Kilnfile <<'K'
command "a" { cmd = "seq 1 1000 > {out}/a", outputs = { "a" } }
K
ok kiln build --remote "$remote"
ran 1
rm -rf kiln-out
blob=$(find "$KILN_CACHE_DIR/cas" -type f | head -1)
chmod u+w "$blob"
printf 'X' | dd of="$blob" bs=1 seek=0 conv=notrunc 2>/dev/null
ok kiln build --remote "$remote"
ran 0
has "damaged; moved to quarantine"
has "1 restored from the cache"
has "fetched 1 targets (1 blobs"
[ "$(head -1 kiln-out/a/a)" = 1 ] || fail "the restored output is not the right one"
ok kiln fsck
has "0 bad"
# Without a remote the same damage means running the step again.
rm -rf kiln-out
blob=$(find "$KILN_CACHE_DIR/cas" -type f | head -1)
chmod u+w "$blob"
printf 'X' | dd of="$blob" bs=1 seek=0 conv=notrunc 2>/dev/null
ok kiln build
ran 1
