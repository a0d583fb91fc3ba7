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

#include "cache.h"
#include "host.h"
#include "remote.h"
#include "slurm.h"
#include "util.h"

extern char **environ;

#define MARK "kiln-status "		/* a status line from the node, on stderr */
#define JOB_FILE "slurm-job"		/* in .kiln/tmp/<target>/: "JOBID STATE SRUN-PID [NODE]" */
#define SPEC_PATH ".kiln/spec.json"	/* where the spec travels among the inputs */
#define PLUGIN_DIR ".kiln/plugin"	/* and the plugin, so a node needs only kiln and kiln-run */
#define ORPHANS ".kiln/slurm-orphans"	/* jobs whose end slurmctld may not know: cancelled next time */
#define STATUS_FD 3
#define SRUN_GRACE 3			/* seconds srun may take to end after the step */

/* The executor, in kiln. */

struct slurm {
	char *self;		/* this kiln, which the job runs on the node */
	const char *partition, *account;
	const char *cache;	/* the cache folder on the nodes, or NULL: the same as here */
	const char **extra;	/* more srun options, verbatim */
	size_t nextra;
};

static void
add_arg(char ***argv, size_t *n, char *arg)
{
	*argv = xreallocarray(*argv, *n + 2, sizeof(**argv));
	(*argv)[(*n)++] = arg;
	(*argv)[*n] = NULL;
}

static char **
slurm_command(struct kiln_executor *ex, const struct kiln_step *s)
{
	struct slurm *sl = ex->data;
	const struct kiln_resources *res = &s->target->res;
	char hex[KILN_DIGEST_HEX];
	char **argv = NULL;
	size_t n = 0, i;

	add_arg(&argv, &n, xstrdup(sl->self));
	add_arg(&argv, &n, xstrdup("slurm-step"));
	add_arg(&argv, &n, xstrdup("submit"));
	add_arg(&argv, &n, xasprintf("--key=%s", kiln_digest_hex(s->key, hex)));
	add_arg(&argv, &n, xasprintf("--runner=%s", s->runner));
	add_arg(&argv, &n, xasprintf("--cpus=%d", res->cpus > 0 ? res->cpus : 1));
	if (res->mem)
		add_arg(&argv, &n, xasprintf("--mem=%lld", res->mem));
	if (res->gpus)
		add_arg(&argv, &n, xasprintf("--gpus=%d", res->gpus));
	if (res->timeout)
		add_arg(&argv, &n, xasprintf("--timeout=%g", res->timeout));
	if (sl->partition)
		add_arg(&argv, &n, xasprintf("--partition=%s", sl->partition));
	if (sl->account)
		add_arg(&argv, &n, xasprintf("--account=%s", sl->account));
	if (sl->cache)
		add_arg(&argv, &n, xasprintf("--cache=%s", sl->cache));
	for (i = 0; i < sl->nextra; i++)
		add_arg(&argv, &n, xasprintf("--extra=%s", sl->extra[i]));
	if (s->remote)
		add_arg(&argv, &n, xasprintf("--remote=%s", s->remote));
	add_arg(&argv, &n, xstrdup(s->spec));
	return argv;
}

/*
 * Read .kiln/tmp/<target>/slurm-job: the job id (0 if none yet), its state
 * (32 bytes) and srun's process id (0 when it has ended), each if wanted.
 */
