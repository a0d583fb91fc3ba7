/*
 * slurm_submit: `kiln slurm-step submit`, the submitter — in the workspace,
 * a child of kiln like kiln-run: it puts the step's inputs in the cache,
 * runs srun, relays what the node says, and tells kiln how the job ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "context.h"
#include "fs.h"
#include "paths.h"
#include "remote.h"
#include "slurmjob.h"
#include "slurm_submit.h"
#include "statuspipe.h"

#define SRUN_GRACE 3			/* seconds srun may take to end after the step */

struct submit {
	const char *spec, *runner, *remote, *key, *partition, *account;
	const char *nodecache;	/* the cache folder on the nodes, or NULL: ours */
	const char **extra;
	size_t nextra;
	int cpus, gpus;
	long long mem;
	double timeout;
	const char *target;
	char *jobfile;
	long jobid;
	char node[128];
	int done;		/* the node stored the outputs */
	char *failure;		/* the node's failure message */
	char *srun_error;	/* srun's last error line */
	char *exec_error;	/* slurmstepd could not start kiln on the node */
	int ctld_down;
	int srun_hung;		/* srun did not end after the step: killed */
	pid_t srun;		/* while it runs */
	const char *state;	/* as the job file has it */
};

static void
write_job_file(struct submit *s, const char *state)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%ld %s %ld %s\n", s->jobid, state, (long)s->srun, s->node);

	s->state = state;
	(void)write_file_atomic(s->jobfile, line, n, 0644, 0);
}

/* One line of srun's stderr: a status line from the node, or srun's own. */
static void
submit_line(void *arg, char *line)
{
	struct submit *s = arg;
	const char *p;
	long id;

	if (strncmp(line, KILN_SLURM_MARK, strlen(KILN_SLURM_MARK)) == 0) {
		char *rest = line + strlen(KILN_SLURM_MARK), *copy = xstrdup(rest);
		struct kiln_status_msg m;

		kiln_statuspipe_parse(copy, &m);
		if (m.type == KILN_MSG_JOB) {
			s->jobid = m.job;
			snprintf(s->node, sizeof(s->node), "%s", m.node ? m.node : "");
			printf("kiln: Slurm job %ld is running on %s\n", s->jobid, s->node);
			fflush(stdout);
			write_job_file(s, "running");
		} else if (m.type == KILN_MSG_DONE) {
			s->done = 1;
		} else if (m.type == KILN_MSG_FAIL) {
			if (!s->failure)
				s->failure = xstrdup(m.text);
		} else {
			dprintf(KILN_SLURM_STATUS_FD, "%s\n", rest);
		}
		free(copy);
		return;
	}
	/* srun says nothing of a job that started at once; its messages about the step name it. */
	if (!s->jobid && (p = strstr(line, "StepId=")) && sscanf(p, "StepId=%ld.", &id) == 1)
		s->jobid = id;
	if (sscanf(line, "srun: job %ld queued and waiting for resources", &id) == 1) {
		s->jobid = id;
		write_job_file(s, "pending");
	} else if (sscanf(line, "srun: job %ld has been allocated resources", &id) == 1) {
		s->jobid = id;
	} else if (strstr(line, "slurmstepd") && strstr(line, "error: execve()")) {
		/* The job ran, but not our command: kiln is not where it is here. */
		free(s->exec_error);
		s->exec_error = xstrdup(line);
	} else if (strncmp(line, "srun: error: ", 13) == 0 || strstr(line, "slurmstepd: error: ")) {
		free(s->srun_error);
		s->srun_error = xstrdup(line);
		if (strstr(line, "Unable to contact slurm controller") || strstr(line, "Unable to confirm allocation"))
			s->ctld_down = 1;
	}
	printf("%s\n", line);
	fflush(stdout);
}

