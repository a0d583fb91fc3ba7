/*
 * gate: accept, look at the first request's head, hand it on (see gate.h).
 *
 * One thread, one epoll set, edge-triggered: a held connection is looked
 * at again only when more bytes arrive, and each look peeks at what has
 * come so far (at most GATE_MAX_HEAD bytes), so a client trickling bytes
 * costs one small peek per segment. A connection answered with an error
 * lingers a second, reading and dropping, before it is closed: closing a
 * socket with unread bytes sends a reset that can destroy the answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "gate.h"
#include "../plugins/lib/util.h"

#define LINGER_S 1.0

struct held {
	struct held *prev, *next;
	int fd;
	struct sockaddr_storage addr;
	socklen_t alen;
	double deadline;	/* CLOCK_MONOTONIC seconds */
	int closing;		/* answered: reading and dropping until EOF or the deadline */
};

struct gate {
	struct MHD_Daemon *d;
	int listen_fd, ep, stop_pipe[2];
	long max_conns, per_addr, nheld;
	double header_s;
	struct held *head;
	pthread_t thread;
};


static void
drop(struct gate *g, struct held *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		g->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	g->nheld--;
	close(h->fd);	/* also leaves the epoll set */
	free(h);
}

static const char *
reason(int code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* Answer {"error": msg, "code": code}, close the sending side, and linger. */
static void
refuse(struct held *h, int code, const char *msg)
{
	char esc[400], json[512], out[1024];
	size_t i, n = 0;
	int jl, len;

	/* msg is the gate's own text, but may quote the client's bytes: escape it for JSON. */
	for (i = 0; msg[i] && n + 8 < sizeof(esc); i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c == '"' || c == '\\')
			n += (size_t)snprintf(esc + n, sizeof(esc) - n, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n += (size_t)snprintf(esc + n, sizeof(esc) - n, "\\u%04x", c);
		else
			esc[n++] = (char)c;
	}
	esc[n] = '\0';
	jl = snprintf(json, sizeof(json), "{\"error\":\"%s\",\"code\":%d}", esc, code);
	len = snprintf(out, sizeof(out), "HTTP/1.1 %d %s\r\nConnection: close\r\n"
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		code, reason(code), jl, json);
	if (send(h->fd, out, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the client is gone: the close below is all there is to do */
	}
	shutdown(h->fd, SHUT_WR);
	h->closing = 1;
	h->deadline = kp_now() + LINGER_S;
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		(c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The request line: METHOD SP TARGET SP HTTP/1.x. */
static int
request_line(const char *p, size_t n, int *http11, char *msg, size_t size)
{
	size_t i = 0, t;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i > 32 || i >= n || p[i] != ' ') {
		snprintf(msg, size, "malformed request line: expected METHOD TARGET HTTP/1.1");
		return 400;
	}
	for (t = ++i; i < n && (unsigned char)p[i] > ' ' && p[i] != 0x7f; i++)
		;
	if (i == t || i >= n || p[i] != ' ') {
		snprintf(msg, size, "malformed request line: expected METHOD TARGET HTTP/1.1");
		return 400;
	}
	p += i + 1;
	n -= i + 1;
	if (n == 8 && (memcmp(p, "HTTP/1.1", 8) == 0 || memcmp(p, "HTTP/1.0", 8) == 0)) {
		*http11 = p[7] == '1';
		return 0;
	}
	if (n == 8 && memcmp(p, "HTTP/", 5) == 0 && p[5] >= '0' && p[5] <= '9' && p[6] == '.' &&
	    p[7] >= '0' && p[7] <= '9') {
		snprintf(msg, size, "HTTP version '%.8s' is not supported: HTTP/1.0 and HTTP/1.1 are", p);
		return 505;
	}
	snprintf(msg, size, "malformed request line: expected METHOD TARGET HTTP/1.1");
	return 400;
}

/* What the headers said, across lines. */
struct seen {
	int host, te, cl;
	char len[24];	/* the first Content-Length */
};

/* One header line, name: value. */
static int
header_line(const char *p, size_t n, struct seen *s, char *msg, size_t size)
{
	const char *colon = memchr(p, ':', n), *v, *e = p + n;
	size_t i, k;

	if (p[0] == ' ' || p[0] == '\t') {
		snprintf(msg, size, "a header line folded onto the one before (obsolete line folding)");
		return 400;
	}
	for (i = 0; p + i < (colon ? colon : e) && is_tchar((unsigned char)p[i]); i++)
		;
	if (!colon || i == 0 || p + i != colon) {
		snprintf(msg, size, "malformed header line '%.*s': expected name: value",
			(int)(n > 40 ? 40 : n), p);
		return 400;
	}
	for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (k = 0; v + k < e; k++)
		if (((unsigned char)v[k] < 0x20 && v[k] != '\t') || v[k] == 0x7f) {
			snprintf(msg, size, "header '%.*s' holds a control byte", (int)(i > 40 ? 40 : i), p);
			return 400;
		}
	if (i == 4 && strncasecmp(p, "host", 4) == 0)
		s->host++;
	if (i == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
		if (e - v != 7 || strncasecmp(v, "chunked", 7) != 0) {
			snprintf(msg, size, "Transfer-Encoding '%.*s' is not supported: send the body as "
				"it is, or chunked", (int)(e - v > 40 ? 40 : e - v), v);
			return 400;
		}
		s->te = 1;
	}
	if (i == 14 && strncasecmp(p, "content-length", 14) == 0) {
		for (k = 0; v + k < e && v[k] >= '0' && v[k] <= '9'; k++)
			;
		if (k == 0 || v + k != e || k > 18) {
			snprintf(msg, size, "Content-Length '%.*s' is not a number of bytes",
				(int)(e - v > 40 ? 40 : e - v), v);
			return 400;
		}
		if (s->cl && (strlen(s->len) != k || memcmp(s->len, v, k) != 0)) {
			snprintf(msg, size, "two Content-Length headers that differ");
			return 400;
		}
		memcpy(s->len, v, k);
		s->len[k] = '\0';
		s->cl = 1;
	}
	return 0;
}

int
gate_check_head(const char *head, size_t len, char *msg, size_t size)
{
	const char *p = head, *end = head + len, *nl;
	struct seen s = { 0, 0, 0, "" };
	int http11 = 0, code, first = 1;
	size_t n;

	/* RFC 9112 2.2: a server should ignore empty lines before the request line. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
		n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;	/* the blank line: the head is whole */
		if (memchr(p, '\r', n) || memchr(p, '\0', n)) {
			snprintf(msg, size, "a stray CR or NUL byte in the request head");
			return 400;
		}
		code = first ? request_line(p, n, &http11, msg, size) : header_line(p, n, &s, msg, size);
		if (code)
			return code;
		first = 0;
	}
	if (s.te && s.cl) {
		snprintf(msg, size, "both Content-Length and Transfer-Encoding: send one or the other");
		return 400;
	}
	if (http11 && s.host != 1) {
		snprintf(msg, size, "an HTTP/1.1 request needs one Host header, this one has %d", s.host);
		return 400;
	}
	return 0;
}

/* Hand h to libmicrohttpd, which owns (and on refusal closes) the socket from now on. */
static void
pass(struct gate *g, struct held *h)
{
	epoll_ctl(g->ep, EPOLL_CTL_DEL, h->fd, NULL);
	/* Refused (libmicrohttpd's limits, memory): it has closed the socket. */
	(void)MHD_add_connection(g->d, h->fd, (struct sockaddr *)&h->addr, h->alen);
	h->fd = -1;
	if (h->prev)
		h->prev->next = h->next;
	else
		g->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	g->nheld--;
	free(h);
}

/* End of the head in buf[0..n): past its blank line, or 0 when not yet there. */
static size_t
head_end(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* More bytes came (or the peer closed): look at what is there. */
static void
look(struct gate *g, struct held *h)
{
	static char buf[GATE_MAX_HEAD + 1];	/* the gate's thread alone uses it */
	char msg[256];
	ssize_t n;
	size_t end;
	int code;

	if (h->closing) {
		while ((n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			drop(g, h);
		return;
	}
	n = recv(h->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		drop(g, h);
		return;
	}
	end = head_end(buf, (size_t)n);
	if (!end) {
		if ((size_t)n > GATE_MAX_HEAD) {
			snprintf(msg, sizeof(msg), "request headers over %d bytes", GATE_MAX_HEAD);
			refuse(h, 431, msg);
		}
		return;
	}
	code = gate_check_head(buf, end, msg, sizeof(msg));
	if (code)
		refuse(h, code, msg);
	else
		pass(g, h);
}

/* How many connections the gate holds from h's address. */
static long
from_same(const struct gate *g, const struct sockaddr_storage *a)
{
	const struct held *h;
	long n = 0;

	for (h = g->head; h; h = h->next)
		if (h->addr.ss_family == AF_INET && a->ss_family == AF_INET &&
		    ((const struct sockaddr_in *)&h->addr)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)a)->sin_addr.s_addr)
			n++;
	return n;
}

static void
accept_all(struct gate *g)
{
	for (;;) {
		struct held *h = kp_xcalloc(1, sizeof(*h));
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };

		h->alen = sizeof(h->addr);
		h->fd = accept4(g->listen_fd, (struct sockaddr *)&h->addr, &h->alen,
			SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (h->fd < 0) {
			free(h);
			return;	/* EAGAIN, or out of descriptors: the next event tries again */
		}
		/* Over a limit: closed at once, as libmicrohttpd does with its own. */
		if (g->nheld >= g->max_conns || from_same(g, &h->addr) >= g->per_addr) {
			close(h->fd);
			free(h);
			continue;
		}
		h->deadline = kp_now() + g->header_s;
		h->next = g->head;
		if (g->head)
			g->head->prev = h;
		g->head = h;
		g->nheld++;
		ev.data.ptr = h;
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, h->fd, &ev) < 0)
			drop(g, h);
	}
}

static void
expire(struct gate *g)
{
	struct held *h, *next;
	double t = kp_now();
	char msg[96];

	for (h = g->head; h; h = next) {
		next = h->next;
		if (t < h->deadline)
			continue;
		if (h->closing) {
			drop(g, h);
			continue;
		}
		snprintf(msg, sizeof(msg), "request headers not received within %g s", g->header_s);
		refuse(h, 408, msg);
	}
}

static void *
run(void *arg)
{
	struct gate *g = arg;
	struct epoll_event evs[64];
	int i, n;

	for (;;) {
		n = epoll_wait(g->ep, evs, 64, 100);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &g->listen_fd)
				accept_all(g);
			else if (evs[i].data.ptr == g->stop_pipe)
				return NULL;
			else
				look(g, evs[i].data.ptr);
		}
		expire(g);
	}
}

