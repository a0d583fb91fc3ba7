/*
 * kiln report [TARGET...] [-o FILE] [--json] [--revisions N]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_report.h"
#include "fs.h"
#include "paths.h"
#include "report.h"
#include "util.h"
#include "workspace.h"

#define REPORT_PATH KILN_OUT_DIR "/report.html"
#define REPORT_TMP KILN_OUT_DIR "/.report.tmp"

/* Write data to path: the workspace's kiln-out/ link-proof, any other path as the user named it. */
static int
write_report(const char *path, const char *data, size_t len)
{
	int fd;

	if (strcmp(path, "-") == 0)
		return write_all(1, data, len) < 0 ? error("writing the report:") : 0;
	if (strcmp(path, REPORT_PATH) != 0)
		return write_file_atomic(path, data, len, 0644, 0) < 0 ? error("%s:", path) : 0;
	if ((fd = kiln_fs_mkdirsat(AT_FDCWD, KILN_OUT_DIR, 0755)) < 0)
		return error("%s:", KILN_OUT_DIR);
	close(fd);
	if ((fd = kiln_fs_create(AT_FDCWD, REPORT_TMP, 0644)) < 0)
		return error("%s:", REPORT_TMP);
	if (write_all(fd, data, len) < 0 || close(fd) < 0) {
		error("%s:", REPORT_TMP);
		kiln_fs_removeat(AT_FDCWD, REPORT_TMP);
		return -1;
	}
	if (kiln_fs_renameat(AT_FDCWD, REPORT_TMP, AT_FDCWD, REPORT_PATH) < 0) {
		error("%s:", REPORT_PATH);
		kiln_fs_removeat(AT_FDCWD, REPORT_TMP);
		return -1;
	}
	return 0;
}

int
kiln_cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "revisions", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct kiln_report_opts o = { NULL, 0, 10 };
	const char *out = NULL;
	struct kiln_workspace ws;
	int c, as_json = 0, rc = 0;
	char *data;
	size_t len;
	json_t *doc;

	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'J')
			as_json = 1;
		else if (c == 'r' && kiln_cmd_parse_int(optarg, 0, &o.revisions) == 0)
			continue;
		else
			return KILN_CMD_USAGE;
	}
	o.targets = argv + optind;
	o.ntargets = (size_t)(argc - optind);
	if (kiln_cmd_open(&ws, 0, NULL) < 0)
		return 2;
	if (!(doc = kiln_report_collect(&ws, &o))) {
		kiln_workspace_close(&ws);
		return 2;
	}
	if (as_json) {
		data = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
		len = data ? strlen(data) : 0;
	} else {
		data = kiln_report_html(doc, &len);
	}
	if (!data)
		die("out of memory");
	if (!out)
		out = as_json ? "-" : REPORT_PATH;
	if (write_report(out, data, len) < 0)
		rc = 2;
	else if (strcmp(out, "-") != 0)
		printf("kiln: wrote %s (%zu target%s not shown)\n", out, json_array_size(json_object_get(doc, "not_built")),
			json_array_size(json_object_get(doc, "not_built")) == 1 ? "" : "s");
	free(data);
	json_decref(doc);
	kiln_workspace_close(&ws);
	return rc;
}