/* Put every input file and the spec into the cache as one entry; its key in *inkey. */
static int
upload_inputs(struct submit *s, struct kiln_cache *c, struct kiln_remote *rem, struct kiln_digest *inkey)
{
	struct kiln_filelist fl = {0};
	struct kiln_action act = {0};
	struct buf why = BUF_INIT, text = BUF_INIT;
	json_error_t jerr;
	json_t *spec = json_load_file(s->spec, 0, &jerr), *binds, *v;
	size_t i;
	int ret = 0;

	if (!spec)
		return error("spec %s: %s", s->spec, jerr.text);
	v = json_object_get(spec, "target");
	s->target = xstrdup(json_is_string(v) ? json_string_value(v) : "?");
	binds = json_object_get(spec, "binds");
	json_array_foreach(binds, i, v)
		if (ret == 0 && json_is_string(v))
			ret = kiln_cache_put_path(c, &fl, json_string_value(v), &why);
	if (ret == 0) {
		/* The spec and the plugin ride along under names no input can have. */
		const char *plugin = json_string_value(json_object_get(spec, "plugin"));
		size_t before = fl.n;

		ret = kiln_cache_put_path(c, &fl, s->spec, &why);
		if (ret == 0 && fl.n == before + 1)
			fl.v[before].path = KILN_SLURM_SPEC;
		if (ret == 0 && plugin && (ret = kiln_cache_put_path(c, &fl, plugin, &why)) == 0 && fl.n == before + 2)
			fl.v[before + 1].path = kiln_slurmjob_plugin_path(&fl.arena, plugin);
	}
	json_decref(spec);
	if (ret < 0) {
		error("cannot put the inputs of '%s' in the cache: %s", s->target, why.s);
		goto out;
	}
	kiln_filelist_sort(&fl);
	act.files = fl.v;
	act.nfiles = fl.n;
	buf_adds(&text, "kiln slurm inputs\n");
	kiln_action_format(&text, &act);
	kiln_digest_buf(text.s, text.len, inkey);
	if (kiln_cache_put_action(c, inkey, &act) < 0) {
		ret = error("cannot write the inputs' cache entry for '%s'", s->target);
		goto out;
	}
	/* The node may see only the remote: it must have them before the job starts. */
	if (rem && kiln_remote_store(rem, inkey, &act, s->target) < 0)
		warn("the inputs of '%s' are not all on the remote cache; the job needs a shared cache folder", s->target);
out:
	kiln_filelist_release(&fl);
	buf_release(&why);
	buf_release(&text);
	return ret;
}

static char **
srun_argv(struct submit *s, const char *self, const char *cachedir, const struct kiln_digest *inkey)
{
	char **argv = NULL, hex[KILN_DIGEST_HEX];
	size_t n = 0, i;

	kiln_slurmjob_arg(&argv, &n, xstrdup("srun"));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--job-name=kiln:%s", s->target));
	kiln_slurmjob_arg(&argv, &n, xstrdup("--nodes=1"));
	kiln_slurmjob_arg(&argv, &n, xstrdup("--ntasks=1"));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--cpus-per-task=%d", s->cpus));
	kiln_slurmjob_arg(&argv, &n, xstrdup("--kill-on-bad-exit=1"));
	if (s->mem)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--mem=%lldM", (s->mem + (1 << 20) - 1) >> 20));
	if (s->gpus)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--gres=gpu:%d", s->gpus));
	/*
	 * Slurm counts time limits in minutes; the node stops the step at the
	 * exact timeout, and the limit, a minute later, catches what it cannot.
	 */
	if (s->timeout)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--time=%ld", (long)ceil(s->timeout / 60) + 1));
	if (s->partition)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--partition=%s", s->partition));
	if (s->account)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--account=%s", s->account));
	for (i = 0; i < s->nextra; i++)
		kiln_slurmjob_arg(&argv, &n, xstrdup(s->extra[i]));
	kiln_slurmjob_arg(&argv, &n, xstrdup(self));
	kiln_slurmjob_arg(&argv, &n, xstrdup("slurm-step"));
	kiln_slurmjob_arg(&argv, &n, xstrdup("node"));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--key=%s", s->key));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--inputs=%s", kiln_digest_hex(inkey, hex)));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--runner=%s", s->runner));
	kiln_slurmjob_arg(&argv, &n, xasprintf("--cache=%s", cachedir));
	if (s->timeout)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--timeout=%g", s->timeout));
	if (s->remote)
		kiln_slurmjob_arg(&argv, &n, xasprintf("--remote=%s", s->remote));
	return argv;
}

