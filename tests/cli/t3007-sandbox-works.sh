# Sandbox: what a build step should do still works inside: a Python script
# reading its inputs and writing its outputs, a multi-threaded OpenBLAS
# program, a shell pipeline, /tmp and /dev/null; the environment is fixed and
# the host's paths and names do not show.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

mkdir -p "$scratch/blas"
cc -O1 -I/usr/include/x86_64-linux-gnu/openblas-pthread -o "$scratch/blas/blas" "$top/tests/sandbox/blas.c" \
	-L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas || fail "cannot build tests/sandbox/blas.c"
chmod -R a+rX "$scratch/blas"
want=$(OPENBLAS_NUM_THREADS=2 "$scratch/blas/blas")

scenario() {
	mkdir -p data bin
	cp "$scratch/blas/blas" bin/blas
	printf 'a,b\n1,2\n3,4\n' > data/t.csv
	cat > count.py <<'P'
import csv, json, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = os.environ["KILN_OUT"]
json.dump({"rows": len(rows), "sum": sum(int(r["b"]) for r in rows)}, open(os.path.join(out, "stats.json"), "w"))
P
	cat > Kilnfile <<'K'
command "py" { inputs = { s = "count.py", t = "data/t.csv" }, cmd = "/usr/bin/python3 {in.s} {in.t}", outputs = { "stats.json" } }
command "blas" { inputs = { b = "bin/blas" }, cmd = "./{in.b} > {out}/o", outputs = { "o" }, resources = { threads = 2 } }
command "pipe" { inputs = { t = "data/t.csv" }, cmd = "tail -n +2 {in.t} | cut -d, -f2 | sort -rn | head -1 > {out}/o; echo gone > /dev/null; echo tmp > /tmp/x; cat /tmp/x >> {out}/o", outputs = { "o" } }
command "fds" { cmd = "ls /proc/self/fd | tr '\\n' ' ' > {out}/o", outputs = { "o" } }
command "env" { cmd = "(pwd; id -un; hostname; echo $HOME $TZ $LC_ALL $SOURCE_DATE_EPOCH $OPENBLAS_NUM_THREADS; env | grep -c .) > {out}/o", outputs = { "o" }, resources = { threads = 3 } }
K
	ok kb build py blas pipe env fds
	same kiln-out/py/stats.json '{"rows": 2, "sum": 6}'
	same kiln-out/blas/o "$want"
	grep -q "threads [2-9]" kiln-out/blas/o || fail "OpenBLAS ran on one thread: $(cat kiln-out/blas/o)"
	same kiln-out/pipe/o "$(printf '4\ntmp')"
	same kiln-out/env/o "$(printf '/workspace\nkiln\nkiln\n/tmp UTC C.UTF-8 315532800 3\n%s' "$(sed -n 5p kiln-out/env/o)")"
	[ "$(sed -n 5p kiln-out/env/o)" -lt 25 ] || fail "the step's environment is not the fixed one: $(cat kiln-out/env/o)"
	# No descriptor of kiln's or the sandbox's reaches the step (3 is ls's own).
	same kiln-out/fds/o "0 1 2 3 "
	# Outputs belong to whoever ran kiln, not to the sandbox's user.
	[ "$(stat -c %U kiln-out/py/stats.json)" = "$who" ] || fail "outputs belong to $(stat -c %U kiln-out/py/stats.json), not $who"
}
each_user scenario
