/*
 * crypto: libcrypto loaded on first use (see crypto.h).
 */
#include <dlfcn.h>
#include <string.h>

#include "crypto.h"
#include "util.h"

struct kiln_crypto kiln_crypto;

/* OpenSSL 3's soname (Debian 12's libssl3). */
#define LIBCRYPTO "libcrypto.so.3"

/* Each of struct kiln_crypto's fields and the symbol it is, in order. */
static const char *const names[] = {
	"EVP_MD_CTX_new", "EVP_MD_CTX_free", "EVP_sha256", "EVP_DigestInit_ex", "EVP_DigestUpdate",
	"EVP_DigestFinal_ex", "EVP_DecodeBlock",
};

void
kiln_crypto_load(void)
{
	static int loaded;
	void (**fn)(void) = (void (**)(void))&kiln_crypto;
	void *h;
	size_t i;

	_Static_assert(sizeof(kiln_crypto) == sizeof(names) / sizeof(names[0]) * sizeof(void (*)(void)),
	    "one symbol name per struct kiln_crypto field");
	if (loaded)
		return;
	if (!(h = dlopen(LIBCRYPTO, RTLD_NOW | RTLD_LOCAL)))
		die("cannot load libcrypto (%s): %s; kiln needs it for a SHA-256 pin and registry credentials "
		    "(./bootstrap.sh installs it)", LIBCRYPTO, dlerror());
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *sym = dlsym(h, names[i]);

		if (!sym)
			die("libcrypto (%s) has no %s: it is not the OpenSSL 3 kiln needs", LIBCRYPTO, names[i]);
		memcpy(&fn[i], &sym, sizeof(sym));
	}
	loaded = 1;
}
