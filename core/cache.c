/*
 * cache: the local content-addressed cache.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fault.h"
#include "fs.h"

char *
kiln_cache_default_dir(void)
{
	const char *s = getenv("KILN_CACHE_DIR");

	if (s && *s)
		return xstrdup(s);
	s = getenv("XDG_CACHE_HOME");
	if (s && *s == '/')
		return path_join(s, "kiln");
	s = getenv("HOME");
	if (s && *s == '/')
		return xasprintf("%s/.cache/kiln", s);
	return xstrdup("/tmp/kiln-cache");
}

int
kiln_cache_open(struct kiln_cache *c, const char *dir)
{
	static const char *const sub[] = {"cas", "ac", "tmp", "quarantine"};
	size_t i;

	memset(c, 0, sizeof(*c));
	c->dir = xstrdup(dir);
	for (i = 0; i < LEN(sub); i++) {
		char *p = path_join(dir, sub[i]);

		if (mkdir_p(p, 0755) < 0) {
			error("cache %s: cannot create %s:", dir, p);
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

void
kiln_cache_release(struct kiln_cache *c)
{
	free(c->dir);
	c->dir = NULL;
}

static char *
entry_path(const struct kiln_cache *c, const char *kind, const struct kiln_digest *d)
{
	char hex[KILN_DIGEST_HEX];

	kiln_digest_hex(d, hex);
	return xasprintf("%s/%s/%.2s/%s", c->dir, kind, hex, hex);
}

char *
kiln_cache_blob_path(const struct kiln_cache *c, const struct kiln_digest *d)
{
	return entry_path(c, "cas", d);
}

char *
kiln_cache_ac_path(const struct kiln_cache *c, const struct kiln_digest *key)
{
	return entry_path(c, "ac", key);
}

/* Files in tmp/ older than this are left over whoever wrote them: a day. */
#define TMP_MAX_AGE (24 * 3600)

static const char *
hostname(void)
{
	static char host[256];

	if (!host[0] && (gethostname(host, sizeof(host) - 1) < 0 || !host[0] || strchr(host, '@')))
		snprintf(host, sizeof(host), "localhost");
	return host;
}

char *
kiln_cache_tmp_path(const struct kiln_cache *c, const char *tag)
{
	static unsigned long n;	/* taken atomically: blobs are stored from several threads (kiln add) */

	return xasprintf("%s/tmp/%s.%lu.%ld@%s", c->dir, tag, __atomic_fetch_add(&n, 1, __ATOMIC_RELAXED), (long)getpid(), hostname());
}

static char *
tmp_path(const struct kiln_cache *c)
{
	return kiln_cache_tmp_path(c, "put");
}

/*
 * Is the tmp/ file `name` left over? Yes if it is older than TMP_MAX_AGE, or
 * if its name says this host and a process that no longer runs ("….PID@HOST",
 * and write_file_atomic's "….PID@HOST.tmp.PID"). A file of another host's
 * (a cache on a shared file system) is kept until it is old.
 */
static int
stale_tmp(const char *name, const struct stat *st, time_t now)
{
	const char *at = strchr(name, '@'), *host = hostname(), *p;
	size_t hl = strlen(host);
	long pid;

	if (st->st_mtime < now - TMP_MAX_AGE)
		return 1;
	if (!at || strncmp(at + 1, host, hl) != 0 || (at[1 + hl] && strncmp(at + 1 + hl, ".tmp.", 5) != 0))
		return 0;
	for (p = at; p > name && isdigit((unsigned char)p[-1]); p--)
		;
	if (p == at || p == name || p[-1] != '.')
		return 0;
	pid = strtol(p, NULL, 10);
	return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

size_t
kiln_cache_sweep_tmp(struct kiln_cache *c)
{
	char *top = path_join(c->dir, "tmp");
	int dfd = open(top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *e;
	struct stat st;
	time_t now = time(NULL);
	size_t n = 0;

	if (!d && dfd >= 0)
		close(dfd);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode) || !stale_tmp(e->d_name, &st, now))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			n++;
	}
	if (d)
		closedir(d);
	free(top);
	return n;
}

