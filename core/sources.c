/*
 * sources: tracked sources (kiln add); see sources.h.
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
#include "paths.h"
#include "remote.h"
#include "sources.h"
#include "graph.h"
#include "workspace.h"

/* The pointer format: its writer and its reader side by side. */

static void
pointer_format(struct buf *b, const struct kiln_pointer *p)
{
	char d[KILN_DIGEST_HEX], e[KILN_DIGEST_HEX];

	buf_printf(b, "kiln-source 1\nkind %s\ndigest %s\nentry %s\nsize %llu\nfiles %llu\n",
	    p->folder ? "folder" : "file", kiln_digest_hex(&p->digest, d), kiln_digest_hex(&p->entry, e),
	    (unsigned long long)p->size, (unsigned long long)p->files);
}

static int
pointer_parse(const char *text, struct kiln_pointer *p)
{
	char kind[8], d[33], e[33];
	unsigned long long size, files;
	int n = 0;

	memset(p, 0, sizeof(*p));
	if (sscanf(text, "kiln-source 1\nkind %7s\ndigest %32s\nentry %32s\nsize %llu\nfiles %llu\n%n", kind, d, e,
	    &size, &files, &n) != 5 || n == 0 || text[n] != '\0')
		return -1;
	if (kiln_digest_parse(d, &p->digest) < 0 || kiln_digest_parse(e, &p->entry) < 0)
		return -1;
	if (strcmp(kind, "folder") == 0)
		p->folder = 1;
	else if (strcmp(kind, "file") != 0)
		return -1;
	p->size = size;
	p->files = files;
	return 0;
}

int
kiln_sources_pointer(const char *path, struct kiln_pointer *p)
{
	char *ptr = xasprintf("%s" KILN_POINTER_EXT, path), *text;
	size_t len;
	int r = 1;

	text = read_file(ptr, &len);
	if (!text)
		r = errno == ENOENT || errno == ENOTDIR ? 0 : error("cannot read %s:", ptr);
	else if (strlen(text) != len || pointer_parse(text, p) < 0)
		r = error("%s is not a pointer kiln add wrote (kiln-source 1); restore it from git", ptr);
	free(text);
	free(ptr);
	return r;
}

/* Adding. */

struct adding {
	struct kiln_workspace *ws;
	struct kiln_filelist fl;
	char **paths;		/* each entry's file, beside fl.v */
	size_t cap;
	int *failed;		/* per entry: its blob could not be stored */
	const char *top;	/* the tracked folder */
	uint64_t size;
};

/* Note one file of the tracked path (size bytes, executable or not); rel is its entry's path. */
static void
note(struct adding *ad, const char *path, const char *rel, uint64_t size, int exec)
{
	struct kiln_file *f;

	if (ad->fl.n == ad->cap) {
		ad->cap = ad->cap ? 2 * ad->cap : 64;
		ad->fl.v = xreallocarray(ad->fl.v, ad->cap, sizeof(*ad->fl.v));
		ad->paths = xreallocarray(ad->paths, ad->cap, sizeof(*ad->paths));
	}
	ad->paths[ad->fl.n] = xstrdup(path);
	f = &ad->fl.v[ad->fl.n++];
	memset(f, 0, sizeof(*f));
	f->path = arena_strdup(&ad->fl.arena, rel);
	f->size = size;
	f->mode = exec ? 0755 : 0644;
	ad->size += f->size;
}

static void
store_one(void *arg, size_t i)
{
	struct adding *ad = arg;

	ad->failed[i] = kiln_cache_put_blob(&ad->ws->cache, ad->paths[i], &ad->fl.v[i].digest) < 0;
}

/* Store every noted file's blob, on several threads. */
static int
store_all(struct adding *ad)
{
	size_t i;

	ad->failed = xcalloc(ad->fl.n + 1, sizeof(*ad->failed));
	parallel_for(ad->fl.n, store_one, ad);
	for (i = 0; i < ad->fl.n; i++)
		if (ad->failed[i])
			return -1;
	return 0;
}

