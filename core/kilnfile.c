/*
 * kilnfile: evaluates a Kilnfile into a graph.
 *
 * The Kilnfile runs in its own environment with only the safe parts of the
 * standard library (no io, os, load of arbitrary files, clock or random), so
 * evaluating it is a pure function of the repository's files and two
 * machines get the same graph. The rule library is loaded into the same
 * environment first; every rule ends in kiln.target, which copies the
 * target into the graph's arena.
 */
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "kilnfile.h"
#include "rules.h"
#include "value.h"

#define RULE_PREFIX "=rules/"

/* The graph being filled, kept in the Lua registry under this key. */
static const char graph_key = 'g';

static struct kiln_graph *
getgraph(lua_State *L)
{
	struct kiln_graph *g;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &graph_key);
	g = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return g;
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

	for (level = 1; lua_getstack(L, level, &ar); level++) {
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

/* kiln.fail(message): a rule's error, reported at the user's line. */
static int
l_fail(lua_State *L)
{
	return fail(L, "%s", luaL_checkstring(L, 1));
}

static int
valid_name(const char *s)
{
	const char *p;

	if (!*s || *s == '.' || *s == '-')
		return 0;
	for (p = s; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
			*p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

struct reader {
	lua_State *L;
	struct kiln_graph *g;
	const char *target;	/* for messages */
};

/* Convert the Lua value at `idx` into v; `what` names it in errors. */
static void
tovalue(struct reader *r, int idx, kiln_value *v, const char *what, int depth)
{
	lua_State *L = r->L;
	struct arena *a = &r->g->arena;
	size_t n, i, len;
	const char *s;

	idx = lua_absindex(L, idx);
	if (depth > 32)
		fail(L, "target '%s': %s: nested too deeply", r->target, what);
	switch (lua_type(L, idx)) {
	case LUA_TBOOLEAN:
		v->type = KILN_BOOL;
		v->u.b = lua_toboolean(L, idx);
		return;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			v->type = KILN_INT;
			v->u.i = lua_tointeger(L, idx);
		} else {
			v->type = KILN_NUMBER;
			v->u.n = lua_tonumber(L, idx);
		}
		return;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		v->type = KILN_STRING;
		v->u.str.s = arena_strndup(a, s, len);
		v->u.str.len = len;
		return;
	case LUA_TTABLE:
		break;
	default:
		fail(L, "target '%s': %s: a %s cannot be a param", r->target, what, luaL_typename(L, idx));
	}
	/* A table with keys 1..n only is a list; with string keys only, a map. */
	n = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n++;
		lua_pop(L, 1);
	}
	if (n == lua_rawlen(L, idx)) {
		kiln_value *items = arena_alloc(a, n * sizeof(*items));

		for (i = 0; i < n; i++) {
			lua_rawgeti(L, idx, (lua_Integer)i + 1);
			tovalue(r, -1, &items[i], what, depth + 1);
			lua_pop(L, 1);
		}
		v->type = KILN_LIST;
		v->u.seq.n = n;
		v->u.seq.items = items;
		v->u.seq.keys = NULL;
		return;
	}
	{
		kiln_value *items = arena_alloc(a, n * sizeof(*items));
		const char **keys = arena_alloc(a, n * sizeof(*keys));

		i = 0;
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			if (lua_type(L, -2) != LUA_TSTRING)
				fail(L, "target '%s': %s: a table mixes list items and named fields",
				    r->target, what);
			keys[i] = arena_strdup(a, lua_tostring(L, -2));
			tovalue(r, -1, &items[i], what, depth + 1);
			lua_pop(L, 1);
			i++;
		}
		v->type = KILN_MAP;
		v->u.seq.n = n;
		v->u.seq.items = items;
		v->u.seq.keys = keys;
		kiln_value_sort_map(v);
	}
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

static void
read_inputs(struct reader *r, struct kiln_target *t, int idx)
{
	lua_State *L = r->L;
	size_t n = 0, i = 0;

	if (lua_isnil(L, idx))
		return;
	if (!lua_istable(L, idx))
		fail(L, "target '%s': field 'inputs': expected a table of name = path, got %s",
		    t->name, luaL_typename(L, idx));
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n++;
		lua_pop(L, 1);
	}
	t->inputs = arena_alloc(&r->g->arena, n * sizeof(*t->inputs));
	memset(t->inputs, 0, n * sizeof(*t->inputs));
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		struct kiln_input *in = &t->inputs[i++];
		const char *name, *spec;

		if (lua_type(L, -2) != LUA_TSTRING || !valid_name(lua_tostring(L, -2)))
			fail(L, "target '%s': field 'inputs': each input needs a name (letters, digits, _), as in { data = \"data.csv\" }",
			    t->name);
		name = lua_tostring(L, -2);
		if (lua_type(L, -1) != LUA_TSTRING)
			fail(L, "target '%s': input '%s': expected a path or \":target\", got %s", t->name,
			    name, luaL_typename(L, -1));
		spec = lua_tostring(L, -1);
		in->name = arena_strdup(&r->g->arena, name);
		in->spec = arena_strdup(&r->g->arena, spec);
		if (spec[0] == ':') {
			if (!valid_name(spec + 1))
				fail(L, "target '%s': input '%s': '%s' is not a valid target name", t->name,
				    name, spec);
			in->kind = KILN_INPUT_TARGET;
		} else {
			if (!path_is_safe_relative(spec))
				fail(L, "target '%s': input '%s': '%s' must be a path inside the workspace (relative, without '..')",
				    t->name, name, spec);
			in->kind = strpbrk(spec, "*?[") ? KILN_INPUT_GLOB : KILN_INPUT_PATH;
		}
		lua_pop(L, 1);
	}
	t->ninputs = n;
	sort(t->inputs, n, sizeof(*t->inputs), cmp_input);
}

