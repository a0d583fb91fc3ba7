/*
 * Checkpoints through the remote: a sealed folder is sent once per seal and
 * not while it is being rewritten; a fetched one is put in place whole and
 * sealed, and an entry naming a path out of data/ is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cache.h"
#include "checkpoint.h"
#include "ckptshare.h"
#include "digest.h"
#include "paths.h"
#include "remote.h"
#include "transfer.h"
#include "util.h"

static char dir[64], old[4096];
static struct kiln_cache cache;

static int
setup(void **state)
{
	(void)state;
	assert_non_null(getcwd(old, sizeof(old)));
	strcpy(dir, "/tmp/kiln-ckshare-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mkdir_p(KILN_TMP_DIR, 0755), 0);
	assert_int_equal(kiln_cache_open(&cache, "cache"), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	kiln_cache_release(&cache);
	assert_int_equal(chdir(old), 0);
	remove_tree(dir);
	return 0;
}

static void
put(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644, 0), 0);
}

/* A sealed checkpoint of target t for key `k`, its file holding text. */
static void
sealed(const char *k, struct kiln_digest *key, const char *text, double epoch)
{
	double e;
	char *p, *f;

	kiln_digest_buf(k, strlen(k), key);
	assert_true(kiln_checkpoint_prepare(k, key, &e) >= 0);
	p = kiln_checkpoint_path(k, key);
	f = xasprintf("%s/data/w.bin", p);
	put(f, text);
	assert_int_equal(kiln_checkpoint_seal(p, epoch), 0);
	free(f);
	free(p);
}

static void
test_send_once_per_seal(void **state)
{
	/* Nothing listens there: the uploads are only queued, never performed. */
	struct kiln_remote *r = kiln_remote_new("http://127.0.0.1:9", &cache, 0);
	struct kiln_digest a, b, sent = {{0}}, sent_b = {{0}};
	char *p, *f;

	(void)state;
	sealed("a", &a, "weights at 5", 5);
	assert_int_equal(kiln_ckptshare_send(r, &cache, "a", &a, &sent), KILN_CKPT_SENT);
	assert_false(kiln_digest_iszero(&sent));
	assert_true(kiln_remote_checkpoint_busy(r, &a));
	/* Its upload is under way: nothing more is started. */
	assert_int_equal(kiln_ckptshare_send(r, &cache, "a", &a, &sent), KILN_CKPT_SAME);
	/* Rewritten since its seal: not whole, not sent, tried again later. */
	sealed("b", &b, "weights at 5", 5);
	p = kiln_checkpoint_path("b", &b);
	f = xasprintf("%s/data/w.bin", p);
	put(f, "weights at 6, half");
	assert_int_equal(kiln_ckptshare_send(r, &cache, "b", &b, &sent_b), KILN_CKPT_PARTIAL);
	assert_true(kiln_digest_iszero(&sent_b));
	assert_false(kiln_remote_checkpoint_busy(r, &b));
	/* Sealed again (the damaged one was discarded): sent; then the same seal sends nothing. */
	sealed("b", &b, "weights at 10", 10);
	assert_int_equal(kiln_ckptshare_send(r, &cache, "b", &b, &sent_b), KILN_CKPT_SENT);
	kiln_transfer_abandon(kiln_remote_transfer(r));
	assert_false(kiln_remote_checkpoint_busy(r, &b));
	assert_int_equal(kiln_ckptshare_send(r, &cache, "b", &b, &sent_b), KILN_CKPT_SAME);
	kiln_remote_free(r);
	free(f);
	free(p);
}

/* An entry of one file `path` holding text, its blob in the cache. */
static void
entry(struct kiln_action *act, struct kiln_file *file, struct kiln_metric *m, const char *path, const char *text)
{
	put("blob", text);
	memset(file, 0, sizeof(*file));
	file->path = path;
	file->mode = 0644;
	file->size = strlen(text);
	assert_int_equal(kiln_digest_file("blob", &file->digest), 0);
	assert_int_equal(kiln_cache_put_blob(&cache, "blob", &file->digest), 0);
	*act = (struct kiln_action){file, 1, m, 1, 0};
}

static void
test_unpack(void **state)
{
	struct kiln_digest k;
	struct kiln_action act;
	struct kiln_file file;
	struct kiln_metric m = {"epoch", 40};
	double epoch;
	char *d, *p, *text;
	size_t len;

	(void)state;
	kiln_digest_buf("u", 1, &k);
	entry(&act, &file, &m, "sub/w.bin", "weights at 40");
	assert_int_equal(kiln_ckptshare_unpack(&cache, "u", &k, &act, &epoch), 0);
	assert_true(epoch == 40);
	assert_int_equal(kiln_checkpoint_find("u", &k, &epoch), 1);
	assert_true(epoch == 40);
	/* Sealed: the step's own check passes and it resumes. */
	assert_int_equal(kiln_checkpoint_prepare("u", &k, &epoch), 1);
	d = kiln_checkpoint_path("u", &k);
	p = xasprintf("%s/data/sub/w.bin", d);
	text = read_file(p, &len);
	assert_non_null(text);
	assert_string_equal(text, "weights at 40");
	free(text);
	free(p);
	free(d);
	/* A name out of data/: refused, nothing put in place. */
	kiln_checkpoint_remove("u", &k);
	entry(&act, &file, &m, "../../escaped", "x");
	assert_int_equal(kiln_ckptshare_unpack(&cache, "u", &k, &act, &epoch), -1);
	assert_int_equal(kiln_checkpoint_find("u", &k, &epoch), 0);
	assert_int_equal(access(".kiln/escaped", F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_send_once_per_seal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpack, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
