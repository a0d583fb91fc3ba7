/*
 * cmd_data: `kiln add`; see cmd_data.h.
 */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "cmd_data.h"
#include "sources.h"
#include "workspace.h"

int
kiln_cmd_add(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"remove", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_workspace ws;
	int c, drop = 0, i, bad = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'r')
			drop = 1;
		else
			return KILN_CMD_USAGE;
	}
	if (optind == argc)
		return KILN_CMD_USAGE;
	/* The lock: the stat cache is written, and no build reads a half-added source. */
	if (kiln_cmd_open(&ws, 1) < 0)
		return 2;
	for (i = optind; i < argc; i++)
		if ((drop ? kiln_sources_remove(&ws, argv[i]) : kiln_sources_add(&ws, argv[i])) < 0)
			bad = 1;
	kiln_workspace_close(&ws);
	return bad ? 1 : 0;
}
