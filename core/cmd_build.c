/*
 * cmd_build: the commands of the build itself — build, status, why, graph,
 * clean, plugins.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assess.h"
#include "checkpoint.h"
#include "cmd.h"
#include "cmd_build.h"
#include "cmd_data.h"
#include "cmd_deploy.h"
#include "fs.h"
#include "key.h"
#include "lock.h"
#include "outputs.h"
#include "overrides.h"
#include "paths.h"
#include "remote.h"
#include "scheduler.h"
#include "sources.h"
#include "value.h"
#include "workspace.h"

struct status_ctx {
	struct kiln_workspace *ws;
	int stale;
	int all;
};

static void
status_one(void *arg, struct kiln_target *t, const struct kiln_keyinfo *ki, struct kiln_target *blocker)
{
	struct status_ctx *s = arg;
	struct buf b = BUF_INIT;

	if (blocker) {
		printf("%-24s stale: after %s is rebuilt\n", t->name, blocker->name);
		s->stale++;
	} else if (t->state == KILN_T_DONE && t->mark == 2) {
		/* Not stale: built, its outputs left in the remote cache (--download=minimal). */
		printf("%-24s remote-only: its outputs are in the remote cache, not in " KILN_OUT_DIR "/ (kiln pull %s)\n",
		    t->name, t->name);
	} else if (t->state == KILN_T_DONE && t->mark) {
		printf("%-24s stale: its outputs are in the cache (kiln build restores them)\n", t->name);
		s->stale++;
	} else if (t->state == KILN_T_DONE) {
		if (s->all)
			printf("%-24s up to date\n", t->name);
	} else {
		double epoch;

		printf("%-24s stale: %s", t->name, kiln_assess_reason(s->ws, t, ki, &b));
		if (t->checkpoint && kiln_checkpoint_find(t->name, &ki->key, &epoch))
			epoch >= 0 ? printf("; resumable (epoch %g)", epoch) : printf("; resumable");
		printf("\n");
		s->stale++;
	}
	buf_release(&b);
}

/* A tracked source (kiln add) that differs from its pointer counts as stale. */
static void
source_one(void *arg, const char *path, const struct kiln_pointer *p, const struct kiln_digest *now)
{
	struct status_ctx *s = arg;

	if (!now) {
		printf("%s: missing; tracked by %s" KILN_POINTER_EXT " (kiln pull or kiln build restores it)\n", path,
		    path);
	} else if (!kiln_digest_eq(now, &p->digest)) {
		printf("%s: changed since 'kiln add' (run kiln add to record it)\n", path);
		s->stale++;
	}
}

/* Print a line per stale wanted target and changed tracked source; the number, or -1. */
static int
status(struct kiln_workspace *ws, int all)
{
	struct status_ctx s = {ws, 0, all};

	if (kiln_assess_walk(ws, status_one, &s) < 0 || kiln_sources_each(ws, source_one, &s) < 0)
		return -1;
	return s.stale;
}

struct why_ctx {
	struct kiln_workspace *ws;
	struct kiln_target *target;
	int found;
};

/* A GPU step's driver or CUDA version that changed although it is not in the key (no gpu_key). */
static void
gpu_notes(const struct kiln_target *t, const struct kiln_record *rec, const struct kiln_keyinfo *ki)
{
	struct buf b = BUF_INIT;
	size_t i, k;

	for (i = 0; i < ki->ncomps && !t->gpu_key; i++)
		for (k = 0; k < rec->ncomps; k++)
			if (ki->comps[i].kind == KILN_C_GPU && kiln_component_same(&rec->comps[k], &ki->comps[i]) &&
			    strcmp(rec->comps[k].name, ki->comps[i].name) != 0) {
				buf_reset(&b);
				kiln_assess_change(&b, &rec->comps[k], &ki->comps[i]);
				printf("  note: %s since it was built (not in its key; gpu_key = \"driver\" puts it there)\n", b.s);
			}
	buf_release(&b);
}

