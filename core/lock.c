/*
 * lock: Kilnfile.lock, the text record of a workspace's build that is meant
 * to be committed. One line per fact, sorted, so a diff shows exactly what
 * changed:
 *
 *	kiln-lock 1
 *	<target> key <action key>
 *	<target> out <path> <digest> <size>
 *	<target> metric <name> <value>
 *	<target> param <name> <JSON value>
 *	<target> unsandboxed
 *
 * Output paths and metric names come from a step (the files it wrote in an
 * output folder, the metrics it reported), so they may hold any byte but
 * NUL. Each is written escaped, one line whatever it holds: a backslash as
 * "\\", a newline as "\n" and every other control byte as "\xNN". A path
 * named "x\nvictim out y …" cannot forge a line for another target. Target
 * names are checked where they enter (kilnfile.c) and never need it. A
 * param's name has its spaces escaped too ("\x20"): its value, JSON on one
 * line, starts after the first space.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <jansson.h>

#include "digest.h"
#include "fs.h"
#include "graph.h"
#include "graphcache.h"
#include "lock.h"
#include "paths.h"
#include "state.h"
#include "value.h"

#define LOCK_FILE KILN_LOCKFILE
#define LOCK_HEADER "# Kilnfile.lock: written by `kiln build`; commit it. `kiln status --check` compares it with the workspace.\nkiln-lock 1\n"

static int
cmp_target(const void *a, const void *b)
{
	return strcmp((*(struct kiln_target *const *)a)->name, (*(struct kiln_target *const *)b)->name);
}

/* Append s escaped (see above): it reads back as what it is, on one line; `space`: a space as "\x20" too. */
static void
escaped_as(struct buf *out, const char *s, int space)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s, *p;

	for (p = s; *p; p++) {
		unsigned char c = *p;

		if (c != '\\' && c > (space ? 0x20 : 0x1f) && c != 0x7f)
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

static void
escaped(struct buf *out, const char *s)
{
	escaped_as(out, s, 0);
}

/* One leaf of params (a map is walked into), under the dotted name in `name`. */
static void
param_lines(struct buf *b, struct buf *name, const kiln_value *v)
{
	size_t i, len = name->len;
	json_t *j;
	char *s;

	if (v->type == KILN_MAP && v->u.seq.n) {
		for (i = 0; i < v->u.seq.n; i++) {
			if (len)
				buf_addc(name, '.');
			buf_adds(name, v->u.seq.keys[i]);
			param_lines(b, name, &v->u.seq.items[i]);
			name->len = len;
			name->s[len] = '\0';
		}
		return;
	}
	j = kiln_value_to_json(v);
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
	escaped_as(b, name->s, 1);
	buf_addc(b, ' ');
	buf_adds(b, s ? s : "null");
	buf_addc(b, '\n');
	free(s);
	json_decref(j);
}

void
kiln_lock_params(struct buf *b, const kiln_value *params)
{
	struct buf name = BUF_INIT;

	if (params && params->type == KILN_MAP && params->u.seq.n) {
		buf_adds(&name, "");
		param_lines(b, &name, params);
	}
	buf_release(&name);
}

/* " N\n" for an output's size: snprintf's share of a one-change rebuild was 5 % of it. */
static void
size_line(struct buf *b, unsigned long long v)
{
	char d[24], *p = d + sizeof(d);

	*--p = '\n';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	*--p = ' ';
	buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

/* rec's lines of the lock. */
static void
target_lines(struct buf *b, struct kiln_state *st, struct kiln_record *rec)
{
	char hex[KILN_DIGEST_HEX];
	const char *p, *nl;
	size_t k;

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
		buf_adds(b, rec->name);
		buf_adds(b, " out ");
		escaped(b, rec->files[k].path);
		buf_addc(b, ' ');
		buf_adds(b, kiln_digest_hex(&rec->files[k].digest, hex));
		size_line(b, rec->files[k].size);
	}
	for (p = kiln_state_params(st, rec); *p; p = nl + 1) {
		nl = strchr(p, '\n');
		buf_adds(b, rec->name);
		buf_adds(b, " param ");
		buf_add(b, p, nl - p + 1);
	}
	if (rec->flags & KILN_REC_UNSANDBOXED)
		buf_printf(b, "%s unsandboxed\n", rec->name);
}

/*
 * The lock kiln last wrote, as far as it is read for splicing: p walks its
 * sections (a target's lines, which start "<target> ") in their order;
 * copy..copy_end is a run of them taken as they are, not yet added to the text.
 */
struct old_lock {
	const char *p, *end, *copy, *copy_end;
};

/* Compare names as strcmp does, a and b of an and bn bytes (no NUL in them). */
static int
cmp_span(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

/* The end of the section at p, whose target's name is its first len bytes: where a line of another starts. */
static const char *
section_end(const char *p, const char *end, size_t len)
{
	const char *e = p;

	do {
		const char *nl = memchr(e, '\n', (size_t)(end - e));

		e = nl ? nl + 1 : end;
	} while ((size_t)(end - e) > len && e[len] == ' ' && memcmp(e, p, len) == 0);
	return e;
}

/* The section of target `name` in o at or after o->p (both are sorted): its end, or NULL; o->p is its start. */
static const char *
old_section(struct old_lock *o, const char *name)
{
	size_t n = strlen(name);

	while (o->p < o->end) {
		const char *sp = memchr(o->p, ' ', (size_t)(o->end - o->p)), *e;
		size_t len;
		int c;

		if (!sp)
			break;
		len = (size_t)(sp - o->p);
		c = cmp_span(o->p, len, name, n);
		if (c > 0)
			return NULL;
		e = section_end(o->p, o->end, len);
		if (c == 0)
			return e;
		o->p = e;
	}
	return NULL;
}

/* Add the run of sections copied so far to b. */
static void
flush_copy(struct buf *b, struct old_lock *o)
{
	if (o->copy)
		buf_add(b, o->copy, (size_t)(o->copy_end - o->copy));
	o->copy = NULL;
}

/* Take the old section o->p..e: one run with the last one taken if it follows it. */
static void
take_section(struct buf *b, struct old_lock *o, const char *e)
{
	if (o->copy && o->copy_end != o->p)
		flush_copy(b, o);
	if (!o->copy)
		o->copy = o->p;
	o->copy_end = o->p = e;
}

/* Records whose lines are made rather than copied before the state file is read whole for them. */
#define HOLD_AFTER 64

static int
cmp_record(const void *a, const void *b)
{
	return strcmp((*(struct kiln_record *const *)a)->name, (*(struct kiln_record *const *)b)->name);
}

/* Make rec's lines after what was taken so far; hold the state file once many are made. */
static void
made(struct buf *b, struct old_lock *o, struct kiln_state *st, struct kiln_record *rec, size_t *n)
{
	flush_copy(b, o);
	if (++*n == HOLD_AFTER)
		kiln_state_hold(st);
	target_lines(b, st, rec);
}

/*
 * The splice in the lock's order, with no sort of the graph: walk the old
 * sections, taking each whose target is in the graph, no side effect, and
 * recorded before the lock; make the lines of the records since (sorted,
 * few) in their places. It covers every target only if the graph holds no
 * other kind (no record, a side effect, a record the old lock has no
 * section of: targets added): -1 then, b as it was, for the merge below.
 */
static int
splice_in_order(struct kiln_graph *g, struct kiln_state *st, struct buf *b, struct old_lock *o, char *old)
{
	size_t n, i, j = 0, taken = 0, nmade = 0, at = b->len;
	struct kiln_record **fresh = kiln_state_unlocked(st, &n);
	const char *prev = "";
	size_t nprev = 0;
	int r = 0;

	for (i = 0; i < n; i++) {
		struct kiln_target *t = kiln_graph_find(g, fresh[i]->name);

		if (t && !t->effect)
			fresh[j++] = fresh[i];
	}
	n = j;
	j = 0;
	sort(fresh, n, sizeof(*fresh), cmp_record);
	while (o->p < o->end) {
		/* The section's target, its name ended in place (old is ours) while it is looked up. */
		char *name = old + (o->p - old), *sp = memchr(name, ' ', (size_t)(o->end - name));
		const char *e = sp ? section_end(name, o->end, (size_t)(sp - name)) : NULL;
		struct kiln_target *t;
		struct kiln_record *rec;

		if (!sp)
			break;
		/* Sorted and each once, as kiln writes it, or the count below means nothing. */
		if (cmp_span(name, (size_t)(sp - name), prev, nprev) <= 0) {
			r = -1;
			break;
		}
		*sp = '\0';
		for (; j < n && strcmp(fresh[j]->name, name) < 0; j++)
			made(b, o, st, fresh[j], &nmade);
		t = kiln_graph_find(g, name);
		rec = kiln_state_get(st, name);
		*sp = ' ';
		if (t && !t->effect && rec && kiln_state_in_lock(st, rec)) {
			take_section(b, o, e);
			taken++;
		} else {
			o->p = e;
		}
		prev = name;
		nprev = (size_t)(sp - name);
	}
	for (; j < n && r == 0; j++)
		made(b, o, st, fresh[j], &nmade);
	flush_copy(b, o);
	if (r < 0 || o->p < o->end || taken + n != g->ntargets) {
		b->len = at;
		b->s[at] = '\0';
		r = -1;
	}
	free(fresh);
	return r;
}

/* The start of the first line at or after p, in text..end that ends in a newline. */
static const char *
line_at(const char *text, const char *p, const char *end)
{
	const char *nl;

	if (p == text || p[-1] == '\n')
		return p;
	nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl + 1 : end;
}

/*
 * The first line in lo..hi (both line starts, the lines sorted by target)
 * whose target sorts at or after name (n bytes): hi if none. A binary
 * search by bytes, each probe moved to the next line's start.
 */
static const char *
first_from(const char *text, const char *lo, const char *hi, const char *name, size_t n)
{
	while (lo < hi) {
		const char *mid = line_at(text, lo + (hi - lo) / 2, hi), *sp, *nl;

		if (mid == hi)
			mid = lo;	/* no line starts past the middle: lo's line decides */
		sp = memchr(mid, ' ', (size_t)(hi - mid));
		if (sp && cmp_span(mid, (size_t)(sp - mid), name, n) < 0) {
			nl = memchr(mid, '\n', (size_t)(hi - mid));
			lo = nl ? nl + 1 : hi;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/*
 * The lock text when the old lock (ours) was written from this very graph
 * with no target forgotten since (kiln_state_lock_from): its sections are
 * exactly the graph's recorded targets' then, so the new text is the old
 * one with the sections of the records since replaced or, for a target
 * recorded for the first time, put in their sorted places. Each is found
 * by a binary search; no other target or record is looked at, and the
 * rest is copied in runs (a one-change rebuild at 100,000 targets walked
 * and looked up every section before).
 */
/*
 * The text to write, in pieces: runs of the old lock's bytes (p) and of the
 * lines made (p NULL: at off in made), written with writev and hashed in
 * turn, so the old text is not copied into a second buffer of its size.
 */
struct pieces {
	struct piece {
		const char *p;
		size_t off, len;
	} *v;
	size_t n, cap;
	struct buf made;
};

static void
add_piece(struct pieces *pc, const char *p, size_t off, size_t len)
{
	if (!len)
		return;
	if (pc->n == pc->cap) {
		pc->cap = pc->cap ? 2 * pc->cap : 16;
		pc->v = xreallocarray(pc->v, pc->cap, sizeof(*pc->v));
	}
	pc->v[pc->n++] = (struct piece){p, off, len};
}

static void
lock_patch(struct kiln_graph *g, struct kiln_state *st, struct pieces *pc, const char *old, size_t oldlen)
{
	const char *text = old + strlen(LOCK_HEADER), *end = old + oldlen, *p = old;
	struct old_lock o = {NULL, NULL, NULL, NULL};
	size_t n, i, j = 0, nmade = 0;
	struct kiln_record **fresh = kiln_state_unlocked(st, &n);

	for (i = 0; i < n; i++) {
		struct kiln_target *t = kiln_graph_find(g, fresh[i]->name);

		if (t && !t->effect)
			fresh[j++] = fresh[i];
	}
	sort(fresh, j, sizeof(*fresh), cmp_record);
	for (i = 0; i < j; i++) {
		size_t len = strlen(fresh[i]->name), before = pc->made.len;
		const char *at = first_from(text, p > text ? p : text, end, fresh[i]->name, len);

		add_piece(pc, p, 0, (size_t)(at - p));
		if ((size_t)(end - at) > len && at[len] == ' ' && memcmp(at, fresh[i]->name, len) == 0)
			at = section_end(at, end, len);
		made(&pc->made, &o, st, fresh[i], &nmade);
		add_piece(pc, NULL, before, pc->made.len - before);
		p = at;
	}
	add_piece(pc, p, 0, (size_t)(end - p));
	kiln_state_unhold(st);
	free(fresh);
}

/*
 * The lock text for every target of the graph that the state has a record
 * of. With `old` (the text of the lock the state's lock record was written
 * from), a target whose record is older than that lock (kiln_state_in_lock)
 * has its section copied from it rather than made again: the same record
 * makes the same lines.
 */
static void
lock_text(struct kiln_graph *g, struct kiln_state *st, struct buf *b, char *old, size_t oldlen)
{
	struct kiln_target **sorted;
	struct old_lock o = {NULL, NULL, NULL, NULL};
	size_t i, nmade = 0;

	buf_adds(b, LOCK_HEADER);
	if (old) {
		o.p = old + strlen(LOCK_HEADER);
		o.end = old + oldlen;
		if (splice_in_order(g, st, b, &o, old) == 0) {
			kiln_state_unhold(st);
			return;
		}
		o = (struct old_lock){old + strlen(LOCK_HEADER), old + oldlen, NULL, NULL};
	} else {
		/* Every record's params are read: the state file once, not a pread per target. */
		kiln_state_hold(st);
	}
	sorted = xreallocarray(NULL, g->ntargets + 1, sizeof(*sorted));
	memcpy(sorted, g->targets, g->ntargets * sizeof(*sorted));
	sort(sorted, g->ntargets, sizeof(*sorted), cmp_target);
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_record *rec = kiln_state_get(st, sorted[i]->name);
		const char *e;

		/* A side effect is not an artifact: its record is the deployment log's. */
		if (!rec || sorted[i]->effect)
			continue;
		if (old && kiln_state_in_lock(st, rec) && (e = old_section(&o, rec->name)))
			take_section(b, &o, e);
		else
			made(b, &o, st, rec, &nmade);
	}
	flush_copy(b, &o);
	kiln_state_unhold(st);
	free(sorted);
}

void
kiln_lock_text(struct kiln_graph *g, struct kiln_state *st, struct buf *b)
{
	lock_text(g, st, b, NULL, 0);
}

/*
 * Kilnfile.lock, read through no link: one that is a symlink came with the
 * repository (kiln never makes one), and reading it would show a line of
 * whatever it points at in `kiln status --check`. NULL with errno; a link
 * is refused here, naming it (errno ELOOP). *sb gets its stat.
 */
static char *
read_lock(size_t *len, struct stat *sb)
{
	int fd = kiln_fs_openat(AT_FDCWD, LOCK_FILE, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	char *text = NULL;

	if (fd >= 0 && fstat(fd, sb) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		text = read_regular(fd, len);
	if (!text && errno == ELOOP) {
		error(LOCK_FILE " is a symlink, which kiln never makes: remove it (kiln neither reads nor replaces it)");
		errno = ELOOP;
	}
	return text;
}

/*
 * Is old (with stat sb) the lock text the state's lock record was written
 * from? Its stat must be the one recorded (the file was not replaced or
 * written to since: a clone's or a checkout's lock is another file) and its
 * bytes must hash to the digest of the text kiln wrote. Anything else is
 * read as a stranger's lock, which the text is then made without.
 */
static int
old_is_ours(const struct kiln_state *st, const char *old, size_t len, const struct stat *sb)
{
	const struct kiln_statrec *l = &st->lock;
	struct kiln_digest d;

	if (!old || !st->lock_gen || l->ino != (uint64_t)sb->st_ino || l->dev != (uint64_t)sb->st_dev ||
	    l->size != (uint64_t)len || l->mtime_ns != ns_of(&sb->st_mtim) || l->ctime_ns != ns_of(&sb->st_ctim) ||
	    len < strlen(LOCK_HEADER) || memcmp(old, LOCK_HEADER, strlen(LOCK_HEADER)) != 0)
		return 0;
	kiln_digest_buf(old, len, &d);
	return memcmp(d.b, l->digest.b, sizeof(d.b)) == 0;
}

/* Is the text of the pieces v[0..n) the old text? A run of the old text in its own place is. */
static int
same_text(const struct iovec *v, size_t n, const char *old, size_t oldlen)
{
	size_t i, off = 0;

	for (i = 0; old && i < n; off += v[i++].iov_len)
		if (off + v[i].iov_len > oldlen ||
		    (v[i].iov_base != old + off && memcmp(v[i].iov_base, old + off, v[i].iov_len) != 0))
			return 0;
	return old && off == oldlen;
}

/* Write the pieces as Kilnfile.lock unless they are its text already; *d gets their digest. 0, or -1 said. */
static int
write_pieces(struct pieces *pc, const char *old, size_t oldlen, struct kiln_digest *d)
{
	struct iovec *v = xreallocarray(NULL, pc->n + 1, sizeof(*v));
	struct kiln_hasher *h = kiln_hasher_new();
	size_t i;
	int r = 0;

	for (i = 0; i < pc->n; i++) {
		v[i].iov_base = (void *)(pc->v[i].p ? pc->v[i].p : pc->made.s + pc->v[i].off);
		v[i].iov_len = pc->v[i].len;
		kiln_hasher_add(h, v[i].iov_base, v[i].iov_len);
	}
	kiln_hasher_digest(h, d);
	kiln_hasher_free(h);
	if (!same_text(v, pc->n, old, oldlen) && write_file_atomic_iov(LOCK_FILE, v, pc->n, 0644, 0) < 0)
		r = error("cannot write " LOCK_FILE ":");
	free(v);
	return r;
}

int
kiln_lock_write(struct kiln_graph *g, struct kiln_state *st, int force)
{
	struct buf b = BUF_INIT;
	struct pieces pc = {NULL, 0, 0, BUF_INIT};
	struct kiln_digest d, gid;
	struct stat sb;
	size_t len;
	char *old;
	int r, ours, known;

	/* Nothing recorded and the file is as we left it: the text would be the same. */
	if (!force && !st->dirty && stat(LOCK_FILE, &sb) == 0 && st->lock.path &&
	    st->lock.ino == (uint64_t)sb.st_ino && st->lock.size == (uint64_t)sb.st_size &&
	    st->lock.mtime_ns == ns_of(&sb.st_mtim))
		return 0;
	if (!(old = read_lock(&len, &sb)) && errno == ELOOP)
		return -1;
	ours = !force && old_is_ours(st, old, len, &sb);
	known = kiln_graphcache_id(g, &gid) == 0;
	if (ours && known && kiln_state_lock_from(st, &gid)) {
		lock_patch(g, st, &pc, old, len);
	} else {
		lock_text(g, st, &b, ours ? old : NULL, len);
		add_piece(&pc, b.s, 0, b.len);
	}
	r = write_pieces(&pc, old, len, &d);
	free(old);
	free(pc.v);
	buf_release(&pc.made);
	buf_release(&b);
	if (r == 0 && stat(LOCK_FILE, &sb) == 0)
		kiln_state_put_lock(st, &sb, &d, known ? &gid : NULL);
	return r;
}

int
kiln_lock_matches(struct kiln_graph *g, struct kiln_state *st)
{
	struct buf b = BUF_INIT;
	struct stat sb;
	size_t len, i;
	char *old;
	int same;

	if (!(old = read_lock(&len, &sb))) {
		if (errno == ELOOP)
			return 0;
		printf("Kilnfile.lock: %s\n", errno == ENOENT ? "missing (run kiln build)" : strerror(errno));
		return 0;
	}
	kiln_lock_text(g, st, &b);
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

char *
kiln_lock_unescape(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (r[0] == '\\' && r[1] == '\\') {
			*w++ = '\\';
			r += 2;
		} else if (r[0] == '\\' && r[1] == 'n') {
			*w++ = '\n';
			r += 2;
		} else if (r[0] == '\\' && r[1] == 'x' && r[2] && r[3]) {
			char hex[3] = {r[2], r[3], 0};

			*w++ = (char)strtol(hex, NULL, 16);
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return s;
}

static struct kiln_lock_entry *
add_entry(struct kiln_lockfile *lf, const char *target, int kind, char *name)
{
	struct kiln_lock_entry *e;

	lf->v = xreallocarray(lf->v, lf->n + 1, sizeof(*lf->v));
	e = &lf->v[lf->n++];
	memset(e, 0, sizeof(*e));
	e->target = xstrdup(target);
	e->kind = kind;
	e->name = name ? xstrdup(kiln_lock_unescape(name)) : NULL;
	return e;
}

/* A number written by kiln: all of s is one. */
static int
number(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return end != s && !*end;
}

/* "<path> <digest> <size>": the path may hold spaces, so parse from the end. */
static void
parse_out(struct kiln_lockfile *lf, const char *target, char *rest)
{
	char *size = strrchr(rest, ' '), *dig;
	struct kiln_digest d;
	struct kiln_lock_entry *e;

	if (!size || size <= rest)
		return;
	*size++ = '\0';
	dig = strrchr(rest, ' ');
	if (!dig || kiln_digest_parse(dig + 1, &d) < 0)
		return;
	*dig = '\0';
	e = add_entry(lf, target, KILN_LOCK_OUT, rest);
	e->d = d;
	e->size = strtoull(size, NULL, 10);
}

static void
parse_line(struct kiln_lockfile *lf, char *line)
{
	char *sp = strchr(line, ' '), *kind, *rest, *v;
	struct kiln_lock_entry *e;
	struct kiln_digest d;
	double x;

	if (!sp)
		return;
	*sp = '\0';
	kind = sp + 1;
	rest = strchr(kind, ' ');
	if (rest)
		*rest++ = '\0';
	if (strcmp(kind, "key") == 0 && rest && kiln_digest_parse(rest, &d) == 0) {
		add_entry(lf, line, KILN_LOCK_KEY, NULL)->d = d;
	} else if (strcmp(kind, "out") == 0 && rest) {
		parse_out(lf, line, rest);
	} else if (strcmp(kind, "metric") == 0 && rest && (v = strrchr(rest, ' ')) && number(v + 1, &x)) {
		*v = '\0';
		e = add_entry(lf, line, KILN_LOCK_METRIC, rest);
		e->value = x;
		e->number = 1;
	} else if (strcmp(kind, "param") == 0 && rest && (v = strchr(rest, ' '))) {
		*v++ = '\0';
		e = add_entry(lf, line, KILN_LOCK_PARAM, rest);
		e->text = xstrdup(v);
		e->number = number(v, &e->value);
	} else if (strcmp(kind, "unsandboxed") == 0 && !rest) {
		add_entry(lf, line, KILN_LOCK_UNSANDBOXED, NULL);
	}
}

int
kiln_lock_parse(struct kiln_lockfile *lf, const char *text, size_t len)
{
	char *copy = xstrndup(text, len), *line, *save = NULL;
	int ok = 0;

	memset(lf, 0, sizeof(*lf));
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		if (strcmp(line, "kiln-lock 1") == 0)
			ok = 1;
		else if (ok)
			parse_line(lf, line);
	}
	free(copy);
	if (!ok) {
		kiln_lockfile_release(lf);
		return -1;
	}
	return 0;
}

int
kiln_lock_read(struct kiln_lockfile *lf, const char *path)
{
	size_t len;
	char *text = read_file(path, &len);
	int r;

	memset(lf, 0, sizeof(*lf));
	if (!text)
		return -1;
	r = kiln_lock_parse(lf, text, len);
	free(text);
	if (r < 0)
		errno = EINVAL;
	return r;
}

void
kiln_lockfile_release(struct kiln_lockfile *lf)
{
	size_t i;

	for (i = 0; i < lf->n; i++) {
		free(lf->v[i].target);
		free(lf->v[i].name);
		free(lf->v[i].text);
	}
	free(lf->v);
	memset(lf, 0, sizeof(*lf));
}
