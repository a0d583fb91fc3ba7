/* Kilnfile evaluation: targets and their typed params, the restricted environment, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kilnfile.h"

static char dir[64], oldcwd[4096];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/kiln-kf-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(oldcwd, sizeof(oldcwd)));
	assert_int_equal(chdir(dir), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(chdir(oldcwd), 0);
	remove_tree(dir);
	return 0;
}

static int
load(struct kiln_graph *g, const char *text)
{
	FILE *f = fopen("Kilnfile", "w");

	fputs(text, f);
	fclose(f);
	kiln_graph_init(g);
	return kiln_kilnfile_load(g, "Kilnfile");
}

static void
target_fields_and_typed_params(void **state)
{
	struct kiln_graph g;
	struct kiln_target *t;
	const kiln_value *p;

	(void)state;
	assert_int_equal(load(&g,
	    "kiln.target {\n"
	    "  name = \"m\", plugin = \"train\",\n"
	    "  inputs = { z = \":feat\", a = \"conf/x.lua\", g = \"data/*.csv\" },\n"
	    "  params = { epochs = 40, lr = 0.5, hidden = {64, 32}, algo = \"mlp\", stop = true,\n"
	    "             sched = { kind = \"cos\" } },\n"
	    "  outputs = { \"w.bin\", \"a.json\" },\n"
	    "  env = { \"SEED\", MODE = \"fast\" },\n"
	    "  resources = { cpus = 2, mem = \"2G\", timeout = \"30m\" },\n"
	    "}\n"), 0);
	t = kiln_graph_find(&g, "m");
	assert_non_null(t);
	assert_string_equal(t->plugin, "train");
	assert_int_equal(t->line, 1);
	assert_int_equal(t->ninputs, 3);
	assert_string_equal(t->inputs[0].name, "a");	/* sorted */
	assert_int_equal(t->inputs[0].kind, KILN_INPUT_PATH);
	assert_int_equal(t->inputs[1].kind, KILN_INPUT_GLOB);
	assert_int_equal(t->inputs[2].kind, KILN_INPUT_TARGET);
	assert_string_equal(t->outputs[0], "a.json");
	p = kiln_value_get(t->params, "epochs");
	assert_int_equal(p->type, KILN_INT);
	assert_int_equal(p->u.i, 40);
	assert_int_equal(kiln_value_get(t->params, "lr")->type, KILN_NUMBER);
	p = kiln_value_get(t->params, "hidden");
	assert_int_equal(p->type, KILN_LIST);
	assert_int_equal(kiln_value_int(kiln_value_at(p, 1), 0), 32);
	assert_int_equal(kiln_value_bool(kiln_value_get(t->params, "stop"), 0), 1);
	assert_string_equal(kiln_value_string(kiln_value_get(kiln_value_get(t->params, "sched"), "kind"), ""), "cos");
	assert_int_equal(t->nenv, 2);
	assert_string_equal(t->env[0].name, "MODE");
	assert_string_equal(t->env[0].value, "fast");
	assert_null(t->env[1].value);
	assert_int_equal(t->res.cpus, 2);
	assert_int_equal(t->res.threads, 2);
	assert_int_equal(t->res.mem, 2LL << 30);
	assert_true(t->res.timeout == 1800);
	kiln_graph_release(&g);
}

static void
command_rule(void **state)
{
	struct kiln_graph g;
	struct kiln_target *t;

	(void)state;
	assert_int_equal(load(&g, "command \"c\" { cmd = \"echo hi > {out}/x\", outputs = { \"x\" } }\n"), 0);
	t = kiln_graph_find(&g, "c");
	assert_string_equal(t->plugin, "exec");
	assert_string_equal(kiln_value_string(kiln_value_get(t->params, "cmd"), ""), "echo hi > {out}/x");
	kiln_graph_release(&g);
}

static void
no_clock_no_io_no_random(void **state)
{
	struct kiln_graph g;

	(void)state;
	assert_int_equal(load(&g, "assert(os == nil and io == nil and require == nil and load == nil and dofile == nil)\n"
	    "assert(math.random == nil)\n"
	    "assert(string.format('%d', 3) == '3')\n"), 0);
	kiln_graph_release(&g);
	assert_int_equal(load(&g, "os.time()\n"), -1);
	kiln_graph_release(&g);
}

static void
errors(void **state)
{
	static const char *const bad[] = {
		"command \"c\" { cmd = \"x\" }\n",			/* no outputs */
		"command \"c\" { cmd = \"x\", outputs = {} }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"/abs\" } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\", \"a\" } }\n",
		"command \"bad name\" { cmd = \"x\", outputs = { \"a\" } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, resources = { cpus = 0 } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, resources = { gpu = 1 } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, network = \"yes\" }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, env = { 3 } }\n",
		"kiln.target { name = \"c\", plugin = \"exec\", outputs = { \"a\" }, params = { f = pairs } }\n",
		"kiln.target { name = \"c\", plugin = \"exec\", outputs = { \"a\" }, params = { {1}, x = 2 } }\n",
		"kiln.config { remote = 1 }\n",
		"kiln.config { remote = \"a\" }\nkiln.config { remote = \"b\" }\n",
		"include \"/etc/passwd\"\n",
	};
	struct kiln_graph g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (load(&g, bad[i]) == 0)
			fail_msg("accepted: %s", bad[i]);
		kiln_graph_release(&g);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(target_fields_and_typed_params, setup, teardown),
		cmocka_unit_test_setup_teardown(command_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(no_clock_no_io_no_random, setup, teardown),
		cmocka_unit_test_setup_teardown(errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
