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

/* Append a, b, c and d (d may be NULL). */
static void
line(struct buf *out, const char *a, const char *b, const char *c, const char *d)
{
	buf_adds(out, a);
	buf_adds(out, b);
	buf_adds(out, c);
	if (d)
		buf_adds(out, d);
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
		line(b, rec->name, " key ", kiln_digest_hex(&rec->key, hex), NULL);
		buf_addc(b, '\n');
		/* metric < out < unsandboxed, so lines stay sorted within a target. */
		for (k = 0; k < rec->nmetrics; k++)
			buf_printf(b, "%s metric %s %.9g\n", rec->name, rec->metrics[k].name, rec->metrics[k].value);
		for (k = 0; k < rec->nfiles; k++) {
			char size[24];

			snprintf(size, sizeof(size), " %llu\n", (unsigned long long)rec->files[k].size);
			line(b, rec->name, " out ", rec->files[k].path, " ");
			buf_adds(b, kiln_digest_hex(&rec->files[k].digest, hex));
			buf_adds(b, size);
		}
		if (rec->flags & KILN_REC_UNSANDBOXED)
			buf_printf(b, "%s unsandboxed\n", rec->name);
	}
	free(sorted);
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
	char *old = read_file(LOCK_FILE, &len);
	int same;

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
