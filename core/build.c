/*
 * build: deciding what is stale and bringing it up to date.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build.h"
#include "executor.h"
#include "host.h"
#include "key.h"
#include "graphfile.h"
#include "remote.h"
#include "value.h"

extern char **environ;

#define OUT_DIR "kiln-out"
#define TMP_DIR ".kiln/tmp"
#define LOG_DIR ".kiln/logs"

/* A running build step. */
struct job {
	struct kiln_target *t;
	struct kiln_plugin_info *pi;
	struct kiln_keyinfo ki;
	pid_t pid;
	int statusfd;
	struct buf partial;	/* status bytes not yet ending in a newline */
	char *failure;
	struct kiln_metric *metrics;
	size_t nmetrics;
	struct arena arena;	/* metric names */
	struct kiln_step step;	/* as the executor sees it */
	double started, deadline;
	double done, total;
	char unit[32];
	int timed_out;
};

struct run {
	struct kiln_ws *ws;
	const struct kiln_build_opts *o;
	struct kiln_target **ready;	/* a stack of targets whose dependencies are done */
	size_t nready;
	struct job **runnable;	/* decided to run, waiting for a slot, in order */
	size_t nrunnable;
	struct job **jobs;
	size_t njobs;
	int free_slots;
	size_t total, finished, ran, restored, uptodate, failed, skipped, would;
	int stop;		/* start nothing new */
	int signal;		/* the signal that stopped us */
	int tty;
	int status_shown;	/* a status line is on the terminal */
	double start;
	struct kiln_keyinfo ki;	/* scratch for deciding */
	struct kiln_executor *ex;
};

/* Workspace. */

static int
take_lock(struct kiln_ws *ws)
{
	char pid[32];
	/*
	 * Not close-on-exec: every step inherits the lock, so it is held until
	 * the last process of this build is gone, even if kiln itself is killed
	 * and its steps live on. A new kiln then waits rather than sharing
	 * .kiln/tmp with them.
	 */
	int fd = open(".kiln/lock", O_RDWR | O_CREAT, 0644);

	if (fd < 0)
		return error("cannot open .kiln/lock:");
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char other[32] = "";
		ssize_t n = pread(fd, other, sizeof(other) - 1, 0);

		other[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "kiln: another kiln (pid %s) is using this workspace; waiting for it to finish...\n",
		    other[0] ? strtok(other, "\n") : "?");
		if (flock(fd, LOCK_EX) < 0) {
			close(fd);
			return error("cannot lock .kiln/lock:");
		}
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)pwrite(fd, pid, strlen(pid), 0);
	ws->lockfd = fd;
	return 0;
}

int
kiln_ws_open(struct kiln_ws *ws, int lock)
{
	char *cache;

	memset(ws, 0, sizeof(*ws));
	ws->lockfd = -1;
	ws->root = getcwd(NULL, 0);
	if (!ws->root)
		return error("cannot find the current folder:");
	kiln_graph_init(&ws->graph);
	if (access("Kilnfile", F_OK) < 0)
		return error("no Kilnfile in %s (use -C DIR to build elsewhere)", ws->root);
	if (mkdir_p(".kiln", 0755) < 0)
		return error("cannot create .kiln:");
	if (lock && take_lock(ws) < 0)
		return -1;
	kiln_state_load(&ws->state, ".kiln/state");
	/* Without the lock another kiln may be appending: only look. */
	ws->state.readonly = !lock;
	if (kiln_graph_load(&ws->graph, "Kilnfile", &ws->state) < 0 || kiln_graph_link(&ws->graph) < 0)
		return -1;
	cache = kiln_cache_default_dir();
	if (kiln_cache_open(&ws->cache, cache) < 0) {
		free(cache);
		return -1;
	}
	free(cache);
	kiln_plugins_init(&ws->plugins, ws->root);
	return 0;
}

void
kiln_ws_close(struct kiln_ws *ws)
{
	kiln_plugins_release(&ws->plugins);
	kiln_remote_free(ws->remote);
	kiln_cache_release(&ws->cache);
	kiln_state_release(&ws->state);
	kiln_graph_release(&ws->graph);
	if (ws->lockfd >= 0)
		close(ws->lockfd);
	free(ws->root);
}

/* Inputs. */

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

static void
set_files(struct kiln_input *in, char **files, size_t n)
{
	in->files = files;
	in->nfiles = n;
}

/* Resolve a source input (file, folder or glob): its digest and the paths the step sees. */
static int
resolve_source(struct kiln_ws *ws, struct kiln_target *t, struct kiln_input *in)
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
kiln_resolve_target_input(struct kiln_input *in)
{
	if (!in->dep->outpath)
		in->dep->outpath = xasprintf(OUT_DIR "/%s", in->dep->name);
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
kiln_prepare(struct kiln_ws *ws)
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
		if (kiln_plugin_check(pi, t) < 0)
			bad = 1;
	}
	return bad ? -1 : 0;
}

