/*
 * graphcache: .kiln/graph, the evaluated Kilnfile kept between runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <endian.h>
#include <xxhash.h>

#include "graph.h"
#include "graphcache.h"
#include "state.h"
#include "paths.h"
#include "kilnfile.h"
#include "overrides.h"
#include "rules.h"
#include "value.h"
#include "wire.h"

#define GRAPH_FILE KILN_GRAPH_PATH
#define MAGIC "KILNGR\0\0"
#define VERSION 10	/* 3: kiln.config's slurm table; 4: soft inputs; 5: targets carry the default timeout; 6: resources.disk; 7: tools, gpu_key, checkpoint; 8: effect; 9: checkpoint_upload; 10: params per item, decoded lazily; strings, params and fixed fields written once, then referred back to */

/* What the cached graph depends on besides the files: kiln's version and its rule library. */
static void
fingerprint(struct kiln_digest *d)
{
	struct kiln_hasher *h = kiln_hasher_new();
	const struct kiln_rule_file *rf;

	kiln_hasher_adds(h, KILN_VERSION);
	for (rf = kiln_rule_files; rf->name; rf++) {
		kiln_hasher_adds(h, rf->name);
		kiln_hasher_add(h, rf->text, rf->len);
	}
	kiln_hasher_digest(h, d);
	kiln_hasher_free(h);
}

static int
source_digest(struct kiln_state *st, const char *path, struct kiln_digest *d)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return -1;
	return kiln_state_file_digest(st, path, &sb, d);
}

/*
 * save()'s writer. Most targets of a big graph share their plugin, file,
 * input and output names, params and resources: each is written once and
 * then referred back to, so that .kiln/graph, which a no-op build holds
 * in memory whole (the graph's strings point into it), stays small.
 */
struct enc {
	struct buf b;
	struct map strs;	/* string -> 1 + the offset of its bytes in b */
	struct map blocks;	/* params block's digest (hex) -> 1 + its offset in b */
	struct arena keys;	/* blocks' keys */
	struct buf fixed, prev;	/* this target's fixed fields, and the previous one's */
};

#define BACK 0x80000000u	/* a string's length word with this bit: the distance back to its bytes */

/* A string: in place (wire_str), or back to where it was written before. */
static void
enc_sref(struct enc *e, const char *s)
{
	size_t at = (size_t)(uintptr_t)map_get(&e->strs, s), back = e->b.len + 4 - (at - 1);

	if (at && back < BACK) {
		wire_u32(&e->b, BACK | (uint32_t)back);
		return;
	}
	map_put(&e->strs, s, (void *)(uintptr_t)(e->b.len + 4 + 1));
	wire_str(&e->b, s);
}

/* What enc_sref wrote; a reference must land before it, in the body that starts at `start`. */
static const char *
dec_sref(struct wire *w, const unsigned char *start)
{
	uint32_t back;

	if (w->bad || w->end - w->p < 4 || !(w->p[3] & 0x80))
		return wire_get_ref(w);
	back = wire_get_u32(w) & ~BACK;
	if (back > (size_t)(w->p - start) || !memchr(w->p - back, '\0', back)) {
		w->bad = 1;
		return "";
	}
	return (const char *)(w->p - back);
}

/* A target's tools (kiln.config's merged in) and packages. */
static void
enc_tools(struct enc *e, const struct kiln_toolset *ts)
{
	size_t i;

	wire_u32(&e->b, ts->ntools);
	for (i = 0; i < ts->ntools; i++) {
		enc_sref(e, ts->tools[i].name);
		enc_sref(e, ts->tools[i].path);
	}
	wire_u32(&e->b, ts->npackages);
	for (i = 0; i < ts->npackages; i++)
		enc_sref(e, ts->packages[i].name);
}

