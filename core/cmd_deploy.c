/*
 * deploy: `kiln deploy TARGET` and `kiln deploy --rollback TARGET`.
 *
 * The deploy plugin runs sandboxed like every step: it pushes the image and
 * writes the Kubernetes manifests into its own output folder, where the
 * cache can keep them. Putting them into the folder the rule names — a
 * folder the repository commits, outside kiln-out/ — is this command's job,
 * done only after the step succeeded, so a failed push leaves the folder as
 * it was. The same command keeps the history:
 *
 *	.kiln/deployments/log			one JSON line per deploy or rollback
 *	.kiln/deployments/TARGET/DIGEST/	the manifests of each deployed digest
 *
 * A rollback puts back the manifests of the digest deployed before the
 * current one; the log is replayed as a stack (a deploy pushes a digest
 * unless it is already on top, a rollback pops one).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd_deploy.h"
#include "gitops.h"
#include "paths.h"
#include "regauth.h"
#include "scheduler.h"
#include "workspace.h"
#include "util.h"

#define LOG_DIR KILN_DEPLOY_DIR

static const char usage[] = "usage: kiln deploy [--force] [--rollback] TARGET\n";

/* The deploy target `name` and its manifests folder (absolute, malloc'd). */
static const struct kiln_target *
find_deploy(struct kiln_workspace *ws, const char *name, char **dir)
{
	const struct kiln_target *t = kiln_graph_find(&ws->graph, name);
	const char *m;

	if (!t) {
		error("no target '%s' in the Kilnfile", name);
		return NULL;
	}
	if (strcmp(t->plugin, "deploy") != 0) {
		error("'%s' is a '%s' target; kiln deploy takes a deploy target", name, t->plugin);
		return NULL;
	}
	m = kiln_value_string(kiln_value_get(kiln_target_params(t), "manifests"), NULL);
	if (!m || !*m) {
		error("deploy target '%s' has no 'manifests' folder", name);
		return NULL;
	}
	*dir = xasprintf("%s/%s", ws->root, m);
	return t;
}

/*
 * Can files be created in dir? It is made if missing (*made says so, for
 * the caller to remove it again if nothing is deployed). The test is a real
 * file, created and removed: permission bits say nothing for root or on a
 * read-only mount.
 */
static int
writable(const char *dir, int *made)
{
	char *probe;
	struct stat sb;
	int fd;

	*made = stat(dir, &sb) < 0 && errno == ENOENT;
	if (mkdir_p(dir, 0755) < 0)
		return error("manifests folder %s cannot be made: %s", dir, strerror(errno));
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return error("manifests folder %s is not a folder", dir);
	probe = xasprintf("%s/.kiln-probe.%ld", dir, (long)getpid());
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		error("manifests folder %s is not writable: %s", dir, strerror(errno));
		free(probe);
		return -1;
	}
	close(fd);
	unlink(probe);
	free(probe);
	return 0;
}

/* Copy every regular file of from/ into to/, each atomically. */
static int
copy_files(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return error("%s:", from);
	if (mkdir_p(to, 0755) < 0) {
		closedir(d);
		return error("%s:", to);
	}
	while (rc == 0 && (e = readdir(d))) {
		char *src, *dst, *data;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		src = xasprintf("%s/%s", from, e->d_name);
		dst = xasprintf("%s/%s", to, e->d_name);
		data = read_file(src, &len);
		if (!data)
			rc = error("%s:", src);
		else if (write_file_atomic(dst, data, len, 0644, 1) < 0)
			rc = error("cannot write %s:", dst);
		free(data);
		free(src);
		free(dst);
	}
	closedir(d);
	return rc;
}

/* The digests deployed for target, oldest first, as the log's stack leaves them. */
static size_t
history(const char *target, char ***out)
{
	char *text = read_file(LOG_DIR "/log", NULL), *line, *save = NULL;
	char **stack = NULL;
	size_t n = 0;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *t = json_string_value(json_object_get(j, "target"));
		const char *a = json_string_value(json_object_get(j, "action"));
		const char *dg = json_string_value(json_object_get(j, "digest"));

		if (t && a && dg && strcmp(t, target) == 0)
			kiln_gitops_replay(&stack, NULL, &n, a, dg, NULL);
		json_decref(j);
	}
	free(text);
	*out = stack;
	return n;
}

static void
free_history(char **h, size_t n)
{
	while (n > 0)
		free(h[--n]);
	free(h);
}