static long
read_job_file(const struct kiln_step *s, char *state, long *srun)
{
	char *path = xasprintf("%s/.kiln/tmp/%s/" JOB_FILE, s->workspace, s->target->name);
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

/* Run a command and wait for it; its output goes to /dev/null. Its exit status, or -1. */
static int
run_quiet(char **argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int ws, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static void
scancel(long id)
{
	char num[32];
	char *argv[] = {"scancel", num, NULL};

	snprintf(num, sizeof(num), "%ld", id);
	run_quiet(argv);
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
			scancel(id);
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
	char *text = read_file(ORPHANS, NULL), *line, *save;
	char *ping[] = {"scontrol", "ping", NULL};

	if (!text || run_quiet(ping) != 0) {
		free(text);
		return;
	}
	/* scancel fails for a job that has ended meanwhile, which is as good. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *argv[] = {"scancel", line, NULL};

		if (strspn(line, "0123456789") == strlen(line))
			run_quiet(argv);
	}
	unlink(ORPHANS);
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
	sl->self = realpath("/proc/self/exe", NULL);
	if (!sl->self || read_config(sl, cfg) < 0) {
		if (!sl->self)
			error("cannot find kiln's own path:");
		kiln_executor_free(ex);
		return NULL;
	}
	cancel_orphans();
	return ex;
}

/* Both sides. */

/* Where a plugin travels among a step's inputs: .kiln/plugin/<its file name>. */
static const char *
plugin_path(struct arena *a, const char *plugin)
{
	const char *base = strrchr(plugin, '/');
	char *p = xasprintf(PLUGIN_DIR "/%s", base ? base + 1 : plugin);
	const char *r = arena_strdup(a, p);

	free(p);
	return r;
}


/* A failure status line, `prefix` first, with msg escaped as KILN_STATUS_FAIL wants; one write. */
static void
send_failure(int fd, const char *prefix, const char *msg)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, prefix);
	buf_adds(&b, KILN_STATUS_FAIL " ");
	for (; *msg; msg++) {
		if (*msg == '\n')
			buf_adds(&b, "\\n");
		else if (*msg == '\\')
			buf_adds(&b, "\\\\");
		else
			buf_addc(&b, *msg);
	}
	buf_addc(&b, '\n');
	(void)write_all(fd, b.s, b.len);
	buf_release(&b);
}

/* The message of a failure status line (a new string). */
static char *
unescape(const char *msg)
{
	struct buf b = BUF_INIT;

	for (; *msg; msg++) {
		if (msg[0] == '\\' && (msg[1] == 'n' || msg[1] == '\\'))
			buf_addc(&b, *++msg == 'n' ? '\n' : '\\');
		else
			buf_addc(&b, *msg);
	}
	return buf_detach(&b);
}

/* Block the signals a side waits for, and return a signalfd for them. */
static int
signals_fd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		die("signalfd:");
	return fd;
}

/* The signal that asks us to stop (0: none yet; SIGCHLD only wakes us). */
static int
read_signals(int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGCHLD)
			stop = si.ssi_signo;
	return stop;
}

/* Lines from a nonblocking fd; fn gets each, without its newline. 0 at its end. */
static int
read_lines(int fd, struct buf *partial, void (*fn)(void *, char *), void *arg)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		char *nl;

		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_add(partial, chunk, n);
		while ((nl = memchr(partial->s, '\n', partial->len))) {
			size_t len = nl - partial->s + 1;

			*nl = '\0';
			fn(arg, partial->s);
			memmove(partial->s, partial->s + len, partial->len - len);
			partial->len -= len;
			partial->s[partial->len] = '\0';
		}
	}
	if (n == 0 && partial->len) {
		fn(arg, partial->s);
		buf_reset(partial);
	}
	return n == 0 ? 0 : 1;
}

/*
 * The remote, read-only under KILN_REMOTE_READ_ONLY as in kiln (srun passes
 * the environment on). NEEDSWORK: the step carries the remote's URL but not
 * --remote-read-only, so with that flag both sides still upload (the server
 * may refuse, which warns); remote.h has no accessor for it yet.
 */
static struct kiln_remote *
open_remote(const char *url, struct kiln_cache *c)
{
	const char *ro = getenv("KILN_REMOTE_READ_ONLY");

	return url ? kiln_remote_new(url, c, ro && *ro && strcmp(ro, "0") != 0) : NULL;
}

