/*
 * gpu: the machine's NVIDIA GPUs — which there are, what a step that holds
 * some of them must see in its sandbox, and the driver's versions.
 *
 * A GPU is its index N, the minor number of /dev/nvidiaN. The pool is
 * KILN_GPUS ("0,2" or "none") if set; in a Slurm job, the GPUs it was
 * allocated (SLURM_JOB_GPUS, else CUDA_VISIBLE_DEVICES); else every
 * /dev/nvidia[0-9]*. KILN_TEST_GPU_ROOT, for tests only, is a folder that
 * stands for / (its dev/, proc/driver/nvidia/ and usr/local/cuda/).
 */
#ifndef KILN_GPU_H
#define KILN_GPU_H

#include <stddef.h>

/* The most GPUs kiln counts on one machine. */
#define KILN_GPU_MAX 64

struct kiln_gpus {
	int idx[KILN_GPU_MAX];	/* sorted */
	size_t n;
	const char *from;	/* where the list came from, for messages: "KILN_GPUS", "/dev", … */
};

/* Find the pool (see above); -1 after reporting a malformed KILN_GPUS or SLURM_JOB_GPUS. */
int kiln_gpu_find(struct kiln_gpus *g);
/*
 * The host device nodes a step holding GPUs idx[0..n) sees, as a
 * NULL-terminated malloc'd list (strv_free): those GPUs' nodes, then
 * nvidiactl, nvidia-uvm, nvidia-uvm-tools and the nvidia-caps folder, each
 * where present. Each appears inside as /dev/<its last component>.
 */
char **kiln_gpu_nodes(const int *idx, size_t n);
/*
 * The driver's user-space libraries (libcuda, libnvidia-ml, …) as the NVIDIA
 * container toolkit finds them: from `ldconfig -p`, then the usual folders.
 * Host paths, NULL-terminated and malloc'd; an empty list without a driver.
 */
char **kiln_gpu_libraries(void);
/* Set CUDA_VISIBLE_DEVICES (the GPUs' UUIDs where the driver says them, else indices) and NVIDIA_VISIBLE_DEVICES. */
void kiln_gpu_setenv(const int *idx, size_t n);
/* The kernel driver's version ("550.54.14") and the CUDA toolkit's ("12.4.1"), or "none"; read once. */
const char *kiln_gpu_driver_version(void);
const char *kiln_gpu_cuda_version(void);

#endif