/* Outputs. */

/* Digest of a target's outputs: what its dependents' keys see. */
static void
outputs_digest(const struct kiln_file *files, size_t n, struct kiln_digest *out)
{
	struct kiln_hasher *h = kiln_hasher_new();
	size_t i;

	for (i = 0; i < n; i++) {
		kiln_hasher_adds(h, files[i].path);
		kiln_hasher_add_u64(h, files[i].mode);
		kiln_hasher_add_digest(h, &files[i].digest);
	}
	kiln_hasher_digest(h, out);
	kiln_hasher_free(h);
}

static void
fill_stat(struct kiln_file *f, const struct stat *sb)
{
	f->ino = sb->st_ino;
	f->mtime_ns = ns_of(&sb->st_mtim);
	f->ctime_ns = ns_of(&sb->st_ctim);
}

/*
 * Are the recorded outputs still in kiln-out/<name>/ with the same bytes?
 * A file whose stat is unchanged (and was not racily new when recorded) is
 * trusted; any other is hashed. *restat is set when a stat must be recorded anew.
 */
int
kiln_outputs_intact(struct kiln_record *rec, int *restat)
{
	char path[4096];
	size_t i;

	*restat = 0;
	for (i = 0; i < rec->nfiles; i++) {
		struct kiln_file *f = &rec->files[i];
		struct stat sb;
		struct kiln_digest d;

		if ((size_t)snprintf(path, sizeof(path), OUT_DIR "/%s/%s", rec->name, f->path) >= sizeof(path))
			return 0;
		if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != f->size)
			return 0;
		if (f->ino == sb.st_ino && f->mtime_ns == ns_of(&sb.st_mtim) &&
		    f->ctime_ns == ns_of(&sb.st_ctim) && f->mtime_ns < rec->seen_ns &&
		    f->ctime_ns < rec->seen_ns)
			continue;
		if (kiln_digest_file(path, &d) < 0 || !kiln_digest_eq(&d, &f->digest))
			return 0;
		*restat = 1;
	}
	return 1;
}

/* Stat the installed outputs again, for the record. */
static void
restat(const char *name, struct kiln_file *files, size_t n)
{
	char path[4096];
	struct stat sb;
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), OUT_DIR "/%s/%s", name, files[i].path);
		if (stat(path, &sb) == 0)
			fill_stat(&files[i], &sb);
	}
}

static int
record(struct run *r, struct kiln_target *t, const struct kiln_keyinfo *ki, struct kiln_file *files,
    size_t nfiles, struct kiln_metric *metrics, size_t nmetrics, uint32_t flags)
{
	struct kiln_record rec = {0};

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
	outputs_digest(files, nfiles, &t->outdigest);
	return kiln_state_put(&r->ws->state, &rec);
}

/* Replace kiln-out/<name> with the folder `from`, never leaving a mix of old and new. */
static int
install(struct kiln_target *t, const char *from)
{
	char *dest = xasprintf(OUT_DIR "/%s", t->name);
	char *old = xasprintf(TMP_DIR "/%s.old", t->name);
	int r = 0;

	if (mkdir_p(OUT_DIR, 0755) < 0) {
		r = error("cannot create " OUT_DIR ":");
		goto out;
	}
	remove_tree(old);
	if (rename(dest, old) < 0 && errno != ENOENT) {
		r = error("cannot move %s aside:", dest);
		goto out;
	}
	if (rename(from, dest) < 0)
		r = error("cannot put the outputs of '%s' in place:", t->name);
	remove_tree(old);
out:
	free(dest);
	free(old);
	return r;
}

/* Prepare an empty folder for a step: .kiln/tmp/<name>/<sub>. */
static char *
fresh_dir(const char *name, const char *sub)
{
	char *top = xasprintf(TMP_DIR "/%s", name);
	char *dir = path_join(top, sub);

	remove_tree(dir);
	if (mkdir_p(dir, 0755) < 0) {
		error("cannot create %s:", dir);
		free(dir);
		dir = NULL;
	}
	free(top);
	return dir;
}

/*
 * Restore a target's outputs from the cache entry for its key (ki). 1
 * restored, 0 the cache could not (missing or damaged blob), -1 on error.
 */
static int
restore(struct run *r, struct kiln_target *t, const struct kiln_keyinfo *ki, const struct kiln_action *act)
{
	char *dir = fresh_dir(t->name, "restore");
	struct kiln_file *files;
	size_t i;
	int ret = 1;

	if (!dir)
		return -1;
	files = xreallocarray(NULL, act->nfiles + 1, sizeof(*files));
	memcpy(files, act->files, act->nfiles * sizeof(*files));
	for (i = 0; i < act->nfiles && ret == 1; i++) {
		char *dest = path_join(dir, files[i].path);
		char *slash = strrchr(dest, '/');

		*slash = '\0';
		if (mkdir_p(dest, 0755) < 0)
			ret = error("cannot create %s:", dest);
		*slash = '/';
		if (ret == 1) {
			int c = kiln_cache_restore(&r->ws->cache, &files[i], dest);

			ret = c == 0 ? 1 : c == 1 ? 0 : -1;
		}
		free(dest);
	}
	if (ret == 1 && install(t, dir) < 0)
		ret = -1;
	if (ret == 1)
		record(r, t, ki, files, act->nfiles, act->metrics, act->nmetrics, act->flags);
	free(files);
	free(dir);
	dir = xasprintf(TMP_DIR "/%s", t->name);
	remove_tree(dir);
	free(dir);
	return ret;
}

