/*
 * scheduler: the scheduler — deciding what is stale and bringing it up to date.
 *
 * One process, an event loop over child processes (one per step, see
 * job.h): no threads around fork. A target is up to date when the state
 * holds its current action key and its outputs in kiln-out/<name>/ are
 * unchanged; else the cache (local, then remote) is asked for the key; else
 * its step runs. Keys are made from content digests, so a step that writes
 * the same bytes again does not make its dependents stale.
 */
#ifndef KILN_SCHEDULER_H
#define KILN_SCHEDULER_H

struct kiln_workspace;

struct kiln_build_opts {
	int jobs;		/* slots at once (-j) */
	int keep_going;		/* -k: go on past a failed step */
	int dry_run;		/* -n: say what would run and why */
	int sandbox;		/* 1 on (default), 0 --sandbox=off */
	const char *executor;	/* --executor; NULL: kiln.config's, else "local" */
	int verbose;		/* say what is restored */
	int quiet;		/* no progress, no summary */
	int download_minimal;	/* --download=minimal: leave in the remote what no step here needs */
};

/*
 * Build the wanted targets of ws's graph. The exit status: 0, 1 (a step
 * failed), 2 (nothing could start: a bad plugin, param or source),
 * 128+signal (interrupted: every step stopped, nothing partial kept).
 */
int kiln_scheduler_build(struct kiln_workspace *ws, const struct kiln_build_opts *opts);

#endif
