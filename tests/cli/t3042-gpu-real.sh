# On a machine with an NVIDIA GPU: a CUDA program, built with the machine's
# nvcc as a step (the toolkit declared as a tool), runs as a sandboxed
# 1-GPU step and computes on the GPU. Skipped where nvidia-smi does not work.
. "$(dirname "$0")/lib.sh"
unset KILN_TEST_GPU_ROOT KILN_GPUS || true
nvidia-smi -L >/dev/null 2>&1 || skip "no working nvidia-smi (no NVIDIA GPU here)"
nvcc=/usr/local/cuda/bin/nvcc
[ -x $nvcc ] || skip "no $nvcc"
cuda=$(readlink -f /usr/local/cuda)
cat > add.cu <<'C'
#include <stdio.h>
__global__ void add(const float *a, const float *b, float *c, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) c[i] = a[i] + b[i];
}
int main(void)
{
	const int n = 1 << 20;
	float *a, *b, *c;
	int dev = 0, count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e != cudaSuccess) { printf("cudaGetDeviceCount: %s\n", cudaGetErrorString(e)); return 1; }
	cudaMallocManaged(&a, n * sizeof(float));
	cudaMallocManaged(&b, n * sizeof(float));
	cudaMallocManaged(&c, n * sizeof(float));
	for (int i = 0; i < n; i++) { a[i] = i; b[i] = 2 * i; }
	add<<<(n + 255) / 256, 256>>>(a, b, c, n);
	e = cudaDeviceSynchronize();
	if (e != cudaSuccess) { printf("kernel: %s\n", cudaGetErrorString(e)); return 1; }
	for (int i = 0; i < n; i++) if (c[i] != 3.0f * i) { printf("wrong at %d\n", i); return 1; }
	cudaGetDevice(&dev);
	printf("devices %d, sum ok\n", count);
	return 0;
}
C
cat > Kilnfile <<K
command "bin" {
  inputs = { src = "add.cu" },
  cmd = "$nvcc -O2 -o {out}/add {in.src}",
  outputs = { "add" },
  tools = { cuda = "$cuda" },
}
command "run" {
  inputs = { bin = ":bin" },
  cmd = "{in.bin}/add > {out}/result.txt; ls /dev > {out}/dev.txt; echo \$CUDA_VISIBLE_DEVICES > {out}/cvd.txt",
  outputs = { "result.txt", "dev.txt", "cvd.txt" },
  resources = { gpus = 1 },
}
K
ok kiln build
cat kiln-out/run/result.txt kiln-out/run/cvd.txt
same kiln-out/run/result.txt "devices 1, sum ok"
grep -qx nvidiactl kiln-out/run/dev.txt || fail "no /dev/nvidiactl in the sandbox"
ok kiln why run
has "run: up to date"