/* Append one line to the log; takes j's reference. */
static int
log_line(json_t *j)
{
	char when[32], *s;
	time_t now = time(NULL);
	struct tm tm;
	int fd, rc = 0;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(j, "time", json_string(when));
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!s)
		die("out of memory");
	if (mkdir_p(LOG_DIR, 0755) < 0 ||
	    (fd = open(LOG_DIR "/log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		free(s);
		return error(LOG_DIR "/log:");
	}
	if (write_all(fd, s, strlen(s)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0)
		rc = error(LOG_DIR "/log:");
	close(fd);
	free(s);
	return rc;
}

/* The target behind input `name` of t, or NULL. */
static const struct kiln_target *
input_target(const struct kiln_target *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ninputs; i++)
		if (strcmp(t->inputs[i].name, name) == 0)
			return t->inputs[i].dep;
	return NULL;
}

/*
 * The registry's credentials for t's step. KILN_REGISTRY_* variables that
 * are set win; else the auth files of podman, skopeo and docker
 * (regauth.h), handed to the step in the same variables with
 * KILN_REGISTRY_SOURCE naming the file. force sets KILN_DEPLOY_FORCE,
 * which only this process decides: an inherited one is dropped.
 */
int
kiln_deploy_prepare(const struct kiln_target *t, int force)
{
	const char *reg = kiln_value_string(kiln_value_get(kiln_target_params(t), "registry"), ""), *p, *slash;
	const char *tok = getenv("KILN_REGISTRY_TOKEN"), *user = getenv("KILN_REGISTRY_USER");
	struct kiln_regauth a;
	char *host;
	int r;

	if (force)
		setenv("KILN_DEPLOY_FORCE", "1", 1);
	else
		unsetenv("KILN_DEPLOY_FORCE");
	unsetenv("KILN_REGISTRY_SOURCE");
	if ((tok && *tok) || (user && *user))
		return 0;
	p = strstr(reg, "://") ? strstr(reg, "://") + 3 : reg;
	if (!(slash = strchr(p, '/')))
		return 0;
	host = xstrndup(p, (size_t)(slash - p));
	r = kiln_regauth_find(host, slash + 1, &a);
	free(host);
	if (r < 0)
		return error("deploy target '%s': the registry's credentials cannot be read", t->name);
	if (r == 1) {
		setenv("KILN_REGISTRY_USER", a.user, 1);
		setenv("KILN_REGISTRY_PASSWORD", a.password, 1);
		setenv("KILN_REGISTRY_SOURCE", a.source, 1);
	}
	kiln_regauth_release(&a);
	return 0;
}

int
kiln_deploy_prepare_wanted(const struct kiln_graph *g)
{
	size_t i;

	for (i = 0; i < g->ntargets; i++)
		if (g->targets[i]->wanted && strcmp(g->targets[i]->plugin, "deploy") == 0 &&
		    kiln_deploy_prepare(g->targets[i], 0) < 0)
			return -1;
	return 0;
}

/* t's gitops = { repo, branch, path } into g: 1, or 0 when it has none. */
static int
gitops_of(const struct kiln_target *t, struct kiln_gitops *g)
{
	const kiln_value *v = kiln_value_get(kiln_target_params(t), "gitops");
	const char *repo = kiln_value_string(kiln_value_get(v, "repo"), NULL);

	if (!v || !repo)
		return 0;
	kiln_gitops_init(g, t->name, repo, kiln_value_string(kiln_value_get(v, "branch"), NULL),
	    kiln_value_string(kiln_value_get(v, "path"), NULL));
	return 1;
}

/* The metrics of t's gates (its `after` targets), a line each, for the commit message. */
static void
gate_metrics(struct kiln_workspace *ws, const struct kiln_target *t, struct buf *b)
{
	size_t i, k;

	for (i = 0; i < t->ninputs; i++) {
		const struct kiln_target *d = t->inputs[i].dep;
		struct kiln_record *rec = d && strncmp(t->inputs[i].name, "after", 5) == 0 ?
		    kiln_state_get(&ws->state, d->name) : NULL;

		if (!rec || !rec->nmetrics)
			continue;
		buf_printf(b, "  %s:", d->name);
		for (k = 0; k < rec->nmetrics; k++)
			buf_printf(b, " %s=%.6g", rec->metrics[k].name, rec->metrics[k].value);
		buf_addc(b, '\n');
	}
}

/* Commit what is in g->dir with msg and push it; the commit pushed into hex. */
static int
gitops_publish(struct kiln_gitops *g, const char *msg, char hex[41])
{
	int made, rebased;

	if (kiln_gitops_commit(g, msg, &made) < 0 || kiln_gitops_push(g, &rebased) < 0 ||
	    kiln_gitops_head(g, hex) < 0)
		return -1;
	if (made)
		printf("kiln: gitops: committed %.12s to %s %s (%s)%s\n", hex, g->repo, g->branch, g->path,
		    rebased ? ", rebased onto newer commits there" : "");
	else
		printf("kiln: gitops: %s %s (%s) has these manifests already (%.12s)\n", g->repo, g->branch,
		    g->path, hex);
	return 0;
}

/* The deploy's commit: its message names the target, the image and the gates' metrics. */
static int
gitops_deploy(struct kiln_workspace *ws, const struct kiln_target *t, struct kiln_gitops *g, json_t *push,
    char hex[41])
{
	const char *digest = json_string_value(json_object_get(push, "digest"));
	char *from = xasprintf(KILN_OUT_DIR "/%s/manifests", t->name);
	struct buf msg = BUF_INIT;
	int r;

	buf_printf(&msg, "kiln deploy %s: %s\n\nImage: %s\nTag: %s\n", t->name,
	    json_string_value(json_object_get(push, "image")), json_string_value(json_object_get(push, "image")),
	    json_string_value(json_object_get(push, "reference")));
	buf_adds(&msg, "Gate metrics:\n");
	gate_metrics(ws, t, &msg);
	buf_printf(&msg, "\nKiln-Target: %s\nKiln-Action: deploy\nKiln-Digest: %s\n", t->name, digest);
	r = copy_files(from, g->dir) < 0 ? -1 : gitops_publish(g, msg.s, hex);
	buf_release(&msg);
	free(from);
	return r;
}

/* The log line of a deploy: the digest, the image, and the keys it was built under. */
static json_t *
deploy_line(struct kiln_workspace *ws, const struct kiln_target *t, const char *digest, const char *image)
{
	const struct kiln_target *img = input_target(t, "image");
	const struct kiln_target *model = img ? input_target(img, "model") : NULL;
	struct kiln_record *rec = kiln_state_get(&ws->state, t->name);
	char hex[KILN_DIGEST_HEX];
	json_t *line;

	line = json_pack("{s:s, s:s, s:s, s:s, s:s}", "action", "deploy", "target", t->name,
		"digest", digest, "image", image, "key", rec ? kiln_digest_hex(&rec->key, hex) : "");
	/* The keys the image and its model were built under, for `kiln why` later. */
	if (img && (rec = kiln_state_get(&ws->state, img->name)))
		json_object_set_new(line, "image_key", json_string(kiln_digest_hex(&rec->key, hex)));
	if (model && (rec = kiln_state_get(&ws->state, model->name))) {
		json_object_set_new(line, "model", json_string(model->name));
		json_object_set_new(line, "model_key", json_string(kiln_digest_hex(&rec->key, hex)));
	}
	return line;
}

/* push.json of t's step, with a digest and an image; NULL (reported) if not. */
static json_t *
read_push(const struct kiln_target *t)
{
	char *p = xasprintf(KILN_OUT_DIR "/%s/push.json", t->name);
	json_t *push = json_load_file(p, 0, NULL);
	const char *digest = json_string_value(json_object_get(push, "digest"));

	free(p);
	if (!digest || !json_string_value(json_object_get(push, "image")) || strncmp(digest, "sha256:", 7) != 0 ||
	    strchr(digest, '/')) {
		json_decref(push);
		error(KILN_OUT_DIR "/%s/push.json has no digest", t->name);
		return NULL;
	}
	return push;
}

static int
do_deploy(struct kiln_workspace *ws, const struct kiln_target *t, const char *dir)
{
	struct kiln_build_opts o = {.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), .sandbox = 1};
	char *want[1] = {(char *)t->name}, *p, *snap, commit[41] = "";
	const char *digest, *image;
	struct kiln_gitops g;
	int ops = gitops_of(t, &g), r;
	json_t *push = NULL, *line;

	/* The repository first, like the folder: if it cannot be reached, nothing is pushed. */
	if (ops && kiln_gitops_sync(&g) < 0) {
		error("nothing was pushed");
		r = 1;
		goto out;
	}
	if (kiln_graph_want(&ws->graph, want, 1) < 0) {
		r = 2;
		goto out;
	}
	r = kiln_scheduler_build(ws, &o);
	if (r != 0) {
		error("'%s' was not deployed; %s is unchanged", t->name, dir);
		goto out;
	}
	if (!(push = read_push(t))) {
		r = 1;
		goto out;
	}
	digest = json_string_value(json_object_get(push, "digest"));
	image = json_string_value(json_object_get(push, "image"));
	if (ops && gitops_deploy(ws, t, &g, push, commit) < 0) {
		error("'%s': the image %s was pushed, but its manifests were not committed; %s is unchanged",
		    t->name, image, dir);
		r = 1;
		goto out;
	}
	/* The snapshot first: a rollback must find every digest the log names. */
	p = xasprintf(KILN_OUT_DIR "/%s/manifests", t->name);
	snap = xasprintf(LOG_DIR "/%s/%s", t->name, digest + 7);
	r = copy_files(p, snap) < 0 || copy_files(p, dir) < 0;
	free(p);
	free(snap);
	if (!r) {
		line = deploy_line(ws, t, digest, image);
		if (commit[0])
			json_object_set_new(line, "commit", json_string(commit));
		r = log_line(line) < 0;
	}
	if (!r)
		printf("kiln: deployed %s: %s; manifests in %s\n", t->name, image, dir);
	r = r ? 1 : 0;
out:
	json_decref(push);
	if (ops)
		kiln_gitops_release(&g);
	return r;
}

