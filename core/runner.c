/*
 * kiln-run: runs one plugin for one build step.
 *
 *	kiln-run SPEC.json
 *	kiln-run --describe PLUGIN.so
 *	kiln-run --check SPEC.json
 *	kiln-run --netns
 *	kiln-run --serve
 *
 * kiln starts it with the step's log as stdout and stderr and a status pipe
 * as fd 3. It reads the spec, loads the plugin, enters the sandbox, fixes
 * the environment and calls the plugin's run(). Exit status: 0 built, 1 the
 * plugin failed (its message went to the status pipe), 2 kiln-run itself
 * could not start the step (message on stderr and the status pipe).
 *
 * This is the one place a plugin is started; the sandbox takes it over
 * between dlopen() and run(). A repository's plugin is untrusted: it is
 * loaded only inside the sandbox, and its check() runs there before run().
 * --describe loads one in the sandbox and prints its descriptor as a JSON
 * line, and --check runs its check() on a target's params there and prints
 * its refusal, for kiln, which never loads such a plugin itself.
 * --netns makes the user and network namespaces kiln lends its steps
 * (netns.c). --serve forks each step's kiln-run for kiln (stepserver.h).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context.h"
#include "gpu.h"
#include "rootfs.h"
#include "sandbox.h"
#include "statuspipe.h"
#include "stepserver.h"
#include "userns.h"
#include "value.h"

#define STATUS_FD 3

/* A fixed date for tools that stamp their outputs: 1980-01-01, which zip can store. */
#define SOURCE_DATE_EPOCH "315532800"

struct spec {
	struct arena arena;
	json_t *json;
	const char *target, *plugin, *workspace, *out;
	const char *machine;	/* what the action key says of the processor's kernels (plugin.h), or NULL */
	struct kiln_ctx ctx;
	int sandbox, network;
	int netns;		/* kiln lent namespaces to join, on KILN_USERNS_FD and KILN_NETNS_FD */
	int rootns;		/* and the job slot's shared root, on KILN_MNTNS_FD */
	int hostns;		/* and its copy of the host's tree, on KILN_HOSTNS_FD */
	int filter;		/* and the compiled seccomp filter, on KILN_FILTER_FD */
	const char *cgslot_mem, *cgslot_pids;	/* with netns: where the job slots' cgroups are (sandbox.h); else NULL */
	int untrusted;		/* a repository plugin: load it only in the sandbox */
	unsigned long long mem, fsize, disk;
	unsigned long cpu, nproc;
	int gpus[KILN_GPU_MAX];	/* the GPUs the step holds (gpu.h) */
	size_t ngpus;
	int gpu_step;		/* it asked for GPUs: their variables are set */
	char **gpu_nodes, **gpu_libs;	/* what the sandbox shows of them */
};

static struct kiln_ctx *failctx;

/* Report a failure to start the step, on both stderr and the status pipe, and exit 2. */
__attribute__((noreturn, format(printf, 1, 2))) static void
startfail(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kiln-run: %s\n", msg);
	if (failctx) {
		failctx->status_fd = STATUS_FD;
		kiln_fail(failctx, "%s", msg);
	} else {
		/*
		 * NEEDSWORK: KILN_FAIL_START once build.c reads lines with
		 * kiln_statuspipe_parse(); until then it knows only plain "fail".
		 */
		(void)kiln_statuspipe_send(STATUS_FD, NULL,
		    &(struct kiln_status_msg){.type = KILN_MSG_FAIL, .kind = KILN_FAIL_STEP, .text = msg});
	}
	exit(2);
}

static const char *
jstr(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		startfail("spec: '%s' is missing or not a string", key);
	return json_string_value(v);
}

static unsigned long long
jnum(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

static void
read_inputs(struct spec *sp, json_t *inputs)
{
	size_t n = json_object_size(inputs), i = 0;
	const char **names = arena_alloc(&sp->arena, n * sizeof(*names));
	const char **paths = arena_alloc(&sp->arena, n * sizeof(*paths));
	const char *key;
	json_t *v;

	json_object_foreach(inputs, key, v) {
		if (!json_is_string(v))
			startfail("spec: input '%s' is not a path", key);
		names[i] = arena_strdup(&sp->arena, key);
		paths[i] = json_string_value(v);
		i++;
	}
	/* The ABI promises inputs sorted by name. */
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
			const char *t = names[b];

			names[b] = names[b - 1];
			names[b - 1] = t;
			t = paths[b];
			paths[b] = paths[b - 1];
			paths[b - 1] = t;
		}
	sp->ctx.ninputs = n;
	sp->ctx.input_names = names;
	sp->ctx.input_paths = paths;
}

