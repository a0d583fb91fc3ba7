/*
 * inputs: resolving a step's inputs; see inputs.h.
 */
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "inputs.h"
#include "paths.h"
#include "sources.h"
#include "workspace.h"

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * stat(2) a source; *far: a relative one leads outside the workspace
 * through a link. Where no link is on its way that is one fstatat beneath
 * its folder, opened once (dirs); else stat, then the proof by its path.
 */
static int
stat_source(const struct kiln_workspace *ws, struct kiln_fs_dirs *dirs, const char *path, struct stat *sb,
    int *far)
{
	*far = 0;
	if (path[0] != '/' && kiln_fs_dirs_lstat(dirs, path, sb) == 0)
		return 0;
	if (stat(path, sb) < 0)
		return -1;
	*far = path[0] != '/' && !kiln_workspace_inside(ws, path);
	return 0;
}

/* Is path (absolute, links resolved) dir or beneath it? */
static int
beneath(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0' || n == 1);
}

/* Is path beneath one of the folders of the colon-separated list? */
static int
listed(const char *path, const char *list)
{
	char *v = xstrdup(list ? list : ""), *save = NULL, *d;
	int r = 0;

	for (d = strtok_r(v, ":", &save); d && !r; d = strtok_r(NULL, ":", &save)) {
		char *real = realpath(d, NULL);

		r = *d == '/' && beneath(path, real ? real : d);
		free(real);
	}
	free(v);
	return r;
}

/*
 * An absolute source names a shared folder (/mnt/datasets/raw). A Kilnfile
 * comes with a repository someone may have cloned, so it may not hand a step
 * the user's own files: a path whose target is under $HOME, /root or kiln's
 * cache is refused unless the workspace holds it, or a folder listed in
 * $KILN_SHARED_DIRS (the user's environment, not the repository) does.
 */
static int
private_path(const struct kiln_workspace *ws, const char *path)
{
	char *real = realpath(path, NULL);
	const char *home = getenv("HOME"), *p = real ? real : path;
	int r;

	r = !beneath(p, ws->root) && !listed(p, getenv("KILN_SHARED_DIRS")) &&
	    ((home && *home == '/' && strcmp(home, "/") != 0 && listed(p, home)) || beneath(p, "/root") ||
	    listed(p, ws->cache.dir));
	free(real);
	return r;
}

static void
set_files(struct kiln_input *in, char **files, size_t n)
{
	in->files = files;
	in->nfiles = n;
}

/*
 * A file or folder input: the step sees its path, and the sandbox binds
 * it. Both are the spec itself, which the graph keeps: no allocation per
 * input (kiln_graph_release knows).
 */
static void
set_path(struct kiln_input *in)
{
	in->path = (char *)in->spec;
	set_files(in, &in->path, 1);
}

/*
 * A missing source that kiln add tracks: restored from the cache when this
 * command may (build, pull), else taken at its pointer's word (status, -n).
 * 1 restored, 0 taken as the pointer says, -1 after reporting.
 */
static int
tracked(struct kiln_workspace *ws, struct kiln_target *t, struct kiln_input *in)
{
	struct kiln_pointer p;
	char *what;
	int r = errno == ENOENT ? kiln_sources_pointer(in->spec, &p) : 0;

	if (r < 0)
		return -1;
	if (r == 0)
		return error("%s:%d: target '%s': input '%s': %s does not exist", t->file, t->line, t->name,
		    in->name, in->spec);
	if (!ws->fetch_sources) {
		in->digest = p.digest;
		set_path(in);
		return 0;
	}
	what = xasprintf("%s:%d: target '%s': input '%s'", t->file, t->line, t->name, in->name);
	r = kiln_sources_restore(ws, in->spec, &p, what);
	free(what);
	return r < 0 ? -1 : 1;
}

