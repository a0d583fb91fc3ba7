/*
 * cmd_cache: the commands on caches — gc and fsck of the local one, push
 * and pull between it and the remote one.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assess.h"
#include "cmd.h"
#include "cmd_cache.h"
#include "key.h"
#include "outputs.h"
#include "paths.h"
#include "remote.h"
#include "remoteadmin.h"
#include "sources.h"
#include "workspace.h"

/*
 * The remote for gc --remote and fsck --remote: --remote=URL, else
 * $KILN_REMOTE, else the Kilnfile's (read when there is one here).
 */
static struct kiln_remote *
admin_remote(const char *opt, struct kiln_cache *cache)
{
	struct kiln_workspace ws;
	const char *url = kiln_remote_url(opt, NULL);
	struct kiln_remote *r = NULL;

	if (!url && access("Kilnfile", F_OK) == 0 && kiln_workspace_open(&ws, 0) == 0) {
		url = kiln_remote_url(NULL, ws.graph.config.remote);
		if (url)
			r = kiln_remote_new(url, cache, 0);
		kiln_workspace_close(&ws);
		if (url)
			return r;
	}
	if (!url) {
		error("no remote cache: give --remote=URL, set KILN_REMOTE, or add kiln.config { remote = \"…\" } to the Kilnfile");
		return NULL;
	}
	return kiln_remote_new(url, cache, 0);
}

static int
open_default_cache(struct kiln_cache *cache)
{
	char *dir = kiln_cache_default_dir();
	int r = kiln_cache_open(cache, dir);

	free(dir);
	return r;
}

/* kiln gc --remote[=URL] [--keep-last N] [--keep LOCKFILE]... [--grace SECONDS] [--dry-run] */
static int
gc_remote(const char *url, struct kiln_remote_gc_opts *o)
{
	struct kiln_cache cache;
	struct kiln_remote *r;
	int ret;

	if (!o->nkeep && o->keep_last < 0 && access(KILN_LOCKFILE, F_OK) == 0) {
		static char *lock[] = {KILN_LOCKFILE};

		o->keep = lock;
		o->nkeep = 1;
	}
	if (!o->nkeep && o->keep_last < 0)
		return error("kiln gc --remote: say what to keep (--keep LOCKFILE, --keep-last N); there is no " KILN_LOCKFILE " here"), 2;
	if (open_default_cache(&cache) < 0)
		return 2;
	r = admin_remote(url, &cache);
	ret = !r ? 2 : kiln_remoteadmin_gc(r, o) < 0 ? 1 : 0;
	kiln_remote_free(r);
	kiln_cache_release(&cache);
	return ret;
}

int
kiln_cmd_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"max-size", required_argument, NULL, 'm'},
		{"remote", optional_argument, NULL, 'r'},
		{"keep", required_argument, NULL, 'k'},
		{"keep-last", required_argument, NULL, 'n'},
		{"grace", required_argument, NULL, 'g'},
		{"dry-run", no_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_remote_gc_opts o = {NULL, 0, -1, 3600, 0};
	struct kiln_cache cache;
	long long max = -1;
	const char *url = NULL;
	int c, r, remote = 0, n;
	char *dir;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'm') {
			max = parse_size(optarg);
			if (max < 0)
				return error("--max-size: expected a size such as 10G or 500M, got '%s'", optarg), 2;
		} else if (c == 'r') {
			remote = 1;
			url = optarg;
		} else if (c == 'k') {
			o.keep = xreallocarray(o.keep, o.nkeep + 1, sizeof(*o.keep));
			o.keep[o.nkeep++] = optarg;
		} else if (c == 'n' || c == 'g') {
			if (kiln_cmd_parse_int(optarg, 0, &n) < 0)
				return error("--%s: expected a number, got '%s'", c == 'n' ? "keep-last" : "grace", optarg), 2;
			*(c == 'n' ? &o.keep_last : &o.grace) = n;
		} else if (c == 'd') {
			o.dry_run = 1;
		} else {
			return KILN_CMD_USAGE;
		}
	}
	if (optind != argc || (remote ? max >= 0 : (max < 0 || o.nkeep || o.keep_last >= 0 || o.dry_run)))
		return free(o.keep), KILN_CMD_USAGE;
	if (remote) {
		r = gc_remote(url, &o);
		if (o.nkeep && strcmp(o.keep[0], KILN_LOCKFILE) != 0)
			free(o.keep);
		return r;
	}
	dir = kiln_cache_default_dir();
	if (kiln_cache_open(&cache, dir) < 0) {
		free(dir);
		return 2;
	}
	r = kiln_cache_gc(&cache, max, 1);
	kiln_cache_release(&cache);
	free(dir);
	return r < 0 ? 1 : 0;
}

