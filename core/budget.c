/*
 * budget: what evaluating a Kilnfile may spend.
 *
 * A Kilnfile is untrusted code that kiln runs on every build, so a loop
 * that never ends or a string that doubles forty times must end in an
 * error, not a hung or exhausted kiln. Two limits do it:
 *
 * - instructions: a count hook adds HOOK_EVERY to b->steps each time it
 *   fires and raises once the total passes b->max_steps. Once passed, the
 *   hook fires on every instruction, so a pcall in a loop cannot swallow
 *   the error and carry on.
 * - memory: the state's allocator counts the bytes Lua holds and refuses
 *   what would pass b->max_mem; Lua raises its memory error, after one
 *   emergency collection, and kiln reports the line it was refused at.
 *
 * Lua's pattern matcher runs in C, where the hook cannot fire, and a
 * pattern such as "a-a-a-a-b" backtracks for a time that grows as the
 * subject's length to the power of its repetitions. string.find, match,
 * gmatch and gsub are therefore wrapped: before the match runs, its worst
 * case (kiln_budget_pattern_cost) is charged to the instruction budget.
 * The charge is a bound, not the work done, so a long subject with many
 * repetitions is refused even where it would have matched quickly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lua.h>

#include "budget.h"
#include "util.h"

#define HOOK_EVERY 10000

/* A counting lua_Alloc: ud is the budget. */
static void *
budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct kiln_budget *b = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		b->mem -= old;
		return NULL;
	}
	if (nsize > old && nsize - old > b->max_mem - (b->mem < b->max_mem ? b->mem : b->max_mem)) {
		b->refused = 1;
		if (!b->L || !b->where_fn(b->L, b->where, sizeof(b->where)))
			b->where[0] = '\0';
		return NULL;
	}
	p = realloc(ptr, nsize);
	if (p)
		b->mem = b->mem - old + nsize;
	return p;
}

static int
budget_panic(lua_State *L)
{
	die("Lua: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "unprotected error");
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* Raise the instruction budget's error at the user's line. */
static int
raise_steps(lua_State *L, struct kiln_budget *b)
{
	char msg[512];

	/* From now on every instruction raises: a caught error comes back at once. */
	b->over = 1;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
	snprintf(msg, sizeof(msg), "evaluation exceeded its instruction budget (%llu instructions)%s%s; "
	    "raise `eval_instructions` in kiln.config", b->max_steps, b->why[0] ? ": " : "", b->why);
	return b->fail(L, "%s", msg);
}

/* The budget is the allocator's userdata: no stack slot, no allocation. */
static struct kiln_budget *
getbudget(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ud;
}

static void
count_hook(lua_State *L, lua_Debug *ar)
{
	struct kiln_budget *b = getbudget(L);

	(void)ar;
	if (!b->over)
		b->steps += HOOK_EVERY;
	if (b->over || b->steps > b->max_steps)
		raise_steps(L, b);
}

lua_State *
kiln_budget_newstate(struct kiln_budget *b)
{
	lua_State *L = lua_newstate(budget_alloc, b);

	if (!L)
		return NULL;
	b->L = L;
	lua_atpanic(L, budget_panic);
	lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
	return L;
}

/* The end of the single-character class at p (as lstrlib's classEnd), within [p, end). */
static const char *
class_end(const char *p, const char *end)
{
	if (p >= end)
		return end;
	if (*p == '%')
		return p + 2 <= end ? p + 2 : end;
	if (*p != '[')
		return p + 1;
	p++;
	if (p < end && *p == '^')
		p++;
	do {	/* the first ']' after '[' or '[^' is a member, not the end */
		if (p >= end)
			return end;
		if (*p == '%' && p + 1 < end)
			p++;
		p++;
	} while (p < end && *p != ']');
	return p < end ? p + 1 : end;
}

/*
 * Each repetition ('*', '+', '-') may try every length up to the subject's,
 * and every start position is tried unless the pattern is anchored: the
 * worst case is the product. '?' doubles it; a back-reference (%1) compares
 * up to n bytes. %b and %f do not backtrack.
 */
double
kiln_budget_pattern_cost(const char *p, size_t plen, size_t n, int anchorable)
{
	const char *end = p + plen, *next;
	double cost = 1, len = (double)n + 1;

	if (anchorable && p < end && *p == '^')
		p++;
	else
		cost = len;
	while (p < end && cost < 1e30) {
		if (*p == '%' && p + 1 < end && p[1] == 'b') {
			p = end - p > 4 ? p + 4 : end;
			continue;
		}
		if (*p == '%' && p + 1 < end && p[1] == 'f') {
			p = class_end(p + 2, end);
			continue;
		}
		if (*p == '%' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
			cost *= len;
		next = class_end(p, end);
		if (next < end && (*next == '*' || *next == '+' || *next == '-')) {
			cost *= len;
			next++;
		} else if (next < end && *next == '?') {
			cost *= 2;
			next++;
		}
		p = next;
	}
	return cost;
}

/* Is find's or match's pattern one Lua matches as plain text (lstrlib's nospecials)? */
static int
plain(lua_State *L, const char *p, size_t plen)
{
	if (lua_toboolean(L, 4))
		return 1;
	return strpbrk(p, "^$*+?.([%-") == NULL && strlen(p) == plen;
}

/* The wrapper: charge the worst case, then call the original (upvalue 1). */
static int
guarded(lua_State *L)
{
	struct kiln_budget *b = getbudget(L);
	const char *name = lua_tostring(L, lua_upvalueindex(2));
	size_t n, plen;
	const char *p;
	double cost;

	luaL_checklstring(L, 1, &n);
	p = luaL_checklstring(L, 2, &plen);
	cost = strcmp(name, "find") == 0 && plain(L, p, plen) ? (double)n + 1
	    : kiln_budget_pattern_cost(p, plen, n, strcmp(name, "gmatch") != 0);
	if (cost >= (double)(b->max_steps - (b->steps < b->max_steps ? b->steps : b->max_steps))) {
		snprintf(b->why, sizeof(b->why), "string.%s on a %zu-byte string with the pattern '%.40s%s' may take %.3g steps",
		    name, n, p, plen > 40 ? "…" : "", cost);
		return raise_steps(L, b);
	}
	b->steps += (unsigned long long)cost;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

void
kiln_budget_wrap_patterns(lua_State *L)
{
	static const char *const names[] = {"find", "match", "gmatch", "gsub", NULL};
	int i;

	for (i = 0; names[i]; i++) {
		lua_getfield(L, -1, names[i]);
		lua_pushstring(L, names[i]);
		lua_pushcclosure(L, guarded, 2);
		lua_setfield(L, -2, names[i]);
	}
}
