#!/usr/bin/env bash
# bench/sandbox.sh [N] — what the sandbox costs per build step.
#
# Builds N (default 1000) independent trivial steps, each one command that
# reads a one-line input and writes one output, three ways: through kiln with
# the sandbox on, through kiln with it off, and the same N commands under
# ninja. Each is run at -j1, so time per step is wall time / N, and at -jCPUs.
# The sandbox's cost per step is the first less the second. Each kiln run
# starts from an empty cache and state.
#
#   KILN=path/to/kiln   (default: ./build/kiln)   RUNS=R median of R runs (default 5)
#   TMPDIR=DIR          where the workspace and cache go (/dev/shm keeps the disk out of it)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
n=${1:-1000}
runs=${RUNS:-5}
cpus=$(nproc)
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-sandbox.XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v ninja >/dev/null || { echo "ninja is not installed (bootstrap.sh installs it)"; exit 1; }
[ -x "$KILN" ] || { echo "no kiln at $KILN (run make)"; exit 1; }

cd "$work"
mkdir -p src
for ((i = 0; i < n; i++)); do echo "line $i" > "src/$i.txt"; done
for ((i = 0; i < n; i++)); do
	echo "command \"t$i\" { inputs = { s = \"src/$i.txt\" }, cmd = \"cat {in.s} > {out}/o\", outputs = { \"o\" } }"
done > Kilnfile
{
	echo "rule step"
	echo "  command = mkdir -p \$out.d && cat \$in > \$out"
	for ((i = 0; i < n; i++)); do echo "build out/t$i/o: step src/$i.txt"; done
} > build.ninja

# ns CMD…: wall nanoseconds of CMD, which must succeed.
ns() {
	local s e
	s=$(date +%s%N)
	"$@" > "$work/log" 2>&1 || { cat "$work/log" >&2; echo "failed: $*" >&2; exit 1; }
	e=$(date +%s%N)
	echo $((e - s))
}

fresh() {
	rm -rf .kiln kiln-out Kilnfile.lock out .ninja_log .ninja_deps cache
}

# median TOOL JOBS: the median of $runs full builds, in nanoseconds.
median() {
	local t r all=()
	for ((r = 0; r < runs; r++)); do
		fresh
		case $1 in
		sandbox) t=$(KILN_CACHE_DIR=$work/cache ns "$KILN" build -q -j"$2") ;;
		nosandbox) t=$(KILN_CACHE_DIR=$work/cache ns "$KILN" build -q -j"$2" --sandbox off) ;;
		ninja) t=$(ns ninja -j"$2") ;;
		esac
		all+=("$t")
	done
	printf '%s\n' "${all[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# per_step NS: milliseconds per step.
per_step() {
	awk -v t="$1" -v n="$n" 'BEGIN { printf "%.3f", t / 1e6 / n }'
}

printf '%d steps, median of %d runs; milliseconds per step; %s\n' "$n" "$runs" "$(uptime | sed 's/.*load/load/')"
printf '%-6s %12s %12s %12s %14s\n' jobs "sandbox on" "sandbox off" ninja "sandbox cost"
for j in 1 "$cpus"; do
	on=$(median sandbox "$j")
	off=$(median nosandbox "$j")
	nin=$(median ninja "$j")
	printf '%-6s %12s %12s %12s %14s\n' "-j$j" "$(per_step "$on")" "$(per_step "$off")" "$(per_step "$nin")" \
		"$(per_step $((on - off)))"
done
