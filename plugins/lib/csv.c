/*
 * CSV tables through libcsv: a header row, then data rows with the same
 * number of fields. Every cell is checked as it is read (UTF-8, no NUL),
 * and the header's names go into a hash table, so reading is linear in
 * the file's size whatever its shape (200,000 columns included). One
 * reader serves both the whole-table read and the row-by-row stream.
 */
#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "util.h"

/* Parser state passed through libcsv's callbacks. */
struct reader {
	const char *name;
	char *err;
	int failed;
	size_t nfield;		/* fields seen in the current row */
	char *bytes;		/* the current row's fields, each NUL-terminated */
	size_t len, cap;
	size_t *offs;		/* where each field starts in bytes */
	char **row;		/* the fields, once the row is complete */
	size_t rowcap;
	size_t ncols;		/* the header's fields; 0 before it */
	struct kp_csv head;	/* the header's names and index, for messages and the duplicate check */
	size_t nrows;		/* data rows so far */
	kp_csv_row_fn *fn;
	void *arg;
};

/* Where the current field is, for a message: "header, column 3" or "row 2, column 3 ('x')". */
static void
where(const struct reader *r, char *buf, size_t size)
{
	if (!r->head.header)
		snprintf(buf, size, "header, column %zu", r->nfield + 1);
	else if (r->nfield < r->ncols)
		snprintf(buf, size, "row %zu, column %zu ('%.64s')", r->nrows + 1, r->nfield + 1,
			r->head.header[r->nfield]);
	else
		snprintf(buf, size, "row %zu, column %zu", r->nrows + 1, r->nfield + 1);
}

/* A cell must be text: no NUL (C strings would cut it short) and UTF-8 (JSON reports carry it). */
static int
check_cell(struct reader *r, const char *s, size_t len)
{
	const char *nul = len ? memchr(s, '\0', len) : NULL;
	char at[160];
	size_t bad = 0;

	if (!nul && (bad = kp_utf8_check(s, len)) == len)
		return 0;
	where(r, at, sizeof(at));
	if (nul)
		kp_errf(r->err, "%s: %s: a NUL byte at offset %zu of the cell", r->name, at,
			(size_t)(nul - s));
	else
		kp_errf(r->err, "%s: %s: not valid UTF-8 (byte 0x%02x at offset %zu of the cell)",
			r->name, at, (unsigned char)s[bad], bad);
	r->failed = 1;
	return -1;
}

/* A field: appended to the row's bytes, so that no row costs an allocation once the buffers fit. */
static void
field(void *s, size_t len, void *data)
{
	struct reader *r = data;

	if (r->failed || check_cell(r, s, len) < 0)
		return;
	if (r->len + len + 1 > r->cap) {
		while (r->len + len + 1 > r->cap)
			r->cap = r->cap ? 2 * r->cap : 256;
		r->bytes = kp_xrealloc(r->bytes, r->cap, 1);
	}
	if (len)	/* libcsv may pass NULL for an empty field */
		memcpy(r->bytes + r->len, s, len);
	r->bytes[r->len + len] = 0;
	if (r->nfield == r->rowcap) {
		r->rowcap = r->rowcap ? 2 * r->rowcap : 16;
		r->offs = kp_xrealloc(r->offs, r->rowcap, sizeof(*r->offs));
		r->row = kp_xrealloc(r->row, r->rowcap, sizeof(*r->row));
	}
	r->offs[r->nfield++] = r->len;
	r->len += len + 1;
}

static void
drop_row(struct reader *r)
{
	r->nfield = 0;
	r->len = 0;
}

/* FNV-1a: the header's hash table needs no more. */
static size_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

/* The slot of name in t's table: its column's, or the empty one where it would go. */
static size_t
slot(const struct kp_csv *t, const char *name)
{
	size_t mask = t->nindex - 1, i = hash(name) & mask;

	while (t->index[i] != SIZE_MAX && strcmp(t->header[t->index[i]], name) != 0)
		i = (i + 1) & mask;
	return i;
}