static void
dec_tools(struct wire *w, const unsigned char *start, struct arena *a, struct kiln_toolset *ts)
{
	size_t i;

	ts->ntools = wire_get_count(w, 8);
	ts->tools = arena_alloc(a, ts->ntools * sizeof(*ts->tools));
	memset(ts->tools, 0, ts->ntools * sizeof(*ts->tools));
	for (i = 0; i < ts->ntools; i++) {
		ts->tools[i].name = dec_sref(w, start);
		ts->tools[i].path = dec_sref(w, start);
	}
	ts->npackages = wire_get_count(w, 4);
	ts->packages = arena_alloc(a, ts->npackages * sizeof(*ts->packages));
	memset(ts->packages, 0, ts->npackages * sizeof(*ts->packages));
	for (i = 0; i < ts->npackages; i++)
		ts->packages[i].name = dec_sref(w, start);
}

/* v as kiln_value_encode says it, after its length. */
static void
enc_value(struct buf *b, const kiln_value *v)
{
	size_t at;
	uint32_t n;

	wire_u32(b, 0);
	at = b->len;
	kiln_value_encode(b, v);
	n = htole32((uint32_t)(b->len - at));
	memcpy(b->s + at - 4, &n, 4);
}

/* As kiln_params_count and kiln_params_next (graph.h) read them. */
static void
enc_params(struct buf *b, const kiln_value *params)
{
	size_t i;

	wire_u32(b, params->u.seq.n);
	for (i = 0; i < params->u.seq.n; i++) {
		wire_str(b, params->u.seq.keys[i]);
		enc_value(b, &params->u.seq.items[i]);
	}
}

/* A target's params block: a u32 0 and the block, or the distance back to the same block. */
static void
enc_params_ref(struct enc *e, const kiln_value *params)
{
	struct buf blk = BUF_INIT;
	struct kiln_digest d;
	char hex[KILN_DIGEST_HEX];
	size_t at, back;

	enc_params(&blk, params);
	kiln_digest_buf(blk.s, blk.len, &d);
	kiln_digest_hex(&d, hex);
	at = (size_t)(uintptr_t)map_get(&e->blocks, hex);
	back = e->b.len + 4 - (at - 1);
	if (at && back < BACK && memcmp(e->b.s + at - 1, blk.s, blk.len) == 0) {
		wire_u32(&e->b, (uint32_t)back);
	} else {
		wire_u32(&e->b, 0);
		map_put(&e->blocks, arena_strdup(&e->keys, hex), (void *)(uintptr_t)(e->b.len + 1));
		buf_add(&e->b, blk.s, blk.len);
	}
	buf_release(&blk);
}

/*
 * A value kiln_value_encode wrote, n bytes at w: checked, and decoded only
 * if dst is given, into memory of `a`.
 */
static const unsigned char *
dec_encoded(struct wire *w, uint32_t n, struct arena *a, kiln_value **dst)
{
	const unsigned char *enc = wire_take(w, n);
	long need = enc ? kiln_value_check(enc, n) : -1;

	if (need < 0) {
		w->bad = 1;
		return NULL;
	}
	if (dst)
		*dst = kiln_value_decode(enc, n, arena_alloc(a, (size_t)need));
	return enc;
}

/*
 * A target's params: checked now (in place, or where the reference
 * points, which was checked when it was read but is checked again here,
 * so that no reference needs to be trusted), decoded when asked for
 * (kiln_target_params).
 */
static void
dec_params(struct wire *w, const unsigned char *start, struct kiln_target *t)
{
	uint32_t i, n, back = wire_get_u32(w);
	struct wire blk = *w;

	if (back > (size_t)(w->p - start)) {
		w->bad = 1;
		return;
	}
	blk.p -= back;
	t->penc = blk.p;
	n = (uint32_t)wire_get_count(&blk, 4 + 1 + 4 + 1);
	for (i = 0; i < n && !blk.bad; i++) {
		(void)wire_get_ref(&blk);
		dec_encoded(&blk, wire_get_u32(&blk), NULL, NULL);
	}
	if (!back)
		w->p = blk.p;
	w->bad |= blk.bad;
	if (w->bad)
		t->penc = NULL;
}

