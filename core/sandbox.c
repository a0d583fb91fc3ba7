/*
 * sandbox: confine one plugin run. See sandbox.h, and docs/sandbox.md for
 * what a step sees and why.
 *
 * kiln_sandbox_enter() leaves a tree of processes:
 *
 *	caller (kiln-run)	maps ids, compiles the filter, waits, then exits
 *				or dies as the step did
 *	  [setup]		only when the caller has threads: unshares, waits
 *	    init (pid 1)	builds the root, joins the step's network
 *				namespace, reaps, answers refused calls
 *	      step (pid 2)	makes its network namespace, returns 0 and runs
 *				the plugin
 *
 * A caller without threads clone()s init straight into the namespaces. One
 * with threads (OpenBLAS starts its pool when a plugin linking it is
 * loaded) cannot: a raw clone() could leave the child a lock another thread
 * held, and unshare(CLONE_NEWUSER) refuses a threaded process; so it forks
 * setup, which unshares and forks init. The step is not pid 1 because the
 * kernel drops signals like SIGXCPU that are sent to a namespace's init, and
 * because init must outlive it to report how it ended.
 *
 * What the step sees is rootfs.c's; the calls it is refused, syscalls.c's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "cgroup.h"
#include "rootfs.h"
#include "sandbox.h"
#include "statuspipe.h"
#include "syscalls.h"
#include "userns.h"
#include "util.h"

#define WS KILN_SANDBOX_WS
#define IN_UID KILN_SANDBOX_UID
#define IN_GID KILN_SANDBOX_GID

/* Defaults when the target sets no limit. */
#define DEF_CPU (24UL * 3600)
#define DEF_FSIZE (16ULL << 30)
#define DEF_NPROC 1024UL
#define DEF_DISK (10ULL << 30)
/* Tasks in the step's cgroup that are not the step's: setup and init. */
#define OWN_TASKS 2
/* How often init measures the disk a step uses, at the most (ms). */
#define DISK_POLL_MS 250

/* What the caller works out before forking; the children only read it. */
struct plan {
	struct kiln_rootfs *root;	/* what the step sees */
	int network;
	unsigned long long mem, fsize, disk;
	unsigned long cpu, nproc;
	struct kiln_cgroup cg;	/* the caller's: the step's group, removed by the caller only */
	int whole;		/* memory is limited for the step as a whole (a cgroup), not by RLIMIT_AS */
	int whole_pids;		/* and so are processes (pids), which RLIMIT_NPROC only backs up */
	int status_fd;		/* where the caller says which limit stopped the step; 0: nowhere */
	uid_t hostuid;		/* the step's uid outside */
	gid_t hostgid;
	int asroot;		/* kiln runs as root: the step runs as NOBODY */
	pid_t caller;
	int report;		/* write end of the report pipe */
	int sync;		/* the children's end of the caller's socket */
	struct kiln_syscall_filter filter;	/* compiled by the caller, sent to the step */
	int pooled;		/* kiln lent a user and a network namespace to join (netns.h) */
	int userns_fd, netns_fd;	/* those, until setup has joined them; else -1 */
	int make_net;		/* the step makes a network namespace of its own */
	int filter_fd;		/* >0: kiln compiled the filter, to read from there */
	int mntns_fd;		/* >0: the job slot's shared root, to build the step's on (rootfs.h); else -1 */
	int hostns_fd;		/* >0 (with mntns_fd): the job slot's copy of the host's tree, for setup to join; else -1 */
	const char *slot_mem, *slot_pids;	/* where the job slot's cgroups are (kiln's), or NULL */
};

/* What init tells the caller: a setup failure, or how the step ended. */
struct report {
	int kind;
	int status;		/* wait status of the step */
	int disk_full;		/* init stopped the step at its disk limit */
	unsigned long long used;	/* then: the bytes its outputs and /tmp held */
	char msg[500];
};
enum { REPORT_ERROR = 1, REPORT_STATUS };

__attribute__((format(printf, 3, 4))) static int
seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * In a child: tell the caller why setup failed and exit. A format ending in
 * ':' gets strerror(errno) appended.
 */
__attribute__((noreturn, format(printf, 2, 3))) static void
childfail(const struct plan *p, const char *fmt, ...)
{
	struct report r = {.kind = REPORT_ERROR};
	int saved = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	n = strlen(r.msg);
	if (n > 0 && r.msg[n - 1] == ':')
		snprintf(r.msg + n, sizeof(r.msg) - n, " %s", strerror(saved));
	if (write(p->report, &r, sizeof(r)) < 0)
		_exit(126);
	_exit(127);
}

