/*
 * CSV tables through libcsv: a header row, then data rows with the same
 * number of fields. Every cell is checked as it is read (UTF-8, no NUL),
 * and the header's names go into a hash table, so reading is linear in
 * the file's size whatever its shape (200,000 columns included).
 */
#include <csv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv.h"
#include "util.h"

/* Parser state passed through libcsv's callbacks. */
struct reader {
	struct kp_csv *t;
	const char *name;
	char *err;
	int failed;
	size_t nfield;		/* fields seen in the current row */
	size_t cap;		/* cells allocated */
	char **row;		/* fields of the current row */
	size_t rowcap;
};

/* Where the current field is, for a message: "header, column 3" or "row 2, column 3 ('x')". */
static void
where(const struct reader *r, char *buf, size_t size)
{
	const struct kp_csv *t = r->t;

	if (!t->header)
		snprintf(buf, size, "header, column %zu", r->nfield + 1);
	else if (r->nfield < t->ncols)
		snprintf(buf, size, "row %zu, column %zu ('%.64s')", t->nrows + 1, r->nfield + 1,
			t->header[r->nfield]);
	else
		snprintf(buf, size, "row %zu, column %zu", t->nrows + 1, r->nfield + 1);
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

static void
field(void *s, size_t len, void *data)
{
	struct reader *r = data;
	char *v;

	if (r->failed || check_cell(r, s, len) < 0)
		return;
	v = kp_xmalloc(len + 1);
	if (len)	/* libcsv may pass NULL for an empty field */
		memcpy(v, s, len);
	v[len] = 0;
	if (r->nfield == r->rowcap) {
		r->rowcap = r->rowcap ? 2 * r->rowcap : 16;
		r->row = kp_xrealloc(r->row, r->rowcap, sizeof(*r->row));
	}
	r->row[r->nfield++] = v;
}

static void
drop_row(struct reader *r)
{
	size_t i;

	for (i = 0; i < r->nfield; i++)
		free(r->row[i]);
	r->nfield = 0;
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

static void
header_row(struct reader *r)
{
	struct kp_csv *t = r->t;
	size_t i, k;

	t->ncols = r->nfield;
	t->header = kp_xmallocarray(t->ncols ? t->ncols : 1, sizeof(char *));
	memcpy(t->header, r->row, t->ncols * sizeof(char *));
	r->nfield = 0;
	/* At most half full: a power of two at least twice the columns. */
	for (t->nindex = 16; t->nindex < 2 * t->ncols; t->nindex *= 2)
		;
	t->index = kp_xmallocarray(t->nindex, sizeof(*t->index));
	memset(t->index, 0xff, t->nindex * sizeof(*t->index));
	for (i = 0; i < t->ncols; i++) {
		k = slot(t, t->header[i]);
		if (t->index[k] != SIZE_MAX) {
			kp_errf(r->err, "%s: header: column '%s' appears twice",
				r->name, t->header[i]);
			r->failed = 1;
			return;
		}
		t->index[k] = i;
	}
}

static void
data_row(struct reader *r)
{
	struct kp_csv *t = r->t;

	if (r->nfield != t->ncols) {
		kp_errf(r->err, "%s: row %zu has %zu field%s, the header has %zu",
			r->name, t->nrows + 1, r->nfield, r->nfield == 1 ? "" : "s",
			t->ncols);
		r->failed = 1;
		drop_row(r);
		return;
	}
	if ((t->nrows + 1) * t->ncols > r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64 * t->ncols;
		t->cells = kp_xrealloc(t->cells, r->cap, sizeof(char *));
	}
	memcpy(t->cells + t->nrows * t->ncols, r->row, t->ncols * sizeof(char *));
	t->nrows++;
	r->nfield = 0;
}

static void
row(int c, void *data)
{
	struct reader *r = data;

	(void)c;
	if (r->failed) {
		drop_row(r);
		return;
	}
	if (!r->t->header)
		header_row(r);
	else
		data_row(r);
}

int
kp_csv_parse(struct kp_csv *t, const char *buf, size_t len,
	const char *name, char *err)
{
	struct reader r = { t, name, err, 0, 0, 0, NULL, 0 };
	struct csv_parser p;

	memset(t, 0, sizeof(*t));
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return kp_errf(err, "%s: cannot start the CSV parser", name);
	if (csv_parse(&p, buf, len, field, row, &r) != len && !r.failed) {
		kp_errf(err, "%s: row %zu: malformed CSV (%s)", name,
			t->nrows + 1, csv_strerror(csv_error(&p)));
		r.failed = 1;
	}
	if (!r.failed && csv_fini(&p, field, row, &r) != 0 && !r.failed) {
		kp_errf(err, "%s: row %zu: malformed CSV (%s)", name,
			t->nrows + 1, csv_strerror(csv_error(&p)));
		r.failed = 1;
	}
	csv_free(&p);
	drop_row(&r);
	free(r.row);
	if (!r.failed && !t->header) {
		kp_errf(err, "%s: empty file: expected a header row", name);
		r.failed = 1;
	}
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

	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode))
		return kp_join(in, "data.csv");
	return kp_xstrdup(in);
}
