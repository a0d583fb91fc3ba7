/*
 * machine: what of this processor the bytes of a model's training or its
 * predictions depend on, for the plugins' kiln_plugin_machine (plugin.h):
 * whether kiln's AVX2/FMA product kernel runs (gemm.h), and which of
 * OpenBLAS's kernels (chosen from the processor, or by OPENBLAS_CORETYPE).
 * glibc's exp and log also pick an FMA version where there is FMA, which
 * the first part names too.
 */
#ifndef KILN_PLUGLIB_MACHINE_H
#define KILN_PLUGLIB_MACHINE_H

/* "AVX2/FMA kernel; OpenBLAS Zen", or "no AVX2/FMA; OpenBLAS Haswell": the same string every call. */
const char *kp_machine(void);

#endif
