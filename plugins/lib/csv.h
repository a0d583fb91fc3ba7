/*
 * csv: a CSV file with a header row, read whole into strings (libcsv).
 */
#ifndef KILN_PLUGLIB_CSV_H
#define KILN_PLUGLIB_CSV_H

#include <stddef.h>

/* A CSV file with a header row; every cell is a NUL-terminated string. */
struct kp_csv {
	size_t ncols;		/* columns, the header's fields */
	size_t nrows;		/* data rows, not counting the header */
	char **header;		/* ncols names */
	char **cells;		/* nrows * ncols, row-major; "" when empty */
	size_t *index;		/* nindex slots: a column's index by its name's hash, SIZE_MAX empty */
	size_t nindex;		/* a power of two, at least twice ncols */
};

/*
 * Read the CSV file at path into t (RFC 4180: quoted fields, CRLF, UTF-8
 * with or without a byte-order mark). A row with a different number of
 * fields than the header, an empty file, a duplicate column name, a cell
 * holding a NUL byte or bytes that are not UTF-8 is an error naming the
 * file, the row and the column. -1 with err.
 */
int kp_csv_read(struct kp_csv *t, const char *path, char *err);
/* The same from buf[0..len), named `name` in messages. */
int kp_csv_parse(struct kp_csv *t, const char *buf, size_t len,
	const char *name, char *err);
/* Free t's names and cells. */
void kp_csv_release(struct kp_csv *t);
/* Index of the column called name, or -1 (a hash lookup). */
long kp_csv_col(const struct kp_csv *t, const char *name);

/* The cell at row, col (both in range). */
static inline const char *
kp_csv_cell(const struct kp_csv *t, size_t row, size_t col)
{
	return t->cells[row * t->ncols + col];
}

/*
 * The CSV file an input names: the input itself, or in/data.csv when it
 * is a folder (what a dataset target outputs). malloc'd.
 */
char *kp_csv_path(const char *in);

#endif
