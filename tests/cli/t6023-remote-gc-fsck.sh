# kiln gc --remote keeps what a lock file names (or the newest entries) and
# deletes what nothing names, entries before blobs; kiln fsck --remote finds
# a deleted blob and a damaged one (plain and compressed), and --repair
# removes them. Against nginx: autoindex JSON listing, WebDAV DELETE.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
srv=$scratch/srv/data
cat > Kilnfile <<'K'
command "a" { cmd = "seq 1 5000 > {out}/a; echo a > {out}/s", outputs = { "a", "s" } }
command "b" { inputs = { a = ":a" }, cmd = "wc -l < {in.a}/a > {out}/b", outputs = { "b" } }
K
ok kiln build --remote "$remote"
cp Kilnfile.lock "$scratch/v1.lock"
# A second version of a: its old entry and blobs are named by v1.lock only.
sed -i 's/seq 1 5000/seq 1 6000/' Kilnfile
ok kiln build --remote "$remote"
cp Kilnfile.lock "$scratch/v2.lock"
sed -i 's/seq 1 6000/seq 1 7000/' Kilnfile
ok kiln build --remote "$remote"
[ "$(ls "$srv/ac" | wc -l)" -eq 6 ] || fail "expected 6 entries on the server"
nblobs() { find "$srv/cas" "$srv/cas-zstd" -type f 2>/dev/null | wc -l; }
before=$(nblobs)

# fsck of a sound remote finds nothing.
ok kiln fsck --remote="$remote"
has "6 entries, $before blobs checked: 0 bad entries, 0 bad blobs"

# gc keeping v1.lock and v2.lock: the third version's two entries go, then the blobs only they named.
ok kiln gc --remote="$remote" --keep "$scratch/v1.lock" --keep "$scratch/v2.lock" --dry-run
has "would delete 2 of 6 entries"
[ "$(ls "$srv/ac" | wc -l)" -eq 6 ] || fail "--dry-run deleted something"
# Fresh blobs are spared (an upload may be under way): nothing but entries goes without --grace 0.
ok kiln gc --remote="$remote" --keep "$scratch/v1.lock" --keep "$scratch/v2.lock"
has "deleted 2 of 6 entries and 0 of $before blobs"
ok kiln gc --remote="$remote" --keep "$scratch/v1.lock" --keep "$scratch/v2.lock" --grace 0
has "deleted 0 of 4 entries"
 [ "$(nblobs)" -lt "$before" ] || fail "gc deleted no blob that nothing names"
for k in $(grep -h '^key ' "$scratch/v1.lock" "$scratch/v2.lock" | awk '{print $NF}'); do
	[ -f "$srv/ac/$k" ] || fail "gc deleted the entry $k that a kept lock file names"
done
# Every remaining entry's blobs are still there, and the kept versions build with nothing to run.
ok kiln fsck --remote="$remote"
has "0 bad entries, 0 bad blobs"
mkdir ../v1
cp "$scratch/v1.lock" ../v1/Kilnfile.lock
sed 's/seq 1 7000/seq 1 5000/' Kilnfile > ../v1/Kilnfile
(cd ../v1 && KILN_CACHE_DIR=$scratch/c1 "$KILN_BIN" build --remote "$remote") > "$scratch/v1.log" 2>&1 ||
	{ cat "$scratch/v1.log"; fail "the kept version did not build"; }
grep -q "0 ran, 2 restored" "$scratch/v1.log" || { cat "$scratch/v1.log"; fail "the kept version ran steps"; }

# --keep-last 2: the two newest entries stay (which two, among entries of the same second, is the server's order).
ok kiln gc --remote="$remote" --keep-last 2 --grace 0
has "deleted 2 of 4 entries"
[ "$(ls "$srv/ac" | wc -l)" -eq 2 ] || fail "--keep-last 2 left $(ls "$srv/ac" | wc -l) entries"

# fsck: a deleted blob and a damaged one (one compressed copy, one plain).
ok kiln push --remote "$remote"
entry=$(grep -l "$(xxh128sum kiln-out/a/a | cut -d' ' -f1)" "$srv"/ac/* | head -1)
za=$(xxh128sum kiln-out/a/a | cut -d' ' -f1)
sb=$(xxh128sum kiln-out/a/s | cut -d' ' -f1)
[ -f "$srv/cas-zstd/$za" ] && [ -f "$srv/cas/$sb" ] || fail "expected a's blobs on the server"
# Every entry that names either blob is bad (which entries --keep-last kept decides how many).
nbad=$(grep -l -e "$sb" -e "$za" "$srv"/ac/* | wc -l)
rm "$srv/cas/$sb"
printf 'not zstd' > "$srv/cas-zstd/$za"
fails 1 kiln fsck --remote="$remote"
has "cas-zstd/$za: its bytes are not its digest"
has "ac/$(basename "$entry"): names blob $sb, which the server lacks"
has "ac/$(basename "$entry"): names blob $za, which the server has damaged"
has "$nbad bad entries, 1 bad blobs"
ok kiln fsck --remote="$remote" --repair
has "removed $nbad entries and 1 blobs"
[ ! -e "$entry" ] && [ ! -e "$srv/cas-zstd/$za" ] || fail "--repair left the bad entry or blob"
ok kiln fsck --remote="$remote"
has "0 bad entries, 0 bad blobs"
# A build after the repair runs a again and uploads it anew.
mkdir ../after
cp Kilnfile ../after/
cd ../after
KILN_CACHE_DIR=$scratch/c2 ok kiln build --remote "$remote"
ran 1

# Without anything to keep, gc --remote refuses.
cd "$scratch"
mkdir empty && cd empty
fails 2 kiln gc --remote="$remote"
has "say what to keep"
