/*
 * checkpoint: what a step with `checkpoint = true` keeps to resume after an
 * interrupted run — .kiln/checkpoints/<target>.<key>/, holding data/ (the
 * folder the step writes, $KILN_CHECKPOINT) and seal, written by the step
 * through kiln_checkpoint_saved() each time data/ holds a whole checkpoint:
 * its progress and every file's digest. The seal's writer (kiln-run, in the
 * step's process) and its reader (kiln) are both here.
 */
#ifndef KILN_CHECKPOINT_H
#define KILN_CHECKPOINT_H

struct kiln_digest;

#define KILN_CHECKPOINT_DIR ".kiln/checkpoints"

/* .kiln/checkpoints/<name>.<hex of key>, malloc'd. */
char *kiln_checkpoint_path(const char *name, const struct kiln_digest *key);
/*
 * Seal the checkpoint at dir (its data/ as it is now) at `epoch`: written to
 * a temporary file, synced and renamed, so a kill leaves the old seal or the
 * new one, with a snapshot of data/ as hard links in dir/sealed/ that
 * kiln_checkpoint_prepare puts back if data/ moved on unsealed. -1 with errno.
 */
int kiln_checkpoint_seal(const char *dir, double epoch);
/*
 * Read dir's seal: 1 with *epoch and *files (its "relpath\tdigest\n" lines,
 * inside the seal's text, *text, to free), 0 when there is none, -1 damaged.
 */
int kiln_checkpoint_read_seal(const char *dir, double *epoch, char **text, const char **files);
/*
 * Before a step with a checkpoint starts: remove the target's checkpoints
 * of other keys, check this key's against its seal, and make dir/data.
 * Returns 1 when the step resumes (*epoch: the sealed progress, or -1 when
 * the step wrote no seal), 0 when it starts clean; a damaged checkpoint is
 * removed with a warning naming the target and the file. -1 after reporting.
 */
int kiln_checkpoint_prepare(const char *name, const struct kiln_digest *key, double *epoch);
/* The sealed progress of name's checkpoint for key: 1 and *epoch (-1 unsealed) if there is one, else 0. */
int kiln_checkpoint_find(const char *name, const struct kiln_digest *key, double *epoch);
/* The step built: its checkpoint is no longer needed. */
void kiln_checkpoint_remove(const char *name, const struct kiln_digest *key);

#endif
