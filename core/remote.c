/*
 * remote: the remote cache's protocol — entries, blobs and the order they
 * travel in — over the transfer engine (transfer.h), which the scheduler
 * drives from its event loop.
 *
 * Every lookup is remembered for the run by key: a prefetch, a get and a
 * peek of the same key share one request, and a key asked for again
 * costs nothing. A get is a small state machine: the entry, then its blobs
 * all at once, then the entry into the local cache. An upload is another:
 * HEAD the entry, HEAD the large blobs, PUT what is missing, then PUT the
 * entry only when every blob is on the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "map.h"
#include "remote.h"
#include "s3.h"
#include "s3put.h"
#include "transfer.h"

#define HEAD_MIN (64 << 10)	/* blobs smaller than this are sent without asking first */
#define ZSTD_MIN 4096		/* blobs at least this large travel compressed (KILN_REMOTE_ZSTD_MIN) */
#define BAD_WARNINGS 5		/* bad blobs named one by one before the rest are only counted */
#define QUIET 0x100		/* a get's flag: a failure is not said (peek) */
#define CKPT 0x200		/* a get's flag: a checkpoint (ckpt/), kept out of the lookups and the local cache */

enum lstate { L_ASKING, L_FOUND, L_MISSING, L_FAILED };

struct get;

/* One key's lookup, for the whole run. */
struct lookup {
	char hex[KILN_DIGEST_HEX];	/* the map's key */
	const char *kind;	/* "ac", or "ckpt" for a checkpoint's entry */
	struct kiln_digest key;
	int state;		/* enum lstate */
	struct buf text;	/* L_FOUND: the entry */
	struct get *waiting;	/* gets waiting for the answer */
};

struct kiln_remote {
	char *base;		/* the URL as given, without the trailing slash: for messages */
	char *http;		/* where ac/ and cas/ are: base itself, or an S3 bucket's URL and prefix */
	struct kiln_s3 *s3;	/* an s3:// remote's, or NULL */
	uint64_t multipart_min;	/* S3: blobs sent of at least this many bytes go in parts */
	struct kiln_cache *cache;
	struct kiln_transfer *tr;
	int read_only;
	long zstd_min;		/* 0: no compression */
	struct map lookups;	/* hex key -> struct lookup */
	struct map ckpts;	/* hex key -> struct ckpt: checkpoints uploaded in this run */
	struct kiln_remote_stats st;
	unsigned long long bad_entries;	/* entries that do not parse */
	const char *verb;	/* progress line's verb, or NULL */
	double shown;		/* when the progress line was last drawn */
	int progress_on;	/* a progress line is on the terminal */
};

/* One kiln_remote_get. */
struct get {
	struct kiln_remote *r;
	struct lookup *l;
	char *target;
	const char *then;	/* ends its warnings: what the caller does instead */
	int flags;
	kiln_remote_fn *done;
	void *arg;
	struct kiln_action act;
	struct arena a;
	size_t need, pending, ok, bad;	/* blobs: unique ones named, still coming, arrived, bad */
	struct get *next;	/* in its lookup's waiting list */
};

/* A key's checkpoint on the server, as this run has sent it. */
struct ckpt {
	char hex[KILN_DIGEST_HEX];	/* the map's key */
	struct kiln_digest key;
	int busy;		/* an upload is under way */
	int dropped;		/* dropped during an upload: the entry goes when it ends, and no upload puts it back */
};

/* One kiln_remote_upload, or one upload of a checkpoint. */
struct put {
	struct kiln_remote *r;
	struct kiln_digest key;
	char *target;
	struct buf entry;	/* the entry's text */
	struct kiln_file *files;	/* each digest once (paths not kept) */
	size_t nfiles, pending, failed;
	int *result;		/* for kiln_remote_store: 0 or -1 here when finished */
	struct ckpt *ckpt;	/* a checkpoint's upload: its entry goes to ckpt/, replacing the last */
};

const char *
kiln_remote_url(const char *opt, const char *config)
{
	const char *env = getenv("KILN_REMOTE");
	const char *url = opt ? opt : env && *env ? env : config;

	if (!url || !*url || strcmp(url, "off") == 0)
		return NULL;
	return url;
}

