# GPUs as a resource, on stand-in device nodes (mknod, as root): two 1-GPU
# steps get different GPUs and see only theirs in /dev, with
# CUDA_VISIBLE_DEVICES to match; a third waits for one to be free; a step
# that asks for more GPUs than the machine has fails before anything runs.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "stand-in GPU device nodes need mknod (root)"
root=$scratch/gpuroot
mkdir -p "$root/dev"
for n in nvidia0 nvidia1 nvidiactl nvidia-uvm; do mknod "$root/dev/$n" c 1 3 || skip "mknod refused here"; done
export KILN_TEST_GPU_ROOT=$root
unset KILN_GPUS SLURM_JOB_ID CUDA_VISIBLE_DEVICES || true
step='date +%s.%N > {out}/start; ls /dev > {out}/dev; echo "$CUDA_VISIBLE_DEVICES $NVIDIA_VISIBLE_DEVICES" > {out}/cuda; sleep 1; date +%s.%N > {out}/end'
cat > Kilnfile <<K
for _, n in ipairs({ "g1", "g2", "g3" }) do
  command(n) { cmd = [[$step]], outputs = { "start", "dev", "cuda", "end" }, resources = { gpus = 1 } }
end
command "cpu" { cmd = "ls /dev > {out}/dev", outputs = { "dev" } }
K
ok kiln build -j4
for n in g1 g2 g3; do
	read -r cuda nv < kiln-out/$n/cuda
	[ "$cuda" = "$nv" ] || fail "$n: CUDA_VISIBLE_DEVICES=$cuda but NVIDIA_VISIBLE_DEVICES=$nv"
	case $cuda in 0) other=1 ;; 1) other=0 ;; *) fail "$n: CUDA_VISIBLE_DEVICES='$cuda'" ;; esac
	grep -qx "nvidia$cuda" kiln-out/$n/dev || fail "$n: no /dev/nvidia$cuda in its sandbox: $(cat kiln-out/$n/dev)"
	grep -qx "nvidiactl" kiln-out/$n/dev || fail "$n: no /dev/nvidiactl"
	grep -qx "nvidia-uvm" kiln-out/$n/dev || fail "$n: no /dev/nvidia-uvm"
	if grep -qx "nvidia$other" kiln-out/$n/dev; then fail "$n sees the other step's /dev/nvidia$other"; fi
done
if grep -q nvidia kiln-out/cpu/dev; then fail "a step without GPUs sees $(grep nvidia kiln-out/cpu/dev)"; fi
# Steps that overlapped in time held different GPUs; the last to start waited for one to end.
python3 - <<'P' || fail "GPU assignment overlapped or nobody waited"
import sys
s = {}
for n in ("g1", "g2", "g3"):
    st = float(open(f"kiln-out/{n}/start").read()); en = float(open(f"kiln-out/{n}/end").read())
    s[n] = (st, en, open(f"kiln-out/{n}/cuda").read().split()[0])
order = sorted(s.values())
for i in range(3):
    for j in range(i + 1, 3):
        a, b = order[i], order[j]
        if a[0] < b[1] and b[0] < a[1] and a[2] == b[2]:
            sys.exit(f"overlapping steps both had GPU {a[2]}")
if order[2][0] < min(order[0][1], order[1][1]) - 0.05:
    sys.exit("the third step started while both GPUs were held")
P
# KILN_GPUS: only the GPUs it lists.
rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
KILN_GPUS=1 ok kiln build -j4 g1 g2
same kiln-out/g1/cuda "1 1"
same kiln-out/g2/cuda "1 1"
# More GPUs than the machine has: at once, naming the target and both counts.
cat > Kilnfile <<'K'
command "big" { cmd = "touch {out}/o", outputs = { "o" }, resources = { gpus = 3 } }
command "small" { cmd = "touch {out}/o", outputs = { "o" } }
K
fails 2 kiln build
has "Kilnfile:1: target 'big' asks for 3 GPUs; this machine has 2 (found in /dev)"
[ ! -e kiln-out/small ] || fail "a step ran although the build could never finish"
KILN_GPUS=none fails 2 kiln build big
has "target 'big' asks for 3 GPUs; this machine has 0 (found in KILN_GPUS)"
KILN_GPUS=zero fails 2 kiln build big
has "KILN_GPUS='zero': expected a list of GPU indices"
