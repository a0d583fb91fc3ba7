/*
 * Failure injection (fault.h): which call fails, with which errno, counted
 * for which module. The spec is read once per process, so one spec here:
 * KILN_FAULT=write:2+@state (the 2nd write of state and every one after).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "fault.h"

#ifdef KILN_FAULT
static void
nth_call_of_the_module_fails_and_every_one_after(void **state)
{
	(void)state;
	/* Other kinds and other modules are not counted. */
	assert_int_equal(kiln_fault_fail(KILN_FAULT_RENAME, "core/state.c", 1), 0);
	assert_int_equal(kiln_fault_fail(KILN_FAULT_WRITE, "core/cache.c", 1), 0);
	assert_int_equal(kiln_fault_fail(KILN_FAULT_WRITE, "core/state.c", 2), 0);
	/* A write in util counts for the module that called util: state here. */
	kiln_fault_site("core/state.c", 3);
	errno = 0;
	assert_int_equal(kiln_fault_fail(KILN_FAULT_WRITE, "core/util.c", 300), 1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(kiln_fault_fail(KILN_FAULT_WRITE, "core/state.c", 4), 1);
	kiln_fault_site("core/cache.c", 5);
	assert_int_equal(kiln_fault_fail(KILN_FAULT_WRITE, "core/util.c", 300), 0);
}

static void
the_spec_leaves_the_environment(void **state)
{
	(void)state;
	/* kiln-run and the steps must not count (and fail) on their own. */
	assert_null(getenv("KILN_FAULT"));
}
#endif

int
main(void)
{
#ifdef KILN_FAULT
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nth_call_of_the_module_fails_and_every_one_after),
		cmocka_unit_test(the_spec_leaves_the_environment),
	};

	setenv("KILN_FAULT", "write:2+@state", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
#else
	/* A build without failure injection has nothing to test. */
	printf("[  PASSED  ] 0 test(s).\n");
	return 0;
#endif
}
