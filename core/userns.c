/*
 * userns: id maps and the loopback of the sandbox's namespaces. See userns.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/nsfs.h>
#include <unistd.h>

#include "sandbox.h"
#include "userns.h"
#include "util.h"

/*
 * Root of the machine, not root of a user namespace: only that root may map
 * NOBODY, and only it escapes RLIMIT_NPROC.
 */
static int
init_userns(void)
{
	unsigned long a = 1, b = 1, n = 0;
	FILE *f = fopen("/proc/self/uid_map", "re");

	if (f) {
		if (fscanf(f, "%lu %lu %lu", &a, &b, &n) != 3)
			n = 0;
		fclose(f);
	}
	return a == 0 && b == 0 && n == 4294967295UL;
}

/*
 * As root, the step runs as NOBODY on the host: the kernel does not apply
 * RLIMIT_NPROC to uid 0 (a fork bomb would not stop), and root would own
 * every root-owned file it can see.
 */
void
kiln_userns_host_ids(uid_t *uid, gid_t *gid, int *asroot)
{
	*asroot = geteuid() == 0 && init_userns();
	*uid = *asroot ? KILN_SANDBOX_NOBODY : geteuid();
	*gid = *asroot ? KILN_SANDBOX_NOBODY : getegid();
}

static int
write_map(pid_t pid, const char *file, const char *text, char *err, size_t len)
{
	char path[64];
	size_t n = strlen(text);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
		errf(err, len, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * An ordinary user may map only itself, which it is; root maps NOBODY,
 * which only a process outside the namespace may do.
 */
int
kiln_userns_map(pid_t pid, uid_t uid, gid_t gid, char *err, size_t len)
{
	char map[64];

	if (write_map(pid, "setgroups", "deny", err, len) < 0)
		return -1;
	snprintf(map, sizeof(map), "%d %d 1\n", KILN_SANDBOX_UID, (int)uid);
	if (write_map(pid, "uid_map", map, err, len) < 0)
		return -1;
	snprintf(map, sizeof(map), "%d %d 1\n", KILN_SANDBOX_GID, (int)gid);
	return write_map(pid, "gid_map", map, err, len);
}

/* A network namespace starts with lo down; bring it up so a step may talk to itself. */
int
kiln_userns_loopback_up(char *err, size_t len)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (s < 0)
		return errf(err, len, "socket:");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		r = errf(err, len, "cannot read the loopback's flags:");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (r == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		r = errf(err, len, "cannot bring up the loopback:");
	close(s);
	return r;
}

int
kiln_userns_is(int fd, int nstype)
{
	return ioctl(fd, NS_GET_NSTYPE) == nstype;
}
