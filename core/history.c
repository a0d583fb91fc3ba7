/*
 * history: the run history's log; see history.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "fs.h"
#include "history.h"
#include "lock.h"
#include "util.h"
#include "wire.h"

#define MAGIC "KILNHI\0\0"
#define VERSION 1
#define HEADER 16
#define MAX_RECORD (64u << 20)
#define R_RUN 'R'

/* Read the whole file at path (no link followed); NULL with errno (ENOENT: none). */
static char *
slurp(const char *path, size_t *len)
{
	int fd = kiln_fs_openat(AT_FDCWD, path, O_RDONLY, 0);
	struct buf b = BUF_INIT;
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0)
		buf_grow(&b, (size_t)st.st_size + 1);
	for (;;) {
		buf_grow(&b, 65536);
		n = read(fd, b.s + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b.len += n;
		b.s[b.len] = '\0';
	}
	close(fd);
	if (n < 0) {
		buf_release(&b);
		return NULL;
	}
	*len = b.len;
	return b.s ? buf_detach(&b) : xstrdup("");
}

/*
 * Walk the records of data (len bytes, header checked by the caller),
 * calling fn(payload, n, ud) for each sound one; the offset after the last.
 */
static size_t
walk(const char *data, size_t len, void (*fn)(const unsigned char *, size_t, void *), void *ud)
{
	size_t good = HEADER;

	while (good < len) {
		struct wire w = {(const unsigned char *)data + good, (const unsigned char *)data + len, 0}, p;
		int type;

		if (!wire_unframe(&w, MAX_RECORD, &type, &p))
			break;
		if (type == R_RUN && fn)
			fn(p.p, p.end - p.p, ud);
		good = (const char *)w.p - data;
	}
	return good;
}

static int
is_history(const char *data, size_t len)
{
	return len >= HEADER && memcmp(data, MAGIC, 8) == 0 &&
	    wire_get_u32(&(struct wire){(const unsigned char *)data + 8, (const unsigned char *)data + 12, 0}) == VERSION;
}

/* Split the param lines of t (in place, in the loaded file) into its params. */
static void
split_params(struct kiln_run_target *t, char *lines, struct arena *a)
{
	size_t n = 0, i = 0;
	char *p, *nl, *sp;

	for (p = lines; (nl = strchr(p, '\n')); p = nl + 1)
		n++;
	t->params = arena_alloc(a, n * sizeof(*t->params));
	for (p = lines; i < n && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		sp = strchr(p, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		t->params[i].name = kiln_lock_unescape(p);
		t->params[i++].json = sp + 1;
	}
	t->nparams = i;
	t->param_lines = NULL;
}

static void
dec_target(struct wire *w, struct kiln_run_target *t, struct arena *a)
{
	size_t i;

	t->name = wire_get_ref(w);
	t->status = wire_get_ref(w);
	t->key = wire_get_ref(w);
	t->params_json = wire_get_ref(w);
	split_params(t, (char *)wire_get_ref(w), a);
	t->nmetrics = wire_get_count(w, 13);
	t->metrics = arena_alloc(a, t->nmetrics * sizeof(*t->metrics));
	for (i = 0; i < t->nmetrics; i++) {
		t->metrics[i].name = wire_get_ref(w);
		t->metrics[i].value = wire_get_f64(w);
	}
}

/* Decode one record into h->runs; a record that does not decode is left out. */
static void
add_run(const unsigned char *p, size_t n, void *ud)
{
	struct kiln_history *h = ud;
	struct wire w = {p, p + n, 0};
	struct kiln_run r = {0};
	size_t i;

	r.id = (long long)wire_get_u64(&w);
	r.time = wire_get_f64(&w);
	r.start = wire_get_ref(&w);
	r.commit = wire_get_ref(&w);
	r.dirty = wire_get_u32(&w);
	r.noverrides = wire_get_count(&w, 5);
	r.overrides = arena_alloc(&h->arena, r.noverrides * sizeof(*r.overrides));
	for (i = 0; i < r.noverrides; i++)
		r.overrides[i] = wire_get_ref(&w);
	r.ntargets = wire_get_count(&w, 24);
	r.targets = arena_alloc(&h->arena, r.ntargets * sizeof(*r.targets));
	for (i = 0; i < r.ntargets && !w.bad; i++)
		dec_target(&w, &r.targets[i], &h->arena);
	if (w.bad)
		return;
	if (!(h->n & (h->n + 1)))
		h->runs = xreallocarray(h->runs, 2 * h->n + 1, sizeof(*h->runs));
	h->runs[h->n++] = r;
}

int
kiln_history_load(struct kiln_history *h, const char *path)
{
	size_t len;

	memset(h, 0, sizeof(*h));
	h->data = slurp(path, &len);
	if (!h->data)
		return errno == ENOENT ? 0 : error("cannot read %s:", path);
	if (!is_history(h->data, len))
		return error("%s is not a kiln run history (of this version); move it away to start a new one", path);
	h->good = walk(h->data, len, add_run, h);
	h->dropped = len - h->good;
	return 0;
}

void
kiln_history_release(struct kiln_history *h)
{
	arena_release(&h->arena);
	free(h->runs);
	free(h->data);
	memset(h, 0, sizeof(*h));
}

const struct kiln_run *
kiln_history_find(const struct kiln_history *h, long long id)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->runs[i].id == id)
			return &h->runs[i];
	return NULL;
}

