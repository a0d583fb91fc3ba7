/*
 * verify: rebuild elsewhere, without the cache, and compare.
 *
 * The rebuild is a child kiln, not the scheduler called in-process: it must
 * see another workspace path, umask, time zone, locale and clock, all of
 * which are process-wide, and its cache must be an empty one. Only what the
 * graph reads is copied (the Kilnfile and its includes, every source input,
 * the repository's plugins/), so an input the Kilnfile forgot to declare
 * shows up here as a failed rebuild rather than as a passing one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assess.h"
#include "cmd_verify.h"
#include "fs.h"
#include "key.h"
#include "lock.h"
#include "outputs.h"
#include "overrides.h"
#include "paths.h"
#include "workspace.h"

#define VERIFY_DIR KILN_VERIFY_DIR
#define CLOCK_SHIFT "+397d"	/* a year and a month on: another date, another day of the week */

/* One output as a reference (lock or cache) or the rebuild recorded it. */
struct out {
	char *target;
	char *path;		/* NULL: the target's key line */
	struct kiln_digest d;
	uint64_t size;
};

struct outs {
	struct out *v;
	size_t n;
};

struct diff {
	const char *target, *path;
	const struct out *want, *got;	/* either may be NULL: the output is missing on that side */
	char *kept;		/* the rebuilt file, kept under .kiln/verify/ */
	char *report;		/* diffoscope's report, or NULL */
};

struct verify {
	struct kiln_workspace *ws;
	struct kiln_overrides ov;	/* -S, given to the rebuild too */
	int deep, json, sandbox, jobs, against_cache;
	char **names;
	size_t nnames;
	struct kiln_target **targets;	/* the targets compared */
	size_t ntargets;
	struct kiln_target **wanted;	/* all the closure, in dependency order */
	size_t nwanted;
	int unbuilt;
	char *tmp, *ws2, *cache2, *log;
	char umask_s[8], tz[64], locale[32];
	const char *faketime;
	struct outs want, got;
	struct diff *diffs;
	size_t ndiffs;
};

static void
outs_add(struct outs *o, const char *target, const char *path, const struct kiln_digest *d, uint64_t size)
{
	struct out *e;

	o->v = xreallocarray(o->v, o->n + 1, sizeof(*o->v));
	e = &o->v[o->n++];
	e->target = xstrdup(target);
	e->path = path ? xstrdup(path) : NULL;
	e->d = *d;
	e->size = size;
}

static void
outs_release(struct outs *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].target);
		free(o->v[i].path);
	}
	free(o->v);
}

/* Key lines sort before every output of their target. */
static int
cmp_out(const void *a, const void *b)
{
	const struct out *x = a, *y = b;
	int c = strcmp(x->target, y->target);

	if (c)
		return c;
	if (!x->path || !y->path)
		return !!x->path - !!y->path;
	return strcmp(x->path, y->path);
}

static const struct out *
outs_find(const struct outs *o, const char *target, const char *path)
{
	struct out k = {(char *)target, (char *)path, {{0}}, 0};

	return o->n ? bsearch(&k, o->v, o->n, sizeof(*o->v), cmp_out) : NULL;
}

/* The last error, for --json: a machine reading stdout gets it there too. */
static char why[1024];

/* Each error's text, kept for --json (set_error_hook). */
static void
remember(const char *msg)
{
	snprintf(why, sizeof(why), "%s", msg);
}

/* A Kilnfile.lock's key and out lines (core/lock.c reads it). -1 if it cannot be read or is not a lock. */
static int
lock_read(const char *path, struct outs *o)
{
	struct kiln_lockfile lf;
	size_t i;

	if (kiln_lock_read(&lf, path) < 0)
		return -1;
	for (i = 0; i < lf.n; i++) {
		const struct kiln_lock_entry *e = &lf.v[i];

		if (e->kind == KILN_LOCK_KEY || e->kind == KILN_LOCK_OUT)
			outs_add(o, e->target, e->kind == KILN_LOCK_OUT ? e->name : NULL, &e->d, e->size);
	}
	kiln_lockfile_release(&lf);
	qsort(o->v, o->n, sizeof(*o->v), cmp_out);
	return 0;
}

/* Choosing the targets. */

