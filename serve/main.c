/*
 * kiln-serve: an HTTP model server for a model folder kiln built.
 *
 *	kiln-serve --model DIR [--name NAME] [--host ADDR] [--port N]
 *	           [--threads N] [--max-body BYTES] [--max-connections N]
 *	           [--max-per-address N] [--header-timeout S] [--body-timeout S]
 *
 * Routes (the request shapes of TensorFlow Serving and KServe v1):
 *	POST /v1/models/NAME:predict	{"instances": [[...], ...] or [{col: v}, ...]}
 *	GET  /v1/models/NAME		kind, inputs, classes, model digest
 *	GET  /healthz			{"status": "ok"}
 *	GET  /metrics			Prometheus text
 *
 * libmicrohttpd runs a pool of threads, each with its own epoll loop; the
 * model is read-only once loaded, so requests share it without locks.
 * Counters are atomics. libmicrohttpd bounds the connections, in all and
 * per client address; the guard (guard.c) gives the headers and the body
 * absolute deadlines, which libmicrohttpd's idle timeout is not. The main thread waits for SIGTERM or SIGINT, then
 * stops the daemon (which finishes the requests in flight) and exits 0.
 */
#include <arpa/inet.h>
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gate.h"
#include "guard.h"
#include "predict.h"
#include "../plugins/lib/model.h"
#include "../plugins/lib/util.h"

#define SERVE_VERSION "1.0"

/* Latency histogram bounds, in seconds (Prometheus "le"). */
static const double bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* Status codes counted one by one; anything else is "other". */
static const int codes[] = { 200, 400, 404, 405, 413, 500 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))

struct stats {
	atomic_ullong requests[NCODES + 1];
	atomic_ullong predictions;		/* instances predicted */
	atomic_ullong buckets[NBOUNDS + 1];	/* non-cumulative; the last is +Inf */
	atomic_ullong sum_ns;
	atomic_ullong count;
};

/* The limits a client cannot pass; flags, else KILN_SERVE_* variables, else defaults. */
struct limits {
	size_t max_body;	/* bytes */
	long max_conns;		/* connections open at once, all clients */
	long per_addr;		/* connections open at once from one address */
	double header_s;	/* from a request's first byte (or the last answer) to its headers' end */
	double body_s;		/* from the headers' end to the answer */
	double idle_s;		/* libmicrohttpd's timeout: no byte in either direction */
};

struct server {
	struct predictor p;
	struct limits lim;
	struct guard *guard;
	struct stats st;
};

/* Per-request state, kept in MHD's con_cls between calls. */
struct req {
	struct timespec start;
	struct gconn *conn;	/* the guard's record of its connection */
	char *body;
	size_t len, cap;
	int too_big;
};

static void
usage(FILE *f)
{
	fputs("usage: kiln-serve --model DIR [--name NAME] [--host ADDR] [--port N]\n"
	      "                  [--threads N] [--max-body BYTES] [--max-connections N]\n"
	      "                  [--max-per-address N] [--header-timeout S] [--body-timeout S]\n"
	      "\n"
	      "Serve the model in DIR (model.safetensors and model.json, as kiln's train\n"
	      "plugin writes them) over HTTP:\n"
	      "  POST /v1/models/NAME:predict  {\"instances\": [[...]] or [{\"col\": value}]}\n"
	      "  GET  /v1/models/NAME          model metadata\n"
	      "  GET  /healthz                 liveness\n"
	      "  GET  /metrics                 Prometheus metrics\n"
	      "\n"
	      "  --name NAME       the model's name in URLs (default: DIR's last component)\n"
	      "  --host ADDR       IPv4 address to listen on (default 0.0.0.0)\n"
	      "  --port N          port (default 8080; 0 picks a free one, printed at start)\n"
	      "  --threads N       worker threads (default: the number of CPUs, at most 16)\n"
	      "  --max-body BYTES  largest request body accepted (default 1048576)\n"
	      "  --max-connections N  connections open at once (default 1024)\n"
	      "  --max-per-address N  connections open at once from one address (default 64)\n"
	      "  --header-timeout S   seconds a request's headers may take, in all (default 10)\n"
	      "  --body-timeout S     seconds from the headers to the answer (default 30)\n"
	      "\n"
	      "Each default can also be set in the environment: KILN_SERVE_MAX_BODY,\n"
	      "KILN_SERVE_MAX_CONNECTIONS, KILN_SERVE_MAX_PER_ADDRESS,\n"
	      "KILN_SERVE_HEADER_TIMEOUT, KILN_SERVE_BODY_TIMEOUT; a flag wins.\n", f);
}

