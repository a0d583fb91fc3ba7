/*
 * kiln plugin ABI.
 *
 * This header is the whole contract between kiln and a plugin: a plugin
 * includes nothing else of kiln's. A plugin is a shared object that exports
 * one descriptor, `kiln_plugin`, whose `abi` field is KILN_PLUGIN_ABI.
 *
 *	#include <kiln/plugin.h>
 *
 *	static int
 *	run(kiln_ctx *ctx)
 *	{
 *		const char *who = kiln_param_string(ctx, "who", "world");
 *		...
 *		return 0;
 *	}
 *
 *	KILN_PLUGIN_EXPORT = {
 *		.abi = KILN_PLUGIN_ABI, .name = "hello", .version = "1.0",
 *		.summary = "says hello", .check = NULL, .run = run,
 *	};
 *
 * kiln calls `check` in its own process before the build starts, with the
 * params and the declared input paths (which may not exist yet), and `run`
 * in a separate, sandboxed process with the inputs in place and an empty
 * output folder. Both return 0 on success; on failure they call kiln_fail()
 * (which returns -1) and return its result.
 *
 * Every call a plugin makes into kiln goes through the function table in
 * the context, so a plugin has no link-time dependency on kiln. Values
 * (params) are plain data owned by kiln and valid until the call returns.
 */
#ifndef KILN_PLUGIN_H
#define KILN_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever anything in this header changes incompatibly. */
#define KILN_PLUGIN_ABI 1

enum kiln_type {
	KILN_NIL,
	KILN_BOOL,
	KILN_INT,
	KILN_NUMBER,
	KILN_STRING,
	KILN_LIST,	/* items[0..n) */
	KILN_MAP,	/* keys[0..n) sorted bytewise, items[i] is keys[i]'s value */
};

/* A param value: a tree of these, read-only for the plugin. */
typedef struct kiln_value {
	int type;			/* enum kiln_type */
	union {
		int b;			/* KILN_BOOL: 0 or 1 */
		long long i;		/* KILN_INT */
		double n;		/* KILN_NUMBER */
		struct {
			const char *s;	/* KILN_STRING: NUL-terminated */
			size_t len;
		} str;
		struct {
			size_t n;
			const struct kiln_value *items;
			const char *const *keys;	/* KILN_MAP only */
		} seq;
	} u;
} kiln_value;

typedef struct kiln_ctx kiln_ctx;

/* The calls kiln offers a plugin; reached through the inline wrappers below. */
struct kiln_host {
	size_t size;	/* sizeof(struct kiln_host) of the kiln that filled it */
	/* The target's params: a KILN_MAP, never NULL. */
	const kiln_value *(*params)(kiln_ctx *ctx);
	/* Number of declared inputs; name and path of input i (sorted by name). */
	size_t (*ninputs)(kiln_ctx *ctx);
	const char *(*input_name)(kiln_ctx *ctx, size_t i);
	const char *(*input_path)(kiln_ctx *ctx, size_t i);
	/* Folder the plugin writes its declared outputs into; NULL in check. */
	const char *(*output_dir)(kiln_ctx *ctx);
	/* Number of declared outputs and output i (a path relative to output_dir). */
	size_t (*noutputs)(kiln_ctx *ctx);
	const char *(*output)(kiln_ctx *ctx, size_t i);
	/* The target's name, for messages. */
	const char *(*target)(kiln_ctx *ctx);
	/* Threads the target may use (resources.threads, default 1). */
	int (*threads)(kiln_ctx *ctx);
	/* Progress: `done` of `total` `unit`s (e.g. "epoch"); shown in the status line. */
	void (*progress)(kiln_ctx *ctx, double done, double total, const char *unit);
	/* Record a named metric; kept with the outputs and in Kilnfile.lock. */
	void (*metric)(kiln_ctx *ctx, const char *name, double value);
	/* A line for the target's log. */
	void (*vlog)(kiln_ctx *ctx, const char *fmt, va_list ap);
	/* Fail with a message; returns -1. The first failure's message is kept. */
	int (*vfail)(kiln_ctx *ctx, const char *fmt, va_list ap);
	/*
	 * A warning: written to the log and shown in the build's output, the
	 * step still succeeds. Newer than the rest: reach it through kiln_warn,
	 * which falls back to the log on a kiln that lacks it.
	 */
	void (*vwarn)(kiln_ctx *ctx, const char *fmt, va_list ap);
	/*
	 * checkpoint = true: the folder where the step keeps what it needs to
	 * resume; kiln keeps it across an interrupted run of the same action
	 * key and removes it once the step built. NULL without checkpoint = true.
	 * Newer, like vwarn: reach both through kiln_checkpoint_dir and
	 * kiln_checkpoint_saved, which know a kiln that lacks them.
	 */
	const char *(*checkpoint_dir)(kiln_ctx *ctx);
	/*
	 * The folder now holds a whole checkpoint, at `epoch`: kiln seals it
	 * (every file's checksum), so a resumed run can trust it, and `kiln
	 * status` shows "resumable (epoch N)". 0, or -1 (the step goes on).
	 */
	int (*checkpoint_saved)(kiln_ctx *ctx, double epoch);
	/*
	 * The declared output `output` (a path relative to output_dir) is the
	 * file `path` the step read from one of its inputs, byte for byte:
	 * kiln puts it there from the input's blob in the cache (a reflink or
	 * a read-only hardlink, no copy), and the plugin writes nothing at
	 * `output`. kiln checks that `path` is an input's file. 0, or -1 when
	 * this kiln (or executor) cannot: the plugin writes the file itself.
	 * Newer: reach it through kiln_output_same.
	 */
	int (*output_same)(kiln_ctx *ctx, const char *output, const char *path);
};

