/*
 * cmd_data: `kiln add`; see cmd_data.h.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_data.h"
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
	if (kiln_cmd_open(&ws, 1) < 0)
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
	CURL *c = curl_easy_init();
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
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	size_t got;

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

/* Fetch one target's URL afresh and say whether its digest moved. 0 same, 1 moved, -1 failed. */
static int
update_one(struct kiln_workspace *ws, struct kiln_target *t)
{
	const char *url = kiln_value_string(kiln_value_get(t->params, "url"), "");
	const char *sha = kiln_value_string(kiln_value_get(t->params, "sha256"), NULL);
	const char *old = sha ? sha : kiln_value_string(kiln_value_get(t->params, "xxh3"), "");
	char *tmp = xasprintf("%s/tmp/fetch.%ld", ws->cache.dir, (long)getpid()), now[KILN_DIGEST_HEX * 2 + 1];
	struct kiln_digest d;
	struct buf why = BUF_INIT;
	FILE *f = fopen(tmp, "w+");
	int r = -1;

	if (!f) {
		error("cannot create %s:", tmp);
	} else if (download(url, f, &why) < 0) {
		error("%s:%d: fetch '%s': %s: %s", t->file, t->line, t->name, url, why.s);
	} else if (sha ? sha256_file(f, now) < 0 : kiln_digest_fd(fileno(f), &d) < 0) {
		error("cannot read %s:", tmp);
	} else {
		if (!sha)
			kiln_digest_hex(&d, now);
		r = strcmp(now, old) != 0;
		if (r)
			printf("%s: %s now serves %s %s\n  change %s:%d to: %s = \"%s\"\n", t->name, url,
			    sha ? "sha256" : "xxh3", now, t->file, t->line, sha ? "sha256" : "xxh3", now);
		else
			printf("%s: %s serves the pinned bytes (%s %s)\n", t->name, url, sha ? "sha256" : "xxh3", now);
	}
	if (f)
		fclose(f);
	unlink(tmp);
	buf_release(&why);
	free(tmp);
	return r;
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
	if (kiln_cmd_open(&ws, 0) < 0)
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
