/* libFuzzer target: the CSV reader must never crash, whatever the bytes. */
#include <stddef.h>
#include <stdint.h>

#include "../ml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KILN_ML_ERRLEN];
	struct kiln_ml_csv t;
	double x;
	size_t i;

	if (kiln_ml_csv_parse(&t, (const char *)data, size, "fuzz.csv", err) == 0) {
		for (i = 0; i < t.nrows * t.ncols; i++)
			kiln_ml_parse_number(t.cells[i], &x);
		kiln_ml_csv_release(&t);
	}
	return 0;
}
