# The node dies while a job runs on it (slurmd and the step killed at
# once): once slurmctld gives up on the node, the step is reported as a
# node failure with the job id; nothing is kept; when the node is back the
# next build runs the step. slurmctld declares a node dead after
# SlurmdTimeout, 6 seconds here.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/slurm.sh"
slurm_slurmd_timeout=6
slurm_start

cat >Kilnfile <<'EOF2'
command "a" { cmd = "echo a > {out}/a.txt", outputs = { "a.txt" } }
command "b" { inputs = { a = ":a" }, cmd = "sleep 60; cat {in.a}/a.txt > {out}/b.txt", outputs = { "b.txt" } }
EOF2
"$KILN_BIN" build --executor slurm >build.out 2>&1 &
kp=$!
for i in $(seq 300); do
	grep -qs " running " .kiln/tmp/b/slurm-job && break
	sleep 0.1
done
id=$(cut -d' ' -f1 .kiln/tmp/b/slurm-job)
slurm_node_crash
rc=0
wait $kp || rc=$?
out=$(cat build.out)
[ $rc -eq 1 ] || { printf '%s\n' "$out" >&2; fail "expected exit 1 after the node died, got $rc"; }
has "target 'b' failed: Slurm job $id failed: its node kiln1 failed"
has "log: .kiln/logs/b.log"
same kiln-out/a/a.txt a
[ ! -e kiln-out/b ] || fail "b has outputs"

# The node is back (ReturnToService=2): the next build runs only b (now
# without its sleep, which only had to outlast the crash, however slow the
# machine is to see the job running).
sed -i 's/sleep 60; //' Kilnfile
slurm_d_start
ok kiln build --executor slurm
ran 1
same kiln-out/b/b.txt a