/*
 * KILN_REMOTE_HEADER is a whole header line ("Authorization: Bearer …");
 * a bare value is taken as the Authorization header's, which is what it is
 * nearly always for.
 */
static void
add_headers(struct kiln_transfer *t)
{
	const char *h = getenv("KILN_REMOTE_HEADER");
	char *s;

	if (!h || !*h)
		return;
	s = strchr(h, ':') ? xstrdup(h) : xasprintf("Authorization: %s", h);
	kiln_transfer_header(t, s);
	free(s);
}

static long
zstd_min(void)
{
	const char *s = getenv("KILN_REMOTE_ZSTD_MIN");
	char *end;
	long v;

	if (!s || !*s)
		return ZSTD_MIN;
	if (strcmp(s, "off") == 0)
		return 0;
	v = strtol(s, &end, 10);
	return *end || v < 1 ? ZSTD_MIN : v;
}

struct kiln_remote *
kiln_remote_new(const char *url, struct kiln_cache *cache, int read_only)
{
	struct kiln_remote *r;
	struct kiln_s3 s3;
	size_t n = strlen(url);

	if (kiln_s3_is_url(url)) {
		if (kiln_s3_open(&s3, url) < 0)
			return NULL;
	} else if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		error("remote cache '%s': expected an http://, https:// or s3:// URL", url);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	while (n > 0 && url[n - 1] == '/')
		n--;
	r->base = xstrndup(url, n);
	r->cache = cache;
	r->read_only = read_only;
	r->zstd_min = zstd_min();
	r->tr = kiln_transfer_new(r->base, cache);
	if (kiln_s3_is_url(url)) {
		r->s3 = xmalloc(sizeof(*r->s3));
		*r->s3 = s3;
		r->http = xstrdup(s3.base);
		r->multipart_min = kiln_s3_multipart_min();
		kiln_transfer_s3(r->tr, s3.sigv4, s3.userpwd, s3.token, s3.bucket, s3.cred_from);
	} else {
		r->http = xstrdup(r->base);
	}
	add_headers(r->tr);
	return r;
}

void
kiln_remote_free(struct kiln_remote *r)
{
	size_t i;

	if (!r)
		return;
	kiln_transfer_free(r->tr);
	for (i = 0; i < r->lookups.cap; i++) {
		struct lookup *l = r->lookups.slots[i].value;

		if (r->lookups.slots[i].key && l) {
			buf_release(&l->text);
			free(l);
		}
	}
	map_release(&r->lookups);
	for (i = 0; i < r->ckpts.cap; i++)
		if (r->ckpts.slots[i].key)
			free(r->ckpts.slots[i].value);
	map_release(&r->ckpts);
	if (r->s3)
		kiln_s3_release(r->s3);
	free(r->s3);
	free(r->http);
	free(r->base);
	free(r);
}

void
kiln_remote_set_progress(struct kiln_remote *r, const char *verb)
{
	r->verb = verb;
}

const struct kiln_remote_stats *
kiln_remote_stats(const struct kiln_remote *r)
{
	const struct kiln_transfer_stats *ts = kiln_transfer_stats(r->tr);
	struct kiln_remote_stats *s = (struct kiln_remote_stats *)&r->st;

	s->blobs_down = ts->blobs_in;
	s->bytes_down = ts->blob_bytes_in;
	s->wire_down = ts->bytes_in;
	s->wire_up = ts->bytes_out;
	s->failed = ts->failed;
	s->bad = ts->bad + r->bad_entries;
	return s;
}

const char *
kiln_remote_base(const struct kiln_remote *r)
{
	return r->base;
}

int
kiln_remote_is_down(const struct kiln_remote *r)
{
	return kiln_transfer_is_down(r->tr);
}

int
kiln_remote_can_upload(const struct kiln_remote *r)
{
	return !r->read_only && !kiln_transfer_is_down(r->tr) && !kiln_transfer_refuses_uploads(r->tr);
}

struct kiln_transfer *
kiln_remote_transfer(const struct kiln_remote *r)
{
	return r->tr;
}

