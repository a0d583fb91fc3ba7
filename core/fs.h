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

#include <sys/stat.h>
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

/*
 * Folders opened through no link, kept open to stat many files in few of
 * them: one fstatat per file where stat-then-prove-it-is-inside took an
 * open and a close more (kiln_fs_dirs_lstat). Relative to the current
 * folder; release before it changes.
 */
struct kiln_fs_dirs {
	struct kiln_fs_dir {
		char *path;	/* the folder, relative; NULL: a free slot */
		int fd;		/* -1: it did not open, for errno err */
		int err;
	} slot[8];
	unsigned next;	/* the slot to reuse next */
};

#define KILN_FS_DIRS_INIT {{{NULL, -1, 0}}, 0}

/*
 * lstat rel beneath the current folder, through no link: 0 (and *sb) when
 * neither rel nor any folder on its way is a link, so stat(2) would give
 * the same; -1 with errno (ELOOP: rel or a folder on its way is a link,
 * EXDEV: not a plain relative path, or what fstatat says) otherwise.
 */
int kiln_fs_dirs_lstat(struct kiln_fs_dirs *c, const char *rel, struct stat *sb);
/* Close the folders and forget them. */
void kiln_fs_dirs_release(struct kiln_fs_dirs *c);

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
#define kiln_fs_dirs_lstat(c, rel, sb) KILN_FAULT_AT(kiln_fs_dirs_lstat(c, rel, sb))
#endif

#endif
