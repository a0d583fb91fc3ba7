/*
 * remoteadmin: gc and fsck of a remote cache; see remoteadmin.h.
 *
 * Every request of a phase is queued at once and the engine runs them 16 at
 * a time; the phases follow each other: list, fetch entries, delete entries,
 * list again, delete blobs.
 */
#define _XOPEN_SOURCE 700
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "lock.h"
#include "map.h"
#include "remote.h"
#include "remoteadmin.h"
#include "s3.h"
#include "transfer.h"

/* One file of a listed folder. */
struct item {
	char *name;		/* a digest's 32 hex digits */
	double mtime;
	uint64_t size;
	int zstd;		/* listed in cas-zstd/ */
	int bad;		/* fsck: damaged, or (an entry) naming what is missing or damaged */
	struct buf body;	/* an entry's text */
	int got;		/* the GET of an entry answered 2xx */
};

struct listing {
	struct item *v;
	size_t n;
};

static void
listing_release(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		buf_release(&l->v[i].body);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
is_digest_name(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == KILN_DIGEST_HEX - 1;
}

/* An HTTP date ("Tue, 01 Dec 2026 08:18:00 GMT"), or 0. */
static double
http_time(const char *s)
{
	struct tm tm = {0};

	if (!s || !strptime(s, "%a, %d %b %Y %H:%M:%S", &tm))
		return 0;
	return (double)timegm(&tm);
}

/* Where a GET's answer goes. */
struct answer {
	int result;		/* KILN_XR_* */
	struct buf *body;	/* the body moves here, or NULL */
	size_t *count;		/* incremented on 2xx, or NULL */
};

static void
answered(struct kiln_xfer *x, void *arg)
{
	struct answer *a = arg;

	a->result = x->result;
	if (a->body && x->result == KILN_XR_OK) {
		buf_release(a->body);
		*a->body = x->body;
		x->body = (struct buf)BUF_INIT;
	}
	if (a->count && x->result == KILN_XR_OK)
		(*a->count)++;
	kiln_xfer_free(x);
}

static void
queue(struct kiln_remote *r, int kind, char *url, struct answer *a)
{
	a->result = KILN_XR_PENDING;
	kiln_transfer_add(kiln_remote_transfer(r), kiln_xfer_new(kind, url, answered, a));
}

/* Run every queued request to its end. */
static void
run_all(struct kiln_remote *r)
{
	kiln_transfer_run(kiln_remote_transfer(r));
}

/* The URL of dir/name (name NULL: the folder dir/). */
static char *
url_in(struct kiln_remote *r, const char *dir, const char *name)
{
	char *path = name ? xasprintf("%s/%s", dir, name) : xasprintf("%s/", dir);
	char *url = kiln_remote_path_url(r, path);

	free(path);
	return url;
}

static struct item *
add_item(struct listing *out, const char *dir, const char *name)
{
	struct item *it;

	out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
	it = &out->v[out->n++];
	memset(it, 0, sizeof(*it));
	it->name = xstrdup(name);
	it->zstd = strcmp(dir, "cas-zstd") == 0;
	return it;
}

struct s3_page {
	struct listing *out;
	const char *dir, *prefix;
};

static void
s3_object(void *arg, const char *key, double mtime, uint64_t size)
{
	struct s3_page *pg = arg;
	size_t n = strlen(pg->prefix);
	struct item *it;

	/* Only the digest-named objects right under the folder: nothing deeper, nothing else. */
	if (strncmp(key, pg->prefix, n) != 0 || !is_digest_name(key + n))
		return;
	it = add_item(pg->out, pg->dir, key + n);
	it->mtime = mtime;
	it->size = size;
}

/* An S3 remote's folder: ListObjectsV2 of its prefix, a page (1,000 objects) after another. */
static int
list_s3(struct kiln_remote *r, const char *dir, struct listing *out)
{
	const struct kiln_s3 *s3 = kiln_remote_s3(r);
	char *prefix = *s3->prefix ? xasprintf("%s/%s/", s3->prefix, dir) : xasprintf("%s/", dir), *token = NULL;
	struct s3_page pg = {out, dir, prefix};
	int ret = 0;

	do {
		struct buf b = BUF_INIT;
		struct answer a = {0, &b, NULL};
		char *next = NULL;

		queue(r, KILN_X_GET_MEM, kiln_s3_list_url(s3, prefix, token), &a);
		run_all(r);
		if (a.result != KILN_XR_OK)
			ret = error("remote cache %s: cannot list %s/ with ListObjectsV2 (%s)", kiln_remote_base(r), dir,
			    kiln_transfer_last_error(kiln_remote_transfer(r)));
		else if (kiln_s3_list_page(b.s, b.len, s3_object, &pg, &next) < 0)
			ret = error("remote cache %s: the ListObjectsV2 answer for %s/ is not a ListBucketResult",
			    kiln_remote_base(r), dir);
		buf_release(&b);
		free(token);
		token = next;
	} while (ret == 0 && token);
	free(token);
	free(prefix);
	return ret;
}

/* The digest-named files of <base>/<dir>/ as the server lists them. -1 after reporting. */
static int
list(struct kiln_remote *r, const char *dir, struct listing *out)
{
	struct buf b = BUF_INIT;
	struct answer a = {0, &b, NULL};
	json_error_t jerr;
	json_t *j, *e;
	size_t i;

	if (kiln_remote_s3(r))
		return list_s3(r, dir, out);
	queue(r, KILN_X_GET_MEM, url_in(r, dir, NULL), &a);
	run_all(r);
	if (a.result == KILN_XR_MISSING)
		return 0;
	if (a.result != KILN_XR_OK)
		return error("remote cache %s: cannot list %s/ (%s)", kiln_remote_base(r), dir,
		    kiln_transfer_last_error(kiln_remote_transfer(r)));
	j = json_loadb(b.s ? b.s : "", b.len, 0, &jerr);
	buf_release(&b);
	if (!json_is_array(j)) {
		json_decref(j);
		return error("remote cache %s: the listing of %s/ is not a JSON array (nginx: autoindex on; autoindex_format json;)",
		    kiln_remote_base(r), dir);
	}
	json_array_foreach(j, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		struct item *it;

		if (!name || !is_digest_name(name) || strcmp(json_string_value(json_object_get(e, "type")) ?
		    json_string_value(json_object_get(e, "type")) : "", "file") != 0)
			continue;
		it = add_item(out, dir, name);
		it->mtime = http_time(json_string_value(json_object_get(e, "mtime")));
		it->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
	}
	json_decref(j);
	return 0;
}

/* GET every entry of l, listed in dir/ (its body into the item). The number that did not answer 2xx. */
static size_t
fetch_entries(struct kiln_remote *r, const char *dir, struct listing *l, size_t from)
{
	struct answer *a = xreallocarray(NULL, l->n + 1, sizeof(*a));
	size_t i, failed = 0;

	for (i = from; i < l->n; i++) {
		a[i] = (struct answer){0, &l->v[i].body, NULL};
		queue(r, KILN_X_GET_MEM, url_in(r, dir, l->v[i].name), &a[i]);
	}
	run_all(r);
	for (i = from; i < l->n; i++) {
		l->v[i].got = a[i].result == KILN_XR_OK;
		failed += a[i].result != KILN_XR_OK && a[i].result != KILN_XR_MISSING;
	}
	free(a);
	return failed;
}

/* DELETE <dir>/<name> for every item with del set; the number deleted. */
static size_t
delete_items(struct kiln_remote *r, const char *dir, struct listing *l, const char *del)
{
	struct answer *a = xreallocarray(NULL, l->n + 1, sizeof(*a));
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		a[i] = (struct answer){KILN_XR_OK, NULL, &n};
		if (del[i])
			queue(r, KILN_X_DELETE, url_in(r, l->v[i].zstd ? "cas-zstd" : dir, l->v[i].name), &a[i]);
	}
	run_all(r);
	free(a);
	return n;
}