/* Output. */

static void
clear_status(struct run *r)
{
	if (r->tty && r->status_shown) {
		fputs("\r\033[K", stdout);
		r->status_shown = 0;
	}
}

/* Print a line above the status line. */
__attribute__((format(printf, 2, 3))) static void
say(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->o->quiet)
		return;
	clear_status(r);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void
show_status(struct run *r)
{
	char line[512];
	size_t i, n = 0;

	if (!r->tty || r->o->quiet || !r->njobs)
		return;
	n += snprintf(line + n, sizeof(line) - n, "[%zu/%zu] ", r->finished, r->total);
	if (r->ex->state) {
		size_t pending = 0;

		for (i = 0; i < r->njobs; i++)
			pending += r->ex->state(r->ex, &r->jobs[i]->step) == KILN_STEP_PENDING;
		n += snprintf(line + n, sizeof(line) - n, "%s: %zu pending, %zu running; ", r->ex->name, pending,
		    r->njobs - pending);
	}
	for (i = 0; i < r->njobs && n < 200; i++) {
		struct job *j = r->jobs[i];

		n += snprintf(line + n, sizeof(line) - n, "%s%s", i ? ", " : "", j->t->name);
		if (j->total > 0 && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, " %s %.0f/%.0f", j->unit, j->done, j->total);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
	}
	printf("\r%.*s\033[K", 150, line);
	fflush(stdout);
	r->status_shown = 1;
}

/* Dependencies and the ready stack. */

static void
push_ready(struct run *r, struct kiln_target *t)
{
	r->ready[r->nready++] = t;
}

/*
 * Every wanted target downstream of t that has not been decided, each once,
 * in an order where a target comes after the one that reached it: for
 * dependents that cannot be built. Iterative, so that a 100,000-deep chain
 * does not overflow the stack. Returns the count; *out is malloc'd, with the
 * target that reached each one in (*via)[i].
 */
static size_t
downstream(struct kiln_target *t, struct kiln_target ***out, struct kiln_target ***via)
{
	struct kiln_target **list = NULL, **from = NULL;
	size_t n = 0, cap = 0, head, i;

	for (head = 0;; head++) {
		struct kiln_target *u = head == 0 ? t : list[head - 1];

		for (i = 0; i < u->nrdeps; i++) {
			struct kiln_target *d = u->rdeps[i];

			if (!d->wanted || d->state != KILN_T_WAITING)
				continue;
			d->state = KILN_T_SKIPPED;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				list = xreallocarray(list, cap, sizeof(*list));
				from = xreallocarray(from, cap, sizeof(*from));
			}
			from[n] = u;
			list[n++] = d;
		}
		if (head == n)
			break;
	}
	*out = list;
	*via = from;
	return n;
}

static void
finish(struct run *r, struct kiln_target *t, int state)
{
	struct kiln_target **skip, **via;
	size_t i, n;

	t->state = state;
	r->finished++;
	if (state != KILN_T_DONE) {
		/* What depends on a failed target cannot be built. */
		n = downstream(t, &skip, &via);
		r->skipped += n;
		r->finished += n;
		free(skip);
		free(via);
		return;
	}
	for (i = 0; i < t->nrdeps; i++) {
		struct kiln_target *d = t->rdeps[i];

		if (d->wanted && d->state == KILN_T_WAITING && --d->pending == 0)
			push_ready(r, d);
	}
}

/* Starting and finishing steps. */

