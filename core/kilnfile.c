/*
 * kilnfile: evaluates a Kilnfile into a graph.
 *
 * The Kilnfile runs in its own environment with only the safe parts of the
 * standard library (no io, os, load of arbitrary files, clock or random), so
 * evaluating it is a pure function of the repository's files and two
 * machines get the same graph. The rule library is loaded into the same
 * environment first; every rule ends in kiln.target, which copies the
 * target into the graph's arena.
 *
 * A Kilnfile is untrusted: it comes with a cloned repository. Every string
 * it hands to C is checked here, where it enters, with its Lua length: a Lua
 * string may hold a NUL that C would cut it at (`command "a\0b"` would be
 * target 'a'). Names and paths refuse control characters and every path
 * component that is empty, '.' or '..'. The files evaluation reads (the
 * Kilnfile and what it includes) must lie inside the repository once their
 * symlinks are resolved.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "budget.h"
#include "kilnfile.h"
#include "overrides.h"
#include "rules.h"
#include "value.h"

#define RULE_PREFIX "=rules/"
#define STR_(x) #x
#define STR(x) STR_(x)
#define MAX_DEPTH 32	/* tables inside tables in a param */
#define MAX_SLOTS 1024	/* cpus, threads and gpus a step may ask for */
#define MAX_TIMEOUT (365 * 86400.0)

/* One evaluation, kept in the Lua registry under eval_key. */
struct eval {
	struct kiln_graph *g;
	const char *path;	/* the Kilnfile */
	char *root;		/* the repository (the current folder), symlinks resolved */
	struct kiln_budget budget;	/* what evaluation may spend */
	double timeout;		/* kiln.config's: seconds, -1 "none", 0 not given */
};

static const char eval_key = 'e';

static struct eval *
geteval(lua_State *L)
{
	struct eval *e;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &eval_key);
	e = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return e;
}

/*
 * Find the innermost frame that runs a user's file rather than the rule
 * library, so that errors raised in a rule point at the Kilnfile line that
 * called it. Fills *file and *line; returns 0 if there is none.
 */
static int
userframe(lua_State *L, const char **file, int *line)
{
	lua_Debug ar;
	int level;

	/* Level 0 too: a hook or the allocator may ask while the user's code runs. */
	for (level = 0; lua_getstack(L, level, &ar); level++) {
		if (!lua_getinfo(L, "Sl", &ar) || ar.currentline < 0)
			continue;
		if (strncmp(ar.source, RULE_PREFIX, strlen(RULE_PREFIX)) == 0)
			continue;
		if (ar.source[0] != '@')
			continue;
		*file = ar.source + 1;
		*line = ar.currentline;
		return 1;
	}
	return 0;
}

/* userframe as "FILE:LINE" in buf, for the budget; 0 if there is none. */
static int
userwhere(lua_State *L, char *buf, size_t len)
{
	const char *file;
	int line;

	if (!userframe(L, &file, &line))
		return 0;
	snprintf(buf, len, "%s:%d", file, line);
	return 1;
}

/* Raise "FILE:LINE: message" at the user's frame. */
__attribute__((format(printf, 2, 3))) static int
fail(lua_State *L, const char *fmt, ...)
{
	const char *file;
	int line;
	va_list ap;

	if (userframe(L, &file, &line))
		lua_pushfstring(L, "%s:%d: ", file, line);
	else
		lua_pushliteral(L, "");
	va_start(ap, fmt);
	lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	lua_concat(L, 2);
	return lua_error(L);
}

/*
 * Push a printable copy of s (len bytes) for a message: a NUL reads "\0",
 * a newline "\n", a backslash "\\", any other control byte "\xNN", so a
 * hostile name can neither hide its tail nor write to the terminal.
 */
static const char *
shown(lua_State *L, const char *s, size_t len)
{
	luaL_Buffer b;
	size_t i;

	luaL_buffinit(L, &b);
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '\0')
			luaL_addstring(&b, "\\0");
		else if (c == '\n')
			luaL_addstring(&b, "\\n");
		else if (c == '\\')
			luaL_addstring(&b, "\\\\");
		else if (c < 0x20 || c == 0x7f)
			luaL_addlstring(&b, (char[4]){'\\', 'x', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]}, 4);
		else
			luaL_addchar(&b, c);
	}
	luaL_pushresult(&b);
	return lua_tostring(L, -1);
}

/* The string (or number) at idx, as shown() shows it; else its type's name. */
static const char *
shownat(lua_State *L, int idx)
{
	size_t len;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER)
		return luaL_typename(L, idx);
	lua_pushvalue(L, idx);	/* a copy: converting a key in place would upset lua_next */
	s = lua_tolstring(L, -1, &len);
	s = shown(L, s, len);
	lua_remove(L, -2);
	return s;
}

/* The string at idx if it is one and holds no NUL; NULL otherwise. */
static const char *
cstring(lua_State *L, int idx)
{
	size_t len;
	const char *s;

	if (lua_type(L, idx) != LUA_TSTRING)
		return NULL;
	s = lua_tolstring(L, idx, &len);
	return strlen(s) == len ? s : NULL;
}

/* kiln.fail(message): a rule's error, reported at the user's line. */
static int
l_fail(lua_State *L)
{
	return fail(L, "%s", luaL_checkstring(L, 1));
}