static __attribute__((noreturn, format(printf, 1, 2))) void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("kiln-serve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static double
since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
count(struct server *s, int code, const struct timespec *start)
{
	double d = since(start);
	size_t i;

	for (i = 0; i < NCODES && codes[i] != code; i++)
		;
	atomic_fetch_add(&s->st.requests[i], 1);
	for (i = 0; i < NBOUNDS && d > bounds[i]; i++)
		;
	atomic_fetch_add(&s->st.buckets[i], 1);
	atomic_fetch_add(&s->st.sum_ns, (unsigned long long)(d * 1e9));
	atomic_fetch_add(&s->st.count, 1);
}

/* Queue a response that owns `text`. */
static enum MHD_Result
reply(struct MHD_Connection *c, struct server *s, struct req *r, int code,
	const char *type, char *text)
{
	struct MHD_Response *res;
	enum MHD_Result ret;

	res = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!res) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(res, "Content-Type", type);
	if (r->conn)
		guard_answer(s->guard, r->conn);
	ret = MHD_queue_response(c, (unsigned)code, res);
	MHD_destroy_response(res);
	count(s, code, &r->start);
	return ret;
}

static enum MHD_Result
reply_json(struct MHD_Connection *c, struct server *s, struct req *r, int code, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));

	json_decref(j);
	if (!text)
		return MHD_NO;
	return reply(c, s, r, code, "application/json", text);
}

static enum MHD_Result
reply_error(struct MHD_Connection *c, struct server *s, struct req *r, int code, const char *msg)
{
	return reply_json(c, s, r, code, json_pack("{s:s, s:i}", "error", msg, "code", code));
}