int
kiln_cmd_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"remote", optional_argument, NULL, 'r'},
		{"repair", no_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_cache cache;
	struct kiln_remote *rem;
	const char *url = NULL;
	int c, remote = 0, repair = 0;
	long bad;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'r') {
			remote = 1;
			url = optarg;
		} else if (c == 'p') {
			repair = 1;
		} else {
			return KILN_CMD_USAGE;
		}
	}
	if (optind != argc || (repair && !remote))
		return KILN_CMD_USAGE;
	if (open_default_cache(&cache) < 0)
		return 2;
	if (remote) {
		rem = admin_remote(url, &cache);
		bad = rem ? kiln_remoteadmin_fsck(rem, &cache, repair) : -1;
		kiln_remote_free(rem);
		kiln_cache_release(&cache);
		return bad < 0 ? 2 : bad ? 1 : 0;
	}
	bad = kiln_cache_fsck(&cache, 1);
	kiln_cache_release(&cache);
	return bad ? 1 : 0;
}

/* kiln push and kiln pull. */

struct move {
	struct kiln_workspace *ws;
	struct kiln_remote *r;
	int push;
	size_t moved, here, missing, failed;
	size_t sources;		/* tracked sources pushed */
};

/*
 * An action for a target that is up to date in the workspace but whose entry
 * the local cache no longer has (gc): rebuilt from the state's record, with
 * the blobs taken again from kiln-out/.
 */
