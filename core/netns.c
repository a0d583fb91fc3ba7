/*
 * netns: namespaces lent to sandboxed steps. See netns.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/nsfs.h>

#include "cgroup.h"
#include "netns.h"
#include "userns.h"
#include "util.h"

extern char **environ;

/* Pairs kept between steps: more than any -j runs at once here. */
#define KEEP 64

static struct kiln_netns kept[KEEP];
static size_t nkept;
static int cannot;
static size_t expect = 1;	/* steps that will run at once: pairs made together */	/* making one failed once: the steps make their own (and say why) */

static int
open_ns(pid_t pid, const char *which)
{
	char path[64];
	int fd, high;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, which);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Above the descriptors a step is started with (job.c dups them to 0-5), so none is overwritten first. */
	high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return high;
}

/* Is namespace ns owned by user namespace user? (A shared root must be the slot's own.) */
static int
owned_by(int ns, int user)
{
	int owner = ioctl(ns, NS_GET_USERNS);
	struct stat a, b;
	int same = owner >= 0 && fstat(owner, &a) == 0 && fstat(user, &b) == 0 && a.st_dev == b.st_dev &&
		   a.st_ino == b.st_ino;

	if (owner >= 0)
		close(owner);
	return same;
}

/*
 * kiln-run --netns makes the namespaces: spawned (vfork and exec), it costs
 * kiln no copy of its memory, which for a large kiln (ASan's) took longer
 * than the steps it waited to start.
 */
static pid_t
spawn(const char *runner, int sock)
{
	char *argv[] = {(char *)runner, "--netns", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sock, 3);
	rc = posix_spawn(&pid, runner, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

/* One being made: its helper and our end of the socket to it. */
struct making {
	pid_t pid;
	int sock;
};

static void
start_one(struct making *m, const char *runner)
{
	int sv[2];

	m->pid = -1;
	m->sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	m->pid = spawn(runner, sv[1]);
	close(sv[1]);
	m->sock = sv[0];
}

/* Map the helper's ids, wait for its loopback, open its namespaces; *ns is -1s when that failed. */
static int
finish_one(struct making *m, struct kiln_netns *ns)
{
	uid_t uid;
	gid_t gid;
	char c = 'm', err[256], msg[32];
	int asroot, st, ok = 0, holder;
	ssize_t n;

	ns->user = ns->net = ns->mnt = ns->host = -1;
	kiln_userns_host_ids(&uid, &gid, &asroot);
	if (m->pid > 0 && read(m->sock, &c, 1) == 1 && kiln_userns_map(m->pid, uid, gid, err, sizeof(err)) == 0 &&
	    write(m->sock, &c, 1) == 1 && (n = read(m->sock, msg, sizeof(msg) - 1)) > 0) {
		msg[n] = '\0';
		ns->user = open_ns(m->pid, "user");
		ns->net = open_ns(m->pid, "net");
		/* "R<pid>": the helper's child holds the shared root, until the helper has seen our end. */
		if (msg[0] == 'R' && sscanf(msg + 1, "%d", &holder) == 1 && holder > 0)
			ns->mnt = open_ns((pid_t)holder, "mnt");
		/* " H": the helper's own mount namespace is its copy of the host's tree. */
		if (ns->mnt >= 0 && strstr(msg, " H"))
			ns->host = open_ns(m->pid, "mnt");
		ok = ns->user >= 0 && ns->net >= 0;
		if (ns->mnt >= 0 && (!ok || !owned_by(ns->mnt, ns->user))) {
			close(ns->mnt);
			ns->mnt = -1;
		}
		if (ns->host >= 0 && (ns->mnt < 0 || !owned_by(ns->host, ns->user))) {
			close(ns->host);
			ns->host = -1;
		}
	}
	if (m->sock >= 0)
		close(m->sock);
	while (m->pid > 0 && waitpid(m->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!ok)
		kiln_netns_give(ns, 0);
	return ok ? 0 : -1;
}

/*
 * Make `n` pairs at once, each helper starting while the others do (a
 * helper is a process start, which the steps waiting for them would
 * otherwise pay one after another): the first in *ns, the rest kept.
 */
static int
make(struct kiln_netns *ns, const char *runner, size_t n)
{
	struct making m[KEEP];
	struct kiln_netns more;
	size_t i;
	int r;

	n = n < 1 ? 1 : n > KEEP - nkept ? KEEP - nkept : n;
	for (i = 0; i < n; i++)
		start_one(&m[i], runner);
	r = finish_one(&m[0], ns);
	for (i = 1; i < n; i++)
		if (finish_one(&m[i], &more) == 0)
			kept[nkept++] = more;
	return r;
}

static pid_t owner;
static char slot_mem[600], slot_pids[600];
static int slot_groups;	/* slot_mem and slot_pids are where the job slots' cgroups go */

/* At kiln's end (not a child's that calls exit): the job slots' cgroups, which kiln-run keeps per slot. */
static void
remove_slot_groups(void)
{
	if (getpid() == owner)
		kiln_cgroup_remove_slots();
}

const char *
kiln_netns_cgroup(int pids)
{
	return !slot_groups ? NULL : pids ? slot_pids : slot_mem;
}

void
kiln_netns_expect(size_t n)
{
	expect = n;
}

int
kiln_netns_take(struct kiln_netns *ns, const char *runner)
{
	ns->user = ns->net = ns->mnt = ns->host = -1;
	if (nkept > 0) {
		*ns = kept[--nkept];
		return 0;
	}
	if (!owner) {
		owner = getpid();
		slot_groups = kiln_cgroup_slot_home(slot_mem, sizeof(slot_mem), slot_pids, sizeof(slot_pids)) == 0;
		if (slot_groups)
			atexit(remove_slot_groups);
	}
	if (cannot || make(ns, runner, expect) < 0) {
		cannot = 1;
		return -1;
	}
	return 0;
}

void
kiln_netns_give(struct kiln_netns *ns, int reusable)
{
	if (ns->user >= 0 && ns->net >= 0 && reusable && nkept < KEEP) {
		kept[nkept++] = *ns;
	} else {
		if (ns->user >= 0)
			close(ns->user);
		if (ns->net >= 0)
			close(ns->net);
		if (ns->mnt >= 0)
			close(ns->mnt);
		if (ns->host >= 0)
			close(ns->host);
	}
	ns->user = ns->net = ns->mnt = ns->host = -1;
}