static char *
metrics_text(struct server *s)
{
	char *buf = NULL;
	size_t len = 0, i;
	unsigned long long cum = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputs("# HELP kiln_serve_requests_total HTTP requests answered, by status code.\n"
	      "# TYPE kiln_serve_requests_total counter\n", f);
	for (i = 0; i <= NCODES; i++) {
		char code[16];

		if (i < NCODES)
			snprintf(code, sizeof(code), "%d", codes[i]);
		else
			snprintf(code, sizeof(code), "other");
		fprintf(f, "kiln_serve_requests_total{code=\"%s\"} %llu\n", code,
			atomic_load(&s->st.requests[i]));
	}
	for (i = 1, cum = 0; i <= NCODES; i++)
		cum += atomic_load(&s->st.requests[i]);
	fprintf(f, "# HELP kiln_serve_errors_total Requests answered with an error status.\n"
		   "# TYPE kiln_serve_errors_total counter\n"
		   "kiln_serve_errors_total %llu\n", cum);
	fprintf(f, "# HELP kiln_serve_predictions_total Instances predicted.\n"
		   "# TYPE kiln_serve_predictions_total counter\n"
		   "kiln_serve_predictions_total %llu\n", atomic_load(&s->st.predictions));
	fputs("# HELP kiln_serve_request_duration_seconds Time from request to response.\n"
	      "# TYPE kiln_serve_request_duration_seconds histogram\n", f);
	for (i = 0, cum = 0; i < NBOUNDS; i++) {
		cum += atomic_load(&s->st.buckets[i]);
		fprintf(f, "kiln_serve_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], cum);
	}
	cum += atomic_load(&s->st.buckets[NBOUNDS]);
	fprintf(f, "kiln_serve_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	fprintf(f, "kiln_serve_request_duration_seconds_sum %.9f\n",
		(double)atomic_load(&s->st.sum_ns) / 1e9);
	fprintf(f, "kiln_serve_request_duration_seconds_count %llu\n", atomic_load(&s->st.count));
	fclose(f);
	return buf;
}

/* The model name in a /v1/models/NAME[:predict] path, or NULL. */
static int
model_path(const char *url, const char **name, size_t *len, int *predict)
{
	const char *pre = "/v1/models/", *colon;

	if (strncmp(url, pre, strlen(pre)) != 0)
		return 0;
	*name = url + strlen(pre);
	colon = strchr(*name, ':');
	*predict = colon != NULL;
	*len = colon ? (size_t)(colon - *name) : strlen(*name);
	return !colon || strcmp(colon, ":predict") == 0;
}

static enum MHD_Result
route(struct MHD_Connection *c, struct server *s, struct req *r, const char *url, const char *method)
{
	const char *name;
	size_t len;
	int predict, get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	char err[KP_ERRLEN];

	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
		if (!get)
			return reply_error(c, s, r, 405, "use GET");
		if (url[1] == 'h')
			return reply_json(c, s, r, 200, json_pack("{s:s}", "status", "ok"));
		char *m = metrics_text(s);
		return m ? reply(c, s, r, 200, "text/plain; version=0.0.4", m) : MHD_NO;
	}
	if (!model_path(url, &name, &len, &predict))
		return reply_error(c, s, r, 404, "no such route; try POST /v1/models/NAME:predict");
	if (len != strlen(s->p.name) || strncmp(name, s->p.name, len) != 0) {
		snprintf(err, sizeof(err), "unknown model '%.*s'; this server has '%s'",
			(int)(len > 200 ? 200 : len), name, s->p.name);
		return reply_error(c, s, r, 404, err);
	}
	if (!predict) {
		if (!get)
			return reply_error(c, s, r, 405, "use GET");
		return reply_json(c, s, r, 200, json_incref(s->p.meta));
	}
	if (!post)
		return reply_error(c, s, r, 405, "use POST");
	if (r->too_big) {
		snprintf(err, sizeof(err), "request body over the limit of %zu bytes", s->lim.max_body);
		return reply_error(c, s, r, 413, err);
	}
	if (r->body && memchr(r->body, '\0', r->len)) {
		snprintf(err, sizeof(err), "request body has a NUL byte at offset %zu: "
			"a JSON body is text", (size_t)((char *)memchr(r->body, '\0', r->len) - r->body));
		return reply_error(c, s, r, 400, err);
	}
	{
		int status;
		json_t *res = predictor_run(&s->p, r->body ? r->body : "", r->len, &status, err);

		if (!res)
			return reply_error(c, s, r, status, err);
		atomic_fetch_add(&s->st.predictions,
			json_array_size(json_object_get(res, "predictions")));
		return reply_json(c, s, r, 200, res);
	}
}

/* The first call, headers in: refuse what the headers alone condemn. */
static enum MHD_Result
start(struct MHD_Connection *c, struct server *s, struct req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const char *cl, *te;
	char err[160];

	clock_gettime(CLOCK_MONOTONIC, &r->start);
	if (ci && ci->socket_context) {
		r->conn = ci->socket_context;
		guard_body(s->guard, r->conn);
	}
	/* libmicrohttpd knows only chunked; any other coding would be read until the client closes. */
	te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (te && strcasecmp(te, "chunked") != 0) {
		snprintf(err, sizeof(err), "Transfer-Encoding '%.40s' is not supported: "
			"send the body as it is, or chunked", te);
		return reply_error(c, s, r, 400, err);
	}
	/* A declared length over the limit is refused before the body is read. */
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > s->lim.max_body) {
		snprintf(err, sizeof(err), "request body over the limit of %zu bytes", s->lim.max_body);
		return reply_error(c, s, r, 413, err);
	}
	return MHD_YES;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct req *r = *con_cls;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		return start(c, s, r);
	}
	if (*upload_size) {
		/* Past the limit the rest is read and dropped, then refused whole. */
		if (!r->too_big && r->len + *upload_size > s->lim.max_body) {
			r->too_big = 1;
			free(r->body);
			r->body = NULL;
			r->len = r->cap = 0;
		}
		if (!r->too_big) {
			if (r->len + *upload_size + 1 > r->cap) {
				size_t cap = (r->len + *upload_size + 1) * 2;
				char *b = realloc(r->body, cap);

				if (!b)
					return MHD_NO;
				r->body = b;
				r->cap = cap;
			}
			memcpy(r->body + r->len, upload, *upload_size);
			r->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return route(c, s, r, url, method);
}

static void
done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct req *r = *con_cls;

	(void)c;
	(void)toe;
	if (r) {
		if (r->conn)
			guard_idle(s->guard, r->conn);
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

/* The listening socket, bound; the gate accepts on it. */
static int
listen_on(const struct sockaddr_in *addr, const char *host, long port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 || listen(fd, SOMAXCONN) < 0)
		die("cannot listen on %s:%ld: %s", host, port, strerror(errno));
	return fd;
}

/* A connection opened or closed: the guard follows it. */
static void
notify(void *cls, struct MHD_Connection *c, void **socket_context,
	enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			*socket_context = guard_open(s->guard, ci->connect_fd);
	} else if (*socket_context) {
		guard_close(s->guard, *socket_context);
		*socket_context = NULL;
	}
}

