/*
 * status: what is stale and why, without building — `kiln status`,
 * `kiln why`, `kiln build -n`'s reasons, and the walk that push, pull and
 * verify share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "key.h"
#include "value.h"

#define OUT_DIR "kiln-out"

/* Why a target must run: the first difference from what the state recorded. */
const char *
kiln_stale_reason(struct kiln_ws *ws, struct kiln_target *t, const struct kiln_keyinfo *ki, struct buf *b)
{
	struct kiln_record *rec = kiln_state_get(&ws->state, t->name);
	size_t i, k;
	int re;

	if (!rec) {
		buf_adds(b, "never built");
		return b->s;
	}
	kiln_state_comps(&ws->state, rec);
	if (kiln_digest_eq(&rec->key, &ki->key)) {
		if (!kiln_outputs_intact(rec, &re))
			buf_adds(b, "its outputs in " OUT_DIR "/ were changed or removed, and the cache lacks them");
		else
			buf_adds(b, "up to date");
		return b->s;
	}
	for (i = 0; i < ki->ncomps; i++) {
		const struct kiln_component *c = &ki->comps[i];

		for (k = 0; k < rec->ncomps; k++)
			if (rec->comps[k].kind == c->kind && strcmp(rec->comps[k].name, c->name) == 0)
				break;
		if (k == rec->ncomps) {
			kiln_component_describe(b, c->kind, c->name);
			buf_adds(b, " is new");
			return b->s;
		}
		if (!kiln_digest_eq(&rec->comps[k].digest, &c->digest)) {
			kiln_component_describe(b, c->kind, c->name);
			buf_adds(b, " changed");
			return b->s;
		}
	}
	for (k = 0; k < rec->ncomps; k++) {
		for (i = 0; i < ki->ncomps; i++)
			if (rec->comps[k].kind == ki->comps[i].kind && strcmp(rec->comps[k].name, ki->comps[i].name) == 0)
				break;
		if (i == ki->ncomps) {
			kiln_component_describe(b, rec->comps[k].kind, rec->comps[k].name);
			buf_adds(b, " was removed");
			return b->s;
		}
	}
	buf_adds(b, "its action key changed");
	return b->s;
}

/*
 * Walk the wanted targets in dependency order without building, calling
 * fn on each with its current key (NULL when it cannot be known because a
 * dependency would have to run first).
 */
static int
assess(struct kiln_ws *ws, void (*fn)(void *, struct kiln_target *, const struct kiln_keyinfo *, struct kiln_target *),
    void *arg)
{
	struct kiln_graph *g = &ws->graph;
	struct kiln_keyinfo ki = {0};
	struct kiln_target **order;
	size_t i, k, n = 0, head = 0;

	if (kiln_prepare(ws) < 0)
		return -1;
	order = xreallocarray(NULL, g->ntargets + 1, sizeof(*order));
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		t->pending = 0;
		t->mark = 0;
		t->state = KILN_T_IDLE;
		if (!t->wanted)
			continue;
		t->pending = t->ndeps;
		if (!t->pending)
			order[n++] = t;
	}
	for (head = 0; head < n; head++) {
		struct kiln_target *t = order[head], *blocker = NULL;
		struct kiln_plugin_info *pi = kiln_plugins_get(&ws->plugins, t->plugin, &ws->state, t);
		struct kiln_record *rec;
		struct kiln_action act;
		struct arena a = {0};
		int re;

		for (k = 0; k < t->ndeps && !blocker; k++)
			if (t->deps[k]->state != KILN_T_DONE)
				blocker = t->deps[k];
		if (!blocker) {
			for (k = 0; k < t->ninputs; k++)
				if (t->inputs[k].kind == KILN_INPUT_TARGET)
					kiln_resolve_target_input(&t->inputs[k]);
			kiln_key_compute(&ki, t, pi);
			t->key = ki.key;
			rec = kiln_state_get(&ws->state, t->name);
			if (rec && kiln_digest_eq(&rec->key, &t->key) && kiln_outputs_intact(rec, &re)) {
				kiln_outputs_digest(rec->files, rec->nfiles, &t->outdigest);
				t->state = KILN_T_DONE;
			} else if (kiln_cache_get_action(&ws->cache, &t->key, &act, &a)) {
				kiln_outputs_digest(act.files, act.nfiles, &t->outdigest);
				t->state = KILN_T_DONE;
				t->mark = 1;	/* restorable */
			}
			arena_release(&a);
		}
		fn(arg, t, blocker ? NULL : &ki, blocker);
		for (k = 0; k < t->nrdeps; k++)
			if (t->rdeps[k]->wanted && --t->rdeps[k]->pending == 0)
				order[n++] = t->rdeps[k];
	}
	kiln_keyinfo_release(&ki);
	free(order);
	return 0;
}

