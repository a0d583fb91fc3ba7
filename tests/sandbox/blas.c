/*
 * blas: multiplies two matrices with OpenBLAS on OPENBLAS_NUM_THREADS
 * threads and prints the result's checksum and the threads it ran on, to
 * show a multi-threaded BLAS program works inside the sandbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

/* Threads of this process, from /proc/self/status. */
static int
threads(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Threads:", 8) == 0)
			n = atoi(line + 8);
	if (f)
		fclose(f);
	return n;
}

int
main(void)
{
	enum { N = 300 };
	double *a = malloc(sizeof(double) * N * N), *b = malloc(sizeof(double) * N * N);
	double *c = calloc(N * N, sizeof(double)), sum = 0;
	int i;

	if (!a || !b || !c)
		return 1;
	for (i = 0; i < N * N; i++) {
		a[i] = (i % 7) + 1;
		b[i] = (i % 5) + 1;
	}
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0, a, N, b, N, 0.0, c, N);
	for (i = 0; i < N * N; i++)
		sum += c[i];
	printf("sum %.0f threads %d blas %d\n", sum, threads(), openblas_get_num_threads());
	return 0;
}
