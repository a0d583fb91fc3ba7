# make install puts kiln-serve beside kiln, and an installed `kiln serve`
# finds it there (not on PATH), and the installed package plugin builds an
# image.
. "$(dirname "$0")/lib.sh"
san=0
[ "$(basename "$build")" = build-san ] && san=1
make -s -C "$top" install PREFIX="$scratch/prefix" SAN=$san O="$build" >make.log 2>&1 || { cat make.log; fail "make install"; }
[ -x "$scratch/prefix/bin/kiln-serve" ] || fail "no bin/kiln-serve"
[ -f "$scratch/prefix/lib/kiln/plugins/package.so" ] || fail "no package plugin"
[ -f "$scratch/prefix/lib/kiln/plugins/deploy.so" ] || fail "no deploy plugin"
KILN_BIN=$scratch/prefix/bin/kiln
cp -r "$top/examples/iris_deploy/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build iris_image
port=$(free_port)
PATH=/usr/bin:/bin "$KILN_BIN" serve iris_image --port "$port" >serve.log 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null"
for i in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	kill -0 $pid 2>/dev/null || { cat serve.log; fail "kiln serve exited"; }
	sleep 0.1
done
ok curl -sf -X POST "http://127.0.0.1:$port/v1/models/iris_image:predict" -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
has '"class":"setosa"'
[ "$(readlink /proc/$pid/exe)" = "$scratch/prefix/bin/kiln-serve" ] || fail "kiln serve ran $(readlink /proc/$pid/exe), not the installed kiln-serve"
