/*
 * job: one running build step; see job.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "context.h"
#include "fs.h"
#include "job.h"
#include "loader.h"
#include "outputs.h"
#include "paths.h"
#include "remote.h"
#include "statuspipe.h"
#include "stepserver.h"
#include "syscalls.h"
#include "userns.h"
#include "value.h"
#include "workspace.h"

extern char **environ;

/*
 * The sandbox's seccomp filter, compiled once for all the build's local
 * steps, in a sealed memfd above the descriptors a step starts with; -1
 * where it cannot be had (each kiln-run then compiles its own, and says
 * why it cannot).
 */
static int
filter_fd(void)
{
	static int fd = -2;
	char err[256];

	if (fd == -2) {
		int memfd = kiln_syscalls_memfd(err, sizeof(err));

		fd = memfd < 0 ? -1 : fcntl(memfd, F_DUPFD_CLOEXEC, 10);
		if (memfd >= 0)
			close(memfd);
	}
	return fd;
}

static char *
write_spec(struct kiln_job *j, struct kiln_workspace *ws, int sandbox, int same, const char *outdir)
{
	struct kiln_target *t = j->t;
	json_t *spec = json_object(), *inputs = json_object(), *outputs = json_array();
	json_t *env = json_object(), *binds = json_array();
	char *path = xasprintf(KILN_TMP_DIR "/%s/spec.json", t->name), *text;
	size_t i, k;

	json_object_set_new(spec, "target", json_string(t->name));
	json_object_set_new(spec, "plugin", json_string(j->pi->path));
	/* A repository's plugin is loaded only inside the sandbox. */
	if (j->pi->untrusted)
		json_object_set_new(spec, "untrusted", json_true());
	/* What the key says of the processor's kernels: kiln-run refuses to run with others. */
	if (j->pi->machine)
		json_object_set_new(spec, "machine", json_string(j->pi->machine));
	json_object_set_new(spec, "workspace", json_string(ws->root));
	json_object_set_new(spec, "out", json_string(outdir));
	json_object_set_new(spec, "threads", json_integer(t->res.threads));
	/* kiln_output_same: this kiln reads the step's "same" lines (a cluster node does not). */
	if (same)
		json_object_set_new(spec, "same", json_true());
	json_object_set_new(spec, "params", kiln_value_to_json(kiln_target_params(t)));
	for (i = 0; i < t->ninputs; i++) {
		if (!t->inputs[i].path)
			continue;	/* a soft input whose target failed */
		json_object_set_new(inputs, t->inputs[i].name, json_string(t->inputs[i].path));
		for (k = 0; k < t->inputs[i].nfiles; k++)
			json_array_append_new(binds, json_string(t->inputs[i].files[k]));
	}
	/* Tools are host paths, bound read-only where they are (those under /usr are there already). */
	for (i = 0; i < t->tools.ntools; i++)
		json_array_append_new(binds, json_string(t->tools.tools[i].path));
	json_object_set_new(spec, "inputs", inputs);
	json_object_set_new(spec, "binds", binds);
	for (i = 0; i < t->noutputs; i++)
		json_array_append_new(outputs, json_string(t->outputs[i]));
	json_object_set_new(spec, "outputs", outputs);
	for (i = 0; i < t->nenv; i++) {
		const char *v = t->env[i].value ? t->env[i].value : getenv(t->env[i].name);

		if (v)
			json_object_set_new(env, t->env[i].name, json_string(v));
	}
	json_object_set_new(spec, "env", env);
	if (j->checkpoint)
		json_object_set_new(spec, "checkpoint", json_string(j->checkpoint));
	if (j->checkpoint && t->checkpoint_upload)
		json_object_set_new(spec, "checkpoint_upload", json_real(t->checkpoint_upload));
	if (t->res.gpus) {
		json_t *gpus = json_array();

		/* The count for a cluster node, which binds its own allocation; the devices for here. */
		json_object_set_new(spec, "gpu_count", json_integer(t->res.gpus));
		for (i = 0; i < j->ngpus; i++)
			json_array_append_new(gpus, json_integer(j->gpus[i]));
		json_object_set_new(spec, "gpus", gpus);
	}
	if (sandbox) {
		json_t *sb = json_object();

		json_object_set_new(sb, "network", json_boolean(t->network));
		if (j->ns.user >= 0)
			json_object_set_new(sb, "netns", json_true());
		if (j->ns.user >= 0 && j->ns.mnt >= 0)
			json_object_set_new(sb, "rootns", json_true());
		if (j->ns.user >= 0 && j->ns.mnt >= 0 && j->ns.host >= 0)
			json_object_set_new(sb, "hostns", json_true());
		if (j->ns.user >= 0 && kiln_netns_cgroup(0)) {
			json_object_set_new(sb, "cgslot", json_string(kiln_netns_cgroup(0)));
			json_object_set_new(sb, "cgslot_pids", json_string(kiln_netns_cgroup(1)));
		}
		if (j->filter_fd >= 0)
			json_object_set_new(sb, "filter", json_true());
		if (t->res.mem)
			json_object_set_new(sb, "mem", json_integer(t->res.mem));
		if (t->res.disk)
			json_object_set_new(sb, "disk", json_integer(t->res.disk));
		if (t->res.timeout)
			json_object_set_new(sb, "cpu", json_integer((json_int_t)(t->res.timeout * t->res.threads) + 1));
		json_object_set_new(spec, "sandbox", sb);
	}
	/* 0600: it holds the declared variables' values, a deploy's credentials among them. */
	text = json_dumps(spec, JSON_COMPACT);
	if (!text || write_file_atomic(path, text, strlen(text), 0600, 0) < 0) {
		error("cannot write %s:", path);
		free(path);
		path = NULL;
	}
	free(text);
	json_decref(spec);
	return path;
}