static void
collect_one(void *arg, struct kiln_target *t, const struct kiln_keyinfo *ki, struct kiln_target *blocker)
{
	struct verify *v = arg;

	(void)ki;
	v->wanted = xreallocarray(v->wanted, v->nwanted + 1, sizeof(*v->wanted));
	v->wanted[v->nwanted++] = t;
	if (blocker || t->state != KILN_T_DONE) {
		error("'%s' is not built: run kiln build before kiln verify (it compares a rebuild with what was built)",
		    t->name);
		v->unbuilt++;
	}
}

static int
is_named(const struct verify *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->nnames; i++)
		if (strcmp(v->names[i], name) == 0)
			return 1;
	return 0;
}

/* The targets compared: the named ones, or with --deep (or none named) the whole closure. */
static void
choose(struct verify *v)
{
	size_t i;

	v->targets = xreallocarray(NULL, v->nwanted + 1, sizeof(*v->targets));
	for (i = 0; i < v->nwanted; i++)
		if (v->deep || !v->nnames || is_named(v, v->wanted[i]->name))
			v->targets[v->ntargets++] = v->wanted[i];
}

static int
compared(const struct verify *v, const struct kiln_target *t)
{
	size_t i;

	for (i = 0; i < v->ntargets; i++)
		if (v->targets[i] == t)
			return 1;
	return 0;
}

/* The reference: Kilnfile.lock, or the local cache's entries for the current keys. */
static int
load_reference(struct verify *v)
{
	char hex[KILN_DIGEST_HEX];
	size_t i, k;

	if (!v->against_cache) {
		if (lock_read("Kilnfile.lock", &v->want) < 0)
			return error("cannot read Kilnfile.lock%s", errno == ENOENT ? " (run kiln build, which writes it)" : ":");
		for (i = 0; i < v->ntargets; i++) {
			const struct out *k2 = outs_find(&v->want, v->targets[i]->name, NULL);

			if (!k2 || !kiln_digest_eq(&k2->d, &v->targets[i]->key))
				return error("Kilnfile.lock does not record the current build of '%s' (run kiln build, and commit the lock)",
				    v->targets[i]->name);
		}
		return 0;
	}
	for (i = 0; i < v->ntargets; i++) {
		struct kiln_target *t = v->targets[i];
		struct kiln_action act;
		struct arena a = {0};

		if (!kiln_cache_get_action(&v->ws->cache, &t->key, &act, &a))
			return error("the local cache has no entry for '%s' (key %s): nothing to compare with; use --against lock",
			    t->name, kiln_digest_hex(&t->key, hex));
		outs_add(&v->want, t->name, NULL, &t->key, 0);
		for (k = 0; k < act.nfiles; k++)
			outs_add(&v->want, t->name, act.files[k].path, &act.files[k].digest, act.files[k].size);
		arena_release(&a);
	}
	qsort(v->want.v, v->want.n, sizeof(*v->want.v), cmp_out);
	return 0;
}

/* The fresh workspace. */

static int
copy_tree(const char *from, const char *to)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (stat(from, &sb) < 0)
		return error("cannot copy %s:", from);
	if (!S_ISDIR(sb.st_mode)) {
		char *dir = xstrdup(to), *slash = strrchr(dir, '/');

		if (slash)
			*slash = '\0';
		if ((slash && mkdir_p(dir, 0755) < 0) || copy_file(from, to, sb.st_mode & 0777) < 0)
			r = error("cannot copy %s to %s:", from, to);
		free(dir);
		return r;
	}
	if (mkdir_p(to, 0755) < 0)
		return error("cannot create %s:", to);
	d = opendir(from);
	while (d && r == 0 && (e = readdir(d))) {
		char *f, *t;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		f = path_join(from, e->d_name);
		t = path_join(to, e->d_name);
		r = copy_tree(f, t);
		free(f);
		free(t);
	}
	if (d)
		closedir(d);
	return r;
}

/* Copy a workspace-relative path into the fresh workspace, unless it is already there. */
static int
copy_in(struct verify *v, const char *rel)
{
	char *to;
	int r = 0;

	/* Absolute paths are the same on both sides; kiln-out/ is what gets rebuilt. */
	if (!path_is_safe_relative(rel) || strncmp(rel, "kiln-out/", 9) == 0)
		return 0;
	to = path_join(v->ws2, rel);
	if (access(to, F_OK) < 0)
		r = copy_tree(rel, to);
	free(to);
	return r;
}

