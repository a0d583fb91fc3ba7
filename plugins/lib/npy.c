/*
 * Arrays and numpy's NPY format (version 1.0 written; 1.0 to 3.0 read).
 * Only little-endian float32 and int64 in C order: what kiln writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"
#include "util.h"

size_t
kp_dtype_size(int dtype)
{
	return dtype == KP_I64 ? 8 : 4;
}

void
kp_array_init(struct kp_array *a, int dtype, int ndim, size_t rows,
	size_t cols)
{
	a->dtype = dtype;
	a->ndim = ndim;
	a->shape[0] = rows;
	a->shape[1] = ndim == 1 ? 1 : cols;
	a->data = kp_xcalloc(rows,
		a->shape[1] * kp_dtype_size(dtype));
}

void
kp_array_release(struct kp_array *a)
{
	free(a->data);
	a->data = NULL;
	a->shape[0] = a->shape[1] = 0;
}

size_t
kp_array_count(const struct kp_array *a)
{
	return a->shape[0] * a->shape[1];
}

void
kp_npy_encode(const struct kp_array *a, char **buf, size_t *len)
{
	char dict[160], *b;
	size_t n, hlen, data = kp_array_count(a) * kp_dtype_size(a->dtype);

	if (a->ndim == 1)
		n = (size_t)snprintf(dict, sizeof(dict),
			"{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
			a->dtype == KP_I64 ? "<i8" : "<f4", a->shape[0]);
	else
		n = (size_t)snprintf(dict, sizeof(dict),
			"{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
			a->dtype == KP_I64 ? "<i8" : "<f4", a->shape[0], a->shape[1]);
	/* Magic, version and length take 10 bytes; pad the whole to 64. */
	hlen = (10 + n + 1 + 63) / 64 * 64 - 10;
	b = kp_xmalloc(10 + hlen + data);
	memcpy(b, "\x93NUMPY\x01\x00", 8);
	b[8] = (char)(hlen & 0xff);
	b[9] = (char)(hlen >> 8);
	memcpy(b + 10, dict, n);
	memset(b + 10 + n, ' ', hlen - n - 1);
	b[10 + hlen - 1] = '\n';
	if (data)
		memcpy(b + 10 + hlen, a->data, data);
	*buf = b;
	*len = 10 + hlen + data;
}

int
kp_npy_write(const char *path, const struct kp_array *a, char *err)
{
	size_t len;
	char *buf;
	int rc;

	kp_npy_encode(a, &buf, &len);
	rc = kp_write_file(path, buf, len, err);
	free(buf);
	return rc;
}

/* The text after `'key':` in the header dict, or NULL. */
static const char *
dict_value(const char *h, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "'%s':", key);
	p = strstr(h, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	return p;
}

/* Parse "(a, b)" / "(a,)" into shape; returns ndim or -1. */
static int
parse_shape(const char *p, size_t shape[2])
{
	int ndim = 0;
	char *end;

	if (*p++ != '(')
		return -1;
	for (;;) {
		unsigned long long v;

		while (*p == ' ')
			p++;
		if (*p == ')')
			break;
		if (*p < '0' || *p > '9' || ndim == 2)
			return -1;
		v = strtoull(p, &end, 10);
		if (end - p > 15)
			return -1;
		shape[ndim++] = (size_t)v;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p != ')')
			return -1;
	}
	if (ndim == 1)
		shape[1] = 1;
	return ndim;
}

static int
parse_header(const char *h, const char *name, struct kp_array *a, char *err)
{
	const char *d = dict_value(h, "descr"), *f = dict_value(h, "fortran_order"),
		*s = dict_value(h, "shape");

	if (!d || !f || !s)
		return kp_errf(err, "%s: NPY header lacks descr, fortran_order or shape", name);
	if (strncmp(d, "'<f4'", 5) == 0)
		a->dtype = KP_F32;
	else if (strncmp(d, "'<i8'", 5) == 0)
		a->dtype = KP_I64;
	else
		return kp_errf(err, "%s: NPY dtype %.8s: expected '<f4' or '<i8'", name, d);
	if (strncmp(f, "False", 5) != 0)
		return kp_errf(err, "%s: NPY array is in Fortran order: expected C order", name);
	a->ndim = parse_shape(s, a->shape);
	if (a->ndim < 1)
		return kp_errf(err, "%s: NPY shape must have 1 or 2 dimensions", name);
	return 0;
}

