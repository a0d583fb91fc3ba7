# Without a shared cache folder: the compute node has a cache of its own
# (kiln.config's slurm.cache), and inputs and outputs travel through the
# remote cache (nginx with WebDAV). The iris example builds with the local
# executor's Kilnfile.lock.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
. "$top/tests/cli/slurm.sh"
slurm_start
start_nginx "$scratch/srv"

mkdir ../local
cp -r "$top/examples/iris/." ../local/
(cd ../local && rm -rf kiln-out .kiln Kilnfile.lock && KILN_CACHE_DIR=$scratch/cache-local "$KILN_BIN" build -q) ||
	fail "the local build failed"

cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
sed -i "1i kiln.config { executor = \"slurm\", slurm = { cache = \"$scratch/node-cache\" } }" Kilnfile
ok kiln build --remote "$remote"
ran 4
cmp Kilnfile.lock ../local/Kilnfile.lock || fail "Kilnfile.lock differs from the local executor's"

# The node's cache started empty: it fetched each step's inputs from the
# remote, and stored and uploaded each step's outputs; this side fetched them.
count() { find "$1" -type f | wc -l; }
[ "$(count "$scratch/node-cache/ac")" -eq 8 ] || fail "expected 4 input and 4 output entries in the node's cache"
[ "$(count "$scratch/srv/data/ac")" -eq 8 ] || fail "expected 4 input and 4 output entries on the remote"
for f in "$scratch"/srv/data/ac/*; do
	k=$(basename "$f")
	cmp -s "$f" "$KILN_CACHE_DIR/ac/${k:0:2}/$k" || fail "entry $k differs between the remote and this cache"
done

# Without the remote, the node cannot see the inputs: the step says so.
cat >>Kilnfile <<'EOF'
command "more" { inputs = { m = ":iris_test" }, cmd = "cp {in.m}/metrics.json {out}/", outputs = { "metrics.json" } }
EOF
fails 1 kiln build --remote off more
has "target 'more' failed: the step's inputs are not in the cache at $scratch/node-cache"
has "Slurm job"
ok kiln build --remote "$remote" more
ran 1

# A read-only remote (KILN_REMOTE_READ_ONLY) gets nothing from either side,
# so a node without a shared cache folder cannot see the inputs.
n=$(count "$scratch/srv/data/ac")
cat >>Kilnfile <<'EOF2'
command "ro" { inputs = { m = ":iris_test" }, cmd = "wc -c {in.m}/metrics.json > {out}/n", outputs = { "n" } }
EOF2
KILN_REMOTE_READ_ONLY=1 fails 1 kiln build --remote "$remote" ro
has "target 'ro' failed: the step's inputs are not in the cache at $scratch/node-cache nor on the remote"
[ "$(count "$scratch/srv/data/ac")" -eq "$n" ] || fail "something was uploaded to a read-only remote"