/* Rename tmp to dest, creating dest's xx/ folder if needed. */
static int
install(const char *tmp, const char *dest)
{
	if (fault_rename(tmp, dest) == 0)
		return 0;
	if (errno == ENOENT) {
		char *dir = xstrndup(dest, strrchr(dest, '/') - dest);
		int r = mkdir_p(dir, 0755);

		free(dir);
		if (r == 0 && fault_rename(tmp, dest) == 0)
			return 0;
	}
	return -1;
}

int
kiln_cache_has_blob(const struct kiln_cache *c, const struct kiln_digest *d)
{
	char *p = kiln_cache_blob_path(c, d);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

int
kiln_cache_has_action(const struct kiln_cache *c, const struct kiln_digest *key)
{
	char *p = kiln_cache_ac_path(c, key);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/*
 * Link the open file fd in as dest (cas/xx/…) through /proc/self/fd, making
 * dest's folder if it is missing; a blob already there (stored at the same
 * moment by another thread or process) has the same bytes. Linking straight
 * in, not renaming from tmp/, keeps a store inside one folder: a rename
 * across folders takes the file system's rename lock, and with several
 * threads storing at once that lock and tmp/'s were most of kiln add's time.
 * -1 with errno; ENOENT where there is no /proc.
 */
static int
link_in(int fd, const char *dest)
{
	char proc[64];

	if (FAULT_FAIL(KILN_FAULT_RENAME))
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) == 0 || errno == EEXIST)
		return 0;
	if (errno == ENOENT) {
		char *dir = xstrndup(dest, strrchr(dest, '/') - dest);
		int r = mkdir_p(dir, 0755);

		free(dir);
		if (r == 0 && (linkat(AT_FDCWD, proc, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) == 0 || errno == EEXIST))
			return 0;
	}
	return -1;
}

/*
 * Store in's bytes as the blob dest by an unnamed file (O_TMPFILE) in dest's
 * folder, linked in once whole: a crash leaves nothing behind. 1 where the
 * file system (or a missing /proc) does not allow it, 0 stored, -1 failed.
 */
static int
store_unnamed(int in, const char *dest)
{
	char *dir = xstrndup(dest, strrchr(dest, '/') - dest);
	int out = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600), r, saved;

	if (out < 0 && errno == ENOENT && mkdir_p(dir, 0755) == 0)
		out = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	free(dir);
	if (out < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? 1 : -1;
	r = copy_fd_fd(in, out) < 0 || fchmod(out, 0444) < 0 ? -1 : link_in(out, dest);
	saved = errno;
	close(out);
	errno = saved;
	return r < 0 && errno == ENOENT ? 1 : r;
}

/* Store in's bytes (from its offset) as the blob dest: unnamed, else through tmp/. */
static int
store_bytes(struct kiln_cache *c, int in, const char *dest)
{
	off_t at = lseek(in, 0, SEEK_CUR);
	char *tmp;
	int r = store_unnamed(in, dest), saved;

	if (r <= 0)
		return r;
	if (at < 0 || lseek(in, at, SEEK_SET) < 0)
		return -1;
	tmp = tmp_path(c);
	r = copy_fd(in, tmp, 0444) < 0 || install(tmp, dest) < 0 ? -1 : 0;
	saved = errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return r;
}

int
kiln_cache_put_blob(struct kiln_cache *c, const char *path, const struct kiln_digest *d)
{
	char *dest = kiln_cache_blob_path(c, d);
	int r = 0, in;

	if (access(dest, F_OK) == 0) {
		free(dest);
		return 0;
	}
	in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (in < 0 || store_bytes(c, in, dest) < 0)
		r = error("cannot store %s in the cache %s:", path, c->dir);
	else
		__atomic_add_fetch(&c->stored, 1, __ATOMIC_RELAXED);
	if (in >= 0)
		close(in);
	free(dest);
	return r;
}

void
kiln_action_format(struct buf *b, const struct kiln_action *act)
{
	char hex[KILN_DIGEST_HEX];
	size_t i;

	buf_printf(b, "kiln-action 1\nflags %u\n", act->flags);
	for (i = 0; i < act->nfiles; i++) {
		const struct kiln_file *f = &act->files[i];

		buf_printf(b, "file %o %s %llu %s\n", f->mode, kiln_digest_hex(&f->digest, hex),
		    (unsigned long long)f->size, f->path);
	}
	for (i = 0; i < act->nmetrics; i++)
		buf_printf(b, "metric %.17g %s\n", act->metrics[i].value, act->metrics[i].name);
}