/* A rollback in the repository: a new commit with the manifests of the digest before the current one. */
static int
gitops_rollback(const struct kiln_target *t, struct kiln_gitops *g, const char *dir)
{
	char **h = NULL, **commits = NULL, hex[41];
	long n = kiln_gitops_sync(g) < 0 ? -1 : kiln_gitops_history(g, &h, &commits), i;
	struct buf msg = BUF_INIT;
	int r = -1;

	if (n >= 0 && n < 2)
		error("no earlier deployment of '%s' in %s %s (%s) to roll back to (%ld kiln commits)", t->name,
		    g->repo, g->branch, g->path, n);
	if (n >= 2) {
		buf_printf(&msg, "kiln rollback %s: back to %s\n\nFrom: %s\nTo: %s (as in %.12s)\n\n"
		    "Kiln-Target: %s\nKiln-Action: rollback\nKiln-Digest: %s\n", t->name, h[n - 2], h[n - 1],
		    h[n - 2], commits[n - 2], t->name, h[n - 2]);
		r = kiln_gitops_restore(g, commits[n - 2]) < 0 || gitops_publish(g, msg.s, hex) < 0 ||
		    copy_files(g->dir, dir) < 0 ? -1 : 0;
	}
	if (r == 0)
		r = log_line(json_pack("{s:s, s:s, s:s, s:s, s:s}", "action", "rollback", "target", t->name,
			"digest", h[n - 1], "to", h[n - 2], "commit", hex));
	if (r == 0)
		printf("kiln: rolled %s back from %s to %s; manifests in %s\n", t->name, h[n - 1], h[n - 2], dir);
	for (i = 0; i < n; i++) {
		free(h[i]);
		free(commits[i]);
	}
	free(h);
	free(commits);
	buf_release(&msg);
	return r < 0 ? 1 : 0;
}

