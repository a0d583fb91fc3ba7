/*
 * gemm: see gemm.h. Tiles of MR rows by 16 (or 8, or fewer) columns, each
 * held in registers for the whole of k: 12 accumulators, two loads of B
 * and MR broadcasts of A per step of p.
 */
#include <stdint.h>
#include <stdlib.h>

#include "gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MR 6

/* libgcc's constructor has read the processor's features: no state here, no race. */
int
kp_gemm_available(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/*
 * Eight columns of B's row b, or the first w of them (w < 8: a masked
 * load, which reads nothing past them).
 */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256
load(const float *b, size_t w, __m256i mask)
{
	return w < 8 ? _mm256_maskload_ps(b, mask) : _mm256_loadu_ps(b);
}

/* Column block j's result for one row: plus the bias, ReLU, stored (w columns). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
store(float *c, __m256 v, const float *bias, int relu, size_t w, __m256i mask)
{
	if (bias)
		v = _mm256_add_ps(v, load(bias, w, mask));
	if (relu) {
		__m256i u = _mm256_castps_si256(v);

		v = _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_srai_epi32(u, 31), u));
	}
	if (w < 8)
		_mm256_maskstore_ps(c, mask, v);
	else
		_mm256_storeu_ps(c, v);
}

/*
 * C[0..mr) x [0..8 nv) of the product, or x [0..w) where w < 8 (then nv
 * is 1); mr and nv are constants where it is inlined.
 */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile(size_t mr, size_t nv, size_t w, size_t k, const float *A, size_t ars, size_t acs,
	const float *B, size_t ldb, float *C, size_t ldc, const float *bias, int relu)
{
	__m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)w),
		_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	__m256 c[MR][2];
	size_t i, p;

	for (i = 0; i < mr; i++)
		c[i][0] = c[i][1] = _mm256_setzero_ps();
	for (p = 0; p < k; p++) {
		const float *b = B + p * ldb, *a = A + p * acs;
		__m256 b0 = load(b, w, mask), b1 = nv > 1 ? _mm256_loadu_ps(b + 8) : b0;

		for (i = 0; i < mr; i++) {
			__m256 x = _mm256_broadcast_ss(a + i * ars);

			c[i][0] = _mm256_fmadd_ps(x, b0, c[i][0]);
			if (nv > 1)
				c[i][1] = _mm256_fmadd_ps(x, b1, c[i][1]);
		}
	}
	for (i = 0; i < mr; i++) {
		store(C + i * ldc, c[i][0], bias, relu, w, mask);
		if (nv > 1)
			store(C + i * ldc + 8, c[i][1], bias ? bias + 8 : NULL, relu, 8, mask);
	}
}

/* The rows [i, i + mr) of C, 16 columns at a time, then 8, then the rest. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
rows(size_t mr, size_t n, size_t k, const float *A, size_t ars, size_t acs,
	const float *B, size_t ldb, float *C, size_t ldc, const float *bias, int relu)
{
	size_t j;

	for (j = 0; j + 16 <= n; j += 16)
		tile(mr, 2, 8, k, A, ars, acs, B + j, ldb, C + j, ldc, bias ? bias + j : NULL, relu);
	if (j + 8 <= n) {
		tile(mr, 1, 8, k, A, ars, acs, B + j, ldb, C + j, ldc, bias ? bias + j : NULL, relu);
		j += 8;
	}
	if (j < n)
		tile(mr, 1, n - j, k, A, ars, acs, B + j, ldb, C + j, ldc,
			bias ? bias + j : NULL, relu);
}

__attribute__((target("avx2,fma"))) void
kp_gemm(size_t m, size_t n, size_t k, const float *A, size_t ars, size_t acs,
	const float *B, size_t ldb, float *C, size_t ldc, const float *bias, int relu)
{
	size_t i;

	for (i = 0; i + MR <= m; i += MR)
		rows(MR, n, k, A + i * ars, ars, acs, B, ldb, C + i * ldc, ldc, bias, relu);
	switch (m - i) {
	case 5: rows(5, n, k, A + i * ars, ars, acs, B, ldb, C + i * ldc, ldc, bias, relu); break;
	case 4: rows(4, n, k, A + i * ars, ars, acs, B, ldb, C + i * ldc, ldc, bias, relu); break;
	case 3: rows(3, n, k, A + i * ars, ars, acs, B, ldb, C + i * ldc, ldc, bias, relu); break;
	case 2: rows(2, n, k, A + i * ars, ars, acs, B, ldb, C + i * ldc, ldc, bias, relu); break;
	case 1: rows(1, n, k, A + i * ars, ars, acs, B, ldb, C + i * ldc, ldc, bias, relu); break;
	default: break;
	}
}

#else

int
kp_gemm_available(void)
{
	return 0;
}

void
kp_gemm(size_t m, size_t n, size_t k, const float *A, size_t ars, size_t acs,
	const float *B, size_t ldb, float *C, size_t ldc, const float *bias, int relu)
{
	(void)m, (void)n, (void)k, (void)A, (void)ars, (void)acs, (void)B, (void)ldb;
	(void)C, (void)ldc, (void)bias, (void)relu;
	abort();	/* kp_gemm_available() said no */
}

#endif
