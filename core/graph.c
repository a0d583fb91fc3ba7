/*
 * graph: targets, their inputs and the edges between them.
 */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

void
kiln_graph_init(struct kiln_graph *g)
{
	memset(g, 0, sizeof(*g));
}

void
kiln_graph_release(struct kiln_graph *g)
{
	size_t i, j, k;

	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		for (j = 0; j < t->ninputs; j++) {
			if (t->inputs[j].kind == KILN_INPUT_TARGET) {
				free(t->inputs[j].files);	/* its one path is the dependency's outpath */
				continue;
			}
			free(t->inputs[j].path);
			for (k = 0; k < t->inputs[j].nfiles; k++)
				free(t->inputs[j].files[k]);
			free(t->inputs[j].files);
		}
		free(t->outpath);
	}
	free(g->targets);
	free(g->edges);
	free(g->sources);
	map_release(&g->byname);
	arena_release(&g->arena);
	free(g->blob);
	g->blob = NULL;
}

struct kiln_target *
kiln_graph_add(struct kiln_graph *g, const char *name)
{
	struct kiln_target *t;

	if (map_get(&g->byname, name))
		return NULL;
	t = arena_alloc(&g->arena, sizeof(*t));
	memset(t, 0, sizeof(*t));
	t->name = arena_strdup(&g->arena, name);
	map_put(&g->byname, t->name, t);
	if (g->ntargets == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->targets = xreallocarray(g->targets, g->cap, sizeof(*g->targets));
	}
	g->targets[g->ntargets++] = t;
	return t;
}

struct kiln_target *
kiln_graph_find(const struct kiln_graph *g, const char *name)
{
	if (name[0] == ':')
		name++;
	return map_get(&g->byname, name);
}

/* Edges go into room that carve_edges set aside: a target's deps and rdeps never outgrow it. */
static void
add_edge(struct kiln_target *from, struct kiln_target *to)
{
	size_t i;

	for (i = 0; i < from->ndeps; i++)
		if (from->deps[i] == to)
			return;
	from->deps[from->ndeps++] = to;
	to->rdeps[to->nrdeps++] = from;
}

/*
 * Resolve each target input and set aside, in one block, room for every
 * target's deps (at most its target inputs) and rdeps (at most the inputs
 * naming it): one allocation instead of one per edge. -1 on an unknown name.
 */
static int
carve_edges(struct kiln_graph *g)
{
	size_t i, j, total = 0;
	struct kiln_target **next;
	int bad = 0;

	for (i = 0; i < g->ntargets; i++)
		g->targets[i]->mark = 0;	/* counts the inputs that name the target */
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		t->ndeps = t->nrdeps = 0;
		for (j = 0; j < t->ninputs; j++) {
			struct kiln_input *in = &t->inputs[j];

			if (in->kind != KILN_INPUT_TARGET)
				continue;
			in->dep = kiln_graph_find(g, in->spec);
			if (!in->dep) {
				bad = error("%s:%d: target '%s': input '%s' names unknown target '%s'",
				    t->file, t->line, t->name, in->name, in->spec);
				continue;
			}
			t->ndeps++;	/* room for now; add_edge counts them again */
			in->dep->mark++;
			total += 2;
		}
	}
	if (bad)
		return -1;
	free(g->edges);
	g->edges = next = xreallocarray(NULL, total ? total : 1, sizeof(*next));
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		t->deps = next;
		next += t->ndeps;
		t->rdeps = next;
		next += t->mark;
		t->ndeps = 0;
	}
	return 0;
}

/*
 * Depth-first search for a cycle, iteratively so that a 100,000-deep chain
 * does not overflow the stack. mark: 0 new, 1 on the path, 2 finished.
 */
static int
find_cycle(struct kiln_target *start)
{
	struct frame {
		struct kiln_target *t;
		size_t next;
	} *stack = NULL;
	size_t depth = 0, cap = 0, i;

	if (start->mark)
		return 0;
	stack = xreallocarray(NULL, cap = 64, sizeof(*stack));
	stack[depth++] = (struct frame){start, 0};
	start->mark = 1;
	while (depth) {
		struct frame *f = &stack[depth - 1];
		struct kiln_target *d;

		if (f->next == f->t->ndeps) {
			f->t->mark = 2;
			depth--;
			continue;
		}
		d = f->t->deps[f->next++];
		if (d->mark == 2)
			continue;
		if (d->mark == 1) {
			struct buf b = BUF_INIT;

			for (i = 0; i < depth && stack[i].t != d; i++)
				;
			for (; i < depth; i++)
				buf_printf(&b, "%s -> ", stack[i].t->name);
			buf_adds(&b, d->name);
			error("%s:%d: dependency cycle: %s", d->file, d->line, b.s);
			buf_release(&b);
			free(stack);
			return -1;
		}
		if (depth == cap)
			stack = xreallocarray(stack, cap *= 2, sizeof(*stack));
		d->mark = 1;
		stack[depth++] = (struct frame){d, 0};
	}
	free(stack);
	return 0;
}

