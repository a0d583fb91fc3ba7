/* The state log: round trips, the last record winning, torn and garbage tails, the stat cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "state.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/kiln-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	remove_tree(dir);
	return 0;
}

static void
make_record(struct kiln_record *r, const char *name, int seed, struct kiln_component *c,
    struct kiln_file *f, struct kiln_metric *m)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	kiln_digest_buf(&seed, sizeof(seed), &r->key);
	r->seen_ns = 1234567890123LL;
	c[0] = (struct kiln_component){KILN_C_PARAM, "epochs", r->key};
	c[1] = (struct kiln_component){KILN_C_INPUT, "data", r->key};
	f[0] = (struct kiln_file){"model.bin", r->key, 42, 0644, 7, 100, 200};
	m[0] = (struct kiln_metric){"accuracy", 0.25 * seed};
	r->comps = c;
	r->ncomps = 2;
	r->files = f;
	r->nfiles = 1;
	r->metrics = m;
	r->nmetrics = 1;
}

static void
round_trip(void **state)
{
	struct kiln_state st;
	struct kiln_record r, *got;
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];

	(void)state;
	kiln_state_load(&st, path);
	make_record(&r, "a", 1, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	make_record(&r, "b", 2, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	make_record(&r, "a", 3, c, f, m);	/* the later record for a wins */
	assert_int_equal(kiln_state_put(&st, &r), 0);
	assert_int_equal(kiln_state_forget(&st, "b"), 0);
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	got = kiln_state_get(&st, "a");
	assert_non_null(got);
	assert_true(kiln_digest_eq(&got->key, &r.key));
	assert_int_equal(got->ncomps, 0);	/* read on demand */
	kiln_state_comps(&st, got);
	assert_int_equal(got->ncomps, 2);
	assert_string_equal(got->comps[0].name, "epochs");
	assert_int_equal(got->comps[1].kind, KILN_C_INPUT);
	assert_int_equal(got->nfiles, 1);
	assert_string_equal(got->files[0].path, "model.bin");
	assert_int_equal(got->files[0].size, 42);
	assert_int_equal(got->files[0].mtime_ns, 100);
	assert_int_equal(got->nmetrics, 1);
	assert_true(got->metrics[0].value == 0.75);
	assert_null(kiln_state_get(&st, "b"));
	kiln_state_release(&st);
}

static void
torn_tail_is_cut_and_appends_continue(void **state)
{
	struct kiln_state st;
	struct kiln_record r;
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];
	struct stat sb;

	(void)state;
	kiln_state_load(&st, path);
	make_record(&r, "a", 1, c, f, m);
	kiln_state_put(&st, &r);
	make_record(&r, "b", 2, c, f, m);
	kiln_state_put(&st, &r);
	kiln_state_release(&st);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size - 5), 0);	/* b's record is torn */

	kiln_state_load(&st, path);
	assert_non_null(kiln_state_get(&st, "a"));
	assert_null(kiln_state_get(&st, "b"));
	assert_true(st.rewrite);
	make_record(&r, "c", 3, c, f, m);
	kiln_state_put(&st, &r);	/* rewrites the file without the torn tail */
	make_record(&r, "d", 4, c, f, m);
	kiln_state_put(&st, &r);
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	assert_non_null(kiln_state_get(&st, "a"));
	assert_non_null(kiln_state_get(&st, "c"));
	assert_non_null(kiln_state_get(&st, "d"));
	assert_false(st.rewrite);
	kiln_state_release(&st);
}

static void
garbage_is_an_empty_state(void **state)
{
	struct kiln_state st;
	char junk[4096];
	size_t i;
	FILE *f;

	(void)state;
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	f = fopen(path, "w");
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	kiln_state_load(&st, path);
	assert_int_equal(st.targets.len, 0);
	assert_true(st.rewrite);
	kiln_state_release(&st);
	/* A right header followed by a lying record length. */
	f = fopen(path, "w");
	fwrite("KILNST\0\0\1\0\0\0\0\0\0\0\xff\xff\xff\x7f", 1, 20, f);
	fclose(f);
	kiln_state_load(&st, path);
	assert_int_equal(st.targets.len, 0);
	kiln_state_release(&st);
}