/* Why the kernel would not make the namespaces, and what the user can do. */
static const char *
ns_message(char *buf, size_t len, int e)
{
	const char *why = e == EPERM || e == EACCES ? "user namespaces are not allowed here"
		: e == ENOSPC ? "the limit on user namespaces is reached (or 0)"
		: e == EINVAL ? "this kernel lacks user, mount, pid or network namespaces"
		: "the kernel refused";

	snprintf(buf, len, "cannot create the sandbox's namespaces: %s (unshare: %s); see "
	    "/proc/sys/user/max_user_namespaces, and kernel.unprivileged_userns_clone or "
	    "kernel.apparmor_restrict_unprivileged_userns where they exist, or the container's "
	    "seccomp profile; --sandbox=off builds without the sandbox", why, strerror(e));
	return buf;
}

__attribute__((noreturn)) static void
no_namespaces(const struct plan *p, int e)
{
	char msg[sizeof(((struct report *)0)->msg)];

	childfail(p, "%s", ns_message(msg, sizeof(msg), e));
}

/*
 * A default limit, which the machine's owner may change in the environment
 * (a CI box with less room, say); a target's own resources win.
 */
static unsigned long long
envlimit(const char *name, unsigned long long def)
{
	const char *v = getenv(name);
	long long n = v && *v ? parse_size(v) : -1;

	return n > 0 ? (unsigned long long)n : def;
}

/*
 * Disk for a step that sets none: 10 GiB, but never more than half of what
 * is free where the workspace is, so that one step alone cannot fill it.
 */
static unsigned long long
default_disk(const char *workspace)
{
	struct statvfs vfs;
	unsigned long long half;

	if (!workspace || statvfs(workspace, &vfs) < 0)
		return DEF_DISK;
	half = (unsigned long long)vfs.f_bavail * vfs.f_frsize / 2;
	return half > 0 && half < DEF_DISK ? half : DEF_DISK;
}

static int
plan_make(struct plan *p, const struct kiln_sandbox *sb, char *err, size_t len)
{
	p->network = sb->network;
	kiln_userns_host_ids(&p->hostuid, &p->hostgid, &p->asroot);
	p->pooled = sb->userns_fd > 0 && sb->netns_fd > 0 && !sb->network;
	p->userns_fd = p->pooled ? sb->userns_fd : -1;
	p->netns_fd = p->pooled ? sb->netns_fd : -1;
	p->make_net = !sb->network && !p->pooled;
	p->slot_mem = p->pooled ? sb->slot_cgroup_mem : NULL;
	p->slot_pids = p->pooled ? sb->slot_cgroup_pids : NULL;
	p->filter_fd = sb->filter_fd;
	p->mem = sb->mem_bytes ? sb->mem_bytes
			       : envlimit("KILN_SANDBOX_MEM", (unsigned long long)sysconf(_SC_PHYS_PAGES) *
						  (unsigned long long)sysconf(_SC_PAGESIZE));
	p->fsize = sb->fsize_bytes ? sb->fsize_bytes : envlimit("KILN_SANDBOX_FSIZE", DEF_FSIZE);
	p->cpu = sb->cpu_seconds ? sb->cpu_seconds : (unsigned long)envlimit("KILN_SANDBOX_CPU", DEF_CPU);
	p->nproc = sb->nproc ? sb->nproc : (unsigned long)envlimit("KILN_SANDBOX_NPROC", DEF_NPROC);
	p->disk = sb->disk_bytes ? sb->disk_bytes : envlimit("KILN_SANDBOX_DISK", default_disk(sb->workspace));
	p->status_fd = sb->status_fd;
	p->caller = getpid();
	p->root = kiln_rootfs_plan(sb, p->asroot, err, len);
	if (!p->root)
		return -1;
	p->mntns_fd = p->pooled && sb->mntns_fd > 0 && kiln_rootfs_share(p->root) ? sb->mntns_fd : -1;
	/* Only a step built on the shared root mounts nothing where setup opens its paths. */
	p->hostns_fd = p->mntns_fd > 0 && sb->hostns_fd > 0 ? sb->hostns_fd : -1;
	return 0;
}

/*
 * In setup and init, once they have forked the next process: close the
 * step's status pipe, which only the step writes to. kiln reads it to its
 * end, and neither should hold that end back while the kernel tears down
 * its namespaces after the step is over.
 */
static void
drop_status(const struct plan *p)
{
	if (p->status_fd > 0)
		close(p->status_fd);
}

/* Free the plan and its root's (in the caller, remove the step's cgroup); the processes that need none of it. */
static void
plan_free(struct plan *p)
{
	kiln_cgroup_remove(&p->cg);
	kiln_rootfs_free(p->root);
	free(p);
}

/* ---- the step: last steps before the plugin runs ---- */

static void
setlimit(const struct plan *p, int res, rlim_t soft, rlim_t hard, const char *what)
{
	struct rlimit rl = {soft, hard};

	if (setrlimit(res, &rl) < 0)
		childfail(p, "cannot limit %s:", what);
}

