/*
 * loader: finding, loading and checking plugins in kiln's own process.
 *
 * Plugins are looked for, in order, in the folders of $KILN_PLUGIN_PATH, in
 * the repository's plugins/ folder and in kiln's own plugin folder; the
 * file for plugin NAME is NAME.so. kiln loads each built-in and installed
 * one it needs, to learn its version and call its check(); the build step
 * itself runs the plugin in kiln-run.
 *
 * A repository's plugins/ are untrusted, like the rest of a clone: kiln
 * never loads one into its own process (its constructors would run as the
 * user before any sandbox exists). `kiln-run --describe` loads it inside
 * the sandbox and answers with its descriptor, which is kept in the local
 * cache by the file's digest; its check() runs in the step, in the sandbox,
 * before its run().
 */
#ifndef KILN_LOADER_H
#define KILN_LOADER_H

#include <kiln/plugin.h>

#include "graph.h"
#include "state.h"

struct kiln_plugin_info {
	char *name;
	char *path;		/* absolute */
	const char *where;	/* "KILN_PLUGIN_PATH", "repository" or "built-in" */
	const struct kiln_plugin *desc;	/* the plugin's own, or `described` */
	void *handle;		/* dlopen's, NULL for a described plugin */
	struct kiln_plugin described;	/* a repository plugin's descriptor, as kiln-run described it */
	int untrusted;		/* a repository plugin: loaded only in the sandbox */
	int has_check;		/* an untrusted plugin has a check(), which the step runs */
	struct kiln_digest digest;	/* of the shared object's bytes */
	struct kiln_digest keydigest;	/* its component of action keys (key.c) */
	char *machine;		/* what its kiln_plugin_machine() said, or NULL */
	struct kiln_digest machinedigest;	/* of `machine` */
};

struct kiln_plugins {
	char **dirs;		/* search order */
	const char **where;
	size_t ndirs;
	char *runner;		/* path of kiln-run */
	char *described;	/* the local cache's plugins/ folder: kiln-run's answers by digest */
	struct map byname;	/* name -> struct kiln_plugin_info * (NULL: known missing) */
	struct kiln_plugin_info **loaded;
	size_t nloaded;
};

/* Set the search path; workspace is the repository root. */
void kiln_plugins_init(struct kiln_plugins *p, const char *workspace);
void kiln_plugins_release(struct kiln_plugins *p);

/*
 * The plugin called `name`, loaded and checked (ABI, descriptor), with its
 * digest from the stat cache. NULL after printing why, naming `t` if given.
 */
struct kiln_plugin_info *kiln_plugins_get(struct kiln_plugins *p, const char *name,
    struct kiln_state *st, const struct kiln_target *t);

/*
 * Run the plugin's check() on a target's params (an untrusted plugin's in the
 * sandbox, through kiln-run); -1 (reported) if it refuses them.
 */
int kiln_plugin_check(struct kiln_plugins *p, struct kiln_plugin_info *pi, const struct kiln_target *t);

/* `kiln plugins`: list every plugin found, in search order, with problems. */
int kiln_plugins_list(struct kiln_plugins *p, struct kiln_state *st);

#endif
