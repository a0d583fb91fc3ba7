/*
 * fs: file operations on trees kiln does not trust — a step's output
 * folder, and a cloned workspace's .kiln/ and kiln-out/ — that never follow
 * a symbolic link.
 *
 * Every path is relative and resolved beneath a directory descriptor
 * (AT_FDCWD: the current folder, which is the workspace): with openat2's
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it (5.6+),
 * else one component at a time with O_NOFOLLOW. A path that runs through a
 * link fails with ELOOP; one that is absolute or climbs out with "..", with
 * EXDEV. Removal and renaming work on descriptors (unlinkat, renameat), so
 * a link is removed or moved, never what it points at.
 */
#ifndef KILN_FS_H
#define KILN_FS_H

#include <sys/types.h>

/* Open rel beneath dirfd with open(2)'s flags and mode, following no link; -1 with errno. */
int kiln_fs_openat(int dirfd, const char *rel, int flags, mode_t mode);
/* Open the folder rel beneath dirfd, making it and its parents as needed; an O_DIRECTORY fd or -1. */
int kiln_fs_mkdirsat(int dirfd, const char *rel, mode_t mode);
/* rm -rf rel beneath dirfd (making read-only folders writable); 0 also when it is not there. */
int kiln_fs_removeat(int dirfd, const char *rel);
/* Rename from (beneath fromfd) to `to` (beneath tofd, whose folders are made); -1 with errno. */
int kiln_fs_renameat(int fromfd, const char *from, int tofd, const char *to);
/*
 * Create the file rel beneath dirfd anew for writing (an existing file or
 * link there is removed first, never written through); an fd or -1.
 */
int kiln_fs_create(int dirfd, const char *rel, mode_t mode);
/*
 * Read the whole file rel beneath dirfd, following no link (ELOOP if one is
 * on the way, EINVAL if it is not a regular file); NUL-terminated, *len its
 * size. NULL with errno.
 */
char *kiln_fs_read(int dirfd, const char *rel, size_t *len);
/*
 * Is rel beneath dirfd a symbolic link, or does it run through one? 1 yes
 * (*where gets the first component that is one, a new string), 0 no or it
 * does not exist, -1 on other errors.
 */
int kiln_fs_linked(int dirfd, const char *rel, char **where);

/* Failure injection (fault.h, util.h): a call into fs counts for its caller's module. */
#if defined(KILN_FAULT) && !defined(KILN_FAULT_INSIDE)
#include "fault.h"
#define kiln_fs_openat(dirfd, rel, flags, mode) KILN_FAULT_AT(kiln_fs_openat(dirfd, rel, flags, mode))
#define kiln_fs_mkdirsat(dirfd, rel, mode) KILN_FAULT_AT(kiln_fs_mkdirsat(dirfd, rel, mode))
#define kiln_fs_removeat(dirfd, rel) KILN_FAULT_AT(kiln_fs_removeat(dirfd, rel))
#define kiln_fs_renameat(fromfd, from, tofd, to) KILN_FAULT_AT(kiln_fs_renameat(fromfd, from, tofd, to))
#define kiln_fs_create(dirfd, rel, mode) KILN_FAULT_AT(kiln_fs_create(dirfd, rel, mode))
#define kiln_fs_linked(dirfd, rel, where) KILN_FAULT_AT(kiln_fs_linked(dirfd, rel, where))
#define kiln_fs_read(dirfd, rel, len) KILN_FAULT_AT(kiln_fs_read(dirfd, rel, len))
#endif

#endif
