/*
 * remote: the shared remote cache, over plain HTTP(S) or S3 (s3.h: the same
 * layout under the bucket's prefix, every request signed).
 *
 *	GET/HEAD/PUT <base>/cas/<digest>	a blob's bytes
 *	GET/PUT <base>/ac/<key>			an action entry, in the local cache's text format
 *	GET/PUT/DELETE <base>/ckpt/<key>	a running step's checkpoint, in the same format
 *
 * 404 is a miss. Any server that accepts PUT serves (nginx with WebDAV is the
 * reference); a static file server serves read-only clients.
 *
 * The remote only ever speeds a build up. Every downloaded blob is written to
 * the local cache's tmp/, hashed while it arrives, and renamed into cas/ only
 * when its digest is the one asked for; anything else is dropped and counted.
 * A remote that is down, slow, answers 5xx or cuts bodies short costs retries
 * and then is left alone for the rest of the run; it never fails a build.
 */
#ifndef KILN_REMOTE_H
#define KILN_REMOTE_H

struct arena;
struct kiln_action;
struct kiln_cache;
struct kiln_digest;
struct kiln_remote;
struct kiln_s3;
struct kiln_transfer;

struct kiln_remote_stats {
	unsigned long long blobs_down, bytes_down;	/* blobs fetched into the local cache */
	unsigned long long blobs_up, bytes_up;		/* blobs uploaded */
	unsigned long long present;			/* blobs the server already had */
	unsigned long long entries_down, entries_up;	/* action entries */
	unsigned long long misses;			/* action keys the server did not have */
	unsigned long long bad;		/* blobs or entries that failed their check: dropped */
	unsigned long long failed;	/* transfers that failed after their retries */
	unsigned long long wire_down, wire_up;	/* bytes on the wire (compressed where they were) */
	unsigned long long lookups;	/* action entries asked for */
	unsigned long long checkpoints_up;	/* checkpoint entries uploaded (ckpt/) */
};

/*
 * The remote cache's URL: `opt` (--remote) wins over $KILN_REMOTE, which wins
 * over the Kilnfile's kiln.config { remote = … }. "off" (in either of the
 * first two) means none. NULL when there is none.
 */
const char *kiln_remote_url(const char *opt, const char *config);

/*
 * A client for the remote cache at `url`, storing what it fetches in `cache`
 * (borrowed; it must outlive the client). NULL after reporting, if the URL is
 * not http://, https:// or s3://BUCKET/PREFIX, or an S3 one has no credentials.
 */
struct kiln_remote *kiln_remote_new(const char *url, struct kiln_cache *cache, int read_only);
void kiln_remote_free(struct kiln_remote *r);
/* Print a progress line on stderr (when it is a terminal) during transfers. */
void kiln_remote_set_progress(struct kiln_remote *r, const char *verb);
const struct kiln_remote_stats *kiln_remote_stats(const struct kiln_remote *r);
const char *kiln_remote_base(const struct kiln_remote *r);
/* Has the client given up on the server (unreachable) for this run? */
int kiln_remote_is_down(const struct kiln_remote *r);
/* May it still upload: not read-only, the server neither down nor refusing uploads? */
int kiln_remote_can_upload(const struct kiln_remote *r);


/*
 * The engine under the client, for a caller that drives it from its own
 * event loop (kiln_transfer_perform and kiln_transfer_wait, transfer.h).
 */
struct kiln_transfer *kiln_remote_transfer(const struct kiln_remote *r);
/* An s3:// remote's bucket, prefix and credentials (s3.h), or NULL for an HTTP one. */
const struct kiln_s3 *kiln_remote_s3(const struct kiln_remote *r);
/* The HTTP URL of `path` ("ac/KEY", "cas/") under the remote (malloc'd): for an S3 remote, in its bucket and prefix. */
char *kiln_remote_path_url(const struct kiln_remote *r, const char *path);

/*
 * Ask for the action entry of `key` now, without waiting: a later
 * kiln_remote_get or _peek for it finds the answer there or on its way.
 * Lookups of many keys share the wire: every one is in flight at once.
 */
void kiln_remote_prefetch(struct kiln_remote *r, const struct kiln_digest *key);

/* The end of a kiln_remote_get: ok 1 with the entry (valid during the call only), 0 without. */
typedef void kiln_remote_fn(void *arg, int ok, const struct kiln_action *act);