void
kiln_job_free(struct kiln_job *j)
{
	kiln_netns_give(&j->ns, j->ns_reusable);
	if (j->statusfd >= 0)
		close(j->statusfd);
	if (j->pidfd >= 0)
		close(j->pidfd);
	if (j->exitfd >= 0)
		close(j->exitfd);
	buf_release(&j->partial);
	buf_release(&j->warnings);
	free(j->failure);
	free(j->checkpoint);
	free(j->metrics);
	free(j->same);
	arena_release(&j->arena);
	kiln_keyinfo_release(&j->ki);
	free(j);
}

struct kiln_job *
kiln_job_new(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki)
{
	struct kiln_job *j = xcalloc(1, sizeof(*j));

	j->t = t;
	j->statusfd = j->pidfd = j->exitfd = -1;
	j->ns.user = j->ns.net = j->ns.mnt = j->ns.host = -1;
	j->filter_fd = -1;
	j->pi = kiln_plugins_get(&ws->plugins, t->plugin, &ws->state, t);
	j->ki.comps = xreallocarray(NULL, ki->ncomps, sizeof(*j->ki.comps));
	memcpy(j->ki.comps, ki->comps, ki->ncomps * sizeof(*j->ki.comps));
	j->ki.ncomps = j->ki.cap = ki->ncomps;
	j->ki.key = ki->key;
	return j;
}

/* The step's log, .kiln/logs/<name>.log, made anew: a file or link left there is replaced, not written through. */
static int
open_log(const struct kiln_target *t)
{
	char *path = xasprintf(KILN_LOG_DIR "/%s.log", t->name);
	int fd = kiln_fs_create(AT_FDCWD, path, 0644);

	if (fd < 0)
		error("cannot create %s:", path);
	free(path);
	return fd;
}

/* checkpoint = true: the folder kept across interrupted runs of this key; say when the step resumes. */
static int
open_checkpoint(struct kiln_job *j)
{
	double epoch;
	int r = kiln_checkpoint_prepare(j->t->name, &j->ki.key, &epoch);

	if (r < 0)
		return -1;
	j->checkpoint = kiln_checkpoint_path(j->t->name, &j->ki.key);
	if (r == 1 && epoch >= 0)
		fprintf(stderr, "kiln: %s: resuming from its checkpoint at epoch %g\n", j->t->name, epoch);
	else if (r == 1)
		fprintf(stderr, "kiln: %s: resuming from its checkpoint\n", j->t->name);
	return 0;
}