const struct kiln_s3 *
kiln_remote_s3(const struct kiln_remote *r)
{
	return r->s3;
}

char *
kiln_remote_path_url(const struct kiln_remote *r, const char *path)
{
	return xasprintf("%s/%s", r->http, path);
}

static char *
url_of(const struct kiln_remote *r, const char *kind, const struct kiln_digest *d)
{
	char hex[KILN_DIGEST_HEX];

	return xasprintf("%s/%s/%s", r->http, kind, kiln_digest_hex(d, hex));
}

/* Does a blob of this size travel compressed? */
static int
zstd_for(const struct kiln_remote *r, uint64_t size)
{
	return r->zstd_min && size >= (uint64_t)r->zstd_min;
}

static void
warn_bad(struct kiln_remote *r, const char *what, const char *why)
{
	unsigned long long bad = kiln_transfer_stats(r->tr)->bad + r->bad_entries;

	if (bad <= BAD_WARNINGS)
		warn("remote cache %s: %s %s; dropped it", r->base, what, why);
	else if (bad == BAD_WARNINGS + 1)
		warn("remote cache %s: more bad blobs; counting them without naming each", r->base);
}

/* Progress, for push and pull: transfers in flight, bytes and bytes/s. */
static void
progress(struct kiln_remote *r, int last)
{
	char sz[32], rate[32];
	double now = now_seconds();
	const struct kiln_transfer_stats *ts = kiln_transfer_stats(r->tr);

	if (!r->verb || !isatty(2) || (!last && now - r->shown < 0.1))
		return;
	r->shown = now;
	if (last) {
		if (r->progress_on)
			fputs("\r\033[K", stderr);
		r->progress_on = 0;
		return;
	}
	fprintf(stderr, "\r%s: %zu transfers in flight, %s, %s/s\033[K", r->verb, kiln_transfer_busy(r->tr),
	    format_size(sz, sizeof(sz), ts->bytes_in + ts->bytes_out),
	    format_size(rate, sizeof(rate), (unsigned long long)kiln_transfer_rate(r->tr)));
	r->progress_on = 1;
}

/* Run the engine until *flag is set (or, flag NULL, until it is idle). */
static void
wait_for(struct kiln_remote *r, const int *flag)
{
	while ((flag ? !*flag : 1) && kiln_transfer_perform(r->tr)) {
		if (flag && *flag)
			break;
		if (pending_signal()) {
			kiln_transfer_abandon(r->tr);
			break;
		}
		kiln_transfer_wait(r->tr, NULL, 0, 200);
		progress(r, 0);
	}
	progress(r, 1);
}

/* Lookups. */

static void entry_answered(struct get *g);

static void
lookup_done(struct kiln_xfer *x, void *arg)
{
	struct lookup *l = arg;
	struct get *g, *next;

	if (x->result == KILN_XR_OK) {
		l->state = L_FOUND;
		l->text = x->body;
		x->body = (struct buf)BUF_INIT;
	} else {
		l->state = x->result == KILN_XR_MISSING ? L_MISSING : L_FAILED;
	}
	kiln_xfer_free(x);
	g = l->waiting;
	l->waiting = NULL;
	for (; g; g = next) {
		next = g->next;
		entry_answered(g);
	}
}

static void
ask(struct kiln_remote *r, struct lookup *l)
{
	l->state = L_ASKING;
	r->st.lookups++;
	kiln_transfer_add(r->tr, kiln_xfer_new(KILN_X_GET_MEM, url_of(r, l->kind, &l->key), lookup_done, l));
}

/* The lookup of key, asked for now if it was not yet. */
static struct lookup *
lookup(struct kiln_remote *r, const struct kiln_digest *key)
{
	char hex[KILN_DIGEST_HEX];
	struct lookup *l = map_get(&r->lookups, kiln_digest_hex(key, hex));

	if (l)
		return l;
	l = xcalloc(1, sizeof(*l));
	memcpy(l->hex, hex, sizeof(hex));
	l->kind = "ac";
	l->key = *key;
	map_put(&r->lookups, l->hex, l);
	ask(r, l);
	return l;
}

