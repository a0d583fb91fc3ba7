/*
 * outputs: a target's outputs in kiln-out/<name>/ — checking them, putting
 * a step's or the cache's in place, and recording them in the state.
 *
 * A step writes into .kiln/tmp/<name>/out/, a folder it controls; only its
 * declared outputs are kept, each stored in the cache and moved into a
 * fresh folder that then replaces kiln-out/<name>/ in one rename, so a
 * reader never sees a mix of old and new outputs. Nothing here follows a
 * symbolic link (fs.h).
 */
#ifndef KILN_OUTPUTS_H
#define KILN_OUTPUTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct kiln_action;
struct kiln_digest;
struct kiln_file;
struct kiln_keyinfo;
struct kiln_metric;
struct kiln_record;
struct kiln_target;
struct kiln_workspace;

/* The digest of a target's outputs that its dependents' keys see: of each file's path, mode and digest. */
void kiln_outputs_digest(const struct kiln_file *files, size_t n, struct kiln_digest *out);
/*
 * Are the recorded outputs still in kiln-out/<name>/ with the same bytes? A
 * file whose stat is unchanged (and was not racily new when recorded) is
 * trusted; any other is hashed. *restat: a stat must be recorded anew.
 */
int kiln_outputs_intact(struct kiln_record *rec, int *restat);
/*
 * The outputs of many targets checked on a second thread while the caller
 * resolves sources (a no-op build's other half of its system calls): each
 * record whose every output still stats as recorded is marked in `same`;
 * any other is left to kiln_outputs_intact. Each output is one
 * fstatat(AT_SYMLINK_NOFOLLOW) beneath kiln-out/, opened once through no
 * link (docs/design.md, "An output's no-op check is one stat"): the thread
 * allocates nothing and reads only the records, which must not change
 * until the join.
 */
struct kiln_outputs_ahead {
	const struct kiln_record **recs;	/* the caller's */
	size_t n;
	unsigned char *same;	/* n answers, 1: every output as recorded (malloc'd) */
	size_t next;		/* the next record to check, taken atomically */
	pthread_t th;
	int started;
	int outfd;		/* kiln-out/, or -1: every record is left to kiln_outputs_intact */
};
/* Start checking a->recs[0..n) (no thread for a few, or on one CPU: the join checks them all). */
void kiln_outputs_ahead_start(struct kiln_outputs_ahead *a);
/* Check what the second thread has not reached, beside it, and wait for it. */
void kiln_outputs_ahead_join(struct kiln_outputs_ahead *a);
/* Stop checking, join, and free the answers. */
void kiln_outputs_ahead_release(struct kiln_outputs_ahead *a);
/*
 * Record t's outputs `files` (in kiln-out/<name>/, stat'ed again here) with
 * the key ki, metrics and KILN_REC_* flags in the state, and set
 * t->outdigest. -1 if the state cannot be written.
 */
int kiln_outputs_record(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    struct kiln_file *files, size_t nfiles, struct kiln_metric *metrics, size_t nmetrics, uint32_t flags);
/* Make .kiln/tmp/<name>/<sub> anew, empty; its path (a new string), or NULL after reporting. */
char *kiln_outputs_scratch(const char *name, const char *sub);
/*
 * Restore t's outputs from the cache entry act for its key ki, and record
 * them. The entry must name exactly t's declared outputs (a remote's entry
 * is not trusted to). 1 restored; 0 the cache could not (a blob missing or
 * damaged, or the entry does not fit; said); -1 on other errors (reported).
 */
int kiln_outputs_restore(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    const struct kiln_action *act);
/*
 * --download=minimal: record t as built from the remote's entry act, its
 * outputs left in the remote (KILN_REC_REMOTE): kiln-out/<name>/ is
 * removed, so nothing stale stays there. -1 if the state cannot be written.
 */
int kiln_outputs_record_remote(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    const struct kiln_action *act);
/*
 * Is t recorded remote-only with the key it has now? Then its record, else NULL.
 */
struct kiln_record *kiln_outputs_remote_only(struct kiln_workspace *ws, const struct kiln_target *t);
/*
 * Put a remote-only target's outputs in place from the local cache (whose
 * entry for rec's key must have every blob by now) and record them as here.
 * 1 done; 0 the local cache lacks them; -1 on other errors (reported).
 */
int kiln_outputs_materialize(struct kiln_workspace *ws, struct kiln_target *t, struct kiln_record *rec);
/* An output the step said is one of its input files unchanged (kiln_output_same). */
struct kiln_same {
	const char *output;	/* the declared output (or a file within one) */
	const char *path;	/* the input file, as the step named it */
};

/*
 * Before kiln_outputs_keep: put each of the n input files at its output in
 * .kiln/tmp/<name>/out, from the cache where the blob is (a reflink or a
 * read-only hardlink), else by a copy. 0; -1 with the reason in why (a
 * path that is not an input's file, an output that is not declared).
 */
int kiln_outputs_same(struct kiln_workspace *ws, const struct kiln_target *t, const struct kiln_same *same, size_t n,
    struct buf *why);
/*
 * A step for t succeeded: store its declared outputs from .kiln/tmp/<name>/out
 * in the cache under ki's key with the metrics and flags (and on the remote),
 * put them in place and record them. 0 done; -1 with the reason in why.
 */
int kiln_outputs_keep(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki,
    struct kiln_metric *metrics, size_t nmetrics, uint32_t flags, struct buf *why);

#endif
