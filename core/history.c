/*
 * history: the run history's log; see history.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "history.h"
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

static void
add_run(const unsigned char *p, size_t n, void *ud)
{
	struct kiln_history *h = ud;
	json_t *j = json_loadb((const char *)p, n, 0, NULL);

	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	h->runs = xreallocarray(h->runs, h->n + 1, sizeof(*h->runs));
	h->runs[h->n++] = j;
}

int
kiln_history_load(struct kiln_history *h, const char *path)
{
	size_t len;
	char *data;

	memset(h, 0, sizeof(*h));
	data = slurp(path, &len);
	if (!data)
		return errno == ENOENT ? 0 : error("cannot read %s:", path);
	if (!is_history(data, len)) {
		free(data);
		return error("%s is not a kiln run history (of this version); move it away to start a new one", path);
	}
	h->good = walk(data, len, add_run, h);
	h->dropped = len - h->good;
	free(data);
	return 0;
}

void
kiln_history_release(struct kiln_history *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		json_decref(h->runs[i]);
	free(h->runs);
	memset(h, 0, sizeof(*h));
}

json_t *
kiln_history_find(const struct kiln_history *h, long long id)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (json_integer_value(json_object_get(h->runs[i], "run")) == id)
			return h->runs[i];
	return NULL;
}

/* The payload of the last sound record. */
struct last {
	const unsigned char *p;
	size_t n;
};

static void
keep_last(const unsigned char *p, size_t n, void *ud)
{
	struct last *l = ud;

	l->p = p;
	l->n = n;
}

static void
header(struct buf *b)
{
	buf_add(b, MAGIC, 8);
	wire_u32(b, VERSION);
	wire_u32(b, 0);
}

int
kiln_history_append(const char *path, json_t *run)
{
	struct buf out = BUF_INIT;
	struct last last = {NULL, 0};
	long long id = 1;
	size_t len = 0, good = 0;
	char *data = slurp(path, &len), *text;
	int fd, r;

	if (data && is_history(data, len)) {
		good = walk(data, len, keep_last, &last);
		if (last.p) {
			json_t *j = json_loadb((const char *)last.p, last.n, 0, NULL);

			id = json_integer_value(json_object_get(j, "run")) + 1;
			json_decref(j);
		}
	} else if (data && len) {
		free(data);
		return error("%s is not a kiln run history (of this version); move it away to start a new one", path);
	}
	free(data);
	json_object_set_new(run, "run", json_integer(id));
	text = json_dumps(run, JSON_COMPACT);
	if (!good)
		header(&out);
	wire_frame(&out, R_RUN, text, strlen(text));
	free(text);
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
	r = fd < 0 || write_all(fd, out.s, out.len) < 0 || fsync(fd) < 0 ? -1 : 0;
	if (fd >= 0 && close(fd) < 0)
		r = -1;
	if (r == 0)
		r = kiln_fs_renameat(AT_FDCWD, tmp, AT_FDCWD, path);
	free(tmp);
	buf_release(&out);
	if (r < 0)
		return error("cannot rewrite %s:", path);
	return (long long)c.skip;
}
