/*
 * lock: Kilnfile.lock, the text record of a workspace's build that is meant
 * to be committed: each target's action key, each output's digest and size,
 * and its metrics, one fact a line, sorted, so a diff shows what changed.
 */
#ifndef KILN_LOCK_H
#define KILN_LOCK_H

#include <stdint.h>

struct kiln_digest;
struct kiln_graph;
struct kiln_state;

/* One key line (path NULL, size 0) or out line of a lock, as kiln_lock_parse reads it. */
typedef void kiln_lock_line_fn(void *arg, const char *target, const char *path,
	const struct kiln_digest *d, uint64_t size);

/* Write Kilnfile.lock from the state's records of g's targets, if its text changed; `force`: always. */
int kiln_lock_write(struct kiln_graph *g, struct kiln_state *st, int force);
/* Does Kilnfile.lock say what the state says? 1 yes; 0 no, with the first differing line printed. */
int kiln_lock_matches(struct kiln_graph *g, struct kiln_state *st);
/*
 * Read a lock's text (NUL-terminated; split in place): fn for each key and
 * out line, in file order; other lines are skipped. -1 without the
 * "kiln-lock 1" line.
 */
int kiln_lock_parse(char *text, kiln_lock_line_fn *fn, void *arg);

#endif
