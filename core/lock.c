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

#include <jansson.h>

#include "fs.h"
#include "graph.h"
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

/* The lock text for every target of the graph that the state has a record of. */
void
kiln_lock_text(struct kiln_graph *g, struct kiln_state *st, struct buf *b)
{
	struct kiln_target **sorted = xreallocarray(NULL, g->ntargets + 1, sizeof(*sorted));
	char hex[KILN_DIGEST_HEX];
	const char *p, *nl;
	size_t i, k;

	memcpy(sorted, g->targets, g->ntargets * sizeof(*sorted));
	sort(sorted, g->ntargets, sizeof(*sorted), cmp_target);
	buf_adds(b, LOCK_HEADER);
	/* Every record's params are read: the state file once, not a pread per target. */
	kiln_state_hold(st);
	for (i = 0; i < g->ntargets; i++) {
		struct kiln_record *rec = kiln_state_get(st, sorted[i]->name);

		/* A side effect is not an artifact: its record is the deployment log's. */
		if (!rec || sorted[i]->effect)
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
	kiln_state_unhold(st);
	free(sorted);
}

/*
 * Kilnfile.lock, read through no link: one that is a symlink came with the
 * repository (kiln never makes one), and reading it would show a line of
 * whatever it points at in `kiln status --check`. NULL with errno; a link
 * is refused here, naming it (errno ELOOP).
 */
static char *
read_lock(size_t *len)
{
	char *text = kiln_fs_read(AT_FDCWD, LOCK_FILE, len);

	if (!text && errno == ELOOP) {
		error(LOCK_FILE " is a symlink, which kiln never makes: remove it (kiln neither reads nor replaces it)");
		errno = ELOOP;
	}
	return text;
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
	if (!(old = read_lock(&len)) && errno == ELOOP)
		return -1;
	kiln_lock_text(g, st, &b);
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

	if (!(old = read_lock(&len))) {
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
