/*
 * slurmjob: what kiln's side and the node's side of a Slurm job share; see
 * slurmjob.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "remote.h"
#include "slurmjob.h"
#include "statuspipe.h"
#include "util.h"

extern char **environ;

void
kiln_slurmjob_arg(char ***argv, size_t *n, char *arg)
{
	*argv = xreallocarray(*argv, *n + 2, sizeof(**argv));
	(*argv)[(*n)++] = arg;
	(*argv)[*n] = NULL;
}

/* Run a command and wait for it; its output goes to /dev/null. Its exit status, or -1. */
int
kiln_slurmjob_run_quiet(char **argv)
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

void
kiln_slurmjob_scancel(long id)
{
	char num[32];
	char *argv[] = {"scancel", num, NULL};

	snprintf(num, sizeof(num), "%ld", id);
	kiln_slurmjob_run_quiet(argv);
}

/* Where a plugin travels among a step's inputs: .kiln/plugin/<its file name>. */
const char *
kiln_slurmjob_plugin_path(struct arena *a, const char *plugin)
{
	const char *base = strrchr(plugin, '/');
	char *p = xasprintf(KILN_SLURM_PLUGIN_DIR "/%s", base ? base + 1 : plugin);
	const char *r = arena_strdup(a, p);

	free(p);
	return r;
}

void
kiln_slurmjob_fail(int fd, const char *prefix, int kind, const char *msg)
{
	struct kiln_status_msg m = {.type = KILN_MSG_FAIL, .kind = kind, .text = msg};

	(void)kiln_statuspipe_send(fd, prefix, &m);
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

/* Lines from a nonblocking fd, as kiln_statuspipe_read, and at its end the last one without a newline. */
static int
read_lines(int fd, struct buf *partial, void (*fn)(void *, char *), void *arg)
{
	int open_ = kiln_statuspipe_read(fd, partial, fn, arg);

	if (!open_ && partial->len) {
		fn(arg, partial->s);
		buf_reset(partial);
	}
	return open_;
}

/*
 * The remote, read-only under KILN_REMOTE_READ_ONLY as in kiln (srun passes
 * the environment on; kiln sets it for --remote-read-only too).
 */
struct kiln_remote *
kiln_slurmjob_remote(const char *url, struct kiln_cache *c)
{
	const char *ro = getenv("KILN_REMOTE_READ_ONLY");

	return url ? kiln_remote_new(url, c, ro && *ro && strcmp(ro, "0") != 0) : NULL;
}


int
kiln_slurmjob_spawn(char **argv, int to_fd, int log_on_stderr, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int pipefd[2], rc;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe:");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], to_fd);
	if (log_on_stderr)
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	/*
	 * Its own process group: a signal sent to ours reaches us first, and we
	 * decide how the child is stopped (cancelling a job before srun hears).
	 */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		errno = rc;
		return -1;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	return pipefd[0];
}

void
kiln_slurmjob_watch(pid_t pid, int rfd, const struct kiln_slurmjob_watcher *w, int *wstatus)
{
	struct buf partial = BUF_INIT;
	int sfd = signals_fd(), open_ = 1;

	for (;;) {
		struct pollfd fds[2] = {{sfd, POLLIN, 0}, {rfd, open_ ? POLLIN : 0, 0}};

		poll(fds, 2, 200);
		if (open_ && fds[1].revents)
			open_ = read_lines(rfd, &partial, w->line, w->arg);
		w->tick(w->arg, read_signals(sfd));
		if (waitpid(pid, wstatus, WNOHANG) == pid)
			break;
	}
	if (w->ended)
		w->ended(w->arg);
	/* What it wrote last; a daemon it left behind may hold the pipe, so not forever. */
	for (int i = 0; open_ && i < 20 && read_lines(rfd, &partial, w->line, w->arg) > 0; i++)
		poll(&(struct pollfd){rfd, POLLIN, 0}, 1, 50);
	buf_release(&partial);
	close(rfd);
	close(sfd);
}
