# Plugins: found in KILN_PLUGIN_PATH, the repository's plugins/ and kiln's
# own; listed by `kiln plugins`; refused when built for another ABI or not a
# plugin at all; check() fails a build before anything runs; a rebuilt
# plugin makes its targets stale and `kiln why` says so.
. "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || fail "no C compiler"
mkdir plugins src
cat > src/hello.c <<'C'
#include <stdio.h>
#include <kiln/plugin.h>

static int
check(kiln_ctx *ctx)
{
	if (kiln_param_int(ctx, "times", 1) < 1)
		return kiln_fail(ctx, "param 'times': expected at least 1");
	return 0;
}

static int
run(kiln_ctx *ctx)
{
	char path[4096];
	long long i, n = kiln_param_int(ctx, "times", 1);
	FILE *f;

	snprintf(path, sizeof(path), "%s/hello.txt", kiln_output_dir(ctx));
	f = fopen(path, "w");
	if (!f)
		return kiln_fail(ctx, "cannot write %s", path);
	for (i = 0; i < n; i++)
		fprintf(f, "hello %s%s\n", kiln_param_string(ctx, "who", "world"), GREETING_SUFFIX);
	kiln_metric(ctx, "lines", (double)n);
	return fclose(f) == 0 ? 0 : kiln_fail(ctx, "cannot close %s", path);
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI_OVERRIDE, .name = "hello", .version = "1.0",
	.summary = "writes a greeting", .check = check, .run = run,
};
C
plugin() {	# plugin OUT ABI SUFFIX
	cc -shared -fPIC -I"$top/include" -DKILN_PLUGIN_ABI_OVERRIDE="$2" -DGREETING_SUFFIX="\"$3\"" -o "$1" src/hello.c
}
plugin plugins/hello.so 1 ""
cat > Kilnfile <<'K'
kiln.target { name = "greet", plugin = "hello", params = { who = "kiln", times = 2 }, outputs = { "hello.txt" } }
K
ok kiln build
same kiln-out/greet/hello.txt "hello kiln
hello kiln"
ok kiln metrics
matches "greet +lines +2"
ok kiln plugins
matches "hello +1.0 +1 +repository +writes a greeting"
matches "exec +[0-9.]+ +1 +built-in"
# A rebuilt plugin makes its target stale, and why names it.
plugin plugins/hello.so 1 "!"
ok kiln why greet
has "plugin 'hello' changed"
ok kiln build
same kiln-out/greet/hello.txt "hello kiln!
hello kiln!"
# check() refuses bad params before anything runs.
cat > Kilnfile <<'K'
command "first" { cmd = "touch {out}/o", outputs = { "o" } }
kiln.target { name = "greet", plugin = "hello", inputs = { f = ":first" }, params = { times = 0 }, outputs = { "hello.txt" } }
K
fails 2 kiln build
has "Kilnfile:2: target 'greet': param 'times': expected at least 1"
[ ! -e kiln-out/first ] || fail "a step ran before check() refused the params"
# KILN_PLUGIN_PATH comes first.
mkdir other
plugin other/hello.so 1 " from the path"
sed -i 's/times = 0/times = 1/' Kilnfile
KILN_PLUGIN_PATH=$PWD/other ok kiln build
same kiln-out/greet/hello.txt "hello world from the path"
KILN_PLUGIN_PATH=$PWD/other ok kiln plugins
has "(shadowed by an earlier one)"
# Another ABI, not a plugin, not even a shared object.
plugin plugins/hello.so 99 ""
fails 2 kiln build
has "was built for plugin ABI 99, but this kiln speaks ABI 1"
echo 'int x;' > src/none.c
cc -shared -fPIC -o plugins/hello.so src/none.c
fails 2 kiln build
has "is not a kiln plugin: it exports no 'kiln_plugin' descriptor"
echo "not a library" > plugins/hello.so
fails 2 kiln build
has "cannot load"
fails 1 kiln plugins
has "refused"
