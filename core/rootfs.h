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
 * tmp_bytes and a new /proc, make it the root, detach the host's tree, and
 * enter KILN_SANDBOX_WS.
 */
int kiln_rootfs_build(const struct kiln_rootfs *r, unsigned long long tmp_bytes, char *err, size_t len);
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
