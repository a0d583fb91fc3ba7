# kiln push and kiln pull move a target's closure explicitly, with a summary;
# after a pull, a build restores everything without running a step.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
mkdir data
seq 1 500 > data/n
cat > Kilnfile <<'K'
command "sum" { inputs = { n = "data/n" }, cmd = "awk '{s+=$1} END {print s}' {in.n} > {out}/sum; mkdir {out}/d; seq 1 300 > {out}/d/seq", outputs = { "sum", "d" } }
command "twice" { inputs = { s = ":sum" }, cmd = "echo $(( $(cat {in.s}/sum) * 2 )) > {out}/t", outputs = { "t" } }
command "other" { cmd = "echo other > {out}/o", outputs = { "o" } }
K
# Nothing built: nothing to push.
fails 1 kiln push --remote "$remote" twice
has "not built"
fails 2 kiln push twice
has "no remote cache"
ok kiln build
ran 3
ok kiln push --remote "$remote" twice
has "pushed 2 targets"
matches "3 blobs \([0-9.]+ [KMG]?i?B\) uploaded, 0 already there, in [0-9.]+s"
[ "$(ls "$scratch/srv/data/ac" | wc -l)" -eq 2 ] || fail "push of twice must send sum and twice only"
# Again: the server has the entries; nothing is sent.
ok kiln push --remote "$remote" twice
has "pushed 2 targets"
has "0 blobs (0 B) uploaded"
# An entry whose local cache copy was trimmed is rebuilt from kiln-out.
rm -rf "$KILN_CACHE_DIR"
KILN_REMOTE=$remote ok kiln push other
has "pushed 1 targets"
has "1 blobs"

# A fresh clone and cache pulls the closure, then builds with nothing to run.
mkdir ../clone
cp -r Kilnfile data ../clone/
cd ../clone
export KILN_CACHE_DIR=$scratch/cache2
ok kiln pull --remote "$remote" twice
has "pulled 2 targets"
matches "3 blobs \([0-9.]+ [KMG]?i?B\) downloaded"
ok kiln build twice
ran 0
has "2 restored from the cache"
same kiln-out/twice/t 250500
# A pull of what is already here moves nothing.
ok kiln pull --remote "$remote" twice
has "pulled 0 targets"
has "2 targets already here"
# The remote lacks what was never pushed: exit 1, named.
echo 'command "new" { cmd = "echo new > {out}/x", outputs = { "x" } }' >> Kilnfile
fails 1 kiln pull --remote "$remote" new
has "new"
has "not in the remote cache"
# Read-only clients cannot push.
KILN_REMOTE_READ_ONLY=1 fails 2 kiln push --remote "$remote"
has "read-only"
fails 2 kiln pull --remote ftp://example.org/cache
has "expected an http://, https:// or s3:// URL"
