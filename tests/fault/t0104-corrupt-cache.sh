# A cache blob whose bytes changed on disk: kiln fsck finds and quarantines
# it; a build never restores it silently.
. "$(dirname "$0")/../cli/lib.sh"
cat > Kilnfile <<'K'
command "a" { cmd = "echo precious > {out}/o", outputs = { "o" } }
K
ok kiln build
blob=$(find "$KILN_CACHE_DIR/cas" -type f | head -1)
chmod u+w "$blob"
echo "tampered" > "$blob"
rm -rf kiln-out
ok kiln build
has "is damaged; moved to quarantine"
ran 1
same kiln-out/a/o precious
# Tamper again; fsck reports it and exits 1.
blob=$(find "$KILN_CACHE_DIR/cas" -type f | head -1)
chmod u+w "$blob"
echo "tampered again" > "$blob"
fails 1 kiln fsck
has "corrupt blob: $blob"
[ -n "$(ls "$KILN_CACHE_DIR/quarantine")" ] || fail "nothing in quarantine"
ok kiln fsck
has ", 0 bad"
# A damaged action entry reads as a miss.
rm -rf kiln-out
entry=$(find "$KILN_CACHE_DIR/ac" -type f | head -1)
[ -z "$entry" ] || { chmod u+w "$entry"; printf 'garbage\n' > "$entry"; }
ok kiln build
same kiln-out/a/o precious
