/*
 * A stand-in for kiln's plugin host in the ML unit tests: loads a plugin
 * .so, gives it params written as JSON, inputs and an output folder, and
 * keeps what it reports. Not an engine: no graph, cache or sandbox.
 */
#ifndef ML_HOST_H
#define ML_HOST_H

#include <kiln/plugin.h>

#define MLH_MAX 16

struct mlh {
	struct kiln_ctx_head head;	/* must come first */
	const kiln_value *params;	/* parsed from the params' JSON */
	void *arena;			/* the params' nodes */
	size_t nin;			/* inputs in in_name, in_path */
	const char *in_name[MLH_MAX];	/* each input's name */
	const char *in_path[MLH_MAX];	/* and its path */
	const char *outdir;		/* NULL during check */
	const char *target;		/* the target's name */
	int threads;			/* what kiln_threads answers */
	char fail[4096];		/* first failure message */
	size_t nmetric;			/* metrics recorded */
	char metric_name[64][64];	/* their names */
	double metric[64];		/* and values */
	double done, total;		/* last progress */
};

/* Run a plugin (build/plugins/NAME.so): check, then run into outdir. */
int mlh_run(struct mlh *h, const char *plugin, const char *target, const char *params_json,
	const char *const *inputs, const char *outdir, int threads);
/* A recorded metric, or NAN. */
double mlh_metric(const struct mlh *h, const char *name);
/* Free the params mlh_run parsed. */
void mlh_release(struct mlh *h);
/* $KILN_TOP/path, into a static buffer. */
const char *mlh_top(const char *path);
/* A fresh temporary folder (removed by mlh_rmtree). */
char *mlh_tmpdir(void);
/* Remove dir and everything in it. */
void mlh_rmtree(const char *dir);

#endif
