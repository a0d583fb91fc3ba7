/*
 * gemm: the matrix products of an MLP's training step at its small shapes
 * (a 128-row sub-batch times a layer's weights, and the transposed
 * products of the gradient), AVX2/FMA where the processor has them. Eight
 * columns are a vector; a width that is no multiple of 8 (an output layer
 * of 2) is done with masked loads and stores in the last one.
 *
 * OpenBLAS packs both inputs for every call, which at these shapes costs
 * as much as the product (docs/design.md, "Small products"); this kernel
 * reads them in place. Each element of the result is one chain of fused
 * multiply-adds over p = 0, 1, ..., k - 1 from zero, then plus the bias:
 * the order is fixed, so the bits depend on the inputs only (not on any
 * thread count; tests/unit/test_ml_train.c checks them against that chain
 * written out with fmaf). OpenBLAS's kernels sum in another order, so the
 * last bits differ from theirs.
 */
#ifndef KILN_PLUGLIB_GEMM_H
#define KILN_PLUGLIB_GEMM_H

#include <stddef.h>

/* Whether kp_gemm runs here: the processor has AVX2 and FMA. */
int kp_gemm_available(void);

/*
 * C (m x n, row stride ldc) = A · B, plus bias[j] in column j when bias
 * is not NULL, then ReLU (kiln's: a negative or -0 result is +0) when relu
 * is set. A's element (i, p) is A[i * ars + p * acs], so A^T is A with the
 * strides swapped; B is k x n with row stride ldb. kp_gemm_available()
 * must be true: callers use OpenBLAS otherwise.
 */
void kp_gemm(size_t m, size_t n, size_t k, const float *A, size_t ars, size_t acs,
	const float *B, size_t ldb, float *C, size_t ldc, const float *bias, int relu);

#endif
