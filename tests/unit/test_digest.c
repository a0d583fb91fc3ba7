/* Digests: XXH3-128 of bytes and files, hex round trips, streaming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "digest.h"
#include "util.h"

static void
buffer_digest_is_xxh3_128(void **state)
{
	struct kiln_digest d;
	char hex[KILN_DIGEST_HEX];

	(void)state;
	/* XXH3-128 of the empty input, canonical (big-endian) form. */
	kiln_digest_buf("", 0, &d);
	assert_string_equal(kiln_digest_hex(&d, hex), "99aa06d3014798d86001c324468d497f");
	kiln_digest_buf("abc", 3, &d);
	assert_string_equal(kiln_digest_hex(&d, hex), "06b05ab6733a618578af5f94892f3950");
}

static void
file_digest_matches_buffer_digest(void **state)
{
	char path[] = "/tmp/kiln-digest-XXXXXX";
	int fd = mkstemp(path);
	size_t n = 9 * 1024 * 1024 + 17, i;	/* large enough to be mapped */
	char *data = malloc(n);
	struct kiln_digest a, b;

	(void)state;
	for (i = 0; i < n; i++)
		data[i] = (char)(i * 2654435761u >> 13);
	assert_int_equal(write_all(fd, data, n), 0);
	close(fd);
	kiln_digest_buf(data, n, &a);
	assert_int_equal(kiln_digest_file(path, &b), 0);
	assert_true(kiln_digest_eq(&a, &b));
	/* The streaming path gives the same digest. */
	fd = open(path, O_RDONLY);
	assert_int_equal(kiln_digest_fd(fd, &b), 0);
	close(fd);
	assert_true(kiln_digest_eq(&a, &b));
	data[n / 2] ^= 1;
	kiln_digest_buf(data, n, &b);
	assert_false(kiln_digest_eq(&a, &b));
	unlink(path);
	free(data);
	assert_int_equal(kiln_digest_file("/nonexistent/kiln", &b), -1);
}

static void
hex_round_trip_and_rejects(void **state)
{
	struct kiln_digest d, e;
	char hex[KILN_DIGEST_HEX];

	(void)state;
	kiln_digest_buf("x", 1, &d);
	assert_int_equal(kiln_digest_parse(kiln_digest_hex(&d, hex), &e), 0);
	assert_true(kiln_digest_eq(&d, &e));
	assert_int_equal(kiln_digest_parse("zz", &e), -1);
	assert_int_equal(kiln_digest_parse("0123456789abcdef0123456789abcdeF", &e), -1);
	assert_int_equal(kiln_digest_parse("0123456789abcdef0123456789abcdef0", &e), -1);
	assert_int_equal(kiln_digest_parse("0123456789abcdef0123456789abcde", &e), -1);
}

static void
hasher_strings_are_length_prefixed(void **state)
{
	struct kiln_hasher *h1 = kiln_hasher_new(), *h2 = kiln_hasher_new();
	struct kiln_digest a, b;

	(void)state;
	kiln_hasher_adds(h1, "ab");
	kiln_hasher_adds(h1, "c");
	kiln_hasher_adds(h2, "a");
	kiln_hasher_adds(h2, "bc");
	kiln_hasher_digest(h1, &a);
	kiln_hasher_digest(h2, &b);
	assert_false(kiln_digest_eq(&a, &b));
	kiln_hasher_free(h1);
	kiln_hasher_free(h2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buffer_digest_is_xxh3_128),
		cmocka_unit_test(file_digest_matches_buffer_digest),
		cmocka_unit_test(hex_round_trip_and_rejects),
		cmocka_unit_test(hasher_strings_are_length_prefixed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
