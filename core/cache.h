/*
 * cache: the local content-addressed cache, shared by every workspace of a
 * user ($KILN_CACHE_DIR, default $XDG_CACHE_HOME/kiln or ~/.cache/kiln).
 *
 *	cas/xx/<digest>		file contents, read-only
 *	ac/xx/<key>		action entries: the files and metrics an action key produced
 *	tmp/			where entries are written before they are renamed into place
 *	quarantine/		blobs and entries that failed a check
 *
 * Every entry is written to tmp/ and renamed, so a crash or a second kiln
 * never leaves a half-written entry where a reader would find it.
 */
#ifndef KILN_CACHE_H
#define KILN_CACHE_H

#include "state.h"

enum kiln_link_mode {
	KILN_LINK_AUTO,		/* reflink; else a hardlink for a plain file of KILN_LINK_MIN bytes or more; else copy */
	KILN_LINK_COPY,		/* reflink where the file system can, else copy */
	KILN_LINK_HARD,		/* hardlink: fast, but an output edited in place corrupts the cache */
};

/*
 * From this size on (1 MiB) a file that cannot be reflinked is hardlinked
 * to its read-only (0444) blob rather than copied, in KILN_LINK_AUTO.
 */
#define KILN_LINK_MIN (1u << 20)

struct kiln_cache {
	char *dir;
	int link;		/* enum kiln_link_mode */
	unsigned long long stored, restored, corrupt;	/* counts for this run */
};

/* What an action key produced. */
struct kiln_action {
	struct kiln_file *files;	/* sorted by path */
	size_t nfiles;
	struct kiln_metric *metrics;
	size_t nmetrics;
	uint32_t flags;
};

/* The cache folder to use: $KILN_CACHE_DIR, $XDG_CACHE_HOME/kiln or ~/.cache/kiln. */
char *kiln_cache_default_dir(void);
int kiln_cache_open(struct kiln_cache *c, const char *dir);
void kiln_cache_release(struct kiln_cache *c);

/*
 * A new path in the cache's tmp/, unique to this process: "TAG.N.PID@HOST",
 * so that kiln_cache_sweep_tmp can tell when its writer is gone.
 */
char *kiln_cache_tmp_path(const struct kiln_cache *c, const char *tag);
/*
 * Remove the files of tmp/ that no running process will finish: those whose
 * writer (on this host) no longer runs, and any older than a day. gc, fsck
 * and pull call it; returns how many it removed.
 */
size_t kiln_cache_sweep_tmp(struct kiln_cache *c);

/* The path of a blob (a new string). */
char *kiln_cache_blob_path(const struct kiln_cache *c, const struct kiln_digest *d);
/* Path of the action entry for a key (a new string). */
char *kiln_cache_ac_path(const struct kiln_cache *c, const struct kiln_digest *key);

/* Store a file's bytes under its (already computed) digest, unless present. Safe on several threads at once. */
int kiln_cache_put_blob(struct kiln_cache *c, const char *path, const struct kiln_digest *d);
/* Store an action entry. */
int kiln_cache_put_action(struct kiln_cache *c, const struct kiln_digest *key,
    const struct kiln_action *act);
/*
 * Look up an action entry: 1 found (allocated in `a`), 0 none. A damaged
 * entry is quarantined and reads as none.
 */
int kiln_cache_get_action(struct kiln_cache *c, const struct kiln_digest *key,
    struct kiln_action *act, struct arena *a);
/* Parse / format an action entry's text (also the remote cache's format). */
int kiln_action_parse(const char *text, size_t len, struct kiln_action *act, struct arena *a);
void kiln_action_format(struct buf *b, const struct kiln_action *act);

/*
 * Put blob `f` at `dest` (reflink, copy or hardlink) and check that the bytes
 * there have f's digest. 0 done; 1 the blob is missing or damaged (a damaged
 * one is quarantined); -1 on other errors.
 */
int kiln_cache_restore(struct kiln_cache *c, const struct kiln_file *f, const char *dest);
/* The same with the link mode `link` rather than c's: a workspace file kiln add tracks is never a link. */
int kiln_cache_restore_as(struct kiln_cache *c, const struct kiln_file *f, const char *dest, int link);
/* Is the action entry for key there? */
int kiln_cache_has_action(const struct kiln_cache *c, const struct kiln_digest *key);
/* Is the blob there? */
int kiln_cache_has_blob(const struct kiln_cache *c, const struct kiln_digest *d);

/* Files being gathered into the cache: their entries and the arena of their paths. */
struct kiln_filelist {
	struct kiln_file *v;
	size_t n;
	struct arena arena;
};

/*
 * Store the file or folder at `path` (a trusted one: a source of the
 * workspace; links are followed) in the cache, each file added to fl with
 * its digest, size and mode. -1 with the reason (naming path) in why.
 */
int kiln_cache_put_path(struct kiln_cache *c, struct kiln_filelist *fl, const char *path, struct buf *why);

/* Why a step's outputs could not be stored (kiln_cache_put_outputs). */
enum kiln_put_error {
	KILN_PUT_OK,
	KILN_PUT_MISSING,	/* the step did not write a declared output */
	KILN_PUT_LINK,		/* an output is, holds or runs through a symbolic link */
	KILN_PUT_KIND,		/* an output is not a regular file or folder, or has a refused name */
	KILN_PUT_IO,		/* reading it or writing the cache failed */
};

/*
 * Store a step's declared outputs, found beneath the folder `dirfd` (its
 * output folder, which the step controls), in the cache: each a file or a
 * folder of files, added to fl with digest, size and mode — 0644, or 0755
 * when any execute bit is set, which the file itself is given too, so that
 * no umask reaches a digest. Nothing is reached through a symbolic link.
 * KILN_PUT_OK, or an enum kiln_put_error with the reason (naming the
 * output) in why.
 */
int kiln_cache_put_outputs(struct kiln_cache *c, struct kiln_filelist *fl, int dirfd, const char *const *outputs,
    size_t n, struct buf *why);
/* Sort fl by path, dropping repeats. */
void kiln_filelist_sort(struct kiln_filelist *fl);
void kiln_filelist_release(struct kiln_filelist *fl);

/* Trim to at most max_bytes of blobs, least recently used first. */
int kiln_cache_gc(struct kiln_cache *c, unsigned long long max_bytes, int verbose);
/* Re-hash every blob and check every entry; quarantine what is bad. Returns the count found. */
long kiln_cache_fsck(struct kiln_cache *c, int verbose);

#endif