static void
read_outputs(struct reader *r, struct kiln_target *t, int idx)
{
	lua_State *L = r->L;
	size_t n, i;

	if (lua_isnil(L, idx))
		fail(L, "target '%s': field 'outputs' is missing: declare the files the step writes", t->name);
	if (!lua_istable(L, idx))
		fail(L, "target '%s': field 'outputs': expected a list of paths, got %s", t->name,
		    luaL_typename(L, idx));
	n = lua_rawlen(L, idx);
	t->outputs = arena_alloc(&r->g->arena, n * sizeof(*t->outputs));
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			fail(L, "target '%s': field 'outputs': item %zu: expected a path, got %s", t->name,
			    i + 1, luaL_typename(L, -1));
		if (!path_is_safe_relative(lua_tostring(L, -1)))
			fail(L, "target '%s': output '%s' must be a relative path without '..'", t->name,
			    lua_tostring(L, -1));
		t->outputs[i] = arena_strdup(&r->g->arena, lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	t->noutputs = n;
	sort(t->outputs, n, sizeof(*t->outputs), cmp_str);
	for (i = 1; i < n; i++)
		if (strcmp(t->outputs[i - 1], t->outputs[i]) == 0)
			fail(L, "target '%s': output '%s' is declared twice", t->name, t->outputs[i]);
	if (n == 0)
		fail(L, "target '%s': field 'outputs': declare at least one output", t->name);
}

static void
read_env(struct reader *r, struct kiln_target *t, int idx)
{
	lua_State *L = r->L;
	size_t n = 0, i = 0;

	if (lua_isnil(L, idx))
		return;
	if (!lua_istable(L, idx))
		fail(L, "target '%s': field 'env': expected a list of variable names, got %s", t->name,
		    luaL_typename(L, idx));
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n++;
		lua_pop(L, 1);
	}
	t->env = arena_alloc(&r->g->arena, n * sizeof(*t->env));
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		struct kiln_env *e = &t->env[i++];

		if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TSTRING) {
			e->name = arena_strdup(&r->g->arena, lua_tostring(L, -1));
			e->value = NULL;
		} else if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
			e->name = arena_strdup(&r->g->arena, lua_tostring(L, -2));
			e->value = arena_strdup(&r->g->arena, lua_tostring(L, -1));
		} else {
			fail(L, "target '%s': field 'env': expected \"NAME\" or NAME = \"value\"", t->name);
		}
		if (!valid_name(e->name) || strchr(e->name, '.') || strchr(e->name, '-'))
			fail(L, "target '%s': field 'env': '%s' is not a variable name", t->name, e->name);
		lua_pop(L, 1);
	}
	t->nenv = n;
	sort(t->env, n, sizeof(*t->env), cmp_env);
	for (i = 1; i < n; i++)
		if (strcmp(t->env[i - 1].name, t->env[i].name) == 0)
			fail(L, "target '%s': field 'env': '%s' is declared twice", t->name, t->env[i].name);
}

static long long
res_int(struct reader *r, const char *target, const char *key, int idx, long long min)
{
	lua_State *L = r->L;

	if (!lua_isinteger(L, idx) || lua_tointeger(L, idx) < min)
		fail(L, "target '%s': resources.%s: expected an integer of at least %lld", target, key, min);
	return lua_tointeger(L, idx);
}

