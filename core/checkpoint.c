/*
 * checkpoint: a step's checkpoint and its seal; see checkpoint.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "digest.h"
#include "fs.h"
#include "util.h"

#define SEAL_MAGIC "kiln-checkpoint 1\n"

char *
kiln_checkpoint_path(const char *name, const struct kiln_digest *key)
{
	char hex[KILN_DIGEST_HEX];

	return xasprintf(KILN_CHECKPOINT_DIR "/%s.%s", name, kiln_digest_hex(key, hex));
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * "relpath\tdigest\n" for every file under the folder dfd (closed here), in
 * order; a link is listed as such, never followed. -1 if one cannot be read.
 */
static int
listing(int dfd, const char *prefix, struct buf *b)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	int r = 0;

	if (!d) {
		close(dfd);
		return -1;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xstrdup(e->d_name);
		}
	sort(names, n, sizeof(*names), cmp_strp);
	for (i = 0; i < n; i++) {
		char *rel = path_join(prefix, names[i]), hex[KILN_DIGEST_HEX];
		struct kiln_digest dg;
		struct stat sb;
		int fd;

		if (r == 0 && fstatat(dirfd(d), names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -1;
		} else if (r == 0 && S_ISDIR(sb.st_mode)) {
			fd = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = fd < 0 ? -1 : listing(fd, rel, b);
		} else if (r == 0 && S_ISREG(sb.st_mode)) {
			fd = openat(dirfd(d), names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0 || kiln_digest_fd(fd, &dg) < 0)
				r = -1;
			else
				buf_printf(b, "%s\t%s\n", rel, kiln_digest_hex(&dg, hex));
			if (fd >= 0)
				close(fd);
		} else if (r == 0) {
			buf_printf(b, "%s\tnot a file\n", rel);
		}
		free(rel);
		free(names[i]);
	}
	free(names);
	closedir(d);
	return r;
}

static int
list_data(const char *dir, struct buf *b)
{
	char *data = path_join(dir, "data");
	int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	free(data);
	return fd < 0 ? -1 : listing(fd, "", b);
}

/*
 * Hard-link every file of the folder `from` into the folder `to`
 * (recursively, folders made): a link is linked as itself, never followed.
 * Both descriptors are closed. -1 with errno.
 */
static int
link_tree(int from, int to)
{
	DIR *d = fdopendir(from);
	struct dirent *e;
	int r = 0;

	if (!d) {
		close(from);
		close(to);
		return -1;
	}
	while (r == 0 && (e = readdir(d))) {
		struct stat sb;
		int f, t;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -1;
		} else if (!S_ISDIR(sb.st_mode)) {
			r = linkat(dirfd(d), e->d_name, to, e->d_name, 0);
		} else if (mkdirat(to, e->d_name, 0755) < 0) {
			r = -1;
		} else {
			f = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			t = f < 0 ? -1 : openat(to, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (f < 0 || t < 0) {
				if (f >= 0)
					close(f);
				r = -1;
			} else {
				r = link_tree(f, t);
			}
		}
	}
	closedir(d);
	close(to);
	return r;
}

/* Make the folder rel (removed first if there) holding hard links of from's files. -1 with errno. */
static int
link_copy(const char *from, const char *rel)
{
	int f, t;

	if ((kiln_fs_removeat(AT_FDCWD, rel) < 0 && errno != ENOENT) || kiln_fs_mkdirsat(AT_FDCWD, rel, 0755) < 0)
		return -1;
	if ((f = kiln_fs_openat(AT_FDCWD, from, O_RDONLY | O_DIRECTORY, 0)) < 0)
		return -1;
	if ((t = kiln_fs_openat(AT_FDCWD, rel, O_RDONLY | O_DIRECTORY, 0)) < 0) {
		close(f);
		return -1;
	}
	return link_tree(f, t);
}

/*
 * The seal goes with a snapshot, dir/sealed/ (data/ as hard links, and the
 * seal): a step writes its next checkpoint by replacing files (a temporary
 * file renamed), so the snapshot keeps the sealed bytes while data/ moves
 * on, and a kill at any moment leaves a snapshot that matches its seal.
 * The snapshot is made as sealed.new/ and swapped in with one rename;
 * dir/seal, beside data/, is the copy the remote and `kiln status` read.
 */