int
kiln_action_parse(const char *text, size_t len, struct kiln_action *act, struct arena *a)
{
	const char *p = text, *end = text + len;
	size_t nf = 0, nm = 0, cf = 0, cm = 0;
	int first = 1;

	memset(act, 0, sizeof(*act));
	if (memchr(text, '\0', len))
		return -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		char *line, hex[33], *rest;
		unsigned mode;
		unsigned long long size;
		int n = 0;

		if (!nl)
			goto truncated;	/* the last line unended: a short read */
		line = xstrndup(p, nl - p);
		p = nl + 1;
		if (first) {
			first = 0;
			if (strcmp(line, "kiln-action 1") != 0)
				goto bad;
		} else if (sscanf(line, "flags %u%n", &act->flags, &n) == 1 && line[n] == '\0') {
		} else if (sscanf(line, "file %o %32s %llu %n", &mode, hex, &size, &n) == 3 && n > 0) {
			struct kiln_file *f;

			rest = line + n;
			/* As kiln_action_format writes it: a space after the size, paths sorted and unique. */
			if (line[n - 1] != ' ' || !path_is_safe_relative(rest) || (mode != 0644 && mode != 0755) ||
			    (nf && strcmp(act->files[nf - 1].path, rest) >= 0))
				goto bad;
			if (nf == cf)
				act->files = xreallocarray(act->files, cf = cf ? cf * 2 : 8, sizeof(*act->files));
			f = &act->files[nf++];
			memset(f, 0, sizeof(*f));
			if (kiln_digest_parse(hex, &f->digest) < 0)
				goto bad;
			f->mode = mode;
			f->size = size;
			f->path = arena_strdup(a, rest);
		} else if (strncmp(line, "metric ", 7) == 0) {
			double v;

			if (sscanf(line, "metric %lg %n", &v, &n) != 1 || n == 0 || line[n - 1] != ' ' || !line[n])
				goto bad;
			if (nm == cm)
				act->metrics = xreallocarray(act->metrics, cm = cm ? cm * 2 : 8, sizeof(*act->metrics));
			act->metrics[nm].name = arena_strdup(a, line + n);
			act->metrics[nm++].value = v;
		} else {
			goto bad;
		}
		free(line);
		continue;
bad:
		free(line);
truncated:
		free(act->files);
		free(act->metrics);
		memset(act, 0, sizeof(*act));
		return -1;
	}
	if (first)
		return -1;
	/* Move the arrays into the arena so the caller frees one thing. */
	if (nf) {
		struct kiln_file *f = arena_alloc(a, nf * sizeof(*f));

		memcpy(f, act->files, nf * sizeof(*f));
		free(act->files);
		act->files = f;
	}
	if (nm) {
		struct kiln_metric *m = arena_alloc(a, nm * sizeof(*m));

		memcpy(m, act->metrics, nm * sizeof(*m));
		free(act->metrics);
		act->metrics = m;
	}
	act->nfiles = nf;
	act->nmetrics = nm;
	return 0;
}

int
kiln_cache_put_action(struct kiln_cache *c, const struct kiln_digest *key,
    const struct kiln_action *act)
{
	struct buf b = BUF_INIT;
	char *dest = kiln_cache_ac_path(c, key), *tmp = tmp_path(c);
	int r = 0;

	kiln_action_format(&b, act);
	if (write_file_atomic(tmp, b.s, b.len, 0444, 0) < 0 || install(tmp, dest) < 0) {
		r = error("cannot write the cache entry %s:", dest);
		unlink(tmp);
	}
	buf_release(&b);
	free(tmp);
	free(dest);
	return r;
}

/* Move a bad cache file aside, where `kiln fsck` reports and a human can look. */
static void
quarantine(struct kiln_cache *c, const char *path)
{
	const char *base = strrchr(path, '/');
	char *dest = xasprintf("%s/quarantine/%s", c->dir, base ? base + 1 : path);

	if (fault_rename(path, dest) < 0)
		unlink(path);
	free(dest);
}

