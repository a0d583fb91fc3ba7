/*
 * lock: Kilnfile.lock, the text record of a workspace's build that is meant
 * to be committed. One line per fact, sorted, so a diff shows exactly what
 * changed:
 *
 *	kiln-lock 1
 *	<target> key <action key>
 *	<target> out <path> <digest> <size>
 *	<target> metric <name> <value>
 *	<target> unsandboxed
 *
 * Output paths and metric names come from a step (the files it wrote in an
 * output folder, the metrics it reported), so they may hold any byte but
 * NUL. Each is written escaped, one line whatever it holds: a backslash as
 * "\\", a newline as "\n" and every other control byte as "\xNN". A path
 * named "x\nvictim out y …" cannot forge a line for another target. Target
 * names are checked where they enter (kilnfile.c) and never need it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graph.h"
#include "lock.h"
#include "paths.h"
#include "state.h"

#define LOCK_FILE KILN_LOCKFILE
#define LOCK_HEADER "# Kilnfile.lock: written by `kiln build`; commit it. `kiln status --check` compares it with the workspace.\nkiln-lock 1\n"

static int
cmp_target(const void *a, const void *b)
{
	return strcmp((*(struct kiln_target *const *)a)->name, (*(struct kiln_target *const *)b)->name);
}

/* Append s escaped (see above): it reads back as what it is, on one line. */
static void
escaped(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s, *p;

	for (p = s; *p; p++) {
		unsigned char c = *p;

		if (c != '\\' && c >= 0x20 && c != 0x7f)
			continue;
		buf_add(out, run, p - run);
		run = p + 1;
		if (c == '\\') {
			buf_add(out, "\\\\", 2);
		} else if (c == '\n') {
			buf_add(out, "\\n", 2);
		} else {
			char x[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

			buf_add(out, x, 4);
		}
	}
	buf_add(out, run, p - run);
}

/* The lock text for every target of the graph that the state has a record of. */
static void
lock_text(struct kiln_graph *g, struct kiln_state *st, struct buf *b)
{
	struct kiln_target **sorted = xreallocarray(NULL, g->ntargets + 1, sizeof(*sorted));
	char hex[KILN_DIGEST_HEX];
	size_t i, k;

	memcpy(sorted, g->targets, g->ntargets * sizeof(*sorted));
	sort(sorted, g->ntargets, sizeof(*sorted), cmp_target);
	buf_adds(b, LOCK_HEADER);
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_record *rec = kiln_state_get(st, sorted[i]->name);

		if (!rec)
			continue;
		/* Plain appends: printf for 100,000 targets costs more than the rest of a rebuild. */
		buf_adds(b, rec->name);
		buf_adds(b, " key ");
		buf_adds(b, kiln_digest_hex(&rec->key, hex));
		buf_addc(b, '\n');
		/* metric < out < unsandboxed, so lines stay sorted within a target. */
		for (k = 0; k < rec->nmetrics; k++) {
			buf_adds(b, rec->name);
			buf_adds(b, " metric ");
			escaped(b, rec->metrics[k].name);
			buf_printf(b, " %.9g\n", rec->metrics[k].value);
		}
		for (k = 0; k < rec->nfiles; k++) {
			char size[24];

			snprintf(size, sizeof(size), " %llu\n", (unsigned long long)rec->files[k].size);
			buf_adds(b, rec->name);
			buf_adds(b, " out ");
			escaped(b, rec->files[k].path);
			buf_addc(b, ' ');
			buf_adds(b, kiln_digest_hex(&rec->files[k].digest, hex));
			buf_adds(b, size);
		}
		if (rec->flags & KILN_REC_UNSANDBOXED)
			buf_printf(b, "%s unsandboxed\n", rec->name);
	}
	free(sorted);
}

/*
 * A Kilnfile.lock that is a symlink came with the repository (kiln never
 * makes one): reading it would show a line of whatever it points at in
 * `kiln status --check`, so it is refused, naming it. -1 if it is one.
 * NEEDSWORK: util's read_file() follows links; this lstat() and the read
 * after it should be one open with O_NOFOLLOW once util reads from a
 * descriptor.
 */
