/*
 * history: .kiln/history, the run history — one record per build that ran
 * or restored a target with metrics, for `kiln exp`.
 *
 * The file is a log like the state (wire_frame records after a 16-byte
 * header, "KILNHI\0\0" and a u32 version), appended with one write per
 * build, so a killed build leaves at most one torn record at the end; a
 * reader drops it and the next append cuts it off. Each record's payload
 * is one compact JSON object:
 *
 *	{"run": 12, "start": "2026-12-01T07:16:43Z", "time": 1796109403.25,
 *	 "git": {"commit": "<40 hex>", "dirty": false},   (absent outside a repository)
 *	 "overrides": ["m.lr=0.1"],
 *	 "targets": [{"target": "m", "status": "ran", "key": "<32 hex>",
 *	              "params": {...}, "metrics": {"accuracy": 0.93}}]}
 *
 * run ids count up from 1 and are never reused, even after `kiln exp gc`;
 * status is "ran", "restored" or "failed" (a failed step's metrics, when
 * it reported any before failing); params are the target's params as the
 * Kilnfile (and -S) gave them; metrics are flat, nested names joined by '.'.
 */
#ifndef KILN_HISTORY_H
#define KILN_HISTORY_H

#include <stddef.h>
#include <jansson.h>

struct kiln_history {
	json_t **runs;		/* the records, oldest first (owned) */
	size_t n;
	size_t good;		/* bytes of the file up to the end of its last sound record */
	size_t dropped;		/* bytes after it: a torn or damaged tail, left out */
};

/* Read the history at path; a missing file is an empty one. -1 after reporting. */
int kiln_history_load(struct kiln_history *h, const char *path);
void kiln_history_release(struct kiln_history *h);
/* The run whose id is `id`, or NULL. */
json_t *kiln_history_find(const struct kiln_history *h, long long id);
/* Append run, setting its "run" to one more than the last record's; -1 after reporting. */
int kiln_history_append(const char *path, json_t *run);
/* Keep only the last `keep` runs (rewriting the file whole); the number removed, or -1. */
long long kiln_history_keep(const char *path, size_t keep);

#endif
