/*
 * stepserver: one kiln-run per build that forks the steps' kiln-runs. See
 * stepserver.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stepserver.h"
#include "util.h"

extern char **environ;

/* A step to start: kiln to the server, with the step's socket and then fds[i] for targets[i]. */
struct request {
	int n;
	int targets[KILN_STEPSERVER_MAXFD];
	char spec[4096];
};

/* The server to kiln, on the step's socket: started (pid, with a pidfd), then ended (its wait status). */
struct answer {
	int kind;
	pid_t pid;
	int status;
};
enum { STARTED = 1, ENDED };

/* Send buf with the descriptors fds (n), on sock. */
static int
send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n)
{
	char ctl[CMSG_SPACE(sizeof(int) * (KILN_STEPSERVER_MAXFD + 1))] = {0};
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (n) {
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Receive into buf (up to len) and up to max descriptors (close-on-exec) into fds; *n how many came. */
static ssize_t
recv_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *n)
{
	char ctl[CMSG_SPACE(sizeof(int) * (KILN_STEPSERVER_MAXFD + 1))];
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	ssize_t got;
	size_t k, i;

	*n = 0;
	while ((got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	for (c = got < 0 ? NULL : CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*n < max)
				fds[(*n)++] = fd;
			else
				close(fd);
		}
	}
	/* A message cut short, or one with descriptors cut off, is none. */
	if (got >= 0 && (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (i = 0; i < *n; i++)
			close(fds[i]);
		*n = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return got;
}

/* ---- kiln's side ---- */

static pid_t server = -1;
static int control = -1;
static int cannot;
static pid_t owner;

/* At kiln's end: close the server's socket and wait for it, so that it is not left to pid 1 either. */
static void
stop_server(void)
{
	int st;

	if (getpid() != owner || control < 0)
		return;
	close(control);
	control = -1;
	while (server > 0 && waitpid(server, &st, 0) < 0 && errno == EINTR)
		;
}

/* Spawn `runner --serve` (vfork and exec: no copy of kiln), in a process group of its own, away from the terminal's signals. */
static int
start_server(const char *runner)
{
	char *argv[] = {(char *)runner, "--serve", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);
	rc = posix_spawn(&server, runner, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (rc != 0) {
		close(sv[0]);
		server = -1;
		return -1;
	}
	control = sv[0];
	owner = getpid();
	atexit(stop_server);
	return 0;
}

/* The server is gone or broken: no step uses it again. */
static void
give_up(void)
{
	cannot = 1;
	if (control >= 0)
		close(control);
	control = -1;
}

int
kiln_stepserver_start(const char *runner, const char *spec, const int *fds, const int *targets, size_t n,
    pid_t *pid, int *pidfd, int *exitfd)
{
	struct request rq = {.n = (int)n};
	struct answer a;
	int sv[2], all[KILN_STEPSERVER_MAXFD + 1], got;
	size_t k;
	ssize_t len;

	if (cannot || n > KILN_STEPSERVER_MAXFD || strlen(spec) >= sizeof(rq.spec) || getenv("KILN_SANDBOX_NO_SERVER"))
		return -1;
	if (control < 0 && start_server(runner) < 0) {
		cannot = 1;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	memcpy(rq.targets, targets, n * sizeof(*targets));
	strcpy(rq.spec, spec);
	all[0] = sv[1];
	memcpy(all + 1, fds, n * sizeof(*fds));
	got = send_fds(control, &rq, offsetof(struct request, spec) + strlen(spec) + 1, all, n + 1);
	close(sv[1]);
	len = got < 0 ? -1 : recv_fds(sv[0], &a, sizeof(a), pidfd, 1, &k);
	if (len != (ssize_t)sizeof(a) || a.kind != STARTED || k != 1) {
		if (len > 0 && k == 1)
			close(*pidfd);
		close(sv[0]);
		give_up();
		return -1;
	}
	*pid = a.pid;
	*exitfd = sv[0];
	fcntl(*exitfd, F_SETFL, O_NONBLOCK);
	return 0;
}

int
kiln_stepserver_ended(int exitfd, int *wstatus)
{
	struct answer a;
	ssize_t n;

	while ((n = recv(exitfd, &a, sizeof(a), 0)) < 0 && errno == EINTR)
		;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == (ssize_t)sizeof(a) && a.kind == ENDED) {
		*wstatus = a.status;
		return 1;
	}
	/* The server died (its children with it): the step was killed. */
	*wstatus = SIGKILL;
	give_up();
	return 1;
}

void
kiln_stepserver_kill(int pidfd, int sig)
{
	(void)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* ---- the server's side, in kiln-run ---- */

/* A step's child still running: its pid and the step's socket to kiln. */
struct child {
	pid_t pid;
	int sock;
};

struct serving {
	int sock, sfd;		/* kiln's socket; our SIGCHLD signalfd */
	struct child *kids;
	size_t nkids, cap;
	pid_t self;
	int (*run)(const char *spec);
};

/*
 * In the child: descriptors fds[i] to targets[i], and none of the server's
 * left (kiln's socket, the signalfd, every other step's socket, the
 * descriptors as received). What kiln-run inherited from kiln (the
 * workspace lock) stays, as it does for a kiln-run kiln spawns.
 */
static void
place_fds(struct serving *s, const int *fds, const int *targets, int n)
{
	int high[KILN_STEPSERVER_MAXFD], i;
	size_t k;

	/* Above every target first, so that placing one never overwrites another still to place. */
	for (i = 0; i < n; i++)
		if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(2);
	for (i = 0; i < n; i++)
		close(fds[i]);
	close(s->sock);
	close(s->sfd);
	for (k = 0; k < s->nkids; k++)
		close(s->kids[k].sock);
	for (i = 0; i < n; i++)
		if (dup2(high[i], targets[i]) < 0)
			_exit(2);
	for (i = 0; i < n; i++)
		close(high[i]);
}

/* In the child: a process as kiln-run SPEC starts, then the step. */
__attribute__((noreturn)) static void
child(struct serving *s, struct request *rq, const int *fds)
{
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != s->self)
		_exit(2);
	place_fds(s, fds, rq->targets, rq->n);
	free(s->kids);
	setpgid(0, 0);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exit(s->run(rq->spec));
}

/* Take one request from kiln: fork its step and answer. 0 on EOF (kiln is done). */
static int
take(struct serving *s)
{
	struct request rq;
	struct answer a = {STARTED, 0, 0};
	int fds[KILN_STEPSERVER_MAXFD + 1], pidfd;
	size_t n, i;
	ssize_t len = recv_fds(s->sock, &rq, sizeof(rq) - 1, fds, LEN(fds), &n);
	pid_t pid;

	if (len == 0)
		return 0;
	if (len < 0 && errno != EMSGSIZE)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (len > (ssize_t)offsetof(struct request, spec) && rq.n >= 0 && rq.n <= KILN_STEPSERVER_MAXFD &&
	    n == (size_t)rq.n + 1) {
		((char *)&rq)[len] = '\0';
		pid = fork();
		if (pid == 0)
			child(s, &rq, fds + 1);
		pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
		a.pid = pid;
		if (pidfd >= 0 && send_fds(fds[0], &a, sizeof(a), &pidfd, 1) == 0) {
			s->kids = s->cap == s->nkids ? xreallocarray(s->kids, s->cap = 2 * s->cap + 4, sizeof(*s->kids))
						     : s->kids;
			s->kids[s->nkids++] = (struct child){pid, fds[0]};
			fds[0] = -1;
		} else if (pid > 0) {
			kill(pid, SIGKILL);
		}
		if (pidfd >= 0)
			close(pidfd);
	}
	/* The step's log and status pipe are the child's alone: kiln sees the pipe's end when its processes close it. */
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 1;
}

/* Reap every child that ended: a step's is answered; a sandbox's setup that kiln-run left us is only reaped. */
static void
reap(struct serving *s)
{
	struct signalfd_siginfo si;
	struct answer a = {ENDED, 0, 0};
	size_t k;
	pid_t pid;
	int st;

	while (read(s->sfd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (k = 0; k < s->nkids && s->kids[k].pid != pid; k++)
			;
		if (k == s->nkids)
			continue;
		a.pid = pid;
		a.status = st;
		(void)send(s->kids[k].sock, &a, sizeof(a), MSG_NOSIGNAL);
		close(s->kids[k].sock);
		s->kids[k] = s->kids[--s->nkids];
	}
}

int
kiln_stepserver_serve(int sock, int (*run)(const char *spec))
{
	struct serving s = {.sock = sock, .self = getpid(), .run = run};
	struct pollfd pf[2];
	sigset_t chld;
	size_t k;

	/* Orphans of the steps (setup outlives kiln-run) come to us, not to pid 1. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 1;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	s.sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.sfd < 0)
		return 1;
	fcntl(sock, F_SETFD, FD_CLOEXEC);
	for (;;) {
		pf[0] = (struct pollfd){sock, POLLIN, 0};
		pf[1] = (struct pollfd){s.sfd, POLLIN, 0};
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			reap(&s);
		if (pf[0].revents && !take(&s))
			break;
	}
	/* kiln is done (or gone): what still runs goes, and we wait for the rest (setups ending) a while. */
	for (k = 0; k < s.nkids; k++)
		kill(s.kids[k].pid, SIGKILL);
	for (k = 0; k < s.nkids; k++)
		close(s.kids[k].sock);
	free(s.kids);
	alarm(10);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	return 0;
}
