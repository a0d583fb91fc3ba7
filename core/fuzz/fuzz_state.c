/*
 * libFuzzer target: the state reader (.kiln/state). The input's first byte
 * chooses how the rest is used: raw, as the whole file, or as records
 * (type byte, 16-bit length, payload) that the target frames as
 * state.c does (length, type, payload, XXH3 of type and payload) behind a
 * valid header, so the fuzzer reaches the record decoders rather than
 * the checksum.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "state.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
u32le(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { v, v >> 8, v >> 16, v >> 24 };

	buf_add(b, c, 4);
}

/* Records from the input, framed: the same layout state.c's frame() writes. */
static void
framed(struct buf *b, const uint8_t *p, size_t n)
{
	buf_add(b, "KILNST\0\0", 8);
	u32le(b, 2);
	u32le(b, 0);
	while (n >= 3) {
		size_t len = (size_t)p[1] | (size_t)p[2] << 8;
		unsigned char rec[1 + 65535];
		uint64_t sum;
		int i;

		if (len > n - 3)
			len = n - 3;
		rec[0] = p[0];
		memcpy(rec + 1, p + 3, len);
		u32le(b, (uint32_t)len);
		buf_add(b, rec, len + 1);
		sum = XXH3_64bits(rec, len + 1);
		for (i = 0; i < 8; i++)
			buf_addc(b, (char)(sum >> (8 * i)));
		p += 3 + len;
		n -= 3 + len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct buf b = BUF_INIT;
	struct kiln_state st;
	struct kiln_record *rec;
	int fd;

	if (!size)
		return 0;
	if (!*path)
		snprintf(path, sizeof(path), "/tmp/kiln-fuzz-state.%d", (int)getpid());
	if (data[0] & 1)
		framed(&b, data + 1, size - 1);
	else
		buf_add(&b, data + 1, size - 1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write_all(fd, b.s, b.len) < 0)
		abort();
	close(fd);
	buf_release(&b);
	kiln_state_load(&st, path);
	/* A record's params and components are read back from the file (lazy_open): unchanged, they decode. */
	if ((rec = kiln_state_get(&st, "a"))) {
		(void)kiln_state_params(&st, rec);
		kiln_state_comps(&st, rec);
	}
	kiln_state_release(&st);
	return 0;
}
