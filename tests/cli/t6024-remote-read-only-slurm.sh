# --remote-read-only reaches Slurm jobs as KILN_REMOTE_READ_ONLY does: with
# either, neither this side nor the job's node side uploads, so a node
# without a shared cache folder cannot see the step's inputs, and says so.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
. "$top/tests/cli/slurm.sh"
slurm_start
start_nginx "$scratch/srv"
cat > Kilnfile <<K
kiln.config { executor = "slurm", slurm = { cache = "$scratch/node-cache" } }
command "a" { cmd = "echo a > {out}/a", outputs = { "a" } }
command "b" { inputs = { a = ":a" }, cmd = "cat {in.a}/a > {out}/b", outputs = { "b" } }
K
count() { find "$1" -type f 2>/dev/null | wc -l; }
fails 1 kiln build --remote "$remote" --remote-read-only
has "target 'a' failed: the step's inputs are not in the cache at $scratch/node-cache nor on the remote"
[ "$(count "$scratch/srv/data")" -eq 0 ] || fail "--remote-read-only: something was uploaded: $(find "$scratch/srv/data" -type f)"
KILN_REMOTE_READ_ONLY=1 fails 1 kiln build --remote "$remote"
has "target 'a' failed: the step's inputs are not in the cache at $scratch/node-cache nor on the remote"
[ "$(count "$scratch/srv/data")" -eq 0 ] || fail "KILN_REMOTE_READ_ONLY: something was uploaded"
# Writable, the same build goes through the remote.
ok kiln build --remote "$remote"
ran 2
[ "$(count "$scratch/srv/data/ac")" -ge 2 ] || fail "the writable build uploaded nothing"
