/*
 * libFuzzer target: the safetensors reader, and a model built from what it
 * read (as kiln-serve would load it), run forward on one row.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "../ml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KILN_ML_ERRLEN], path[] = "/tmp/kiln-fuzz-st-XXXXXX";
	struct kiln_ml_tensors ts;
	struct kiln_ml_model m;
	int fd;

	if (kiln_ml_safetensors_parse(data, size, "fuzz.safetensors", &ts, err) != 0)
		return 0;
	kiln_ml_tensors_release(&ts);
	/* The model loader reads from a file. */
	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	close(fd);
	if (kiln_ml_write_file(path, data, size, err) == 0 &&
	    kiln_ml_model_load(&m, path, err) == 0) {
		size_t in = kiln_ml_model_inputs(&m), k = kiln_ml_model_outputs(&m);

		if (in <= 4096 && k <= 4096) {
			float *x = calloc(in, sizeof(float)), *out = calloc(k, sizeof(float));

			kiln_ml_model_forward(&m, x, 1, out);
			free(x);
			free(out);
		}
		kiln_ml_model_release(&m);
	}
	unlink(path);
	return 0;
}