void
kiln_remote_prefetch(struct kiln_remote *r, const struct kiln_digest *key)
{
	if (r && !kiln_transfer_is_down(r->tr))
		lookup(r, key);
}

/* Gets. */

static void
get_end(struct get *g, int ok)
{
	g->done(g->arg, ok, ok ? &g->act : NULL);
	if (g->flags & CKPT) {
		/* A checkpoint's lookup is its get's own: the next one must ask the server again. */
		buf_release(&g->l->text);
		free(g->l);
	}
	arena_release(&g->a);
	free(g->target);
	free(g);
}

/* Every blob of g arrived, or failed. */
static void
blobs_arrived(struct get *g)
{
	struct kiln_remote *r = g->r;

	if (g->bad || g->ok < g->need) {
		if (g->bad)
			warn("remote cache %s: %zu bad blob%s for '%s'%s", r->base, g->bad,
			    g->bad > 1 ? "s" : "", g->target, g->then);
		else if (!kiln_transfer_is_down(r->tr))
			warn("remote cache %s: could not fetch the outputs of '%s' (%s)%s", r->base,
			    g->target, kiln_transfer_last_error(r->tr), g->then);
		if (g->bad && (g->flags & CKPT))
			kiln_remote_drop_checkpoint(r, &g->l->key);
		get_end(g, 0);
		return;
	}
	if (g->flags & CKPT) {
		get_end(g, 1);
		return;
	}
	if (kiln_cache_put_action(r->cache, &g->l->key, &g->act) < 0) {
		get_end(g, 0);
		return;
	}
	r->st.entries_down++;
	get_end(g, 1);
}

static void get_blob(struct get *g, const struct kiln_file *f, int zstd);

static void
blob_done(struct kiln_xfer *x, void *arg)
{
	struct get *g = arg;
	char hex[KILN_DIGEST_HEX], what[80];
	struct kiln_file f = {0};

	f.digest = x->digest;
	f.size = x->size;
	if (x->result == KILN_XR_MISSING && x->zstd) {
		/* No compressed copy: a server filled by a kiln without compression has the plain one. */
		kiln_xfer_free(x);
		get_blob(g, &f, 0);
		return;
	}
	g->pending--;
	if (x->result == KILN_XR_OK) {
		g->ok++;
	} else if (x->result == KILN_XR_BAD) {
		g->bad++;
		snprintf(what, sizeof(what), "blob %s/%s", x->zstd ? "cas-zstd" : "cas", kiln_digest_hex(&x->digest, hex));
		warn_bad(g->r, what, "does not match its digest");
	}
	kiln_xfer_free(x);
	if (!g->pending)
		blobs_arrived(g);
}

static void
get_blob(struct get *g, const struct kiln_file *f, int zstd)
{
	struct kiln_remote *r = g->r;
	struct kiln_xfer *x = kiln_xfer_new(KILN_X_GET_BLOB, url_of(r, zstd ? "cas-zstd" : "cas", &f->digest),
	    blob_done, g);

	x->zstd = zstd;
	x->digest = f->digest;
	x->size = f->size;
	x->path = kiln_cache_blob_path(r->cache, &f->digest);
	kiln_transfer_add(r->tr, x);
}

static int
cmp_file_digest(const void *a, const void *b)
{
	return memcmp(((const struct kiln_file *)a)->digest.b, ((const struct kiln_file *)b)->digest.b,
	    sizeof(((const struct kiln_file *)a)->digest.b));
}

/* The files of act, each digest once, sorted by digest (malloc'd); their count in *n. */
static struct kiln_file *
unique_blobs(const struct kiln_action *act, size_t *n)
{
	struct kiln_file *v = xreallocarray(NULL, act->nfiles + 1, sizeof(*v));
	size_t i, k = 0;

	memcpy(v, act->files, act->nfiles * sizeof(*v));
	qsort(v, act->nfiles, sizeof(*v), cmp_file_digest);
	for (i = 0; i < act->nfiles; i++)
		if (!k || !kiln_digest_eq(&v[k - 1].digest, &v[i].digest))
			v[k++] = v[i];
	*n = k;
	return v;
}

