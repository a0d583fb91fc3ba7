/*
 * slurm_node: `kiln slurm-step node`, the node side — in a Slurm job: it
 * materialises the step's inputs from the cache in a scratch folder, runs
 * kiln-run there (the same sandbox), and puts the outputs and the action
 * entry into the cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "checkpoint.h"
#include "ckptshare.h"
#include "context.h"
#include "fs.h"
#include "gpu.h"
#include "paths.h"
#include "remote.h"
#include "slurmjob.h"
#include "slurm_node.h"
#include "statuspipe.h"
#include "transfer.h"

struct node {
	const char *key, *inputs, *runner, *cachedir, *remote;
	double timeout;
	const char *target;	/* the step's, from its spec */
	struct kiln_digest keyd;	/* key, parsed */
	double ckpt_every;	/* checkpoint_upload: seconds between sends of its checkpoint; 0 none */
	double ckpt_next;	/* when it is next sent */
	struct kiln_digest ckpt_sent;	/* the last one sent (ckptshare.h) */
	struct kiln_cache *cache;
	struct kiln_remote *rem;
	char *failure;		/* the first fail line, escaped */
	struct kiln_metric *metrics;
	size_t nmetrics;
	struct arena arena;
};

/* A status line from kiln-run: pass it on, and keep the metrics for the cache entry. */
static void
node_line(void *arg, char *line)
{
	struct node *nd = arg;
	struct kiln_status_msg m;
	size_t i;

	fprintf(stderr, KILN_SLURM_MARK "%s\n", line);
	fflush(stderr);
	if (kiln_statuspipe_parse(line, &m) < 0)
		return;
	if (m.type == KILN_MSG_FAIL && !nd->failure)
		nd->failure = xstrdup(m.text);
	if (m.type != KILN_MSG_METRIC)
		return;
	for (i = 0; i < nd->nmetrics && strcmp(nd->metrics[i].name, m.name) != 0; i++)
		;
	if (i == nd->nmetrics) {
		nd->metrics = xreallocarray(nd->metrics, nd->nmetrics + 1, sizeof(*nd->metrics));
		nd->metrics[nd->nmetrics++].name = arena_strdup(&nd->arena, m.name);
	}
	nd->metrics[i].value = m.value;
}

__attribute__((format(printf, 1, 2))) static int
node_fail(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Status lines go to stderr here, marked, for the submitter. */
	fflush(stderr);
	kiln_slurmjob_fail(STDERR_FILENO, KILN_SLURM_MARK, KILN_FAIL_STEP, msg);
	return 1;
}

/* Materialise the step's inputs in `scratch` from the cache. */
static int
fetch_inputs(struct node *nd, struct kiln_cache *c, struct kiln_remote *rem, const char *scratch)
{
	struct kiln_digest inkey;
	struct kiln_action act;
	struct arena a = {0};
	size_t i;
	int got, ret = 0;

	if (kiln_digest_parse(nd->inputs, &inkey) < 0)
		return node_fail("bad --inputs");
	got = kiln_cache_get_action(c, &inkey, &act, &a);
	if (!got && rem && kiln_remote_fetch(rem, &inkey, "inputs") == 1)
		got = kiln_cache_get_action(c, &inkey, &act, &a);
	if (!got) {
		arena_release(&a);
		return node_fail("the step's inputs are not in the cache at %s%s (the cache folder must be shared "
		    "with the compute nodes, or a remote cache configured)", c->dir, rem ? " nor on the remote" : "");
	}
	for (i = 0; i < act.nfiles && ret == 0; i++) {
		char *dest = path_join(scratch, act.files[i].path), *slash = strrchr(dest, '/');
		int r;

		*slash = '\0';
		mkdir_p(dest, 0755);
		*slash = '/';
		r = kiln_cache_restore(c, &act.files[i], dest);
		/* Missing here, the blob may still be on the remote. */
		if (r == 1 && rem && kiln_remote_fetch(rem, &inkey, "inputs") == 1)
			r = kiln_cache_restore(c, &act.files[i], dest);
		if (r != 0)
			ret = node_fail("input %s is not in the cache at %s", act.files[i].path, c->dir);
		free(dest);
	}
	arena_release(&a);
	return ret;
}