static int
do_rollback(const struct kiln_target *t, const char *dir)
{
	char **h, *snap;
	struct kiln_gitops g;
	size_t n;
	int r;

	if (gitops_of(t, &g)) {
		r = gitops_rollback(t, &g, dir);
		kiln_gitops_release(&g);
		return r;
	}
	n = history(t->name, &h);
	if (n < 2) {
		free_history(h, n);
		return error("no earlier deployment of '%s' to roll back to (%zu in %s/log)",
			t->name, n, LOG_DIR), 1;
	}
	snap = xasprintf(LOG_DIR "/%s/%s", t->name, h[n - 2] + 7);
	r = copy_files(snap, dir) < 0;
	free(snap);
	if (!r)
		r = log_line(json_pack("{s:s, s:s, s:s, s:s}", "action", "rollback", "target", t->name,
			"digest", h[n - 1], "to", h[n - 2])) < 0;
	if (!r)
		printf("kiln: rolled %s back from %s to %s; manifests in %s\n", t->name, h[n - 1],
			h[n - 2], dir);
	free_history(h, n);
	return r ? 1 : 0;
}

int
kiln_cmd_deploy(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rollback", no_argument, NULL, 'r'},
		{"force", no_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	const struct kiln_target *t;
	struct kiln_workspace ws;
	char *dir = NULL;
	int c, rollback = 0, force = 0, r, made = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'r')
			rollback = 1;
		else if (c == 'f')
			force = 1;
		else
			return fputs(usage, stderr), 2;
	}
	if (optind + 1 != argc)
		return fputs(usage, stderr), 2;
	if (kiln_workspace_open(&ws, 1) < 0) {
		kiln_workspace_close(&ws);
		return 2;
	}
	if (!(t = find_deploy(&ws, argv[optind], &dir))) {
		kiln_workspace_close(&ws);
		return 2;
	}
	if (!rollback && kiln_deploy_prepare(t, force) < 0) {
		r = 1;
	} else if (writable(dir, &made) < 0) {
		error("nothing was pushed");
		r = 1;
	} else {
		r = rollback ? do_rollback(t, dir) : do_deploy(&ws, t, dir);
		/* Leave no empty folder behind when nothing was deployed. */
		if (r != 0 && made)
			rmdir(dir);
	}
	free(dir);
	kiln_workspace_close(&ws);
	return r;
}