/* Is s a target, plugin or input name: letters, digits, '_', '-', '.', not first '.' or '-'? */
static int
valid_name(const char *s)
{
	const char *p;

	if (!s || !*s || *s == '.' || *s == '-')
		return 0;
	for (p = s; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
			*p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/*
 * Is s a target name: a name as above, or one with a variant part after
 * '@' (kiln.grid's "m@lr=0.1,l2=0.01"), where '=' and ',' may appear too?
 * None of these bytes means anything to a shell word, a path or
 * Kilnfile.lock's lines. At most KILN_NAME_MAX bytes, so that
 * .kiln/logs/<name>.log is a file name the file system takes.
 */
static int
valid_target_name(const char *s)
{
	const char *at = s ? strchr(s, '@') : NULL, *p;
	char *base;
	int ok;

	if (!s || strlen(s) > KILN_NAME_MAX)
		return 0;
	if (!at)
		return valid_name(s);
	for (p = at + 1; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
			strchr("_-.=,", *p)))
			return 0;
	base = xstrndup(s, at - s);
	ok = valid_name(base) && at[1];
	free(base);
	return ok;
}

/*
 * What is wrong with s (len bytes) as a relative path inside the workspace,
 * or NULL if nothing. An output path becomes a file name under kiln-out and
 * a line of Kilnfile.lock, so it must be one plain path and nothing else.
 */
static const char *
path_problem(const char *s, size_t len)
{
	size_t i, start = 0;

	if (len == 0)
		return "is empty";
	if (s[0] == '/')
		return "is absolute";
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? s[i] : '/';

		if (c == '\0')
			return "holds a NUL byte";
		if (c < 0x20 || c == 0x7f)
			return "holds a control character";
		if (c != '/')
			continue;
		if (i == start)
			return "has an empty component ('//', or a '/' at the end)";
		if (i - start == 1 && s[start] == '.')
			return "has a '.' component";
		if (i - start == 2 && s[start] == '.' && s[start + 1] == '.')
			return "has a '..' component";
		if (i - start > NAME_MAX)
			return "has a component longer than " STR(NAME_MAX) " bytes, which no file system takes";
		start = i + 1;
	}
	return NULL;
}

/* What a field reader knows, for messages "target 'T': WHAT: …" ("kiln.config: WHAT: …"). */
struct reader {
	lua_State *L;
	struct kiln_graph *g;
	const char *target;	/* for messages; NULL in kiln.config */
	const char *what;	/* the field or item being read, for messages */
	const char *item;	/* what a top-level key of a map names ("param"), or NULL */
	char whatbuf[128];
	const void *open[MAX_DEPTH + 1];	/* the tables tovalue is inside, outermost first */
};

/* Raise "FILE:LINE: target 'T': WHAT: message": every field's error is worded here. */
__attribute__((format(printf, 2, 3))) static int
rfail(struct reader *r, const char *fmt, ...)
{
	lua_State *L = r->L;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->target)
		return fail(L, "target '%s': %s: %s", r->target, r->what, msg);
	return fail(L, "kiln.config: %s: %s", r->what, msg);
}

/* Name the item being read: what = "FMT…". */
__attribute__((format(printf, 2, 3))) static void
setwhat(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->whatbuf, sizeof(r->whatbuf), fmt, ap);
	va_end(ap);
	r->what = r->whatbuf;
}

/* A NUL-free string at idx, or "target 'T': WHAT: …"; `expected` words the type error. */
static const char *
rstring(struct reader *r, int idx, const char *expected)
{
	const char *s = cstring(r->L, idx);

	if (!s && lua_type(r->L, idx) == LUA_TSTRING)
		rfail(r, "'%s' holds a NUL byte, which would cut it short", shownat(r->L, idx));
	if (!s)
		rfail(r, "expected %s, got %s", expected, luaL_typename(r->L, idx));
	return s;
}

/* A relative path inside the workspace at idx (see path_problem), copied into the arena. */
static const char *
rpath(struct reader *r, int idx, const char *expected, const char *rule)
{
	size_t len;
	const char *s, *why;

	if (lua_type(r->L, idx) != LUA_TSTRING)
		rfail(r, "expected %s, got %s", expected, luaL_typename(r->L, idx));
	s = lua_tolstring(r->L, idx, &len);
	why = path_problem(s, len);
	if (why)
		rfail(r, "'%s' %s: %s", shownat(r->L, idx), why, rule);
	return arena_strndup(&r->g->arena, s, len);
}

/*
 * An absolute input path at idx (a shared folder, such as /mnt/datasets/raw/):
 * the same rules as rpath's after the leading '/', a trailing '/' dropped.
 */
static const char *
apath(struct reader *r, int idx)
{
	size_t len;
	const char *s = lua_tolstring(r->L, idx, &len), *why;

	static const char *const own[] = {"/usr", "/etc", "/dev", "/proc", "/bin", "/sbin", "/lib", "/lib64",
	    "/workspace"};
	size_t i;

	while (len > 1 && s[len - 1] == '/')
		len--;
	why = len > 1 ? path_problem(s + 1, len - 1) : "is the root folder";
	/* The sandbox's own folders cannot be bound over (rootfs.c): say so here, at the line. */
	if (!why && len == 4 && strncmp(s, "/tmp", 4) == 0)
		why = "is the sandbox's own /tmp";
	for (i = 0; !why && i < LEN(own); i++)
		if (strncmp(s, own[i], strlen(own[i])) == 0 && (len == strlen(own[i]) || s[strlen(own[i])] == '/'))
			why = "is in one of the sandbox's own folders";
	if (why)
		rfail(r, "'%s' %s: an absolute input must name a shared file or folder (one '/' between names, "
		    "no '.' or '..')", shownat(r->L, idx), why);
	return arena_strndup(&r->g->arena, s, len);
}

/* Call fn(r, i, ud) for each entry of the table on top (key at -2, value at -1); count them. */
static size_t
walk(struct reader *r, void (*fn)(struct reader *, size_t, void *), void *ud)
{
	lua_State *L = r->L;
	int t = lua_gettop(L);
	size_t i = 0;

	lua_pushnil(L);
	while (lua_next(L, t)) {
		if (fn)
			fn(r, i, ud);
		lua_settop(L, t + 1);
		i++;
	}
	return i;
}