/* The fields most targets share with the one before them. */
static void
enc_fixed(struct buf *b, const struct kiln_target *t)
{
	wire_u32(b, t->res.cpus);
	wire_u32(b, t->res.threads);
	wire_u32(b, t->res.gpus);
	wire_u64(b, (uint64_t)t->res.mem);
	wire_u64(b, (uint64_t)t->res.disk);
	wire_f64(b, t->res.timeout);
	wire_f64(b, t->res.wall);
	wire_u32(b, t->network);
	wire_u32(b, t->gpu_key);
	wire_u32(b, t->checkpoint);
	wire_f64(b, t->checkpoint_upload);
	wire_u32(b, t->effect);
}

static void
dec_fixed(struct wire *w, struct kiln_target *t)
{
	t->res.cpus = wire_get_u32(w);
	t->res.threads = wire_get_u32(w);
	t->res.gpus = wire_get_u32(w);
	t->res.mem = (long long)wire_get_u64(w);
	t->res.disk = (long long)wire_get_u64(w);
	t->res.timeout = wire_get_f64(w);
	t->res.wall = wire_get_f64(w);
	t->network = wire_get_u32(w) != 0;
	t->gpu_key = wire_get_u32(w) != 0;
	t->checkpoint = wire_get_u32(w) != 0;
	t->checkpoint_upload = wire_get_f64(w);
	t->effect = wire_get_u32(w) != 0;
}

/* Written as a u32 0 when they are the previous target's, else their length and them. */
static void
enc_fixed_ref(struct enc *e, const struct kiln_target *t)
{
	struct buf swap;

	buf_reset(&e->fixed);
	enc_fixed(&e->fixed, t);
	if (e->prev.len == e->fixed.len && memcmp(e->prev.s, e->fixed.s, e->fixed.len) == 0) {
		wire_u32(&e->b, 0);
		return;
	}
	wire_u32(&e->b, e->fixed.len);
	buf_add(&e->b, e->fixed.s, e->fixed.len);
	swap = e->prev;
	e->prev = e->fixed;
	e->fixed = swap;
}

static void
dec_fixed_ref(struct wire *w, struct kiln_target *t, const struct kiln_target *prev)
{
	uint32_t n = wire_get_u32(w);
	const unsigned char *p = wire_take(w, n);
	struct wire f = {p, p ? p + n : NULL, !p};

	if (n == 0 && prev) {
		t->res = prev->res;
		t->network = prev->network;
		t->gpu_key = prev->gpu_key;
		t->checkpoint = prev->checkpoint;
		t->checkpoint_upload = prev->checkpoint_upload;
		t->effect = prev->effect;
		return;
	}
	dec_fixed(&f, t);
	if (n == 0 || f.bad || f.p != f.end)
		w->bad = 1;
}

static void
enc_target(struct enc *e, const struct kiln_target *t)
{
	struct buf *b = &e->b;
	size_t i;

	wire_str(b, t->name);
	enc_sref(e, t->plugin);
	enc_sref(e, t->file);
	wire_u32(b, t->line);
	wire_u32(b, t->ninputs);
	for (i = 0; i < t->ninputs; i++) {
		enc_sref(e, t->inputs[i].name);
		enc_sref(e, t->inputs[i].spec);
		wire_u32(b, t->inputs[i].kind);
		wire_u32(b, t->inputs[i].soft);
	}
	enc_params_ref(e, kiln_target_params(t));
	wire_u32(b, t->noutputs);
	for (i = 0; i < t->noutputs; i++)
		enc_sref(e, t->outputs[i]);
	wire_u32(b, t->nenv);
	for (i = 0; i < t->nenv; i++) {
		enc_sref(e, t->env[i].name);
		wire_u32(b, t->env[i].value != NULL);
		if (t->env[i].value)
			enc_sref(e, t->env[i].value);
	}
	enc_fixed_ref(e, t);
	enc_tools(e, &t->tools);
}

