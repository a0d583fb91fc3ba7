/*
 * machine: see machine.h.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>

#include "gemm.h"
#include "machine.h"

static char line[128];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
describe(void)
{
	snprintf(line, sizeof(line), "%s; OpenBLAS %s",
	    kp_gemm_available() ? "AVX2/FMA kernel" : "no AVX2/FMA", openblas_get_corename());
}

const char *
kp_machine(void)
{
	pthread_once(&once, describe);
	return line;
}
