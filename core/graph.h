/*
 * graph: targets, their inputs and the edges between them.
 *
 * A graph's memory is one arena: targets live exactly as long as the graph.
 */
#ifndef KILN_GRAPH_H
#define KILN_GRAPH_H

#include <stdio.h>
#include <kiln/plugin.h>

#include "digest.h"
#include "map.h"
#include "util.h"

/* The longest target name: .kiln/logs/<name>.log must stay a valid file name. */
#define KILN_NAME_MAX 200

struct kiln_overrides;
struct kiln_record;

enum kiln_input_kind {
	KILN_INPUT_TARGET,	/* ":name": another target's outputs */
	KILN_INPUT_PATH,	/* a file or a folder in the workspace */
	KILN_INPUT_GLOB,	/* a pattern over workspace files */
};

struct kiln_input {
	const char *name;		/* as in {in.NAME} */
	const char *spec;		/* as written in the Kilnfile */
	struct kiln_target *dep;	/* KILN_INPUT_TARGET */
	/* Filled when the input is resolved during a build: */
	struct kiln_digest digest;
	char *path;			/* what the plugin sees (malloc'd; a file or folder's: spec) */
	char **files;			/* every file the input covers, for the sandbox (malloc'd;
					   a file or folder's: &path; a target's: &dep->outpath) */
	uint32_t nfiles;
	uint8_t kind;			/* enum kiln_input_kind */
	uint8_t soft;			/* a target the step can do without: if it fails, the step runs without it */
};

struct kiln_env {
	const char *name;
	const char *value;	/* fixed in the Kilnfile, or NULL: taken from kiln's environment */
};

/*
 * A tool a step runs with (tools = { NAME = "/abs/path" }): a host file or
 * folder, in the key by its digest and bound read-only; or, in `packages`,
 * an installed Debian package, in the key by its version (path NULL).
 */
struct kiln_tool {
	const char *name;	/* NAME, or the package's name */
	const char *path;	/* absolute host path; NULL for a package */
	struct kiln_digest digest;	/* filled when resolved during a build */
};

/* What a target declares it runs with: its own tools and kiln.config's. */
struct kiln_toolset {
	struct kiln_tool *tools;	/* sorted by name */
	struct kiln_tool *packages;	/* sorted by name */
	uint32_t ntools, npackages;
};

/* A step's wall-clock limit when neither its target nor kiln.config sets one (docs/guide.md). */
#define KILN_STEP_TIMEOUT (6 * 3600.0)

struct kiln_resources {
	int cpus;		/* slots the step takes, default 1 */
	int threads;		/* threads it may use, default cpus; part of the key */
	int gpus;
	long long mem;		/* bytes, 0 unlimited */
	long long disk;		/* bytes its outputs and /tmp may hold, 0: the sandbox's default */
	double timeout;		/* seconds, 0 none: the target's, else kiln.config's; the CPU limit and Slurm's */
	double wall;		/* seconds, 0 none: the wall-clock limit the local executor enforces,
				   timeout or else KILN_STEP_TIMEOUT (unless "none" was declared) */
};

/* Where a target's build stands during one kiln run. */
enum kiln_target_state {
	KILN_T_IDLE,		/* not wanted, or not yet looked at */
	KILN_T_WAITING,		/* wanted; waiting for its dependencies */
	KILN_T_RUNNING,
	KILN_T_LOOKUP,		/* its key is being looked up in the remote cache */
	KILN_T_DONE,		/* up to date; outdigest is valid */
	KILN_T_FAILED,
	KILN_T_SKIPPED,		/* a dependency failed */
};

/*
 * A target. A graph holds one per target and a no-op build of 100,000
 * targets holds them all, so the fields are laid out small: counts are
 * 32-bit, flags a byte each (not bitfields: threads set neighbouring ones).
 */
struct kiln_target {
	const char *name;
	const char *plugin;
	const char *file;	/* where it was declared */
	struct kiln_input *inputs;	/* sorted by name */
	kiln_value *params;		/* a KILN_MAP; NULL until decoded when lazy (kiln_target_params) */
	const unsigned char *penc;	/* a cached graph's encoded params (graphcache.c), or NULL */
	const char **outputs;		/* sorted */
	struct kiln_env *env;		/* sorted by name */
	struct kiln_toolset tools;	/* kiln.config's merged in (kiln_graph_merge_tools) */
	struct kiln_resources res;
	double checkpoint_upload;	/* seconds between uploads of that checkpoint to the remote cache; 0: none */
	uint32_t line;
	uint32_t ninputs;
	uint32_t noutputs;
	uint32_t nenv;
	uint8_t network;
	uint8_t gpu_key;	/* gpu_key = "driver": a GPU step's driver and CUDA versions are in its key */
	uint8_t checkpoint;	/* checkpoint = true: the step keeps a checkpoint to resume from (checkpoint.h) */
	uint8_t effect;		/* a side effect (a push, a commit): run only when named, never cached */