/*
 * A sandboxed step in its job slot's namespaces: forked by the step server
 * (stepserver.h) with the descriptors kiln-run would be spawned with. -1:
 * no server; spawn kiln-run.
 */
static int
by_server(struct kiln_job *j, const char *spec, int logfd, int statusfd)
{
	int fds[KILN_STEPSERVER_MAXFD], targets[KILN_STEPSERVER_MAXFD];
	size_t n = 0;

#define PUT(fd, at) (fds[n] = (fd), targets[n++] = (at))
	PUT(logfd, 1);
	PUT(logfd, 2);
	PUT(statusfd, 3);
	PUT(j->ns.user, KILN_USERNS_FD);
	PUT(j->ns.net, KILN_NETNS_FD);
	if (j->ns.mnt >= 0)
		PUT(j->ns.mnt, KILN_MNTNS_FD);
	if (j->ns.mnt >= 0 && j->ns.host >= 0)
		PUT(j->ns.host, KILN_HOSTNS_FD);
	if (j->filter_fd >= 0)
		PUT(j->filter_fd, KILN_FILTER_FD);
#undef PUT
	return kiln_stepserver_start(j->step.runner, spec, fds, targets, n, &j->pid, &j->pidfd, &j->exitfd);
}

int
kiln_job_start(struct kiln_job *j, struct kiln_workspace *ws, struct kiln_executor *ex, int sandbox)
{
	struct kiln_target *t = j->t;
	char *outdir, *spec = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int pipefd[2] = {-1, -1}, logfd = -1, rc;
	char **argv;

	outdir = kiln_outputs_scratch(t->name, "out");
	/*
	 * A cluster node does not see .kiln/checkpoints: with checkpoint_upload
	 * and a remote, the node keeps the checkpoint beneath its scratch
	 * workspace, fetching and sending it through the remote (slurm_node.c).
	 */
	if (t->checkpoint && ex->outputs_in_cache && t->checkpoint_upload && ws->remote && !j->checkpoint)
		j->checkpoint = kiln_checkpoint_path(t->name, &j->ki.key);
	if (t->checkpoint && !ex->outputs_in_cache && !j->checkpoint && open_checkpoint(j) < 0) {
		free(outdir);
		return -1;
	}
	/* A sandboxed step without the network joins namespaces kept for it rather than making its own. */
	if (sandbox && !t->network && ex->local && j->ns.user < 0)
		(void)kiln_netns_take(&j->ns, ws->plugins.runner);
	j->filter_fd = sandbox && ex->local ? filter_fd() : -1;
	if (outdir)
		spec = write_spec(j, ws, sandbox, !ex->outputs_in_cache, outdir);
	if (!outdir || !spec || (logfd = open_log(t)) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		error("cannot prepare the step for '%s':", t->name);
		if (logfd >= 0)
			close(logfd);
		free(outdir);
		free(spec);
		return -1;
	}
	j->step = (struct kiln_step){t, ws->plugins.runner, spec, ws->root, &j->ki.key,
	    ws->remote ? kiln_remote_base(ws->remote) : NULL};
	if (sandbox && ex->local && j->ns.user >= 0 && !t->res.gpus &&
	    by_server(j, spec, logfd, pipefd[1]) == 0) {
		rc = 0;
		goto started;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, logfd, 1);
	posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 3);
	if (j->ns.user >= 0) {
		posix_spawn_file_actions_adddup2(&fa, j->ns.user, KILN_USERNS_FD);
		posix_spawn_file_actions_adddup2(&fa, j->ns.net, KILN_NETNS_FD);
		if (j->ns.mnt >= 0)
			posix_spawn_file_actions_adddup2(&fa, j->ns.mnt, KILN_MNTNS_FD);
		if (j->ns.mnt >= 0 && j->ns.host >= 0)
			posix_spawn_file_actions_adddup2(&fa, j->ns.host, KILN_HOSTNS_FD);
	}
	if (j->filter_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, j->filter_fd, KILN_FILTER_FD);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);
	argv = ex->command(ex, &j->step);
	rc = argv ? posix_spawnp(&j->pid, argv[0], &fa, &attr, argv, environ) : ENOEXEC;
	strv_free(argv);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
