/*
 * build: deciding what is stale and bringing it up to date — the scheduler.
 *
 * One process, an event loop over child processes (kiln-run, one per step):
 * no threads around fork. A target is up to date when the state holds its
 * current action key and its outputs in kiln-out/<name>/ are unchanged; else
 * the cache is asked for the key; else the plugin runs. Keys are made from
 * content digests, so a step that writes the same bytes again does not make
 * its dependents stale.
 */
#ifndef KILN_BUILD_H
#define KILN_BUILD_H

#include "cache.h"
#include "graph.h"
#include "plugin.h"
#include "state.h"

struct kiln_build_opts {
	int jobs;		/* slots at once */
	int keep_going;		/* -k */
	int dry_run;		/* -n: say what would run and why */
	int sandbox;		/* 1 on (default), 0 --sandbox=off */
	const char *executor;	/* --executor; NULL: kiln.config's, else "local" */
	int verbose;
	int quiet;
};

struct kiln_ws {
	char *root;		/* absolute path of the workspace */
	struct kiln_graph graph;
	struct kiln_state state;
	struct kiln_cache cache;
	struct kiln_plugins plugins;
	struct kiln_remote *remote;	/* the shared remote cache, or NULL (see remote.h) */
	int lockfd;
};

/*
 * Open the workspace in the current folder: evaluate the Kilnfile, link the
 * graph, load the state, open the cache. `lock` takes the workspace lock
 * (waiting for another kiln that holds it). -1 after reporting.
 */
int kiln_ws_open(struct kiln_ws *ws, int lock);
void kiln_ws_close(struct kiln_ws *ws);

/* Build the wanted targets. Returns the exit status: 0, 1 (a step failed), 130/143 (interrupted). */
int kiln_build(struct kiln_ws *ws, const struct kiln_build_opts *opts);

/*
 * Without building: for each wanted target, whether it is stale and why.
 * Prints one line per stale target; returns the number stale, -1 on error.
 */
int kiln_status(struct kiln_ws *ws, int all);

/* `kiln why TARGET`: which components of the key changed since the last build. */
int kiln_why(struct kiln_ws *ws, const char *name);

/* Write Kilnfile.lock from the state if it changed; `force` always. */
int kiln_lock_write(struct kiln_ws *ws, int force);
/* Does Kilnfile.lock say what the state says? 1 yes, 0 no (reason printed). */
int kiln_lock_matches(struct kiln_ws *ws);

/*
 * Walk the wanted targets in dependency order without building, as `kiln
 * status` does: fn gets each target with its current key in ki and t->key,
 * and t->state KILN_T_DONE when it is up to date or the local cache has it
 * (t->mark then), or `blocker`, a dependency that would have to be built
 * first. fn may set a target KILN_T_DONE (with t->outdigest) itself. For
 * push, pull and verify.
 */
struct kiln_keyinfo;
typedef void kiln_assess_fn(void *arg, struct kiln_target *t, const struct kiln_keyinfo *ki,
    struct kiln_target *blocker);
int kiln_assess(struct kiln_ws *ws, kiln_assess_fn *fn, void *arg);
/* The digest of a target's outputs that its dependents' keys see. */
void kiln_outputs_digest(const struct kiln_file *files, size_t n, struct kiln_digest *out);

/* Shared by build.c and status.c. */

/* Load the wanted targets' plugins, check their params, resolve their sources; -1 after reporting. */
int kiln_prepare(struct kiln_ws *ws);
/* Point a ":target" input at its dependency's outputs, with their digest. */
void kiln_resolve_target_input(struct kiln_input *in);
/* Are the recorded outputs in kiln-out/ unchanged? *restat: a stat must be recorded anew. */
int kiln_outputs_intact(struct kiln_record *rec, int *restat);
/* Why a target must run, in b (and returned): the first component that changed. */
const char *kiln_stale_reason(struct kiln_ws *ws, struct kiln_target *t,
    const struct kiln_keyinfo *ki, struct buf *b);

#endif