static int
action_from_record(struct kiln_workspace *ws, struct kiln_target *t, struct kiln_action *act)
{
	struct kiln_record *rec = kiln_state_get(&ws->state, t->name);
	size_t i;

	if (!rec || !kiln_digest_eq(&rec->key, &t->key))
		return -1;
	act->files = rec->files;
	act->nfiles = rec->nfiles;
	act->metrics = rec->metrics;
	act->nmetrics = rec->nmetrics;
	act->flags = rec->flags;
	for (i = 0; i < act->nfiles; i++) {
		char *p = xasprintf(KILN_OUT_DIR "/%s/%s", t->name, act->files[i].path);
		int r = kiln_cache_has_blob(&ws->cache, &act->files[i].digest) ? 0 :
		    kiln_cache_put_blob(&ws->cache, p, &act->files[i].digest);

		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

static void
push_one(void *arg, struct kiln_target *t, const struct kiln_keyinfo *ki, struct kiln_target *blocker)
{
	struct move *m = arg;
	struct kiln_action act;
	struct arena a = {0};
	int got;

	(void)ki;
	if (!blocker && t->state == KILN_T_DONE && t->mark == 2) {
		/* Remote-only: the remote it came from has it. */
		return;
	}
	if (blocker || t->state != KILN_T_DONE) {
		printf("%-24s not pushed: not built (run kiln build first)\n", t->name);
		m->missing++;
		return;
	}
	got = kiln_cache_get_action(&m->ws->cache, &t->key, &act, &a);
	if (!got && action_from_record(m->ws, t, &act) < 0) {
		printf("%-24s not pushed: the local cache lacks its outputs (run kiln build)\n", t->name);
		m->missing++;
	} else if (kiln_remote_store(m->r, &t->key, &act, t->name) == 0 && kiln_remote_can_upload(m->r)) {
		m->moved++;
	} else {
		m->failed++;
	}
	arena_release(&a);
}

/* A remote-only target (--download=minimal): fetched, and its outputs put in kiln-out/ now. */
static void
pull_remote_only(struct move *m, struct kiln_target *t)
{
	struct kiln_record *rec = kiln_outputs_remote_only(m->ws, t);

	if (rec && kiln_outputs_materialize(m->ws, t, rec) == 1) {
		m->moved++;
	} else if (rec && kiln_remote_fetch(m->r, &t->key, t->name) == 1 && kiln_outputs_materialize(m->ws, t, rec) == 1) {
		m->moved++;
	} else {
		printf("%-24s not pulled: remote-only, and %s\n", t->name,
		    kiln_remote_is_down(m->r) ? "the remote cache is unreachable" : "not in the remote cache");
		m->missing++;
	}
}

static void
pull_one(void *arg, struct kiln_target *t, const struct kiln_keyinfo *ki, struct kiln_target *blocker)
{
	struct move *m = arg;
	struct kiln_action act;
	struct arena a = {0};

	(void)ki;
	if (blocker) {
		printf("%-24s not pulled: its key depends on the outputs of %s, which neither cache has\n", t->name,
		    blocker->name);
		m->missing++;
		return;
	}
	if (t->state == KILN_T_DONE && t->mark == 2) {
		pull_remote_only(m, t);
		return;
	}
	if (t->state == KILN_T_DONE) {
		m->here++;
		return;
	}
	if (kiln_remote_fetch(m->r, &t->key, t->name) == 1 && kiln_cache_get_action(&m->ws->cache, &t->key, &act, &a)) {
		/* Now its dependents' keys can be computed, and pulled in turn. */
		kiln_outputs_digest(act.files, act.nfiles, &t->outdigest);
		t->state = KILN_T_DONE;
		t->mark = 1;
		m->moved++;
	} else {
		printf("%-24s not pulled: %s\n", t->name,
		    kiln_remote_is_down(m->r) ? "the remote cache is unreachable" : "not in the remote cache");
		m->missing++;
	}
	arena_release(&a);
}

/* Upload a tracked source that a pushed target reads: its entry's blobs, then the entry. */
static void
push_source(void *arg, const char *path, const struct kiln_pointer *p, const struct kiln_digest *now)
{
	struct move *m = arg;
	struct kiln_action act;
	struct arena a = {0};

	if (now && !kiln_digest_eq(now, &p->digest))
		printf("%-24s changed since 'kiln add': pushing what %s" KILN_POINTER_EXT " records\n", path, path);
	if (!kiln_sources_entry(m->ws, p, &act, &a)) {
		printf("%-24s not pushed: the local cache lacks it (run kiln add %s)\n", path, path);
		m->missing++;
	} else if (kiln_remote_store(m->r, &p->entry, &act, path) == 0 && kiln_remote_can_upload(m->r)) {
		m->sources++;
	} else {
		m->failed++;
	}
	arena_release(&a);
}

static void
move_summary(struct move *m, double secs)
{
	const struct kiln_remote_stats *s = kiln_remote_stats(m->r);
	char sz[32];

	if (m->push)
		printf("kiln: pushed %zu targets and %zu tracked sources to %s: %llu blobs (%s) uploaded, %llu already "
		    "there, in %.2fs", m->moved, m->sources, kiln_remote_base(m->r), s->blobs_up, format_size(sz, sizeof(sz), s->bytes_up),
		    s->present, secs);
	else
		printf("kiln: pulled %zu targets from %s: %llu blobs (%s) downloaded, %zu targets already here, in %.2fs",
		    m->moved, kiln_remote_base(m->r), s->blobs_down, format_size(sz, sizeof(sz), s->bytes_down),
		    m->here, secs);
	if (m->missing)
		printf("; %zu not %s", m->missing, m->push ? "built" : "available");
	if (m->failed)
		printf("; %zu failed", m->failed);
	if (s->bad)
		printf("; %llu bad blobs dropped", s->bad);
	printf("\n");
}

static int
move_main(int argc, char **argv, int push)
{
	static const struct option longopts[] = {
		{"remote", required_argument, NULL, 'r'},
		{"jobs", required_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_workspace ws;
	struct move m = {0};
	const char *url = NULL;
	double start = now_seconds();
	sigset_t stop;
	int c, ret, sig;

	while ((c = getopt_long(argc, argv, "j:", longopts, NULL)) != -1) {
		if (c == 'r')
			url = optarg;
		else if (c == 'j')
			setenv("KILN_REMOTE_JOBS", optarg, 1);
		else
			return fprintf(stderr, "usage: kiln %s [--remote URL] [-j N] [TARGET...]\n", argv[0]), 2;
	}
	/* pull takes the workspace lock: it puts remote-only targets' outputs in kiln-out/ and records them. */
	if (kiln_workspace_open(&ws, !push) < 0 || kiln_workspace_attach_remote(&ws, url, 0) < 0) {
		kiln_workspace_close(&ws);
		return 2;
	}
	if (!ws.remote) {
		kiln_workspace_close(&ws);
		return error("kiln %s: no remote cache: give --remote URL, set KILN_REMOTE, or add kiln.config { remote = \"…\" } to the Kilnfile",
		    argv[0]), 2;
	}
	if (push && !kiln_remote_can_upload(ws.remote)) {
		kiln_workspace_close(&ws);
		return error("kiln push: the remote cache is read-only here (KILN_REMOTE_READ_ONLY)"), 2;
	}
	if (kiln_graph_want(&ws.graph, argv + optind, argc - optind) < 0) {
		kiln_workspace_close(&ws);
		return 2;
	}
	m.ws = &ws;
	m.r = ws.remote;
	m.push = push;
	/* What an earlier pull killed mid-transfer left in tmp/. */
	if (!push)
		kiln_cache_sweep_tmp(&ws.cache);
	kiln_remote_set_progress(ws.remote, push ? "push" : "pull");
	/* Held as pending, so that a transfer sees Ctrl-C, stops and removes its partial file. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	ws.fetch_sources = !push;
	ret = kiln_assess_walk(&ws, push ? push_one : pull_one, &m);
	if (ret == 0 && push && !pending_signal() && kiln_sources_each(&ws, push_source, &m) < 0)
		ret = -1;
	sig = pending_signal();
	if (ret == 0 && !sig)
		move_summary(&m, now_seconds() - start);
	kiln_workspace_close(&ws);
	if (sig) {
		fprintf(stderr, "kiln: %s interrupted by %s; nothing partial was kept\n", argv[0], strsignal(sig));
		return 128 + sig;
	}
	if (ret < 0)
		return 2;
	return m.missing || m.failed ? 1 : 0;
}

int
kiln_cmd_push(int argc, char **argv)
{
	return move_main(argc, argv, 1);
}

int
kiln_cmd_pull(int argc, char **argv)
{
	return move_main(argc, argv, 0);
}