static void
enc_run(struct buf *b, const struct kiln_run *r)
{
	size_t i, k;

	wire_u64(b, (uint64_t)r->id);
	wire_f64(b, r->time);
	wire_str(b, r->start);
	wire_str(b, r->commit ? r->commit : "");
	wire_u32(b, r->dirty);
	wire_u32(b, r->noverrides);
	for (i = 0; i < r->noverrides; i++)
		wire_str(b, r->overrides[i]);
	wire_u32(b, r->ntargets);
	for (i = 0; i < r->ntargets; i++) {
		const struct kiln_run_target *t = &r->targets[i];

		wire_str(b, t->name);
		wire_str(b, t->status);
		wire_str(b, t->key);
		wire_str(b, t->params_json);
		wire_str(b, t->param_lines ? t->param_lines : "");
		wire_u32(b, t->nmetrics);
		for (k = 0; k < t->nmetrics; k++) {
			wire_str(b, t->metrics[k].name);
			wire_f64(b, t->metrics[k].value);
		}
	}
}

/* The id of the last sound record. */
static void
last_id(const unsigned char *p, size_t n, void *ud)
{
	struct wire w = {p, p + n, 0};
	long long id = (long long)wire_get_u64(&w);

	if (!w.bad)
		*(long long *)ud = id;
}

static void
header(struct buf *b)
{
	buf_add(b, MAGIC, 8);
	wire_u32(b, VERSION);
	wire_u32(b, 0);
}

int
kiln_history_append(const char *path, struct kiln_run *run)
{
	struct buf out = BUF_INIT, payload = BUF_INIT;
	long long last = 0;
	size_t len = 0, good = 0;
	char *data = slurp(path, &len);
	int fd, r;

	if (data && is_history(data, len)) {
		good = walk(data, len, last_id, &last);
	} else if (data && len) {
		free(data);
		return error("%s is not a kiln run history (of this version); move it away to start a new one", path);
	}
	free(data);
	run->id = last + 1;
	enc_run(&payload, run);
	if (!good)
		header(&out);
	wire_frame(&out, R_RUN, payload.s, payload.len);
	buf_release(&payload);
	fd = kiln_fs_openat(AT_FDCWD, path, O_WRONLY | O_CREAT, 0644);
	/* A torn record of a killed build is cut off before this one is added. */
	r = fd < 0 || ftruncate(fd, good) < 0 || lseek(fd, good, SEEK_SET) < 0 ||
	    write_all(fd, out.s, out.len) < 0 ? -1 : 0;
	if (fd >= 0 && close(fd) < 0)
		r = -1;
	buf_release(&out);
	return r < 0 ? error("cannot append to %s:", path) : 0;
}

/* Copy each record after the first `skip` into out. */
struct copy {
	struct buf *out;
	size_t skip, seen;
};

static void
copy_run(const unsigned char *p, size_t n, void *ud)
{
	struct copy *c = ud;

	if (c->seen++ >= c->skip && c->out)
		wire_frame(c->out, R_RUN, p, n);
}

long long
kiln_history_keep(const char *path, size_t keep)
{
	struct buf out = BUF_INIT;
	struct copy c = {NULL, 0, 0};
	size_t len;
	char *data = slurp(path, &len), *tmp;
	int fd, r;

	if (!data)
		return errno == ENOENT ? 0 : error("cannot read %s:", path);
	if (!is_history(data, len)) {
		free(data);
		return error("%s is not a kiln run history (of this version)", path);
	}
	walk(data, len, copy_run, &c);
	if (c.seen <= keep) {
		free(data);
		return 0;
	}
	c.out = &out;
	c.skip = c.seen - keep;
	c.seen = 0;
	header(&out);
	walk(data, len, copy_run, &c);
	free(data);
	/* A new file renamed over the old: a reader sees all of one or the other. */
	tmp = xasprintf("%s.tmp", path);
	fd = kiln_fs_create(AT_FDCWD, tmp, 0644);
	r = fd < 0 || write_all(fd, out.s, out.len) < 0 || fault_fsync(fd) < 0 ? -1 : 0;
	if (fd >= 0 && close(fd) < 0)
		r = -1;
	if (r == 0)
		r = kiln_fs_renameat(AT_FDCWD, tmp, AT_FDCWD, path);
	if (r < 0) {
		int saved = errno;

		kiln_fs_removeat(AT_FDCWD, tmp);
		errno = saved;
	}
	free(tmp);
	buf_release(&out);
	if (r < 0)
		return error("cannot rewrite %s:", path);
	return (long long)c.skip;
}
