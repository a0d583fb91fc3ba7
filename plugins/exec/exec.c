/*
 * exec: runs a declared shell command as a build step.
 *
 * params: cmd (the command), shell (default "/bin/sh"), metrics (an output
 * file whose numbers become the target's metrics), and any others: the
 * step's own params. In cmd, {in.NAME} is the path of input NAME, {out} the
 * output folder and {param.NAME} a param's value (a dotted NAME reaches into
 * a table; "${...}" is left to the shell). The same paths are in
 * $KILN_IN_<NAME> and $KILN_OUT; $KILN_PARAMS names a JSON file of the
 * step's own params.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>

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

/* Params that are the plugin's own; every other param is the step's. */
static int
reserved(const char *name)
{
	return strcmp(name, "cmd") == 0 || strcmp(name, "shell") == 0 || strcmp(name, "metrics") == 0;
}

/* The step's param at a dotted path (n bytes), or NULL. */
static const kiln_value *
param_at(kiln_ctx *ctx, const char *path, size_t n)
{
	const kiln_value *v = kiln_params(ctx);
	char key[256];

	while (v && n) {
		size_t k = strcspn(path, ".");

		if (k > n)
			k = n;
		if (k >= sizeof(key))
			return NULL;
		memcpy(key, path, k);
		key[k] = '\0';
		if (v == kiln_params(ctx) && reserved(key))
			return NULL;
		v = kiln_value_get(v, key);
		path += k + (k < n);
		n -= k + (k < n);
	}
	return v;
}

static json_t *
to_json(const kiln_value *v)
{
	json_t *j;
	size_t i;

	switch (kiln_value_type(v)) {
	case KILN_BOOL:
		return json_boolean(v->u.b);
	case KILN_INT:
		return json_integer(v->u.i);
	case KILN_NUMBER:
		return json_real(v->u.n);
	case KILN_STRING:
		return json_stringn(v->u.str.s, v->u.str.len);
	case KILN_LIST:
		j = json_array();
		for (i = 0; i < v->u.seq.n; i++)
			json_array_append_new(j, to_json(&v->u.seq.items[i]));
		return j;
	case KILN_MAP:
		j = json_object();
		for (i = 0; i < v->u.seq.n; i++)
			json_object_set_new(j, v->u.seq.keys[i], to_json(&v->u.seq.items[i]));
		return j;
	default:
		return json_null();
	}
}

/* A param as cmd shows it: a string as it is, a number in its shortest exact form, a table as JSON. */
static char *
param_text(const kiln_value *v)
{
	char num[32];
	json_t *j;
	char *s;

	if (kiln_value_type(v) == KILN_STRING)
		return strdup(v->u.str.s);
	if (kiln_value_type(v) == KILN_NUMBER) {
		snprintf(num, sizeof(num), "%.15g", v->u.n);
		if (strtod(num, NULL) != v->u.n)
			snprintf(num, sizeof(num), "%.17g", v->u.n);
		return strdup(num);
	}
	j = to_json(v);
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
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
		} else if (strncmp(p, "{param.", 7) == 0 && close - p > 7) {
			const kiln_value *v = param_at(ctx, p + 7, close - p - 7);
			char *s;

			if (!v) {
				free(t.s);
				kiln_fail(ctx, "cmd uses %.*s, but the target has no such param", (int)(close - p + 1), p);
				return NULL;
			}
			if (!t.dry) {
				s = param_text(v);
				add(&t, s, strlen(s));
				free(s);
			}
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
	if (kiln_param(ctx, "metrics") && kiln_value_type(kiln_param(ctx, "metrics")) != KILN_STRING)
		return kiln_fail(ctx, "param 'metrics': expected the name of an output file, such as \"metrics.json\"");
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

/* Write the step's own params as JSON to a new file under $TMPDIR and name it in $KILN_PARAMS. */
static int
export_params(kiln_ctx *ctx)
{
	const kiln_value *all = kiln_params(ctx);
	const char *tmp = getenv("TMPDIR");
	json_t *j = json_object();
	char path[4096];
	size_t i;
	int fd, r;

	for (i = 0; i < kiln_value_len(all); i++)
		if (!reserved(kiln_value_key(all, i)))
			json_object_set_new(j, kiln_value_key(all, i), to_json(kiln_value_at(all, i)));
	snprintf(path, sizeof(path), "%s/kiln-params-XXXXXX.json", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemps(path, 5);
	r = fd < 0 ? -1 : json_dumpfd(j, fd, JSON_SORT_KEYS | JSON_INDENT(2));
	if (fd >= 0 && close(fd) < 0)
		r = -1;
	json_decref(j);
	if (r < 0)
		return kiln_fail(ctx, "cannot write the params file %s: %s", path, strerror(errno));
	setenv("KILN_PARAMS", path, 1);
	return 0;
}

/* Report every number of the JSON object j (nested keys joined with '.') as a metric. */
static void
report(kiln_ctx *ctx, json_t *j, const char *prefix, int depth)
{
	const char *k;
	json_t *v;

	json_object_foreach(j, k, v) {
		char *name = prefix ? NULL : strdup(k);

		if (prefix && asprintf(&name, "%s.%s", prefix, k) < 0)
			abort();
		if (json_is_number(v))
			kiln_metric(ctx, name, json_number_value(v));
		else if (json_is_object(v) && depth < 32)
			report(ctx, v, name, depth + 1);
		free(name);
	}
}

/* The metrics file the command wrote: its numbers become the target's metrics. */
static int
read_metrics(kiln_ctx *ctx, const char *file)
{
	char *path;
	json_error_t je;
	json_t *j;

	if (asprintf(&path, "%s/%s", kiln_output_dir(ctx), file) < 0)
		abort();
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	free(path);
	if (!j)
		return kiln_fail(ctx, "metrics file '%s': %s%s", file, je.text,
		    je.line > 0 ? "" : " (the command must write it)");
	if (!json_is_object(j)) {
		json_decref(j);
		return kiln_fail(ctx, "metrics file '%s': expected a JSON object of names and numbers", file);
	}
	report(ctx, j, NULL, 0);
	json_decref(j);
	return 0;
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
	if (export_params(ctx) < 0) {
		free(cmd);
		return -1;
	}
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
	unlink(getenv("KILN_PARAMS"));
	if (WIFSIGNALED(status))
		return kiln_fail(ctx, "the command was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	if (WEXITSTATUS(status) != 0)
		return kiln_fail(ctx, "the command exited with status %d", WEXITSTATUS(status));
	if (kiln_param(ctx, "metrics"))
		return read_metrics(ctx, kiln_param_string(ctx, "metrics", ""));
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
