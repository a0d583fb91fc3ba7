/*
 * cmd_data: `kiln add`; see cmd_data.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "crypto.h"
#include "curl.h"
#include "cmd_data.h"
#include "paths.h"
#include "sources.h"
#include "value.h"
#include "workspace.h"

int
kiln_cmd_add(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"remove", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_workspace ws;
	int c, drop = 0, i, bad = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'r')
			drop = 1;
		else
			return KILN_CMD_USAGE;
	}
	if (optind == argc)
		return KILN_CMD_USAGE;
	/* The lock: the stat cache is written, and no build reads a half-added source. */
	if (kiln_cmd_open(&ws, 1, NULL) < 0)
		return 2;
	for (i = optind; i < argc; i++)
		if ((drop ? kiln_sources_remove(&ws, argv[i]) : kiln_sources_add(&ws, argv[i])) < 0)
			bad = 1;
	kiln_workspace_close(&ws);
	return bad ? 1 : 0;
}

/* kiln fetch --update: what each fetch target's URL serves now. */

/* Download url into the open file f; 0, or -1 with the reason in why. */
static int
download(const char *url, FILE *f, struct buf *why)
{
	CURL *c = (kiln_curl_load(), curl_easy_init());
	char cerr[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	long code = 0;

	if (!c)
		return buf_adds(why, "cannot start libcurl"), -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-fetch/1");
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (cc == CURLE_HTTP_RETURNED_ERROR)
		buf_printf(why, "the server answered HTTP %ld", code);
	else if (cc != CURLE_OK)
		buf_adds(why, cerr[0] ? cerr : curl_easy_strerror(cc));
	else if (fflush(f) != 0)
		buf_printf(why, "cannot write the download: %s", strerror(errno));
	return why->len ? -1 : 0;
}

/* The file's SHA-256 in hex (65 bytes). */
static int
sha256_file(FILE *f, char *hex)
{
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	EVP_MD_CTX *m;
	size_t got;

	kiln_crypto_load();
	if (!(m = EVP_MD_CTX_new()))
		return -1;
	rewind(f);
	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(m, buf, got);
	EVP_DigestFinal_ex(m, md, &n);
	EVP_MD_CTX_free(m);
	for (i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	return ferror(f) ? -1 : 0;
}

/* A fetch target's pin: its URL, the digest's kind and the pinned hex. */
struct pin {
	const char *url, *kind, *hex;
};

static void
pin_of(const struct kiln_target *t, struct pin *p)
{
	const char *sha = kiln_value_string(kiln_value_get(kiln_target_params(t), "sha256"), NULL);

	p->url = kiln_value_string(kiln_value_get(kiln_target_params(t), "url"), "");
	p->kind = sha ? "sha256" : "xxh3";
	p->hex = sha ? sha : kiln_value_string(kiln_value_get(kiln_target_params(t), "xxh3"), "");
}

/* Download p's URL afresh into the cache's tmp/ and put the digest of what it serves in now. 0, or -1 reported. */
static int
served(struct kiln_workspace *ws, const struct kiln_target *t, const struct pin *p, char *now)
{
	char *tmp = xasprintf("%s/tmp/fetch.%ld", ws->cache.dir, (long)getpid());
	struct kiln_digest d;
	struct buf why = BUF_INIT;
	FILE *f = fopen(tmp, "w+");
	int r = -1, sha = strcmp(p->kind, "sha256") == 0;

	if (!f)
		error("cannot create %s:", tmp);
	else if (download(p->url, f, &why) < 0)
		error("%s:%d: fetch '%s': %s: %s", t->file, t->line, t->name, p->url, why.s);
	else if (sha ? sha256_file(f, now) < 0 : kiln_digest_fd(fileno(f), &d) < 0)
		error("cannot read %s:", tmp);
	else
		r = 0;
	if (r == 0 && !sha)
		kiln_digest_hex(&d, now);
	if (f)
		fclose(f);
	unlink(tmp);
	buf_release(&why);
	free(tmp);
	return r;
}

/* Fetch one target's URL afresh and say whether its digest moved. 0 same, 1 moved, -1 failed. */
static int
update_one(struct kiln_workspace *ws, struct kiln_target *t)
{
	struct pin p;
	char now[KILN_DIGEST_HEX * 2 + 1];

	pin_of(t, &p);
	if (served(ws, t, &p, now) < 0)
		return -1;
	if (strcmp(now, p.hex) == 0) {
		printf("%s: %s serves the pinned bytes (%s %s)\n", t->name, p.url, p.kind, now);
		return 0;
	}
	printf("%s: %s now serves %s %s\n  change %s:%d to: %s = \"%s\"\n", t->name, p.url, p.kind, now, t->file,
	    t->line, p.kind, now);
	return 1;
}

/* kiln status --remote-sources: HEAD first; a download only when the validators moved. */

/* The ETag and Last-Modified headers of a HEAD answer. */
struct validators {
	char etag[256], modified[64];
};

static size_t
header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct validators *v = arg;
	size_t len = size * n;
	char *dst = NULL;
	size_t cap = 0, k;

	if (len > 5 && strncasecmp(line, "etag:", 5) == 0)
		dst = v->etag, cap = sizeof(v->etag), line += 5, len -= 5;
	else if (len > 14 && strncasecmp(line, "last-modified:", 14) == 0)
		dst = v->modified, cap = sizeof(v->modified), line += 14, len -= 14;
	if (!dst)
		return size * n;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	k = len < cap - 1 ? len : cap - 1;
	memcpy(dst, line, k);
	dst[k] = '\0';
	return size * n;
}

/* HEAD url: its validators (empty when the server gives none). 0, or -1 with why. */
static int
head(const char *url, struct validators *v, struct buf *why)
{
	CURL *c = (kiln_curl_load(), curl_easy_init());
	CURLcode cc;
	long code = 0;

	memset(v, 0, sizeof(*v));
	if (!c)
		return buf_adds(why, "cannot start libcurl"), -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, v);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (cc == CURLE_HTTP_RETURNED_ERROR)
		buf_printf(why, "the server answered HTTP %ld", code);
	else if (cc != CURLE_OK)
		buf_adds(why, curl_easy_strerror(cc));
	return why->len ? -1 : 0;
}

