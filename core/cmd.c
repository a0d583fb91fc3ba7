/*
 * cmd: helpers of the command files; see cmd.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "workspace.h"

int
kiln_cmd_parse_int(const char *s, int min, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > 1 << 20)
		return -1;
	*out = (int)v;
	return 0;
}

int
kiln_cmd_default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

int
kiln_cmd_open(struct kiln_workspace *ws, int lock, struct kiln_overrides *ov)
{
	if (kiln_workspace_open_with(ws, lock, ov) < 0) {
		kiln_workspace_close(ws);
		return -1;
	}
	return 0;
}
