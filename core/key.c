/*
 * key: action keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "gpu.h"
#include "key.h"
#include "value.h"

static void
add(struct kiln_keyinfo *ki, int kind, const char *name, const struct kiln_digest *d)
{
	if (ki->ncomps == ki->cap)
		ki->comps = xreallocarray(ki->comps, ki->cap = ki->cap ? ki->cap * 2 : 16,
		    sizeof(*ki->comps));
	/* Names are the graph's, the plugin's or static: they outlive the key. */
	ki->comps[ki->ncomps++] = (struct kiln_component){kind, name, *d};
}

static void
add_bytes(struct kiln_keyinfo *ki, int kind, const char *name, const void *data, size_t len)
{
	struct kiln_digest d;

	kiln_digest_buf(data, len, &d);
	add(ki, kind, name, &d);
}

static const char *
platform(void)
{
	static char tag[128];
	struct utsname u;

	if (!tag[0]) {
		if (uname(&u) < 0)
			strcpy(u.machine, "unknown");
		snprintf(tag, sizeof(tag), "%s-%s", u.machine, "linux");
	}
	return tag;
}

/* Append one component as the key hashes it: kind, name length, name, digest. */
static void
put_comp(struct buf *b, const struct kiln_component *c)
{
	uint32_t len = strlen(c->name);
	char *p;

	if (b->len + 1 + 4 + len + 16 >= b->cap)	/* the room is there most times: no call */
		buf_grow(b, 1 + 4 + len + 16);
	p = b->s + b->len;
	*p++ = (char)c->kind;
	memcpy(p, &len, 4);
	memcpy(p + 4, c->name, len);
	memcpy(p + 4 + len, c->digest.b, 16);
	b->len += 1 + 4 + len + 16;
	b->s[b->len] = '\0';
}

/* v in decimal into out (at least 12 bytes), as "%d" writes it; its length. */
static int
decimal(char *out, int v)
{
	char tmp[12];
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
	int n = 0, len = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		out[len++] = '-';
	while (n > 0)
		out[len++] = tmp[--n];
	out[len] = '\0';
	return len;
}

/* A GPU step's driver and CUDA versions, read once per run. */
static void
add_gpu(struct kiln_keyinfo *ki)
{
	static char driver[80], cuda[80];
	static struct kiln_digest dd, cd;

	if (!driver[0]) {
		snprintf(driver, sizeof(driver), "driver %s", kiln_gpu_driver_version());
		snprintf(cuda, sizeof(cuda), "cuda %s", kiln_gpu_cuda_version());
		kiln_digest_buf(driver, strlen(driver), &dd);
		kiln_digest_buf(cuda, strlen(cuda), &cd);
	}
	add(ki, KILN_C_GPU, driver, &dd);
	add(ki, KILN_C_GPU, cuda, &cd);
}

int
kiln_component_same(const struct kiln_component *a, const struct kiln_component *b)
{
	if (a->kind != b->kind)
		return 0;
	/* "driver 550.54.14" is the same component as "driver 555.42.02": the version is its value. */
	if (a->kind == KILN_C_MACHINE)
		return 1;	/* one a target: what it says is its value */
	if (a->kind == KILN_C_GPU)
		return strcspn(a->name, " ") == strcspn(b->name, " ") && strncmp(a->name, b->name, strcspn(a->name, " ")) == 0;
	return strcmp(a->name, b->name) == 0;
}

/* Each param by its encoding: a cached graph's as it holds them, not decoded. */
static void
add_params(struct kiln_keyinfo *ki, const struct kiln_target *t, struct buf *b)
{
	const unsigned char *p = t->penc, *enc;
	const char *name;
	uint32_t i, n, len;

	if (p) {
		for (i = 0, n = kiln_params_count(&p); i < n; i++) {
			kiln_params_next(&p, &name, &enc, &len);
			add_bytes(ki, KILN_C_PARAM, name, enc, len);
		}
		return;
	}
	for (i = 0; i < t->params->u.seq.n; i++) {
		buf_reset(b);
		kiln_value_encode(b, &t->params->u.seq.items[i]);
		add_bytes(ki, KILN_C_PARAM, t->params->u.seq.keys[i], b->s, b->len);
	}
}