/* The first member of every context; the rest is kiln's. */
struct kiln_ctx_head {
	const struct kiln_host *host;
};

struct kiln_plugin {
	int abi;		/* KILN_PLUGIN_ABI */
	const char *name;	/* as used in `plugin = "..."` */
	const char *version;	/* part of every action key that uses the plugin */
	const char *summary;	/* one line, for `kiln plugins` */
	int (*check)(kiln_ctx *ctx);	/* may be NULL */
	int (*run)(kiln_ctx *ctx);
};

/* The one symbol a plugin exports. */
#define KILN_PLUGIN_SYMBOL "kiln_plugin"
#define KILN_PLUGIN_EXPORT \
	__attribute__((visibility("default"))) const struct kiln_plugin kiln_plugin

/*
 * Optional: what of this machine changes the bytes the plugin writes, for
 * a plugin whose results depend on the processor (which kernel it picks,
 * which BLAS kernels run): one printable line of at most 200 bytes, the
 * same for every call in one process, e.g. "AVX2/FMA kernel; OpenBLAS
 * Zen". It is part of the action key of every target that uses the
 * plugin, so a machine that would write other bytes builds the target
 * itself rather than take another's from the cache, and `kiln verify`
 * compares like with like. kiln calls it once, in its own process, for
 * an installed or built-in plugin; a repository's plugin is never run
 * there, and its function is not called.
 *
 *	KILN_PLUGIN_MACHINE_EXPORT(void) { return "..."; }
 */
#define KILN_PLUGIN_MACHINE_SYMBOL "kiln_plugin_machine"
#define KILN_PLUGIN_MACHINE_EXPORT \
	__attribute__((visibility("default"))) const char *kiln_plugin_machine

#define KILN__HOST(ctx) (((struct kiln_ctx_head *)(ctx))->host)

static inline const kiln_value *
kiln_params(kiln_ctx *ctx)
{
	return KILN__HOST(ctx)->params(ctx);
}

static inline size_t
kiln_ninputs(kiln_ctx *ctx)
{
	return KILN__HOST(ctx)->ninputs(ctx);
}

static inline const char *
kiln_input_name(kiln_ctx *ctx, size_t i)
{
	return KILN__HOST(ctx)->input_name(ctx, i);
}

static inline const char *
kiln_input_path(kiln_ctx *ctx, size_t i)
{
	return KILN__HOST(ctx)->input_path(ctx, i);
}

/* Path of the input called `name`, or NULL when the target has none. */
static inline const char *
kiln_input(kiln_ctx *ctx, const char *name)
{
	size_t i, n = kiln_ninputs(ctx);

	for (i = 0; i < n; i++)
		if (strcmp(kiln_input_name(ctx, i), name) == 0)
			return kiln_input_path(ctx, i);
	return NULL;
}

static inline const char *
kiln_output_dir(kiln_ctx *ctx)
{
	return KILN__HOST(ctx)->output_dir(ctx);
}

static inline size_t
kiln_noutputs(kiln_ctx *ctx)
{
	return KILN__HOST(ctx)->noutputs(ctx);
}

static inline const char *
kiln_output(kiln_ctx *ctx, size_t i)
{
	return KILN__HOST(ctx)->output(ctx, i);
}

static inline const char *
kiln_target(kiln_ctx *ctx)
{
	return KILN__HOST(ctx)->target(ctx);
}

static inline int
kiln_threads(kiln_ctx *ctx)
{
	return KILN__HOST(ctx)->threads(ctx);
}

static inline void
kiln_progress(kiln_ctx *ctx, double done, double total, const char *unit)
{
	KILN__HOST(ctx)->progress(ctx, done, total, unit);
}

static inline void
kiln_metric(kiln_ctx *ctx, const char *name, double value)
{
	KILN__HOST(ctx)->metric(ctx, name, value);
}

