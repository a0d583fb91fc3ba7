/*
 * loader: finding, loading and checking plugins; see loader.h.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "context.h"
#include "key.h"
#include "loader.h"
#include "paths.h"
#include "value.h"

static void
add_dir(struct kiln_plugins *p, char *dir, const char *where)
{
	p->dirs = xreallocarray(p->dirs, p->ndirs + 1, sizeof(*p->dirs));
	p->where = xreallocarray(p->where, p->ndirs + 1, sizeof(*p->where));
	p->dirs[p->ndirs] = dir;
	p->where[p->ndirs++] = where;
}

void
kiln_plugins_init(struct kiln_plugins *p, const char *workspace)
{
	const char *env = getenv("KILN_PLUGIN_PATH");
	char *s, *copy, *save = NULL;

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
	add_dir(p, kiln_paths_own("plugins"), "built-in");
	p->runner = kiln_paths_own("kiln-run");
	copy = kiln_cache_default_dir();
	p->described = path_join(copy, "plugins");
	free(copy);
}

void
kiln_plugins_release(struct kiln_plugins *p)
{
	size_t i;

	for (i = 0; i < p->nloaded; i++) {
		struct kiln_plugin_info *pi = p->loaded[i];

		/* Handles stay open: a plugin may have registered destructors or threads. */
		free((char *)pi->described.name);
		free((char *)pi->described.version);
		free((char *)pi->described.summary);
		free(pi->name);
		free(pi->path);
		free(pi->machine);
		free(pi);
	}
	for (i = 0; i < p->ndirs; i++)
		free(p->dirs[i]);
	free(p->dirs);
	free(p->where);
	free(p->loaded);
	free(p->runner);
	free(p->described);
	map_release(&p->byname);
}

/* Is the descriptor usable, and the plugin called `want` (NULL: any)? 0, or -1 with the reason in err. */
static int
check_desc(const char *path, const struct kiln_plugin *desc, int has_run, const char *want, char *err,
    size_t errlen)
{
	if (desc->abi != KILN_PLUGIN_ABI) {
		snprintf(err, errlen, "%s was built for plugin ABI %d, but this kiln speaks ABI %d; rebuild it against this kiln's include/kiln/plugin.h",
		    path, desc->abi, KILN_PLUGIN_ABI);
		return -1;
	}
	if (!desc->name || !desc->version || !has_run) {
		snprintf(err, errlen, "%s: its descriptor lacks a name, version or run function", path);
		return -1;
	}
	if (want && strcmp(desc->name, want) != 0) {
		snprintf(err, errlen, "%s calls itself '%s', not '%s'", path, desc->name, want);
		return -1;
	}
	return 0;
}

/*
 * What the plugin says of this machine (plugin.h's kiln_plugin_machine), in
 * pi->machine; 0, or -1 with the reason in err if what it says is unusable.
 */
static int
ask_machine(struct kiln_plugin_info *pi, void *h, const char *path, char *err, size_t errlen)
{
	const char *(*fn)(void) = (const char *(*)(void))dlsym(h, KILN_PLUGIN_MACHINE_SYMBOL);
	const char *s;
	size_t i, n;

	if (!fn)
		return 0;
	s = fn();
	n = s ? strnlen(s, 201) : 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			break;
	if (n == 0 || n > 200 || i < n) {
		snprintf(err, errlen, "%s: its %s() must give one printable line of 1 to 200 bytes", path,
		    KILN_PLUGIN_MACHINE_SYMBOL);
		return -1;
	}
	pi->machine = xstrdup(s);
	kiln_digest_buf(s, n, &pi->machinedigest);
	return 0;
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
	if (check_desc(path, desc, desc->run != NULL, want, err, errlen) < 0)
		return NULL;
	pi = xcalloc(1, sizeof(*pi));
	pi->name = xstrdup(desc->name);
	pi->path = realpath(path, NULL);
	if (!pi->path)
		pi->path = xstrdup(path);
	pi->where = where;
	pi->desc = desc;
	pi->handle = h;
	if (ask_machine(pi, h, path, err, errlen) < 0) {
		free(pi->name);
		free(pi->path);
		free(pi);
		return NULL;
	}
	return pi;
}

/*
 * Run `kiln-run MODE arg` (--describe PLUGIN, --check SPEC), which loads the
 * plugin in the sandbox; what it printed (a new string), its exit status in
 * *status, or NULL with the reason in err. A plugin that hangs is stopped
 * after 30 s.
 */