/* A file of the tracked folder's walk (kiln_state_tree_files), with its digest. */
static void
walked(void *arg, const char *path, uint64_t size, int exec, const struct kiln_digest *d)
{
	struct adding *ad = arg;

	note(ad, path, path + strlen(ad->top) + 1, size, exec);
	ad->fl.v[ad->fl.n - 1].digest = *d;
}

static void
adding_release(struct adding *ad)
{
	size_t i;

	for (i = 0; i < ad->fl.n; i++)
		free(ad->paths[i]);
	free(ad->paths);
	free(ad->failed);
	kiln_filelist_release(&ad->fl);
}

/* The error for path, which is neither a file nor a folder. */
static int
not_data(const char *path, const struct stat *sb)
{
	if (S_ISLNK(sb->st_mode))
		return error("kiln add: %s is a symbolic link; kiln add stores files and folders and follows no link "
		    "(add what it points to, or copy it in)", path);
	return error("kiln add: %s is not a regular file or folder (kiln keeps files and folders)", path);
}

/*
 * Is everything beneath the folder path, open as dfd (closed here), a file
 * or a folder? Nothing is followed: a link in the folder is refused, and
 * each subfolder is opened from its parent with O_NOFOLLOW, so no link
 * swapped in during the check is taken either.
 */
static int
check_tree(int dfd, const char *path)
{
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *e;
	int r = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return error("kiln add: cannot read the folder %s:", path);
	}
	while (r == 0 && (e = readdir(d))) {
		char *p;
		struct stat sb;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = path_join(path, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			r = error("kiln add: cannot read %s:", p);
		else if (S_ISDIR(sb.st_mode))
			r = check_tree(openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), p);
		else if (!S_ISREG(sb.st_mode))
			r = not_data(p, &sb);
		free(p);
	}
	closedir(d);
	return r;
}

/* path relative and inside the workspace, not one of kiln's own, no trailing "/". */
static char *
check_path(struct kiln_workspace *ws, const char *arg)
{
	char *path = xstrdup(arg);
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	if (!path_is_safe_relative(path) || !kiln_workspace_inside(ws, path)) {
		error("kiln add: %s: give a path inside the workspace, relative to it", arg);
	} else if (strncmp(path, KILN_DIR, strlen(KILN_DIR)) == 0 || strncmp(path, KILN_OUT_DIR,
	    strlen(KILN_OUT_DIR)) == 0 || strcmp(path, KILN_FILE) == 0) {
		error("kiln add: %s is kiln's own; track your data instead", arg);
	} else if (n > strlen(KILN_POINTER_EXT) && strcmp(path + n - strlen(KILN_POINTER_EXT), KILN_POINTER_EXT) == 0) {
		error("kiln add: %s is a pointer; give the data it names", arg);
	} else {
		return path;
	}
	free(path);
	return NULL;
}

/* Add (or, when `drop`, remove) the line "/NAME" in the .gitignore of path's folder. */
static int
gitignore(const char *path, int drop)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash - path) : xstrdup(".");
	char *gi = path_join(dir, ".gitignore");
	char *line = xasprintf("/%s", slash ? slash + 1 : path);
	size_t len = 0, ll = strlen(line);
	char *text = read_file(gi, &len), *p;
	struct buf b = BUF_INIT;
	int found = 0, r = 0;

	for (p = text; p && *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n == ll && memcmp(p, line, n) == 0)
			found = 1;
		else
			buf_printf(&b, "%.*s\n", (int)n, p);
		p += n + (nl != NULL);
	}
	if (!drop)
		buf_printf(&b, "%s\n", line);
	if ((drop ? found : !found) && write_file_atomic(gi, b.s ? b.s : "", b.len, 0644, 1) < 0)
		r = error("cannot write %s:", gi);
	buf_release(&b);
	free(text);
	free(line);
	free(gi);
	free(dir);
	return r;
}

/* The entry of ad's files: stored in the cache under the digest of its text, which is returned in key. */
static int
put_entry(struct adding *ad, struct kiln_digest *key)
{
	struct kiln_action act = {0};
	struct buf b = BUF_INIT;

	kiln_filelist_sort(&ad->fl);
	act.files = ad->fl.v;
	act.nfiles = ad->fl.n;
	kiln_action_format(&b, &act);
	kiln_digest_buf(b.s, b.len, key);
	buf_release(&b);
	return kiln_cache_has_action(&ad->ws->cache, key) ? 0 : kiln_cache_put_action(&ad->ws->cache, key, &act);
}

