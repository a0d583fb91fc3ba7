/*
 * inputs: resolving a step's inputs; see inputs.h.
 */
#include <dirent.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inputs.h"
#include "paths.h"
#include "workspace.h"

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Digest of a folder: of its sorted (relative path, executable bit, digest)
 * entries, so that one changed file costs one file's hashing.
 */
static int
dir_digest(struct kiln_state *st, const char *dir, struct kiln_hasher *h)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	int r = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	sort(names, n, sizeof(*names), cmp_strp);
	for (i = 0; i < n; i++) {
		char *p = path_join(dir, names[i]);
		struct stat sb;
		struct kiln_digest fd;

		if (r == 0 && stat(p, &sb) == 0) {
			kiln_hasher_adds(h, names[i]);
			if (S_ISDIR(sb.st_mode)) {
				kiln_hasher_add(h, "d", 1);
				r = dir_digest(st, p, h);
				kiln_hasher_add(h, "/", 1);
			} else if (S_ISREG(sb.st_mode)) {
				kiln_hasher_add(h, sb.st_mode & 0111 ? "x" : "f", 1);
				if (kiln_state_file_digest(st, p, &sb, &fd) < 0)
					r = -1;
				kiln_hasher_add_digest(h, &fd);
			}
		} else if (r == 0) {
			r = -1;
		}
		free(p);
		free(names[i]);
	}
	free(names);
	return r;
}

/*
 * A relative source must stay inside the workspace after its links are
 * followed: a cloned repository's link to ~/.ssh is not an input.
 */
static int
outside(const struct kiln_workspace *ws, const char *path)
{
	char *real;
	size_t n = strlen(ws->root);
	int out;

	if (path[0] == '/')
		return 0;
	real = realpath(path, NULL);
	if (!real)
		return 0;
	out = !(strncmp(real, ws->root, n) == 0 && (real[n] == '/' || real[n] == '\0' || n == 1));
	free(real);
	return out;
}

static void
set_files(struct kiln_input *in, char **files, size_t n)
{
	in->files = files;
	in->nfiles = n;
}

/* Resolve a source input (file, folder or glob): its digest and the paths the step sees. */
static int
resolve_source(struct kiln_workspace *ws, struct kiln_target *t, struct kiln_input *in)
{
	struct stat sb;
	glob_t gl;
	size_t i;
	struct kiln_hasher *h;
	struct buf b = BUF_INIT;

	if (in->kind == KILN_INPUT_PATH) {
		if (stat(in->spec, &sb) < 0)
			return error("%s:%d: target '%s': input '%s': %s does not exist", t->file, t->line,
			    t->name, in->name, in->spec);
		if (outside(ws, in->spec))
			return error("%s:%d: target '%s': input '%s': %s leads outside the workspace through a "
			    "symbolic link; sources must be files of the workspace", t->file, t->line, t->name,
			    in->name, in->spec);
		if (S_ISDIR(sb.st_mode)) {
			h = kiln_hasher_new();
			if (dir_digest(&ws->state, in->spec, h) < 0) {
				kiln_hasher_free(h);
				return error("%s:%d: target '%s': input '%s': cannot read folder %s:", t->file,
				    t->line, t->name, in->name, in->spec);
			}
			kiln_hasher_digest(h, &in->digest);
			kiln_hasher_free(h);
		} else if (kiln_state_file_digest(&ws->state, in->spec, &sb, &in->digest) < 0) {
			return error("%s:%d: target '%s': input '%s': cannot read %s:", t->file, t->line,
			    t->name, in->name, in->spec);
		}
		in->path = xstrdup(in->spec);
		set_files(in, xreallocarray(NULL, 1, sizeof(char *)), 1);
		in->files[0] = xstrdup(in->spec);
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

		if (stat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (outside(ws, p)) {
			kiln_hasher_free(h);
			globfree(&gl);
			buf_release(&b);
			return error("%s:%d: target '%s': input '%s': %s leads outside the workspace through a "
			    "symbolic link; sources must be files of the workspace", t->file, t->line, t->name,
			    in->name, p);
		}
		if (kiln_state_file_digest(&ws->state, p, &sb, &d) < 0) {
			kiln_hasher_free(h);
			globfree(&gl);
			buf_release(&b);
			return error("%s:%d: target '%s': input '%s': cannot read %s:", t->file, t->line,
			    t->name, in->name, p);
		}
		kiln_hasher_adds(h, p);
		kiln_hasher_add_digest(h, &d);
		if (b.len)
			buf_addc(&b, ' ');
		buf_adds(&b, p);
		in->files[in->nfiles++] = xstrdup(p);
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
		in->dep->outpath = xasprintf(KILN_OUT_DIR "/%s", in->dep->name);
	if (!in->files)
		set_files(in, xreallocarray(NULL, 1, sizeof(char *)), 1);
	/* Both point at the dependency's string, which the graph frees. */
	in->path = in->dep->outpath;
	in->files[0] = in->dep->outpath;
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
			    resolve_source(ws, t, &t->inputs[j]) < 0)
				bad = 1;
		if (kiln_plugin_check(&ws->plugins, pi, t) < 0)
			bad = 1;
	}
	return bad ? -1 : 0;
}
