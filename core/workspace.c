/*
 * workspace: opening, locking and closing a workspace; see workspace.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "graphcache.h"
#include "paths.h"
#include "remote.h"
#include "workspace.h"

/* What kiln writes in a workspace: none of it may be a link a repository committed. */
static const char *const kept[] = {
	KILN_DIR, KILN_OUT_DIR, KILN_STATE_PATH, KILN_GRAPH_PATH, KILN_WSLOCK_PATH, KILN_TMP_DIR,
	KILN_LOG_DIR, KILN_VERIFY_DIR, KILN_DEPLOY_DIR, KILN_LOCKFILE, KILN_HISTORY_PATH, KILN_REMOTE_SOURCES_PATH,
};

/* The entries of the folder rel that are links: kiln keeps one file or folder per target there. */
static int
linked_entry(const char *rel)
{
	int fd = kiln_fs_openat(AT_FDCWD, rel, O_RDONLY | O_DIRECTORY, 0), bad = 0;
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while (!bad && (e = readdir(d))) {
		struct stat st;

		if (e->d_type == DT_LNK || (e->d_type == DT_UNKNOWN && fstatat(dirfd(d), e->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))) {
			error("%s/%s is a symbolic link; kiln writes only into real files and folders of the "
			    "workspace (remove the link and build again)", rel, e->d_name);
			bad = 1;
		}
	}
	closedir(d);
	return bad ? -1 : 0;
}

/* Refuse a workspace whose kiln folders or files are (or run through) symbolic links. */
static int
check_links(void)
{
	size_t i;

	for (i = 0; i < LEN(kept); i++) {
		char *where;
		int r = kiln_fs_linked(AT_FDCWD, kept[i], &where);

		if (r < 0)
			return error("cannot look at %s:", kept[i]);
		if (r > 0) {
			error("%s is a symbolic link; kiln writes only into real files and folders of the "
			    "workspace (remove the link and build again)", where);
			free(where);
			return -1;
		}
	}
	return linked_entry(KILN_OUT_DIR) < 0 || linked_entry(KILN_LOG_DIR) < 0 ? -1 : 0;
}

static int
take_lock(struct kiln_workspace *ws)
{
	char pid[32];
	/*
	 * Not close-on-exec: every step inherits the lock, so it is held until
	 * the last process of this build is gone, even if kiln itself is killed
	 * and its steps live on. A new kiln then waits rather than sharing
	 * .kiln/tmp with them.
	 */
	int fd = kiln_fs_openat(AT_FDCWD, KILN_WSLOCK_PATH, O_RDWR | O_CREAT, 0644);

	if (fd < 0)
		return error("cannot open " KILN_WSLOCK_PATH ":");
	fcntl(fd, F_SETFD, 0);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char other[32] = "";
		ssize_t n = pread(fd, other, sizeof(other) - 1, 0);

		other[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "kiln: another kiln (pid %s) is using this workspace; waiting for it to finish...\n",
		    other[0] ? strtok(other, "\n") : "?");
		if (flock(fd, LOCK_EX) < 0) {
			close(fd);
			return error("cannot lock " KILN_WSLOCK_PATH ":");
		}
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)pwrite(fd, pid, strlen(pid), 0);
	ws->lockfd = fd;
	return 0;
}

int
kiln_workspace_open(struct kiln_workspace *ws, int lock)
{
	return kiln_workspace_open_with(ws, lock, NULL);
}

int
kiln_workspace_open_with(struct kiln_workspace *ws, int lock, struct kiln_overrides *ov)
{
	char *cache;
	int fd;

	memset(ws, 0, sizeof(*ws));
	ws->lockfd = -1;
	kiln_graph_init(&ws->graph);
	ws->graph.overrides = ov;
	ws->root = getcwd(NULL, 0);
	if (!ws->root)
		return error("cannot find the current folder:");
	if (access(KILN_FILE, F_OK) < 0)
		return error("no " KILN_FILE " in %s (use -C DIR to build elsewhere)", ws->root);
	if (check_links() < 0)
		return -1;
	fd = kiln_fs_mkdirsat(AT_FDCWD, KILN_DIR, 0755);
	if (fd < 0)
		return error("cannot create " KILN_DIR ":");
	close(fd);
	if (lock && take_lock(ws) < 0)
		return -1;
	kiln_state_load(&ws->state, KILN_STATE_PATH);
	/* Without the lock another kiln may be appending: only look. */
	ws->state.readonly = !lock;
	if (kiln_graphcache_load(&ws->graph, KILN_FILE, &ws->state) < 0 || kiln_graph_link(&ws->graph) < 0)
		return -1;
	cache = kiln_cache_default_dir();
	if (kiln_cache_open(&ws->cache, cache) < 0) {
		free(cache);
		return -1;
	}
	free(cache);
	kiln_plugins_init(&ws->plugins, ws->root);
	return 0;
}

int
kiln_workspace_inside(const struct kiln_workspace *ws, const char *path)
{
	char *real;
	size_t n = strlen(ws->root);
	int in, fd;

	/*
	 * The root is the working directory, as getcwd spelled it (no links):
	 * a path that opens beneath it through no link is inside, in one open
	 * where realpath would lstat every folder from /. Anything else (a
	 * link on the way, a file that cannot be opened) asks realpath.
	 */
	if ((fd = kiln_fs_openat(AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0)) >= 0) {
		close(fd);
		return 1;
	}
	if (!(real = realpath(path, NULL)))
		return 1;
	in = strncmp(real, ws->root, n) == 0 && (real[n] == '/' || real[n] == '\0' || n == 1);
	free(real);
	return in;
}

void
kiln_workspace_close(struct kiln_workspace *ws)
{
	kiln_plugins_release(&ws->plugins);
	kiln_remote_free(ws->remote);
	kiln_cache_release(&ws->cache);
	kiln_state_release(&ws->state);
	kiln_graph_release(&ws->graph);
	if (ws->lockfd >= 0)
		close(ws->lockfd);
	free(ws->root);
}

int
kiln_workspace_attach_remote(struct kiln_workspace *ws, const char *opt, int read_only)
{
	const char *url = kiln_remote_url(opt, ws->graph.config.remote);
	const char *ro = getenv("KILN_REMOTE_READ_ONLY");

	if (!url)
		return 0;
	if (ro && *ro && strcmp(ro, "0") != 0)
		read_only = 1;
	/* So that what kiln starts (a Slurm job's node side) is read-only too: srun passes the environment on. */
	if (read_only && setenv("KILN_REMOTE_READ_ONLY", "1", 1) < 0)
		die("out of memory");
	ws->remote = kiln_remote_new(url, &ws->cache, read_only);
	return ws->remote ? 0 : -1;
}
