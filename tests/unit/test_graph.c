/* Graphs: linking inputs into edges, cycles, unknown targets, wanting a subset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "graph.h"

/* Add target `name` whose inputs are the ":dep" specs in deps (NULL-terminated). */
static struct kiln_target *
add(struct kiln_graph *g, const char *name, const char **deps)
{
	struct kiln_target *t = kiln_graph_add(g, name);
	size_t n = 0, i;

	while (deps && deps[n])
		n++;
	t->file = "Kilnfile";
	t->line = 1;
	t->plugin = "exec";
	t->inputs = arena_alloc(&g->arena, (n + 1) * sizeof(*t->inputs));
	memset(t->inputs, 0, (n + 1) * sizeof(*t->inputs));
	for (i = 0; i < n; i++) {
		t->inputs[i].name = deps[i] + 1;
		t->inputs[i].spec = deps[i];
		t->inputs[i].kind = KILN_INPUT_TARGET;
	}
	t->ninputs = n;
	return t;
}

static void
links_edges_both_ways(void **state)
{
	struct kiln_graph g;
	struct kiln_target *a, *b, *c;

	(void)state;
	kiln_graph_init(&g);
	a = add(&g, "a", NULL);
	b = add(&g, "b", (const char *[]){":a", NULL});
	c = add(&g, "c", (const char *[]){":a", ":b", NULL});
	assert_null(kiln_graph_add(&g, "a"));	/* names are unique */
	assert_int_equal(kiln_graph_link(&g), 0);
	assert_int_equal(c->ndeps, 2);
	assert_int_equal(a->nrdeps, 2);
	assert_ptr_equal(b->deps[0], a);
	assert_ptr_equal(kiln_graph_find(&g, ":c"), c);
	kiln_graph_release(&g);
}

static void
finds_cycles(void **state)
{
	struct kiln_graph g;

	(void)state;
	kiln_graph_init(&g);
	add(&g, "a", (const char *[]){":c", NULL});
	add(&g, "b", (const char *[]){":a", NULL});
	add(&g, "c", (const char *[]){":b", NULL});
	add(&g, "free", NULL);
	assert_int_equal(kiln_graph_link(&g), -1);
	kiln_graph_release(&g);
	kiln_graph_init(&g);
	add(&g, "self", (const char *[]){":self", NULL});
	assert_int_equal(kiln_graph_link(&g), -1);
	kiln_graph_release(&g);
}

static void
deep_chain_has_no_cycle(void **state)
{
	struct kiln_graph g;
	char name[32], dep[32];
	int i;

	(void)state;
	kiln_graph_init(&g);
	/* Deep enough that a recursive walk would overflow the stack. */
	for (i = 0; i < 200000; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		snprintf(dep, sizeof(dep), ":t%d", i - 1);
		add(&g, arena_strdup(&g.arena, name),
		    i ? (const char *[]){arena_strdup(&g.arena, dep), NULL} : NULL);
	}
	assert_int_equal(kiln_graph_link(&g), 0);
	{
		char *want[] = {"t10"};

		assert_int_equal(kiln_graph_want(&g, want, 1), 0);
	}
	assert_true(kiln_graph_find(&g, "t0")->wanted);
	assert_true(kiln_graph_find(&g, "t10")->wanted);
	assert_false(kiln_graph_find(&g, "t11")->wanted);
	kiln_graph_release(&g);
}

static void
unknown_targets_are_errors(void **state)
{
	struct kiln_graph g;
	char *want[] = {"nope"};

	(void)state;
	kiln_graph_init(&g);
	add(&g, "a", (const char *[]){":missing", NULL});
	assert_int_equal(kiln_graph_link(&g), -1);
	assert_int_equal(kiln_graph_want(&g, want, 1), -1);
	kiln_graph_release(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(links_edges_both_ways),
		cmocka_unit_test(finds_cycles),
		cmocka_unit_test(deep_chain_has_no_cycle),
		cmocka_unit_test(unknown_targets_are_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