/* Fetch the blobs of g's entry that the local cache lacks, all at once. */
static void
get_blobs(struct get *g)
{
	struct kiln_file *v = unique_blobs(&g->act, &g->need);
	size_t i;

	/* One more than in flight until all are added: a blob that fails at once must not end g early. */
	g->pending = 1;
	for (i = 0; i < g->need; i++) {
		if (kiln_cache_has_blob(g->r->cache, &v[i].digest)) {
			g->ok++;
			continue;
		}
		g->pending++;
		get_blob(g, &v[i], zstd_for(g->r, v[i].size));
	}
	free(v);
	if (--g->pending == 0)
		blobs_arrived(g);
}

/* The entry of g's key is answered (or the answer was already there). */
static void
entry_answered(struct get *g)
{
	struct kiln_remote *r = g->r;
	struct lookup *l = g->l;

	if (l->state == L_MISSING) {
		r->st.misses += !(g->flags & CKPT);
		get_end(g, 0);
		return;
	}
	if (l->state != L_FOUND) {
		if (!kiln_transfer_is_down(r->tr) && !(g->flags & QUIET))
			warn("remote cache %s: cannot look up '%s' (%s)%s", r->base, g->target,
			    kiln_transfer_last_error(r->tr), g->then);
		get_end(g, 0);
		return;
	}
	if (kiln_action_parse(l->text.s ? l->text.s : "", l->text.len, &g->act, &g->a) < 0) {
		if (g->flags & QUIET) {
			get_end(g, 0);
			return;
		}
		r->bad_entries++;
		warn("remote cache %s: the entry %s/%s for '%s' is damaged%s", r->base, l->kind, l->hex, g->target, g->then);
		if (g->flags & CKPT)
			kiln_remote_drop_checkpoint(r, &l->key);
		get_end(g, 0);
		return;
	}
	if (g->flags & KILN_REMOTE_BLOBS)
		get_blobs(g);
	else
		get_end(g, 1);
}

/* kiln_remote_get, with `then` ending its warnings. */
static void
get_start(struct kiln_remote *r, const struct kiln_digest *key, const char *target, int flags, const char *then,
    kiln_remote_fn *done, void *arg)
{
	struct get *g;

	if (!r || kiln_transfer_is_down(r->tr)) {
		done(arg, 0, NULL);
		return;
	}
	g = xcalloc(1, sizeof(*g));
	g->r = r;
	g->target = xstrdup(target);
	g->then = then;
	g->flags = flags;
	g->done = done;
	g->arg = arg;
	if (flags & CKPT) {
		g->l = xcalloc(1, sizeof(*g->l));
		g->l->kind = "ckpt";
		g->l->key = *key;
		kiln_digest_hex(key, g->l->hex);
		ask(r, g->l);
	} else {
		g->l = lookup(r, key);
	}
	if ((flags & KILN_REMOTE_FRESH) && (g->l->state == L_MISSING || g->l->state == L_FAILED))
		ask(r, g->l);
	if (g->l->state == L_ASKING) {
		g->next = g->l->waiting;
		g->l->waiting = g;
	} else {
		entry_answered(g);
	}
}

void
kiln_remote_get(struct kiln_remote *r, const struct kiln_digest *key, const char *target, int flags,
    kiln_remote_fn *done, void *arg)
{
	get_start(r, key, target, flags, "; building it here", done, arg);
}

struct sync_get {
	int finished, ok;
	struct kiln_action *act;	/* peek: where the entry goes */
	struct arena *a;
};

static void
sync_done(void *arg, int ok, const struct kiln_action *act)
{
	struct sync_get *s = arg;

	s->finished = 1;
	s->ok = ok;
	if (ok && s->act) {
		/* The entry again, parsed into the caller's arena: g's is freed when this returns. */
		struct buf b = BUF_INIT;

		kiln_action_format(&b, act);
		s->ok = kiln_action_parse(b.s ? b.s : "", b.len, s->act, s->a) == 0;
		buf_release(&b);
	}
}