/* Resolve a source input (file, folder or glob): its digest and the paths the step sees. */
static int
resolve_source(struct kiln_workspace *ws, struct kiln_fs_dirs *dirs, struct kiln_target *t, struct kiln_input *in)
{
	struct stat sb;
	glob_t gl;
	size_t i;
	int far, bad = 0;
	struct kiln_hasher *h;
	struct buf b = BUF_INIT;

	if (in->spec[0] == '/' && private_path(ws, in->spec))
		return error("%s:%d: target '%s': input '%s': %s is the user's own (under $HOME, /root or kiln's "
		    "cache); a shared folder elsewhere, or one listed in KILN_SHARED_DIRS, may be an input", t->file,
		    t->line, t->name, in->name, in->spec);
	if (in->kind == KILN_INPUT_PATH) {
		if (stat_source(ws, dirs, in->spec, &sb, &far) < 0) {
			int r = tracked(ws, t, in);

			if (r <= 0)
				return r;
			if (stat_source(ws, dirs, in->spec, &sb, &far) < 0)
				return error("%s:%d: target '%s': input '%s': %s does not exist", t->file, t->line,
				    t->name, in->name, in->spec);
		}
		if (far)
			return error("%s:%d: target '%s': input '%s': %s leads outside the workspace through a "
			    "symbolic link; sources must be files of the workspace", t->file, t->line, t->name,
			    in->name, in->spec);
		if (S_ISDIR(sb.st_mode)) {
			if (kiln_state_tree_digest(&ws->state, in->spec, &in->digest, NULL) < 0)
				return error("%s:%d: target '%s': input '%s': cannot read folder %s:", t->file,
				    t->line, t->name, in->name, in->spec);
		} else if (kiln_state_file_digest(&ws->state, in->spec, &sb, &in->digest) < 0) {
			return error("%s:%d: target '%s': input '%s': cannot read %s:", t->file, t->line,
			    t->name, in->name, in->spec);
		}
		set_path(in);
		return 0;
	}
	if (glob(in->spec, GLOB_NOSORT, NULL, &gl) != 0 || gl.gl_pathc == 0) {
		if (gl.gl_pathc == 0)
			globfree(&gl);
		return error("%s:%d: target '%s': input '%s': the pattern %s matches no file", t->file,
		    t->line, t->name, in->name, in->spec);
	}
	sort(gl.gl_pathv, gl.gl_pathc, sizeof(char *), cmp_strp);
	h = kiln_hasher_new();
	set_files(in, xreallocarray(NULL, gl.gl_pathc, sizeof(char *)), 0);
	for (i = 0; i < gl.gl_pathc; i++) {
		const char *p = gl.gl_pathv[i];
		struct kiln_digest d;

		if (stat_source(ws, dirs, p, &sb, &far) < 0 || !S_ISREG(sb.st_mode))
			continue;
		/* Said before globfree: p is the glob's. */
		if (far)
			bad = error("%s:%d: target '%s': input '%s': %s leads outside the workspace through a "
			    "symbolic link; sources must be files of the workspace", t->file, t->line, t->name,
			    in->name, p);
		else if (kiln_state_file_digest(&ws->state, p, &sb, &d) < 0)
			bad = error("%s:%d: target '%s': input '%s': cannot read %s:", t->file, t->line,
			    t->name, in->name, p);
		if (bad)
			break;
		kiln_hasher_adds(h, p);
		kiln_hasher_add_digest(h, &d);
		if (b.len)
			buf_addc(&b, ' ');
		buf_adds(&b, p);
		in->files[in->nfiles++] = xstrdup(p);
	}
	if (bad) {
		kiln_hasher_free(h);
		globfree(&gl);
		buf_release(&b);
		return -1;
	}
	globfree(&gl);
	kiln_hasher_digest(h, &in->digest);
	kiln_hasher_free(h);
	if (!in->nfiles) {
		buf_release(&b);
		return error("%s:%d: target '%s': input '%s': the pattern %s matches no file", t->file,
		    t->line, t->name, in->name, in->spec);
	}
	in->path = buf_detach(&b);
	return 0;
}

/* ---- tools: the host files and folders, and the Debian packages, a step runs with ---- */

/* Keep a folder tool's file list as .kiln/tools/<digest>, once per digest, for `kiln why`. */
static void
keep_list(const struct kiln_digest *d, const struct buf *list)
{
	char hex[KILN_DIGEST_HEX], *path = xasprintf(KILN_TOOLS_DIR "/%s", kiln_digest_hex(d, hex));

	if (access(path, F_OK) < 0 && mkdir_p(KILN_TOOLS_DIR, 0755) == 0)
		(void)write_file_atomic(path, list->s ? list->s : "", list->len, 0644, 0);
	free(path);
}