static char *
run_confined(const struct kiln_plugins *p, const char *mode, const char *arg, int *status, char *err,
    size_t errlen)
{
	char *argv[] = {p->runner, (char *)mode, (char *)arg, NULL};
	posix_spawn_file_actions_t fa;
	struct buf out = BUF_INIT;
	double until = now_seconds() + 30;
	int pipefd[2], rc;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe:");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	rc = posix_spawn(&pid, p->runner, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		snprintf(err, errlen, "cannot start %s %s %s: %s", p->runner, mode, arg, strerror(rc));
		return NULL;
	}
	for (;;) {
		char chunk[4096];
		ssize_t n;
		int left = (int)((until - now_seconds()) * 1000);

		if (left <= 0 || poll(&(struct pollfd){pipefd[0], POLLIN, 0}, 1, left) == 0) {
			kill(pid, SIGKILL);
			break;
		}
		n = read(pipefd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out.len < 65536)
			buf_add(&out, chunk, n);
	}
	close(pipefd[0]);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return out.s ? buf_detach(&out) : xstrdup("");
}

/* The last line of text, for a message (kiln-run says why on its last line). */
static void
last_line(char *text, char *out, size_t len)
{
	char *nl;

	while ((nl = strrchr(text, '\n')) && !nl[1])
		*nl = '\0';
	snprintf(out, len, "%s", (nl = strrchr(text, '\n')) ? nl + 1 : text);
}

/* Read kiln-run's description (its last line, JSON) into pi's descriptor; -1 with err if it is not one. */
static int
read_description(struct kiln_plugin_info *pi, const char *path, const char *text, int *has_run, char *err,
    size_t errlen)
{
	const char *line = strrchr(text, '{');
	json_error_t jerr;
	json_t *j = line ? json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr) : NULL;
	const char *name, *version, *summary;

	name = json_string_value(json_object_get(j, "name"));
	version = json_string_value(json_object_get(j, "version"));
	summary = json_string_value(json_object_get(j, "summary"));
	if (!j || !json_is_integer(json_object_get(j, "abi"))) {
		json_decref(j);
		snprintf(err, errlen, "kiln-run could not describe %s", path);
		return -1;
	}
	pi->described.abi = (int)json_integer_value(json_object_get(j, "abi"));
	pi->described.name = name ? xstrdup(name) : NULL;
	pi->described.version = version ? xstrdup(version) : NULL;
	pi->described.summary = summary ? xstrdup(summary) : NULL;
	pi->has_check = json_is_true(json_object_get(j, "check"));
	*has_run = json_is_true(json_object_get(j, "run"));
	json_decref(j);
	return 0;
}

/*
 * A repository plugin, never loaded here: described by kiln-run in the
 * sandbox, or from the answer kept for its digest. NULL with a message in err.
 */
static struct kiln_plugin_info *
describe(struct kiln_plugins *p, const char *path, const char *where, const char *want,
    const struct kiln_digest *d, char *err, size_t errlen)
{
	struct kiln_plugin_info *pi = xcalloc(1, sizeof(*pi));
	char hex[KILN_DIGEST_HEX], *kept, *text;
	int status = 0, fresh = 0, has_run = 0;

	kept = xasprintf("%s/%s.abi%d.json", p->described, kiln_digest_hex(d, hex), KILN_PLUGIN_ABI);
	text = read_file(kept, NULL);
	if (!text) {
		text = run_confined(p, "--describe", path, &status, err, errlen);
		fresh = 1;
	}
	if (text && fresh && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		last_line(text, err, errlen);
		free(text);
		text = NULL;
	}
	if (!text || read_description(pi, path, text, &has_run, err, errlen) < 0 ||
	    check_desc(path, &pi->described, has_run, want, err, errlen) < 0) {
		free(text);
		free(kept);
		free((char *)pi->described.name);
		free((char *)pi->described.version);
		free((char *)pi->described.summary);
		free(pi);
		return NULL;
	}
	if (fresh && mkdir_p(p->described, 0755) == 0)
		(void)write_file_atomic(kept, text, strlen(text), 0644, 0);
	free(text);
	free(kept);
	pi->name = xstrdup(pi->described.name);
	pi->path = realpath(path, NULL);
	if (!pi->path)
		pi->path = xstrdup(path);
	pi->where = where;
	pi->desc = &pi->described;
	pi->untrusted = 1;
	pi->digest = *d;
	return pi;
}

/* The plugin in file (of search folder i, digest d): loaded, or described when it is a repository's. */
static struct kiln_plugin_info *
open_plugin(struct kiln_plugins *p, size_t i, const char *file, const char *want, const struct kiln_digest *d,
    char *err, size_t errlen)
{
	struct kiln_plugin_info *pi;

	if (strcmp(p->where[i], "repository") == 0)
		return describe(p, file, p->where[i], want, d, err, errlen);
	pi = load(file, p->where[i], want, err, errlen);
	if (pi)
		pi->digest = *d;
	return pi;
}

