/* libFuzzer target: the CSV reader must never crash, whatever the bytes. */
#include <stddef.h>
#include <stdint.h>

#include "../csv.h"
#include "../util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KP_ERRLEN];
	struct kp_csv t;
	double x;
	size_t i;

	if (kp_csv_parse(&t, (const char *)data, size, "fuzz.csv", err) == 0) {
		for (i = 0; i < t.nrows * t.ncols; i++)
			kp_parse_number(t.cells[i], &x);
		kp_csv_release(&t);
	}
	return 0;
}
