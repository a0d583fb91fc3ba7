/*
 * state: the workspace's log of what was built (.kiln/state).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "wire.h"

#define MAGIC "KILNST\0\0"
#define VERSION 3
#define HEADER 16
#define MAX_RECORD (64u << 20)

/* R_DIR, a folder's names only, is what kiln before R_FOLDER wrote: still read. */
enum { R_TARGET = 'T', R_FORGET = 'X', R_STAT = 'F', R_LOCK = 'L', R_DIR = 'D', R_FOLDER = 'E' };

/*
 * A folder as a tree walk last read it: its own stat (digest unused) and
 * its entries' names, sorted, each with readdir's type + 1 in the byte
 * before it (see dir_entries). Adding, removing or renaming an entry
 * changes the folder's mtime, so an unchanged stat means the same names.
 * Beside each name, the stat and digest of the file it was (files[i].path
 * is the name then, NULL for a subfolder or a file not to be trusted): a
 * folder's files are looked up by their place in it, not by path, and no
 * per-file record is loaded for them.
 */
struct kiln_dirrec {
	struct kiln_statrec st;
	size_t n;
	char **names;
	const unsigned char **files;	/* n entries (ENTRY_BYTES each, in the record), NULL for none; NULL from R_DIR */
};

/* A folder record's file entry: dev, ino, size, mtime, ctime (u64s), then the digest. */
#define ENTRY_BYTES (5 * 8 + 16)

