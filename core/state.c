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

enum { R_TARGET = 'T', R_FORGET = 'X', R_STAT = 'F', R_LOCK = 'L', R_DIR = 'D' };

/*
 * A folder as a tree walk last read it: its own stat (digest unused) and
 * its entries' names, sorted, each with readdir's type + 1 in the byte
 * before it (see dir_entries). Adding, removing or renaming an entry
 * changes the folder's mtime, so an unchanged stat means the same names.
 */
struct kiln_dirrec {
	struct kiln_statrec st;
	size_t n;
	char **names;
};

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
	rec->lazy = r->p;
	rec->lazy_end = r->end;
	return r->bad ? NULL : rec;
}

void
kiln_state_comps(struct kiln_state *st, struct kiln_record *rec)
{
	struct wire w = {rec->lazy, rec->lazy_end, 0};
	size_t i, n;

	if (!rec->lazy)
		return;
	rec->lazy = NULL;
	n = wire_get_count(&w, 22);
	rec->comps = arena_alloc(&st->arena, n * sizeof(*rec->comps));
	for (i = 0; i < n && !w.bad; i++) {
		const unsigned char *k = wire_take(&w, 1);

		rec->comps[i].kind = k ? *k : 0;
		rec->comps[i].name = wire_get_ref(&w);
		wire_get_digest(&w, &rec->comps[i].digest);
	}
	/* The whole record was checksummed at load; a short list here would be a bug of ours. */
	rec->ncomps = w.bad ? 0 : n;
	if (!rec->params)
		rec->params = !w.bad && w.p < w.end ? wire_get_ref(&w) : "";
}

