/*
 * history: .kiln/history, the run history — one record per build that ran
 * or restored a target with metrics, for `kiln exp`.
 *
 * The file is a log like the state (wire_frame records after a 16-byte
 * header, "KILNHI\0\0" and a u32 version), appended with one write per
 * build, so a killed build leaves at most one torn record at the end; a
 * reader drops it and the next append cuts it off. A record (type 'R') is
 * in wire encoding (wire.h), so that reading 10,000 of them is a matter of
 * pointers into the file:
 *
 *	u64 run id, f64 start (realtime seconds), str start (ISO 8601, UTC),
 *	str git commit ("" outside a repository), u32 dirty,
 *	u32 count, then each -S override as given (str),
 *	u32 count, then per target: str name, str status, str key (hex),
 *	    str params (a JSON object, as the Kilnfile and -S gave them),
 *	    str param lines (Kilnfile.lock's: "NAME JSON\n" per leaf, nested names
 *	    joined with '.'), u32 count, then per metric: str name, f64 value.
 *
 * run ids count up from 1 and are never reused, even after `kiln exp gc`;
 * status is "ran", "restored" or "failed" (a failed step's metrics, when
 * it reported any before failing). `kiln exp show --json` prints all of it.
 */
#ifndef KILN_HISTORY_H
#define KILN_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "util.h"

struct kiln_run_param {
	const char *name;	/* dotted */
	const char *json;	/* its value as JSON */
};

struct kiln_run_target {
	const char *name;
	const char *status;	/* "ran", "restored", "failed" */
	const char *key;	/* the action key, hex */
	const char *params_json;	/* the params as one JSON object */
	const char *param_lines;	/* the same as Kilnfile.lock's param lines (writing) */
	struct kiln_run_param *params;	/* the leaves, in the lines' order (reading) */
	size_t nparams;
	struct kiln_metric *metrics;
	size_t nmetrics;
};

struct kiln_run {
	long long id;		/* set by kiln_history_append */
	double time;		/* when the build started, realtime seconds */
	const char *start;	/* the same in ISO 8601, UTC */
	const char *commit;	/* "" when not in a git repository */
	int dirty;		/* tracked files differed from the commit */
	const char **overrides;
	size_t noverrides;
	struct kiln_run_target *targets;
	size_t ntargets;
};

/* A history as read: its strings point into data, its arrays into arena. */
struct kiln_history {
	char *data;
	struct arena arena;
	struct kiln_run *runs;	/* oldest first */
	size_t n;
	size_t good;		/* bytes of the file up to the end of its last sound record */
	size_t dropped;		/* bytes after it: a torn or damaged tail, left out */
};

/* Read the history at path; a missing file is an empty one. -1 after reporting. */
int kiln_history_load(struct kiln_history *h, const char *path);
void kiln_history_release(struct kiln_history *h);
/* The run whose id is `id`, or NULL. */
const struct kiln_run *kiln_history_find(const struct kiln_history *h, long long id);
/* Append run, setting run->id to one more than the last record's; -1 after reporting. */
int kiln_history_append(const char *path, struct kiln_run *run);
/* Keep only the last `keep` runs (rewriting the file whole); the number removed, or -1. */
long long kiln_history_keep(const char *path, size_t keep);

#endif
