/* Kilnfile evaluation: targets and their typed params, the restricted environment, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "graphcache.h"
#include "key.h"
#include "kilnfile.h"
#include "state.h"
#include "value.h"

static char dir[64], oldcwd[4096];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/kiln-kf-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_non_null(getcwd(oldcwd, sizeof(oldcwd)));
	assert_int_equal(chdir(dir), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(chdir(oldcwd), 0);
	remove_tree(dir);
	return 0;
}

static int
load(struct kiln_graph *g, const char *text)
{
	FILE *f = fopen("Kilnfile", "w");

	fputs(text, f);
	fclose(f);
	kiln_graph_init(g);
	return kiln_kilnfile_load(g, "Kilnfile");
}

static void
target_fields_and_typed_params(void **state)
{
	struct kiln_graph g;
	struct kiln_target *t;
	const kiln_value *p;

	(void)state;
	assert_int_equal(load(&g,
	    "kiln.target {\n"
	    "  name = \"m\", plugin = \"train\",\n"
	    "  inputs = { z = \":feat\", a = \"conf/x.lua\", g = \"data/*.csv\" },\n"
	    "  params = { epochs = 40, lr = 0.5, hidden = {64, 32}, algo = \"mlp\", stop = true,\n"
	    "             sched = { kind = \"cos\" } },\n"
	    "  outputs = { \"w.bin\", \"a.json\" },\n"
	    "  env = { \"SEED\", MODE = \"fast\" },\n"
	    "  resources = { cpus = 2, mem = \"2G\", timeout = \"30m\" },\n"
	    "}\n"), 0);
	t = kiln_graph_find(&g, "m");
	assert_non_null(t);
	assert_string_equal(t->plugin, "train");
	assert_int_equal(t->line, 1);
	assert_int_equal(t->ninputs, 3);
	assert_string_equal(t->inputs[0].name, "a");	/* sorted */
	assert_int_equal(t->inputs[0].kind, KILN_INPUT_PATH);
	assert_int_equal(t->inputs[1].kind, KILN_INPUT_GLOB);
	assert_int_equal(t->inputs[2].kind, KILN_INPUT_TARGET);
	assert_string_equal(t->outputs[0], "a.json");
	p = kiln_value_get(t->params, "epochs");
	assert_int_equal(p->type, KILN_INT);
	assert_int_equal(p->u.i, 40);
	assert_int_equal(kiln_value_get(t->params, "lr")->type, KILN_NUMBER);
	p = kiln_value_get(t->params, "hidden");
	assert_int_equal(p->type, KILN_LIST);
	assert_int_equal(kiln_value_int(kiln_value_at(p, 1), 0), 32);
	assert_int_equal(kiln_value_bool(kiln_value_get(t->params, "stop"), 0), 1);
	assert_string_equal(kiln_value_string(kiln_value_get(kiln_value_get(t->params, "sched"), "kind"), ""), "cos");
	assert_int_equal(t->nenv, 2);
	assert_string_equal(t->env[0].name, "MODE");
	assert_string_equal(t->env[0].value, "fast");
	assert_null(t->env[1].value);
	assert_int_equal(t->res.cpus, 2);
	assert_int_equal(t->res.threads, 2);
	assert_int_equal(t->res.mem, 2LL << 30);
	assert_true(t->res.timeout == 1800);
	kiln_graph_release(&g);
}

static void
command_rule(void **state)
{
	struct kiln_graph g;
	struct kiln_target *t;

	(void)state;
	assert_int_equal(load(&g, "command \"c\" { cmd = \"echo hi > {out}/x\", outputs = { \"x\" } }\n"), 0);
	t = kiln_graph_find(&g, "c");
	assert_string_equal(t->plugin, "exec");
	assert_string_equal(kiln_value_string(kiln_value_get(t->params, "cmd"), ""), "echo hi > {out}/x");
	kiln_graph_release(&g);
}

static void
no_clock_no_io_no_random(void **state)
{
	struct kiln_graph g;

	(void)state;
	assert_int_equal(load(&g, "assert(os == nil and io == nil and require == nil and load == nil and dofile == nil)\n"
	    "assert(math.random == nil)\n"
	    "assert(string.format('%d', 3) == '3')\n"), 0);
	kiln_graph_release(&g);
	assert_int_equal(load(&g, "os.time()\n"), -1);
	kiln_graph_release(&g);
}