static void
why_one(void *arg, struct kiln_target *t, const struct kiln_keyinfo *ki, struct kiln_target *blocker)
{
	struct why_ctx *w = arg;
	struct kiln_record *rec;
	char h1[KILN_DIGEST_HEX], h2[KILN_DIGEST_HEX];
	struct buf b = BUF_INIT;
	size_t i, k;
	int re, changes = 0;

	if (t != w->target)
		return;
	w->found = 1;
	if (blocker) {
		printf("%s: its dependency %s must be rebuilt first, so its inputs are not known yet.\n"
		       "Run `kiln why %s`.\n", t->name, blocker->name, blocker->name);
		return;
	}
	rec = kiln_state_get(&w->ws->state, t->name);
	if (rec)
		kiln_state_comps(&w->ws->state, rec);
	if (!rec) {
		printf("%s: never built in this workspace%s\n", t->name,
		    t->mark ? " (its outputs are in the cache; kiln build restores them)" : "");
		return;
	}
	if (kiln_digest_eq(&rec->key, &ki->key)) {
		if (rec->flags & KILN_REC_REMOTE)
			printf("%s: up to date, remote-only (key %s): its outputs are in the remote cache; kiln pull %s fetches them\n",
			    t->name, kiln_digest_hex(&ki->key, h1), t->name);
		else if (kiln_outputs_intact(rec, &re))
			printf("%s: up to date (key %s)\n", t->name, kiln_digest_hex(&ki->key, h1));
		else
			printf("%s: its key is unchanged (%s), but its outputs in " KILN_OUT_DIR "/%s were changed or removed%s\n",
			    t->name, kiln_digest_hex(&ki->key, h1), t->name,
			    t->mark ? "; kiln build restores them from the cache" : "");
		gpu_notes(t, rec, ki);
		return;
	}
	printf("%s: the action key changed\n  was %s\n  now %s\n", t->name, kiln_digest_hex(&rec->key, h1),
	    kiln_digest_hex(&ki->key, h2));
	gpu_notes(t, rec, ki);
	for (i = 0; i < ki->ncomps; i++) {
		const struct kiln_component *c = &ki->comps[i];

		if (c->kind == KILN_C_GPU && !t->gpu_key)
			continue;	/* said by gpu_notes */
		buf_reset(&b);
		kiln_component_describe(&b, c->kind, c->name);
		for (k = 0; k < rec->ncomps; k++)
			if (kiln_component_same(&rec->comps[k], c))
				break;
		if (k == rec->ncomps) {
			printf("  %s: added (%s)\n", b.s, kiln_digest_hex(&c->digest, h2));
			changes++;
		} else if (!kiln_digest_eq(&rec->comps[k].digest, &c->digest)) {
			const char *set = c->kind == KILN_C_PARAM ?
			    kiln_overrides_find(w->ws->graph.overrides, t->name, c->name) : NULL;

			buf_reset(&b);
			kiln_assess_change(&b, &rec->comps[k], c);
			printf("  %s%s%s%s: %s -> %s\n", b.s, set ? " (override -S " : "", set ? set : "",
			    set ? ")" : "", kiln_digest_hex(&rec->comps[k].digest, h1), kiln_digest_hex(&c->digest, h2));
			changes++;
		}
		if (changes && c->kind == KILN_C_PARAM && k < rec->ncomps &&
		    !kiln_digest_eq(&rec->comps[k].digest, &c->digest)) {
			const kiln_value *v = kiln_value_get(kiln_target_params(t), c->name);

			buf_reset(&b);
			kiln_value_format(&b, v);
			printf("    now: %.200s\n", b.s);
		}
	}
	for (k = 0; k < rec->ncomps; k++) {
		for (i = 0; i < ki->ncomps; i++)
			if (kiln_component_same(&rec->comps[k], &ki->comps[i]))
				break;
		if (i == ki->ncomps) {
			buf_reset(&b);
			kiln_component_describe(&b, rec->comps[k].kind, rec->comps[k].name);
			printf("  %s: removed (was %s)\n", b.s, kiln_digest_hex(&rec->comps[k].digest, h1));
		}
	}
	buf_release(&b);
}