static int
copy_sources(struct verify *v)
{
	struct kiln_graph *g = &v->ws->graph;
	size_t i, k, f;

	for (i = 0; i < g->nsources; i++)
		if (copy_in(v, g->sources[i]) < 0)
			return -1;
	if (access("Kilnfile", F_OK) == 0 && copy_in(v, "Kilnfile") < 0)
		return -1;
	if (access("plugins", F_OK) == 0 && copy_in(v, "plugins") < 0)
		return -1;
	for (i = 0; i < v->nwanted; i++) {
		struct kiln_target *t = v->wanted[i];

		for (k = 0; k < t->ninputs; k++) {
			if (t->inputs[k].kind == KILN_INPUT_TARGET)
				continue;
			for (f = 0; f < t->inputs[k].nfiles; f++)
				if (copy_in(v, t->inputs[k].files[f]) < 0)
					return -1;
		}
	}
	return 0;
}

/*
 * Put the entries of the targets that are not compared (the dependencies of
 * the named ones, without --deep) into the fresh cache, so the child restores
 * them instead of rebuilding them. Only those: the compared ones must run.
 */
static void
seed_cache(struct verify *v)
{
	struct kiln_cache c2;
	size_t i, k;

	if (kiln_cache_open(&c2, v->cache2) < 0)
		return;
	for (i = 0; i < v->nwanted; i++) {
		struct kiln_target *t = v->wanted[i];
		struct kiln_action act;
		struct arena a = {0};
		int ok = 1;

		if (compared(v, t) || !kiln_cache_get_action(&v->ws->cache, &t->key, &act, &a))
			continue;
		for (k = 0; k < act.nfiles && ok; k++) {
			char *blob = kiln_cache_blob_path(&v->ws->cache, &act.files[k].digest);

			ok = kiln_cache_put_blob(&c2, blob, &act.files[k].digest) == 0;
			free(blob);
		}
		if (ok)
			kiln_cache_put_action(&c2, &t->key, &act);
		arena_release(&a);
	}
	kiln_cache_release(&c2);
}

/* What to vary: whatever this process has, the child gets something else. */
static void
choose_environment(struct verify *v)
{
	mode_t old = umask(022);
	const char *tz = getenv("TZ"), *lc = getenv("LC_ALL");
	char *path = getenv("PATH") ? xstrdup(getenv("PATH")) : NULL, *dir, *save = NULL;

	umask(old);
	/*
	 * Group-writable against the usual 022 (or the reverse). Not 077: the
	 * sandbox's user could then not read the folders kiln makes, which is
	 * a failure to run, not a difference in bytes.
	 */
	snprintf(v->umask_s, sizeof(v->umask_s), "%03o", old == 002 ? 022 : 002);
	snprintf(v->tz, sizeof(v->tz), "%s", tz && strcmp(tz, "Pacific/Chatham") == 0 ? "America/St_Johns" :
	    "Pacific/Chatham");
	if (!lc || !*lc)
		lc = getenv("LANG");
	snprintf(v->locale, sizeof(v->locale), "%s", lc && strstr(lc, "UTF-8") ? "C" : "C.UTF-8");
	for (dir = path ? strtok_r(path, ":", &save) : NULL; dir && !v->faketime; dir = strtok_r(NULL, ":", &save)) {
		char *p = path_join(dir, "faketime");

		if (access(p, X_OK) == 0)
			v->faketime = p;
		else
			free(p);
	}
	free(path);
}

/*
 * faketime preloads its library ahead of everything; a kiln built with
 * AddressSanitizer (make test) refuses to start unless told that is fine.
 */
static void
asan_allow_preload(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char *s = xasprintf("%s%sverify_asan_link_order=0", old ? old : "", old && *old ? ":" : "");

	setenv("ASAN_OPTIONS", s, 1);
	free(s);
}