static int
add_path(struct adding *ad, const char *path, struct kiln_pointer *p)
{
	struct stat sb;
	const char *base = strrchr(path, '/');

	if (lstat(path, &sb) < 0)
		return error("kiln add: %s:", path);
	p->folder = S_ISDIR(sb.st_mode);
	if (p->folder) {
		ad->top = path;
		/* The walk that digests the folder records each of its files in its folder's record. */
		if (check_tree(open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), path) < 0)
			return -1;
		if (kiln_state_tree_files(&ad->ws->state, path, &p->digest, walked, ad) < 0)
			return error("kiln add: cannot read the folder %s:", path);
		if (store_all(ad) < 0)
			return -1;
	} else if (S_ISREG(sb.st_mode)) {
		note(ad, path, base ? base + 1 : path, sb.st_size, (sb.st_mode & 0111) != 0);
		if (kiln_state_file_digest(&ad->ws->state, path, &sb, &ad->fl.v[0].digest) < 0)
			return error("kiln add: cannot read %s:", path);
		if (store_all(ad) < 0)
			return -1;
		p->digest = ad->fl.v[0].digest;
	} else {
		return not_data(path, &sb);
	}
	p->size = ad->size;
	p->files = ad->fl.n;
	return put_entry(ad, &p->entry);
}

int
kiln_sources_add(struct kiln_workspace *ws, const char *arg)
{
	struct adding ad = {.ws = ws};
	struct kiln_pointer p = {0}, old;
	struct buf b = BUF_INIT;
	char *path = check_path(ws, arg), *ptr = NULL, sz[32];
	int r = -1, had;

	if (!path)
		return -1;
	had = kiln_sources_pointer(path, &old);
	if (had >= 0 && add_path(&ad, path, &p) == 0) {
		/* The pointer last: a kiln killed before here leaves no pointer to blobs the cache lacks. */
		ptr = xasprintf("%s" KILN_POINTER_EXT, path);
		pointer_format(&b, &p);
		if (write_file_atomic(ptr, b.s, b.len, 0644, 1) < 0)
			error("kiln add: cannot write %s:", ptr);
		else if (gitignore(path, 0) == 0)
			r = 0;
	}
	if (r == 0)
		printf("kiln: %s %s: %llu file%s, %s -> %s\n", had == 1 && kiln_digest_eq(&old.digest, &p.digest) ?
		    "unchanged" : had == 1 ? "updated" : "added", path, (unsigned long long)p.files, p.files == 1 ? "" : "s",
		    format_size(sz, sizeof(sz), p.size), ptr);
	buf_release(&b);
	adding_release(&ad);
	free(ptr);
	free(path);
	return r;
}

int
kiln_sources_remove(struct kiln_workspace *ws, const char *arg)
{
	char *path = check_path(ws, arg), *ptr;
	struct kiln_pointer p;
	int r;

	if (!path)
		return -1;
	ptr = xasprintf("%s" KILN_POINTER_EXT, path);
	r = kiln_sources_pointer(path, &p);
	if (r == 0)
		r = error("kiln add --remove: %s is not tracked (there is no %s)", path, ptr);
	else if (r > 0 && unlink(ptr) < 0)
		r = error("cannot remove %s:", ptr);
	else if (r > 0)
		r = gitignore(path, 1);
	if (r == 0)
		printf("kiln: %s is no longer tracked; its data stays where it is\n", path);
	free(ptr);
	free(path);
	return r;
}

/* Restoring. */

int
kiln_sources_entry(struct kiln_workspace *ws, const struct kiln_pointer *p, struct kiln_action *act,
    struct arena *a)
{
	return kiln_cache_get_action(&ws->cache, &p->entry, act, a);
}

/*
 * Put act's files beneath tmp (the file itself, for a tracked file). 0, or 1
 * when a blob is missing or damaged. Copies, never links: the user edits these.
 */
