/*
 * overrides: `kiln build -S TARGET.FIELD=VALUE`, a field of a target set from
 * the command line as if the Kilnfile said so.
 *
 * VALUE is a Lua literal (number, string, boolean or a table of those),
 * evaluated with an empty environment, no string methods and small
 * instruction and memory limits. The override is applied to the table the
 * Kilnfile hands the target's rule (`model "m" { lr = 0.1 }`: -S m.lr=0.2),
 * so the rule checks it as it checks the file; a target declared with
 * kiln.target directly gets it on kiln.target's table instead. A dotted
 * FIELD (`params.lr`) reaches into nested tables, which are copied, never
 * changed in place: a table shared by a loop's targets stays as it was.
 */
#ifndef KILN_OVERRIDES_H
#define KILN_OVERRIDES_H

#include <stddef.h>

struct lua_State;

struct kiln_override {
	char *text;	/* "m.lr=0.1" as given (malloc'd) */
	int used;	/* a target took it during evaluation */
};

struct kiln_overrides {
	struct kiln_override *v;
	size_t n;
};

/* Add one -S argument; -1 (reported) if it is not TARGET.FIELD=VALUE. */
int kiln_overrides_add(struct kiln_overrides *ov, const char *arg);
void kiln_overrides_release(struct kiln_overrides *ov);

/*
 * Wrap every rule function of the Kilnfile environment at index env (the
 * globals the rule library defined), so that `rule "name" { … }` sees the
 * overrides of "name". Nothing when ov is empty.
 */
void kiln_overrides_wrap_rules(struct lua_State *L, int env, struct kiln_overrides *ov);
/*
 * Replace the table at index idx by a copy with the overrides of `target`
 * that no rule took yet (for kiln.target). Raises a Lua error for a value
 * that is not a literal or a path through a non-table.
 */
void kiln_overrides_apply(struct lua_State *L, struct kiln_overrides *ov, const char *target, int idx);
/* After evaluation: -1 (reported) if an override named no declared target. */
int kiln_overrides_check_used(const struct kiln_overrides *ov);
/*
 * The override of `target` that sets param `param` (its first field, or
 * the one after "params."), or NULL: for `kiln why`.
 */
const char *kiln_overrides_find(const struct kiln_overrides *ov, const char *target, const char *param);

#endif