static int stop_pipe[2];

static void
on_signal(int sig)
{
	int e = errno;

	if (write(stop_pipe[1], &sig, sizeof(sig)) < 0) {
		/* nothing to do: the pipe is never full */
	}
	errno = e;
}

static long
number_arg(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		die("%s: expected an integer from %ld to %ld, got '%s'", opt, lo, hi, s);
	return v;
}

static double
seconds_arg(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.01 && v <= 86400))
		die("%s: expected seconds from 0.01 to 86400, got '%s'", opt, s);
	return v;
}

/* The defaults, changed by KILN_SERVE_* variables (checked as the flags are). */
static void
limits_init(struct limits *l)
{
	const char *v;

	l->max_body = (v = getenv("KILN_SERVE_MAX_BODY")) && *v ?
		(size_t)number_arg("KILN_SERVE_MAX_BODY", v, 1, 1L << 30) : 1 << 20;
	l->max_conns = (v = getenv("KILN_SERVE_MAX_CONNECTIONS")) && *v ?
		number_arg("KILN_SERVE_MAX_CONNECTIONS", v, 1, 1 << 20) : 1024;
	l->per_addr = (v = getenv("KILN_SERVE_MAX_PER_ADDRESS")) && *v ?
		number_arg("KILN_SERVE_MAX_PER_ADDRESS", v, 1, 1 << 20) : 64;
	l->header_s = (v = getenv("KILN_SERVE_HEADER_TIMEOUT")) && *v ?
		seconds_arg("KILN_SERVE_HEADER_TIMEOUT", v) : 10;
	l->body_s = (v = getenv("KILN_SERVE_BODY_TIMEOUT")) && *v ?
		seconds_arg("KILN_SERVE_BODY_TIMEOUT", v) : 30;
	l->idle_s = 30;
}

/*
 * Room for max_conns descriptors: raise the soft RLIMIT_NOFILE toward the
 * hard one, and lower the limit, with a warning, where even that is short.
 */