static void
read_spec(struct spec *sp, const char *path)
{
	json_error_t jerr;
	json_t *j, *outputs, *sb, *v;
	char err[256];
	size_t i;

	j = json_load_file(path, 0, &jerr);
	if (!j)
		startfail("spec %s: %s", path, jerr.text);
	sp->json = j;
	kiln_ctx_init(&sp->ctx);
	sp->target = jstr(j, "target");
	sp->plugin = jstr(j, "plugin");
	sp->workspace = jstr(j, "workspace");
	sp->out = jstr(j, "out");
	sp->machine = json_string_value(json_object_get(j, "machine"));
	sp->ctx.target = sp->target;
	sp->ctx.outdir = sp->out;
	sp->ctx.threads = (int)jnum(j, "threads");
	sp->ctx.same = json_is_true(json_object_get(j, "same"));
	sp->ctx.params = kiln_value_from_json(&sp->arena, json_object_get(j, "params"), err, sizeof(err));
	if (!sp->ctx.params || sp->ctx.params->type != KILN_MAP)
		startfail("spec: params: %s", sp->ctx.params ? "not a map" : err);
	read_inputs(sp, json_object_get(j, "inputs"));
	outputs = json_object_get(j, "outputs");
	sp->ctx.noutputs = json_array_size(outputs);
	sp->ctx.outputs = arena_alloc(&sp->arena, sp->ctx.noutputs * sizeof(char *));
	json_array_foreach(outputs, i, v)
		((const char **)sp->ctx.outputs)[i] = json_string_value(v);
	sp->untrusted = json_is_true(json_object_get(j, "untrusted"));
	sp->gpu_step = jnum(j, "gpu_count") > 0;
	if (json_is_string(json_object_get(j, "checkpoint"))) {
		char *data = xasprintf("%s/data", json_string_value(json_object_get(j, "checkpoint")));

		sp->ctx.checkpoint = json_string_value(json_object_get(j, "checkpoint"));
		sp->ctx.checkpoint_data = arena_strdup(&sp->arena, data);
		free(data);
	}
	json_array_foreach(json_object_get(j, "gpus"), i, v)
		if (json_is_integer(v) && sp->ngpus < KILN_GPU_MAX)
			sp->gpus[sp->ngpus++] = (int)json_integer_value(v);
	sb = json_object_get(j, "sandbox");
	sp->sandbox = json_is_object(sb);
	if (sp->sandbox) {
		sp->network = json_is_true(json_object_get(sb, "network"));
		sp->netns = !sp->network && json_is_true(json_object_get(sb, "netns"));
		sp->rootns = sp->netns && json_is_true(json_object_get(sb, "rootns"));
		sp->hostns = sp->rootns && json_is_true(json_object_get(sb, "hostns"));
		sp->filter = json_is_true(json_object_get(sb, "filter"));
		if (sp->netns && json_is_string(json_object_get(sb, "cgslot"))) {
			sp->cgslot_mem = arena_strdup(&sp->arena, json_string_value(json_object_get(sb, "cgslot")));
			sp->cgslot_pids = arena_strdup(&sp->arena, json_is_string(json_object_get(sb, "cgslot_pids")) ?
			    json_string_value(json_object_get(sb, "cgslot_pids")) : "");
		}
		sp->mem = jnum(sb, "mem");
		sp->disk = jnum(sb, "disk");
		sp->fsize = jnum(sb, "fsize");
		sp->cpu = jnum(sb, "cpu");
		sp->nproc = jnum(sb, "nproc");
	}
}

/* dlopen the plugin at path (named `shown` in messages) and find its descriptor. */
static const struct kiln_plugin *
open_plugin(const char *path, const char *shown)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const struct kiln_plugin *p;

	if (!h)
		startfail("cannot load %s: %s", shown, dlerror());
	p = dlsym(h, KILN_PLUGIN_SYMBOL);
	if (!p)
		startfail("%s is not a kiln plugin: it exports no '%s' descriptor", shown, KILN_PLUGIN_SYMBOL);
	return p;
}

static const struct kiln_plugin *
load_plugin(const char *path)
{
	const struct kiln_plugin *p = open_plugin(path, path);

	if (p->abi != KILN_PLUGIN_ABI)
		startfail("plugin %s was built for ABI %d; this kiln speaks ABI %d", path, p->abi,
		    KILN_PLUGIN_ABI);
	if (!p->run)
		startfail("plugin %s has no run function", path);
	return p;
}

