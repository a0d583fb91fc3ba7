/*
 * hostile: tries one thing a build step must not be able to do, and says
 * whether the sandbox let it.
 *
 *	hostile WHAT [ARG]
 *
 * Prints "WHAT: refused (reason)" and exits 1 when the attempt failed, or
 * "WHAT: ALLOWED" and exits 0 when it worked, so a step running it fails
 * exactly when the sandbox holds. The sandbox tests compile it with cc and
 * declare it as an input of the step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

/* Say how an attempt went; call as verdict(what, call) so errno is read after the call. */
#define verdict(what, call) verdict_((what), (int)(call))

static int
verdict_(const char *what, int r)
{
	int err = errno;

	if (r >= 0) {
		printf("%s: ALLOWED\n", what);
		return 0;
	}
	printf("%s: refused (%s)\n", what, strerror(err));
	return 1;
}

static int
try_read(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);

	if (fd >= 0 && read(fd, buf, sizeof(buf)) >= 0)
		return verdict("read", 0);
	return verdict("read", -1);
}

static int
try_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (fd >= 0 && write(fd, "harm\n", 5) == 5)
		return verdict("write", 0);
	return verdict("write", -1);
}

/* Attach to a child of our own: the friendliest ptrace there is. */
static int
try_ptrace(void)
{
	pid_t pid = fork();
	long r;
	int e;

	if (pid == 0) {
		pause();
		_exit(0);
	}
	r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
	e = errno;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	errno = e;
	return verdict("ptrace", (int)r);
}

static int
try_connect(const char *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		return verdict("connect", -1);
	return verdict("connect", connect(s, (struct sockaddr *)&sa, sizeof(sa)));
}

static int
try_resolve(const char *host)
{
	struct addrinfo *ai = NULL;
	int r = getaddrinfo(host, "80", NULL, &ai);

	if (r == 0) {
		freeaddrinfo(ai);
		return verdict("resolve", 0);
	}
	printf("resolve: refused (%s)\n", gai_strerror(r));
	return 1;
}

/* Is `pid` this process or one of its ancestors (the step's own)? */
static int
mine(int pid)
{
	int p = getpid();

	while (p > 1) {
		char path[64], buf[512], *s;
		FILE *f;

		if (p == pid)
			return 1;
		snprintf(path, sizeof(path), "/proc/%d/stat", p);
		f = fopen(path, "r");
		if (!f)
			return 0;
		s = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (!s || sscanf(s + 1, " %*c %d", &p) != 1)
			return 0;
	}
	return p == pid;
}

/* Signal every pid there could be: kiln, a sibling step, the test itself. */
static int
try_kill(const char *pid)
{
	int n = 0, i;

	if (pid)
		return verdict("kill", kill(atoi(pid), SIGTERM));
	for (i = 2; i < 100000; i++)
		if (!mine(i) && kill(i, SIGTERM) == 0)
			n++;
	printf("kill: signalled %d processes\n", n);
	errno = ESRCH;
	return verdict("kill", n > 0 ? 0 : -1);
}

static int
forkbomb(void)
{
	int n = 0;

	for (;;) {
		pid_t pid = fork();

		if (pid < 0) {
			printf("forkbomb: refused after %d processes (%s)\n", n, strerror(errno));
			return 1;
		}
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (++n > 100000)
			return verdict("forkbomb", 0);
	}
}

/* Allocate and touch MiB after MiB, up to `mib`. */
static int
eat(const char *mib)
{
	long want = atol(mib), n;

	for (n = 0; n < want; n++) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			printf("mem: refused after %ld MiB (%s)\n", n, strerror(errno));
			return 1;
		}
		memset(p, 1, 1 << 20);
	}
	return verdict("mem", 0);
}

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "", *arg = argc > 2 ? argv[2] : NULL;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(what, "read") == 0 && arg)
		return try_read(arg);
	if (strcmp(what, "write") == 0 && arg)
		return try_write(arg);
	if (strcmp(what, "ptrace") == 0)
		return try_ptrace();
	if (strcmp(what, "mount") == 0)
		return verdict("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	if (strcmp(what, "remount") == 0)
		return verdict("remount", mount(NULL, "/workspace", NULL, MS_REMOUNT | MS_BIND, NULL));
	if (strcmp(what, "unshare") == 0)
		return verdict("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNS));
	if (strcmp(what, "module") == 0)
		return verdict("module", (int)syscall(SYS_finit_module, 0, "", 0));
	if (strcmp(what, "keyctl") == 0)
		return verdict("keyctl", (int)syscall(SYS_add_key, "user", "kiln", "x", 1, -2));
	if (strcmp(what, "bpf") == 0)
		return verdict("bpf", (int)syscall(SYS_bpf, 0, NULL, 0));
	if (strcmp(what, "connect") == 0 && arg)
		return try_connect(arg);
	if (strcmp(what, "vsock") == 0)
		return verdict("vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
	if (strcmp(what, "resolve") == 0 && arg)
		return try_resolve(arg);
	if (strcmp(what, "kill") == 0)
		return try_kill(arg);
	if (strcmp(what, "forkbomb") == 0)
		return forkbomb();
	if (strcmp(what, "mem") == 0 && arg)
		return eat(arg);
	fprintf(stderr, "usage: hostile read|write PATH | ptrace | mount | remount | unshare | module | "
	    "keyctl | bpf | connect PORT | vsock | resolve HOST | kill [PID] | forkbomb | mem MIB\n");
	return 2;
}
