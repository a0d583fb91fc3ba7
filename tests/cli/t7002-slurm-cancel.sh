# Slurm jobs that end badly: one killed with scancel, one past its timeout,
# and Ctrl-C while jobs run. Each is reported per target with its job id
# and log, nothing partial is kept, and the next build finishes the rest.
# kiln killed with SIGKILL cancels its jobs too.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/slurm.sh"
slurm_start

# wait_running TARGET: until the target's job runs; prints the job id.
wait_running() {
	local i
	for i in $(seq 300); do
		if grep -qs " running " ".kiln/tmp/$1/slurm-job"; then
			cut -d' ' -f1 ".kiln/tmp/$1/slurm-job"
			return 0
		fi
		sleep 0.1
	done
	fail "the job of $1 never ran"
}

# job_state ID: the job's state as slurmctld has it, once it has settled.
job_state() {
	local i st
	for i in $(seq 100); do
		st=$(scontrol -o show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
		case $st in RUNNING | COMPLETING | PENDING) sleep 0.1 ;; *) break ;; esac
	done
	echo "$st"
}

cat >Kilnfile <<'EOF'
command "a"     { cmd = "echo a > {out}/a.txt", outputs = { "a.txt" } }
command "slow"  { inputs = { a = ":a" }, cmd = "sleep 3; cat {in.a}/a.txt > {out}/s.txt", outputs = { "s.txt" } }
command "after" { inputs = { s = ":slow" }, cmd = "cat {in.s}/s.txt > {out}/t.txt", outputs = { "t.txt" } }
command "other" { cmd = "echo other > {out}/o.txt", outputs = { "o.txt" } }
EOF

# scancel while it runs.
"$KILN_BIN" build --executor slurm -k -j 2 >build.out 2>&1 &
kp=$!
id=$(wait_running slow)
scancel "$id"
rc=0
wait $kp || rc=$?
out=$(cat build.out)
[ $rc -eq 1 ] || { printf '%s\n' "$out" >&2; fail "expected exit 1 after scancel, got $rc"; }
has "target 'slow' failed: Slurm job $id was cancelled (scancel)"
has "log: .kiln/logs/slow.log"
has "1 not built (a dependency failed)"
st=$(job_state "$id")
[ "$st" = CANCELLED ] || fail "job $id is $st, not CANCELLED"
[ -f kiln-out/a/a.txt ] && [ -f kiln-out/other/o.txt ] || fail "the other targets were not kept"
[ ! -e kiln-out/slow ] && [ ! -e kiln-out/after ] || fail "a cancelled job left outputs"
ok kiln status
has "slow"
hasnt "other"
ok kiln build --executor slurm
ran 2
same kiln-out/after/t.txt a
# The same lock file as the local executor's, for the same graph.
mkdir ../local
cp Kilnfile ../local/
(cd ../local && KILN_CACHE_DIR=$scratch/cache-local "$KILN_BIN" build -q) || fail "the local build failed"
cmp Kilnfile.lock ../local/Kilnfile.lock || fail "Kilnfile.lock differs from the local executor's"

# A step that fails on the node: the plugin's own message, then the job's id and node.
cat >../local/Kilnfile <<'EOF'
command "bad" { cmd = "echo oops; exit 3", outputs = { "x" } }
EOF
cp ../local/Kilnfile .
(cd ../local && KILN_CACHE_DIR=$scratch/cache-local "$KILN_BIN" build >build.out 2>&1) && fail "bad built locally"
why=$(sed -n "s/.*target 'bad' failed: //p" ../local/build.out)
[ -n "$why" ] || fail "no failure locally: $(cat ../local/build.out)"
fails 1 kiln build --executor slurm
matches "target 'bad' failed: $why \(Slurm job [0-9]+ on kiln1\)"
has "  | oops"

# Past its timeout: stopped on the node, reported with the job id.
cat >>Kilnfile <<'EOF'
command "hang" { cmd = "sleep 60", outputs = { "never.txt" }, resources = { timeout = "2s" } }
EOF
fails 1 kiln build --executor slurm hang
matches "target 'hang' failed: it ran past its timeout of 2s and was stopped \(Slurm job [0-9]+ on kiln1\)"
has "log: .kiln/logs/hang.log"
[ ! -e kiln-out/hang ] || fail "a timed-out job left outputs"

# Ctrl-C cancels every job kiln submitted.
cat >>Kilnfile <<'EOF'
command "long1" { cmd = "sleep 60; echo 1 > {out}/x", outputs = { "x" } }
command "long2" { cmd = "sleep 60; echo 2 > {out}/x", outputs = { "x" } }
EOF
"$KILN_BIN" build --executor slurm -j 2 long1 long2 >build.out 2>&1 &
kp=$!
id1=$(wait_running long1)
id2=$(wait_running long2)
kill -INT $kp
rc=0
wait $kp || rc=$?
out=$(cat build.out)
[ $rc -eq 130 ] || { printf '%s\n' "$out" >&2; fail "expected exit 130 after SIGINT, got $rc"; }
has "interrupted"
for id in "$id1" "$id2"; do
	st=$(job_state "$id")
	[ "$st" = CANCELLED ] || fail "job $id is $st after Ctrl-C, not CANCELLED"
done
[ -z "$(squeue -h -t PENDING,RUNNING)" ] || { squeue >&2; fail "jobs are left in the queue"; }
[ ! -e kiln-out/long1 ] && [ ! -e kiln-out/long2 ] || fail "an interrupted job left outputs"
ok kiln status
has "long1"

# kiln itself killed with SIGKILL: each submitter hears it from the kernel
# and cancels its job; a new kiln waits for them, then runs the step again.
"$KILN_BIN" build --executor slurm long1 >build.out 2>&1 &
kp=$!
id=$(wait_running long1)
kill -KILL $kp
{ wait $kp; } 2>/dev/null || true
st=$(job_state "$id")
[ "$st" = CANCELLED ] || fail "job $id is $st after kiln was killed, not CANCELLED"
sed -i 's/sleep 60; echo 1/echo 1/' Kilnfile
ok kiln build --executor slurm long1
ran 1
same kiln-out/long1/x 1
