/* Action keys: stable for the same target, sensitive to every component, blind to the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "key.h"

static struct kiln_plugin dummy_desc = {KILN_PLUGIN_ABI, "exec", "1.0", "", NULL, NULL};

struct fixture {
	struct kiln_target t;
	struct kiln_input in[2];
	kiln_value params, items[2];
	const char *keys[2];
	const char *outputs[1];
	struct kiln_env env[1];
	struct kiln_plugin_info pi;
};

static void
make(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->keys[0] = "cmd";
	f->keys[1] = "epochs";
	f->items[0] = (kiln_value){.type = KILN_STRING, .u.str = {"run", 3}};
	f->items[1] = (kiln_value){.type = KILN_INT, .u.i = 40};
	f->params = (kiln_value){.type = KILN_MAP, .u.seq = {2, f->items, f->keys}};
	f->in[0].name = "data";
	kiln_digest_buf("data", 4, &f->in[0].digest);
	f->in[1].name = "prev";
	kiln_digest_buf("prev", 4, &f->in[1].digest);
	f->outputs[0] = "model.bin";
	f->env[0] = (struct kiln_env){"SEED", "1"};
	f->t.name = "t";
	f->t.params = &f->params;
	f->t.inputs = f->in;
	f->t.ninputs = 2;
	f->t.outputs = f->outputs;
	f->t.noutputs = 1;
	f->t.env = f->env;
	f->t.nenv = 1;
	f->t.res.threads = 1;
	f->pi.desc = &dummy_desc;
	kiln_digest_buf("so", 2, &f->pi.digest);
	kiln_key_plugin_digest(&f->pi);
}

static void
key_of(struct fixture *f, struct kiln_digest *out)
{
	struct kiln_keyinfo ki = {0};

	kiln_key_compute(&ki, &f->t, &f->pi);
	*out = ki.key;
	kiln_keyinfo_release(&ki);
}

static void
same_target_same_key(void **state)
{
	struct fixture a, b;
	struct kiln_digest ka, kb;

	(void)state;
	make(&a);
	make(&b);
	key_of(&a, &ka);
	key_of(&b, &kb);
	assert_true(kiln_digest_eq(&ka, &kb));
	/* Not part of the key: the target's name and where it is declared, the cpu slots, the timeout. */
	b.t.name = "other";
	b.t.file = "elsewhere";
	b.t.res.cpus = 8;
	b.t.res.timeout = 60;
	key_of(&b, &kb);
	assert_true(kiln_digest_eq(&ka, &kb));
}

static void
every_component_changes_the_key(void **state)
{
	struct fixture f;
	struct kiln_digest base, k;
	int i;

	(void)state;
	make(&f);
	key_of(&f, &base);
	for (i = 0; i < 9; i++) {
		make(&f);
		switch (i) {
		case 0: f.items[1].u.i = 41; break;			/* a param's value */
		case 1: f.items[1] = (kiln_value){.type = KILN_NUMBER, .u.n = 40.0}; break;	/* its type */
		case 2: f.in[0].digest.b[0] ^= 1; break;		/* an input's bytes */
		case 3: f.outputs[0] = "model2.bin"; break;		/* an output's name */
		case 4: f.env[0].value = "2"; break;			/* a declared env value */
		case 5: f.pi.digest.b[3] ^= 1; break;			/* the plugin's code */
		case 6: dummy_desc.version = "1.1"; break;		/* its version */
		case 7: f.t.res.threads = 4; break;			/* threads */
		case 8: f.t.network = 1; break;
		}
		kiln_key_plugin_digest(&f.pi);
		key_of(&f, &k);
		dummy_desc.version = "1.0";
		if (kiln_digest_eq(&base, &k))
			fail_msg("change %d did not change the key", i);
	}
}

static void
components_name_what_changed(void **state)
{
	struct fixture f;
	struct kiln_keyinfo ki = {0};
	size_t i, found = 0;

	(void)state;
	make(&f);
	kiln_key_compute(&ki, &f.t, &f.pi);
	for (i = 0; i < ki.ncomps; i++) {
		if (ki.comps[i].kind == KILN_C_PARAM && strcmp(ki.comps[i].name, "epochs") == 0)
			found++;
		if (ki.comps[i].kind == KILN_C_INPUT && strcmp(ki.comps[i].name, "prev") == 0)
			found++;
		if (ki.comps[i].kind == KILN_C_ENV && strcmp(ki.comps[i].name, "SEED") == 0)
			found++;
	}
	assert_int_equal(found, 3);
	kiln_keyinfo_release(&ki);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_target_same_key),
		cmocka_unit_test(every_component_changes_the_key),
		cmocka_unit_test(components_name_what_changed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
