/*
 * crash: a plugin that misbehaves inside run(), for the sandbox tests.
 *
 *	kiln.target { name = "t", plugin = "crash", params = { how = "segv" }, outputs = { "o" } }
 *
 * how = "segv" dereferences NULL, "exit" calls exit(3), "abort" aborts,
 * "mem" allocates (and touches) memory until it cannot, "ok" writes o.
 *
 * Loaded by kiln-run, it starts a thread at once, as OpenBLAS does, so the
 * sandbox is entered from a threaded process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kiln/plugin.h>

static void *
idle(void *arg)
{
	for (;;)
		pause();
	return arg;
}

__attribute__((constructor)) static void
start_thread(void)
{
	pthread_t t;

	if (strcmp(program_invocation_short_name, "kiln-run") == 0)
		pthread_create(&t, NULL, idle, NULL);
}

/*
 * Map and touch MiB after MiB until the kernel refuses, then give it all
 * back before failing: mmap, not malloc, so that a sanitizer's allocator,
 * which needs memory of its own to report running out, stays out of it.
 */
static int
eat(kiln_ctx *ctx)
{
	enum { MAX = 1 << 16 };
	static void *maps[MAX];
	long n, i;

	for (n = 0; n < MAX; n++) {
		maps[n] = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps[n] == MAP_FAILED)
			break;
		memset(maps[n], 1, 1 << 20);
	}
	for (i = 0; i < n; i++)
		munmap(maps[i], 1 << 20);
	if (n < MAX)
		return kiln_fail(ctx, "out of memory after %ld MiB", n);
	return kiln_fail(ctx, "mapped 64 GiB without hitting a limit");
}

static int
run(kiln_ctx *ctx)
{
	const char *how = kiln_param_string(ctx, "how", "ok");
	char path[4096];
	FILE *f;

	if (strcmp(how, "segv") == 0)
		*(volatile int *)NULL = 1;
	else if (strcmp(how, "exit") == 0)
		exit(3);
	else if (strcmp(how, "abort") == 0)
		abort();
	else if (strcmp(how, "mem") == 0)
		return eat(ctx);
	snprintf(path, sizeof(path), "%s/o", kiln_output_dir(ctx));
	f = fopen(path, "w");
	if (!f)
		return kiln_fail(ctx, "cannot write %s", path);
	fputs("ok\n", f);
	fclose(f);
	return 0;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "crash",
	.version = "1",
	.summary = "misbehaves in run() (sandbox tests)",
	.check = NULL,
	.run = run,
};
