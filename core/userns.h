/*
 * userns: the sandbox's user and network namespaces, shared by kiln-run
 * (which makes a step's) and kiln (which keeps a few for its steps to join,
 * netns.h): whose ids a step maps to, writing the id maps, and the loopback.
 */
#ifndef KILN_USERNS_H
#define KILN_USERNS_H

#include <stddef.h>
#include <sys/types.h>

/* Where kiln-run finds the namespaces kiln lends a step ("netns" in its spec's sandbox). */
#define KILN_USERNS_FD 4
#define KILN_NETNS_FD 5
/* And the seccomp filter kiln compiled ("filter" in the spec's sandbox; syscalls.h). */
#define KILN_FILTER_FD 6
/* And the job slot's shared root, a mount namespace ("rootns" in the spec's sandbox; rootfs.h). */
#define KILN_MNTNS_FD 7
/*
 * And the job slot's copy of the host's mount tree, a mount namespace its
 * user namespace owns ("hostns"), which a step's setup joins rather than
 * copying the host's tree for itself (sandbox.c).
 */
#define KILN_HOSTNS_FD 8

/*
 * Who a step runs as on the host: the caller's ids, or NOBODY's when the
 * caller is root of the machine (then *asroot is 1).
 */
void kiln_userns_host_ids(uid_t *uid, gid_t *gid, int *asroot);
/* Map the step's uid and gid inside (KILN_SANDBOX_UID) to uid, gid in pid's new user namespace. -1 with a message in err. */
int kiln_userns_map(pid_t pid, uid_t uid, gid_t gid, char *err, size_t len);
/* Is fd a namespace of type nstype (CLONE_NEWUSER, CLONE_NEWNET)? */
int kiln_userns_is(int fd, int nstype);
/* In a new network namespace whose user namespace we are root of: bring lo up. -1 with a message in err. */
int kiln_userns_loopback_up(char *err, size_t len);

#endif