/*
 * .kiln/remote-sources: per fetch target, what its URL served when kiln last
 * looked — "target TAB url TAB etag TAB last-modified TAB kind:hex". Written
 * and read here only.
 */
static char *
seen_line(const char *text, const char *name, const char *url)
{
	size_t nl = strlen(name), ul = strlen(url);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, nl) == 0 && p[nl] == '\t' && strncmp(p + nl + 1, url, ul) == 0 && p[nl + 1 + ul] == '\t')
			return xstrndup(p + nl + ul + 2, strcspn(p + nl + ul + 2, "\n"));
	return NULL;
}

/* Does the remembered line (etag TAB modified TAB kind:hex) match v? Its digest into hex when it does. */
static int
unchanged(const char *seen, const struct validators *v, const char *kind, char *hex)
{
	char etag[256] = "", mod[64] = "", dig[160] = "";
	const char *a = seen, *b = a ? strchr(a, '\t') : NULL, *c = b ? strchr(b + 1, '\t') : NULL;

	if (!c || (!v->etag[0] && !v->modified[0]))
		return 0;
	snprintf(etag, sizeof(etag), "%.*s", (int)(b - a), a);
	snprintf(mod, sizeof(mod), "%.*s", (int)(c - b - 1), b + 1);
	snprintf(dig, sizeof(dig), "%s", c + 1);
	if (strcmp(etag, v->etag) != 0 || strcmp(mod, v->modified) != 0 || strncmp(dig, kind, strlen(kind)) != 0 ||
	    dig[strlen(kind)] != ':')
		return 0;
	strcpy(hex, dig + strlen(kind) + 1);
	return 1;
}

