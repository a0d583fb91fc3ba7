/*
 * assess: what is stale and why, without building — the walk that
 * `kiln status`, `kiln why`, push, pull and verify share, and the reason
 * `kiln build -n` gives.
 */
#ifndef KILN_ASSESS_H
#define KILN_ASSESS_H

struct buf;
struct kiln_component;
struct kiln_keyinfo;
struct kiln_target;
struct kiln_workspace;

/*
 * Called for each wanted target in dependency order: ki is its current key
 * (NULL when it cannot be known: `blocker`, a dependency, would have to be
 * built first). t->state is KILN_T_DONE when it is up to date or the local
 * cache has it (t->mark 1 then), or when it is recorded remote-only with
 * its current key (--download=minimal; t->mark 2). fn may set a target KILN_T_DONE (with
 * t->outdigest) itself.
 */
typedef void kiln_assess_fn(void *arg, struct kiln_target *t, const struct kiln_keyinfo *ki,
    struct kiln_target *blocker);

/* Prepare the inputs (inputs.h), then walk the wanted targets; -1 after reporting. */
int kiln_assess_walk(struct kiln_workspace *ws, kiln_assess_fn *fn, void *arg);
/* Why t must run, in b (and returned): the first component of its key ki that changed. */
const char *kiln_assess_reason(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    struct buf *b);

/* "param 'x' changed", "tool 'site': numpy/version.py changed": how component was became now, in b. */
void kiln_assess_change(struct buf *b, const struct kiln_component *was, const struct kiln_component *now);

#endif