static char *
write_spec(struct run *r, struct job *j, const char *outdir)
{
	struct kiln_target *t = j->t;
	json_t *spec = json_object(), *inputs = json_object(), *outputs = json_array();
	json_t *env = json_object(), *binds = json_array();
	char *path = xasprintf(TMP_DIR "/%s/spec.json", t->name);
	size_t i, k;

	json_object_set_new(spec, "target", json_string(t->name));
	json_object_set_new(spec, "plugin", json_string(j->pi->path));
	json_object_set_new(spec, "workspace", json_string(r->ws->root));
	json_object_set_new(spec, "out", json_string(outdir));
	json_object_set_new(spec, "threads", json_integer(t->res.threads));
	json_object_set_new(spec, "params", kiln_value_to_json(t->params));
	for (i = 0; i < t->ninputs; i++) {
		json_object_set_new(inputs, t->inputs[i].name, json_string(t->inputs[i].path));
		for (k = 0; k < t->inputs[i].nfiles; k++)
			json_array_append_new(binds, json_string(t->inputs[i].files[k]));
	}
	json_object_set_new(spec, "inputs", inputs);
	json_object_set_new(spec, "binds", binds);
	for (i = 0; i < t->noutputs; i++)
		json_array_append_new(outputs, json_string(t->outputs[i]));
	json_object_set_new(spec, "outputs", outputs);
	for (i = 0; i < t->nenv; i++) {
		const char *v = t->env[i].value ? t->env[i].value : getenv(t->env[i].name);

		if (v)
			json_object_set_new(env, t->env[i].name, json_string(v));
	}
	json_object_set_new(spec, "env", env);
	if (r->o->sandbox) {
		json_t *sb = json_object();

		json_object_set_new(sb, "network", json_boolean(t->network));
		if (t->res.mem)
			json_object_set_new(sb, "mem", json_integer(t->res.mem));
		if (t->res.timeout)
			json_object_set_new(sb, "cpu", json_integer((json_int_t)(t->res.timeout * t->res.threads) + 1));
		json_object_set_new(spec, "sandbox", sb);
	}
	if (json_dump_file(spec, path, JSON_COMPACT) < 0) {
		error("cannot write %s:", path);
		free(path);
		path = NULL;
	}
	json_decref(spec);
	return path;
}

static void
free_job(struct job *j)
{
	if (j->statusfd >= 0)
		close(j->statusfd);
	buf_release(&j->partial);
	free(j->failure);
	free(j->metrics);
	arena_release(&j->arena);
	kiln_keyinfo_release(&j->ki);
	free(j);
}

/* A step decided on: it keeps its own copy of the key, since the scratch one is reused at once. */
static struct job *
new_job(struct run *r, struct kiln_target *t)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->t = t;
	j->statusfd = -1;
	j->pi = kiln_plugins_get(&r->ws->plugins, t->plugin, &r->ws->state, t);
	j->ki.comps = xreallocarray(NULL, r->ki.ncomps, sizeof(*j->ki.comps));
	memcpy(j->ki.comps, r->ki.comps, r->ki.ncomps * sizeof(*j->ki.comps));
	j->ki.ncomps = j->ki.cap = r->ki.ncomps;
	j->ki.key = r->ki.key;
	return j;
}

static int
start(struct run *r, struct job *j)
{
	struct kiln_target *t = j->t;
	char *outdir, *spec = NULL, *logpath;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int pipefd[2], rc;
	char **argv;

	outdir = fresh_dir(t->name, "out");
	if (outdir)
		spec = write_spec(r, j, outdir);
	if (!outdir || !spec || mkdir_p(LOG_DIR, 0755) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		error("cannot prepare the step for '%s':", t->name);
		free(outdir);
		free(spec);
		return -1;
	}
	logpath = xasprintf(LOG_DIR "/%s.log", t->name);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);
	j->step = (struct kiln_step){t, r->ws->plugins.runner, spec, r->ws->root, &j->ki.key,
	    r->ws->remote ? kiln_remote_base(r->ws->remote) : NULL};
	argv = r->ex->command(r->ex, &j->step);
	rc = argv ? posix_spawnp(&j->pid, argv[0], &fa, &attr, argv, environ) : ENOEXEC;
	kiln_executor_free_argv(argv);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	free(logpath);
	free(spec);
	j->step.spec = NULL;
	free(outdir);
	if (rc != 0) {
		errno = rc;
		close(pipefd[0]);
		error("cannot start the step for '%s' (%s executor):", t->name, r->ex->name);
		return -1;
	}
	j->statusfd = pipefd[0];
	fcntl(j->statusfd, F_SETFL, O_NONBLOCK);
	j->started = now_seconds();
	j->deadline = t->res.timeout && !r->ex->own_timeout ? j->started + t->res.timeout : 0;
	t->state = KILN_T_RUNNING;
	t->job = j;
	r->jobs = xreallocarray(r->jobs, r->njobs + 1, sizeof(*r->jobs));
	r->jobs[r->njobs++] = j;
	r->free_slots -= t->res.cpus < r->o->jobs ? t->res.cpus : r->o->jobs;
	r->ran++;
	if (!r->tty)
		say(r, "[%zu/%zu] %s %s\n", r->finished + 1, r->total, j->pi->desc->name, t->name);
	return 0;
}

