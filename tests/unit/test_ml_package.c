/*
 * The package plugin's pieces: OCI names and tags by the distribution
 * grammar, SHA-256 digests, and the ELF library closure of a real program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../plugins/lib/oci.h"
#include "../../plugins/lib/util.h"
#include "../../plugins/package/elf.h"

static void
names(void **state)
{
	static const char *const good[] = { "iris", "a", "kiln/iris", "reg.example/team_a/iris__x-y--z",
		"a.b", "a_b", "a__b", "a-b", "a---b", "0", NULL };
	static const char *const bad[] = { "", "Iris", "iris/", "/iris", "-iris", "iris-", "a..b", "a___b",
		"a_.b", "a b", "iris:1", "a//b", "ir%is", NULL };
	size_t i;

	(void)state;
	for (i = 0; good[i]; i++)
		if (!kp_oci_valid_name(good[i]))
			fail_msg("'%s' should be a valid name", good[i]);
	for (i = 0; bad[i]; i++)
		if (kp_oci_valid_name(bad[i]))
			fail_msg("'%s' should not be a valid name", bad[i]);
}

static void
tags(void **state)
{
	char long_tag[130];

	(void)state;
	assert_true(kp_oci_valid_tag("1"));
	assert_true(kp_oci_valid_tag("v1.0_rc-2"));
	assert_true(kp_oci_valid_tag("_x"));
	assert_false(kp_oci_valid_tag(""));
	assert_false(kp_oci_valid_tag("-1"));
	assert_false(kp_oci_valid_tag(".x"));
	assert_false(kp_oci_valid_tag("a:b"));
	assert_false(kp_oci_valid_tag("a/b"));
	memset(long_tag, 'x', 128);
	long_tag[128] = '\0';
	assert_true(kp_oci_valid_tag(long_tag));
	long_tag[128] = 'x';
	long_tag[129] = '\0';
	assert_false(kp_oci_valid_tag(long_tag));
}

static void
digests_and_json(void **state)
{
	char d[72], *s;
	json_t *j = json_pack("{s:i, s:s, s:[i]}", "b", 1, "a", "x", "c", 2);

	(void)state;
	kp_oci_digest("abc", 3, d);
	assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	s = kp_oci_json(j);
	assert_string_equal(s, "{\"a\":\"x\",\"b\":1,\"c\":[2]}");
	free(s);
	json_decref(j);
}

static void
closure_of_a_program(void **state)
{
	char err[KP_ERRLEN], *buf;
	struct elf_closure c;
	size_t len, i;
	int libc = 0;

	(void)state;
	/* python3 is dynamic everywhere kiln builds; /bin/sh may be a static busybox. */
	if (kp_read_file("/usr/bin/python3", &buf, &len, err) < 0)
		skip();
	assert_int_equal(elf_closure(&c, (unsigned char *)buf, len, err), 0);
	assert_non_null(c.interp);
	assert_non_null(c.arch);
	for (i = 0; i < c.nlibs; i++) {
		libc |= strcmp(c.libs[i].soname, "libc.so.6") == 0;
		assert_true(c.libs[i].len > 64);
		assert_memory_equal(c.libs[i].data, "\177ELF", 4);
		if (i)
			assert_true(strcmp(c.libs[i - 1].soname, c.libs[i].soname) < 0);
	}
	assert_true(libc);
	elf_closure_release(&c);
	free(buf);
}

static void
not_elf(void **state)
{
	unsigned char junk[256];
	char err[KP_ERRLEN];
	struct elf_closure c;
	char *buf;
	size_t len;

	(void)state;
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(elf_closure(&c, junk, sizeof(junk), err), -1);
	assert_non_null(strstr(err, "not an ELF file"));
	assert_int_equal(elf_closure(&c, (const unsigned char *)"\177ELF", 4, err), -1);
	/* A real header whose program headers run off the end. */
	if (kp_read_file("/usr/bin/python3", &buf, &len, err) < 0)
		skip();
	assert_int_equal(elf_closure(&c, (unsigned char *)buf, 80, err), -1);
	assert_non_null(strstr(err, "bad program headers"));
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(tags),
		cmocka_unit_test(digests_and_json),
		cmocka_unit_test(closure_of_a_program),
		cmocka_unit_test(not_elf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