static void
errors(void **state)
{
	static const char *const bad[] = {
		"command \"c\" { cmd = \"x\" }\n",			/* no outputs */
		"command \"c\" { cmd = \"x\", outputs = {} }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"/abs\" } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\", \"a\" } }\n",
		"command \"bad name\" { cmd = \"x\", outputs = { \"a\" } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, resources = { cpus = 0 } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, resources = { gpu = 1 } }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, network = \"yes\" }\n",
		"command \"c\" { cmd = \"x\", outputs = { \"a\" }, env = { 3 } }\n",
		"kiln.target { name = \"c\", plugin = \"exec\", outputs = { \"a\" }, params = { f = pairs } }\n",
		"kiln.target { name = \"c\", plugin = \"exec\", outputs = { \"a\" }, params = { {1}, x = 2 } }\n",
		"kiln.config { remote = 1 }\n",
		"kiln.config { remote = \"a\" }\nkiln.config { remote = \"b\" }\n",
		"include \"/etc/passwd\"\n",
	};
	struct kiln_graph g;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (load(&g, bad[i]) == 0)
			fail_msg("accepted: %s", bad[i]);
		kiln_graph_release(&g);
	}
}

/* load(), with what it printed on stderr in msg. */
static int
load_msg(struct kiln_graph *g, const char *text, char *msg, size_t len)
{
	FILE *f = tmpfile();
	int saved = dup(2), r;
	size_t n;

	assert_non_null(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	r = load(g, text);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(msg, 1, len - 1, f);
	msg[n] = '\0';
	fclose(f);
	return r;
}

/* Each Kilnfile must be refused with a message holding `want` at line 1. */
static void
refused(const char *const *bad, size_t n, const char *want)
{
	struct kiln_graph g;
	char msg[4096];
	size_t i;

	for (i = 0; i < n; i++) {
		if (load_msg(&g, bad[i], msg, sizeof(msg)) == 0)
			fail_msg("accepted: %s", bad[i]);
		if (!strstr(msg, "Kilnfile:1: ") || !strstr(msg, want))
			fail_msg("%s: expected a message with '%s' at Kilnfile:1, got: %s", bad[i], want, msg);
		kiln_graph_release(&g);
	}
}

/* A Lua string may hold a NUL that C would cut it at: refused wherever it enters. */
static void
nul_bytes(void **state)
{
	static const char *const bad[] = {
		"command \"a\\0b\" { cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"a\" { cmd = \"echo a\\0rm -rf /\", outputs = { \"o\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"o\\0../../x\" } }\n",
		"command \"a\" { inputs = { [\"d\\0x\"] = \"data\" }, cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"a\" { inputs = { d = \"data\\0/../x\" }, cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"o\" }, env = { \"HOME\\0X\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"o\" }, env = { A = \"v\\0w\" } }\n",
		"kiln.target { name = \"a\", plugin = \"exec\\0evil\", outputs = { \"o\" } }\n",
		"kiln.target { name = \"a\", plugin = \"exec\", params = { [\"k\\0\"] = 1 }, outputs = { \"o\" } }\n",
		"kiln.config { remote = \"http://a\\0b\" }\n",
		"include \"lib.lua\\0x\"\n",
	};
	struct kiln_graph g;
	char msg[4096];

	(void)state;
	refused(bad, sizeof(bad) / sizeof(bad[0]), "\\0");
	/* The message shows the whole name, NUL and tail, not the part before it. */
	assert_int_equal(load_msg(&g, bad[0], msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "target 'a\\0b'"));
	kiln_graph_release(&g);
	assert_int_equal(load_msg(&g, bad[1], msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "param 'cmd': 'echo a\\0rm -rf /' holds a NUL byte"));
	kiln_graph_release(&g);
}

/* Control bytes in names and paths: a newline in an output would be a second line of the lock. */
static void
control_bytes(void **state)
{
	static const char *const bad[] = {
		"command \"a\" { cmd = \"x\", outputs = { \"x\\nvictim out y 0 0\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"a\\tb\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"a\\27[2Jb\" } }\n",
		"command \"a\" { inputs = { d = \"data\\r.csv\" }, cmd = \"x\", outputs = { \"o\" } }\n",
	};
	static const char *const names[] = {
		"command \"a\\nb\" { cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"a\" { inputs = { [\"d\\n\"] = \"data\" }, cmd = \"x\", outputs = { \"o\" } }\n",
	};
	struct kiln_graph g;
	char msg[4096];

	(void)state;
	refused(bad, sizeof(bad) / sizeof(bad[0]), "holds a control character");
	refused(names, sizeof(names) / sizeof(names[0]), "\\n");
	/* Shown escaped: the message cannot drive the terminal either. */
	assert_int_equal(load_msg(&g, bad[2], msg, sizeof(msg)), -1);
	assert_null(strchr(msg, 27));
	assert_non_null(strstr(msg, "a\\x1B[2Jb"));
	kiln_graph_release(&g);
}

/*
 * '.', '..' and empty components, absolute outputs: one plain relative path
 * only. An absolute input (a shared folder) is plain too, and not one of
 * the sandbox's own folders.
 */
static void
path_components(void **state)
{
	static const char *const dots[] = {
		"command \"a\" { cmd = \"x\", outputs = { \"..\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"a/../../b\" } }\n",
		"command \"a\" { inputs = { d = \"data/../../etc\" }, cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"a\" { inputs = { d = \"/mnt/../etc\" }, cmd = \"x\", outputs = { \"o\" } }\n",
	};
	static const char *const dot[] = {
		"command \"a\" { cmd = \"x\", outputs = { \".\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"./o\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"a/./o\" } }\n",
		"command \"a\" { inputs = { d = \"./data\" }, cmd = \"x\", outputs = { \"o\" } }\n",
	};
	static const char *const empty[] = {
		"command \"a\" { cmd = \"x\", outputs = { \"a//b\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"a/\" } }\n",
		"command \"a\" { inputs = { d = \"data//x.csv\" }, cmd = \"x\", outputs = { \"o\" } }\n",
		"include \"lib//x.lua\"\n",
	};
	static const char *const other[] = {
		"command \"a\" { cmd = \"x\", outputs = { \"\" } }\n",
		"command \"a\" { cmd = \"x\", outputs = { \"/etc/passwd\" } }\n",
		"command \"a\" { inputs = { d = \"/etc\" }, cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"..\" { cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"a/b\" { cmd = \"x\", outputs = { \"o\" } }\n",
		"command \"a\" { inputs = { x = \":../b\" }, cmd = \"x\", outputs = { \"o\" } }\n",
	};
	struct kiln_graph g;

	(void)state;
	refused(dots, sizeof(dots) / sizeof(dots[0]), "has a '..' component");
	refused(dot, sizeof(dot) / sizeof(dot[0]), "has a '.' component");
	refused(empty, sizeof(empty) / sizeof(empty[0]), "has an empty component");
	refused(other, sizeof(other) / sizeof(other[0]), "'");
	/* What stays allowed: nested outputs, globs, names with dots, shared folders. */
	assert_int_equal(load(&g, "command \"s\" { inputs = { d = \"/mnt/datasets/raw/\" }, cmd = \"x\", outputs = { \"o\" } }\n"), 0);
	assert_string_equal(kiln_graph_find(&g, "s")->inputs[0].spec, "/mnt/datasets/raw");
	kiln_graph_release(&g);
	assert_int_equal(load(&g, "command \"m.v1\" { inputs = { d = \"data/*.csv\" }, cmd = \"x\",\n"
	    "  outputs = { \"sub/dir/o.bin\", \"a b.txt\" } }\n"), 0);
	assert_string_equal(kiln_graph_find(&g, "m.v1")->outputs[1], "sub/dir/o.bin");
	kiln_graph_release(&g);
}

/* Make `path` (in the workspace) hold `text`. */
static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/*
 * include, and the Kilnfile itself, read only the repository's files: a
 * symlink out of it is refused, naming it, showing nothing of what it
 * points at; links that stay inside still work.
 */
static void
include_symlinks(void **state)
{
	char outside[64], path[256], msg[4096];
	struct kiln_graph g;

	(void)state;
	strcpy(outside, "/tmp/kiln-kf-out-XXXXXX");
	assert_non_null(mkdtemp(outside));
	snprintf(path, sizeof(path), "%s/secret.lua", outside);
	put(path, "SECRET_TOKEN_4711 = ((\n");
	assert_int_equal(symlink(path, "lib.lua"), 0);
	assert_int_equal(load_msg(&g, "include \"lib.lua\"\n", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "Kilnfile:1: include: 'lib.lua' leads outside the repository"));
	assert_null(strstr(msg, "SECRET_TOKEN"));
	kiln_graph_release(&g);

	/* A folder link on the way out, and a relative link climbing out. */
	assert_int_equal(symlink(outside, "vendor"), 0);
	assert_int_equal(load_msg(&g, "include \"vendor/secret.lua\"\n", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "include: 'vendor/secret.lua' leads outside the repository"));
	kiln_graph_release(&g);
	snprintf(path, sizeof(path), "../%s/secret.lua", outside + 5);
	assert_int_equal(symlink(path, "rel.lua"), 0);
	assert_int_equal(load_msg(&g, "include \"rel.lua\"\n", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "include: 'rel.lua' leads outside the repository"));
	assert_null(strstr(msg, "SECRET_TOKEN"));
	kiln_graph_release(&g);

	/* Links inside the repository, relative or absolute, are followed. */
	assert_int_equal(mkdir("rules", 0755), 0);
	put("rules/real.lua", "command \"t\" { cmd = \"x\", outputs = { \"o\" } }\n");
	assert_int_equal(symlink("rules/real.lua", "in.lua"), 0);
	assert_int_equal(load(&g, "include \"in.lua\"\n"), 0);
	assert_non_null(kiln_graph_find(&g, "t"));
	kiln_graph_release(&g);
	snprintf(path, sizeof(path), "%s/rules/real.lua", dir);
	assert_int_equal(symlink(path, "abs.lua"), 0);
	assert_int_equal(load(&g, "include \"abs.lua\"\n"), 0);
	kiln_graph_release(&g);

	/* A FIFO or a folder is not a file to evaluate (and must not hang). */
	assert_int_equal(mkfifo("pipe.lua", 0644), 0);
	assert_int_equal(load_msg(&g, "include \"pipe.lua\"\n", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "include: cannot read 'pipe.lua'"));
	kiln_graph_release(&g);

	/* The Kilnfile itself. */
	snprintf(path, sizeof(path), "%s/secret.lua", outside);
	assert_int_equal(symlink(path, "Kilnfile.evil"), 0);
	kiln_graph_init(&g);
	assert_int_equal(kiln_kilnfile_load(&g, "Kilnfile.evil"), -1);
	kiln_graph_release(&g);
	remove_tree(outside);
}

/* A step's wall-clock limit: its own timeout, else kiln.config's, else KILN_STEP_TIMEOUT; "none" is none. */
static void
timeouts(void **state)
{
	static const char *const kf[] = {
		"command \"a\" { cmd = \"true\", outputs = {\"o\"} }\n"
		"command \"b\" { cmd = \"true\", outputs = {\"o\"}, resources = { timeout = \"30m\" } }\n"
		"command \"c\" { cmd = \"true\", outputs = {\"o\"}, resources = { timeout = \"none\" } }\n",
		"kiln.config { timeout = \"2h\" }\n",
		"kiln.config { timeout = \"none\" }\n",
	};
	/* wall and timeout of a, b, c for each kiln.config */
	static const double want[][6] = {
		{KILN_STEP_TIMEOUT, 0, 1800, 1800, 0, 0},
		{7200, 7200, 1800, 1800, 0, 0},
		{0, 0, 1800, 1800, 0, 0},
	};
	struct kiln_graph g;
	size_t i, k;
	char *text;

	(void)state;
	assert_true(KILN_STEP_TIMEOUT == 6 * 3600);
	for (i = 0; i < 3; i++) {
		text = xasprintf("%s%s", i ? kf[i] : "", kf[0]);
		assert_int_equal(load(&g, text), 0);
		for (k = 0; k < 3; k++) {
			struct kiln_target *t = kiln_graph_find(&g, (const char[]){(char)('a' + k), 0});

			assert_true(t->res.wall == want[i][2 * k]);
			assert_true(t->res.timeout == want[i][2 * k + 1]);
		}
		kiln_graph_release(&g);
		free(text);
	}
}

/* Check the fields of the target "m" that graph_cache writes, however the graph was read. */
static void
check_cached_target(struct kiln_graph *g)
{
	struct kiln_target *t = kiln_graph_find(g, "m");

	assert_non_null(t);
	assert_string_equal(t->name, "m");
	assert_string_equal(t->plugin, "train");
	assert_string_equal(t->file, "Kilnfile");
	assert_int_equal(t->ninputs, 2);
	assert_string_equal(t->inputs[0].name, "a");
	assert_string_equal(t->inputs[0].spec, "conf/x.lua");
	assert_string_equal(t->inputs[1].spec, ":feat");
	assert_int_equal(t->noutputs, 1);
	assert_string_equal(t->outputs[0], "w.bin");
	assert_int_equal(t->nenv, 1);
	assert_string_equal(t->env[0].name, "MODE");
	assert_string_equal(t->env[0].value, "fast");
	assert_string_equal(kiln_value_string(kiln_value_get(kiln_target_params(t), "algo"), ""), "mlp");
	assert_int_equal(g->nsources, 1);
	assert_string_equal(g->sources[0], "Kilnfile");
}

/*
 * Target "m"'s params as the Kilnfile of graph_cache gives them, rendered,
 * and its key's params part: the same from a cached graph, whose params
 * stay encoded until asked for, as from an evaluated one.
 */
static void
check_cached_params(struct kiln_graph *g, struct buf *render, struct kiln_digest *key)
{
	static struct kiln_plugin desc = {KILN_PLUGIN_ABI, "train", "1.0", "", NULL, NULL};
	struct kiln_plugin_info pi = {.desc = &desc};
	struct kiln_target *t = kiln_graph_find(g, "m");
	struct kiln_keyinfo ki = {0};
	kiln_value *tmp;
	const kiln_value *p = kiln_target_params_tmp(t, &tmp);
	struct buf again = BUF_INIT;

	assert_int_equal(p->type, KILN_MAP);
	assert_int_equal(kiln_value_get(p, "layers")->u.seq.n, 3);
	assert_true(kiln_value_get(kiln_value_get(p, "opt"), "beta")->u.n == 0.9);
	assert_int_equal(kiln_value_get(p, "deep")->u.b, 1);
	kiln_value_format(render, p);
	free(tmp);
	/* Asked for for keeps: decoded once, the same again. */
	p = kiln_target_params(t);
	assert_ptr_equal(p, kiln_target_params(t));
	kiln_value_format(&again, p);
	assert_string_equal(again.s, render->s);
	buf_release(&again);
	kiln_key_compute(&ki, t, &pi);
	*key = ki.key;
	free(ki.comps);
}

/*
 * .kiln/graph read back: its strings point into the file's bytes, kept
 * with the graph (ASan sees a use after free if not); a damaged file is
 * evaluated again, the same graph.
 */
static void
graph_cache(void **state)
{
	struct kiln_graph g;
	struct kiln_state st;
	struct buf fresh = BUF_INIT, cached = BUF_INIT;
	struct kiln_digest fkey, ckey;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(mkdir(".kiln", 0755), 0);
	f = fopen("Kilnfile", "w");
	fputs("kiln.target { name = \"feat\", plugin = \"exec\", outputs = { \"f\" } }\n"
	    "kiln.target { name = \"m\", plugin = \"train\", inputs = { a = \"conf/x.lua\", z = \":feat\" },\n"
	    "  params = { algo = \"mlp\", layers = { 64, 32, 0.5 }, deep = true, opt = { kind = \"adam\", beta = 0.9 } },\n"
	    "  outputs = { \"w.bin\" }, env = { MODE = \"fast\" } }\n", f);
	fclose(f);
	kiln_state_load(&st, ".kiln/state");
	kiln_graph_init(&g);
	assert_int_equal(kiln_graphcache_load(&g, "Kilnfile", &st), 0);
	assert_null(g.blob);	/* evaluated, and saved */
	check_cached_target(&g);
	check_cached_params(&g, &fresh, &fkey);
	kiln_graph_release(&g);
	kiln_graph_init(&g);
	assert_int_equal(kiln_graphcache_load(&g, "Kilnfile", &st), 0);
	assert_non_null(g.blob);	/* read back */
	assert_null(kiln_graph_find(&g, "m")->params);	/* not decoded yet */
	check_cached_target(&g);
	check_cached_params(&g, &cached, &ckey);
	assert_string_equal(cached.s, fresh.s);
	assert_true(kiln_digest_eq(&ckey, &fkey));
	kiln_graph_release(&g);
	/* One byte changed: the checksum fails, and the Kilnfile is evaluated again. */
	fd = open(".kiln/graph", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 60), 1);
	close(fd);
	kiln_graph_init(&g);
	assert_int_equal(kiln_graphcache_load(&g, "Kilnfile", &st), 0);
	assert_null(g.blob);
	check_cached_target(&g);
	kiln_graph_release(&g);
	kiln_state_release(&st);
	buf_release(&fresh);
	buf_release(&cached);
}

