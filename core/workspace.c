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
	KILN_LINKS_SEEN_PATH,
};

/* Is line one of the lines of text? */
static int
seen_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; p && (p = strstr(p, line)); p += n)
		if (p == text || p[-1] == '\n')
			return 1;
	return 0;
}

/*
 * Refuse the folder rel if one of its entries is a link: kiln keeps one file
 * or folder per target there. Reading 10,000 entries was a tenth of a no-op
 * build's system time, so a folder whose stat is the one `seen` says (a
 * line "rel dev ino mtime ctime", written after its entries were last read
 * and found to hold no link) is not read again: an entry added, removed or
 * renamed moves its mtime and ctime. Its line goes into `now` when it may be
 * trusted next time: not when it changed in the clock tick it was stat'ed
 * in (the racily clean rule), as a later change in that tick would not move
 * it. The stat is taken before the entries are read, so a link made while
 * they are read leaves a stat that is not the one recorded.
 */
static int
linked_entry(const char *rel, const char *seen, struct buf *now)
{
	int fd = kiln_fs_openat(AT_FDCWD, rel, O_RDONLY | O_DIRECTORY, 0), bad = 0;
	struct dirent *e;
	struct stat sb;
	char line[512];
	int64_t tick;
	DIR *d;

	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return 0;
	}
	tick = kiln_fs_now_ns();
	snprintf(line, sizeof(line), "%s %ju %ju %jd %jd\n", rel, (uintmax_t)sb.st_dev, (uintmax_t)sb.st_ino,
	    (intmax_t)ns_of(&sb.st_mtim), (intmax_t)ns_of(&sb.st_ctim));
	if (ns_of(&sb.st_mtim) < tick && ns_of(&sb.st_ctim) < tick && seen_line(seen, line)) {
		close(fd);
		buf_adds(now, line);
		return 0;
	}
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
	if (!bad && ns_of(&sb.st_mtim) < tick && ns_of(&sb.st_ctim) < tick)
		buf_adds(now, line);
	return bad ? -1 : 0;
}

/* Refuse a workspace whose kiln folders or files are (or run through) symbolic links; `lock`: may write. */
static int
check_links(int lock)
{
	struct buf now = BUF_INIT;
	char *seen;
	size_t i, len;
	int bad;

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
	seen = kiln_fs_read(AT_FDCWD, KILN_LINKS_SEEN_PATH, &len);
	bad = linked_entry(KILN_OUT_DIR, seen, &now) < 0 || linked_entry(KILN_LOG_DIR, seen, &now) < 0;
	/* Only a kiln that takes the lock writes; failing to costs the next run a read of the folders. */
	if (!bad && lock && now.len && !(seen && strcmp(seen, now.s) == 0) && access(KILN_DIR, F_OK) == 0)
		(void)write_file_atomic(KILN_LINKS_SEEN_PATH, now.s, now.len, 0644, 0);
	free(seen);
	buf_release(&now);
	return bad ? -1 : 0;
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
	if (check_links(lock) < 0)
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
