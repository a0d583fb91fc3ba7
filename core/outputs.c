/*
 * outputs: keeping, restoring and checking a target's outputs; see outputs.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "key.h"
#include "lock.h"
#include "outputs.h"
#include "paths.h"
#include "remote.h"
#include "workspace.h"

/* v in little-endian order, as kiln_hasher_add_u64 gives it. */
static void
put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void
kiln_outputs_digest(const struct kiln_file *files, size_t n, struct kiln_digest *out)
{
	unsigned char room[1024];
	size_t i, len = 0;
	struct kiln_hasher *h;

	/*
	 * The bytes kiln_hasher_* would stream, gathered on the stack and hashed
	 * in one call (XXH3 streamed and one-shot agree): most targets have a
	 * few outputs, and a hasher per target cost more than their hashing.
	 */
	for (i = 0; i < n; i++) {
		size_t np = strlen(files[i].path);

		if (len + 8 + np + 8 + 16 > sizeof(room))
			break;
		put_u64(room + len, np);
		memcpy(room + len + 8, files[i].path, np);
		put_u64(room + len + 8 + np, files[i].mode);
		memcpy(room + len + 16 + np, files[i].digest.b, 16);
		len += 8 + np + 8 + 16;
	}
	if (i == n) {
		kiln_digest_buf(room, len, out);
		return;
	}
	h = kiln_hasher_new();
	for (i = 0; i < n; i++) {
		kiln_hasher_adds(h, files[i].path);
		kiln_hasher_add_u64(h, files[i].mode);
		kiln_hasher_add_digest(h, &files[i].digest);
	}
	kiln_hasher_digest(h, out);
	kiln_hasher_free(h);
}

/* kiln-out/<name>/<path> into rel (of size n); -1 when it does not fit. */
static int
output_path(char *rel, size_t n, const char *name, const char *path)
{
	static const char dir[] = KILN_OUT_DIR "/";
	size_t nn = strlen(name), np = strlen(path);

	/* Joined by hand: snprintf cost more than the open on a no-op build. */
	if (sizeof(dir) - 1 + nn + 1 + np >= n)
		return -1;
	memcpy(rel, dir, sizeof(dir) - 1);
	memcpy(rel + sizeof(dir) - 1, name, nn);
	rel[sizeof(dir) - 1 + nn] = '/';
	memcpy(rel + sizeof(dir) + nn, path, np + 1);
	return 0;
}

