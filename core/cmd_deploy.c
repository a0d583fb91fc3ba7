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
	m = kiln_value_string(kiln_value_get(t->params, "manifests"), NULL);
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

		if (t && a && dg && strcmp(t, target) == 0) {
			if (strcmp(a, "deploy") == 0 && (n == 0 || strcmp(stack[n - 1], dg) != 0)) {
				stack = xreallocarray(stack, n + 1, sizeof(*stack));
				stack[n++] = xstrdup(dg);
			} else if (strcmp(a, "rollback") == 0 && n > 0) {
				free(stack[--n]);
			}
		}
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
	const char *reg = kiln_value_string(kiln_value_get(t->params, "registry"), ""), *p, *slash;
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

static int
do_deploy(struct kiln_workspace *ws, const struct kiln_target *t, const char *dir)
{
	struct kiln_build_opts o = {.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN), .sandbox = 1};
	char *want[1] = {(char *)t->name}, *p, *snap, hex[KILN_DIGEST_HEX];
	const char *digest, *image;
	struct kiln_record *rec;
	json_t *push;
	int r;

	if (kiln_graph_want(&ws->graph, want, 1) < 0)
		return 2;
	r = kiln_scheduler_build(ws, &o);
	if (r != 0) {
		error("'%s' was not deployed; %s is unchanged", t->name, dir);
		return r;
	}
	p = xasprintf(KILN_OUT_DIR "/%s/push.json", t->name);
	push = json_load_file(p, 0, NULL);
	free(p);
	digest = json_string_value(json_object_get(push, "digest"));
	image = json_string_value(json_object_get(push, "image"));
	if (!digest || !image || strncmp(digest, "sha256:", 7) != 0 || strchr(digest, '/')) {
		json_decref(push);
		return error(KILN_OUT_DIR "/%s/push.json has no digest", t->name), 1;
	}
	/* The snapshot first: a rollback must find every digest the log names. */
	p = xasprintf(KILN_OUT_DIR "/%s/manifests", t->name);
	snap = xasprintf(LOG_DIR "/%s/%s", t->name, digest + 7);
	r = copy_files(p, snap) < 0 || copy_files(p, dir) < 0;
	free(p);
	free(snap);
	if (!r) {
		json_t *line;
		const struct kiln_target *img = input_target(t, "image");
		const struct kiln_target *model = img ? input_target(img, "model") : NULL;

		rec = kiln_state_get(&ws->state, t->name);
		line = json_pack("{s:s, s:s, s:s, s:s, s:s}", "action", "deploy", "target", t->name,
			"digest", digest, "image", image,
			"key", rec ? kiln_digest_hex(&rec->key, hex) : "");
		/* The keys the image and its model were built under, for `kiln why` later. */
		if (img && (rec = kiln_state_get(&ws->state, img->name)))
			json_object_set_new(line, "image_key", json_string(kiln_digest_hex(&rec->key, hex)));
		if (model && (rec = kiln_state_get(&ws->state, model->name))) {
			json_object_set_new(line, "model", json_string(model->name));
			json_object_set_new(line, "model_key", json_string(kiln_digest_hex(&rec->key, hex)));
		}
		r = log_line(line) < 0;
	}
	if (!r)
		printf("kiln: deployed %s: %s; manifests in %s\n", t->name, image, dir);
	json_decref(push);
	return r ? 1 : 0;
}

static int
do_rollback(const struct kiln_target *t, const char *dir)
{
	char **h, *snap;
	size_t n = history(t->name, &h);
	int r;

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
