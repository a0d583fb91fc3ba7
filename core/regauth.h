/*
 * regauth: a registry's credentials where podman, skopeo and docker keep
 * them, so `kiln deploy` needs no second login.
 *
 * Looked up in order, the first file with an entry for the registry wins:
 * $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
 * ${DOCKER_CONFIG:-~/.docker}/config.json. Each has an `auths` object
 * whose keys are "host[:port]", "host[:port]/path" (podman's per-repository
 * entries; the longest that prefixes the repository wins) or a URL
 * ("https://host/v1/"); an entry holds `auth`, base64 of "user:password",
 * or `username` and `password`. Credential helpers (credsStore,
 * credHelpers) are not run.
 */
#ifndef KILN_REGAUTH_H
#define KILN_REGAUTH_H

struct kiln_regauth {
	char *user;		/* malloc'd, or NULL */
	char *password;		/* malloc'd, or NULL; wiped by release */
	char *source;		/* the file it came from (malloc'd) */
};

/*
 * Find credentials for host ("host[:port]") and repo. 1 when found, 0 when
 * no file has an entry, -1 (reported, naming the file) when a file that
 * has one cannot be read as one.
 */
int kiln_regauth_find(const char *host, const char *repo, struct kiln_regauth *a);
/* Free a's strings, the password wiped first. */
void kiln_regauth_release(struct kiln_regauth *a);

#endif