/* Check one fetch target; its line appended to `out`. 1 it serves other bytes, 0 not, -1 failed. */
static int
remote_one(struct kiln_workspace *ws, struct kiln_target *t, const char *seen_text, struct buf *out)
{
	struct pin p;
	struct validators v;
	struct buf why = BUF_INIT;
	char hex[KILN_DIGEST_HEX * 2 + 1] = "", *seen;
	int r = 0, cached;

	pin_of(t, &p);
	if (head(p.url, &v, &why) < 0) {
		error("%s:%d: fetch '%s': %s: %s", t->file, t->line, t->name, p.url, why.s);
		buf_release(&why);
		return -1;
	}
	seen = seen_line(seen_text, t->name, p.url);
	cached = unchanged(seen, &v, p.kind, hex);
	free(seen);
	if (!cached && served(ws, t, &p, hex) < 0)
		return -1;
	buf_printf(out, "%s\t%s\t%s\t%s\t%s:%s\n", t->name, p.url, v.etag, v.modified, p.kind, hex);
	if (strcmp(hex, p.hex) != 0) {
		printf("%s: %s serves other bytes now (%s %s, pinned %s; kiln fetch --update %s prints the line "
		    "to change)\n", t->name, p.url, p.kind, hex, p.hex, t->name);
		r = 1;
	} else {
		printf("%s: %s serves the pinned bytes (%s)\n", t->name, p.url, cached ? "its ETag and Last-Modified "
		    "are unchanged" : "downloaded and checked");
	}
	return r;
}

int
kiln_fetch_check_remote(struct kiln_workspace *ws)
{
	size_t i, len;
	char *text = read_file(KILN_REMOTE_SOURCES_PATH, &len);
	struct buf out = BUF_INIT;
	int bad = 0, moved = 0, r;

	for (i = 0; i < ws->graph.ntargets; i++) {
		struct kiln_target *t = ws->graph.targets[i];

		if (!t->wanted || strcmp(t->plugin, "fetch") != 0)
			continue;
		r = remote_one(ws, t, text, &out);
		bad |= r < 0;
		moved += r > 0;
	}
	if (write_file_atomic(KILN_REMOTE_SOURCES_PATH, out.s ? out.s : "", out.len, 0644, 0) < 0)
		warn("cannot write " KILN_REMOTE_SOURCES_PATH ": %s", strerror(errno));
	buf_release(&out);
	free(text);
	return bad ? -1 : moved;
}

int
kiln_cmd_fetch(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"update", no_argument, NULL, 'u'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_workspace ws;
	size_t i, n = 0;
	int c, update = 0, bad = 0, moved = 0, r;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'u')
			update = 1;
		else
			return KILN_CMD_USAGE;
	}
	if (!update)
		return KILN_CMD_USAGE;
	if (kiln_cmd_open(&ws, 0, NULL) < 0)
		return 2;
	for (i = 0; optind + i < (size_t)argc; i++) {
		struct kiln_target *t = kiln_graph_find(&ws.graph, argv[optind + i]);

		if (!t || strcmp(t->plugin, "fetch") != 0) {
			error("kiln fetch --update: %s is not a fetch target", argv[optind + i]);
			bad = 2;
		}
	}
	for (i = 0; !bad && i < ws.graph.ntargets; i++) {
		struct kiln_target *t = ws.graph.targets[i];
		int named = optind == argc, k;

		for (k = optind; k < argc; k++)
			named |= strcmp(argv[k], t->name) == 0;
		if (!named || strcmp(t->plugin, "fetch") != 0)
			continue;
		n++;
		r = update_one(&ws, t);
		bad |= r < 0 ? 2 : 0;
		moved |= r > 0;
	}
	kiln_workspace_close(&ws);
	if (!n && !bad)
		return error("kiln fetch --update: no fetch target in the Kilnfile"), 2;
	return bad ? 2 : moved;
}
