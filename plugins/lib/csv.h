/*
 * csv: a CSV file with a header row, read whole into strings or streamed
 * row by row (libcsv), and CSV rows written.
 */
#ifndef KILN_PLUGLIB_CSV_H
#define KILN_PLUGLIB_CSV_H

#include <stddef.h>
#include <stdio.h>

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
/*
 * A row handed to a kp_csv_stream callback: rowno 0 for the header, then
 * 1, 2, … for data rows (each with the header's number of fields, already
 * checked). fields[i] are the reader's, valid until fn returns: copy what
 * is kept. fn returns 0, or -1 to stop with a message in err.
 */
typedef int kp_csv_row_fn(void *arg, size_t rowno, char **fields, size_t n, char *err);

/* How many bytes kp_csv_stream reads at a time. */
#define KP_CSV_CHUNK (64 * 1024)

/*
 * Stream the CSV file at path through fn, row by row, with the same rules
 * and messages as kp_csv_read, but holding one row and one chunk at a
 * time, whatever the file's size. delim: ',' or another one-byte
 * delimiter. -1 with err.
 */
int kp_csv_stream(const char *path, unsigned char delim, kp_csv_row_fn *fn, void *arg, char *err);
/* Write one row to f: fields quoted (RFC 4180) only where they must be. -1 on a write error. */
int kp_csv_write_row(FILE *f, char *const *fields, size_t n, unsigned char delim);
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
 * is a folder (what a dataset, join or concat target outputs), or the
 * folder's one file when it holds only that (a fetch's). malloc'd.
 */
char *kp_csv_path(const char *in);

#endif