/* Add the digests an entry names to `names` (hex, in arena). -1 when it does not parse. */
static int
entry_blobs(const struct item *e, struct map *names, struct arena *ar)
{
	struct kiln_action act;
	struct arena a = {0};
	char hex[KILN_DIGEST_HEX];
	size_t i;

	if (kiln_action_parse(e->body.s ? e->body.s : "", e->body.len, &act, &a) < 0) {
		arena_release(&a);
		return -1;
	}
	for (i = 0; i < act.nfiles; i++) {
		kiln_digest_hex(&act.files[i].digest, hex);
		if (!map_get(names, hex))
			map_put(names, arena_strdup(ar, hex), (void *)1);
	}
	arena_release(&a);
	return 0;
}

/* The keys the lock files name. -1 after reporting. */
static int
kept_keys(const struct kiln_remote_gc_opts *o, struct map *keep, struct arena *ar)
{
	size_t i, k;
	char hex[KILN_DIGEST_HEX];

	for (i = 0; i < o->nkeep; i++) {
		struct kiln_lockfile lf = {0};

		if (kiln_lock_read(&lf, o->keep[i]) < 0)
			return error("--keep %s: cannot read it as a Kilnfile.lock:", o->keep[i]);
		for (k = 0; k < lf.n; k++)
			if (lf.v[k].kind == KILN_LOCK_KEY)
				map_put(keep, arena_strdup(ar, kiln_digest_hex(&lf.v[k].d, hex)), (void *)1);
		kiln_lockfile_release(&lf);
	}
	return 0;
}

