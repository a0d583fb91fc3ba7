# Two workspaces with separate local caches share one remote cache (nginx
# with WebDAV): the first builds the iris example and uploads; the second
# builds every target with zero plugin runs and gets the same bytes.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build --remote "$remote"
ran 4
has "uploaded 4 targets"
# The protocol's layout on the server: cas/<digest> and ac/<key>, entries in the local cache's format.
[ "$(ls "$scratch/srv/data/ac" | wc -l)" -eq 4 ] || fail "expected 4 action entries on the server"
for f in "$scratch"/srv/data/ac/*; do
	head -1 "$f" | grep -qx "kiln-action 1" || fail "$f is not an action entry"
	cmp -s "$f" "$KILN_CACHE_DIR/ac/$(basename "$f" | cut -c1-2)/$(basename "$f")" || fail "$f differs from the local entry"
done
nblobs=$(ls "$scratch/srv/data/cas" | wc -l)
[ "$nblobs" -ge 4 ] || fail "expected the blobs on the server, found $nblobs"
# A second build uploads nothing more.
ok kiln build --remote "$remote"
has "nothing to do"

# The second workspace: a new clone, a new local cache, the remote from the environment.
mkdir ../ws2
cp -r "$top/examples/iris/." ../ws2/
cd ../ws2
rm -rf kiln-out .kiln Kilnfile.lock
export KILN_CACHE_DIR=$scratch/cache2
# -n looks at the remote's entries without fetching blobs or changing anything.
KILN_REMOTE=$remote ok kiln build -n
has "0 would run, 4 would be restored from the cache"
[ ! -e kiln-out ] || fail "-n wrote outputs"
[ -z "$(find "$KILN_CACHE_DIR" -type f)" ] || fail "-n stored something in the local cache"
KILN_REMOTE=$remote ok kiln build
ran 0
has "0 ran, 4 restored from the cache"
has "fetched 4 targets"
hasnt "warning"
cmp ../ws/Kilnfile.lock Kilnfile.lock || fail "the lock files differ"
diff -r ../ws/kiln-out kiln-out || fail "the outputs differ"
# Fetched blobs are in the local cache, read-only, and sound.
find "$KILN_CACHE_DIR/cas" -type f | while read -r f; do
	[ "$(stat -c %a "$f")" = 444 ] || fail "fetched blob $f is not read-only"
done
ok kiln fsck
has "0 bad"
# Nothing fetched is left in the cache's tmp/.
[ -z "$(ls "$KILN_CACHE_DIR/tmp")" ] || fail "files left in the cache's tmp/: $(ls "$KILN_CACHE_DIR/tmp")"

# The Kilnfile's kiln.config names the remote too; the command line wins over it.
mkdir ../ws3
cp -r "$top/examples/iris/." ../ws3/
cd ../ws3
rm -rf kiln-out .kiln Kilnfile.lock
{ echo "kiln.config { remote = \"$remote\" }"; cat Kilnfile; } > K && mv K Kilnfile
export KILN_CACHE_DIR=$scratch/cache3
ok kiln build
ran 0
has "fetched 4 targets"
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
ok kiln build --remote off
ran 4
hasnt "remote cache"
