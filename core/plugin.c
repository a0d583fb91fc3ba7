/*
 * plugin: finding, loading and checking plugins in kiln's own process.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "key.h"
#include "plugin.h"

char *
kiln_exe_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n <= 0)
		die("cannot find kiln's own executable (/proc/self/exe):");
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	*slash = '\0';
	return xstrdup(buf[0] ? buf : "/");
}

static void
add_dir(struct kiln_plugins *p, char *dir, const char *where)
{
	p->dirs = xreallocarray(p->dirs, p->ndirs + 1, sizeof(*p->dirs));
	p->where = xreallocarray(p->where, p->ndirs + 1, sizeof(*p->where));
	p->dirs[p->ndirs] = dir;
	p->where[p->ndirs++] = where;
}

/* kiln's own files: beside the executable in a build tree, in ../lib/kiln when installed. */
static char *
own_path(const char *exe, const char *name)
{
	char *p = xasprintf("%s/%s", exe, name);

	if (access(p, F_OK) == 0)
		return p;
	free(p);
	return xasprintf("%s/../lib/kiln/%s", exe, name);
}

void
kiln_plugins_init(struct kiln_plugins *p, const char *workspace)
{
	const char *env = getenv("KILN_PLUGIN_PATH");
	char *exe = kiln_exe_dir(), *s, *copy, *save = NULL;

	memset(p, 0, sizeof(*p));
	if (env && *env) {
		copy = xstrdup(env);
		for (s = strtok_r(copy, ":", &save); s; s = strtok_r(NULL, ":", &save)) {
			char *abs = realpath(s, NULL);

			add_dir(p, abs ? abs : xstrdup(s), "KILN_PLUGIN_PATH");
		}
		free(copy);
	}
	add_dir(p, path_join(workspace, "plugins"), "repository");
	add_dir(p, own_path(exe, "plugins"), "built-in");
	p->runner = own_path(exe, "kiln-run");
	free(exe);
}

void
kiln_plugins_release(struct kiln_plugins *p)
{
	size_t i;

	for (i = 0; i < p->nloaded; i++) {
		struct kiln_plugin_info *pi = p->loaded[i];

		/* Handles stay open: a plugin may have registered destructors or threads. */
		free(pi->name);
		free(pi->path);
		free(pi);
	}
	for (i = 0; i < p->ndirs; i++)
		free(p->dirs[i]);
	free(p->dirs);
	free(p->where);
	free(p->loaded);
	free(p->runner);
	map_release(&p->byname);
}

/* Load a plugin file and check its descriptor; NULL with a message in err. */
static struct kiln_plugin_info *
load(const char *path, const char *where, const char *want, char *err, size_t errlen)
{
	struct kiln_plugin_info *pi;
	const struct kiln_plugin *desc;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(err, errlen, "cannot load %s: %s", path, dlerror());
		return NULL;
	}
	desc = dlsym(h, KILN_PLUGIN_SYMBOL);
	if (!desc) {
		snprintf(err, errlen, "%s is not a kiln plugin: it exports no '%s' descriptor", path,
		    KILN_PLUGIN_SYMBOL);
		return NULL;
	}
	if (desc->abi != KILN_PLUGIN_ABI) {
		snprintf(err, errlen, "%s was built for plugin ABI %d, but this kiln speaks ABI %d; rebuild it against this kiln's include/kiln/plugin.h",
		    path, desc->abi, KILN_PLUGIN_ABI);
		return NULL;
	}
	if (!desc->name || !desc->version || !desc->run) {
		snprintf(err, errlen, "%s: its descriptor lacks a name, version or run function", path);
		return NULL;
	}
	if (want && strcmp(desc->name, want) != 0) {
		snprintf(err, errlen, "%s calls itself '%s', not '%s'", path, desc->name, want);
		return NULL;
	}
	pi = xcalloc(1, sizeof(*pi));
	pi->name = xstrdup(desc->name);
	pi->path = realpath(path, NULL);
	if (!pi->path)
		pi->path = xstrdup(path);
	pi->where = where;
	pi->desc = desc;
	pi->handle = h;
	return pi;
}

