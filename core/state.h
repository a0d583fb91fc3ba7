/*
 * state: what kiln knows of a workspace between runs (.kiln/state).
 *
 * The file is a log: a header, then records, each length-prefixed and
 * checksummed. A finished step appends one record, so a build killed at any
 * moment loses at most the record being written, which the next load
 * detects and cuts off. The last record for a name wins. When the log holds
 * many dead records, or its version is not this kiln's, it is rewritten.
 *
 * It holds, per target, the action key and its components (for `kiln why`),
 * each output file's digest and stat, and metrics; and per source file the
 * stat cache: (dev, inode, size, mtime, ctime) -> digest.
 */
#ifndef KILN_STATE_H
#define KILN_STATE_H

#include <stdint.h>
#include <sys/stat.h>

#include "digest.h"
#include "map.h"
#include "util.h"

/* One part of an action key. */
enum kiln_component_kind {
	KILN_C_SCHEMA,
	KILN_C_PLATFORM,
	KILN_C_PLUGIN,
	KILN_C_PARAM,
	KILN_C_INPUT,
	KILN_C_ENV,
	KILN_C_OUTPUT,
	KILN_C_RESOURCE,
	KILN_C_NETWORK,
	KILN_C_TOOL,		/* a host file or folder the step runs with (tools = {…}) */
	KILN_C_PACKAGE,		/* an installed Debian package's version (tools.packages) */
	KILN_C_GPU,		/* "driver 550.54.14", "cuda 12.4.1": recorded for a GPU step; in its key only with gpu_key */
	KILN_C_MACHINE,		/* what of the processor the plugin's bytes depend on (kiln_plugin_machine) */
};

struct kiln_component {
	int kind;		/* enum kiln_component_kind */
	const char *name;
	struct kiln_digest digest;
};

/* One output file, relative to the target's output folder. */
struct kiln_file {
	const char *path;
	struct kiln_digest digest;
	uint64_t size;
	uint32_t mode;		/* 0644 or 0755 */
	/* Stat when last seen, so an unchanged file is not hashed again. */
	uint64_t ino;
	int64_t mtime_ns, ctime_ns;
};

struct kiln_metric {
	const char *name;
	double value;
};

#define KILN_REC_UNSANDBOXED 1	/* built with --sandbox=off */
#define KILN_REC_REMOTE 2	/* remote-only: the outputs are in the remote cache, not in kiln-out/ (--download=minimal) */

struct kiln_record {
	const char *name;
	struct kiln_digest key;
	int64_t seen_ns;	/* realtime (coarse) when the outputs were stat'ed */
	uint32_t flags;
	/*
	 * The key's components; read from the file only when asked for
	 * (kiln_state_comps): the frame_len bytes at frame_off in the file
	 * loaded, its components lazy_at bytes into them (frame_len 0: none).
	 */
	struct kiln_component *comps;
	size_t ncomps;
	uint64_t frame_off;
	uint32_t frame_len, lazy_at;
	struct kiln_file *files;	/* sorted by path */
	size_t nfiles;
	struct kiln_metric *metrics;	/* sorted by name */
	size_t nmetrics;
	/* Its params as Kilnfile.lock's lines say them (kiln_lock_params), or NULL: read lazily (kiln_state_params). */
	const char *params;
	uint32_t lock_gen;	/* the state's lock_gen when it was recorded (kiln_state_in_lock) */
};

/* Stat cache entry of a source file. */
struct kiln_statrec {
	const char *path;
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
	struct kiln_digest digest;
};

struct kiln_state {
	char *path;
	int rfd;		/* the file as loaded, open for reading a record's lazy part, or -1 */
	unsigned char *held;	/* rfd's bytes while kiln_state_hold holds them, else NULL */
	size_t nheld;
	int fd;			/* open for appending, -1 until the first write */
	struct arena arena;
	struct map targets;	/* name -> struct kiln_record * */
	struct map files;	/* path -> struct kiln_statrec * */
	struct map dirs;	/* folder path -> its stat and sorted names (state.c) */
	size_t nlive, nrecords;	/* live entries, records in the file */
	int rewrite;		/* the file must be rewritten before appending */
	int dirty;		/* anything recorded this run */
	int readonly;		/* record in memory only (kiln status, why: no workspace lock) */
	/* Stat of Kilnfile.lock when kiln last wrote it; its digest is that of the text written (kiln_lock_write). */
	struct kiln_statrec lock;
	/* The graph it was written from (kiln_graphcache_id), if lock_has_graph; forgot: a target forgotten since. */
	struct kiln_digest lock_graph;
	int lock_has_graph, forgot;
	uint32_t lock_gen;	/* lock records loaded or put: a record older than the last one is in that lock */
	struct kiln_record **unlocked;	/* records loaded or put since then, some since replaced (kiln_state_unlocked) */
	size_t nunlocked, capunlocked;
};

