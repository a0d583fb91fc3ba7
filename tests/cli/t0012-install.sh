# make install puts a kiln that finds its own kiln-run and plugins.
. "$(dirname "$0")/lib.sh"
san=0
[ "$(basename "$build")" = build-san ] && san=1
make -s -C "$top" install PREFIX="$scratch/prefix" SAN=$san O="$build" > make.log 2>&1 || { cat make.log; fail "make install"; }
[ -x "$scratch/prefix/bin/kiln" ] || fail "no bin/kiln"
[ -x "$scratch/prefix/lib/kiln/kiln-run" ] || fail "no lib/kiln/kiln-run"
[ -f "$scratch/prefix/lib/kiln/plugins/exec.so" ] || fail "no exec plugin"
[ -f "$scratch/prefix/include/kiln/plugin.h" ] || fail "no plugin.h"
cat > Kilnfile <<'K'
command "c" { cmd = "echo installed > {out}/o", outputs = { "o" } }
K
KILN_BIN=$scratch/prefix/bin/kiln
ok kiln build
same kiln-out/c/o installed
ok kiln plugins
has "built-in"
has "$scratch/prefix/lib/kiln/plugins/exec.so"