/* `kiln why NAME`: which components of the key changed since the last build. */
static int
why(struct kiln_workspace *ws, const char *name)
{
	struct why_ctx w = {ws, kiln_graph_find(&ws->graph, name), 0};
	char *names[1] = {(char *)name};

	if (!w.target)
		return error("no target named '%s' in the Kilnfile", name);
	if (kiln_graph_want(&ws->graph, names, 1) < 0)
		return -1;
	if (kiln_assess_walk(ws, why_one, &w) < 0)
		return -1;
	return 0;
}

int
kiln_cmd_build(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"keep-going", no_argument, NULL, 'k'},
		{"dry-run", no_argument, NULL, 'n'},
		{"link", required_argument, NULL, 'L'},
		{"sandbox", required_argument, NULL, 'X'},
		{"set", required_argument, NULL, 'S'},
		{"executor", required_argument, NULL, 'E'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"remote", required_argument, NULL, 'R'},
		{"remote-read-only", no_argument, NULL, 'O'},
		{"download", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_build_opts o = {.jobs = kiln_cmd_default_jobs(), .sandbox = 1};
	struct kiln_overrides ov = {0};
	struct kiln_workspace ws;
	const char *remote = NULL, *download = NULL;
	int c, link = KILN_LINK_AUTO, r, remote_ro = 0;

	while ((c = getopt_long(argc, argv, "j:knvqS:", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (kiln_cmd_parse_int(optarg, 1, &o.jobs) < 0)
				return error("-j: expected a number of at least 1, got '%s'", optarg), 2;
			break;
		case 'k':
			o.keep_going = 1;
			break;
		case 'n':
			o.dry_run = 1;
			break;
		case 'L':
			if (strcmp(optarg, "hardlink") == 0)
				link = KILN_LINK_HARD;
			else if (strcmp(optarg, "copy") == 0 || strcmp(optarg, "reflink") == 0)
				link = KILN_LINK_COPY;
			else if (strcmp(optarg, "auto") == 0)
				link = KILN_LINK_AUTO;
			else
				return error("--link: expected auto, copy or hardlink, got '%s'", optarg), 2;
			break;
		case 'S':
			if (kiln_overrides_add(&ov, optarg) < 0)
				return kiln_overrides_release(&ov), 2;
			break;
		case 'X':
			if (strcmp(optarg, "off") == 0)
				o.sandbox = 0;
			else if (strcmp(optarg, "on") == 0)
				o.sandbox = 1;
			else
				return error("--sandbox: expected on or off, got '%s'", optarg), 2;
			break;
		case 'E':
			o.executor = optarg;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'R':
			remote = optarg;
			break;
		case 'O':
			remote_ro = 1;
			break;
		case 'D':
			if (strcmp(optarg, "all") != 0 && strcmp(optarg, "minimal") != 0)
				return error("--download: expected all or minimal, got '%s'", optarg), 2;
			download = optarg;
			break;
		default:
			kiln_overrides_release(&ov);
			return KILN_CMD_USAGE;
		}
	}
	if (kiln_cmd_open(&ws, !o.dry_run, &ov) < 0) {
		kiln_overrides_release(&ov);
		return 2;
	}
	if (kiln_workspace_attach_remote(&ws, remote, remote_ro) < 0) {
		kiln_workspace_close(&ws);
		kiln_overrides_release(&ov);
		return 2;
	}
	ws.cache.link = link;
	ws.fetch_sources = !o.dry_run;
	if (!download)
		download = ws.graph.config.download;
	o.download_minimal = download && strcmp(download, "minimal") == 0 && ws.remote;
	if (!o.sandbox && !o.dry_run)
		warn("--sandbox=off: steps run without the sandbox; their outputs are marked unsandboxed in Kilnfile.lock");
	if (kiln_graph_want(&ws.graph, argv + optind, argc - optind) < 0 ||
	    kiln_deploy_prepare_wanted(&ws.graph) < 0) {
		kiln_workspace_close(&ws);
		kiln_overrides_release(&ov);
		return 2;
	}
	r = kiln_scheduler_build(&ws, &o);
	if (!o.quiet)
		kiln_remote_report(ws.remote);
	kiln_workspace_close(&ws);
	kiln_overrides_release(&ov);
	return r;
}

int
kiln_cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"check", no_argument, NULL, 'c'},
		{"all", no_argument, NULL, 'a'},
		{"remote-sources", no_argument, NULL, 'r'},
		{"set", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_overrides ov = {0};
	struct kiln_workspace ws;
	int c, check = 0, all = 0, stale = -1, lockok = 1, remote = 0, moved = 0;

	while ((c = getopt_long(argc, argv, "S:", longopts, NULL)) != -1) {
		if (c == 'c')
			check = 1;
		else if (c == 'a')
			all = 1;
		else if (c == 'r')
			remote = 1;
		else if (c != 'S' || kiln_overrides_add(&ov, optarg) < 0)
			return kiln_overrides_release(&ov), c == 'S' ? 2 : KILN_CMD_USAGE;
	}
	if (kiln_cmd_open(&ws, 0, &ov) < 0)
		return kiln_overrides_release(&ov), 2;
	if (kiln_graph_want(&ws.graph, argv + optind, argc - optind) == 0)
		stale = status(&ws, all);
	if (stale >= 0 && check)
		lockok = kiln_lock_matches(&ws.graph, &ws.state);
	if (stale >= 0 && remote && (moved = kiln_fetch_check_remote(&ws)) < 0)
		stale = -1;
	else if (stale >= 0)
		stale += moved;
	if (stale == 0 && lockok)
		printf("kiln: %zu targets up to date\n", ws.graph.ntargets);
	kiln_workspace_close(&ws);
	kiln_overrides_release(&ov);
	if (stale < 0)
		return 2;
	return check && (stale > 0 || !lockok) ? 1 : 0;
}