static int
refuse_link(void)
{
	struct stat sb;

	if (lstat(LOCK_FILE, &sb) == 0 && S_ISLNK(sb.st_mode))
		return error(LOCK_FILE " is a symlink, which kiln never makes: remove it (kiln neither reads nor replaces it)");
	return 0;
}

int
kiln_lock_write(struct kiln_graph *g, struct kiln_state *st, int force)
{
	struct buf b = BUF_INIT;
	struct stat sb;
	size_t len;
	char *old;
	int r = 0;

	/* Nothing recorded and the file is as we left it: the text would be the same. */
	if (!force && !st->dirty && stat(LOCK_FILE, &sb) == 0 && st->lock.path &&
	    st->lock.ino == (uint64_t)sb.st_ino && st->lock.size == (uint64_t)sb.st_size &&
	    st->lock.mtime_ns == ns_of(&sb.st_mtim))
		return 0;
	if (refuse_link() < 0)
		return -1;
	lock_text(g, st, &b);
	old = read_file(LOCK_FILE, &len);
	if (!old || len != b.len || memcmp(old, b.s, len) != 0) {
		if (write_file_atomic(LOCK_FILE, b.s, b.len, 0644, 0) < 0)
			r = error("cannot write " LOCK_FILE ":");
	}
	free(old);
	buf_release(&b);
	if (r == 0 && stat(LOCK_FILE, &sb) == 0)
		kiln_state_put_lock(st, &sb);
	return r;
}

int
kiln_lock_matches(struct kiln_graph *g, struct kiln_state *st)
{
	struct buf b = BUF_INIT;
	size_t len, i;
	char *old;
	int same;

	if (refuse_link() < 0)
		return 0;
	old = read_file(LOCK_FILE, &len);
	if (!old) {
		printf("Kilnfile.lock: %s\n", errno == ENOENT ? "missing (run kiln build)" : strerror(errno));
		return 0;
	}
	lock_text(g, st, &b);
	same = len == b.len && memcmp(old, b.s, len) == 0;
	if (!same) {
		/* Name the first line that differs. */
		const char *p = old, *q = b.s;

		for (i = 1;; i++) {
			const char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
			size_t pl = pe ? (size_t)(pe - p) : strlen(p), ql = qe ? (size_t)(qe - q) : strlen(q);

			if (pl != ql || memcmp(p, q, pl) != 0) {
				printf("Kilnfile.lock differs from the workspace at line %zu:\n  lock:      %.*s\n  workspace: %.*s\n",
				    i, (int)pl, p, (int)ql, q);
				break;
			}
			if (!pe || !qe)
				break;
			p = pe + 1;
			q = qe + 1;
		}
	}
	free(old);
	buf_release(&b);
	return same;
}

int
kiln_lock_parse(char *text, kiln_lock_line_fn *fn, void *arg)
{
	char *line, *save = NULL;
	int ok = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' '), *kind, *rest;
		struct kiln_digest d;

		if (line[0] == '#')
			continue;
		if (strcmp(line, "kiln-lock 1") == 0) {
			ok = 1;
			continue;
		}
		if (!sp)
			continue;
		*sp = '\0';
		kind = sp + 1;
		if (strncmp(kind, "key ", 4) == 0 && kiln_digest_parse(kind + 4, &d) == 0) {
			fn(arg, line, NULL, &d, 0);
		} else if (strncmp(kind, "out ", 4) == 0) {
			/* out <path> <digest> <size>: the path may hold spaces, so parse from the end. */
			char *size = strrchr(kind, ' '), *dig;

			rest = kind + 4;
			if (!size || size <= rest)
				continue;
			*size++ = '\0';
			dig = strrchr(rest, ' ');
			if (!dig || kiln_digest_parse(dig + 1, &d) < 0)
				continue;
			*dig = '\0';
			fn(arg, line, rest, &d, strtoull(size, NULL, 10));
		}
	}
	return ok ? 0 : -1;
}
