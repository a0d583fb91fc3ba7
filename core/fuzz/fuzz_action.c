/*
 * libFuzzer target: the action-entry parser, which reads what a remote
 * cache answers (core/remote.c) as well as the local cache's entries.
 * What it accepts must be what kiln_action_format could have written:
 * safe relative paths, sorted and unique, and a text that formats back to
 * itself once normalised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a = {0}, a2 = {0};
	struct kiln_action act, act2;
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	size_t i;

	if (kiln_action_parse((const char *)data, size, &act, &a) < 0)
		goto out;
	for (i = 0; i < act.nfiles; i++) {
		if (!path_is_safe_relative(act.files[i].path) || strchr(act.files[i].path, '\n'))
			abort();
		if (i && strcmp(act.files[i - 1].path, act.files[i].path) >= 0)
			abort();
	}
	kiln_action_format(&b, &act);
	if (kiln_action_parse(b.s, b.len, &act2, &a2) < 0)
		abort();
	kiln_action_format(&b2, &act2);
	if (b.len != b2.len || memcmp(b.s, b2.s, b.len) != 0)
		abort();
out:
	buf_release(&b);
	buf_release(&b2);
	arena_release(&a);
	arena_release(&a2);
	return 0;
}
