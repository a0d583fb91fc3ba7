/*
 * scheduler: the scheduler — deciding what is stale and bringing it up to date;
 * see sched.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "assess.h"
#include "checkpoint.h"
#include "ckptshare.h"
#include "fs.h"
#include "git.h"
#include "history.h"
#include "inputs.h"
#include "gpu.h"
#include "job.h"
#include "netns.h"
#include "lock.h"
#include "outputs.h"
#include "paths.h"
#include "remote.h"
#include "overrides.h"
#include "scheduler.h"
#include "transfer.h"
#include "value.h"
#include "workspace.h"

/* A target this build ran, restored or saw fail, for the run history. */
struct outcome {
	struct kiln_target *t;
	const char *status;	/* "ran", "restored", "failed" */
	struct kiln_metric *metrics;	/* a failed step's metrics (malloc'd), or NULL: the state has them */
	size_t nmetrics;
};

struct run {
	struct kiln_workspace *ws;
	const struct kiln_build_opts *o;
	struct kiln_target **ready;	/* a stack of targets whose dependencies are done */
	size_t nready;
	struct kiln_job **runnable;	/* decided to run, waiting for a slot, in order */
	size_t nrunnable;
	struct kiln_job **jobs;
	size_t njobs;
	struct kiln_job **held;	/* waiting for remote-only inputs to be fetched */
	size_t nheld;
	size_t looking;		/* targets being looked up in the remote cache */
	size_t remote_only;	/* restored targets left in the remote (--download=minimal) */
	int any_named;		/* a target was named on the command line */
	int woke;		/* a lookup or fetch ended: there may be something to decide or start */
	int free_slots;
	size_t total, finished, ran, restored, uptodate, failed, skipped, would, unstarted;
	size_t left_out;	/* failures only soft inputs depended on (counted in failed too) */
	struct outcome *outcomes;	/* for the run history */
	size_t noutcomes;
	double wall_start;		/* realtime seconds, for the history */
	int stop;		/* start nothing new */
	int signal;		/* the signal that stopped us */
	int tty;
	int status_shown;	/* a status line is on the terminal */
	double start;
	struct kiln_keyinfo ki;	/* scratch for deciding */
	struct kiln_executor *ex;
	struct kiln_gpus gpus;	/* this machine's, when steps run here */
	int local;		/* steps run on this machine: GPUs are counted */
	unsigned char gpu_busy[KILN_GPU_MAX];	/* by position in gpus.idx */
	size_t kept;		/* stopped steps whose checkpoints stay for the next build */
	struct kiln_target **ahead;	/* whose outputs the second thread checks (look_ahead) */
};

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

	struct kiln_transfer *tr = r->ws->remote ? kiln_remote_transfer(r->ws->remote) : NULL;
	size_t busy = tr ? kiln_transfer_busy(tr) : 0;

	if (!r->tty || r->o->quiet || (!r->njobs && !busy))
		return;
	n += snprintf(line + n, sizeof(line) - n, "[%zu/%zu] ", r->finished, r->total);
	if (busy) {
		char rate[32];

		n += snprintf(line + n, sizeof(line) - n, "remote: %zu transfers, %s/s; ", busy,
		    format_size(rate, sizeof(rate), (unsigned long long)kiln_transfer_rate(tr)));
	}
	if (r->ex->state) {
		size_t pending = 0;

		for (i = 0; i < r->njobs; i++)
			pending += r->ex->state(r->ex, &r->jobs[i]->step) == KILN_STEP_PENDING;
		n += snprintf(line + n, sizeof(line) - n, "%s: %zu pending, %zu running; ", r->ex->name, pending,
		    r->njobs - pending);
	}
	for (i = 0; i < r->njobs && n < 200; i++) {
		struct kiln_job *j = r->jobs[i];

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

/* Note what became of t in this build (for the run history); m: a failed step's metrics. */
static void
outcome(struct run *r, struct kiln_target *t, const char *status, const struct kiln_metric *m, size_t nm)
{
	struct outcome *o;
	size_t i;

	r->outcomes = xreallocarray(r->outcomes, r->noutcomes + 1, sizeof(*r->outcomes));
	o = &r->outcomes[r->noutcomes++];
	o->t = t;
	o->status = status;
	o->metrics = nm ? xreallocarray(NULL, nm, sizeof(*o->metrics)) : NULL;
	o->nmetrics = nm;
	for (i = 0; i < nm; i++) {
		o->metrics[i].name = xstrdup(m[i].name);
		o->metrics[i].value = m[i].value;
	}
}

/* Dependencies and the ready stack. */

static void
push_ready(struct run *r, struct kiln_target *t)
{
	r->ready[r->nready++] = t;
}

/* Does d take u only through soft inputs (so that d can run when u fails)? */
static int
soft_edge(const struct kiln_target *d, const struct kiln_target *u)
{
	size_t i;
	int any = 0;

	for (i = 0; i < d->ninputs; i++) {
		if (d->inputs[i].dep != u)
			continue;
		if (!d->inputs[i].soft)
			return 0;
		any = 1;
	}
	return any;
}

/* Has t a wanted dependent? */
static int
consumed(const struct kiln_target *t)
{
	size_t i;

	for (i = 0; i < t->nrdeps; i++)
		if (t->rdeps[i]->wanted)
			return 1;
	return 0;
}

/*
 * Every wanted target downstream of t that has not been decided, each once,
 * in an order where a target comes after the one that reached it: for
 * dependents that cannot be built. Iterative, so that a 100,000-deep chain
 * does not overflow the stack. Returns the count; *out is malloc'd, with the
 * target that reached each one in (*via)[i]. With soft set, a dependent
 * that takes a target only through soft inputs is not skipped but counts
 * it as finished (and may become ready), and *soft_user is the first one.
 */
static size_t
downstream(struct run *r, struct kiln_target *t, int soft, struct kiln_target ***out,
    struct kiln_target ***via, struct kiln_target **soft_user)
{
	struct kiln_target **list = NULL, **from = NULL;
	size_t n = 0, cap = 0, head, i;

	for (head = 0;; head++) {
		struct kiln_target *u = head == 0 ? t : list[head - 1];

		for (i = 0; i < u->nrdeps; i++) {
			struct kiln_target *d = u->rdeps[i];

			if (!d->wanted || d->state != KILN_T_WAITING)
				continue;
			if (soft && soft_edge(d, u)) {
				if (!*soft_user)
					*soft_user = d;
				if (--d->pending == 0)
					push_ready(r, d);
				continue;
			}
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

/*
 * t is decided. When it failed, what depends on it cannot be built, but a
 * target that takes it as a soft input runs without it. Returns that
 * target when the failure is left out: when t and every target skipped for
 * it are each an input of some wanted target, so that nothing wanted for
 * itself is lost and the soft inputs are where the failure ends. NULL else.
 */
static struct kiln_target *
finish(struct run *r, struct kiln_target *t, int state)
{
	struct kiln_target **skip, **via, *user = NULL;
	size_t i, n;
	int lost;

	t->state = state;
	r->finished++;
	if (state != KILN_T_DONE) {
		n = downstream(r, t, 1, &skip, &via, &user);
		r->skipped += n;
		r->finished += n;
		lost = !consumed(t);
		for (i = 0; i < n && !lost; i++)
			lost = !consumed(skip[i]);
		free(skip);
		free(via);
		return lost ? NULL : user;
	}
	for (i = 0; i < t->nrdeps; i++) {
		struct kiln_target *d = t->rdeps[i];

		if (d->wanted && d->state == KILN_T_WAITING && --d->pending == 0)
			push_ready(r, d);
	}
	return NULL;
}

/* Starting and finishing steps. */

/* Remove .kiln/tmp/<name>, the step's scratch. */
static void
remove_scratch(const struct kiln_target *t)
{
	char *tmp = xasprintf(KILN_TMP_DIR "/%s", t->name);

	kiln_fs_removeat(AT_FDCWD, tmp);
	free(tmp);
}

static int
slots(struct run *r, const struct kiln_target *t)
{
	return t->res.cpus < r->o->jobs ? t->res.cpus : r->o->jobs;
}

/* Give j the GPUs it asks for, all or none: 0 when too few are free now. */
static int
take_gpus(struct run *r, struct kiln_job *j)
{
	size_t i, free = 0;

	if (!r->local || !j->t->res.gpus)
		return 1;
	for (i = 0; i < r->gpus.n; i++)
		free += !r->gpu_busy[i];
	if (free < (size_t)j->t->res.gpus)
		return 0;
	j->ngpus = 0;
	for (i = 0; i < r->gpus.n && j->ngpus < (size_t)j->t->res.gpus; i++)
		if (!r->gpu_busy[i]) {
			r->gpu_busy[i] = 1;
			j->gpus[j->ngpus++] = r->gpus.idx[i];
		}
	return 1;
}

static void
give_back_gpus(struct run *r, struct kiln_job *j)
{
	size_t i, k;

	for (k = 0; k < j->ngpus; k++)
		for (i = 0; i < r->gpus.n; i++)
			if (r->gpus.idx[i] == j->gpus[k])
				r->gpu_busy[i] = 0;
	j->ngpus = 0;
}

/* A step that asks for more GPUs than this machine has can never start: say so before anything runs. */
static int
check_gpus(struct run *r)
{
	struct kiln_graph *g = &r->ws->graph;
	size_t i;
	int bad = 0, want = 0;

	for (i = 0; i < g->ntargets; i++)
		want |= g->targets[i]->wanted && g->targets[i]->res.gpus;
	if (!r->local || !want)
		return 0;
	if (kiln_gpu_find(&r->gpus) < 0)
		return -1;
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		if (t->wanted && (size_t)t->res.gpus > r->gpus.n)
			bad = error("%s:%d: target '%s' asks for %d GPU%s; this machine has %zu (found in %s)",
			    t->file, t->line, t->name, t->res.gpus, t->res.gpus == 1 ? "" : "s", r->gpus.n, r->gpus.from);
	}
	return bad;
}

static int
start(struct run *r, struct kiln_job *j)
{
	if (kiln_job_start(j, r->ws, r->ex, r->o->sandbox) < 0) {
		give_back_gpus(r, j);
		return -1;
	}
	if (j->t->checkpoint_upload && j->checkpoint && r->ws->remote)
		j->ckpt_next = now_seconds() + j->t->checkpoint_upload;
	j->t->state = KILN_T_RUNNING;
	j->t->job = j;
	r->jobs = xreallocarray(r->jobs, r->njobs + 1, sizeof(*r->jobs));
	r->jobs[r->njobs++] = j;
	r->free_slots -= slots(r, j->t);
	if (!r->tty)
		say(r, "[%zu/%zu] %s %s\n", r->finished + 1, r->total, j->pi->desc->name, j->t->name);
	return 0;
}

static void
job_done(struct run *r, struct kiln_job *j, int wstatus)
{
	struct buf why = BUF_INIT;
	size_t i;

	for (i = 0; i < r->njobs && r->jobs[i] != j; i++)
		;
	r->jobs[i] = r->jobs[--r->njobs];
	r->free_slots += slots(r, j->t);
	give_back_gpus(r, j);
	j->t->job = NULL;
	if (kiln_job_end(j, r->ws, r->ex, wstatus, r->o->sandbox, &why) == 0) {
		if (j->warnings.len) {
			clear_status(r);
			kiln_job_warnings(j);
		}
		r->ran++;
		outcome(r, j->t, "ran", NULL, 0);
		finish(r, j->t, KILN_T_DONE);
	} else {
		struct kiln_target *user;

		clear_status(r);
		kiln_job_warnings(j);
		kiln_job_report(j, why.s ? why.s : "unknown failure");
		outcome(r, j->t, "failed", j->metrics, j->nmetrics);
		r->failed++;
		if ((user = finish(r, j->t, KILN_T_FAILED))) {
			/* A candidate a select leaves out: the build goes on, and succeeds without it. */
			r->left_out++;
			fprintf(stderr, "  left out: '%s' takes it as a soft input and runs without it\n", user->name);
		} else if (!r->o->keep_going) {
			r->stop = 1;
		}
	}
	remove_scratch(j->t);
	buf_release(&why);
	kiln_job_free(j);
}

/* Deciding. */

/*
 * Must t's outputs be here (--download=minimal)? When it is named on the
 * command line, or, with none named, when no wanted target takes it.
 */
static int
needed_here(const struct run *r, const struct kiln_target *t)
{
	return t->named || (!r->any_named && !consumed(t));
}

static void
restored(struct run *r, struct kiln_target *t)
{
	if (r->o->verbose)
		say(r, "restored %s from the cache\n", t->name);
	outcome(r, t, "restored", NULL, 0);
	r->restored++;
	finish(r, t, KILN_T_DONE);
}

/* Ask early for the entry of t's predicted key, unless the local cache has it. */
static void
predict(struct run *r, struct kiln_target *t, const struct kiln_digest *key)
{
	char *ac = kiln_cache_ac_path(&r->ws->cache, key);

	(void)t;
	if (access(ac, F_OK) != 0)
		kiln_remote_prefetch(r->ws->remote, key);
	free(ac);
}

/* The state record of t that decide() would check the outputs of, or NULL. */
static struct kiln_record *
record_of(struct run *r, struct kiln_target *t)
{
	struct kiln_record *rec = t->effect ? NULL : kiln_state_get(&r->ws->state, t->name);

	/* What was built with --sandbox=off does not count for a sandboxed build. */
	return rec && r->o->sandbox && (rec->flags & KILN_REC_UNSANDBOXED) ? NULL : rec;
}

/* kiln_outputs_intact, taken from the second thread's look when it saw rec's outputs as recorded. */
static int
intact(const struct kiln_target *t, struct kiln_record *rec, int *restat)
{
	if (t->seen && t->seen == rec) {
		*restat = 0;
		return 1;
	}
	return kiln_outputs_intact(rec, restat);
}

static void lookup(struct run *r, struct kiln_target *t);

/*
 * Decide what to do with a target whose dependencies are done: nothing (up
 * to date), restore it from the local cache (0), run it (returns 1), or ask
 * the remote cache first (2: looked_up decides when the answer comes).
 */
static int
decide(struct run *r, struct kiln_target *t)
{
	struct kiln_workspace *ws = r->ws;
	struct kiln_plugin_info *pi = kiln_plugins_get(&ws->plugins, t->plugin, &ws->state, t);
	struct kiln_record *rec;
	struct kiln_action act;
	struct arena a = {0};
	size_t i;
	int re, got;

	for (i = 0; i < t->ninputs; i++)
		if (t->inputs[i].kind == KILN_INPUT_TARGET)
			kiln_inputs_resolve_target(&t->inputs[i]);
	kiln_key_compute(&r->ki, t, pi);
	t->key = r->ki.key;
	/* A side effect is an action: done each time it is asked for, never restored. */
	if (t->effect)
		return 1;
	rec = record_of(r, t);
	if (rec && kiln_digest_eq(&rec->key, &t->key) && intact(t, rec, &re)) {
		if (re)
			kiln_outputs_record(ws, t, &r->ki, rec->files, rec->nfiles, rec->metrics, rec->nmetrics, rec->flags);
		kiln_outputs_digest(rec->files, rec->nfiles, &t->outdigest);
		r->uptodate++;
		finish(r, t, KILN_T_DONE);
		return 0;
	}
	/* --download=minimal: a remote-only target that no step here and no user asks for stays there. */
	if (r->o->download_minimal && !needed_here(r, t) && (rec = kiln_outputs_remote_only(ws, t))) {
		kiln_outputs_digest(rec->files, rec->nfiles, &t->outdigest);
		r->uptodate++;
		finish(r, t, KILN_T_DONE);
		return 0;
	}
	got = kiln_cache_get_action(&ws->cache, &t->key, &act, &a);
	/* -n only looks at the remote's entry; a build asks for it without waiting (lookup). */
	if (!got && ws->remote && r->o->dry_run)
		got = kiln_remote_peek(ws->remote, &t->key, &act, &a);
	if (got && r->o->sandbox && (act.flags & KILN_REC_UNSANDBOXED))
		got = 0;
	if (got && r->o->dry_run) {
		say(r, "would restore %s from the cache\n", t->name);
		kiln_outputs_digest(act.files, act.nfiles, &t->outdigest);
		arena_release(&a);
		r->restored++;
		finish(r, t, KILN_T_DONE);
		return 0;
	}
	if (got && kiln_outputs_restore(ws, t, &r->ki, &act) == 1) {
		arena_release(&a);
		restored(r, t);
		return 0;
	}
	arena_release(&a);
	/* A local miss, or a local blob damaged (now quarantined) or gone: the remote may have a sound copy. */
	if (ws->remote && !r->o->dry_run && !kiln_remote_is_down(ws->remote)) {
		lookup(r, t);
		return 2;
	}
	return 1;
}

/* Remote lookups. */

struct looking {
	struct run *r;
	struct kiln_target *t;
	struct kiln_job *j;	/* the step, in case the remote has nothing */
	int flags;
};

/* t's lookup ended: restore it, leave it in the remote, or run it. */
static void
looked_up(void *arg, int ok, const struct kiln_action *act)
{
	struct looking *l = arg;
	struct run *r = l->r;
	struct kiln_target *t = l->t;
	struct kiln_job *j = l->j;
	int blobs = l->flags & KILN_REMOTE_BLOBS;

	free(l);
	r->looking--;
	r->woke = 1;
	t->state = KILN_T_WAITING;
	if (r->stop) {
		kiln_job_free(j);
		return;
	}
	if (ok && r->o->sandbox && (act->flags & KILN_REC_UNSANDBOXED))
		ok = 0;
	if (ok && !blobs)
		ok = kiln_outputs_record_remote(r->ws, t, &j->ki, act) == 0;
	else if (ok)
		ok = kiln_outputs_restore(r->ws, t, &j->ki, act) == 1;
	if (!ok) {
		r->runnable[r->nrunnable++] = j;
		return;
	}
	r->remote_only += !blobs;
	kiln_job_free(j);
	restored(r, t);
}

/* Ask the remote for t's entry (and, unless it may stay there, its blobs). */
static void
lookup(struct run *r, struct kiln_target *t)
{
	struct looking *l = xcalloc(1, sizeof(*l));

	l->r = r;
	l->t = t;
	l->j = kiln_job_new(r->ws, t, &r->ki);
	l->flags = KILN_REMOTE_BLOBS | KILN_REMOTE_FRESH;
	if (r->o->download_minimal && !needed_here(r, t))
		l->flags = 0;
	t->state = KILN_T_LOOKUP;
	r->looking++;
	kiln_remote_get(r->ws->remote, &t->key, t->name, l->flags, looked_up, l);
}

/*
 * Ask now for the entries of the keys the state or Kilnfile.lock predict,
 * all at once, so that decide finds each answer there or on its way: for a
 * graph whose keys are known up front, every lookup is in the first round
 * trip. A target whose outputs are intact, or whose entry the local cache
 * has, is not asked for.
 */
static void
prefetch(struct run *r)
{
	struct kiln_workspace *ws = r->ws;
	struct kiln_lockfile lf = {0};
	size_t i;

	if (!ws->remote || kiln_lock_read(&lf, KILN_LOCKFILE) < 0)
		lf.n = 0;
	for (i = 0; i < lf.n; i++) {
		struct kiln_target *t = kiln_graph_find(&ws->graph, lf.v[i].target);

		if (t && t->wanted && lf.v[i].kind == KILN_LOCK_KEY && !kiln_state_get(&ws->state, t->name))
			predict(r, t, &lf.v[i].d);
	}
	kiln_lockfile_release(&lf);
	for (i = 0; ws->remote && i < ws->graph.ntargets; i++) {
		struct kiln_target *t = ws->graph.targets[i];
		struct kiln_record *rec = t->wanted ? kiln_state_get(&ws->state, t->name) : NULL;
		int re;

		if (rec && !((rec->flags & KILN_REC_REMOTE) && r->o->download_minimal && !needed_here(r, t)) &&
		    !intact(t, rec, &re))
			predict(r, t, &rec->key);
	}
}

/* Remote-only inputs (--download=minimal): fetched before the step that needs them starts. */

struct input_fetch {
	struct run *r;
	struct kiln_job *j;
	struct kiln_target *dep;
};

static void
unhold(struct run *r, struct kiln_job *j)
{
	size_t i;

	for (i = 0; i < r->nheld && r->held[i] != j; i++)
		;
	r->held[i] = r->held[--r->nheld];
	r->woke = 1;
	if (!j->input_failed) {
		r->runnable[r->nrunnable++] = j;
		return;
	}
	clear_status(r);
	error("%s:%d: target '%s' failed: the outputs of its input '%s' are only in the remote cache, which did not give them",
	    j->t->file, j->t->line, j->t->name, j->input_failed->name);
	outcome(r, j->t, "failed", NULL, 0);
	r->failed++;
	if (!finish(r, j->t, KILN_T_FAILED) && !r->o->keep_going)
		r->stop = 1;
	kiln_job_free(j);
}

static void
input_fetched(void *arg, int ok, const struct kiln_action *act)
{
	struct input_fetch *f = arg;
	struct kiln_record *rec = kiln_outputs_remote_only(f->r->ws, f->dep);

	(void)act;
	if (rec && (!ok || kiln_outputs_materialize(f->r->ws, f->dep, rec) != 1) && !f->j->input_failed)
		f->j->input_failed = f->dep;
	if (--f->j->waiting == 0)
		unhold(f->r, f->j);
	free(f);
}

/*
 * Put in place the outputs of j's dependencies that are only in the remote:
 * from the local cache when it has them, else fetched, without waiting
 * (then j is held and 1 is returned: unhold puts it back when they are here).
 */
static int
fetch_inputs(struct run *r, struct kiln_job *j)
{
	size_t i;
	int any = 0;

	for (i = 0; i < j->t->ndeps; i++) {
		struct kiln_record *rec = kiln_outputs_remote_only(r->ws, j->t->deps[i]);

		if (rec && kiln_outputs_materialize(r->ws, j->t->deps[i], rec) != 1)
			any = 1;
	}
	if (!any)
		return 0;
	/* One more than asked for until every fetch is: one that fails at once must not unhold j early. */
	j->waiting = 1;
	r->held[r->nheld++] = j;
	for (i = 0; i < j->t->ndeps; i++) {
		struct kiln_target *d = j->t->deps[i];
		struct input_fetch *f;

		if (!kiln_outputs_remote_only(r->ws, d))
			continue;
		f = xcalloc(1, sizeof(*f));
		*f = (struct input_fetch){r, j, d};
		j->waiting++;
		kiln_remote_get(r->ws->remote, &d->key, d->name, KILN_REMOTE_BLOBS | KILN_REMOTE_FRESH, input_fetched, f);
	}
	if (--j->waiting == 0)
		unhold(r, j);
	return 1;
}

struct checkpoint_fetch {
	struct run *r;
	struct kiln_job *j;
};

static void
checkpoint_fetched(void *arg, int ok, const struct kiln_action *act)
{
	struct checkpoint_fetch *f = arg;
	struct kiln_job *j = f->j;
	double epoch;

	if (ok && kiln_ckptshare_unpack(&f->r->ws->cache, j->t->name, &j->ki.key, act, &epoch) == 0) {
		j->ckpt_fetched = 1;
		clear_status(f->r);
		if (epoch >= 0)
			fprintf(stderr, "kiln: %s: fetched its checkpoint at epoch %g from the remote cache\n", j->t->name, epoch);
		else
			fprintf(stderr, "kiln: %s: fetched its checkpoint from the remote cache\n", j->t->name);
	}
	if (--j->waiting == 0)
		unhold(f->r, j);
	free(f);
}

/*
 * checkpoint_upload: with no checkpoint of its key here, ask the remote for
 * one another machine sent, without waiting (j is held, as by fetch_inputs).
 * A checkpoint here wins: it is this machine's own, kept by an interrupted run.
 */
static int
fetch_checkpoint(struct run *r, struct kiln_job *j)
{
	struct checkpoint_fetch *f;
	double epoch;

	if (!j->t->checkpoint_upload || !r->ws->remote || r->ex->outputs_in_cache || j->ckpt_asked)
		return 0;
	j->ckpt_asked = 1;
	if (kiln_checkpoint_find(j->t->name, &j->ki.key, &epoch))
		return 0;
	f = xcalloc(1, sizeof(*f));
	*f = (struct checkpoint_fetch){r, j};
	j->waiting = 1;
	r->held[r->nheld++] = j;
	kiln_remote_get_checkpoint(r->ws->remote, &j->ki.key, j->t->name, checkpoint_fetched, f);
	return 1;
}

/* checkpoint_upload: send the checkpoints of running steps that are due, in the background. */
static void
send_checkpoints(struct run *r, double now)
{
	size_t i;

	for (i = 0; i < r->njobs; i++) {
		struct kiln_job *j = r->jobs[i];
		double every = j->t->checkpoint_upload;
		int s;

		if (!j->ckpt_next || now < j->ckpt_next)
			continue;
		s = kiln_ckptshare_send(r->ws->remote, &r->ws->cache, j->t->name, &j->ki.key, &j->ckpt_sent);
		/* A step writing its checkpoint is asked again in a second, not at the next period. */
		j->ckpt_next = s == KILN_CKPT_FAILED ? 0 : now + (s == KILN_CKPT_PARTIAL && every > 1 ? 1 : every);
	}
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

/*
 * A step that has ended, with its wait status: a child of ours (a pid the
 * step server's children never match: one it reaped may be ours now), or
 * one the step server says ended. NULL: none (yet).
 */
static struct kiln_job *
ended(struct run *r, int *ws)
{
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, ws, WNOHANG)) > 0) {
		for (i = 0; i < r->njobs && (r->jobs[i]->pid != pid || r->jobs[i]->exitfd >= 0); i++)
			;
		if (i < r->njobs)
			return r->jobs[i];
	}
	for (i = 0; i < r->njobs; i++)
		if (kiln_job_exited(r->jobs[i], ws))
			return r->jobs[i];
	return NULL;
}

static void
reap(struct run *r)
{
	struct kiln_job *j;
	int ws;

	while ((j = ended(r, &ws)))
		job_done(r, j, ws);
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
		kiln_job_kill(r->jobs[i], r->ex, SIGTERM);
	while (r->njobs) {
		int ws;
		struct kiln_job *j = ended(r, &ws);

		if (j) {
			for (i = 0; r->jobs[i] != j; i++)
				;
			r->kept += j->checkpoint != NULL;
			r->jobs[i] = r->jobs[--r->njobs];
			remove_scratch(j->t);
			kiln_job_free(j);
			continue;
		}
		if (now_seconds() > until) {
			for (i = 0; i < r->njobs; i++)
				kiln_job_kill(r->jobs[i], r->ex, SIGKILL);
			until += 3600;
		}
		usleep(10000);
	}
}

/* How often a step whose status pipe has ended is looked for among the exited (seconds). */
#define REAP_POLL 0.005

static void
wait_events(struct run *r)
{
	struct pollfd *fds = xreallocarray(NULL, 2 * r->njobs + 1, sizeof(*fds));
	double now = now_seconds(), next = now + (r->tty ? 0.2 : 3600);
	size_t i;
	int ms;

	fds[0] = (struct pollfd){sigfd, POLLIN, 0};
	for (i = 0; i < r->njobs; i++) {
		/*
		 * A pipe at its end stays readable: polling it would spin until
		 * the step is reaped. Its SIGCHLD may not wake us (a thread a
		 * plugin's library started before SIGCHLD was blocked, such as
		 * OpenBLAS's pool, takes it and the default action drops it), so
		 * look for the exit every few milliseconds instead.
		 */
		fds[i + 1] = (struct pollfd){r->jobs[i]->status_eof ? -1 : r->jobs[i]->statusfd, POLLIN, 0};
		/* The step server says on its own socket when a step it forked ended. */
		fds[r->njobs + i + 1] = (struct pollfd){r->jobs[i]->exitfd, POLLIN, 0};
		if (r->jobs[i]->status_eof && next > now + REAP_POLL)
			next = now + REAP_POLL;
		if (r->jobs[i]->deadline && r->jobs[i]->deadline < next)
			next = r->jobs[i]->deadline;
		if (r->jobs[i]->ckpt_next && r->jobs[i]->ckpt_next < next)
			next = r->jobs[i]->ckpt_next;
	}
	ms = next > now ? (int)((next - now) * 1000) + 1 : 0;
	for (i = 0; i <= 2 * r->njobs; i++)
		fds[i].revents = 0;
	/* Transfers and steps share the wait: an upload's bytes move while a step runs. */
	if (r->ws->remote)
		kiln_transfer_wait(kiln_remote_transfer(r->ws->remote), fds, 2 * r->njobs + 1, ms);
	else
		poll(fds, 2 * r->njobs + 1, ms);
	for (i = 0; i < r->njobs; i++)
		if (fds[i + 1].revents)
			kiln_job_read(r->jobs[i]);
	free(fds);
	if (r->ws->remote)
		kiln_transfer_perform(kiln_remote_transfer(r->ws->remote));
	now = now_seconds();
	if (r->ws->remote)
		send_checkpoints(r, now);
	for (i = 0; i < r->njobs; i++) {
		struct kiln_job *j = r->jobs[i];

		if (j->deadline && now >= j->deadline && !j->timed_out) {
			j->timed_out = 1;
			kiln_job_kill(j, r->ex, SIGKILL);
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
	if (r->ran == 0 && r->restored == 0 && r->failed == 0 && r->skipped == 0 && r->unstarted == 0) {
		printf("kiln: nothing to do: %zu targets up to date (%.2fs)\n", r->total, secs);
		return;
	}
	/* Every wanted target is in exactly one of these, so they add up to the total. */
	printf("kiln: %zu targets: %zu ran, %zu restored from the cache", r->total, r->ran, r->restored);
	if (r->remote_only)
		printf(" (%zu left in the remote cache: --download=minimal)", r->remote_only);
	printf(", %zu up to date", r->uptodate);
	if (r->failed)
		printf(", %zu failed", r->failed);
	if (r->skipped)
		printf(", %zu not built (a dependency failed)", r->skipped);
	if (r->unstarted)
		printf(", %zu %s", r->unstarted, r->signal ? "stopped or not started (interrupted)" :
		    "not started (the build stopped at the first failure; -k goes on)");
	printf(" (%.2fs)\n", secs);
}

/* Wanted targets that were neither finished nor skipped: the build stopped before them. */
static size_t
count_unstarted(const struct kiln_graph *g)
{
	size_t i, n = 0;

	for (i = 0; i < g->ntargets; i++)
		n += g->targets[i]->wanted && (g->targets[i]->state == KILN_T_WAITING ||
		    g->targets[i]->state == KILN_T_RUNNING || g->targets[i]->state == KILN_T_LOOKUP);
	return n;
}

/*
 * One target's entry of the run record (its strings malloc'd, but for the
 * metrics' names); 0 when it has no metrics.
 */
static int
run_target(struct run *r, const struct outcome *o, struct kiln_run_target *rt)
{
	struct kiln_record *rec = kiln_state_get(&r->ws->state, o->t->name);
	char hex[KILN_DIGEST_HEX];
	struct buf lines = BUF_INIT;
	json_t *j;

	rt->metrics = o->metrics;
	rt->nmetrics = o->nmetrics;
	if (!o->nmetrics && rec && strcmp(o->status, "failed") != 0) {
		rt->metrics = rec->metrics;
		rt->nmetrics = rec->nmetrics;
	}
	if (!rt->nmetrics)
		return 0;
	rt->name = o->t->name;
	rt->status = o->status;
	rt->key = xstrdup(kiln_digest_hex(&o->t->key, hex));
	j = kiln_value_to_json(kiln_target_params(o->t));
	rt->params_json = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	kiln_lock_params(&lines, kiln_target_params(o->t));
	rt->param_lines = lines.s ? buf_detach(&lines) : xstrdup("");
	return 1;
}

static int
cmp_outcome(const void *a, const void *b)
{
	return strcmp(((const struct outcome *)a)->t->name, ((const struct outcome *)b)->t->name);
}

/* Append this build to the run history, if it ran or restored a target with metrics. */
static void
record_run(struct run *r)
{
	const struct kiln_overrides *ov = r->ws->graph.overrides;
	struct kiln_run run = {0};
	char when[32], commit[41] = "";
	time_t secs = (time_t)r->wall_start;
	struct tm tm;
	size_t i;

	/* By name, not by when each finished: two runs of the same graph list the same order. */
	sort(r->outcomes, r->noutcomes, sizeof(*r->outcomes), cmp_outcome);
	run.targets = xreallocarray(NULL, r->noutcomes + 1, sizeof(*run.targets));
	for (i = 0; i < r->noutcomes; i++)
		run.ntargets += run_target(r, &r->outcomes[i], &run.targets[run.ntargets]);
	if (run.ntargets) {
		gmtime_r(&secs, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		run.time = r->wall_start;
		run.start = when;
		run.overrides = xreallocarray(NULL, (ov ? ov->n : 0) + 1, sizeof(*run.overrides));
		for (i = 0; ov && i < ov->n; i++)
			run.overrides[run.noverrides++] = ov->v[i].text;
		if (kiln_git_head(commit, &run.dirty) < 0)
			commit[0] = '\0';
		run.commit = commit;
		if (kiln_history_append(KILN_HISTORY_PATH, &run) < 0)
			warn("the run history was not written");
	}
	for (i = 0; i < run.ntargets; i++) {
		free((char *)run.targets[i].key);
		free((char *)run.targets[i].params_json);
		free((char *)run.targets[i].param_lines);
	}
	free(run.targets);
	free(run.overrides);
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
	n = downstream(r, t, 0, &after, &via, NULL);
	for (i = 0; i < n; i++)
		say(r, "would run %s: after %s runs (its new outputs may change this one's key)\n",
		    after[i]->name, via[i]->name);
	r->would += n;
	r->finished += n;
	free(after);
	free(via);
}

/* Have the wanted targets' outputs checked on a second thread while the sources resolve. */
static void
look_ahead(struct run *r, struct kiln_outputs_ahead *a)
{
	struct kiln_graph *g = &r->ws->graph;
	size_t i;

	a->recs = xreallocarray(NULL, g->ntargets + 1, sizeof(*a->recs));
	r->ahead = xreallocarray(NULL, g->ntargets + 1, sizeof(*r->ahead));
	a->n = 0;
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];
		struct kiln_record *rec = t->wanted ? record_of(r, t) : NULL;

		t->seen = NULL;
		if (rec) {
			r->ahead[a->n] = t;
			a->recs[a->n++] = rec;
		}
	}
	kiln_outputs_ahead_start(a);
}

static void
ahead_release(struct run *r, struct kiln_outputs_ahead *a)
{
	kiln_outputs_ahead_release(a);
	free(a->recs);
	a->recs = NULL;
	free(r->ahead);
	r->ahead = NULL;
}

/* Wait for the second thread, and mark each target whose outputs it found as recorded. */
static void
seen_ahead(struct run *r, struct kiln_outputs_ahead *a)
{
	size_t k;

	kiln_outputs_ahead_join(a);
	for (k = 0; k < a->n; k++)
		if (a->same[k])
			r->ahead[k]->seen = a->recs[k];
	ahead_release(r, a);
}

int
kiln_scheduler_build(struct kiln_workspace *ws, const struct kiln_build_opts *o)
{
	struct run r = {0};
	struct kiln_outputs_ahead ahead = {0};
	struct kiln_graph *g = &ws->graph;
	sigset_t old;
	size_t i;
	int status;

	r.ws = ws;
	r.o = o;
	r.start = now_seconds();
	r.wall_start = kiln_fs_now_ns() / 1e9;
	r.tty = isatty(1) && !o->quiet;
	r.free_slots = o->jobs;
	kiln_netns_expect((size_t)o->jobs);
	r.ex = kiln_executor_new(o->executor ? o->executor : ws->graph.config.executor ? ws->graph.config.executor : "local",
	    &ws->graph.config);
	if (!r.ex)
		return 2;
	kiln_fs_removeat(AT_FDCWD, KILN_TMP_DIR);
	r.local = strcmp(r.ex->name, "local") == 0;
	look_ahead(&r, &ahead);
	if (check_gpus(&r) < 0 || kiln_inputs_prepare(ws) < 0) {
		ahead_release(&r, &ahead);
		kiln_executor_free(r.ex);
		return 2;
	}
	seen_ahead(&r, &ahead);
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
	for (i = 0; i < g->ntargets; i++)
		r.any_named |= g->targets[i]->named;
	r.held = xreallocarray(NULL, g->ntargets + 1, sizeof(*r.held));
	prefetch(&r);
	block_signals(&old);
	for (;;) {
		/* Decide every ready target, then start as many steps as the slots allow. */
		while (r.nready && !r.stop) {
			struct kiln_target *t = r.ready[--r.nready];
			int d = decide(&r, t);

			if (d != 1)
				continue;
			if (o->dry_run) {
				struct buf b = BUF_INIT;

				dry_run_mark(&r, t, kiln_assess_reason(ws, t, &r.ki, &b));
				buf_release(&b);
				continue;
			}
			r.runnable[r.nrunnable++] = kiln_job_new(ws, t, &r.ki);
		}
		while (r.nrunnable && !r.stop) {
			struct kiln_job *j = r.runnable[0];
			int need = slots(&r, j->t);

			/* In order: a step waiting for GPUs or slots holds back those after it. */
			if (r.free_slots < need || !take_gpus(&r, j))
				break;
			memmove(r.runnable, r.runnable + 1, --r.nrunnable * sizeof(*r.runnable));
			if (fetch_inputs(&r, j) || fetch_checkpoint(&r, j)) {
				/* Held until its remote-only inputs are here: its GPUs wait for it no longer. */
				give_back_gpus(&r, j);
				continue;
			}
			/* Namespaces are made for the steps that can start now: -j's worth for one step was a process start lost. */
			kiln_netns_expect(r.nrunnable + 1 < (size_t)o->jobs ? r.nrunnable + 1 : (size_t)o->jobs);
			if (start(&r, j) < 0) {
				r.failed++;
				r.stop = !o->keep_going;
				finish(&r, j->t, KILN_T_FAILED);
				kiln_job_free(j);
			}
		}
		if (r.stop && r.signal)
			break;
		if (!r.njobs && (r.stop || (!r.nready && !r.nrunnable)) && !r.looking && !r.nheld)
			break;
		/* Lookups answered at once (remembered from a prefetch) may have made targets ready. */
		if (ws->remote) {
			r.woke = 0;
			kiln_transfer_perform(kiln_remote_transfer(ws->remote));
			if (r.woke)
				continue;
		}
		wait_events(&r);
	}
	if (r.njobs)
		kill_all(&r);
	/* The last uploads finish; on a signal, every transfer stops (no entry is sent before its blobs). */
	if (ws->remote && r.signal)
		kiln_transfer_abandon(kiln_remote_transfer(ws->remote));
	else if (ws->remote)
		kiln_remote_drain(ws->remote);
	for (i = 0; i < r.nheld; i++)
		kiln_job_free(r.held[i]);
	free(r.held);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sigfd);
	sigfd = -1;
	r.unstarted = o->dry_run ? 0 : count_unstarted(g);
	summary(&r);
	if (!o->dry_run)
		record_run(&r);
	/* What the build did is kept, or the build fails: a full disk must not pass as a success. */
	status = 0;
	if (!o->dry_run && !r.signal && kiln_lock_write(&ws->graph, &ws->state, 0) < 0)
		status = 1;
	if (kiln_state_compact(&ws->state, 0) < 0)
		status = 1;
	kiln_keyinfo_release(&r.ki);
	kiln_executor_free(r.ex);
	for (i = 0; i < r.nrunnable; i++)
		kiln_job_free(r.runnable[i]);
	free(r.ready);
	free(r.runnable);
	free(r.jobs);
	for (i = 0; i < r.noutcomes; i++) {
		size_t m;

		for (m = 0; m < r.outcomes[i].nmetrics; m++)
			free((char *)r.outcomes[i].metrics[m].name);
		free(r.outcomes[i].metrics);
	}
	free(r.outcomes);
	if (r.signal) {
		fprintf(stderr, "kiln: interrupted by %s; stopped every step, nothing partial was kept\n",
		    strsignal(r.signal));
		if (r.kept)
			fprintf(stderr, "kiln: the checkpoints of %zu step%s are kept: the next build resumes them\n", r.kept,
			    r.kept == 1 ? "" : "s");
		return 128 + r.signal;
	}
	if (r.failed > r.left_out)
		return 1;
	return status;
}