static void
stat_cache_skips_unchanged_files(void **state)
{
	struct kiln_state st;
	struct kiln_digest d1, d2;
	struct stat sb;
	char file[160];
	struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "%s/src", dir);
	f = fopen(file, "w");
	fputs("one", f);
	fclose(f);
	/* An old mtime: not racily clean, so the digest is cached. */
	utimensat(AT_FDCWD, file, old, 0);
	usleep(50000);	/* let the clock tick past the file's ctime */
	stat(file, &sb);
	kiln_state_load(&st, path);
	assert_int_equal(kiln_state_file_digest(&st, file, &sb, &d1), 0);
	assert_int_equal(st.files.len, 1);
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	assert_int_equal(st.files.len, 1);
	/* Same stat: the digest comes from the cache; the file is not even read. */
	unlink(file);
	assert_int_equal(kiln_state_file_digest(&st, file, &sb, &d2), 0);
	assert_true(kiln_digest_eq(&d1, &d2));
	/* A changed stat makes it read the file again, which is gone now. */
	sb.st_mtim.tv_nsec += 1;
	assert_int_equal(kiln_state_file_digest(&st, file, &sb, &d2), -1);
	kiln_state_release(&st);
}

static void
racily_new_files_are_not_cached(void **state)
{
	struct kiln_state st;
	struct kiln_digest d;
	struct stat sb;
	char file[160];
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "%s/fresh", dir);
	f = fopen(file, "w");
	fputs("now", f);
	fclose(f);
	stat(file, &sb);
	/* Pretend the file was modified in the future (the current tick or later). */
	sb.st_mtim.tv_sec += 3600;
	kiln_state_load(&st, path);
	assert_int_equal(kiln_state_file_digest(&st, file, &sb, &d), 0);
	assert_int_equal(st.files.len, 0);
	kiln_state_release(&st);
}

/* A record's params come back, lazily and with the components; a record without them reads as none. */
static void
params_round_trip(void **state)
{
	struct kiln_state st;
	struct kiln_record r, *got;
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];

	(void)state;
	kiln_state_load(&st, path);
	make_record(&r, "a", 1, c, f, m);
	r.params = "lr 0.5\nnet.depth 3\n";
	assert_int_equal(kiln_state_put(&st, &r), 0);
	make_record(&r, "b", 2, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	got = kiln_state_get(&st, "a");
	assert_non_null(got);
	assert_string_equal(kiln_state_params(&st, got), "lr 0.5\nnet.depth 3\n");
	kiln_state_comps(&st, got);
	assert_int_equal(got->ncomps, 2);
	assert_string_equal(kiln_state_params(&st, got), "lr 0.5\nnet.depth 3\n");
	got = kiln_state_get(&st, "b");
	kiln_state_comps(&st, got);
	assert_string_equal(kiln_state_params(&st, got), "");
	kiln_state_release(&st);
}

static void
write_old(const char *p, const char *text, long ns)
{
	struct timespec old[2] = {{1000000000, ns}, {1000000000, ns}};
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	utimensat(AT_FDCWD, p, old, 0);
}

/* The digest of tree with a state that knows nothing (its file removed first). */
static void
fresh_digest(const char *tree, struct kiln_digest *d)
{
	struct kiln_state st;

	unlink(path);
	kiln_state_load(&st, path);
	assert_int_equal(kiln_state_tree_digest(&st, tree, d, NULL), 0);
	kiln_state_release(&st);
}

/*
 * A folder's files are recorded in its folder's record, not one record per
 * file; a reload and a rewrite keep them; a file changed in place (same
 * size, the folder's stat unmoved) is read again and changes the digest to
 * the one a fresh walk gives.
 */
