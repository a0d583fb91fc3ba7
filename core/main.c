/*
 * kiln: the command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/plugin.h>

#include "cmd.h"
#include "cmd_build.h"
#include "cmd_cache.h"
#include "cmd_data.h"
#include "cmd_deploy.h"
#include "cmd_exp.h"
#include "cmd_report.h"
#include "cmd_serve.h"
#include "cmd_slurm.h"
#include "cmd_verify.h"
#include "util.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command *find_command(const char *name);
static int help(int argc, char **argv);

static const char general_help[] =
    "usage: kiln [-C DIR] COMMAND [ARGS]\n"
    "\n"
    "kiln builds machine-learning artifacts declared in a Kilnfile (Lua): it\n"
    "rebuilds only what is stale, runs each step through a plugin in a sandbox,\n"
    "and keeps every output in a content-addressed cache.\n"
    "\n"
    "commands:\n"
    "  build [TARGET...]     bring targets up to date (default: all but side effects,\n"
    "                        such as deploys); -S T.FIELD=VALUE\n"
    "                        builds as if the Kilnfile set that field\n"
    "  status [TARGET...]    list stale targets and why; --check for CI\n"
    "  why TARGET            which part of a target's action key changed\n"
    "  graph [TARGET...]     print the dependency graph as Graphviz dot\n"
    "  metrics [diff [REV]]  print the metrics that targets recorded; diff: against git\n"
    "  params diff [REV]     the params that changed since a git revision's Kilnfile.lock\n"
    "  exp show|diff|gc      the run history: compare runs, their params and metrics\n"
    "  report [TARGET...]    write the results as one offline HTML page of charts\n"
    "  serve TARGET          build a model target and serve it over HTTP\n"
    "  deploy TARGET         push an image, install its manifests; --rollback\n"
    "  plugins               list the plugins kiln can find\n"
    "  clean                 remove kiln-out/\n"
    "  gc --max-size SIZE    trim the local cache, least recently used first\n"
    "  fsck                  re-hash the local cache and quarantine bad blobs\n"
    "  add PATH...           keep data files or folders in the cache, not in git\n"
    "  fetch --update        print the digests fetch targets' URLs serve now\n"
    "  push [TARGET...]      upload targets' outputs and tracked sources to the remote\n"
    "  pull [TARGET...]      download them from the remote cache\n"
    "  verify [TARGET...]    rebuild without the cache and compare with Kilnfile.lock\n"
    "  help [COMMAND]        this text, or a command's\n"
    "\n"
    "options:\n"
    "  -C DIR                run in DIR (where the Kilnfile is)\n"
    "  --version             print kiln's version\n"
    "\n"
    "environment:\n"
    "  KILN_CACHE_DIR        the local cache (default $XDG_CACHE_HOME/kiln or ~/.cache/kiln)\n"
    "  KILN_GPUS             the GPUs steps may use, as indices (0,1) or none (default: /dev/nvidia*)\n"
    "  KILN_PLUGIN_PATH      folders searched for plugins before the repository's plugins/\n"
    "  KILN_REMOTE           the remote cache's URL: http(s)://... or s3://BUCKET/PREFIX\n"
    "                        (--remote wins; off for none)\n"
    "  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE,\n"
    "  AWS_REGION, AWS_ENDPOINT_URL\n"
    "                        an s3:// remote's credentials (else ~/.aws/credentials),\n"
    "                        region (default us-east-1) and S3-compatible endpoint\n"
    "  KILN_REMOTE_HEADER    a header sent to it, such as \"Authorization: Bearer ...\"\n"
    "  KILN_REMOTE_READ_ONLY 1: never upload to the remote cache\n"
    "  KILN_SHARED_DIRS      folders (a:b) under $HOME an absolute input may name\n"
    "  KILN_THREADS          threads that hash a folder's files (default: one per CPU)\n"
    "\n"
    "Exit status: 0 success, 1 a build step failed (or --check found something\n"
    "stale), 2 a usage or Kilnfile error.\n";

static const struct command commands[] = {
	{"build", kiln_cmd_build, "[-j N] [-k] [-n] [-v] [-q] [-S TARGET.FIELD=VALUE]... [--link auto|copy|hardlink] [--sandbox on|off] [--remote URL] [--remote-read-only] [--download all|minimal] [--executor NAME] [TARGET...]",
	    "Bring the targets (default: every target but the side effects, effect = true,\n"
	    "such as deploys, and what depends on them) and what they depend on up to date.\n"
	    "A side effect runs only when named, and then each time.\n"
	    "A target is up to date when its action key is the one recorded and its outputs\n"
	    "in kiln-out/TARGET/ are unchanged; else kiln restores its outputs from the local\n"
	    "cache, then from the remote cache if there is one, and only when both miss runs\n"
	    "its plugin (and uploads what it made). Kilnfile.lock is rewritten afterwards.\n"
	    "\n"
	    "  -j, --jobs N        run up to N steps at once (default: the number of CPUs);\n"
	    "                      a step that declares resources.cpus takes that many slots\n"
	    "  -k, --keep-going    go on with independent targets after a step fails\n"
	    "  -n, --dry-run       print what would run and why, running nothing\n"
	    "  -v, --verbose       also say what was restored from the cache\n"
	    "  -q, --quiet         print only errors\n"
	    "  -S, --set TARGET.FIELD=VALUE\n"
	    "                      build as if the Kilnfile gave TARGET's rule FIELD = VALUE\n"
	    "                      (a Lua literal: 0.05, '\"adam\"', true, {64, 32}; a dotted\n"
	    "                      FIELD such as params.lr reaches into a table). Repeatable.\n"
	    "                      The rule checks it as it checks the file; it is part of the\n"
	    "                      key like any param, and the run history records it\n"
	    "  --link MODE         how outputs are kept from the cache: auto (the default: a\n"
	    "                      reflink where the file system can, else a read-only\n"
	    "                      hardlink to the blob for a file of 1 MiB or more, else a\n"
	    "                      copy), copy (reflink or copy) or hardlink (every file;\n"
	    "                      editing one in place corrupts the cache)\n"
	    "  --sandbox on|off    run steps in the sandbox (default on); off prints a warning\n"
	    "                      and marks the outputs unsandboxed in Kilnfile.lock\n"
	    "  --remote URL        the shared remote cache, http(s)://... or s3://BUCKET/PREFIX\n"
	    "                      (wins over KILN_REMOTE and the Kilnfile's\n"
	    "                      kiln.config { remote = ... }); off for none.\n"
	    "                      A remote that is down or broken only slows the build\n"
	    "  --remote-read-only  fetch from the remote cache, never upload to it (Slurm\n"
	    "                      jobs too; the same as KILN_REMOTE_READ_ONLY=1)\n"
	    "  --download all|minimal\n"
	    "                      minimal: download a target's outputs from the remote only\n"
	    "                      when a step here needs them or the target is named (with\n"
	    "                      none named: a final target); the others are recorded\n"
	    "                      remote-only (kiln status shows them, kiln pull fetches\n"
	    "                      them). Default: kiln.config { remote = { download = ... } },\n"
	    "                      else all\n"
	    "  --executor NAME     where steps run: local, or slurm (each step a Slurm job;\n"
	    "                      see docs/slurm.md). Default: kiln.config's executor,\n"
	    "                      else local\n"},
	{"add", kiln_cmd_add, "[--remove] PATH...",
	    "Track the files or folders PATH (inside the workspace) as data kept out of git:\n"
	    "their bytes go to the local cache (a folder as a tree of blobs, so one changed\n"
	    "file costs one blob), a small pointer PATH.kiln is written beside each, meant to\n"
	    "be committed, and PATH is added to the .gitignore of its folder. Adding again\n"
	    "records the present content. `kiln push` uploads tracked sources with the\n"
	    "targets that read them; `kiln pull` and `kiln build` restore one that is missing\n"
	    "from the local cache, else the remote, every blob checked. `kiln status` names\n"
	    "a tracked source changed since it was added (--check fails on it). A kiln add\n"
	    "that is killed leaves no pointer to blobs the cache lacks. See docs/data.md.\n"
	    "\n"
	    "  --remove   stop tracking PATH: delete PATH.kiln and its .gitignore line; the\n"
	    "             data itself stays\n"},
	{"fetch", kiln_cmd_fetch, "--update [TARGET...]",
	    "Download the URL of each fetch target (default: all) afresh, outside the\n"
	    "sandbox and the cache, and print the digest it serves now; when it is not the\n"
	    "pinned one, print the Kilnfile line to change. Nothing is built or kept.\n"
	    "Exit 0 when every URL serves the pinned bytes, 1 when one serves others, 2\n"
	    "when a download failed.\n"},
	{"push", kiln_cmd_push, "[--remote URL] [-j N] [TARGET...]",
	    "Upload the outputs of the targets (default: all) and of everything they depend\n"
	    "on, and the tracked sources (kiln add) they read, to the remote cache: the blobs the server lacks (blobs of 64 KiB or more are\n"
	    "asked about with HEAD first), then the action entries; nothing for a target\n"
	    "whose entry the server has. Targets must be built. Prints a progress bar on a\n"
	    "terminal and a summary: blobs, bytes, seconds. -j N transfers at once\n"
	    "(default 16).\n"
	    "Exit 1 when a target is not built or an upload failed.\n"},
	{"pull", kiln_cmd_pull, "[--remote URL] [-j N] [TARGET...]",
	    "Download the outputs of the targets (default: all) and of everything they\n"
	    "depend on from the remote cache into the local cache, each blob checked against\n"
	    "its digest; `kiln build` then restores them without running anything. Tracked\n"
	    "sources (kiln add) they read that are missing are downloaded and put back in\n"
	    "the workspace. Prints a\n"
	    "progress bar and a summary. Exit 1 when the remote lacks a target.\n"},
	{"verify", kiln_cmd_verify, "[--deep] [--against lock|cache] [--json] [--sandbox on|off] [-S TARGET.FIELD=VALUE]... [-j N] [TARGET...]",
	    "Rebuild the targets (default: all) in a fresh copy of the workspace at another\n"
	    "path, with an empty cache and no remote, another umask, time zone and locale,\n"
	    "and the clock moved (with faketime, when installed), and compare every output's\n"
	    "digest with Kilnfile.lock (or, with --against cache, with the local cache).\n"
	    "Without --deep the dependencies of the named targets are restored from the\n"
	    "local cache; with it, they are rebuilt and compared too.\n"
	    "For each difference: target, output, both sizes and digests; the rebuilt file\n"
	    "is kept in .kiln/verify/, with a diffoscope report when diffoscope is installed.\n"
	    "\n"
	    "  --json           one JSON document on stdout, for machines\n"
	    "  --sandbox on|off the rebuild's sandbox (default on)\n"
	    "  -S TARGET.FIELD=VALUE  verify the build made with these overrides (kiln build\n"
	    "                   -S), in the workspace and in the rebuild\n"
	    "  -j N             steps at once in the rebuild\n"
	    "\n"
	    "Exit 0 when every output is identical, 1 when any differs, 2 on error.\n"},
	{"status", kiln_cmd_status, "[--check] [--all] [--remote-sources] [-S TARGET.FIELD=VALUE]... [TARGET...]",
	    "List the stale targets, one line each with the reason.\n"
	    "\n"
	    "A tracked source (kiln add) whose file differs from its pointer is named:\n"
	    "`data/x.csv: changed since 'kiln add'`; one that is missing too.\n"
	    "\n"
	    "  --check   exit 1 when anything is stale, a tracked source changed since kiln\n"
	    "            add, or Kilnfile.lock does not match the workspace (for CI), 0\n"
	    "            otherwise\n"
	    "  --all     list up-to-date targets too\n"
	    "  --remote-sources\n"
	    "            for each fetch target, ask its URL (HEAD) whether it still serves\n"
	    "            the pinned bytes: when its ETag or Last-Modified moved since kiln\n"
	    "            last looked, download and hash it (nothing is kept); one that\n"
	    "            serves other bytes is named, and counts for --check\n"
	    "  -S, --set TARGET.FIELD=VALUE  as kiln build -S: is the build with it up to date?\n"},
	{"why", kiln_cmd_why, "[-S TARGET.FIELD=VALUE]... TARGET",
	    "Say exactly which parts of TARGET's action key changed since it was last\n"
	    "built (plugin, params, inputs, environment variables, outputs, resources),\n"
	    "with the old and the new digest of each. With -S (as kiln build -S), against\n"
	    "the build with those overrides; a param an override sets is named with it.\n"},
	{"graph", kiln_cmd_graph, "[TARGET...]",
	    "Print the graph of the targets (default: all) and what they depend on as\n"
	    "Graphviz dot: `kiln graph | dot -Tsvg > graph.svg`.\n"},
	{"deploy", kiln_cmd_deploy, "[--force] [--rollback] TARGET",
	    "Build what the deploy TARGET needs, then run it: push its image to the\n"
	    "registry and write Kubernetes manifests pinned to the image's digest; copy\n"
	    "the manifests into the folder the rule names (and commit them to its gitops\n"
	    "repository) and record the deployment in .kiln/deployments. A deploy is a\n"
	    "side effect: a plain kiln build and kiln verify never run it. The folder\n"
	    "must be writable before anything is pushed; when the build fails it is left\n"
	    "as it was. Credentials: KILN_REGISTRY_TOKEN, or KILN_REGISTRY_USER and\n"
	    "KILN_REGISTRY_PASSWORD, or podman's, skopeo's or docker's auth file. See\n"
	    "docs/deploy.md.\n"
	    "\n"
	    "  --force      move a tag that already points at another image\n"
	    "  --rollback   put back the manifests of the digest deployed before the\n"
	    "               current one (nothing is built or pushed)\n"},
	{"serve", kiln_cmd_serve, "TARGET [--port N] [--host ADDR]",
	    "Bring the model TARGET (a model or select target, or a container target's model) up\n"
	    "to date, then serve it with kiln-serve on ADDR:N (default 127.0.0.1:8080):\n"
	    "POST /v1/models/TARGET:predict, GET /v1/models/TARGET, /healthz, /metrics.\n"
	    "Stop it with Ctrl-C or SIGTERM. See docs/serve.md.\n"},
	{"metrics", kiln_cmd_metrics, "[TARGET...] [--json] | diff [REV] [--all] [--json]",
	    "Print every metric that the targets (default: all) recorded when they were last\n"
	    "built: test targets record accuracy and the like, and a command's metrics =\n"
	    "\"FILE.json\" every number in that file. --json prints {TARGET: {METRIC: VALUE}}.\n"
	    "\n"
	    "metrics diff [REV] compares the workspace's metrics with those of Kilnfile.lock\n"
	    "at the git revision REV (default HEAD, read with `git show REV:./Kilnfile.lock`):\n"
	    "one line per metric that changed, with both values and the change. --all lists\n"
	    "unchanged ones too; --json prints [{target, name, old, new, change}].\n"},
	{"params", kiln_cmd_params, "diff [REV] [--all] [--json]",
	    "Compare the workspace's params (what its targets were last built with, as\n"
	    "Kilnfile.lock records them) with Kilnfile.lock at the git revision REV\n"
	    "(default HEAD): one line per param that changed, with the change of a number.\n"
	    "--all lists unchanged ones too; --json prints [{target, name, old, new, change}].\n"},
	{"exp", kiln_cmd_exp, "show [TARGET...] [--sort [-]METRIC] [--all] [--json|--csv] | diff RUN_A RUN_B [--json] | gc [--keep N]",
	    "The run history (.kiln/history): every build that ran or restored a target with\n"
	    "metrics records a run: its id, start time, git commit (and whether the tree was\n"
	    "dirty), the -S overrides, and per target its key, params and metrics.\n"
	    "\n"
	    "  show     one row per (run, target) — of the TARGETs, default all — with the\n"
	    "           params whose value differs across the rows (--all: every param) and\n"
	    "           the metrics. --sort METRIC orders by it (-METRIC: highest first);\n"
	    "           --json prints [{run, target, start, status, git, overrides, key,\n"
	    "           params, metrics}], --csv the table as CSV\n"
	    "  diff     what changed from run RUN_A to run RUN_B in params and metrics\n"
	    "  gc       keep only the last N runs (default 100); ids are never reused\n"
	    "\n"
	    "See docs/experiments.md.\n"},
	{"report", kiln_cmd_report, "[-o FILE] [--json] [--revisions N] [TARGET...]",
	    "Write what the build recorded as one HTML page that works offline\n"
	    "(kiln-out/report.html by default): per dataset its checks and each column's\n"
	    "distribution and drift; per model its loss curves; per test its gates,\n"
	    "confusion matrix, ROC, precision-recall and calibration curves (or, for a\n"
	    "regression, predicted against true and the residuals); per group its\n"
	    "fairness measures; and each metric across the last git revisions of\n"
	    "Kilnfile.lock. It reads outputs, the state and git; it runs no step.\n"
	    "Targets that were never built are listed, and the rest still shown.\n"
	    "\n"
	    "  -o, --output FILE  write here instead (- for standard output)\n"
	    "  --json             write the document instead: every chart as a Vega-Lite\n"
	    "                     spec with its data, and every table (to stdout unless -o)\n"
	    "  --revisions N      how many commits of Kilnfile.lock to chart (default 10;\n"
	    "                     0: none)\n"
	    "\n"
	    "See docs/report.md.\n"},
	{"plugins", kiln_cmd_plugins, "",
	    "List every plugin kiln finds, in search order: the folders of\n"
	    "KILN_PLUGIN_PATH, the repository's plugins/, then kiln's own. For each: name,\n"
	    "version, ABI, where it was found, summary, digest and path. Files that are\n"
	    "not plugins, or were built for another ABI, are listed as refused.\n"},
	{"clean", kiln_cmd_clean, "",
	    "Remove kiln-out/. The cache keeps every output, so the next build restores\n"
	    "them without running anything.\n"},
	{"gc", kiln_cmd_gc, "--max-size SIZE | --remote[=URL] [--keep LOCKFILE]... [--keep-last N] [--grace SECONDS] [--dry-run]",
	    "Trim the local cache to SIZE (such as 10G or 500M), removing the least\n"
	    "recently used blobs first, and the entries that needed them.\n"
	    "\n"
	    "With --remote (URL, else KILN_REMOTE, else the Kilnfile's): delete from the\n"
	    "remote cache every entry that no --keep lock file names (default:\n"
	    "./Kilnfile.lock) and that is not among the --keep-last N newest, then every\n"
	    "blob that no remaining entry names and that is older than --grace seconds\n"
	    "(default 3600: an upload under way keeps its blobs). Entries go first, so no\n"
	    "entry is ever left naming a deleted blob. The server must list folders as\n"
	    "JSON and accept DELETE, or be S3 (ListObjectsV2; docs/remote-cache.md).\n"},
	{"fsck", kiln_cmd_fsck, "[--remote[=URL] [--repair]]",
	    "Re-hash every blob of the local cache and check every entry. Bad ones are\n"
	    "moved to the cache's quarantine/ folder and listed. Exit 1 if any was found.\n"
	    "\n"
	    "With --remote: check the remote cache instead: entries that do not parse or\n"
	    "name a blob the server lacks, blobs whose bytes (decompressed, for\n"
	    "cas-zstd/) are not their digest. --repair deletes them (entries first).\n"},
	{"help", help, "[COMMAND]", "Print kiln's help, or a command's.\n"},
	{"slurm-step", kiln_cmd_slurm_step, "submit|node OPTIONS",
	    "Run one build step as a Slurm job: started by `kiln build --executor slurm`\n"
	    "(submit, on this machine) and by the job (node), not by hand. See docs/slurm.md.\n"},
	{NULL, NULL, NULL, NULL},
};

static const struct command *
find_command(const char *name)
{
	const struct command *c;

	for (c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int
help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		fputs(general_help, stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		error("no command '%s' (see `kiln help`)", argv[1]);
		return 2;
	}
	printf("usage: kiln %s %s\n\n%s", c->name, c->usage, c->help);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct command *c;
	int i, fd, r;

	/*
	 * Folders kiln makes (kiln-out/<target>, the cache) are read by steps
	 * running as another user in the sandbox, and outputs must not depend
	 * on who built them: the user's umask does not apply.
	 */
	umask(022);
	/* fds 0-3 open, so no pipe kiln makes lands on a number a child expects. */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= 3)
		;
	if (fd > 3)
		close(fd);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-C") == 0 && i + 1 < argc) {
			if (chdir(argv[++i]) < 0)
				die("-C %s:", argv[i]);
		} else if (strncmp(argv[i], "-C", 2) == 0 && argv[i][2]) {
			if (chdir(argv[i] + 2) < 0)
				die("-C %s:", argv[i] + 2);
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(general_help, stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("kiln %s (plugin ABI %d)\n", KILN_VERSION, KILN_PLUGIN_ABI);
#ifdef KILN_FAULT
			printf("built with failure injection (KILN_FAULT, core/fault.h)\n");
#endif
			return 0;
		} else {
			fprintf(stderr, "kiln: unknown option '%s'\n%s", argv[i], general_help);
			return 2;
		}
	}
	if (i == argc) {
		fputs(general_help, stderr);
		return 2;
	}
	c = find_command(argv[i]);
	if (!c) {
		fprintf(stderr, "kiln: no command '%s' (see `kiln help`)\n", argv[i]);
		return 2;
	}
	if (i + 1 < argc && (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0)) {
		char *h[] = {"help", argv[i], NULL};

		return help(2, h);
	}
	r = c->run(argc - i, argv + i);
	if (r == KILN_CMD_USAGE) {
		fprintf(stderr, "usage: kiln %s %s\n(see `kiln help %s`)\n", c->name, c->usage, c->name);
		r = 2;
	}
	return r;
}