struct gate *
gate_start(int listen_fd, struct MHD_Daemon *d, long max_conns, long per_addr, double header_s)
{
	struct gate *g = kp_xcalloc(1, sizeof(*g));
	struct epoll_event ev = { .events = EPOLLIN };

	g->d = d;
	g->listen_fd = listen_fd;
	g->max_conns = max_conns;
	g->per_addr = per_addr;
	g->header_s = header_s;
	/* accept_all takes connections until EAGAIN: it must not block. */
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	if (g->ep < 0 || pipe2(g->stop_pipe, O_CLOEXEC) < 0)
		goto fail;
	ev.data.ptr = &g->listen_fd;
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
		goto fail;
	ev.data.ptr = g->stop_pipe;
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, g->stop_pipe[0], &ev) < 0)
		goto fail;
	if (pthread_create(&g->thread, NULL, run, g) == 0)
		return g;
fail:
	if (g->ep >= 0)
		close(g->ep);
	free(g);
	return NULL;
}

void
gate_stop(struct gate *g)
{
	if (write(g->stop_pipe[1], "x", 1) < 0) {
		/* a fresh pipe has room for a byte */
	}
	pthread_join(g->thread, NULL);
	while (g->head)
		drop(g, g->head);
	close(g->listen_fd);
	close(g->ep);
	close(g->stop_pipe[0]);
	close(g->stop_pipe[1]);
	free(g);
}