/* kiln_remote_fetch, with `then` ending its warnings: what the caller does instead. */
static int
fetch_entry(struct kiln_remote *r, const struct kiln_digest *key, const char *target, const char *then)
{
	struct sync_get s = {0};

	if (!r)
		return 0;
	get_start(r, key, target, KILN_REMOTE_BLOBS | KILN_REMOTE_FRESH, then, sync_done, &s);
	wait_for(r, &s.finished);
	return s.finished && s.ok;
}

int
kiln_remote_fetch(struct kiln_remote *r, const struct kiln_digest *key, const char *target)
{
	return fetch_entry(r, key, target, "; building it here");
}

int
kiln_remote_fetch_source(struct kiln_remote *r, const struct kiln_digest *entry, const char *path)
{
	return fetch_entry(r, entry, path, "");
}

int
kiln_remote_peek(struct kiln_remote *r, const struct kiln_digest *key, struct kiln_action *act,
    struct arena *a)
{
	struct sync_get s = {0, 0, act, a};

	if (!r)
		return 0;
	kiln_remote_get(r, key, "", QUIET, sync_done, &s);
	wait_for(r, &s.finished);
	return s.finished && s.ok;
}

/* Uploads. */

static void
put_end(struct put *p, int ok)
{
	if (p->result)
		*p->result = ok ? 0 : -1;
	if (p->ckpt) {
		p->ckpt->busy = 0;
		/* The step built while its checkpoint was on its way: the entry just sent goes too. */
		if (p->ckpt->dropped)
			kiln_remote_drop_checkpoint(p->r, &p->ckpt->key);
	}
	buf_release(&p->entry);
	free(p->files);
	free(p->target);
	free(p);
}

static void
put_failed(struct put *p, const char *what)
{
	struct kiln_remote *r = p->r;

	if (!kiln_transfer_is_down(r->tr) && !kiln_transfer_refuses_uploads(r->tr))
		warn("remote cache %s: could not upload %s '%s' (%s)", r->base, what, p->target,
		    kiln_transfer_last_error(r->tr));
	/* A refusing server is said once, by the engine; it is not this target's failure. */
	put_end(p, kiln_transfer_refuses_uploads(r->tr));
}

static void
entry_put(struct kiln_xfer *x, void *arg)
{
	struct put *p = arg;
	int ok = x->result == KILN_XR_OK;

	kiln_xfer_free(x);
	if (!ok) {
		put_failed(p, "the entry for");
		return;
	}
	if (p->ckpt)
		p->r->st.checkpoints_up++;
	else
		p->r->st.entries_up++;
	put_end(p, 1);
}

/* Every blob is on the server: now the entry, and only now. */
static void
put_entry(struct put *p)
{
	struct kiln_xfer *x;

	if (p->ckpt && p->ckpt->dropped) {
		put_end(p, 1);
		return;
	}
	x = kiln_xfer_new(KILN_X_PUT_MEM, url_of(p->r, p->ckpt ? "ckpt" : "ac", &p->key), entry_put, p);

	x->background = 1;
	x->body = p->entry;
	p->entry = (struct buf)BUF_INIT;
	kiln_transfer_add(p->r->tr, x);
}

/* One blob of p is sent (ok) or not. */
/* One of p's blobs is settled (sent, there already, or failed): after the last, the entry or the failure. */
static void
blob_settled(struct put *p)
{
	if (--p->pending)
		return;
	if (p->failed)
		put_failed(p, "the outputs of");
	else
		put_entry(p);
}

static void
blob_sent(struct put *p, int ok, uint64_t size)
{
	if (ok) {
		p->r->st.blobs_up++;
		p->r->st.bytes_up += size;
	} else {
		p->failed++;
	}
	blob_settled(p);
}

static void
blob_put(struct kiln_xfer *x, void *arg)
{
	struct put *p = arg;
	int ok = x->result == KILN_XR_OK;
	uint64_t size = x->size;

	kiln_xfer_free(x);
	blob_sent(p, ok, size);
}

static void
blob_put_parts(void *arg, int ok, uint64_t size)
{
	blob_sent(arg, ok, size);
}

