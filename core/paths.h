/*
 * paths: where kiln's files are — in a workspace, and kiln's own.
 *
 * Every workspace path is relative to the workspace root, which is kiln's
 * current folder while it works; they are named here and nowhere else.
 */
#ifndef KILN_PATHS_H
#define KILN_PATHS_H

#define KILN_FILE "Kilnfile"			/* the build description */
#define KILN_LOCKFILE "Kilnfile.lock"		/* key and output digests per target, committed */
#define KILN_OUT_DIR "kiln-out"			/* kiln-out/<target>/: each target's outputs */
#define KILN_DIR ".kiln"			/* kiln's own state in the workspace */
#define KILN_STATE_PATH ".kiln/state"		/* the log of what was built (state.h) */
#define KILN_GRAPH_PATH ".kiln/graph"		/* the evaluated Kilnfile (graphcache.h) */
#define KILN_WSLOCK_PATH ".kiln/lock"		/* held by the kiln that builds here */
#define KILN_TMP_DIR ".kiln/tmp"		/* .kiln/tmp/<target>/: a step's scratch, out/ its outputs */
#define KILN_LOG_DIR ".kiln/logs"		/* .kiln/logs/<target>.log: each step's output */
#define KILN_VERIFY_DIR ".kiln/verify"		/* what kiln verify keeps of differing files */
#define KILN_DEPLOY_DIR ".kiln/deployments"	/* kiln deploy's history */
#define KILN_TOOLS_DIR ".kiln/tools"		/* .kiln/tools/<digest>: a tool folder's file list, for kiln why */
#define KILN_REMOTE_SOURCES_PATH ".kiln/remote-sources"	/* what fetch targets' URLs served when last checked */
#define KILN_HISTORY_PATH ".kiln/history"	/* the run history: one record per build with metrics (history.h) */
#define KILN_LINKS_SEEN_PATH ".kiln/links-seen"	/* kiln-out's and the logs' stat when last found to hold no link */

/* The absolute path of the running kiln executable (static storage); dies if it cannot be found. */
const char *kiln_paths_self(void);
/*
 * One of kiln's own files (kiln-run, kiln-serve, plugins/): beside the
 * executable in a build tree, else in ../lib/kiln/ of an installed one. A new
 * string; the build tree's name when neither exists.
 */
char *kiln_paths_own(const char *name);

#endif