/* Address space in use now, from /proc/self/statm; 0 if unknown. */
static unsigned long long
vmsize(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/*
 * The memory limit is address space the step may add to what kiln-run holds
 * already: an ASan-built kiln-run reserves terabytes before main(), and an
 * absolute limit would leave it none.
 */
static void
limits(const struct plan *p)
{
	unsigned long long as = vmsize() + p->mem;

	/* A cgroup limits resident memory, which is what runs out; RLIMIT_AS only stands in for it. */
	if (!p->whole)
		setlimit(p, RLIMIT_AS, as, as, "memory");
	/* The soft limit sends SIGXCPU, which a step may catch; the hard one kills. */
	setlimit(p, RLIMIT_CPU, p->cpu, p->cpu + 2, "CPU time");
	setlimit(p, RLIMIT_FSIZE, p->fsize, p->fsize, "file size");
	/* Above the cgroup's, which counts exactly and says how many forks it refused. */
	setlimit(p, RLIMIT_NPROC, p->nproc + (p->whole_pids ? 2 * OWN_TASKS : 0),
	    p->nproc + (p->whole_pids ? 2 * OWN_TASKS : 0), "processes");
	setlimit(p, RLIMIT_CORE, 0, 0, "core dumps");
}

static void
drop_privileges(const struct plan *p)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0}};

	if (setresgid(IN_GID, IN_GID, IN_GID) < 0 || setresuid(IN_UID, IN_UID, IN_UID) < 0)
		childfail(p, "cannot become the sandbox's user:");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		childfail(p, "cannot set no_new_privs:");
	/*
	 * Capabilities in the user namespace would let the plugin remount its
	 * inputs writable; without them, and with no_new_privs and a uid that is
	 * not 0 inside, no exec can win them back.
	 */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) < 0)
		childfail(p, "cannot drop capabilities:");
}

/*
 * Close what the step must not inherit: a descriptor for a host folder or a
 * socket reaches around the namespaces, and one kiln itself inherited leads
 * who knows where. 0, 1 and 2 stay, and so do close-on-exec pipes: kiln's
 * status pipe, which kiln-run keeps from the programs a plugin runs.
 */
static void
close_inherited(const struct plan *p, int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct stat st;

	if (!d)
		childfail(p, "cannot list open files:");
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd < 3 || fd == dirfd(d) || fd == keep)
			continue;
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && (fcntl(fd, F_GETFD) & FD_CLOEXEC))
			continue;
		close(fd);
	}
	closedir(d);
}

/* LeakSanitizer checks at exit by ptrace, which the filter refuses: check now. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

/*
 * In the step (pid 2): its network namespace, made while init builds the
 * root, then, once init says the root is ready, the last confinement before
 * returning to the plugin.
 */
static void
run_step(struct plan *p, int sock)
{
	char c, msg[sizeof(((struct report *)0)->msg)];

	if (p->make_net && unshare(CLONE_NEWNET) < 0)
		no_namespaces(p, errno);
	if (p->make_net) {
		if (kiln_userns_loopback_up(msg, sizeof(msg)) < 0)
			childfail(p, "%s", msg);
		/* Init joins it: see join_net. */
		if (send(sock, "n", 1, MSG_NOSIGNAL) != 1)
			_exit(1);
	}
	if (recv(sock, &c, 1, 0) != 1)
		_exit(1);
	/* The caller compiled the filter meanwhile. */
	if (recv(p->sync, &p->filter, sizeof(p->filter), 0) <= 0)
		childfail(p, "kiln-run sent no seccomp filter");
	close(p->sync);
	/* pivot_root moved our root along with init's; the working folder is ours to set. */
	if (chdir(WS) < 0)
		childfail(p, "chdir " WS ":");
	/* A new session has no terminal, so no TIOCSTI into the user's shell. */
	setsid();
	kiln_rootfs_close(p->root);
	drop_privileges(p);
	limits(p);
	close_inherited(p, sock);
	if (__lsan_do_leak_check)
		__lsan_do_leak_check();
	if (kiln_syscalls_install(&p->filter, sock, msg, sizeof(msg)) < 0)
		childfail(p, "%s", msg);
	close(sock);
	/* Last: a plugin holding it could forge its own exit status. */
	close(p->report);
}

/* ---- init: waiting, answering, reporting ---- */

/* Tasks (threads included) alive in the namespace, as RLIMIT_NPROC counts them. */
static unsigned long
tasks_alive(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned long n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[1024], *s;
		unsigned long threads;
		ssize_t len;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* num_threads is the 18th field after the ')' that ends the name. */
		s = strrchr(buf, ')');
		if (s && sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %lu",
		    &threads) == 1)
			n += threads;
	}
	if (d)
		closedir(d);
	return n;
}

static const char *
size_text(char *buf, size_t len, unsigned long long n)
{
	if (n >= 1ULL << 30 && n % (1ULL << 30) == 0)
		snprintf(buf, len, "%llu GiB", n >> 30);
	else if (n >= 1ULL << 20)
		snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
	else
		snprintf(buf, len, "%llu bytes", n);
	return buf;
}

