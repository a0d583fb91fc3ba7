/*
 * git: a subprocess with a clean environment; see git.h.
 *
 * A copied repository's own .git/config (and what it includes) may name
 * commands git would run: a filter driver's clean or process command runs
 * in `git status` for any file whose stat changed, gpg.program in `git log`
 * with log.showSignature. Before the first command kiln lists the keys the
 * repository sets (`git config --list --name-only`, which runs nothing) and
 * overrides every filter's commands with empty ones through
 * GIT_CONFIG_COUNT, which outranks the repository's config.
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

/* The GIT_CONFIG_COUNT entries that disarm the repository's own commands. */
struct overrides {
	char **env;		/* "GIT_CONFIG_KEY_n=…", "GIT_CONFIG_VALUE_n=…", then COUNT */
	size_t n;
};

static void
override(struct overrides *o, size_t *count, const char *key, const char *value)
{
	o->env = xreallocarray(o->env, o->n + 2, sizeof(*o->env));
	o->env[o->n++] = xasprintf("GIT_CONFIG_KEY_%zu=%s", *count, key);
	o->env[o->n++] = xasprintf("GIT_CONFIG_VALUE_%zu=%s", *count, value);
	++*count;
}

/* Is key (as git config lists it, lower-case section and name) filter.NAME.clean, .smudge or .process? */
static int
filter_command(const char *key)
{
	static const char *const names[] = {".clean", ".smudge", ".process", NULL};
	size_t n = strlen(key), i;

	if (strncmp(key, "filter.", 7) != 0)
		return 0;
	for (i = 0; names[i]; i++) {
		size_t k = strlen(names[i]);

		if (n > 7 + k && strcmp(key + n - k, names[i]) == 0)
			return 1;
	}
	return 0;
}

static char *const *base_env(void);

/*
 * The overrides for the repository kiln is in, worked out once: every
 * filter the repository's config names gets empty commands and is not
 * required; signatures are not checked.
 */
static const struct overrides *
repo_overrides(void)
{
	static struct overrides o;
	static int done;
	static const char *const list[] = {"config", "--list", "--name-only", "--includes", "-z", NULL};
	static const char *const pre[] = {"git", NULL};
	struct buf out = BUF_INIT;
	size_t count = 0, at = 0;

	if (done)
		return &o;
	done = 1;
	override(&o, &count, "log.showSignature", "false");
	if (spawn_git(pre, list, base_env(), &out, NULL) == 0) {
		while (at < out.len) {
			const char *key = out.s + at;
			char *name;

			at += strlen(key) + 1;
			if (!filter_command(key))
				continue;
			override(&o, &count, key, "");
			name = xasprintf("%.*srequired", (int)(strlen(key) - strlen(strrchr(key, '.') + 1)), key);
			override(&o, &count, name, "false");
			free(name);
		}
	}
	buf_release(&out);
	o.env = xreallocarray(o.env, o.n + 1, sizeof(*o.env));
	o.env[o.n++] = xasprintf("GIT_CONFIG_COUNT=%zu", count);
	return &o;
}

/* PATH, and what keeps git from reading the user's or the system's config or asking anything. */
static char *const *
base_env(void)
{
	static char *env[8];

	if (!env[0]) {
		const char *path = getenv("PATH");

		env[0] = xasprintf("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
		env[1] = "LC_ALL=C";
		env[2] = "GIT_CONFIG_NOSYSTEM=1";
		env[3] = "GIT_CONFIG_GLOBAL=/dev/null";
		env[4] = "HOME=/nonexistent";
		env[5] = "GIT_TERMINAL_PROMPT=0";
		env[6] = "GIT_OPTIONAL_LOCKS=0";
	}
	return env;
}

static int
run_git(const char *const *args, struct buf *out, struct buf *err)
{
	static const char *const pre[] = {"git", "--no-pager", "-c", "core.fsmonitor=false", "-c",
	    "core.hooksPath=/dev/null", "-c", "core.untrackedCache=false", NULL};
	const struct overrides *o = repo_overrides();
	char *const *base = base_env();
	char **env;
	size_t n = 0, i;
	int r;

	for (i = 0; base[i]; i++)
		;
	env = xreallocarray(NULL, i + o->n + 1, sizeof(*env));
	for (i = 0; base[i]; i++)
		env[n++] = base[i];
	for (i = 0; i < o->n; i++)
		env[n++] = o->env[i];
	env[n] = NULL;
	r = spawn_git(pre, args, env, out, err);
	free(env);
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