static void
read_resources(struct reader *r, struct kiln_target *t, int idx)
{
	lua_State *L = r->L;
	const char *key;

	t->res.cpus = 1;
	t->res.threads = 0;
	if (lua_isnil(L, idx))
		goto done;
	if (!lua_istable(L, idx))
		fail(L, "target '%s': field 'resources': expected a table, got %s", t->name,
		    luaL_typename(L, idx));
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			fail(L, "target '%s': field 'resources': expected named fields", t->name);
		key = lua_tostring(L, -2);
		if (strcmp(key, "cpus") == 0) {
			t->res.cpus = res_int(r, t->name, key, -1, 1);
		} else if (strcmp(key, "threads") == 0) {
			t->res.threads = res_int(r, t->name, key, -1, 1);
		} else if (strcmp(key, "gpus") == 0) {
			t->res.gpus = res_int(r, t->name, key, -1, 0);
		} else if (strcmp(key, "mem") == 0) {
			t->res.mem = lua_type(L, -1) == LUA_TSTRING ? parse_size(lua_tostring(L, -1))
			    : lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
			if (t->res.mem <= 0)
				fail(L, "target '%s': resources.mem: expected a size such as \"2G\" or \"512M\"", t->name);
		} else if (strcmp(key, "timeout") == 0) {
			t->res.timeout = lua_type(L, -1) == LUA_TSTRING ? parse_duration(lua_tostring(L, -1))
			    : lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1;
			if (t->res.timeout <= 0)
				fail(L, "target '%s': resources.timeout: expected a duration such as \"30m\", \"90s\" or \"2h\"", t->name);
		} else {
			fail(L, "target '%s': field 'resources': unknown resource '%s' (cpus, threads, gpus, mem, timeout)",
			    t->name, key);
		}
		lua_pop(L, 1);
	}
done:
	if (!t->res.threads)
		t->res.threads = t->res.cpus;
}

static const char *const target_fields[] = {
	"name", "plugin", "inputs", "params", "outputs", "env", "resources", "network", NULL,
};

/* kiln.target { name, plugin, inputs, params, outputs, env, resources, network } */
static int
l_target(lua_State *L)
{
	struct reader r = {L, getgraph(L), "?"};
	struct kiln_target *t;
	const char *name, *file;
	int i, line;

	if (!lua_istable(L, 1))
		return fail(L, "kiln.target: expected a table of fields, got %s", luaL_typename(L, 1));
	lua_settop(L, 1);
	lua_getfield(L, 1, "name");
	if (lua_type(L, -1) != LUA_TSTRING)
		return fail(L, "kiln.target: field 'name': expected a string, got %s", luaL_typename(L, -1));
	name = lua_tostring(L, -1);
	if (!valid_name(name))
		return fail(L, "target '%s': the name may hold only letters, digits, '_', '-' and '.'", name);
	r.target = name;
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;

		for (i = 0; k && target_fields[i] && strcmp(k, target_fields[i]) != 0; i++)
			;
		if (!k || !target_fields[i])
			return fail(L, "target '%s': unknown field '%s' (expected one of name, plugin, inputs, params, outputs, env, resources, network)",
			    name, k ? k : luaL_typename(L, -2));
		lua_pop(L, 1);
	}
	if (!userframe(L, &file, &line)) {
		file = "?";
		line = 0;
	}
	t = kiln_graph_add(r.g, name);
	if (!t) {
		struct kiln_target *old = kiln_graph_find(r.g, name);

		return fail(L, "target '%s' is already declared at %s:%d", name, old->file, old->line);
	}
	t->file = arena_strdup(&r.g->arena, file);
	t->line = line;
	lua_getfield(L, 1, "plugin");	/* 3 */
	if (lua_type(L, 3) != LUA_TSTRING || !valid_name(lua_tostring(L, 3)))
		return fail(L, "target '%s': field 'plugin': expected a plugin name, got %s", name,
		    luaL_typename(L, 3));
	t->plugin = arena_strdup(&r.g->arena, lua_tostring(L, 3));
	lua_getfield(L, 1, "inputs");	/* 4 */
	read_inputs(&r, t, 4);
	lua_getfield(L, 1, "params");	/* 5 */
	t->params = arena_alloc(&r.g->arena, sizeof(*t->params));
	if (lua_isnil(L, 5)) {
		*t->params = (kiln_value){.type = KILN_MAP};
	} else {
		if (!lua_istable(L, 5))
			return fail(L, "target '%s': field 'params': expected a table, got %s", name,
			    luaL_typename(L, 5));
		tovalue(&r, 5, t->params, "field 'params'", 0);
		if (t->params->type == KILN_LIST && t->params->u.seq.n == 0)
			*t->params = (kiln_value){.type = KILN_MAP};
		if (t->params->type != KILN_MAP)
			return fail(L, "target '%s': field 'params': expected named params", name);
	}
	lua_getfield(L, 1, "outputs");	/* 6 */
	read_outputs(&r, t, 6);
	lua_getfield(L, 1, "env");	/* 7 */
	read_env(&r, t, 7);
	lua_getfield(L, 1, "resources");	/* 8 */
	read_resources(&r, t, 8);
	lua_getfield(L, 1, "network");	/* 9 */
	if (!lua_isnil(L, 9) && !lua_isboolean(L, 9))
		return fail(L, "target '%s': field 'network': expected true or false, got %s", name,
		    luaL_typename(L, 9));
	t->network = lua_toboolean(L, 9);
	return 0;
}