/*
 * The key names the processor's kernels the plugin said it would use where
 * kiln planned the build; another machine (a cluster node) may pick others,
 * and its outputs would not be the bytes the key stands for.
 */
static void
check_machine(const struct spec *sp)
{
	void *h = dlopen(sp->plugin, RTLD_NOW | RTLD_NOLOAD);
	const char *(*fn)(void) = h ? (const char *(*)(void))dlsym(h, KILN_PLUGIN_MACHINE_SYMBOL) : NULL;
	const char *here = fn ? fn() : NULL;

	if (!sp->machine || (here && strcmp(here, sp->machine) == 0))
		return;
	startfail("this machine's kernels are '%s', but the action key was made for '%s' (where kiln planned the build): "
	    "the outputs would not be the bytes the key stands for; build where the kernels are the same, or set "
	    "OPENBLAS_CORETYPE to the same value on both", here ? here : "(not said)", sp->machine);
}

static void
enter_sandbox(struct spec *sp)
{
	struct kiln_sandbox sb = {0};
	struct kiln_sandbox_bind *binds;
	json_t *paths = json_object_get(sp->json, "binds"), *v;
	char err[1024];
	size_t i, n = 0;

	/* A GPU step: its devices, and the driver's libraries where they are not under /usr already. */
	if (sp->ngpus) {
		sp->gpu_nodes = kiln_gpu_nodes(sp->gpus, sp->ngpus);
		sp->gpu_libs = kiln_gpu_libraries();
	}
	for (i = 0; sp->gpu_libs && sp->gpu_libs[i]; i++)
		;
	/* Every file the inputs cover (a glob's matches one by one), read-only; the output folder writable. */
	binds = arena_alloc(&sp->arena, (json_array_size(paths) + 3 + i) * sizeof(*binds));
	if (sp->ctx.checkpoint)
		binds[n++] = (struct kiln_sandbox_bind){sp->ctx.checkpoint, 1};
	for (i = 0; sp->gpu_libs && sp->gpu_libs[i]; i++)
		binds[n++] = (struct kiln_sandbox_bind){sp->gpu_libs[i], 0};
	sb.devices = sp->gpu_nodes;
	if (sp->untrusted)
		binds[n++] = (struct kiln_sandbox_bind){sp->plugin, 0};
	json_array_foreach(paths, i, v)
		if (json_is_string(v))
			binds[n++] = (struct kiln_sandbox_bind){json_string_value(v), 0};
	binds[n++] = (struct kiln_sandbox_bind){sp->out, 1};
	i = n;
	sb.workspace = sp->workspace;
	sb.binds = binds;
	sb.nbinds = i;
	sb.network = sp->network;
	if (sp->netns) {
		if (!kiln_userns_is(KILN_USERNS_FD, CLONE_NEWUSER) || !kiln_userns_is(KILN_NETNS_FD, CLONE_NEWNET))
			startfail("spec: no namespaces on fds %d and %d", KILN_USERNS_FD, KILN_NETNS_FD);
		sb.userns_fd = KILN_USERNS_FD;
		sb.netns_fd = KILN_NETNS_FD;
		sb.slot_cgroup_mem = sp->cgslot_mem;
		sb.slot_cgroup_pids = sp->cgslot_pids;
	}
	if (sp->rootns) {
		if (!kiln_userns_is(KILN_MNTNS_FD, CLONE_NEWNS))
			startfail("spec: no mount namespace on fd %d", KILN_MNTNS_FD);
		sb.mntns_fd = KILN_MNTNS_FD;
	}
	if (sp->hostns) {
		if (!kiln_userns_is(KILN_HOSTNS_FD, CLONE_NEWNS))
			startfail("spec: no mount namespace on fd %d", KILN_HOSTNS_FD);
		sb.hostns_fd = KILN_HOSTNS_FD;
	}
	sb.filter_fd = sp->filter ? KILN_FILTER_FD : 0;
	sb.mem_bytes = sp->mem;
	sb.fsize_bytes = sp->fsize;
	sb.cpu_seconds = sp->cpu;
	sb.nproc = sp->nproc;
	sb.disk_bytes = sp->disk;
	sb.status_fd = STATUS_FD;
	if (kiln_sandbox_enter(&sb, err, sizeof(err)) < 0)
		startfail("sandbox: %s", err);
}

