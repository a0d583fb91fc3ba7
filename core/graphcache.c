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
#define VERSION 10	/* 3: kiln.config's slurm table; 4: soft inputs; 5: targets carry the default timeout; 6: resources.disk; 7: tools, gpu_key, checkpoint; 8: effect; 9: checkpoint_upload; 10: params per item, decoded lazily */

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

/* A target's tools (kiln.config's merged in) and packages. */
static void
enc_tools(struct buf *b, const struct kiln_toolset *ts)
{
	size_t i;

	wire_u32(b, ts->ntools);
	for (i = 0; i < ts->ntools; i++) {
		wire_str(b, ts->tools[i].name);
		wire_str(b, ts->tools[i].path);
	}
	wire_u32(b, ts->npackages);
	for (i = 0; i < ts->npackages; i++)
		wire_str(b, ts->packages[i].name);
}

static void
dec_tools(struct wire *w, struct arena *a, struct kiln_toolset *ts)
{
	size_t i;

	ts->ntools = wire_get_count(w, 8);
	ts->tools = arena_alloc(a, ts->ntools * sizeof(*ts->tools));
	memset(ts->tools, 0, ts->ntools * sizeof(*ts->tools));
	for (i = 0; i < ts->ntools; i++) {
		ts->tools[i].name = wire_get_ref(w);
		ts->tools[i].path = wire_get_ref(w);
	}
	ts->npackages = wire_get_count(w, 4);
	ts->packages = arena_alloc(a, ts->npackages * sizeof(*ts->packages));
	memset(ts->packages, 0, ts->npackages * sizeof(*ts->packages));
	for (i = 0; i < ts->npackages; i++)
		ts->packages[i].name = wire_get_ref(w);
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

static void
enc_target(struct buf *b, const struct kiln_target *t)
{
	size_t i;

	wire_str(b, t->name);
	wire_str(b, t->plugin);
	wire_str(b, t->file);
	wire_u32(b, t->line);
	wire_u32(b, t->ninputs);
	for (i = 0; i < t->ninputs; i++) {
		wire_str(b, t->inputs[i].name);
		wire_str(b, t->inputs[i].spec);
		wire_u32(b, t->inputs[i].kind);
		wire_u32(b, t->inputs[i].soft);
	}
	enc_params(b, kiln_target_params(t));
	wire_u32(b, t->noutputs);
	for (i = 0; i < t->noutputs; i++)
		wire_str(b, t->outputs[i]);
	wire_u32(b, t->nenv);
	for (i = 0; i < t->nenv; i++) {
		wire_str(b, t->env[i].name);
		wire_u32(b, t->env[i].value != NULL);
		if (t->env[i].value)
			wire_str(b, t->env[i].value);
	}
	wire_u32(b, t->res.cpus);
	wire_u32(b, t->res.threads);
	wire_u32(b, t->res.gpus);
	wire_u64(b, (uint64_t)t->res.mem);
	wire_u64(b, (uint64_t)t->res.disk);
	wire_f64(b, t->res.timeout);
	wire_f64(b, t->res.wall);
	wire_u32(b, t->network);
	enc_tools(b, &t->tools);
	wire_u32(b, t->gpu_key);
	wire_u32(b, t->checkpoint);
	wire_f64(b, t->checkpoint_upload);
	wire_u32(b, t->effect);
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

/* A target's params: checked now, decoded when asked for (kiln_target_params). */
static void
dec_params(struct wire *w, struct kiln_target *t)
{
	uint32_t i, n;

	t->penc = w->p;
	n = (uint32_t)wire_get_count(w, 4 + 1 + 4 + 1);
	for (i = 0; i < n && !w->bad; i++) {
		(void)wire_get_ref(w);
		dec_encoded(w, wire_get_u32(w), NULL, NULL);
	}
	if (w->bad)
		t->penc = NULL;
}

static int
dec_target(struct wire *w, struct kiln_graph *g)
{
	struct arena *a = &g->arena;
	const char *name = wire_get_ref(w);
	struct kiln_target *t;
	size_t i;

	if (w->bad || !(t = kiln_graph_add_kept(g, name)))
		return -1;
	t->plugin = wire_get_ref(w);
	t->file = wire_get_ref(w);
	t->line = wire_get_u32(w);
	t->ninputs = wire_get_count(w, 16);
	t->inputs = arena_alloc(a, t->ninputs * sizeof(*t->inputs));
	memset(t->inputs, 0, t->ninputs * sizeof(*t->inputs));
	for (i = 0; i < t->ninputs; i++) {
		t->inputs[i].name = wire_get_ref(w);
		t->inputs[i].spec = wire_get_ref(w);
		t->inputs[i].kind = wire_get_u32(w);
		t->inputs[i].soft = wire_get_u32(w) != 0;
	}
	dec_params(w, t);
	t->noutputs = wire_get_count(w, 4);
	t->outputs = arena_alloc(a, t->noutputs * sizeof(*t->outputs));
	for (i = 0; i < t->noutputs; i++)
		t->outputs[i] = wire_get_ref(w);
	t->nenv = wire_get_count(w, 8);
	t->env = arena_alloc(a, t->nenv * sizeof(*t->env));
	for (i = 0; i < t->nenv; i++) {
		t->env[i].name = wire_get_ref(w);
		t->env[i].value = wire_get_u32(w) ? wire_get_ref(w) : NULL;
	}
	t->res.cpus = wire_get_u32(w);
	t->res.threads = wire_get_u32(w);
	t->res.gpus = wire_get_u32(w);
	t->res.mem = (long long)wire_get_u64(w);
	t->res.disk = (long long)wire_get_u64(w);
	t->res.timeout = wire_get_f64(w);
	t->res.wall = wire_get_f64(w);
	t->network = wire_get_u32(w);
	dec_tools(w, a, &t->tools);
	t->gpu_key = wire_get_u32(w) != 0;
	t->checkpoint = wire_get_u32(w) != 0;
	t->checkpoint_upload = wire_get_f64(w);
	t->effect = wire_get_u32(w);
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
save(struct kiln_graph *g, struct kiln_state *st)
{
	struct buf b = BUF_INIT;
	struct kiln_digest d;
	size_t i;

	buf_add(&b, MAGIC, 8);
	wire_u32(&b, VERSION);
	fingerprint(&d);
	wire_digest(&b, &d);
	wire_u32(&b, g->nsources);
	for (i = 0; i < g->nsources; i++) {
		if (source_digest(st, g->sources[i], &d) < 0) {
			buf_release(&b);
			return;	/* a source went away meanwhile: just do not cache */
		}
		wire_str(&b, g->sources[i]);
		wire_digest(&b, &d);
	}
	enc_opt(&b, g->config.remote);
	enc_opt(&b, g->config.executor);
	wire_u32(&b, g->config.slurm != NULL);
	if (g->config.slurm)
		enc_value(&b, g->config.slurm);
	enc_opt(&b, g->config.file);
	wire_u32(&b, g->config.line);
	wire_u32(&b, g->ntargets);
	for (i = 0; i < g->ntargets; i++)
		enc_target(&b, g->targets[i]);
	wire_u64(&b, XXH3_64bits(b.s, b.len));
	/* A cache: failing to write it costs the next run time, nothing else. */
	(void)write_file_atomic(GRAPH_FILE, b.s, b.len, 0644, 0);
	buf_release(&b);
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
		if (dec_target(&w, g) < 0)
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