int
kiln_cache_get_action(struct kiln_cache *c, const struct kiln_digest *key,
    struct kiln_action *act, struct arena *a)
{
	char *path = kiln_cache_ac_path(c, key);
	size_t len;
	char *text = read_file(path, &len);

	if (!text) {
		free(path);
		return 0;
	}
	if (kiln_action_parse(text, len, act, a) < 0) {
		char hex[KILN_DIGEST_HEX];

		warn("cache entry ac/%s is damaged; moved to quarantine", kiln_digest_hex(key, hex));
		quarantine(c, path);
		c->corrupt++;
		free(text);
		free(path);
		return 0;
	}
	/* Mark it used, for gc's least-recently-used order. */
	utimensat(AT_FDCWD, path, NULL, 0);
	free(text);
	free(path);
	return 1;
}

/*
 * Put blob at dest for f by `how` (enum kiln_link_mode). A hardlink is the
 * blob itself, 0444: kiln writes a step's outputs only into a fresh folder
 * and replaces, never writes through, a file it restores, so only a hand
 * that chmods it can change the blob, and the re-hash on the next restore
 * (or kiln fsck) catches that. An executable keeps its own copy: the blob
 * has no execute bit.
 */
static int
place(const char *blob, const struct kiln_file *f, const char *dest, int how)
{
	if (how == KILN_LINK_HARD)
		return link(blob, dest);
	if (how == KILN_LINK_AUTO && f->mode == 0644 && f->size >= KILN_LINK_MIN) {
		if (clone_file(blob, dest, f->mode) == 0)
			return 0;
		if (errno == ENOENT)
			return -1;
		if (link(blob, dest) == 0)
			return 0;
		/* Another file system (EXDEV), or too many links: a copy. */
	}
	return copy_file(blob, dest, f->mode);
}

int
kiln_cache_restore(struct kiln_cache *c, const struct kiln_file *f, const char *dest)
{
	return kiln_cache_restore_as(c, f, dest, c->link);
}

int
kiln_cache_restore_as(struct kiln_cache *c, const struct kiln_file *f, const char *dest, int how)
{
	char *blob = kiln_cache_blob_path(c, &f->digest);
	struct kiln_digest got;
	char hex[KILN_DIGEST_HEX];
	int r;

	unlink(dest);
	r = place(blob, f, dest, how);
	if (r < 0) {
		r = errno == ENOENT ? 1 : error("cannot restore %s from the cache:", dest);
		free(blob);
		return r;
	}
	/* Never hand out bytes that are not what the entry says. */
	if (kiln_digest_file(dest, &got) < 0 || !kiln_digest_eq(&got, &f->digest)) {
		warn("cache blob cas/%.2s/%s is damaged; moved to quarantine", kiln_digest_hex(&f->digest, hex), hex);
		unlink(dest);
		quarantine(c, blob);
		c->corrupt++;
		free(blob);
		return 1;
	}
	utimensat(AT_FDCWD, blob, NULL, 0);
	c->restored++;
	free(blob);
	return 0;
}

/* Add a file entry for rel to fl; its mode is 0644, or 0755 when any execute bit is set. */
static struct kiln_file *
add_file(struct kiln_filelist *fl, const char *rel, const struct stat *sb)
{
	struct kiln_file *f;

	fl->v = xreallocarray(fl->v, fl->n + 1, sizeof(*fl->v));
	f = &fl->v[fl->n++];
	memset(f, 0, sizeof(*f));
	f->path = arena_strdup(&fl->arena, rel);
	f->size = sb->st_size;
	f->mode = sb->st_mode & 0111 ? 0755 : 0644;
	return f;
}

int
kiln_cache_put_path(struct kiln_cache *c, struct kiln_filelist *fl, const char *path, struct buf *why)
{
	struct stat sb;
	int ret = 0;

	if (stat(path, &sb) < 0) {
		buf_printf(why, "'%s' is missing", path);
		ret = -1;
	} else if (S_ISREG(sb.st_mode)) {
		struct kiln_file *f = add_file(fl, path, &sb);

		if (kiln_digest_file(path, &f->digest) < 0 || kiln_cache_put_blob(c, path, &f->digest) < 0) {
			buf_printf(why, "cannot store '%s' in the cache", path);
			ret = -1;
		}
	} else if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		while (d && ret == 0 && (e = readdir(d))) {
			char *child;

			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			child = path_join(path, e->d_name);
			ret = kiln_cache_put_path(c, fl, child, why);
			free(child);
		}
		if (d)
			closedir(d);
	} else {
		buf_printf(why, "'%s' is not a regular file or folder (kiln keeps files and folders)", path);
		ret = -1;
	}
	return ret;
}