/*
 * Say which limit stopped a failed step, where that can be known: the
 * signal the kernel sent, a file that reached the size limit, processes
 * still crowding the namespace, or a peak near the memory limit (an
 * allocation past RLIMIT_AS just fails, so the program's own message
 * comes first).
 */
static void
explain_end(const struct plan *p, int status, const struct rusage *ru)
{
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	double cpu = (double)ru->ru_utime.tv_sec + (double)ru->ru_stime.tv_sec +
		     (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
	unsigned long long peak = (unsigned long long)ru->ru_maxrss * 1024, used, largest;
	char a[32], b[32];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	/*
	 * The step may have run the command that got SIGXCPU and exited 1
	 * itself. rusage undercounts against the scheduler's clock the limit
	 * uses (by a quarter in a VM here), so half the limit counts.
	 */
	if (sig == SIGXCPU || cpu * 2 >= (double)p->cpu)
		fprintf(stderr, "kiln: sandbox: the step reached its CPU time limit (%lu s)\n", p->cpu);
	kiln_rootfs_usage(p->root, &used, &largest, NULL);
	if (sig == SIGXFSZ || largest >= p->fsize)
		fprintf(stderr, "kiln: sandbox: the step reached its file size limit (%s)\n",
		    size_text(a, sizeof(a), p->fsize));
	/*
	 * The kernel counts no refused forks, so judge by what is left: a step
	 * that ended with most of its process quota still alive ran into it.
	 */
	if (!p->whole_pids && tasks_alive() * 4 >= p->nproc * 3)
		fprintf(stderr, "kiln: sandbox: the step reached its process limit (%lu)\n", p->nproc);
	/* With a cgroup, the caller reports the peak of all the step's processes. */
	if (!p->whole && peak >= p->mem / 2)
		fprintf(stderr, "kiln: sandbox: the step used %s of its memory limit (%s)\n",
		    size_text(a, sizeof(a), peak), size_text(b, sizeof(b), p->mem));
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Measure what the step's outputs and /tmp hold; past the disk limit, stop
 * everything in the namespace and note it in r. Returns how long to wait
 * before the next measure: DISK_POLL_MS, or ten times what this one took,
 * so a huge output tree does not keep init measuring all the time.
 */
static int
watch_disk(const struct plan *p, struct report *r)
{
	long long start = now_ms(), took;
	unsigned long long largest, tmp_free = 0;

	if (r->disk_full)
		return -1;
	kiln_rootfs_usage(p->root, &r->used, &largest, &tmp_free);
	/*
	 * /tmp, as large as the disk limit when that is the smaller, can refuse
	 * a write (ENOSPC) a few pages short of full: that is the limit too.
	 */
	if (r->used >= p->disk || (p->disk <= p->mem && tmp_free < p->disk / 64)) {
		r->disk_full = 1;
		kill(-1, SIGKILL);
		return -1;
	}
	took = now_ms() - start;
	return took * 10 > DISK_POLL_MS ? (int)(took * 10) : DISK_POLL_MS;
}

/*
 * Wait for the step, reaping whatever else ends (init inherits orphans),
 * answering refused calls and watching the disk it uses, then report how
 * the step ended. When init exits the kernel kills everything left in the
 * namespace.
 */
static void
serve(const struct plan *p, pid_t step, int sfd, struct kiln_syscall_listener *l)
{
	struct report r = {.kind = REPORT_STATUS};
	struct pollfd fds[2] = {{sfd, POLLIN, 0}, {l->fd, POLLIN, 0}};
	struct rusage ru, stepru = {0};
	int done = 0, st, wait = DISK_POLL_MS;
	long long next = now_ms() + wait;
	pid_t pid;

	while (!done) {
		struct signalfd_siginfo si;

		if (poll(fds, 2, wait < 0 ? -1 : (int)(next > now_ms() ? next - now_ms() : 0)) < 0 && errno != EINTR)
			break;
		if (wait >= 0 && now_ms() >= next) {
			wait = watch_disk(p, &r);
			next = now_ms() + wait;
		}
		if (fds[1].revents & POLLIN)
			kiln_syscalls_answer(l);
		else if (fds[1].revents)
			fds[1].fd = -1;
		if (!(fds[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
			break;
		while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0)
			if (pid == step) {
				r.status = st;
				stepru = ru;
				done = 1;
			}
	}
	kiln_syscalls_listener_release(l);
	if (!done)
		childfail(p, "init lost sight of the step:");
	/* What it wrote between the last measure and its end counts too. */
	watch_disk(p, &r);
	if (!r.disk_full)
		explain_end(p, r.status, &stepru);
	/* What the step left running dies now, so the caller need not wait for our exit. */
	kill(-1, SIGKILL);
	while (wait4(-1, NULL, 0, NULL) > 0 || errno == EINTR)
		;
	if (write(p->report, &r, sizeof(r)) < 0)
		_exit(126);
	_exit(0);
}

/*
 * In init, once the root is built: move into the step's network namespace.
 * Left in the host's, init would show the step every host socket, route and
 * interface through /proc/1/net. Joining costs little; making a namespace of
 * its own would cost what the step's did.
 */
static void
join_net(const struct plan *p, pid_t step, int sock)
{
	char path[64], c;
	int fd;

	if (!p->make_net)
		return;
	if (recv(sock, &c, 1, 0) != 1)
		childfail(p, "the step is gone before making its network namespace");
	/* The new /proc, in which the step has its pid as init sees it. */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)step);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		childfail(p, "cannot join the step's network namespace:");
	close(fd);
}

/* /tmp is memory: it gets the smaller of the two limits. */
static unsigned long long
tmp_limit(const struct plan *p)
{
	return p->mem < p->disk ? p->mem : p->disk;
}

/*
 * Init (pid 1 of the new namespaces). It forks the step first, so the
 * kernel makes the step's network namespace (the costliest part) on one
 * CPU while init builds the root on the other. Returns only in the step.
 */
static void
run_init(struct plan *p, int life)
{
	struct pollfd pf = {life, POLLIN, 0};
	struct kiln_syscall_listener l;
	char msg[sizeof(((struct report *)0)->msg)];
	sigset_t chld, old;
	int sv[2], sfd;
	pid_t step;

	/* If our parent dies, so does init, and with it the namespace. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (life >= 0 && poll(&pf, 1, 0) != 0)
		_exit(1);
	if (life >= 0)
		close(life);
	if (sethostname("kiln", 4) < 0)
		childfail(p, "sethostname:");
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		childfail(p, "cannot set up init:");
	/*
	 * On the job slot's shared root there is little to build and nothing
	 * to make beside it (the network namespace is lent): the step is born
	 * in the root, as it must be, for it could not join it later.
	 */
	if (p->mntns_fd > 0) {
		if (kiln_rootfs_join(p->root, p->mntns_fd, tmp_limit(p), msg, sizeof(msg)) < 0)
			childfail(p, "%s", msg);
		close(p->mntns_fd);
	}
	step = fork();
	if (step < 0)
		childfail(p, "fork:");
	if (step == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sv[0]);
		close(sfd);
		run_step(p, sv[1]);
		return;
	}
	close(sv[1]);
	close(p->sync);
	drop_status(p);
	if (p->mntns_fd < 0 && kiln_rootfs_build(p->root, tmp_limit(p), msg, sizeof(msg)) < 0)
		childfail(p, "%s", msg);
	kiln_rootfs_close(p->root);
	join_net(p, step, sv[0]);
	/* The root is ready: the step may go on. */
	if (send(sv[0], "r", 1, MSG_NOSIGNAL) != 1)
		childfail(p, "the step is gone:");
	kiln_syscalls_listen(&l, sv[0]);
	close(sv[0]);
	serve(p, step, sfd, &l);
}

/* The network namespace is made by the step itself: see run_init. */
static int
ns_flags(void)
{
	return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
}

/*
 * Once the id maps are written: open what will be mounted (a bind mount's
 * source must belong to the mount namespace it is mounted in), then become
 * the step's user, since only mapped ids may make files in the new root.
 * For root that moves us to NOBODY outside, so the opening comes first.
 */
static void
become(struct plan *p)
{
	char msg[sizeof(((struct report *)0)->msg)];

	if (kiln_rootfs_open(p->root, msg, sizeof(msg)) < 0)
		childfail(p, "%s", msg);
	if (setresgid(IN_GID, IN_GID, IN_GID) < 0 || setresuid(IN_UID, IN_UID, IN_UID) < 0)
		childfail(p, "cannot become the sandbox's user:");
	/* Changing ids cleared it; without it /proc/self is root's. */
	prctl(PR_SET_DUMPABLE, 1);
}


/*
 * The first child, still one thread and still the caller's user: into the
 * step's cgroup, so that init and the step are born in it. The group
 * stays the caller's to remove.
 */
static void
enter_cgroup(struct plan *p)
{
	char msg[sizeof(((struct report *)0)->msg)];

	if (p->whole && kiln_cgroup_enter(&p->cg, msg, sizeof(msg)) < 0)
		childfail(p, "%s", msg);
	p->cg.kind = KILN_CGROUP_NONE;
}

/*
 * Does the network namespace we are in hold TCP sockets, an earlier step's
 * on their way out (TIME_WAIT, FIN_WAIT)? Those are the only state a step
 * can leave in one: its other sockets close with its processes, and it has
 * no capability over the namespace to change anything else. sockstat
 * counts them for this namespace alone (/proc/net/tcp would walk the whole
 * machine's table: milliseconds).
 */
static int
net_in_use(void)
{
	static const char *const tables[][2] = {
		{"/proc/self/net/sockstat", "TCP: inuse %d orphan %*d tw %d"},
		{"/proc/self/net/sockstat6", "TCP6: inuse %d"},
	};
	char buf[1024], *line;
	size_t i;

	for (i = 0; i < LEN(tables); i++) {
		int fd = open(tables[i][0], O_RDONLY | O_CLOEXEC), inuse = 0, tw = 0;
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		/* No IPv6 here: nothing in use there. */
		if (n < 0 && i > 0)
			continue;
		buf[n > 0 ? n : 0] = '\0';
		line = strstr(buf, i == 0 ? "\nTCP: " : "TCP6: ");
		if (!line || sscanf(line + (i == 0), tables[i][1], &inuse, &tw) < 1 || inuse > 0 || tw > 0)
			return 1;
	}
	return 0;
}

/*
 * In setup, for a pooled sandbox: join the user and network namespaces kiln
 * made for this job slot (with the loopback up and the step's ids mapped),
 * and make the rest. The namespaces are reused step after step, never by two
 * at once. One that still shows an earlier step's connections is left
 * alone: the step makes a network namespace of its own, as without a pool.
 */
static void
join_pool(struct plan *p)
{
	int flags = ns_flags() & ~CLONE_NEWUSER;

	if (setns(p->userns_fd, CLONE_NEWUSER) < 0)
		childfail(p, "cannot join the user namespace kiln made:");
	if (setns(p->netns_fd, CLONE_NEWNET) < 0)
		childfail(p, "cannot join the network namespace kiln made:");
	close(p->userns_fd);
	close(p->netns_fd);
	p->userns_fd = p->netns_fd = -1;
	p->make_net = net_in_use();
	/*
	 * On the shared root, setup and init only open and clone the step's
	 * paths here, mounting nothing: the slot's kept copy of the host's
	 * tree serves every step, and none pays for a copy (and its teardown).
	 */
	if (p->hostns_fd > 0) {
		if (setns(p->hostns_fd, CLONE_NEWNS) < 0)
			childfail(p, "cannot join the job slot's copy of the host's tree:");
		close(p->hostns_fd);
		p->hostns_fd = -1;
		flags &= ~CLONE_NEWNS;
	}
	if (unshare(flags) < 0)
		no_namespaces(p, errno);
}

/*
 * Setup: the first child. Makes the namespaces and waits for init. Returns
 * only in the step.
 */
static void
run_setup(struct plan *p, int sync)
{
	char c = 'u';
	int life[2], st;
	pid_t init;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != p->caller)
		_exit(1);
	enter_cgroup(p);
	/* Root's other groups would still open group-readable files; drop them. */
	if (p->asroot && setgroups(0, NULL) < 0)
		childfail(p, "setgroups:");
	if (p->pooled) {
		join_pool(p);
	} else {
		if (unshare(ns_flags()) < 0)
			no_namespaces(p, errno);
		/* The caller writes our id maps; wait for it. */
		if (write(sync, &c, 1) != 1 || recv(sync, &c, 1, 0) != 1)
			_exit(1);
	}
	p->sync = sync;
	become(p);
	/* A change of user clears the parent-death signal (as root, become() makes us NOBODY): set it again. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != p->caller)
		_exit(1);
	if (pipe2(life, O_CLOEXEC) < 0)
		childfail(p, "pipe:");
	init = fork();
	if (init < 0)
		childfail(p, "fork:");
	if (init == 0) {
		close(life[1]);
		run_init(p, life[0]);
		return;
	}
	close(life[0]);
	close(p->report);
	close(p->sync);
	drop_status(p);
	kiln_rootfs_close(p->root);
	if (p->mntns_fd > 0)
		close(p->mntns_fd);
	while (waitpid(init, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 125);
}

/*
 * Init made directly by the caller's clone(), already in the namespaces.
 * The caller has no other threads, so nothing it holds can be left locked
 * here. Returns only in the step.
 */
static void
run_direct(struct plan *p, int sync)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	enter_cgroup(p);
	/* The caller writes our id maps; if it died, we see EOF. */
	if (recv(sync, &c, 1, 0) != 1)
		_exit(1);
	p->sync = sync;
	become(p);
	run_init(p, -1);
}

