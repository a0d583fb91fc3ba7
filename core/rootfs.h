/*
 * rootfs: the root file system a sandboxed step sees — planned by kiln-run
 * in the host's view, mounted by the sandbox's init from descriptors.
 *
 * The plan is made before any fork and only read afterwards, so each process
 * of the sandbox works on its own copy. See docs/sandbox.md for what is in it.
 */
#ifndef KILN_ROOTFS_H
#define KILN_ROOTFS_H

#include <stddef.h>
#include <sys/types.h>

struct kiln_sandbox;
struct kiln_rootfs;

/*
 * Plan the root for sb: the system folders, a few /etc files, the devices
 * and every declared path, each resolved (realpath) on the host. With
 * `asroot` the output folders are handed to KILN_SANDBOX_NOBODY. NULL with
 * a message in err.
 */
struct kiln_rootfs *kiln_rootfs_plan(const struct kiln_sandbox *sb, int asroot, char *err, size_t len);
/* Open (O_PATH) what will be mounted: in the new mount namespace, before ids change. */
int kiln_rootfs_open(struct kiln_rootfs *r, char *err, size_t len);
/* Close what kiln_rootfs_open opened; a process that mounts nothing holds none. */
void kiln_rootfs_close(struct kiln_rootfs *r);
/*
 * In init: build the root on a fresh tmpfs, with a private /tmp of
 * tmp_bytes (0: none, for the shared root) and a new /proc, make it the
 * root, detach the host's tree, and enter KILN_SANDBOX_WS.
 */
int kiln_rootfs_build(const struct kiln_rootfs *r, unsigned long long tmp_bytes, char *err, size_t len);
/*
 * A job slot's shared root (docs/sandbox.md, "Cost"), made once per build
 * by `kiln-run --netns` (one thread) in the slot's user namespace: a child,
 * *holder, in new mount and pid namespaces, whose root is what every
 * step's holds, the host's tree detached; it stays until *release is
 * closed. -1 with a message in err (the child's on stderr: "see above").
 */
int kiln_rootfs_make_base(pid_t *holder, int *release, char *err, size_t len);
/*
 * Can r be built on a shared root (no network, no devices, nothing outside
 * KILN_SANDBOX_WS but the system's)? Then marks it so, and 1: open() skips
 * the system mounts, which the shared root holds.
 */
int kiln_rootfs_share(struct kiln_rootfs *r);
/*
 * In init, instead of kiln_rootfs_build, for a shared r: clone the step's
 * own mounts from the host's tree, join a copy of the shared root (mntns),
 * attach them there on a tmpfs at KILN_SANDBOX_WS, mount /tmp (tmp_bytes)
 * and /proc, and enter KILN_SANDBOX_WS. Nothing is detached, so no wait.
 */
int kiln_rootfs_join(struct kiln_rootfs *r, int mntns, unsigned long long tmp_bytes, char *err, size_t len);
/*
 * Inside: the bytes the output folders and /tmp hold (blocks, as du counts
 * them; no link followed) in *used, the largest output file's size in
 * *largest, and what /tmp has free in *tmp_free (NULL: not wanted).
 */
void kiln_rootfs_usage(const struct kiln_rootfs *r, unsigned long long *used, unsigned long long *largest,
    unsigned long long *tmp_free);
/* Outside, as root, once the step ended: give the output folders back to their owners. */
void kiln_rootfs_give_back(const struct kiln_rootfs *r);
/* Close and free r (NULL is fine). */
void kiln_rootfs_free(struct kiln_rootfs *r);

#endif