static void
folder_record_holds_its_files(void **state)
{
	struct kiln_state st;
	struct kiln_digest d1, d2, d3, want;
	char tree[160], sub[176], p[200];

	(void)state;
	snprintf(tree, sizeof(tree), "%s/t", dir);
	snprintf(sub, sizeof(sub), "%s/s", tree);
	assert_int_equal(mkdir(tree, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(p, sizeof(p), "%s/a", tree);
	write_old(p, "one", 0);
	snprintf(p, sizeof(p), "%s/b", tree);
	write_old(p, "two", 0);
	snprintf(p, sizeof(p), "%s/c", sub);
	write_old(p, "three", 0);
	usleep(50000);	/* past the tick of the files' and folders' ctimes */
	kiln_state_load(&st, path);
	assert_int_equal(kiln_state_tree_digest(&st, tree, &d1, NULL), 0);
	assert_int_equal(st.files.len, 0);
	assert_int_equal(st.dirs.len, 2);
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	assert_int_equal(st.dirs.len, 2);
	assert_int_equal(kiln_state_tree_digest(&st, tree, &d2, NULL), 0);
	assert_true(kiln_digest_eq(&d1, &d2));
	/* Nothing changed: nothing was recorded again. */
	assert_int_equal(st.dirs.len, 2);
	assert_int_equal(kiln_state_compact(&st, 1), 0);
	kiln_state_release(&st);

	/* In place: same size, only the mtime's nanoseconds move; the folder's stat stays. */
	snprintf(p, sizeof(p), "%s/b", tree);
	write_old(p, "TWO", 5);
	usleep(50000);
	kiln_state_load(&st, path);
	assert_int_equal(st.dirs.len, 2);
	assert_int_equal(kiln_state_tree_digest(&st, tree, &d3, NULL), 0);
	assert_false(kiln_digest_eq(&d1, &d3));
	kiln_state_release(&st);
	fresh_digest(tree, &want);
	assert_true(kiln_digest_eq(&d3, &want));
}

/*
 * A no-op after a full build records each target again (its outputs'
 * stat was racily new): the log holds each twice, and a quarter dead is
 * enough for the end of the run to rewrite it (a 2n bound kept it so).
 */
static void
a_log_of_records_made_again_is_compacted(void **state)
{
	static char names[4000][8];
	struct kiln_state st;
	struct kiln_record r, *got;
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];
	int i, round;

	(void)state;
	kiln_state_load(&st, path);
	for (round = 0; round < 2; round++)
		for (i = 0; i < 4000; i++) {
			snprintf(names[i], sizeof(names[i]), "t%d", i);
			make_record(&r, names[i], i + 10000 * round, c, f, m);
			assert_int_equal(kiln_state_put(&st, &r), 0);
		}
	assert_int_equal(kiln_state_compact(&st, 0), 0);
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	assert_int_equal(st.nrecords, 4000);
	got = kiln_state_get(&st, "t7");
	assert_non_null(got);
	make_record(&r, "t7", 10007, c, f, m);
	assert_true(kiln_digest_eq(&got->key, &r.key));
	kiln_state_release(&st);
}

/*
 * A record keeps copies of what it needs: the file's bytes are freed once
 * loaded (ASan sees a use after free if not), and its components are read
 * back from the file as loaded, even after another kiln renamed a new log
 * over it.
 */
static void
lazy_part_read_back_from_the_file_loaded(void **state)
{
	struct kiln_state st, other;
	struct kiln_record r, *got;
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];
	char path2[160];

	(void)state;
	kiln_state_load(&st, path);
	make_record(&r, "a", 1, c, f, m);
	r.params = "epochs 3";
	assert_int_equal(kiln_state_put(&st, &r), 0);
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	/* Another log, renamed over this one while it is loaded. */
	snprintf(path2, sizeof(path2), "%s/state2", dir);
	kiln_state_load(&other, path2);
	make_record(&r, "z", 9, c, f, m);
	assert_int_equal(kiln_state_put(&other, &r), 0);
	kiln_state_release(&other);
	assert_int_equal(rename(path2, path), 0);
	got = kiln_state_get(&st, "a");
	assert_non_null(got);
	assert_string_equal(got->name, "a");
	assert_string_equal(got->files[0].path, "model.bin");
	assert_string_equal(got->metrics[0].name, "accuracy");
	assert_string_equal(kiln_state_params(&st, got), "epochs 3");
	kiln_state_comps(&st, got);
	assert_int_equal(got->ncomps, 2);
	assert_string_equal(got->comps[1].name, "data");
	kiln_state_release(&st);
}

/* Another program writes into the file: the byte before its last record's checksum. */
static void
change_last_record_in_place(void)
{
	struct stat sb;
	int fd;

	assert_int_equal(stat(path, &sb), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff", 1, sb.st_size - 9), 1);
	close(fd);
}

static void
read_comps(struct kiln_state *st, struct kiln_record *rec)
{
	kiln_state_comps(st, rec);
}

static void
read_params(struct kiln_state *st, struct kiln_record *rec)
{
	kiln_state_params(st, rec);
}

/* Reading rec's lazy part with `read`, in a child: kiln stops it with exit 2. */
static void
reading_exits_2(void (*read)(struct kiln_state *, struct kiln_record *), struct kiln_state *st,
    struct kiln_record *rec)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		read(st, rec);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
}