static int
dec_target(struct wire *w, const unsigned char *start, struct kiln_graph *g)
{
	struct arena *a = &g->arena;
	const char *name = wire_get_ref(w);
	const struct kiln_target *prev = g->ntargets ? g->targets[g->ntargets - 1] : NULL;
	struct kiln_target *t;
	size_t i;

	if (w->bad || !(t = kiln_graph_add_kept(g, name)))
		return -1;
	t->plugin = dec_sref(w, start);
	t->file = dec_sref(w, start);
	t->line = wire_get_u32(w);
	t->ninputs = wire_get_count(w, 16);
	t->inputs = arena_alloc(a, t->ninputs * sizeof(*t->inputs));
	memset(t->inputs, 0, t->ninputs * sizeof(*t->inputs));
	for (i = 0; i < t->ninputs; i++) {
		uint32_t kind;

		t->inputs[i].name = dec_sref(w, start);
		t->inputs[i].spec = dec_sref(w, start);
		kind = wire_get_u32(w);
		t->inputs[i].kind = kind;
		t->inputs[i].soft = wire_get_u32(w) != 0;
		if (kind > KILN_INPUT_GLOB)
			w->bad = 1;
	}
	dec_params(w, start, t);
	t->noutputs = wire_get_count(w, 4);
	t->outputs = arena_alloc(a, t->noutputs * sizeof(*t->outputs));
	for (i = 0; i < t->noutputs; i++)
		t->outputs[i] = dec_sref(w, start);
	t->nenv = wire_get_count(w, 8);
	t->env = arena_alloc(a, t->nenv * sizeof(*t->env));
	for (i = 0; i < t->nenv; i++) {
		t->env[i].name = dec_sref(w, start);
		t->env[i].value = wire_get_u32(w) ? dec_sref(w, start) : NULL;
	}
	dec_fixed_ref(w, t, prev);
	dec_tools(w, start, a, &t->tools);
	return w->bad ? -1 : 0;
}

static void
enc_opt(struct buf *b, const char *s)
{
	wire_u32(b, s != NULL);
	if (s)
		wire_str(b, s);
}

static const char *
dec_opt(struct wire *w)
{
	return wire_get_u32(w) ? wire_get_ref(w) : NULL;
}

static void
enc_release(struct enc *e)
{
	buf_release(&e->b);
	map_release(&e->strs);
	map_release(&e->blocks);
	arena_release(&e->keys);
	buf_release(&e->fixed);
	buf_release(&e->prev);
}

static void
save(struct kiln_graph *g, struct kiln_state *st)
{
	struct enc e = {BUF_INIT, MAP_INIT, MAP_INIT, {NULL}, BUF_INIT, BUF_INIT};
	struct buf *b = &e.b;
	struct kiln_digest d;
	size_t i;

	buf_add(b, MAGIC, 8);
	wire_u32(b, VERSION);
	fingerprint(&d);
	wire_digest(b, &d);
	wire_u32(b, g->nsources);
	for (i = 0; i < g->nsources; i++) {
		if (source_digest(st, g->sources[i], &d) < 0) {
			enc_release(&e);
			return;	/* a source went away meanwhile: just do not cache */
		}
		wire_str(b, g->sources[i]);
		wire_digest(b, &d);
	}
	enc_opt(b, g->config.remote);
	enc_opt(b, g->config.executor);
	wire_u32(b, g->config.slurm != NULL);
	if (g->config.slurm)
		enc_value(b, g->config.slurm);
	enc_opt(b, g->config.file);
	wire_u32(b, g->config.line);
	wire_u32(b, g->ntargets);
	for (i = 0; i < g->ntargets; i++)
		enc_target(&e, g->targets[i]);
	wire_u64(b, XXH3_64bits(b->s, b->len));
	/* The bytes the next run reads back: the same identity then (kiln_graphcache_id). */
	kiln_digest_buf(b->s, b->len, &g->id);
	g->has_id = 1;
	/* A cache: failing to write it costs the next run time, nothing else. */
	(void)write_file_atomic(GRAPH_FILE, b->s, b->len, 0644, 0);
	enc_release(&e);
}