/* The digest of a tool (a file or a folder of the host). */
static int
tool_digest(struct kiln_state *st, const char *path, struct kiln_digest *out)
{
	struct stat sb;
	struct buf list = BUF_INIT;
	int r;

	if (stat(path, &sb) < 0)
		return -1;
	if (!S_ISDIR(sb.st_mode))
		return kiln_state_file_digest(st, path, &sb, out);
	r = kiln_state_tree_digest(st, path, out, &list);
	if (r == 0)
		keep_list(out, &list);
	buf_release(&list);
	return r;
}

/*
 * dpkg's database (/var/lib/dpkg/status; KILN_TEST_DPKG_STATUS in tests),
 * read once per build: "name" -> "version arch" of each installed package.
 */
struct dpkg {
	int loaded;
	char *text;
	struct map installed;
};

/* One stanza of the status file: Package, Status, Version and Architecture are all kiln reads. */
static void
dpkg_stanza(struct dpkg *pk, char *s)
{
	char *pkg = NULL, *ver = NULL, *arch = "", *line;
	int installed = 0;

	for (line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "Package: ", 9) == 0)
			pkg = line + 9;
		else if (strncmp(line, "Version: ", 9) == 0)
			ver = line + 9;
		else if (strncmp(line, "Architecture: ", 14) == 0)
			arch = line + 14;
		else if (strncmp(line, "Status: ", 8) == 0)
			installed = strstr(line, " installed") != NULL && strncmp(line + 8, "install ", 8) == 0;
	}
	if (pkg && ver && installed) {
		/* Two architectures of one package: both versions count. */
		char *had = map_get(&pk->installed, pkg);
		char *v = had ? xasprintf("%s %s %s", had, ver, arch) : xasprintf("%s %s", ver, arch);

		free(map_put(&pk->installed, pkg, v));
	}
}

static int
dpkg_load(struct dpkg *pk)
{
	const char *path = getenv("KILN_TEST_DPKG_STATUS") ? getenv("KILN_TEST_DPKG_STATUS") : "/var/lib/dpkg/status";
	size_t len;
	char *s, *next;

	if (pk->loaded)
		return pk->text ? 0 : -1;
	pk->loaded = 1;
	pk->text = read_file(path, &len);
	if (!pk->text)
		return error("cannot read dpkg's database %s:", path);
	for (s = pk->text; s && *s; s = next) {
		next = strstr(s, "\n\n");
		if (next) {
			*next = '\0';
			next += 2;
		}
		dpkg_stanza(pk, s);
	}
	return 0;
}

static void
dpkg_release(struct dpkg *pk)
{
	size_t i;

	for (i = 0; i < pk->installed.cap; i++)
		if (pk->installed.slots[i].key)
			free(pk->installed.slots[i].value);
	map_release(&pk->installed);
	free(pk->text);
}

/* Digest t's tools (memo: path -> digest, shared by the targets of a build) and packages. */
static int
resolve_tools(struct kiln_workspace *ws, struct kiln_target *t, struct map *memo, struct arena *a, struct dpkg *pk)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < t->tools.ntools; i++) {
		struct kiln_tool *tl = &t->tools.tools[i];
		struct kiln_digest *d = map_get(memo, tl->path);

		if (!d) {
			d = arena_alloc(a, sizeof(*d));
			if (tool_digest(&ws->state, tl->path, d) < 0) {
				bad = error("%s:%d: target '%s': tool '%s': cannot read %s:", t->file, t->line, t->name,
				    tl->name, tl->path);
				continue;
			}
			map_put(memo, tl->path, d);
		}
		tl->digest = *d;
	}
	for (i = 0; i < t->tools.npackages; i++) {
		struct kiln_tool *p = &t->tools.packages[i];
		const char *v;

		if (dpkg_load(pk) < 0)
			return -1;
		v = map_get(&pk->installed, p->name);
		if (!v) {
			bad = error("%s:%d: target '%s': package '%s' is not installed (dpkg knows no installed version of it)",
			    t->file, t->line, t->name, p->name);
			continue;
		}
		kiln_digest_buf(v, strlen(v), &p->digest);
	}
	return bad;
}