/* A record's bytes changed in place by another program after the load: kiln stops, naming the file. */
static void
lazy_part_changed_in_place_stops(void **state)
{
	struct kiln_state st;
	struct kiln_record r, *got;
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];

	(void)state;
	kiln_state_load(&st, path);
	make_record(&r, "a", 1, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	got = kiln_state_get(&st, "a");
	assert_non_null(got);
	/* The byte before the record's checksum: its components' last. */
	change_last_record_in_place();
	reading_exits_2(read_comps, &st, got);
	kiln_state_release(&st);
}

/* The lock writer's hold: every record's params from one read of the file, each record checked again. */
static void
held_file_serves_params_and_is_checked(void **state)
{
	struct kiln_state st;
	struct kiln_record r, *a, *b;
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];

	(void)state;
	kiln_state_load(&st, path);
	make_record(&r, "a", 1, c, f, m);
	r.params = "epochs 3";
	assert_int_equal(kiln_state_put(&st, &r), 0);
	make_record(&r, "b", 2, c, f, m);
	r.params = "lr 0.1";
	assert_int_equal(kiln_state_put(&st, &r), 0);
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	kiln_state_hold(&st);
	assert_non_null(st.held);
	/* Without the file: what is read comes from the held bytes. */
	close(st.rfd);
	st.rfd = -1;
	a = kiln_state_get(&st, "a");
	b = kiln_state_get(&st, "b");
	assert_string_equal(kiln_state_params(&st, b), "lr 0.1");
	assert_string_equal(kiln_state_params(&st, a), "epochs 3");
	kiln_state_unhold(&st);
	assert_null(st.held);
	kiln_state_release(&st);

	/* Changed in place before the hold: the held copy is checked as a pread one is. */
	kiln_state_load(&st, path);
	change_last_record_in_place();
	kiln_state_hold(&st);
	reading_exits_2(read_params, &st, kiln_state_get(&st, "b"));
	kiln_state_release(&st);
}