static int
cmp_input(const void *a, const void *b)
{
	return strcmp(((const struct kiln_input *)a)->name, ((const struct kiln_input *)b)->name);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
cmp_env(const void *a, const void *b)
{
	return strcmp(((const struct kiln_env *)a)->name, ((const struct kiln_env *)b)->name);
}

static void tovalue(struct reader *r, kiln_value *v, int depth);

/* A map being filled by tovalue_field. */
struct mapfill {
	kiln_value *items;
	const char **keys;
	int depth;	/* of the map's values */
	char what[sizeof(((struct reader *)0)->whatbuf)];	/* the map's own, for messages */
};

/* One entry of a map: its key at -2, its value at -1. */
static void
tovalue_field(struct reader *r, size_t i, void *ud)
{
	struct mapfill *m = ud;

	setwhat(r, "%s", m->what);
	if (lua_type(r->L, -2) != LUA_TSTRING)
		rfail(r, "a table mixes list items and named fields");
	m->keys[i] = arena_strdup(&r->g->arena, rstring(r, -2, "a name"));
	if (m->depth == 1 && r->item)
		setwhat(r, "%s '%s'", r->item, m->keys[i]);
	tovalue(r, &m->items[i], m->depth);
}

/* Convert the Lua value on top of the stack into v; `depth` counts the tables around it. */
static void
tovalue(struct reader *r, kiln_value *v, int depth)
{
	lua_State *L = r->L;
	struct arena *a = &r->g->arena;
	struct mapfill m;
	kiln_value *items;
	size_t n, i;
	const char *s;

	if (depth > MAX_DEPTH || !lua_checkstack(L, 8))
		rfail(r, "nested too deeply (more than %d tables inside each other)", MAX_DEPTH);
	switch (lua_type(L, -1)) {
	case LUA_TBOOLEAN:
		v->type = KILN_BOOL;
		v->u.b = lua_toboolean(L, -1);
		return;
	case LUA_TNUMBER:
		if (lua_isinteger(L, -1)) {
			v->type = KILN_INT;
			v->u.i = lua_tointeger(L, -1);
		} else {
			v->type = KILN_NUMBER;
			v->u.n = lua_tonumber(L, -1);
		}
		return;
	case LUA_TSTRING:
		/* Plugins read strings as C strings: a NUL would cut "echo a\0rm -rf /" short. */
		s = rstring(r, -1, "a string");
		v->type = KILN_STRING;
		v->u.str.len = strlen(s);
		v->u.str.s = arena_strndup(a, s, v->u.str.len);
		return;
	case LUA_TTABLE:
		break;
	default:
		rfail(r, "a %s cannot be a param", luaL_typename(L, -1));
	}
	r->open[depth] = lua_topointer(L, -1);
	for (i = 0; i < (size_t)depth; i++)
		if (r->open[i] == r->open[depth])
			rfail(r, "the table holds itself (a recursive table cannot be a param: each value must be a tree)");
	/* A table with keys 1..n only is a list; with string keys only, a map. */
	n = walk(r, NULL, NULL);
	items = arena_alloc(a, n * sizeof(*items));
	v->u.seq.n = n;
	v->u.seq.items = items;
	v->u.seq.keys = NULL;
	if (n == lua_rawlen(L, -1)) {
		v->type = KILN_LIST;
		for (i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			tovalue(r, &items[i], depth + 1);
			lua_pop(L, 1);
		}
		return;
	}
	v->type = KILN_MAP;
	m.items = items;
	m.keys = arena_alloc(a, n * sizeof(*m.keys));
	m.depth = depth + 1;
	snprintf(m.what, sizeof(m.what), "%s", r->what);
	walk(r, tovalue_field, &m);
	setwhat(r, "%s", m.what);
	v->u.seq.keys = m.keys;
	kiln_value_sort_map(v);
}

/* The value on top of the stack must be nil or a table; 0 if nil. */
static int
opttable(struct reader *r, const char *expected)
{
	if (!lua_isnil(r->L, -1) && !lua_istable(r->L, -1))
		rfail(r, "expected %s, got %s", expected, luaL_typename(r->L, -1));
	return !lua_isnil(r->L, -1);
}

/* One input: name = "path" or name = ":target". */
static void
read_input(struct reader *r, size_t i, void *ud)
{
	struct kiln_target *t = ud;
	struct kiln_input *in = &t->inputs[i];
	const char *spec;

	in->name = cstring(r->L, -2);
	if (!valid_name(in->name))
		rfail(r, "each input needs a name (letters, digits, _), as in { data = \"data.csv\" }; got '%s'",
		    shownat(r->L, -2));
	in->name = arena_strdup(&r->g->arena, in->name);
	setwhat(r, "input '%s'", in->name);
	spec = rstring(r, -1, "a path or \":target\"");
	if (spec[0] == ':') {
		if (!valid_target_name(spec + 1))
			rfail(r, "'%s' is not a valid target name", shownat(r->L, -1));
		in->spec = arena_strdup(&r->g->arena, spec);
		in->kind = KILN_INPUT_TARGET;
	} else if (spec[0] == '/') {
		in->spec = apath(r, -1);
		in->kind = strpbrk(spec, "*?[") ? KILN_INPUT_GLOB : KILN_INPUT_PATH;
	} else {
		in->spec = rpath(r, -1, "a path or \":target\"",
		    "it must be a path inside the workspace (relative, one '/' between names, no '.' or '..'), "
		    "or an absolute path to a shared folder");
		in->kind = strpbrk(spec, "*?[") ? KILN_INPUT_GLOB : KILN_INPUT_PATH;
	}
	r->what = "field 'inputs'";
}

static void
read_inputs(struct reader *r, struct kiln_target *t)
{
	size_t n;

	if (!opttable(r, "a table of name = path"))
		return;
	n = walk(r, NULL, NULL);
	t->inputs = arena_alloc(&r->g->arena, n * sizeof(*t->inputs));
	memset(t->inputs, 0, n * sizeof(*t->inputs));
	walk(r, read_input, t);
	t->ninputs = n;
	sort(t->inputs, n, sizeof(*t->inputs), cmp_input);
}

/* An output may not lie inside another: "d" is a folder the step writes, so "d/f" is part of it. */
static void
outer_output(struct reader *r, const struct kiln_target *t, const char *out)
{
	char *prefix = xstrdup(out), *slash;
	const char *key = prefix;

	while ((slash = strrchr(prefix, '/'))) {
		*slash = '\0';
		if (bsearch(&key, t->outputs, t->noutputs, sizeof(*t->outputs), cmp_str)) {
			lua_pushstring(r->L, prefix);
			free(prefix);
			rfail(r, "'%s' lies inside the output '%s': declare one or the other", out, lua_tostring(r->L, -1));
		}
	}
	free(prefix);
}

/*
 * soft = { "input", … }: ":target" inputs the step can do without. When
 * such a target fails, the step still runs, without that input (a select
 * leaves out the candidate whose test failed).
 */
static void
read_soft(struct reader *r, struct kiln_target *t)
{
	lua_State *L = r->L;
	size_t n, i, k;

	if (!opttable(r, "a list of input names"))
		return;
	n = lua_rawlen(L, -1);
	if (walk(r, NULL, NULL) != n)
		rfail(r, "expected a list of input names");
	for (i = 1; i <= n; i++) {
		const char *s;

		lua_rawgeti(L, -1, (lua_Integer)i);
		s = rstring(r, -1, "an input name");
		for (k = 0; k < t->ninputs && strcmp(t->inputs[k].name, s) != 0; k++)
			;
		if (k == t->ninputs || t->inputs[k].kind != KILN_INPUT_TARGET)
			rfail(r, "'%s' is not one of the target's \":target\" inputs", shownat(L, -1));
		t->inputs[k].soft = 1;
		lua_pop(L, 1);
	}
}

static void
read_outputs(struct reader *r, struct kiln_target *t)
{
	lua_State *L = r->L;
	size_t n, i;

	if (lua_isnil(L, -1))
		rfail(r, "missing: declare the files the step writes");
	if (!lua_istable(L, -1))
		rfail(r, "expected a list of paths, got %s", luaL_typename(L, -1));
	n = lua_rawlen(L, -1);
	if (n == 0)
		rfail(r, "declare at least one output");
	t->outputs = arena_alloc(&r->g->arena, n * sizeof(*t->outputs));
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		setwhat(r, "field 'outputs': item %zu", i + 1);
		t->outputs[i] = rpath(r, -1, "a path",
		    "an output is a path relative to the output folder (one '/' between names, no '.' or '..')");
		lua_pop(L, 1);
	}
	r->what = "field 'outputs'";
	t->noutputs = n;
	sort(t->outputs, n, sizeof(*t->outputs), cmp_str);
	for (i = 1; i < n; i++)
		if (strcmp(t->outputs[i - 1], t->outputs[i]) == 0)
			rfail(r, "'%s' is declared twice", t->outputs[i]);
	for (i = 0; i < n; i++)
		outer_output(r, t, t->outputs[i]);
}

