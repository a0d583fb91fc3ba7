# A GPU step's driver and CUDA versions are recorded with its outputs and
# named by `kiln why` when they change; they are in the key only with
# gpu_key = "driver".
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "stand-in GPU device nodes need mknod (root)"
root=$scratch/gpuroot
mkdir -p "$root/dev" "$root/proc/driver/nvidia" "$root/usr/local/cuda"
mknod "$root/dev/nvidia0" c 1 3 || skip "mknod refused here"
export KILN_TEST_GPU_ROOT=$root
unset KILN_GPUS SLURM_JOB_ID || true
driver() { echo "NVRM version: NVIDIA UNIX x86_64 Kernel Module  $1  Thu Feb 22 01:44:30 UTC 2024" > "$root/proc/driver/nvidia/version"; }
driver 550.54.14
echo '{ "cuda" : { "name" : "CUDA SDK", "version" : "12.4.1" } }' > "$root/usr/local/cuda/version.json"
cat > Kilnfile <<'K'
command "g" { cmd = "echo $CUDA_VISIBLE_DEVICES > {out}/o", outputs = { "o" }, resources = { gpus = 1 } }
command "k" { cmd = "echo k > {out}/o", outputs = { "o" }, resources = { gpus = 1 }, gpu_key = "driver" }
K
ok kiln build
same kiln-out/g/o 0
driver 555.42.02
# g: not in its key, so up to date; why says what changed.
ok kiln status
hasnt "g                        stale"
has "k                        stale: GPU driver changed from 550.54.14 to 555.42.02"
ok kiln why g
has "g: up to date"
has "note: GPU driver changed from 550.54.14 to 555.42.02 since it was built (not in its key"
ok kiln why k
has "GPU driver changed from 550.54.14 to 555.42.02"
ok kiln build
has "1 ran"
ok kiln why k
has "k: up to date"
hasnt "note:"
cat > Kilnfile <<'K'
command "g" { cmd = "true", outputs = { "o" }, gpu_key = "always" }
K
fails 2 kiln build
has "target 'g': field 'gpu_key': expected \"driver\" or \"none\", got 'always'"
