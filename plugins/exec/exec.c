/*
 * exec: runs a declared shell command as a build step.
 *
 * params: cmd (the command), shell (default "/bin/sh"). In cmd, {in.NAME}
 * is the path of input NAME and {out} the output folder ("${...}" is left to
 * the shell). The same paths are in $KILN_IN_<NAME> and $KILN_OUT.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <kiln/plugin.h>


extern char **environ;

struct text {
	char *s;
	size_t len, cap;
	int dry;	/* only checking: build nothing */
};

static void
add(struct text *t, const char *s, size_t n)
{
	if (t->dry)
		return;
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		if (!t->s)
			abort();
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/*
 * Expand {in.NAME} and {out} in cmd. With out == NULL (in check) only
 * validates. Returns NULL after kiln_fail for an unknown input.
 */
static char *
expand(kiln_ctx *ctx, const char *cmd, const char *out)
{
	/* In check (out == NULL) nothing is built: this runs for every target of every build. */
	struct text t = {NULL, 0, 0, out == NULL};
	const char *p = cmd;

	add(&t, "", 0);
	while (*p) {
		const char *close;

		if (*p != '{' || (p > cmd && p[-1] == '$') || !(close = strchr(p, '}'))) {
			add(&t, p++, 1);
			continue;
		}
		if (close - p == 4 && strncmp(p, "{out}", 5) == 0) {
			add(&t, out, t.dry ? 0 : strlen(out));
		} else if (strncmp(p, "{in.", 4) == 0) {
			char name[256];
			size_t n = close - p - 4;
			const char *path;

			if (n == 0 || n >= sizeof(name)) {
				add(&t, p++, 1);
				continue;
			}
			memcpy(name, p + 4, n);
			name[n] = '\0';
			path = kiln_input(ctx, name);
			if (!path) {
				free(t.s);
				kiln_fail(ctx, "cmd uses {in.%s}, but the target has no input named '%s'", name, name);
				return NULL;
			}
			add(&t, path, strlen(path));
		} else {
			add(&t, p++, 1);
			continue;
		}
		p = close + 1;
	}
	return out ? t.s : (char *)cmd;
}

static int
check(kiln_ctx *ctx)
{
	const kiln_value *cmd = kiln_param(ctx, "cmd"), *shell = kiln_param(ctx, "shell");
	char *s;

	if (kiln_value_type(cmd) != KILN_STRING || !cmd->u.str.len)
		return kiln_fail(ctx, "param 'cmd': expected a non-empty command string");
	if (shell && kiln_value_type(shell) != KILN_STRING)
		return kiln_fail(ctx, "param 'shell': expected a program path such as /bin/bash");
	s = expand(ctx, cmd->u.str.s, NULL);
	return s ? 0 : -1;
}

/* KILN_IN_<NAME>: the input's name upper-cased, other characters as '_'. */
static void
export_inputs(kiln_ctx *ctx)
{
	size_t i, k, n = kiln_ninputs(ctx);
	char var[300];

	for (i = 0; i < n; i++) {
		const char *name = kiln_input_name(ctx, i);

		snprintf(var, sizeof(var), "KILN_IN_%s", name);
		for (k = 8; var[k]; k++)
			var[k] = isalnum((unsigned char)var[k]) ? toupper((unsigned char)var[k]) : '_';
		setenv(var, kiln_input_path(ctx, i), 1);
	}
	setenv("KILN_OUT", kiln_output_dir(ctx), 1);
}

static int
run(kiln_ctx *ctx)
{
	const char *shell = kiln_param_string(ctx, "shell", "/bin/sh");
	char *cmd = expand(ctx, kiln_param_string(ctx, "cmd", ""), kiln_output_dir(ctx));
	char *argv[4];
	pid_t pid;
	int status, rc;

	if (!cmd)
		return -1;
	export_inputs(ctx);
	argv[0] = (char *)shell;
	argv[1] = "-c";
	argv[2] = cmd;
	argv[3] = NULL;
	fflush(NULL);
	rc = posix_spawnp(&pid, shell, NULL, NULL, argv, environ);
	if (rc != 0) {
		free(cmd);
		return kiln_fail(ctx, "cannot start %s: %s", shell, strerror(rc));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			free(cmd);
			return kiln_fail(ctx, "waiting for the command: %s", strerror(errno));
		}
	free(cmd);
	if (WIFSIGNALED(status))
		return kiln_fail(ctx, "the command was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	if (WEXITSTATUS(status) != 0)
		return kiln_fail(ctx, "the command exited with status %d", WEXITSTATUS(status));
	return 0;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "exec",
	.version = "1.0",
	.summary = "runs a declared shell command with its inputs and output folder",
	.check = check,
	.run = run,
};