int
kiln_checkpoint_seal(const char *dir, double epoch)
{
	struct buf b = BUF_INIT;
	char *path = path_join(dir, "seal"), *data = path_join(dir, "data"), *snew = path_join(dir, "sealed.new"),
	     *sdata = path_join(snew, "data"), *sseal = path_join(snew, "seal"), *snap = path_join(dir, "sealed");
	int r;

	buf_printf(&b, SEAL_MAGIC "epoch %.17g\nfiles\n", epoch);
	r = list_data(dir, &b);
	if (r == 0 && ((kiln_fs_removeat(AT_FDCWD, snew) < 0 && errno != ENOENT) ||
	    kiln_fs_mkdirsat(AT_FDCWD, snew, 0755) < 0 || link_copy(data, sdata) < 0))
		r = -1;
	if (r == 0)
		r = write_file_atomic(sseal, b.s, b.len, 0644, 1);
	if (r == 0 && renameat2(AT_FDCWD, snew, AT_FDCWD, snap, RENAME_EXCHANGE) < 0)
		r = errno == ENOENT ? rename(snew, snap) : -1;
	if (r == 0)
		kiln_fs_removeat(AT_FDCWD, snew);	/* the snapshot before, now under the new name */
	if (r == 0)
		r = write_file_atomic(path, b.s, b.len, 0644, 1);
	buf_release(&b);
	free(path);
	free(data);
	free(snew);
	free(sdata);
	free(sseal);
	free(snap);
	return r;
}

int
kiln_checkpoint_read_seal(const char *dir, double *epoch, char **text, const char **files)
{
	char *path = path_join(dir, "seal"), *f;
	size_t len;

	*text = read_file(path, &len);
	free(path);
	if (!*text)
		return errno == ENOENT ? 0 : -1;
	if (strncmp(*text, SEAL_MAGIC, strlen(SEAL_MAGIC)) != 0 ||
	    sscanf(*text + strlen(SEAL_MAGIC), "epoch %lf", epoch) != 1 || !(f = strstr(*text, "\nfiles\n")))
		return -1;
	*files = f + 7;
	return 1;
}

/* The first line in which two listings differ, for the warning: its path. */
static void
first_change(const char *a, const char *b, char *out, size_t len)
{
	while (*a && *a == *b) {
		const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');

		if (!na || !nb || na - a != nb - b || strncmp(a, b, (size_t)(na - a)) != 0)
			break;
		a = na + 1;
		b = nb + 1;
	}
	if (!*a)
		a = b;
	snprintf(out, len, "%.*s", (int)strcspn(a, "\t\n"), a);
}

int
kiln_checkpoint_find(const char *name, const struct kiln_digest *key, double *epoch)
{
	char *dir = kiln_checkpoint_path(name, key), *text = NULL;
	const char *files;
	struct stat sb;
	int r = 0;

	*epoch = -1;
	if (lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		r = 1;
		if (kiln_checkpoint_read_seal(dir, epoch, &text, &files) != 1)
			*epoch = -1;
	}
	free(text);
	free(dir);
	return r;
}

/* Remove name's checkpoints other than `keep` (a key's folder name, or NULL for all). */
static void
remove_others(const char *name, const char *keep)
{
	DIR *d = opendir(KILN_CHECKPOINT_DIR);
	struct dirent *e;
	size_t n = strlen(name);

	while (d && (e = readdir(d))) {
		const char *rest = e->d_name + n + 1;

		if (strncmp(e->d_name, name, n) != 0 || e->d_name[n] != '.' || strlen(rest) != KILN_DIGEST_HEX - 1 ||
		    strspn(rest, "0123456789abcdef") != KILN_DIGEST_HEX - 1 || (keep && strcmp(e->d_name, keep) == 0))
			continue;
		char *p = path_join(KILN_CHECKPOINT_DIR, e->d_name);

		kiln_fs_removeat(AT_FDCWD, p);
		free(p);
	}
	if (d)
		closedir(d);
}

