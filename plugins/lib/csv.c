/*
 * CSV tables through libcsv: a header row, then data rows with the same
 * number of fields.
 */
#include <csv.h>
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

static void
field(void *s, size_t len, void *data)
{
	struct reader *r = data;
	char *v;

	if (r->failed)
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

static void
header_row(struct reader *r)
{
	struct kp_csv *t = r->t;
	size_t i, j;

	for (i = 0; i < r->nfield; i++)
		for (j = 0; j < i; j++)
			if (strcmp(r->row[i], r->row[j]) == 0) {
				kp_errf(r->err, "%s: header: column '%s' appears twice",
					r->name, r->row[i]);
				r->failed = 1;
				drop_row(r);
				return;
			}
	t->ncols = r->nfield;
	t->header = kp_xmallocarray(t->ncols, sizeof(char *));
	memcpy(t->header, r->row, t->ncols * sizeof(char *));
	r->nfield = 0;
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

	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode))
		return kp_join(in, "data.csv");
	return kp_xstrdup(in);
}
