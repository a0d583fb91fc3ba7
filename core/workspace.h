/*
 * workspace: a folder with a Kilnfile, opened for building.
 *
 * Opening one evaluates the Kilnfile into a graph (or reuses .kiln/graph),
 * loads the state, opens the local cache and sets up the plugin search, all
 * with the workspace root as kiln's current folder. A cloned workspace is
 * untrusted: .kiln/, kiln-out/ and the files kiln keeps in them must be real
 * files and folders, never symbolic links, or nothing is opened.
 */
#ifndef KILN_WORKSPACE_H
#define KILN_WORKSPACE_H

#include "cache.h"
#include "graph.h"
#include "loader.h"
#include "state.h"

struct kiln_overrides;
struct kiln_remote;

struct kiln_workspace {
	char *root;			/* absolute path of the workspace (kiln's current folder) */
	struct kiln_graph graph;	/* the evaluated Kilnfile */
	struct kiln_state state;	/* .kiln/state */
	struct kiln_cache cache;	/* the user's local cache */
	struct kiln_plugins plugins;	/* where plugins are found, and those loaded */
	struct kiln_remote *remote;	/* the shared remote cache, or NULL (kiln_workspace_attach_remote) */
	int fetch_sources;		/* restore a missing tracked source (sources.h) when an input needs it */
	int lockfd;			/* .kiln/lock, held while building; -1 when not taken */
};

/*
 * Open the workspace in the current folder. `lock` takes the workspace lock
 * (waiting for another kiln that holds it); without it the state is only
 * read. -1 after reporting.
 */
int kiln_workspace_open(struct kiln_workspace *ws, int lock);
/* The same, evaluating the Kilnfile with the -S overrides ov (kept by the caller; may be NULL). */
int kiln_workspace_open_with(struct kiln_workspace *ws, int lock, struct kiln_overrides *ov);
/*
 * Does the relative path stay inside the workspace once its links are
 * followed? (1 also when it does not exist.) A cloned repository's link to
 * ~/.ssh is not an input.
 */
int kiln_workspace_inside(const struct kiln_workspace *ws, const char *path);
/* Close it and free what it holds; ws may be one that failed to open. */
void kiln_workspace_close(struct kiln_workspace *ws);
/*
 * Open the remote cache the workspace is configured for (--remote `opt`,
 * $KILN_REMOTE or kiln.config; see kiln_remote_url) as ws->remote.
 * KILN_REMOTE_READ_ONLY makes it read-only. 0 also when there is none.
 */
int kiln_workspace_attach_remote(struct kiln_workspace *ws, const char *opt, int read_only);

#endif