started:
	close(pipefd[1]);
	close(logfd);
	free(spec);
	j->step.spec = NULL;
	free(outdir);
	if (rc != 0) {
		errno = rc;
		close(pipefd[0]);
		error("cannot start the step for '%s' (%s executor):", t->name, ex->name);
		return -1;
	}
	j->statusfd = pipefd[0];
	fcntl(j->statusfd, F_SETFL, O_NONBLOCK);
	j->started = now_seconds();
	j->deadline = t->res.wall && !ex->own_timeout ? j->started + t->res.wall : 0;
	return 0;
}

int
kiln_job_exited(struct kiln_job *j, int *wstatus)
{
	return j->exitfd >= 0 && kiln_stepserver_ended(j->exitfd, wstatus);
}

void
kiln_job_kill(struct kiln_job *j, struct kiln_executor *ex, int sig)
{
	if (j->pidfd >= 0)
		kiln_stepserver_kill(j->pidfd, sig);
	else
		ex->cancel(ex, &j->step, j->pid, sig);
}

/* One status line from the step: progress for the status line, metrics and the failure for the record. */
static void
status_line(void *arg, char *line)
{
	struct kiln_job *j = arg;
	struct kiln_status_msg m;
	size_t i;

	if (kiln_statuspipe_parse(line, &m) < 0)
		return;
	if (m.type == KILN_MSG_PROGRESS) {
		j->done = m.done;
		j->total = m.total;
		snprintf(j->unit, sizeof(j->unit), "%s", m.unit ? m.unit : "");
	} else if (m.type == KILN_MSG_METRIC) {
		for (i = 0; i < j->nmetrics && strcmp(j->metrics[i].name, m.name) != 0; i++)
			;
		if (i == j->nmetrics) {
			j->metrics = xreallocarray(j->metrics, j->nmetrics + 1, sizeof(*j->metrics));
			j->metrics[j->nmetrics++].name = arena_strdup(&j->arena, m.name);
		}
		j->metrics[i].value = m.value;
	} else if (m.type == KILN_MSG_FAIL && (!j->failure || m.kind == KILN_FAIL_LIMIT)) {
		/* The sandbox's word on a limit comes last and explains the step's own ("Killed"). */
		free(j->failure);
		j->failure = xstrdup(m.text);
	} else if (m.type == KILN_MSG_SAME) {
		j->same = xreallocarray(j->same, j->nsame + 1, sizeof(*j->same));
		j->same[j->nsame].output = arena_strdup(&j->arena, m.name);
		j->same[j->nsame++].path = arena_strdup(&j->arena, m.text);
	} else if (m.type == KILN_MSG_WARN && j->warnings.len < 65536) {
		for (i = 0; m.text[i]; i++)
			buf_addc(&j->warnings, m.text[i] == '\n' ? ' ' : m.text[i]);
		buf_addc(&j->warnings, '\n');
	}
}

int
kiln_job_read(struct kiln_job *j)
{
	int more = kiln_statuspipe_read(j->statusfd, &j->partial, status_line, j);

	if (!more)
		j->status_eof = 1;
	return more;
}

/* Print the last lines of a step's log, indented. */
static void
log_tail(const char *path, int lines)
{
	size_t len, i;
	char *text = read_file(path, &len);
	int n = 0;

	if (!text || !len) {
		free(text);
		return;
	}
	i = len;
	if (text[i - 1] == '\n')
		i--;
	while (i > 0 && n < lines) {
		if (text[--i] == '\n')
			n++;
	}
	if (text[i] == '\n')
		i++;
	fprintf(stderr, "  last lines of %s:\n", path);
	for (char *line = strtok(text + i, "\n"); line; line = strtok(NULL, "\n"))
		fprintf(stderr, "  | %s\n", line);
	free(text);
}

