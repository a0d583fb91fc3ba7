/*
 * git: a subprocess with a clean environment; see git.h.
 *
 * NEEDSWORK: a filter driver named in the repository's own .git/config
 * (filter.NAME.clean) could still run in `git status` when a file's stat
 * changed; a cloned repository has no such config, a copied one might.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "git.h"
#include "util.h"

#define MAX_OUTPUT (256u << 20)

/* Read fd to its end into b, keeping at most max bytes. */
static void
read_fd(int fd, struct buf *b, size_t max)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (b->len + (size_t)n <= max)
			buf_add(b, chunk, n);
	}
}

/*
 * Run git with args (after the options that keep it from running anything
 * of the repository's), stdout into out and stderr into err (either may be
 * NULL). Its exit status, or -1 if it could not run.
 */
static int
spawn_git(const char *const *pre, const char *const *args, char *const *env, struct buf *out, struct buf *err);

static int
run_git(const char *const *args, struct buf *out, struct buf *err)
{
	static const char *const pre[] = {"git", "--no-pager", "-c", "core.fsmonitor=false", "-c",
	    "core.hooksPath=/dev/null", "-c", "core.untrackedCache=false", NULL};
	const char *path = getenv("PATH");
	char *envpath = xasprintf("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *env[] = {envpath, "LC_ALL=C", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	    "HOME=/nonexistent", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", NULL};
	int r = spawn_git(pre, args, env, out, err);

	free(envpath);
	return r;
}

extern char **environ;

/* Is env entry e one of the variables that would point git at another repository? */
static int
repo_var(const char *e)
{
	static const char *const vars[] = {"GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=",
	    "GIT_OBJECT_DIRECTORY=", "GIT_COMMON_DIR=", "GIT_NAMESPACE=", "LC_ALL=", NULL};
	size_t i;

	for (i = 0; vars[i]; i++)
		if (strncmp(e, vars[i], strlen(vars[i])) == 0)
			return 1;
	return 0;
}

int
kiln_git_user(const char *dir, const char *const *args, struct buf *out, struct buf *err)
{
	const char *pre[] = {"git", "--no-pager", "-C", dir, NULL};
	char **env;
	size_t n = 0, i;
	int r;

	for (i = 0; environ[i]; i++)
		;
	env = xreallocarray(NULL, i + 3, sizeof(*env));
	for (i = 0; environ[i]; i++)
		if (!repo_var(environ[i]))
			env[n++] = environ[i];
	env[n++] = "LC_ALL=C";
	env[n++] = "GIT_TERMINAL_PROMPT=0";
	env[n] = NULL;
	r = spawn_git(pre, args, env, out, err);
	free(env);
	return r;
}

/* Run pre then args, in env; stdout into out and stderr into err (either may be NULL). */
static int
spawn_git(const char *const *pre, const char *const *args, char *const *env, struct buf *out, struct buf *err)
{
	const char *argv[32];
	posix_spawn_file_actions_t fa;
	int po[2], pe[2], status = -1, rc;
	size_t n = 0, i;
	pid_t pid;

	for (i = 0; pre[i]; i++)
		argv[n++] = pre[i];
	for (i = 0; args[i] && n < LEN(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (rc == 0) {
		struct buf sink = BUF_INIT;

		/* git says little on stderr: reading stdout to its end first cannot block on it. */
		read_fd(po[0], out ? out : &sink, MAX_OUTPUT);
		read_fd(pe[0], err ? err : &sink, 1 << 16);
		buf_release(&sink);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(po[0]);
	close(pe[0]);
	if (rc != 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
kiln_git_head(char hex[41], int *dirty)
{
	static const char *const head[] = {"rev-parse", "--verify", "-q", "HEAD", NULL};
	static const char *const st[] = {"status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all", NULL};
	struct buf out = BUF_INIT;
	int r = -1;

	if (run_git(head, &out, NULL) == 0 && out.len >= 40 && strspn(out.s, "0123456789abcdef") >= 40) {
		memcpy(hex, out.s, 40);
		hex[40] = '\0';
		buf_reset(&out);
		if (run_git(st, &out, NULL) == 0) {
			*dirty = out.len > 0;
			r = 0;
		}
	}
	buf_release(&out);
	return r;
}

char *
kiln_git_show(const char *rev, const char *path, size_t *len)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	char *spec;
	const char *args[] = {"show", "--no-textconv", NULL, NULL};
	int r;

	if (!*rev || rev[0] == '-' || strchr(rev, ':'))
		return error("'%s' is not a revision", rev), NULL;
	spec = xasprintf("%s:./%s", rev, path);
	args[2] = spec;
	r = run_git(args, &out, &err);
	free(spec);
	if (r != 0) {
		while (err.len && (err.s[err.len - 1] == '\n'))
			err.s[--err.len] = '\0';
		if (r < 0)
			error("cannot run git:");
		else
			error("git show %s:./%s: %s", rev, path, err.len ? err.s : "failed");
		buf_release(&out);
		buf_release(&err);
		return NULL;
	}
	buf_release(&err);
	*len = out.len;
	if (!out.s)
		buf_adds(&out, "");
	return buf_detach(&out);
}

char *
kiln_git_log(const char *path, int n)
{
	struct buf out = BUF_INIT;
	char *count = xasprintf("-n%d", n), *spec = xasprintf("./%s", path);
	const char *args[] = {"log", count, "--diff-filter=AMR", "--format=%H %h %cs", "--", spec, NULL};
	int r = run_git(args, &out, NULL);

	free(count);
	free(spec);
	if (r != 0) {
		buf_release(&out);
		return NULL;
	}
	buf_addc(&out, '\0');
	return buf_detach(&out);
}
