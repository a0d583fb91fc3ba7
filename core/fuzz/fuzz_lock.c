/*
 * libFuzzer target: the Kilnfile.lock reader (kiln_lock_parse, which
 * kiln verify uses to compare two builds' locks). A lock is a file in the
 * repository, so anyone who sends a change can write it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "lock.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
line(void *arg, const char *target, const char *path, const struct kiln_digest *d, uint64_t sz)
{
	size_t *n = arg;

	/* Each string must be a whole line's part: no newline in it. */
	if (strchr(target, '\n') || (path && strchr(path, '\n')))
		abort();
	(void)d;
	(void)sz;
	(*n)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	size_t n = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	(void)kiln_lock_parse(text, line, &n);
	free(text);
	return 0;
}
