/*
 * ckptshare: checkpoints through the remote cache; see ckptshare.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "checkpoint.h"
#include "ckptshare.h"
#include "fs.h"
#include "paths.h"
#include "remote.h"
#include "util.h"

/* The names in the folder dfd (not closed), malloc'd, their count in *n; NULL with *n 0 when it cannot be read. */
static char **
names_in(int dfd, size_t *n)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	char **v = NULL;

	*n = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			v = xreallocarray(v, *n + 1, sizeof(*v));
			v[(*n)++] = xstrdup(e->d_name);
		}
	closedir(d);
	return v;
}

/* Does the file list fl hold exactly the files of the seal's listing `files`? */
static int
matches_seal(const struct kiln_filelist *fl, const char *files)
{
	size_t i, lines = 0;
	const char *p;

	for (p = files; *p; p++)
		lines += *p == '\n';
	if (lines != fl->n)
		return 0;
	for (i = 0; i < fl->n; i++) {
		char hex[KILN_DIGEST_HEX], *line = xasprintf("\n%s\t%s\n", fl->v[i].path,
		    kiln_digest_hex(&fl->v[i].digest, hex));
		int found = strncmp(files, line + 1, strlen(line + 1)) == 0 || strstr(files, line);

		free(line);
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * Store the files of dir/data in c, into fl. KILN_CKPT_SENT when they are
 * all there, _PARTIAL when one went while it was read, _FAILED (warned).
 */
static int
take(struct kiln_cache *c, const char *name, const char *dir, struct kiln_filelist *fl)
{
	char *data = path_join(dir, "data"), **names;
	struct buf why = BUF_INIT;
	size_t n, i;
	int dfd = kiln_fs_openat(AT_FDCWD, data, O_RDONLY | O_DIRECTORY, 0), r = KILN_CKPT_SENT;

	names = dfd < 0 ? NULL : names_in(dfd, &n);
	if (dfd < 0) {
		r = errno == ENOENT ? KILN_CKPT_PARTIAL : KILN_CKPT_FAILED;
		buf_printf(&why, "cannot open %s: %s", data, strerror(errno));
	} else {
		int put = kiln_cache_put_outputs(c, fl, dfd, (const char *const *)names, n, &why);

		r = put == KILN_PUT_OK ? KILN_CKPT_SENT : put == KILN_PUT_MISSING ? KILN_CKPT_PARTIAL : KILN_CKPT_FAILED;
		kiln_filelist_sort(fl);
	}
	if (r == KILN_CKPT_FAILED)
		warn("target '%s': its checkpoint cannot be uploaded (%s)", name, why.s ? why.s : "?");
	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (dfd >= 0)
		close(dfd);
	buf_release(&why);
	free(data);
	return r;
}

int
kiln_ckptshare_send(struct kiln_remote *r, struct kiln_cache *c, const char *name, const struct kiln_digest *key,
    struct kiln_digest *sent)
{
	char *dir, *seal = NULL;
	const char *files = NULL;
	struct kiln_filelist fl = {0};
	struct kiln_metric m = {"epoch", -1};
	struct kiln_action act = {0};
	struct kiln_digest mark;
	struct buf entry = BUF_INIT;
	int sealed, ret;

	if (kiln_remote_checkpoint_busy(r, key) || !kiln_remote_can_upload(r))
		return KILN_CKPT_SAME;
	dir = kiln_checkpoint_path(name, key);
	sealed = kiln_checkpoint_read_seal(dir, &m.value, &seal, &files);
	/* A sealed checkpoint changes with its seal: an unchanged seal costs one read. */
	if (sealed == 1)
		kiln_digest_buf(seal, strlen(seal), &mark);
	if (sealed < 0 || (sealed == 1 && kiln_digest_eq(&mark, sent))) {
		ret = sealed < 0 ? KILN_CKPT_PARTIAL : KILN_CKPT_SAME;
		goto done;
	}
	ret = take(c, name, dir, &fl);
	if (ret == KILN_CKPT_SENT && sealed == 1 && !matches_seal(&fl, files))
		ret = KILN_CKPT_PARTIAL;	/* written since it was sealed: the next seal is coming */
	if (ret == KILN_CKPT_SENT && fl.n == 0)
		ret = KILN_CKPT_SAME;	/* nothing written yet */
	if (ret != KILN_CKPT_SENT)
		goto done;
	act.files = fl.v;
	act.nfiles = fl.n;
	act.metrics = &m;
	act.nmetrics = sealed == 1;
	if (sealed != 1) {
		/* An exec step's own files: they changed when their listing did. */
		kiln_action_format(&entry, &act);
		kiln_digest_buf(entry.s ? entry.s : "", entry.len, &mark);
		if (kiln_digest_eq(&mark, sent)) {
			ret = KILN_CKPT_SAME;
			goto done;
		}
	}
	ret = kiln_remote_put_checkpoint(r, key, &act, name) ? KILN_CKPT_SENT : KILN_CKPT_SAME;
	if (ret == KILN_CKPT_SENT)
		*sent = mark;
done:
	buf_release(&entry);
	kiln_filelist_release(&fl);
	free(seal);
	free(dir);
	return ret;
}

/* Put act's files under tmp/data, each checked: 0, or -1 with the reason in why. */
static int
restore_files(struct kiln_cache *c, const char *tmp, const struct kiln_action *act, struct buf *why)
{
	size_t i;

	for (i = 0; i < act->nfiles; i++) {
		const struct kiln_file *f = &act->files[i];
		char *dest = xasprintf("%s/data/%s", tmp, f->path), *slash;
		int r = 0;

		/* The server's entry is not trusted: no name may climb out of data/. */
		if (!path_is_safe_relative(f->path)) {
			buf_printf(why, "it names the file '%s'", f->path);
			r = -1;
		}
		slash = strrchr(dest, '/');
		*slash = 0;
		if (r == 0 && kiln_fs_mkdirsat(AT_FDCWD, dest, 0755) < 0) {
			buf_printf(why, "cannot make %s: %s", dest, strerror(errno));
			r = -1;
		}
		*slash = '/';
		if (r == 0 && kiln_cache_restore(c, f, dest) != 0) {
			buf_printf(why, "its file %s could not be put in place", f->path);
			r = -1;
		}
		free(dest);
		if (r < 0)
			return -1;
	}
	return 0;
}

int
kiln_ckptshare_unpack(struct kiln_cache *c, const char *name, const struct kiln_digest *key,
    const struct kiln_action *act, double *epoch)
{
	char *tmp = xasprintf(KILN_TMP_DIR "/%s.checkpoint", name), *data = path_join(tmp, "data");
	char *final = kiln_checkpoint_path(name, key);
	struct buf why = BUF_INIT;
	size_t i;
	int r = 0;

	*epoch = -1;
	for (i = 0; i < act->nmetrics; i++)
		if (strcmp(act->metrics[i].name, "epoch") == 0)
			*epoch = act->metrics[i].value;
	kiln_fs_removeat(AT_FDCWD, tmp);
	if (kiln_fs_mkdirsat(AT_FDCWD, data, 0755) < 0 || kiln_fs_mkdirsat(AT_FDCWD, KILN_CHECKPOINT_DIR, 0755) < 0) {
		buf_printf(&why, "cannot make %s: %s", data, strerror(errno));
		r = -1;
	}
	if (r == 0)
		r = restore_files(c, tmp, act, &why);
	if (r == 0 && *epoch >= 0 && kiln_checkpoint_seal(tmp, *epoch) < 0) {
		buf_printf(&why, "cannot seal it: %s", strerror(errno));
		r = -1;
	}
	if (r == 0) {
		kiln_fs_removeat(AT_FDCWD, final);
		if (rename(tmp, final) < 0) {
			buf_printf(&why, "cannot rename it to %s: %s", final, strerror(errno));
			r = -1;
		}
	}
	if (r < 0) {
		warn("target '%s': the checkpoint fetched from the remote cache is not taken (%s); it starts clean", name,
		    why.s ? why.s : "?");
		kiln_fs_removeat(AT_FDCWD, tmp);
	}
	buf_release(&why);
	free(data);
	free(tmp);
	free(final);
	return r;
}