/*
 * Load the state at `path` (a missing file is an empty state). A damaged
 * or foreign file is reported as a warning and what can be read is kept.
 */
void kiln_state_load(struct kiln_state *st, const char *path);
void kiln_state_release(struct kiln_state *st);

struct kiln_record *kiln_state_get(struct kiln_state *st, const char *name);
/* Make sure rec->comps is read (they are decoded lazily: only why and status need them). */
void kiln_state_comps(struct kiln_state *st, struct kiln_record *rec);
/* rec's params text ("" when it has none), read from the file on first use. */
const char *kiln_state_params(struct kiln_state *st, struct kiln_record *rec);
/*
 * For a caller about to read the lazy part of most records (the lock
 * writer): read the loaded file back whole, once, so that each record is
 * checked in place rather than read with a pread and a malloc of its own.
 * kiln_state_unhold (or the state's release) frees it.
 */
void kiln_state_hold(struct kiln_state *st);
void kiln_state_unhold(struct kiln_state *st);
/* Record a target (copied into the state) and append it to the log. */
int kiln_state_put(struct kiln_state *st, const struct kiln_record *rec);
/* Forget a target (appends a tombstone). */
int kiln_state_forget(struct kiln_state *st, const char *name);
/*
 * Remember the stat of Kilnfile.lock as kiln wrote it, the digest of the
 * text it wrote and the identity of the graph it wrote it from (NULL: none).
 */
int kiln_state_put_lock(struct kiln_state *st, const struct stat *sb, const struct kiln_digest *text,
    const struct kiln_digest *graph);
/*
 * Was the last lock written from this graph (its kiln_graphcache_id), with
 * no target forgotten since? Then its sections are exactly those of the
 * graph's targets that had records then, and only the records since
 * (kiln_state_unlocked) change it.
 */
int kiln_state_lock_from(const struct kiln_state *st, const struct kiln_digest *graph);
/*
 * Was rec recorded before Kilnfile.lock was last written (st->lock), so
 * that the lock's lines of its target were written from rec as it is?
 * Records are only appended, and rewrite() writes its lock record last
 * only when no target was recorded after the lock, so this holds on
 * reload too.
 */
int kiln_state_in_lock(const struct kiln_state *st, const struct kiln_record *rec);
/* The records not in the lock (!kiln_state_in_lock) that are still the records of their targets: *n of them, malloc'd. */
struct kiln_record **kiln_state_unlocked(struct kiln_state *st, size_t *n);

/*
 * The digest of a source file, from the stat cache when its stat is
 * unchanged, else by reading it (and caching the result unless the file was
 * modified in the current timestamp tick, which would make it racily clean).
 * -1 with errno set if the file cannot be read.
 */
int kiln_state_file_digest(struct kiln_state *st, const char *path, const struct stat *sb,
    struct kiln_digest *out);

/*
 * The digest of a folder: of its sorted (name, kind, digest) entries, each
 * file's digest through the stat cache, so that one changed file costs one
 * file's hashing. With `list`, also "relpath\tdigest\n" per file (relative
 * to dir), for naming what changed. -1 with errno set if something cannot
 * be read.
 */
int kiln_state_tree_digest(struct kiln_state *st, const char *dir, struct kiln_digest *out,
	struct buf *list);
/* Each file of a folder's walk: its path (dir/…), size, executable bit and digest. */
typedef void kiln_tree_file_fn(void *arg, const char *path, uint64_t size, int exec, const struct kiln_digest *d);
/* kiln_state_tree_digest, calling fn (unless NULL) for each file in the digest's order. */
int kiln_state_tree_files(struct kiln_state *st, const char *dir, struct kiln_digest *out, kiln_tree_file_fn *fn,
    void *arg);
/*
 * Rewrite the log with only the live records, if that is worth it or a
 * write of this run failed (records are then in memory only). -1 (said) if
 * it cannot be written.
 */
int kiln_state_compact(struct kiln_state *st, int force);

/* The coarse realtime clock that file timestamps are taken from, in ns. */
int64_t kiln_fs_now_ns(void);

#endif