/* Run the child kiln in the fresh workspace. Its exit status, or -1. */
static int
rebuild(struct verify *v)
{
	char *exe = xstrdup(kiln_paths_self()), **argv, jobs[16];
	size_t n = 0, i;
	struct sigaction ign = {0}, oldint, oldquit;
	pid_t pid;
	int ws, fd;

	if (!exe)
		return error("cannot find kiln's own executable:");
	argv = xreallocarray(NULL, v->nnames + 2 * v->ov.n + 16, sizeof(*argv));
	if (v->faketime) {
		argv[n++] = (char *)v->faketime;
		argv[n++] = "-f";
		argv[n++] = CLOCK_SHIFT;
	}
	argv[n++] = exe;
	argv[n++] = "build";
	argv[n++] = "-q";
	snprintf(jobs, sizeof(jobs), "-j%d", v->jobs);
	if (v->jobs > 0)
		argv[n++] = jobs;
	argv[n++] = v->sandbox ? "--sandbox=on" : "--sandbox=off";
	argv[n++] = "--remote=off";
	/* Here: a Slurm executor's nodes could not see the rebuild's private cache. */
	argv[n++] = "--executor=local";
	for (i = 0; i < v->ov.n; i++) {
		argv[n++] = "-S";
		argv[n++] = v->ov.v[i].text;
	}
	argv[n++] = "--";
	/* The named targets: without --deep their dependencies come from the seeded cache. */
	for (i = 0; i < v->nnames; i++)
		argv[n++] = v->names[i];
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	/* Ctrl-C reaches the child too, which stops its steps; this side waits for it and cleans up. */
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &oldint);
	sigaction(SIGQUIT, &ign, &oldquit);
	pid = fork();
	if (pid < 0) {
		free(exe);
		free(argv);
		return error("cannot start the rebuild:");
	}
	if (pid == 0) {
		fd = open(v->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || chdir(v->ws2) < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		umask(strtol(v->umask_s, NULL, 8));
		setenv("TZ", v->tz, 1);
		setenv("LC_ALL", v->locale, 1);
		setenv("LANG", v->locale, 1);
		setenv("KILN_CACHE_DIR", v->cache2, 1);
		setenv("KILN_REMOTE", "off", 1);
		/* Only the steps' clock moves; kiln's own timeouts keep real time. */
		setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
		unsetenv("KILN_REMOTE_HEADER");
		if (v->faketime)
			asan_allow_preload();
		sigaction(SIGINT, &oldint, NULL);
		sigaction(SIGQUIT, &oldquit, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	free(exe);
	free(argv);
	while ((fd = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
		;
	sigaction(SIGINT, &oldint, NULL);
	sigaction(SIGQUIT, &oldquit, NULL);
	if (fd < 0)
		return error("waiting for the rebuild:");
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* Comparing. */

/* A file holding the reference bytes: the workspace's output if it still has them, else the cache's blob. */
static char *
reference_file(struct verify *v, const struct out *o)
{
	char *p = xasprintf(KILN_OUT_DIR "/%s/%s", o->target, o->path);
	struct kiln_digest d;

	if (kiln_digest_file(p, &d) == 0 && kiln_digest_eq(&d, &o->d))
		return p;
	free(p);
	if (kiln_cache_has_blob(&v->ws->cache, &o->d))
		return kiln_cache_blob_path(&v->ws->cache, &o->d);
	return NULL;
}

static char *
find_diffoscope(void)
{
	static const char *const where[] = {"/usr/bin/diffoscope", "/usr/local/bin/diffoscope"};
	size_t i;

	for (i = 0; i < LEN(where); i++)
		if (access(where[i], X_OK) == 0)
			return xstrdup(where[i]);
	return NULL;
}

/* Run a program with its output thrown away; its exit status, or -1. */
static int
run_quietly(char **args)
{
	pid_t pid;
	int ws, fd;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(args[0], args);
		_exit(127);
	}
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

/* Keep the rebuilt file and, where diffoscope is installed, its report against the reference. */
static void
keep_evidence(struct verify *v, struct diff *d)
{
	char *rebuilt = xasprintf("%s/kiln-out/%s/%s", v->ws2, d->target, d->path);
	char *ref, *tool;

	if (!d->got)
		goto out;
	d->kept = xasprintf(VERIFY_DIR "/%s/%s", d->target, d->path);
	kiln_fs_removeat(AT_FDCWD, d->kept);
	if (copy_tree(rebuilt, d->kept) < 0) {
		free(d->kept);
		d->kept = NULL;
		goto out;
	}
	ref = d->want ? reference_file(v, d->want) : NULL;
	tool = find_diffoscope();
	if (ref && tool) {
		char *report = xasprintf("%s.diffoscope.txt", d->kept);
		char *args[] = {"timeout", "300", tool, "--text", report, ref, d->kept, NULL};

		/* diffoscope exits 1 when the files differ, which they do; a report file is what counts. */
		if (run_quietly(args) >= 0 && access(report, F_OK) == 0)
			d->report = report;
		else
			free(report);
	}
	free(tool);
	free(ref);
out:
	free(rebuilt);
}

static void
add_diff(struct verify *v, const char *target, const char *path, const struct out *want, const struct out *got)
{
	struct diff *d;

	v->diffs = xreallocarray(v->diffs, v->ndiffs + 1, sizeof(*v->diffs));
	d = &v->diffs[v->ndiffs++];
	memset(d, 0, sizeof(*d));
	d->target = target;
	d->path = path;
	d->want = want;
	d->got = got;
	if (path)
		keep_evidence(v, d);
}

/* Has a dependency of t (compared before it: dependency order) already differed? */
static int
dep_differs(const struct verify *v, const struct kiln_target *t)
{
	size_t i, k;

	for (i = 0; i < t->ndeps; i++)
		for (k = 0; k < v->ndiffs; k++)
			if (strcmp(v->diffs[k].target, t->deps[i]->name) == 0)
				return 1;
	return 0;
}

/* Compare one target's outputs, both lists being sorted by path. Returns how many outputs it has. */
static size_t
compare_target(struct verify *v, const struct kiln_target *t)
{
	const struct out *w = outs_find(&v->want, t->name, NULL), *g = outs_find(&v->got, t->name, NULL);
	const struct out *wend = v->want.v + v->want.n, *gend = v->got.v + v->got.n;
	size_t n = 0;

	if (!g) {
		add_diff(v, t->name, NULL, w, NULL);
		return 0;
	}
	/*
	 * A key that moved while every dependency came out the same means the
	 * environment leaks into the key; after a differing dependency it is
	 * only that difference again, already reported.
	 */
	if (!kiln_digest_eq(&w->d, &g->d) && !dep_differs(v, t))
		add_diff(v, t->name, NULL, w, g);
	w++;
	g++;
	for (;;) {
		int wok = w < wend && strcmp(w->target, t->name) == 0;
		int gok = g < gend && strcmp(g->target, t->name) == 0;
		int c;

		if (!wok && !gok)
			break;
		n++;
		c = !wok ? 1 : !gok ? -1 : strcmp(w->path, g->path);
		if (c < 0) {
			add_diff(v, t->name, w->path, w, NULL);
			w++;
		} else if (c > 0) {
			add_diff(v, t->name, g->path, NULL, g);
			g++;
		} else {
			if (!kiln_digest_eq(&w->d, &g->d) || w->size != g->size)
				add_diff(v, t->name, w->path, w, g);
			w++;
			g++;
		}
	}
	return n;
}

/* Reporting. */

static json_t *
side_json(const struct out *o)
{
	char hex[KILN_DIGEST_HEX];

	if (!o)
		return json_null();
	return o->path ? json_pack("{s:s, s:I}", "digest", kiln_digest_hex(&o->d, hex), "size", (json_int_t)o->size)
	    : json_pack("{s:s}", "key", kiln_digest_hex(&o->d, hex));
}

static void
report_json(struct verify *v, const char *result, size_t noutputs)
{
	json_t *doc = json_object(), *diffs = json_array(), *targets = json_array(), *env;
	size_t i, k;

	env = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "workspace", v->ws2, "umask", v->umask_s, "TZ", v->tz,
	    "LC_ALL", v->locale, "clock", v->faketime ? CLOCK_SHIFT : NULL);
	json_object_set_new(doc, "result", json_string(result));
	json_object_set_new(doc, "against", json_string(v->against_cache ? "cache" : "lock"));
	json_object_set_new(doc, "environment", env);
	json_object_set_new(doc, "outputs", json_integer(noutputs));
	for (i = 0; i < v->ntargets; i++) {
		int same = 1;

		for (k = 0; k < v->ndiffs; k++)
			if (strcmp(v->diffs[k].target, v->targets[i]->name) == 0)
				same = 0;
		json_array_append_new(targets, json_pack("{s:s, s:b}", "name", v->targets[i]->name, "identical", same));
	}
	json_object_set_new(doc, "targets", targets);
	for (i = 0; i < v->ndiffs; i++) {
		struct diff *d = &v->diffs[i];

		json_array_append_new(diffs, json_pack("{s:s, s:s?, s:o, s:o, s:s?, s:s?}", "target", d->target, "path",
		    d->path, "expected", side_json(d->want), "rebuilt", side_json(d->got), "kept", d->kept, "diffoscope",
		    d->report));
	}
	json_object_set_new(doc, "differences", diffs);
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

static void
report_error(struct verify *v)
{
	json_t *doc = json_pack("{s:s, s:s, s:s?}", "result", "error", "message", why[0] ? why : "see the errors above",
	    "log", v->tmp && access(VERIFY_DIR "/build.log", F_OK) == 0 ? VERIFY_DIR "/build.log" : NULL);

	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

static void
print_side(const char *label, const struct out *o)
{
	char hex[KILN_DIGEST_HEX];

	if (!o)
		printf("  %-14s (no such output)\n", label);
	else if (!o->path)
		printf("  %-14s key %s\n", label, kiln_digest_hex(&o->d, hex));
	else
		printf("  %-14s %12llu bytes  %s\n", label, (unsigned long long)o->size, kiln_digest_hex(&o->d, hex));
}

static void
report_text(struct verify *v, size_t noutputs)
{
	const char *ref = v->against_cache ? "cache:" : "Kilnfile.lock:";
	size_t i, k, same = 0;

	printf("kiln verify: rebuilt %zu target%s in %s (umask %s, TZ=%s, LC_ALL=%s, clock %s)\n", v->ntargets,
	    v->ntargets == 1 ? "" : "s", v->ws2, v->umask_s, v->tz, v->locale,
	    v->faketime ? "moved " CLOCK_SHIFT : "unchanged: faketime is not installed");
	for (i = 0; i < v->ndiffs; i++) {
		struct diff *d = &v->diffs[i];

		if (!d->path)
			printf("DIFFERS %s: %s\n", d->target, d->got ? "its action key is not the same in another environment" :
			    "the rebuild did not record it");
		else
			printf("DIFFERS %s %s\n", d->target, d->path);
		print_side(ref, d->want);
		print_side("rebuilt:", d->got);
		if (d->kept)
			printf("  %-14s %s\n", "kept at:", d->kept);
		if (d->report)
			printf("  %-14s %s\n", "diffoscope:", d->report);
	}
	for (i = 0; i < v->ntargets; i++) {
		for (k = 0; k < v->ndiffs && strcmp(v->diffs[k].target, v->targets[i]->name) != 0; k++)
			;
		same += k == v->ndiffs;
	}
	if (v->ndiffs)
		printf("kiln verify: %zu of %zu outputs differ; %zu of %zu targets identical\n", v->ndiffs, noutputs,
		    same, v->ntargets);
	else
		printf("kiln verify: all %zu outputs of %zu targets identical to %s\n", noutputs, v->ntargets,
		    v->against_cache ? "the cache" : "Kilnfile.lock");
}

/* Driving it. */

static int
prepare_dirs(struct verify *v)
{
	const char *t = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/kiln-verify.XXXXXX", t && *t == '/' ? t : "/tmp");

	v->tmp = mkdtemp(tmpl);
	if (!v->tmp) {
		free(tmpl);
		return error("cannot create a folder for the rebuild:");
	}
	/* Another depth and another name than the workspace's. */
	v->ws2 = xasprintf("%s/elsewhere/w", v->tmp);
	v->cache2 = xasprintf("%s/cache", v->tmp);
	v->log = xasprintf("%s/build.log", v->tmp);
	if (mkdir_p(v->ws2, 0755) < 0 || mkdir_p(VERIFY_DIR, 0755) < 0)
		return error("cannot create %s:", v->ws2);
	kiln_fs_removeat(AT_FDCWD, VERIFY_DIR);
	mkdir_p(VERIFY_DIR, 0755);
	return 0;
}

static int
run(struct verify *v)
{
	size_t i, noutputs = 0;
	char *lock2;
	int rc;

	if (kiln_assess_walk(v->ws, collect_one, v) < 0)
		return 2;
	if (v->unbuilt)
		return 2;
	choose(v);
	if (load_reference(v) < 0 || prepare_dirs(v) < 0 || copy_sources(v) < 0)
		return 2;
	seed_cache(v);
	choose_environment(v);
	if (!v->json)
		fprintf(stderr, "kiln verify: rebuilding %zu target%s without the cache in %s...\n", v->ntargets,
		    v->ntargets == 1 ? "" : "s", v->ws2);
	rc = rebuild(v);
	copy_file(v->log, VERIFY_DIR "/build.log", 0644);
	if (rc == 130 || rc == 143) {
		error("interrupted; the rebuild was stopped");
		return rc;
	}
	if (rc != 0) {
		error("the rebuild in %s failed (exit %d); its output is in " VERIFY_DIR "/build.log", v->ws2, rc);
		return 2;
	}
	lock2 = path_join(v->ws2, "Kilnfile.lock");
	rc = lock_read(lock2, &v->got);
	free(lock2);
	if (rc < 0)
		return error("the rebuild wrote no Kilnfile.lock; see " VERIFY_DIR "/build.log"), 2;
	for (i = 0; i < v->ntargets; i++)
		noutputs += compare_target(v, v->targets[i]);
	if (v->json)
		report_json(v, v->ndiffs ? "differs" : "identical", noutputs);
	else
		report_text(v, noutputs);
	return v->ndiffs ? 1 : 0;
}

static void
release(struct verify *v)
{
	size_t i;

	kiln_overrides_release(&v->ov);
	if (v->tmp)
		remove_tree(v->tmp);
	for (i = 0; i < v->ndiffs; i++) {
		free(v->diffs[i].kept);
		free(v->diffs[i].report);
	}
	free(v->diffs);
	outs_release(&v->want);
	outs_release(&v->got);
	free(v->targets);
	free(v->wanted);
	free(v->tmp);
	free(v->ws2);
	free(v->cache2);
	free(v->log);
	free((char *)v->faketime);
}

/* A side effect (a push, a commit) is never re-run to compare it: refuse one named. */
static int
refuse_effects(const struct kiln_graph *g)
{
	size_t i;

	for (i = 0; i < g->ntargets; i++)
		if (g->targets[i]->wanted && g->targets[i]->effect)
			return error("'%s' is a side effect (%s:%d): kiln verify never runs it; "
			    "name the targets it needs instead", g->targets[i]->name, g->targets[i]->file,
			    g->targets[i]->line);
	return 0;
}

int
kiln_cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"deep", no_argument, NULL, 'd'},
		{"against", required_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'J'},
		{"sandbox", required_argument, NULL, 'X'},
		{"set", required_argument, NULL, 'S'},
		{"jobs", required_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct verify v = {0};
	struct kiln_workspace ws;
	int c, r;

	v.sandbox = 1;
	while ((c = getopt_long(argc, argv, "j:S:", longopts, NULL)) != -1) {
		if (c == 'd') {
			v.deep = 1;
		} else if (c == 'J') {
			v.json = 1;
		} else if (c == 'a' && (strcmp(optarg, "lock") == 0 || strcmp(optarg, "cache") == 0)) {
			v.against_cache = strcmp(optarg, "cache") == 0;
		} else if (c == 'X' && (strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0)) {
			v.sandbox = strcmp(optarg, "on") == 0;
		} else if (c == 'S') {
			if (kiln_overrides_add(&v.ov, optarg) < 0)
				return kiln_overrides_release(&v.ov), 2;
		} else if (c == 'j' && atoi(optarg) > 0) {
			v.jobs = atoi(optarg);
		} else {
			fprintf(stderr, "usage: kiln verify [--deep] [--against lock|cache] [--json] [--sandbox on|off] [-S TARGET.FIELD=VALUE]... [-j N] [TARGET...]\n");
			kiln_overrides_release(&v.ov);
			return 2;
		}
	}
	set_error_hook(remember);
	if (kiln_workspace_open_with(&ws, 0, &v.ov) < 0) {
		kiln_workspace_close(&ws);
		kiln_overrides_release(&v.ov);
		return 2;
	}
	v.ws = &ws;
	v.names = argv + optind;
	v.nnames = argc - optind;
	if (kiln_graph_want(&ws.graph, v.names, v.nnames) < 0) {
		if (v.json)
			report_error(&v);
		kiln_workspace_close(&ws);
		kiln_overrides_release(&v.ov);
		return 2;
	}
	r = refuse_effects(&ws.graph) < 0 ? 2 : run(&v);
	if (r == 2 && v.json)
		report_error(&v);
	release(&v);
	kiln_workspace_close(&ws);
	set_error_hook(NULL);
	return r;
}
