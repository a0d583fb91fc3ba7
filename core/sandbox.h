/*
 * sandbox: confine one plugin run (new user, mount, pid, net, ipc and uts
 * namespaces, a fresh root, resource limits and a seccomp filter): the
 * process tree that does it. The root is rootfs.h's, the filter syscalls.h's.
 *
 * Used only by kiln-run, between loading the plugin and calling its run().
 */
#ifndef KILN_SANDBOX_H
#define KILN_SANDBOX_H

#include <stddef.h>

/* Where the workspace appears inside, so host paths do not leak into outputs. */
#define KILN_SANDBOX_WS "/workspace"
/* The step's user and group inside; files it makes belong to the caller outside. */
#define KILN_SANDBOX_UID 1000
#define KILN_SANDBOX_GID 1000
/* Who a step runs as on the host when kiln runs as root. */
#define KILN_SANDBOX_NOBODY 65534

/* A path made visible inside the sandbox, at the same place relative to the workspace. */
struct kiln_sandbox_bind {
	const char *path;	/* relative to the workspace, or absolute */
	int writable;		/* 0: read-only */
};

/* What a step may see and use. */
struct kiln_sandbox {
	const char *workspace;	/* absolute host path of the workspace root */
	const struct kiln_sandbox_bind *binds;	/* the declared paths */
	size_t nbinds;		/* how many */
	int network;		/* 1: keep the host's network */
	unsigned long long mem_bytes;	/* 0: default */
	unsigned long long fsize_bytes;	/* 0: default */
	unsigned long cpu_seconds;	/* 0: default */
	unsigned long nproc;		/* 0: default */
	unsigned long long disk_bytes;	/* output folders and /tmp together; 0: default */
	int status_fd;		/* >0: a build step's status pipe, for the sandbox's word on a limit */
	char *const *devices;		/* NULL-terminated host device nodes (or folders of them) shown as /dev/<last component>; NULL: none */
	/*
	 * >0: a user namespace (the step's ids mapped) and a network namespace
	 * (its loopback up) that kiln made for the step's job slot, to join
	 * rather than make (network = false only); 0: make them.
	 */
	int userns_fd, netns_fd;
	/*
	 * >0: a mount namespace, owned by that user namespace, whose root is
	 * what every step's holds (rootfs.h); a step that needs nothing beyond
	 * it and the workspace is built on a copy of it. 0: none.
	 */
	int mntns_fd;
	/*
	 * >0, with mntns_fd: a mount namespace owned by that user namespace,
	 * a copy of the host's tree kept for the job slot, where setup opens
	 * the step's paths (a copy of its own otherwise). 0: none.
	 */
	int hostns_fd;
	/* >0: the seccomp filter, compiled by kiln (syscalls.h); 0: compile it. */
	int filter_fd;
	/*
	 * With lent namespaces: where kiln keeps its job slots' cgroups
	 * (kiln_cgroup_slot_home: memory, and pids or ""); NULL: a group per step.
	 */
	const char *slot_cgroup_mem, *slot_cgroup_pids;
};

/*
 * Enter the sandbox described by `sb`. On success returns 0 in the confined
 * process, whose working folder is the workspace as seen inside. It may fork:
 * the process that called it then waits for the confined one and exits with
 * its status, never returning; or, when a memory or disk limit stopped the
 * step, says so on stderr and (fail:limit) on sb->status_fd and exits 1.
 * On failure returns -1 with a message in `err`.
 */
int kiln_sandbox_enter(const struct kiln_sandbox *sb, char *err, size_t errlen);

#endif