/* kiln.config { remote = URL, executor = NAME, slurm = { … } } */
static int
l_config(lua_State *L)
{
	struct kiln_graph *g = getgraph(L);
	const char *file;
	int line;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (g->config.file)
		return fail(L, "kiln.config is already called at %s:%d", g->config.file, g->config.line);
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

		if (strcmp(k, "remote") == 0 || strcmp(k, "executor") == 0) {
			if (lua_type(L, -1) != LUA_TSTRING)
				return fail(L, "kiln.config: field '%s': expected a string", k);
			if (k[0] == 'r')
				g->config.remote = arena_strdup(&g->arena, lua_tostring(L, -1));
			else
				g->config.executor = arena_strdup(&g->arena, lua_tostring(L, -1));
		} else if (strcmp(k, "slurm") == 0) {
			struct reader r = {L, g, "kiln.config"};
			kiln_value *v = arena_alloc(&g->arena, sizeof(*v));

			if (lua_type(L, -1) != LUA_TTABLE)
				return fail(L, "kiln.config: field 'slurm': expected a table");
			tovalue(&r, -1, v, "field 'slurm'", 0);
			g->config.slurm = v;
		} else {
			return fail(L, "kiln.config: unknown field '%s' (remote, executor, slurm)", k);
		}
		lua_pop(L, 1);
	}
	if (userframe(L, &file, &line)) {
		g->config.file = arena_strdup(&g->arena, file);
		g->config.line = line;
	} else {
		g->config.file = "?";
	}
	return 0;
}

static int
run_file(lua_State *L, const char *path, int env)
{
	char *chunk = xasprintf("@%s", path);
	size_t len;
	char *text = read_file(path, &len);
	int r;

	if (!text) {
		free(chunk);
		return luaL_error(L, "cannot read %s: %s", path, strerror(errno));
	}
	{
		struct kiln_graph *g = getgraph(L);

		g->sources = xreallocarray(g->sources, g->nsources + 1, sizeof(*g->sources));
		g->sources[g->nsources++] = arena_strdup(&g->arena, path);
	}
	r = luaL_loadbufferx(L, text, len, chunk, "t");
	free(text);
	free(chunk);
	if (r != LUA_OK)
		return lua_error(L);
	lua_pushvalue(L, env);
	lua_setupvalue(L, -2, 1);
	lua_call(L, 0, 0);
	return 0;
}

/* include "path.lua": run another Lua file of the repository in this environment. */
static int
l_include(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	if (!path_is_safe_relative(path))
		return fail(L, "include: '%s' must be a path inside the repository", path);
	lua_getfield(L, lua_upvalueindex(1), path);
	if (lua_toboolean(L, -1))
		return 0;	/* each file once */
	lua_pushboolean(L, 1);
	lua_setfield(L, lua_upvalueindex(1), path);
	if (access(path, R_OK) < 0)
		return fail(L, "include: cannot read '%s': %s", path, strerror(errno));
	return run_file(L, path, lua_upvalueindex(2));
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
	const char *path = lua_touserdata(L, 1);
	const struct kiln_rule_file *rf;
	int env;

	luaL_openlibs(L);
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
	/* The Kilnfile counts as included, so it cannot include itself. */
	lua_getfield(L, env, "include");
	lua_getupvalue(L, -1, 1);
	lua_pushboolean(L, 1);
	lua_setfield(L, -2, path);
	lua_pop(L, 2);
	return run_file(L, path, env);
}

int
kiln_kilnfile_load(struct kiln_graph *g, const char *path)
{
	lua_State *L = luaL_newstate();
	int r;

	if (!L)
		die("out of memory");
	lua_pushlightuserdata(L, g);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &graph_key);
	lua_pushcfunction(L, load_all);
	lua_pushlightuserdata(L, (void *)path);
	r = lua_pcall(L, 1, 0, 0);
	if (r != LUA_OK) {
		const char *msg = lua_tostring(L, -1);

		fprintf(stderr, "%s\n", msg ? msg : "error in the Kilnfile (no message)");
		lua_close(L);
		return -1;
	}
	lua_close(L);
	return 0;
}