/* Does dir's data/ still match its seal? 1 yes (*epoch), 0 no seal, -1 damaged (what in `what`). */
static int
check(const char *dir, double *epoch, char *what, size_t len)
{
	struct buf now = BUF_INIT;
	char *text = NULL;
	const char *files = NULL;
	int r = kiln_checkpoint_read_seal(dir, epoch, &text, &files);

	if (r < 0)
		snprintf(what, len, "its seal is unreadable");
	if (r == 1 && list_data(dir, &now) < 0) {
		snprintf(what, len, "its files cannot be read");
		r = -1;
	} else if (r == 1 && strcmp(now.s ? now.s : "", files) != 0) {
		char file[512];

		first_change(now.s ? now.s : "", files, file, sizeof(file));
		snprintf(what, len, "data/%s does not match its checksum", file);
		r = -1;
	}
	buf_release(&now);
	free(text);
	return r;
}

/*
 * dir/sealed/ matches its seal where dir does not (the step was killed while
 * it wrote its next checkpoint): put the snapshot back as data/ and seal.
 * 1 put back, 0 nothing to put back, -1 on errors.
 */
static int
back_to_seal(const char *dir)
{
	char *snap = path_join(dir, "sealed"), *sdata = path_join(snap, "data"), *data = path_join(dir, "data"),
	     *tmp = path_join(dir, "data.new"), *seal = path_join(dir, "seal"), *text = NULL, what[600];
	double epoch, now;
	size_t len;
	int r = 0;

	if (check(snap, &epoch, what, sizeof(what)) == 1 && check(dir, &now, what, sizeof(what)) != 1) {
		r = -1;
		if (link_copy(sdata, tmp) == 0 && kiln_fs_removeat(AT_FDCWD, data) == 0 &&
		    kiln_fs_renameat(AT_FDCWD, tmp, AT_FDCWD, data) == 0) {
			char *sseal = path_join(snap, "seal");

			text = read_file(sseal, &len);
			free(sseal);
			r = text && write_file_atomic(seal, text, len, 0644, 1) == 0 ? 1 : -1;
		}
	}
	free(text);
	free(snap);
	free(sdata);
	free(data);
	free(tmp);
	free(seal);
	return r;
}

int
kiln_checkpoint_prepare(const char *name, const struct kiln_digest *key, double *epoch)
{
	char *dir = kiln_checkpoint_path(name, key), *data = path_join(dir, "data"), what[700];
	struct stat sb;
	int r = 0;

	*epoch = -1;
	remove_others(name, strrchr(dir, '/') + 1);
	if (lstat(dir, &sb) == 0) {
		if (S_ISDIR(sb.st_mode) && back_to_seal(dir) == 1)
			fprintf(stderr, "kiln: target '%s': its checkpoint was being rewritten when the step stopped; "
			    "taking its last sealed one\n", name);
		r = S_ISDIR(sb.st_mode) ? check(dir, epoch, what, sizeof(what)) : -1;
		if (r < 0) {
			fprintf(stderr, "kiln: warning: target '%s': its checkpoint is damaged (%s); it starts clean\n", name,
			    S_ISDIR(sb.st_mode) ? what : "not a folder");
			kiln_fs_removeat(AT_FDCWD, dir);
			*epoch = -1;
			r = 0;
		} else {
			/* Unsealed: an exec step's own files, or a step killed before its first seal. */
			struct buf l = BUF_INIT;

			r = list_data(dir, &l) == 0 && l.len > 0;
			buf_release(&l);
		}
	}
	if (kiln_fs_mkdirsat(AT_FDCWD, data, 0755) < 0) {
		r = error("target '%s': cannot make its checkpoint folder %s:", name, data);
	}
	free(data);
	free(dir);
	return r;
}

void
kiln_checkpoint_remove(const char *name, const struct kiln_digest *key)
{
	char *dir = kiln_checkpoint_path(name, key);

	kiln_fs_removeat(AT_FDCWD, dir);
	free(dir);
}
