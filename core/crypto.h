/*
 * crypto: libcrypto (OpenSSL 3), loaded the first time kiln needs it
 * rather than linked. Only `kiln fetch --update` (a pin's SHA-256) and a
 * registry's credentials (base64 in ~/.docker/config.json) call it; linked,
 * its relocations and constructors cost every run — a no-op build, a
 * status — about 1.4 MiB of peak memory and the loader's time (see
 * docs/design.md, "libcrypto is loaded on first use").
 *
 * A file that calls libcrypto includes this instead of <openssl/evp.h>,
 * calls kiln_crypto_load() before its first call, and calls the usual
 * names: they are macros for the loaded functions. To wipe a secret, it
 * calls explicit_bzero (glibc), not OPENSSL_cleanse.
 */
#ifndef KILN_CRYPTO_H
#define KILN_CRYPTO_H

#include <openssl/evp.h>

struct kiln_crypto {
	EVP_MD_CTX *(*md_ctx_new)(void);
	void (*md_ctx_free)(EVP_MD_CTX *);
	const EVP_MD *(*sha256)(void);
	int (*digest_init_ex)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
	int (*digest_update)(EVP_MD_CTX *, const void *, size_t);
	int (*digest_final_ex)(EVP_MD_CTX *, unsigned char *, unsigned int *);
	int (*decode_block)(unsigned char *, const unsigned char *, int);
};

extern struct kiln_crypto kiln_crypto;

/* Loads libcrypto.so.3 once; dies, naming the library, when it is missing or lacks a function. */
void kiln_crypto_load(void);

#define EVP_MD_CTX_new (kiln_crypto.md_ctx_new)
#define EVP_MD_CTX_free (kiln_crypto.md_ctx_free)
#define EVP_sha256 (kiln_crypto.sha256)
#define EVP_DigestInit_ex (kiln_crypto.digest_init_ex)
#define EVP_DigestUpdate (kiln_crypto.digest_update)
#define EVP_DigestFinal_ex (kiln_crypto.digest_final_ex)
#define EVP_DecodeBlock (kiln_crypto.decode_block)

#endif
