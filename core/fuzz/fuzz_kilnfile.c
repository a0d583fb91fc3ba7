/*
 * libFuzzer target: Kilnfile evaluation, the input as a Kilnfile in a
 * scratch folder, then the graph linked as a build would. A Kilnfile is
 * a program: one that loops or grows without end is caught by
 * evaluation's limits (kiln.config's eval_instructions and eval_memory,
 * set low by a first line the target adds), else by libFuzzer's -timeout
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

/*
 * Evaluation's own limits, set low so a loop ends in an error in
 * milliseconds, not in libFuzzer's timeout (an input may raise them again:
 * that one meets the timeout).
 */
static const char prelude[] = "kiln.config { eval_instructions = 1e7, eval_memory = \"256M\" }\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kiln_graph g;
	struct buf b = BUF_INIT;

	buf_add(&b, prelude, sizeof(prelude) - 1);
	buf_add(&b, data, size);
	if (write_file_atomic("Kilnfile", b.s, b.len, 0644, 0) < 0)
		abort();
	buf_release(&b);
	kiln_graph_init(&g);
	if (kiln_kilnfile_load(&g, "Kilnfile") == 0)
		(void)kiln_graph_link(&g);
	kiln_graph_release(&g);
	return 0;
}
