/*
 * gitops: a deploy's manifests committed to a git repository that a GitOps
 * tool (Argo CD, Flux) watches, through kiln's own clone in
 * .kiln/gitops/TARGET and the user's own git (kiln_git_user).
 *
 * Each commit kiln makes carries trailers, so the repository's history is
 * the deployment history, readable by any clone:
 *
 *	Kiln-Target: TARGET
 *	Kiln-Action: deploy | rollback
 *	Kiln-Digest: sha256:…	(the digest the manifests now run)
 */
#ifndef KILN_GITOPS_H
#define KILN_GITOPS_H

#include <stddef.h>

struct kiln_gitops {
	const char *target;
	const char *repo;	/* a URL or a path, as git takes it */
	const char *branch;
	const char *path;	/* the folder inside the repository */
	char *clone;		/* .kiln/gitops/TARGET (malloc'd) */
	char *dir;		/* clone/path (malloc'd) */
	int anon;		/* the user's git has no identity: commit as kiln */
};

/* Fill g for target; gitops_release frees it. */
void kiln_gitops_init(struct kiln_gitops *g, const char *target, const char *repo, const char *branch,
    const char *path);
void kiln_gitops_release(struct kiln_gitops *g);
/* Clone the repository, or bring the clone to the branch's tip. -1 reported, naming the repository. */
int kiln_gitops_sync(struct kiln_gitops *g);
/*
 * Commit what is in g->dir with message msg. *made is 0 when nothing
 * changed (no commit). -1 reported.
 */
int kiln_gitops_commit(struct kiln_gitops *g, const char *msg, int *made);
/*
 * Push the branch. A push the repository refuses is retried after fetching
 * and rebasing onto what is there, up to three times; *rebased counts the
 * rebases. -1 reported with git's own words.
 */
int kiln_gitops_push(struct kiln_gitops *g, int *rebased);
/*
 * The digests deployed for g->target, oldest first, as the repository's
 * kiln commits leave them (a deploy pushes, a rollback pops), each with the
 * commit that last deployed it (commits[i], 40 hex). Both malloc'd arrays
 * of malloc'd strings; the count, or -1 (reported).
 */
long kiln_gitops_history(struct kiln_gitops *g, char ***digests, char ***commits);
/*
 * One history entry replayed onto a stack of digests: a deploy pushes its
 * digest unless it is already on top (then *top is replaced, when given),
 * a rollback pops one. The rule kiln's log and kiln's commits share. tag,
 * when not NULL, is kept beside each digest in tags (same indices).
 */
void kiln_gitops_replay(char ***stack, char ***tags, size_t *n, const char *action, const char *digest,
    const char *tag);
/* Put back g->dir as it was at commit. -1 reported. */
int kiln_gitops_restore(struct kiln_gitops *g, const char *commit);
/* The clone's HEAD, 40 hex and a NUL into hex. -1 reported. */
int kiln_gitops_head(struct kiln_gitops *g, char hex[41]);

#endif
