/*
 * libFuzzer target: the graph-cache decoder (.kiln/graph's body after
 * its header, the part a damaged file or another tool could change while
 * its checksum still holds: kiln_graphcache_decode), then the graph it
 * decoded is linked as a build would, and every target's params, which
 * stay encoded until asked for, decoded (what loading checked must decode).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graphcache.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kiln_state st;
	static int ready;
	struct kiln_graph g;
	size_t i;

	if (!ready) {
		/* No state file: each source's digest is read from the file itself. */
		kiln_state_load(&st, "/nonexistent/kiln-fuzz-state");
		ready = 1;
	}
	kiln_graph_init(&g);
	if (kiln_graphcache_decode(&g, &st, data, size) == 0) {
		(void)kiln_graph_link(&g);
		for (i = 0; i < g.ntargets; i++)
			if (kiln_target_params(g.targets[i])->type != KILN_MAP)
				abort();
	}
	kiln_graph_release(&g);
	return 0;
}
