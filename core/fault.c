/*
 * fault: the test-only failure injection that fault.h describes. It uses
 * nothing of kiln's (util calls it), allocates nothing and writes its log
 * with plain write(2), so it can never count or fail its own work.
 */
#ifdef KILN_FAULT
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

static const struct {
	const char *name;
	int err;
} kinds[] = {
	[KILN_FAULT_WRITE] = {"write", ENOSPC},
	[KILN_FAULT_RENAME] = {"rename", EIO},
	[KILN_FAULT_FSYNC] = {"fsync", EIO},
	[KILN_FAULT_ALLOC] = {"alloc", ENOMEM},
};

static struct {
	int ready;		/* the environment was read */
	int kind;		/* the kind to fail, or -1: none */
	long n;			/* fail its nth call (0: only count) */
	int persist;		/* and every one after */
	char module[64];	/* count only calls from this module ("": all) */
	long calls;		/* calls of kind counted so far */
	int log;		/* KILN_FAULT_LOG's fd, or -1 */
	const char *site;	/* the last call into util or fs: file and line */
	int site_line;
} f = {0, -1, 0, 0, "", 0, -1, NULL, 0};

/* A line for KILN_FAULT_LOG. */
__attribute__((format(printf, 1, 2))) static void
say(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	if (f.log < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && write(f.log, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
		return;
}

static void
log_calls(void)
{
	say("calls %s %ld\n", kinds[f.kind].name, f.calls);
}

/* The module of a source path: "core/state.c" is "state". */
static void
module_of(const char *file, char *mod, size_t size)
{
	const char *base = strrchr(file, '/');
	size_t n;

	base = base ? base + 1 : file;
	n = strcspn(base, ".");
	snprintf(mod, size, "%.*s", (int)n, base);
}

static void
parse(const char *spec)
{
	size_t i;
	char *end;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t len = strlen(kinds[i].name);

		if (strncmp(spec, kinds[i].name, len) == 0 && spec[len] == ':') {
			f.kind = (int)i;
			spec += len + 1;
			break;
		}
	}
	if (f.kind < 0 || *spec < '0' || *spec > '9')
		goto bad;
	f.n = strtol(spec, &end, 10);
	if (*end == '+')
		f.persist = 1, end++;
	if (*end == '@' && end[1] && strlen(end + 1) < sizeof(f.module))
		strcpy(f.module, end + 1);
	else if (*end)
		goto bad;
	return;
bad:
	fprintf(stderr, "kiln: KILN_FAULT='%s': expected KIND:N[+][@MODULE], KIND write, rename, fsync or alloc\n",
	    getenv("KILN_FAULT"));
	exit(2);
}

static void
setup(void)
{
	const char *spec = getenv("KILN_FAULT"), *log = getenv("KILN_FAULT_LOG");

	f.ready = 1;
	if (!spec || !*spec)
		return;
	parse(spec);
	if (log && *log)
		f.log = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	/* Steps, and the kiln-run that starts each, must not count too. */
	unsetenv("KILN_FAULT");
	unsetenv("KILN_FAULT_LOG");
	atexit(log_calls);
}

void
kiln_fault_site(const char *file, int line)
{
	f.site = file;
	f.site_line = line;
}

int
kiln_fault_fail(int kind, const char *file, int line)
{
	char mod[64];
	long n;

	if (!f.ready)
		setup();
	if (kind != f.kind)
		return 0;
	module_of(file, mod, sizeof(mod));
	/* util and fs do the work of their callers: count the call for the caller. */
	if ((strcmp(mod, "util") == 0 || strcmp(mod, "fs") == 0) && f.site) {
		module_of(f.site, mod, sizeof(mod));
		line = f.site_line;
	}
	if (f.module[0] && strcmp(mod, f.module) != 0)
		return 0;
	/* Atomic: libcurl may allocate from its resolver's thread. */
	n = __atomic_add_fetch(&f.calls, 1, __ATOMIC_RELAXED);
	if (f.n == 0)
		say("call %s %ld %s:%d\n", kinds[kind].name, n, mod, line);
	if (f.n == 0 || n < f.n || (n > f.n && !f.persist))
		return 0;
	say("fail %s %ld %s:%d\n", kinds[kind].name, n, mod, line);
	errno = kinds[kind].err;
	return 1;
}
#else
/* A build without failure injection: nothing here (ISO C wants a declaration). */
typedef int kiln_fault_none;
#endif
