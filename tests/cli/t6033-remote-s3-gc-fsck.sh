# kiln gc --remote and kiln fsck --remote on an S3 remote: listed with
# ListObjectsV2 (a page of up to 1,000 keys after another),
# deleted with DELETE. gc keeps what a lock file names and deletes what
# nothing names, entries before blobs; fsck finds a deleted blob and a
# damaged one, and --repair removes them.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/s3.sh"
start_s3 "$scratch/s3" kiln-cache
url=s3://kiln-cache/gc
# Another prefix in the same bucket, which neither command may touch.
cat > Kilnfile <<'K'
command "a" { cmd = "seq 1 5000 > {out}/a; echo a > {out}/s", outputs = { "a", "s" } }
command "b" { inputs = { a = ":a" }, cmd = "wc -l < {in.a}/a > {out}/b", outputs = { "b" } }
K
ok kiln build --remote s3://kiln-cache/other
ok kiln push --remote "$url"
cp Kilnfile.lock "$scratch/v1.lock"
sed -i 's/seq 1 5000/seq 1 6000/' Kilnfile
ok kiln build --remote "$url"
keys() { s3curl "$s3_endpoint/kiln-cache?list-type=2&prefix=$1" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'; }
[ "$(keys gc%2Fac%2F | wc -l)" -eq 4 ] || fail "expected 4 entries under gc/ac/: $(keys gc%2F)"
other=$(keys other%2F | sort)
blobs_before=$(keys gc%2Fcas | wc -l)

ok kiln fsck --remote="$url"
has "kiln fsck --remote $url: 4 entries, $blobs_before blobs checked: 0 bad entries, 0 bad blobs"

# gc keeping v1.lock: the second version's two entries go, then (with --grace 0) the blobs only they named.
ok kiln gc --remote="$url" --keep "$scratch/v1.lock" --grace 0
has "kiln gc --remote $url: deleted 2 of 4 entries and"
[ "$(keys gc%2Fac%2F | wc -l)" -eq 2 ] || fail "gc left $(keys gc%2Fac%2F | wc -l) entries"
for k in $(grep -h '^key ' "$scratch/v1.lock" | awk '{print $NF}'); do
	keys gc%2Fac%2F | grep -qx "gc/ac/$k" || fail "gc deleted the entry $k that the kept lock file names"
done
[ "$(keys gc%2Fcas | wc -l)" -lt "$blobs_before" ] || fail "gc deleted no blob that nothing names"
[ "$(keys other%2F | sort)" = "$other" ] || fail "gc touched another prefix of the bucket"
ok kiln fsck --remote="$url"
has "2 entries"
has "0 bad entries, 0 bad blobs"

# fsck: a blob deleted and another damaged behind kiln's back (one compressed copy, one plain).
sed -i 's/seq 1 6000/seq 1 5000/' Kilnfile
rm -rf kiln-out .kiln
ok kiln build --remote "$url"
za=$(xxh128sum kiln-out/a/a | cut -d' ' -f1)
sb=$(xxh128sum kiln-out/a/s | cut -d' ' -f1)
keys gc%2Fcas-zstd%2F | grep -qx "gc/cas-zstd/$za" && keys gc%2Fcas%2F | grep -qx "gc/cas/$sb" ||
	fail "expected a's blobs on the server"
s3curl -X DELETE "$s3_endpoint/kiln-cache/gc/cas/$sb"
printf 'not zstd' > "$scratch/junk"
s3curl -T "$scratch/junk" "$s3_endpoint/kiln-cache/gc/cas-zstd/$za"
fails 1 kiln fsck --remote="$url"
has "cas-zstd/$za: its bytes are not its digest"
matches "names blob $sb, which the server lacks"
matches "names blob $za, which the server has damaged"
has "1 bad entries, 1 bad blobs"
ok kiln fsck --remote="$url" --repair
has "removed 1 entries and 1 blobs"
ok kiln fsck --remote="$url"
has "0 bad entries, 0 bad blobs"
[ "$(keys other%2F | sort)" = "$other" ] || fail "fsck touched another prefix of the bucket"