/*
 * .kiln/graph's body damaged where its checksum would not see it (another
 * tool, a bad disk under a recomputed sum): each byte in turn set to three
 * values. Every damaged body is refused or decodes to a graph whose every
 * target's params, decoded lazily, are a map; never a read out of bounds
 * (ASan) through a back-reference. The body undamaged decodes the same.
 */
static void
graph_cache_damaged(void **state)
{
	static const unsigned char with[] = {0x00, 0xff, 0x80};
	struct kiln_graph g;
	struct kiln_state st;
	char *data, *copy;
	size_t len, n, i, k, t, refused = 0;
	FILE *f;

	(void)state;
	assert_int_equal(mkdir(".kiln", 0755), 0);
	f = fopen("Kilnfile", "w");
	fputs("for i = 1, 3 do\n"
	    "  command(\"c\" .. i) { inputs = { s = \"x\" .. i, up = i > 1 and \":c1\" or nil },\n"
	    "    cmd = \"true\", params = { n = i > 2 and 2 or 1 }, outputs = { \"o\" } }\n"
	    "end\n", f);
	fclose(f);
	kiln_state_load(&st, ".kiln/state");
	kiln_graph_init(&g);
	assert_int_equal(kiln_graphcache_load(&g, "Kilnfile", &st), 0);
	kiln_graph_release(&g);
	data = read_file(".kiln/graph", &len);
	assert_non_null(data);
	n = len - 28 - 8;	/* the body: after magic, version and fingerprint; before the checksum */
	copy = xmalloc(n);
	for (i = 0; i <= n; i++)
		for (k = 0; k < (i < n ? 3 : 1); k++) {
			memcpy(copy, data + 28, n);
			if (i < n)
				copy[i] = (char)with[k];
			kiln_graph_init(&g);
			if (kiln_graphcache_decode(&g, &st, copy, n) < 0) {
				refused++;
				continue;
			}
			for (t = 0; t < g.ntargets; t++)
				assert_int_equal(kiln_target_params(g.targets[t])->type, KILN_MAP);
			if (i == n) {	/* undamaged */
				assert_int_equal(g.ntargets, 3);
				assert_int_equal(kiln_value_int(kiln_value_get(kiln_target_params(g.targets[1]), "n"), 0), 1);
				assert_int_equal(kiln_value_int(kiln_value_get(kiln_target_params(g.targets[2]), "n"), 0), 2);
				assert_string_equal(g.targets[2]->inputs[1].spec, ":c1");
			}
			kiln_graph_release(&g);
		}
	assert_true(refused > n);
	free(copy);
	free(data);
	kiln_state_release(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(target_fields_and_typed_params, setup, teardown),
		cmocka_unit_test_setup_teardown(command_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(no_clock_no_io_no_random, setup, teardown),
		cmocka_unit_test_setup_teardown(errors, setup, teardown),
		cmocka_unit_test_setup_teardown(nul_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(control_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(path_components, setup, teardown),
		cmocka_unit_test_setup_teardown(include_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(graph_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(graph_cache_damaged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
