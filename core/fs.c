/*
 * fs: link-proof file operations beneath a directory descriptor; see fs.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KILN_FAULT_INSIDE
#include "fault.h"
#include "fs.h"
#include "util.h"

/* 1 the kernel has openat2, 0 not (or KILN_FS_NO_OPENAT2 is set: the tests' way to try the fallback). */
static int
have_openat2(void)
{
	static int have = -1;

	if (have < 0) {
		const char *e = getenv("KILN_FS_NO_OPENAT2");

		have = !(e && *e && strcmp(e, "0") != 0);
	}
	return have;
}

/* A relative path of plain components: no "", ".", ".." and not absolute. */
static int
plain(const char *rel)
{
	const char *s = rel, *start;

	if (!*rel || *rel == '/')
		return 0;
	for (;;) {
		size_t n;

		for (start = s; *s && *s != '/'; s++)	/* one pass, no call per component */
			;
		n = (size_t)(s - start);
		if (n == 0 || (n == 1 && start[0] == '.') || (n == 2 && start[0] == '.' && start[1] == '.'))
			return 0;
		if (!*s)
			return 1;
		if (*++s == '\0')
			return 0;	/* a trailing slash */
	}
}

/* The fallback: one component at a time, each folder opened with O_NOFOLLOW. */
static int
walk_open(int dirfd, const char *rel, int flags, mode_t mode)
{
	char room[256], *copy, *s, *slash;
	size_t len = strlen(rel);
	int cur = dirfd, fd;

	copy = len < sizeof(room) ? memcpy(room, rel, len + 1) : xstrdup(rel);	/* most paths: no allocation */
	s = copy;

	while ((slash = strchr(s, '/'))) {
		*slash = '\0';
		fd = openat(cur, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			int saved = errno;
			struct stat st;

			/* O_DIRECTORY on a link says ENOTDIR; say what it is. */
			if (saved == ENOTDIR && fstatat(cur, s, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				saved = ELOOP;
			if (cur != dirfd)
				close(cur);
			if (copy != room)
				free(copy);
			errno = saved;
			return -1;
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
		s = slash + 1;
	}
	fd = openat(cur, s, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (cur != dirfd) {
		int saved = errno;

		close(cur);
		errno = saved;
	}
	if (copy != room)
		free(copy);
	return fd;
}

int
kiln_fs_openat(int dirfd, const char *rel, int flags, mode_t mode)
{
	if (!plain(rel)) {
		errno = EXDEV;
		return -1;
	}
	if (have_openat2()) {
		struct open_how how = {0};
		long fd;

		how.flags = (unsigned)flags | O_NOFOLLOW | O_CLOEXEC;
		how.mode = flags & O_CREAT ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
	}
	return walk_open(dirfd, rel, flags, mode);
}

int
kiln_fs_mkdirsat(int dirfd, const char *rel, mode_t mode)
{
	char *copy, *s, *slash;
	int cur = dirfd, fd = -1;

	if (!plain(rel)) {
		errno = EXDEV;
		return -1;
	}
	copy = xstrdup(rel);
	for (s = copy;; s = slash + 1) {
		slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		if (mkdirat(cur, s, mode) < 0 && errno != EEXIST)
			fd = -1;
		else
			fd = openat(cur, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOTDIR) {
			struct stat st;

			if (fstatat(cur, s, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				errno = ELOOP;
		}
		if (cur != dirfd) {
			int saved = errno;

			close(cur);
			errno = saved;
		}
		if (fd < 0 || !slash)
			break;
		cur = fd;
	}
	free(copy);
	return fd;
}

/* Split rel into its folder (NULL: none) and last name, in a new string *copy. */
static const char *
split(const char *rel, char **copy, const char **dir)
{
	char *slash;

	*copy = xstrdup(rel);
	slash = strrchr(*copy, '/');
	if (!slash) {
		*dir = NULL;
		return *copy;
	}
	*slash = '\0';
	*dir = *copy;
	return slash + 1;
}

/* Open rel's folder beneath dirfd (made when `make`); *name points at rel's last name in *copy. */
static int
parent(int dirfd, const char *rel, int make, char **copy, const char **name)
{
	const char *dir;
	int fd;

	if (!plain(rel)) {
		*copy = NULL;
		errno = EXDEV;
		return -1;
	}
	*name = split(rel, copy, &dir);
	if (!dir)
		fd = dirfd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	else if (make)
		fd = kiln_fs_mkdirsat(dirfd, dir, 0755);
	else
		fd = kiln_fs_openat(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		int saved = errno;

		free(*copy);
		*copy = NULL;
		errno = saved;
	}
	return fd;
}

/* Remove the entry `name` of the folder pfd and, if it is a folder, all below it. */
static int
remove_entry(int pfd, const char *name)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int fd, r = 0;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(pfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(pfd, name, (st.st_mode & 07777) | S_IRWXU, 0) == 0)
		fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if ((st.st_mode & S_IRWXU) != S_IRWXU)
		fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (remove_entry(fd, e->d_name) < 0)
			r = -1;
	}
	closedir(d);
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

int
kiln_fs_removeat(int dirfd, const char *rel)
{
	const char *name;
	char *copy;
	int pfd = parent(dirfd, rel, 0, &copy, &name), r;

	if (pfd < 0)
		return errno == ENOENT ? 0 : -1;
	r = remove_entry(pfd, name);
	close(pfd);
	free(copy);
	return r;
}

int
kiln_fs_renameat(int fromfd, const char *from, int tofd, const char *to)
{
	const char *fname, *tname;
	char *fcopy, *tcopy;
	int fp, tp, r = -1, saved;

	fp = parent(fromfd, from, 0, &fcopy, &fname);
	if (fp < 0)
		return -1;
	tp = parent(tofd, to, 1, &tcopy, &tname);
	if (tp >= 0) {
		r = fault_renameat(fp, fname, tp, tname);
		saved = errno;
		close(tp);
		free(tcopy);
		errno = saved;
	}
	saved = errno;
	close(fp);
	free(fcopy);
	errno = saved;
	return r;
}

int
kiln_fs_create(int dirfd, const char *rel, mode_t mode)
{
	const char *name;
	char *copy;
	int pfd = parent(dirfd, rel, 1, &copy, &name), fd, saved;

	if (pfd < 0)
		return -1;
	if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT) {
		fd = -1;
	} else {
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	}
	saved = errno;
	close(pfd);
	free(copy);
	errno = saved;
	return fd;
}

char *
kiln_fs_read(int dirfd, const char *rel, size_t *len)
{
	int fd = kiln_fs_openat(dirfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);

	return fd < 0 ? NULL : read_regular(fd, len);
}

int
kiln_fs_linked(int dirfd, const char *rel, char **where)
{
	char *copy = xstrdup(rel), *s = copy;
	struct stat st;

	*where = NULL;
	for (;;) {
		char *slash = strchr(s, '/');

		if (slash)
			*slash = '\0';
		if (fstatat(dirfd, copy, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			int r = errno == ENOENT || errno == ENOTDIR ? 0 : -1;

			free(copy);
			return r;
		}
		if (S_ISLNK(st.st_mode)) {
			*where = copy;
			return 1;
		}
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	free(copy);
	return 0;
}

/* The folder rel[0..n) beneath the current folder, from c or opened into it: an fd, or -1 with errno. */
static int
dir_fd(struct kiln_fs_dirs *c, const char *rel, size_t n)
{
	struct kiln_fs_dir *d;
	size_t i;

	for (i = 0; i < LEN(c->slot); i++) {
		d = &c->slot[i];
		if (d->path && strncmp(d->path, rel, n) == 0 && d->path[n] == '\0') {
			errno = d->err;
			return d->fd;
		}
	}
	d = &c->slot[c->next++ % LEN(c->slot)];
	if (d->path && d->fd >= 0)
		close(d->fd);
	free(d->path);
	d->path = xstrndup(rel, n);
	d->fd = kiln_fs_openat(AT_FDCWD, d->path, O_RDONLY | O_DIRECTORY, 0);
	d->err = d->fd < 0 ? errno : 0;
	errno = d->err;
	return d->fd;
}

int
kiln_fs_dirs_lstat(struct kiln_fs_dirs *c, const char *rel, struct stat *sb)
{
	const char *slash = strrchr(rel, '/');
	int fd = AT_FDCWD;

	if (!plain(rel)) {
		errno = EXDEV;
		return -1;
	}
	/* The folder opened through no link, the last name not followed: no link anywhere on the way. */
	if (slash && (fd = dir_fd(c, rel, (size_t)(slash - rel))) < 0)
		return -1;
	if (fstatat(fd, slash ? slash + 1 : rel, sb, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (S_ISLNK(sb->st_mode)) {
		errno = ELOOP;
		return -1;
	}
	return 0;
}

void
kiln_fs_dirs_release(struct kiln_fs_dirs *c)
{
	size_t i;

	for (i = 0; i < LEN(c->slot); i++) {
		if (c->slot[i].path && c->slot[i].fd >= 0)
			close(c->slot[i].fd);
		free(c->slot[i].path);
		c->slot[i].path = NULL;
		c->slot[i].fd = -1;
	}
	c->next = 0;
}
