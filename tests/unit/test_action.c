/* Action entries (the cache's and the remote's format): round trips and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cache.h"

static void
round_trip(void **state)
{
	struct kiln_file files[2] = {
		{"a/b c.txt", {{1}}, 10, 0644, 0, 0, 0},
		{"run.sh", {{2}}, 20, 0755, 0, 0, 0},
	};
	struct kiln_metric m[1] = {{"accuracy", 0.9666666666666667}};
	struct kiln_action act = {files, 2, m, 1, 1}, got;
	struct arena a = {0};
	struct buf b = BUF_INIT;

	(void)state;
	kiln_action_format(&b, &act);
	assert_int_equal(kiln_action_parse(b.s, b.len, &got, &a), 0);
	assert_int_equal(got.nfiles, 2);
	assert_string_equal(got.files[0].path, "a/b c.txt");
	assert_int_equal(got.files[1].mode, 0755);
	assert_int_equal(got.files[1].size, 20);
	assert_true(kiln_digest_eq(&got.files[1].digest, &files[1].digest));
	assert_int_equal(got.nmetrics, 1);
	assert_string_equal(got.metrics[0].name, "accuracy");
	assert_true(got.metrics[0].value == 0.9666666666666667);
	assert_int_equal(got.flags, 1);
	buf_release(&b);
	arena_release(&a);
}

static void
rejects_bad_entries(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage\n",
		"kiln-action 2\n",
		"kiln-action 1\nfile 644 zz 1 a\n",
		"kiln-action 1\nfile 644 00000000000000000000000000000000 1 ../escape\n",
		"kiln-action 1\nfile 644 00000000000000000000000000000000 1 /abs\n",
		"kiln-action 1\nfile 777 00000000000000000000000000000000 1 a\n",
		"kiln-action 1\nmetric notanumber x\n",
		"kiln-action 1\nfile 644 00000000000000000000000000000000 1 a",	/* torn: no newline */
		"kiln-action 1\nsurprise\n",
		/* Found by fuzz_core_action: what kiln_action_format never writes. */
		"kiln-action 1\nmetric 1 m\nmetric 2 n",	/* torn after a metric: leaked the array */
		"kiln-action 1\nfile 644 00000000000000000000000000000000 10d\n",	/* no space after the size */
		"kiln-action 1\nmetric 1x\n",
		"kiln-action 1\nfile 644 00000000000000000000000000000000 1 b\n"
		"file 644 00000000000000000000000000000000 1 a\n",	/* out of order */
		"kiln-action 1\nfile 644 00000000000000000000000000000000 1 a\n"
		"file 755 00000000000000000000000000000000 2 a\n",	/* the same path twice */
	};
	struct kiln_action act;
	struct arena a = {0};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kiln_action_parse(bad[i], strlen(bad[i]), &act, &a) == 0)
			fail_msg("accepted bad entry %zu: %s", i, bad[i]);
	assert_int_equal(kiln_action_parse("kiln-action 1\n\0x\n", 17, &act, &a), -1);
	arena_release(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(rejects_bad_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