#define KILN_REMOTE_BLOBS 1	/* kiln_remote_get: fetch the blobs too, and store the entry locally */
#define KILN_REMOTE_FRESH 2	/* kiln_remote_get: a miss remembered from earlier in the run is asked again */

/*
 * On a local miss, without waiting: look up `key` (one round trip, or none
 * when a prefetch already has the answer) and, with KILN_REMOTE_BLOBS,
 * fetch every blob it names that the local cache lacks, each checked, then
 * store the entry locally. `done` is called once, from kiln_transfer_perform
 * (or at once, when the answer is already here): ok when the entry was
 * found (and with the flag, the local cache now has it all); 0 when not (a
 * miss, or a transfer or check failed: reported). `target` names it in messages.
 */
void kiln_remote_get(struct kiln_remote *r, const struct kiln_digest *key, const char *target, int flags,
    kiln_remote_fn *done, void *arg);

/* kiln_remote_get with KILN_REMOTE_BLOBS and _FRESH, waiting for it: 1 when the local cache now has it all, 0 not. */
int kiln_remote_fetch(struct kiln_remote *r, const struct kiln_digest *key, const char *target);

/*
 * The same for a tracked source (sources.h): the entry listing the files of
 * `path` and their blobs, each checked; warnings name path.
 */
int kiln_remote_fetch_source(struct kiln_remote *r, const struct kiln_digest *entry, const char *path);

/*
 * For `kiln build -n`: the remote's action entry for `key`, parsed into act
 * (allocated in a), without its blobs and without storing anything. 1 found,
 * 0 not (a miss or a failure, said quietly).
 */
int kiln_remote_peek(struct kiln_remote *r, const struct kiln_digest *key, struct kiln_action *act,
    struct arena *a);

/*
 * After a step, without waiting: upload the blobs of `act` that the server
 * lacks (asked with HEAD; blobs under 64 KiB are sent without asking;
 * blobs of KILN_REMOTE_ZSTD_MIN bytes or more compressed, under cas-zstd/),
 * reading them from the local cache, then the entry itself once every blob
 * is there, so that a reader never finds an entry whose blobs are missing,
 * not even after a crash. Nothing when the server already has the entry;
 * nothing when read-only or the server is down. Failures warn. The uploads
 * run in the background, behind lookups and downloads.
 */
void kiln_remote_upload(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act,
    const char *target);
/* kiln_remote_upload, waiting for it: 0 done (or nothing to do), -1 something was not uploaded (reported). */
int kiln_remote_store(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act,
    const char *target);
/*
 * Checkpoints (checkpoint = true, checkpoint_upload): ckpt/<key> is an
 * action entry naming the files of a running step's checkpoint folder
 * (relative to its data/), with the metric "epoch" when the checkpoint was
 * sealed at that progress; its blobs are in cas/ as outputs' are.
 *
 * Upload act as key's checkpoint, without waiting: every blob first, then
 * the entry, replacing the one there, so that a reader finds the last whole
 * checkpoint or the one before, never a half-sent one. 0 when nothing was
 * started: read-only, the server down, key's last upload still under way,
 * or its checkpoint dropped in this run. Failures warn.
 */
int kiln_remote_put_checkpoint(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act,
    const char *target);
/* Is an upload of key's checkpoint under way? */
int kiln_remote_checkpoint_busy(struct kiln_remote *r, const struct kiln_digest *key);
/*
 * Remove key's checkpoint entry from the server (the step built, or the
 * checkpoint there is damaged), in the background; during an upload, once
 * it ends, and no later upload of key is sent in this run.
 */
void kiln_remote_drop_checkpoint(struct kiln_remote *r, const struct kiln_digest *key);
/*
 * Fetch key's checkpoint, without waiting: its entry, then every blob it
 * names into the local cache, each checked. `done` gets the entry (files
 * and the "epoch" metric) when it is all here; 0 when there is none, or a
 * blob or the entry failed its check (warned, naming target, and the
 * damaged entry dropped from the server).
 */
void kiln_remote_get_checkpoint(struct kiln_remote *r, const struct kiln_digest *key, const char *target,
    kiln_remote_fn *done, void *arg);

/* Wait for every transfer still under way (the build's last uploads), with a progress line. */
void kiln_remote_drain(struct kiln_remote *r);

/* One line on stdout saying what the remote did in this run, if it did anything. */
void kiln_remote_report(const struct kiln_remote *r);

#endif