static void
status_line(struct job *j, char *line)
{
	char *rest = strchr(line, ' ');

	if (!rest)
		return;
	*rest++ = '\0';
	if (strcmp(line, KILN_STATUS_PROGRESS) == 0) {
		sscanf(rest, "%lg %lg %31s", &j->done, &j->total, j->unit);
	} else if (strcmp(line, KILN_STATUS_METRIC) == 0) {
		char *sp = strrchr(rest, ' ');
		size_t i;

		if (!sp)
			return;
		*sp = '\0';
		for (i = 0; i < j->nmetrics && strcmp(j->metrics[i].name, rest) != 0; i++)
			;
		if (i == j->nmetrics) {
			j->metrics = xreallocarray(j->metrics, j->nmetrics + 1, sizeof(*j->metrics));
			j->metrics[j->nmetrics++].name = arena_strdup(&j->arena, rest);
		}
		j->metrics[i].value = strtod(sp + 1, NULL);
	} else if (strcmp(line, KILN_STATUS_FAIL) == 0 && !j->failure) {
		struct buf b = BUF_INIT;

		for (; *rest; rest++) {
			if (rest[0] == '\\' && rest[1] == 'n') {
				buf_addc(&b, '\n');
				rest++;
			} else if (rest[0] == '\\' && rest[1] == '\\') {
				buf_addc(&b, '\\');
				rest++;
			} else {
				buf_addc(&b, *rest);
			}
		}
		j->failure = buf_detach(&b);
	}
}

/* Read what the step has said on its status pipe; 0 at its end. */
static int
read_status(struct job *j)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		char *nl;

		n = read(j->statusfd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_add(&j->partial, chunk, n);
		while ((nl = memchr(j->partial.s, '\n', j->partial.len))) {
			size_t len = nl - j->partial.s + 1;

			*nl = '\0';
			status_line(j, j->partial.s);
			memmove(j->partial.s, j->partial.s + len, j->partial.len - len);
			j->partial.len -= len;
			j->partial.s[j->partial.len] = '\0';
		}
	}
	return n == 0 ? 0 : 1;
}

/*
 * The step succeeded: keep its declared outputs (dropping anything else it
 * wrote), store them in the cache, put them in place and record them.
 */
static int
keep_outputs(struct run *r, struct job *j, struct buf *why)
{
	struct kiln_target *t = j->t;
	struct kiln_filelist fs = {0};
	struct kiln_action act = {0};
	char *out = xasprintf(TMP_DIR "/%s/out", t->name), *final = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; i < t->noutputs && ret == 0; i++) {
		char *p = path_join(out, t->outputs[i]);
		struct stat sb;

		if (lstat(p, &sb) < 0) {
			buf_printf(why, "it did not write the declared output '%s'", t->outputs[i]);
			ret = -1;
		} else {
			ret = kiln_cache_put_tree(&r->ws->cache, &fs, out, t->outputs[i], 0, why);
		}
		free(p);
	}
	if (ret < 0)
		goto done;
	kiln_filelist_sort(&fs);
	act.files = fs.v;
	act.nfiles = fs.n;
	act.metrics = j->metrics;
	act.nmetrics = j->nmetrics;
	act.flags = r->o->sandbox ? 0 : KILN_REC_UNSANDBOXED;
	if (kiln_cache_put_action(&r->ws->cache, &j->ki.key, &act) < 0) {
		buf_adds(why, "cannot write its cache entry");
		ret = -1;
		goto done;
	}
	/* Share it; a remote that fails only warns, the step still succeeded. */
	if (r->ws->remote)
		kiln_remote_store(r->ws->remote, &j->ki.key, &act, t->name);
	/* Only the declared outputs go into kiln-out. */
	final = fresh_dir(t->name, "final");
	for (i = 0; final && i < t->noutputs; i++) {
		char *from = path_join(out, t->outputs[i]), *to = path_join(final, t->outputs[i]);
		char *slash = strrchr(to, '/');

		*slash = '\0';
		mkdir_p(to, 0755);
		*slash = '/';
		if (rename(from, to) < 0)
			ret = -1;
		free(from);
		free(to);
	}
	if (!final || ret < 0 || install(t, final) < 0) {
		buf_adds(why, "cannot put its outputs in place");
		ret = -1;
		goto done;
	}
	record(r, t, &j->ki, fs.v, fs.n, j->metrics, j->nmetrics, act.flags);
done:
	kiln_filelist_release(&fs);
	free(out);
	free(final);
	return ret;
}

/* Print the last lines of a step's log, indented. */
static void
log_tail(const char *path, int lines)
{
	size_t len, i;
	char *text = read_file(path, &len);
	int n = 0;

	if (!text || !len) {
		free(text);
		return;
	}
	i = len;
	if (text[i - 1] == '\n')
		i--;
	while (i > 0 && n < lines) {
		if (text[--i] == '\n')
			n++;
	}
	if (text[i] == '\n')
		i++;
	fprintf(stderr, "  last lines of %s:\n", path);
	for (char *line = strtok(text + i, "\n"); line; line = strtok(NULL, "\n"))
		fprintf(stderr, "  | %s\n", line);
	free(text);
}