/* May an output of f's kind be a hardlink to its blob, in c's mode? */
static int
linkable(const struct kiln_cache *c, const struct kiln_file *f)
{
	return c->link == KILN_LINK_AUTO && f->mode == 0644 && f->size >= KILN_LINK_MIN;
}

/*
 * The output `name` in dfd becomes a link to the stored blob (a copy of it
 * the step wrote, or an input it passed on): the bytes are the blob's,
 * so the copy is given back. A failure leaves the output as it was.
 */
static void
share_blob(struct kiln_cache *c, int dfd, const char *name, const char *blob)
{
	/* The link is made in the cache's tmp/: the folder being read gains no name. */
	char *tmp = tmp_path(c);

	if (link(blob, tmp) == 0 && renameat(AT_FDCWD, tmp, dfd, name) < 0)
		unlink(tmp);
	free(tmp);
}

/*
 * Store the open output fd as the blob dest, by making the file itself the
 * blob (0444, linked in through /proc) where it may be, else by a copy.
 */
static int
store_fd(struct kiln_cache *c, int fd, const struct kiln_file *f, const char *dest)
{
	if (linkable(c, f) && fchmod(fd, 0444) == 0) {
		if (link_in(fd, dest) == 0)
			return 0;
		(void)fchmod(fd, f->mode);
	}
	return store_bytes(c, fd, dest);
}

/*
 * Store the open regular file fd (named rel; `name` in dfd) as a blob; its
 * mode fixed so no umask reaches a digest, unless it is the blob itself.
 */
static int
put_fd(struct kiln_cache *c, struct kiln_filelist *fl, int fd, const struct stat *sb, int dfd, const char *name,
    const char *rel, struct buf *why)
{
	struct kiln_file *f = add_file(fl, rel, sb);
	struct stat bs;
	char *dest;
	int r = 0;

	if (kiln_digest_fd(fd, &f->digest) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		buf_printf(why, "cannot read the output '%s'", rel);
		return KILN_PUT_IO;
	}
	dest = kiln_cache_blob_path(c, &f->digest);
	if (stat(dest, &bs) == 0) {
		if (bs.st_dev == sb->st_dev && bs.st_ino == sb->st_ino)
			;	/* the blob itself, linked here: it stays 0444 */
		else if (linkable(c, f))
			share_blob(c, dfd, name, dest);
		else if ((int)(sb->st_mode & 07777) != (int)f->mode)
			(void)fchmod(fd, f->mode);
	} else if ((int)(sb->st_mode & 07777) != (int)f->mode && !linkable(c, f) && fchmod(fd, f->mode) < 0) {
		buf_printf(why, "cannot set the mode of the output '%s': %s", rel, strerror(errno));
		r = KILN_PUT_IO;
	} else if (store_fd(c, fd, f, dest) < 0) {
		buf_printf(why, "cannot store the output '%s' in the cache %s: %s", rel, c->dir, strerror(errno));
		r = KILN_PUT_IO;
	} else {
		c->stored++;
	}
	free(dest);
	return r;
}

