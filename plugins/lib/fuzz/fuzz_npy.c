/* libFuzzer target: the NPY reader, then a write and re-read of what it read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../npy.h"
#include "../util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KP_ERRLEN], *buf;
	struct kp_array a, b;
	size_t len;

	if (kp_npy_parse(data, size, "fuzz.npy", &a, err) != 0)
		return 0;
	kp_npy_encode(&a, &buf, &len);
	if (kp_npy_parse(buf, len, "again.npy", &b, err) != 0 ||
	    memcmp(a.shape, b.shape, sizeof(a.shape)) != 0)
		abort();
	kp_array_release(&a);
	kp_array_release(&b);
	free(buf);
	return 0;
}