void
kiln_key_compute(struct kiln_keyinfo *ki, const struct kiln_target *t,
    const struct kiln_plugin_info *pi)
{
	struct buf b = BUF_INIT;
	size_t i;
	char num[32];
	int n;

	static struct kiln_digest schema, plat;
	static int fixed;

	buf_grow(&b, 1024);	/* most keys fit: no regrowth per target */

	/* What is the same for every target is hashed once per run. */
	if (!fixed) {
		kiln_digest_buf(KILN_KEY_SCHEMA, strlen(KILN_KEY_SCHEMA), &schema);
		kiln_digest_buf(platform(), strlen(platform()), &plat);
		fixed = 1;
	}
	ki->ncomps = 0;
	add(ki, KILN_C_SCHEMA, KILN_KEY_SCHEMA, &schema);
	add(ki, KILN_C_PLATFORM, platform(), &plat);
	add(ki, KILN_C_PLUGIN, pi->desc->name, &pi->keydigest);
	add_params(ki, t, &b);
	for (i = 0; i < t->ninputs; i++)
		add(ki, KILN_C_INPUT, t->inputs[i].name, &t->inputs[i].digest);
	for (i = 0; i < t->nenv; i++) {
		const char *v = t->env[i].value ? t->env[i].value : getenv(t->env[i].name);

		buf_reset(&b);
		/*
		 * Unset and empty are different environments. A side effect's
		 * values (credentials, --force) are not: it runs whenever asked.
		 */
		if (v && !t->effect)
			buf_printf(&b, "=%s", v);
		add_bytes(ki, KILN_C_ENV, t->env[i].name, b.s ? b.s : "", b.len);
	}
	for (i = 0; i < t->noutputs; i++)
		add_bytes(ki, KILN_C_OUTPUT, t->outputs[i], t->outputs[i], strlen(t->outputs[i]));
	n = decimal(num, t->res.threads);
	add_bytes(ki, KILN_C_RESOURCE, "threads", num, n);
	add_bytes(ki, KILN_C_NETWORK, "network", t->network ? "1" : "0", 1);
	for (i = 0; i < t->tools.ntools; i++)
		add(ki, KILN_C_TOOL, t->tools.tools[i].name, &t->tools.tools[i].digest);
	for (i = 0; i < t->tools.npackages; i++)
		add(ki, KILN_C_PACKAGE, t->tools.packages[i].name, &t->tools.packages[i].digest);

	if (t->res.gpus)
		add_gpu(ki);
	if (pi->machine)
		add(ki, KILN_C_MACHINE, pi->machine, &pi->machinedigest);

	/* One buffer, one hash: this runs for every target of every build. */
	buf_reset(&b);
	for (i = 0; i < ki->ncomps; i++) {
		/* The driver is recorded, for `kiln why`, but in the key only when the target says so. */
		if (ki->comps[i].kind == KILN_C_GPU && !t->gpu_key)
			continue;
		put_comp(&b, &ki->comps[i]);
	}
	kiln_digest_buf(b.s, b.len, &ki->key);
	buf_release(&b);
}

void
kiln_key_plugin_digest(struct kiln_plugin_info *pi)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "%s%c%s%c%d%c", pi->desc->name, 0, pi->desc->version, 0, pi->desc->abi, 0);
	buf_add(&b, pi->digest.b, 16);
	kiln_digest_buf(b.s, b.len, &pi->keydigest);
	buf_release(&b);
}

void
kiln_keyinfo_release(struct kiln_keyinfo *ki)
{
	free(ki->comps);
	memset(ki, 0, sizeof(*ki));
}

void
kiln_component_describe(struct buf *b, int kind, const char *name)
{
	switch (kind) {
	case KILN_C_SCHEMA:
		buf_printf(b, "kiln's key schema (%s)", name);
		break;
	case KILN_C_PLATFORM:
		buf_printf(b, "platform (%s)", name);
		break;
	case KILN_C_PLUGIN:
		buf_printf(b, "plugin '%s'", name);
		break;
	case KILN_C_PARAM:
		buf_printf(b, "param '%s'", name);
		break;
	case KILN_C_INPUT:
		buf_printf(b, "input '%s'", name);
		break;
	case KILN_C_ENV:
		buf_printf(b, "env %s", name);
		break;
	case KILN_C_OUTPUT:
		buf_printf(b, "output '%s'", name);
		break;
	case KILN_C_RESOURCE:
		buf_printf(b, "resources.%s", name);
		break;
	case KILN_C_NETWORK:
		buf_printf(b, "network");
		break;
	case KILN_C_TOOL:
		buf_printf(b, "tool '%s'", name);
		break;
	case KILN_C_PACKAGE:
		buf_printf(b, "package '%s'", name);
		break;
	case KILN_C_GPU:
		buf_printf(b, "GPU %.*s", (int)strcspn(name, " "), name);
		break;
	case KILN_C_MACHINE:
		buf_adds(b, "the processor's kernels");
		break;
	default:
		buf_printf(b, "component %d '%s'", kind, name);
	}
}
