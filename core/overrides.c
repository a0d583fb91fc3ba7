/*
 * overrides: -S TARGET.FIELD=VALUE; see overrides.h.
 */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>

#include "overrides.h"
#include "util.h"

#define VALUE_STEPS 1000000	/* Lua instructions a value may take */
#define VALUE_BYTES (16 << 20)	/* and memory */

int
kiln_overrides_add(struct kiln_overrides *ov, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq - arg < 3 || !memchr(arg + 1, '.', eq - arg - 2) || eq[-1] == '.' || !eq[1])
		return error("-S %s: expected TARGET.FIELD=VALUE, such as -S model.lr=0.05", arg);
	ov->v = xreallocarray(ov->v, ov->n + 1, sizeof(*ov->v));
	ov->v[ov->n].text = xstrdup(arg);
	ov->v[ov->n++].used = 0;
	return 0;
}

void
kiln_overrides_release(struct kiln_overrides *ov)
{
	size_t i;

	for (i = 0; i < ov->n; i++)
		free(ov->v[i].text);
	free(ov->v);
	ov->v = NULL;
	ov->n = 0;
}

/* Is [s, end) names joined by '.' (letters, digits, '_'; not a digit first)? */
static int
valid_path(const char *s, const char *end)
{
	int first = 1;

	if (s == end)
		return 0;
	for (; s < end; s++) {
		int c = (unsigned char)*s, alpha = c == '_' || ((c | 32) >= 'a' && (c | 32) <= 'z');

		if (c == '.' && !first && s + 1 < end) {
			first = 1;
			continue;
		}
		if (!alpha && (first || c < '0' || c > '9'))
			return 0;
		first = 0;
	}
	return 1;
}

/* Does text set a field of `target`? Fills the field (flen bytes) and the value's source. */
static int
matches(const char *text, const char *target, const char **field, size_t *flen, const char **value)
{
	size_t n = strlen(target);
	const char *eq;

	if (strncmp(text, target, n) != 0 || text[n] != '.')
		return 0;
	eq = strchr(text + n + 1, '=');
	if (!eq || !valid_path(text + n + 1, eq))
		return 0;
	*field = text + n + 1;
	*flen = eq - *field;
	*value = eq + 1;
	return 1;
}

/* Raise "-S TEXT: message". */
__attribute__((format(printf, 3, 4))) static int
fail(lua_State *L, const char *text, const char *fmt, ...)
{
	va_list ap;

	lua_pushfstring(L, "-S %s: ", text);
	va_start(ap, fmt);
	lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	lua_concat(L, 2);
	return lua_error(L);
}

/* What a value's evaluation may still allocate. */
struct budget {
	lua_Alloc f;
	void *ud;
	long long left;
};

static void *
limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct budget *b = ud;
	long long grow = (long long)nsize - (ptr ? (long long)osize : 0);

	if (grow > 0 && grow > b->left)
		return NULL;
	b->left -= grow;
	return b->f(b->ud, ptr, osize, nsize);
}

static void
too_long(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	luaL_error(L, "it takes too long to compute");
}

/* Is the value at idx a literal: a number, string, boolean, or a plain table of them? */
static int
literal(lua_State *L, int idx, int depth)
{
	int ok = 1;

	idx = lua_absindex(L, idx);
	switch (lua_type(L, idx)) {
	case LUA_TNUMBER:
	case LUA_TSTRING:
	case LUA_TBOOLEAN:
		return 1;
	case LUA_TTABLE:
		if (depth > 32)
			return 0;
		if (lua_getmetatable(L, idx)) {
			lua_pop(L, 1);
			return 0;
		}
		lua_pushnil(L);
		while (ok && lua_next(L, idx)) {
			ok = (lua_type(L, -2) == LUA_TSTRING || lua_type(L, -2) == LUA_TNUMBER) && literal(L, -1, depth + 1);
			lua_pop(L, 1);
		}
		if (!ok)
			lua_pop(L, 1);
		return ok;
	default:
		return 0;
	}
}

