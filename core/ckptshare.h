/*
 * ckptshare: a running step's checkpoint (checkpoint.h) shared through the
 * remote cache (checkpoint_upload): taken from its folder into the local
 * cache and sent as key's checkpoint entry (remote.h), and put back in
 * place from such an entry on another machine.
 */
#ifndef KILN_CKPTSHARE_H
#define KILN_CKPTSHARE_H

struct kiln_action;
struct kiln_cache;
struct kiln_digest;
struct kiln_remote;

enum kiln_ckpt_send {
	KILN_CKPT_SENT,		/* an upload was started */
	KILN_CKPT_SAME,		/* nothing new since the last one sent (or an upload is under way) */
	KILN_CKPT_PARTIAL,	/* the folder does not match its seal now: the step is writing; try again soon */
	KILN_CKPT_FAILED,	/* it cannot be taken (a link, an unreadable file): warned */
};

/*
 * Send name's checkpoint for key to r, without waiting: its data/ is stored
 * in cache c (nothing through a link), checked against its seal when it has
 * one, and uploaded when it differs from *sent, the mark of the last one
 * sent (updated; zero before the first). An enum kiln_ckpt_send.
 */
int kiln_ckptshare_send(struct kiln_remote *r, struct kiln_cache *c, const char *name, const struct kiln_digest *key,
    struct kiln_digest *sent);
/*
 * Put the checkpoint act (fetched from the remote: its blobs are in c) in
 * place as name's checkpoint for key, sealed at its epoch when it has one:
 * made in .kiln/tmp/ and renamed, so a kill leaves none or all of it.
 * 0 done (*epoch: its progress, or -1), -1 after warning.
 */
int kiln_ckptshare_unpack(struct kiln_cache *c, const char *name, const struct kiln_digest *key,
    const struct kiln_action *act, double *epoch);

#endif
