/*
 * netns: namespaces lent to sandboxed steps. See netns.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"
#include "userns.h"
#include "util.h"

/* Pairs kept between steps: more than any -j runs at once here. */
#define KEEP 64

static struct kiln_netns kept[KEEP];
static size_t nkept;
static int cannot;	/* making one failed once: the steps make their own (and say why) */

/* In the child: make the namespaces, wait for the id maps, bring lo up, then wait to be done with. */
__attribute__((noreturn)) static void
child(int sock)
{
	char c = 'u', err[256];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0 || write(sock, &c, 1) != 1 || read(sock, &c, 1) != 1)
		_exit(1);
	if (kiln_userns_loopback_up(err, sizeof(err)) < 0)
		_exit(1);
	if (write(sock, &c, 1) != 1)
		_exit(1);
	/* Until kiln has opened them: EOF. */
	while (read(sock, &c, 1) > 0)
		;
	_exit(0);
}

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

static int
make(struct kiln_netns *ns)
{
	uid_t uid;
	gid_t gid;
	char c = 'm', err[256];
	int sv[2], asroot, st, ok = 0;
	pid_t pid;

	ns->user = ns->net = -1;
	kiln_userns_host_ids(&uid, &gid, &asroot);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		child(sv[1]);
	}
	close(sv[1]);
	if (pid > 0 && read(sv[0], &c, 1) == 1 && kiln_userns_map(pid, uid, gid, err, sizeof(err)) == 0 &&
	    write(sv[0], &c, 1) == 1 && read(sv[0], &c, 1) == 1) {
		ns->user = open_ns(pid, "user");
		ns->net = open_ns(pid, "net");
		ok = ns->user >= 0 && ns->net >= 0;
	}
	close(sv[0]);
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!ok)
		kiln_netns_give(ns, 0);
	return ok ? 0 : -1;
}

int
kiln_netns_take(struct kiln_netns *ns)
{
	ns->user = ns->net = -1;
	if (nkept > 0) {
		*ns = kept[--nkept];
		return 0;
	}
	if (cannot || make(ns) < 0) {
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
	}
	ns->user = ns->net = -1;
}
