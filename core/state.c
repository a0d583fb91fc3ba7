/*
 * state: the workspace's log of what was built (.kiln/state).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "state.h"

#define MAGIC "KILNST\0\0"
#define VERSION 1
#define HEADER 16
#define MAX_RECORD (64u << 20)

enum { R_TARGET = 'T', R_FORGET = 'X', R_STAT = 'F', R_LOCK = 'L' };

/* Writing. */

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = {v, v >> 8, v >> 16, v >> 24};

	buf_add(b, c, 4);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void
put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	put_u32(b, n);
	buf_add(b, s, n);
}

static void
put_digest(struct buf *b, const struct kiln_digest *d)
{
	buf_add(b, d->b, 16);
}

static void
put_f64(struct buf *b, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	put_u64(b, u);
}

/* Frame a payload: length, type, payload, checksum. */
static void
frame(struct buf *out, int type, const struct buf *payload)
{
	XXH3_state_t *h = XXH3_createState();
	unsigned char t = type;

	put_u32(out, payload->len);
	buf_addc(out, type);
	buf_add(out, payload->s ? payload->s : "", payload->len);
	XXH3_64bits_reset(h);
	XXH3_64bits_update(h, &t, 1);
	XXH3_64bits_update(h, payload->s ? payload->s : "", payload->len);
	put_u64(out, XXH3_64bits_digest(h));
	XXH3_freeState(h);
}

static void
enc_target(struct buf *b, const struct kiln_record *r)
{
	size_t i;

	put_str(b, r->name);
	put_digest(b, &r->key);
	put_u64(b, (uint64_t)r->seen_ns);
	put_u32(b, r->flags);
	put_u32(b, r->ncomps);
	for (i = 0; i < r->ncomps; i++) {
		buf_addc(b, r->comps[i].kind);
		put_str(b, r->comps[i].name);
		put_digest(b, &r->comps[i].digest);
	}
	put_u32(b, r->nfiles);
	for (i = 0; i < r->nfiles; i++) {
		const struct kiln_file *f = &r->files[i];

		put_str(b, f->path);
		put_digest(b, &f->digest);
		put_u64(b, f->size);
		put_u32(b, f->mode);
		put_u64(b, f->ino);
		put_u64(b, (uint64_t)f->mtime_ns);
		put_u64(b, (uint64_t)f->ctime_ns);
	}
	put_u32(b, r->nmetrics);
	for (i = 0; i < r->nmetrics; i++) {
		put_str(b, r->metrics[i].name);
		put_f64(b, r->metrics[i].value);
	}
}

static void
enc_stat(struct buf *b, const struct kiln_statrec *s)
{
	put_str(b, s->path);
	put_u64(b, s->dev);
	put_u64(b, s->ino);
	put_u64(b, s->size);
	put_u64(b, (uint64_t)s->mtime_ns);
	put_u64(b, (uint64_t)s->ctime_ns);
	put_digest(b, &s->digest);
}

/* Reading: every read is bounds-checked; a short or bad record stops the load. */

struct rd {
	const unsigned char *p, *end;
	int bad;
};

static const unsigned char *
take(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	return p;
}