static int
cmp_newest(const void *a, const void *b)
{
	double x = (*(const struct item *const *)a)->mtime, y = (*(const struct item *const *)b)->mtime;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Mark in del the entries of ac that nothing keeps; the number marked. */
static size_t
unkept_entries(const struct kiln_remote_gc_opts *o, struct listing *ac, struct map *keep, char *del)
{
	struct item **byage = xreallocarray(NULL, ac->n + 1, sizeof(*byage));
	size_t i, n = 0;

	for (i = 0; i < ac->n; i++)
		byage[i] = &ac->v[i];
	qsort(byage, ac->n, sizeof(*byage), cmp_newest);
	for (i = 0; i < ac->n; i++) {
		size_t k = byage[i] - ac->v;
		int kept = map_get(keep, byage[i]->name) || (o->keep_last >= 0 && i < (size_t)o->keep_last);

		del[k] = !kept;
		n += !kept;
	}
	free(byage);
	return n;
}

int
kiln_remoteadmin_gc(struct kiln_remote *r, const struct kiln_remote_gc_opts *o)
{
	struct listing ac = {0}, again = {0}, blobs = {0}, ckpts = {0};
	struct map keep = MAP_INIT, names = MAP_INIT;
	struct arena ar = {0};
	char *del = NULL;
	size_t i, nentries = 0, nblobs = 0, ngone = 0, bgone = 0;
	unsigned long long freed = 0;
	double now = (double)time(NULL);
	int ret = -1;
	char sz[32];

	if (kept_keys(o, &keep, &ar) < 0 || list(r, "ac", &ac) < 0)
		goto out;
	del = xcalloc(ac.n + 1, 1);
	nentries = unkept_entries(o, &ac, &keep, del);
	/* Entries first: once they are gone, nothing names the blobs deleted below. */
	ngone = o->dry_run ? nentries : delete_items(r, "ac", &ac, del);
	/* Listed again: an entry written since (another machine's upload) keeps its blobs too. */
	if (list(r, "ac", &again) < 0)
		goto out;
	/* A running step's checkpoint (ckpt/) keeps its blobs too: its step is resumed from them. */
	if (list(r, "ckpt", &ckpts) < 0)
		goto out;
	if (fetch_entries(r, "ac", &again, 0) || fetch_entries(r, "ckpt", &ckpts, 0)) {
		error("remote cache %s: cannot read every entry (%s); no blob was deleted", kiln_remote_base(r),
		    kiln_transfer_last_error(kiln_remote_transfer(r)));
		goto out;
	}
	for (i = 0; i < again.n; i++) {
		size_t k;
		int deleted = 0;

		/* With --dry-run the unkept entries are still there: they do not keep blobs. */
		for (k = 0; o->dry_run && k < ac.n; k++)
			if (del[k] && strcmp(ac.v[k].name, again.v[i].name) == 0)
				deleted = 1;
		if (again.v[i].got && !deleted && entry_blobs(&again.v[i], &names, &ar) < 0)
			warn("remote cache %s: the entry ac/%s is damaged (kiln fsck --remote --repair removes it)",
			    kiln_remote_base(r), again.v[i].name);
	}
	for (i = 0; i < ckpts.n; i++)
		if (ckpts.v[i].got)
			(void)entry_blobs(&ckpts.v[i], &names, &ar);
	if (list(r, "cas", &blobs) < 0 || list(r, "cas-zstd", &blobs) < 0)
		goto out;
	free(del);
	del = xcalloc(blobs.n + 1, 1);
	for (i = 0; i < blobs.n; i++) {
		del[i] = !map_get(&names, blobs.v[i].name) && blobs.v[i].mtime <= now - o->grace;
		nblobs += del[i];
		if (del[i])
			freed += blobs.v[i].size;
	}
	bgone = o->dry_run ? nblobs : delete_items(r, "cas", &blobs, del);
	printf("kiln gc --remote %s: %s %zu of %zu entries and %zu of %zu blobs (%s)%s\n", kiln_remote_base(r),
	    o->dry_run ? "would delete" : "deleted", ngone, ac.n, bgone, blobs.n, format_size(sz, sizeof(sz), freed),
	    ngone < nentries || bgone < nblobs ? "; some deletions failed" : "");
	ret = ngone < nentries || bgone < nblobs ? -1 : 0;
out:
	free(del);
	listing_release(&ac);
	listing_release(&again);
	listing_release(&ckpts);
	listing_release(&blobs);
	map_release(&keep);
	map_release(&names);
	arena_release(&ar);
	return ret;
}

/* fsck. */

struct check {
	struct item *it;
	size_t *bad;
};

static void
blob_checked(struct kiln_xfer *x, void *arg)
{
	struct check *c = arg;

	if (x->result == KILN_XR_BAD) {
		c->it->bad = 1;
		(*c->bad)++;
	}
	if (x->result == KILN_XR_OK)
		unlink(x->path);
	kiln_xfer_free(x);
	free(c);
}

/* Download every blob into the cache's tmp/ and hash it (after decompression); mark the bad ones. */
static size_t
check_blobs(struct kiln_remote *r, struct kiln_cache *cache, struct listing *blobs)
{
	size_t i, bad = 0;

	for (i = 0; i < blobs->n; i++) {
		struct item *it = &blobs->v[i];
		struct kiln_xfer *x;
		struct check *c = xcalloc(1, sizeof(*c));

		c->it = it;
		c->bad = &bad;
		x = kiln_xfer_new(KILN_X_GET_BLOB, url_in(r, it->zstd ? "cas-zstd" : "cas", it->name), blob_checked, c);
		x->zstd = it->zstd;
		kiln_digest_parse(it->name, &x->digest);
		x->path = kiln_cache_tmp_path(cache, "fsck");
		kiln_transfer_add(kiln_remote_transfer(r), x);
	}
	run_all(r);
	for (i = 0; i < blobs->n; i++)
		if (blobs->v[i].bad)
			printf("cas%s/%s: its bytes are not its digest\n", blobs->v[i].zstd ? "-zstd" : "", blobs->v[i].name);
	return bad;
}

static int
blob_listed(const struct listing *blobs, const char *d)
{
	size_t i;

	for (i = 0; i < blobs->n; i++)
		if (strcmp(blobs->v[i].name, d) == 0)
			return 1;
	return 0;
}

/* Mark the entries that do not parse or name a blob the server lacks or that is bad. */
static size_t
check_entries(struct kiln_remote *r, struct listing *ac, struct listing *blobs)
{
	struct map present = MAP_INIT;
	struct arena ar = {0};
	size_t i, k, bad = 0;

	(void)r;
	for (i = 0; i < blobs->n; i++)
		if (!blobs->v[i].bad)
			map_put(&present, blobs->v[i].name, (void *)1);
	for (i = 0; i < ac->n; i++) {
		struct map names = MAP_INIT;
		struct item *e = &ac->v[i];

		if (!e->got)
			continue;
		if (entry_blobs(e, &names, &ar) < 0) {
			printf("ac/%s: damaged: not an action entry\n", e->name);
			e->bad = 1;
		}
		for (k = 0; k < names.cap; k++) {
			const char *d = names.slots[k].key;

			if (d && !map_get(&present, d)) {
				printf("ac/%s: names blob %s, which the server %s\n", e->name, d,
				    blob_listed(blobs, d) ? "has damaged" : "lacks");
				e->bad = 1;
			}
		}
		bad += e->bad;
		map_release(&names);
	}
	map_release(&present);
	arena_release(&ar);
	return bad;
}

long
kiln_remoteadmin_fsck(struct kiln_remote *r, struct kiln_cache *cache, int repair)
{
	struct listing ac = {0}, blobs = {0};
	size_t i, badblobs, badentries, gone = 0, bgone = 0;
	char *del;
	long ret = -1;

	if (list(r, "ac", &ac) < 0 || list(r, "cas", &blobs) < 0 || list(r, "cas-zstd", &blobs) < 0)
		goto out;
	if (fetch_entries(r, "ac", &ac, 0)) {
		error("remote cache %s: cannot read every entry (%s)", kiln_remote_base(r),
		    kiln_transfer_last_error(kiln_remote_transfer(r)));
		goto out;
	}
	badblobs = check_blobs(r, cache, &blobs);
	badentries = check_entries(r, &ac, &blobs);
	if (repair) {
		/* Entries first: no entry is left naming a blob that is removed. */
		del = xcalloc(ac.n + 1, 1);
		for (i = 0; i < ac.n; i++)
			del[i] = ac.v[i].bad;
		gone = delete_items(r, "ac", &ac, del);
		free(del);
		del = xcalloc(blobs.n + 1, 1);
		for (i = 0; i < blobs.n; i++)
			del[i] = blobs.v[i].bad;
		bgone = delete_items(r, "cas", &blobs, del);
		free(del);
	}
	printf("kiln fsck --remote %s: %zu entries, %zu blobs checked: %zu bad entries, %zu bad blobs", kiln_remote_base(r),
	    ac.n, blobs.n, badentries, badblobs);
	if (repair)
		printf("; removed %zu entries and %zu blobs", gone, bgone);
	printf("\n");
	ret = (long)(badentries + badblobs);
	if (repair && gone == badentries && bgone == badblobs)
		ret = 0;
out:
	listing_release(&ac);
	listing_release(&blobs);
	return ret;
}
