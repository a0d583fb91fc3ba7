/*
 * libFuzzer target: the safetensors reader, and a model built from what it
 * read (as kiln-serve would load it), run forward on one row.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "../model.h"
#include "../safetensors.h"
#include "../util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KP_ERRLEN], path[] = "/tmp/kiln-fuzz-st-XXXXXX";
	struct kp_tensors ts;
	struct kp_model m;
	int fd;

	if (kp_safetensors_parse(data, size, "fuzz.safetensors", &ts, err) != 0)
		return 0;
	kp_tensors_release(&ts);
	/* The model loader reads from a file. */
	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	close(fd);
	if (kp_write_file(path, data, size, err) == 0 &&
	    kp_model_load(&m, path, err) == 0) {
		size_t in = kp_model_inputs(&m), k = kp_model_outputs(&m);

		if (in <= 4096 && k <= 4096) {
			float *x = calloc(in, sizeof(float)), *out = calloc(k, sizeof(float));

			kp_model_forward(&m, x, 1, out);
			free(x);
			free(out);
		}
		kp_model_release(&m);
	}
	unlink(path);
	return 0;
}