static uint32_t
get_u32(struct rd *r)
{
	const unsigned char *c = take(r, 4);

	return c ? (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24 : 0;
}

static uint64_t
get_u64(struct rd *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

static const char *
get_str(struct rd *r, struct arena *a)
{
	uint32_t n = get_u32(r);
	const unsigned char *s = take(r, n);

	return s ? arena_strndup(a, (const char *)s, n) : "";
}

static void
get_digest(struct rd *r, struct kiln_digest *d)
{
	const unsigned char *c = take(r, 16);

	if (c)
		memcpy(d->b, c, 16);
}

static double
get_f64(struct rd *r)
{
	uint64_t u = get_u64(r);
	double v;

	memcpy(&v, &u, 8);
	return v;
}

/* A count that cannot be larger than what is left, so a lying count cannot make us allocate much. */
static size_t
get_count(struct rd *r, size_t minsize)
{
	uint32_t n = get_u32(r);

	if ((size_t)(r->end - r->p) / minsize < n)
		r->bad = 1;
	return r->bad ? 0 : n;
}

static struct kiln_record *
dec_target(struct rd *r, struct arena *a)
{
	struct kiln_record *rec = arena_alloc(a, sizeof(*rec));
	size_t i;

	memset(rec, 0, sizeof(*rec));
	rec->name = get_str(r, a);
	get_digest(r, &rec->key);
	rec->seen_ns = (int64_t)get_u64(r);
	rec->flags = get_u32(r);
	rec->ncomps = get_count(r, 21);
	rec->comps = arena_alloc(a, rec->ncomps * sizeof(*rec->comps));
	for (i = 0; i < rec->ncomps; i++) {
		const unsigned char *k = take(r, 1);

		rec->comps[i].kind = k ? *k : 0;
		rec->comps[i].name = get_str(r, a);
		get_digest(r, &rec->comps[i].digest);
	}
	rec->nfiles = get_count(r, 56);
	rec->files = arena_alloc(a, rec->nfiles * sizeof(*rec->files));
	for (i = 0; i < rec->nfiles; i++) {
		struct kiln_file *f = &rec->files[i];

		f->path = get_str(r, a);
		get_digest(r, &f->digest);
		f->size = get_u64(r);
		f->mode = get_u32(r);
		f->ino = get_u64(r);
		f->mtime_ns = (int64_t)get_u64(r);
		f->ctime_ns = (int64_t)get_u64(r);
	}
	rec->nmetrics = get_count(r, 12);
	rec->metrics = arena_alloc(a, rec->nmetrics * sizeof(*rec->metrics));
	for (i = 0; i < rec->nmetrics; i++) {
		rec->metrics[i].name = get_str(r, a);
		rec->metrics[i].value = get_f64(r);
	}
	return r->bad ? NULL : rec;
}

static struct kiln_statrec *
dec_stat(struct rd *r, struct arena *a)
{
	struct kiln_statrec *s = arena_alloc(a, sizeof(*s));

	s->path = get_str(r, a);
	s->dev = get_u64(r);
	s->ino = get_u64(r);
	s->size = get_u64(r);
	s->mtime_ns = (int64_t)get_u64(r);
	s->ctime_ns = (int64_t)get_u64(r);
	get_digest(r, &s->digest);
	return r->bad ? NULL : s;
}

static int
apply(struct kiln_state *st, int type, struct rd *r)
{
	struct kiln_record *rec;
	struct kiln_statrec *s;

	switch (type) {
	case R_TARGET:
		if (!(rec = dec_target(r, &st->arena)))
			return -1;
		map_put(&st->targets, rec->name, rec);
		return 0;
	case R_FORGET:
		map_put(&st->targets, get_str(r, &st->arena), NULL);
		return r->bad ? -1 : 0;
	case R_STAT:
		if (!(s = dec_stat(r, &st->arena)))
			return -1;
		map_put(&st->files, s->path, s);
		return 0;
	case R_LOCK:
		if (!(s = dec_stat(r, &st->arena)))
			return -1;
		st->lock = *s;
		return 0;
	default:
		return -1;
	}
}

void
kiln_state_load(struct kiln_state *st, const char *path)
{
	size_t len, off, good;
	char *data;
	int count = 0;

	memset(st, 0, sizeof(*st));
	st->path = xstrdup(path);
	st->fd = -1;
	data = read_file(path, &len);
	if (!data) {
		if (errno != ENOENT)
			warn("cannot read %s (%s); every target will be checked again", path, strerror(errno));
		st->rewrite = 1;
		return;
	}
	if (len < HEADER || memcmp(data, MAGIC, 8) != 0) {
		if (len > 0)
			warn("%s is not a kiln state file; every target will be checked again", path);
		st->rewrite = 1;
		free(data);
		return;
	}
	if (get_u32(&(struct rd){(unsigned char *)data + 8, (unsigned char *)data + 12, 0}) != VERSION) {
		/* Another version's state: start over; the cache still has the outputs. */
		st->rewrite = 1;
		free(data);
		return;
	}
	for (off = good = HEADER; off < len; off = good) {
		struct rd r = {(unsigned char *)data + off, (unsigned char *)data + len, 0};
		uint32_t n = get_u32(&r);
		const unsigned char *type = take(&r, 1);
		const unsigned char *payload = n <= MAX_RECORD ? take(&r, n) : NULL;
		uint64_t sum = get_u64(&r);
		struct rd pr;

		if (r.bad || !type || !payload || XXH3_64bits(type, n + 1) != sum)
			break;
		pr = (struct rd){payload, payload + n, 0};
		if (apply(st, *type, &pr) < 0)
			break;
		good = r.p - (unsigned char *)data;
		count++;
	}
	if (good < len) {
		warn("%s is damaged after %d records; the rest will be checked again", path, count);
		st->rewrite = 1;
	}
	st->nrecords = count;
	free(data);
}

void
kiln_state_release(struct kiln_state *st)
{
	if (st->fd >= 0)
		close(st->fd);
	map_release(&st->targets);
	map_release(&st->files);
	arena_release(&st->arena);
	free(st->path);
	memset(st, 0, sizeof(*st));
	st->fd = -1;
}

struct kiln_record *
kiln_state_get(struct kiln_state *st, const char *name)
{
	return map_get(&st->targets, name);
}

static size_t
live(const struct kiln_state *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->targets.cap; i++)
		n += st->targets.slots[i].key && st->targets.slots[i].value;
	return n + st->files.len + (st->lock.path != NULL);
}

/* Write every live record to a new file and rename it over the log. */
static int
rewrite(struct kiln_state *st)
{
	struct buf out = BUF_INIT, payload = BUF_INIT;
	size_t i;
	int r;

	buf_add(&out, MAGIC, 8);
	put_u32(&out, VERSION);
	put_u32(&out, 0);
	for (i = 0; i < st->targets.cap; i++) {
		struct kiln_record *rec = st->targets.slots[i].value;

		if (!st->targets.slots[i].key || !rec)
			continue;
		buf_reset(&payload);
		enc_target(&payload, rec);
		frame(&out, R_TARGET, &payload);
	}
	for (i = 0; i < st->files.cap; i++) {
		if (!st->files.slots[i].key)
			continue;
		buf_reset(&payload);
		enc_stat(&payload, st->files.slots[i].value);
		frame(&out, R_STAT, &payload);
	}
	if (st->lock.path) {
		buf_reset(&payload);
		enc_stat(&payload, &st->lock);
		frame(&out, R_LOCK, &payload);
	}
	if (st->fd >= 0) {
		close(st->fd);
		st->fd = -1;
	}
	r = write_file_atomic(st->path, out.s, out.len, 0644, 0);
	if (r < 0)
		error("cannot write %s:", st->path);
	else
		st->rewrite = 0;
	st->nrecords = st->nlive = live(st);
	buf_release(&out);
	buf_release(&payload);
	return r;
}

static int
append(struct kiln_state *st, int type, const struct buf *payload)
{
	struct buf out = BUF_INIT;
	int r;

	st->dirty = 1;
	if (st->rewrite)
		return rewrite(st);
	if (st->fd < 0) {
		st->fd = open(st->path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (st->fd < 0)
			return rewrite(st);
	}
	frame(&out, type, payload);
	/* One write per record: a crash leaves at most one torn record at the end. */
	r = write_all(st->fd, out.s, out.len);
	if (r < 0)
		error("cannot append to %s:", st->path);
	buf_release(&out);
	st->nrecords++;
	return r;
}

static struct kiln_record *
copy_record(struct arena *a, const struct kiln_record *src)
{
	struct kiln_record *r = arena_alloc(a, sizeof(*r));
	size_t i;

	*r = *src;
	r->name = arena_strdup(a, src->name);
	r->comps = arena_alloc(a, src->ncomps * sizeof(*r->comps));
	for (i = 0; i < src->ncomps; i++) {
		r->comps[i] = src->comps[i];
		r->comps[i].name = arena_strdup(a, src->comps[i].name);
	}
	r->files = arena_alloc(a, src->nfiles * sizeof(*r->files));
	for (i = 0; i < src->nfiles; i++) {
		r->files[i] = src->files[i];
		r->files[i].path = arena_strdup(a, src->files[i].path);
	}
	r->metrics = arena_alloc(a, src->nmetrics * sizeof(*r->metrics));
	for (i = 0; i < src->nmetrics; i++) {
		r->metrics[i] = src->metrics[i];
		r->metrics[i].name = arena_strdup(a, src->metrics[i].name);
	}
	return r;
}

int
kiln_state_put(struct kiln_state *st, const struct kiln_record *rec)
{
	struct kiln_record *r = copy_record(&st->arena, rec);
	struct buf payload = BUF_INIT;
	int ret;

	map_put(&st->targets, r->name, r);
	enc_target(&payload, r);
	ret = append(st, R_TARGET, &payload);
	buf_release(&payload);
	return ret;
}

int
kiln_state_forget(struct kiln_state *st, const char *name)
{
	struct buf payload = BUF_INIT;
	int ret;

	if (!kiln_state_get(st, name))
		return 0;
	map_put(&st->targets, arena_strdup(&st->arena, name), NULL);
	put_str(&payload, name);
	ret = append(st, R_FORGET, &payload);
	buf_release(&payload);
	return ret;
}

static void
fill_stat(struct kiln_statrec *s, const struct stat *sb)
{
	s->dev = sb->st_dev;
	s->ino = sb->st_ino;
	s->size = sb->st_size;
	s->mtime_ns = ns_of(&sb->st_mtim);
	s->ctime_ns = ns_of(&sb->st_ctim);
}

int
kiln_state_put_lock(struct kiln_state *st, const struct stat *sb)
{
	struct buf payload = BUF_INIT;
	int ret;

	st->lock.path = "Kilnfile.lock";
	fill_stat(&st->lock, sb);
	enc_stat(&payload, &st->lock);
	ret = append(st, R_LOCK, &payload);
	buf_release(&payload);
	return ret;
}

int64_t
kiln_fs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ns_of(&ts);
}

int
kiln_state_file_digest(struct kiln_state *st, const char *path, const struct stat *sb,
    struct kiln_digest *out)
{
	struct kiln_statrec *s = map_get(&st->files, path), now;
	struct buf payload = BUF_INIT;
	int64_t before;

	fill_stat(&now, sb);
	if (s && s->dev == now.dev && s->ino == now.ino && s->size == now.size &&
	    s->mtime_ns == now.mtime_ns && s->ctime_ns == now.ctime_ns) {
		*out = s->digest;
		return 0;
	}
	before = kiln_fs_now_ns();
	if (kiln_digest_file(path, out) < 0)
		return -1;
	/*
	 * A file changed in the tick we read it in could change again without
	 * its mtime moving: trust such a stat only after the tick has passed.
	 */
	if (now.mtime_ns >= before || now.ctime_ns >= before)
		return 0;
	s = arena_alloc(&st->arena, sizeof(*s));
	*s = now;
	s->path = arena_strdup(&st->arena, path);
	s->digest = *out;
	map_put(&st->files, s->path, s);
	enc_stat(&payload, s);
	append(st, R_STAT, &payload);
	buf_release(&payload);
	return 0;
}

int
kiln_state_compact(struct kiln_state *st, int force)
{
	size_t n = live(st);

	if (force || st->rewrite || st->nrecords > 2 * n + 1024)
		return rewrite(st);
	return 0;
}