/* Read .kiln/tools/<d> into a map path -> digest hex (pointing into *text). */
static int
load_list(const struct kiln_digest *d, char **text, struct map *m)
{
	char hex[KILN_DIGEST_HEX], *path = xasprintf(KILN_TOOLS_DIR "/%s", kiln_digest_hex(d, hex)), *line, *tab;
	size_t len;

	*text = read_file(path, &len);
	free(path);
	if (!*text)
		return -1;
	for (line = strtok(*text, "\n"); line; line = strtok(NULL, "\n"))
		if ((tab = strchr(line, '\t'))) {
			*tab = '\0';
			map_put(m, line, tab + 1);
		}
	return 0;
}

/* The first path, in order, that is in a and differs in (or is missing from) b. */
static const char *
first_difference(const struct map *a, const struct map *b)
{
	const char *best = NULL;
	size_t i;

	for (i = 0; i < a->cap; i++) {
		const char *k = a->slots[i].key, *v;

		if (!k)
			continue;
		v = map_get(b, k);
		if ((!v || strcmp(v, a->slots[i].value) != 0) && (!best || strcmp(k, best) < 0))
			best = k;
	}
	return best;
}

int
kiln_tools_explain(const struct kiln_digest *was, const struct kiln_digest *now, struct buf *b)
{
	struct map old = MAP_INIT, cur = MAP_INIT;
	char *ot = NULL, *ct = NULL;
	const char *p, *q;
	int r = -1;

	if (load_list(was, &ot, &old) == 0 && load_list(now, &ct, &cur) == 0) {
		p = first_difference(&cur, &old);
		q = first_difference(&old, &cur);
		if (p && (!q || strcmp(p, q) <= 0)) {
			buf_printf(b, "%s %s", p, map_get(&old, p) ? "changed" : "was added");
			r = 0;
		} else if (q) {
			buf_printf(b, "%s was removed", q);
			r = 0;
		}
	}
	map_release(&old);
	map_release(&cur);
	free(ot);
	free(ct);
	return r;
}

/* A target input: the folder of the dependency's outputs, and their digest. */
void
kiln_inputs_resolve_target(struct kiln_input *in)
{
	if (in->dep->state != KILN_T_DONE) {
		/* A soft input whose target failed: the step runs without it. */
		static const char missing[] = "kiln: a soft input whose target did not build";

		in->path = NULL;
		in->nfiles = 0;
		kiln_digest_buf(missing, sizeof(missing) - 1, &in->digest);
		return;
	}
	if (!in->dep->outpath)
		in->dep->outpath = path_join(KILN_OUT_DIR, in->dep->name);	/* by hand: xasprintf cost 1,000 instructions */
	/* Both are the dependency's string, which the graph frees: no allocation per edge. */
	in->path = in->dep->outpath;
	set_files(in, &in->dep->outpath, 1);
	in->digest = in->dep->outdigest;
}

/*
 * Before anything runs: load every plugin that is needed, check every
 * target's params with it, and resolve every source input, so that a
 * mistake fails in milliseconds rather than after an hour of training.
 */
int
kiln_inputs_prepare(struct kiln_workspace *ws)
{
	struct kiln_graph *g = &ws->graph;
	struct map memo = MAP_INIT;
	struct arena a = {0};
	struct dpkg pk = {0};
	struct kiln_fs_dirs dirs = KILN_FS_DIRS_INIT;
	size_t i, j;
	int bad = 0;

	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];
		struct kiln_plugin_info *pi;

		if (!t->wanted)
			continue;
		pi = kiln_plugins_get(&ws->plugins, t->plugin, &ws->state, t);
		if (!pi) {
			bad = 1;
			continue;
		}
		for (j = 0; j < t->ninputs; j++)
			if (t->inputs[j].kind != KILN_INPUT_TARGET && !t->inputs[j].path &&
			    resolve_source(ws, &dirs, t, &t->inputs[j]) < 0)
				bad = 1;
		if (resolve_tools(ws, t, &memo, &a, &pk) < 0)
			bad = 1;
		if (kiln_plugin_check(&ws->plugins, pi, t) < 0)
			bad = 1;
	}
	kiln_fs_dirs_release(&dirs);
	map_release(&memo);
	arena_release(&a);
	dpkg_release(&pk);
	return bad ? -1 : 0;
}
