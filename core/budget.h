/*
 * budget: what evaluating a Kilnfile may spend — Lua instructions and memory.
 */
#ifndef KILN_BUDGET_H
#define KILN_BUDGET_H

#include <stddef.h>

typedef struct lua_State lua_State;

/* The defaults; kiln.config { eval_instructions = N, eval_memory = "SIZE" } changes them. */
#define KILN_EVAL_INSTRUCTIONS 500000000ULL
#define KILN_EVAL_MEMORY (1ULL << 30)

struct kiln_budget {
	unsigned long long steps;	/* instructions run, plus what pattern matching was charged */
	unsigned long long max_steps;
	size_t mem;			/* bytes the Lua state holds now */
	size_t max_mem;
	int over;			/* the instruction budget was passed: the hook raises at once from now on */
	int refused;			/* an allocation was refused */
	char where[256];		/* "FILE:LINE" of the user's frame when the last allocation was refused */
	char why[256];			/* what passed the instruction budget, when it was not plain Lua */
	lua_State *L;
	/* Raise "FILE:LINE: message" at the user's frame: the Kilnfile host's one error routine. */
	int (*fail)(lua_State *L, const char *fmt, ...);
	/* Write the user's frame as "FILE:LINE" into buf; 0 if there is none. */
	int (*where_fn)(lua_State *L, char *buf, size_t len);
};

/*
 * A new Lua state whose allocations count against b->max_mem and whose
 * instructions count against b->max_steps; NULL if out of memory. b must
 * outlive the state; fail and where_fn must be set.
 */
lua_State *kiln_budget_newstate(struct kiln_budget *b);

/*
 * Replace string.find, match, gmatch and gsub (in the string table on top
 * of the stack) by ones that charge the budget the worst-case work of the
 * match before it runs, since the count hook cannot fire inside C.
 */
void kiln_budget_wrap_patterns(lua_State *L);

/* The worst-case steps of matching pattern p (plen bytes) on a subject of n bytes. */
double kiln_budget_pattern_cost(const char *p, size_t plen, size_t n, int anchorable);

#endif