/* One variable: "NAME" (taken from kiln's environment) or NAME = "value". */
static void
read_var(struct reader *r, size_t i, void *ud)
{
	struct kiln_target *t = ud;
	struct kiln_env *e = &t->env[i];
	lua_State *L = r->L;

	if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TSTRING) {
		e->name = rstring(r, -1, "a variable name");
		e->value = NULL;
	} else if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
		e->name = rstring(r, -2, "a variable name");
		e->value = arena_strdup(&r->g->arena, rstring(r, -1, "a value"));
	} else {
		rfail(r, "expected \"NAME\" or NAME = \"value\"");
	}
	if (!valid_name(e->name) || strchr(e->name, '.') || strchr(e->name, '-'))
		rfail(r, "'%s' is not a variable name", shown(L, e->name, strlen(e->name)));
	e->name = arena_strdup(&r->g->arena, e->name);
}

static void
read_env(struct reader *r, struct kiln_target *t)
{
	size_t n, i;

	if (!opttable(r, "a list of variable names"))
		return;
	n = walk(r, NULL, NULL);
	t->env = arena_alloc(&r->g->arena, n * sizeof(*t->env));
	walk(r, read_var, t);
	t->nenv = n;
	sort(t->env, n, sizeof(*t->env), cmp_env);
	for (i = 1; i < n; i++)
		if (strcmp(t->env[i - 1].name, t->env[i].name) == 0)
			rfail(r, "'%s' is declared twice", t->env[i].name);
}

/* An integer from min to MAX_SLOTS: a thousand threads is a machine's worth, 1e8 a mistake. */
static int
res_int(struct reader *r, int min)
{
	if (!lua_isinteger(r->L, -1) || lua_tointeger(r->L, -1) < min || lua_tointeger(r->L, -1) > MAX_SLOTS)
		rfail(r, "expected an integer from %d to %d, got %s", min, MAX_SLOTS, shownat(r->L, -1));
	return (int)lua_tointeger(r->L, -1);
}

/*
 * A duration at the top of the stack: "30m", "90s", "2h", "1d", seconds, or
 * "none" (no limit, returned as -1). At most MAX_TIMEOUT.
 */
static double
res_duration(struct reader *r)
{
	const char *s = cstring(r->L, -1);
	double d;

	if (s && strcmp(s, "none") == 0)
		return -1;
	d = s ? parse_duration(s) : lua_type(r->L, -1) == LUA_TNUMBER ? lua_tonumber(r->L, -1) : -1;
	if (!(d > 0 && d <= MAX_TIMEOUT))
		rfail(r, "expected a duration such as \"30m\", \"90s\" or \"2h\" (at most 365d), or \"none\"; got %s",
		    shownat(r->L, -1));
	return d;
}

