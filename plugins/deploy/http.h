/*
 * http: one registry conversation for the deploy plugin (libcurl): requests,
 * the registry's own words for a refusal, and authentication — Basic, a
 * ready-made bearer token, or the Bearer challenge (WWW-Authenticate:
 * Bearer realm, service, scope), whose token is fetched from the realm and
 * kept for its lifetime.
 */
#ifndef KILN_DEPLOY_HTTP_H
#define KILN_DEPLOY_HTTP_H

#include <kiln/plugin.h>
#include <stddef.h>

#include "../lib/util.h"

/* A registry reference parsed from "host[:port]/repo" or "http(s)://host[:port]/repo". */
struct registry {
	char scheme[8];		/* "http" or "https" */
	char host[256];		/* host[:port], as written */
	char repo[256];
};

struct http {
	kiln_ctx *ctx;
	const struct registry *r;
	char base[600];		/* scheme://host/v2/repo */
	const char *ca;		/* a CA bundle file, or NULL for the system's */
	const char *user, *password;	/* Basic credentials (also for the token server), or NULL */
	const char *source;	/* where the credentials came from, for messages */
	char *token;		/* the bearer token in use (malloc'd), or NULL */
	int fixed_token;	/* token is KILN_REGISTRY_TOKEN's: never fetched anew */
	double token_until;	/* monotonic seconds after which it is fetched anew */
	char realm[1024];	/* the last Bearer challenge */
	char service[256];
	char scope[512];
	char autherr[256];	/* its error="…" and error_description, if any */
	int challenged;		/* the last answer was a 401 with a Bearer challenge */
	long status;
	struct kp_buf body;	/* the answer (its first 64 kB) */
	char location[2048];
	char digest[80];	/* Docker-Content-Digest */
	char www[2048];		/* WWW-Authenticate */
};

/*
 * Parse a registry param. Without a scheme, loopback hosts get http and
 * every other host https, as docker and podman do. 0, or -1 with why.
 */
int parse_registry(const char *s, struct registry *r, char *why, size_t whylen);

/* Read the credentials from the environment and check the API (GET /v2/). */
int http_connect(struct http *h);
/*
 * One request, authenticated: a Bearer challenge fetches a token (or a new
 * one) and the request is sent again. body/len for PUT and POST, ctype its
 * Content-Type, accept an Accept header or NULL. Returns 0 with h->status
 * set, or -1 with the failure reported (no answer, or credentials refused).
 */
int http_call(struct http *h, const char *method, const char *url, const void *body, size_t len,
	const char *ctype, const char *accept, const char *what);
/* Report a refusal with what the registry said; returns -1. */
int http_refused(struct http *h, const char *what);
/* Free what h holds. */
void http_release(struct http *h);

#endif