static void
send_blob(struct put *p, const struct kiln_file *f)
{
	struct kiln_remote *r = p->r;
	int z = zstd_for(r, f->size);
	char *url = url_of(r, z ? "cas-zstd" : "cas", &f->digest), *path = kiln_cache_blob_path(r->cache, &f->digest);
	struct kiln_xfer *x;
	struct stat sb;
	uint64_t size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : f->size;

	p->pending++;
	if (r->s3 && size >= r->multipart_min) {
		/* Large: an S3 multipart upload, its parts side by side. */
		kiln_s3_put_parts(r->tr, url, path, z, size, blob_put_parts, p);
		return;
	}
	x = kiln_xfer_new(KILN_X_PUT_FILE, url, blob_put, p);
	x->background = 1;
	x->zstd = z;
	x->path = path;
	x->size = size;
	kiln_transfer_add(r->tr, x);
}

/* A large blob's HEAD answered: send it if the server lacks it. */
static void
blob_headed(struct kiln_xfer *x, void *arg)
{
	struct put *p = arg;
	struct kiln_file f = {0};
	int res = x->result;

	f.digest = x->digest;
	f.size = x->size;
	kiln_xfer_free(x);
	if (res == KILN_XR_OK)
		p->r->st.present++;
	else if (res == KILN_XR_MISSING)
		send_blob(p, &f);
	else
		p->failed++;
	blob_settled(p);
}

/*
 * Ask with HEAD for every blob of at least HEAD_MIN bytes, and send every
 * smaller one at once: below HEAD_MIN a HEAD's round trip costs about what
 * sending the bytes again does.
 */
static void
put_blobs(struct put *p)
{
	size_t i;

	p->pending = 1;
	for (i = 0; i < p->nfiles; i++) {
		const struct kiln_file *f = &p->files[i];
		struct kiln_xfer *x;

		if (f->size < HEAD_MIN) {
			send_blob(p, f);
			continue;
		}
		x = kiln_xfer_new(KILN_X_HEAD, url_of(p->r, zstd_for(p->r, f->size) ? "cas-zstd" : "cas", &f->digest),
		    blob_headed, p);
		x->background = 1;
		x->digest = f->digest;
		x->size = f->size;
		p->pending++;
		kiln_transfer_add(p->r->tr, x);
	}
	blob_settled(p);
}

static void
entry_headed(struct kiln_xfer *x, void *arg)
{
	struct put *p = arg;
	int res = x->result;

	kiln_xfer_free(x);
	/* First writer wins: an entry already there is not replaced, nor are its blobs sent again. */
	if (res == KILN_XR_OK)
		put_end(p, 1);
	else if (res == KILN_XR_MISSING)
		put_blobs(p);
	else
		put_failed(p, "the outputs of");
}

/* A new upload of act under key (its entry formatted, its blobs each once). */
static struct put *
put_new(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act, const char *target)
{
	struct put *p = xcalloc(1, sizeof(*p));

	p->r = r;
	p->key = *key;
	p->target = xstrdup(target);
	kiln_action_format(&p->entry, act);
	p->files = unique_blobs(act, &p->nfiles);
	for (size_t i = 0; i < p->nfiles; i++)
		p->files[i].path = NULL;
	return p;
}

static void
upload(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act, const char *target,
    int *result)
{
	struct put *p;
	struct kiln_xfer *x;

	if (!kiln_remote_can_upload(r)) {
		if (result)
			*result = 0;
		return;
	}
	p = put_new(r, key, act, target);
	p->result = result;
	x = kiln_xfer_new(KILN_X_HEAD, url_of(r, "ac", key), entry_headed, p);
	x->background = 1;
	kiln_transfer_add(r->tr, x);
}

void
kiln_remote_upload(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act,
    const char *target)
{
	if (r)
		upload(r, key, act, target, NULL);
}

int
kiln_remote_store(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act,
    const char *target)
{
	int result = 1;

	if (!r)
		return 0;
	upload(r, key, act, target, &result);
	while (result == 1 && kiln_transfer_perform(r->tr)) {
		if (pending_signal()) {
			kiln_transfer_abandon(r->tr);
			break;
		}
		kiln_transfer_wait(r->tr, NULL, 0, 200);
		progress(r, 0);
	}
	progress(r, 1);
	return result == 1 ? -1 : result;
}

/* Checkpoints. */

