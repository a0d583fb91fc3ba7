/*
 * assess: what is stale and why, without building; see assess.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assess.h"
#include "inputs.h"
#include "key.h"
#include "outputs.h"
#include "paths.h"
#include "workspace.h"

void
kiln_assess_change(struct buf *b, const struct kiln_component *was, const struct kiln_component *now)
{
	kiln_component_describe(b, now->kind, now->name);
	if (now->kind == KILN_C_MACHINE) {
		buf_printf(b, " changed from '%s' to '%s'", was->name, now->name);
		return;
	}
	if (now->kind == KILN_C_GPU) {
		buf_printf(b, " changed from %s to %s", strchr(was->name, ' ') + 1, strchr(now->name, ' ') + 1);
		return;
	}
	if (now->kind == KILN_C_TOOL) {
		buf_adds(b, ": ");
		if (kiln_tools_explain(&was->digest, &now->digest, b) == 0)
			return;
		b->len -= 2;
		b->s[b->len] = '\0';
	}
	buf_adds(b, " changed");
}

/* Why a target must run: the first difference from what the state recorded. */
const char *
kiln_assess_reason(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki, struct buf *b)
{
	struct kiln_record *rec = kiln_state_get(&ws->state, t->name);
	size_t i, k;
	int re;

	if (t->effect) {
		buf_adds(b, "a side effect: it runs each time it is asked for");
		return b->s;
	}
	if (!rec) {
		buf_adds(b, "never built");
		return b->s;
	}
	kiln_state_comps(&ws->state, rec);
	if (kiln_digest_eq(&rec->key, &ki->key)) {
		if (rec->flags & KILN_REC_REMOTE)
			buf_adds(b, "remote-only: its outputs are in the remote cache, not here (kiln pull fetches them)");
		else if (!kiln_outputs_intact(rec, &re))
			buf_adds(b, "its outputs in " KILN_OUT_DIR "/ were changed or removed, and the cache lacks them");
		else
			buf_adds(b, "up to date");
		return b->s;
	}
	for (i = 0; i < ki->ncomps; i++) {
		const struct kiln_component *c = &ki->comps[i];

		if (c->kind == KILN_C_GPU && !t->gpu_key)
			continue;
		for (k = 0; k < rec->ncomps; k++)
			if (kiln_component_same(&rec->comps[k], c))
				break;
		if (k == rec->ncomps) {
			kiln_component_describe(b, c->kind, c->name);
			buf_adds(b, " is new");
			return b->s;
		}
		if (!kiln_digest_eq(&rec->comps[k].digest, &c->digest)) {
			kiln_assess_change(b, &rec->comps[k], c);
			return b->s;
		}
	}
	for (k = 0; k < rec->ncomps; k++) {
		if (rec->comps[k].kind == KILN_C_GPU && !t->gpu_key)
			continue;
		for (i = 0; i < ki->ncomps; i++)
			if (kiln_component_same(&rec->comps[k], &ki->comps[i]))
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

int
kiln_assess_walk(struct kiln_workspace *ws, kiln_assess_fn *fn, void *arg)
{
	struct kiln_graph *g = &ws->graph;
	struct kiln_keyinfo ki = {0};
	struct kiln_target **order;
	size_t i, k, n = 0, head = 0;

	if (kiln_inputs_prepare(ws) < 0)
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
					kiln_inputs_resolve_target(&t->inputs[k]);
			kiln_key_compute(&ki, t, pi);
			t->key = ki.key;
			rec = kiln_state_get(&ws->state, t->name);
			if (rec && kiln_digest_eq(&rec->key, &t->key) && kiln_outputs_intact(rec, &re)) {
				kiln_outputs_digest(rec->files, rec->nfiles, &t->outdigest);
				t->state = KILN_T_DONE;
			} else if (rec && kiln_digest_eq(&rec->key, &t->key) && (rec->flags & KILN_REC_REMOTE)) {
				kiln_outputs_digest(rec->files, rec->nfiles, &t->outdigest);
				t->state = KILN_T_DONE;
				t->mark = 2;	/* remote-only */
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
