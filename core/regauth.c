/*
 * regauth: registry credentials from podman's, skopeo's and docker's auth
 * files; see regauth.h.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "regauth.h"
#include "util.h"

/* An auths key as a "host[:port][/path]": no scheme, no "/v1/" or "/v2/", no trailing '/'. */
static char *
normal_key(const char *k)
{
	const char *p = strstr(k, "://");
	char *s = xstrdup(p ? p + 3 : k);
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	if (n > 3 && (strcmp(s + n - 3, "/v1") == 0 || strcmp(s + n - 3, "/v2") == 0))
		s[n - 3] = '\0';
	return s;
}

/* Does key name host, or host/path with path a prefix of repo (by whole components)? Its length, or 0. */
static size_t
key_match(const char *key, const char *host, const char *repo)
{
	size_t hl = strlen(host), pl;

	if (strncmp(key, host, hl) != 0)
		return 0;
	if (key[hl] == '\0')
		return hl;
	if (key[hl] != '/')
		return 0;
	pl = strlen(key + hl + 1);
	if (strncmp(key + hl + 1, repo, pl) != 0 || (repo[pl] != '\0' && repo[pl] != '/'))
		return 0;
	return hl + 1 + pl;
}

/* user:password from an entry: `auth` (base64) or `username`/`password`. */
static int
read_entry(const json_t *e, const char *file, const char *key, struct kiln_regauth *a)
{
	const char *b64 = json_string_value(json_object_get(e, "auth"));
	const char *u = json_string_value(json_object_get(e, "username"));
	unsigned char *raw;
	char *colon;
	size_t n;
	int len;

	if (u && *u) {
		a->user = xstrdup(u);
		a->password = xstrdup(json_string_value(json_object_get(e, "password")) ?
		    json_string_value(json_object_get(e, "password")) : "");
		return 1;
	}
	if (!b64 || !*b64)
		return error("%s: auths entry '%s' has no \"auth\" (nor username and password)", file, key);
	n = strlen(b64);
	raw = xmalloc(n + 4);
	kiln_crypto_load();
	len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	/* EVP_DecodeBlock counts the padding as bytes of zeros. */
	while (len > 0 && n > 0 && b64[--n] == '=')
		len--;
	if (len < 0 || !(colon = memchr(raw, ':', (size_t)len))) {
		free(raw);
		return error("%s: auths entry '%s': \"auth\" is not base64 of user:password", file, key);
	}
	a->user = xstrndup((char *)raw, (size_t)(colon - (char *)raw));
	a->password = xstrndup(colon + 1, (size_t)len - (size_t)(colon + 1 - (char *)raw));
	explicit_bzero(raw, n + 4);
	free(raw);
	return 1;
}

/* The best entry of one file: 1 found, 0 none (or no file), -1 a bad file. */
static int
from_file(const char *file, const char *host, const char *repo, struct kiln_regauth *a)
{
	json_error_t je;
	json_t *j = json_load_file(file, 0, &je), *auths, *v, *best = NULL;
	const char *k, *bestkey = NULL;
	size_t bestlen = 0;
	int r;

	if (!j) {
		FILE *f = fopen(file, "r");

		if (!f && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		if (f)
			fclose(f);
		return error("%s: not an auth file: %s", file, je.text);
	}
	auths = json_object_get(j, "auths");
	json_object_foreach(auths, k, v) {
		char *nk = normal_key(k);
		size_t m = key_match(nk, host, repo);

		free(nk);
		if (m > bestlen) {
			bestlen = m;
			best = v;
			bestkey = k;
		}
	}
	r = best ? read_entry(best, file, bestkey, a) : 0;
	if (r == 1)
		a->source = xstrdup(file);
	json_decref(j);
	return r;
}

int
kiln_regauth_find(const char *host, const char *repo, struct kiln_regauth *a)
{
	const char *raf = getenv("REGISTRY_AUTH_FILE"), *xdg = getenv("XDG_RUNTIME_DIR");
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char *files[3] = {NULL, NULL, NULL};
	size_t i;
	int r = 0;

	memset(a, 0, sizeof(*a));
	if (raf && *raf)
		files[0] = xstrdup(raf);
	if (xdg && *xdg)
		files[1] = xasprintf("%s/containers/auth.json", xdg);
	if (dc && *dc)
		files[2] = xasprintf("%s/config.json", dc);
	else if (home && *home)
		files[2] = xasprintf("%s/.docker/config.json", home);
	for (i = 0; i < 3 && r == 0; i++)
		if (files[i])
			r = from_file(files[i], host, repo, a);
	for (i = 0; i < 3; i++)
		free(files[i]);
	if (r < 0)
		kiln_regauth_release(a);
	return r;
}

void
kiln_regauth_release(struct kiln_regauth *a)
{
	if (a->password)
		explicit_bzero(a->password, strlen(a->password));
	free(a->user);
	free(a->password);
	free(a->source);
	memset(a, 0, sizeof(*a));
}