/* A size resource (mem, disk): "2G", "512M", or bytes; 0 after a failure. */
static long long
res_size(struct reader *r)
{
	const char *s = cstring(r->L, -1);
	long long n = s ? parse_size(s) : lua_isinteger(r->L, -1) ? lua_tointeger(r->L, -1) : -1;

	if (n <= 0) {
		rfail(r, "expected a size such as \"2G\" or \"512M\"");
		return 0;
	}
	return n;
}

/* One resource: cpus, threads, gpus, mem, disk or timeout. */
static void
read_resource(struct reader *r, size_t i, void *ud)
{
	struct kiln_target *t = ud;
	lua_State *L = r->L;
	const char *key = cstring(L, -2);

	(void)i;
	if (!key) {
		rfail(r, "expected named fields");
		return;
	}
	setwhat(r, "resources.%s", key);
	if (strcmp(key, "cpus") == 0) {
		t->res.cpus = res_int(r, 1);
	} else if (strcmp(key, "threads") == 0) {
		t->res.threads = res_int(r, 1);
	} else if (strcmp(key, "gpus") == 0) {
		t->res.gpus = res_int(r, 0);
	} else if (strcmp(key, "mem") == 0) {
		t->res.mem = res_size(r);
	} else if (strcmp(key, "disk") == 0) {
		t->res.disk = res_size(r);
	} else if (strcmp(key, "timeout") == 0) {
		t->res.timeout = res_duration(r);
	} else {
		r->what = "field 'resources'";
		rfail(r, "unknown resource '%s' (cpus, threads, gpus, mem, disk, timeout)", shown(L, key, strlen(key)));
	}
	r->what = "field 'resources'";
}

static void
read_resources(struct reader *r, struct kiln_target *t)
{
	t->res.cpus = 1;
	t->res.threads = 0;
	if (opttable(r, "a table"))
		walk(r, read_resource, t);
	if (!t->res.threads)
		t->res.threads = t->res.cpus;
}

static void
read_plugin(struct reader *r, struct kiln_target *t)
{
	const char *s = cstring(r->L, -1);

	if (!valid_name(s))
		rfail(r, "expected a plugin name, got %s", shownat(r->L, -1));
	t->plugin = arena_strdup(&r->g->arena, s);
}

static void
read_params(struct reader *r, struct kiln_target *t)
{
	t->params = arena_alloc(&r->g->arena, sizeof(*t->params));
	*t->params = (kiln_value){.type = KILN_MAP};
	if (!opttable(r, "a table"))
		return;
	r->item = "param";
	tovalue(r, t->params, 0);
	r->item = NULL;
	r->what = "field 'params'";
	if (t->params->type == KILN_LIST && t->params->u.seq.n == 0)
		*t->params = (kiln_value){.type = KILN_MAP};
	if (t->params->type != KILN_MAP)
		rfail(r, "expected named params");
}

static int
rbool(struct reader *r)
{
	if (!lua_isnil(r->L, -1) && !lua_isboolean(r->L, -1))
		rfail(r, "expected true or false, got %s", luaL_typename(r->L, -1));
	return lua_toboolean(r->L, -1);
}

static void
read_network(struct reader *r, struct kiln_target *t)
{
	t->network = rbool(r);
}

static void
read_checkpoint(struct reader *r, struct kiln_target *t)
{
	t->checkpoint = rbool(r);
}

static int
cmp_tool(const void *a, const void *b)
{
	return strcmp(((const struct kiln_tool *)a)->name, ((const struct kiln_tool *)b)->name);
}

