/*
 * Small helpers of the ML library: errors, allocation, numbers, files and
 * a portable random number generator.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int
kp_errf(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, KP_ERRLEN, fmt, ap);
	va_end(ap);
	return -1;
}

static void
oom(void)
{
	fputs("kiln-ml: out of memory\n", stderr);
	abort();
}

void *
kp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *
kp_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *
kp_xmallocarray(size_t n, size_t size)
{
	return kp_xrealloc(NULL, n, size);
}

void *
kp_xrealloc(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (size && n > SIZE_MAX / size)
		oom();
	bytes = n * size;
	p = realloc(p, bytes ? bytes : 1);
	if (!p)
		oom();
	return p;
}

char *
kp_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(kp_xmalloc(n), s, n);
}

int
kp_parse_number(const char *s, double *out)
{
	char *end;
	double v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end)
		return -1;
	if (isnan(v) || isinf(v))
		return -2;
	*out = v;
	return 0;
}

int
kp_read_file(const char *path, char **buf, size_t *len, char *err)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	char *b;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kp_errf(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return kp_errf(err, "%s: not a regular file", path);
	}
	b = kp_xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, b + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(b);
		return kp_errf(err, "%s: short read", path);
	}
	b[got] = 0;
	*buf = b;
	*len = got;
	return 0;
}

int
kp_write_file(const char *path, const void *buf, size_t len, char *err)
{
	size_t n = strlen(path) + 16, done = 0;
	char *tmp = kp_xmalloc(n);
	ssize_t r;
	int fd;

	snprintf(tmp, n, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		kp_errf(err, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	while (done < len) {
		r = write(fd, (const char *)buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	if (done != len || close(fd) < 0 || rename(tmp, path) < 0) {
		kp_errf(err, "%s: write failed: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

char *
kp_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = kp_xmalloc(n);

	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* SplitMix64 spreads a small seed over the whole xoshiro state. */
void
kp_buf_add(struct kp_buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
kp_buf_release(struct kp_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
kp_rng_seed(struct kp_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
kp_rng_next(struct kp_rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double
kp_rng_uniform(struct kp_rng *r)
{
	return (double)(kp_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t
kp_rng_below(struct kp_rng *r, uint64_t n)
{
	uint64_t lim, x;

	if (n <= 1)
		return 0;
	lim = UINT64_MAX - UINT64_MAX % n;
	do
		x = kp_rng_next(r);
	while (x >= lim);
	return x % n;
}

void
kp_rng_shuffle(struct kp_rng *r, size_t *idx, size_t n)
{
	size_t i, j, t;

	for (i = n; i > 1; i--) {
		j = (size_t)kp_rng_below(r, i);
		t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

size_t
kp_first_nonfinite(const float *x, size_t n)
{
	const uint32_t *u = (const uint32_t *)x;
	size_t i, j;

	/* A block at a time, branch-free inside, so the scan vectorises. */
	for (i = 0; i < n; i += 4096) {
		size_t end = n - i < 4096 ? n : i + 4096;
		uint32_t bad = 0;

		for (j = i; j < end; j++)
			bad |= (uint32_t)((u[j] & 0x7f800000u) == 0x7f800000u);
		if (bad)
			for (j = i; j < end; j++)
				if ((u[j] & 0x7f800000u) == 0x7f800000u)
					return j;
	}
	return n;
}

size_t
kp_utf8_check(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, len;
	uint32_t c, min;

	while (i < n) {
		c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, c &= 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, c &= 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, c &= 0x07, min = 0x10000;
		else
			return i;
		if (n - i < len)
			return i;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return i;
		i += len;
	}
	return n;
}

double
kp_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