/* Has this process one thread? (A task folder links "." and ".." besides.) */
static int
single_threaded(void)
{
	struct stat st;

	return stat("/proc/self/task", &st) == 0 && st.st_nlink == 3;
}

/* End the caller as the step ended: the same exit code, or the same signal. */
__attribute__((noreturn)) static void
end_like(int status)
{
	struct rlimit nocore = {0, 0};
	sigset_t set;
	int sig;

	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	/* No core file from kiln-run: the step's crash is not kiln-run's. */
	setrlimit(RLIMIT_CORE, &nocore);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	exit(128 + sig);
}

/* The filter kiln compiled, or one compiled now. */
static int
get_filter(struct plan *p, char *err, size_t len)
{
	if (p->filter_fd > 0)
		return kiln_syscalls_from_fd(&p->filter, p->filter_fd, err, len);
	return kiln_syscalls_compile(&p->filter, err, len);
}

/*
 * The caller's part of setting up: once setup has unshared (init made
 * directly has), write the id maps, let the children go on, and compile and
 * send the filter while they build the sandbox. On failure, kill the child,
 * and with it the namespaces, and say why in `why` unless the child has
 * already reported it.
 */
static void
handshake(struct plan *p, pid_t setup, int sync, int direct, char *why, size_t len)
{
	char c = 'm';
	size_t n;

	if (!p->pooled && !direct && read(sync, &c, 1) != 1)
		return;	/* setup failed; its report says why */
	if ((!p->pooled && (kiln_userns_map(setup, p->hostuid, p->hostgid, why, len) < 0 ||
	    send(sync, &c, 1, MSG_NOSIGNAL) != 1)) || get_filter(p, why, len) < 0) {
		kill(setup, SIGKILL);
		return;
	}
	n = offsetof(struct kiln_syscall_filter, prog) + (size_t)p->filter.n * sizeof(struct sock_filter);
	if (send(sync, &p->filter, n, MSG_NOSIGNAL) < 0)
		why[0] = '\0';	/* the step is gone; the report says why */
}

