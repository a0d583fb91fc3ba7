/*
 * gitops: manifests committed and pushed through kiln's own clone; see
 * gitops.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git.h"
#include "gitops.h"
#include "paths.h"
#include "util.h"

#define GITOPS_DIR KILN_DIR "/gitops"
#define PUSH_TRIES 3

void
kiln_gitops_init(struct kiln_gitops *g, const char *target, const char *repo, const char *branch,
    const char *path)
{
	g->target = target;
	g->repo = repo;
	g->branch = branch && *branch ? branch : "main";
	g->path = path && *path ? path : ".";
	g->anon = 0;
	g->clone = xasprintf(GITOPS_DIR "/%s", target);
	g->dir = xasprintf("%s/%s", g->clone, g->path);
}

void
kiln_gitops_release(struct kiln_gitops *g)
{
	free(g->clone);
	free(g->dir);
	g->clone = g->dir = NULL;
}

/* git's last words, without the final newline (for messages). */
static const char *
said(struct buf *err)
{
	while (err->len && (err->s[err->len - 1] == '\n' || err->s[err->len - 1] == ' '))
		err->s[--err->len] = '\0';
	return err->len ? err->s : "(git said nothing)";
}

/*
 * Run git in the clone; on failure report "gitops REPO: what: git's words"
 * (what NULL: say nothing). Commits and rebases made without an identity
 * in the user's git are kiln's.
 */