int
kiln_graph_link(struct kiln_graph *g)
{
	size_t i, j;

	if (carve_edges(g) < 0)
		return -1;
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		for (j = 0; j < t->ninputs; j++)
			if (t->inputs[j].kind == KILN_INPUT_TARGET)
				add_edge(t, t->inputs[j].dep);
	}
	for (i = 0; i < g->ntargets; i++)
		g->targets[i]->mark = 0;
	for (i = 0; i < g->ntargets; i++)
		if (find_cycle(g->targets[i]) < 0)
			return -1;
	for (i = 0; i < g->ntargets; i++)
		g->targets[i]->mark = 0;
	return 0;
}

/* Clear `wanted` on t and on everything downstream of it. */
static void
unwant(struct kiln_target *t)
{
	size_t j;

	if (!t->wanted)
		return;
	t->wanted = 0;
	for (j = 0; j < t->nrdeps; j++)
		unwant(t->rdeps[j]);
}

int
kiln_graph_want(struct kiln_graph *g, char **names, size_t n)
{
	struct kiln_target **stack;
	size_t depth = 0, i, j;

	if (n == 0) {
		/* Declaration order is not dependency order: mark the effects' dependents by a walk. */
		for (i = 0; i < g->ntargets; i++)
			g->targets[i]->wanted = 1;
		for (i = 0; i < g->ntargets; i++)
			if (g->targets[i]->effect)
				unwant(g->targets[i]);
		return 0;
	}
	stack = xreallocarray(NULL, g->ntargets + 1, sizeof(*stack));
	for (i = 0; i < n; i++) {
		struct kiln_target *t = kiln_graph_find(g, names[i]);

		if (!t) {
			free(stack);
			return error("no target named '%s' in the Kilnfile", names[i]);
		}
		t->named = 1;
		if (!t->wanted) {
			t->wanted = 1;
			stack[depth++] = t;
		}
	}
	while (depth) {
		struct kiln_target *t = stack[--depth];

		for (j = 0; j < t->ndeps; j++)
			if (!t->deps[j]->wanted) {
				t->deps[j]->wanted = 1;
				stack[depth++] = t->deps[j];
			}
	}
	free(stack);
	return 0;
}

static void
dot_quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void
kiln_graph_dot(const struct kiln_graph *g, FILE *f)
{
	size_t i, j;

	fprintf(f, "digraph kiln {\n\trankdir=LR;\n\tnode [shape=box, fontname=\"sans-serif\"];\n");
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		if (!t->wanted)
			continue;
		fputc('\t', f);
		dot_quote(f, t->name);
		fprintf(f, " [label=\"%s\\n(%s)\"];\n", t->name, t->plugin);
		for (j = 0; j < t->ninputs; j++) {
			const struct kiln_input *in = &t->inputs[j];

			fputc('\t', f);
			if (in->kind == KILN_INPUT_TARGET) {
				dot_quote(f, in->dep->name);
			} else {
				dot_quote(f, in->spec);
			}
			fputs(" -> ", f);
			dot_quote(f, t->name);
			fprintf(f, " [label=\"%s\"];\n", in->name);
		}
	}
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_target *t = g->targets[i];

		for (j = 0; t->wanted && j < t->ninputs; j++)
			if (t->inputs[j].kind != KILN_INPUT_TARGET) {
				fputc('\t', f);
				dot_quote(f, t->inputs[j].spec);
				fputs(" [shape=note];\n", f);
			}
	}
	fputs("}\n", f);
}

static int
cmp_tool(const void *a, const void *b)
{
	return strcmp(((const struct kiln_tool *)a)->name, ((const struct kiln_tool *)b)->name);
}

/* Add to *own (n of them, sorted) those of cfg (m) whose names it lacks; keep it sorted. */
static void
merge(struct arena *a, struct kiln_tool **own, size_t *n, const struct kiln_tool *cfg, size_t m)
{
	struct kiln_tool *all;
	size_t i, k = *n;

	if (!m)
		return;
	all = arena_alloc(a, (*n + m) * sizeof(*all));
	if (*n)
		memcpy(all, *own, *n * sizeof(*all));
	for (i = 0; i < m; i++)
		if (!*n || !bsearch(&cfg[i], *own, *n, sizeof(**own), cmp_tool))
			all[k++] = cfg[i];
	sort(all, k, sizeof(*all), cmp_tool);
	*own = all;
	*n = k;
}

void
kiln_graph_merge_tools(struct kiln_graph *g)
{
	const struct kiln_toolset *c = &g->config.tools;
	size_t i;

	for (i = 0; i < g->ntargets; i++) {
		struct kiln_toolset *ts = &g->targets[i]->tools;

		merge(&g->arena, &ts->tools, &ts->ntools, c->tools, c->ntools);
		merge(&g->arena, &ts->packages, &ts->npackages, c->packages, c->npackages);
	}
}
