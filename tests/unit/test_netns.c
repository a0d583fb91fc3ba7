/*
 * The namespaces kiln lends steps: a pair given back reusable is the next one taken; one that is not is closed.
 * The job slot's shared root (a mount namespace) goes with its pair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "netns.h"
#include "userns.h"

/* kiln-run, which makes them, beside the test in the build folder. */
static char runner[4096];

static ino_t
inode(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static void
test_lend(void **state)
{
	struct kiln_netns a, b, c;
	ino_t net, mnt;
	int fd, mfd;

	(void)state;
	if (kiln_netns_take(&a, runner) < 0) {
		/* No user namespaces here: a step makes its own, which then fails and says why (t3008). */
		assert_int_equal(a.user, -1);
		skip();
	}
	assert_true(kiln_userns_is(a.user, CLONE_NEWUSER));
	assert_true(kiln_userns_is(a.net, CLONE_NEWNET));
	/* Above the descriptors a step starts with. */
	assert_true(a.user >= 10 && a.net >= 10);
	/* The shared root, unless KILN_SANDBOX_NO_SHARED_ROOT asked for none. */
	if (getenv("KILN_SANDBOX_NO_SHARED_ROOT")) {
		assert_int_equal(a.mnt, -1);
	} else {
		assert_true(a.mnt >= 10 && kiln_userns_is(a.mnt, CLONE_NEWNS));
	}
	net = inode(a.net);
	mnt = a.mnt >= 0 ? inode(a.mnt) : 0;
	/* Two at once: two pairs. */
	assert_int_equal(kiln_netns_take(&b, runner), 0);
	assert_true(inode(b.net) != net);
	assert_true(b.mnt < 0 || inode(b.mnt) != mnt);
	kiln_netns_give(&a, 1);
	assert_int_equal(a.user, -1);
	assert_int_equal(kiln_netns_take(&c, runner), 0);
	assert_true(inode(c.net) == net);
	assert_true(c.mnt < 0 || inode(c.mnt) == mnt);
	/* Not reusable: closed, never lent again. */
	fd = c.net;
	mfd = c.mnt;
	kiln_netns_give(&c, 0);
	assert_int_equal(c.net, -1);
	assert_int_equal(c.mnt, -1);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_true(mfd < 0 || fcntl(mfd, F_GETFD) == -1);
	kiln_netns_give(&b, 0);
}

int
main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');

	(void)argc;
	snprintf(runner, sizeof(runner), "%.*s/../../kiln-run", slash ? (int)(slash - argv[0]) : 1,
	    slash ? argv[0] : ".");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