/* Names of the records not in the lock (kiln_state_unlocked), sorted, joined with ' '. */
static void
unlocked_names(struct kiln_state *st, char *out, size_t len)
{
	size_t n, i, j;
	struct kiln_record **v = kiln_state_unlocked(st, &n);

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(v[j - 1]->name, v[j]->name) > 0; j--) {
			struct kiln_record *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	out[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", v[i]->name);
	free(v);
}

/*
 * Which records the last Kilnfile.lock was written from (the lock writer
 * copies their lines from it): those recorded before its lock record, in
 * memory, after a reload and after the log is rewritten; a record made
 * again since is not, and neither is anything when no lock was recorded.
 */
static void
records_in_the_lock(void **state)
{
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];
	struct kiln_record r;
	struct kiln_digest text;
	struct kiln_state st;
	struct stat sb;
	char names[64];

	(void)state;
	assert_int_equal(stat(dir, &sb), 0);
	kiln_digest_buf("lock text", 9, &text);
	kiln_state_load(&st, path);
	make_record(&r, "a", 1, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	make_record(&r, "b", 2, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	assert_false(kiln_state_in_lock(&st, kiln_state_get(&st, "a")));
	unlocked_names(&st, names, sizeof(names));
	assert_string_equal(names, "a b");
	assert_int_equal(kiln_state_put_lock(&st, &sb, &text, NULL), 0);
	assert_true(kiln_state_in_lock(&st, kiln_state_get(&st, "a")));
	unlocked_names(&st, names, sizeof(names));
	assert_string_equal(names, "");
	make_record(&r, "b", 3, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	make_record(&r, "b", 4, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	assert_true(kiln_state_in_lock(&st, kiln_state_get(&st, "a")));
	assert_false(kiln_state_in_lock(&st, kiln_state_get(&st, "b")));
	unlocked_names(&st, names, sizeof(names));
	assert_string_equal(names, "b");
	kiln_state_release(&st);

	kiln_state_load(&st, path);
	assert_true(kiln_state_in_lock(&st, kiln_state_get(&st, "a")));
	assert_false(kiln_state_in_lock(&st, kiln_state_get(&st, "b")));
	assert_true(kiln_digest_eq(&st.lock.digest, &text));
	unlocked_names(&st, names, sizeof(names));
	assert_string_equal(names, "b");
	/* Rewritten with a target recorded after the lock: no lock record is kept, so none is in it. */
	assert_int_equal(kiln_state_compact(&st, 1), 0);
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	assert_false(kiln_state_in_lock(&st, kiln_state_get(&st, "a")));
	unlocked_names(&st, names, sizeof(names));
	assert_string_equal(names, "a b");
	/* A lock recorded, then the log rewritten: every record is in it after the reload. */
	assert_int_equal(kiln_state_put_lock(&st, &sb, &text, NULL), 0);
	assert_int_equal(kiln_state_compact(&st, 1), 0);
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	assert_true(kiln_state_in_lock(&st, kiln_state_get(&st, "a")));
	assert_true(kiln_state_in_lock(&st, kiln_state_get(&st, "b")));
	assert_true(kiln_digest_eq(&st.lock.digest, &text));
	unlocked_names(&st, names, sizeof(names));
	assert_string_equal(names, "");
	kiln_state_release(&st);
}

/*
 * The graph a lock was written from (kiln_state_lock_from, which lets the
 * lock writer patch the old text instead of walking every target): kept
 * across a reload and a rewrite; another graph's is not it; a lock record
 * without one (an older kiln's, or a graph with no identity) is no graph's,
 * and neither is the lock once a target is forgotten after it.
 */
static void
lock_knows_its_graph(void **state)
{
	struct kiln_component c[2];
	struct kiln_file f[1];
	struct kiln_metric m[1];
	struct kiln_record r;
	struct kiln_digest text, g1, g2;
	struct kiln_state st;
	struct stat sb;

	(void)state;
	assert_int_equal(stat(dir, &sb), 0);
	kiln_digest_buf("lock text", 9, &text);
	kiln_digest_buf("graph one", 9, &g1);
	kiln_digest_buf("graph two", 9, &g2);
	kiln_state_load(&st, path);
	assert_false(kiln_state_lock_from(&st, &g1));
	make_record(&r, "a", 1, c, f, m);
	assert_int_equal(kiln_state_put(&st, &r), 0);
	assert_int_equal(kiln_state_put_lock(&st, &sb, &text, &g1), 0);
	assert_true(kiln_state_lock_from(&st, &g1));
	assert_false(kiln_state_lock_from(&st, &g2));
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	assert_true(kiln_state_lock_from(&st, &g1));
	assert_false(kiln_state_lock_from(&st, &g2));
	assert_true(kiln_digest_eq(&st.lock.digest, &text));
	assert_int_equal(kiln_state_compact(&st, 1), 0);
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	assert_true(kiln_state_lock_from(&st, &g1));
	/* A lock written from a graph with no identity: the next lock is made by the walk. */
	assert_int_equal(kiln_state_put_lock(&st, &sb, &text, NULL), 0);
	assert_false(kiln_state_lock_from(&st, &g1));
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	assert_false(kiln_state_lock_from(&st, &g1));
	assert_true(kiln_state_in_lock(&st, kiln_state_get(&st, "a")));
	/* A target forgotten after the lock: the lock has a section the graph's text would not. */
	assert_int_equal(kiln_state_put_lock(&st, &sb, &text, &g2), 0);
	assert_true(kiln_state_lock_from(&st, &g2));
	assert_int_equal(kiln_state_forget(&st, "a"), 0);
	assert_false(kiln_state_lock_from(&st, &g2));
	kiln_state_release(&st);
	kiln_state_load(&st, path);
	assert_false(kiln_state_lock_from(&st, &g2));
	kiln_state_release(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(lazy_part_read_back_from_the_file_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(lazy_part_changed_in_place_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(held_file_serves_params_and_is_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(params_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(torn_tail_is_cut_and_appends_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_is_an_empty_state, setup, teardown),
		cmocka_unit_test_setup_teardown(stat_cache_skips_unchanged_files, setup, teardown),
		cmocka_unit_test_setup_teardown(racily_new_files_are_not_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(folder_record_holds_its_files, setup, teardown),
		cmocka_unit_test_setup_teardown(a_log_of_records_made_again_is_compacted, setup, teardown),
		cmocka_unit_test_setup_teardown(records_in_the_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(lock_knows_its_graph, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