/* `scontrol show job -o ID`: JobState (64 bytes) and Reason (256); 0 done, -1 slurmctld did not answer. */
static int
query_job(long id, char *state, char *reason)
{
	char cmd[64], line[8192], *p;
	FILE *f;
	int ok = 0;

	snprintf(cmd, sizeof(cmd), "scontrol show job -o %ld 2>/dev/null", id);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if ((p = strstr(line, "JobState=")) && sscanf(p, "JobState=%63s", state) == 1)
			ok = 1;
		if ((p = strstr(line, " Reason=")))
			sscanf(p, " Reason=%255s", reason);
	}
	if (pclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* The job's final state: slurmctld says COMPLETING (or RUNNING) for a moment after srun ends. */
static int
job_state(long id, char *state, char *reason)
{
	double until = now_seconds() + 10;

	for (;;) {
		if (query_job(id, state, reason) < 0)
			return -1;
		if ((strcmp(state, "COMPLETING") != 0 && strcmp(state, "RUNNING") != 0) || now_seconds() > until)
			return 0;
		usleep(200 * 1000);
	}
}

/* What went wrong, per target, with the job id. */
static char *
describe_failure(struct submit *s, int ws)
{
	char state[64] = "", reason[256] = "", *msg;
	const char *err = s->srun_error ? s->srun_error : "";

	if (s->exec_error && s->jobid)
		return xasprintf("Slurm job %ld could not start kiln on its node (kiln must be installed at the same "
		    "path on the compute nodes): %s", s->jobid, s->exec_error);
	if (s->exec_error)
		return xasprintf("the job could not start kiln on its node (kiln must be installed at the same path "
		    "on the compute nodes): %s", s->exec_error);
	if (!s->jobid) {
		if (s->ctld_down)
			return xasprintf("cannot reach slurmctld to submit the job: %s", err);
		return xasprintf("srun could not submit the job (exit status %d): %s",
		    WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws), err);
	}
	if (job_state(s->jobid, state, reason) < 0) {
		if (s->failure)
			return xasprintf("%s (Slurm job %ld on %s)", s->failure, s->jobid, s->node);
		return xasprintf("Slurm job %ld: lost contact with slurmctld, the job's end is unknown: %s", s->jobid, err);
	}
	if (strcmp(state, "CANCELLED") == 0)
		msg = xasprintf("Slurm job %ld was cancelled (scancel)", s->jobid);
	else if (strcmp(state, "TIMEOUT") == 0)
		msg = xasprintf("Slurm job %ld ran past its Slurm time limit", s->jobid);
	else if (strcmp(state, "NODE_FAIL") == 0)
		msg = xasprintf("Slurm job %ld failed: its node %s failed", s->jobid, s->node[0] ? s->node : "?");
	else if (strcmp(state, "OUT_OF_MEMORY") == 0)
		msg = xasprintf("Slurm job %ld ran out of memory (resources.mem)", s->jobid);
	else if (strcmp(state, "PREEMPTED") == 0)
		msg = xasprintf("Slurm job %ld was preempted", s->jobid);
	else if (s->failure)
		msg = xasprintf("%s (Slurm job %ld on %s)", s->failure, s->jobid, s->node);
	else
		msg = xasprintf("Slurm job %ld ended %s (reason %s): %s", s->jobid, state, reason, err);
	return msg;
}

struct relay {
	struct submit *s;
	pid_t pid;
	int stopped;			/* the signal that stopped us, or 0 */
	double kill_at, done_at;	/* when to SIGKILL srun: after a stop, after the outputs are in */
};

static void
relay_line(void *arg, char *line)
{
	submit_line(((struct relay *)arg)->s, line);
}

static void
relay_tick(void *arg, int sig)
{
	struct relay *r = arg;
	struct submit *s = r->s;

	if (sig && !r->stopped) {
		r->stopped = sig;
		if (s->jobid)
			kiln_slurmjob_scancel(s->jobid);
		kill(r->pid, SIGTERM);
		r->kill_at = now_seconds() + 5;
	}
	if (r->kill_at && now_seconds() > r->kill_at) {
		kill(r->pid, SIGKILL);
		r->kill_at = 0;
	}
	if (s->done && !r->done_at)
		r->done_at = now_seconds() + SRUN_GRACE;
	if (r->done_at && now_seconds() > r->done_at && !s->srun_hung) {
		/* The outputs are in the cache; srun is stuck telling slurmctld (gone?) that the job ended. */
		s->srun_hung = 1;
		kill(r->pid, SIGKILL);
	}
}

static void
relay_ended(void *arg)
{
	struct submit *s = ((struct relay *)arg)->s;

	s->srun = 0;
	write_job_file(s, s->state);
}

