# On a terminal, the status line counts the Slurm jobs that wait in the
# queue and those that run: two steps that each want both of the node's
# CPUs, submitted together, run one after the other.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/slurm.sh"
slurm_start
command -v script >/dev/null || fail "script (bsdutils) is needed for a terminal"

cat >Kilnfile <<EOF
command "one" { cmd = "sleep 2; echo 1 > {out}/x", outputs = { "x" }, resources = { cpus = $(nproc) } }
command "two" { cmd = "sleep 2; echo 2 > {out}/x", outputs = { "x" }, resources = { cpus = $(nproc) } }
EOF
script -qec "'$KILN_BIN' build --executor slurm -j $((2 * $(nproc)))" /dev/null >tty.out 2>&1 ||
	{ cat tty.out >&2; fail "the build on a terminal failed"; }
out=$(tr '\r' '\n' <tty.out)
has "slurm: 1 pending, 1 running; "
has "slurm: 0 pending, 1 running; "
has "kiln: 2 targets: 2 ran"
same kiln-out/one/x 1
same kiln-out/two/x 2