static int
git(struct kiln_gitops *g, const char *what, struct buf *out, const char *const *args)
{
	const char *argv[24];
	struct buf err = BUF_INIT;
	size_t n = 0, i;
	int r;

	if (g->anon) {
		argv[n++] = "-c";
		argv[n++] = "user.name=kiln";
		argv[n++] = "-c";
		argv[n++] = "user.email=kiln@localhost";
	}
	for (i = 0; args[i] && n < LEN(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	r = kiln_git_user(g->clone, argv, out, &err);
	if (r != 0 && what) {
		if (r < 0)
			error("gitops %s: cannot run git:", g->repo);
		else
			error("gitops %s: %s: %s", g->repo, what, said(&err));
	}
	buf_release(&err);
	return r == 0 ? 0 : -1;
}

/* Does origin have the branch (after a fetch)? */
static int
has_branch(struct kiln_gitops *g)
{
	char *ref = xasprintf("refs/remotes/origin/%s", g->branch);
	const char *args[] = {"rev-parse", "--verify", "-q", ref, NULL};
	int r = git(g, NULL, NULL, args);

	free(ref);
	return r == 0;
}

static int
clone(struct kiln_gitops *g)
{
	const char *args[] = {"clone", "-q", "--no-checkout", "--", g->repo, g->clone, NULL};
	struct buf err = BUF_INIT;
	int r;

	if (mkdir_p(GITOPS_DIR, 0755) < 0)
		return error(GITOPS_DIR ":");
	/* Cloned from the workspace's root: the clone's folder need not exist yet. */
	r = kiln_git_user(".", args, NULL, &err);
	if (r != 0) {
		error("gitops %s: cannot clone it: %s", g->repo, r < 0 ? "cannot run git" : said(&err));
		buf_release(&err);
		remove_tree(g->clone);
		return -1;
	}
	buf_release(&err);
	return 0;
}

/* Does the user's git give commits an identity here? */
static int
has_identity(struct kiln_gitops *g)
{
	const char *args[] = {"config", "user.email", NULL};

	return git(g, NULL, NULL, args) == 0;
}

/* Is the clone's origin g->repo? */
static int
same_origin(struct kiln_gitops *g)
{
	const char *args[] = {"config", "--get", "remote.origin.url", NULL};
	struct buf out = BUF_INIT;
	int same = git(g, NULL, &out, args) == 0 && out.len > 0;

	if (same) {
		out.s[--out.len] = '\0';	/* the newline */
		same = strcmp(out.s, g->repo) == 0;
	}
	buf_release(&out);
	return same;
}

int
kiln_gitops_sync(struct kiln_gitops *g)
{
	char *remote = xasprintf("origin/%s", g->branch);
	const char *fetch[] = {"fetch", "-q", "origin", NULL};
	const char *reset[] = {"checkout", "-q", "-f", "-B", g->branch, remote, NULL};
	const char *orphan[] = {"checkout", "-q", "-f", "--orphan", g->branch, NULL};
	struct stat sb;
	int r;

	/* A clone of another repository (the Kilnfile's repo changed) is made anew. */
	if (stat(g->clone, &sb) == 0 && !same_origin(g))
		remove_tree(g->clone);
	if (stat(g->clone, &sb) < 0 && clone(g) < 0)
		r = -1;
	else if (git(g, "fetch", NULL, fetch) < 0)
		r = -1;
	else if (has_branch(g))
		r = git(g, "checkout the branch", NULL, reset);
	else	/* A new repository or branch: the first commit starts it. */
		r = git(g, "start the branch", NULL, orphan);
	free(remote);
	if (r == 0)
		g->anon = !has_identity(g);
	return r;
}

int
kiln_gitops_commit(struct kiln_gitops *g, const char *msg, int *made)
{
	const char *add[] = {"add", "-A", "--", g->path, NULL};
	const char *diff[] = {"diff", "--cached", "--quiet", NULL};
	const char *commit[] = {"commit", "-q", "--file=.git/KILN_DEPLOY_MSG", NULL};
	char *file = xasprintf("%s/.git/KILN_DEPLOY_MSG", g->clone);
	int r;

	*made = 0;
	if (git(g, "git add", NULL, add) < 0) {
		free(file);
		return -1;
	}
	if (git(g, NULL, NULL, diff) == 0) {	/* nothing staged: the repository has these manifests */
		free(file);
		return 0;
	}
	/* git's stdin is /dev/null here: the message goes through a file in .git/. */
	r = write_file_atomic(file, msg, strlen(msg), 0644, 0) < 0 ? error("%s:", file) :
	    git(g, "git commit", NULL, commit);
	unlink(file);
	free(file);
	*made = r == 0;
	return r;
}

int
kiln_gitops_push(struct kiln_gitops *g, int *rebased)
{
	char *spec = xasprintf("HEAD:refs/heads/%s", g->branch), *remote = xasprintf("origin/%s", g->branch);
	const char *push[] = {"push", "-q", "--porcelain", "origin", spec, NULL};
	const char *fetch[] = {"fetch", "-q", "origin", NULL};
	const char *rebase[] = {"rebase", "-q", remote, NULL};
	const char *abort_[] = {"rebase", "--abort", NULL};
	struct buf err = BUF_INIT;
	int tries, r = -1;

	*rebased = 0;
	for (tries = 0; tries < PUSH_TRIES; tries++) {
		buf_reset(&err);
		if (kiln_git_user(g->clone, push, NULL, &err) == 0) {
			r = 0;
			break;
		}
		/* Refused, most likely because someone pushed first: fetch, rebase onto theirs, again. */
		if (git(g, "fetch after a refused push", NULL, fetch) < 0)
			break;
		if (has_branch(g) && git(g, NULL, NULL, rebase) < 0) {
			git(g, NULL, NULL, abort_);
			error("gitops %s: the push to %s was refused and the rebase onto the commits there "
			    "failed (they change the same files?); nothing was pushed", g->repo, g->branch);
			buf_release(&err);
			free(spec);
			free(remote);
			return -1;
		}
		(*rebased)++;
	}
	if (r < 0 && tries == PUSH_TRIES)
		error("gitops %s: the push to %s was refused %d times, each after a rebase: %s", g->repo,
		    g->branch, PUSH_TRIES, said(&err));
	buf_release(&err);
	free(spec);
	free(remote);
	return r;
}

void
kiln_gitops_replay(char ***stack, char ***tags, size_t *n, const char *action, const char *digest,
    const char *tag)
{
	if (strcmp(action, "deploy") == 0) {
		if (*n > 0 && strcmp((*stack)[*n - 1], digest) == 0) {
			if (tags && tag) {
				free((*tags)[*n - 1]);
				(*tags)[*n - 1] = xstrdup(tag);
			}
			return;
		}
		*stack = xreallocarray(*stack, *n + 1, sizeof(**stack));
		(*stack)[*n] = xstrdup(digest);
		if (tags) {
			*tags = xreallocarray(*tags, *n + 1, sizeof(**tags));
			(*tags)[*n] = tag ? xstrdup(tag) : NULL;
		}
		(*n)++;
	} else if (strcmp(action, "rollback") == 0 && *n > 0) {
		free((*stack)[--*n]);
		if (tags)
			free((*tags)[*n]);
	}
}

/* One line of the history's log: "COMMIT\x1fTARGET\x1fACTION\x1fDIGEST". */
static void
replay_line(struct kiln_gitops *g, char *line, char ***stack, char ***commits, size_t *n)
{
	char *f[4], *save = NULL;
	size_t k;

	for (k = 0; k < 4; k++)
		if (!(f[k] = strtok_r(k ? NULL : line, "\x1f", &save)))
			return;
	if (strcmp(f[1], g->target) == 0 && strncmp(f[3], "sha256:", 7) == 0)
		kiln_gitops_replay(stack, commits, n, f[2], f[3], f[0]);
}

long
kiln_gitops_history(struct kiln_gitops *g, char ***digests, char ***commits)
{
	const char *args[] = {"log", "--reverse", "--format=%H%x1f%(trailers:key=Kiln-Target,valueonly,separator=%x20)"
	    "%x1f%(trailers:key=Kiln-Action,valueonly,separator=%x20)%x1f%(trailers:key=Kiln-Digest,valueonly,"
	    "separator=%x20)", "HEAD", "--", g->path, NULL};
	struct buf out = BUF_INIT;
	char *line, *save = NULL;
	size_t n = 0;

	*digests = *commits = NULL;
	if (git(g, "git log", &out, args) < 0) {
		buf_release(&out);
		return -1;
	}
	for (line = out.s ? strtok_r(out.s, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		replay_line(g, line, digests, commits, &n);
	buf_release(&out);
	return (long)n;
}

int
kiln_gitops_restore(struct kiln_gitops *g, const char *commit)
{
	const char *rm[] = {"rm", "-q", "-r", "--ignore-unmatch", "--", g->path, NULL};
	const char *co[] = {"checkout", "-q", commit, "--", g->path, NULL};

	/* Files the later deploys added go too: the folder is what it was then. */
	if (git(g, "git rm", NULL, rm) < 0)
		return -1;
	return git(g, "checkout the earlier manifests", NULL, co);
}

int
kiln_gitops_head(struct kiln_gitops *g, char hex[41])
{
	const char *args[] = {"rev-parse", "HEAD", NULL};
	struct buf out = BUF_INIT;
	int r = git(g, "git rev-parse HEAD", &out, args);

	if (r == 0 && out.len >= 40) {
		memcpy(hex, out.s, 40);
		hex[40] = '\0';
	} else {
		r = -1;
	}
	buf_release(&out);
	return r;
}