/* Run srun and relay until it ends; the signal that stopped us, 0, or -1 when srun cannot start. */
static int
relay(struct submit *s, char **argv, int *wstatus)
{
	struct relay r = {s, 0, 0, 0, 0};
	struct kiln_slurmjob_watcher w = {relay_line, relay_tick, relay_ended, &r};
	int rfd = kiln_slurmjob_spawn(argv, 2, 0, &r.pid);

	if (rfd < 0)
		return error("cannot start srun:");
	s->srun = r.pid;
	write_job_file(s, "submitted");
	kiln_slurmjob_watch(r.pid, rfd, &w, wstatus);
	return r.stopped;
}

static int
submit_main(struct submit *s)
{
	struct kiln_cache cache;
	struct kiln_remote *rem = NULL;
	struct kiln_digest inkey;
	char *dir = kiln_cache_default_dir(), **argv, *msg;
	const char *self = kiln_paths_self();
	int ws = 0, stopped, ret = 1;

	/* Die with kiln: then the job is cancelled rather than left running. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/*
	 * We hold the workspace lock for kiln (inherited) until the step ends;
	 * srun must not: its shepherd may outlive it by minutes, telling a
	 * slurmctld that is away that the job ended.
	 */
	close_range(KILN_SLURM_STATUS_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
	if (kiln_cache_open(&cache, dir) < 0) {
		kiln_slurmjob_fail(KILN_SLURM_STATUS_FD, "", KILN_FAIL_START, "cannot open the cache");
		free(dir);
		return 2;
	}
	rem = kiln_slurmjob_remote(s->remote, &cache);
	if (upload_inputs(s, &cache, rem, &inkey) < 0) {
		kiln_slurmjob_fail(KILN_SLURM_STATUS_FD, "", KILN_FAIL_START, "cannot put its inputs in the cache (see the log)");
		goto out;
	}
	s->jobfile = xasprintf(KILN_TMP_DIR "/%s/" KILN_SLURM_JOB_FILE, s->target);
	argv = srun_argv(s, self, s->nodecache ? s->nodecache : cache.dir, &inkey);
	stopped = relay(s, argv, &ws);
	strv_free(argv);
	if (stopped < 0) {
		kiln_slurmjob_fail(KILN_SLURM_STATUS_FD, "", KILN_FAIL_START, "cannot start srun (is Slurm's client installed?)");
		goto out;
	}
	if (stopped) {
		if (s->jobid)
			printf("kiln: stopped by %s; Slurm job %ld cancelled\n", strsignal(stopped), s->jobid);
		else
			printf("kiln: stopped by %s before Slurm gave the job an id; srun withdrew it\n", strsignal(stopped));
		ret = 128 + stopped;
		goto out;
	}
	if (s->done) {
		if (s->srun_hung) {
			int fd = open(KILN_SLURM_ORPHANS, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

			printf("kiln: srun did not end after Slurm job %ld (slurmctld unreachable?); the outputs are "
			    "in the cache, and the next kiln build cancels the job if slurmctld still holds it\n", s->jobid);
			if (fd >= 0) {
				dprintf(fd, "%ld\n", s->jobid);
				close(fd);
			}
		}
		ret = 0;
		goto out;
	}
	msg = describe_failure(s, ws);
	kiln_slurmjob_fail(KILN_SLURM_STATUS_FD, "", KILN_FAIL_STEP, msg);
	printf("kiln: %s\n", msg);
	free(msg);
out:
	fflush(stdout);
	kiln_remote_free(rem);
	kiln_cache_release(&cache);
	free(dir);
	return ret;
}

int
kiln_slurm_submit(const struct kiln_slurm_args *a)
{
	struct submit s = {0};
	int ret;

	s.spec = a->spec;
	s.runner = a->runner;
	s.remote = a->remote;
	s.key = a->key;
	s.partition = a->partition;
	s.account = a->account;
	s.nodecache = a->cache;
	s.extra = a->extra;
	s.nextra = a->nextra;
	s.cpus = a->cpus;
	s.gpus = a->gpus;
	s.mem = a->mem;
	s.timeout = a->timeout;
	ret = submit_main(&s);
	free((char *)s.target);
	free(s.jobfile);
	free(s.failure);
	free(s.srun_error);
	free(s.exec_error);
	return ret;
}