	/* Build bookkeeping, owned by the scheduler. */
	uint8_t state;		/* enum kiln_target_state */
	uint8_t wanted;
	uint8_t named;		/* named on the command line (kiln_graph_want) */
	uint8_t mark;		/* for walks */

	/* Edges, unique, filled by kiln_graph_link(). */
	uint32_t ndeps;
	uint32_t nrdeps;
	struct kiln_target **deps;
	struct kiln_target **rdeps;

	uint32_t pending;	/* dependencies not yet done */
	struct kiln_digest key;
	struct kiln_digest outdigest;	/* digest of all outputs' names and digests */
	char *outpath;			/* "kiln-out/<name>", made once (malloc'd) */
	void *job;		/* the running step, if any */
	/* Its state record, when a second thread found every output's stat as recorded (kiln_outputs_ahead). */
	const struct kiln_record *seen;
};

struct kiln_config {
	const char *remote;
	const char *download;	/* remote = { download = "all" | "minimal" }, or NULL */
	const char *executor;
	const kiln_value *slurm;	/* the slurm executor's options (a KILN_MAP), or NULL */
	struct kiln_toolset tools;	/* every target's tools; a target's own of the same name win */
	const char *file;	/* where kiln.config was called */
	int line;
};

struct kiln_graph {
	struct arena arena;
	struct map byname;
	struct kiln_target **targets;	/* in declaration order */
	size_t ntargets, cap;
	struct kiln_config config;
	const char **sources;	/* the files evaluation read: the Kilnfile and what it included */
	size_t nsources;
	struct kiln_overrides *overrides;	/* -S, applied during evaluation, or NULL (not owned) */
	struct kiln_target **edges;	/* every target's deps and rdeps, one block (kiln_graph_link) */
	void *blob;		/* .kiln/graph's bytes, which strings of a cached graph point into (malloc'd) */
	size_t blob_len;
	/* The digest of the .kiln/graph bytes it was read from or saved as (kiln_graphcache_id), once asked. */
	struct kiln_digest id;
	int has_id;
};

void kiln_graph_init(struct kiln_graph *g);
void kiln_graph_release(struct kiln_graph *g);
/* Add a target; -1 (with the earlier one's place in `err`) if the name is taken. */
struct kiln_target *kiln_graph_add(struct kiln_graph *g, const char *name);
/* The same, keeping name itself, which must outlive g (a cached graph's bytes). */
struct kiln_target *kiln_graph_add_kept(struct kiln_graph *g, const char *name);
struct kiln_target *kiln_graph_find(const struct kiln_graph *g, const char *name);
/*
 * Resolve ":name" inputs into edges and reject cycles. Reports each problem
 * with the target's place in the Kilnfile; returns -1 if any.
 */
int kiln_graph_link(struct kiln_graph *g);
/*
 * Set `wanted` on the named targets and everything they depend on. With
 * n == 0, every target but the side effects (`effect`) and what depends on them.
 */
int kiln_graph_want(struct kiln_graph *g, char **names, size_t n);
/*
 * A target's params, a KILN_MAP. A cached graph's stay encoded in its
 * bytes until asked for (only the targets that run need them): decoded
 * here, once, from any thread.
 */
const kiln_value *kiln_target_params(const struct kiln_target *t);
/*
 * The same for a look that keeps nothing (a plugin's check, which a no-op
 * build makes of every target): params not decoded yet are decoded into
 * *tmp, which the caller frees, and not kept.
 */
const kiln_value *kiln_target_params_tmp(const struct kiln_target *t, kiln_value **tmp);
/*
 * A cached graph's params as they are encoded in it (t->penc): a u32
 * count, then per param its name (wire_str) and the u32 length and bytes
 * of kiln_value_encode's encoding of its value. graphcache.c checks them
 * when it loads; these walk them. kiln_params_count moves *p to the first.
 */
uint32_t kiln_params_count(const unsigned char **p);
/* The param at *p: its name and encoded value; *p moves past it. */
void kiln_params_next(const unsigned char **p, const char **name, const unsigned char **enc, uint32_t *len);
/* Give every target kiln.config's tools and packages that it does not declare itself. */
void kiln_graph_merge_tools(struct kiln_graph *g);
/* Write the wanted part of the graph as Graphviz dot. */
void kiln_graph_dot(const struct kiln_graph *g, FILE *f);

#endif
