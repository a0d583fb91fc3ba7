/*
 * statuspipe: the status-pipe protocol. See statuspipe.h for the lines.
 *
 * The writer cleans what it is given so that every line it writes parses
 * back to the same message; the reader refuses what no writer here makes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "statuspipe.h"
#include "util.h"

/* Longest progress unit and metric name, as readers have always kept them. */
#define MAXUNIT 31
#define MAXNAME 255

/* The line's first word for each type. */
static const char *const words[] = {
	[KILN_MSG_PROGRESS] = "progress",
	[KILN_MSG_METRIC] = "metric",
	[KILN_MSG_FAIL] = "fail",
	[KILN_MSG_JOB] = "slurm-job",
	[KILN_MSG_DONE] = "slurm-done",
	[KILN_MSG_WARN] = "warn",
	[KILN_MSG_SAME] = "same",
};

/* What follows "fail:" for each kind; KILN_FAIL_STEP is a plain "fail". */
static const char *const kinds[] = {
	[KILN_FAIL_START] = "start",
	[KILN_FAIL_INPUT_MISSING] = "missing-input",
	[KILN_FAIL_OUTPUT_MISSING] = "missing-output",
	[KILN_FAIL_TIMEOUT] = "timeout",
	[KILN_FAIL_STOPPED] = "stopped",
	[KILN_FAIL_LIMIT] = "limit",
};

/* Append s as a word: blanks and control characters become '_', at most max bytes, `none` if empty. */
static void
addword(struct buf *b, const char *s, size_t max, const char *none)
{
	size_t i;

	if (!s || !*s) {
		buf_adds(b, none);
		return;
	}
	for (i = 0; s[i] && i < max; i++)
		buf_addc(b, (unsigned char)s[i] <= ' ' || s[i] == 0x7f ? '_' : s[i]);
}

/* Append msg escaped: newlines and backslashes, the two characters a reader must tell apart. */
static void
escape(struct buf *b, const char *msg)
{
	for (; msg && *msg; msg++) {
		if (*msg == '\n')
			buf_adds(b, "\\n");
		else if (*msg == '\\')
			buf_adds(b, "\\\\");
		else
			buf_addc(b, *msg);
	}
}

/* Undo escape() in place; any other backslash stays as it is. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && (s[1] == 'n' || s[1] == '\\'))
			*o++ = *++s == 'n' ? '\n' : '\\';
		else
			*o++ = *s;
	}
	*o = '\0';
}

void
kiln_statuspipe_format(struct buf *b, const struct kiln_status_msg *m)
{
	char num[64];

	switch (m->type) {
	case KILN_MSG_PROGRESS:
		buf_printf(b, "%s %.17g %.17g ", words[m->type], m->done, m->total);
		addword(b, m->unit, MAXUNIT, "-");
		break;
	case KILN_MSG_METRIC:
		buf_printf(b, "%s ", words[m->type]);
		addword(b, m->name, MAXNAME, "_");
		snprintf(num, sizeof(num), " %.17g", m->value);
		buf_adds(b, num);
		break;
	case KILN_MSG_FAIL:
		buf_adds(b, words[m->type]);
		if (m->kind != KILN_FAIL_STEP && (size_t)m->kind < LEN(kinds) && kinds[m->kind])
			buf_printf(b, ":%s", kinds[m->kind]);
		buf_addc(b, ' ');
		escape(b, m->text);
		break;
	case KILN_MSG_JOB:
		buf_printf(b, "%s %ld ", words[m->type], m->job);
		addword(b, m->node, MAXNAME, "?");
		break;
	case KILN_MSG_DONE:
		buf_adds(b, words[m->type]);
		break;
	case KILN_MSG_WARN:
		buf_printf(b, "%s ", words[m->type]);
		escape(b, m->text);
		break;
	case KILN_MSG_SAME:
		buf_printf(b, "%s ", words[m->type]);
		addword(b, m->name, MAXNAME, "_");
		buf_addc(b, ' ');
		escape(b, m->text);
		break;
	case KILN_MSG_NONE:
		die("statuspipe: no message to format");
	}
	buf_addc(b, '\n');
}

int
kiln_statuspipe_send(int fd, const char *prefix, const struct kiln_status_msg *m)
{
	struct buf b = BUF_INIT;
	int r;

	if (prefix)
		buf_adds(&b, prefix);
	kiln_statuspipe_format(&b, m);
	r = write_all(fd, b.s, b.len);
	buf_release(&b);
	return r;
}

/* A whole field as a number, or -1. */
static int
number(const char *s, double *out)
{
	char *end;

	if (!*s)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return *end || errno == EINVAL ? -1 : 0;
}

