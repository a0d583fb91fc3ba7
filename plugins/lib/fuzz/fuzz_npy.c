/* libFuzzer target: the NPY reader, then a write and re-read of what it read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../ml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KILN_ML_ERRLEN], *buf;
	struct kiln_ml_array a, b;
	size_t len;

	if (kiln_ml_npy_parse(data, size, "fuzz.npy", &a, err) != 0)
		return 0;
	kiln_ml_npy_encode(&a, &buf, &len);
	if (kiln_ml_npy_parse(buf, len, "again.npy", &b, err) != 0 ||
	    memcmp(a.shape, b.shape, sizeof(a.shape)) != 0)
		abort();
	kiln_ml_array_release(&a);
	kiln_ml_array_release(&b);
	free(buf);
	return 0;
}