static const char *
signal_reason(int sig)
{
	switch (sig) {
	case SIGXCPU:
		return "it used up its CPU time limit (SIGXCPU)";
	case SIGXFSZ:
		return "it wrote a file larger than its file-size limit (SIGXFSZ)";
	case SIGSEGV:
		return "it crashed (SIGSEGV, segmentation fault)";
	case SIGBUS:
		return "it crashed (SIGBUS)";
	case SIGABRT:
		return "it aborted (SIGABRT)";
	case SIGFPE:
		return "it crashed (SIGFPE)";
	case SIGILL:
		return "it crashed (SIGILL)";
	case SIGSYS:
		return "it made a system call the sandbox forbids (SIGSYS)";
	default:
		return NULL;
	}
}

static void
job_failed(struct run *r, struct job *j, const char *why)
{
	char *log = xasprintf(LOG_DIR "/%s.log", j->t->name);

	clear_status(r);
	error("%s:%d: target '%s' failed: %s", j->t->file, j->t->line, j->t->name, why);
	log_tail(log, 10);
	fprintf(stderr, "  log: %s\n", log);
	free(log);
	r->failed++;
	if (!r->o->keep_going)
		r->stop = 1;
	finish(r, j->t, KILN_T_FAILED);
}

/* The executor left the step's outputs in the cache (a cluster node did): restore them from there. */
static int
keep_from_cache(struct run *r, struct job *j, struct buf *why)
{
	struct kiln_action act;
	struct arena a = {0};
	int got = kiln_cache_get_action(&r->ws->cache, &j->ki.key, &act, &a), ret;

	if (!got && r->ws->remote && kiln_remote_fetch(r->ws->remote, &j->ki.key, j->t->name) == 1)
		got = kiln_cache_get_action(&r->ws->cache, &j->ki.key, &act, &a);
	ret = got ? restore(r, j->t, &j->ki, &act) : 0;
	if (ret != 1)
		buf_printf(why, "its outputs are not in the cache after the %s executor ran it", r->ex->name);
	arena_release(&a);
	return ret == 1 ? 0 : -1;
}

static void
job_done(struct run *r, struct job *j, int wstatus)
{
	struct buf why = BUF_INIT;
	char *tmp = xasprintf(TMP_DIR "/%s", j->t->name);
	size_t i;

	while (read_status(j) > 0)
		;
	for (i = 0; i < r->njobs && r->jobs[i] != j; i++)
		;
	r->jobs[i] = r->jobs[--r->njobs];
	r->free_slots += j->t->res.cpus < r->o->jobs ? j->t->res.cpus : r->o->jobs;
	j->t->job = NULL;
	if (j->timed_out) {
		buf_printf(&why, "it ran past its timeout of %gs and was stopped", j->t->res.timeout);
	} else if (WIFSIGNALED(wstatus)) {
		const char *s = signal_reason(WTERMSIG(wstatus));

		if (s)
			buf_adds(&why, s);
		else
			buf_printf(&why, "it was killed by signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	} else if (WEXITSTATUS(wstatus) != 0) {
		buf_adds(&why, j->failure ? j->failure : "");
		if (!j->failure)
			buf_printf(&why, "the plugin exited with status %d without saying why", WEXITSTATUS(wstatus));
	} else if ((r->ex->outputs_in_cache ? keep_from_cache(r, j, &why) : keep_outputs(r, j, &why)) == 0) {
		finish(r, j->t, KILN_T_DONE);
		remove_tree(tmp);
		goto out;
	}
	job_failed(r, j, why.s ? why.s : "unknown failure");
	remove_tree(tmp);
out:
	buf_release(&why);
	free(tmp);
	free_job(j);
}

/* Deciding. */

static void
files_of(struct kiln_record *rec, struct kiln_digest *out)
{
	outputs_digest(rec->files, rec->nfiles, out);
}

/*
 * Decide what to do with a target whose dependencies are done: nothing (up
 * to date), restore it from the cache, or run it (returns 1: to run).
 */
static int
decide(struct run *r, struct kiln_target *t)
{
	struct kiln_ws *ws = r->ws;
	struct kiln_plugin_info *pi = kiln_plugins_get(&ws->plugins, t->plugin, &ws->state, t);
	struct kiln_record *rec;
	struct kiln_action act;
	struct arena a = {0};
	size_t i;
	int re, got;

	for (i = 0; i < t->ninputs; i++)
		if (t->inputs[i].kind == KILN_INPUT_TARGET)
			kiln_resolve_target_input(&t->inputs[i]);
	kiln_key_compute(&r->ki, t, pi);
	t->key = r->ki.key;
	rec = kiln_state_get(&ws->state, t->name);
	/* What was built with --sandbox=off does not count for a sandboxed build. */
	if (rec && r->o->sandbox && (rec->flags & KILN_REC_UNSANDBOXED))
		rec = NULL;
	if (rec && kiln_digest_eq(&rec->key, &t->key) && kiln_outputs_intact(rec, &re)) {
		if (re)
			record(r, t, &r->ki, rec->files, rec->nfiles, rec->metrics, rec->nmetrics, rec->flags);
		files_of(rec, &t->outdigest);
		r->uptodate++;
		finish(r, t, KILN_T_DONE);
		return 0;
	}
	got = kiln_cache_get_action(&ws->cache, &t->key, &act, &a);
	/* A local miss: the remote cache may have it (fetched into the local cache, checked; -n only looks). */
	if (!got && ws->remote && r->o->dry_run)
		got = kiln_remote_peek(ws->remote, &t->key, &act, &a);
	else if (!got && ws->remote && kiln_remote_fetch(ws->remote, &t->key, t->name) == 1)
		got = kiln_cache_get_action(&ws->cache, &t->key, &act, &a);
	if (got && r->o->sandbox && (act.flags & KILN_REC_UNSANDBOXED))
		got = 0;
	if (got && r->o->dry_run) {
		say(r, "would restore %s from the cache\n", t->name);
		outputs_digest(act.files, act.nfiles, &t->outdigest);
		arena_release(&a);
		r->restored++;
		finish(r, t, KILN_T_DONE);
		return 0;
	}
	/* A local blob that was damaged (now quarantined) or gone: the remote may have a sound copy. */
	if (got && (restore(r, t, &r->ki, &act) == 1 || (ws->remote && !r->o->dry_run &&
	    kiln_remote_fetch(ws->remote, &t->key, t->name) == 1 && restore(r, t, &r->ki, &act) == 1))) {
		arena_release(&a);
		if (r->o->verbose)
			say(r, "restored %s from the cache\n", t->name);
		r->restored++;
		finish(r, t, KILN_T_DONE);
		return 0;
	}
	arena_release(&a);
	return 1;
}

/* Event loop. */

static int sigfd = -1;

static void
block_signals(sigset_t *old)
{
	sigset_t set;
	struct sigaction sa = {0}, hup;

	/*
	 * A shell starts background jobs with SIGINT ignored; kiln must still
	 * stop its steps cleanly on it. SIGHUP keeps an inherited SIG_IGN (nohup).
	 */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler != SIG_IGN)
		sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		die("signalfd:");
}