/* t's header (n names, copied) and its index; -1 with the message when a name is there twice. */
static int
set_header(struct kp_csv *t, char **names, size_t n, const char *name, char *err)
{
	size_t i, k;

	t->ncols = n;
	t->header = kp_xmallocarray(n ? n : 1, sizeof(char *));
	for (i = 0; i < n; i++)
		t->header[i] = kp_xstrdup(names[i]);
	/* At most half full: a power of two at least twice the columns. */
	for (t->nindex = 16; t->nindex < 2 * n; t->nindex *= 2)
		;
	t->index = kp_xmallocarray(t->nindex, sizeof(*t->index));
	memset(t->index, 0xff, t->nindex * sizeof(*t->index));
	for (i = 0; i < n; i++) {
		k = slot(t, t->header[i]);
		if (t->index[k] != SIZE_MAX)
			return kp_errf(err, "%s: header: column '%s' appears twice", name, t->header[i]);
		t->index[k] = i;
	}
	return 0;
}

/* A row is complete: checked, then handed to fn. */
static void
row(int c, void *data)
{
	struct reader *r = data;
	size_t i;

	(void)c;
	if (r->failed) {
		drop_row(r);
		return;
	}
	for (i = 0; i < r->nfield; i++)
		r->row[i] = r->bytes + r->offs[i];
	if (!r->head.header) {
		if (set_header(&r->head, r->row, r->nfield, r->name, r->err) < 0)
			r->failed = 1;
		r->ncols = r->nfield;
	} else if (r->nfield != r->ncols) {
		kp_errf(r->err, "%s: row %zu has %zu field%s, the header has %zu",
			r->name, r->nrows + 1, r->nfield, r->nfield == 1 ? "" : "s",
			r->ncols);
		r->failed = 1;
	} else {
		r->nrows++;
	}
	if (!r->failed && r->fn(r->arg, r->nrows, r->row, r->nfield, r->err) < 0)
		r->failed = 1;
	drop_row(r);
}

static void
reader_init(struct reader *r, const char *name, char *err, kp_csv_row_fn *fn, void *arg)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->err = err;
	r->fn = fn;
	r->arg = arg;
}

/* Feed buf[0..len) to the parser; last: the end of the input. */
static void
feed(struct reader *r, struct csv_parser *p, const char *buf, size_t len, int last)
{
	if (!r->failed && csv_parse(p, buf, len, field, row, r) != len && !r->failed) {
		kp_errf(r->err, "%s: row %zu: malformed CSV (%s)", r->name,
			r->nrows + 1, csv_strerror(csv_error(p)));
		r->failed = 1;
	}
	if (last && !r->failed && csv_fini(p, field, row, r) != 0 && !r->failed) {
		kp_errf(r->err, "%s: row %zu: malformed CSV (%s)", r->name,
			r->nrows + 1, csv_strerror(csv_error(p)));
		r->failed = 1;
	}
	if (last && !r->failed && !r->head.header) {
		kp_errf(r->err, "%s: empty file: expected a header row", r->name);
		r->failed = 1;
	}
}

static void
reader_release(struct reader *r, struct csv_parser *p)
{
	csv_free(p);
	kp_csv_release(&r->head);
	free(r->bytes);
	free(r->offs);
	free(r->row);
}

