/*
 * libFuzzer target: Kilnfile evaluation, the input as a Kilnfile in a
 * scratch folder, then the graph linked as a build would. A Kilnfile is
 * a program: one that loops or grows without end is caught by
 * evaluation's limits where kiln has them, else by libFuzzer's -timeout
 * and -rss_limit_mb (make fuzz runs this target with -fork=1 and
 * -ignore_timeouts/-ignore_ooms so one such input does not end the run).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"
#include "kilnfile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/kiln-fuzz-kilnfile.XXXXXX";

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir) || chdir(dir) < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiln_graph g;

	if (write_file_atomic("Kilnfile", data, size, 0644, 0) < 0)
		abort();
	kiln_graph_init(&g);
	if (kiln_kilnfile_load(&g, "Kilnfile") == 0)
		(void)kiln_graph_link(&g);
	kiln_graph_release(&g);
	return 0;
}
