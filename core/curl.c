/*
 * curl: libcurl loaded on first use (see curl.h).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "curl.h"
#include "fault.h"
#include "util.h"

struct kiln_curl kiln_curl;

/* The soname of libcurl's ABI since 7.16 (Debian's libcurl4, or libcurl3-gnutls's libcurl-gnutls.so.4). */
static const char *const libs[] = {"libcurl.so.4", "libcurl-gnutls.so.4"};

#ifdef KILN_FAULT
/* With failure injection (fault.h), libcurl's allocations are counted too, as module "libcurl". */
#define CURL_FAILS() kiln_fault_fail(KILN_FAULT_ALLOC, "libcurl", 0)

static void *
curl_malloc(size_t n)
{
	return CURL_FAILS() ? NULL : malloc(n);
}

static void *
curl_calloc(size_t n, size_t size)
{
	return CURL_FAILS() ? NULL : calloc(n, size);
}

static void *
curl_realloc(void *p, size_t n)
{
	return CURL_FAILS() ? NULL : realloc(p, n);
}

static char *
curl_strdup(const char *s)
{
	return CURL_FAILS() ? NULL : strdup(s);
}
#endif

/* Each of struct kiln_curl's fields and the symbol it is, in order. */
static const char *const names[] = {
	"curl_global_init", "curl_global_init_mem", "curl_easy_init", "curl_easy_setopt", "curl_easy_getinfo",
	"curl_easy_perform", "curl_easy_cleanup", "curl_easy_strerror", "curl_slist_append", "curl_slist_free_all",
	"curl_multi_init", "curl_multi_setopt", "curl_multi_add_handle", "curl_multi_remove_handle",
	"curl_multi_perform", "curl_multi_poll", "curl_multi_timeout", "curl_multi_info_read", "curl_multi_cleanup",
};

void
kiln_curl_load(void)
{
	static int loaded;
	void (**fn)(void) = (void (**)(void))&kiln_curl;
	void *h = NULL;
	size_t i;
	CURLcode r;

	_Static_assert(sizeof(kiln_curl) == sizeof(names) / sizeof(names[0]) * sizeof(void (*)(void)),
	    "one symbol name per struct kiln_curl field");
	if (loaded)
		return;
	for (i = 0; !h && i < sizeof(libs) / sizeof(libs[0]); i++)
		h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
	if (!h)
		die("cannot load libcurl (%s): %s; kiln needs it for a remote cache and fetch (./bootstrap.sh installs it)",
		    libs[0], dlerror());
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *sym = dlsym(h, names[i]);

		if (!sym)
			die("libcurl (%s) has no %s: it is older than kiln needs (7.66 or later)", libs[0], names[i]);
		memcpy(&fn[i], &sym, sizeof(sym));
	}
#ifdef KILN_FAULT
	r = curl_global_init_mem(CURL_GLOBAL_DEFAULT, curl_malloc, free, curl_realloc, curl_strdup, curl_calloc);
#else
	r = curl_global_init(CURL_GLOBAL_DEFAULT);
#endif
	if (r != CURLE_OK)
		die("cannot initialize libcurl");
	loaded = 1;
}