static int
start(struct reader *r, struct csv_parser *p, unsigned char delim)
{
	if (csv_init(p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return kp_errf(r->err, "%s: cannot start the CSV parser", r->name);
	csv_set_delim(p, delim);
	return 0;
}

static const char bom[] = "\xef\xbb\xbf";

int
kp_csv_stream(const char *path, unsigned char delim, kp_csv_row_fn *fn, void *arg, char *err)
{
	struct reader r;
	struct csv_parser p;
	char *buf;
	size_t n, skip = 0;
	int first = 1;
	FILE *f = fopen(path, "rb");

	if (!f)
		return kp_errf(err, "%s: %s", path, strerror(errno));
	reader_init(&r, path, err, fn, arg);
	if (start(&r, &p, delim) < 0) {
		fclose(f);
		return -1;
	}
	buf = kp_xmalloc(KP_CSV_CHUNK);
	while (!r.failed && (n = fread(buf, 1, KP_CSV_CHUNK, f)) > 0) {
		skip = first && n >= 3 && memcmp(buf, bom, 3) == 0 ? 3 : 0;
		first = 0;
		feed(&r, &p, buf + skip, n - skip, 0);
	}
	if (!r.failed && ferror(f)) {
		kp_errf(err, "%s: %s", path, strerror(errno));
		r.failed = 1;
	}
	feed(&r, &p, buf, 0, 1);
	free(buf);
	fclose(f);
	reader_release(&r, &p);
	return r.failed ? -1 : 0;
}

/* Building a whole table: fn for kp_csv_parse, keeping every string. */
struct table {
	struct kp_csv *t;
	size_t cap;		/* cells allocated */
};

static int
table_row(void *arg, size_t rowno, char **fields, size_t n, char *err)
{
	struct table *tb = arg;
	struct kp_csv *t = tb->t;
	char **dst;
	size_t i;

	/* The reader has checked the header's names: this copy cannot fail. */
	if (rowno == 0)
		return set_header(t, fields, n, "", err);
	if ((t->nrows + 1) * t->ncols > tb->cap) {
		tb->cap = tb->cap ? 2 * tb->cap : 64 * t->ncols;
		t->cells = kp_xrealloc(t->cells, tb->cap, sizeof(char *));
	}
	dst = t->cells + t->nrows++ * t->ncols;
	for (i = 0; i < n; i++)
		dst[i] = kp_xstrdup(fields[i]);
	return 0;
}

int
kp_csv_parse(struct kp_csv *t, const char *buf, size_t len,
	const char *name, char *err)
{
	struct table tb = { t, 0 };
	struct reader r;
	struct csv_parser p;

	memset(t, 0, sizeof(*t));
	if (len >= 3 && memcmp(buf, bom, 3) == 0) {
		buf += 3;
		len -= 3;
	}
	reader_init(&r, name, err, table_row, &tb);
	if (start(&r, &p, CSV_COMMA) < 0)
		return -1;
	feed(&r, &p, buf, len, 1);
	reader_release(&r, &p);
	if (r.failed) {
		kp_csv_release(t);
		return -1;
	}
	return 0;
}

int
kp_csv_read(struct kp_csv *t, const char *path, char *err)
{
	size_t len;
	char *buf;
	int rc;

	memset(t, 0, sizeof(*t));
	if (kp_read_file(path, &buf, &len, err) < 0)
		return -1;
	rc = kp_csv_parse(t, buf, len, path, err);
	free(buf);
	return rc;
}

/* One field, quoted when it holds the delimiter, a quote or a line break. */
static void
write_field(FILE *f, const char *s, unsigned char delim)
{
	const char *q;

	if (!strchr(s, delim) && !strpbrk(s, "\"\r\n")) {
		fputs(s, f);
		return;
	}
	putc('"', f);
	for (q = s; *q; q++) {
		if (*q == '"')
			putc('"', f);
		putc(*q, f);
	}
	putc('"', f);
}

int
kp_csv_write_row(FILE *f, char *const *fields, size_t n, unsigned char delim)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			putc(delim, f);
		write_field(f, fields[i] ? fields[i] : "", delim);
	}
	putc('\n', f);
	return ferror(f) ? -1 : 0;
}

void
kp_csv_release(struct kp_csv *t)
{
	size_t i;

	if (t->header)
		for (i = 0; i < t->ncols; i++)
			free(t->header[i]);
	if (t->cells)
		for (i = 0; i < t->nrows * t->ncols; i++)
			free(t->cells[i]);
	free(t->header);
	free(t->cells);
	free(t->index);
	memset(t, 0, sizeof(*t));
}

long
kp_csv_col(const struct kp_csv *t, const char *name)
{
	size_t k;

	if (!t->index)
		return -1;
	k = slot(t, name);
	return t->index[k] == SIZE_MAX ? -1 : (long)t->index[k];
}

char *
kp_csv_path(const char *in)
{
	struct stat st;
	char *p, *only = NULL;
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (stat(in, &st) != 0 || !S_ISDIR(st.st_mode))
		return kp_xstrdup(in);
	p = kp_join(in, "data.csv");
	if (stat(p, &st) == 0 || !(d = opendir(in)))
		return p;
	/* A folder of one file (a fetch's output): that file. */
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && n++ == 0)
			only = kp_join(in, e->d_name);
	closedir(d);
	if (n == 1) {
		free(p);
		return only;
	}
	free(only);
	return p;
}