/*
 * Parse the magic, version and header dict at the start of buf (len bytes,
 * at least the whole header); set a's dtype and shape and *need, the
 * number of data bytes the shape implies, and return the data's offset.
 */
int
kp_npy_header(const void *buf, size_t len, const char *name,
	struct kp_array *a, size_t *need, char *err)
{
	const unsigned char *b = buf;
	size_t hlen, off;
	char *h;
	int rc;

	memset(a, 0, sizeof(*a));
	if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
		return kp_errf(err, "%s: not an NPY file (bad magic)", name);
	if (b[6] == 1) {
		hlen = b[8] | (size_t)b[9] << 8;
		off = 10;
	} else if ((b[6] == 2 || b[6] == 3) && len >= 12) {
		hlen = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
		off = 12;
	} else {
		return kp_errf(err, "%s: NPY version %u not supported", name, b[6]);
	}
	if (hlen > len - off)
		return kp_errf(err, "%s: truncated NPY header (%zu bytes declared, %zu present)",
			name, hlen, len - off);
	h = kp_xmalloc(hlen + 1);
	memcpy(h, b + off, hlen);
	h[hlen] = 0;
	rc = parse_header(h, name, a, err);
	free(h);
	if (rc < 0)
		return -1;
	if (a->shape[1] && a->shape[0] > (SIZE_MAX / 8) / a->shape[1])
		return kp_errf(err, "%s: NPY shape is too large", name);
	*need = a->shape[0] * a->shape[1] * kp_dtype_size(a->dtype);
	return (int)(off + hlen);
}

int
kp_npy_parse(const void *buf, size_t len, const char *name,
	struct kp_array *a, char *err)
{
	const unsigned char *b = buf;
	size_t need, off;
	int rc = kp_npy_header(buf, len, name, a, &need, err);

	if (rc < 0)
		return -1;
	off = (size_t)rc;
	if (need != len - off)
		return kp_errf(err, "%s: NPY shape (%zu, %zu) needs %zu data bytes, file has %zu",
			name, a->shape[0], a->shape[1], need, len - off);
	a->data = kp_xmalloc(need);
	if (need)
		memcpy(a->data, b + off, need);
	return 0;
}

/* Read exactly n bytes at the file's current offset. */
static int
read_all(int fd, void *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/*
 * Read the header first, then the data straight into the array: a feature
 * matrix can be gigabytes, and a second copy of it would cost as much
 * time as the training of a linear model.
 */
int
kp_npy_read(const char *path, struct kp_array *a, char *err)
{
	unsigned char head[12];
	struct stat st;
	size_t hlen, off, need;
	char *buf;
	int fd, rc;

	memset(a, 0, sizeof(*a));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kp_errf(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 12 ||
	    read_all(fd, head, 12) < 0) {
		close(fd);
		/* Small or odd files take the general path and its messages. */
		if (kp_read_file(path, &buf, &need, err) < 0)
			return -1;
		rc = kp_npy_parse(buf, need, path, a, err);
		free(buf);
		return rc;
	}
	hlen = head[6] == 1 ? (size_t)(head[8] | head[9] << 8) :
		(size_t)head[8] | (size_t)head[9] << 8 | (size_t)head[10] << 16 | (size_t)head[11] << 24;
	off = head[6] == 1 ? 10 : 12;
	if (hlen > (size_t)st.st_size - off)
		hlen = (size_t)st.st_size - off;	/* parse reports the truncation */
	buf = kp_xmalloc(off + hlen + 12);
	memcpy(buf, head, 12);
	rc = off + hlen > 12 ? read_all(fd, buf + 12, off + hlen - 12) : 0;
	if (rc < 0)
		rc = kp_errf(err, "%s: short read", path);
	else
		rc = kp_npy_header(buf, off + hlen, path, a, &need, err) < 0 ? -1 : 0;
	free(buf);
	if (rc == 0 && need != (size_t)st.st_size - off - hlen)
		rc = kp_errf(err, "%s: NPY shape (%zu, %zu) needs %zu data bytes, file has %zu",
			path, a->shape[0], a->shape[1], need, (size_t)st.st_size - off - hlen);
	if (rc == 0) {
		a->data = kp_xmalloc(need);
		if (lseek(fd, (off_t)(off + hlen), SEEK_SET) < 0 || read_all(fd, a->data, need) < 0)
			rc = kp_errf(err, "%s: short read", path);
	}
	close(fd);
	if (rc < 0)
		kp_array_release(a);
	return rc;
}
