/* The seccomp filter kiln compiles once: read back as compiled from its sealed memfd; anything else refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "syscalls.h"

static struct kiln_syscall_filter compiled, back;

static void
test_round_trip(void **state)
{
	char err[256];
	int fd;

	(void)state;
	assert_int_equal(kiln_syscalls_compile(&compiled, err, sizeof(err)), 0);
	fd = kiln_syscalls_memfd(err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(kiln_syscalls_from_fd(&back, fd, err, sizeof(err)), 0);
	assert_int_equal(back.n, compiled.n);
	assert_int_equal(back.notify, compiled.notify);
	assert_memory_equal(back.prog, compiled.prog, (size_t)compiled.n * sizeof(compiled.prog[0]));
	/* Sealed: not even kiln can change it now. */
	assert_true(write(fd, "x", 1) < 0);
	assert_true(ftruncate(fd, 8) < 0);
	close(fd);
}

/* The same bytes in an unsealed memfd, or cut short, are not a filter of kiln's. */
static void
test_refused(void **state)
{
	size_t n = offsetof(struct kiln_syscall_filter, prog) + (size_t)compiled.n * sizeof(compiled.prog[0]);
	char err[256];
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, &compiled, n), (ssize_t)n);
	assert_int_equal(kiln_syscalls_from_fd(&back, fd, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds no seccomp filter of kiln's"));
	assert_int_equal(ftruncate(fd, (off_t)n - 4), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), 0);
	assert_int_equal(kiln_syscalls_from_fd(&back, fd, err, sizeof(err)), -1);
	close(fd);
	assert_int_equal(kiln_syscalls_from_fd(&back, 0x3fff, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