const char *
kiln_state_params(struct kiln_state *st, struct kiln_record *rec)
{
	struct wire w = {rec->lazy, rec->lazy_end, 0};
	size_t i, n;

	(void)st;
	if (rec->params)
		return rec->params;
	if (!rec->lazy)
		return rec->params = "";
	/* Step over the components without keeping them: the lock needs only this. */
	n = wire_get_count(&w, 22);
	for (i = 0; i < n && !w.bad; i++) {
		wire_take(&w, 1);
		wire_get_ref(&w);
		wire_take(&w, sizeof(struct kiln_digest));
	}
	return rec->params = !w.bad && w.p < w.end ? wire_get_ref(&w) : "";
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
enc_dir(struct buf *b, const struct kiln_statrec *s, char *const *names, size_t n)
{
	size_t i;

	enc_statfields(b, s);
	wire_u32(b, (uint32_t)n);
	for (i = 0; i < n; i++)
		wire_str(b, names[i] - 1);
}

/* The names point into the record (type byte first, then the name). */
static struct kiln_dirrec *
dec_dir(struct wire *r, struct arena *a)
{
	struct kiln_dirrec *d = arena_alloc(a, sizeof(*d));
	size_t i;

	dec_statfields(r, &d->st);
	d->n = wire_get_count(r, 6);
	d->names = arena_alloc(a, (d->n ? d->n : 1) * sizeof(*d->names));
	for (i = 0; i < d->n && !r->bad; i++) {
		const char *s = wire_get_ref(r);

		if (!s[0] || !s[1])
			r->bad = 1;
		d->names[i] = (char *)s + 1;
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

static int
apply(struct kiln_state *st, int type, struct wire *r)
{
	struct kiln_record *rec;
	struct kiln_statrec *s;
	struct kiln_dirrec *d;

	switch (type) {
	case R_TARGET:
		if (!(rec = dec_target(r, &st->arena)))
			return -1;
		map_put(&st->targets, rec->name, rec);
		lock_stale(st);
		return 0;
	case R_FORGET:
		map_put(&st->targets, wire_get_ref(r), NULL);
		lock_stale(st);
		return r->bad ? -1 : 0;
	case R_STAT:
		if (!(s = dec_stat(r, &st->arena)))
			return -1;
		map_put(&st->files, s->path, s);
		return 0;
	case R_DIR:
		if (!(d = dec_dir(r, &st->arena)))
			return -1;
		map_put(&st->dirs, d->st.path, d);
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

		if (!wire_unframe(&r, MAX_RECORD, &type, &pr) || apply(st, type, &pr) < 0)
			break;
		good = r.p - (unsigned char *)data;
		count++;
	}
	if (good < len) {
		warn("%s is damaged after %d records; the rest will be checked again", path, count);
		st->rewrite = 1;
	}
	st->nrecords = count;
	st->data = data;	/* records point into it */
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
	free(st->data);
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
		enc_dir(&payload, &d->st, d->names, d->n);
		wire_frame(&out, R_DIR, payload.s, payload.len);
	}
	if (st->lock.path) {
		buf_reset(&payload);
		enc_stat(&payload, &st->lock);
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

/* Whether s records the stat sb. */
static int
same_stat(const struct kiln_statrec *s, const struct stat *sb)
{
	struct kiln_statrec now;

	fill_stat(&now, sb);
	return s->dev == now.dev && s->ino == now.ino && s->size == now.size && s->mtime_ns == now.mtime_ns &&
	    s->ctime_ns == now.ctime_ns;
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

/* The files the stat cache does not know, hashed on several threads. */
struct batch {
	const char *const *paths;
	struct kiln_digest *out;
	size_t *miss;		/* indexes into paths */
	int64_t *before;
	int *err;		/* errno of each miss, 0 when read */
};

static void
hash_one(void *arg, size_t k)
{
	struct batch *b = arg;
	size_t i = b->miss[k];

	b->before[k] = kiln_fs_now_ns();
	b->err[k] = kiln_digest_file(b->paths[i], &b->out[i]) < 0 ? (errno ? errno : EIO) : 0;
}

int
kiln_state_digest_files(struct kiln_state *st, const char *const *paths, const struct stat *sb, size_t n,
    struct kiln_digest *out, size_t *bad)
{
	struct batch b = {paths, out, xreallocarray(NULL, n + 1, sizeof(size_t)), NULL, NULL};
	size_t i, k, nmiss = 0;
	int r = 0;

	for (i = 0; i < n; i++)
		if (!cached(st, paths[i], &sb[i], &out[i]))
			b.miss[nmiss++] = i;
	b.before = xreallocarray(NULL, nmiss + 1, sizeof(*b.before));
	b.err = xreallocarray(NULL, nmiss + 1, sizeof(*b.err));
	parallel_for(nmiss, hash_one, &b);
	for (k = 0; k < nmiss; k++) {
		i = b.miss[k];
		if (b.err[k] && r == 0) {
			*bad = i;
			errno = b.err[k];
			r = -1;
		} else if (!b.err[k]) {
			remember(st, paths[i], &sb[i], &out[i], b.before[k]);
		}
	}
	free(b.miss);
	free(b.before);
	free(b.err);
	return r;
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
struct token {
	char *name;		/* an entry's name, or NULL */
	char mark;		/* 'd', '/', 'x' or 'f' (with file); '?' a file not yet stat'ed */
	size_t file;		/* index into the walk's files */
};

struct walk {
	struct kiln_state *st;
	struct arena a;		/* the names and paths, freed with the walk */
	struct token *tok;
	size_t ntok, ctok;
	char **paths;
	struct stat *sb;
	size_t nfiles, cfiles;
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
 * Record folder dir's names (sorted), read after `before`, unless the
 * folder changed in that tick: it could change again without its mtime
 * moving (as remember does for a file).
 */
static void
remember_dir(struct kiln_state *st, const char *dir, const struct stat *sb, char *const *v, size_t n,
    int64_t before)
{
	struct kiln_statrec now;
	struct buf payload = BUF_INIT;
	struct kiln_dirrec *d;
	struct wire r;
	char *copy;

	fill_stat(&now, sb);
	if (now.mtime_ns >= before || now.ctime_ns >= before)
		return;
	now.path = dir;
	enc_dir(&payload, &now, v, n);
	copy = arena_alloc(&st->arena, payload.len);
	memcpy(copy, payload.s, payload.len);
	r = (struct wire){(unsigned char *)copy, (unsigned char *)copy + payload.len, 0};
	if ((d = dec_dir(&r, &st->arena))) {
		map_put(&st->dirs, d->st.path, d);
		append(st, R_DIR, &payload);
	}
	buf_release(&payload);
}

/*
 * The sorted names in folder d (at path dir): the recorded ones while the
 * folder's stat is the recorded one, else read and sorted (and recorded).
 */
static char **
folder_names(struct walk *w, const char *dir, DIR *d, size_t *n)
{
	struct kiln_dirrec *rec = map_get(&w->st->dirs, dir);
	struct stat sb;
	int64_t before;
	char **v;

	if (fstat(dirfd(d), &sb) < 0)
		return dir_entries(w, d, n);
	if (rec && same_stat(&rec->st, &sb)) {
		*n = rec->n;
		v = xreallocarray(NULL, rec->n ? rec->n : 1, sizeof(*v));
		memcpy(v, rec->names, rec->n * sizeof(*v));
		return v;
	}
	before = kiln_fs_now_ns();
	v = dir_entries(w, d, n);
	remember_dir(w->st, dir, &sb, v, *n, before);
	return v;
}

/* A file at path, stat'ed as sb, or (sb NULL) to be stat'ed in walk_stat. */
static void
walk_file(struct walk *w, const struct stat *sb, char *path)
{
	if (w->nfiles == w->cfiles) {
		w->cfiles = w->cfiles ? 2 * w->cfiles : 256;
		w->paths = xreallocarray(w->paths, w->cfiles, sizeof(*w->paths));
		w->sb = xreallocarray(w->sb, w->cfiles, sizeof(*w->sb));
	}
	tok(w, NULL, !sb ? '?' : sb->st_mode & 0111 ? 'x' : 'f', w->nfiles);
	if (sb)
		w->sb[w->nfiles] = *sb;
	else
		w->sb[w->nfiles].st_mode = 0;
	w->paths[w->nfiles++] = path;
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
	char **v;
	size_t n = 0, i;
	int r = 0;

	if (!d)
		return -1;
	v = folder_names(w, dir, d, &n);
	for (i = 0; i < n && r == 0; i++) {
		struct stat sb;

		if (ENTRY_TYPE(v[i]) == DT_REG) {
			tok(w, v[i], 0, 0);
			walk_file(w, NULL, walk_path(w, dir, v[i]));
		} else if (fstatat(dirfd(d), v[i], &sb, 0) < 0) {
			r = -1;
		} else if (S_ISDIR(sb.st_mode)) {
			tok(w, v[i], 0, 0);
			tok(w, NULL, 'd', 0);
			r = tree_walk(w, walk_path(w, dir, v[i]));
			tok(w, NULL, '/', 0);
		} else {
			tok(w, v[i], 0, 0);
			if (S_ISREG(sb.st_mode))
				walk_file(w, &sb, walk_path(w, dir, v[i]));
		}
	}
	closedir(d);
	free(v);
	return r;
}

static void
stat_one(void *arg, size_t i)
{
	struct walk *w = arg;

	if (!w->sb[i].st_mode && (stat(w->paths[i], &w->sb[i]) < 0 || !S_ISREG(w->sb[i].st_mode)))
		w->sb[i].st_mode = 0;
}

/* Stat the files tree_walk left for later, on several threads; -1 if one is gone or no longer a file. */
static int
walk_stat(struct walk *w)
{
	size_t i;

	parallel_for(w->nfiles, stat_one, w);
	for (i = 0; i < w->nfiles; i++)
		if (!w->sb[i].st_mode)
			return -1;
	for (i = 0; i < w->ntok; i++)
		if (w->tok[i].mark == '?')
			w->tok[i].mark = w->sb[w->tok[i].file].st_mode & 0111 ? 'x' : 'f';
	return 0;
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
kiln_state_tree_digest(struct kiln_state *st, const char *dir, struct kiln_digest *out, struct buf *list)
{
	struct walk w = {.st = st};
	struct kiln_digest *d;
	struct kiln_hasher *h;
	size_t i, bad;
	int r = tree_walk(&w, dir);

	if (r == 0)
		r = walk_stat(&w);
	d = xreallocarray(NULL, w.nfiles + 1, sizeof(*d));
	if (r == 0)
		r = kiln_state_digest_files(st, (const char *const *)w.paths, w.sb, w.nfiles, d, &bad);
	h = kiln_hasher_new();
	for (i = 0; r == 0 && i < w.ntok; i++) {
		struct token *t = &w.tok[i];

		if (t->name)
			kiln_hasher_adds(h, t->name);
		else if (t->mark == 'd' || t->mark == '/')
			kiln_hasher_add(h, &t->mark, 1);
		else {
			kiln_hasher_add(h, &t->mark, 1);
			kiln_hasher_add_digest(h, &d[t->file]);
			if (list)
				list_file(list, dir, w.paths[t->file], &d[t->file]);
		}
	}
	kiln_hasher_digest(h, out);
	kiln_hasher_free(h);
	arena_release(&w.a);
	free(w.tok);
	free(w.paths);
	free(w.sb);
	free(d);
	return r;
}
