/*
 * lock: Kilnfile.lock, the text record of a workspace's build that is meant
 * to be committed: each target's action key, each output's digest and size,
 * and its metrics, one fact a line, sorted, so a diff shows what changed.
 */
#ifndef KILN_LOCK_H
#define KILN_LOCK_H

#include <stdint.h>
#include <kiln/plugin.h>

#include "digest.h"

struct buf;
struct kiln_graph;
struct kiln_state;

/* What one line of a Kilnfile.lock says. */
enum kiln_lock_kind {
	KILN_LOCK_KEY,		/* the target's action key: d */
	KILN_LOCK_OUT,		/* an output: name (its path), d, size */
	KILN_LOCK_METRIC,	/* a metric: name, value */
	KILN_LOCK_PARAM,	/* a param: name (nested ones joined with '.'), text (JSON), value if a number */
	KILN_LOCK_UNSANDBOXED,	/* built with --sandbox=off */
};

struct kiln_lock_entry {
	char *target;
	int kind;		/* enum kiln_lock_kind */
	char *name;		/* unescaped; NULL for key and unsandboxed */
	char *text;		/* a param's value as JSON; NULL otherwise */
	struct kiln_digest d;
	uint64_t size;
	double value;
	int number;		/* value holds a number (metrics; params that are numbers) */
};

/* A Kilnfile.lock read back (all malloc'd), in its order: sorted by target. */
struct kiln_lockfile {
	struct kiln_lock_entry *v;
	size_t n;
};

/* Write Kilnfile.lock from the state's records of g's targets, if its text changed; `force`: always. */
int kiln_lock_write(struct kiln_graph *g, struct kiln_state *st, int force);
/* Does Kilnfile.lock say what the state says? 1 yes; 0 no, with the first differing line printed. */
int kiln_lock_matches(struct kiln_graph *g, struct kiln_state *st);
/* The text kiln_lock_write would write now, appended to b. */
void kiln_lock_text(struct kiln_graph *g, struct kiln_state *st, struct buf *b);
/* The params' part of a state record: "NAME JSON\n" per leaf, nested names joined with '.'. */
void kiln_lock_params(struct buf *b, const kiln_value *params);

/* Undo the escaping of a path, metric or param name of the lock, in place; returns s. */
char *kiln_lock_unescape(char *s);
/* Read lock text (len bytes); -1 if it is not a Kilnfile.lock. Lines it does not know are skipped. */
int kiln_lock_parse(struct kiln_lockfile *lf, const char *text, size_t len);
/* Read the file at path; -1 with errno set if it cannot be read (EINVAL: not a lock). */
int kiln_lock_read(struct kiln_lockfile *lf, const char *path);
void kiln_lockfile_release(struct kiln_lockfile *lf);

#endif
