/* Checkpoints: a seal round-trips, a changed file is caught, other keys' folders are removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "checkpoint.h"
#include "digest.h"
#include "util.h"

static char dir[64], old[4096];

static int
setup(void **state)
{
	(void)state;
	assert_non_null(getcwd(old, sizeof(old)));
	strcpy(dir, "/tmp/kiln-ckpt-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(chdir(old), 0);
	remove_tree(dir);
	return 0;
}

static void
key_of(const char *s, struct kiln_digest *k)
{
	kiln_digest_buf(s, strlen(s), k);
}

static void
put(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644, 0), 0);
}

static void
test_fresh_then_sealed(void **state)
{
	struct kiln_digest k;
	double epoch;
	char *p, *f;

	(void)state;
	key_of("a", &k);
	assert_int_equal(kiln_checkpoint_find("t", &k, &epoch), 0);
	assert_int_equal(kiln_checkpoint_prepare("t", &k, &epoch), 0);
	p = kiln_checkpoint_path("t", &k);
	f = xasprintf("%s/data/w.bin", p);
	mkdir_p(p, 0755);
	put(f, "weights at 17");
	assert_int_equal(kiln_checkpoint_seal(p, 17), 0);
	assert_int_equal(kiln_checkpoint_find("t", &k, &epoch), 1);
	assert_true(epoch == 17);
	assert_int_equal(kiln_checkpoint_prepare("t", &k, &epoch), 1);
	assert_true(epoch == 17);
	/* Replaced after the seal (the next checkpoint, killed before its seal): back to the sealed one. */
	put(f, "weights at 18, torn");
	assert_int_equal(kiln_checkpoint_prepare("t", &k, &epoch), 1);
	assert_true(epoch == 17);
	{
		size_t len;
		char *text = read_file(f, &len);

		assert_non_null(text);
		assert_string_equal(text, "weights at 17");
		free(text);
	}
	/* Changed in place, so the seal's snapshot changed too: discarded, and the step starts clean. */
	{
		FILE *w = fopen(f, "r+");

		assert_non_null(w);
		assert_int_equal(fputs("W", w) >= 0, 1);
		assert_int_equal(fclose(w), 0);
	}
	assert_int_equal(kiln_checkpoint_prepare("t", &k, &epoch), 0);
	assert_true(epoch == -1);
	assert_int_equal(access(f, F_OK), -1);
	kiln_checkpoint_remove("t", &k);
	assert_int_equal(kiln_checkpoint_find("t", &k, &epoch), 0);
	free(f);
	free(p);
}

static void
test_other_keys_removed(void **state)
{
	struct kiln_digest a, b;
	double epoch;
	char *pa, *pb, *other;

	(void)state;
	key_of("a", &a);
	key_of("b", &b);
	assert_int_equal(kiln_checkpoint_prepare("t", &a, &epoch), 0);
	/* Another target whose name starts the same keeps its own. */
	assert_int_equal(kiln_checkpoint_prepare("t.x", &a, &epoch), 0);
	assert_int_equal(kiln_checkpoint_prepare("t", &b, &epoch), 0);
	pa = kiln_checkpoint_path("t", &a);
	pb = kiln_checkpoint_path("t", &b);
	other = kiln_checkpoint_path("t.x", &a);
	assert_int_equal(access(pa, F_OK), -1);
	assert_int_equal(access(pb, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	free(pa);
	free(pb);
	free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_then_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_keys_removed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