static int
restore_files(struct kiln_workspace *ws, const struct kiln_action *act, const char *tmp, int folder)
{
	size_t i;
	int r = 0;

	if (!folder)
		return act->nfiles == 1 ? kiln_cache_restore_as(&ws->cache, &act->files[0], tmp, KILN_LINK_COPY) : 1;
	if (mkdir_p(tmp, 0755) < 0)
		return error("cannot create %s:", tmp);
	for (i = 0; i < act->nfiles && r == 0; i++) {
		char *dest = path_join(tmp, act->files[i].path), *slash = strrchr(dest, '/');

		*slash = '\0';
		r = mkdir_p(dest, 0755) < 0 ? error("cannot create %s:", dest) : 0;
		*slash = '/';
		if (r == 0)
			r = kiln_cache_restore_as(&ws->cache, &act->files[i], dest, KILN_LINK_COPY);
		free(dest);
	}
	return r;
}

int
kiln_sources_restore(struct kiln_workspace *ws, const char *path, const struct kiln_pointer *p,
    const char *what)
{
	struct kiln_action act;
	struct arena a = {0};
	char *tmp = xasprintf("%s.kiln-part", path), sz[32];
	const char *from = "the local cache";
	int r = -1, got = kiln_sources_entry(ws, p, &act, &a);

	if (!got && ws->remote) {
		from = kiln_remote_base(ws->remote);
		fprintf(stderr, "kiln: %s: fetching %s (%llu file%s) from the remote cache %s\n", path,
		    format_size(sz, sizeof(sz), p->size), (unsigned long long)p->files, p->files == 1 ? "" : "s", from);
		if (kiln_remote_fetch_source(ws->remote, &p->entry, path) == 1)
			got = kiln_sources_entry(ws, p, &act, &a);
	}
	remove_tree(tmp);
	if (!got) {
		error("%s: %s is missing; %s" KILN_POINTER_EXT " tracks it, but the local cache lacks its files and %s",
		    what, path, path, ws->remote ? "the remote cache did not provide them (see above; run kiln push "
		    "where it was added)" : "there is no remote cache (give --remote, or run kiln add where the data is)");
	} else if ((r = restore_files(ws, &act, tmp, p->folder)) != 0) {
		r = error("%s: %s: a blob it needs is missing from the cache or damaged (run kiln fsck, then kiln pull)",
		    what, path);
	} else if (rename(tmp, path) < 0) {
		r = error("cannot rename %s to %s:", tmp, path);
	} else {
		fprintf(stderr, "kiln: %s: restored from %s (tracked by %s" KILN_POINTER_EXT ")\n", path, from, path);
	}
	if (r != 0)
		remove_tree(tmp);
	arena_release(&a);
	free(tmp);
	return r;
}

static int
cmp_input(const void *a, const void *b)
{
	return strcmp((*(struct kiln_input *const *)a)->spec, (*(struct kiln_input *const *)b)->spec);
}

long
kiln_sources_each(struct kiln_workspace *ws, kiln_sources_fn *fn, void *arg)
{
	struct kiln_graph *g = &ws->graph;
	struct kiln_input **v = NULL;
	size_t n = 0, i, j;
	long calls = 0;

	for (i = 0; i < g->ntargets; i++)
		for (j = 0; g->targets[i]->wanted && j < g->targets[i]->ninputs; j++) {
			struct kiln_input *in = &g->targets[i]->inputs[j];

			if (in->kind != KILN_INPUT_PATH || !in->path)
				continue;
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = in;
		}
	sort(v, n, sizeof(*v), cmp_input);
	for (i = 0; i < n && calls >= 0; i++) {
		struct kiln_pointer p;
		struct stat sb;
		int r;

		if (i && strcmp(v[i - 1]->spec, v[i]->spec) == 0)
			continue;
		r = kiln_sources_pointer(v[i]->spec, &p);
		if (r < 0)
			calls = -1;
		if (r <= 0)
			continue;
		/* Present: the digest its input resolved to; missing: that was the pointer's. */
		fn(arg, v[i]->spec, &p, stat(v[i]->spec, &sb) == 0 ? &v[i]->digest : NULL);
		calls++;
	}
	free(v);
	return calls;
}