/* Store what fd (named rel, opened without following a link) is: a file, or a folder of files. */
static int
put_open(struct kiln_cache *c, struct kiln_filelist *fl, int fd, int dfd, const char *name, const char *rel,
    struct buf *why)
{
	struct stat sb;
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (fstat(fd, &sb) < 0) {
		buf_printf(why, "cannot read the output '%s': %s", rel, strerror(errno));
		return KILN_PUT_IO;
	}
	if (S_ISREG(sb.st_mode))
		return put_fd(c, fl, fd, &sb, dfd, name, rel, why);
	if (!S_ISDIR(sb.st_mode)) {
		buf_printf(why, "the output '%s' is not a regular file or folder (kiln keeps files and folders)", rel);
		return KILN_PUT_KIND;
	}
	d = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0));
	if (!d) {
		buf_printf(why, "cannot read the output folder '%s': %s", rel, strerror(errno));
		return KILN_PUT_IO;
	}
	while (r == 0 && (e = readdir(d))) {
		char *child;
		int cfd;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		child = path_join(rel, e->d_name);
		if (!path_is_safe_relative(child)) {
			buf_printf(why, "the output folder '%s' holds a file whose name kiln refuses", rel);
			r = KILN_PUT_KIND;
		} else if ((cfd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
			if (errno == ELOOP) {
				buf_printf(why, "the output '%s' is a symbolic link (kiln keeps files and folders)", child);
				r = KILN_PUT_LINK;
			} else {
				buf_printf(why, "cannot read the output '%s': %s", child, strerror(errno));
				r = KILN_PUT_IO;
			}
		} else {
			r = put_open(c, fl, cfd, dirfd(d), e->d_name, child, why);
			close(cfd);
		}
		free(child);
	}
	closedir(d);
	return r;
}

int
kiln_cache_put_outputs(struct kiln_cache *c, struct kiln_filelist *fl, int dirfd, const char *const *outputs,
    size_t n, struct buf *why)
{
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		int fd = kiln_fs_openat(dirfd, outputs[i], O_RDONLY | O_NONBLOCK, 0);

		if (fd >= 0) {
			r = put_open(c, fl, fd, dirfd, outputs[i], outputs[i], why);
			close(fd);
		} else if (errno == ENOENT) {
			buf_printf(why, "it did not write the declared output '%s'", outputs[i]);
			r = KILN_PUT_MISSING;
		} else if (errno == ELOOP || errno == EXDEV) {
			buf_printf(why, "the output '%s' is or runs through a symbolic link; kiln keeps only files and "
			    "folders the step wrote, and follows no link out of its output folder", outputs[i]);
			r = KILN_PUT_LINK;
		} else {
			buf_printf(why, "cannot read the output '%s': %s", outputs[i], strerror(errno));
			r = KILN_PUT_IO;
		}
	}
	return r;
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct kiln_file *)a)->path, ((const struct kiln_file *)b)->path);
}

void
kiln_filelist_sort(struct kiln_filelist *fl)
{
	size_t i, k = 0;

	sort(fl->v, fl->n, sizeof(*fl->v), cmp_file);
	for (i = 0; i < fl->n; i++)
		if (k == 0 || strcmp(fl->v[k - 1].path, fl->v[i].path) != 0)
			fl->v[k++] = fl->v[i];
	fl->n = k;
}

void
kiln_filelist_release(struct kiln_filelist *fl)
{
	free(fl->v);
	arena_release(&fl->arena);
	memset(fl, 0, sizeof(*fl));
}

struct blob {
	char *path;
	unsigned long long size;
	int64_t used;
};

static int
cmp_blob(const void *a, const void *b)
{
	const struct blob *x = a, *y = b;

	return x->used < y->used ? -1 : x->used > y->used;
}

/* Call fn on every file in kind/xx/ of the cache. */
static void
each_entry(struct kiln_cache *c, const char *kind, void (*fn)(void *, const char *, const struct stat *),
    void *arg)
{
	char *top = path_join(c->dir, kind);
	DIR *d = opendir(top), *sub;
	struct dirent *e, *f;
	struct stat st;

	while (d && (e = readdir(d))) {
		char *dir;

		if (e->d_name[0] == '.')
			continue;
		dir = path_join(top, e->d_name);
		sub = opendir(dir);
		while (sub && (f = readdir(sub))) {
			char *p;

			if (f->d_name[0] == '.')
				continue;
			p = path_join(dir, f->d_name);
			if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
				fn(arg, p, &st);
			free(p);
		}
		if (sub)
			closedir(sub);
		free(dir);
	}
	if (d)
		closedir(d);
	free(top);
}

struct blobs {
	struct blob *v;
	size_t n, cap;
	unsigned long long total;
};

