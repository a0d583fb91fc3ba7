#!/usr/bin/env bash
# bench/slurm.sh [N] — what the Slurm executor costs, on a real single-node
# Slurm cluster started here (tests/cli/slurm.sh: munged, slurmctld, slurmd
# on loopback; needs root and slurm-wlm):
#
#   per-action overhead: N trivial independent actions (default 200), one at
#   a time (-j 1), with the Slurm executor and with the local one; the
#   difference divided by N is what each action pays for going through
#   Slurm (submit, srun, the inputs and outputs through the cache, restore);
#   pipeline wall time: the same N actions at -j $(nproc), local vs Slurm;
#   for reference, what Slurm itself takes for one `srun true`, one at a time.
#
# Each build starts from an empty cache and workspace state, so every action
# runs. Each figure is the best of 3 runs (RUNS=N to change); seconds of wall
# clock at ms resolution, per-action figures in ms at 0.1 ms.
# Benchmarks print numbers; they are not tests.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
n=${1:-200}
runs=${RUNS:-3}
jobs=$(nproc)
work=$(mktemp -d /tmp/kiln-bench-slurm.XXXXXX)
chmod 755 "$work"
scratch=$work
cleanup_hooks=()
at_exit() { cleanup_hooks+=("$1"); }
fail() { echo "bench/slurm.sh: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
trap 'for h in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do eval "$h" || true; done; chmod -R u+w "$work"; rm -rf "$work"' EXIT
. "$top/tests/cli/slurm.sh"
KILN_REQUIRE_SLURM=1 slurm_start

mkdir -p "$work/ws"
cd "$work/ws"
for i in $(seq "$n"); do
	echo "command \"a$i\" { cmd = \"echo $i > {out}/o\", outputs = { \"o\" } }"
done >Kilnfile

now() { date +%s.%N; }
# best EXECUTOR J: the best wall time of $runs clean builds.
best() {
	local ex=$1 j=$2 r s t b=""
	for r in $(seq "$runs"); do
		rm -rf .kiln/state .kiln/logs .kiln/tmp kiln-out Kilnfile.lock "$work/cache"
		sync
		s=$(now)
		KILN_CACHE_DIR=$work/cache "$KILN" build -q -j "$j" --executor "$ex" || fail "the $ex build failed"
		t=$(awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.3f", e - s }')
		[ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }' && b=$t
	done
	echo "$b"
}

# srun_true: the best per-call time of 50 `srun true` in a row, in seconds.
srun_true() {
	local r s t b=""
	for r in $(seq "$runs"); do
		s=$(now)
		for i in $(seq 50); do srun --quiet -n1 true; done
		t=$(awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.5f", (e - s) / 50 }')
		[ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }' && b=$t
	done
	echo "$b"
}

echo "kiln $("$KILN" --version | cut -d' ' -f2), slurm $(slurmd -V | cut -d' ' -f2), $(nproc) CPUs; $n trivial actions, best of $runs"
l1=$(best local 1)
s1=$(best slurm 1)
lj=$(best local "$jobs")
sj=$(best slurm "$jobs")
st=$(srun_true)
printf '%-34s %10s %10s\n' "" local slurm
printf '%-34s %9ss %9ss\n' "$n actions, -j 1" "$l1" "$s1"
printf '%-34s %9ss %9ss\n' "$n actions, -j $jobs" "$lj" "$sj"
awk -v l="$l1" -v s="$s1" -v n="$n" 'BEGIN {
	printf "%-34s %8.1fms %8.1fms\n", "per action, -j 1", 1000 * l / n, 1000 * s / n
	printf "%-34s %20.1fms\n", "Slurm overhead per action", 1000 * (s - l) / n
}'
awk -v t="$st" 'BEGIN { printf "%-34s %20.1fms\n", "of which a bare `srun true`", 1000 * t }'