/* Machine settings some OpenBLAS builds need to run at all on this processor. */
static const char *const passthrough[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"};

static void
fix_environment(struct spec *sp)
{
	char *keep[LEN(passthrough)];
	char threads[32];
	json_t *env = json_object_get(sp->json, "env"), *v;
	const char *key;
	size_t i;

	for (i = 0; i < LEN(passthrough); i++) {
		const char *val = getenv(passthrough[i]);

		keep[i] = val ? xstrdup(val) : NULL;
	}
	clearenv();
	for (i = 0; i < LEN(passthrough); i++)
		if (keep[i]) {
			setenv(passthrough[i], keep[i], 1);
			free(keep[i]);
		}
	snprintf(threads, sizeof(threads), "%d", sp->ctx.threads > 0 ? sp->ctx.threads : 1);
	setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
	setenv("HOME", "/tmp", 1);
	setenv("TMPDIR", "/tmp", 1);
	setenv("TZ", "UTC", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH, 1);
	setenv("OMP_NUM_THREADS", threads, 1);
	setenv("OPENBLAS_NUM_THREADS", threads, 1);
	setenv("MKL_NUM_THREADS", threads, 1);
	setenv("PYTHONHASHSEED", "0", 1);
	setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
	setenv("KILN_TARGET", sp->target, 1);
	if (sp->gpu_step)
		kiln_gpu_setenv(sp->gpus, sp->ngpus);
	if (sp->ctx.checkpoint_data)
		setenv("KILN_CHECKPOINT", sp->ctx.checkpoint_data, 1);
	json_object_foreach(env, key, v)
		if (json_is_string(v))
			setenv(key, json_string_value(v), 1);
}

/* Where a host path of the workspace is seen from inside the sandbox (whose current folder is the workspace). */
static const char *
inside_path(struct spec *sp, const char *path)
{
	size_t n = strlen(sp->workspace);
	char *p;

	if (strncmp(path, sp->workspace, n) != 0 || path[n] != '/')
		return path;
	p = xasprintf(".%s", path + n);
	path = arena_strdup(&sp->arena, p);
	free(p);
	return path;
}

/*
 * Enter a sandbox whose workspace is the plugin's folder, holding only the
 * plugin; its descriptor, checked (kiln checks a described one itself) when `check`.
 */
static const struct kiln_plugin *
load_confined(const char *path, int check)
{
	struct kiln_sandbox_bind bind = {NULL, 0};
	struct kiln_sandbox sb = {0};
	char err[1024], *dir = xstrdup(path), *slash = strrchr(dir, '/'), *inside;
	const struct kiln_plugin *p;

	if (path[0] != '/' || !slash || slash == dir)
		startfail("expected the plugin's absolute path, got %s", path);
	*slash = '\0';
	bind.path = slash + 1;
	sb.workspace = dir;
	sb.binds = &bind;
	sb.nbinds = 1;
	sb.cpu_seconds = 10;
	if (kiln_sandbox_enter(&sb, err, sizeof(err)) < 0)
		startfail("sandbox: %s", err);
	inside = xasprintf("./%s", slash + 1);
	p = check ? load_plugin(inside) : open_plugin(inside, path);
	free(inside);
	free(dir);
	return p;
}

/* --check SPEC: the plugin's check() on the spec's params, in the sandbox; its refusal on stdout, exit 1. */
static int
check_only(const char *path)
{
	struct spec sp = {0};
	const struct kiln_plugin *p;
	int r;

	read_spec(&sp, path);
	p = load_confined(sp.plugin, 1);
	r = p->check ? p->check(&sp.ctx) : 0;
	if (r != 0)
		printf("%s\n", sp.ctx.failure ? sp.ctx.failure : "the plugin refused its params without saying why");
	fflush(stdout);
	return r != 0;
}

/* --describe: load the plugin in a sandbox of its own and print what it is. */
static int
describe(const char *path)
{
	const struct kiln_plugin *p = load_confined(path, 0);
	json_t *j;

	/* Another ABI's descriptor may be laid out otherwise: only its ABI number is read then. */
	if (p->abi != KILN_PLUGIN_ABI)
		j = json_pack("{s:i}", "abi", p->abi);
	else
		j = json_pack("{s:i, s:s?, s:s?, s:s?, s:b, s:b}", "abi", p->abi, "name", p->name, "version",
		    p->version, "summary", p->summary, "check", p->check != NULL, "run", p->run != NULL);
	printf("%s\n", json_dumps(j, JSON_COMPACT));
	fflush(stdout);
	return 0;
}

/*
 * --netns, for kiln (netns.c), on a socket as fd 3: make a user and a
 * network namespace, wait while kiln maps our ids, bring the loopback up,
 * have a child make the job slot's shared root (a mount namespace;
 * rootfs.h), then copy the host's tree for ourselves (the slot's, which
 * setup joins rather than copying it per step: sandbox.c), say "R<its
 * pid>" (with " H" after it when we have that copy; "N" without a shared
 * root: the steps then build their roots whole), and stay, with the child,
 * until kiln has opened them (EOF).
 */
static int
make_netns(void)
{
	char c = 'u', err[256], msg[32] = "N";
	int release = -1, st;
	pid_t holder = -1;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0 || write(STATUS_FD, &c, 1) != 1 || read(STATUS_FD, &c, 1) != 1)
		return 1;
	if (kiln_userns_loopback_up(err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln-run: %s\n", err);
		return 1;
	}
	if (!getenv("KILN_SANDBOX_NO_SHARED_ROOT") && kiln_rootfs_make_base(&holder, &release, err, sizeof(err)) == 0)
		snprintf(msg, sizeof(msg), "R%d%s", (int)holder,
		    !getenv("KILN_SANDBOX_NO_HOST_VIEW") && unshare(CLONE_NEWNS) == 0 ? " H" : "");
	if (write(STATUS_FD, msg, strlen(msg)) != (ssize_t)strlen(msg))
		return 1;
	while (read(STATUS_FD, &c, 1) > 0)
		;
	if (release >= 0)
		close(release);
	while (holder > 0 && waitpid(holder, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* kiln-run SPEC, once the process is kiln-run's: run the step (in --serve, in the server's child). */
static int
run_spec(const char *path)
{
	struct spec sp = {0};
	const struct kiln_plugin *plugin = NULL;
	int r;

	if (fcntl(STATUS_FD, F_GETFD) < 0)
		startfail("no status pipe on fd %d", STATUS_FD);
	fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
	read_spec(&sp, path);
	failctx = &sp.ctx;
	/* The plugin and what it runs get no handle on them (the sandbox's step closes them anyway). */
	if (sp.netns) {
		fcntl(KILN_USERNS_FD, F_SETFD, FD_CLOEXEC);
		fcntl(KILN_NETNS_FD, F_SETFD, FD_CLOEXEC);
	}
	if (sp.rootns)
		fcntl(KILN_MNTNS_FD, F_SETFD, FD_CLOEXEC);
	if (sp.hostns)
		fcntl(KILN_HOSTNS_FD, F_SETFD, FD_CLOEXEC);
	if (sp.filter)
		fcntl(KILN_FILTER_FD, F_SETFD, FD_CLOEXEC);
	if (chdir(sp.workspace) < 0)
		startfail("cannot enter workspace %s: %s", sp.workspace, strerror(errno));
	if (!sp.untrusted || !sp.sandbox)
		plugin = load_plugin(sp.plugin);
	if (!sp.untrusted)
		check_machine(&sp);
	if (sp.sandbox)
		enter_sandbox(&sp);
	if (sp.untrusted && sp.sandbox)
		plugin = load_plugin(inside_path(&sp, sp.plugin));
	fix_environment(&sp);
	umask(022);
	sp.ctx.status_fd = STATUS_FD;
	fflush(NULL);
	r = plugin->run(&sp.ctx);
	fflush(NULL);
	if (r != 0 && !sp.ctx.failure)
		kiln_fail(&sp.ctx, "plugin '%s' failed without saying why", plugin->name);
	kiln_ctx_release(&sp.ctx);
	strv_free(sp.gpu_nodes);
	strv_free(sp.gpu_libs);
	json_decref(sp.json);
	arena_release(&sp.arena);
	return r != 0;
}

int
main(int argc, char **argv)
{
	kiln_argv0 = "kiln-run";
	/* A step does not outlive the kiln that started it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		startfail("kiln exited before the step started");
	if (argc == 2 && strcmp(argv[1], "--netns") == 0)
		return make_netns();
	if (argc == 2 && strcmp(argv[1], "--serve") == 0)
		return kiln_stepserver_serve(STATUS_FD, run_spec);
	if (argc == 3 && strcmp(argv[1], "--describe") == 0)
		return describe(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return check_only(argv[2]);
	if (argc != 2)
		startfail("usage: kiln-run SPEC.json (started by kiln, not by hand)");
	return run_spec(argv[1]);
}