/* The submitter: `kiln slurm-step submit`, in the workspace, a child of kiln. */

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

	if (strncmp(line, MARK, strlen(MARK)) == 0) {
		char *rest = line + strlen(MARK);

		if (sscanf(rest, "slurm-job %ld %127s", &s->jobid, s->node) >= 1) {
			printf("kiln: Slurm job %ld is running on %s\n", s->jobid, s->node);
			fflush(stdout);
			write_job_file(s, "running");
		} else if (strcmp(rest, "slurm-done") == 0) {
			s->done = 1;
		} else if (strncmp(rest, KILN_STATUS_FAIL " ", strlen(KILN_STATUS_FAIL) + 1) == 0) {
			if (!s->failure)
				s->failure = unescape(rest + strlen(KILN_STATUS_FAIL) + 1);
		} else {
			dprintf(STATUS_FD, "%s\n", rest);
		}
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
			ret = kiln_cache_put_tree(c, &fl, NULL, json_string_value(v), 1, &why);
	if (ret == 0) {
		/* The spec and the plugin ride along under names no input can have. */
		const char *plugin = json_string_value(json_object_get(spec, "plugin"));
		size_t before = fl.n;

		ret = kiln_cache_put_tree(c, &fl, NULL, s->spec, 1, &why);
		if (ret == 0 && fl.n == before + 1)
			fl.v[before].path = SPEC_PATH;
		if (ret == 0 && plugin && (ret = kiln_cache_put_tree(c, &fl, NULL, plugin, 1, &why)) == 0 && fl.n == before + 2)
			fl.v[before + 1].path = plugin_path(&fl.arena, plugin);
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

	add_arg(&argv, &n, xstrdup("srun"));
	add_arg(&argv, &n, xasprintf("--job-name=kiln:%s", s->target));
	add_arg(&argv, &n, xstrdup("--nodes=1"));
	add_arg(&argv, &n, xstrdup("--ntasks=1"));
	add_arg(&argv, &n, xasprintf("--cpus-per-task=%d", s->cpus));
	add_arg(&argv, &n, xstrdup("--kill-on-bad-exit=1"));
	if (s->mem)
		add_arg(&argv, &n, xasprintf("--mem=%lldM", (s->mem + (1 << 20) - 1) >> 20));
	if (s->gpus)
		add_arg(&argv, &n, xasprintf("--gres=gpu:%d", s->gpus));
	/*
	 * Slurm counts time limits in minutes; the node stops the step at the
	 * exact timeout, and the limit, a minute later, catches what it cannot.
	 */
	if (s->timeout)
		add_arg(&argv, &n, xasprintf("--time=%ld", (long)ceil(s->timeout / 60) + 1));
	if (s->partition)
		add_arg(&argv, &n, xasprintf("--partition=%s", s->partition));
	if (s->account)
		add_arg(&argv, &n, xasprintf("--account=%s", s->account));
	for (i = 0; i < s->nextra; i++)
		add_arg(&argv, &n, xstrdup(s->extra[i]));
	add_arg(&argv, &n, xstrdup(self));
	add_arg(&argv, &n, xstrdup("slurm-step"));
	add_arg(&argv, &n, xstrdup("node"));
	add_arg(&argv, &n, xasprintf("--key=%s", s->key));
	add_arg(&argv, &n, xasprintf("--inputs=%s", kiln_digest_hex(inkey, hex)));
	add_arg(&argv, &n, xasprintf("--runner=%s", s->runner));
	add_arg(&argv, &n, xasprintf("--cache=%s", cachedir));
	if (s->timeout)
		add_arg(&argv, &n, xasprintf("--timeout=%g", s->timeout));
	if (s->remote)
		add_arg(&argv, &n, xasprintf("--remote=%s", s->remote));
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

/* Run srun and relay until it ends; the signal that stopped us, or 0. */
static int
relay(struct submit *s, char **argv, pid_t *pid, int *wstatus)
{
	posix_spawn_file_actions_t fa;
	struct buf partial = BUF_INIT;
	int pipefd[2], sfd = signals_fd(), rc, stopped = 0, open_ = 1;
	double kill_at = 0, done_at = 0;
	sigset_t none;
	posix_spawnattr_t attr;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe:");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	/*
	 * Its own process group: a signal kiln sends the step reaches us, and we
	 * cancel the job first, so it ends CANCELLED rather than however srun's
	 * forwarded signal would end it.
	 */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		close(sfd);
		errno = rc;
		return error("cannot start srun:");
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	s->srun = *pid;
	write_job_file(s, "submitted");
	for (;;) {
		struct pollfd fds[2] = {{sfd, POLLIN, 0}, {pipefd[0], open_ ? POLLIN : 0, 0}};
		int sig;

		poll(fds, 2, 200);
		if (open_ && fds[1].revents)
			open_ = read_lines(pipefd[0], &partial, submit_line, s);
		if ((sig = read_signals(sfd)) && !stopped) {
			stopped = sig;
			if (s->jobid)
				scancel(s->jobid);
			kill(*pid, SIGTERM);
			kill_at = now_seconds() + 5;
		}
		if (kill_at && now_seconds() > kill_at) {
			kill(*pid, SIGKILL);
			kill_at = 0;
		}
		if (s->done && !done_at)
			done_at = now_seconds() + SRUN_GRACE;
		if (done_at && now_seconds() > done_at && !s->srun_hung) {
			/* The outputs are in the cache; srun is stuck telling slurmctld (gone?) that the job ended. */
			s->srun_hung = 1;
			kill(*pid, SIGKILL);
		}
		if (waitpid(*pid, wstatus, WNOHANG) == *pid)
			break;
	}
	s->srun = 0;
	write_job_file(s, s->state);
	/* What srun wrote last; a daemon it left behind may hold the pipe, so not forever. */
	for (int i = 0; open_ && i < 20 && read_lines(pipefd[0], &partial, submit_line, s) > 0; i++)
		poll(&(struct pollfd){pipefd[0], POLLIN, 0}, 1, 50);
	buf_release(&partial);
	close(pipefd[0]);
	close(sfd);
	return stopped;
}

static int
submit_main(struct submit *s)
{
	struct kiln_cache cache;
	struct kiln_remote *rem = NULL;
	struct kiln_digest inkey;
	char *dir = kiln_cache_default_dir(), *self = realpath("/proc/self/exe", NULL), **argv, *msg;
	pid_t pid;
	int ws = 0, stopped, ret = 1;

	/* Die with kiln: then the job is cancelled rather than left running. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/*
	 * We hold the workspace lock for kiln (inherited) until the step ends;
	 * srun must not: its shepherd may outlive it by minutes, telling a
	 * slurmctld that is away that the job ended.
	 */
	close_range(STATUS_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
	if (kiln_cache_open(&cache, dir) < 0) {
		send_failure(STATUS_FD, "", "cannot open the cache");
		free(dir);
		free(self);
		return 2;
	}
	rem = open_remote(s->remote, &cache);
	if (upload_inputs(s, &cache, rem, &inkey) < 0) {
		send_failure(STATUS_FD, "", "cannot put its inputs in the cache (see the log)");
		goto out;
	}
	s->jobfile = xasprintf(".kiln/tmp/%s/" JOB_FILE, s->target);
	argv = srun_argv(s, self, s->nodecache ? s->nodecache : cache.dir, &inkey);
	stopped = relay(s, argv, &pid, &ws);
	kiln_executor_free_argv(argv);
	if (stopped < 0) {
		send_failure(STATUS_FD, "", "cannot start srun (is Slurm's client installed?)");
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
			int fd = open(ORPHANS, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

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
	send_failure(STATUS_FD, "", msg);
	printf("kiln: %s\n", msg);
	free(msg);
out:
	fflush(stdout);
	kiln_remote_free(rem);
	kiln_cache_release(&cache);
	free(dir);
	free(self);
	return ret;
}

/* The node side: `kiln slurm-step node`, in a Slurm job. */

struct node {
	const char *key, *inputs, *runner, *cachedir, *remote;
	double timeout;
	char *failure;		/* the first fail line, escaped */
	struct kiln_metric *metrics;
	size_t nmetrics;
	struct arena arena;
};

/* A status line from kiln-run: pass it on, and keep the metrics for the cache entry. */
static void
node_line(void *arg, char *line)
{
	struct node *nd = arg;
	char *sp;
	size_t i;

	fprintf(stderr, MARK "%s\n", line);
	fflush(stderr);
	if (strncmp(line, KILN_STATUS_FAIL " ", strlen(KILN_STATUS_FAIL) + 1) == 0 && !nd->failure)
		nd->failure = xstrdup(line);
	if (strncmp(line, KILN_STATUS_METRIC " ", strlen(KILN_STATUS_METRIC) + 1) != 0 || !(sp = strrchr(line, ' ')))
		return;
	*sp = '\0';
	line += strlen(KILN_STATUS_METRIC) + 1;
	for (i = 0; i < nd->nmetrics && strcmp(nd->metrics[i].name, line) != 0; i++)
		;
	if (i == nd->nmetrics) {
		nd->metrics = xreallocarray(nd->metrics, nd->nmetrics + 1, sizeof(*nd->metrics));
		nd->metrics[nd->nmetrics++].name = arena_strdup(&nd->arena, line);
	}
	nd->metrics[i].value = strtod(sp + 1, NULL);
}

__attribute__((format(printf, 1, 2))) static int
node_fail(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Status lines go to stderr here, marked, for the submitter. */
	fflush(stderr);
	send_failure(STDERR_FILENO, MARK, msg);
	return 1;
}

/* Materialise the step's inputs in `scratch` from the cache. */
static int
fetch_inputs(struct node *nd, struct kiln_cache *c, struct kiln_remote *rem, const char *scratch)
{
	struct kiln_digest inkey;
	struct kiln_action act;
	struct arena a = {0};
	size_t i;
	int got, ret = 0;

	if (kiln_digest_parse(nd->inputs, &inkey) < 0)
		return node_fail("bad --inputs");
	got = kiln_cache_get_action(c, &inkey, &act, &a);
	if (!got && rem && kiln_remote_fetch(rem, &inkey, "inputs") == 1)
		got = kiln_cache_get_action(c, &inkey, &act, &a);
	if (!got) {
		arena_release(&a);
		return node_fail("the step's inputs are not in the cache at %s%s (the cache folder must be shared "
		    "with the compute nodes, or a remote cache configured)", c->dir, rem ? " nor on the remote" : "");
	}
	for (i = 0; i < act.nfiles && ret == 0; i++) {
		char *dest = path_join(scratch, act.files[i].path), *slash = strrchr(dest, '/');
		int r;

		*slash = '\0';
		mkdir_p(dest, 0755);
		*slash = '/';
		r = kiln_cache_restore(c, &act.files[i], dest);
		/* Missing here, the blob may still be on the remote. */
		if (r == 1 && rem && kiln_remote_fetch(rem, &inkey, "inputs") == 1)
			r = kiln_cache_restore(c, &act.files[i], dest);
		if (r != 0)
			ret = node_fail("input %s is not in the cache at %s", act.files[i].path, c->dir);
		free(dest);
	}
	arena_release(&a);
	return ret;
}

/* Point the spec at the scratch workspace; its path there, or NULL. */
static char *
node_spec(const char *scratch, json_t **specp)
{
	char *from = path_join(scratch, SPEC_PATH), *to = path_join(scratch, ".kiln/spec.node.json");
	json_error_t jerr;
	json_t *spec = json_load_file(from, 0, &jerr);
	const char *out;

	free(from);
	if (!spec) {
		node_fail("the step's spec: %s", jerr.text);
		free(to);
		return NULL;
	}
	json_object_set_new(spec, "workspace", json_string(scratch));
	if (json_is_string(json_object_get(spec, "plugin"))) {
		struct arena a = {0};
		char *plugin = path_join(scratch, plugin_path(&a, json_string_value(json_object_get(spec, "plugin"))));

		json_object_set_new(spec, "plugin", json_string(plugin));
		free(plugin);
		arena_release(&a);
	}
	out = json_string_value(json_object_get(spec, "out"));
	if (!out || !path_is_safe_relative(out) || json_dump_file(spec, to, JSON_COMPACT) < 0) {
		node_fail("the step's spec cannot be used here");
		json_decref(spec);
		free(to);
		return NULL;
	}
	from = path_join(scratch, out);
	mkdir_p(from, 0755);
	free(from);
	*specp = spec;
	return to;
}

/* Run kiln-run; 0 when it built the step. */
static int
run_step(struct node *nd, const char *spec)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct buf partial = BUF_INIT;
	char *argv[] = {(char *)nd->runner, (char *)spec, NULL};
	int pipefd[2], sfd = signals_fd(), rc, ws = 0, open_ = 1, timed_out = 0, stopped = 0;
	double deadline = nd->timeout ? now_seconds() + nd->timeout : 0;
	sigset_t none;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe:");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STATUS_FD);
	/* The step's output is the log (stdout); stderr carries only our status lines. */
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&pid, nd->runner, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		close(sfd);
		return node_fail("cannot start %s on this node: %s", nd->runner, strerror(rc));
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd fds[2] = {{sfd, POLLIN, 0}, {pipefd[0], open_ ? POLLIN : 0, 0}};
		int sig;

		poll(fds, 2, 200);
		if (open_ && fds[1].revents)
			open_ = read_lines(pipefd[0], &partial, node_line, nd);
		if ((sig = read_signals(sfd)) && !stopped) {
			stopped = sig;
			kill(-pid, SIGKILL);
		}
		if (deadline && now_seconds() >= deadline && !timed_out) {
			timed_out = 1;
			kill(-pid, SIGKILL);
		}
		if (waitpid(pid, &ws, WNOHANG) == pid)
			break;
	}
	for (int i = 0; open_ && i < 20 && read_lines(pipefd[0], &partial, node_line, nd) > 0; i++)
		poll(&(struct pollfd){pipefd[0], POLLIN, 0}, 1, 50);
	buf_release(&partial);
	close(pipefd[0]);
	close(sfd);
	if (stopped)
		return node_fail("stopped by %s", strsignal(stopped));
	if (timed_out)
		return node_fail("it ran past its timeout of %gs and was stopped", nd->timeout);
	if (WIFSIGNALED(ws))
		return node_fail("it was killed by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
	if (WEXITSTATUS(ws) != 0) {
		if (!nd->failure)
			return node_fail("the plugin exited with status %d without saying why", WEXITSTATUS(ws));
		return 1;
	}
	return 0;
}

/* Put the declared outputs and the action entry into the cache (and the remote). */
static int
store_outputs(struct node *nd, struct kiln_cache *c, struct kiln_remote *rem, const char *scratch,
    json_t *spec)
{
	struct kiln_filelist fl = {0};
	struct kiln_action act = {0};
	struct kiln_digest key;
	struct buf why = BUF_INIT;
	char *out = path_join(scratch, json_string_value(json_object_get(spec, "out")));
	json_t *outputs = json_object_get(spec, "outputs"), *v;
	size_t i;
	int ret = 0;

	json_array_foreach(outputs, i, v)
		if (ret == 0)
			ret = kiln_cache_put_tree(c, &fl, out, json_string_value(v), 0, &why);
	if (ret < 0) {
		if (strstr(why.s, "is missing"))
			ret = node_fail("it did not write the declared output %s", why.s);
		else
			ret = node_fail("cannot keep its outputs: %s", why.s);
		goto out;
	}
	kiln_filelist_sort(&fl);
	act.files = fl.v;
	act.nfiles = fl.n;
	act.metrics = nd->metrics;
	act.nmetrics = nd->nmetrics;
	act.flags = json_is_object(json_object_get(spec, "sandbox")) ? 0 : KILN_REC_UNSANDBOXED;
	if (kiln_digest_parse(nd->key, &key) < 0 || kiln_cache_put_action(c, &key, &act) < 0) {
		ret = node_fail("cannot write its cache entry in %s", c->dir);
		goto out;
	}
	if (rem && kiln_remote_store(rem, &key, &act, json_string_value(json_object_get(spec, "target"))) < 0)
		ret = node_fail("cannot upload its outputs to the remote cache");
out:
	kiln_filelist_release(&fl);
	buf_release(&why);
	free(out);
	return ret;
}

static int
node_main(struct node *nd)
{
	struct kiln_cache cache;
	struct kiln_remote *rem = NULL;
	const char *tmp = getenv("TMPDIR"), *job = getenv("SLURM_JOB_ID"), *node = getenv("SLURMD_NODENAME");
	char *scratch = xasprintf("%s/kiln-job.XXXXXX", tmp && *tmp ? tmp : "/tmp"), *spec = NULL;
	json_t *sp = NULL;
	int ret = 1;

	fprintf(stderr, MARK "slurm-job %s %s\n", job ? job : "0", node ? node : "?");
	fflush(stderr);
	if (kiln_cache_open(&cache, nd->cachedir) < 0) {
		free(scratch);
		return node_fail("cannot open the cache at %s on this node", nd->cachedir);
	}
	rem = open_remote(nd->remote, &cache);
	if (!mkdtemp(scratch)) {
		ret = node_fail("cannot create a scratch folder %s: %s", scratch, strerror(errno));
		goto out;
	}
	if (fetch_inputs(nd, &cache, rem, scratch) == 0 && (spec = node_spec(scratch, &sp)) &&
	    run_step(nd, spec) == 0 && store_outputs(nd, &cache, rem, scratch, sp) == 0) {
		fprintf(stderr, MARK "slurm-done\n");
		ret = 0;
	}
	remove_tree(scratch);
out:
	fflush(stderr);
	json_decref(sp);
	free(spec);
	free(scratch);
	free(nd->metrics);
	free(nd->failure);
	arena_release(&nd->arena);
	kiln_remote_free(rem);
	kiln_cache_release(&cache);
	return ret;
}

static int
usage(void)
{
	fprintf(stderr, "usage: kiln slurm-step submit|node OPTIONS (started by kiln build --executor slurm)\n");
	return 2;
}

int
kiln_slurm_step_main(int argc, char **argv)
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
	struct submit s = {.cpus = 1};
	struct node nd = {0};
	int c, node, ret;

	if (argc < 2 || (strcmp(argv[1], "submit") != 0 && strcmp(argv[1], "node") != 0))
		return usage();
	node = argv[1][0] == 'n';
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': s.key = nd.key = optarg; break;
		case 'r': s.runner = nd.runner = optarg; break;
		case 'c': s.cpus = atoi(optarg); break;
		case 'm': s.mem = atoll(optarg); break;
		case 'g': s.gpus = atoi(optarg); break;
		case 't': s.timeout = nd.timeout = atof(optarg); break;
		case 'p': s.partition = optarg; break;
		case 'a': s.account = optarg; break;
		case 'x':
			s.extra = xreallocarray(s.extra, s.nextra + 1, sizeof(*s.extra));
			s.extra[s.nextra++] = optarg;
			break;
		case 'R': s.remote = nd.remote = optarg; break;
		case 'i': nd.inputs = optarg; break;
		case 'C': s.nodecache = nd.cachedir = optarg; break;
		default: return usage();
		}
	}
	if (!s.key || !s.runner || (node ? !nd.inputs || !nd.cachedir || optind != argc : optind != argc - 1)) {
		free(s.extra);
		return usage();
	}
	fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
	if (node) {
		ret = node_main(&nd);
	} else {
		s.spec = argv[optind];
		ret = submit_main(&s);
	}
	free(s.extra);
	free((char *)s.target);
	free(s.jobfile);
	free(s.failure);
	free(s.srun_error);
	free(s.exec_error);
	return ret;
}
