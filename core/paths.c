/*
 * paths: kiln's own files; see paths.h.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "util.h"

const char *
kiln_paths_self(void)
{
	static char self[PATH_MAX];

	if (!self[0]) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			die("cannot find kiln's own executable (/proc/self/exe):");
		self[n] = '\0';
	}
	return self;
}

char *
kiln_paths_own(const char *name)
{
	const char *self = kiln_paths_self(), *slash = strrchr(self, '/');
	int dirlen = slash && slash != self ? (int)(slash - self) : (int)(slash ? 1 : 0);
	char *p = xasprintf("%.*s/%s", dirlen, self, name), *lib;

	if (access(p, F_OK) == 0)
		return p;
	lib = xasprintf("%.*s/../lib/kiln/%s", dirlen, self, name);
	if (access(lib, F_OK) == 0) {
		free(p);
		return lib;
	}
	free(lib);
	return p;
}
