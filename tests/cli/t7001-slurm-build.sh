# The iris example built through a real single-node Slurm cluster: every
# step a Slurm job, inputs and outputs through the cache, the same
# Kilnfile.lock as the local executor, and cache hits never submitted.
# kiln.config's slurm table maps resources and options onto the job.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/slurm.sh"
slurm_start

# jobs: how many jobs kiln submitted so far (slurmctld keeps them for MinJobAge).
jobs() { scontrol -o show jobs | grep -c 'JobName=kiln:' || true; }

# The local executor's lock file, with a cache of its own.
mkdir ../local
cp -r "$top/examples/iris/." ../local/
(cd ../local && rm -rf kiln-out .kiln Kilnfile.lock && KILN_CACHE_DIR=$scratch/cache-local "$KILN_BIN" build -q) ||
	fail "the local build failed"

cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build --executor slurm
ran 4
[ "$(jobs)" -eq 4 ] || fail "expected 4 Slurm jobs, found $(jobs)"
cmp Kilnfile.lock ../local/Kilnfile.lock || { diff Kilnfile.lock ../local/Kilnfile.lock; fail "Kilnfile.lock differs from the local executor's"; }
for t in iris iris_feat iris_softmax iris_test; do
	grep -q "Slurm job [0-9]* is running on kiln1" ".kiln/logs/$t.log" || fail "no Slurm job in the log of $t"
done
# Metrics came back from the node through the cache entry.
ok kiln metrics
[ "$out" = "$(cd ../local && "$KILN_BIN" metrics)" ] || fail "the metrics differ from the local executor's"
has "iris_test                accuracy"

# Up to date, or in the cache: nothing reaches Slurm.
ok kiln build --executor slurm
has "nothing to do"
ok kiln clean
ok kiln build --executor slurm
has "4 restored from the cache"
[ "$(jobs)" -eq 4 ] || fail "a cache hit was submitted to Slurm"

# kiln.config: the executor, a partition, extra options; resources become the job's.
mkdir ../cfg
cd ../cfg
cat >Kilnfile <<'EOF'
kiln.config { executor = "slurm", slurm = { partition = "kiln", extra = { "--comment=kiln-test" } } }
command "big" {
  cmd = "nproc > {out}/n.txt",
  outputs = { "n.txt" },
  resources = { cpus = 2, mem = "64M", timeout = "90s", gpus = 1 },
}
EOF
ok kiln build -j 2
ran 1
job=$(scontrol -o show jobs | grep 'JobName=kiln:big ' || true)
[ -n "$job" ] || fail "no job for target big"
for f in NumCPUs=2 MinMemoryNode=64M TimeLimit=00:03:00 TresPerNode=gres:gpu:1 Partition=kiln Comment=kiln-test; do
	printf '%s\n' "$job" | grep -q " $f " || { printf '%s\n' "$job" >&2; fail "the job lacks $f"; }
done

# Mistakes in the slurm table are the Kilnfile's, before anything runs.
sed -i 's/partition = "kiln"/partitoin = "kiln"/' Kilnfile
fails 2 kiln build
has "Kilnfile:1: kiln.config: slurm: unknown field 'partitoin'"
sed -i 's/partitoin = "kiln", //; s/"--comment=kiln-test"/"comment"/' Kilnfile
fails 2 kiln build
has "slurm.extra[1]: expected an option"

# A partition the cluster does not have: srun's own refusal, per target.
sed -i 's/extra = { "comment" }/partition = "nosuch"/; s/nproc >/nproc; nproc >/' Kilnfile
fails 1 kiln build
has "target 'big' failed: srun could not submit the job (exit status 1): srun: error: Unable to allocate resources: Invalid partition name specified"
has "log: .kiln/logs/big.log"