int
kiln_graphcache_decode(struct kiln_graph *g, struct kiln_state *st, const void *p, size_t len)
{
	struct wire w = {p, (const unsigned char *)p + len, 0};
	struct kiln_digest want, got;
	size_t i, n;

	n = wire_get_count(&w, 20);
	g->sources = xreallocarray(NULL, n + 1, sizeof(*g->sources));
	for (i = 0; i < n; i++) {
		const char *path = wire_get_ref(&w);

		wire_get_digest(&w, &want);
		if (w.bad || source_digest(st, path, &got) < 0 || !kiln_digest_eq(&want, &got))
			goto stale;
		g->sources[g->nsources++] = path;
	}
	g->config.remote = dec_opt(&w);
	g->config.executor = dec_opt(&w);
	if (wire_get_u32(&w)) {
		kiln_value *v = NULL;

		dec_encoded(&w, wire_get_u32(&w), &g->arena, &v);
		g->config.slurm = v;
	}
	g->config.file = dec_opt(&w);
	g->config.line = wire_get_u32(&w);
	n = wire_get_count(&w, 40);
	for (i = 0; i < n; i++)
		if (dec_target(&w, p, g) < 0)
			goto stale;
	if (w.bad || w.p != w.end)
		goto stale;
	return 0;
stale:
	kiln_graph_release(g);
	kiln_graph_init(g);
	return -1;
}

/* Read .kiln/graph into g if it is current; 0 done, -1 not usable (g left empty). */
static int
load(struct kiln_graph *g, struct kiln_state *st)
{
	size_t len;
	char *data = read_file(GRAPH_FILE, &len);
	struct wire w;
	struct kiln_digest want, got;
	uint64_t sum;
	int rc = -1;

	if (!data)
		return -1;
	if (len < 8 + 4 + 16 + 8 || memcmp(data, MAGIC, 8) != 0)
		goto out;
	memcpy(&sum, data + len - 8, 8);
	if (XXH3_64bits(data, len - 8) != le64toh(sum))
		goto out;
	w = (struct wire){(unsigned char *)data + 8, (unsigned char *)data + len - 8, 0};
	if (wire_get_u32(&w) != VERSION)
		goto out;
	fingerprint(&want);
	wire_get_digest(&w, &got);
	if (w.bad || !kiln_digest_eq(&want, &got))
		goto out;
	rc = kiln_graphcache_decode(g, st, w.p, (size_t)(w.end - w.p));
	if (rc == 0) {
		g->blob = data;	/* the graph's strings point into it */
		g->blob_len = len;
		data = NULL;
	}
out:
	free(data);
	return rc;
}

int
kiln_graphcache_load(struct kiln_graph *g, const char *path, struct kiln_state *st)
{
	/* A graph evaluated with -S is this run's only: neither read nor saved. */
	if (g->overrides && g->overrides->n)
		return kiln_kilnfile_load(g, path);
	if (strcmp(path, "Kilnfile") == 0 && load(g, st) == 0)
		return 0;
	if (kiln_kilnfile_load(g, path) < 0) {
		unlink(GRAPH_FILE);
		return -1;
	}
	save(g, st);
	return 0;
}

int
kiln_graphcache_id(struct kiln_graph *g, struct kiln_digest *out)
{
	/* Hashed when asked (a lock is being written), not by every no-op's load. */
	if (!g->has_id && g->blob) {
		kiln_digest_buf(g->blob, g->blob_len, &g->id);
		g->has_id = 1;
	}
	if (!g->has_id)
		return -1;
	*out = g->id;
	return 0;
}