static const char *
signal_reason(int sig)
{
	switch (sig) {
	case SIGXCPU:
		return "it used up its CPU time limit (SIGXCPU)";
	case SIGXFSZ:
		return "it wrote a file larger than its file-size limit (SIGXFSZ)";
	case SIGSEGV:
		return "it crashed (SIGSEGV, segmentation fault)";
	case SIGBUS:
		return "it crashed (SIGBUS)";
	case SIGABRT:
		return "it aborted (SIGABRT)";
	case SIGFPE:
		return "it crashed (SIGFPE)";
	case SIGILL:
		return "it crashed (SIGILL)";
	case SIGSYS:
		return "it made a system call the sandbox forbids (SIGSYS)";
	default:
		return NULL;
	}
}

void
kiln_job_warnings(const struct kiln_job *j)
{
	const char *line = j->warnings.s, *nl;

	for (; line && (nl = strchr(line, '\n')); line = nl + 1)
		fprintf(stderr, "kiln: warning: %s:%d: target '%s': %.*s\n", j->t->file, j->t->line, j->t->name,
		    (int)(nl - line), line);
}

void
kiln_job_report(const struct kiln_job *j, const char *why)
{
	char *log = xasprintf(KILN_LOG_DIR "/%s.log", j->t->name);

	error("%s:%d: target '%s' failed: %s", j->t->file, j->t->line, j->t->name, why);
	log_tail(log, 10);
	fprintf(stderr, "  log: %s\n", log);
	free(log);
}

/* The executor left the step's outputs in the cache (a cluster node did): restore them from there. */
static int
keep_from_cache(struct kiln_job *j, struct kiln_workspace *ws, struct kiln_executor *ex, struct buf *why)
{
	struct kiln_action act;
	struct arena a = {0};
	int got = kiln_cache_get_action(&ws->cache, &j->ki.key, &act, &a), ret;

	if (!got && ws->remote && kiln_remote_fetch(ws->remote, &j->ki.key, j->t->name) == 1)
		got = kiln_cache_get_action(&ws->cache, &j->ki.key, &act, &a);
	ret = got ? kiln_outputs_restore(ws, j->t, &j->ki, &act) : 0;
	if (ret != 1)
		buf_printf(why, "its outputs are not in the cache after the %s executor ran it", ex->name);
	arena_release(&a);
	return ret == 1 ? 0 : -1;
}

int
kiln_job_end(struct kiln_job *j, struct kiln_workspace *ws, struct kiln_executor *ex, int wstatus,
    int sandbox, struct buf *why)
{
	/* The pipe ends when the last process holding it does: wait for that without spinning. */
	while (kiln_job_read(j) > 0)
		poll(&(struct pollfd){j->statusfd, POLLIN, 0}, 1, 100);
	/* kiln-run exits once the sandbox's init has killed and reaped all the step's processes. */
	j->ns_reusable = !j->timed_out && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) <= 1;
	if (j->timed_out) {
		buf_printf(why, "it ran past its timeout of %gs and was stopped", j->t->res.wall);
	} else if (WIFSIGNALED(wstatus)) {
		const char *s = signal_reason(WTERMSIG(wstatus));

		if (s)
			buf_adds(why, s);
		else
			buf_printf(why, "it was killed by signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	} else if (WEXITSTATUS(wstatus) != 0) {
		if (j->failure)
			buf_adds(why, j->failure);
		else
			buf_printf(why, "the plugin exited with status %d without saying why", WEXITSTATUS(wstatus));
	} else if (ex->outputs_in_cache) {
		return keep_from_cache(j, ws, ex, why);
	} else if (kiln_outputs_same(ws, j->t, j->same, j->nsame, why) == 0 &&
	    kiln_outputs_keep(ws, j->t, &j->ki, j->metrics, j->nmetrics, sandbox ? 0 : KILN_REC_UNSANDBOXED,
	    why) == 0) {
		if (j->checkpoint)
			kiln_checkpoint_remove(j->t->name, &j->ki.key);
		/* Built: the checkpoint it sent or resumed from is of no more use to anyone. */
		if (j->ckpt_fetched || !kiln_digest_iszero(&j->ckpt_sent))
			kiln_remote_drop_checkpoint(ws->remote, &j->ki.key);
		return 0;
	}
	return -1;
}