static uint64_t
le64(const unsigned char *p)
{
	struct wire w = {p, p + 8, 0};

	return wire_get_u64(&w);
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The stat and digest of the entry at p (path left alone). */
static void
entry_get(const unsigned char *p, struct kiln_statrec *s)
{
	s->dev = le64(p);
	s->ino = le64(p + 8);
	s->size = le64(p + 16);
	s->mtime_ns = (int64_t)le64(p + 24);
	s->ctime_ns = (int64_t)le64(p + 32);
	memcpy(s->digest.b, p + 40, 16);
}

static void
enc_target(struct buf *b, const struct kiln_record *r)
{
	size_t i;

	wire_str(b, r->name);
	wire_digest(b, &r->key);
	wire_u64(b, (uint64_t)r->seen_ns);
	wire_u32(b, r->flags);
	wire_u32(b, r->nfiles);
	for (i = 0; i < r->nfiles; i++) {
		const struct kiln_file *f = &r->files[i];

		wire_str(b, f->path);
		wire_digest(b, &f->digest);
		wire_u64(b, f->size);
		wire_u32(b, f->mode);
		wire_u64(b, f->ino);
		wire_u64(b, (uint64_t)f->mtime_ns);
		wire_u64(b, (uint64_t)f->ctime_ns);
	}
	wire_u32(b, r->nmetrics);
	for (i = 0; i < r->nmetrics; i++) {
		wire_str(b, r->metrics[i].name);
		wire_f64(b, r->metrics[i].value);
	}
	/* Components last: a load skips them, and only why and status read them. */
	wire_u32(b, r->ncomps);
	for (i = 0; i < r->ncomps; i++) {
		buf_addc(b, r->comps[i].kind);
		wire_str(b, r->comps[i].name);
		wire_digest(b, &r->comps[i].digest);
	}
	/* Then the params: a record of an older kiln ends before them and reads as none. */
	wire_str(b, r->params ? r->params : "");
}

/* A stat record's path and stat, without its digest (a folder record starts so too). */
static void
enc_statfields(struct buf *b, const struct kiln_statrec *s)
{
	wire_str(b, s->path);
	wire_u64(b, s->dev);
	wire_u64(b, s->ino);
	wire_u64(b, s->size);
	wire_u64(b, (uint64_t)s->mtime_ns);
	wire_u64(b, (uint64_t)s->ctime_ns);
}

static void
enc_stat(struct buf *b, const struct kiln_statrec *s)
{
	enc_statfields(b, s);
	wire_digest(b, &s->digest);
}

static struct kiln_record *
dec_target(struct wire *r, struct arena *a)
{
	struct kiln_record *rec = arena_alloc(a, sizeof(*rec));
	size_t i;

	memset(rec, 0, sizeof(*rec));
	rec->name = wire_get_ref(r);
	wire_get_digest(r, &rec->key);
	rec->seen_ns = (int64_t)wire_get_u64(r);
	rec->flags = wire_get_u32(r);
	rec->nfiles = wire_get_count(r, 57);
	rec->files = arena_alloc(a, rec->nfiles * sizeof(*rec->files));
	for (i = 0; i < rec->nfiles; i++) {
		struct kiln_file *f = &rec->files[i];

		f->path = wire_get_ref(r);
		wire_get_digest(r, &f->digest);
		f->size = wire_get_u64(r);
		f->mode = wire_get_u32(r);
		f->ino = wire_get_u64(r);
		f->mtime_ns = (int64_t)wire_get_u64(r);
		f->ctime_ns = (int64_t)wire_get_u64(r);
	}
	rec->nmetrics = wire_get_count(r, 13);
	rec->metrics = arena_alloc(a, rec->nmetrics * sizeof(*rec->metrics));
	for (i = 0; i < rec->nmetrics; i++) {
		rec->metrics[i].name = wire_get_ref(r);
		rec->metrics[i].value = wire_get_f64(r);
	}
	return r->bad ? NULL : rec;
}

/*
 * Read rec's lazy part back from the file as loaded (st->rfd), its frame
 * checked again: w over a malloc'd copy (*buf, the caller frees it). The
 * file is only appended to, or renamed over, while kiln has it open, so
 * the frame is where it was; if another program changed it meanwhile,
 * kiln stops rather than take its bytes for the record it read.
 */
/* Up to len bytes of st->rfd at off, into to; how many it read. */
static size_t
pread_full(const struct kiln_state *st, unsigned char *to, size_t len, size_t off)
{
	size_t got = 0;

	while (st->rfd >= 0 && got < len) {
		ssize_t n = pread(st->rfd, to + got, len - got, (off_t)(off + got));

		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
		got += n > 0 ? (size_t)n : 0;
	}
	return got;
}

static void
lazy_open(struct kiln_state *st, const struct kiln_record *rec, unsigned char **buf, struct wire *w)
{
	struct wire f, payload;
	const unsigned char *frame;
	size_t got;
	int type = 0;

	if (st->held && rec->frame_off + rec->frame_len <= st->nheld) {
		*buf = NULL;
		frame = st->held + rec->frame_off;
		got = rec->frame_len;
	} else {
		*buf = xmalloc(rec->frame_len);
		frame = *buf;
		got = pread_full(st, *buf, rec->frame_len, rec->frame_off);
	}
	f = (struct wire){frame, frame + got, 0};
	if (got < rec->frame_len || !wire_unframe(&f, MAX_RECORD, &type, &payload) || type != R_TARGET ||
	    rec->lazy_at < 5 || rec->lazy_at > rec->frame_len - 8)
		die("%s changed while kiln was reading it (the record of target '%s' is no longer where it was); "
		    "run kiln again", st->path, rec->name);
	*w = (struct wire){frame + rec->lazy_at, payload.end, 0};
}

void
kiln_state_hold(struct kiln_state *st)
{
	struct stat sb;

	if (st->held || st->rfd < 0 || fstat(st->rfd, &sb) < 0 || sb.st_size <= 0)
		return;
	st->held = xmalloc((size_t)sb.st_size);
	st->nheld = pread_full(st, st->held, (size_t)sb.st_size, 0);
}

void
kiln_state_unhold(struct kiln_state *st)
{
	free(st->held);
	st->held = NULL;
	st->nheld = 0;
}

void
kiln_state_comps(struct kiln_state *st, struct kiln_record *rec)
{
	unsigned char *buf;
	struct wire w;
	size_t i, n;

	if (!rec->frame_len)
		return;
	lazy_open(st, rec, &buf, &w);
	rec->frame_len = 0;
	n = wire_get_count(&w, 22);
	rec->comps = arena_alloc(&st->arena, n * sizeof(*rec->comps));
	for (i = 0; i < n && !w.bad; i++) {
		const unsigned char *k = wire_take(&w, 1);

		rec->comps[i].kind = k ? *k : 0;
		rec->comps[i].name = arena_strdup(&st->arena, wire_get_ref(&w));
		wire_get_digest(&w, &rec->comps[i].digest);
	}
	/* The whole record was checksummed (at load and again now); a short list here would be a bug of ours. */
	rec->ncomps = w.bad ? 0 : n;
	if (!rec->params)
		rec->params = !w.bad && w.p < w.end ? arena_strdup(&st->arena, wire_get_ref(&w)) : "";
	free(buf);
}

const char *
kiln_state_params(struct kiln_state *st, struct kiln_record *rec)
{
	unsigned char *buf;
	struct wire w;
	size_t i, n;

	if (rec->params)
		return rec->params;
	if (!rec->frame_len)
		return rec->params = "";
	lazy_open(st, rec, &buf, &w);
	/* Step over the components without keeping them: the lock needs only this. */
	n = wire_get_count(&w, 22);
	for (i = 0; i < n && !w.bad; i++) {
		wire_take(&w, 1);
		wire_get_ref(&w);
		wire_take(&w, sizeof(struct kiln_digest));
	}
	rec->params = !w.bad && w.p < w.end ? arena_strdup(&st->arena, wire_get_ref(&w)) : "";
	free(buf);
	return rec->params;
}

static void
dec_statfields(struct wire *r, struct kiln_statrec *s)
{
	s->path = wire_get_ref(r);
	s->dev = wire_get_u64(r);
	s->ino = wire_get_u64(r);
	s->size = wire_get_u64(r);
	s->mtime_ns = (int64_t)wire_get_u64(r);
	s->ctime_ns = (int64_t)wire_get_u64(r);
}

static struct kiln_statrec *
dec_stat(struct wire *r, struct arena *a)
{
	struct kiln_statrec *s = arena_alloc(a, sizeof(*s));

	dec_statfields(r, s);
	wire_get_digest(r, &s->digest);
	return r->bad ? NULL : s;
}

static void
enc_dir(struct buf *b, const struct kiln_statrec *s, char *const *names, const unsigned char *const *files, size_t n)
{
	size_t i;

	enc_statfields(b, s);
	wire_u32(b, (uint32_t)n);
	for (i = 0; i < n; i++) {
		wire_str(b, names[i] - 1);
		buf_addc(b, files && files[i] ? 'f' : '-');
		if (files && files[i])
			buf_add(b, files[i], ENTRY_BYTES);
	}
}

/* The names point into the record (type byte first, then the name); so do the file entries. */
static struct kiln_dirrec *
dec_dir(struct wire *r, struct arena *a, int with_files)
{
	struct kiln_dirrec *d = arena_alloc(a, sizeof(*d));
	size_t i;

	dec_statfields(r, &d->st);
	d->n = wire_get_count(r, with_files ? 7 : 6);
	d->names = arena_alloc(a, (d->n ? d->n : 1) * sizeof(*d->names));
	d->files = with_files ? arena_alloc(a, (d->n ? d->n : 1) * sizeof(*d->files)) : NULL;
	for (i = 0; i < d->n && !r->bad; i++) {
		const char *s = wire_get_ref(r);
		const unsigned char *k;

		if (!s[0] || !s[1])
			r->bad = 1;
		d->names[i] = (char *)s + 1;
		if (!with_files)
			continue;
		k = wire_take(r, 1);
		d->files[i] = k && *k == 'f' ? wire_take(r, ENTRY_BYTES) : NULL;
		if (!k || (*k != 'f' && *k != '-'))
			r->bad = 1;
	}
	return r->bad ? NULL : d;
}

/*
 * A target recorded after Kilnfile.lock was last written makes the lock's
 * recorded stat stale, in memory and, by the order of records, in the file:
 * a build that died (or failed to write the lock) after recording a target
 * but before writing the lock leaves a lock that the next build rewrites.
 */
static void
lock_stale(struct kiln_state *st)
{
	st->lock.path = NULL;
}

/* The rest of r, copied into the arena: a record keeps nothing of the file's bytes, which are freed once loaded. */
static struct wire
kept(struct arena *a, const struct wire *r)
{
	size_t n = (size_t)(r->end - r->p);
	unsigned char *c = arena_alloc(a, n ? n : 1);

	memcpy(c, r->p, n);
	return (struct wire){c, c + n, r->bad};
}

/* rec, recorded after the lock was last written: one of kiln_state_unlocked's. */
static void
unlocked(struct kiln_state *st, struct kiln_record *rec)
{
	if (st->nunlocked == st->capunlocked) {
		st->capunlocked = st->capunlocked ? 2 * st->capunlocked : 64;
		st->unlocked = xreallocarray(st->unlocked, st->capunlocked, sizeof(*st->unlocked));
	}
	st->unlocked[st->nunlocked++] = rec;
}

/*
 * A target record at `frame` (frame_len bytes at frame_off in the file),
 * payload r: its fields up to the components are copied into the arena;
 * the components and params (most of the record, read only by why, status
 * and the lock) stay in the file, read back when asked for.
 */
static struct kiln_record *
apply_target(struct kiln_state *st, struct wire *r, const unsigned char *frame, size_t frame_off,
    size_t frame_len)
{
	struct kiln_record *rec = dec_target(r, &st->arena);
	size_t i;

	if (!rec)
		return NULL;
	/* Its strings only: the numbers are decoded already (a no-op build of 100,000 targets holds them all). */
	rec->name = arena_strdup(&st->arena, rec->name);
	for (i = 0; i < rec->nfiles; i++)
		rec->files[i].path = arena_strdup(&st->arena, rec->files[i].path);
	for (i = 0; i < rec->nmetrics; i++)
		rec->metrics[i].name = arena_strdup(&st->arena, rec->metrics[i].name);
	rec->frame_off = frame_off;
	rec->frame_len = (uint32_t)frame_len;
	rec->lazy_at = (uint32_t)(r->p - frame);
	rec->lock_gen = st->lock_gen;
	unlocked(st, rec);
	return rec;
}

/*
 * A lock record's graph identity, after its stat: an older kiln's record
 * ends before it and has none (the lock's next writing then walks it whole).
 */
static void
dec_lock_graph(struct kiln_state *st, struct wire *c)
{
	st->forgot = 0;
	st->lock_has_graph = (size_t)(c->end - c->p) == sizeof(st->lock_graph.b);
	if (st->lock_has_graph)
		wire_get_digest(c, &st->lock_graph);
	st->lock_has_graph &= !c->bad;
}

static void
enc_lock(struct buf *b, const struct kiln_state *st)
{
	enc_stat(b, &st->lock);
	if (st->lock_has_graph)
		wire_digest(b, &st->lock_graph);
}

static int
apply(struct kiln_state *st, int type, struct wire *pr, const unsigned char *frame, size_t frame_off,
    size_t frame_len)
{
	struct kiln_record *rec;
	struct kiln_statrec *s;
	struct kiln_dirrec *d;
	struct wire c;

	if (type == R_TARGET) {
		if (!(rec = apply_target(st, pr, frame, frame_off, frame_len)))
			return -1;
		map_put(&st->targets, rec->name, rec);
		lock_stale(st);
		return 0;
	}
	if (type == R_STAT) {
		if (!(s = dec_stat(pr, &st->arena)))
			return -1;
		s->path = arena_strdup(&st->arena, s->path);	/* not the rest of the file's bytes */
		map_put(&st->files, s->path, s);
		return 0;
	}
	c = kept(&st->arena, pr);
	switch (type) {
	case R_FORGET:
		map_put(&st->targets, wire_get_ref(&c), NULL);
		lock_stale(st);
		st->forgot = 1;
		return c.bad ? -1 : 0;
	case R_DIR:
	case R_FOLDER:
		if (!(d = dec_dir(&c, &st->arena, type == R_FOLDER)))
			return -1;
		map_put(&st->dirs, d->st.path, d);
		return 0;
	case R_LOCK:
		if (!(s = dec_stat(&c, &st->arena)))
			return -1;
		st->lock = *s;
		dec_lock_graph(st, &c);
		st->lock_gen++;
		st->nunlocked = 0;
		return 0;
	default:
		return -1;
	}
}

/*
 * Reserve the maps' slots for the records of each kind, counted from the
 * frames' headers alone (length, then type): a bound from the file's size
 * (a slot per 75 bytes, the smallest stat record) reserved megabytes of
 * slots that were never used.
 */
static void
reserve(struct kiln_state *st, const unsigned char *data, size_t len)
{
	size_t off = HEADER, nstat = 0, ntarget = 0;

	while (len - off >= 4 + 1 + 8) {
		struct wire w = {data + off, data + len, 0};
		size_t n = wire_get_u32(&w);

		if (n > len - off - (4 + 1 + 8))
			break;
		nstat += data[off + 4] == R_STAT;
		ntarget += data[off + 4] == R_TARGET;
		off += 4 + 1 + n + 8;
	}
	map_reserve(&st->files, nstat);
	map_reserve(&st->targets, ntarget);
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
	/* Kept open: a record's components are read back from it when asked for (lazy_open). */
	st->rfd = open(path, O_RDONLY | O_CLOEXEC);
	data = st->rfd < 0 ? NULL : read_all(st->rfd, &len);
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
	if (wire_get_u32(&(struct wire){(unsigned char *)data + 8, (unsigned char *)data + 12, 0}) != VERSION) {
		/* Another version's state: start over; the cache still has the outputs. */
		st->rewrite = 1;
		free(data);
		return;
	}
	reserve(st, (unsigned char *)data, len);
	for (off = good = HEADER; off < len; off = good) {
		struct wire r = {(unsigned char *)data + off, (unsigned char *)data + len, 0}, pr;
		int type;

		if (!wire_unframe(&r, MAX_RECORD, &type, &pr) ||
		    apply(st, type, &pr, (unsigned char *)data + off, off, (size_t)(r.p - (unsigned char *)data) - off) < 0)
			break;
		good = r.p - (unsigned char *)data;
		count++;
	}
	if (good < len) {
		warn("%s is damaged after %d records; the rest will be checked again", path, count);
		st->rewrite = 1;
	}
	st->nrecords = count;
	free(data);	/* records keep copies of what they need */
}

void
kiln_state_release(struct kiln_state *st)
{
	if (st->fd >= 0)
		close(st->fd);
	map_release(&st->targets);
	map_release(&st->files);
	map_release(&st->dirs);
	arena_release(&st->arena);
	free(st->unlocked);
	kiln_state_unhold(st);
	if (st->path && st->rfd >= 0)	/* path: loaded (a zeroed state has no files open) */
		close(st->rfd);
	free(st->path);
	memset(st, 0, sizeof(*st));
	st->fd = -1;
	st->rfd = -1;
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
	return n + st->files.len + st->dirs.len + (st->lock.path != NULL);
}

/* Write every live record to a new file and rename it over the log; -1 with errno. */
static int
rewrite(struct kiln_state *st)
{
	struct buf out = BUF_INIT, payload = BUF_INIT;
	size_t i;
	int r;

	buf_add(&out, MAGIC, 8);
	wire_u32(&out, VERSION);
	wire_u32(&out, 0);
	for (i = 0; i < st->targets.cap; i++) {
		struct kiln_record *rec = st->targets.slots[i].value;

		if (!st->targets.slots[i].key || !rec)
			continue;
		kiln_state_comps(st, rec);
		buf_reset(&payload);
		enc_target(&payload, rec);
		wire_frame(&out, R_TARGET, payload.s, payload.len);
	}
	for (i = 0; i < st->files.cap; i++) {
		if (!st->files.slots[i].key)
			continue;
		buf_reset(&payload);
		enc_stat(&payload, st->files.slots[i].value);
		wire_frame(&out, R_STAT, payload.s, payload.len);
	}
	for (i = 0; i < st->dirs.cap; i++) {
		struct kiln_dirrec *d = st->dirs.slots[i].value;

		if (!st->dirs.slots[i].key)
			continue;
		buf_reset(&payload);
		enc_dir(&payload, &d->st, d->names, d->files, d->n);
		wire_frame(&out, R_FOLDER, payload.s, payload.len);
	}
	if (st->lock.path) {
		buf_reset(&payload);
		enc_lock(&payload, st);
		wire_frame(&out, R_LOCK, payload.s, payload.len);
	}
	if (st->fd >= 0) {
		close(st->fd);
		st->fd = -1;
	}
	/* On failure st->rewrite stays set: the next record, or the run's end, tries again. */
	r = write_file_atomic(st->path, out.s, out.len, 0644, 0);
	if (r == 0)
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

	if (st->readonly)
		return 0;
	st->dirty = 1;
	if (st->rewrite)
		return rewrite(st);
	if (st->fd < 0) {
		st->fd = open(st->path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (st->fd < 0)
			return rewrite(st);
	}
	wire_frame(&out, type, payload->s, payload->len);
	/* One write per record: a crash leaves at most one torn record at the end. */
	r = write_all(st->fd, out.s, out.len);
	buf_release(&out);
	st->nrecords++;
	if (r < 0) {
		/*
		 * The record is in memory, and part of it may be in the file:
		 * write the whole log anew, now or, if that fails too, when the
		 * run ends (kiln_state_compact), rather than append after a tear.
		 */
		st->rewrite = 1;
		return rewrite(st);
	}
	return r;
}

static struct kiln_record *
copy_record(struct arena *a, const struct kiln_record *src)
{
	struct kiln_record *r = arena_alloc(a, sizeof(*r));
	size_t i;

	*r = *src;
	r->name = arena_strdup(a, src->name);
	r->params = src->params ? arena_strdup(a, src->params) : NULL;
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

	lock_stale(st);
	r->lock_gen = st->lock_gen;
	unlocked(st, r);
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
	lock_stale(st);
	st->forgot = 1;
	map_put(&st->targets, arena_strdup(&st->arena, name), NULL);
	wire_str(&payload, name);
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
kiln_state_put_lock(struct kiln_state *st, const struct stat *sb, const struct kiln_digest *text,
    const struct kiln_digest *graph)
{
	struct buf payload = BUF_INIT;
	int ret;

	st->lock.path = "Kilnfile.lock";
	fill_stat(&st->lock, sb);
	st->lock.digest = *text;
	st->lock_has_graph = graph != NULL;
	if (graph)
		st->lock_graph = *graph;
	st->forgot = 0;
	st->lock_gen++;
	st->nunlocked = 0;
	enc_lock(&payload, st);
	ret = append(st, R_LOCK, &payload);
	buf_release(&payload);
	return ret;
}

int
kiln_state_lock_from(const struct kiln_state *st, const struct kiln_digest *graph)
{
	return st->lock_gen && st->lock_has_graph && !st->forgot && kiln_digest_eq(&st->lock_graph, graph);
}

int
kiln_state_in_lock(const struct kiln_state *st, const struct kiln_record *rec)
{
	return rec->lock_gen < st->lock_gen;
}

struct kiln_record **
kiln_state_unlocked(struct kiln_state *st, size_t *n)
{
	struct kiln_record **v = xreallocarray(NULL, st->nunlocked + 1, sizeof(*v));
	size_t i;

	*n = 0;
	for (i = 0; i < st->nunlocked; i++)
		if (kiln_state_get(st, st->unlocked[i]->name) == st->unlocked[i])
			v[(*n)++] = st->unlocked[i];
	return v;
}

int64_t
kiln_fs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return ns_of(&ts);
}

/* Whether a and b are the same stat (their paths and digests aside). */
static int
same_fields(const struct kiln_statrec *a, const struct kiln_statrec *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
	    a->ctime_ns == b->ctime_ns;
}

/* Whether s records the stat sb. */
static int
same_stat(const struct kiln_statrec *s, const struct stat *sb)
{
	struct kiln_statrec now;

	fill_stat(&now, sb);
	return same_fields(s, &now);
}

/* The stat cache's digest for path if its stat is sb's: 1, else 0. */
static int
cached(struct kiln_state *st, const char *path, const struct stat *sb, struct kiln_digest *out)
{
	struct kiln_statrec *s = map_get(&st->files, path);

	if (s && same_stat(s, sb)) {
		*out = s->digest;
		return 1;
	}
	return 0;
}

/*
 * Remember a digest just read (the file was stat'ed as sb, its reading
 * started at `before`). A file changed in the tick it was read in could
 * change again without its mtime moving: trust such a stat only after the
 * tick has passed.
 */
static void
remember(struct kiln_state *st, const char *path, const struct stat *sb, const struct kiln_digest *d,
    int64_t before)
{
	struct kiln_statrec *s, now;
	struct buf payload = BUF_INIT;

	fill_stat(&now, sb);
	if (now.mtime_ns >= before || now.ctime_ns >= before)
		return;
	s = arena_alloc(&st->arena, sizeof(*s));
	*s = now;
	s->path = arena_strdup(&st->arena, path);
	s->digest = *d;
	map_put(&st->files, s->path, s);
	enc_stat(&payload, s);
	append(st, R_STAT, &payload);
	buf_release(&payload);
}

int
kiln_state_file_digest(struct kiln_state *st, const char *path, const struct stat *sb,
    struct kiln_digest *out)
{
	int64_t before;

	if (cached(st, path, sb, out))
		return 0;
	before = kiln_fs_now_ns();
	if (kiln_digest_file(path, out) < 0)
		return -1;
	remember(st, path, sb, out, before);
	return 0;
}

int
kiln_state_compact(struct kiln_state *st, int force)
{
	size_t n = live(st);

	if (st->readonly)
		return 0;
	/*
	 * Dead records cost every later load their reading and memory: a no-op
	 * after a full build re-records each target whose outputs were written
	 * in the tick it was recorded in (kiln_outputs_intact), which doubled
	 * the log for good under a 2n bound. A quarter dead is the bound.
	 */
	if ((force || st->rewrite || st->nrecords > n + n / 4 + 1024) && rewrite(st) < 0)
		return error("cannot write %s: %s; the next build checks again what this one did", st->path,
		    strerror(errno));
	return 0;
}

/*
 * Digest of a folder: of its sorted (relative path, executable bit, digest)
 * entries, so that one changed file costs one file's hashing.
 */
/*
 * A folder's digest is over a token stream in sorted order: per entry its
 * name, then "d" + the folder's entries + "/", or "x"/"f" + the file's
 * digest. The walk records the stream and the files; their digests come
 * in one batch (several threads), then the stream is replayed. An entry
 * readdir says is a plain file is stat'ed in a batch too, on several
 * threads, as git's index preload does.
 */
/*
 * The walk's token stream, hashed in order: a file is its name, its mark
 * ('f', 'x', or '?' until stat'ed) and its digest; a folder its name, 'd',
 * its entries and an unnamed '/'; anything else its name alone (mark 0).
 */
struct token {
	char *name;
	char mark;
	size_t file;		/* index into the walk's files */
};

#define NO_FILE ((size_t)-1)

/* A folder the walk read, and what its record will be made of. */
struct wdir {
	const char *path;
	struct stat sb;
	int64_t before;		/* when its names were read; 0: they are its record's */
	int stated;		/* sb is its stat (else it is not recorded) */
	char **v;		/* its names, sorted */
	size_t n;
	size_t *file;		/* per name: the walk's file, or NO_FILE */
	const struct kiln_dirrec *rec;
};

/* A file of the walk: path, stat, then digest; its record entry, how its digest came, its mode. */
struct wfile {
	struct kiln_statrec s;
	const unsigned char *prev;	/* its entry in its folder's record, or NULL */
	char how;		/* 'p' from prev, 'c' from the stat cache, 'h' read, 'r' read racily, 'e' unreadable */
	char exec;
	char stated;
	int err;		/* errno when unreadable */
};

struct walk {
	struct kiln_state *st;
	struct arena a;		/* the names and paths, freed with the walk */
	struct token *tok;
	size_t ntok, ctok;
	struct wfile *f;
	size_t nfiles, cfiles;
	struct wdir *dirs;
	size_t ndirs, cdirs;
};

static void
tok(struct walk *w, char *name, char mark, size_t file)
{
	if (w->ntok == w->ctok)
		w->tok = xreallocarray(w->tok, w->ctok = w->ctok ? 2 * w->ctok : 256, sizeof(*w->tok));
	w->tok[w->ntok++] = (struct token){name, mark, file};
}

/*
 * A folder's entry is its name, with readdir's word on its type (DT_REG,
 * DT_DIR, DT_UNKNOWN, …) + 1 in the byte before it: a pointer is what qsort
 * moves fastest (glibc's merge sort copies a word, not a 16-byte record).
 */
#define ENTRY_TYPE(name) ((unsigned char)(name)[-1] - 1)

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of d but . and .., sorted by name; *n their number. */
static char **
dir_entries(struct walk *w, DIR *d, size_t *n)
{
	struct dirent *e;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	while ((e = readdir(d))) {
		size_t len;
		char *p;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*n == cap)
			v = xreallocarray(v, cap = cap ? 2 * cap : 64, sizeof(*v));
		len = strlen(e->d_name);
		p = arena_alloc(&w->a, len + 2);
		p[0] = (char)(e->d_type + 1);	/* never NUL: the state stores it in a string */
		memcpy(p + 1, e->d_name, len + 1);
		v[(*n)++] = p + 1;
	}
	sort(v, *n, sizeof(*v), cmp_entry);
	return v;
}

/*
 * Read folder d's (at w->dirs[k].path) sorted names: the recorded ones
 * while the folder's stat is the recorded one, else read and sorted.
 */
static void
folder_names(struct walk *w, size_t k, DIR *d)
{
	struct wdir *f = &w->dirs[k];

	f->rec = map_get(&w->st->dirs, f->path);
	f->stated = fstat(dirfd(d), &f->sb) == 0;
	if (f->stated && f->rec && same_stat(&f->rec->st, &f->sb)) {
		f->n = f->rec->n;
		f->v = xreallocarray(NULL, f->n ? f->n : 1, sizeof(*f->v));
		memcpy(f->v, f->rec->names, f->n * sizeof(*f->v));
		f->before = 0;
		return;
	}
	f->before = kiln_fs_now_ns();
	f->v = dir_entries(w, d, &f->n);
}

/* The recorded entry of folder f's i-th name: by place while the names are the record's, else by name. */
static const unsigned char *
recorded(const struct wdir *f, size_t i)
{
	const struct kiln_dirrec *rec = f->rec;
	size_t lo = 0, hi;

	if (!rec || !rec->files)
		return NULL;
	if (!f->before)
		return rec->files[i];
	for (hi = rec->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->v[i], rec->names[mid]);

		if (c == 0)
			return rec->files[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The file `name` at path, stat'ed as sb or (sb NULL) to be stat'ed in walk_stat: its token and index. */
static size_t
walk_file(struct walk *w, char *name, const struct stat *sb, char *path, const unsigned char *prev)
{
	struct wfile *f;

	if (w->nfiles == w->cfiles)
		w->f = xreallocarray(w->f, w->cfiles = w->cfiles ? 2 * w->cfiles : 256, sizeof(*w->f));
	f = &w->f[w->nfiles];
	memset(f, 0, sizeof(*f));
	f->s.path = path;
	f->prev = prev;
	if (sb) {
		fill_stat(&f->s, sb);
		f->exec = (sb->st_mode & 0111) != 0;
		f->stated = 1;
	}
	tok(w, name, !sb ? '?' : f->exec ? 'x' : 'f', w->nfiles);
	return w->nfiles++;
}

/* dir/name in w's arena. */
static char *
walk_path(struct walk *w, const char *dir, const char *name)
{
	size_t n = strlen(dir), m = strlen(name);
	char *p;

	if (n == 0 || strcmp(dir, ".") == 0)
		return arena_strdup(&w->a, name);
	p = arena_alloc(&w->a, n + 1 + m + 1);
	memcpy(p, dir, n);
	p[n] = '/';
	memcpy(p + n + (dir[n - 1] == '/' ? 0 : 1), name, m + 1);
	return p;
}

/*
 * An entry readdir calls a plain file waits for walk_stat; the others are
 * stat'ed (following a link, as a step sees them) by name in their open
 * folder.
 */
static int
tree_walk(struct walk *w, const char *dir)
{
	DIR *d = opendir(dir);
	size_t n, i, k;
	int r = 0;

	if (!d)
		return -1;
	if (w->ndirs == w->cdirs)
		w->dirs = xreallocarray(w->dirs, w->cdirs = w->cdirs ? 2 * w->cdirs : 16, sizeof(*w->dirs));
	k = w->ndirs++;
	memset(&w->dirs[k], 0, sizeof(w->dirs[k]));
	w->dirs[k].path = dir;
	folder_names(w, k, d);
	n = w->dirs[k].n;
	w->dirs[k].file = xreallocarray(NULL, n ? n : 1, sizeof(size_t));
	for (i = 0; i < n; i++)
		w->dirs[k].file[i] = NO_FILE;
	/* w->dirs moves as the walk goes down: it is indexed afresh each time. */
	for (i = 0; i < n && r == 0; i++) {
		char *name = w->dirs[k].v[i];
		const unsigned char *prev = recorded(&w->dirs[k], i);
		struct stat sb;

		if (ENTRY_TYPE(name) == DT_REG) {
			w->dirs[k].file[i] = walk_file(w, name, NULL, walk_path(w, dir, name), prev);
		} else if (fstatat(dirfd(d), name, &sb, 0) < 0) {
			r = -1;
		} else if (S_ISDIR(sb.st_mode)) {
			tok(w, name, 'd', 0);
			r = tree_walk(w, walk_path(w, dir, name));
			tok(w, NULL, '/', 0);
		} else if (S_ISREG(sb.st_mode)) {
			w->dirs[k].file[i] = walk_file(w, name, &sb, walk_path(w, dir, name), prev);
		} else {
			tok(w, name, 0, 0);
		}
	}
	closedir(d);
	return r;
}

static void
stat_one(void *arg, size_t i)
{
	struct walk *w = arg;
	struct wfile *f = &w->f[i];
	struct stat sb;

	if (f->stated)
		return;
	if (stat(f->s.path, &sb) == 0 && S_ISREG(sb.st_mode)) {
		fill_stat(&f->s, &sb);
		f->exec = (sb.st_mode & 0111) != 0;
		f->stated = 1;
	}
}

/* Stat the files tree_walk left for later, on several threads; -1 if one is gone or no longer a file. */
static int
walk_stat(struct walk *w)
{
	size_t i;

	parallel_for(w->nfiles, stat_one, w);
	for (i = 0; i < w->nfiles; i++)
		if (!w->f[i].stated)
			return -1;
	for (i = 0; i < w->ntok; i++)
		if (w->tok[i].mark == '?')
			w->tok[i].mark = w->f[w->tok[i].file].exec ? 'x' : 'f';
	return 0;
}

/* Read a file the records did not know, noting how far to trust its stat (as remember does). */
static void
walk_hash(void *arg, size_t i)
{
	struct walk *w = arg;
	struct wfile *f = &w->f[i];
	int64_t before;

	if (f->how)
		return;
	before = kiln_fs_now_ns();
	if (kiln_digest_file(f->s.path, &f->s.digest) < 0) {
		f->how = 'e';
		f->err = errno ? errno : EIO;
		return;
	}
	/* A file changed in the tick it was read in could change again without its mtime moving. */
	f->how = f->s.mtime_ns < before && f->s.ctime_ns < before ? 'h' : 'r';
}

/*
 * Every walked file's digest: from its folder record while its stat is the
 * recorded one, else from the stat cache, else read (on several threads).
 * -1 with errno and *bad the file that cannot be read.
 */
static int
walk_digests(struct walk *w, size_t *bad)
{
	size_t i;

	for (i = 0; i < w->nfiles; i++) {
		struct wfile *f = &w->f[i];
		struct kiln_statrec e, *c;

		if (f->prev) {
			entry_get(f->prev, &e);
			if (same_fields(&e, &f->s)) {
				f->s.digest = e.digest;
				f->how = 'p';
				continue;
			}
		}
		if ((c = map_get(&w->st->files, f->s.path)) && same_fields(c, &f->s)) {
			f->s.digest = c->digest;
			f->how = 'c';
		}
	}
	parallel_for(w->nfiles, walk_hash, w);
	for (i = 0; i < w->nfiles; i++)
		if (w->f[i].how == 'e') {
			*bad = i;
			errno = w->f[i].err;
			return -1;
		}
	return 0;
}

/* Does folder f's record need writing afresh: its names read again, or a file's stat or kind changed? */
static int
dir_changed(const struct walk *w, const struct wdir *f)
{
	size_t i;

	if (f->before || !f->rec->files)
		return 1;
	for (i = 0; i < f->n; i++)
		if (f->file[i] == NO_FILE ? f->rec->files[i] != NULL : w->f[f->file[i]].how != 'p')
			return 1;
	return 0;
}

/* The record entry of s (stat and digest) at p. */
static void
entry_put(unsigned char *p, const struct kiln_statrec *s)
{
	put_le64(p, s->dev);
	put_le64(p + 8, s->ino);
	put_le64(p + 16, s->size);
	put_le64(p + 24, (uint64_t)s->mtime_ns);
	put_le64(p + 32, (uint64_t)s->ctime_ns);
	memcpy(p + 40, s->digest.b, 16);
}

/* Append folder f's record (stat dst) and put it in the state's map. */
static void
record_dir(struct walk *w, struct wdir *f, const struct kiln_statrec *dst, struct buf *payload)
{
	const unsigned char **files = xcalloc(f->n ? f->n : 1, sizeof(*files));
	unsigned char *entries = xmalloc((f->n ? f->n : 1) * ENTRY_BYTES);
	struct kiln_dirrec *rec;
	struct wire r;
	char *copy;
	size_t i;

	for (i = 0; i < f->n; i++) {
		size_t j = f->file[i];

		/* A file read racily gets no entry: the next walk reads it again. */
		if (j == NO_FILE || w->f[j].how == 'r')
			continue;
		entry_put(entries + i * ENTRY_BYTES, &w->f[j].s);
		files[i] = entries + i * ENTRY_BYTES;
	}
	buf_reset(payload);
	enc_dir(payload, dst, f->v, files, f->n);
	free(files);
	free(entries);
	copy = arena_alloc(&w->st->arena, payload->len);
	memcpy(copy, payload->s, payload->len);
	r = (struct wire){(unsigned char *)copy, (unsigned char *)copy + payload->len, 0};
	if ((rec = dec_dir(&r, &w->st->arena, 1))) {
		map_put(&w->st->dirs, rec->st.path, rec);
		append(w->st, R_FOLDER, payload);
	}
}

/*
 * Record each walked folder whose record changed. Not one whose names were
 * read in the tick it changed in: it could change again without its mtime
 * moving (as remember does for a file).
 */
static void
record_dirs(struct walk *w)
{
	struct buf payload = BUF_INIT;
	size_t k;

	for (k = 0; k < w->ndirs; k++) {
		struct wdir *f = &w->dirs[k];
		struct kiln_statrec dst;

		if (!f->stated || (f->rec && !dir_changed(w, f)))
			continue;
		fill_stat(&dst, &f->sb);
		if (f->before && (dst.mtime_ns >= f->before || dst.ctime_ns >= f->before))
			continue;
		dst.path = f->path;
		record_dir(w, f, &dst, &payload);
	}
	buf_release(&payload);
}

static void
walk_release(struct walk *w)
{
	size_t k;

	for (k = 0; k < w->ndirs; k++) {
		free(w->dirs[k].v);
		free(w->dirs[k].file);
	}
	free(w->dirs);
	arena_release(&w->a);
	free(w->tok);
	free(w->f);
}

/* "relpath TAB digest" of a file beneath dir (whose walk named it path_join(dir, …)). */
static void
list_file(struct buf *list, const char *dir, const char *path, const struct kiln_digest *d)
{
	char hex[KILN_DIGEST_HEX];
	size_t n = strlen(dir);

	if (n && strcmp(dir, ".") != 0)
		path += n + (dir[n - 1] != '/');
	buf_printf(list, "%s\t%s\n", path, kiln_digest_hex(d, hex));
}

int
kiln_state_tree_files(struct kiln_state *st, const char *dir, struct kiln_digest *out, kiln_tree_file_fn *fn,
    void *arg)
{
	struct walk w = {.st = st};
	struct kiln_hasher *h;
	unsigned char chunk[1 << 16];
	size_t i, bad, n = 0;
	int r = tree_walk(&w, dir);

	if (r == 0)
		r = walk_stat(&w);
	if (r == 0)
		r = walk_digests(&w, &bad);
	if (r == 0)
		record_dirs(&w);
	h = kiln_hasher_new();
	for (i = 0; r == 0 && i < w.ntok; i++) {
		struct token *t = &w.tok[i];

		if (sizeof(chunk) - n < 8 + 4096 + 1 + 16) {
			kiln_hasher_add(h, chunk, n);
			n = 0;
		}
		/* Bytes as kiln_hasher_adds, _add and _add_digest would give them, a token at a time. */
		if (t->name) {
			size_t len = strlen(t->name);

			if (len > 4096) {
				kiln_hasher_add(h, chunk, n);
				n = 0;
				kiln_hasher_adds(h, t->name);
			} else {
				put_le64(chunk + n, len);
				memcpy(chunk + n + 8, t->name, len);
				n += 8 + len;
			}
		}
		if (t->mark)
			chunk[n++] = (unsigned char)t->mark;
		if (t->mark == 'f' || t->mark == 'x') {
			struct wfile *f = &w.f[t->file];

			memcpy(chunk + n, f->s.digest.b, 16);
			n += 16;
			if (fn)
				fn(arg, f->s.path, f->s.size, f->exec, &f->s.digest);
		}
	}
	kiln_hasher_add(h, chunk, n);
	kiln_hasher_digest(h, out);
	kiln_hasher_free(h);
	walk_release(&w);
	return r;
}

struct listing {
	struct buf *list;
	const char *dir;
};

static void
list_one(void *arg, const char *path, uint64_t size, int exec, const struct kiln_digest *d)
{
	struct listing *l = arg;

	(void)size;
	(void)exec;
	list_file(l->list, l->dir, path, d);
}

int
kiln_state_tree_digest(struct kiln_state *st, const char *dir, struct kiln_digest *out, struct buf *list)
{
	struct listing l = {list, dir};

	return kiln_state_tree_files(st, dir, out, list ? list_one : NULL, &l);
}