static void
reap(struct run *r)
{
	int ws;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		for (i = 0; i < r->njobs && r->jobs[i]->pid != pid; i++)
			;
		if (i < r->njobs)
			job_done(r, r->jobs[i], ws);
	}
}

static void
handle_signals(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			continue;
		r->signal = si.ssi_signo;
		r->stop = 1;
	}
	reap(r);
}

/* Stop every running step: SIGTERM to its process group, then SIGKILL. */
static void
kill_all(struct run *r)
{
	double until = now_seconds() + 3;
	size_t i;

	for (i = 0; i < r->njobs; i++)
		r->ex->cancel(r->ex, &r->jobs[i]->step, r->jobs[i]->pid, SIGTERM);
	while (r->njobs) {
		int ws;
		pid_t pid = waitpid(-1, &ws, WNOHANG);

		if (pid > 0) {
			for (i = 0; i < r->njobs && r->jobs[i]->pid != pid; i++)
				;
			if (i < r->njobs) {
				struct job *j = r->jobs[i];
				char *tmp = xasprintf(TMP_DIR "/%s", j->t->name);

				r->jobs[i] = r->jobs[--r->njobs];
				remove_tree(tmp);
				free(tmp);
				free_job(j);
			}
			continue;
		}
		if (now_seconds() > until) {
			for (i = 0; i < r->njobs; i++)
				r->ex->cancel(r->ex, &r->jobs[i]->step, r->jobs[i]->pid, SIGKILL);
			until += 3600;
		}
		usleep(10000);
	}
}

static void
wait_events(struct run *r)
{
	struct pollfd *fds = xreallocarray(NULL, r->njobs + 1, sizeof(*fds));
	double now = now_seconds(), next = now + (r->tty ? 0.2 : 3600);
	size_t i;
	int ms;

	fds[0] = (struct pollfd){sigfd, POLLIN, 0};
	for (i = 0; i < r->njobs; i++) {
		fds[i + 1] = (struct pollfd){r->jobs[i]->statusfd, POLLIN, 0};
		if (r->jobs[i]->deadline && r->jobs[i]->deadline < next)
			next = r->jobs[i]->deadline;
	}
	ms = next > now ? (int)((next - now) * 1000) + 1 : 0;
	if (poll(fds, r->njobs + 1, ms) > 0) {
		for (i = 0; i < r->njobs; i++)
			if (fds[i + 1].revents)
				read_status(r->jobs[i]);
	}
	free(fds);
	now = now_seconds();
	for (i = 0; i < r->njobs; i++) {
		struct job *j = r->jobs[i];

		if (j->deadline && now >= j->deadline && !j->timed_out) {
			j->timed_out = 1;
			r->ex->cancel(r->ex, &j->step, j->pid, SIGKILL);
		}
	}
	handle_signals(r);
	show_status(r);
}