static void
fit_fd_limit(struct limits *l)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)l->max_conns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want) {
		l->max_conns = (long)rl.rlim_cur - 64 > 16 ? (long)rl.rlim_cur - 64 : 16;
		fprintf(stderr, "kiln-serve: warning: the file descriptor limit is %llu; "
			"--max-connections lowered to %ld\n", (unsigned long long)rl.rlim_cur, l->max_conns);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'}, {"name", required_argument, NULL, 'n'},
		{"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'},
		{"threads", required_argument, NULL, 't'}, {"max-body", required_argument, NULL, 'b'},
		{"max-connections", required_argument, NULL, 'C'},
		{"max-per-address", required_argument, NULL, 'A'},
		{"header-timeout", required_argument, NULL, 'T'},
		{"body-timeout", required_argument, NULL, 'B'},
		{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static struct server s;
	const char *dir = NULL, *name = NULL, *host = "0.0.0.0";
	long port = 8080, threads = sysconf(_SC_NPROCESSORS_ONLN);
	char err[KP_ERRLEN], *base, *copy = NULL;
	struct sockaddr_in addr;
	struct MHD_Daemon *d;
	struct gate *gate;
	socklen_t alen = sizeof(addr);
	struct sigaction sa;
	int o, sig = SIGTERM, lfd;

	limits_init(&s.lim);
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'm': dir = optarg; break;
		case 'n': name = optarg; break;
		case 'H': host = optarg; break;
		case 'p': port = number_arg("--port", optarg, 0, 65535); break;
		case 't': threads = number_arg("--threads", optarg, 1, 256); break;
		case 'b': s.lim.max_body = (size_t)number_arg("--max-body", optarg, 1, 1L << 30); break;
		case 'C': s.lim.max_conns = number_arg("--max-connections", optarg, 1, 1 << 20); break;
		case 'A': s.lim.per_addr = number_arg("--max-per-address", optarg, 1, 1 << 20); break;
		case 'T': s.lim.header_s = seconds_arg("--header-timeout", optarg); break;
		case 'B': s.lim.body_s = seconds_arg("--body-timeout", optarg); break;
		case 'h': usage(stdout); return 0;
		case 'V': puts("kiln-serve " SERVE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (threads > 16)
		threads = 16;
	if (threads < 1)
		threads = 1;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		die("--host: '%s' is not an IPv4 address", host);
	if (!name) {
		/* The folder's last component: "kiln-out/iris_model/" serves iris_model. */
		size_t n;

		copy = kp_xstrdup(dir);
		n = strlen(copy);

		while (n > 1 && copy[n - 1] == '/')
			copy[--n] = '\0';
		base = strrchr(copy, '/');
		name = base ? base + 1 : copy;
	}
	if (!*name || strchr(name, '/') || strchr(name, ':'))
		die("--name: '%s' is not a model name", name);
	/* Requests run on MHD's threads: one BLAS thread each, no oversubscription. */
	openblas_set_num_threads(1);
	if (predictor_load(&s.p, dir, name, err) < 0)
		die("%s", err);
	free(copy);	/* the predictor keeps its own copy of the name */

	/*
	 * OpenBLAS starts its threads before main, so blocking signals for a
	 * sigwait would not cover them: a handler writes the signal number to
	 * a pipe the main thread reads instead.
	 */
	if (pipe(stop_pipe) < 0)
		die("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fit_fd_limit(&s.lim);
	if ((long)threads > s.lim.max_conns)
		threads = s.lim.max_conns;	/* libmicrohttpd shares the limit among its threads */
	if (!(s.guard = guard_start(s.lim.header_s, s.lim.body_s)))
		die("cannot start the connection guard's thread");
	lfd = listen_on(&addr, host, port);
	/* The gate accepts; libmicrohttpd gets each connection once its first head is checked. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
		MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
		0, NULL, NULL, handle, &s,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
		MHD_OPTION_NOTIFY_COMPLETED, done, &s,
		MHD_OPTION_NOTIFY_CONNECTION, notify, &s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)s.lim.max_conns,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s.lim.per_addr,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s.lim.idle_s,
		MHD_OPTION_END);
	if (!d)
		die("cannot start libmicrohttpd: %s", errno ? strerror(errno) : "it refused the options");
	if (!(gate = gate_start(lfd, d, s.lim.max_conns, s.lim.per_addr, s.lim.header_s)))
		die("cannot start the gate's thread");
	getsockname(lfd, (struct sockaddr *)&addr, &alen);
	fprintf(stderr, "kiln-serve: model '%s' (%s, %zu features) on http://%s:%u/v1/models/%s:predict\n",
		s.p.name, kp_kind_name(s.p.m.kind), s.p.ninputs, host,
		(unsigned)ntohs(addr.sin_port), s.p.name);
	fflush(stderr);
	while (read(stop_pipe[0], &sig, sizeof(sig)) < 0 && errno == EINTR)
		;
	fprintf(stderr, "kiln-serve: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	gate_stop(gate);
	MHD_stop_daemon(d);
	guard_stop(s.guard);
	predictor_release(&s.p);
	return 0;
}