/* The GPUs this job was allocated (SLURM_JOB_GPUS) are the ones the step holds. */
static int
node_gpus(json_t *spec)
{
	json_int_t want = json_integer_value(json_object_get(spec, "gpu_count"));
	struct kiln_gpus g;
	json_t *list;
	size_t i;

	if (want <= 0)
		return 0;
	if (kiln_gpu_find(&g) < 0 || (size_t)want > g.n) {
		node_fail("the step asks for %lld GPUs; this job was given %zu (%s)", (long long)want, g.n, g.from ? g.from : "?");
		return -1;
	}
	list = json_array();
	for (i = 0; i < (size_t)want; i++)
		json_array_append_new(list, json_integer(g.idx[i]));
	json_object_set_new(spec, "gpus", list);
	return 0;
}

/* Point the spec at the scratch workspace; its path there, or NULL. */
static char *
node_spec(const char *scratch, json_t **specp)
{
	char *from = path_join(scratch, KILN_SLURM_SPEC), *to = path_join(scratch, KILN_DIR "/spec.node.json");
	json_error_t jerr;
	json_t *spec = json_load_file(from, 0, &jerr);
	const char *out;

	free(from);
	if (!spec) {
		node_fail("the step's spec: %s", jerr.text);
		free(to);
		return NULL;
	}
	json_object_set_new(spec, "workspace", json_string(scratch));
	if (json_is_string(json_object_get(spec, "plugin"))) {
		struct arena a = {0};
		char *plugin = path_join(scratch, kiln_slurmjob_plugin_path(&a, json_string_value(json_object_get(spec, "plugin"))));

		json_object_set_new(spec, "plugin", json_string(plugin));
		free(plugin);
		arena_release(&a);
	}
	out = json_string_value(json_object_get(spec, "out"));
	if (node_gpus(spec) < 0) {
		json_decref(spec);
		free(to);
		return NULL;
	}
	if (!out || !path_is_safe_relative(out) || json_dump_file(spec, to, JSON_COMPACT) < 0) {
		node_fail("the step's spec cannot be used here");
		json_decref(spec);
		free(to);
		return NULL;
	}
	from = path_join(scratch, out);
	mkdir_p(from, 0755);
	free(from);
	*specp = spec;
	return to;
}

struct watch {
	struct node *nd;
	pid_t pid;
	double deadline;
	int stopped, timed_out;
};

static void
watch_line(void *arg, char *line)
{
	node_line(((struct watch *)arg)->nd, line);
}

/* While the step runs: its checkpoint to the remote when due, and the transfers on. */
static void
send_checkpoint(struct node *nd)
{
	double now = now_seconds();
	int r;

	kiln_transfer_perform(kiln_remote_transfer(nd->rem));
	if (now < nd->ckpt_next)
		return;
	r = kiln_ckptshare_send(nd->rem, nd->cache, nd->target, &nd->keyd, &nd->ckpt_sent);
	nd->ckpt_next = r == KILN_CKPT_FAILED ? 1e300 : now + (r == KILN_CKPT_PARTIAL && nd->ckpt_every > 1 ? 1 : nd->ckpt_every);
}

static void
watch_tick(void *arg, int sig)
{
	struct watch *w = arg;

	if (w->nd->ckpt_every)
		send_checkpoint(w->nd);
	if (sig && !w->stopped) {
		w->stopped = sig;
		kill(-w->pid, SIGKILL);
	}
	if (w->deadline && now_seconds() >= w->deadline && !w->timed_out) {
		w->timed_out = 1;
		kill(-w->pid, SIGKILL);
	}
}