static void
summary(struct run *r)
{
	double secs = now_seconds() - r->start;

	clear_status(r);
	if (r->o->quiet)
		return;
	if (r->o->dry_run) {
		printf("kiln: %zu targets: %zu would run, %zu would be restored from the cache, %zu up to date\n",
		    r->total, r->would, r->restored, r->uptodate);
		return;
	}
	if (r->ran == 0 && r->restored == 0 && r->failed == 0 && r->skipped == 0) {
		printf("kiln: nothing to do: %zu targets up to date (%.2fs)\n", r->total, secs);
		return;
	}
	printf("kiln: %zu targets: %zu ran, %zu restored from the cache, %zu up to date", r->total,
	    r->ran, r->restored, r->uptodate);
	if (r->failed)
		printf(", %zu failed", r->failed);
	if (r->skipped)
		printf(", %zu not built (a dependency failed)", r->skipped);
	printf(" (%.2fs)\n", secs);
}

/* Mark a would-run target's dependents for -n: they cannot be decided until it has run. */
static void
dry_run_mark(struct run *r, struct kiln_target *t, const char *why)
{
	struct kiln_target **after, **via;
	size_t i, n;

	say(r, "would run %s: %s\n", t->name, why);
	r->would++;
	t->state = KILN_T_SKIPPED;
	r->finished++;
	n = downstream(t, &after, &via);
	for (i = 0; i < n; i++)
		say(r, "would run %s: after %s runs (its new outputs may change this one's key)\n",
		    after[i]->name, via[i]->name);
	r->would += n;
	r->finished += n;
	free(after);
	free(via);
}

int
kiln_build(struct kiln_ws *ws, const struct kiln_build_opts *o)
{
	struct run r = {0};
	struct kiln_graph *g = &ws->graph;
	sigset_t old;
	size_t i;
	int status;

	r.ws = ws;
	r.o = o;
	r.start = now_seconds();
	r.tty = isatty(1) && !o->quiet;
	r.free_slots = o->jobs;
	r.ex = kiln_executor_new(o->executor ? o->executor : ws->graph.config.executor ? ws->graph.config.executor : "local",
	    &ws->graph.config);
	if (!r.ex)
		return 2;
	remove_tree(TMP_DIR);
	if (kiln_prepare(ws) < 0) {
		kiln_executor_free(r.ex);
		return 2;
	}
	r.ready = xreallocarray(NULL, g->ntargets + 1, sizeof(*r.ready));
	r.runnable = xreallocarray(NULL, g->ntargets + 1, sizeof(*r.runnable));
	for (i = g->ntargets; i-- > 0;) {
		struct kiln_target *t = g->targets[i];
		size_t k;

		if (!t->wanted)
			continue;
		r.total++;
		t->state = KILN_T_WAITING;
		t->pending = 0;
		for (k = 0; k < t->ndeps; k++)
			t->pending++;
		if (!t->pending)
			push_ready(&r, t);
	}
	block_signals(&old);
	for (;;) {
		/* Decide every ready target, then start as many steps as the slots allow. */
		while (r.nready && !r.stop) {
			struct kiln_target *t = r.ready[--r.nready];

			if (!decide(&r, t))
				continue;
			if (o->dry_run) {
				struct buf b = BUF_INIT;

				dry_run_mark(&r, t, kiln_stale_reason(ws, t, &r.ki, &b));
				buf_release(&b);
				continue;
			}
			r.runnable[r.nrunnable++] = new_job(&r, t);
		}
		while (r.nrunnable && !r.stop) {
			struct job *j = r.runnable[0];
			int need = j->t->res.cpus < o->jobs ? j->t->res.cpus : o->jobs;

			if (r.free_slots < need)
				break;
			memmove(r.runnable, r.runnable + 1, --r.nrunnable * sizeof(*r.runnable));
			if (start(&r, j) < 0) {
				r.failed++;
				r.stop = !o->keep_going;
				finish(&r, j->t, KILN_T_FAILED);
				free_job(j);
			}
		}
		if (r.stop && r.signal)
			break;
		if (!r.njobs && (r.stop || (!r.nready && !r.nrunnable)))
			break;
		wait_events(&r);
	}
	if (r.njobs)
		kill_all(&r);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sigfd);
	sigfd = -1;
	summary(&r);
	if (!o->dry_run && !r.signal)
		kiln_lock_write(ws, 0);
	kiln_state_compact(&ws->state, 0);
	kiln_keyinfo_release(&r.ki);
	kiln_executor_free(r.ex);
	for (i = 0; i < r.nrunnable; i++)
		free_job(r.runnable[i]);
	free(r.ready);
	free(r.runnable);
	free(r.jobs);
	if (r.signal) {
		fprintf(stderr, "kiln: interrupted by %s; stopped every step, nothing partial was kept\n",
		    strsignal(r.signal));
		return 128 + r.signal;
	}
	if (r.failed)
		return 1;
	status = 0;
	return status;
}

void
kiln_outputs_digest(const struct kiln_file *files, size_t n, struct kiln_digest *out)
{
	outputs_digest(files, n, out);
}