static void
add_blob(void *arg, const char *path, const struct stat *st)
{
	struct blobs *b = arg;
	int64_t m = ns_of(&st->st_mtim), a = ns_of(&st->st_atim);

	if (b->n == b->cap)
		b->v = xreallocarray(b->v, b->cap = b->cap ? b->cap * 2 : 256, sizeof(*b->v));
	b->v[b->n++] = (struct blob){xstrdup(path), st->st_size, m > a ? m : a};
	b->total += st->st_size;
}

/* Remove action entries whose blobs are gone, so they do not promise what the cache lacks. */
static void
drop_orphan(void *arg, const char *path, const struct stat *st)
{
	struct kiln_cache *c = arg;
	struct kiln_action act;
	struct arena a = {0};
	size_t len, i;
	char *text = read_file(path, &len);

	(void)st;
	if (text && kiln_action_parse(text, len, &act, &a) == 0) {
		for (i = 0; i < act.nfiles; i++)
			if (!kiln_cache_has_blob(c, &act.files[i].digest)) {
				unlink(path);
				break;
			}
	}
	free(text);
	arena_release(&a);
}

int
kiln_cache_gc(struct kiln_cache *c, unsigned long long max_bytes, int verbose)
{
	struct blobs b = {0};
	unsigned long long before, removed = 0;
	size_t i, nremoved = 0;
	char s1[32], s2[32], s3[32], s4[32];
	size_t swept = kiln_cache_sweep_tmp(c);

	each_entry(c, "cas", add_blob, &b);
	before = b.total;
	sort(b.v, b.n, sizeof(*b.v), cmp_blob);
	for (i = 0; i < b.n && b.total > max_bytes; i++) {
		if (unlink(b.v[i].path) == 0) {
			b.total -= b.v[i].size;
			removed += b.v[i].size;
			nremoved++;
		}
	}
	for (i = 0; i < b.n; i++)
		free(b.v[i].path);
	free(b.v);
	if (nremoved)
		each_entry(c, "ac", drop_orphan, c);
	if (verbose && swept)
		printf("gc: removed %zu temporary files left by processes that no longer run\n", swept);
	if (verbose)
		printf("gc: %s before, removed %zu blobs (%s), %s now (limit %s)\n",
		    format_size(s1, sizeof(s1), before), nremoved, format_size(s2, sizeof(s2), removed),
		    format_size(s3, sizeof(s3), b.total), format_size(s4, sizeof(s4), max_bytes));
	return 0;
}

struct fsck {
	struct kiln_cache *c;
	long bad, checked;
	int verbose;
};

static void
check_blob(void *arg, const char *path, const struct stat *st)
{
	struct fsck *f = arg;
	struct kiln_digest want, got;
	const char *name = strrchr(path, '/') + 1;

	(void)st;
	f->checked++;
	if (kiln_digest_parse(name, &want) < 0 || kiln_digest_file(path, &got) < 0 ||
	    !kiln_digest_eq(&want, &got)) {
		printf("corrupt blob: %s (moved to %s/quarantine)\n", path, f->c->dir);
		quarantine(f->c, path);
		f->bad++;
	}
}

static void
check_action(void *arg, const char *path, const struct stat *st)
{
	struct fsck *f = arg;
	struct kiln_action act;
	struct arena a = {0};
	size_t len;
	char *text = read_file(path, &len);

	(void)st;
	f->checked++;
	if (!text || kiln_action_parse(text, len, &act, &a) < 0) {
		printf("damaged action entry: %s (moved to %s/quarantine)\n", path, f->c->dir);
		quarantine(f->c, path);
		f->bad++;
	}
	free(text);
	arena_release(&a);
}

long
kiln_cache_fsck(struct kiln_cache *c, int verbose)
{
	struct fsck f = {c, 0, 0, verbose};
	size_t swept = kiln_cache_sweep_tmp(c);

	if (verbose && swept)
		printf("fsck: removed %zu temporary files left by processes that no longer run\n", swept);
	each_entry(c, "cas", check_blob, &f);
	each_entry(c, "ac", check_action, &f);
	/* Entries whose blobs were just quarantined would only miss later; drop them now. */
	if (f.bad)
		each_entry(c, "ac", drop_orphan, c);
	if (verbose)
		printf("fsck: checked %ld cache files in %s, %ld bad\n", f.checked, c->dir, f.bad);
	return f.bad;
}
