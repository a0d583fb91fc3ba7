/*
 * crash: a plugin that misbehaves inside run(), for the sandbox tests.
 *
 *	kiln.target { name = "t", plugin = "crash", params = { how = "segv" }, outputs = { "o" } }
 *
 * how = "segv" dereferences NULL, "exit" calls exit(3), "abort" aborts,
 * "mem" allocates (and touches) memory until it cannot, "fds" writes to o
 * what each of its open descriptors is, "ok" writes o, "linger" writes o,
 * closes the status pipe (descriptor 3) and sleeps 2 s before returning.
 *
 * Loaded by kiln-run, it starts a thread at once, as OpenBLAS does, so the
 * sandbox is entered from a threaded process.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kiln/plugin.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started = PTHREAD_COND_INITIALIZER;
static int up;

static void *
idle(void *arg)
{
	pthread_mutex_lock(&lock);
	up = 1;
	pthread_cond_signal(&started);
	pthread_mutex_unlock(&lock);
	for (;;)
		pause();
	return arg;
}

/* The thread is idle before loading returns, as a thread pool's workers are. */
__attribute__((constructor)) static void
start_thread(void)
{
	pthread_t t;

	if (strcmp(program_invocation_short_name, "kiln-run") != 0 ||
	    pthread_create(&t, NULL, idle, NULL) != 0)
		return;
	pthread_mutex_lock(&lock);
	while (!up)
		pthread_cond_wait(&started, &lock);
	pthread_mutex_unlock(&lock);
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

/* What the plugin's process has open: the sandbox must have left nothing of its own. */
static int
list_fds(FILE *f)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[64], target[256];

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) || atoi(e->d_name) == fileno(f))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%.32s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(f, "%s %s\n", e->d_name, target);
	}
	closedir(d);
	return 0;
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
	if (strcmp(how, "fds") == 0)
		list_fds(f);
	else
		fputs("ok\n", f);
	fclose(f);
	if (strcmp(how, "linger") == 0) {
		close(3);
		sleep(2);
	}
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
