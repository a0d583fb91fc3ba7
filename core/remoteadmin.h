/*
 * remoteadmin: keeping a remote cache clean and sound — `kiln gc --remote`
 * and `kiln fsck --remote`.
 *
 * Both list the server's ac/, cas/ and cas-zstd/ folders with a GET of the
 * folder that answers a JSON array of {"name", "type", "mtime", "size"}
 * (nginx: `autoindex on; autoindex_format json;`), or on an S3 remote with
 * ListObjectsV2 of PREFIX/ac/ and so on, fetch entries with GET and remove
 * with DELETE (nginx: `dav_methods PUT DELETE;`).
 */
#ifndef KILN_REMOTEADMIN_H
#define KILN_REMOTEADMIN_H

#include <stddef.h>

struct kiln_cache;
struct kiln_remote;

struct kiln_remote_gc_opts {
	char **keep;		/* lock files whose keys are kept */
	size_t nkeep;
	long keep_last;		/* the N newest entries are kept too; -1 none */
	long grace;		/* seconds: a blob younger than this is never deleted (an upload under way) */
	int dry_run;		/* say, delete nothing */
};

/*
 * Delete from the remote every entry that no kept lock file names and that
 * is not among the keep_last newest, then every blob that no remaining entry
 * names (and that is older than grace): entries first, so no entry is ever
 * left naming a deleted blob. 0 done, -1 after reporting.
 */
int kiln_remoteadmin_gc(struct kiln_remote *r, const struct kiln_remote_gc_opts *o);

/*
 * Check the remote: every entry parses and names only blobs the server has;
 * every blob's bytes (decompressed, for cas-zstd/) hash to its name. With
 * repair, delete the bad blobs and the entries that name missing or bad
 * ones. Blobs are downloaded into cache's tmp/ and removed. The number of
 * problems found (0 once repair removed them all), or -1 after reporting.
 */
long kiln_remoteadmin_fsck(struct kiln_remote *r, struct kiln_cache *cache, int repair);

#endif
