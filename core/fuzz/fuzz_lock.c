/*
 * libFuzzer target: the Kilnfile.lock reader (kiln_lock_parse, which
 * kiln verify and the metrics and params diffs use). A lock is a file in
 * the repository, so anyone who sends a change can write it. What it
 * reads back must be whole lines' parts: no newline in a target or a
 * name (the writer escapes them), a key or out line with its digest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiln_lockfile lf;
	size_t i;

	if (kiln_lock_parse(&lf, (const char *)data, size) < 0)
		return 0;
	for (i = 0; i < lf.n; i++) {
		const struct kiln_lock_entry *e = &lf.v[i];

		if (!e->target || strchr(e->target, '\n'))
			abort();
		if ((e->kind == KILN_LOCK_OUT || e->kind == KILN_LOCK_METRIC || e->kind == KILN_LOCK_PARAM) &&
		    !e->name)
			abort();
	}
	kiln_lockfile_release(&lf);
	return 0;
}