struct kiln_plugin_info *
kiln_plugins_get(struct kiln_plugins *p, const char *name, struct kiln_state *st,
    const struct kiln_target *t)
{
	struct kiln_plugin_info *pi;
	struct stat sb;
	char err[PATH_MAX + 256];
	size_t i;

	if ((pi = map_get(&p->byname, name)))
		return pi;
	for (i = 0; i < p->ndirs; i++) {
		char *file = xasprintf("%s/%s.so", p->dirs[i], name);

		if (stat(file, &sb) < 0) {
			free(file);
			continue;
		}
		pi = load(file, p->where[i], name, err, sizeof(err));
		if (!pi) {
			free(file);
			if (t)
				error("%s:%d: target '%s': %s", t->file, t->line, t->name, err);
			else
				error("%s", err);
			return NULL;
		}
		if (kiln_state_file_digest(st, file, &sb, &pi->digest) < 0) {
			error("cannot read plugin %s:", file);
			free(file);
			return NULL;
		}
		kiln_key_plugin_digest(pi);
		free(file);
		p->loaded = xreallocarray(p->loaded, p->nloaded + 1, sizeof(*p->loaded));
		p->loaded[p->nloaded++] = pi;
		map_put(&p->byname, pi->name, pi);
		return pi;
	}
	if (t)
		error("%s:%d: target '%s': no plugin named '%s' (looked for %s.so in KILN_PLUGIN_PATH, the repository's plugins/ and kiln's own plugins; `kiln plugins` lists what there is)",
		    t->file, t->line, t->name, name, name);
	else
		error("no plugin named '%s'", name);
	return NULL;
}

int
kiln_plugin_check(struct kiln_plugin_info *pi, const struct kiln_target *t)
{
	struct kiln_ctx ctx;
	const char **names, **paths;
	size_t i;
	int r;

	if (!pi->desc->check)
		return 0;
	kiln_ctx_init(&ctx);
	names = xreallocarray(NULL, t->ninputs + 1, sizeof(*names));
	paths = xreallocarray(NULL, t->ninputs + 1, sizeof(*paths));
	for (i = 0; i < t->ninputs; i++) {
		names[i] = t->inputs[i].name;
		paths[i] = t->inputs[i].path ? t->inputs[i].path : t->inputs[i].spec;
	}
	ctx.target = t->name;
	ctx.params = t->params;
	ctx.ninputs = t->ninputs;
	ctx.input_names = names;
	ctx.input_paths = paths;
	ctx.noutputs = t->noutputs;
	ctx.outputs = t->outputs;
	ctx.threads = t->res.threads;
	r = pi->desc->check(&ctx);
	if (r != 0)
		error("%s:%d: target '%s': %s", t->file, t->line, t->name,
		    ctx.failure ? ctx.failure : "the plugin refused its params without saying why");
	kiln_ctx_release(&ctx);
	free(names);
	free(paths);
	return r != 0 ? -1 : 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
kiln_plugins_list(struct kiln_plugins *p, struct kiln_state *st)
{
	struct map seen = MAP_INIT;
	size_t i, j, n;
	int bad = 0;
	char err[PATH_MAX + 256], hex[KILN_DIGEST_HEX];

	printf("%-12s %-10s %-4s %-18s %s\n", "NAME", "VERSION", "ABI", "FOUND IN", "SUMMARY");
	for (i = 0; i < p->ndirs; i++) {
		DIR *d = opendir(p->dirs[i]);
		struct dirent *e;
		char **files = NULL;

		n = 0;
		while (d && (e = readdir(d))) {
			size_t len = strlen(e->d_name);

			if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0) {
				files = xreallocarray(files, n + 1, sizeof(*files));
				files[n++] = xstrdup(e->d_name);
			}
		}
		if (d)
			closedir(d);
		sort(files, n, sizeof(*files), cmp_name);
		for (j = 0; j < n; j++) {
			char *path = path_join(p->dirs[i], files[j]);
			struct kiln_plugin_info *pi = load(path, p->where[i], NULL, err, sizeof(err));
			struct stat sb;

			if (!pi) {
				printf("%-12.*s %-10s %-4s %-18s refused: %s\n", (int)(strlen(files[j]) - 3),
				    files[j], "-", "-", p->where[i], err);
				bad = 1;
			} else {
				const char *shadow = map_get(&seen, pi->name) ? " (shadowed by an earlier one)" : "";

				if (stat(path, &sb) == 0)
					kiln_state_file_digest(st, path, &sb, &pi->digest);
				printf("%-12s %-10s %-4d %-18s %s%s\n", pi->name, pi->desc->version,
				    pi->desc->abi, p->where[i], pi->desc->summary ? pi->desc->summary : "", shadow);
				printf("%-12s %s  %s\n", "", kiln_digest_hex(&pi->digest, hex), pi->path);
				if (!map_get(&seen, pi->name))
					map_put(&seen, pi->name, pi);
				p->loaded = xreallocarray(p->loaded, p->nloaded + 1, sizeof(*p->loaded));
				p->loaded[p->nloaded++] = pi;
			}
			free(path);
			free(files[j]);
		}
		free(files);
	}
	map_release(&seen);
	return bad;
}