/* One of tools.packages: a Debian package name. */
static void
read_package(struct reader *r, size_t i, void *ud)
{
	struct kiln_toolset *ts = ud;
	const char *s = rstring(r, -1, "a package name");

	if (lua_type(r->L, -2) != LUA_TNUMBER || !*s || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+-.") != strlen(s))
		rfail(r, "'%s' is not a Debian package name", shownat(r->L, -1));
	ts->packages[i] = (struct kiln_tool){arena_strdup(&r->g->arena, s), NULL, {{0}}};
}

/* One tool: NAME = "/absolute/host/path", or packages = { "name", … }. */
static void
read_tool(struct reader *r, size_t i, void *ud)
{
	struct kiln_toolset *ts = ud;
	const char *k = cstring(r->L, -2), *p;
	size_t n;

	(void)i;
	if (!k || !valid_name(k)) {
		rfail(r, "expected NAME = \"/absolute/path\" or packages = { … }");
		return;
	}
	setwhat(r, "tool '%s'", k);
	if (strcmp(k, "packages") == 0) {
		if (!lua_istable(r->L, -1))
			rfail(r, "expected a list of Debian package names");
		n = walk(r, NULL, NULL);
		ts->packages = arena_alloc(&r->g->arena, n * sizeof(*ts->packages));
		walk(r, read_package, ts);
		ts->npackages = n;
		sort(ts->packages, n, sizeof(*ts->packages), cmp_tool);
		return;
	}
	p = rstring(r, -1, "an absolute path");
	if (p[0] != '/' || strstr(p, "/../") || (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
		rfail(r, "'%s' is not an absolute path without '..' (a tool is a file or folder of the host)",
		    shownat(r->L, -1));
	ts->tools[ts->ntools++] = (struct kiln_tool){arena_strdup(&r->g->arena, k), arena_strdup(&r->g->arena, p), {{0}}};
}

/* tools = { … } of a target or of kiln.config into ts. */
static void
read_toolset(struct reader *r, struct kiln_toolset *ts)
{
	size_t n, i;

	memset(ts, 0, sizeof(*ts));
	if (!opttable(r, "a table of tools"))
		return;
	n = walk(r, NULL, NULL);
	ts->tools = arena_alloc(&r->g->arena, n * sizeof(*ts->tools));
	walk(r, read_tool, ts);
	sort(ts->tools, ts->ntools, sizeof(*ts->tools), cmp_tool);
	for (i = 1; i < ts->npackages; i++)
		if (strcmp(ts->packages[i - 1].name, ts->packages[i].name) == 0)
			rfail(r, "package '%s' is listed twice", ts->packages[i].name);
}

static void
read_tools(struct reader *r, struct kiln_target *t)
{
	read_toolset(r, &t->tools);
}

static void
read_gpu_key(struct reader *r, struct kiln_target *t)
{
	const char *s = lua_isnil(r->L, -1) ? "none" : rstring(r, -1, "\"driver\" or \"none\"");

	if (strcmp(s, "driver") != 0 && strcmp(s, "none") != 0)
		rfail(r, "expected \"driver\" or \"none\", got '%s'", shownat(r->L, -1));
	t->gpu_key = strcmp(s, "driver") == 0;
}

static void
read_effect(struct reader *r, struct kiln_target *t)
{
	if (!lua_isnil(r->L, -1) && !lua_isboolean(r->L, -1))
		rfail(r, "expected true or false, got %s", luaL_typename(r->L, -1));
	t->effect = lua_toboolean(r->L, -1);
}

/* kiln.target's fields after name; each reader takes the field's value on top of the stack. */
static const struct field {
	const char *name;
	void (*read)(struct reader *r, struct kiln_target *t);
} target_fields[] = {
	{"plugin", read_plugin},
	{"inputs", read_inputs},
	{"soft", read_soft},
	{"params", read_params},
	{"outputs", read_outputs},
	{"env", read_env},
	{"resources", read_resources},
	{"network", read_network},
	{"tools", read_tools},
	{"gpu_key", read_gpu_key},
	{"checkpoint", read_checkpoint},
	{"effect", read_effect},
	{NULL, NULL},
};

/* One field of kiln.target's table: it must be one that target_fields reads. */
static void
known_field(struct reader *r, size_t i, void *ud)
{
	const char *k = cstring(r->L, -2);
	const struct field *f;

	(void)i;
	(void)ud;
	for (f = target_fields; k && f->name && strcmp(k, f->name) != 0; f++)
		;
	if (!k || (!f->name && strcmp(k, "name") != 0))
		fail(r->L, "target '%s': unknown field '%s' (expected one of name, plugin, inputs, soft, params, outputs, env, resources, network, tools, gpu_key, checkpoint, effect)",
		    r->target, shownat(r->L, -2));
}

/* kiln.target { name, plugin, inputs, soft, params, outputs, env, resources, network, tools, gpu_key, checkpoint, effect } */
static int
l_target(lua_State *L)
{
	struct reader r = {L, geteval(L)->g, "?", "field 'name'", NULL, "", {NULL}};
	const struct field *f;
	struct kiln_target *t;
	const char *name, *file;
	int line;

	if (!lua_istable(L, 1))
		return fail(L, "kiln.target: expected a table of fields, got %s", luaL_typename(L, 1));
	lua_settop(L, 1);
	lua_getfield(L, 1, "name");
	if (lua_type(L, -1) != LUA_TSTRING)
		return fail(L, "kiln.target: field 'name': expected a string, got %s", luaL_typename(L, -1));
	name = cstring(L, -1);
	if (!valid_target_name(name))
		return fail(L, "target '%s': the name may hold only letters, digits, '_', '-' and '.', "
		    "then a variant part after '@' that may also hold '=' and ',' (at most %d bytes)",
		    shownat(L, -1), KILN_NAME_MAX);
	r.target = name;
	lua_pop(L, 1);
	kiln_overrides_apply(L, r.g->overrides, name, 1);
	walk(&r, known_field, NULL);
	if (!userframe(L, &file, &line)) {
		file = "?";
		line = 0;
	}
	t = kiln_graph_add(r.g, name);
	if (!t) {
		struct kiln_target *old = kiln_graph_find(r.g, name);

		return fail(L, "target '%s' is already declared at %s:%d", name, old->file, old->line);
	}
	r.target = t->name;
	t->file = arena_strdup(&r.g->arena, file);
	t->line = line;
	for (f = target_fields; f->name; f++) {
		lua_getfield(L, 1, f->name);
		setwhat(&r, "field '%s'", f->name);
		f->read(&r, t);
		lua_settop(L, 1);
	}
	return 0;
}

/*
 * kiln.config's evaluation limits: they apply from the kiln.config line on,
 * so the instructions and memory the lines above it used count too.
 */
static int
config_budget(struct reader *r, const char *k)
{
	struct kiln_budget *b = &geteval(r->L)->budget;
	lua_State *L = r->L;
	const char *s = cstring(L, -1);
	double n;
	long long size;

	if (strcmp(k, "eval_instructions") == 0) {
		n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
		if (!(n >= 1e6 && n <= 9e15) || n != floor(n))
			rfail(r, "expected a whole number of instructions from 1e6 to 9e15, got %s", shownat(L, -1));
		b->max_steps = (unsigned long long)n;
	} else if (strcmp(k, "eval_memory") == 0) {
		size = s ? parse_size(s) : lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
		if (size < (1LL << 24) || size > (1LL << 40))
			rfail(r, "expected a size from \"16M\" to \"1T\", got %s", shownat(L, -1));
		b->max_mem = (size_t)size;
	} else if (strcmp(k, "timeout") == 0) {
		geteval(L)->timeout = res_duration(r);
	} else {
		return 0;
	}
	return 1;
}

/* One field of kiln.config's remote = { url = URL, download = "all" | "minimal" }. */
static void
remote_field(struct reader *r, size_t i, void *ud)
{
	struct kiln_config *c = ud;
	lua_State *L = r->L;
	const char *k = cstring(L, -2);

	(void)i;
	setwhat(r, "remote field '%s'", k ? k : "?");
	if (k && strcmp(k, "url") == 0) {
		c->remote = arena_strdup(&r->g->arena, rstring(r, -1, "a string"));
	} else if (k && strcmp(k, "download") == 0) {
		const char *d = rstring(r, -1, "\"all\" or \"minimal\"");

		if (strcmp(d, "all") != 0 && strcmp(d, "minimal") != 0)
			rfail(r, "expected \"all\" or \"minimal\"");
		c->download = arena_strdup(&r->g->arena, d);
	} else {
		fail(L, "kiln.config: remote: unknown field '%s' (url, download)", shownat(L, -2));
	}
}

/* One field of kiln.config's table. */
static void
config_field(struct reader *r, size_t i, void *ud)
{
	struct kiln_config *c = ud;
	lua_State *L = r->L;
	const char *k = cstring(L, -2);

	(void)i;
	setwhat(r, "field '%s'", k ? k : "?");
	if (k && config_budget(r, k)) {
		return;
	} else if (k && strcmp(k, "remote") == 0 && lua_type(L, -1) == LUA_TTABLE) {
		walk(r, remote_field, c);
	} else if (k && strcmp(k, "remote") == 0) {
		c->remote = arena_strdup(&r->g->arena, rstring(r, -1, "a string or a table { url = …, download = … }"));
	} else if (k && strcmp(k, "executor") == 0) {
		c->executor = arena_strdup(&r->g->arena, rstring(r, -1, "a string"));
	} else if (k && strcmp(k, "slurm") == 0) {
		kiln_value *v = arena_alloc(&r->g->arena, sizeof(*v));

		if (lua_type(L, -1) != LUA_TTABLE)
			rfail(r, "expected a table");
		tovalue(r, v, 0);
		c->slurm = v;
	} else if (k && strcmp(k, "tools") == 0) {
		read_toolset(r, &c->tools);
	} else {
		fail(L, "kiln.config: unknown field '%s' (remote, executor, slurm, timeout, eval_instructions, eval_memory, tools)",
		    shownat(L, -2));
	}
}

/* kiln.config { remote = URL or { url = URL, download = … }, executor = NAME, slurm = { … } } */
static int
l_config(lua_State *L)
{
	struct kiln_graph *g = geteval(L)->g;
	struct reader r = {L, g, NULL, "?", NULL, "", {NULL}};
	const char *file;
	int line;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (g->config.file)
		return fail(L, "kiln.config is already called at %s:%d", g->config.file, g->config.line);
	walk(&r, config_field, &g->config);
	if (userframe(L, &file, &line)) {
		g->config.file = arena_strdup(&g->arena, file);
		g->config.line = line;
	} else {
		g->config.file = "?";
	}
	return 0;
}

/*
 * Open rel, a path of the repository with no symlink, '.' or '..' in it,
 * one component at a time with O_NOFOLLOW: if something turned a component
 * into a link since realpath() looked, the open fails instead of leaving
 * the repository. -1 with errno set.
 */
static int
open_plain(const char *rel)
{
	char *copy = xstrdup(rel), *p = copy, *slash;
	int dfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

	while (dfd >= 0 && (slash = strchr(p, '/'))) {
		*slash = '\0';
		fd = openat(dfd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		dfd = fd;
		p = slash + 1;
	}
	fd = -1;
	if (dfd >= 0) {
		/* O_NONBLOCK: a FIFO must not hang the evaluation; it is refused below. */
		fd = openat(dfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		close(dfd);
	}
	free(copy);
	return fd;
}

/*
 * Read the repository file `path` for evaluation. Symlinks are followed
 * only while they stay in the repository (root): a lib.lua that links to
 * /etc/shadow is never opened. On failure raises "WHO: …" at the user's
 * line, naming the file but showing nothing of its content.
 */
static char *
read_source(lua_State *L, const char *root, const char *path, const char *who, size_t *len)
{
	char *real = realpath(path, NULL), *text;
	size_t rl = strlen(root);
	const char *rel;
	int fd;

	if (!real)
		fail(L, "%scannot read '%s': %s", who, path, strerror(errno));
	rel = rl == 1 ? real + 1 : real + rl + 1;
	if (strncmp(real, root, rl) != 0 || (rl > 1 && real[rl] != '/') || !*rel) {
		lua_pushstring(L, real);
		free(real);
		fail(L, "%s'%s' leads outside the repository (to %s): kiln reads only the repository's own files",
		    who, path, shown(L, lua_tostring(L, -1), lua_rawlen(L, -1)));
	}
	fd = open_plain(rel);
	free(real);
	text = fd < 0 ? NULL : read_regular(fd, len);
	if (!text && errno == ELOOP)
		fail(L, "%s'%s' changed into a symlink while kiln read it", who, path);
	if (!text)
		fail(L, "%scannot read '%s': %s", who, path,
		    errno == EINVAL ? "not a regular file" : strerror(errno));
	return text;
}

/* Run the repository file `path` in the environment at index env; who names the caller in errors. */
static int
run_file(lua_State *L, const char *path, int env, const char *who)
{
	struct eval *e = geteval(L);
	struct kiln_graph *g = e->g;
	size_t len = 0;
	char *text = read_source(L, e->root, path, who, &len);
	int r;

	g->sources = xreallocarray(g->sources, g->nsources + 1, sizeof(*g->sources));
	g->sources[g->nsources++] = arena_strdup(&g->arena, path);
	lua_pushfstring(L, "@%s", path);
	r = luaL_loadbufferx(L, text, len, lua_tostring(L, -1), "t");
	free(text);
	if (r != LUA_OK)
		return lua_error(L);
	lua_remove(L, -2);
	lua_pushvalue(L, env);
	lua_setupvalue(L, -2, 1);
	lua_call(L, 0, 0);
	return 0;
}

/* include "path.lua": run another Lua file of the repository in this environment. */
static int
l_include(lua_State *L)
{
	size_t len;
	const char *path = luaL_checklstring(L, 1, &len), *why = path_problem(path, len);

	if (why)
		return fail(L, "include: '%s' %s: it must be a path inside the repository", shownat(L, 1), why);
	lua_getfield(L, lua_upvalueindex(1), path);
	if (lua_toboolean(L, -1))
		return 0;	/* each file once */
	lua_pushboolean(L, 1);
	lua_setfield(L, lua_upvalueindex(1), path);
	return run_file(L, path, lua_upvalueindex(2), "include: ");
}

static const char *const safe_globals[] = {
	"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber",
	"tostring", "type", "xpcall", "rawequal", "rawget", "rawlen", "rawset",
	"setmetatable", "getmetatable", "_VERSION", NULL,
};

static const char *const safe_libs[] = {"string", "table", "math", "utf8", NULL};

/* Build the environment a Kilnfile runs in; leaves it on the stack. */
static void
make_env(lua_State *L)
{
	static const luaL_Reg kiln_funcs[] = {
		{"target", l_target},
		{"config", l_config},
		{"fail", l_fail},
		{NULL, NULL},
	};
	int i;

	lua_newtable(L);
	for (i = 0; safe_globals[i]; i++) {
		lua_getglobal(L, safe_globals[i]);
		lua_setfield(L, -2, safe_globals[i]);
	}
	for (i = 0; safe_libs[i]; i++) {
		lua_getglobal(L, safe_libs[i]);
		lua_setfield(L, -2, safe_libs[i]);
	}
	/* No clock and no randomness: evaluation must be a pure function of the files. */
	lua_getfield(L, -1, "math");
	lua_pushnil(L);
	lua_setfield(L, -2, "random");
	lua_pushnil(L);
	lua_setfield(L, -2, "randomseed");
	lua_pop(L, 1);
	luaL_newlib(L, kiln_funcs);
	lua_pushliteral(L, KILN_VERSION);
	lua_setfield(L, -2, "version");
	lua_setfield(L, -2, "kiln");
	lua_pushvalue(L, -1);
	lua_setfield(L, -2, "_G");
	/* include: upvalue 1 the set of included files, 2 the environment. */
	lua_newtable(L);
	lua_pushvalue(L, -2);
	lua_pushcclosure(L, l_include, 2);
	lua_setfield(L, -2, "include");
}

static int
load_all(lua_State *L)
{
	struct eval *e = geteval(L);
	const struct kiln_rule_file *rf;
	int env;

	luaL_openlibs(L);
	lua_getglobal(L, "string");
	kiln_budget_wrap_patterns(L);
	lua_pop(L, 1);
	make_env(L);
	env = lua_gettop(L);
	for (rf = kiln_rule_files; rf->name; rf++) {
		char *chunk = xasprintf("=%s", rf->name);
		int r = luaL_loadbufferx(L, rf->text, rf->len, chunk, "t");

		free(chunk);
		if (r != LUA_OK)
			return lua_error(L);
		lua_pushvalue(L, env);
		lua_setupvalue(L, -2, 1);
		lua_call(L, 0, 0);
	}
	kiln_overrides_wrap_rules(L, env, e->g->overrides);
	/* The Kilnfile counts as included, so it cannot include itself. */
	lua_getfield(L, env, "include");
	lua_getupvalue(L, -1, 1);
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, e->path);
	lua_pop(L, 2);
	return run_file(L, e->path, env, "");
}

/* Print an evaluation error; control bytes in it (but newlines and tabs) are shown as "\xNN". */
static void
print_error(lua_State *L)
{
	size_t len, i;
	const char *msg = lua_tolstring(L, -1, &len);

	if (!msg) {
		fputs("error in the Kilnfile (no message)\n", stderr);
		return;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = msg[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			fprintf(stderr, "\\x%02X", c);
		else
			fputc(c, stderr);
	}
	fputc('\n', stderr);
}

/*
 * A target without a timeout of its own takes kiln.config's; a step with
 * neither still stops at KILN_STEP_TIMEOUT of wall-clock time, unless one
 * of them said "none" (-1 while evaluating).
 */
static void
apply_timeouts(struct kiln_graph *g, double cfg)
{
	size_t i;

	for (i = 0; i < g->ntargets; i++) {
		struct kiln_resources *res = &g->targets[i]->res;
		double d = res->timeout ? res->timeout : cfg;

		res->timeout = d > 0 ? d : 0;
		res->wall = d > 0 ? d : d < 0 ? 0 : KILN_STEP_TIMEOUT;
	}
}

/* Say which limit evaluation ran into, or print Lua's error. */
static void
report(lua_State *L, struct eval *e, int r)
{
	char size[32];

	if (r == LUA_ERRMEM && e->budget.refused) {
		format_size(size, sizeof(size), e->budget.max_mem);
		fprintf(stderr, "%s: evaluation exceeded its memory limit (%s); raise `eval_memory` in kiln.config\n",
		    e->budget.where[0] ? e->budget.where : e->path, size);
		return;
	}
	print_error(L);
}

int
kiln_kilnfile_load(struct kiln_graph *g, const char *path)
{
	struct eval e = {g, path, realpath(".", NULL), {0}, 0};
	lua_State *L;
	int r;

	if (!e.root)
		return error("cannot find the repository's folder:");
	e.budget.max_steps = KILN_EVAL_INSTRUCTIONS;
	e.budget.max_mem = KILN_EVAL_MEMORY;
	e.budget.fail = fail;
	e.budget.where_fn = userwhere;
	L = kiln_budget_newstate(&e.budget);
	if (!L)
		die("out of memory");
	lua_pushlightuserdata(L, &e);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &eval_key);
	lua_pushcfunction(L, load_all);
	r = lua_pcall(L, 0, 0, 0);
	if (r != LUA_OK)
		report(L, &e, r);
	else
		apply_timeouts(g, e.timeout);
	lua_close(L);
	free(e.root);
	if (r == LUA_OK)
		kiln_graph_merge_tools(g);
	return r == LUA_OK ? kiln_overrides_check_used(g->overrides) : -1;
}
