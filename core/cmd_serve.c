/*
 * serve: bring a model target up to date, then exec kiln-serve on its
 * output folder.
 *
 * TARGET is a model (a train target) or a container, whose model input is
 * served. The build runs first so what is served is what the Kilnfile says
 * now; the workspace is closed (and its lock released) before the exec.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_serve.h"
#include "paths.h"
#include "scheduler.h"
#include "workspace.h"
#include "util.h"

/* kiln-serve: beside kiln (a build tree or an installed one), else on PATH. */
static char *
serve_binary(void)
{
	char *p = kiln_paths_own("kiln-serve");

	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return xstrdup("kiln-serve");
}

/* Does t write a model folder (model.safetensors and model.json), as a training script can? */
static int
model_files(const struct kiln_target *t)
{
	int got = 0;
	size_t i;

	for (i = 0; i < t->noutputs; i++)
		got |= strcmp(t->outputs[i], "model.safetensors") == 0 ? 1 : strcmp(t->outputs[i], "model.json") == 0 ? 2 : 0;
	return got == 3;
}

/* The model target TARGET names: itself, or a container's model input. */
static const struct kiln_target *
model_of(const struct kiln_graph *g, const char *name)
{
	const struct kiln_target *t = kiln_graph_find(g, name);
	size_t i;

	if (!t) {
		error("no target '%s' in the Kilnfile", name);
		return NULL;
	}
	if (strcmp(t->plugin, "package") == 0)
		for (i = 0; i < t->ninputs; i++)
			if (strcmp(t->inputs[i].name, "model") == 0 && t->inputs[i].dep)
				return t->inputs[i].dep;
	/* A select's outputs are its chosen model's files; a script's (exec) may be a model too. */
	if (strcmp(t->plugin, "train") != 0 && strcmp(t->plugin, "select") != 0 && !model_files(t)) {
		error("'%s' is a '%s' target; kiln serve takes a model (train), select or container target, "
			"or one whose outputs are model.safetensors and model.json", name, t->plugin);
		return NULL;
	}
	return t;
}

int
kiln_cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"host", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_build_opts o = {.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), .sandbox = 1, .quiet = 1};
	const char *port = "8080", *host = "127.0.0.1";
	const struct kiln_target *m;
	struct kiln_workspace ws;
	char *dir, *name, *bin, *want[1];
	struct stat sb;
	int c, r;

	while ((c = getopt_long(argc, argv, "p:", longopts, NULL)) != -1) {
		if (c == 'p')
			port = optarg;
		else if (c == 'H')
			host = optarg;
		else
			return fprintf(stderr, "usage: kiln serve TARGET [--port N] [--host ADDR]\n"), 2;
	}
	if (optind + 1 != argc)
		return fprintf(stderr, "usage: kiln serve TARGET [--port N] [--host ADDR]\n"), 2;
	if (strspn(port, "0123456789") != strlen(port) || !*port || strlen(port) > 5 || atoi(port) > 65535)
		return error("--port: expected a port number, got '%s'", port), 2;
	if (kiln_workspace_open(&ws, 1) < 0) {
		kiln_workspace_close(&ws);
		return 2;
	}
	if (!(m = model_of(&ws.graph, argv[optind]))) {
		kiln_workspace_close(&ws);
		return 2;
	}
	name = xstrdup(m->name);
	want[0] = name;
	if (kiln_graph_want(&ws.graph, want, 1) < 0) {
		kiln_workspace_close(&ws);
		free(name);
		return 2;
	}
	r = kiln_scheduler_build(&ws, &o);
	dir = xasprintf("%s/" KILN_OUT_DIR "/%s", ws.root, name);
	kiln_workspace_close(&ws);
	if (r != 0) {
		error("'%s' did not build; nothing to serve", name);
		return r;
	}
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return error("%s: no such folder after the build", dir), 1;
	bin = serve_binary();
	fflush(NULL);
	/* The URL's name is the target asked for: a container's, not its model's (docs/serve.md). */
	execlp(bin, "kiln-serve", "--model", dir, "--name", argv[optind], "--host", host, "--port", port,
		(char *)NULL);
	error("cannot run %s (is kiln-serve installed beside kiln?):", bin);
	return 2;
}