/* Cut the next space-separated field off *s; NULL if there is none. */
static char *
field(char **s)
{
	char *f = *s, *sp;

	if (!f || !*f)
		return NULL;
	sp = strchr(f, ' ');
	if (sp)
		*sp++ = '\0';
	*s = sp;
	return f;
}

static int
parse_fail(const char *kind, char *rest, struct kiln_status_msg *m)
{
	size_t i;

	m->kind = KILN_FAIL_STEP;
	/* A kind this kiln does not know is still a failure, with its message. */
	for (i = 0; kind && i < LEN(kinds); i++)
		if (kinds[i] && strcmp(kind, kinds[i]) == 0)
			m->kind = (enum kiln_fail_kind)i;
	if (!rest)
		return -1;
	unescape(rest);
	m->text = rest;
	return 0;
}

/* The fields after the first word, by type; 0 if they are what a writer makes. */
static int
parse_rest(struct kiln_status_msg *m, const char *kind, char *rest)
{
	char *a, *b;

	switch (m->type) {
	case KILN_MSG_PROGRESS:
		a = field(&rest);
		b = field(&rest);
		m->unit = field(&rest);
		return a && b && m->unit && !rest && number(a, &m->done) == 0 && number(b, &m->total) == 0 ? 0 : -1;
	case KILN_MSG_METRIC:
		m->name = field(&rest);
		a = field(&rest);
		return m->name && a && !rest && number(a, &m->value) == 0 ? 0 : -1;
	case KILN_MSG_FAIL:
		return parse_fail(kind, rest, m);
	case KILN_MSG_JOB:
		a = field(&rest);
		m->node = field(&rest);
		if (!a || !m->node || rest)
			return -1;
		m->job = strtol(a, &b, 10);
		return *b || m->job < 0 ? -1 : 0;
	case KILN_MSG_DONE:
		return rest ? -1 : 0;
	case KILN_MSG_WARN:
		if (!rest)
			return -1;
		unescape(rest);
		m->text = rest;
		return 0;
	case KILN_MSG_SAME:
		m->name = field(&rest);
		if (!m->name || !rest || !*rest)
			return -1;
		unescape(rest);
		m->text = rest;
		return 0;
	case KILN_MSG_NONE:
		break;
	}
	return -1;
}

int
kiln_statuspipe_parse(char *line, struct kiln_status_msg *m)
{
	char *rest = strchr(line, ' '), *kind = NULL, *colon;
	size_t i, len = strlen(line);

	memset(m, 0, sizeof(*m));
	if (rest)
		*rest++ = '\0';
	colon = strchr(line, ':');
	if (colon) {
		*colon = '\0';
		kind = colon + 1;
	}
	for (i = 1; i < LEN(words) && strcmp(line, words[i]) != 0; i++)
		;
	/* Only a failure has a kind. */
	if (i < LEN(words) && (!kind || i == KILN_MSG_FAIL)) {
		m->type = (enum kiln_msg_type)i;
		if (parse_rest(m, kind, rest) == 0)
			return 0;
	}
	/* Leave the line as it was: put back the blanks and the colon cut (only a parsed failure is unescaped). */
	for (i = 0; i < len; i++)
		if (!line[i])
			line[i] = line + i == colon ? ':' : ' ';
	memset(m, 0, sizeof(*m));
	return -1;
}

int
kiln_statuspipe_read(int fd, struct buf *partial, void (*fn)(void *arg, char *line), void *arg)
{
	char chunk[4096];
	ssize_t n;

	for (;;) {
		char *nl;

		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_add(partial, chunk, (size_t)n);
		while ((nl = memchr(partial->s, '\n', partial->len))) {
			size_t len = (size_t)(nl - partial->s) + 1;

			*nl = '\0';
			fn(arg, partial->s);
			memmove(partial->s, partial->s + len, partial->len - len);
			partial->len -= len;
			partial->s[partial->len] = '\0';
		}
	}
	return n == 0 ? 0 : 1;
}