/*
 * Push the value `src` (the text after '='): "return SRC" run with an empty
 * environment, without the string library's methods, within VALUE_STEPS
 * instructions and VALUE_BYTES of memory.
 */
static void
push_value(lua_State *L, const char *text, const char *src)
{
	struct budget b = {NULL, NULL, VALUE_BYTES};
	lua_Hook hook = lua_gethook(L);
	int mask = lua_gethookmask(L), count = lua_gethookcount(L), r, hasmt;
	char *code = xasprintf("return %s", src);

	r = luaL_loadbufferx(L, code, strlen(code), "=value", "t");
	free(code);
	if (r != LUA_OK)
		fail(L, text, "'%s' is not a Lua value (%s)", src, lua_tostring(L, -1));
	lua_newtable(L);
	lua_setupvalue(L, -2, 1);
	lua_pushliteral(L, "");
	hasmt = lua_getmetatable(L, -1);
	if (hasmt) {
		lua_pushnil(L);
		lua_setmetatable(L, -3);
	}
	lua_pushvalue(L, hasmt ? -3 : -2);	/* the chunk */
	b.f = lua_getallocf(L, &b.ud);
	lua_setallocf(L, limited_alloc, &b);
	lua_sethook(L, too_long, LUA_MASKCOUNT, VALUE_STEPS);
	r = lua_pcall(L, 0, 1, 0);
	lua_sethook(L, hook, mask, count);
	lua_setallocf(L, b.f, b.ud);
	if (hasmt) {
		lua_pushvalue(L, -2);
		lua_setmetatable(L, -4);
	}
	if (r != LUA_OK)
		fail(L, text, "'%s' cannot be read: %s", src, lua_tostring(L, -1));
	if (lua_isnil(L, -1))
		fail(L, text, "'%s' is not a value (a string needs quotes, as in -S 'T.F=\"%s\"')", src, src);
	if (!literal(L, -1, 0))
		fail(L, text, "'%s' is not a number, string, boolean or table of them", src);
	lua_replace(L, hasmt ? -4 : -3);
	lua_settop(L, lua_gettop(L) - (hasmt ? 2 : 1));
}

/* Replace the table at idx by a shallow copy of it. */
static void
copy_table(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_newtable(L);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -4);
	}
	lua_replace(L, idx);
}

/* Set field (flen bytes, dotted) of the table at tbl, copying each table on the way. */
static void
set_path(lua_State *L, int tbl, const char *field, size_t flen, const char *text, const char *src)
{
	const char *dot = memchr(field, '.', flen);
	size_t n = dot ? (size_t)(dot - field) : flen;

	lua_pushlstring(L, field, n);
	if (!dot) {
		push_value(L, text, src);
		lua_rawset(L, tbl);
		return;
	}
	lua_pushvalue(L, -1);
	lua_rawget(L, tbl);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
	} else if (lua_istable(L, -1)) {
		copy_table(L, -1);
	} else {
		fail(L, text, "field '%s' is a %s, not a table", lua_tostring(L, -2), luaL_typename(L, -1));
	}
	set_path(L, lua_gettop(L), dot + 1, flen - n - 1, text, src);
	lua_rawset(L, tbl);
}

void
kiln_overrides_apply(lua_State *L, struct kiln_overrides *ov, const char *target, int idx)
{
	const char *field, *src;
	size_t i, flen;
	int copied = 0;

	if (!ov || !lua_istable(L, idx))
		return;
	idx = lua_absindex(L, idx);
	for (i = 0; i < ov->n; i++) {
		if (ov->v[i].used || !matches(ov->v[i].text, target, &field, &flen, &src))
			continue;
		if (!copied++)
			copy_table(L, idx);
		ov->v[i].used = 1;
		set_path(L, idx, field, flen, ov->v[i].text, src);
	}
}

/* Are there overrides of target not yet taken? */
static int
pending(const struct kiln_overrides *ov, const char *target)
{
	const char *field, *src;
	size_t i, flen;

	for (i = 0; i < ov->n; i++)
		if (!ov->v[i].used && matches(ov->v[i].text, target, &field, &flen, &src))
			return 1;
	return 0;
}

