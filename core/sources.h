/*
 * sources: tracked sources — data kept in the cache, not in git, and named
 * by a small pointer file beside it (`kiln add`).
 *
 * data/x.csv.kiln, meant to be committed, says what data/x.csv (a file or
 * a folder) holds:
 *
 *	kiln-source 1
 *	kind file|folder
 *	digest <hex>	the input digest a step's key is made of (a file's, or the folder's)
 *	entry <hex>	the cache entry (ac/) that lists its files and their blobs
 *	size <bytes>
 *	files <count>
 *
 * The entry is an action entry in the cache's own format, its key the
 * digest of its text, so the remote cache moves it, blobs first, like any
 * target's outputs, and every blob it names is checked on arrival. A folder
 * is a tree of blobs: one changed file costs one blob.
 */
#ifndef KILN_SOURCES_H
#define KILN_SOURCES_H

#include <stdint.h>

#include "digest.h"

struct kiln_action;
struct arena;
struct kiln_workspace;

#define KILN_POINTER_EXT ".kiln"

struct kiln_pointer {
	struct kiln_digest digest;	/* of the file or folder, as an input */
	struct kiln_digest entry;	/* key of the cache entry listing its files */
	uint64_t size, files;
	int folder;			/* a folder, else a file */
};

/* Read the pointer of `path` (path.kiln): 1 read, 0 there is none, -1 damaged (reported). */
int kiln_sources_pointer(const char *path, struct kiln_pointer *p);
/*
 * kiln add: store `path` (a file or folder of the workspace) in the local
 * cache, then write path.kiln (last, atomically: a kiln killed before that
 * leaves no pointer to blobs the cache lacks) and add path to the
 * .gitignore of its folder. -1 after reporting.
 */
int kiln_sources_add(struct kiln_workspace *ws, const char *path);
/* kiln add --remove: delete path.kiln and path's .gitignore line; the data stays. */
int kiln_sources_remove(struct kiln_workspace *ws, const char *path);
/*
 * A tracked source that is missing: put its files at `path` from the local
 * cache, else from ws->remote, each blob checked, and say so on stderr.
 * 0 done, -1 after reporting (naming `what`, the input that needs it).
 */
int kiln_sources_restore(struct kiln_workspace *ws, const char *path, const struct kiln_pointer *p,
    const char *what);
/*
 * The cache entry of a tracked source (allocated in a): 1 found in the local
 * cache, 0 not.
 */
int kiln_sources_entry(struct kiln_workspace *ws, const struct kiln_pointer *p, struct kiln_action *act,
    struct arena *a);

/*
 * Call fn once for each tracked source that a wanted target reads as an
 * input (resolved: kiln_inputs_prepare has run), with its pointer and its
 * digest now (NULL when it is missing). The number of calls, or -1 when a
 * pointer is damaged (reported).
 */
typedef void kiln_sources_fn(void *arg, const char *path, const struct kiln_pointer *p,
    const struct kiln_digest *now);
long kiln_sources_each(struct kiln_workspace *ws, kiln_sources_fn *fn, void *arg);

#endif