/* Run kiln-run; 0 when it built the step. */
static int
run_step(struct node *nd, const char *spec)
{
	char *argv[] = {(char *)nd->runner, (char *)spec, NULL};
	struct watch w = {nd, 0, nd->timeout ? now_seconds() + nd->timeout : 0, 0, 0};
	struct kiln_slurmjob_watcher wt = {watch_line, watch_tick, NULL, &w};
	int ws = 0, rfd;

	/* The step's output is the log (stdout); stderr carries only our status lines. */
	rfd = kiln_slurmjob_spawn(argv, KILN_SLURM_STATUS_FD, 1, &w.pid);
	if (rfd < 0)
		return node_fail("cannot start %s on this node: %s", nd->runner, strerror(errno));
	kiln_slurmjob_watch(w.pid, rfd, &wt, &ws);
	if (w.stopped)
		return node_fail("stopped by %s", strsignal(w.stopped));
	if (w.timed_out)
		return node_fail("it ran past its timeout of %gs and was stopped", nd->timeout);
	if (WIFSIGNALED(ws))
		return node_fail("it was killed by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
	if (WEXITSTATUS(ws) != 0) {
		if (!nd->failure)
			return node_fail("the plugin exited with status %d without saying why", WEXITSTATUS(ws));
		return 1;
	}
	return 0;
}

/* Put the declared outputs and the action entry into the cache (and the remote). */
static int
store_outputs(struct node *nd, struct kiln_cache *c, struct kiln_remote *rem, const char *scratch,
    json_t *spec)
{
	struct kiln_filelist fl = {0};
	struct kiln_action act = {0};
	struct kiln_digest key;
	struct buf why = BUF_INIT;
	json_t *outputs = json_object_get(spec, "outputs"), *v;
	const char **names = xreallocarray(NULL, json_array_size(outputs) + 1, sizeof(*names));
	int top = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dirfd = -1, put, ret = 0;
	size_t i;

	/* The step wrote its outputs: reach them through no link it made. */
	if (top >= 0)
		dirfd = kiln_fs_openat(top, json_string_value(json_object_get(spec, "out")), O_RDONLY | O_DIRECTORY, 0);
	if (top >= 0)
		close(top);
	json_array_foreach(outputs, i, v)
		names[i] = json_is_string(v) ? json_string_value(v) : "";
	put = dirfd < 0 ? KILN_PUT_IO : kiln_cache_put_outputs(c, &fl, dirfd, names, json_array_size(outputs), &why);
	if (dirfd >= 0)
		close(dirfd);
	free(names);
	if (put != KILN_PUT_OK) {
		ret = node_fail("%s", why.s ? why.s : "its output folder is gone");
		goto out;
	}
	kiln_filelist_sort(&fl);
	act.files = fl.v;
	act.nfiles = fl.n;
	act.metrics = nd->metrics;
	act.nmetrics = nd->nmetrics;
	act.flags = json_is_object(json_object_get(spec, "sandbox")) ? 0 : KILN_REC_UNSANDBOXED;
	if (kiln_digest_parse(nd->key, &key) < 0 || kiln_cache_put_action(c, &key, &act) < 0) {
		ret = node_fail("cannot write its cache entry in %s", c->dir);
		goto out;
	}
	if (rem && kiln_remote_store(rem, &key, &act, json_string_value(json_object_get(spec, "target"))) < 0)
		ret = node_fail("cannot upload its outputs to the remote cache");
out:
	kiln_filelist_release(&fl);
	buf_release(&why);
	return ret;
}

struct node_fetch {
	struct node *nd;
	int finished;
};

static void
checkpoint_fetched(void *arg, int ok, const struct kiln_action *act)
{
	struct node_fetch *f = arg;
	double epoch;

	f->finished = 1;
	if (ok && kiln_ckptshare_unpack(f->nd->cache, f->nd->target, &f->nd->keyd, act, &epoch) == 0) {
		if (epoch >= 0)
			printf("kiln: %s: fetched its checkpoint at epoch %g from the remote cache\n", f->nd->target, epoch);
		else
			printf("kiln: %s: fetched its checkpoint from the remote cache\n", f->nd->target);
	}
}

/*
 * checkpoint_upload on a node (nothing without it, or without a remote):
 * the step's checkpoint folder lies beneath the scratch workspace (the working folder from here on, where the spec's
 * relative path leads), filled from the remote's checkpoint of the key when
 * there is one. 0, or 1 after reporting.
 */
static int
node_checkpoint(struct node *nd, const char *scratch, json_t *spec)
{
	struct node_fetch f = {nd, 0};
	struct kiln_transfer *tr;
	double epoch;
	int r;

	nd->ckpt_every = nd->rem ? json_number_value(json_object_get(spec, "checkpoint_upload")) : 0;
	if (!nd->ckpt_every)
		return 0;
	nd->target = json_string_value(json_object_get(spec, "target"));
	if (!nd->target || kiln_digest_parse(nd->key, &nd->keyd) < 0)
		return node_fail("the step's spec cannot be used here");
	if (chdir(scratch) < 0)
		return node_fail("cannot enter %s: %s", scratch, strerror(errno));
	tr = kiln_remote_transfer(nd->rem);
	kiln_remote_get_checkpoint(nd->rem, &nd->keyd, nd->target, checkpoint_fetched, &f);
	while (!f.finished && kiln_transfer_perform(tr))
		kiln_transfer_wait(tr, NULL, 0, 200);
	r = kiln_checkpoint_prepare(nd->target, &nd->keyd, &epoch);
	if (r < 0)
		return node_fail("cannot make its checkpoint folder beneath %s", scratch);
	if (r == 1 && epoch >= 0)
		printf("kiln: %s: resuming from its checkpoint at epoch %g\n", nd->target, epoch);
	else if (r == 1)
		printf("kiln: %s: resuming from its checkpoint\n", nd->target);
	fflush(stdout);
	nd->ckpt_next = now_seconds() + nd->ckpt_every;
	return 0;
}

/* Paths that must hold once the node works in its scratch folder: made absolute. */
static void
absolute(char **path)
{
	char *real = realpath(*path, NULL);

	if (real) {
		free(*path);
		*path = real;
	}
}

static int
node_main(struct node *nd)
{
	struct kiln_cache cache;
	struct kiln_remote *rem = NULL;
	const char *tmp = getenv("TMPDIR"), *job = getenv("SLURM_JOB_ID"), *node = getenv("SLURMD_NODENAME");
	char *scratch = xasprintf("%s/kiln-job.XXXXXX", tmp && *tmp ? tmp : "/tmp"), *spec = NULL;
	json_t *sp = NULL;
	int ret = 1;

	fflush(stderr);
	(void)kiln_statuspipe_send(STDERR_FILENO, KILN_SLURM_MARK, &(struct kiln_status_msg){.type = KILN_MSG_JOB,
	    .job = job ? atol(job) : 0, .node = node ? node : "?"});
	if (kiln_cache_open(&cache, nd->cachedir) < 0) {
		free(scratch);
		return node_fail("cannot open the cache at %s on this node", nd->cachedir);
	}
	rem = kiln_slurmjob_remote(nd->remote, &cache);
	if (!mkdtemp(scratch)) {
		ret = node_fail("cannot create a scratch folder %s: %s", scratch, strerror(errno));
		goto out;
	}
	absolute(&scratch);
	absolute(&cache.dir);
	nd->cache = &cache;
	nd->rem = rem;
	if (fetch_inputs(nd, &cache, rem, scratch) == 0 && (spec = node_spec(scratch, &sp)) &&
	    node_checkpoint(nd, scratch, sp) == 0 &&
	    run_step(nd, spec) == 0 && store_outputs(nd, &cache, rem, scratch, sp) == 0) {
		/* Built: the checkpoint it sent or resumed from goes (kiln_remote_store waited for the rest). */
		if (nd->ckpt_every) {
			kiln_remote_drop_checkpoint(rem, &nd->keyd);
			kiln_remote_drain(rem);
		}
		fflush(stderr);
		(void)kiln_statuspipe_send(STDERR_FILENO, KILN_SLURM_MARK, &(struct kiln_status_msg){.type = KILN_MSG_DONE});
		ret = 0;
	}
	remove_tree(scratch);
out:
	fflush(stderr);
	json_decref(sp);
	free(spec);
	free(scratch);
	free(nd->metrics);
	free(nd->failure);
	arena_release(&nd->arena);
	kiln_remote_free(rem);
	kiln_cache_release(&cache);
	return ret;
}

int
kiln_slurm_node(const struct kiln_slurm_args *a)
{
	struct node nd = {0};

	nd.key = a->key;
	nd.inputs = a->inputs;
	nd.runner = a->runner;
	nd.cachedir = a->cache;
	nd.remote = a->remote;
	nd.timeout = a->timeout;
	return node_main(&nd);
}
