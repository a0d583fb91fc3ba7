# slurmctld goes away mid-build: the running job ends and its outputs are
# kept (they came through the cache), the next job cannot be submitted and
# says why, nothing is corrupt, and once slurmctld is back the next build
# runs only what is left and cancels the job slurmctld never heard end.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/slurm.sh"
slurm_start

cat >Kilnfile <<'EOF'
command "a" { cmd = "echo a > {out}/a.txt", outputs = { "a.txt" } }
command "b" { inputs = { a = ":a" }, cmd = "sleep 3; cat {in.a}/a.txt > {out}/b.txt", outputs = { "b.txt" } }
command "c" { inputs = { b = ":b" }, cmd = "cat {in.b}/b.txt > {out}/c.txt", outputs = { "c.txt" } }
EOF
"$KILN_BIN" build --executor slurm >build.out 2>&1 &
kp=$!
for i in $(seq 300); do
	grep -qs " running " .kiln/tmp/b/slurm-job && break
	sleep 0.1
done
id=$(cut -d' ' -f1 .kiln/tmp/b/slurm-job)
slurm_ctld_stop
rc=0
wait $kp || rc=$?
out=$(cat build.out)
[ $rc -eq 1 ] || { printf '%s\n' "$out" >&2; fail "expected exit 1 with slurmctld gone, got $rc"; }
has "target 'c' failed: cannot reach slurmctld to submit the job: srun: error: Unable to allocate resources: Unable to contact slurm controller"
has "log: .kiln/logs/c.log"
same kiln-out/b/b.txt a
[ ! -e kiln-out/c ] || fail "c has outputs"
out=$(cat .kiln/logs/b.log)
has "srun did not end after Slurm job $id"
ok kiln fsck
ok kiln status
has "c "
hasnt "b "

# slurmctld is back with its saved state: only c runs, and b's job is cancelled.
slurm_ctld_start
scontrol -o show job "$id" | grep -q "JobState=RUNNING" || fail "expected slurmctld to think job $id still runs"
ok kiln build --executor slurm
ran 1
same kiln-out/c/c.txt a
[ ! -e .kiln/slurm-orphans ] || fail "the orphaned job was not cancelled"
scontrol -o show job "$id" | grep -q "JobState=RUNNING" && fail "job $id still holds its node"
mkdir ../local
cp Kilnfile ../local/
(cd ../local && KILN_CACHE_DIR=$scratch/cache-local "$KILN_BIN" build -q) || fail "the local build failed"
cmp Kilnfile.lock ../local/Kilnfile.lock || fail "Kilnfile.lock differs from the local executor's"