struct kiln_plugin_info *
kiln_plugins_get(struct kiln_plugins *p, const char *name, struct kiln_state *st,
    const struct kiln_target *t)
{
	struct kiln_plugin_info *pi;
	struct kiln_digest d;
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
		if (kiln_state_file_digest(st, file, &sb, &d) < 0) {
			error("cannot read plugin %s:", file);
			free(file);
			return NULL;
		}
		pi = open_plugin(p, i, file, name, &d, err, sizeof(err));
		if (!pi) {
			free(file);
			if (t)
				error("%s:%d: target '%s': %s", t->file, t->line, t->name, err);
			else
				error("%s", err);
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

/*
 * An untrusted plugin's check(), run by kiln-run in the sandbox on what the
 * step would see of the target. A passed check is remembered by the digest
 * of the plugin and of that text, so a no-op build starts no process.
 */
static int
check_confined(struct kiln_plugins *p, const struct kiln_plugin_info *pi, const struct kiln_target *t)
{
	json_t *spec = json_object(), *inputs = json_object(), *outputs = json_array();
	char hex[KILN_DIGEST_HEX], msg[4096], *text, *passed, *file, *out;
	struct kiln_hasher *h;
	struct kiln_digest d;
	kiln_value *tmp;
	size_t i;
	int status = 0, r = 0;

	json_object_set_new(spec, "target", json_string(t->name));
	json_object_set_new(spec, "plugin", json_string(pi->path));
	json_object_set_new(spec, "workspace", json_string("/"));
	json_object_set_new(spec, "out", json_string(""));
	json_object_set_new(spec, "threads", json_integer(t->res.threads));
	json_object_set_new(spec, "params", kiln_value_to_json(kiln_target_params_tmp(t, &tmp)));
	free(tmp);
	for (i = 0; i < t->ninputs; i++)
		json_object_set_new(inputs, t->inputs[i].name,
		    json_string(t->inputs[i].path ? t->inputs[i].path : t->inputs[i].spec));
	json_object_set_new(spec, "inputs", inputs);
	for (i = 0; i < t->noutputs; i++)
		json_array_append_new(outputs, json_string(t->outputs[i]));
	json_object_set_new(spec, "outputs", outputs);
	text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(spec);
	h = kiln_hasher_new();
	kiln_hasher_add_digest(h, &pi->digest);
	kiln_hasher_adds(h, text);
	kiln_hasher_digest(h, &d);
	kiln_hasher_free(h);
	passed = xasprintf("%s/%s.checked", p->described, kiln_digest_hex(&d, hex));
	file = xasprintf("%s/%s.check.%ld.json", p->described, hex, (long)getpid());
	if (access(passed, F_OK) == 0)
		goto done;
	if (mkdir_p(p->described, 0755) < 0 || write_file_atomic(file, text, strlen(text), 0644, 0) < 0) {
		r = error("cannot write %s:", file);
		goto done;
	}
	out = run_confined(p, "--check", file, &status, msg, sizeof(msg));
	unlink(file);
	if (out && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		(void)write_file_atomic(passed, "", 0, 0644, 0);
	} else {
		if (out)
			last_line(out, msg, sizeof(msg));
		r = error("%s:%d: target '%s': %s", t->file, t->line, t->name, msg);
	}
	free(out);
done:
	free(text);
	free(passed);
	free(file);
	return r;
}

int
kiln_plugin_check(struct kiln_plugins *p, struct kiln_plugin_info *pi, const struct kiln_target *t)
{
	struct kiln_ctx ctx;
	const char *room[16], **names = room, **paths;
	kiln_value *tmp;
	size_t i;
	int r;

	if (pi->untrusted)
		return pi->has_check ? check_confined(p, pi, t) : 0;
	if (!pi->desc->check)
		return 0;
	kiln_ctx_init(&ctx);
	if (t->ninputs > 8)	/* most targets have a few inputs: no allocation for them */
		names = xreallocarray(NULL, 2 * t->ninputs, sizeof(*names));
	paths = names + (names == room ? 8 : t->ninputs);
	for (i = 0; i < t->ninputs; i++) {
		names[i] = t->inputs[i].name;
		paths[i] = t->inputs[i].path ? t->inputs[i].path : t->inputs[i].spec;
	}
	ctx.target = t->name;
	ctx.params = kiln_target_params_tmp(t, &tmp);
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
	free(tmp);
	if (names != room)
		free(names);
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
			struct kiln_plugin_info *pi = NULL;
			struct kiln_digest dg = {0};
			struct stat sb;

			if (stat(path, &sb) == 0 && kiln_state_file_digest(st, path, &sb, &dg) == 0)
				pi = open_plugin(p, i, path, NULL, &dg, err, sizeof(err));
			else
				snprintf(err, sizeof(err), "cannot read %s: %s", path, strerror(errno));

			if (!pi) {
				printf("%-12.*s %-10s %-4s %-18s refused: %s\n", (int)(strlen(files[j]) - 3),
				    files[j], "-", "-", p->where[i], err);
				bad = 1;
			} else {
				const char *shadow = map_get(&seen, pi->name) ? " (shadowed by an earlier one)" : "";

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
