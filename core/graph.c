/*
 * graph: targets, their inputs and the edges between them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "value.h"

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
			if (t->inputs[j].kind == KILN_INPUT_TARGET)
				continue;	/* its one path is the dependency's outpath */
			if (t->inputs[j].files == &t->inputs[j].path)
				continue;	/* a file or folder: its path is its spec (inputs.c's set_path) */
			free(t->inputs[j].path);
			for (k = 0; k < t->inputs[j].nfiles; k++)
				free(t->inputs[j].files[k]);
			free(t->inputs[j].files);
		}
		free(t->outpath);
		if (t->penc)
			free(t->params);	/* decoded by kiln_target_params */
	}
	free(g->targets);
	free(g->edges);
	free(g->sources);
	map_release(&g->byname);
	arena_release(&g->arena);
	free(g->blob);
	g->blob = NULL;
}

/* name, not yet taken, must outlive g. */
static struct kiln_target *
add(struct kiln_graph *g, const char *name)
{
	struct kiln_target *t;

	t = arena_alloc(&g->arena, sizeof(*t));
	memset(t, 0, sizeof(*t));
	t->name = name;
	map_put(&g->byname, t->name, t);
	if (g->ntargets == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->targets = xreallocarray(g->targets, g->cap, sizeof(*g->targets));
	}
	g->targets[g->ntargets++] = t;
	return t;
}

struct kiln_target *
kiln_graph_add(struct kiln_graph *g, const char *name)
{
	return map_get(&g->byname, name) ? NULL : add(g, arena_strdup(&g->arena, name));
}

struct kiln_target *
kiln_graph_add_kept(struct kiln_graph *g, const char *name)
{
	return map_get(&g->byname, name) ? NULL : add(g, name);
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
merge(struct arena *a, struct kiln_tool **own, uint32_t *n, const struct kiln_tool *cfg, size_t m)
{
	struct kiln_tool *all;
	size_t i;
	uint32_t k = *n;

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

static uint32_t
get_u32(const unsigned char **p)
{
	const unsigned char *c = *p;

	*p += 4;
	return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

uint32_t
kiln_params_count(const unsigned char **p)
{
	return get_u32(p);
}

void
kiln_params_next(const unsigned char **p, const char **name, const unsigned char **enc, uint32_t *len)
{
	uint32_t n = get_u32(p);

	*name = (const char *)*p;
	*p += n + 1;
	*len = get_u32(p);
	*enc = *p;
	*p += *len;
}

/* One block: the map, its keys and items, and what each item's decoding takes. */
static kiln_value *
decode_params(const unsigned char *p)
{
	uint32_t i, n = kiln_params_count(&p), len;
	const unsigned char *q = p, *enc;
	size_t need = sizeof(kiln_value) + n * (sizeof(kiln_value) + sizeof(char *));
	kiln_value *map, *items;
	const char **keys, *name;
	char *mem;

	for (i = 0; i < n; i++) {
		kiln_params_next(&q, &name, &enc, &len);
		need += (size_t)kiln_value_check(enc, len);	/* checked when loaded: never -1 */
	}
	map = xmalloc(need);
	items = (kiln_value *)(map + 1);
	keys = (const char **)(items + n);
	mem = (char *)(keys + n);
	for (i = 0; i < n; i++) {
		kiln_params_next(&p, &keys[i], &enc, &len);
		items[i] = *kiln_value_decode(enc, len, mem);
		mem += kiln_value_check(enc, len);
	}
	*map = (kiln_value){.type = KILN_MAP, .u.seq = {n, items, keys}};
	return map;
}

const kiln_value *
kiln_target_params(const struct kiln_target *t)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct kiln_target *m = (struct kiln_target *)t;	/* decoding once is not a change */
	kiln_value *v = __atomic_load_n(&m->params, __ATOMIC_ACQUIRE);

	if (v || !t->penc)
		return v;
	pthread_mutex_lock(&lock);
	if (!(v = m->params)) {
		v = decode_params(t->penc);
		__atomic_store_n(&m->params, v, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
	return v;
}

const kiln_value *
kiln_target_params_tmp(const struct kiln_target *t, kiln_value **tmp)
{
	kiln_value *v = __atomic_load_n(&((struct kiln_target *)t)->params, __ATOMIC_ACQUIRE);

	*tmp = NULL;
	if (v || !t->penc)
		return v;
	return *tmp = decode_params(t->penc);
}
