/*
 * curl: libcurl, loaded the first time kiln needs it (a remote cache, a
 * fetch) rather than at every start. Linked in, libcurl brings 30 more
 * libraries and their constructors (GnuTLS's among them) into each run:
 * an empty program linked with it takes 10.4 ms of CPU to start here, 2.2
 * ms with the rest of kiln's libraries alone, and most kiln runs — a no-op
 * build, a status — never open a connection. git keeps libcurl out of its
 * own process for the same reason (git-remote-http).
 *
 * A file that calls libcurl includes this instead of <curl/curl.h>, calls
 * kiln_curl_load() before its first libcurl call, and calls the usual
 * names: they are macros for the loaded functions.
 */
#ifndef KILN_CURL_H
#define KILN_CURL_H

#define CURL_DISABLE_TYPECHECK	/* curl.h's checks are macros named as the calls below */
#include <curl/curl.h>

struct kiln_curl {
	CURLcode (*global_init)(long);
	CURLcode (*global_init_mem)(long, curl_malloc_callback, curl_free_callback, curl_realloc_callback,
	    curl_strdup_callback, curl_calloc_callback);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	CURLMcode (*multi_timeout)(CURLM *, long *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
};

extern struct kiln_curl kiln_curl;

/*
 * Load libcurl (libcurl.so.4) and initialise it, once; dies naming the
 * library if it cannot (it is installed with kiln: bootstrap.sh).
 */
void kiln_curl_load(void);

/* curl.h defines these three as themselves, to make callers pass exactly three arguments. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init (kiln_curl.global_init)
#define curl_global_init_mem (kiln_curl.global_init_mem)
#define curl_easy_init (kiln_curl.easy_init)
#define curl_easy_setopt (kiln_curl.easy_setopt)
#define curl_easy_getinfo (kiln_curl.easy_getinfo)
#define curl_easy_perform (kiln_curl.easy_perform)
#define curl_easy_cleanup (kiln_curl.easy_cleanup)
#define curl_easy_strerror (kiln_curl.easy_strerror)
#define curl_slist_append (kiln_curl.slist_append)
#define curl_slist_free_all (kiln_curl.slist_free_all)
#define curl_multi_init (kiln_curl.multi_init)
#define curl_multi_setopt (kiln_curl.multi_setopt)
#define curl_multi_add_handle (kiln_curl.multi_add_handle)
#define curl_multi_remove_handle (kiln_curl.multi_remove_handle)
#define curl_multi_perform (kiln_curl.multi_perform)
#define curl_multi_poll (kiln_curl.multi_poll)
#define curl_multi_timeout (kiln_curl.multi_timeout)
#define curl_multi_info_read (kiln_curl.multi_info_read)
#define curl_multi_cleanup (kiln_curl.multi_cleanup)

#endif