int
kiln_cmd_why(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"set", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_overrides ov = {0};
	struct kiln_workspace ws;
	int c, r;

	while ((c = getopt_long(argc, argv, "S:", longopts, NULL)) != -1)
		if (c != 'S' || kiln_overrides_add(&ov, optarg) < 0)
			return kiln_overrides_release(&ov), c == 'S' ? 2 : KILN_CMD_USAGE;
	if (argc - optind != 1)
		return kiln_overrides_release(&ov), KILN_CMD_USAGE;
	if (kiln_cmd_open(&ws, 0, &ov) < 0)
		return kiln_overrides_release(&ov), 2;
	r = why(&ws, argv[optind]);
	kiln_workspace_close(&ws);
	kiln_overrides_release(&ov);
	return r < 0 ? 2 : 0;
}

int
kiln_cmd_graph(int argc, char **argv)
{
	struct kiln_workspace ws;

	if (argc > 1 && argv[1][0] == '-')
		return KILN_CMD_USAGE;
	if (kiln_cmd_open(&ws, 0, NULL) < 0)
		return 2;
	if (kiln_graph_want(&ws.graph, argv + 1, argc - 1) < 0) {
		kiln_workspace_close(&ws);
		return 2;
	}
	kiln_graph_dot(&ws.graph, stdout);
	kiln_workspace_close(&ws);
	return 0;
}

int
kiln_cmd_clean(int argc, char **argv)
{
	struct kiln_workspace ws;

	(void)argv;
	if (argc != 1)
		return KILN_CMD_USAGE;
	if (kiln_cmd_open(&ws, 1, NULL) < 0)
		return 2;
	if (kiln_fs_removeat(AT_FDCWD, KILN_OUT_DIR) < 0) {
		kiln_workspace_close(&ws);
		return error("cannot remove kiln-out:"), 1;
	}
	printf("kiln: removed kiln-out/ (the cache still has every output: the next build restores them)\n");
	kiln_workspace_close(&ws);
	return 0;
}

int
kiln_cmd_plugins(int argc, char **argv)
{
	struct kiln_plugins p;
	struct kiln_state st;
	char *cwd = getcwd(NULL, 0);
	int r;

	(void)argv;
	if (argc != 1)
		return KILN_CMD_USAGE;
	/* Digests only: no state file is written for listing. */
	memset(&st, 0, sizeof(st));
	st.fd = -1;
	st.path = xstrdup("/dev/null");
	kiln_plugins_init(&p, cwd ? cwd : ".");
	r = kiln_plugins_list(&p, &st);
	kiln_plugins_release(&p);
	map_release(&st.files);
	arena_release(&st.arena);
	free(st.path);
	free(cwd);
	return r;
}
