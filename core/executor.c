/*
 * executor: where a build step runs. This file has the registry and the
 * `local` executor, which runs kiln-run on this machine.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "slurm.h"
#include "util.h"

static char **
local_command(struct kiln_executor *ex, const struct kiln_step *s)
{
	char **argv = xcalloc(3, sizeof(*argv));

	(void)ex;
	argv[0] = xstrdup(s->runner);
	argv[1] = xstrdup(s->spec);
	return argv;
}

static void
group_kill(struct kiln_executor *ex, const struct kiln_step *s, pid_t pid, int sig)
{
	(void)ex;
	(void)s;
	kill(-pid, sig);
}

static struct kiln_executor *
local_new(const struct kiln_config *cfg)
{
	struct kiln_executor *ex = xcalloc(1, sizeof(*ex));

	(void)cfg;
	ex->name = "local";
	ex->command = local_command;
	ex->cancel = group_kill;
	ex->local = 1;
	return ex;
}

static const struct {
	const char *name;
	struct kiln_executor *(*make)(const struct kiln_config *cfg);
} executors[] = {
	{"local", local_new},
	{"slurm", kiln_slurm_new},
};

struct kiln_executor *
kiln_executor_new(const char *name, const struct kiln_config *cfg)
{
	size_t i;

	for (i = 0; i < LEN(executors); i++)
		if (strcmp(executors[i].name, name) == 0)
			return executors[i].make(cfg);
	error("no executor named '%s' (this kiln has: local, slurm)", name);
	return NULL;
}

void
kiln_executor_free(struct kiln_executor *ex)
{
	if (!ex)
		return;
	if (ex->release)
		ex->release(ex);
	free(ex);
}
