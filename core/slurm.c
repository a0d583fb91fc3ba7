/*
 * slurm: the executor that runs each build step as a Slurm job; see slurm.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "digest.h"
#include "executor.h"
#include "graph.h"
#include "paths.h"
#include "slurm.h"
#include "slurmjob.h"
#include "util.h"
#include "value.h"

extern char **environ;


/* The executor, in kiln. */

struct slurm {
	char *self;		/* this kiln, which the job runs on the node */
	const char *partition, *account;
	const char *cache;	/* the cache folder on the nodes, or NULL: the same as here */
	const char **extra;	/* more srun options, verbatim */
	size_t nextra;
};

static char **
slurm_command(struct kiln_executor *ex, const struct kiln_step *s)
{
	struct slurm *sl = ex->data;
	const struct kiln_resources *res = &s->target->res;
	char hex[KILN_DIGEST_HEX];
	char **argv = NULL;
	size_t n = 0, i;

	kiln_slurmjob_arg(&argv, &n, xstrdup(sl->self));
	kiln_slurmjob_arg(&argv, &n, xstrdup("slurm-step"));
	kiln_slurmjob_arg(&argv, &n, xstrdup("submit"));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--key=%s", kiln_digest_hex(s->key, hex)));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--runner=%s", s->runner));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--cpus=%d", res->cpus > 0 ? res->cpus : 1));
	if (res->mem)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--mem=%lld", res->mem));
	if (res->gpus)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--gpus=%d", res->gpus));
	if (res->timeout)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--timeout=%g", res->timeout));
	if (sl->partition)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--partition=%s", sl->partition));
	if (sl->account)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--account=%s", sl->account));
	if (sl->cache)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--cache=%s", sl->cache));
	for (i = 0; i < sl->nextra; i++)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--extra=%s", sl->extra[i]));
	if (s->remote)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--remote=%s", s->remote));
	kiln_slurmjob_arg(&argv, &n, xstrdup(s->spec));
	return argv;
}

/*
 * Read .kiln/tmp/<target>/slurm-job: the job id (0 if none yet), its state
 * (32 bytes) and srun's process id (0 when it has ended), each if wanted.
 */
static long
read_job_file(const struct kiln_step *s, char *state, long *srun)
{
	char *path = xasprintf("%s/" KILN_TMP_DIR "/%s/" KILN_SLURM_JOB_FILE, s->workspace, s->target->name);
	char *text = read_file(path, NULL);
	char st[32] = "";
	long id = 0, pid = 0;

	if (text && sscanf(text, "%ld %31s %ld", &id, st, &pid) < 1)
		id = 0;
	if (state)
		memcpy(state, st, sizeof(st));
	if (srun)
		*srun = pid;
	free(text);
	free(path);
	return id;
}

/*
 * SIGTERM goes to the submitter, which cancels its job and stops srun
 * itself; SIGKILL cannot be caught, so that is done from here (srun runs in
 * a process group of its own). srun's shepherd is left to release the
 * allocation should slurmctld not answer now.
 */
static void
slurm_cancel(struct kiln_executor *ex, const struct kiln_step *s, pid_t pid, int sig)
{
	long id, srun = 0;

	(void)ex;
	if (sig == SIGKILL) {
		if ((id = read_job_file(s, NULL, &srun)) > 0)
			kiln_slurmjob_scancel(id);
		if (srun > 0)
			kill((pid_t)srun, SIGKILL);
	}
	kill(-pid, sig);
}

static int
slurm_state(struct kiln_executor *ex, const struct kiln_step *s)
{
	char state[32];

	(void)ex;
	if (read_job_file(s, state, NULL) <= 0)
		return KILN_STEP_PENDING;
	return strcmp(state, "running") == 0 ? KILN_STEP_RUNNING : KILN_STEP_PENDING;
}

static void
slurm_release(struct kiln_executor *ex)
{
	struct slurm *sl = ex->data;

	free(sl->self);
	free(sl->extra);
	free(sl);
}

