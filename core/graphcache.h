/*
 * graphcache: .kiln/graph, the evaluated Kilnfile kept between runs.
 *
 * Evaluating a Kilnfile is a pure function of the files it reads (the
 * environment has no clock, no io and no os), so when none of them changed
 * — and neither did kiln's rule library — the graph can be read back instead
 * of running Lua again. For a large graph that is most of a no-op build.
 */
#ifndef KILN_GRAPHCACHE_H
#define KILN_GRAPHCACHE_H

#include <stddef.h>

struct kiln_digest;
struct kiln_graph;
struct kiln_state;

/*
 * Fill g from the Kilnfile at `path`: from .kiln/graph when it is current,
 * else by evaluating it (and then saving .kiln/graph). -1 after reporting
 * an error in the Kilnfile.
 */
int kiln_graphcache_load(struct kiln_graph *g, const char *path, struct kiln_state *st);
/*
 * Fill the empty g from .kiln/graph's body: what follows its header
 * (magic, version, fingerprint) up to its checksum, p[0..len), which kiln
 * wrote but a damaged disk or another tool may have changed. 0 done; -1
 * when it does not decode or a source changed since (g left empty). The
 * graph's strings (names, specs, paths) point into p, which must outlive
 * g: a copy of each was 1.5 MiB of a 10,000-target no-op's peak memory.
 */
int kiln_graphcache_decode(struct kiln_graph *g, struct kiln_state *st, const void *p, size_t len);
/*
 * The graph's identity: the digest of the .kiln/graph bytes it was read
 * from or saved as, so the same for the same targets, inputs and params
 * from one run to the next. -1 when it has none (evaluated with -S, which
 * is never cached, or not saved because a source went away meanwhile).
 */
int kiln_graphcache_id(struct kiln_graph *g, struct kiln_digest *out);

#endif
