/*
 * CSV tables through libcsv: a header row, then data rows with the same
 * number of fields.
 */
#include <csv.h>
#include <dirent.h>
#include <errno.h>
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
	size_t nrows;		/* data rows so far */
	kp_csv_row_fn *fn;
	void *arg;
};

/* A field: appended to the row's bytes, so that no row costs an allocation once the buffers fit. */
static void
field(void *s, size_t len, void *data)
{
	struct reader *r = data;

	if (r->failed)
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

/* A header with a name twice: -1 with the message. */
static int
header_check(struct reader *r)
{
	size_t i, j;

	for (i = 0; i < r->nfield; i++)
		for (j = 0; j < i; j++)
			if (strcmp(r->row[i], r->row[j]) == 0)
				return kp_errf(r->err, "%s: header: column '%s' appears twice",
					r->name, r->row[i]);
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
	if (!r->ncols) {
		if (header_check(r) < 0)
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
	if (last && !r->failed && !r->ncols) {
		kp_errf(r->err, "%s: empty file: expected a header row", r->name);
		r->failed = 1;
	}
}

static void
reader_release(struct reader *r, struct csv_parser *p)
{
	csv_free(p);
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

	(void)err;
	if (rowno == 0) {
		t->ncols = n;
		dst = t->header = kp_xmallocarray(n, sizeof(char *));
	} else {
		if ((t->nrows + 1) * t->ncols > tb->cap) {
			tb->cap = tb->cap ? 2 * tb->cap : 64 * t->ncols;
			t->cells = kp_xrealloc(t->cells, tb->cap, sizeof(char *));
		}
		dst = t->cells + t->nrows++ * t->ncols;
	}
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
	memset(t, 0, sizeof(*t));
}

long
kp_csv_col(const struct kp_csv *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (strcmp(t->header[i], name) == 0)
			return (long)i;
	return -1;
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