/* kiln.config { slurm = { partition = "…", account = "…", cache = "/path", extra = {"--qos=…", …} } } */
static int
read_config(struct slurm *sl, const struct kiln_config *cfg)
{
	const kiln_value *v = cfg ? cfg->slurm : NULL, *x;
	const char *where = cfg && cfg->file ? cfg->file : "Kilnfile";
	int line = cfg ? cfg->line : 0;
	size_t i;

	/* {} reads as an empty list. */
	if (v && v->type != KILN_MAP && kiln_value_len(v) != 0)
		return error("%s:%d: kiln.config: slurm: expected a table of named fields", where, line);
	for (i = 0; v && v->type == KILN_MAP && i < kiln_value_len(v); i++) {
		const char *k = kiln_value_key(v, i);

		if (strcmp(k, "partition") != 0 && strcmp(k, "account") != 0 && strcmp(k, "cache") != 0 &&
		    strcmp(k, "extra") != 0)
			return error("%s:%d: kiln.config: slurm: unknown field '%s' (partition, account, cache, extra)",
			    where, line, k);
	}
	x = kiln_value_get(v, "partition");
	if (x && !(sl->partition = kiln_value_string(x, NULL)))
		return error("%s:%d: kiln.config: slurm.partition: expected a string", where, line);
	x = kiln_value_get(v, "account");
	if (x && !(sl->account = kiln_value_string(x, NULL)))
		return error("%s:%d: kiln.config: slurm.account: expected a string", where, line);
	x = kiln_value_get(v, "cache");
	if (x && (!(sl->cache = kiln_value_string(x, NULL)) || sl->cache[0] != '/'))
		return error("%s:%d: kiln.config: slurm.cache: expected an absolute path on the compute nodes",
		    where, line);
	x = kiln_value_get(v, "extra");
	if (x && x->type != KILN_LIST)
		return error("%s:%d: kiln.config: slurm.extra: expected a list of srun options", where, line);
	sl->extra = xreallocarray(NULL, kiln_value_len(x) + 1, sizeof(*sl->extra));
	for (i = 0; i < kiln_value_len(x); i++) {
		const char *o = kiln_value_string(kiln_value_at(x, i), NULL);

		if (!o || o[0] != '-')
			return error("%s:%d: kiln.config: slurm.extra[%zu]: expected an option such as \"--qos=high\"",
			    where, line, i + 1);
		sl->extra[sl->nextra++] = o;
	}
	return 0;
}

/*
 * Jobs that ended while slurmctld was away may still hold their nodes in its
 * view: cancel them now that it may be back. The list stays while it is not.
 */
static void
cancel_orphans(void)
{
	char *text = read_file(KILN_SLURM_ORPHANS, NULL), *line, *save;
	char *ping[] = {"scontrol", "ping", NULL};

	if (!text || kiln_slurmjob_run_quiet(ping) != 0) {
		free(text);
		return;
	}
	/* scancel fails for a job that has ended meanwhile, which is as good. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *argv[] = {"scancel", line, NULL};

		if (strspn(line, "0123456789") == strlen(line))
			kiln_slurmjob_run_quiet(argv);
	}
	unlink(KILN_SLURM_ORPHANS);
	free(text);
}

struct kiln_executor *
kiln_slurm_new(const struct kiln_config *cfg)
{
	struct kiln_executor *ex = xcalloc(1, sizeof(*ex));
	struct slurm *sl = xcalloc(1, sizeof(*sl));

	ex->name = "slurm";
	ex->command = slurm_command;
	ex->cancel = slurm_cancel;
	ex->state = slurm_state;
	ex->release = slurm_release;
	ex->outputs_in_cache = 1;
	ex->own_timeout = 1;
	ex->data = sl;
	sl->self = xstrdup(kiln_paths_self());
	if (read_config(sl, cfg) < 0) {
		slurm_release(ex);
		free(ex);
		return NULL;
	}
	cancel_orphans();
	return ex;
}