struct status_ctx {
	struct kiln_ws *ws;
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
	} else if (t->state == KILN_T_DONE && t->mark) {
		printf("%-24s stale: its outputs are in the cache (kiln build restores them)\n", t->name);
		s->stale++;
	} else if (t->state == KILN_T_DONE) {
		if (s->all)
			printf("%-24s up to date\n", t->name);
	} else {
		printf("%-24s stale: %s\n", t->name, kiln_stale_reason(s->ws, t, ki, &b));
		s->stale++;
	}
	buf_release(&b);
}

int
kiln_status(struct kiln_ws *ws, int all)
{
	struct status_ctx s = {ws, 0, all};

	if (assess(ws, status_one, &s) < 0)
		return -1;
	return s.stale;
}

struct why_ctx {
	struct kiln_ws *ws;
	struct kiln_target *target;
	int found;
};

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
		if (kiln_outputs_intact(rec, &re))
			printf("%s: up to date (key %s)\n", t->name, kiln_digest_hex(&ki->key, h1));
		else
			printf("%s: its key is unchanged (%s), but its outputs in " OUT_DIR "/%s were changed or removed%s\n",
			    t->name, kiln_digest_hex(&ki->key, h1), t->name,
			    t->mark ? "; kiln build restores them from the cache" : "");
		return;
	}
	printf("%s: the action key changed\n  was %s\n  now %s\n", t->name, kiln_digest_hex(&rec->key, h1),
	    kiln_digest_hex(&ki->key, h2));
	for (i = 0; i < ki->ncomps; i++) {
		const struct kiln_component *c = &ki->comps[i];

		buf_reset(&b);
		kiln_component_describe(&b, c->kind, c->name);
		for (k = 0; k < rec->ncomps; k++)
			if (rec->comps[k].kind == c->kind && strcmp(rec->comps[k].name, c->name) == 0)
				break;
		if (k == rec->ncomps) {
			printf("  %s: added (%s)\n", b.s, kiln_digest_hex(&c->digest, h2));
			changes++;
		} else if (!kiln_digest_eq(&rec->comps[k].digest, &c->digest)) {
			printf("  %s changed: %s -> %s\n", b.s, kiln_digest_hex(&rec->comps[k].digest, h1),
			    kiln_digest_hex(&c->digest, h2));
			changes++;
		}
		if (changes && c->kind == KILN_C_PARAM && k < rec->ncomps &&
		    !kiln_digest_eq(&rec->comps[k].digest, &c->digest)) {
			const kiln_value *v = kiln_value_get(t->params, c->name);

			buf_reset(&b);
			kiln_value_format(&b, v);
			printf("    now: %.200s\n", b.s);
		}
	}
	for (k = 0; k < rec->ncomps; k++) {
		for (i = 0; i < ki->ncomps; i++)
			if (rec->comps[k].kind == ki->comps[i].kind && strcmp(rec->comps[k].name, ki->comps[i].name) == 0)
				break;
		if (i == ki->ncomps) {
			buf_reset(&b);
			kiln_component_describe(&b, rec->comps[k].kind, rec->comps[k].name);
			printf("  %s: removed (was %s)\n", b.s, kiln_digest_hex(&rec->comps[k].digest, h1));
		}
	}
	buf_release(&b);
}

int
kiln_why(struct kiln_ws *ws, const char *name)
{
	struct why_ctx w = {ws, kiln_graph_find(&ws->graph, name), 0};
	char *names[1] = {(char *)name};

	if (!w.target)
		return error("no target named '%s' in the Kilnfile", name);
	if (kiln_graph_want(&ws->graph, names, 1) < 0)
		return -1;
	if (assess(ws, why_one, &w) < 0)
		return -1;
	return 0;
}

int
kiln_assess(struct kiln_ws *ws, kiln_assess_fn *fn, void *arg)
{
	return assess(ws, fn, arg);
}