/* Open kiln-out/<name>/<path> for reading, through no link; -1 when it is not a plain file there. */
static int
open_output(const char *name, const char *path, struct stat *sb)
{
	char rel[4096];
	int fd;

	if (output_path(rel, sizeof(rel), name, path) < 0)
		return -1;
	fd = kiln_fs_openat(AT_FDCWD, rel, O_RDONLY | O_NONBLOCK, 0);
	if (fd >= 0 && (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Does f stat (sb) as recorded, and was it not racily new then? Then its bytes are trusted. */
static int
as_recorded(const struct kiln_record *rec, const struct kiln_file *f, const struct stat *sb)
{
	return f->ino == sb->st_ino && f->mtime_ns == ns_of(&sb->st_mtim) && f->ctime_ns == ns_of(&sb->st_ctim) &&
	    f->mtime_ns < rec->seen_ns && f->ctime_ns < rec->seen_ns;
}

int
kiln_outputs_intact(struct kiln_record *rec, int *restat)
{
	size_t i;

	*restat = 0;
	for (i = 0; i < rec->nfiles; i++) {
		struct kiln_file *f = &rec->files[i];
		struct stat sb;
		struct kiln_digest d;
		int fd = open_output(rec->name, f->path, &sb), same;

		if (fd < 0)
			return 0;
		if ((uint64_t)sb.st_size != f->size) {
			close(fd);
			return 0;
		}
		if (as_recorded(rec, f, &sb)) {
			close(fd);
			continue;
		}
		same = kiln_digest_fd(fd, &d) == 0 && kiln_digest_eq(&d, &f->digest);
		close(fd);
		if (!same)
			return 0;
		*restat = 1;
	}
	return 1;
}

/*
 * Does every output of rec stat as recorded? One fstatat beneath kiln-out/
 * (outfd), not following the last component: a link there is not a plain
 * file. On the second thread: no path long enough to need a buffer.
 */
static int
all_as_recorded(int outfd, const struct kiln_record *rec)
{
	static const size_t skip = sizeof(KILN_OUT_DIR);
	size_t i;

	for (i = 0; i < rec->nfiles; i++) {
		const struct kiln_file *f = &rec->files[i];
		char rel[256];
		struct stat sb;

		if (output_path(rel, sizeof(rel), rec->name, f->path) < 0 ||
		    fstatat(outfd, rel + skip, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != f->size || !as_recorded(rec, f, &sb))
			return 0;
	}
	return 1;
}

/* Check the records not yet taken, with whichever thread gets there first. */
static void *
ahead_run(void *arg)
{
	struct kiln_outputs_ahead *a = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&a->next, 1, __ATOMIC_RELAXED)) < a->n)
		a->same[i] = (unsigned char)(a->outfd >= 0 && all_as_recorded(a->outfd, a->recs[i]));
	return NULL;
}

void
kiln_outputs_ahead_start(struct kiln_outputs_ahead *a)
{
	sigset_t all, old;

	a->same = xcalloc(a->n + 1, 1);
	a->next = 0;
	a->started = 0;
	/*
	 * Through no link, once; without it (no outputs yet) kiln_outputs_intact
	 * checks each record. Unwrapped: not a failure-injection site, as the
	 * fallback is the whole answer.
	 */
	a->outfd = (kiln_fs_openat)(AT_FDCWD, KILN_OUT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	/* Below a few dozen targets a thread costs more than it saves. */
	if (a->n < 64 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	/* Signals stay the first thread's (the scheduler's signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	a->started = pthread_create(&a->th, NULL, ahead_run, a) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void
kiln_outputs_ahead_join(struct kiln_outputs_ahead *a)
{
	/* What the second thread has not reached yet, this one checks. */
	if (a->same)
		ahead_run(a);
	if (a->started)
		pthread_join(a->th, NULL);
	a->started = 0;
}

void
kiln_outputs_ahead_release(struct kiln_outputs_ahead *a)
{
	/* What is not checked yet need not be. */
	__atomic_store_n(&a->next, a->n, __ATOMIC_RELAXED);
	kiln_outputs_ahead_join(a);
	if (a->same && a->outfd >= 0)
		close(a->outfd);
	free(a->same);
	a->same = NULL;
}

/* Stat the installed outputs again, for the record. */
static void
restat(const char *name, struct kiln_file *files, size_t n)
{
	struct stat sb;
	size_t i;

	for (i = 0; i < n; i++) {
		int fd = open_output(name, files[i].path, &sb);

		if (fd < 0)
			continue;
		files[i].ino = sb.st_ino;
		files[i].mtime_ns = ns_of(&sb.st_mtim);
		files[i].ctime_ns = ns_of(&sb.st_ctim);
		close(fd);
	}
}

int
kiln_outputs_record(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    struct kiln_file *files, size_t nfiles, struct kiln_metric *metrics, size_t nmetrics, uint32_t flags)
{
	struct kiln_record rec = {0};
	struct buf params = BUF_INIT;
	int r;

	kiln_lock_params(&params, kiln_target_params(t));
	rec.params = params.s ? params.s : "";
	rec.name = t->name;
	rec.key = ki->key;
	rec.seen_ns = kiln_fs_now_ns();
	restat(t->name, files, nfiles);
	rec.flags = flags;
	rec.comps = ki->comps;
	rec.ncomps = ki->ncomps;
	rec.files = files;
	rec.nfiles = nfiles;
	rec.metrics = metrics;
	rec.nmetrics = nmetrics;
	kiln_outputs_digest(files, nfiles, &t->outdigest);
	r = kiln_state_put(&ws->state, &rec);
	buf_release(&params);
	return r;
}

/* Replace kiln-out/<name> with the folder `from`, never leaving a mix of old and new. */
static int
install(struct kiln_target *t, const char *from)
{
	char *dest = xasprintf(KILN_OUT_DIR "/%s", t->name);
	char *old = xasprintf(KILN_TMP_DIR "/%s.old", t->name);
	int r = 0, fd = kiln_fs_mkdirsat(AT_FDCWD, KILN_OUT_DIR, 0755);

	if (fd < 0) {
		r = error("cannot create " KILN_OUT_DIR ":");
		goto out;
	}
	close(fd);
	kiln_fs_removeat(AT_FDCWD, old);
	if (kiln_fs_renameat(AT_FDCWD, dest, AT_FDCWD, old) < 0 && errno != ENOENT) {
		r = error("cannot move %s aside:", dest);
		goto out;
	}
	if (kiln_fs_renameat(AT_FDCWD, from, AT_FDCWD, dest) < 0)
		r = error("cannot put the outputs of '%s' in place:", t->name);
	kiln_fs_removeat(AT_FDCWD, old);
out:
	free(dest);
	free(old);
	return r;
}

char *
kiln_outputs_scratch(const char *name, const char *sub)
{
	char *dir = xasprintf(KILN_TMP_DIR "/%s/%s", name, sub);
	int fd;

	kiln_fs_removeat(AT_FDCWD, dir);
	fd = kiln_fs_mkdirsat(AT_FDCWD, dir, 0755);
	if (fd < 0) {
		error("cannot create %s:", dir);
		free(dir);
		return NULL;
	}
	close(fd);
	return dir;
}

/* Is `path` the declared output `out`, or a file below the declared folder `out`? */
static int
within(const char *path, const char *out)
{
	size_t n = strlen(out);

	return strncmp(path, out, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * Does the entry name exactly t's declared outputs: every file within one,
 * every one present? A remote's entry could otherwise add a file to
 * kiln-out/ or leave an output out.
 */
static int
fits(const struct kiln_target *t, const struct kiln_action *act)
{
	size_t i, k;

	for (i = 0; i < act->nfiles; i++) {
		for (k = 0; k < t->noutputs && !within(act->files[i].path, t->outputs[k]); k++)
			;
		if (k == t->noutputs || !path_is_safe_relative(act->files[i].path))
			return 0;
	}
	for (k = 0; k < t->noutputs; k++) {
		for (i = 0; i < act->nfiles && !within(act->files[i].path, t->outputs[k]); i++)
			;
		if (i == act->nfiles)
			return 0;
	}
	return 1;
}

/* Put each of act's files in dir from the cache: 1 all there, 0 one is missing or damaged, -1 error. */
static int
restore_files(struct kiln_workspace *ws, const struct kiln_action *act, const char *dir)
{
	size_t i;
	int ret = 1;

	for (i = 0; i < act->nfiles && ret == 1; i++) {
		char *dest = path_join(dir, act->files[i].path);
		char *slash = strrchr(dest, '/');
		int fd, c;

		*slash = '\0';
		fd = kiln_fs_mkdirsat(AT_FDCWD, dest, 0755);
		if (fd < 0)
			ret = error("cannot create %s:", dest);
		else
			close(fd);
		*slash = '/';
		if (ret == 1) {
			c = kiln_cache_restore(&ws->cache, &act->files[i], dest);
			ret = c == 0 ? 1 : c == 1 ? 0 : -1;
		}
		free(dest);
	}
	return ret;
}

int
kiln_outputs_restore(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    const struct kiln_action *act)
{
	char *dir, *top;
	struct kiln_file *files;
	int ret;

	if (!fits(t, act)) {
		warn("the cache entry for '%s' does not name exactly its declared outputs; not used", t->name);
		return 0;
	}
	dir = kiln_outputs_scratch(t->name, "restore");
	if (!dir)
		return -1;
	ret = restore_files(ws, act, dir);
	if (ret == 1 && install(t, dir) < 0)
		ret = -1;
	if (ret == 1) {
		files = xreallocarray(NULL, act->nfiles + 1, sizeof(*files));
		memcpy(files, act->files, act->nfiles * sizeof(*files));
		kiln_outputs_record(ws, t, ki, files, act->nfiles, act->metrics, act->nmetrics, act->flags);
		free(files);
	}
	free(dir);
	top = xasprintf(KILN_TMP_DIR "/%s", t->name);
	kiln_fs_removeat(AT_FDCWD, top);
	free(top);
	return ret;
}

int
kiln_outputs_record_remote(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    const struct kiln_action *act)
{
	char *dest = xasprintf(KILN_OUT_DIR "/%s", t->name);
	struct kiln_file *files = xreallocarray(NULL, act->nfiles + 1, sizeof(*files));
	size_t i;
	int r;

	kiln_fs_removeat(AT_FDCWD, dest);
	memcpy(files, act->files, act->nfiles * sizeof(*files));
	/* No stat: there is no file here to compare with. */
	for (i = 0; i < act->nfiles; i++)
		files[i].ino = files[i].mtime_ns = files[i].ctime_ns = 0;
	r = kiln_outputs_record(ws, t, ki, files, act->nfiles, act->metrics, act->nmetrics, act->flags | KILN_REC_REMOTE);
	free(files);
	free(dest);
	return r;
}

struct kiln_record *
kiln_outputs_remote_only(struct kiln_workspace *ws, const struct kiln_target *t)
{
	struct kiln_record *rec = kiln_state_get(&ws->state, t->name);

	return rec && (rec->flags & KILN_REC_REMOTE) && kiln_digest_eq(&rec->key, &t->key) ? rec : NULL;
}

int
kiln_outputs_materialize(struct kiln_workspace *ws, struct kiln_target *t, struct kiln_record *rec)
{
	struct kiln_keyinfo ki = {0};
	struct kiln_action act;
	struct arena a = {0};
	int ret = 0;

	kiln_state_comps(&ws->state, rec);
	ki.comps = rec->comps;
	ki.ncomps = rec->ncomps;
	ki.key = rec->key;
	if (kiln_cache_get_action(&ws->cache, &rec->key, &act, &a)) {
		act.flags &= ~KILN_REC_REMOTE;
		ret = kiln_outputs_restore(ws, t, &ki, &act);
	}
	arena_release(&a);
	return ret;
}

/*
 * The file `path` of one of t's inputs, as the step named it: its digest
 * and size, from the dependency's record or the stat cache. 0, or -1 when
 * no input holds it (or it is not a plain file), the reason in why.
 */
static int
input_file(struct kiln_workspace *ws, const struct kiln_target *t, const char *path, struct kiln_file *f,
    struct buf *why)
{
	struct stat sb;
	size_t i, k;
	int fd;

	for (i = 0; i < t->ninputs; i++) {
		const struct kiln_input *in = &t->inputs[i];
		struct kiln_record *rec;

		if (in->kind == KILN_INPUT_TARGET && in->path && within(path, in->path) &&
		    (rec = kiln_state_get(&ws->state, in->dep->name))) {
			for (k = 0; k < rec->nfiles; k++)
				if (strcmp(rec->files[k].path, path + strlen(in->path) + 1) == 0) {
					*f = rec->files[k];
					return 0;
				}
		}
		for (k = 0; in->kind != KILN_INPUT_TARGET && k < in->nfiles && !within(path, in->files[k]); k++)
			;
		if (in->kind == KILN_INPUT_TARGET || k == in->nfiles)
			continue;
		fd = kiln_fs_openat(AT_FDCWD, path, O_RDONLY | O_NONBLOCK, 0);
		if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    kiln_state_file_digest(&ws->state, path, &sb, &f->digest) == 0) {
			close(fd);
			f->size = sb.st_size;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		break;
	}
	buf_printf(why, "it named '%s' as an unchanged input, which is not a file of its inputs", path);
	return -1;
}

/* Put the input file `path` at the output `output` in dir: from its blob (a link where it may), else a copy. */
static int
same_one(struct kiln_workspace *ws, const struct kiln_target *t, const char *dir, const struct kiln_same *sm,
    struct buf *why)
{
	struct kiln_file f = {0};
	char *dest, *slash;
	size_t k;
	int fd, r = -1;

	for (k = 0; k < t->noutputs && !within(sm->output, t->outputs[k]); k++)
		;
	if (k == t->noutputs || !path_is_safe_relative(sm->output)) {
		buf_printf(why, "it named '%s' as an unchanged output, which is not one of its declared outputs",
		    sm->output);
		return -1;
	}
	if ((*sm->path == '/' ? !path_is_safe_relative(sm->path + 1) : !path_is_safe_relative(sm->path)) ||
	    input_file(ws, t, sm->path, &f, why) < 0) {
		if (!why->len)
			buf_printf(why, "it named '%s' as an unchanged input, which kiln refuses", sm->path);
		return -1;
	}
	f.mode = 0644;
	dest = path_join(dir, sm->output);
	slash = strrchr(dest, '/');
	*slash = '\0';
	fd = kiln_fs_mkdirsat(AT_FDCWD, dest, 0755);
	*slash = '/';
	if (fd >= 0) {
		close(fd);
		if (kiln_cache_has_blob(&ws->cache, &f.digest) && kiln_cache_restore(&ws->cache, &f, dest) == 0)
			r = 0;
		else
			r = copy_file(sm->path, dest, 0644);
	}
	if (r < 0)
		buf_printf(why, "cannot put its input %s at its output %s: %s", sm->path, sm->output, strerror(errno));
	free(dest);
	return r;
}

int
kiln_outputs_same(struct kiln_workspace *ws, const struct kiln_target *t, const struct kiln_same *same, size_t n,
    struct buf *why)
{
	char *dir = xasprintf(KILN_TMP_DIR "/%s/out", t->name);
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++)
		r = same_one(ws, t, dir, &same[i], why);
	free(dir);
	return r;
}

/* Move the declared outputs from out/ to a fresh final/ folder: only they go into kiln-out. */
static char *
gather(struct kiln_target *t, const char *out)
{
	char *final = kiln_outputs_scratch(t->name, "final");
	size_t i;

	for (i = 0; final && i < t->noutputs; i++) {
		char *from = path_join(out, t->outputs[i]), *to = path_join(final, t->outputs[i]);
		int r = kiln_fs_renameat(AT_FDCWD, from, AT_FDCWD, to);

		if (r < 0) {
			error("cannot move %s to %s:", from, to);
			free(final);
			final = NULL;
		}
		free(from);
		free(to);
	}
	return final;
}

int
kiln_outputs_keep(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    struct kiln_metric *metrics, size_t nmetrics, uint32_t flags, struct buf *why)
{
	struct kiln_filelist fs = {0};
	struct kiln_action act = {0};
	char *out = xasprintf(KILN_TMP_DIR "/%s/out", t->name), *final = NULL;
	int ret = -1, dirfd = kiln_fs_openat(AT_FDCWD, out, O_RDONLY | O_DIRECTORY, 0);

	if (dirfd < 0) {
		buf_printf(why, "its output folder %s is gone or was replaced by a link", out);
		goto done;
	}
	if (kiln_cache_put_outputs(&ws->cache, &fs, dirfd, t->outputs, t->noutputs, why) != KILN_PUT_OK)
		goto done;
	kiln_filelist_sort(&fs);
	act.files = fs.v;
	act.nfiles = fs.n;
	act.metrics = metrics;
	act.nmetrics = nmetrics;
	act.flags = flags;
	/* A side effect's outputs are kept in kiln-out/ but never offered for a restore. */
	if (t->effect)
		;
	else if (kiln_cache_put_action(&ws->cache, &ki->key, &act) < 0) {
		buf_adds(why, "cannot write its cache entry");
		goto done;
	}
	/* Share it, in the background; a remote that fails only warns, the step still succeeded. */
	if (ws->remote && !t->effect)
		kiln_remote_upload(ws->remote, &ki->key, &act, t->name);
	final = gather(t, out);
	if (!final || install(t, final) < 0) {
		buf_adds(why, "cannot put its outputs in place");
		goto done;
	}
	kiln_outputs_record(ws, t, ki, fs.v, fs.n, metrics, nmetrics, flags);
	ret = 0;
done:
	if (dirfd >= 0)
		close(dirfd);
	kiln_filelist_release(&fs);
	free(out);
	free(final);
	return ret;
}