/* A limit as a Kilnfile would write it ("200M"), for messages that name the user's own setting. */
static const char *
limit_text(char *buf, size_t len, unsigned long long n)
{
	static const char units[] = "MGT";
	int u = 0;

	/* A limit no one wrote, such as the machine's memory, reads better as size_text's. */
	if (n == 0 || n % (1 << 20) != 0)
		return size_text(buf, len, n);
	n >>= 20;
	while (u < 2 && n % 1024 == 0) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu%c", n, units[u]);
	return buf;
}

/*
 * In the caller, once the step ended: its memory peak to the log, then,
 * when the kernel killed one of its processes at the cgroup's memory limit
 * or init stopped it at the disk limit (disk_used bytes, 0 if not), say so
 * in the log and on the status pipe and exit 1, whatever the step's own
 * status: a step that lost a process to a limit did not build. Removes the
 * cgroup.
 */
static void
end_of_limits(struct plan *p, unsigned long long disk_used)
{
	unsigned long ooms = kiln_cgroup_oom_kills(&p->cg), forks = kiln_cgroup_forks_refused(&p->cg);
	char a[32], b[32], msg[300] = "";

	if (p->whole && p->status_fd > 0)
		fprintf(stderr, "kiln: sandbox: memory peak %s of %s, all the step's processes together (%s)\n",
		    size_text(a, sizeof(a), kiln_cgroup_peak(&p->cg)), size_text(b, sizeof(b), p->mem),
		    kiln_cgroup_describe(&p->cg));
	if (forks > 0)
		fprintf(stderr, "kiln: sandbox: the step reached its process limit (%lu): the kernel refused %lu "
		    "fork%s (%s)\n", p->nproc, forks, forks == 1 ? "" : "s", kiln_cgroup_describe(&p->cg));
	kiln_cgroup_remove(&p->cg);
	if (ooms > 0)
		snprintf(msg, sizeof(msg), "memory limit %s reached by the step's processes together: the kernel "
		    "killed %lu of them", limit_text(a, sizeof(a), p->mem), ooms);
	else if (disk_used > 0)
		snprintf(msg, sizeof(msg), "disk limit %s reached: its output folder and /tmp held %s when it "
		    "was stopped", limit_text(a, sizeof(a), p->disk), size_text(b, sizeof(b), disk_used));
	if (!msg[0])
		return;
	fprintf(stderr, "kiln: sandbox: %s\n", msg);
	if (p->status_fd > 0)
		(void)kiln_statuspipe_send(p->status_fd, NULL,
		    &(struct kiln_status_msg){.type = KILN_MSG_FAIL, .kind = KILN_FAIL_LIMIT, .text = msg});
	plan_free(p);
	exit(1);
}