__attribute__((format(printf, 2, 3))) static inline void
kiln_log(kiln_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	KILN__HOST(ctx)->vlog(ctx, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static inline int
kiln_fail(kiln_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = KILN__HOST(ctx)->vfail(ctx, fmt, ap);
	va_end(ap);
	return r;
}

/* A warning for the build's output (and the log); see kiln_host.vwarn. */
__attribute__((format(printf, 2, 3))) static inline void
kiln_warn(kiln_ctx *ctx, const char *fmt, ...)
{
	const struct kiln_host *h = KILN__HOST(ctx);
	va_list ap;

	va_start(ap, fmt);
	if (h->size >= offsetof(struct kiln_host, vwarn) + sizeof(h->vwarn) && h->vwarn)
		h->vwarn(ctx, fmt, ap);
	else
		h->vlog(ctx, fmt, ap);
	va_end(ap);
}

#define KILN__HAS(h, f) ((h)->size >= offsetof(struct kiln_host, f) + sizeof((h)->f) && (h)->f)

/* The step's checkpoint folder, or NULL (none declared, or an older kiln); see kiln_host.checkpoint_dir. */
static inline const char *
kiln_checkpoint_dir(kiln_ctx *ctx)
{
	const struct kiln_host *h = KILN__HOST(ctx);

	return KILN__HAS(h, checkpoint_dir) ? h->checkpoint_dir(ctx) : NULL;
}

/* The checkpoint folder holds a whole checkpoint at `epoch`; see kiln_host.checkpoint_saved. */
static inline int
kiln_checkpoint_saved(kiln_ctx *ctx, double epoch)
{
	const struct kiln_host *h = KILN__HOST(ctx);

	return KILN__HAS(h, checkpoint_saved) ? h->checkpoint_saved(ctx, epoch) : -1;
}

/* Output `output` is the input file `path` unchanged; -1: write it yourself. See kiln_host.output_same. */
static inline int
kiln_output_same(kiln_ctx *ctx, const char *output, const char *path)
{
	const struct kiln_host *h = KILN__HOST(ctx);

	return KILN__HAS(h, output_same) ? h->output_same(ctx, output, path) : -1;
}

/* Values. A NULL value reads as KILN_NIL. */

static inline int
kiln_value_type(const kiln_value *v)
{
	return v ? v->type : KILN_NIL;
}

/* Number of items of a list or map, 0 otherwise. */
static inline size_t
kiln_value_len(const kiln_value *v)
{
	return v && (v->type == KILN_LIST || v->type == KILN_MAP) ? v->u.seq.n : 0;
}

/* Item i of a list or map (NULL past the end). */
static inline const kiln_value *
kiln_value_at(const kiln_value *v, size_t i)
{
	return i < kiln_value_len(v) ? &v->u.seq.items[i] : NULL;
}

/* Key i of a map (NULL otherwise). */
static inline const char *
kiln_value_key(const kiln_value *v, size_t i)
{
	return v && v->type == KILN_MAP && i < v->u.seq.n ? v->u.seq.keys[i] : NULL;
}

/* A map's value for `key`, or NULL. */
static inline const kiln_value *
kiln_value_get(const kiln_value *v, const char *key)
{
	size_t lo = 0, hi = v && v->type == KILN_MAP ? v->u.seq.n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, v->u.seq.keys[mid]);

		if (c == 0)
			return &v->u.seq.items[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Is the value a number (integer or not)? */
static inline int
kiln_value_isnumber(const kiln_value *v)
{
	return v && (v->type == KILN_INT || v->type == KILN_NUMBER);
}

static inline double
kiln_value_number(const kiln_value *v, double def)
{
	if (v && v->type == KILN_NUMBER)
		return v->u.n;
	if (v && v->type == KILN_INT)
		return (double)v->u.i;
	return def;
}

static inline long long
kiln_value_int(const kiln_value *v, long long def)
{
	if (v && v->type == KILN_INT)
		return v->u.i;
	if (v && v->type == KILN_NUMBER && v->u.n == (double)(long long)v->u.n)
		return (long long)v->u.n;
	return def;
}

static inline const char *
kiln_value_string(const kiln_value *v, const char *def)
{
	return v && v->type == KILN_STRING ? v->u.str.s : def;
}

static inline int
kiln_value_bool(const kiln_value *v, int def)
{
	return v && v->type == KILN_BOOL ? v->u.b : def;
}

/* Shorthands for top-level params, with a default when absent. */

static inline const kiln_value *
kiln_param(kiln_ctx *ctx, const char *key)
{
	return kiln_value_get(kiln_params(ctx), key);
}

static inline const char *
kiln_param_string(kiln_ctx *ctx, const char *key, const char *def)
{
	return kiln_value_string(kiln_param(ctx, key), def);
}

static inline double
kiln_param_number(kiln_ctx *ctx, const char *key, double def)
{
	return kiln_value_number(kiln_param(ctx, key), def);
}

static inline long long
kiln_param_int(kiln_ctx *ctx, const char *key, long long def)
{
	return kiln_value_int(kiln_param(ctx, key), def);
}

static inline int
kiln_param_bool(kiln_ctx *ctx, const char *key, int def)
{
	return kiln_value_bool(kiln_param(ctx, key), def);
}

#ifdef __cplusplus
}
#endif

#endif
