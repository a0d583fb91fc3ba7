/*
 * cmd_slurm: `kiln slurm-step submit|node`, the two halves of a step run as
 * a Slurm job; started by kiln itself (see slurm.h), not by hand.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_slurm.h"
#include "slurm_node.h"
#include "slurm_submit.h"
#include "slurmjob.h"
#include "util.h"

static int
usage(void)
{
	fprintf(stderr, "usage: kiln slurm-step submit|node OPTIONS (started by kiln build --executor slurm)\n");
	return 2;
}

int
kiln_cmd_slurm_step(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"runner", required_argument, NULL, 'r'},
		{"cpus", required_argument, NULL, 'c'},
		{"mem", required_argument, NULL, 'm'},
		{"gpus", required_argument, NULL, 'g'},
		{"timeout", required_argument, NULL, 't'},
		{"partition", required_argument, NULL, 'p'},
		{"account", required_argument, NULL, 'a'},
		{"extra", required_argument, NULL, 'x'},
		{"remote", required_argument, NULL, 'R'},
		{"inputs", required_argument, NULL, 'i'},
		{"cache", required_argument, NULL, 'C'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_slurm_args s = {.cpus = 1};
	int c, node, ret;

	if (argc < 2 || (strcmp(argv[1], "submit") != 0 && strcmp(argv[1], "node") != 0))
		return usage();
	node = argv[1][0] == 'n';
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': s.key = optarg; break;
		case 'r': s.runner = optarg; break;
		case 'c': s.cpus = atoi(optarg); break;
		case 'm': s.mem = atoll(optarg); break;
		case 'g': s.gpus = atoi(optarg); break;
		case 't': s.timeout = atof(optarg); break;
		case 'p': s.partition = optarg; break;
		case 'a': s.account = optarg; break;
		case 'x':
			s.extra = xreallocarray(s.extra, s.nextra + 1, sizeof(*s.extra));
			s.extra[s.nextra++] = optarg;
			break;
		case 'R': s.remote = optarg; break;
		case 'i': s.inputs = optarg; break;
		case 'C': s.cache = optarg; break;
		default: return usage();
		}
	}
	if (!s.key || !s.runner || (node ? !s.inputs || !s.cache || optind != argc : optind != argc - 1)) {
		free(s.extra);
		return usage();
	}
	fcntl(KILN_SLURM_STATUS_FD, F_SETFD, FD_CLOEXEC);
	if (!node)
		s.spec = argv[optind];
	ret = node ? kiln_slurm_node(&s) : kiln_slurm_submit(&s);
	free(s.extra);
	return ret;
}