/*
 * The caller: set up, wait for init's report, then end as the step did.
 * Returns only when the sandbox could not be made.
 */
static int
supervise(struct plan *p, pid_t setup, int rfd, int sync, int direct, char *err, size_t len)
{
	struct report r = {0};
	char why[sizeof(r.msg)] = "";
	unsigned long long disk = 0;
	ssize_t n;
	int st = 0;

	handshake(p, setup, sync, direct, why, sizeof(why));
	close(sync);
	while ((n = read(rfd, &r, sizeof(r))) < 0 && errno == EINTR)
		;
	close(rfd);
	/*
	 * With a report, init has killed and reaped everything in the
	 * namespace: no need to wait while the kernel tears the namespaces down.
	 */
	while (waitpid(setup, &st, n == (ssize_t)sizeof(r) ? WNOHANG : 0) < 0 && errno == EINTR)
		;
	kiln_rootfs_give_back(p->root);
	if (n == (ssize_t)sizeof(r) && r.kind == REPORT_STATUS)
		disk = r.disk_full ? r.used : 0;
	end_of_limits(p, disk);
	if (n == (ssize_t)sizeof(r) && r.kind == REPORT_ERROR)
		n = seterr(err, len, "%s", r.msg);
	else if (why[0])
		n = seterr(err, len, "%s", why);
	else if (n != (ssize_t)sizeof(r) || r.kind != REPORT_STATUS)
		n = seterr(err, len, "the sandbox ended before the step did (setup: %s %d)",
		    WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	plan_free(p);
	if (n < 0)
		return -1;
	end_like(r.status);
}

/*
 * A caller without threads clones init straight into the namespaces, which
 * saves the setup process. glibc's fork() cannot take namespace flags, and
 * its atfork handlers only matter with threads.
 */
static int
enter_direct(struct plan *p, int rep[2], int sync[2], char *err, size_t len)
{
	long pid;

	/* Root's other groups would still open group-readable files; drop them. */
	if (p->asroot && setgroups(0, NULL) < 0) {
		close(rep[0]);
		close(rep[1]);
		close(sync[0]);
		close(sync[1]);
		plan_free(p);
		return seterr(err, len, "setgroups: %s", strerror(errno));
	}
	pid = syscall(SYS_clone, ns_flags() | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(rep[0]);
		close(sync[0]);
		p->report = rep[1];
		run_direct(p, sync[1]);
		plan_free(p);
		return 0;
	}
	close(rep[1]);
	close(sync[1]);
	if (pid < 0) {
		int e = errno;

		close(rep[0]);
		close(sync[0]);
		plan_free(p);
		ns_message(err, len, e);
		return -1;
	}
	return supervise(p, (pid_t)pid, rep[0], sync[0], 1, err, len);
}

/*
 * Make the step's cgroup (or take its job slot's), in the caller, before
 * any of its processes exists; and say in a build step's log what limits the step, with a
 * warning when no cgroup could be had.
 */
static void
limit_whole(struct plan *p)
{
	char a[32], b[32];

	struct stat st;

	/* A job slot (the user namespace kiln lent it) keeps its groups: none is made or removed per step. */
	if (p->slot_mem && fstat(p->userns_fd, &st) == 0)
		p->whole = kiln_cgroup_take(&p->cg, p->mem, p->nproc + OWN_TASKS, (unsigned long long)st.st_ino,
		    p->slot_mem, p->slot_pids) != KILN_CGROUP_NONE;
	else
		p->whole = kiln_cgroup_make(&p->cg, p->mem, p->nproc + OWN_TASKS) != KILN_CGROUP_NONE;
	p->whole_pids = kiln_cgroup_has_pids(&p->cg);
	if (p->status_fd <= 0)
		return;
	if (p->whole)
		fprintf(stderr, "kiln: sandbox: limits: memory %s and %lu processes for all the step's processes "
		    "together (%s); disk %s for its outputs and /tmp\n", limit_text(a, sizeof(a), p->mem), p->nproc,
		    kiln_cgroup_describe(&p->cg), limit_text(b, sizeof(b), p->disk));
	else
		fprintf(stderr, "kiln: sandbox: limits: warning: memory %s for each process (RLIMIT_AS), not for "
		    "the step as a whole: a step that forks may use that much in each process, since no cgroup "
		    "could be made (%s); disk %s for its outputs and /tmp\n", limit_text(a, sizeof(a), p->mem),
		    p->cg.why, limit_text(b, sizeof(b), p->disk));
}

int
kiln_sandbox_enter(const struct kiln_sandbox *sb, char *err, size_t errlen)
{
	struct plan *p = calloc(1, sizeof(*p));
	int rep[2], sync[2];
	pid_t setup;

	if (!p)
		return seterr(err, errlen, "out of memory");
	if (plan_make(p, sb, err, errlen) < 0) {
		plan_free(p);
		return -1;
	}
	limit_whole(p);
	if (pipe2(rep, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
		plan_free(p);
		return seterr(err, errlen, "pipe: %s", strerror(errno));
	}
	/* Buffered output would be written twice, once by each process. */
	fflush(NULL);
	/* Joining namespaces kiln lent takes a child of the caller, which must stay outside them. */
	if (single_threaded() && !p->pooled)
		return enter_direct(p, rep, sync, err, errlen);
	setup = fork();
	if (setup < 0) {
		close(rep[0]);
		close(rep[1]);
		close(sync[0]);
		close(sync[1]);
		plan_free(p);
		return seterr(err, errlen, "fork: %s", strerror(errno));
	}
	if (setup == 0) {
		close(rep[0]);
		close(sync[0]);
		p->report = rep[1];
		run_setup(p, sync[1]);
		plan_free(p);
		return 0;
	}
	close(rep[1]);
	close(sync[1]);
	return supervise(p, setup, rep[0], sync[0], 0, err, errlen);
}
