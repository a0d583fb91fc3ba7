/*
 * git: what kiln asks of the git repository a workspace is in, by running
 * `git` as a subprocess: never a library, never anything of the
 * repository's own (no hooks, no fsmonitor, no filter driver or signature
 * program its config names, no user or system config).
 */
#ifndef KILN_GIT_H
#define KILN_GIT_H

#include <stddef.h>

struct buf;

/*
 * The commit checked out in the current folder's repository (40 hex digits
 * and a NUL into hex) and whether tracked files differ from it (*dirty).
 * -1 when there is no repository, no commit or no git: nothing is printed.
 */
int kiln_git_head(char hex[41], int *dirty);
/*
 * The bytes of `path` (relative to the current folder) at revision rev,
 * as `git show REV:./PATH` prints them (malloc'd, NUL-terminated, *len
 * its length). NULL after reporting, with git's own message.
 */
char *kiln_git_show(const char *rev, const char *path, size_t *len);
/*
 * The last n commits that added or changed `path`, newest first, one line
 * each: "FULL-HASH SHORT-HASH YYYY-MM-DD" (malloc'd). NULL, printing
 * nothing, outside a repository or without git.
 */
char *kiln_git_log(const char *path, int n);
/*
 * Run `git -C dir ARGS` as the user would, in kiln's own clone (gitops):
 * the user's environment, configuration and credentials (ssh agent,
 * credential helpers, identity), less the variables that would point git
 * at another repository. stdout into out, stderr into err (either may be
 * NULL). git's exit status, or -1 if it could not run.
 */
int kiln_git_user(const char *dir, const char *const *args, struct buf *out, struct buf *err);

#endif
