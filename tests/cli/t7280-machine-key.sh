# What of the processor a plugin's bytes depend on is part of the action
# key (plugin.h's kiln_plugin_machine): the model plugin's names kiln's
# AVX2/FMA kernel and OpenBLAS's kernels, so another choice of kernels is a
# rebuild that `kiln why` explains; an installed plugin's own answer counts;
# an unusable answer is refused naming the plugin; a repository's plugin is
# never asked (kiln does not run its code).
. "$(dirname "$0")/lib.sh"
command -v cc >/dev/null || fail "no C compiler"

cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
unset OPENBLAS_CORETYPE
ok kiln build iris_softmax
grep -q "AVX2/FMA kernel\|no AVX2/FMA" .kiln/logs/iris_softmax.log || fail "no kernel line: $(cat .kiln/logs/iris_softmax.log)"
ok kiln why iris_softmax
has "iris_softmax: up to date"
# OpenBLAS's Prescott kernels write other last bits: not the same action.
OPENBLAS_CORETYPE=Prescott ok kiln why iris_softmax
has "iris_softmax: the action key changed"
matches "the processor's kernels changed from '(AVX2/FMA kernel|no AVX2/FMA); OpenBLAS [A-Za-z0-9]+' to '(AVX2/FMA kernel|no AVX2/FMA); OpenBLAS Prescott'"
OPENBLAS_CORETYPE=Prescott ok kiln build iris_softmax
has "1 ran"
# And back: the first build's outputs come from the cache, not a rebuild.
ok kiln build iris_softmax
has "restored from the cache"

# An installed plugin (KILN_PLUGIN_PATH) that names its machine.
mkdir -p inst src
cat > src/hello.c <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <kiln/plugin.h>

static int
run(kiln_ctx *ctx)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/hello.txt", kiln_output_dir(ctx));
	f = fopen(path, "w");
	if (!f)
		return kiln_fail(ctx, "cannot write %s", path);
	fputs("hello\n", f);
	return fclose(f) == 0 ? 0 : kiln_fail(ctx, "cannot close %s", path);
}

KILN_PLUGIN_MACHINE_EXPORT(void)
{
	const char *m = getenv("HELLO_MACHINE");

	/* Stands in for a cluster node whose processor differs from the planner's. */
	if (getenv("HELLO_BY_PROCESS"))
		return program_invocation_short_name;
	return m ? m : "wide vectors";
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI, .name = "hellom", .version = "1.0",
	.summary = "writes a greeting", .check = NULL, .run = run,
};
C
cc -shared -fPIC -I"$top/include" -o inst/hellom.so src/hello.c
cat >> Kilnfile <<'K'
kiln.target { name = "greet", plugin = "hellom", outputs = { "hello.txt" } }
K
export KILN_PLUGIN_PATH="$PWD/inst"
ok kiln build greet
ok kiln why greet
has "greet: up to date"
HELLO_MACHINE="narrow vectors" ok kiln why greet
has "the processor's kernels changed from 'wide vectors' to 'narrow vectors'"
HELLO_MACHINE="narrow vectors" ok kiln build greet
has "1 ran"
HELLO_MACHINE="narrow vectors" ok kiln build greet
has "nothing to do"
ok kiln build greet
has "restored from the cache"
# Where the step runs, the kernels must be those the key names.
HELLO_BY_PROCESS=1 fails 1 kiln build greet
has "target 'greet' failed"
has "this machine's kernels are 'kiln-run', but the action key was made for 'kiln' (where kiln planned the build)"
[ ! -e kiln-out/greet/hello.txt ] || [ "$(cat kiln-out/greet/hello.txt)" = hello ] || fail "outputs of a refused step"
HELLO_MACHINE="$(printf 'two\nlines')" fails 2 kiln build greet
has "inst/hellom.so: its kiln_plugin_machine() must give one printable line of 1 to 200 bytes"
HELLO_MACHINE="" fails 2 kiln build greet
has "kiln_plugin_machine() must give one printable line"
HELLO_MACHINE="$(head -c 201 /dev/zero | tr '\0' x)" fails 2 kiln build greet
has "kiln_plugin_machine() must give one printable line"
HELLO_MACHINE="$(head -c 200 /dev/zero | tr '\0' x)" ok kiln why greet
has "the action key changed"

# The same file as a repository's plugin: kiln never calls into it.
unset KILN_PLUGIN_PATH
mkdir -p plugins
cp inst/hellom.so plugins/
ok kiln build greet
HELLO_MACHINE="$(printf 'two\nlines')" ok kiln why greet
has "greet: up to date"