/* key's checkpoint as this run knows it, made when `make`. */
static struct ckpt *
ckpt_of(struct kiln_remote *r, const struct kiln_digest *key, int make)
{
	char hex[KILN_DIGEST_HEX];
	struct ckpt *c = map_get(&r->ckpts, kiln_digest_hex(key, hex));

	if (c || !make)
		return c;
	c = xcalloc(1, sizeof(*c));
	memcpy(c->hex, hex, sizeof(hex));
	c->key = *key;
	map_put(&r->ckpts, c->hex, c);
	return c;
}

int
kiln_remote_put_checkpoint(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act,
    const char *target)
{
	struct ckpt *c;
	struct put *p;

	if (!r || !kiln_remote_can_upload(r))
		return 0;
	c = ckpt_of(r, key, 1);
	if (c->busy || c->dropped)
		return 0;
	p = put_new(r, key, act, target);
	p->ckpt = c;
	c->busy = 1;
	/* No HEAD of the entry: a newer checkpoint replaces the one there. */
	put_blobs(p);
	return 1;
}

int
kiln_remote_checkpoint_busy(struct kiln_remote *r, const struct kiln_digest *key)
{
	struct ckpt *c = r ? ckpt_of(r, key, 0) : NULL;

	return c && c->busy;
}

static void
ckpt_deleted(struct kiln_xfer *x, void *arg)
{
	(void)arg;
	kiln_xfer_free(x);
}

void
kiln_remote_drop_checkpoint(struct kiln_remote *r, const struct kiln_digest *key)
{
	struct ckpt *c;
	struct kiln_xfer *x;

	if (!r || !kiln_remote_can_upload(r))
		return;
	c = ckpt_of(r, key, 1);
	if (c->busy) {
		c->dropped = 1;	/* put_end drops it once the upload is over, and no later one is sent */
		return;
	}
	/* Only the entry: its blobs are left to kiln gc --remote, as an entry's are when it goes. */
	x = kiln_xfer_new(KILN_X_DELETE, url_of(r, "ckpt", key), ckpt_deleted, NULL);
	x->background = 1;
	kiln_transfer_add(r->tr, x);
}

void
kiln_remote_get_checkpoint(struct kiln_remote *r, const struct kiln_digest *key, const char *target,
    kiln_remote_fn *done, void *arg)
{
	get_start(r, key, target, KILN_REMOTE_BLOBS | CKPT, "; its checkpoint there is not taken: it starts clean",
	    done, arg);
}

void
kiln_remote_drain(struct kiln_remote *r)
{
	if (r)
		wait_for(r, NULL);
}

void
kiln_remote_report(const struct kiln_remote *r)
{
	const struct kiln_remote_stats *s;
	char a[32], b[32], c[32], d[32];

	if (!r)
		return;
	s = kiln_remote_stats(r);
	if (!s->entries_down && !s->entries_up && !s->bad && !s->failed && !s->blobs_up && !s->blobs_down)
		return;
	if (s->checkpoints_up && !s->entries_down && !s->entries_up && !s->bad && !s->failed) {
		printf("kiln: remote cache %s: uploaded %llu checkpoints (%llu blobs, %s)\n", r->base, s->checkpoints_up,
		    s->blobs_up, format_size(a, sizeof(a), s->bytes_up));
		return;
	}
	printf("kiln: remote cache %s: fetched %llu targets (%llu blobs, %s), uploaded %llu targets (%llu blobs, %s)",
	    r->base, s->entries_down, s->blobs_down, format_size(a, sizeof(a), s->bytes_down), s->entries_up,
	    s->blobs_up, format_size(b, sizeof(b), s->bytes_up));
	printf("; %s down, %s up on the wire", format_size(c, sizeof(c), s->wire_down),
	    format_size(d, sizeof(d), s->wire_up));
	if (s->checkpoints_up)
		printf(", %llu checkpoints uploaded", s->checkpoints_up);
	if (s->bad)
		printf(", %llu bad blobs dropped", s->bad);
	if (s->failed)
		printf(", %llu transfers failed", s->failed);
	if (kiln_remote_is_down(r))
		printf(" (gave up on it)");
	printf("\n");
}
