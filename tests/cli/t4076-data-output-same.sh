# kiln_output_same: a plugin says an output is one of its input files
# unchanged; kiln puts the input's blob there (no copy written by the step).
# A path that is not a file of the step's inputs, or an output it did not
# declare, fails the step and says which.
. "$(dirname "$0")/lib.sh"
mkdir -p src plugins data
cat > src/pass.c <<'C'
#include <stdio.h>
#include <kiln/plugin.h>

static int
run(kiln_ctx *ctx)
{
	const char *out = kiln_param_string(ctx, "out", "o.csv"), *path = kiln_param_string(ctx, "path", "");
	char dest[4096];
	FILE *f;

	if (kiln_output_same(ctx, out, path) == 0)
		return 0;
	snprintf(dest, sizeof(dest), "%s/%s", kiln_output_dir(ctx), out);
	if (!(f = fopen(dest, "w")))
		return kiln_fail(ctx, "cannot write %s", dest);
	fputs("written by the plugin\n", f);
	fclose(f);
	return 0;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI, .name = "pass", .version = "1.0",
	.summary = "passes an input file on", .check = NULL, .run = run,
};
C
cc -shared -fPIC -I"$top/include" -o plugins/pass.so src/pass.c
head -c 2000000 /dev/urandom | od -An -tx1 | head -c 2500000 > data/x.csv
echo small > data/s.csv
echo other > data/other.csv
cat > Kilnfile <<'K'
kiln.target { name = "a", plugin = "pass", inputs = { d = "data/x.csv" }, params = { path = "data/x.csv" }, outputs = { "o.csv" } }
kiln.target { name = "b", plugin = "pass", inputs = { d = ":a" }, params = { path = "kiln-out/a/o.csv" }, outputs = { "o.csv" } }
kiln.target { name = "c", plugin = "pass", inputs = { d = "data/s.csv" }, params = { path = "data/s.csv" }, outputs = { "o.csv" } }
kiln.target { name = "etc", plugin = "pass", inputs = { d = "data/s.csv" }, params = { path = "/etc/passwd" }, outputs = { "o.csv" } }
kiln.target { name = "other", plugin = "pass", inputs = { d = "data/s.csv" }, params = { path = "data/other.csv" }, outputs = { "o.csv" } }
kiln.target { name = "up", plugin = "pass", inputs = { d = "data/s.csv" }, params = { path = "data/../data/s.csv" }, outputs = { "o.csv" } }
kiln.target { name = "undeclared", plugin = "pass", inputs = { d = "data/s.csv" }, params = { out = "p.csv", path = "data/s.csv" }, outputs = { "o.csv" } }
K
ok kiln build a b c
ran 3
cmp -s data/x.csv kiln-out/a/o.csv || fail "a's output is not its input"
cmp -s data/x.csv kiln-out/b/o.csv || fail "b's output is not a's"
same kiln-out/c/o.csv small
# Above 1 MiB the output is the blob (one inode for a, b and the cache); the source stays the user's.
[ "$(stat -c %i kiln-out/a/o.csv)" = "$(stat -c %i kiln-out/b/o.csv)" ] || fail "a and b do not share the blob"
[ "$(stat -c %h kiln-out/a/o.csv)" = 3 ] || fail "expected a, b and the cache to hold one file"
[ "$(stat -c %h data/x.csv)" = 1 ] || fail "the source was linked"
[ "$(stat -c %h kiln-out/c/o.csv)" = 1 ] || fail "a small output must be a copy"
fails 1 kiln build etc
has "it named '/etc/passwd' as an unchanged input, which is not a file of its inputs"
[ ! -e kiln-out/etc ] || fail "etc left outputs"
fails 1 kiln build other
has "it named 'data/other.csv' as an unchanged input, which is not a file of its inputs"
fails 1 kiln build up
has "it named 'data/../data/s.csv' as an unchanged input"
fails 1 kiln build undeclared
has "it named 'p.csv' as an unchanged output, which is not one of its declared outputs"
# Restored after kiln clean: the same blob.
ok kiln clean
ok kiln build a b
has "0 ran, 2 restored from the cache"
[ "$(stat -c %h kiln-out/a/o.csv)" = 3 ] || fail "the restore did not link the blob"