/*
 * The table-taking function a wrapped rule returned. Upvalues: the rule's
 * function, the target's name, the overrides. An error the rule raises
 * names the overrides it was given.
 */
static int
l_rule_args(lua_State *L)
{
	struct kiln_overrides *ov = lua_touserdata(L, lua_upvalueindex(3));
	const char *name = lua_tostring(L, lua_upvalueindex(2));
	int n = lua_gettop(L);
	size_t i, k = 0;

	if (n >= 1)
		kiln_overrides_apply(L, ov, name, 1);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	if (lua_pcall(L, n, LUA_MULTRET, 0) == LUA_OK)
		return lua_gettop(L);
	if (lua_type(L, -1) != LUA_TSTRING)
		return lua_error(L);
	lua_pushliteral(L, " (with");
	for (i = 0; i < ov->n; i++) {
		const char *field, *src;
		size_t flen;

		if (matches(ov->v[i].text, name, &field, &flen, &src)) {
			lua_pushfstring(L, "%s -S %s", k++ ? "," : "", ov->v[i].text);
		}
	}
	lua_pushliteral(L, ")");
	lua_concat(L, (int)k + 3);
	return lua_error(L);
}

/* A wrapped rule: upvalue 1 the rule, 2 the overrides. */
static int
l_rule(lua_State *L)
{
	struct kiln_overrides *ov = lua_touserdata(L, lua_upvalueindex(2));
	int n = lua_gettop(L);
	const char *name = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, n, LUA_MULTRET);
	/* The name is still referenced by the caller's frame below: no copy needed. */
	if (lua_gettop(L) < 1 || !lua_isfunction(L, 1) || !name || !pending(ov, name))
		return lua_gettop(L);
	lua_settop(L, 1);
	lua_pushstring(L, name);
	lua_pushlightuserdata(L, ov);
	lua_pushcclosure(L, l_rule_args, 3);
	return 1;
}

void
kiln_overrides_wrap_rules(lua_State *L, int env, struct kiln_overrides *ov)
{
	if (!ov || !ov->n)
		return;
	env = lua_absindex(L, env);
	lua_pushnil(L);
	while (lua_next(L, env)) {
		int rule = lua_isfunction(L, -1) && lua_type(L, -2) == LUA_TSTRING &&
		    strcmp(lua_tostring(L, -2), "include") != 0;

		if (rule) {
			/* Functions of the standard library are the same values as its globals. */
			lua_getglobal(L, lua_tostring(L, -2));
			rule = !lua_rawequal(L, -1, -2);
			lua_pop(L, 1);
		}
		if (rule) {
			lua_pushvalue(L, -2);
			lua_insert(L, -2);
			lua_pushlightuserdata(L, ov);
			lua_pushcclosure(L, l_rule, 2);
			lua_rawset(L, env);	/* an existing key: allowed while traversing */
		} else {
			lua_pop(L, 1);
		}
	}
}

int
kiln_overrides_check_used(const struct kiln_overrides *ov)
{
	size_t i;

	for (i = 0; ov && i < ov->n; i++)
		if (!ov->v[i].used)
			return error("-S %s: no target '%.*s' in the Kilnfile", ov->v[i].text,
			    (int)strcspn(ov->v[i].text, "."), ov->v[i].text);
	return 0;
}

const char *
kiln_overrides_find(const struct kiln_overrides *ov, const char *target, const char *param)
{
	const char *field, *src;
	size_t i, flen, n = strlen(param);

	for (i = 0; ov && i < ov->n; i++) {
		if (!matches(ov->v[i].text, target, &field, &flen, &src))
			continue;
		if (flen > 7 && strncmp(field, "params.", 7) == 0) {
			field += 7;
			flen -= 7;
		}
		if (flen >= n && strncmp(field, param, n) == 0 && (flen == n || field[n] == '.'))
			return ov->v[i].text;
	}
	return NULL;
}
