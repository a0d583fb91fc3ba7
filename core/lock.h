/*
 * lock: Kilnfile.lock, the text record of a workspace's build that is meant
 * to be committed: each target's action key, each output's digest and size,
 * and its metrics, one fact a line, sorted, so a diff shows what changed.
 */
#ifndef KILN_LOCK_H
#define KILN_LOCK_H

struct kiln_graph;
struct kiln_state;

/* Write Kilnfile.lock from the state's records of g's targets, if its text changed; `force`: always. */
int kiln_lock_write(struct kiln_graph *g, struct kiln_state *st, int force);
/* Does Kilnfile.lock say what the state says? 1 yes; 0 no, with the first differing line printed. */
int kiln_lock_matches(struct kiln_graph *g, struct kiln_state *st);

#endif
