/*
 * key: action keys. A target's key is XXH3-128 over a canonical, versioned
 * encoding of its components: the plugin (name, version, ABI, digest of its
 * shared object), each param, each input's digest, each declared
 * environment variable, the output names, the thread count, the network
 * flag, a platform tag, and the declared tools' digests and packages'
 * versions. Never a time or an absolute path.
 */
#ifndef KILN_KEY_H
#define KILN_KEY_H

#include "graph.h"
#include "loader.h"
#include "state.h"

/* Bumped when the encoding changes, so old cache entries are not reused. */
#define KILN_KEY_SCHEMA "kiln-key-1"

struct kiln_keyinfo {
	struct kiln_component *comps;
	size_t ncomps, cap;
	struct kiln_digest key;
};

/*
 * Compute t's components and key. The inputs must be resolved (their
 * digests filled in); declared environment variables are read from kiln's
 * environment.
 */
void kiln_key_compute(struct kiln_keyinfo *ki, const struct kiln_target *t,
    const struct kiln_plugin_info *pi);
void kiln_keyinfo_release(struct kiln_keyinfo *ki);
/* Set pi->keydigest, the plugin's key component (name, version, ABI, digest), once per load. */
void kiln_key_plugin_digest(struct kiln_plugin_info *pi);

/* Are a and b the same component (kind and name; a GPU's name without its version)? */
int kiln_component_same(const struct kiln_component *a, const struct kiln_component *b);
/* "param 'epochs'", "input 'data'", … for messages. */
void kiln_component_describe(struct buf *b, int kind, const char *name);

#endif
