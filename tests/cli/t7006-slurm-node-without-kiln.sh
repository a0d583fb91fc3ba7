# A compute node that does not have kiln where the submitting machine has
# it: the job cannot start it, and the step says so with the job id, rather
# than as a failure to submit. The node's view hides kiln's folder behind an
# empty file system (slurmd in a mount namespace of its own).
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/slurm.sh"
inst=$scratch/inst
mkdir -p "$inst/plugins"
cp "$build/kiln" "$build/kiln-run" "$inst/"
cp "$build/plugins/exec.so" "$inst/plugins/"
slurm_run_slurmd() {
	exec unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs "$0" && exec "$@"' "$inst" "$@"
}
slurm_start

cat >Kilnfile <<'EOF'
command "a" { cmd = "echo a > {out}/a.txt", outputs = { "a.txt" } }
EOF
fails 1 "$inst/kiln" build --executor slurm
matches "target 'a' failed: Slurm job [0-9]+ could not start kiln on its node \(kiln must be installed at the same path on the compute nodes\): slurmstepd.*execve\(\): $inst/kiln: No such file or directory"
has "log: .kiln/logs/a.log"
# The local executor is not affected.
ok "$inst/kiln" build
ran 1
